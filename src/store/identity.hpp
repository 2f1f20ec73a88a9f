// The node identity file in a replica directory ("identity.key", mode 0600):
//
//   "HRTHID" (6 bytes) | version 0x01 | protection 0x00 (plain) | 64-byte
//   Ed25519 secret key (libsodium layout: seed || public key)
//
// Created atomically (written to a temporary file, fsynced, then linked into
// place so that two processes creating it at once end up sharing one key).
// Passphrase protection (protection != 0) is the access-control issue's.
#pragma once

#include <string>

#include "crypto/crypto.hpp"
#include "hearth/status.hpp"

namespace hearth::store {

inline constexpr const char* kIdentityFile = "identity.key";

// Loads the identity in `dir`, creating it when missing and `create` is set.
Result<crypto::SigningKeyPair> LoadOrCreateIdentity(const std::string& dir, bool create);

}  // namespace hearth::store
