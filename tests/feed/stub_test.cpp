// Versions 3/4 (detachable bodies) and their stubs: docs/delta-format.md,
// "Version 3 and 4: detachable bodies".
#include <doctest/doctest.h>

#include <vector>

#include "feed/chain.hpp"
#include "feed/delta.hpp"

namespace hearth::feed {
namespace {

using crypto::SecretBytes;
using crypto::SigningKeyPair;

SigningKeyPair Key(uint8_t b) {
  auto kp = SigningKeyPair::FromSeed(Bytes(32, b));
  REQUIRE(kp.ok());
  return std::move(kp).value();
}

DeltaHeader Header(const AuthorId& a, uint64_t seq, const crypto::Hash& prev) {
  DeltaHeader h;
  h.author = a;
  h.seq = seq;
  h.prev = prev;
  h.scope = "child_care";
  h.epoch = 2;
  h.hlc_min = crdt::MakeHlc(1'700'000'000'000ull, 0);
  h.hlc_max = crdt::MakeHlc(1'700'000'000'001ull, 0);
  h.op_count = 2;
  return h;
}

struct V3 {
  SigningKeyPair kp = Key(7);
  SecretBytes key = SecretBytes::Copy(Bytes(32, 0x44));
  Bytes payload = Bytes(60, 0x5a);
  Bytes full;
  Bytes stub;
  explicit V3(Compression c = Compression::kNone, uint64_t seq = 1, crypto::Hash prev = {},
              Layout layout = Layout::kDetachable) {
    auto r = SealDelta(Header(kp.public_key, seq, prev), payload, key, kp, nullptr, c, layout);
    REQUIRE(r.ok());
    full = std::move(r).value();
    auto p = ParseDelta(full);
    REQUIRE(p.ok());
    auto s = MakeStub(*p);
    REQUIRE(s.ok());
    stub = std::move(s).value();
  }
};

TEST_CASE("a version 3 delta and its stub verify, hash alike and chain") {
  V3 v;
  CHECK(v.full[0] == kDeltaFormatV3);
  auto full = ParseDelta(v.full);
  auto stub = ParseDelta(v.stub);
  REQUIRE(full.ok());
  REQUIRE(stub.ok());
  CHECK_FALSE(full->stub);
  CHECK(stub->stub);
  CHECK(stub->version == kDeltaFormatV3);
  CHECK(stub->header == full->header);
  CHECK(stub->hash == full->hash);
  CHECK(stub->body_hash == full->body_hash);
  CHECK(stub->body_size == full->ciphertext.size());
  CHECK(stub->ciphertext.empty());
  CHECK(VerifyDelta(*full).ok());
  CHECK(VerifyDelta(*stub).ok());
  // The stub is the header plus 34 + 1..5 + 64 bytes: no nonce, no body.
  CHECK(v.stub.size() < v.full.size());
  CHECK(v.stub.size() == full->associated_data.size() + 34 + 1 + 64);

  // The body opens from the full delta; a stub has nothing to open.
  auto plain = OpenDelta(*full, v.key);
  REQUIRE(plain.ok());
  CHECK(*plain == v.payload);
  CHECK(OpenDelta(*stub, v.key).status().code() == Code::kFailedPrecondition);
  CHECK(MakeStub(*stub).status().code() == Code::kInvalidArgument);

  // A successor names the hash both forms share: the stub alone places it.
  V3 next(Compression::kNone, 2, stub->hash);
  auto n = ParseDelta(next.full);
  REQUIRE(n.ok());
  FeedPosition at;
  at.head_seq = 1;
  at.head_hash = stub->hash;
  CHECK(ClassifyDelta(n->header, n->hash, at).verdict == ChainVerdict::kChains);
  // The stub of a delta already held in full (or the full one of a held
  // stub) is the same delta.
  at.held = full->hash;
  CHECK(ClassifyDelta(stub->header, stub->hash, at).verdict == ChainVerdict::kDuplicate);
}

TEST_CASE("version 4: zstd inside a detachable delta") {
  V3 v(Compression::kZstd);
  CHECK(v.full[0] == kDeltaFormatV4);
  auto full = ParseDelta(v.full);
  auto stub = ParseDelta(v.stub);
  REQUIRE(full.ok());
  REQUIRE(stub.ok());
  CHECK(stub->version == kDeltaFormatV4);
  CHECK(stub->hash == full->hash);
  CHECK(VerifyDelta(*stub).ok());
  auto plain = OpenDelta(*full, v.key);
  REQUIRE(plain.ok());
  CHECK(*plain == v.payload);
}

// The stub rules run on both detachable families: 3/4 and 5/6 (lanes).
struct Detached { static constexpr Layout kLayout = Layout::kDetachable; };
struct Lane { static constexpr Layout kLayout = Layout::kLane; };

TEST_CASE_TEMPLATE("any changed byte of a stub or of a detachable body is refused", T, Detached, Lane) {
  V3 v(Compression::kNone, 1, {}, T::kLayout);
  // Every byte of the stub: it no longer parses, or no longer verifies.
  for (size_t i = 0; i < v.stub.size(); ++i) {
    Bytes t = v.stub;
    t[i] ^= 0x01;
    auto p = ParseDelta(t);
    if (p.ok()) CHECK(VerifyDelta(*p).code() == Code::kUnauthenticated);
  }
  // A body that does not match the signed body hash: the full delta fails
  // its signature (kUnauthenticated), whatever was changed in nonce or body.
  auto full = ParseDelta(v.full);
  REQUIRE(full.ok());
  const size_t from = full->associated_data.size();
  for (size_t i = from; i < v.full.size() - 64; ++i) {
    Bytes t = v.full;
    t[i] ^= 0x80;
    auto p = ParseDelta(t);
    if (!p.ok()) continue;  // a length byte
    CHECK(VerifyDelta(*p).code() == Code::kUnauthenticated);
  }
  // A stub's body size is signed too.
  Bytes t = v.stub;
  const size_t size_at = full->associated_data.size() + 34;
  REQUIRE(t[size_at] == full->ciphertext.size());
  t[size_at] += 1;
  auto p = ParseDelta(t);
  REQUIRE(p.ok());
  CHECK(VerifyDelta(*p).code() == Code::kUnauthenticated);
}

TEST_CASE_TEMPLATE("stub structure rules", T, Detached, Lane) {
  V3 v(Compression::kNone, 1, {}, T::kLayout);
  // Versions 1 and 2 sign their body: a stub of them does not exist.
  Bytes t = v.stub;
  t[0] = kDeltaFormatV1;
  CHECK(ParseDelta(t).status().code() == Code::kCorruption);
  t[0] = kDeltaFormatV2;
  CHECK(ParseDelta(t).status().code() == Code::kCorruption);
  // Truncated anywhere, or one byte too many.
  for (size_t len = 0; len < v.stub.size(); ++len) {
    CHECK_FALSE(ParseDelta(std::span(v.stub).first(len)).ok());
  }
  t = v.stub;
  t.push_back(0);
  CHECK(ParseDelta(t).status().code() == Code::kCorruption);
  // A body size below the AEAD tag, or non-canonical.
  auto p = ParseDelta(v.full);
  REQUIRE(p.ok());
  const size_t size_at = p->associated_data.size() + 34;
  t = v.stub;
  t[size_at] = 0x0f;
  CHECK(ParseDelta(t).status().code() == Code::kCorruption);
  t = v.stub;
  t.insert(t.begin() + static_cast<std::ptrdiff_t>(size_at), 0xcc);  // uint8 of a fixint
  CHECK(ParseDelta(t).status().code() == Code::kCorruption);
  // A version 1 delta has no stub.
  auto v1 = SealDelta(Header(v.kp.public_key, 1, {}), v.payload, v.key, v.kp, nullptr, Compression::kNone);
  REQUIRE(v1.ok());
  auto p1 = ParseDelta(*v1);
  REQUIRE(p1.ok());
  CHECK(MakeStub(*p1).status().code() == Code::kInvalidArgument);
}

TEST_CASE("a detachable signature is not valid for the attached layout") {
  // Same header and body sealed both ways: different versions, different
  // hashes, and neither signature verifies over the other's bytes.
  V3 v;
  auto p3 = ParseDelta(v.full);
  REQUIRE(p3.ok());
  Bytes as_v1 = v.full;
  as_v1[0] = kDeltaFormatV1;
  auto p1 = ParseDelta(as_v1);
  REQUIRE(p1.ok());
  CHECK(p1->hash != p3->hash);
  CHECK(VerifyDelta(*p1).code() == Code::kUnauthenticated);
}

}  // namespace
}  // namespace hearth::feed
