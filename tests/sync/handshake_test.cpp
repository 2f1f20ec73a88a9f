// Handshake size with 1,000 authors in sync (target < 2 KB), and the
// full-heads path when they differ.
#include "feed/delta.hpp"
#include "sync/sync_support.hpp"

namespace hearth {
namespace {

using testing::Pipe;
using testing::TempDir;

// One sealed delta (seq 1) for each of `n` fresh authors, under a key epoch
// the replicas do not hold (stored and chained, not applied).
std::vector<Bytes> ManyAuthors(int n) {
  std::vector<Bytes> out;
  auto key = crypto::RandomAeadKey();
  const uint8_t payload[] = {0x90};
  for (int i = 0; i < n; ++i) {
    auto kp = crypto::SigningKeyPair::Generate();
    feed::DeltaHeader h;
    h.author = kp.public_key;
    h.seq = 1;
    h.scope = "test.a";
    h.epoch = 9;
    h.hlc_min = h.hlc_max = 1;
    h.op_count = 1;
    auto d = feed::SealDelta(h, payload, key, kp);
    REQUIRE(d.ok());
    out.push_back(std::move(d).value());
  }
  return out;
}

TEST_CASE("1,000 authors in sync: handshake under 2 KB; one author behind: full heads") {
  TempDir tmp;
  auto a = testing::OpenReplica(tmp.Sub("a"));
  auto b = testing::OpenReplica(tmp.Sub("b"));
  auto deltas = ManyAuthors(1000);
  REQUIRE(a->ApplyBatch(deltas).ok());
  REQUIRE(b->ApplyBatch(deltas).ok());
  REQUIRE(a->GetHeads().size() == 1000);
  {
    Pipe p(*a, *b);
    p.Run();
    REQUIRE(p.caught_up());
    MESSAGE("handshake bytes, 1000 authors in sync: " << p.a->stats().handshake_bytes);
    CHECK(p.a->stats().handshake_bytes < 2048);
    CHECK(p.b->stats().handshake_bytes == p.a->stats().handshake_bytes);
  }
  // One more author on a: heads differ, the full vector is exchanged.
  auto extra = ManyAuthors(1);
  REQUIRE(a->Apply(extra[0]).ok());
  Pipe p(*a, *b);
  p.Run();
  REQUIRE(p.caught_up());
  CHECK(p.a->stats().deltas_sent == 1);
  CHECK(a->GetHeads() == b->GetHeads());
  MESSAGE("handshake bytes, 1000 authors, one behind: " << p.a->stats().handshake_bytes);
}

}  // namespace
}  // namespace hearth
