// libsodium wrappers (see crypto.hpp). The only file in the library, with
// src/base/value.cpp's RNG, that includes sodium.h.
#include "crypto/crypto.hpp"

#include <pthread.h>
#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace hearth::crypto {
namespace {

static_assert(kSignSeedBytes == crypto_sign_SEEDBYTES);
static_assert(kSignSecretBytes == crypto_sign_SECRETKEYBYTES);
static_assert(sizeof(AuthorId{}.bytes) == crypto_sign_PUBLICKEYBYTES);
static_assert(sizeof(Signature) == crypto_sign_BYTES);
static_assert(sizeof(Hash) == 32 && crypto_generichash_BYTES == 32);
static_assert(sizeof(Nonce) == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kAeadKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);

// libsodium declares most pointer parameters nonnull, even with a zero
// length; an empty std::span may carry a null data(). Hand it this instead.
const unsigned char kEmpty[1] = {0};
const unsigned char* Ptr(std::span<const uint8_t> s) { return s.empty() ? kEmpty : s.data(); }

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "hearth::crypto fatal: %s\n", what);
  std::abort();
}

// For the functions that cannot report an error: libsodium must work.
void MustInit() {
  if (!Init().ok()) Die("libsodium initialisation failed");
}

crypto_generichash_state* State(unsigned char* buf) {
  return reinterpret_cast<crypto_generichash_state*>(buf);
}

}  // namespace

Status Init() {
  static std::once_flag once;
  static int rc = -1;
  std::call_once(once, [] { rc = sodium_init(); });  // 0 = done now, 1 = already
  if (rc < 0) return Status::Internal("sodium_init failed");
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// SecretBytes

// Small secrets (scope keys, signing keys: 32 and 64 bytes) come from a
// pool of slots in guarded, locked slabs: a sodium_malloc per key costs
// three mprotect calls, an mlock and a munmap, and a commit fetches its
// scope key once per batch (docs/benchmarks.md, "Group commit"). A slab is
// one sodium_malloc region (guard pages around it, locked, never swapped);
// a freed slot is wiped before it is reused. Slabs are kept for the
// process's life, so the pool holds at most the peak number of small
// secrets alive at once. Larger secrets get a sodium_malloc region each.
namespace {

constexpr size_t kSlotBytes = 64;
constexpr size_t kSlabSlots = 256;  // 16 KiB slabs

class SecretPool {
 public:
  uint8_t* Take() {
    std::lock_guard lk(mu_);
    if (free_.empty()) {
      void* slab = sodium_malloc(kSlotBytes * kSlabSlots);
      if (slab == nullptr) Die("sodium_malloc failed (out of memory or locked-memory limit)");
      auto* base = static_cast<uint8_t*>(slab);
      free_.reserve(free_.size() + kSlabSlots);
      for (size_t i = kSlabSlots; i-- > 0;) free_.push_back(base + i * kSlotBytes);
    }
    uint8_t* p = free_.back();
    free_.pop_back();
    return p;
  }
  void Lock() { mu_.lock(); }
  void Unlock() { mu_.unlock(); }
  void Give(uint8_t* p) {
    sodium_memzero(p, kSlotBytes);
    std::lock_guard lk(mu_);
    free_.push_back(p);
  }

 private:
  std::mutex mu_;
  std::vector<uint8_t*> free_;
};

SecretPool& Pool() {
  // Never destroyed: secrets may outlive static destructors. fork() while
  // another thread holds the pool's lock would leave it locked forever in
  // the child (tests and benchmarks fork writers): the lock is taken around
  // fork, as glibc does for malloc.
  static SecretPool* pool = [] {
    auto* p = new SecretPool;
    ::pthread_atfork([] { Pool().Lock(); }, [] { Pool().Unlock(); }, [] { Pool().Unlock(); });
    return p;
  }();
  return *pool;
}

void FreeSecret(uint8_t* p, size_t n) {
  if (p == nullptr) return;
  if (n <= kSlotBytes) {
    Pool().Give(p);
  } else {
    sodium_free(p);  // wipes before unmapping
  }
}

}  // namespace

SecretBytes::SecretBytes(size_t size) {
  if (size == 0) return;
  MustInit();
  uint8_t* p = nullptr;
  if (size <= kSlotBytes) {
    p = Pool().Take();
  } else {
    p = static_cast<uint8_t*>(sodium_malloc(size));
    if (p == nullptr) Die("sodium_malloc failed (out of memory or locked-memory limit)");
  }
  std::memset(p, 0, size);  // sodium_malloc fills with 0xdb
  p_ = p;
  n_ = size;
}

SecretBytes SecretBytes::Copy(std::span<const uint8_t> data) {
  SecretBytes s(data.size());
  if (!data.empty()) std::memcpy(s.p_, data.data(), data.size());
  return s;
}

SecretBytes::~SecretBytes() { FreeSecret(p_, n_); }

SecretBytes::SecretBytes(SecretBytes&& o) noexcept
    : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    FreeSecret(p_, n_);
    p_ = std::exchange(o.p_, nullptr);
    n_ = std::exchange(o.n_, 0);
  }
  return *this;
}

bool SecretBytes::Equals(const SecretBytes& o) const { return ConstantTimeEqual(span(), o.span()); }

// ---------------------------------------------------------------------------
// Ed25519

SigningKeyPair SigningKeyPair::Generate() {
  MustInit();
  SigningKeyPair kp;
  kp.secret_key = SecretBytes(crypto_sign_SECRETKEYBYTES);
  if (crypto_sign_keypair(kp.public_key.bytes.data(), kp.secret_key.data()) != 0) {
    Die("crypto_sign_keypair failed");
  }
  return kp;
}

Result<SigningKeyPair> SigningKeyPair::FromSeed(std::span<const uint8_t> seed32) {
  HEARTH_RETURN_IF_ERROR(Init());
  if (seed32.size() != crypto_sign_SEEDBYTES) {
    return Status::InvalidArgument("Ed25519 seed must be 32 bytes, got " +
                                   std::to_string(seed32.size()));
  }
  SigningKeyPair kp;
  kp.secret_key = SecretBytes(crypto_sign_SECRETKEYBYTES);
  if (crypto_sign_seed_keypair(kp.public_key.bytes.data(), kp.secret_key.data(),
                               seed32.data()) != 0) {
    return Status::Internal("crypto_sign_seed_keypair failed");
  }
  return kp;
}

Result<SigningKeyPair> SigningKeyPair::FromSecretKey(std::span<const uint8_t> sk64) {
  HEARTH_RETURN_IF_ERROR(Init());
  if (sk64.size() != crypto_sign_SECRETKEYBYTES) {
    return Status::InvalidArgument("Ed25519 secret key must be 64 bytes, got " +
                                   std::to_string(sk64.size()));
  }
  // Recompute the public key from the seed half; it must match the embedded
  // one (bytes 32..63), or signatures would be made under a wrong key.
  SecretBytes seed = SecretBytes::Copy(sk64.first(crypto_sign_SEEDBYTES));
  SigningKeyPair kp;
  kp.secret_key = SecretBytes(crypto_sign_SECRETKEYBYTES);
  if (crypto_sign_seed_keypair(kp.public_key.bytes.data(), kp.secret_key.data(), seed.data()) !=
      0) {
    return Status::Internal("crypto_sign_seed_keypair failed");
  }
  if (!ConstantTimeEqual(kp.secret_key.span(), sk64)) {
    return Status::InvalidArgument(
        "Ed25519 secret key: embedded public key does not match its seed");
  }
  return kp;
}

Signature Sign(const SecretBytes& secret_key, std::span<const uint8_t> message) {
  MustInit();
  if (secret_key.size() != crypto_sign_SECRETKEYBYTES) Die("Sign: secret key is not 64 bytes");
  Signature sig{};
  if (crypto_sign_detached(sig.data(), nullptr, Ptr(message), message.size(),
                           secret_key.data()) != 0) {
    Die("crypto_sign_detached failed");
  }
  return sig;
}

bool Verify(const AuthorId& public_key, std::span<const uint8_t> message, const Signature& sig) {
  MustInit();
  return crypto_sign_verify_detached(sig.data(), Ptr(message), message.size(),
                                     public_key.bytes.data()) == 0;
}

// ---------------------------------------------------------------------------
// BLAKE2b-256

Hash HashBytes(std::span<const uint8_t> data) {
  MustInit();
  Hash h{};
  if (crypto_generichash(h.data(), h.size(), Ptr(data), data.size(), nullptr, 0) != 0) {
    Die("crypto_generichash failed");
  }
  return h;
}

Hash64 HashBytes64(std::span<const uint8_t> data) {
  const Hash full = HashBytes(data);
  Hash64 h{};
  std::copy(full.begin(), full.begin() + h.size(), h.begin());
  return h;
}

Hasher::Hasher() {
  static_assert(sizeof(crypto_generichash_state) <= sizeof(state_),
                "Hasher::state_ is too small for crypto_generichash_state");
  static_assert(alignof(crypto_generichash_state) <= 64, "Hasher::state_ is under-aligned");
  MustInit();
  if (crypto_generichash_statebytes() > sizeof(state_)) Die("Hasher state buffer too small");
  if (crypto_generichash_init(State(state_), nullptr, 0, sizeof(Hash)) != 0) {
    Die("crypto_generichash_init failed");
  }
}

Hasher::~Hasher() { sodium_memzero(state_, sizeof(state_)); }

void Hasher::Update(std::span<const uint8_t> data) {
  if (data.empty()) return;
  crypto_generichash_update(State(state_), data.data(), data.size());
}

Hash Hasher::Final() {
  Hash h{};
  if (crypto_generichash_final(State(state_), h.data(), h.size()) != 0) {
    Die("Hasher::Final called twice");
  }
  return h;
}

// ---------------------------------------------------------------------------
// XChaCha20-Poly1305 (IETF)

SecretBytes RandomAeadKey() {
  MustInit();
  SecretBytes k(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  crypto_aead_xchacha20poly1305_ietf_keygen(k.data());
  return k;
}

Nonce RandomNonce() {
  Nonce n{};
  RandomBytes(n);
  return n;
}

Bytes AeadEncrypt(const SecretBytes& key, const Nonce& nonce, std::span<const uint8_t> plaintext,
                  std::span<const uint8_t> associated_data) {
  MustInit();
  if (key.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    Die("AeadEncrypt: key is not 32 bytes");
  }
  Bytes out(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long out_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(
          out.data(), &out_len, Ptr(plaintext), plaintext.size(), Ptr(associated_data),
          associated_data.size(), nullptr, nonce.data(), key.data()) != 0) {
    Die("crypto_aead_xchacha20poly1305_ietf_encrypt failed");
  }
  out.resize(static_cast<size_t>(out_len));
  return out;
}

Result<Bytes> AeadDecrypt(const SecretBytes& key, const Nonce& nonce,
                          std::span<const uint8_t> ciphertext,
                          std::span<const uint8_t> associated_data) {
  HEARTH_RETURN_IF_ERROR(Init());
  if (key.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    return Status::InvalidArgument("AEAD key must be 32 bytes, got " + std::to_string(key.size()));
  }
  if (ciphertext.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return Status::Unauthenticated("AEAD ciphertext shorter than its tag");
  }
  Bytes out(ciphertext.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long out_len = 0;
  unsigned char dummy = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          out.empty() ? &dummy : out.data(), &out_len, nullptr, ciphertext.data(),
          ciphertext.size(), Ptr(associated_data), associated_data.size(), nonce.data(),
          key.data()) != 0) {
    return Status::Unauthenticated("AEAD tag does not verify (wrong key or altered bytes)");
  }
  out.resize(static_cast<size_t>(out_len));
  return out;
}

// ---------------------------------------------------------------------------
// Misc

void RandomBytes(std::span<uint8_t> out) {
  MustInit();
  if (!out.empty()) randombytes_buf(out.data(), out.size());
}

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void Wipe(std::span<uint8_t> data) {
  if (!data.empty()) sodium_memzero(data.data(), data.size());
}

}  // namespace hearth::crypto
