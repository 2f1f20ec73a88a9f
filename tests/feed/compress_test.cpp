// Version-2 deltas: the payload compressed (zstd) before encryption
// (docs/delta-format.md, "Compressed payload").
#include <doctest/doctest.h>
#include <zstd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "hearth/inspect.hpp"
#include "codec/codec.hpp"
#include "feed/compress.hpp"
#include "feed/delta.hpp"
#include "store/store_support.hpp"
#include "support/support.hpp"

namespace hearth::feed {
namespace {

using crypto::SecretBytes;
using crypto::SigningKeyPair;

SigningKeyPair KeyFromByte(uint8_t b) {
  auto kp = SigningKeyPair::FromSeed(Bytes(32, b));
  REQUIRE(kp.ok());
  return std::move(kp).value();
}

// n records of the benchmark's shape (a few fields each, repeated names,
// values that vary): what real deltas carry.
std::vector<crdt::RecordOps> Records(int n, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::vector<crdt::RecordOps> rs;
  uint64_t hlc = crdt::MakeHlc(1'700'000'000'000ull, 0);
  for (int i = 0; i < n; ++i) {
    crdt::RecordOps r;
    r.collection = "case";
    for (auto& b : r.id.bytes) b = static_cast<uint8_t>(rng());
    crdt::Op name;
    name.field = "name";
    name.kind = crdt::OpKind::kLwwSet;
    name.hlc = hlc++;
    name.value = Value("Person " + std::to_string(i) + " " + std::to_string(rng() % 10000));
    crdt::Op visits;
    visits.field = "visits";
    visits.kind = crdt::OpKind::kCounter;
    visits.hlc = hlc++;
    visits.p = 1 + rng() % 5;
    crdt::Op notes;
    notes.field = "notes";
    notes.kind = crdt::OpKind::kLogAppend;
    notes.hlc = hlc++;
    notes.value = Value("visit " + std::to_string(i) + ": wages owed since March, employer contacted");
    r.ops = {name, visits, notes};
    rs.push_back(std::move(r));
  }
  return rs;
}

DeltaHeader HeaderFor(const AuthorId& author, const std::vector<crdt::RecordOps>& rs, uint64_t seq = 1) {
  DeltaHeader h;
  h.author = author;
  h.seq = seq;
  h.scope = "agency/intake";
  h.epoch = 1;
  h.hlc_min = UINT64_MAX;
  for (const auto& r : rs) {
    for (const auto& op : r.ops) {
      h.hlc_min = std::min(h.hlc_min, op.hlc);
      h.hlc_max = std::max(h.hlc_max, op.hlc);
      ++h.op_count;
    }
  }
  return h;
}

struct Env {
  SigningKeyPair kp = KeyFromByte(7);
  SecretBytes key = SecretBytes::Copy(Bytes(32, 0x42));
};

// Seals `plaintext` as a version-2 delta and opens it: the OpenDelta result.
Result<Bytes> OpenV2(const Env& e, std::span<const uint8_t> plaintext,
                     uint64_t max_payload = kMaxCompressedPayloadBytes) {
  DeltaHeader h;
  h.author = e.kp.public_key;
  h.seq = 1;
  h.scope = "agency/intake";
  h.op_count = 1;
  auto d = SealDeltaPlaintext(kDeltaFormatV2, h, plaintext, e.key, e.kp);
  REQUIRE(d.ok());
  auto p = ParseDelta(*d);
  REQUIRE(p.ok());  // relays see a valid delta whatever the plaintext
  REQUIRE(p->version == kDeltaFormatV2);
  REQUIRE(VerifyDelta(*p).ok());
  return OpenDelta(*p, e.key, max_payload);
}

Bytes ZstdFrame(std::span<const uint8_t> data, int level, bool checksum, int window_log = 0) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum ? 1 : 0);
  if (window_log != 0) ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
  Bytes out(ZSTD_compressBound(data.size()));
  size_t r = ZSTD_compress2(c, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(c);
  REQUIRE_FALSE(ZSTD_isError(r));
  out.resize(r);
  return out;
}

Code CodeOf(const Result<Bytes>& r) { return r.ok() ? Code::kOk : r.status().code(); }

TEST_CASE("v2: a typical payload is compressed, round trips and decodes") {
  Env e;
  const auto rs = Records(125);
  const Bytes payload = codec::EncodePayload(rs);
  const DeltaHeader h = HeaderFor(e.kp.public_key, rs);

  auto v2 = SealDelta(h, payload, e.key, e.kp);  // kAuto
  REQUIRE(v2.ok());
  auto v1 = SealDelta(h, payload, e.key, e.kp, nullptr, Compression::kNone);
  REQUIRE(v1.ok());
  CHECK((*v2)[0] == kDeltaFormatV2);
  CHECK((*v1)[0] == kDeltaFormatV1);
  CHECK(v2->size() * 3 < v1->size());  // this payload shrinks ~5x
  MESSAGE("payload " << payload.size() << " B: v1 delta " << v1->size() << " B, v2 delta " << v2->size()
                     << " B");

  for (const Bytes* d : {&*v1, &*v2}) {
    auto p = ParseDelta(*d);
    REQUIRE(p.ok());
    CHECK(p->version == (*d)[0]);
    CHECK(p->header == h);
    CHECK(VerifyDelta(*p).ok());
    // The hash covers the delta bytes as they are (compressed body included).
    const size_t body_end = d->size() - 64;
    CHECK(p->hash == crypto::HashBytes(std::span(*d).first(body_end)));
    CHECK(p->associated_data.size() == EncodeHeader(h).size());
    CHECK(p->associated_data[0] == (*d)[0]);
    auto plain = OpenDelta(*p, e.key);
    REQUIRE(plain.ok());
    CHECK(*plain == payload);
    auto back = codec::DecodePayload(*plain);
    REQUIRE(back.ok());
    CHECK(*back == rs);
  }

  // The AEAD plaintext of v2 is exactly what CompressPayload writes.
  auto p = ParseDelta(*v2);
  REQUIRE(p.ok());
  auto frame = crypto::AeadDecrypt(e.key, p->nonce, p->ciphertext, p->associated_data);
  REQUIRE(frame.ok());
  auto expect = CompressPayload(payload);
  REQUIRE(expect.ok());
  CHECK(*frame == *expect);
  auto declared = CompressedPayloadSize(*frame);
  REQUIRE(declared.ok());
  CHECK(*declared == payload.size());
}

TEST_CASE("v2: the writer's choice (kAuto, kNone, kZstd)") {
  Env e;
  DeltaHeader h;
  h.author = e.kp.public_key;
  h.seq = 1;
  h.scope = "s";
  h.op_count = 1;
  auto version = [&](const Bytes& payload, Compression c) {
    auto d = SealDelta(h, payload, e.key, e.kp, nullptr, c);
    REQUIRE(d.ok());
    auto p = ParseDelta(*d);
    REQUIRE(p.ok());
    auto o = OpenDelta(*p, e.key);
    REQUIRE(o.ok());
    CHECK(*o == payload);
    return (*d)[0];
  };
  // Below the threshold: raw, however compressible.
  CHECK(version(Bytes(kCompressMinBytes - 1, 'a'), Compression::kAuto) == kDeltaFormatV1);
  CHECK(version(Bytes(kCompressMinBytes, 'a'), Compression::kAuto) == kDeltaFormatV2);
  // Incompressible: raw.
  std::mt19937_64 rng(3);
  Bytes noise(4096);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  CHECK(version(noise, Compression::kAuto) == kDeltaFormatV1);
  CHECK(version(noise, Compression::kZstd) == kDeltaFormatV2);
  CHECK(version(Bytes(1, 'a'), Compression::kZstd) == kDeltaFormatV2);
  CHECK(version(Bytes(100000, 'a'), Compression::kNone) == kDeltaFormatV1);
  // Empty payload: v1 only (a frame must declare at least one byte).
  CHECK(version(Bytes(), Compression::kAuto) == kDeltaFormatV1);
  CHECK(SealDelta(h, Bytes(), e.key, e.kp, nullptr, Compression::kZstd).status().code() ==
        Code::kInvalidArgument);
  // Larger than a compressed payload may be: v1 under kAuto, refused under kZstd.
  const Bytes big(kMaxCompressedPayloadBytes + 1, 'b');
  auto d = SealDelta(h, big, e.key, e.kp);
  REQUIRE(d.ok());
  CHECK((*d)[0] == kDeltaFormatV1);
  CHECK(SealDelta(h, big, e.key, e.kp, nullptr, Compression::kZstd).status().code() ==
        Code::kInvalidArgument);
  // Exactly the limit compresses (and is single-segment: the window covers it).
  const Bytes at_limit(kMaxCompressedPayloadBytes, 'c');
  CHECK(version(at_limit, Compression::kAuto) == kDeltaFormatV2);
  CHECK(SealDeltaPlaintext(0x07, h, Bytes(20, 0), e.key, e.kp).status().code() == Code::kInvalidArgument);
  // The detachable layout chooses 3 or 4 exactly as 1 or 2.
  auto layout = [&](const Bytes& payload, Compression c) {
    auto d = SealDelta(h, payload, e.key, e.kp, nullptr, c, Layout::kDetachable);
    REQUIRE(d.ok());
    auto p = ParseDelta(*d);
    REQUIRE(p.ok());
    auto back = OpenDelta(*p, e.key);
    REQUIRE(back.ok());
    CHECK(*back == payload);
    return (*d)[0];
  };
  CHECK(layout(Bytes(kCompressMinBytes - 1, 'a'), Compression::kAuto) == kDeltaFormatV3);
  CHECK(layout(Bytes(kCompressMinBytes, 'a'), Compression::kAuto) == kDeltaFormatV4);
  CHECK(layout(noise, Compression::kAuto) == kDeltaFormatV3);
  CHECK(layout(Bytes(1, 'a'), Compression::kZstd) == kDeltaFormatV4);
}

TEST_CASE("v2: the version byte is authenticated") {
  Env e;
  const Bytes payload = codec::EncodePayload(Records(20));
  DeltaHeader h = HeaderFor(e.kp.public_key, Records(20));
  auto d = SealDelta(h, payload, e.key, e.kp);
  REQUIRE(d.ok());
  REQUIRE((*d)[0] == kDeltaFormatV2);
  for (uint8_t v : {uint8_t{0x01}, uint8_t{0x00}, uint8_t{0x03}}) {
    Bytes t = *d;
    t[0] = v;
    auto p = ParseDelta(t);
    if (!p.ok()) {
      CHECK(p.status().code() == Code::kCorruption);
      continue;
    }
    CHECK(VerifyDelta(*p).code() == Code::kUnauthenticated);
    CHECK(CodeOf(OpenDelta(*p, e.key)) == Code::kUnauthenticated);  // AD includes the byte
  }
}

TEST_CASE("v2: zip bombs are refused before allocating") {
  Env e;
  // A real bomb: 16 MiB + 1 of zeros compresses to a few hundred bytes, but
  // the declared size is above the format's limit.
  {
    Bytes zeros(kMaxCompressedPayloadBytes + 1, 0);
    Bytes frame = ZstdFrame(zeros, 1, false, 25);
    CHECK(frame.size() < 4096);
    auto r = OpenV2(e, frame);
    CHECK(CodeOf(r) == Code::kCorruption);
    CHECK(r.status().message().find("more than the format's limit") != std::string::npos);
  }
  // At the format's limit, but above the reader's: kResourceExhausted.
  {
    Bytes zeros(kMaxCompressedPayloadBytes, 0);
    Bytes frame = ZstdFrame(zeros, 1, false, 24);
    auto r = OpenV2(e, frame, 1 << 20);
    CHECK(CodeOf(r) == Code::kResourceExhausted);
    CHECK(r.status().message().find("reader's limit of 1048576") != std::string::npos);
    CHECK(r.status().message().find("declares 16777216 bytes") != std::string::npos);
    auto ok = OpenV2(e, frame);  // the default limit admits it
    REQUIRE(ok.ok());
    CHECK(ok->size() == kMaxCompressedPayloadBytes);
  }
  // A header declaring 2^64-1 bytes (8-byte Frame_Content_Size), no blocks:
  // refused from the header alone.
  {
    Bytes frame = {0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    auto r = OpenV2(e, frame);
    CHECK(CodeOf(r) == Code::kCorruption);
    CHECK(r.status().message().find("declares 18446744073709551615 bytes") != std::string::npos);
  }
  // A frame that lies about its size (declares 100, holds 1 MiB): the output
  // buffer is the declared 100 bytes, and decompression fails.
  {
    Bytes frame = ZstdFrame(Bytes(1 << 20, 'x'), 1, false, 24);
    REQUIRE(frame[4] == 0xa0);  // single segment, 4-byte content size
    frame[5] = 100;
    frame[6] = frame[7] = frame[8] = 0;
    CHECK(CodeOf(OpenV2(e, frame)) == Code::kCorruption);
  }
}

TEST_CASE("v2: truncated, garbage and non-conforming frames are kCorruption") {
  Env e;
  const Bytes payload = codec::EncodePayload(Records(40));
  auto good = CompressPayload(payload);
  REQUIRE(good.ok());
  {
    auto r = OpenV2(e, *good);
    REQUIRE(r.ok());
    CHECK(*r == payload);
  }
  // Every truncation.
  for (size_t n = 0; n < good->size(); ++n) {
    CAPTURE(n);
    auto r = OpenV2(e, std::span(*good).first(n));
    CHECK(CodeOf(r) == Code::kCorruption);
  }
  // Trailing bytes, a second frame, a skippable frame.
  {
    Bytes t = *good;
    t.push_back(0);
    CHECK(CodeOf(OpenV2(e, t)) == Code::kCorruption);
    t = *good;
    t.insert(t.end(), good->begin(), good->end());
    auto r = OpenV2(e, t);
    CHECK(CodeOf(r) == Code::kCorruption);
    CHECK(r.status().message().find("after the zstd frame") != std::string::npos);
    Bytes skippable = {0x50, 0x2a, 0x4d, 0x18, 0x04, 0, 0, 0, 1, 2, 3, 4};
    CHECK(CodeOf(OpenV2(e, skippable)) == Code::kCorruption);
    skippable.insert(skippable.end(), good->begin(), good->end());
    CHECK(CodeOf(OpenV2(e, skippable)) == Code::kCorruption);
  }
  // Descriptor bits: not single-segment, a dictionary id, the reserved bit.
  {
    Bytes frame = ZstdFrame(Bytes(600000, 'x'), 1, false);  // libzstd default: window < size
    REQUIRE((frame[4] & 0x20) == 0);
    auto r = OpenV2(e, frame);
    CHECK(CodeOf(r) == Code::kCorruption);
    CHECK(r.status().message().find("single-segment") != std::string::npos);
    for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x08}}) {
      Bytes t = *good;
      t[4] |= bit;
      CHECK(CodeOf(OpenV2(e, t)) == Code::kCorruption);
    }
    Bytes t = *good;
    t[4] &= static_cast<uint8_t>(~0x20);
    CHECK(CodeOf(OpenV2(e, t)) == Code::kCorruption);
  }
  // An empty content (declares 0 bytes).
  {
    Bytes empty = ZstdFrame(Bytes(), 1, false);
    CHECK(CodeOf(OpenV2(e, empty)) == Code::kCorruption);
  }
  // A raw (uncompressed) payload sealed as v2, and random garbage.
  CHECK(CodeOf(OpenV2(e, payload)) == Code::kCorruption);
  std::mt19937_64 rng(hearth::testing::BaseSeed());
  for (int i = 0; i < hearth::testing::Cases(300); ++i) {
    Bytes t = *good;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) t[rng() % t.size()] = static_cast<uint8_t>(rng());
    auto r = OpenV2(e, t);
    // A changed literal can still decompress (no checksum: the AEAD tag is
    // the integrity check); what comes out is then a payload to decode.
    if (r.ok()) {
      CHECK(r->size() <= kMaxCompressedPayloadBytes);
      continue;
    }
    CHECK((r.status().code() == Code::kCorruption || r.status().code() == Code::kResourceExhausted));
  }
  for (int i = 0; i < hearth::testing::Cases(300); ++i) {
    Bytes t(rng() % 200);
    for (auto& b : t) b = static_cast<uint8_t>(rng());
    if (rng() % 2 && t.size() >= 5) std::copy_n(good->begin(), 5, t.begin());
    auto r = OpenV2(e, t);
    if (!r.ok()) CHECK(r.status().code() == Code::kCorruption);
  }
}

TEST_CASE("v2: frames other writers may produce are accepted") {
  Env e;
  const Bytes payload = codec::EncodePayload(Records(30));
  // With a content checksum, at other levels: different bytes, same payload.
  for (int level : {1, 3, 19}) {
    for (bool checksum : {false, true}) {
      CAPTURE(level);
      CAPTURE(checksum);
      Bytes frame = ZstdFrame(payload, level, checksum);
      auto r = OpenV2(e, frame);
      REQUIRE(r.ok());
      CHECK(*r == payload);
      if (checksum) {
        // The checksum is checked: a frame whose content checksum is wrong
        // is refused.
        Bytes t = frame;
        t.back() ^= 1;
        CHECK(CodeOf(OpenV2(e, t)) == Code::kCorruption);
      }
    }
  }
}

TEST_CASE("v2: the decompressed payload must be canonical") {
  Env e;
  const auto rs = Records(10);
  const Bytes canonical = codec::EncodePayload(rs);
  // ["name", 1, hlc, ...]: write the kind 1 as uint8 (cc 01) instead of the
  // fixint 01. Same value, non-canonical form.
  const Bytes name_kind = {0xa4, 'n', 'a', 'm', 'e', 0x01};
  auto at = std::search(canonical.begin(), canonical.end(), name_kind.begin(), name_kind.end());
  REQUIRE(at != canonical.end());
  Bytes bad(canonical.begin(), at + 5);
  bad.push_back(0xcc);
  bad.insert(bad.end(), at + 5, canonical.end());

  const DeltaHeader h = HeaderFor(e.kp.public_key, rs);
  for (Compression c : {Compression::kNone, Compression::kZstd}) {
    auto ok = SealDelta(h, canonical, e.key, e.kp, nullptr, c);
    auto nc = SealDelta(h, bad, e.key, e.kp, nullptr, c);
    REQUIRE(ok.ok());
    REQUIRE(nc.ok());
    auto p_ok = ParseDelta(*ok);
    auto p_nc = ParseDelta(*nc);
    REQUIRE(p_ok.ok());
    REQUIRE(p_nc.ok());
    CHECK(VerifyDelta(*p_nc).ok());
    auto plain_ok = OpenDelta(*p_ok, e.key);
    auto plain_nc = OpenDelta(*p_nc, e.key);
    REQUIRE(plain_ok.ok());
    REQUIRE(plain_nc.ok());
    CHECK(*plain_nc == bad);
    CHECK(codec::DecodePayload(*plain_ok).ok());
    auto dec = codec::DecodePayload(*plain_nc);
    CHECK(dec.status().code() == Code::kCorruption);
  }
}

// Through the store: a feed mixing uncompressed and compressed deltas
// (a replica writes versions 3 and 4) replicates and converges;
// a replica refuses a v2 delta whose payload exceeds its max_delta_bytes.
TEST_CASE("v2: mixed v1/v2 feed through replicas") {
  using namespace hearth::testing;
  TempDir dir;
  FakeClock clock;
  auto a = OpenReplica(dir.Sub("a"), &clock);
  auto b = OpenReplica(dir.Sub("b"), &clock);
  std::vector<RecordId> ids;
  for (int round = 0; round < 6; ++round) {
    WriteBatch w;
    const int records = round % 2 == 0 ? 1 : 50;  // 1 record: a small v1 delta
    for (int i = 0; i < records; ++i) {
      RecordId id = RecordId::Generate();
      ids.push_back(id);
      w.Set("item", id, "title", Value("wage case " + std::to_string(round) + "/" + std::to_string(i)));
      w.Append("item", id, "notes", Value("township mediation session held, employer contacted"));
    }
    auto c = a->Commit(w);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    clock.Advance(1000);
  }
  auto deltas = a->DeltasSince({});
  REQUIRE(deltas.ok());
  REQUIRE(deltas->size() == 6);
  int v1 = 0, v2 = 0;
  for (const Bytes& d : *deltas) (Compressed(d[0]) ? v2 : v1)++;
  for (const Bytes& d : *deltas) CHECK(Detachable(d[0]));  // Commit writes versions 3/4
  CHECK(v1 == 3);
  CHECK(v2 == 3);
  ShareKeys(*a, *b);  // scope keys exist once A has written
  for (const Bytes& d : *deltas) {
    auto info = inspect::Describe(*a, d);
    REQUIRE(info.ok());
    CHECK(info->readable);
    CHECK(info->signature_ok);
  }

  // Out of order (pending, then drained) and in order.
  for (size_t i = deltas->size(); i-- > 0;) {
    auto r = b->Apply((*deltas)[i]);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  }
  auto da = a->Digest();
  auto db = b->Digest();
  REQUIRE(da.ok());
  REQUIRE(db.ok());
  CHECK(*da == *db);
  auto rec = b->Get("item", ids.back());
  REQUIRE_MESSAGE(rec.ok(), rec.status().ToString());

  // A relay without the key stores and forwards v2 deltas unread.
  auto relay = OpenReplica(dir.Sub("relay"), &clock);
  CHECK(Sync(*a, *relay) == 6);
  auto fwd = relay->DeltasSince({});
  REQUIRE(fwd.ok());
  CHECK(*fwd == *deltas);

  // A reader whose max_delta_bytes is below a v2 delta's payload (but above
  // the delta itself) applies it all the same: inside a delta only the
  // format's limits count (16 MiB decompressed), so that whether a stored
  // delta applies never depends on a replica's configuration (issue #12).
  size_t big = 0;
  while (!Compressed((*deltas)[big][0])) ++big;  // the first compressed delta
  const Bytes& d = (*deltas)[big];
  auto parsed = ParseDelta(d);
  REQUIRE(parsed.ok());
  ReplicaOptions small;
  small.max_delta_bytes = d.size() + 10;  // the delta fits, its payload does not
  auto c = OpenReplica(dir.Sub("c"), &clock, small);
  ShareKeys(*a, *c);
  for (size_t i = 0; i < big; ++i) REQUIRE(c->Apply((*deltas)[i]).ok());
  auto r = c->Apply(d);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->outcome == ApplyOutcome::kApplied);
  // The delta itself over the limit is still refused (not stored).
  ReplicaOptions tiny;
  tiny.max_delta_bytes = d.size() - 1;
  auto e = OpenReplica(dir.Sub("e"), &clock, tiny);
  ShareKeys(*a, *e);
  for (size_t i = 0; i < big; ++i) REQUIRE(e->Apply((*deltas)[i]).ok());
  auto too_big = e->Apply(d);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.status().code() == Code::kResourceExhausted);
  CHECK(too_big.status().message().find("max_delta_bytes") != std::string::npos);
}

}  // namespace
}  // namespace hearth::feed
