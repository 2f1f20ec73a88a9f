// Node identity files (docs/storage-format.md, "Identity file"; mode 0600):
//
//   "HRTHID" (6 bytes) | version 0x01 | protection 0x00 (plain) | 64-byte
//   Ed25519 secret key (libsodium layout: seed || public key)
//
// or, protected by a passphrase (Argon2id + XChaCha20-Poly1305,
// docs/policy.md, "Identity at rest"):
//
//   "HRTHID" | 0x01 | 0x01 | salt[16] | opslimit u64 | memlimit u64 |
//   nonce[24] | ciphertext of the 64-byte key + 16-byte tag
//   (associated data: every byte before the nonce)
//
// A replica keeps its own in <dir>/identity.key (kReplicaFileName); the CLI
// also writes them elsewhere (`hearth keygen`). The functions take the
// file's path and the passphrase; they never read the environment.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/crypto.hpp"
#include "hearth/status.hpp"

namespace hearth::identity {

inline constexpr const char* kReplicaFileName = "identity.key";

// Prefix of identity signatures in the sync handshake (docs/protocol.md);
// keeps them apart from delta signatures ("hearth/delta/v1" || hash).
inline constexpr std::string_view kSyncProofContext = "hearth/sync-proof/v1";

// Reads the identity file at `path`; `passphrase` unlocks a protected one.
// Errors: kNotFound, kPermissionDenied, kIOError, kCorruption (not an
// identity file, wrong size), kFailedPrecondition (unsupported version or
// protection; protected and no passphrase), kUnauthenticated (wrong
// passphrase).
Result<crypto::SigningKeyPair> ReadFile(const std::string& path, const std::optional<std::string>& passphrase);

// Writes `kp` to a new file at `path`, protected when `passphrase` is set:
// a temporary file next to it (".<name>.XXXXXX", mode 0600, fsynced) is
// link()ed into place, so two processes creating it at once end up with
// one key. kAlreadyExists when `path` exists (never overwritten), kIOError,
// kPermissionDenied, kResourceExhausted.
Status WriteFile(const std::string& path, const crypto::SigningKeyPair& kp, const std::optional<std::string>& passphrase);

// A new identity written to `path` as WriteFile does.
Result<crypto::SigningKeyPair> CreateFile(const std::string& path, const std::optional<std::string>& passphrase);

// A process killed while creating `path` leaves its temporary file (holding
// a secret key) behind: removes those older than a minute, which no live
// creator can still be using.
void RemoveStaleTemporaries(const std::string& path);

// Ed25519 over `context` || msg.
crypto::Signature Sign(const crypto::SigningKeyPair& kp, std::string_view context, std::span<const uint8_t> msg);
bool Verify(const AuthorId& author, std::string_view context, std::span<const uint8_t> msg,
            const crypto::Signature& sig);

}  // namespace hearth::identity
