// Node identities: the Ed25519 key pair behind an author id.
//
// A replica keeps its own identity in its directory (Replica::Open creates
// and reads it; ReplicaOptions::passphrase protects it). These functions
// handle identity files anywhere else (`hearth keygen`, `hearth init
// --identity`), in the same format (docs/storage-format.md, "Identity
// file"), and check the identity signatures of the sync handshake
// (docs/protocol.md). Nothing here reads the environment: a passphrase is
// passed in or there is none.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "hearth/export.hpp"
#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth {

// Writes a new identity to `path` (mode 0600) and returns its author id.
// With a passphrase the key is protected (Argon2id, docs/policy.md,
// "Identity at rest"); without one it is stored in the clear.
// kAlreadyExists if `path` exists (never overwritten), kIOError.
HEARTH_EXPORT Result<AuthorId> CreateIdentityFile(const std::string& path,
                                                  const std::optional<std::string>& passphrase = std::nullopt);

// Reads and checks an identity file; returns its author id. `passphrase`
// unlocks a protected file. kNotFound, kInvalidArgument (not a regular
// file), kCorruption (not an identity file), kFailedPrecondition
// (unsupported; protected and no passphrase), kUnauthenticated (wrong
// passphrase).
HEARTH_EXPORT Result<AuthorId> ReadIdentityFile(const std::string& path,
                                                const std::optional<std::string>& passphrase = std::nullopt);

// Checks an identity signature of the sync handshake: Ed25519 by `author`
// over "hearth/sync-proof/v1" || msg (docs/protocol.md).
HEARTH_EXPORT bool VerifyIdentitySignature(const AuthorId& author, std::span<const uint8_t> msg,
                                           const std::array<uint8_t, 64>& sig);

}  // namespace hearth
