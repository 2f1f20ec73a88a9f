// The identity key pair of an open Replica, for code inside the library:
// the sync handshake signs with it, SyncNode derives its CURVE keys from it.
// Not in the public headers, so that the secret key stays in the library.
#pragma once

#include "crypto/crypto.hpp"
#include "hearth/replica.hpp"

namespace hearth {

// Befriended by Replica.
struct ReplicaInternals {
  static const crypto::SigningKeyPair& Identity(const Replica& replica);
};

namespace store {
inline const crypto::SigningKeyPair& IdentityOf(const Replica& replica) {
  return ReplicaInternals::Identity(replica);
}
}  // namespace store

}  // namespace hearth
