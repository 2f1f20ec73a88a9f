// include/hearth/identity.hpp over the identity module.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "hearth/identity.hpp"
#include "identity/identity.hpp"

namespace hearth {

Result<AuthorId> CreateIdentityFile(const std::string& path, const std::optional<std::string>& passphrase) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    return Status::AlreadyExists(path + " already exists; an identity is never overwritten");
  }
  auto kp = identity::CreateFile(path, passphrase);
  if (!kp.ok()) return kp.status();
  return kp->public_key;
}

Result<AuthorId> ReadIdentityFile(const std::string& path, const std::optional<std::string>& passphrase) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("identity file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + " is not a regular file");
  auto kp = identity::ReadFile(path, passphrase);
  if (!kp.ok()) {
    return Status(kp.status().code(), kp.status().message().empty()
                                          ? path
                                          : "identity file " + path + " is not usable (" +
                                                kp.status().message() + ")");
  }
  return kp->public_key;
}

bool VerifyIdentitySignature(const AuthorId& author, std::span<const uint8_t> msg,
                             const std::array<uint8_t, 64>& sig) {
  return identity::Verify(author, identity::kSyncProofContext, msg, sig);
}

}  // namespace hearth
