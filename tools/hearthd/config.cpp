#include "config.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "hearth/toml_bounds.hpp"

namespace hearthd {
namespace {

using hearth::Status;

struct Bad {
  std::string msg;
};

std::string At(const Config& c, const toml::value& v, const std::string& what) {
  auto loc = v.location();
  return c.path + ":" + std::to_string(loc.line()) + ": " + what;
}

[[noreturn]] void Fail(const Config& c, const toml::value& v, const std::string& what) {
  throw Bad{At(c, v, what)};
}

std::string Str(const Config& c, const toml::value& v, const std::string& key) {
  if (!v.is_string()) Fail(c, v, key + " must be a string");
  const std::string& s = v.as_string().str;
  // No setting here is text with control characters; a NUL would cut the
  // replica path short where it reaches the C library.
  for (unsigned char ch : s) {
    if (ch < 0x20 || ch == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", ch);
      Fail(c, v, key + " must not contain control characters (found " + hex + ")");
    }
  }
  return s;
}

// Reads the whole file: a regular file (a FIFO would block, a device never
// end) of at most kConfigMaxBytes.
hearth::Result<std::string> ReadConfigFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Status::NotFound(path + ": no such file");
    return Status::InvalidArgument(path + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  std::string text;
  Status s;
  if (::fstat(fd, &st) != 0) {
    s = Status::InvalidArgument(path + ": cannot stat: " + std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    s = Status::InvalidArgument(path + ": not a regular file");
  } else if (static_cast<uint64_t>(st.st_size) > hearth::kConfigMaxBytes) {
    s = Status::InvalidArgument(path + ": " + std::to_string(st.st_size) + " bytes, more than the limit of " +
                                std::to_string(hearth::kConfigMaxBytes) + " bytes for a configuration file");
  } else {
    char buf[65536];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        s = Status::InvalidArgument(path + ": cannot read: " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > hearth::kConfigMaxBytes) break;  // grew while read: CheckTomlBounds says so
    }
  }
  ::close(fd);
  if (!s.ok()) return s;
  return text;
}

uint64_t Uint(const Config& c, const toml::value& v, const std::string& key, uint64_t lo, uint64_t hi) {
  if (!v.is_integer()) Fail(c, v, key + " must be an integer");
  auto i = v.as_integer();
  if (i < 0 || static_cast<uint64_t>(i) < lo || static_cast<uint64_t>(i) > hi) {
    Fail(c, v, key + " must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return static_cast<uint64_t>(i);
}

void CheckEndpoint(const Config& c, const toml::value& v, const std::string& ep, const std::string& key) {
  if (ep.rfind("tcp://", 0) != 0 && ep.rfind("ipc://", 0) != 0) {
    Fail(c, v, key + " \"" + ep + "\": expected tcp://HOST:PORT (or ipc://PATH)");
  }
  if (ep.rfind("tcp://", 0) == 0) {
    auto colon = ep.rfind(':');
    if (colon == std::string::npos || colon < 6 || colon + 1 >= ep.size()) {
      Fail(c, v, key + " \"" + ep + "\": missing :PORT");
    }
    std::string port = ep.substr(colon + 1);
    if (port != "*" && (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
                        std::stoul(port) == 0 || std::stoul(port) > 65535)) {
      Fail(c, v, key + " \"" + ep + "\": bad port");
    }
  }
}

void Unknown(const Config& c, const toml::value& table, const std::set<std::string>& known, const std::string& where) {
  for (const auto& [k, v] : table.as_table()) {
    if (!known.count(k)) Fail(c, v, "unknown key " + where + k);
  }
}

}  // namespace

hearth::Result<Config> LoadConfig(const std::string& path) {
  Config c;
  c.path = path;
  auto text = ReadConfigFile(path);
  if (!text.ok()) return text.status();
  // Before toml11, which recurses once per nesting level (docs/hearthd.md).
  if (Status b = hearth::CheckTomlBounds(*text, hearth::kConfigMaxBytes); !b.ok()) return b.WithContext(path);
  toml::value root;
  try {
    std::istringstream in(std::move(*text));
    root = toml::parse(in, path);
  } catch (const toml::syntax_error& e) {
    std::string w = e.what();
    // toml11: "[error] msg\n --> file\n    |\n  N | text..." -> first line + location
    return Status::InvalidArgument(path + ": TOML syntax error: " + w);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  try {
    if (!root.is_table()) throw Bad{path + ":1: not a TOML table"};
    Unknown(c, root,
            {"replica", "listen", "peers", "log_level", "passphrase_env", "unencrypted_identity", "metrics", "ui", "sync"},
            "");
    const auto& t = root.as_table();
    auto r = t.find("replica");
    if (r == t.end()) throw Bad{path + ": missing required key `replica` (the replica directory)"};
    c.replica = Str(c, r->second, "replica");
    if (c.replica.empty()) Fail(c, r->second, "replica must not be empty");
    if (!std::filesystem::path(c.replica).is_absolute()) {
      c.replica = (std::filesystem::absolute(path).parent_path() / c.replica).lexically_normal().string();
    }
    if (auto it = t.find("listen"); it != t.end()) {
      if (it->second.is_string()) {
        c.listen.push_back(Str(c, it->second, "listen"));
        CheckEndpoint(c, it->second, c.listen.back(), "listen");
      } else if (it->second.is_array()) {
        for (const auto& e : it->second.as_array()) {
          c.listen.push_back(Str(c, e, "listen[]"));
          CheckEndpoint(c, e, c.listen.back(), "listen");
        }
      } else {
        Fail(c, it->second, "listen must be an endpoint string or an array of them");
      }
    }
    if (auto it = t.find("peers"); it != t.end()) {
      if (!it->second.is_array()) Fail(c, it->second, "peers must be an array of tables ([[peers]])");
      for (const auto& p : it->second.as_array()) {
        if (!p.is_table()) Fail(c, p, "each peer must be a table with endpoint and key");
        Unknown(c, p, {"endpoint", "key", "name"}, "in [[peers]]: ");
        const auto& pt = p.as_table();
        PeerConfig pc;
        auto e = pt.find("endpoint");
        if (e == pt.end()) Fail(c, p, "peer without endpoint");
        pc.endpoint = Str(c, e->second, "endpoint");
        CheckEndpoint(c, e->second, pc.endpoint, "peer endpoint");
        auto k = pt.find("key");
        if (k == pt.end()) {
          Fail(c, p, "peer " + pc.endpoint +
                         " has no key: CURVE needs the peer's public key (64 hex digits, `hearth whoami` on the peer)");
        }
        auto a = hearth::AuthorId::FromHex(Str(c, k->second, "key"));
        if (!a.ok()) Fail(c, k->second, "peer key: " + a.status().message());
        pc.key = *a;
        // CURVE uses the X25519 form of the Ed25519 key: a key that is not
        // a valid curve point would only fail when hearthd starts.
        std::string who = "peer " + pc.endpoint;
        if (auto n = pt.find("name"); n != pt.end()) {
          pc.name = Str(c, n->second, "name");
          who += " (" + pc.name + ")";
        }
        unsigned char x25519[crypto_scalarmult_curve25519_BYTES];
        if (sodium_init() < 0) Fail(c, k->second, "cannot initialise libsodium");
        if (crypto_sign_ed25519_pk_to_curve25519(x25519, pc.key.bytes.data()) != 0) {
          Fail(c, k->second, who + ": key " + pc.key.ToHex().substr(0, 16) +
                                 "... is not a valid Ed25519 public key (`hearth whoami` on the peer prints it)");
        }
        c.peers.push_back(std::move(pc));
      }
    }
    if (auto it = t.find("log_level"); it != t.end()) {
      c.log_level = Str(c, it->second, "log_level");
      static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
      if (!levels.count(c.log_level)) Fail(c, it->second, "log_level must be trace|debug|info|warn|error|critical|off");
    }
    if (auto it = t.find("passphrase_env"); it != t.end()) c.passphrase_env = Str(c, it->second, "passphrase_env");
    if (auto it = t.find("unencrypted_identity"); it != t.end()) {
      if (!it->second.is_boolean()) Fail(c, it->second, "unencrypted_identity must be true or false");
      c.unencrypted_identity = it->second.as_boolean();
    }
    if (auto it = t.find("metrics"); it != t.end()) {
      c.metrics = Str(c, it->second, "metrics");
      auto colon = c.metrics.rfind(':');
      std::string host = colon == std::string::npos ? "" : c.metrics.substr(0, colon);
      std::string port = colon == std::string::npos ? "" : c.metrics.substr(colon + 1);
      if (host != "127.0.0.1" && host != "localhost") {
        Fail(c, it->second, "metrics must be 127.0.0.1:PORT (served on loopback only)");
      }
      if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
          std::stoul(port) > 65535) {
        Fail(c, it->second, "metrics: bad port");
      }
    }
    if (auto it = t.find("ui"); it != t.end()) {
      if (!it->second.is_boolean()) Fail(c, it->second, "ui must be true or false");
      c.ui = it->second.as_boolean();
      if (c.ui && c.metrics.empty()) Fail(c, it->second, "ui = true needs `metrics = \"127.0.0.1:PORT\"` (the page is served there)");
    }
    if (auto it = t.find("sync"); it != t.end()) {
      if (!it->second.is_table()) Fail(c, it->second, "[sync] must be a table");
      Unknown(c, it->second,
              {"max_message_bytes", "idle_timeout_ms", "heartbeat_ms", "tick_ms", "heads_poll_ms", "max_sessions_per_key"},
              "in [sync]: ");
      const auto& st = it->second.as_table();
      if (auto s = st.find("max_message_bytes"); s != st.end())
        c.max_message_bytes = Uint(c, s->second, "max_message_bytes", 4096, uint64_t{1} << 30);
      if (auto s = st.find("idle_timeout_ms"); s != st.end())
        c.idle_timeout_ms = Uint(c, s->second, "idle_timeout_ms", 100, 3'600'000);
      if (auto s = st.find("heartbeat_ms"); s != st.end())
        c.heartbeat_ms = Uint(c, s->second, "heartbeat_ms", 10, 3'600'000);
      if (auto s = st.find("tick_ms"); s != st.end()) c.tick_ms = Uint(c, s->second, "tick_ms", 1, 10'000);
      if (auto s = st.find("heads_poll_ms"); s != st.end())
        c.heads_poll_ms = Uint(c, s->second, "heads_poll_ms", 10, 60'000);
      if (auto s = st.find("max_sessions_per_key"); s != st.end())
        c.max_sessions_per_key = Uint(c, s->second, "max_sessions_per_key", 1, 1024);
    }
    if (c.listen.empty() && c.peers.empty()) {
      throw Bad{path + ": nothing to do: set `listen` and/or at least one [[peers]]"};
    }
  } catch (const Bad& b) {
    return Status::InvalidArgument(b.msg);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  return c;
}

}  // namespace hearthd
