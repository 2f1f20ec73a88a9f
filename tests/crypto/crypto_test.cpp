#include "crypto/crypto.hpp"

#include <doctest/doctest.h>

#include "support/support.hpp"

#include <atomic>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <string_view>
#include <vector>

namespace hearth::crypto {
namespace {
using ::hearth::testing::FromHex;
using ::hearth::testing::ToHex;



std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST_CASE("Init is idempotent") {
  CHECK(Init().ok());
  CHECK(Init().ok());
}

TEST_CASE("SecretBytes: pooled small secrets are distinct, zeroed on reuse, thread-safe") {
  // Small secrets share guarded slabs (crypto.cpp, SecretPool): every live
  // one has its own slot, and a slot handed out again starts at zero.
  std::vector<SecretBytes> live;
  std::set<const uint8_t*> seen;
  for (size_t i = 0; i < 700; ++i) {  // more than two slabs
    const size_t n = 1 + i % 64;
    live.emplace_back(n);
    for (size_t j = 0; j < n; ++j) REQUIRE(live.back().data()[j] == 0);
    std::memset(live.back().data(), 0xAB, n);
    CHECK(seen.insert(live.back().data()).second);
  }
  live.clear();  // every slot back, dirty bytes wiped
  for (size_t i = 0; i < 700; ++i) {
    SecretBytes s(64);
    for (size_t j = 0; j < 64; ++j) REQUIRE(s.data()[j] == 0);
  }
  // Larger secrets are regions of their own.
  SecretBytes big(65);
  CHECK(seen.count(big.data()) == 0);

  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&bad, t] {
      for (int i = 0; i < 2000; ++i) {
        SecretBytes a(32), b(32);
        std::memset(a.data(), t + 1, 32);
        std::memset(b.data(), t + 1, 32);
        if (a.data() == b.data() || !a.Equals(b)) bad.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad.load() == 0);
}

TEST_CASE("SecretBytes: zero-filled, copy, equals, move") {
  SecretBytes empty;
  CHECK(empty.empty());
  CHECK(empty.size() == 0);
  CHECK(empty.data() == nullptr);
  SecretBytes zero_size(0);
  CHECK(zero_size.empty());
  CHECK(zero_size.data() == nullptr);
  CHECK(empty.Equals(zero_size));

  SecretBytes a(40);
  REQUIRE(a.size() == 40);
  REQUIRE(a.data() != nullptr);
  for (size_t i = 0; i < a.size(); ++i) CHECK(a.data()[i] == 0);

  const Bytes raw = {1, 2, 3, 4, 5};
  SecretBytes b = SecretBytes::Copy(raw);
  REQUIRE(b.size() == 5);
  CHECK(ToHex(b.span()) == "0102030405");
  SecretBytes c = SecretBytes::Copy(raw);
  CHECK(b.Equals(c));
  c.data()[4] = 6;
  CHECK_FALSE(b.Equals(c));
  CHECK_FALSE(b.Equals(a));  // different sizes

  // Move construction leaves the source empty.
  const uint8_t* p = b.data();
  SecretBytes d(std::move(b));
  CHECK(d.data() == p);
  CHECK(d.size() == 5);
  CHECK(b.data() == nullptr);  // NOLINT(bugprone-use-after-move)
  CHECK(b.size() == 0);        // NOLINT

  // Move assignment frees the old buffer and takes the new one.
  SecretBytes e(8);
  e = std::move(d);
  CHECK(e.data() == p);
  CHECK(e.size() == 5);
  CHECK(d.empty());  // NOLINT
  CHECK(ToHex(e.span()) == "0102030405");

  // Self-move is harmless.
  SecretBytes& alias = e;
  e = std::move(alias);
  CHECK(e.size() == 5);
  CHECK(ToHex(e.span()) == "0102030405");

  static_assert(!std::is_copy_constructible_v<SecretBytes>);
  static_assert(!std::is_copy_assignable_v<SecretBytes>);
  static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
  static_assert(std::is_nothrow_move_assignable_v<SecretBytes>);
}

TEST_CASE("Ed25519 known answer: RFC 8032 section 7.1 test 1") {
  const Bytes seed = FromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  auto kp = SigningKeyPair::FromSeed(seed);
  REQUIRE(kp.ok());
  CHECK(kp->public_key.ToHex() ==
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  REQUIRE(kp->secret_key.size() == kSignSecretBytes);
  CHECK(ToHex(kp->secret_key.span().first(32)) == ToHex(seed));
  CHECK(ToHex(kp->secret_key.span().subspan(32)) == kp->public_key.ToHex());

  const Signature sig = Sign(kp->secret_key, {});
  CHECK(ToHex(sig) ==
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
        "1cf9b46bd25bf5f0595bbe24655141438e7a100b");
  CHECK(Verify(kp->public_key, {}, sig));
  const uint8_t one = 0;
  CHECK_FALSE(Verify(kp->public_key, std::span(&one, 1), sig));
}

TEST_CASE("Ed25519 known answer: RFC 8032 section 7.1 test 2 (one-byte message)") {
  auto kp = SigningKeyPair::FromSeed(
      FromHex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
  REQUIRE(kp.ok());
  CHECK(kp->public_key.ToHex() ==
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  const Bytes msg = {0x72};
  const Signature sig = Sign(kp->secret_key, msg);
  CHECK(ToHex(sig) ==
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
        "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
  CHECK(Verify(kp->public_key, msg, sig));
}

TEST_CASE("Ed25519 sign/verify and tamper detection") {
  SigningKeyPair kp = SigningKeyPair::Generate();
  SigningKeyPair other = SigningKeyPair::Generate();
  CHECK(kp.public_key != other.public_key);
  const std::string msg = "the quick brown fox";
  const Signature sig = Sign(kp.secret_key, AsBytes(msg));
  CHECK(Verify(kp.public_key, AsBytes(msg), sig));
  CHECK_FALSE(Verify(other.public_key, AsBytes(msg), sig));

  // Every single-bit change of the message or the signature is caught.
  Bytes m(msg.begin(), msg.end());
  for (size_t i = 0; i < m.size() * 8; ++i) {
    m[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
    CHECK_FALSE(Verify(kp.public_key, m, sig));
    m[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
  }
  Signature s = sig;
  for (size_t i = 0; i < s.size() * 8; ++i) {
    s[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
    CHECK_FALSE(Verify(kp.public_key, AsBytes(msg), s));
    s[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
  }
  AuthorId pk = kp.public_key;
  for (size_t i = 0; i < pk.bytes.size() * 8; ++i) {
    pk.bytes[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
    CHECK_FALSE(Verify(pk, AsBytes(msg), sig));
    pk.bytes[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
  }
}

TEST_CASE("SigningKeyPair::FromSeed / FromSecretKey") {
  CHECK(SigningKeyPair::FromSeed(Bytes(31)).status().code() == Code::kInvalidArgument);
  CHECK(SigningKeyPair::FromSeed(Bytes(33)).status().code() == Code::kInvalidArgument);

  SigningKeyPair kp = SigningKeyPair::Generate();
  Bytes sk(kp.secret_key.span().begin(), kp.secret_key.span().end());
  auto back = SigningKeyPair::FromSecretKey(sk);
  REQUIRE(back.ok());
  CHECK(back->public_key == kp.public_key);
  CHECK(back->secret_key.Equals(kp.secret_key));

  CHECK(SigningKeyPair::FromSecretKey(Bytes(63)).status().code() == Code::kInvalidArgument);
  Bytes bad = sk;
  bad[40] ^= 1;  // embedded public key no longer matches the seed
  CHECK(SigningKeyPair::FromSecretKey(bad).status().code() == Code::kInvalidArgument);
  bad = sk;
  bad[3] ^= 1;  // seed changed: its public key differs from the embedded one
  CHECK(SigningKeyPair::FromSecretKey(bad).status().code() == Code::kInvalidArgument);

  // Same seed, same keys.
  Bytes seed(32, 7);
  auto a = SigningKeyPair::FromSeed(seed);
  auto b = SigningKeyPair::FromSeed(seed);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->public_key == b->public_key);
  CHECK(a->secret_key.Equals(b->secret_key));
}

TEST_CASE("BLAKE2b-256 known answers") {
  // Published BLAKE2b-256 (unkeyed, 32-byte output) values.
  CHECK(ToHex(HashBytes({})) ==
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  CHECK(ToHex(HashBytes(AsBytes("abc"))) ==
        "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  CHECK(ToHex(HashBytes(AsBytes("The quick brown fox jumps over the lazy dog"))) ==
        "01718cec35cd3d796dd00020e0bfecb473ad23457d063b75eff29c0ffa2e58a9");
}

TEST_CASE("HashBytes64: the first 8 bytes of BLAKE2b-256 (lane ids)") {
  // Computed independently (Python hashlib.blake2b(digest_size=32), first
  // 8 bytes); docs/storage-format.md "Lanes" lists the same vectors.
  CHECK(ToHex(HashBytes64({})) == "0e5751c026e543b2");
  CHECK(ToHex(HashBytes64(AsBytes("child_care/\xe5\x9f\x8e\xe5\x8e\xa2\xe9\x95\x87"))) == "a46982be9be2b965");
  CHECK(ToHex(HashBytes64(AsBytes("hr.workers/\xe5\xa7\x8b\xe9\x98\xb3\xe9\x95\x87"))) == "691b499780458f18");
  // Not BLAKE2b with an 8-byte output (whose parameter block differs).
  CHECK(ToHex(HashBytes64(AsBytes("abc"))) == "bddd813c63423972");
}

TEST_CASE("Hasher matches HashBytes for any split") {
  Bytes data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
  const Hash whole = HashBytes(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{127}, size_t{128}, size_t{129}, size_t{999},
                       size_t{1000}}) {
    Hasher h;
    h.Update(std::span(data).first(split));
    h.Update({});
    h.Update(std::span(data).subspan(split));
    CHECK(h.Final() == whole);
  }
  Hasher e;
  CHECK(ToHex(e.Final()) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

TEST_CASE("XChaCha20-Poly1305 round trip and failures") {
  SecretBytes key = RandomAeadKey();
  REQUIRE(key.size() == kAeadKeyBytes);
  const Nonce nonce = RandomNonce();
  const std::string pt = "payload bytes";
  const std::string ad = "associated";
  Bytes ct = AeadEncrypt(key, nonce, AsBytes(pt), AsBytes(ad));
  REQUIRE(ct.size() == pt.size() + kAeadTagBytes);

  auto back = AeadDecrypt(key, nonce, ct, AsBytes(ad));
  REQUIRE(back.ok());
  CHECK(std::string(back->begin(), back->end()) == pt);

  SecretBytes wrong = RandomAeadKey();
  CHECK(AeadDecrypt(wrong, nonce, ct, AsBytes(ad)).status().code() == Code::kUnauthenticated);
  CHECK(AeadDecrypt(key, nonce, ct, AsBytes("associatee")).status().code() ==
        Code::kUnauthenticated);
  CHECK(AeadDecrypt(key, nonce, ct, {}).status().code() == Code::kUnauthenticated);
  Nonce n2 = nonce;
  n2[23] ^= 0x80;
  CHECK(AeadDecrypt(key, n2, ct, AsBytes(ad)).status().code() == Code::kUnauthenticated);
  for (size_t i = 0; i < ct.size() * 8; ++i) {
    Bytes t = ct;
    t[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
    CHECK(AeadDecrypt(key, nonce, t, AsBytes(ad)).status().code() == Code::kUnauthenticated);
  }
  for (size_t len = 0; len < ct.size(); ++len) {
    CHECK(AeadDecrypt(key, nonce, std::span(ct).first(len), AsBytes(ad)).status().code() ==
          Code::kUnauthenticated);
  }
  SecretBytes short_key(16);
  CHECK(AeadDecrypt(short_key, nonce, ct, AsBytes(ad)).status().code() == Code::kInvalidArgument);

  // Empty plaintext and empty AD.
  Bytes ct0 = AeadEncrypt(key, nonce, {}, {});
  CHECK(ct0.size() == kAeadTagBytes);
  auto back0 = AeadDecrypt(key, nonce, ct0, {});
  REQUIRE(back0.ok());
  CHECK(back0->empty());

  // Deterministic for a fixed key and nonce.
  CHECK(AeadEncrypt(key, nonce, AsBytes(pt), AsBytes(ad)) == ct);
}

TEST_CASE("XChaCha20-Poly1305 known answer (draft-irtf-cfrg-xchacha A.3.1)") {
  SecretBytes key = SecretBytes::Copy(
      FromHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
  Nonce nonce{};
  const Bytes n = FromHex("404142434445464748494a4b4c4d4e4f5051525354555657");
  std::copy(n.begin(), n.end(), nonce.begin());
  const Bytes ad = FromHex("50515253c0c1c2c3c4c5c6c7");
  const std::string pt =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  Bytes ct = AeadEncrypt(key, nonce, AsBytes(pt), ad);
  CHECK(ToHex(ct) ==
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
        "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
        "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
        "21f9664c97637da9768812f615c68b13b52e"
        "c0875924c1c7987947deafd8780acf49");
}

TEST_CASE("ConstantTimeEqual and Wipe") {
  const Bytes a = {1, 2, 3};
  const Bytes b = {1, 2, 3};
  const Bytes c = {1, 2, 4};
  const Bytes d = {1, 2};
  CHECK(ConstantTimeEqual(a, b));
  CHECK_FALSE(ConstantTimeEqual(a, c));
  CHECK_FALSE(ConstantTimeEqual(a, d));
  CHECK(ConstantTimeEqual({}, {}));
  CHECK_FALSE(ConstantTimeEqual(a, {}));

  Bytes w = {9, 9, 9, 9};
  Wipe(w);
  CHECK(w == Bytes(4, 0));
  Wipe({});

  std::array<uint8_t, 64> r1{}, r2{};
  RandomBytes(r1);
  RandomBytes(r2);
  CHECK(r1 != r2);
  RandomBytes({});
}

}  // namespace
}  // namespace hearth::crypto
