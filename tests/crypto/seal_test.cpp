// Sealed key envelopes and passphrase keys: known answers and misuse.
#include <doctest/doctest.h>

#include "support/support.hpp"

#include "crypto/seal.hpp"

namespace hearth::crypto {
namespace {
using ::hearth::testing::FromHex;


// The vector in docs/policy.md ("Key envelopes"): recipient seed 0x42 x 32,
// scope key 00 01 .. 1f, sealed by crypto_box_seal to the X25519 key
// derived from the Ed25519 public key.
TEST_CASE("sealed envelope test vector opens to the documented key") {
  Bytes seed(32, 0x42);
  auto kp = SigningKeyPair::FromSeed(seed);
  REQUIRE(kp.ok());
  CHECK(kp->public_key.ToHex() == "2152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e069881db12");
  auto cpk = CurvePublicKey(kp->public_key);
  REQUIRE(cpk.ok());
  CHECK(Bytes(cpk->begin(), cpk->end()) ==
        FromHex("cc4f2cdb695dd766f34118eb67b98652fed1d8bc49c330b119bbfa8a64989378"));
  Bytes sealed = FromHex(
      "d4db279d5f9692c8d044ab840e691c9286d68e8f4e947f2f6f3102b2b0216e5581b307f64448a27e12e57bc73c6f4625"
      "e5f01fb343ca72ac9657d6b71aed64d90bcd093150e8117c44f8d9b6f3094c5c");
  auto opened = OpenSealed(*kp, sealed);
  REQUIRE(opened.ok());
  Bytes want(32);
  for (int i = 0; i < 32; ++i) want[i] = static_cast<uint8_t>(i);
  CHECK(Bytes(opened->data(), opened->data() + opened->size()) == want);
}

TEST_CASE("a sealed envelope opens only for its recipient and only unaltered") {
  auto alice = SigningKeyPair::Generate();
  auto bob = SigningKeyPair::Generate();
  Bytes key(32, 7);
  auto sealed = SealTo(alice.public_key, key);
  REQUIRE(sealed.ok());
  CHECK(sealed->size() == key.size() + kSealOverheadBytes);
  CHECK(OpenSealed(alice, *sealed).ok());
  CHECK(OpenSealed(bob, *sealed).status().code() == Code::kUnauthenticated);
  for (size_t i = 0; i < sealed->size(); ++i) {
    Bytes bad = *sealed;
    bad[i] ^= 1;
    CHECK_FALSE(OpenSealed(alice, bad).ok());
  }
  CHECK_FALSE(OpenSealed(alice, Bytes(10)).ok());
  AuthorId not_a_point;
  not_a_point.bytes.fill(0xff);
  CHECK_FALSE(SealTo(not_a_point, key).ok());
}

TEST_CASE("Argon2id derivation is deterministic and salt-dependent") {
  Bytes salt(16, 1), salt2(16, 2);
  PwHashParams p{1, 8192};  // tiny, for the test
  auto a = DeriveKey("pass", salt, p);
  auto b = DeriveKey("pass", salt, p);
  auto c = DeriveKey("pass", salt2, p);
  auto d = DeriveKey("Pass", salt, p);
  REQUIRE((a.ok() && b.ok() && c.ok() && d.ok()));
  CHECK(a->Equals(*b));
  CHECK_FALSE(a->Equals(*c));
  CHECK_FALSE(a->Equals(*d));
  CHECK(DeriveKey("pass", Bytes(3), p).status().code() == Code::kInvalidArgument);
  CHECK(DeriveKey("pass", salt, PwHashParams{0, 0}).status().code() == Code::kCorruption);
}

}  // namespace
}  // namespace hearth::crypto
