// The identity key pair of an open Replica, for code inside the library:
// the sync handshake signs with it, SyncNode derives its CURVE keys from it.
// Not in the public headers, so that the secret key stays in the library.
#pragma once

#include "crypto/crypto.hpp"
#include "hearth/replica.hpp"

namespace hearth {

namespace store {
// Defined in replica.cpp (through ReplicaAccess).
const crypto::SigningKeyPair& IdentityOf(const Replica& replica);
}  // namespace store

}  // namespace hearth
