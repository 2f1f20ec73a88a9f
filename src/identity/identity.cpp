#include "identity/identity.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "crypto/seal.hpp"

namespace hearth::identity {
namespace {

constexpr char kMagic[6] = {'H', 'R', 'T', 'H', 'I', 'D'};
constexpr size_t kPlainSize = 6 + 1 + 1 + crypto::kSignSecretBytes;
constexpr size_t kHeadSize = 8 + crypto::kPwSaltBytes + 8 + 8;  // AD
constexpr size_t kProtectedSize = kHeadSize + 24 + crypto::kSignSecretBytes + crypto::kAeadTagBytes;
constexpr size_t kMaxFile = kProtectedSize;

Status Errno(const std::string& what) {
  int e = errno;
  std::string msg = what + ": " + std::strerror(e);
  if (e == ENOENT) return Status::NotFound(msg);
  if (e == EACCES || e == EPERM) return Status::PermissionDenied(msg);
  if (e == ENOSPC) return Status::ResourceExhausted(msg);
  return Status::IOError(msg);
}

// Big-endian, as every integer Hearth stores.
uint64_t ReadU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}
void WriteU64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) *p++ = static_cast<uint8_t>(v >> (8 * i));
}

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The file's bytes for `kp`, protected when a passphrase is given.
Result<crypto::SecretBytes> Serialise(const crypto::SigningKeyPair& kp, const std::optional<std::string>& pass) {
  if (!pass) {
    crypto::SecretBytes buf(kPlainSize);
    std::memcpy(buf.data(), kMagic, 6);
    buf.data()[6] = 0x01;
    buf.data()[7] = 0x00;
    std::memcpy(buf.data() + 8, kp.secret_key.data(), crypto::kSignSecretBytes);
    return buf;
  }
  crypto::SecretBytes buf(kProtectedSize);
  uint8_t* p = buf.data();
  std::memcpy(p, kMagic, 6);
  p[6] = 0x01;
  p[7] = 0x01;
  crypto::RandomBytes({p + 8, crypto::kPwSaltBytes});
  crypto::PwHashParams params = crypto::DefaultPwHashParams();
  WriteU64(p + 8 + crypto::kPwSaltBytes, params.opslimit);
  WriteU64(p + 16 + crypto::kPwSaltBytes, params.memlimit);
  auto key = crypto::DeriveKey(*pass, {p + 8, crypto::kPwSaltBytes}, params);
  if (!key.ok()) return key.status();
  crypto::Nonce nonce = crypto::RandomNonce();
  std::memcpy(p + kHeadSize, nonce.data(), nonce.size());
  Bytes ct = crypto::AeadEncrypt(*key, nonce, kp.secret_key.span(), {p, kHeadSize});
  std::memcpy(p + kHeadSize + 24, ct.data(), ct.size());
  return buf;
}

Bytes ProofMessage(std::string_view context, std::span<const uint8_t> msg) {
  Bytes m(context.begin(), context.end());
  m.insert(m.end(), msg.begin(), msg.end());
  return m;
}

}  // namespace

Result<crypto::SigningKeyPair> ReadFile(const std::string& path, const std::optional<std::string>& passphrase) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("opening identity " + path);
  crypto::SecretBytes buf(kMaxFile + 1);
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
  const uint8_t* p = buf.data();
  if (got < 8 || std::memcmp(p, kMagic, 6) != 0) {
    return Status::Corruption("identity file " + path + " is not a Hearth identity (magic)");
  }
  if (p[6] != 0x01) {
    return Status::FailedPrecondition("identity file " + path + " has unsupported version " + std::to_string(p[6]));
  }
  if (p[7] == 0x00) {
    if (got != kPlainSize) return Status::Corruption("identity file " + path + " has the wrong size");
    auto kp = crypto::SigningKeyPair::FromSecretKey({p + 8, crypto::kSignSecretBytes});
    if (!kp.ok()) return kp.status().WithContext("identity file " + path);
    return kp;
  }
  if (p[7] != 0x01) {
    return Status::FailedPrecondition("identity file " + path + " uses unknown protection " + std::to_string(p[7]));
  }
  if (got != kProtectedSize) return Status::Corruption("identity file " + path + " has the wrong size");
  if (!passphrase) {
    return Status::FailedPrecondition("identity " + path + " is passphrase-protected: pass a passphrase");
  }
  crypto::PwHashParams params{ReadU64(p + 8 + crypto::kPwSaltBytes), ReadU64(p + 16 + crypto::kPwSaltBytes)};
  auto key = crypto::DeriveKey(*passphrase, {p + 8, crypto::kPwSaltBytes}, params);
  if (!key.ok()) return key.status().WithContext("identity file " + path);
  crypto::Nonce nonce;
  std::memcpy(nonce.data(), p + kHeadSize, nonce.size());
  auto plain = crypto::AeadDecrypt(*key, nonce, {p + kHeadSize + 24, crypto::kSignSecretBytes + crypto::kAeadTagBytes},
                                   {p, kHeadSize});
  if (!plain.ok()) return Status::Unauthenticated("wrong passphrase for identity " + path);
  auto kp = crypto::SigningKeyPair::FromSecretKey(*plain);
  crypto::Wipe(*plain);
  if (!kp.ok()) return kp.status().WithContext("identity file " + path);
  return kp;
}

Status WriteFile(const std::string& path, const crypto::SigningKeyPair& kp,
                 const std::optional<std::string>& passphrase) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  const std::string dir = DirOf(path);
  auto buf = Serialise(kp, passphrase);
  if (!buf.ok()) return buf.status();
  std::string tmp = dir + "/." + BaseOf(path) + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Errno("creating identity in " + dir);
  ::fchmod(fd, 0600);
  size_t off = 0;
  while (off < buf->size()) {
    ssize_t n = ::write(fd, buf->data() + off, buf->size() - off);
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
  // link() never replaces: EEXIST when the file exists (another process
  // may just have won the race to create it).
  int rc = ::link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(tmp.c_str());
  if (rc != 0) {
    if (link_errno == EEXIST) {
      return Status::AlreadyExists(path + " already exists; an identity is never overwritten");
    }
    errno = link_errno;
    return Errno("installing identity " + path);
  }
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<crypto::SigningKeyPair> CreateFile(const std::string& path, const std::optional<std::string>& passphrase) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  crypto::SigningKeyPair kp = crypto::SigningKeyPair::Generate();
  HEARTH_RETURN_IF_ERROR(WriteFile(path, kp, passphrase));
  return kp;
}

void RemoveStaleTemporaries(const std::string& path) {
  const std::string dir = DirOf(path);
  const std::string prefix = "." + BaseOf(path) + ".";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  const time_t now = ::time(nullptr);
  while (struct dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) != 0) continue;
    std::string tmp = dir + "/" + e->d_name;
    struct stat st {};
    if (::lstat(tmp.c_str(), &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 60) {
      ::unlink(tmp.c_str());
    }
  }
  ::closedir(d);
}

crypto::Signature Sign(const crypto::SigningKeyPair& kp, std::string_view context, std::span<const uint8_t> msg) {
  return crypto::Sign(kp.secret_key, ProofMessage(context, msg));
}

bool Verify(const AuthorId& author, std::string_view context, std::span<const uint8_t> msg,
            const crypto::Signature& sig) {
  return crypto::Verify(author, ProofMessage(context, msg), sig);
}

}  // namespace hearth::identity
