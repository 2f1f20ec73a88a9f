// Sealed boxes to an identity, and passphrase-derived keys.
//
// Sealing: crypto_box_seal (X25519 + XSalsa20-Poly1305, anonymous sender) to
// the X25519 key derived from the recipient's Ed25519 identity
// (crypto_sign_ed25519_pk_to_curve25519), so one key pair serves for
// signing, key envelopes and CURVE transport.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "crypto/crypto.hpp"

namespace hearth::crypto {

inline constexpr size_t kSealOverheadBytes = 48;  // crypto_box_SEALBYTES

// Seals `plaintext` so that only the holder of `recipient`'s secret key can
// open it. kInvalidArgument if the public key is not a valid Ed25519 point.
Result<Bytes> SealTo(const AuthorId& recipient, std::span<const uint8_t> plaintext);
// Opens a sealed box addressed to `me`. kUnauthenticated if it was not.
Result<SecretBytes> OpenSealed(const SigningKeyPair& me, std::span<const uint8_t> sealed);

// X25519 key pair derived from an Ed25519 identity (for CURVE).
Result<std::array<uint8_t, 32>> CurvePublicKey(const AuthorId& ed25519_public);
Result<SecretBytes> CurveSecretKey(const SigningKeyPair& me);

// Argon2id (crypto_pwhash, ALG_ARGON2ID13).
inline constexpr size_t kPwSaltBytes = 16;
struct PwHashParams {
  uint64_t opslimit;
  uint64_t memlimit;
};
// Interactive limits (64 MiB, 2 passes): about 0.1-0.3 s on the county's laptops.
PwHashParams DefaultPwHashParams();
Result<SecretBytes> DeriveKey(std::string_view passphrase, std::span<const uint8_t> salt16,
                              const PwHashParams& params);

}  // namespace hearth::crypto
