// Delta versions 5/6 (lanes, docs/delta-format.md "Versions 5 and 6") parse
// and verify in src/feed, but their seq/prev count per (author, scope): a
// replica that chains per author (versions 1-4) must not apply them. Until
// lanes are implemented, Replica::Apply and ApplyBatch (the doors of sync,
// bundles and the C API) refuse them and change nothing.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "codec/codec.hpp"
#include "crdt/hlc.hpp"
#include "crypto/crypto.hpp"
#include "feed/delta.hpp"
#include "hearth/inspect.hpp"
#include "hearth/replica.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using testing::TempDir;

RecordId Rid(uint8_t i) {
  auto r = RecordId::FromHex("018bcfe56800000000000000000000" + std::string(1, "0123456789abcdef"[i >> 4]) +
                             std::string(1, "0123456789abcdef"[i & 15]));
  REQUIRE(r.ok());
  return *r;
}

// One lww op on item/title by `kp` in scope test.a, epoch 1, as `layout`.
Bytes Seal(const crypto::SigningKeyPair& kp, const crypto::SecretBytes& key, uint64_t seq, const crypto::Hash& prev,
           feed::Layout layout, feed::Compression c = feed::Compression::kNone) {
  crdt::Op op;
  op.field = "title";
  op.kind = crdt::OpKind::kLwwSet;
  op.hlc = crdt::MakeHlc(1'700'000'000'000ull + seq, 0);
  op.value = Value("title " + std::to_string(seq));
  Bytes payload = codec::EncodePayload({crdt::RecordOps{"item", Rid(static_cast<uint8_t>(seq)), {op}}});
  feed::DeltaHeader h;
  h.author = kp.public_key;
  h.seq = seq;
  h.prev = prev;
  h.scope = "test.a";
  h.epoch = 1;
  h.hlc_min = h.hlc_max = op.hlc;
  h.op_count = 1;
  auto d = feed::SealDelta(h, payload, key, kp, nullptr, c, layout);
  REQUIRE_MESSAGE(d.ok(), d.status().ToString());
  return *d;
}

void ExpectRefused(Replica& r, const Bytes& d, uint8_t version) {
  CAPTURE(static_cast<int>(version));
  REQUIRE(d[0] == version);
  const auto heads = r.GetHeads().value();
  const auto digest = r.Digest().value();
  auto one = r.Apply(d);
  REQUIRE_FALSE(one.ok());
  CHECK(one.status().code() == Code::kCorruption);
  CHECK(one.status().message().find("delta format version " + std::to_string(version)) != std::string::npos);
  CHECK(one.status().message().find("not accepted by this replica yet") != std::string::npos);
  std::vector<Bytes> batch{d};
  BatchApplyResult b = r.ApplyBatch(batch);
  CHECK_FALSE(b.ok());
  CHECK(b.refused);  // the delta's own verdict, not the replica's trouble
  CHECK(b.error.code() == Code::kCorruption);
  CHECK(b.results.empty());
  CHECK(r.GetHeads().value() == heads);
  CHECK(r.Digest().value() == digest);
}

TEST_CASE("lanes: versions 5 and 6 are refused from outside until lanes land; 3 still applies") {
  TempDir tmp;
  auto kp = crypto::SigningKeyPair::Generate();
  crypto::SecretBytes key = crypto::RandomAeadKey();
  auto r = testing::OpenReplica(tmp.Sub("r"), nullptr, {}, /*keys=*/false);
  REQUIRE(r->AddScopeKey("test.a", 1, key.span()).ok());
  const crypto::Hash zero{};

  // Valid, correctly signed v5/v6 deltas and a v5 stub, seq 1: refused.
  const Bytes v5 = Seal(kp, key, 1, zero, feed::Layout::kLane);
  const Bytes v6 = Seal(kp, key, 1, zero, feed::Layout::kLane, feed::Compression::kZstd);
  auto p5 = feed::ParseDelta(v5);
  REQUIRE(p5.ok());
  REQUIRE(feed::VerifyDelta(*p5).ok());  // the format layer accepts it
  auto stub5 = feed::MakeStub(*p5);
  REQUIRE(stub5.ok());
  ExpectRefused(*r, v5, feed::kDeltaFormatV5);
  ExpectRefused(*r, v6, feed::kDeltaFormatV6);
  ExpectRefused(*r, *stub5, feed::kDeltaFormatV5);
  CHECK(r->GetHeads().value().empty());

  // The same delta as version 3 applies.
  const Bytes v3 = Seal(kp, key, 1, zero, feed::Layout::kDetachable);
  auto a3 = r->Apply(v3);
  REQUIRE_MESSAGE(a3.ok(), a3.status().ToString());
  CHECK(a3->outcome == ApplyOutcome::kApplied);
  auto p3 = feed::ParseDelta(v3);
  REQUIRE(p3.ok());

  // A hostile v5 successor that the per-author chain rule would take (seq 2,
  // prev = the v3 delta's hash), alone or after a good delta in a batch:
  // refused, and the batch stops before it.
  const Bytes next5 = Seal(kp, key, 2, p3->hash, feed::Layout::kLane);
  ExpectRefused(*r, next5, feed::kDeltaFormatV5);
  const Bytes next3 = Seal(kp, key, 2, p3->hash, feed::Layout::kDetachable);
  auto p_next3 = feed::ParseDelta(next3);
  REQUIRE(p_next3.ok());
  const Bytes third6 = Seal(kp, key, 3, p_next3->hash, feed::Layout::kLane, feed::Compression::kZstd);
  std::vector<Bytes> batch{next3, third6};
  BatchApplyResult b = r->ApplyBatch(batch);
  CHECK_FALSE(b.ok());
  CHECK(b.refused);
  CHECK(b.failed_index() == 1);
  REQUIRE(b.results.size() == 1);
  CHECK(b.results[0].outcome == ApplyOutcome::kApplied);
  auto heads = r->GetHeads().value();
  REQUIRE(heads.size() == 1);
  CHECK(heads.begin()->second.seq == 2);
  CHECK(inspect::CheckConsistency(*r).ok());
}

}  // namespace
}  // namespace hearth
