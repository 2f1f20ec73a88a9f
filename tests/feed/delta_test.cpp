#include "feed/delta.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "support/support.hpp"

namespace hearth::feed {
namespace {
using ::hearth::testing::ToHex;

using crypto::SecretBytes;
using crypto::SigningKeyPair;


SigningKeyPair KeyFromByte(uint8_t b) {
  auto kp = SigningKeyPair::FromSeed(Bytes(32, b));
  REQUIRE(kp.ok());
  return std::move(kp).value();
}

SecretBytes ScopeKey(uint8_t b) { return SecretBytes::Copy(Bytes(32, b)); }

DeltaHeader SampleHeader(const AuthorId& author) {
  DeltaHeader h;
  h.author = author;
  h.seq = 1;
  h.scope = "agency/intake";
  h.epoch = 3;
  h.hlc_min = crdt::MakeHlc(1'700'000'000'000ull, 0);
  h.hlc_max = crdt::MakeHlc(1'700'000'000'005ull, 2);
  h.op_count = 4;
  return h;
}

Bytes SamplePayload() {
  Bytes p;
  for (int i = 0; i < 40; ++i) p.push_back(static_cast<uint8_t>(i * 7));
  return p;
}

// Fixture: one valid sealed delta (version 1 unless asked otherwise).
struct Sealed {
  SigningKeyPair kp = KeyFromByte(1);
  SecretBytes key = ScopeKey(9);
  DeltaHeader header = SampleHeader(kp.public_key);
  Bytes payload = SamplePayload();
  Bytes bytes;
  Layout layout = Layout::kAttached;
  explicit Sealed(Layout l = Layout::kAttached, Compression c = Compression::kAuto) : layout(l) {
    crypto::Nonce n{};
    for (size_t i = 0; i < n.size(); ++i) n[i] = static_cast<uint8_t>(0xa0 + i);
    auto r = SealDelta(header, payload, key, kp, &n, c, layout);
    REQUIRE(r.ok());
    bytes = std::move(r).value();
  }
};

// The versions the malformed-input tests below run on: every layout, the
// zstd payload on the lane layout (version 6). Versions 5/6 (lanes) have
// the frame of 3/4, so every rule of 1-4 holds for them too.
struct AsV1 { static constexpr Layout kLayout = Layout::kAttached; static constexpr Compression kC = Compression::kAuto; };
struct AsV3 { static constexpr Layout kLayout = Layout::kDetachable; static constexpr Compression kC = Compression::kNone; };
struct AsV5 { static constexpr Layout kLayout = Layout::kLane; static constexpr Compression kC = Compression::kNone; };
struct AsV6 { static constexpr Layout kLayout = Layout::kLane; static constexpr Compression kC = Compression::kZstd; };
#define HEARTH_DELTA_VERSIONS AsV1, AsV3, AsV5, AsV6

// Whether a delta gets through parse + verify + open with `key`.
bool Accepted(std::span<const uint8_t> bytes, const SecretBytes& key) {
  auto p = ParseDelta(bytes);
  if (!p.ok()) {
    CHECK(p.status().code() == Code::kCorruption);
    return false;
  }
  Status v = VerifyDelta(*p);
  auto o = OpenDelta(*p, key);  // run even when verify failed: must not crash
  if (!v.ok()) {
    CHECK(v.code() == Code::kUnauthenticated);
    return false;
  }
  if (!o.ok()) {
    CHECK(o.status().code() == Code::kUnauthenticated);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Hand-built msgpack, to produce frames the library would never write.

struct Raw {
  Bytes b;
  Raw& u8(uint8_t x) { b.push_back(x); return *this; }
  Raw& be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Raw& raw(std::span<const uint8_t> d) { b.insert(b.end(), d.begin(), d.end()); return *this; }
  Raw& raw(std::string_view s) { b.insert(b.end(), s.begin(), s.end()); return *this; }
};

// Canonical pieces.
void Uint(Raw& r, uint64_t v) {
  if (v <= 0x7f) r.u8(static_cast<uint8_t>(v));
  else if (v <= 0xff) r.u8(0xcc).be(v, 1);
  else if (v <= 0xffff) r.u8(0xcd).be(v, 2);
  else if (v <= 0xffffffff) r.u8(0xce).be(v, 4);
  else r.u8(0xcf).be(v, 8);
}
void Bin(Raw& r, std::span<const uint8_t> d) {
  if (d.size() <= 0xff) r.u8(0xc4).be(d.size(), 1);
  else if (d.size() <= 0xffff) r.u8(0xc5).be(d.size(), 2);
  else r.u8(0xc6).be(d.size(), 4);
  r.raw(d);
}
void Str(Raw& r, std::string_view s) {
  if (s.size() <= 31) r.u8(static_cast<uint8_t>(0xa0 | s.size()));
  else if (s.size() <= 0xff) r.u8(0xd9).be(s.size(), 1);
  else r.u8(0xda).be(s.size(), 2);
  r.raw(s);
}

// Every header field as raw msgpack bytes; tests override single fields.
struct Fields {
  Bytes array_tag = {0x98};
  Bytes author, seq, prev, scope, epoch, hlc_min, hlc_max, op_count;
  Bytes nonce, body;
  Bytes sig = Bytes(64, 0x55);
  Bytes trailing;
  uint8_t version = 0x01;

  explicit Fields(const DeltaHeader& h) {
    Raw r;
    Bin(r, h.author.bytes); author = std::move(r.b); r.b.clear();
    Uint(r, h.seq); seq = std::move(r.b); r.b.clear();
    Bin(r, h.prev); prev = std::move(r.b); r.b.clear();
    Str(r, h.scope); scope = std::move(r.b); r.b.clear();
    Uint(r, h.epoch); epoch = std::move(r.b); r.b.clear();
    Uint(r, h.hlc_min); hlc_min = std::move(r.b); r.b.clear();
    Uint(r, h.hlc_max); hlc_max = std::move(r.b); r.b.clear();
    Uint(r, h.op_count); op_count = std::move(r.b); r.b.clear();
    Bin(r, Bytes(24, 0x24)); nonce = std::move(r.b); r.b.clear();
    Bin(r, Bytes(40, 0x40)); body = std::move(r.b); r.b.clear();
  }
  Bytes Build() const {
    Raw r;
    r.u8(version).raw(array_tag).raw(author).raw(seq).raw(prev).raw(scope).raw(epoch)
        .raw(hlc_min).raw(hlc_max).raw(op_count).raw(nonce).raw(body).raw(sig).raw(trailing);
    return r.b;
  }
};

Bytes B(std::initializer_list<uint8_t> l) { return Bytes(l); }

// ---------------------------------------------------------------------------

TEST_CASE("seal -> parse -> verify -> open round trip") {
  Sealed s;
  auto p = ParseDelta(s.bytes);
  REQUIRE(p.ok());
  CHECK(p->header == s.header);
  CHECK(VerifyDelta(*p).ok());
  auto plain = OpenDelta(*p, s.key);
  REQUIRE(plain.ok());
  CHECK(*plain == s.payload);

  // Layout: AD is the version byte + header, exactly EncodeHeader's output.
  const Bytes ad = EncodeHeader(s.header);
  CHECK(ToHex(p->associated_data) == ToHex(ad));
  CHECK(p->associated_data.data() == s.bytes.data());
  CHECK(ad[0] == kDeltaFormatV1);
  CHECK(ad[1] == 0x98);
  // nonce bin8(24), body bin8(payload + 16), 64 signature bytes.
  CHECK(s.bytes[ad.size()] == 0xc4);
  CHECK(s.bytes[ad.size() + 1] == 24);
  for (size_t i = 0; i < 24; ++i) CHECK(p->nonce[i] == 0xa0 + i);
  CHECK(s.bytes[ad.size() + 26] == 0xc4);
  CHECK(s.bytes[ad.size() + 27] == s.payload.size() + 16);
  CHECK(p->ciphertext.size() == s.payload.size() + 16);
  CHECK(p->ciphertext.data() == s.bytes.data() + ad.size() + 28);
  const size_t body_end = ad.size() + 28 + p->ciphertext.size();
  CHECK(s.bytes.size() == body_end + 64);
  CHECK(p->hash == crypto::HashBytes(std::span(s.bytes).first(body_end)));
  CHECK(ToHex(p->signature) == ToHex(std::span(s.bytes).subspan(body_end)));

  // The signature is over "hearth/delta/v1" || hash.
  Bytes msg(kSignContext.begin(), kSignContext.end());
  msg.insert(msg.end(), p->hash.begin(), p->hash.end());
  CHECK(msg.size() == 47);
  CHECK(crypto::Verify(s.kp.public_key, msg, p->signature));
  CHECK_FALSE(crypto::Verify(s.kp.public_key, p->hash, p->signature));
}

TEST_CASE("EncodeHeader: canonical bytes") {
  DeltaHeader h;
  h.author.bytes.fill(0xaa);
  h.seq = 2;
  h.prev.fill(0xbb);
  h.scope = "s";
  h.epoch = 0;
  h.hlc_min = 128;
  h.hlc_max = 65536;
  h.op_count = 1;
  const std::string expect = "01" "98" "c420" + std::string(64, 'a') + "02" + "c420" +
                             std::string(64, 'b') + "a173" "00" "cc80" "ce00010000" "01";
  CHECK(ToHex(EncodeHeader(h)) == expect);
}

TEST_CASE("integer and string boundaries round trip") {
  SigningKeyPair kp = KeyFromByte(2);
  SecretBytes key = ScopeKey(3);
  const uint64_t values[] = {1, 127, 128, 255, 256, 65535, 65536, 0xffffffffull,
                             0x100000000ull, std::numeric_limits<uint64_t>::max()};
  for (uint64_t v : values) {
    CAPTURE(v);
    DeltaHeader h = SampleHeader(kp.public_key);
    h.seq = v;
    h.prev.fill(v == 1 ? 0 : 0x11);
    h.hlc_min = v - 1;
    h.hlc_max = v;
    h.epoch = static_cast<uint32_t>(std::min<uint64_t>(v, 0xffffffffu));
    h.op_count = static_cast<uint32_t>(std::min<uint64_t>(v, 0xffffffffu));
    auto d = SealDelta(h, SamplePayload(), key, kp);
    REQUIRE(d.ok());
    auto p = ParseDelta(*d);
    REQUIRE(p.ok());
    CHECK(p->header == h);
    CHECK(VerifyDelta(*p).ok());
  }
  for (size_t len : {size_t{1}, size_t{31}, size_t{32}, size_t{127}, size_t{128}}) {
    CAPTURE(len);
    DeltaHeader h = SampleHeader(kp.public_key);
    h.scope = std::string(len, 'x');
    auto d = SealDelta(h, SamplePayload(), key, kp);
    REQUIRE(d.ok());
    const Bytes ad = EncodeHeader(h);
    const size_t scope_at = 1 + 1 + 34 + 1 + 34;
    if (len <= 31) {
      CHECK(ad[scope_at] == (0xa0 | len));
    } else {
      CHECK(ad[scope_at] == 0xd9);
      CHECK(ad[scope_at + 1] == len);
    }
    auto p = ParseDelta(*d);
    REQUIRE(p.ok());
    CHECK(p->header.scope == h.scope);
  }
  // Multi-byte UTF-8 scope.
  DeltaHeader h = SampleHeader(kp.public_key);
  h.scope = "机构/接待 🏠";
  auto d = SealDelta(h, SamplePayload(), key, kp);
  REQUIRE(d.ok());
  auto p = ParseDelta(*d);
  REQUIRE(p.ok());
  CHECK(p->header.scope == h.scope);
}

TEST_CASE("body sizes: bin8, bin16, bin32 and an empty payload") {
  SigningKeyPair kp = KeyFromByte(2);
  SecretBytes key = ScopeKey(3);
  DeltaHeader h = SampleHeader(kp.public_key);
  const size_t hl = EncodeHeader(h).size() + 26;  // + nonce
  for (size_t n : {size_t{0}, size_t{239}, size_t{240}, size_t{65519}, size_t{65520}}) {
    CAPTURE(n);
    Bytes payload(n, 0x5a);
    // Version 1 (raw payload): kAuto would compress these.
    auto d = SealDelta(h, payload, key, kp, nullptr, Compression::kNone);
    REQUIRE(d.ok());
    const size_t ct = n + 16;
    if (ct <= 0xff) CHECK((*d)[hl] == 0xc4);
    else if (ct <= 0xffff) CHECK((*d)[hl] == 0xc5);
    else CHECK((*d)[hl] == 0xc6);
    auto p = ParseDelta(*d);
    REQUIRE(p.ok());
    CHECK(VerifyDelta(*p).ok());
    auto o = OpenDelta(*p, key);
    REQUIRE(o.ok());
    CHECK(*o == payload);
  }
}

TEST_CASE("random nonces differ; a given nonce is deterministic") {
  Sealed s;
  auto a = SealDelta(s.header, s.payload, s.key, s.kp);
  auto b = SealDelta(s.header, s.payload, s.key, s.kp);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a != *b);
  crypto::Nonce n{};
  for (size_t i = 0; i < n.size(); ++i) n[i] = static_cast<uint8_t>(0xa0 + i);
  auto c = SealDelta(s.header, s.payload, s.key, s.kp, &n);
  REQUIRE(c.ok());
  CHECK(*c == s.bytes);
}

TEST_CASE_TEMPLATE("every single-bit flip is rejected", T, HEARTH_DELTA_VERSIONS) {
  Sealed s(T::kLayout, T::kC);
  REQUIRE(Accepted(s.bytes, s.key));
  Bytes t = s.bytes;
  size_t parsed = 0;
  for (size_t i = 0; i < t.size() * 8; ++i) {
    t[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
    CAPTURE(i);
    CHECK_FALSE(Accepted(t, s.key));
    parsed += ParseDelta(t).ok();
    t[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
  }
  // Most flips (in key material, ciphertext, signature) still parse and
  // are caught by the signature.
  CHECK(parsed > s.bytes.size() * 4);
}

TEST_CASE_TEMPLATE("every truncation and every extension is rejected", T, HEARTH_DELTA_VERSIONS) {
  Sealed s(T::kLayout, T::kC);
  for (size_t len = 0; len < s.bytes.size(); ++len) {
    CAPTURE(len);
    auto p = ParseDelta(std::span(s.bytes).first(len));
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == Code::kCorruption);
  }
  for (size_t extra = 1; extra <= 70; ++extra) {
    Bytes t = s.bytes;
    t.resize(t.size() + extra, 0);
    auto p = ParseDelta(t);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == Code::kCorruption);
  }
}

TEST_CASE_TEMPLATE("random bytes are rejected without crashing", T, HEARTH_DELTA_VERSIONS) {
  std::mt19937_64 rng(hearth::testing::BaseSeed());
  Sealed s(T::kLayout, T::kC);
  const int cases = hearth::testing::Cases(20000);
  for (int i = 0; i < cases; ++i) {
    size_t len = rng() % 400;
    Bytes t(len);
    for (auto& b : t) b = static_cast<uint8_t>(rng());
    // Often start like a real delta so the parser gets past the first bytes.
    const size_t keep = std::min(len, static_cast<size_t>(rng() % (s.bytes.size() + 1)));
    if (rng() % 2) std::copy_n(s.bytes.begin(), keep, t.begin());
    if (t == s.bytes) continue;  // copied the whole valid delta
    CHECK_FALSE(Accepted(t, s.key));
  }
  // Random mutations (several bytes changed, inserted or removed).
  for (int i = 0; i < cases; ++i) {
    Bytes t = s.bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % (t.size() + 1);
      switch (rng() % 3) {
        case 0:
          if (at < t.size()) t[at] = static_cast<uint8_t>(rng());
          break;
        case 1: t.insert(t.begin() + static_cast<ptrdiff_t>(at), static_cast<uint8_t>(rng())); break;
        case 2:
          if (at < t.size()) t.erase(t.begin() + static_cast<ptrdiff_t>(at));
          break;
      }
    }
    if (t == s.bytes) continue;
    CHECK_FALSE(Accepted(t, s.key));
  }
}

TEST_CASE_TEMPLATE("hand-built frame: canonical control parses", T, HEARTH_DELTA_VERSIONS) {
  Sealed s(T::kLayout, T::kC);
  Fields f(s.header);
  // The same header the library writes.
  f.version = s.bytes[0];
  Bytes built = f.Build();
  const Bytes ad = EncodeHeader(s.header, s.bytes[0]);
  CHECK(ToHex(std::span(built).first(ad.size())) == ToHex(ad));
  auto p = ParseDelta(built);
  REQUIRE(p.ok());
  CHECK(p->header == s.header);
  CHECK(VerifyDelta(*p).code() == Code::kUnauthenticated);  // garbage signature
  CHECK(OpenDelta(*p, s.key).status().code() == Code::kUnauthenticated);
}

void ExpectCorrupt(const Fields& f, const char* what) {
  CAPTURE(what);
  Bytes b = f.Build();
  auto p = ParseDelta(b);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == Code::kCorruption);
}

TEST_CASE_TEMPLATE("non-canonical encodings are rejected", T, HEARTH_DELTA_VERSIONS) {
  Sealed s(T::kLayout, T::kC);
  Fields base(s.header);  // seq 1, epoch 3, op_count 4, hlc > 2^32
  base.version = s.bytes[0];
  Fields f = base;

  // seq (1) in longer forms than positive fixint.
  for (Bytes seq : {B({0xcc, 0x01}), B({0xcd, 0x00, 0x01}), B({0xce, 0, 0, 0, 1}),
                    B({0xcf, 0, 0, 0, 0, 0, 0, 0, 1}),
                    // signed int family, even when positive
                    B({0xd0, 0x01}), B({0xd3, 0, 0, 0, 0, 0, 0, 0, 1})}) {
    f = base;
    f.seq = seq;
    ExpectCorrupt(f, "seq non-minimal");
  }
  // Each uint width one below its minimum.
  f = base; f.op_count = B({0xcc, 0x7f}); ExpectCorrupt(f, "uint8 for 127");
  f = base; f.op_count = B({0xcd, 0x00, 0xff}); ExpectCorrupt(f, "uint16 for 255");
  f = base; f.op_count = B({0xce, 0x00, 0x00, 0xff, 0xff}); ExpectCorrupt(f, "uint32 for 65535");
  f = base; f.hlc_max = B({0xcf, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff});
  f.hlc_min = B({0x00});
  ExpectCorrupt(f, "uint64 for 2^32-1");
  // ...and exactly the minimum is fine.
  f = base; f.op_count = B({0xcc, 0x80}); CHECK(ParseDelta(f.Build()).ok());
  f = base; f.op_count = B({0xcd, 0x01, 0x00}); CHECK(ParseDelta(f.Build()).ok());
  f = base; f.op_count = B({0xce, 0x00, 0x01, 0x00, 0x00}); CHECK(ParseDelta(f.Build()).ok());
  f = base; f.hlc_max = B({0xcf, 0, 0, 0, 1, 0, 0, 0, 0}); f.hlc_min = B({0x00});
  CHECK(ParseDelta(f.Build()).ok());

  // Header array: array16/array32 of 8, wrong arity.
  f = base; f.array_tag = B({0xdc, 0x00, 0x08}); ExpectCorrupt(f, "array16");
  f = base; f.array_tag = B({0xdd, 0, 0, 0, 8}); ExpectCorrupt(f, "array32");
  f = base; f.array_tag = B({0x97}); ExpectCorrupt(f, "array of 7");
  f = base; f.array_tag = B({0x99}); ExpectCorrupt(f, "array of 9");
  f = base; f.array_tag = B({0x88}); ExpectCorrupt(f, "map");

  // author as bin16 / bin32 (non-minimal), as str, wrong sizes.
  {
    Raw r;
    r.u8(0xc5).be(32, 2).raw(s.header.author.bytes);
    f = base; f.author = r.b; ExpectCorrupt(f, "author bin16");
    r.b.clear();
    r.u8(0xc6).be(32, 4).raw(s.header.author.bytes);
    f = base; f.author = r.b; ExpectCorrupt(f, "author bin32");
    r.b.clear();
    r.u8(0xd9).be(32, 1).raw(s.header.author.bytes);
    f = base; f.author = r.b; ExpectCorrupt(f, "author as str8");
    r.b.clear();
    Bin(r, std::span(s.header.author.bytes).first(31));
    f = base; f.author = r.b; ExpectCorrupt(f, "author 31 bytes");
    r.b.clear();
    Bytes a33(s.header.author.bytes.begin(), s.header.author.bytes.end());
    a33.push_back(0);
    Bin(r, a33);
    f = base; f.author = r.b; ExpectCorrupt(f, "author 33 bytes");
  }
  // prev wrong size, bin16.
  f = base; f.prev = B({0xc4, 0x00}); ExpectCorrupt(f, "prev empty");
  {
    Raw r;
    r.u8(0xc5).be(32, 2).raw(Bytes(32, 0));
    f = base; f.prev = r.b; ExpectCorrupt(f, "prev bin16");
  }
  f = base; f.prev = B({0xc0}); ExpectCorrupt(f, "prev nil");

  // scope: str8 for a short string, str16, bin instead of str.
  {
    const std::string sc = s.header.scope;
    Raw r;
    r.u8(0xd9).be(sc.size(), 1).raw(sc);
    f = base; f.scope = r.b; ExpectCorrupt(f, "scope str8 for <= 31");
    r.b.clear();
    r.u8(0xda).be(sc.size(), 2).raw(sc);
    f = base; f.scope = r.b; ExpectCorrupt(f, "scope str16");
    r.b.clear();
    r.u8(0xdb).be(sc.size(), 4).raw(sc);
    f = base; f.scope = r.b; ExpectCorrupt(f, "scope str32");
    r.b.clear();
    Bin(r, Bytes(sc.begin(), sc.end()));
    f = base; f.scope = r.b; ExpectCorrupt(f, "scope as bin");
  }

  // nonce: bin16, 23 / 25 bytes, as str.
  {
    Raw r;
    r.u8(0xc5).be(24, 2).raw(Bytes(24, 1));
    f = base; f.nonce = r.b; ExpectCorrupt(f, "nonce bin16");
    r.b.clear();
    Bin(r, Bytes(23, 1));
    f = base; f.nonce = r.b; ExpectCorrupt(f, "nonce 23");
    r.b.clear();
    Bin(r, Bytes(25, 1));
    f = base; f.nonce = r.b; ExpectCorrupt(f, "nonce 25");
    r.b.clear();
    r.u8(0xb8).raw(Bytes(24, 'n'));
    f = base; f.nonce = r.b; ExpectCorrupt(f, "nonce as fixstr");
  }

  // body: bin16 / bin32 for a short body, shorter than the tag, as str.
  {
    Raw r;
    r.u8(0xc5).be(40, 2).raw(Bytes(40, 1));
    f = base; f.body = r.b; ExpectCorrupt(f, "body bin16 for 40");
    r.b.clear();
    r.u8(0xc6).be(300, 4).raw(Bytes(300, 1));
    f = base; f.body = r.b; ExpectCorrupt(f, "body bin32 for 300");
    r.b.clear();
    Bin(r, Bytes(15, 1));
    f = base; f.body = r.b; ExpectCorrupt(f, "body 15 bytes");
    r.b.clear();
    r.u8(0xc4).be(16, 1).raw(Bytes(16, 1));
    f = base; f.body = r.b; CHECK(ParseDelta(f.Build()).ok());
    r.b.clear();
    r.u8(0xd9).be(40, 1).raw(Bytes(40, 'x'));
    f = base; f.body = r.b; ExpectCorrupt(f, "body as str8");
    // A length that runs past the end.
    f = base; f.body = B({0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3}); f.sig.clear();
    ExpectCorrupt(f, "body length past the end");
  }

  // Signature 63 / 65 bytes.
  f = base; f.sig.pop_back(); ExpectCorrupt(f, "sig 63");
  f = base; f.sig.push_back(0); ExpectCorrupt(f, "sig 65");
  f = base; f.trailing = B({0x00}); ExpectCorrupt(f, "trailing byte");
  f = base; f.version = 0x07; ExpectCorrupt(f, "version 7");
  f = base; f.version = 0xff; ExpectCorrupt(f, "version 255");
  f = base; f.version = 0x00; ExpectCorrupt(f, "version 0");
  // Versions 1 to 6 have the same frame: it parses.
  for (uint8_t v = kDeltaFormatV1; v <= kDeltaFormatV6; ++v) {
    f = base; f.version = v; CHECK(ParseDelta(f.Build()).ok());
  }
}

TEST_CASE_TEMPLATE("header value rules", T, HEARTH_DELTA_VERSIONS) {
  Sealed s(T::kLayout, T::kC);
  Fields base(s.header);
  base.version = s.bytes[0];
  Fields f = base;
  f.seq = B({0x00}); ExpectCorrupt(f, "seq 0");
  f = base; f.seq = B({0x02}); CHECK(ParseDelta(f.Build()).ok());  // seq 2, zero prev: ok
  f = base; f.prev = [] { Raw r; Bin(r, Bytes(32, 1)); return r.b; }();
  ExpectCorrupt(f, "seq 1 with non-zero prev");
  f.seq = B({0x02}); CHECK(ParseDelta(f.Build()).ok());
  f = base; f.hlc_min = B({0x05}); f.hlc_max = B({0x04}); ExpectCorrupt(f, "hlc_min > hlc_max");
  f = base; f.hlc_min = B({0x04}); f.hlc_max = B({0x04}); CHECK(ParseDelta(f.Build()).ok());
  f = base; f.op_count = B({0x00}); ExpectCorrupt(f, "op_count 0");
  f = base; f.op_count = B({0xcf, 0, 0, 0, 1, 0, 0, 0, 0}); ExpectCorrupt(f, "op_count > u32");
  f = base; f.epoch = B({0xcf, 0, 0, 0, 1, 0, 0, 0, 0}); ExpectCorrupt(f, "epoch > u32");
  f = base; f.epoch = B({0xce, 0xff, 0xff, 0xff, 0xff}); CHECK(ParseDelta(f.Build()).ok());
  f = base; f.seq = B({0xd0, 0xff}); ExpectCorrupt(f, "seq negative");
  f = base; f.seq = B({0xff}); ExpectCorrupt(f, "seq negative fixint");
  f = base; f.seq = B({0xc3}); ExpectCorrupt(f, "seq true");
  f = base; f.seq = B({0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}); ExpectCorrupt(f, "seq double");

  auto scope = [&](std::string_view sc) {
    Raw r;
    Str(r, sc);
    Fields g = base;
    g.scope = r.b;
    return g;
  };
  ExpectCorrupt(scope(""), "empty scope");
  CHECK(ParseDelta(scope(std::string(128, 'a')).Build()).ok());
  ExpectCorrupt(scope(std::string(129, 'a')), "scope 129");
  ExpectCorrupt(scope(std::string(300, 'a')), "scope 300 (str16)");
  CHECK(ParseDelta(scope("é中🏠").Build()).ok());
  for (std::string bad : {std::string("\xff"), std::string("a\x80"), std::string("\xc0\x80"),
                          std::string("\xc1\xbf"), std::string("\xe0\x80\x80"),
                          std::string("\xed\xa0\x80"), std::string("\xf0\x80\x80\x80"),
                          std::string("\xf4\x90\x80\x80"), std::string("\xf5\x80\x80\x80"),
                          std::string("\xe4\xb8"), std::string("\xc3")}) {
    ExpectCorrupt(scope(bad), "invalid UTF-8 scope");
  }
}

TEST_CASE("seal rejects bad arguments") {
  Sealed s;
  SigningKeyPair other = KeyFromByte(77);
  auto r = SealDelta(s.header, s.payload, s.key, other);
  CHECK(r.status().code() == Code::kInvalidArgument);

  // A key pair whose secret key belongs to someone else.
  SigningKeyPair mixed;
  mixed.public_key = s.kp.public_key;
  mixed.secret_key = SecretBytes::Copy(other.secret_key.span());
  CHECK(SealDelta(s.header, s.payload, s.key, mixed).status().code() == Code::kInvalidArgument);

  SecretBytes short_key(31);
  CHECK(SealDelta(s.header, s.payload, short_key, s.kp).status().code() ==
        Code::kInvalidArgument);
  SecretBytes no_key;
  CHECK(SealDelta(s.header, s.payload, no_key, s.kp).status().code() == Code::kInvalidArgument);

  auto bad = [&](auto mutate) {
    DeltaHeader h = s.header;
    mutate(h);
    return SealDelta(h, s.payload, s.key, s.kp).status().code();
  };
  CHECK(bad([](DeltaHeader& h) { h.seq = 0; }) == Code::kInvalidArgument);
  CHECK(bad([](DeltaHeader& h) { h.prev[0] = 1; }) == Code::kInvalidArgument);  // seq 1
  CHECK(bad([](DeltaHeader& h) { h.scope = ""; }) == Code::kInvalidArgument);
  CHECK(bad([](DeltaHeader& h) { h.scope = std::string(129, 's'); }) == Code::kInvalidArgument);
  CHECK(bad([](DeltaHeader& h) { h.scope = "\xff"; }) == Code::kInvalidArgument);
  CHECK(bad([](DeltaHeader& h) { h.hlc_min = h.hlc_max + 1; }) == Code::kInvalidArgument);
  CHECK(bad([](DeltaHeader& h) { h.op_count = 0; }) == Code::kInvalidArgument);
}

TEST_CASE_TEMPLATE("verify and open failures", T, HEARTH_DELTA_VERSIONS) {
  Sealed s(T::kLayout, T::kC);
  auto p = ParseDelta(s.bytes);
  REQUIRE(p.ok());

  // Wrong key, short key.
  CHECK(OpenDelta(*p, ScopeKey(10)).status().code() == Code::kUnauthenticated);
  CHECK(OpenDelta(*p, SecretBytes(16)).status().code() == Code::kInvalidArgument);

  // A signature by another key over the same hash does not verify.
  SigningKeyPair other = KeyFromByte(77);
  const std::string_view context = SignContextOf(p->version);
  Bytes msg(context.begin(), context.end());
  msg.insert(msg.end(), p->hash.begin(), p->hash.end());
  ParsedDelta forged = *p;
  forged.signature = crypto::Sign(other.secret_key, msg);
  CHECK(VerifyDelta(forged).code() == Code::kUnauthenticated);

  // Re-attributing the delta to the other author (header re-encoded, body
  // and signature kept) fails verification; so does open (AD changed).
  DeltaHeader h = s.header;
  h.author = other.public_key;
  Bytes t = EncodeHeader(h, s.bytes[0]);
  const size_t ad = p->associated_data.size();
  t.insert(t.end(), s.bytes.begin() + static_cast<ptrdiff_t>(ad), s.bytes.end());
  auto q = ParseDelta(t);
  REQUIRE(q.ok());
  CHECK(VerifyDelta(*q).code() == Code::kUnauthenticated);
  CHECK(OpenDelta(*q, s.key).status().code() == Code::kUnauthenticated);

  // Swapping in the body of a different delta (same key, same nonce, other
  // AD) fails to open even though the frame is well formed.
  DeltaHeader h2 = s.header;
  h2.epoch = 4;
  crypto::Nonce n = p->nonce;
  auto other_delta = SealDelta(h2, s.payload, s.key, s.kp, &n, T::kC, s.layout);
  REQUIRE(other_delta.ok());
  Bytes mix(s.bytes.begin(), s.bytes.begin() + static_cast<ptrdiff_t>(ad));
  mix.insert(mix.end(), other_delta->begin() + static_cast<ptrdiff_t>(ad), other_delta->end());
  auto m = ParseDelta(mix);
  REQUIRE(m.ok());
  CHECK(VerifyDelta(*m).code() == Code::kUnauthenticated);
  CHECK(OpenDelta(*m, s.key).status().code() == Code::kUnauthenticated);
}

TEST_CASE_TEMPLATE("oversize input is kResourceExhausted", T, HEARTH_DELTA_VERSIONS) {
  Sealed s(T::kLayout, T::kC);
  CHECK(ParseDelta(s.bytes, s.bytes.size()).ok());
  auto p = ParseDelta(s.bytes, s.bytes.size() - 1);
  CHECK(p.status().code() == Code::kResourceExhausted);
  CHECK(ParseDelta(s.bytes, 0).status().code() == Code::kResourceExhausted);
  // Default limit 16 MiB.
  Bytes big((uint64_t{16} << 20) + 1, 0x01);
  CHECK(ParseDelta(big).status().code() == Code::kResourceExhausted);
  CHECK(ParseDelta({}).status().code() == Code::kCorruption);
}

TEST_CASE("chain: prev is the hash of the previous delta") {
  SigningKeyPair kp = KeyFromByte(5);
  SecretBytes key = ScopeKey(6);
  crypto::Hash prev{};
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    DeltaHeader h = SampleHeader(kp.public_key);
    h.seq = seq;
    h.prev = prev;
    auto d = SealDelta(h, SamplePayload(), key, kp);
    REQUIRE(d.ok());
    auto p = ParseDelta(*d);
    REQUIRE(p.ok());
    CHECK(VerifyDelta(*p).ok());
    CHECK(p->header.prev == prev);
    prev = p->hash;
  }
}

}  // namespace
}  // namespace hearth::feed
