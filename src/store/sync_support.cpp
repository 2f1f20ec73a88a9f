// Identity signatures for the sync handshake (docs/protocol.md).
#include <string_view>

#include "store/replica_impl.hpp"

namespace hearth {
namespace {
constexpr std::string_view kProofContext = "hearth/sync-proof/v1";

Bytes ProofMessage(std::span<const uint8_t> msg) {
  Bytes m(kProofContext.begin(), kProofContext.end());
  m.insert(m.end(), msg.begin(), msg.end());
  return m;
}
}  // namespace

Result<std::array<uint8_t, 64>> Replica::SignWithIdentity(std::span<const uint8_t> msg) const {
  if (impl_->identity.secret_key.size() != crypto::kSignSecretBytes) {
    return Status::FailedPrecondition("replica has no identity key");
  }
  return crypto::Sign(impl_->identity.secret_key, ProofMessage(msg));
}

bool VerifyIdentitySignature(const AuthorId& author, std::span<const uint8_t> msg,
                             const std::array<uint8_t, 64>& sig) {
  return crypto::Verify(author, ProofMessage(msg), sig);
}

}  // namespace hearth
