// The node identity file in a replica directory ("identity.key", mode 0600):
//
//   "HRTHID" (6 bytes) | version 0x01 | protection 0x00 (plain) | 64-byte
//   Ed25519 secret key (libsodium layout: seed || public key)
//
// or, protected by a passphrase (Argon2id + XChaCha20-Poly1305):
//
//   "HRTHID" | 0x01 | 0x01 | salt[16] | opslimit u64 | memlimit u64 |
//   nonce[24] | ciphertext of the 64-byte key + 16-byte tag
//   (associated data: every byte before the nonce)
//
// Created atomically (written to a temporary file, fsynced, then linked into
// place so that two processes creating it at once end up sharing one key).
#pragma once

#include <optional>
#include <string>

#include "crypto/crypto.hpp"
#include "hearth/status.hpp"

namespace hearth::store {

inline constexpr const char* kIdentityFile = "identity.key";

struct IdentityOptions {
  // Passphrase to protect a new identity / unlock a protected one. When
  // unset, $HEARTH_PASSPHRASE is used if set.
  std::optional<std::string> passphrase;
  // Create an unprotected identity when there is no passphrase (unattended
  // nodes). Without a passphrase and without this, creating fails.
  bool allow_plaintext = false;
};

// Loads the identity in `dir`, creating it when missing and `create` is set.
// Errors: kFailedPrecondition (protected and no passphrase; no passphrase
// and plaintext not allowed), kUnauthenticated (wrong passphrase),
// kCorruption, kIOError.
Result<crypto::SigningKeyPair> LoadOrCreateIdentity(const std::string& dir, bool create,
                                                    const IdentityOptions& options);
// Same, creating an unprotected identity when no passphrase is available.
Result<crypto::SigningKeyPair> LoadOrCreateIdentity(const std::string& dir, bool create);

}  // namespace hearth::store
