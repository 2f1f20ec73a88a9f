// hearthd under a service manager: sd_notify and systemd credentials.
#include "service.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

#ifdef HEARTHD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace hearthd {

bool HaveSystemd() {
#ifdef HEARTHD_HAVE_SYSTEMD
  return true;
#else
  return false;
#endif
}

void Notify(const std::string& state) {
#ifdef HEARTHD_HAVE_SYSTEMD
  // unset_environment = 0: hearthd starts no child that should inherit it,
  // and a later STOPPING=1 still needs the socket.
  int r = sd_notify(0, state.c_str());
  if (r < 0) spdlog::debug("sd_notify({}): {}", state, std::strerror(-r));
#else
  (void)state;
#endif
}

namespace {

// Reads the credential file at `path`: a regular file of at most
// kMaxPassphraseBytes. Reading through an fd taken once (fstat on it) so
// that the checks and the read see the same file.
hearth::Result<std::string> ReadCredential(const std::string& path) {
  using hearth::Status;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    return Status::InvalidArgument("credential " + path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("credential " + path + ": not a regular file");
  }
  if (st.st_size > static_cast<off_t>(kMaxPassphraseBytes)) {
    ::close(fd);
    return Status::InvalidArgument("credential " + path + ": over " + std::to_string(kMaxPassphraseBytes) +
                                      " bytes; it should hold the passphrase only");
  }
  std::string out(kMaxPassphraseBytes + 1, '\0');
  size_t n = 0;
  while (n < out.size()) {
    ssize_t r = ::read(fd, out.data() + n, out.size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      ::close(fd);
      return Status::InvalidArgument("credential " + path + ": cannot read: " + std::strerror(e));
    }
    if (r == 0) break;
    n += static_cast<size_t>(r);
  }
  ::close(fd);
  if (n > kMaxPassphraseBytes) {  // grew between fstat and read
    return Status::InvalidArgument("credential " + path + ": over " + std::to_string(kMaxPassphraseBytes) + " bytes");
  }
  out.resize(n);
  // `echo secret > file` and editors add a newline that is not part of the
  // passphrase; strip exactly one (and its \r).
  if (!out.empty() && out.back() == '\n') out.pop_back();
  if (!out.empty() && out.back() == '\r') out.pop_back();
  if (out.empty()) return Status::InvalidArgument("credential " + path + ": empty");
  if (out.find('\0') != std::string::npos) {
    return Status::InvalidArgument("credential " + path + ": holds a NUL byte");
  }
  return out;
}

}  // namespace

hearth::Result<std::optional<std::string>> ReadPassphrase(const Config& cfg, std::string* source) {
  if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr && *dir != '\0') {
    std::string path = std::string(dir) + "/" + kPassphraseCredential;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      auto p = ReadCredential(path);
      if (!p.ok()) return p.status();
      if (source) *source = "credential " + path;
      return std::optional<std::string>(std::move(*p));
    }
    // No such credential: the unit did not load one; fall through.
  }
  if (const char* p = std::getenv(cfg.passphrase_env.c_str()); p != nullptr) {
    if (source) *source = "environment variable " + cfg.passphrase_env;
    return std::optional<std::string>(p);
  }
  if (source) *source = "none";
  return std::optional<std::string>();
}

std::vector<std::string> Reload(const Config& running) {
  std::vector<std::string> restart;
  auto next = LoadConfig(running.path);
  if (!next.ok()) {
    spdlog::error("reload: {}: kept the running configuration", next.status().message());
    return restart;
  }
  const Config& n = *next;
  auto peers_equal = [](const std::vector<PeerConfig>& a, const std::vector<PeerConfig>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].endpoint != b[i].endpoint || a[i].key != b[i].key || a[i].name != b[i].name) return false;
    }
    return true;
  };
  if (n.replica != running.replica) restart.push_back("replica");
  if (n.listen != running.listen) restart.push_back("listen");
  if (!peers_equal(n.peers, running.peers)) restart.push_back("peers");
  if (n.metrics != running.metrics) restart.push_back("metrics");
  if (n.passphrase_env != running.passphrase_env) restart.push_back("passphrase_env");
  if (n.unencrypted_identity != running.unencrypted_identity) restart.push_back("unencrypted_identity");
  if (n.max_message_bytes != running.max_message_bytes || n.idle_timeout_ms != running.idle_timeout_ms ||
      n.heartbeat_ms != running.heartbeat_ms || n.tick_ms != running.tick_ms ||
      n.heads_poll_ms != running.heads_poll_ms || n.max_sessions_per_key != running.max_sessions_per_key) {
    restart.push_back("sync");
  }
  // spdlog's level is atomic: safe while the node thread logs.
  spdlog::set_level(spdlog::level::from_str(n.log_level));
  spdlog::info("reload: {}: log_level {}", running.path, n.log_level);
  if (!restart.empty()) {
    std::string keys;
    for (const auto& k : restart) keys += (keys.empty() ? "" : ", ") + k;
    spdlog::warn("reload: changed {} take effect only on a restart (systemctl restart); still running with the old values",
                 keys);
  }
  return restart;
}

}  // namespace hearthd
