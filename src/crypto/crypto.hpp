// libsodium wrappers: the only module of the library that uses libsodium's
// cryptography (keys, signatures, hashes, AEAD, sealing). One other library
// file includes sodium.h: src/base/value.cpp, for randombytes_buf in
// RecordId::Generate (base sits below crypto, so it cannot call
// crypto::RandomBytes). Outside the library: tools/county/data.cpp (SHA-256
// of generator text) and tools/hearthd/config.cpp (Ed25519 -> X25519 check
// of peer keys), which link the public library (it does not export this
// module), and tests/support/seeded_random.hpp (a seeded randombytes).
//
// Secret material lives in SecretBytes (sodium_malloc: guard pages, mlock,
// wiped on destruction), is move-only, never printed, compared in constant
// time. Verification results are [[nodiscard]].
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth::crypto {

// Initialises libsodium once (thread-safe, idempotent). Every other function
// here calls it; exposed so that callers can fail early.
Status Init();

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size);  // zero-filled; aborts if memory cannot be locked/allocated
  static SecretBytes Copy(std::span<const uint8_t> data);
  ~SecretBytes();
  SecretBytes(SecretBytes&& o) noexcept;
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return p_; }
  const uint8_t* data() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  std::span<const uint8_t> span() const { return {p_, n_}; }
  bool Equals(const SecretBytes& o) const;  // constant time

 private:
  uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

using Signature = std::array<uint8_t, 64>;
using Hash = std::array<uint8_t, 32>;
using Nonce = std::array<uint8_t, 24>;

inline constexpr size_t kSignSeedBytes = 32;
inline constexpr size_t kSignSecretBytes = 64;
inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadTagBytes = 16;

struct SigningKeyPair {
  AuthorId public_key;
  SecretBytes secret_key;  // 64 bytes (libsodium form: seed || public key)

  static SigningKeyPair Generate();
  static Result<SigningKeyPair> FromSeed(std::span<const uint8_t> seed32);
  // From the 64-byte secret key; checks its embedded public key.
  static Result<SigningKeyPair> FromSecretKey(std::span<const uint8_t> sk64);
};

Signature Sign(const SecretBytes& secret_key, std::span<const uint8_t> message);
[[nodiscard]] bool Verify(const AuthorId& public_key, std::span<const uint8_t> message,
                          const Signature& sig);

// BLAKE2b-256.
Hash HashBytes(std::span<const uint8_t> data);
// The first 8 bytes of BLAKE2b-256 ("BLAKE2b-64" of the lane ids,
// docs/storage-format.md "Lanes"): libsodium has no BLAKE2b output shorter
// than 16 bytes, so this is a truncation, not BLAKE2b with outlen 8.
using Hash64 = std::array<uint8_t, 8>;
Hash64 HashBytes64(std::span<const uint8_t> data);
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void Update(std::span<const uint8_t> data);
  Hash Final();
 private:
  alignas(64) unsigned char state_[384];
};

// XChaCha20-Poly1305 (IETF). Ciphertext = encrypted bytes || 16-byte tag.
SecretBytes RandomAeadKey();
Nonce RandomNonce();
Bytes AeadEncrypt(const SecretBytes& key, const Nonce& nonce, std::span<const uint8_t> plaintext,
                  std::span<const uint8_t> associated_data);
// kUnauthenticated when the tag does not verify (wrong key, tampering).
Result<Bytes> AeadDecrypt(const SecretBytes& key, const Nonce& nonce,
                          std::span<const uint8_t> ciphertext,
                          std::span<const uint8_t> associated_data);

void RandomBytes(std::span<uint8_t> out);
[[nodiscard]] bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);
// Wipes memory in a way the compiler cannot elide.
void Wipe(std::span<uint8_t> data);

}  // namespace hearth::crypto
