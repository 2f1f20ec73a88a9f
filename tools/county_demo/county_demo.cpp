// hearth_demo: one county, four agencies, five real sync daemons (two
// township offices).
//
// What it does (docs/demo.md walks through it step by step):
//   1. The county administrator's root replica signs the default policy
//      (policies/county.toml plus one member per node) and seals each
//      scope's key to its readers; the five nodes (hr, union, civil, and the
//      township offices of 城厢镇 "township" and 始阳镇 "shiyang") receive
//      the signed policy on a "USB stick" (a bundle).
//   2. One `hearthd` per node (fork/exec of the real binary) on 127.0.0.1,
//      CURVE everywhere, in a star around the bureau (hr), the county relay:
//      the one node that may receive every scope and partition.
//   3. The synthetic county (tools/county) is written through the agencies
//      that own each part, into replicas this process opens on the nodes'
//      directories (several processes share one replica); the daemons push
//      it around live. Wait until every node holds what the policy lets it.
//   4. The township goes offline (SIGTERM its daemon). Everybody keeps
//      writing, the township too, and the township and the bureau edit the
//      same workers: an mv field on both sides (a conflict for a person to
//      review) and a counter on both sides (both increments kept).
//   5. The township comes back; wait for convergence again.
//   6. Report: per scope/partition and node, deltas held / readable /
//      withheld (stubs) and a digest of the readable records; what each
//      agency can and cannot read (each township office none of the other's
//      children); the conflicts; the county report seen from hr, civil and
//      each township office (its own township's children only); timings.
//   7. Stop every daemon with SIGTERM (also on any failure; the daemons get
//      SIGTERM if this process dies).
// Exit status 0 only if everything converged and every daemon exited 0.
//
// Uses only the public API (include/hearth) and the county generator
// (tools/county/county.hpp), which uses only the public API too.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "county.hpp"
#include "hearth/bundle.hpp"
#include "hearth/policy.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"

#ifndef HEARTH_HEARTHD_PATH
#define HEARTH_HEARTHD_PATH "hearthd"
#endif
#ifndef HEARTH_POLICY_TEMPLATE
#define HEARTH_POLICY_TEMPLATE "policies/county.toml"
#endif
#ifndef HEARTH_SCHEMAS_DIR
#define HEARTH_SCHEMAS_DIR ""
#endif

using namespace hearth;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------
// Small helpers

struct Failure {
  std::string what;
};

volatile std::sig_atomic_t g_interrupted = 0;
void OnSignal(int) { g_interrupted = 1; }

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) throw Failure{what + ": " + r.status().ToString()};
  return std::move(r).value();
}
void Must(const Status& s, const std::string& what) {
  if (!s.ok()) throw Failure{what + ": " + s.ToString()};
}

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string Num(uint64_t v) {  // 48500 -> "48,500"
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string Bytes(uint64_t b) {
  char buf[32];
  if (b >= (uint64_t{1} << 20)) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1048576.0);
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f KB", b / 1024.0);
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " B", b);
  return buf;
}

// `s` padded with spaces to `cols` terminal columns (CJK characters take
// two columns, and three bytes in UTF-8: printf's widths count bytes).
std::string PadTo(const std::string& s, size_t cols) {
  size_t w = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) ++w;
    else if ((c & 0xf0) == 0xe0) w += 2;  // 3-byte sequences: CJK here
    else if ((c & 0xc0) == 0xc0) ++w;     // other lead bytes
  }
  return w >= cols ? s : s + std::string(cols - w, ' ');
}

// FNV-1a, 64 bits: a digest of the records of one scope as one node reads
// them (Replica::Digest covers every record a node holds, and nodes that may
// read different scopes hold different records).
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void Add(std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  }
};

void HashRecord(Fnv& f, const Record& r) {
  f.Add(r.collection);
  f.Add(r.id.ToHex());
  f.Add(r.deleted ? "deleted" : "live");
  for (const auto& [name, v] : r.fields) {
    f.Add(name);
    f.Add(std::to_string(static_cast<int>(v.kind)));
    f.Add(v.value.ToString());
    for (const Value& x : v.values) f.Add(x.ToString());
    f.Add(std::to_string(v.count));
    for (const LogEntry& e : v.log) {
      f.Add(std::to_string(e.hlc));
      f.Add(e.author.ToHex());
      f.Add(e.value.ToString());
    }
    f.Add(std::to_string(v.hlc));
    f.Add(v.author.ToHex());
  }
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw Failure{"cannot find a free port on 127.0.0.1"};
  }
  close(fd);
  return ntohs(a.sin_port);
}

// GET http://127.0.0.1:port/path (hearthd's /metrics); nullopt on any error.
std::optional<std::string> HttpGet(int port, const char* path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = std::string("GET ") + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  auto body = out.find("\r\n\r\n");
  if (out.rfind("HTTP/1.", 0) != 0 || out.find(" 200") > out.find('\n') || body == std::string::npos) {
    return std::nullopt;
  }
  return out.substr(body + 4);
}

// Sum of every sample of a Prometheus metric (all peers).
uint64_t MetricSum(const std::string& text, const std::string& name) {
  uint64_t sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    char c = line[name.size()];
    if (c != '{' && c != ' ') continue;
    sum += std::strtoull(line.substr(line.rfind(' ') + 1).c_str(), nullptr, 10);
  }
  return sum;
}

// ---------------------------------------------------------------------------
// The nodes and their daemons

struct Traffic {
  bool ok = false;
  uint64_t bytes_in = 0, bytes_out = 0;
};

struct Node {
  std::string name;      // hr, union, civil, township
  std::string label;     // for people
  std::string dir;       // replica directory
  std::unique_ptr<Replica> replica;  // this process's handle (hearthd has its own)
  AuthorId key;
  // hearthd
  int port = 0, metrics_port = 0;
  std::string config, log;
  pid_t pid = -1;
  bool online = false;
  int last_exit = 0;

  Traffic Metrics() const {
    Traffic t;
    if (pid <= 0) return t;
    auto m = HttpGet(metrics_port, "/metrics");
    if (!m) return t;
    t.ok = true;
    t.bytes_in = MetricSum(*m, "hearth_peer_bytes_in_total");
    t.bytes_out = MetricSum(*m, "hearth_peer_bytes_out_total");
    return t;
  }
};

std::string TailOf(const std::string& path, size_t bytes = 1500) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.size() > bytes ? "..." + s.substr(s.size() - bytes) : s;
}

const char* kPassEnv = "HEARTH_DEMO_PASSPHRASE";
const char* kPassphrase = "demo only: 天全县 2026";  // real nodes keep theirs out of the code

void StartDaemon(Node& n) {
  int logfd = open(n.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logfd < 0) throw Failure{"cannot open " + n.log};
  const size_t log_size_before = fs::file_size(n.log);
  pid_t pid = fork();
  if (pid < 0) throw Failure{"fork failed"};
  if (pid == 0) {
    // Child: its own process group (a Ctrl-C in the terminal reaches only
    // the demo, which stops the daemons in order), SIGTERM if the demo dies,
    // logs to the node's file.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    dup2(logfd, 1);
    dup2(logfd, 2);
    setenv(kPassEnv, kPassphrase, 1);
    execl(HEARTH_HEARTHD_PATH, "hearthd", "--config", n.config.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "exec %s failed: %s\n", HEARTH_HEARTHD_PATH, std::strerror(errno));
    _exit(127);
  }
  close(logfd);
  n.pid = pid;
  // Ready when it logs "hearthd running" (after listening and connecting).
  auto t0 = Clock::now();
  while (true) {
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      n.pid = -1;
      throw Failure{"hearthd of " + n.name + " exited at start:\n" + TailOf(n.log)};
    }
    std::ifstream in(n.log);
    in.seekg(static_cast<std::streamoff>(log_size_before));
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (s.find("hearthd running") != std::string::npos) break;
    if (Since(t0) > 30 || g_interrupted) throw Failure{"hearthd of " + n.name + " did not start:\n" + TailOf(n.log)};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  n.online = true;
}

// SIGTERM, then wait (SIGKILL after `grace`). Returns the exit code, or
// 128 + signal when it was killed.
int StopDaemon(Node& n, double grace = 20) {
  if (n.pid <= 0) return n.last_exit;
  kill(n.pid, SIGTERM);
  auto t0 = Clock::now();
  int st = 0, code = -1;
  while (true) {
    pid_t r = waitpid(n.pid, &st, WNOHANG);
    if (r == n.pid || r < 0) break;
    if (Since(t0) > grace) {
      kill(n.pid, SIGKILL);
      waitpid(n.pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  n.pid = -1;
  n.online = false;
  n.last_exit = code;
  return code;
}

// `peers`: the nodes this one dials (none: it only listens).
void WriteConfig(Node& n, const std::vector<const Node*>& peers) {
  std::ofstream f(n.config);
  f << "# hearthd configuration of the " << n.label << " node, written by hearth_demo.\n"
    << "replica = \"" << n.dir << "\"\n"
    << "listen = \"tcp://127.0.0.1:" << n.port << "\"\n"
    << "log_level = \"info\"\n"
    << "passphrase_env = \"" << kPassEnv << "\"\n"
    << "metrics = \"127.0.0.1:" << n.metrics_port << "\"\n\n";
  for (const Node* peer : peers) {
    f << "[[peers]]\n"
      << "name = \"" << peer->label << "\"\n"
      << "endpoint = \"tcp://127.0.0.1:" << peer->port << "\"\n"
      << "key = \"" << peer->key.ToHex() << "\"\n\n";
  }
  f << "[sync]\nheartbeat_ms = 1000\nidle_timeout_ms = 10000\ntick_ms = 50\nheads_poll_ms = 100\n";
  if (!f) throw Failure{"cannot write " + n.config};
}

// ---------------------------------------------------------------------------
// Convergence: which deltas each node should hold, and which as bodies.
//
// Feeds never stop for a peer (docs/protocol.md, "What is sent to whom"):
// where a peer may not receive a delta's scope (or partition) it gets the
// stub, so over the links that are up every node ends up at the highest
// seq of every author that any node connected to it holds. Bodies travel
// only through nodes that may hold them: node N holds the body of delta d
// when a neighbour M holds it and N may receive d's header scope (read or
// relay; $policy/$schema/$keys always), iterated to a fixed point; every
// other delta of the feed it holds as a stub (withheld). Converged = every
// online node holds exactly those heads and those bodies, nothing pending.

class Network {
 public:
  Network(std::vector<Node>& nodes, const Policy& policy) : nodes_(nodes), policy_(policy) {}

  struct DeltaMeta {
    std::string scope;
    uint64_t size = 0;
  };
  // Header scope ("scope" or "scope/partition") and full size of delta
  // (author, seq), read from a node that holds its body (else from a stub:
  // the stub's bytes plus the body size it names).
  const DeltaMeta& MetaOf(const AuthorId& a, uint64_t seq) {
    auto key = std::make_pair(a, seq);
    auto it = meta_.find(key);
    if (it != meta_.end()) return it->second;
    std::optional<DeltaMeta> from_stub;
    // Describe decrypts when it can: ask the nodes least likely to read first.
    for (const char* who : {"union", "hr", "civil", "township", "shiyang"}) {
      Node& n = ByName(who);
      auto d = n.replica->GetDelta(a, seq);
      if (!d.ok()) continue;
      auto info = Must(inspect::Describe(*n.replica, *d), "describing a delta");
      if (info.withheld) {
        if (!from_stub) from_stub = DeltaMeta{info.scope, d->size() + info.body_size};
        continue;
      }
      return meta_.emplace(key, DeltaMeta{info.scope, d->size()}).first->second;
    }
    // Only stubs so far: not cached, a body may arrive later.
    if (from_stub) return stub_meta_[key] = *from_stub;
    throw Failure{"delta " + a.ToHex().substr(0, 16) + "/" + std::to_string(seq) + " is held by no node"};
  }
  const std::string& ScopeOf(const AuthorId& a, uint64_t seq) { return MetaOf(a, seq).scope; }

  // Deltas that reached each node from others between two snapshots of
  // every node's heads, and their bytes.
  std::pair<uint64_t, uint64_t> Delivered(const std::vector<Heads>& before, const std::vector<Heads>& after) {
    uint64_t count = 0, bytes = 0;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      for (const auto& [a, h] : after[i]) {
        if (a == nodes_[i].key) continue;  // its own writes
        auto b = before[i].find(a);
        for (uint64_t seq = (b == before[i].end() ? 0 : b->second.seq) + 1; seq <= h.seq; ++seq) {
          ++count;
          bytes += MetaOf(a, seq).size;
        }
      }
    }
    return {count, bytes};
  }

  std::vector<Heads> Snapshot() const {
    std::vector<Heads> v;
    for (const Node& n : nodes_) v.push_back(n.replica->GetHeads().value());
    return v;
  }

  bool MayReceive(const Node& n, const std::string& scope) {
    auto key = std::make_pair(n.name, scope);
    auto it = may_receive_.find(key);
    if (it != may_receive_.end()) return it->second;
    bool ok = scope == kPolicyScope || scope == kKeysScope || scope == kSchemaScope || policy_.MayReceive(n.key, scope);
    return may_receive_.emplace(key, ok).first->second;
  }

  Node& ByName(const std::string& name) {
    for (Node& n : nodes_) {
      if (n.name == name) return n;
    }
    throw Failure{"no node " + name};
  }

  // Links of the star around the county relay (nodes_[0], hr), between
  // online nodes.
  std::vector<std::pair<size_t, size_t>> Links() const {
    std::vector<std::pair<size_t, size_t>> l;
    for (size_t i = 1; i < nodes_.size(); ++i) {
      if (nodes_[0].online && nodes_[i].online) l.emplace_back(0, i);
    }
    return l;
  }

  // The deltas a node holds as stubs (withheld: no body).
  std::set<std::pair<AuthorId, uint64_t>> WithheldAt(const Node& n) const {
    std::set<std::pair<AuthorId, uint64_t>> w;
    for (const auto& x : Must(n.replica->Withheld(), "listing withheld deltas at " + n.name)) w.emplace(x.author, x.seq);
    return w;
  }

  struct Progress {
    bool converged = true;
    uint64_t held = 0, expected = 0;
    std::vector<std::pair<uint64_t, uint64_t>> per_node;  // held, expected
  };

  // Nodes that are offline count as they are (they neither send nor receive).
  // Progress counts feed positions plus bodies, held and expected.
  Progress Check() {
    using DeltaKey = std::pair<AuthorId, uint64_t>;
    const size_t n = nodes_.size();
    std::vector<Heads> held(n);
    std::vector<std::map<AuthorId, uint64_t>> reach(n);
    std::vector<std::set<DeltaKey>> bodies(n), want(n);  // held now, expected
    std::set<AuthorId> authors;
    for (size_t i = 0; i < n; ++i) {
      held[i] = nodes_[i].replica->GetHeads().value();
      auto withheld = WithheldAt(nodes_[i]);
      for (const auto& [a, h] : held[i]) {
        reach[i][a] = h.seq;
        authors.insert(a);
        for (uint64_t seq = 1; seq <= h.seq; ++seq) {
          if (!withheld.count({a, seq})) bodies[i].emplace(a, seq);
        }
      }
      want[i] = bodies[i];
    }
    auto links = Links();
    for (bool changed = true; changed;) {
      changed = false;
      for (auto [x, y] : links) {
        for (auto [from, to] : {std::make_pair(x, y), std::make_pair(y, x)}) {
          for (const AuthorId& a : authors) {
            uint64_t offer = reach[from].count(a) ? reach[from][a] : 0;
            if (offer > (reach[to].count(a) ? reach[to][a] : 0)) {
              reach[to][a] = offer;  // a body or a stub: the feed goes on
              changed = true;
            }
          }
          for (const DeltaKey& d : want[from]) {
            if (want[to].count(d) || !MayReceive(nodes_[to], ScopeOf(d.first, d.second))) continue;
            want[to].insert(d);
            changed = true;
          }
        }
      }
    }
    Progress p;
    for (size_t i = 0; i < n; ++i) {
      uint64_t h = bodies[i].size(), e = want[i].size();
      for (const AuthorId& a : authors) {
        auto it = held[i].find(a);
        h += it == held[i].end() ? 0 : it->second.seq;
        e += reach[i].count(a) ? reach[i][a] : 0;
      }
      if (h != e || bodies[i] != want[i] || inspect::Stats(*nodes_[i].replica).value().pending != 0) p.converged = false;
      p.per_node.emplace_back(h, e);
      p.held += h;
      p.expected += e;
    }
    return p;
  }

  // Waits until Check() says converged; prints progress now and then.
  // Returns the seconds it took, or throws.
  double WaitConverged(const std::string& what, double timeout) {
    auto t0 = Clock::now(), last_print = t0;
    while (true) {
      if (g_interrupted) throw Failure{"interrupted"};
      for (Node& nd : nodes_) {
        int st = 0;
        if (nd.pid > 0 && waitpid(nd.pid, &st, WNOHANG) == nd.pid) {
          nd.pid = -1;
          nd.online = false;
          throw Failure{"hearthd of " + nd.name + " died:\n" + TailOf(nd.log)};
        }
      }
      Progress p = Check();
      if (p.converged) return Since(t0);
      if (Since(t0) > timeout) {
        std::string s = what + ": not converged after " + std::to_string(static_cast<int>(timeout)) + " s (held/expected:";
        for (size_t i = 0; i < nodes_.size(); ++i) {
          s += " " + nodes_[i].name + " " + std::to_string(p.per_node[i].first) + "/" +
               std::to_string(p.per_node[i].second);
        }
        throw Failure{s + ")"};
      }
      if (std::chrono::duration<double>(Clock::now() - last_print).count() > 3) {
        last_print = Clock::now();
        std::printf("   ... %s: %s of %s feed positions and bodies in place (", what.c_str(), Num(p.held).c_str(), Num(p.expected).c_str());
        for (size_t i = 0; i < nodes_.size(); ++i) {
          std::printf("%s%s %s/%s", i ? ", " : "", nodes_[i].name.c_str(), Num(p.per_node[i].first).c_str(),
                      Num(p.per_node[i].second).c_str());
        }
        std::printf(")\n");
        std::fflush(stdout);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

 private:
  std::vector<Node>& nodes_;
  const Policy& policy_;
  std::map<std::pair<AuthorId, uint64_t>, DeltaMeta> meta_, stub_meta_;
  std::map<std::pair<std::string, std::string>, bool> may_receive_;
};

// ---------------------------------------------------------------------------
// Reading records

struct Conflict {
  std::string collection;
  RecordId id;
  std::string field;
  std::vector<Value> values;
};

std::vector<Conflict> Conflicts(const Replica& r) {
  std::vector<Conflict> out;
  for (const CollectionSpec& c : r.schema().collections()) {
    Status s = r.Scan(c.name, [&](const Record& rec) {
      for (const auto& [name, f] : rec.fields) {
        if (f.conflict()) out.push_back({c.name, rec.id, name, f.values});
      }
      return true;
    });
    (void)s;  // a scope this node cannot read has no records: nothing to scan
  }
  return out;
}

std::vector<RecordId> FirstIds(const Replica& r, const std::string& collection, size_t n) {
  std::vector<RecordId> ids;
  Must(r.Scan(collection,
              [&](const Record& rec) {
                ids.push_back(rec.id);
                return ids.size() < n;
              }),
       "scanning " + collection);
  return ids;
}

// The first n ids of `collection` in `partition` (docs/policy.md,
// "Partitioned scopes": the id's first 4 bytes say it).
std::vector<RecordId> FirstIdsIn(const Replica& r, const std::string& collection, size_t n, std::string_view partition) {
  std::vector<RecordId> ids;
  Must(r.Scan(collection,
              [&](const Record& rec) {
                if (RecordInPartition(rec.id, partition)) ids.push_back(rec.id);
                return ids.size() < n;
              }),
       "scanning " + collection);
  return ids;
}

// "王伟 (…9f2a61c0)": the name and the end of the id (ids start with a
// timestamp, so records made together share their first digits).
std::string WorkerName(const Replica& r, const RecordId& id) {
  auto rec = r.Get("worker", id);
  const FieldValue* name = rec.ok() ? rec->Find("name") : nullptr;
  std::string n = name && name->value.type() == ValueType::kString ? name->value.as_string() : "?";
  return n + " (…" + id.ToHex().substr(24) + ")";
}

int64_t Now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Per scope, what one node holds: deltas, how many it can decrypt, and a
// digest and count of the records it reads.
struct ScopeView {
  uint64_t held = 0, readable = 0, records = 0;
  uint64_t stubs = 0;  // withheld deltas (stubs): not held, never readable
  uint64_t digest = 0;
  // Header scopes ("scope" or "scope/partition", docs/policy.md
  // "Partitioned scopes") of the deltas held, and of those readable.
  std::set<std::string> held_parts, readable_parts;
  bool whole() const { return readable != 0 && readable == held; }
};

// One row of the holdings table: a scope, or one partition of a
// partitioned scope (the demo's two townships each, the 13 others together).
struct RowView {
  uint64_t held = 0, readable = 0, stubs = 0;
};

// The row a header scope counts in: "civil.children/城厢镇",
// "civil.children/始阳镇", "civil.children/(13 others)", or the scope.
std::string RowOf(std::string_view header_scope, const Policy& policy) {
  auto [scope, part] = SplitScope(header_scope);
  if (part.empty()) return std::string(scope);
  if (part == "城厢镇" || part == "始阳镇") return std::string(header_scope);
  const ScopeSpec* spec = policy.FindScope(scope);
  size_t others = spec && spec->partitions.size() >= 2 ? spec->partitions.size() - 2 : 0;
  return std::string(scope) + "/(" + std::to_string(others) + " others)";
}

std::map<std::string, ScopeView> ViewOf(Node& n, Network& net, const std::vector<std::string>& scopes,
                                        const Policy& policy, std::map<std::string, RowView>* rows) {
  std::map<std::string, ScopeView> v;
  for (const std::string& s : scopes) v[s];
  std::map<std::string, std::pair<AuthorId, uint64_t>> sample;  // a delta of each header scope
  std::map<std::string, uint64_t> count_of;                      // deltas per header scope
  // Stubs of deltas this node may not receive (docs/policy.md, "What a stub
  // reveals"): in the feed, but no body: counted apart from what it holds.
  std::set<std::pair<AuthorId, uint64_t>> withheld;
  for (const auto& w : Must(n.replica->Withheld(), "listing withheld deltas")) withheld.emplace(w.author, w.seq);
  for (const auto& [a, h] : n.replica->GetHeads().value()) {
    for (uint64_t seq = 1; seq <= h.seq; ++seq) {
      const std::string& hs = net.ScopeOf(a, seq);
      const std::string s(SplitScope(hs).first);
      if (!v.count(s)) continue;  // $policy, $keys
      if (withheld.count({a, seq})) {
        ++v[s].stubs;
        ++(*rows)[RowOf(hs, policy)].stubs;
        continue;
      }
      ++v[s].held;
      ++(*rows)[RowOf(hs, policy)].held;
      v[s].held_parts.insert(hs);
      ++count_of[hs];
      sample.emplace(hs, std::make_pair(a, seq));
    }
  }
  // A node holds the key of a scope (or of one partition) for all of it or
  // none of it (one epoch here): ask Describe about one delta of each.
  for (const auto& [hs, at] : sample) {
    auto d = Must(n.replica->GetDelta(at.first, at.second), "reading a delta");
    if (Must(inspect::Describe(*n.replica, d), "describing a delta").readable) {
      ScopeView& view = v[std::string(SplitScope(hs).first)];
      view.readable += count_of[hs];
      view.readable_parts.insert(hs);
      (*rows)[RowOf(hs, policy)].readable += count_of[hs];
    }
  }
  for (const CollectionSpec& c : n.replica->schema().collections()) {
    auto it = v.find(c.scope);
    if (it == v.end() || it->second.readable == 0) continue;
    Fnv f;
    uint64_t count = 0;
    Must(n.replica->Scan(c.name,
                         [&](const Record& r) {
                           HashRecord(f, r);
                           ++count;
                           return true;
                         }),
         "scanning " + c.name);
    it->second.records += count;
    it->second.digest = it->second.digest * 31 + f.h;
  }
  return v;
}

void Usage(FILE* to) {
  std::fprintf(to,
               "usage: hearth_demo [--out DIR] [--scale X] [--seed N] [--keep-running] [--help]\n"
               "\n"
               "The four-agency demo (docs/demo.md): a county root signs the access policy;\n"
               "five nodes (hr, union, civil, and two township offices: township = 城厢镇,\n"
               "shiyang = 始阳镇) each run a real hearthd on 127.0.0.1 (CURVE, a star around\n"
               "hr, the county relay); the synthetic county is written through the agencies\n"
               "that own each part; the 城厢镇 office goes offline while everyone keeps writing\n"
               "(concurrent edits on both sides), comes back, and every node converges.\n"
               "Then it prints what each node holds (bodies read, sealed, stubs) per scope and\n"
               "partition, checks that neither township office reads the other's children, and\n"
               "prints the conflicts, the county report from hr, civil and each township\n"
               "office, and the sync timings.\n"
               "\n"
               "  --out DIR       where the replicas, configs and logs go (default out/demo;\n"
               "                  wiped first). A bare DIR argument means the same.\n"
               "  --scale X       size of the county, 1.0 = the seed article's county\n"
               "                  (48,500 workers, ...; the default: about 3 minutes on 2 cores)\n"
               "  --seed N        generator seed (same seed, same records)\n"
               "  --keep-running  leave the five daemons running after the report, until\n"
               "                  Ctrl-C (then they are stopped cleanly)\n"
               "  --help          this text\n"
               "\n"
               "Exit status: 0 when every node converged and every daemon stopped cleanly.\n");
}

// ---------------------------------------------------------------------------

// The demo's state, shared between its phases; Run calls them in order.
// Daemons get SIGTERM on every way out of Run (see main) and on our death:
// the destructor stops them.
struct Demo {
  // Options.
  std::string out = "out/demo";
  double scale = 1.0;
  uint64_t seed = county::CountyOptions{}.seed;
  bool keep_running = false;
  Clock::time_point t_start;
  // 1. The county root, the four nodes, the signed policy.
  std::unique_ptr<Replica> root;
  std::vector<Node> nodes;
  Policy policy;
  // 3. The load.
  std::unique_ptr<Network> net;  // refers to nodes and policy
  std::vector<Heads> before_load, after_load;
  uint64_t records = 0;
  double load_s = 0, timeout = 0, converge_load_s = 0;
  Traffic wire_load;  // every daemon's sessions so far: the load
  // 4. The outage.
  std::vector<RecordId> workers, cases;
  RecordId shiyang_activity;
  std::map<RecordId, int64_t> visits_before;
  int64_t recovered_before = 0;
  double partial_s = 0;
  std::vector<Heads> before_return;
  // 5. The township's return.
  double converge_back_s = 0;
  Traffic wire_back;
  std::pair<uint64_t, uint64_t> delivered_back;
  // 6. The report.
  bool digests_agree = true;

  Demo() = default;
  Demo(const Demo&) = delete;
  Demo& operator=(const Demo&) = delete;
  ~Demo() {
    for (Node& n : nodes) StopDaemon(n, 10);
  }

  // The command line. An exit status when Run should return at once
  // (--help, a wrong option).
  std::optional<int> ParseOptions(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw Failure{"missing value after " + a};
        return argv[++i];
      };
      if (a == "--help" || a == "-h") {
        Usage(stdout);
        return 0;
      } else if (a == "--out") {
        out = next();
      } else if (a == "--scale") {
        std::string v = next();
        char* end = nullptr;
        scale = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || *end != 0 || !(scale > 0) || scale > 4) throw Failure{"--scale: a number in (0, 4]"};
      } else if (a == "--seed") {
        seed = std::strtoull(next().c_str(), nullptr, 10);
      } else if (a == "--keep-running") {
        keep_running = true;
      } else if (!a.empty() && a[0] != '-') {
        out = a;
      } else {
        Usage(stderr);
        return 2;
      }
    }
    return std::nullopt;
  }

  // Wipe and create the output directory.
  void PrepareOutput() {
    t_start = Clock::now();
    std::error_code ec;
    fs::remove_all(out, ec);
    fs::create_directories(out);
    out = fs::absolute(out).lexically_normal().string();
    std::printf("Hearth county demo (four agencies, five nodes): county scale %.3g, seed %" PRIu64 ", in %s\n\n", scale, seed, out.c_str());
  }

  void SetUpNodesAndPolicy() {
    // --- 1. The county root, four nodes, the signed policy ---------------------
    std::printf("1. County root, five nodes, the signed access policy\n");
    Schema schema = Must(county::LoadSchemaPack(HEARTH_SCHEMAS_DIR), "loading the schema pack");
    ReplicaOptions base;
    base.schema = schema;
    base.passphrase = kPassphrase;          // identities at rest are Argon2id-protected
    base.durability = Durability::kNoSync;  // this process's writes (the daemons keep kSync)
    ReplicaOptions root_opts = base;
    root_opts.is_root = true;
    root = Must(Replica::Open(out + "/county-root", root_opts), "creating the county root");

    nodes.resize(5);
    const char* names[] = {"hr", "union", "civil", "township", "shiyang"};
    const char* labels[] = {"县人社局 labour bureau", "县总工会 trade union", "县民政局 civil affairs",
                            "城厢镇 township office", "始阳镇 township office"};
    for (size_t i = 0; i < nodes.size(); ++i) {
      Node& n = nodes[i];
      n.name = names[i];
      n.label = labels[i];
      n.dir = out + "/" + n.name;
      ReplicaOptions o = base;
      o.root = root->author();
      n.replica = Must(Replica::Open(n.dir, o), "creating the " + n.name + " replica");
      n.key = n.replica->author();
      n.config = out + "/" + n.name + ".toml";
      n.log = out + "/" + n.name + ".log";
    }
    Node& hr = nodes[0];
    Node& un = nodes[1];
    Node& civil = nodes[2];
    Node& town = nodes[3];
    Node& shiyang = nodes[4];

    policy = Must(Policy::LoadFile(HEARTH_POLICY_TEMPLATE), "loading " HEARTH_POLICY_TEMPLATE);
    // Members: the bureau's node belongs to its labour inspectors (they write
    // wage cases); the township office has child-care staff.
    Must(policy.AddMember({hr.key, "县人社局", "hr", "", {"labour_inspector"}, std::nullopt}), "member hr");
    Must(policy.AddMember({un.key, "县总工会", "union", "", {}, std::nullopt}), "member union");
    Must(policy.AddMember({civil.key, "县民政局", "civil", "", {}, std::nullopt}), "member civil");
    Must(policy.AddMember({town.key, "城厢镇便民服务中心", "township", "城厢镇", {"child_care"}, std::nullopt}),
         "member township");
    Must(policy.AddMember({shiyang.key, "始阳镇便民服务中心", "township", "始阳镇", {"child_care"}, std::nullopt}),
         "member shiyang");
    // The policy is the template as it stands: no extra relay grants. Feeds
    // no longer stop at a delta a peer may not receive (it gets the stub), so
    // no node needs rights on scopes it has no business holding.
    auto published = Must(root->PublishPolicy(policy), "publishing the policy");
    // The administrator carries the signed policy and the key envelopes to the
    // offices on a USB stick: a bundle, imported through the same checks as sync.
    const std::string bundle = out + "/policy.bundle";
    auto exported = Must(ExportBundle(*root, {}, bundle), "exporting the policy bundle");
    for (Node& n : nodes) Must(ImportBundle(*n.replica, bundle), "importing the policy at " + n.name);
    std::printf("   county root %.16s signed policy v%" PRIu64 " (%zu members, %zu scopes, %zu grants): %" PRIu64
                " deltas, %s bundle\n",
                root->author().ToHex().c_str(), policy.version(), policy.members().size(), policy.scopes().size(),
                policy.grants().size(), published.last_seq, Bytes(exported.bytes).c_str());
    for (const Node& n : nodes) {
      const Member* m = policy.FindMember(n.key);
      std::string roles;
      for (const std::string& r : m->roles) roles += (roles.empty() ? " roles " : ",") + r;
      std::printf("   %-9s %.16s  %s%s\n", n.name.c_str(), n.key.ToHex().c_str(), n.label.c_str(), roles.c_str());
    }
  }

  void StartDaemons() {
    // --- 2. Five daemons -------------------------------------------------------
    std::printf("\n2. Five hearthd processes on 127.0.0.1, CURVE, a star: union, civil, township, shiyang -> hr\n"
                "   (hr, the county relay, may receive every scope and partition: every body reaches every\n"
                "   node entitled to it in one hop; docs/demo.md, \"Why a star\")\n");
    for (Node& n : nodes) {
      n.port = FreePort();
      n.metrics_port = FreePort();
    }
    WriteConfig(nodes[0], {});  // hr listens; the offices dial it
    for (size_t i = 1; i < nodes.size(); ++i) WriteConfig(nodes[i], {&nodes[0]});
    auto t_daemons = Clock::now();
    for (Node& n : nodes) StartDaemon(n);
    for (const Node& n : nodes) {
      std::printf("   %-9s pid %-7d listen :%d  metrics :%d  config %s\n", n.name.c_str(), n.pid, n.port, n.metrics_port,
                  fs::path(n.config).filename().c_str());
    }
    std::printf("   all up in %.1f s\n", Since(t_daemons));
    std::fflush(stdout);
  }

  void LoadCounty() {
    Node& hr = nodes[0];
    Node& un = nodes[1];
    Node& civil = nodes[2];
    Node& town = nodes[3];
    // --- 3. Load the county through the agencies that own each part -----------
    std::printf("\n3. Loading the synthetic county through the agencies (scale %.3g), daemons syncing live\n", scale);
    std::fflush(stdout);
    county::CountyOptions co;
    co.seed = seed;
    co.scale = scale;
    county::AgencyReplicas ar;
    ar.hr = hr.replica.get();
    ar.union_ = un.replica.get();
    ar.civil = civil.replica.get();
    ar.township = town.replica.get();
    net = std::make_unique<Network>(nodes, policy);
    before_load = net->Snapshot();
    auto t_load = Clock::now();
    county::CountySummary summary = Must(county::GenerateCounty(co, ar), "generating the county");
    load_s = Since(t_load);
    records = 0;
    for (const auto& [c, k] : summary.records) records += k;
    std::printf("   written: %s records, %s ops, %s deltas in %.1f s", Num(records).c_str(), Num(summary.ops).c_str(),
                Num(summary.deltas).c_str(), load_s);
    std::string top;
    {
      std::vector<std::pair<uint64_t, std::string>> by;
      for (const auto& [c, k] : summary.records) by.emplace_back(k, c);
      std::sort(by.rbegin(), by.rend());
      for (size_t i = 0; i < by.size() && i < 4; ++i) top += (i ? ", " : "") + Num(by[i].first) + " " + by[i].second;
    }
    std::printf(" (%s, ...)\n", top.c_str());
    // The 始阳镇 office registers a companion home of its own township and
    // its children (child_care, partition "own"): at small scales the
    // generator's homes (one per township in turn) may all be 城厢镇's.
    {
      Node& shiyang = nodes[4];
      const char* kids[] = {"小雨", "子涵", "浩然"};
      Must(shiyang.replica->Write([&](WriteBatch& b) {
             RecordId home = NewRecordIdIn("始阳镇");
             b.Set("companion_home", home, "name", "始阳镇 demo 童伴之家")
                 .Set("companion_home", home, "township", "始阳镇")
                 .Set("companion_home", home, "date", Timestamp{Now()});
             for (const char* k : kids) {
               RecordId c = NewRecordIdIn("始阳镇");
               b.Set("child", c, "name", k)
                   .Set("child", c, "home", home)
                   .Set("child", c, "township", "始阳镇")
                   .Set("child", c, "date", Timestamp{Now()})
                   .Set("child", c, "guardian", "grandparents");
             }
           }),
           "the 始阳镇 office registers its children");
      std::printf("   the 始阳镇 office registered a companion home and %zu children of its township\n", std::size(kids));
    }
    std::fflush(stdout);
    timeout = 60 + 600 * scale;
    converge_load_s = net->WaitConverged("sync after load", timeout);
    after_load = net->Snapshot();
    for (const Node& n : nodes) {
      Traffic t = n.Metrics();
      wire_load.ok = t.ok && (wire_load.ok || &n == &nodes.front());
      wire_load.bytes_out += t.bytes_out;
    }
    std::printf("   converged %.1f s after the load finished (%.1f s after it started)\n", converge_load_s,
                load_s + converge_load_s);
    // The township office reads its own township's workers and children only
    // (partitioned scopes): its report shows the generator's figures for the
    // scopes it reads whole, and its own township's share of the others.
    {
      auto rep = Must(county::ComputeReport(*town.replica), "county report at the township");
      size_t match = 0, total = 0;
      std::vector<std::string> differ;
      for (const auto& [key, value] : summary.figures) {
        const county::Figure* f = rep.Find(key);
        ++total;
        if (f && f->available && f->value == value) ++match;
        else differ.push_back(key);
      }
      std::printf("   township report vs generator: %zu of %zu figures equal%s\n", match, total,
                  differ.empty() ? "" : (" (differ: " + differ.front() + (differ.size() > 1 ? ", ..." : "") + ")").c_str());
    }
    std::fflush(stdout);
  }

  void Outage() {
    Node& hr = nodes[0];
    Node& un = nodes[1];
    Node& civil = nodes[2];
    Node& town = nodes[3];
    // --- 4. The township goes offline; everybody keeps writing ----------------
    std::printf("\n4. The township office goes offline (SIGTERM); everybody keeps writing\n");
    int code = StopDaemon(town);
    std::printf("   township hearthd stopped, exit %d\n", code);
    if (code != 0) throw Failure{"township hearthd exit " + std::to_string(code) + ":\n" + TailOf(town.log)};
    const size_t kShared = 3;  // workers both the bureau and the township edit
    // Workers of the township office's own township (城厢镇): under the
    // partitioned policy it may write no other township's.
    workers = FirstIdsIn(*hr.replica, "worker", kShared, "城厢镇");
    cases = FirstIds(*hr.replica, "wage_case", 1);
    auto homes = FirstIdsIn(*civil.replica, "companion_home", 1, "城厢镇");
    auto stations = FirstIds(*un.replica, "outdoor_station", 1);
    if (workers.size() < kShared || cases.empty() || homes.empty() || stations.empty()) {
      throw Failure{"the county is too small for the outage step (try a larger --scale)"};
    }
    for (const RecordId& w : workers) {
      Record r = Must(hr.replica->Get("worker", w), "reading a worker");
      visits_before[w] = r.Find("visits") ? r.Find("visits")->count : 0;
    }
    recovered_before = [&] {
      auto r = Must(hr.replica->Get("wage_case", cases[0]), "reading a wage case");
      return r.Find("recovered_fen") ? r.Find("recovered_fen")->count : 0;
    }();
    // The bureau, online: the shared workers now work in the city; one home
    // visit each; a recovered payment on a wage case; a new registration.
    Must(hr.replica->Write([&](WriteBatch& b) {
           for (const RecordId& w : workers) {
             b.Set("worker", w, "work_area", "city").Increment("worker", w, "visits", 1);
           }
           b.Increment("wage_case", cases[0], "recovered_fen", 500'000)
               .Append("wage_case", cases[0], "notes", "labour inspection: employer paid 5,000 yuan");
           RecordId nw = NewRecordIdIn("始阳镇");
           b.Set("worker", nw, "name", "赵志强").Set("worker", nw, "township", "始阳镇").Set("worker", nw, "date", Timestamp{Now()});
         }),
         "hr writes while the township is offline");
    // The union counts visitors at a station; civil affairs records an activity.
    Must(un.replica->Write([&](WriteBatch& b) { b.Increment("outdoor_station", stations[0], "visits", 25); }),
         "union writes");
    RecordId activity = NewRecordIdIn("城厢镇");  // the home's township
    Must(civil.replica->Write([&](WriteBatch& b) {
           b.Set("care_activity", activity, "project", "tong_zhi_hu")
               .Set("care_activity", activity, "home", homes[0])
               .Set("care_activity", activity, "date", Timestamp{Now()})
               .Set("care_activity", activity, "township", "城厢镇")
               .Set("care_activity", activity, "topic", "safety lesson during the outage");
         }),
         "civil writes");
    // The township, offline, on its own replica: the same workers, heard
    // differently (they went out of the province), a visit each too, money it
    // collected on the same wage case, a new registration.
    Must(town.replica->Write([&](WriteBatch& b) {
           for (const RecordId& w : workers) {
             b.Set("worker", w, "work_area", "out_of_province").Increment("worker", w, "visits", 1);
           }
           b.Increment("wage_case", cases[0], "recovered_fen", 300'000)
               .Append("wage_case", cases[0], "notes", "township mediation: 3,000 yuan handed over");
           RecordId nw = NewRecordIdIn("城厢镇");
           b.Set("worker", nw, "name", "钱玉兰").Set("worker", nw, "township", "城厢镇").Set("worker", nw, "date", Timestamp{Now()});
         }),
         "township writes offline");
    // The 始阳镇 office, online, in its own township: a new worker and an
    // activity at one of its companion homes (child_care, partition "own").
    Node& shiyang = nodes[4];
    auto shiyang_homes = FirstIdsIn(*civil.replica, "companion_home", 1, "始阳镇");
    if (shiyang_homes.empty()) throw Failure{"the county has no companion home in 始阳镇 (try a larger --scale)"};
    shiyang_activity = NewRecordIdIn("始阳镇");
    Must(shiyang.replica->Write([&](WriteBatch& b) {
           RecordId nw = NewRecordIdIn("始阳镇");
           b.Set("worker", nw, "name", "孙丽").Set("worker", nw, "township", "始阳镇").Set("worker", nw, "date", Timestamp{Now()});
           b.Set("care_activity", shiyang_activity, "project", "tong_zhi_ai")
               .Set("care_activity", shiyang_activity, "home", shiyang_homes[0])
               .Set("care_activity", shiyang_activity, "township", "始阳镇")
               .Set("care_activity", shiyang_activity, "date", Timestamp{Now()})
               .Set("care_activity", shiyang_activity, "topic", "homework club, written by the 始阳镇 office");
         }),
         "shiyang writes");
    // ... and it may not write into 城厢镇's partition: refused before anything is written.
    auto refused_partition = shiyang.replica->Write([&](WriteBatch& b) {
      RecordId c = NewRecordIdIn("城厢镇");
      b.Set("care_activity", c, "topic", "not its township");
    });
    auto refused = un.replica->Write([&](WriteBatch& b) { b.Increment("wage_case", cases[0], "recovered_fen", 1); });
    std::printf("   hr: %zu workers set to work_area=city, +1 visit each, +5,000 yuan recovered on a wage case, 1 new worker\n",
                workers.size());
    std::printf("   township (offline): the same %zu workers set to out_of_province, +1 visit each, +3,000 yuan on the\n"
                "     same case, 1 new worker; union: +25 station visits; civil: a care activity (城厢镇);\n"
                "     shiyang: 1 new worker and a care activity in 始阳镇\n",
                workers.size());
    std::printf("   shiyang writing a child activity in 城厢镇: %s\n",
                refused_partition.ok() ? "ACCEPTED (wrong!)" : refused_partition.status().ToString().c_str());
    if (refused_partition.ok()) throw Failure{"the policy let the 始阳镇 office write into 城厢镇's children"};
    std::printf("   union writing a wage case: %s\n",
                refused.ok() ? "ACCEPTED (wrong!)" : refused.status().ToString().c_str());
    if (refused.ok()) throw Failure{"the policy let the union write a wage case"};
    partial_s = net->WaitConverged("sync without the township", timeout);
    before_return = net->Snapshot();
    {
      // What the township lacks of the others' feeds, and what only it has.
      std::map<AuthorId, uint64_t> others;  // the most any online node holds
      for (size_t i : {0, 1, 2, 4}) {
        for (const auto& [a, h] : before_return[i]) others[a] = std::max(others[a], h.seq);
      }
      uint64_t lacks = 0, only = 0;
      for (const auto& [a, seq] : others) {
        auto t = before_return[3].find(a);
        uint64_t mine = t == before_return[3].end() ? 0 : t->second.seq;
        if (seq > mine) lacks += seq - mine;
      }
      for (const auto& [a, h] : before_return[3]) {
        uint64_t theirs = others.count(a) ? others[a] : 0;
        if (h.seq > theirs) only += h.seq - theirs;
      }
      const auto withheld_at_hr = net->WithheldAt(hr);
      const uint64_t civil_seq = before_return[2].at(civil.key).seq;
      bool hr_has_activity = before_return[0].count(civil.key) && before_return[0].at(civil.key).seq == civil_seq &&
                             !withheld_at_hr.count({civil.key, civil_seq});
      std::printf("   hr, union, civil, shiyang in sync %.1f s after the writes; the township lacks %s of their deltas\n"
                  "     and holds %s they lack; %s\n",
                  partial_s, Num(lacks).c_str(), Num(only).c_str(),
                  hr_has_activity ? "civil's activity reached hr (the county relay holds it sealed);\n"
                                    "     shiyang and the union got only its stub"
                                  : "civil's activity has not reached hr");
    }
    std::fflush(stdout);
  }

  void Reconnect() {
    Node& town = nodes[3];
    // --- 5. The township comes back -------------------------------------------
    std::printf("\n5. The township office comes back\n");
    StartDaemon(town);
    converge_back_s = net->WaitConverged("sync after reconnection", timeout);
    wire_back = town.Metrics();  // a fresh process: only the return's sessions
    delivered_back = net->Delivered(before_return, net->Snapshot());
    std::printf("   converged %.1f s after its hearthd started: %s deltas delivered (%s)\n", converge_back_s,
                Num(delivered_back.first).c_str(), Bytes(delivered_back.second).c_str());
  }

  // What every node holds and can read.
  void ReportHoldings() {
    Node& hr = nodes[0];
    Node& civil = nodes[2];
    // --- 6. Report -------------------------------------------------------------
    const auto& scopes = county::CountyScopes();
    std::printf("\n6. What every node holds, per scope and partition: bodies it reads (\"read\", with a digest of\n"
                "   the records for the county-wide readers), bodies it holds sealed (\"sealed\": relay, no key),\n"
                "   and stubs (\"stub\": withheld, header only, no body)\n");
    std::vector<std::map<std::string, ScopeView>> views;
    std::vector<std::map<std::string, RowView>> rows(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) views.push_back(ViewOf(nodes[i], *net, scopes, policy, &rows[i]));
    auto cell_text = [](uint64_t held, uint64_t readable, uint64_t stubs) {
      std::string c;
      auto add = [&](uint64_t k, const char* what) {
        if (k) c += (c.empty() ? "" : " + ") + Num(k) + " " + what;
      };
      add(readable, "read");
      add(held - readable, "sealed");
      add(stubs, "stub");
      return c.empty() ? std::string("-") : c;
    };
    std::printf("   %-26s", "scope / partition");
    for (const Node& n : nodes) std::printf(" %-22s", n.name.c_str());
    std::printf("\n");
    digests_agree = true;
    for (const std::string& s : scopes) {
      std::printf("   %-26s", s.c_str());
      std::optional<uint64_t> first;
      for (size_t i = 0; i < nodes.size(); ++i) {
        const ScopeView& v = views[i].at(s);
        std::string c = cell_text(v.held, v.readable, v.stubs);
        // Digests are compared between county-wide readers only: a reader
        // of some partitions (its own township's) holds a part.
        if (v.whole() && policy.MayRead(nodes[i].key, s)) {
          char d[16];
          std::snprintf(d, sizeof d, " %08" PRIx64, static_cast<uint64_t>(v.digest >> 32));
          c += d;
          if (first && *first != v.digest) digests_agree = false;
          first = v.digest;
        }
        std::printf(" %-22s", c.c_str());
      }
      std::printf("\n");
      const ScopeSpec* spec = policy.FindScope(s);
      if (!spec || spec->partitions.empty()) continue;
      for (const std::string& rn : {PartitionScope(s, "城厢镇"), PartitionScope(s, "始阳镇"),
                                    RowOf(PartitionScope(s, spec->partitions.back()), policy)}) {
        const std::string label = "  /" + std::string(SplitScope(rn).second);
        std::printf("   %s", PadTo(label, 26).c_str());
        for (size_t i = 0; i < nodes.size(); ++i) {
          auto it = rows[i].find(rn);
          RowView r = it == rows[i].end() ? RowView{} : it->second;
          std::printf(" %-22s", cell_text(r.held, r.readable, r.stubs).c_str());
        }
        std::printf("\n");
      }
    }
    std::printf("   %-26s", "records readable");
    for (size_t i = 0; i < nodes.size(); ++i) {
      uint64_t r = 0;
      for (const auto& [s, v] : views[i]) r += v.records;
      std::printf(" %-22s", Num(r).c_str());
    }
    std::printf("\n   %-26s", "feeds (authors), deltas");
    for (const Node& n : nodes) {
      Heads h = n.replica->GetHeads().value();
      uint64_t total = 0;
      for (const auto& [a, x] : h) total += x.seq;
      char cell[64];
      std::snprintf(cell, sizeof cell, "%zu, %s", h.size(), Num(total).c_str());
      std::printf(" %-22s", cell);
    }
    std::printf("\n   readers of each scope agree on its digest: %s\n", digests_agree ? "yes" : "NO");

    std::printf("\n   What each agency can and cannot read (as the signed policy says, checked on the replicas):\n");
    {
      std::vector<std::string> wrong;
      for (size_t i = 0; i < nodes.size(); ++i) {
        const Node& n = nodes[i];
        std::string reads, sealed, nothing;
        for (const std::string& s : scopes) {
          const ScopeView& v = views[i].at(s);
          const bool may_receive = policy.MayReceive(n.key, s);
          for (const std::string& part : v.readable_parts) {
            if (!policy.MayRead(n.key, part)) wrong.push_back(n.name + " reads " + part);
          }
          for (const std::string& part : v.held_parts) {
            if (!policy.MayReceive(n.key, part)) wrong.push_back(n.name + " holds bodies of " + part);
          }
          if (v.readable) {
            std::string parts;
            if (!v.whole() || !policy.MayRead(n.key, s)) {
              for (const std::string& p : v.readable_parts) parts += (parts.empty() ? "" : ", ") + std::string(SplitScope(p).second);
            }
            reads += (reads.empty() ? "" : ", ") + s + (parts.empty() ? "" : " (" + parts + " only)");
          }
          if (v.held > v.readable) sealed += (sealed.empty() ? "" : ", ") + Num(v.held - v.readable) + " " + s;
          else if (!v.readable && !may_receive && v.held_parts.empty()) nothing += (nothing.empty() ? "" : ", ") + s;
        }
        // Every body reached every node that may hold it: a node keeps a
        // stub only where the policy withholds the body (else the topology
        // lacks a path of nodes that may all hold it).
        for (const auto& w : Must(n.replica->Withheld(), "listing withheld deltas")) {
          if (policy.MayReceive(n.key, w.scope)) {
            wrong.push_back(n.name + " holds only a stub of " + w.author.ToHex().substr(0, 16) + "/" +
                            std::to_string(w.seq) + " (" + w.scope + ") although it may receive it");
          }
        }
        std::printf("   - %-8s reads %s\n", n.name.c_str(), reads.empty() ? "nothing" : reads.c_str());
        if (!sealed.empty()) std::printf("              relays, sealed (holds, cannot decrypt): %s deltas\n", sealed.c_str());
        if (!nothing.empty()) std::printf("              receives no body of: %s\n", nothing.c_str());
        std::string stubs;
        for (const std::string& s : scopes) {
          const ScopeView& v = views[i].at(s);
          if (v.stubs) stubs += (stubs.empty() ? "" : ", ") + Num(v.stubs) + " " + s;
        }
        if (!stubs.empty()) std::printf("              withheld (stubs only: header, no body): %s deltas\n", stubs.c_str());
      }
      // Try it: the bureau asks for a child's record.
      auto child = FirstIds(*civil.replica, "child", 1);
      auto at_hr = child.empty() ? Result<Record>(Status::NotFound("")) : hr.replica->Get("child", child[0]);
      std::printf("   - the bureau asking for a child's record: %s\n",
                  at_hr.ok() ? "READABLE (wrong!)" : std::string(CodeName(at_hr.status().code())).c_str());
      if (at_hr.ok() && !policy.MayRead(hr.key, "civil.children")) wrong.push_back("hr reads a child's record");
      // The two township offices: each reads its own township's children and
      // neither reads (nor holds the body of) the other's.
      const std::pair<size_t, size_t> pairs[] = {{3, 4}, {4, 3}};
      for (auto [me, other] : pairs) {
        const Node& n = nodes[me];
        const std::string mine = policy.FindMember(n.key)->township;
        const std::string theirs = policy.FindMember(nodes[other].key)->township;
        auto own_child = FirstIdsIn(*civil.replica, "child", 1, mine);
        auto their_child = FirstIdsIn(*civil.replica, "child", 1, theirs);
        if (own_child.empty() || their_child.empty()) throw Failure{"no child in " + mine + " or " + theirs + " (try a larger --scale)"};
        auto own = n.replica->Get("child", own_child[0]);
        auto other_rec = n.replica->Get("child", their_child[0]);
        std::printf("   - the %s office (%s) asking for a child of %s: %s; of %s: %s\n", mine.c_str(), n.name.c_str(),
                    mine.c_str(), own.ok() ? "read" : ("NOT READABLE (wrong!) " + own.status().ToString()).c_str(),
                    theirs.c_str(),
                    other_rec.ok() ? "READABLE (wrong!)" : std::string(CodeName(other_rec.status().code())).c_str());
        if (!own.ok()) wrong.push_back(n.name + " cannot read a child of its own township " + mine);
        if (other_rec.ok()) wrong.push_back(n.name + " reads a child of " + theirs);
        const ScopeView& v = views[me].at("civil.children");
        const std::string other_part = PartitionScope("civil.children", theirs);
        if (v.readable_parts.count(other_part) || v.held_parts.count(other_part)) {
          wrong.push_back(n.name + " holds or reads bodies of " + other_part);
        }
      }
      // The activity the 始阳镇 office wrote: civil affairs reads it, the
      // 城厢镇 office does not.
      auto at_civil = civil.replica->Get("care_activity", shiyang_activity);
      auto at_town = nodes[3].replica->Get("care_activity", shiyang_activity);
      std::printf("   - the activity the 始阳镇 office wrote: civil %s, 城厢镇 office %s\n",
                  at_civil.ok() ? "reads it" : "CANNOT READ IT (wrong!)",
                  at_town.ok() ? "READS IT (wrong!)" : std::string(CodeName(at_town.status().code())).c_str());
      if (!at_civil.ok()) wrong.push_back("civil cannot read the 始阳镇 office's activity");
      if (at_town.ok()) wrong.push_back("the 城厢镇 office reads the 始阳镇 office's activity");
      if (!wrong.empty()) {
        std::string all;
        for (const std::string& w : wrong) all += "\n  " + w;
        throw Failure{"the policy did not hold:" + all};
      }
    }
  }

  // The conflicts and the counters edited on both sides.
  void ReportConflicts() {
    Node& hr = nodes[0];
    Node& town = nodes[3];
    std::printf("\n   Conflicts for a person to review (mv fields edited concurrently):\n");
    std::set<RecordId> shared(workers.begin(), workers.end());
    size_t ours = 0;
    for (Node* n : {&hr, &town}) {
      auto cs = Conflicts(*n->replica);
      std::map<std::string, size_t> per;
      for (const Conflict& c : cs) ++per[c.collection + "." + c.field];
      std::string list;
      for (const auto& [k, v] : per) list += (list.empty() ? "" : ", ") + std::to_string(v) + " " + k;
      std::printf("   - at %s: %zu conflict(s)%s%s\n", n->name.c_str(), cs.size(), list.empty() ? "" : ": ", list.c_str());
      for (const Conflict& c : cs) {
        if (!shared.count(c.id) || c.field != "work_area") continue;
        if (n == &hr) {
          ++ours;
          std::string vals;
          for (const Value& v : c.values) vals += (vals.empty() ? "" : " | ") + v.ToString();
          std::printf("       worker %s work_area: %s\n", WorkerName(*n->replica, c.id).c_str(), vals.c_str());
        }
      }
    }
    std::printf("   Counters edited on both sides keep both increments:\n");
    bool counters_ok = true;
    for (const RecordId& w : workers) {
      int64_t at_hr = Must(hr.replica->Get("worker", w), "reading").Find("visits")->count;
      int64_t at_town = Must(town.replica->Get("worker", w), "reading").Find("visits")->count;
      counters_ok = counters_ok && at_hr == visits_before[w] + 2 && at_town == at_hr;
      std::printf("       worker %s visits: %" PRId64 " -> %" PRId64 " (hr +1, township +1)\n", WorkerName(*hr.replica, w).c_str(),
                  visits_before[w], at_hr);
    }
    {
      auto wc = Must(hr.replica->Get("wage_case", cases[0]), "reading the wage case");
      int64_t rec = wc.Find("recovered_fen")->count;
      counters_ok = counters_ok && rec == recovered_before + 800'000;
      std::printf("       wage case …%s recovered: %.2f -> %.2f yuan (hr +5,000, township +3,000)\n",
                  cases[0].ToHex().substr(24).c_str(), recovered_before / 100.0, rec / 100.0);
    }
    if (ours != workers.size() || !counters_ok) throw Failure{"concurrent edits did not merge as expected"};
  }

  // The county report from hr and from civil, and the sync timings.
  void ReportCountyAndTimings() {
    Node& hr = nodes[0];
    Node& civil = nodes[2];
    county::CountyReport at_civil;
    for (Node* n : {&hr, &civil}) {
      std::printf("\n   County report as the %s node sees it (figures from scopes it cannot read are unavailable):\n",
                  n->name.c_str());
      auto rep = Must(county::ComputeReport(*n->replica), "county report at " + n->name);
      std::istringstream in(county::ReportText(rep));
      for (std::string line; std::getline(in, line);) std::printf("   | %s\n", line.c_str());
      if (n == &civil) at_civil = rep;
    }
    // The county report on each township office: the children's figures are
    // its own township's (it holds no key of another township's children),
    // equal to civil affairs' figures for that township.
    std::vector<std::string> wrong;
    for (size_t i : {3, 4}) {
      Node& n = nodes[i];
      const std::string mine = policy.FindMember(n.key)->township;
      auto rep = Must(county::ComputeReport(*n.replica), "county report at " + n.name);
      std::printf("\n   County report as the %s office (%s) sees it, children's figures (civil affairs' figure for\n"
                  "   the whole county and for %s in brackets):\n",
                  mine.c_str(), n.name.c_str(), mine.c_str());
      for (const county::Figure& f : rep.figures) {
        if (f.scope != "civil.children") continue;
        const county::Figure* all = at_civil.Find(f.key);
        int64_t civil_mine = 0;
        if (auto t = at_civil.by_township.find(mine); t != at_civil.by_township.end()) {
          if (auto k = t->second.find(f.key); k != t->second.end()) civil_mine = k->second;
        }
        std::printf("   | %s %8s   (county %s, %s %s)\n", PadTo(f.label, 44).c_str(), f.available ? Num(f.value).c_str() : "n/a",
                    all ? Num(all->value).c_str() : "?", mine.c_str(), Num(civil_mine).c_str());
        if (!f.available || f.value != civil_mine) {
          wrong.push_back(n.name + ": " + f.key + " = " + std::to_string(f.value) + ", civil affairs counts " +
                          std::to_string(civil_mine) + " in " + mine);
        }
      }
      std::string towns;
      for (const auto& [t, m] : rep.by_township) {
        bool children = std::any_of(m.begin(), m.end(), [](const auto& kv) { return kv.first.rfind("children.", 0) == 0; });
        if (!children) continue;
        towns += (towns.empty() ? "" : ", ") + t;
        if (t != mine) wrong.push_back(n.name + "'s report has children's figures of " + t);
      }
      std::printf("   | townships with children's figures in this report: %s\n", towns.empty() ? "none" : towns.c_str());
    }
    if (!wrong.empty()) {
      std::string all;
      for (const std::string& w : wrong) all += "\n  " + w;
      throw Failure{"a township office's county report is wrong:" + all};
    }

    std::printf("\n   Sync timings (scale %.3g):\n", scale);
    std::printf("   - load: %s records in %.1f s through 4 agencies; all 5 nodes converged %.1f s after it finished\n",
                Num(records).c_str(), load_s, converge_load_s);
    std::printf("   - outage: hr/union/civil/shiyang in sync %.1f s after their writes; after the township's return: %.1f s\n",
                partial_s, converge_back_s);
    const auto delivered_load = net->Delivered(before_load, after_load);
    std::printf("   - deltas delivered to other nodes: load %s (%s of deltas", Num(delivered_load.first).c_str(),
                Bytes(delivered_load.second).c_str());
    if (wire_load.ok) std::printf("; the daemons' /metrics count %s sent", Bytes(wire_load.bytes_out).c_str());
    std::printf(");\n     the township's return %s (%s", Num(delivered_back.first).c_str(), Bytes(delivered_back.second).c_str());
    if (wire_back.ok) {
      std::printf("; %s in + %s out at the township", Bytes(wire_back.bytes_in).c_str(), Bytes(wire_back.bytes_out).c_str());
    }
    std::printf(")\n");
    if (!digests_agree) throw Failure{"readers of a scope disagree on its records"};
  }

  // The exit status: 0 when every daemon stopped cleanly.
  int Stop() {
    // --- 7. Stop ---------------------------------------------------------------
    if (keep_running) {
      std::printf("\nThe five daemons keep running (configs and logs in %s). Try, in another terminal:\n"
                  "  export HEARTH_PASSPHRASE='%s'\n"
                  "  hearth -C %s/township conflicts\n"
                  "  hearth -C %s/hr put worker --id <worker id> visits+=1   # the daemons push it\n"
                  "  hearth -C %s/union digest\n"
                  "Ctrl-C stops them.\n",
                  out.c_str(), kPassphrase, out.c_str(), out.c_str(), out.c_str());
      std::fflush(stdout);
      while (!g_interrupted) {
        for (Node& n : nodes) {
          int st = 0;
          if (n.pid > 0 && waitpid(n.pid, &st, WNOHANG) == n.pid) {
            n.pid = -1;
            throw Failure{"hearthd of " + n.name + " died:\n" + TailOf(n.log)};
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      std::printf("\n");
    }
    std::printf("\n7. Stopping the daemons (SIGTERM)\n  ");
    bool clean = true;
    for (Node& n : nodes) {
      int c = StopDaemon(n);
      clean = clean && c == 0;
      std::printf(" %s exit %d;", n.name.c_str(), c);
    }
    for (Node& n : nodes) {
      Status s = inspect::CheckConsistency(*n.replica);
      if (!s.ok()) throw Failure{n.name + ": " + s.ToString()};
    }
    std::printf(" replicas consistent. Total %.1f s. Replicas, configs and logs: %s\n", Since(t_start), out.c_str());
    return clean ? 0 : 1;
  }
};

int Run(int argc, char** argv) {
  Demo demo;  // stops the daemons on every way out
  if (std::optional<int> code = demo.ParseOptions(argc, argv)) return *code;
  demo.PrepareOutput();
  demo.SetUpNodesAndPolicy();
  demo.StartDaemons();
  demo.LoadCounty();
  demo.Outage();
  demo.Reconnect();
  demo.ReportHoldings();
  demo.ReportConflicts();
  demo.ReportCountyAndTimings();
  return demo.Stop();
}

}  // namespace

int main(int argc, char** argv) {
  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    return Run(argc, argv);
  } catch (const Failure& f) {
    std::fflush(stdout);
    std::fprintf(stderr, "\nhearth_demo: FAILED: %s\n", f.what.c_str());
    return 1;
  }
}
