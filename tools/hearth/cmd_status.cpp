// status: the node of this replica at a glance (docs/cli.md, "status").
// Asks hearthd's /status (loopback HTTP) when an endpoint is known (from
// --endpoint, or the `metrics` setting of a hearthd config given with
// --config); falls back to the replica alone when hearthd does not answer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "../hearthd/attention.hpp"
#include "../hearthd/config.hpp"
#include "common.hpp"
#include "hearth/policy.hpp"

namespace hcli {
namespace {

// The largest /status answer read (bytes): a node with thousands of peers
// fits; more is refused rather than buffered.
constexpr size_t kMaxStatusBytes = 4u << 20;
constexpr int kHttpTimeoutMs = 3'000;

// GET http://127.0.0.1:PORT/status. Returns the body, or an error saying why
// (hearthd not running, timeout, not HTTP 200, too large).
Result<std::string> HttpGetStatus(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHttpTimeoutMs);
  auto wait = [&](short events) -> Status {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Status::Unavailable("hearthd did not answer within 3 s");
      pollfd p{fd, events, 0};
      int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n > 0) return Status::Ok();
      if (n < 0 && errno != EINTR) return Status::IOError(std::string("poll: ") + std::strerror(errno));
    }
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) return Status::Unavailable(std::string("connect: ") + std::strerror(errno));
    if (auto s = wait(POLLOUT); !s.ok()) return s;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Status::Unavailable(std::string("connect: ") + std::strerror(err));
  }
  const std::string req = "GET /status HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  for (size_t off = 0; off < req.size();) {
    if (auto s = wait(POLLOUT); !s.ok()) return s;
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Status::Unavailable(std::string("send: ") + std::strerror(errno));
    if (n > 0) off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[16384];
  for (;;) {
    if (auto s = wait(POLLIN); !s.ok()) return s;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::Unavailable(std::string("recv: ") + std::strerror(errno));
    }
    resp.append(buf, static_cast<size_t>(n));
    if (resp.size() > kMaxStatusBytes) return Status::ResourceExhausted("hearthd's /status answer is over 4 MiB");
  }
  auto eol = resp.find("\r\n");
  if (eol == std::string::npos || resp.compare(0, 5, "HTTP/") != 0) return Status::Corruption("not an HTTP answer");
  const std::string line = resp.substr(0, eol);
  if (line.find(" 200") == std::string::npos) return Status::Unavailable("hearthd answered " + line);
  auto body = resp.find("\r\n\r\n");
  if (body == std::string::npos) return Status::Corruption("HTTP answer without a body");
  return resp.substr(body + 4);
}

// "127.0.0.1:9400" or "9400" -> port; exit 2 otherwise.
uint16_t ParsePort(const std::string& ep) {
  std::string host = "127.0.0.1", port = ep;
  if (auto c = ep.rfind(':'); c != std::string::npos) {
    host = ep.substr(0, c);
    port = ep.substr(c + 1);
  }
  if (host != "127.0.0.1" && host != "localhost") Fail(kExitUsage, "--endpoint: only 127.0.0.1:PORT (hearthd serves loopback only)");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) == 0 || std::stoul(port) > 65535) {
    Fail(kExitUsage, "--endpoint: bad port in `" + ep + "` (want 127.0.0.1:PORT)");
  }
  return static_cast<uint16_t>(std::stoul(port));
}

std::string UtcText(const json& ms) {
  if (!ms.is_number_unsigned() || ms.get<uint64_t>() == 0) return "never";
  std::time_t t = static_cast<std::time_t>(ms.get<uint64_t>() / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// The /status document from the replica alone (hearthd not asked or not
// running): node facts and the counts; peers unknown.
json FromReplica(const hearth::Replica& r, const std::string& dir, const std::string& why) {
  json node = {{"key", r.author().ToHex()}, {"name", ""}, {"replica", dir}, {"root", nullptr},
               {"policy_version", nullptr}, {"schema_version", r.schema().version()}};
  if (auto root = r.root()) {
    node["root"] = root->ToHex();
    if (auto pol = r.CurrentPolicy(); pol.ok() && *pol) {
      node["policy_version"] = (*pol)->version();
      for (const auto& m : (*pol)->members()) {
        if (m.key == r.author()) node["name"] = m.name;
      }
    }
  }
  auto c = Must(hearth_status::CountAttention(r), "counting what needs a person");
  return {{"source", "replica"},
          {"why", why},
          {"version", HEARTH_VERSION_STRING},
          {"generated_ms", static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count())},
          {"node", node},
          {"peers", json::array()},
          {"peers_known", false},
          {"counts",
           {{"conflicts", c.conflicts}, {"denied", c.denied}, {"forked_authors", c.forked_authors},
            {"pending", c.pending}, {"waiting_schema", c.waiting_schema}, {"unreadable", c.unreadable}}}};
}

std::string Str(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
std::string Num(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_number_unsigned() ? std::to_string(it->get<uint64_t>()) : "-";
}

// Typed reads that never throw: hearthd's answer is checked like any input.
bool Bool(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
json Field(const json& j, const char* k) {
  auto it = j.find(k);
  return it == j.end() ? json() : *it;
}

struct StatusArgs {
  std::string endpoint, config;
};

int StatusCmd(Globals& g, const StatusArgs& a) {
  std::string endpoint = a.endpoint, dir = g.replica, why;
  if (!a.config.empty()) {
    auto c = hearthd::LoadConfig(a.config);
    if (!c.ok()) Fail(kExitUsage, "--config: " + c.status().message());
    if (endpoint.empty()) endpoint = c->metrics;
    dir = c->replica;  // the daemon's replica (with no -C: hearthd's own)
    if (endpoint.empty()) why = a.config + " sets no `metrics` endpoint, so hearthd serves no /status";
  }
  json doc;
  if (!endpoint.empty()) {
    auto body = HttpGetStatus(ParsePort(endpoint));
    if (body.ok()) {
      try {
        doc = json::parse(*body);
        if (!doc.is_object() || !doc.contains("node") || !doc["node"].is_object()) {
          why = "hearthd at " + endpoint + " answered a document without a node";
          doc = json();
        }
      } catch (const json::exception&) {
        why = "hearthd at " + endpoint + " answered something that is not JSON";
        doc = json();
      }
    } else {
      why = "hearthd at " + endpoint + ": " + body.status().message();
    }
  } else if (why.empty()) {
    why = "no --endpoint or --config: hearthd not asked";
  }
  if (doc.is_null()) {
    auto r = OpenReplica(dir);
    doc = FromReplica(*r, dir, why);
  }
  if (g.json) {
    PrintJson(doc);
    return kExitOk;
  }
  if (g.quiet) return kExitOk;
  const json& node = doc["node"];
  std::cout << "node     " << Str(node, "key").substr(0, 16);
  if (!Str(node, "name").empty()) std::cout << " (" << Printable(Str(node, "name")) << ")";
  std::cout << "\npolicy   "
            << (node.contains("policy_version") && node["policy_version"].is_number() ? "v" + Num(node, "policy_version")
                                                                                       : std::string("none"))
            << "   schema v" << Num(node, "schema_version") << "\n";
  std::cout << "source   " << Str(doc, "source");
  if (Str(doc, "source") == "replica") std::cout << " (" << Printable(Str(doc, "why")) << "; peers unknown)";
  std::cout << "\n\n";
  const json peers = doc.contains("peers") && doc["peers"].is_array() ? doc["peers"] : json::array();
  if (Bool(doc, "peers_known")) {
    Table t({"PEER", "KEY", "CONNECTED", "LAST SEEN (UTC)", "LAST SYNC (UTC)", "THEY LACK", "WE LACK"});
    for (const auto& p : peers) {
      if (!p.is_object()) continue;
      auto lag = [&](const char* k) {
        auto it = p.find(k);
        if (it == p.end() || !it->is_object()) return std::string("?");
        const json b = Field(*it, "bytes_estimate");
        return Num(*it, "deltas") + " (~" + HumanBytes(b.is_number_unsigned() ? b.get<uint64_t>() : 0) + ")";
      };
      t.Add({Printable(Str(p, "name").empty() ? "-" : Str(p, "name")), Str(p, "key").substr(0, 16),
             Bool(p, "connected") ? "yes" : "no", UtcText(Field(p, "last_seen_ms")),
             UtcText(Field(p, "last_sync_ms")), lag("behind_out"), lag("behind_in")});
    }
    if (t.size() == 0) std::cout << "no peers configured or seen\n";
    else t.Print();
    std::cout << "\n";
  }
  const json c = doc.contains("counts") && doc["counts"].is_object() ? doc["counts"] : json::object();
  std::cout << "needs a person: conflicts " << Num(c, "conflicts") << ", denied " << Num(c, "denied")
            << ", forked authors " << Num(c, "forked_authors") << ", pending " << Num(c, "pending")
            << ", waiting for a schema " << Num(c, "waiting_schema") << ", held without a key "
            << Num(c, "unreadable") << "\n";
  return kExitOk;
}

}  // namespace

void AddStatusCommands(CLI::App& app, Globals& g) {
  auto* s = app.add_subcommand("status", "This replica's node at a glance: peers, lag, what needs a person");
  auto a = std::make_shared<StatusArgs>();
  s->add_option("--endpoint", a->endpoint, "hearthd's metrics listener, 127.0.0.1:PORT (asks its /status)");
  s->add_option("--config", a->config,
                "hearthd's configuration file: its `metrics` endpoint and its replica (instead of -C)");
  s->footer("Without a reachable hearthd the replica alone answers: peers unknown, counts from the replica.\n"
            "--json prints the /status document (docs/hearthd.md, \"Status\").");
  s->callback([&g, a] { g.action = [&g, a] { return StatusCmd(g, *a); }; });
}

}  // namespace hcli
