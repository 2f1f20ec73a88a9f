#include "store/identity.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "crypto/seal.hpp"
#include "store/keys.hpp"

namespace hearth::store {
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

std::optional<std::string> PassphraseOf(const IdentityOptions& o) {
  if (o.passphrase) return o.passphrase;
  if (const char* env = std::getenv("HEARTH_PASSPHRASE"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  return std::nullopt;
}

Result<crypto::SigningKeyPair> ReadIdentity(const std::string& path, const IdentityOptions& opts) {
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
  auto pass = PassphraseOf(opts);
  if (!pass) {
    return Status::FailedPrecondition("identity " + path +
                                      " is passphrase-protected: set HEARTH_PASSPHRASE or pass the passphrase");
  }
  crypto::PwHashParams params{ReadU64(p + 8 + crypto::kPwSaltBytes), ReadU64(p + 16 + crypto::kPwSaltBytes)};
  auto key = crypto::DeriveKey(*pass, {p + 8, crypto::kPwSaltBytes}, params);
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
  std::string limits;
  AppendU64(limits, params.opslimit);
  AppendU64(limits, params.memlimit);
  std::memcpy(p + 8 + crypto::kPwSaltBytes, limits.data(), 16);
  auto key = crypto::DeriveKey(*pass, {p + 8, crypto::kPwSaltBytes}, params);
  if (!key.ok()) return key.status();
  crypto::Nonce nonce = crypto::RandomNonce();
  std::memcpy(p + kHeadSize, nonce.data(), nonce.size());
  Bytes ct = crypto::AeadEncrypt(*key, nonce, kp.secret_key.span(), {p, kHeadSize});
  std::memcpy(p + kHeadSize + 24, ct.data(), ct.size());
  return buf;
}

// A process killed while creating an identity leaves its temporary file
// (holding a secret key) behind: remove those older than a minute, which no
// live creator can still be using.
void RemoveStaleTemporaries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  const time_t now = ::time(nullptr);
  while (struct dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, ".identity.key.", 14) != 0) continue;
    std::string path = dir + "/" + e->d_name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 60) {
      ::unlink(path.c_str());
    }
  }
  ::closedir(d);
}

}  // namespace

Result<crypto::SigningKeyPair> LoadOrCreateIdentity(const std::string& dir, bool create) {
  IdentityOptions o;
  o.allow_plaintext = true;
  return LoadOrCreateIdentity(dir, create, o);
}

Result<crypto::SigningKeyPair> LoadOrCreateIdentity(const std::string& dir, bool create,
                                                    const IdentityOptions& opts) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  const std::string path = dir + "/" + kIdentityFile;
  if (::access(path.c_str(), F_OK) == 0) {
    RemoveStaleTemporaries(dir);
    return ReadIdentity(path, opts);
  }
  if (!create) return ReadIdentity(path, opts);

  auto pass = PassphraseOf(opts);
  if (!pass && !opts.allow_plaintext) {
    return Status::FailedPrecondition(
        "a new identity needs a passphrase (set HEARTH_PASSPHRASE or ReplicaOptions::passphrase); "
        "for an unattended node choose an unencrypted identity explicitly");
  }
  crypto::SigningKeyPair kp = crypto::SigningKeyPair::Generate();
  auto buf = Serialise(kp, pass);
  if (!buf.ok()) return buf.status();
  std::string tmp = dir + "/.identity.key.XXXXXX";
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
  return ReadIdentity(path, opts);
}

}  // namespace hearth::store
