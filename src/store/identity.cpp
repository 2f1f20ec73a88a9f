#include "store/identity.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hearth::store {
namespace {

constexpr char kMagic[6] = {'H', 'R', 'T', 'H', 'I', 'D'};
constexpr size_t kFileSize = 6 + 1 + 1 + crypto::kSignSecretBytes;

Status Errno(const std::string& what) {
  int e = errno;
  std::string msg = what + ": " + std::strerror(e);
  if (e == ENOENT) return Status::NotFound(msg);
  if (e == EACCES || e == EPERM) return Status::PermissionDenied(msg);
  if (e == ENOSPC) return Status::ResourceExhausted(msg);
  return Status::IOError(msg);
}

Result<crypto::SigningKeyPair> ReadIdentity(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("opening identity " + path);
  crypto::SecretBytes buf(kFileSize + 1);
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Errno("reading identity " + path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != kFileSize || std::memcmp(buf.data(), kMagic, 6) != 0) {
    return Status::Corruption("identity file " + path + " is not a Hearth identity (size or magic)");
  }
  if (buf.data()[6] != 0x01) {
    return Status::FailedPrecondition("identity file " + path + " has unsupported version " +
                                      std::to_string(buf.data()[6]));
  }
  if (buf.data()[7] != 0x00) {
    return Status::FailedPrecondition("identity file " + path +
                                      " is passphrase-protected; this build cannot unlock it");
  }
  auto kp = crypto::SigningKeyPair::FromSecretKey({buf.data() + 8, crypto::kSignSecretBytes});
  if (!kp.ok()) return kp.status().WithContext("identity file " + path);
  return kp;
}

}  // namespace

Result<crypto::SigningKeyPair> LoadOrCreateIdentity(const std::string& dir, bool create) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  const std::string path = dir + "/" + kIdentityFile;
  if (::access(path.c_str(), F_OK) == 0 || !create) return ReadIdentity(path);

  crypto::SigningKeyPair kp = crypto::SigningKeyPair::Generate();
  std::string tmp = dir + "/.identity.key.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Errno("creating identity in " + dir);
  ::fchmod(fd, 0600);
  crypto::SecretBytes buf(kFileSize);
  std::memcpy(buf.data(), kMagic, 6);
  buf.data()[6] = 0x01;
  buf.data()[7] = 0x00;
  std::memcpy(buf.data() + 8, kp.secret_key.data(), crypto::kSignSecretBytes);
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = ::write(fd, buf.data() + off, buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Errno("writing identity " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Errno("syncing identity " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd);
  // link() fails with EEXIST if another process won the race: use theirs.
  int rc = ::link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(tmp.c_str());
  if (rc != 0 && link_errno != EEXIST) {
    errno = link_errno;
    return Errno("installing identity " + path);
  }
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return ReadIdentity(path);
}

}  // namespace hearth::store
