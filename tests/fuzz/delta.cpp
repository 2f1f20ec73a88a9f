// Fuzz target: deltas (src/feed, src/codec/delta_frame.cpp).
//
// First input byte % 3 == 0 — parse mode: the rest is a delta. ParseDelta must
// never fail with anything but kCorruption / kResourceExhausted; when it
// accepts: EncodeHeader(header) is the associated data byte for byte (one
// encoding per delta, docs/delta-format.md "Canonical encoding"), the hash
// is BLAKE2b of everything before the signature, VerifyDelta runs; a delta
// by author A (seed A of the test vectors) is re-signed with A's key and
// must then verify, and its body is opened with the "north" vector key and
// decoded.
//
// Versions 3/4 and stubs: in parse mode, the hash of an accepted version
// 3/4 delta or stub is BLAKE2b(version||header || body_hash || u64be(size)),
// a full one's body_hash is BLAKE2b(nonce||ciphertext) and its stub (MakeStub)
// parses to the same header, hash and verification verdict; a stub never
// opens (kFailedPrecondition). Seal mode picks the layout from the input and,
// for version 3/4, checks the stub like the delta (verifies, same hash,
// every single-byte change, truncation or extension detected).
//
// Versions 5/6 (lanes) and their stubs: the same oracles as 3/4 (they share
// layout, hash and stubs), in their own version: the header re-encodes with
// the delta's version byte, a re-signature uses that version's context
// (hearth/delta/v5), and the signature of an accepted delta never verifies
// once the version byte is moved to the other family (3<->5, 4<->6). Seal
// mode writes them when the mode byte asks for the lane layout.
//
// First input byte % 3 == 1 — seal mode: a header, nonce, compression
// choice and payload taken from the input are sealed by SealDelta (signer A,
// key "north"; version 1 or, zstd-compressed, version 2). A header SealDelta
// refuses is kInvalidArgument; an accepted one must parse to the same
// header, verify, open to the same payload, chain (seq + 1 with prev = hash
// parses with that prev), and every single-byte change, truncation or
// extension of it must be detected (ParseDelta or VerifyDelta fails).
//
// First input byte % 3 == 2 — zstd mode: the rest is the AEAD plaintext of
// a version-2 delta. DecompressPayload fails only with kCorruption /
// kResourceExhausted, never returns more than the limit it is given nor a
// size other than CompressedPayloadSize; what it returns compresses and
// decompresses back to itself.
#include <cstdint>
#include <cstring>
#include <span>

#include "byte_reader.hpp"
#include "codec/codec.hpp"
#include "crypto/crypto.hpp"
#include "feed/compress.hpp"
#include "feed/delta.hpp"
#include "fuzz_support.hpp"

using namespace hearth;
using hearth::fuzz::ByteReader;

namespace {

struct Keys {
  crypto::SigningKeyPair a;
  crypto::SecretBytes north;
  Keys() {
    FUZZ_CHECK(crypto::Init().ok());
    uint8_t seed[32];
    for (int i = 0; i < 32; ++i) seed[i] = static_cast<uint8_t>(i);
    auto kp = crypto::SigningKeyPair::FromSeed(seed);
    FUZZ_CHECK(kp.ok());
    a = std::move(kp).value();
    north = crypto::SecretBytes(32);
    std::memset(north.data(), 0x4b, 32);
  }
};

const Keys& K() {
  static const Keys* k = new Keys();
  return *k;
}

crypto::Signature SignHash(const crypto::Hash& h, uint8_t version) {
  const std::string_view ctx = feed::SignContextOf(version);
  Bytes m(ctx.begin(), ctx.end());
  m.insert(m.end(), h.begin(), h.end());
  return crypto::Sign(K().a.secret_key, m);
}

// A payload that decodes is canonical in its own version (1: msgpack, 2:
// payload v2, told apart by the first byte): encoding it again in that
// version gives the same bytes.
void DecodeBody(const Bytes& plain) {
  auto p = codec::DecodePayload(plain);
  if (p.ok()) FUZZ_CHECK(codec::EncodePayloadAs(*p, codec::PayloadVersionOf(plain)) == plain);
}

// Every accepted delta: structure-level oracles.
void CheckParsed(std::span<const uint8_t> bytes, const feed::ParsedDelta& d) {
  const Bytes hdr = feed::EncodeHeader(d.header, d.version);
  FUZZ_CHECK(hdr.size() == d.associated_data.size() &&
             std::equal(hdr.begin(), hdr.end(), d.associated_data.begin()));
  FUZZ_CHECK(bytes.size() > 64);
  if (!feed::Detachable(d.version)) {
    FUZZ_CHECK(!d.stub);
    FUZZ_CHECK(d.hash == crypto::HashBytes(bytes.first(bytes.size() - 64)));
    FUZZ_CHECK(d.ciphertext.size() >= 16);
  } else {
    if (d.stub) {
      FUZZ_CHECK(d.ciphertext.empty() && d.body_size >= 16 && d.body_size <= 0xffffffffull);
    } else {
      FUZZ_CHECK(d.ciphertext.size() >= 16 && d.body_size == d.ciphertext.size());
      crypto::Hasher bh;
      bh.Update(d.nonce);
      bh.Update(d.ciphertext);
      FUZZ_CHECK(bh.Final() == d.body_hash);
    }
    uint8_t be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<uint8_t>(d.body_size >> (56 - 8 * i));
    crypto::Hasher hh;
    hh.Update(d.associated_data);
    hh.Update(d.body_hash);
    hh.Update(be);
    FUZZ_CHECK(hh.Final() == d.hash);
  }
  FUZZ_CHECK(d.header.seq >= 1 && d.header.hlc_min <= d.header.hlc_max && d.header.op_count >= 1);
  FUZZ_CHECK(d.version >= feed::kDeltaFormatV1 && d.version <= feed::kDeltaFormatV6);
  FUZZ_CHECK(bytes[0] == d.version && d.associated_data[0] == d.version);
  FUZZ_CHECK(!d.header.scope.empty() && d.header.scope.size() <= feed::kMaxScopeBytes);
}

// Versions 3/4 and 5/6 differ only in the version byte and the signing
// context: the same bytes relabelled to the other family (3<->5, 4<->6)
// parse, but a signature valid for one never verifies for the other.
void CheckOtherFamily(std::span<const uint8_t> in, const feed::ParsedDelta& d, const Status& verdict) {
  if (!feed::Detachable(d.version)) return;
  const uint8_t other = feed::IsLaneVersion(d.version) ? static_cast<uint8_t>(d.version - 2)
                                                       : static_cast<uint8_t>(d.version + 2);
  Bytes t(in.begin(), in.end());
  t[0] = other;
  auto o = feed::ParseDelta(t);
  FUZZ_CHECK_MSG(o.ok(), o.status().ToString());
  FUZZ_CHECK(o->version == other && o->stub == d.stub && o->header == d.header && o->hash != d.hash);
  if (verdict.ok()) FUZZ_CHECK(feed::VerifyDelta(*o).code() == Code::kUnauthenticated);
}

void ParseMode(std::span<const uint8_t> in) {
  auto d = feed::ParseDelta(in);
  if (!d.ok()) {
    FUZZ_CHECK_MSG(d.status().code() == Code::kCorruption ||
                       d.status().code() == Code::kResourceExhausted,
                   d.status().ToString());
    return;
  }
  CheckParsed(in, *d);
  Status v = feed::VerifyDelta(*d);
  FUZZ_CHECK(v.ok() || v.code() == Code::kUnauthenticated);
  CheckOtherFamily(in, *d, v);
  if (feed::Detachable(d->version) && !d->stub) {
    auto stub = feed::MakeStub(*d);
    FUZZ_CHECK(stub.ok());
    auto s = feed::ParseDelta(*stub);
    FUZZ_CHECK(s.ok() && s->stub && s->header == d->header && s->hash == d->hash);
    FUZZ_CHECK(feed::VerifyDelta(*s).code() == v.code());
  }
  if (d->stub) {
    FUZZ_CHECK(feed::OpenDelta(*d, K().north).status().code() == Code::kFailedPrecondition);
    FUZZ_CHECK(feed::MakeStub(*d).status().code() == Code::kInvalidArgument);
  }
  if (d->header.author != K().a.public_key) return;

  Bytes resigned(in.begin(), in.end());
  const crypto::Signature sig = SignHash(d->hash, d->version);
  std::memcpy(resigned.data() + resigned.size() - 64, sig.data(), 64);
  auto r = feed::ParseDelta(resigned);
  FUZZ_CHECK(r.ok());
  FUZZ_CHECK(r->header == d->header && r->hash == d->hash);
  FUZZ_CHECK(feed::VerifyDelta(*r).ok());
  auto plain = feed::OpenDelta(*r, K().north);
  if (plain.ok()) {
    DecodeBody(*plain);
  } else {
    FUZZ_CHECK(plain.status().code() == (r->stub ? Code::kFailedPrecondition : Code::kUnauthenticated));
  }
}

void SealMode(ByteReader& r) {
  feed::DeltaHeader h;
  h.author = K().a.public_key;
  h.seq = r.Bool() ? r.U64() : r.U8();
  if (r.Bool()) h.prev.fill(r.U8());
  h.scope = r.Bool() ? std::string("agency/north") : r.String(140);
  h.epoch = r.U32();
  h.hlc_min = r.U64();
  h.hlc_max = r.Bool() ? h.hlc_min + r.U8() : r.U64();
  h.op_count = r.Bool() ? 1 : r.U32();
  crypto::Nonce nonce{};
  for (auto& b : nonce) b = r.U8();
  const uint32_t mutate_at = r.U32();
  const uint8_t mutate_xor = static_cast<uint8_t>(r.U8() | 1);
  const uint32_t cut = r.U32();
  const uint8_t mode = r.U8();
  const feed::Compression compression = static_cast<feed::Compression>(mode % 3);
  // Bit 7: detachable; bits 7 and 6: lanes (versions 5/6).
  const feed::Layout layout = (mode & 0x80) == 0   ? feed::Layout::kAttached
                              : (mode & 0x40) == 0 ? feed::Layout::kDetachable
                                                   : feed::Layout::kLane;
  auto payload = r.Rest();

  auto sealed = feed::SealDelta(h, payload, K().north, K().a, &nonce, compression, layout);
  if (!sealed.ok()) {
    FUZZ_CHECK_MSG(sealed.status().code() == Code::kInvalidArgument, sealed.status().ToString());
    return;
  }
  const Bytes& s = *sealed;
  auto d = feed::ParseDelta(s);
  FUZZ_CHECK_MSG(d.ok(), d.status().ToString());
  CheckParsed(s, *d);
  FUZZ_CHECK(d->header == h);
  FUZZ_CHECK(d->nonce == nonce);
  FUZZ_CHECK(feed::VerifyDelta(*d).ok());
  auto plain = feed::OpenDelta(*d, K().north);
  FUZZ_CHECK(plain.ok());
  FUZZ_CHECK(plain->size() == payload.size() &&
             std::equal(plain->begin(), plain->end(), payload.begin()));
  DecodeBody(*plain);

  // The next delta of the chain names this one's hash as prev.
  if (h.seq < UINT64_MAX) {
    feed::DeltaHeader h2 = h;
    h2.seq = h.seq + 1;
    h2.prev = d->hash;
    auto s2 = feed::SealDelta(h2, payload, K().north, K().a, &nonce, compression, layout);
    FUZZ_CHECK(s2.ok());
    auto d2 = feed::ParseDelta(*s2);
    FUZZ_CHECK(d2.ok() && d2->header.prev == d->hash && d2->hash != d->hash);
    FUZZ_CHECK(feed::VerifyDelta(*d2).ok());
  }

  // Tampering is always detected.
  auto detected = [&](const Bytes& t) {
    auto p = feed::ParseDelta(t);
    if (!p.ok()) return true;
    if (!feed::VerifyDelta(*p).ok()) return true;
    return false;
  };
  Bytes t = s;
  t[mutate_at % t.size()] ^= mutate_xor;
  FUZZ_CHECK(detected(t));
  Bytes shorter(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(cut % s.size()));
  FUZZ_CHECK(detected(shorter));
  Bytes longer = s;
  longer.push_back(mutate_xor);
  FUZZ_CHECK(detected(longer));

  // The layout asked for is the version written: 1/2, 3/4 or 5/6, and the
  // zstd one exactly when the AEAD plaintext is a frame.
  FUZZ_CHECK(feed::Detachable(s[0]) == (layout != feed::Layout::kAttached));
  FUZZ_CHECK(feed::IsLaneVersion(s[0]) == (layout == feed::Layout::kLane));
  CheckOtherFamily(s, *d, Status::Ok());

  // Versions 3 to 6: the stub verifies with the same hash and detects tampering too.
  if (layout == feed::Layout::kAttached) return;
  auto stub = feed::MakeStub(*d);
  FUZZ_CHECK(stub.ok());
  auto sd = feed::ParseDelta(*stub);
  FUZZ_CHECK(sd.ok() && sd->stub && sd->header == h && sd->hash == d->hash);
  CheckParsed(*stub, *sd);
  FUZZ_CHECK(feed::VerifyDelta(*sd).ok());
  Bytes ts = *stub;
  ts[mutate_at % ts.size()] ^= mutate_xor;
  FUZZ_CHECK(detected(ts));
  Bytes sshort(stub->begin(), stub->begin() + static_cast<std::ptrdiff_t>(cut % stub->size()));
  FUZZ_CHECK(detected(sshort));
  Bytes slong = *stub;
  slong.push_back(mutate_xor);
  FUZZ_CHECK(detected(slong));
}

void ZstdMode(std::span<const uint8_t> frame) {
  constexpr uint64_t kLimit = uint64_t{1} << 20;
  auto p = feed::DecompressPayload(frame, kLimit);
  if (!p.ok()) {
    FUZZ_CHECK_MSG(p.status().code() == Code::kCorruption ||
                       p.status().code() == Code::kResourceExhausted,
                   p.status().ToString());
    return;
  }
  FUZZ_CHECK(!p->empty() && p->size() <= kLimit);
  auto declared = feed::CompressedPayloadSize(frame);
  FUZZ_CHECK(declared.ok() && *declared == p->size());
  auto again = feed::CompressPayload(*p);
  FUZZ_CHECK(again.ok());
  auto back = feed::DecompressPayload(*again, kLimit);
  FUZZ_CHECK(back.ok() && *back == *p);
  DecodeBody(*p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)K();
  if (size == 0) return 0;
  std::span<const uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: ParseMode(rest); break;
    case 1: {
      ByteReader r(data + 1, size - 1);
      SealMode(r);
      break;
    }
    default: ZstdMode(rest); break;
  }
  return 0;
}
