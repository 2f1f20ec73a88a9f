// Support for the hearth command-line tool: identity files outside a
// replica. Reuses the replica's own identity code (store/identity.cpp) in a
// private temporary directory, so the format has one implementation.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "hearth/replica.hpp"
#include "store/identity.hpp"

namespace hearth {
namespace {

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A private (0700) temporary directory next to `path`, removed on scope exit.
struct TempDir {
  std::string path;
  ~TempDir() {
    if (!path.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  }
};

Result<std::string> MakeTempDir(const std::string& near) {
  std::string tmpl = DirOf(near) + "/.hearth-identity.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::IOError("creating a temporary directory in " + DirOf(near) + ": " +
                           std::strerror(errno));
  }
  return tmpl;
}

}  // namespace

Result<AuthorId> CreateIdentityFile(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    return Status::AlreadyExists(path + " already exists; an identity is never overwritten");
  }
  auto dir = MakeTempDir(path);
  if (!dir.ok()) return dir.status();
  TempDir guard{*dir};
  auto kp = store::LoadOrCreateIdentity(*dir, /*create=*/true);
  if (!kp.ok()) return kp.status();
  std::string made = *dir + "/" + store::kIdentityFile;
  if (::link(made.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      return Status::AlreadyExists(path + " already exists; an identity is never overwritten");
    }
    return Status::IOError("writing " + path + ": " + std::strerror(errno));
  }
  if (int dfd = ::open(DirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return kp->public_key;
}

Result<AuthorId> ReadIdentityFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("identity file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + " is not a regular file");
  auto dir = MakeTempDir(path);
  if (!dir.ok()) return dir.status();
  TempDir guard{*dir};
  std::string copy = *dir + "/" + store::kIdentityFile;
  std::error_code ec;
  std::filesystem::copy_file(path, copy, ec);
  if (ec) return Status::IOError("reading " + path + ": " + ec.message());
  auto kp = store::LoadOrCreateIdentity(*dir, /*create=*/false);
  if (!kp.ok()) {
    return Status(kp.status().code(), kp.status().message().empty()
                                          ? path
                                          : "identity file " + path + " is not usable (" +
                                                kp.status().message() + ")");
  }
  return kp->public_key;
}

}  // namespace hearth
