// Delta versions 5 and 6 (lanes): docs/delta-format.md, "Versions 5 and 6
// (lanes)". The layout, hash and stubs are those of versions 3/4; the
// version byte and the signing context ("hearth/delta/v5") differ. The
// malformed-input cases shared with 1-4 run on 5/6 in delta_test.cpp and
// stub_test.cpp (TEST_CASE_TEMPLATE).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "feed/delta.hpp"
#include "support/support.hpp"

namespace hearth::feed {
namespace {

using crypto::SecretBytes;
using crypto::SigningKeyPair;

SigningKeyPair Key(uint8_t b) {
  auto kp = SigningKeyPair::FromSeed(Bytes(32, b));
  REQUIRE(kp.ok());
  return std::move(kp).value();
}

DeltaHeader Header(const AuthorId& a, std::string scope, uint64_t seq, const crypto::Hash& prev) {
  DeltaHeader h;
  h.author = a;
  h.seq = seq;
  h.prev = prev;
  h.scope = std::move(scope);
  h.epoch = 2;
  h.hlc_min = crdt::MakeHlc(1'700'000'000'000ull, 0);
  h.hlc_max = crdt::MakeHlc(1'700'000'000'001ull, 0);
  h.op_count = 2;
  return h;
}

// A compressible payload (kAuto picks zstd for it).
Bytes BigPayload() {
  Bytes p;
  for (int i = 0; i < 2000; ++i) p.push_back(static_cast<uint8_t>("lanes "[i % 6]));
  return p;
}

// BLAKE2b-256(version || header || body_hash || u64be(L)), written out here
// from the doc rather than taken from delta.cpp.
crypto::Hash DocHash(std::span<const uint8_t> ad, const crypto::Hash& body_hash, uint64_t len) {
  crypto::Hasher h;
  h.Update(ad);
  h.Update(body_hash);
  uint8_t be[8];
  for (int i = 0; i < 8; ++i) be[i] = static_cast<uint8_t>(len >> (56 - 8 * i));
  h.Update(be);
  return h.Final();
}

Bytes Message(std::string_view context, const crypto::Hash& hash) {
  Bytes m(context.begin(), context.end());
  m.insert(m.end(), hash.begin(), hash.end());
  return m;
}

TEST_CASE("lanes: version predicates and contexts") {
  for (uint8_t v = 0; v < 10; ++v) {
    CAPTURE(static_cast<int>(v));
    CHECK(IsLaneVersion(v) == (v == 5 || v == 6));
    CHECK(Detachable(v) == (v >= 3 && v <= 6));
    CHECK(Compressed(v) == (v == 2 || v == 4 || v == 6));
  }
  CHECK(kSignContextV5 == "hearth/delta/v5");
  CHECK(SignContextOf(kDeltaFormatV1) == kSignContext);
  CHECK(SignContextOf(kDeltaFormatV2) == kSignContext);
  CHECK(SignContextOf(kDeltaFormatV3) == kSignContextV3);
  CHECK(SignContextOf(kDeltaFormatV4) == kSignContextV3);
  CHECK(SignContextOf(kDeltaFormatV5) == kSignContextV5);
  CHECK(SignContextOf(kDeltaFormatV6) == kSignContextV5);
}

TEST_CASE("lanes: version 5 round trip, full and stub") {
  SigningKeyPair kp = Key(3);
  const SecretBytes key = SecretBytes::Copy(Bytes(32, 0x31));
  const Bytes payload(60, 0x5a);
  const DeltaHeader h = Header(kp.public_key, "child_care/城厢镇", 1, {});
  auto sealed = SealDelta(h, payload, key, kp, nullptr, Compression::kAuto, Layout::kLane);
  REQUIRE(sealed.ok());
  CHECK((*sealed)[0] == kDeltaFormatV5);
  auto p = ParseDelta(*sealed);
  REQUIRE(p.ok());
  CHECK(p->version == kDeltaFormatV5);
  CHECK_FALSE(p->stub);
  CHECK(p->header == h);
  CHECK(Bytes(p->associated_data.begin(), p->associated_data.end()) == EncodeHeader(h, kDeltaFormatV5));
  // Hash and signature exactly as the doc says.
  crypto::Hasher bh;
  bh.Update(p->nonce);
  bh.Update(p->ciphertext);
  CHECK(p->body_hash == bh.Final());
  CHECK(p->body_size == payload.size() + 16);
  CHECK(p->hash == DocHash(p->associated_data, p->body_hash, p->body_size));
  CHECK(crypto::Verify(kp.public_key, Message("hearth/delta/v5", p->hash), p->signature));
  CHECK_FALSE(crypto::Verify(kp.public_key, Message("hearth/delta/v3", p->hash), p->signature));
  CHECK(VerifyDelta(*p).ok());
  auto plain = OpenDelta(*p, key);
  REQUIRE(plain.ok());
  CHECK(*plain == payload);

  auto stub_bytes = MakeStub(*p);
  REQUIRE(stub_bytes.ok());
  CHECK((*stub_bytes)[0] == kDeltaFormatV5);
  CHECK(stub_bytes->size() == p->associated_data.size() + 34 + 1 + 64);
  auto s = ParseDelta(*stub_bytes);
  REQUIRE(s.ok());
  CHECK(s->stub);
  CHECK(s->version == kDeltaFormatV5);
  CHECK(s->header == h);
  CHECK(s->hash == p->hash);
  CHECK(s->body_hash == p->body_hash);
  CHECK(s->body_size == p->body_size);
  CHECK(VerifyDelta(*s).ok());
  CHECK(OpenDelta(*s, key).status().code() == Code::kFailedPrecondition);
  CHECK(MakeStub(*s).status().code() == Code::kInvalidArgument);
}

TEST_CASE("lanes: version 6 round trip (zstd), full and stub") {
  SigningKeyPair kp = Key(4);
  const SecretBytes key = SecretBytes::Copy(Bytes(32, 0x41));
  const Bytes payload = BigPayload();
  const DeltaHeader h = Header(kp.public_key, "hr.workers/始阳镇", 1, {});
  // kAuto compresses a compressible payload; kZstd always; kNone never.
  for (Compression c : {Compression::kAuto, Compression::kZstd}) {
    auto sealed = SealDelta(h, payload, key, kp, nullptr, c, Layout::kLane);
    REQUIRE(sealed.ok());
    CHECK((*sealed)[0] == kDeltaFormatV6);
    CHECK(sealed->size() < payload.size());
    auto p = ParseDelta(*sealed);
    REQUIRE(p.ok());
    CHECK(p->version == kDeltaFormatV6);
    CHECK(VerifyDelta(*p).ok());
    auto plain = OpenDelta(*p, key);
    REQUIRE(plain.ok());
    CHECK(*plain == payload);
    auto stub = MakeStub(*p);
    REQUIRE(stub.ok());
    auto s = ParseDelta(*stub);
    REQUIRE(s.ok());
    CHECK(s->version == kDeltaFormatV6);
    CHECK(s->hash == p->hash);
    CHECK(VerifyDelta(*s).ok());
  }
  auto plain5 = SealDelta(h, payload, key, kp, nullptr, Compression::kNone, Layout::kLane);
  REQUIRE(plain5.ok());
  CHECK((*plain5)[0] == kDeltaFormatV5);
  // The zstd frame rules hold for version 6: a plaintext that is not a
  // frame is kCorruption after decrypting.
  auto bogus = SealDeltaPlaintext(kDeltaFormatV6, h, payload, key, kp);
  REQUIRE(bogus.ok());
  auto pb = ParseDelta(*bogus);
  REQUIRE(pb.ok());
  CHECK(VerifyDelta(*pb).ok());
  CHECK(OpenDelta(*pb, key).status().code() == Code::kCorruption);
  // And SealDeltaPlaintext takes 5 and 6, not 7.
  CHECK(SealDeltaPlaintext(kDeltaFormatV5, h, payload, key, kp).ok());
  CHECK(SealDeltaPlaintext(0x07, h, payload, key, kp).status().code() == Code::kInvalidArgument);
}

// The same header and body under versions 3 and 5 (and 4 and 6): only the
// version byte differs, and no signature carries over in either direction,
// for full deltas and stubs.
TEST_CASE("lanes: a v3/v4 signature never verifies as v5/v6, nor the reverse") {
  SigningKeyPair kp = Key(5);
  const SecretBytes key = SecretBytes::Copy(Bytes(32, 0x51));
  const DeltaHeader h = Header(kp.public_key, "child_care/城厢镇", 1, {});
  crypto::Nonce n{};
  n.fill(0x77);
  struct Pair {
    Compression c;
    Bytes payload;
    uint8_t old_version, lane_version;
  };
  const Pair pairs[] = {{Compression::kNone, Bytes(50, 1), kDeltaFormatV3, kDeltaFormatV5},
                        {Compression::kZstd, BigPayload(), kDeltaFormatV4, kDeltaFormatV6}};
  for (const Pair& pr : pairs) {
    CAPTURE(static_cast<int>(pr.lane_version));
    auto old_d = SealDelta(h, pr.payload, key, kp, &n, pr.c, Layout::kDetachable);
    auto lane_d = SealDelta(h, pr.payload, key, kp, &n, pr.c, Layout::kLane);
    REQUIRE(old_d.ok());
    REQUIRE(lane_d.ok());
    CHECK((*old_d)[0] == pr.old_version);
    CHECK((*lane_d)[0] == pr.lane_version);
    auto po = ParseDelta(*old_d);
    auto pl = ParseDelta(*lane_d);
    REQUIRE(po.ok());
    REQUIRE(pl.ok());
    CHECK(po->hash != pl->hash);  // the version byte is hashed (and in the AD)

    // Relabelled bytes: the v3/v4 delta with the lane version byte (and the
    // reverse) parses but does not verify, full or stub.
    for (const auto& [from, to] : {std::pair{*old_d, pr.lane_version}, std::pair{*lane_d, pr.old_version}}) {
      Bytes t = from;
      t[0] = to;
      auto pt = ParseDelta(t);
      REQUIRE(pt.ok());
      CHECK(VerifyDelta(*pt).code() == Code::kUnauthenticated);
      CHECK(OpenDelta(*pt, key).status().code() == Code::kUnauthenticated);
      auto pf = ParseDelta(from);
      REQUIRE(pf.ok());
      auto stub = MakeStub(*pf);
      REQUIRE(stub.ok());
      (*stub)[0] = to;
      auto ps = ParseDelta(*stub);
      REQUIRE(ps.ok());
      CHECK(VerifyDelta(*ps).code() == Code::kUnauthenticated);
    }

    // Context separation proper: a signature over the very hash a v5/v6
    // delta has, made under the v3 context, does not verify as v5/v6; one
    // made under the v5 context over a v3/v4 delta's hash does not verify
    // as v3/v4. (Each is valid under its own context.)
    ParsedDelta lane_with_v3_sig = *pl;
    lane_with_v3_sig.signature = crypto::Sign(kp.secret_key, Message(kSignContextV3, pl->hash));
    CHECK(VerifyDelta(lane_with_v3_sig).code() == Code::kUnauthenticated);
    ParsedDelta old_with_v5_sig = *po;
    old_with_v5_sig.signature = crypto::Sign(kp.secret_key, Message(kSignContextV5, po->hash));
    CHECK(VerifyDelta(old_with_v5_sig).code() == Code::kUnauthenticated);
    lane_with_v3_sig.signature = crypto::Sign(kp.secret_key, Message(kSignContextV5, pl->hash));
    CHECK(VerifyDelta(lane_with_v3_sig).ok());
    old_with_v5_sig.signature = crypto::Sign(kp.secret_key, Message(kSignContextV3, po->hash));
    CHECK(VerifyDelta(old_with_v5_sig).ok());
    // Nor does the v1 context carry over.
    ParsedDelta lane_with_v1_sig = *pl;
    lane_with_v1_sig.signature = crypto::Sign(kp.secret_key, Message(kSignContext, pl->hash));
    CHECK(VerifyDelta(lane_with_v1_sig).code() == Code::kUnauthenticated);
  }
}

TEST_CASE("lanes: SealDeltaUnsigned and SignSealedDelta write versions 5/6") {
  SigningKeyPair kp = Key(6);
  const SecretBytes key = SecretBytes::Copy(Bytes(32, 0x61));
  const DeltaHeader h = Header(kp.public_key, "hr.workers/始阳镇", 1, {});
  struct Case {
    Layout layout;
    Bytes payload;
    uint8_t version;
  };
  const Case cases[] = {{Layout::kLane, Bytes(40, 2), kDeltaFormatV5},
                        {Layout::kLane, BigPayload(), kDeltaFormatV6},
                        {Layout::kDetachable, Bytes(40, 2), kDeltaFormatV3},
                        {Layout::kDetachable, BigPayload(), kDeltaFormatV4}};
  for (const Case& c : cases) {
    CAPTURE(static_cast<int>(c.version));
    crypto::Hash to_sign{};
    auto d = SealDeltaUnsigned(h, c.payload, key, kp, to_sign, c.layout);
    REQUIRE(d.ok());
    CHECK((*d)[0] == c.version);
    auto unsigned_p = ParseDelta(*d);
    REQUIRE(unsigned_p.ok());
    CHECK(unsigned_p->hash == to_sign);  // the hash does not depend on the signature
    CHECK(VerifyDelta(*unsigned_p).code() == Code::kUnauthenticated);
    SignSealedDelta(*d, to_sign, kp);
    auto p = ParseDelta(*d);
    REQUIRE(p.ok());
    CHECK(VerifyDelta(*p).ok());
    CHECK(crypto::Verify(kp.public_key, Message(SignContextOf(c.version), to_sign), p->signature));
    auto plain = OpenDelta(*p, key);
    REQUIRE(plain.ok());
    CHECK(*plain == c.payload);
  }
  // The default layout stays version 3/4; versions 1/2 cannot be signed later.
  crypto::Hash to_sign{};
  auto d = SealDeltaUnsigned(h, Bytes(40, 2), key, kp, to_sign);
  REQUIRE(d.ok());
  CHECK((*d)[0] == kDeltaFormatV3);
  CHECK(SealDeltaUnsigned(h, Bytes(40, 2), key, kp, to_sign, Layout::kAttached).status().code() ==
        Code::kInvalidArgument);
}

// seq and prev count per lane (author, scope). The format layer sees one
// delta at a time: it accepts each of these; the lane chain rule is the
// replica's (docs/delta-format.md, "Versions 5 and 6 (lanes)").
TEST_CASE("lanes: two lanes of one author, each from seq 1") {
  SigningKeyPair kp = Key(7);
  const SecretBytes key = SecretBytes::Copy(Bytes(32, 0x71));
  auto seal = [&](const std::string& scope, uint64_t seq, const crypto::Hash& prev) {
    auto d = SealDelta(Header(kp.public_key, scope, seq, prev), Bytes(30, 3), key, kp, nullptr, Compression::kAuto,
                       Layout::kLane);
    REQUIRE(d.ok());
    auto p = ParseDelta(*d);
    REQUIRE(p.ok());
    CHECK(VerifyDelta(*p).ok());
    return p->hash;
  };
  const crypto::Hash c1 = seal("child_care/城厢镇", 1, {});
  const crypto::Hash h1 = seal("hr.workers/始阳镇", 1, {});  // written between: its own lane, seq 1
  const crypto::Hash c2 = seal("child_care/城厢镇", 2, c1);
  CHECK(c1 != h1);
  CHECK(c2 != c1);
  // seq 1 with a non-zero prev is still malformed, in every lane.
  auto bad = SealDelta(Header(kp.public_key, "x", 1, c1), Bytes(30, 3), key, kp, nullptr, Compression::kAuto,
                       Layout::kLane);
  CHECK(bad.status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace hearth::feed
