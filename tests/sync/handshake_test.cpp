// Handshake size with 1,000 authors in sync (target < 2 KB); when they
// differ, range fingerprints and the heads of the differing ranges only.
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

TEST_CASE("1,000 authors in sync: handshake under 2 KB; one author behind: one range of heads") {
  TempDir tmp;
  auto a = testing::OpenReplica(tmp.Sub("a"));
  auto b = testing::OpenReplica(tmp.Sub("b"));
  auto deltas = ManyAuthors(1000);
  REQUIRE(a->ApplyBatch(deltas).ok());
  REQUIRE(b->ApplyBatch(deltas).ok());
  REQUIRE(a->GetHeads().value().size() == 1000);
  {
    Pipe p(*a, *b);
    p.Run();
    REQUIRE(p.caught_up());
    MESSAGE("handshake bytes, 1000 authors in sync: " << p.a->stats().handshake_bytes);
    CHECK(p.a->stats().handshake_bytes < 2048);
    // docs/protocol.md: HELLO 84 + 149, PROOF 68, SUMMARY 2 x 39 (author
    // count >= 128), HEARTBEAT 2 x 5.
    CHECK(p.a->stats().handshake_bytes == 389);
    CHECK(p.b->stats().handshake_bytes == p.a->stats().handshake_bytes);
  }
  // One more author on a: heads differ in one of 16 ranges; only that
  // range's heads (~1/16 of the authors) travel, not all 1,000.
  auto extra = ManyAuthors(1);
  REQUIRE(a->Apply(extra[0]).ok());
  Pipe p(*a, *b);
  p.Run();
  REQUIRE(p.caught_up());
  CHECK(p.a->stats().deltas_sent == 1);
  CHECK(a->GetHeads().value() == b->GetHeads().value());
  MESSAGE("handshake bytes, 1000 authors, one behind: " << p.a->stats().handshake_bytes);
  CHECK(p.a->stats().handshake_bytes < 12 * 1024);  // full heads: 2 x 44 KB
}

TEST_CASE("range reconciliation: many authors on each side, some shared, some only on one") {
  TempDir tmp;
  auto a = testing::OpenReplica(tmp.Sub("a"));
  auto b = testing::OpenReplica(tmp.Sub("b"));
  auto shared = ManyAuthors(150);
  auto only_a = ManyAuthors(40);
  auto only_b = ManyAuthors(3);
  REQUIRE(a->ApplyBatch(shared).ok());
  REQUIRE(b->ApplyBatch(shared).ok());
  REQUIRE(a->ApplyBatch(only_a).ok());
  REQUIRE(b->ApplyBatch(only_b).ok());
  Pipe p(*a, *b);
  p.Run();
  REQUIRE(p.caught_up());
  CHECK(p.a->stats().deltas_sent == 40);
  CHECK(p.b->stats().deltas_sent == 3);
  CHECK(a->GetHeads().value() == b->GetHeads().value());
  CHECK(a->GetHeads().value().size() == 193);
  // Under the threshold (64 authors on both sides): the full heads path.
  TempDir tmp2;
  auto c = testing::OpenReplica(tmp2.Sub("c"));
  auto d = testing::OpenReplica(tmp2.Sub("d"));
  auto few = ManyAuthors(30);
  REQUIRE(c->ApplyBatch(std::span<const Bytes>(few).subspan(0, 20)).ok());
  REQUIRE(d->ApplyBatch(std::span<const Bytes>(few).subspan(10, 20)).ok());
  Pipe q(*c, *d);
  q.Run();
  REQUIRE(q.caught_up());
  CHECK(c->GetHeads().value() == d->GetHeads().value());
  CHECK(c->GetHeads().value().size() == 30);
}

// The in-sync figures of docs/protocol.md ("Summary"): without a root both
// HELLOs carry nil (1 byte) for it, with one its 32-byte key (34 bytes).
TEST_CASE("handshake in sync: 385 bytes without a root, 451 with one (fewer than 128 authors)") {
  TempDir tmp;
  {
    auto a = testing::OpenReplica(tmp.Sub("a"));
    auto b = testing::OpenReplica(tmp.Sub("b"));
    Pipe p(*a, *b);
    p.Run();
    REQUIRE(p.caught_up());
    MESSAGE("handshake bytes in sync, no root: " << p.a->stats().handshake_bytes);
    CHECK(p.a->stats().handshake_bytes == 385);
  }
  ReplicaOptions ro;
  ro.is_root = true;
  auto root = testing::OpenReplica(tmp.Sub("root"), nullptr, ro);
  ReplicaOptions mo;
  mo.root = root->author();
  auto a = testing::OpenReplica(tmp.Sub("ma"), nullptr, mo);
  auto b = testing::OpenReplica(tmp.Sub("mb"), nullptr, mo);
  Policy pol;
  pol.set_county("test");
  REQUIRE(pol.AddScope({"test.a", 1, ""}).ok());
  REQUIRE(pol.AddMember({a->author(), "a", "hr", "", {}, std::nullopt}).ok());
  REQUIRE(pol.AddMember({b->author(), "b", "hr", "", {}, std::nullopt}).ok());
  REQUIRE(pol.AddGrant({"hr", "", "*", Right::kRead | Right::kWrite}).ok());
  REQUIRE(root->PublishPolicy(pol).ok());
  testing::Sync(*root, *a);
  testing::Sync(*root, *b);
  Pipe p(*a, *b);
  p.Run();
  REQUIRE(p.caught_up());
  MESSAGE("handshake bytes in sync, with a root: " << p.a->stats().handshake_bytes);
  CHECK(p.a->stats().handshake_bytes == 451);
}

}  // namespace
}  // namespace hearth
