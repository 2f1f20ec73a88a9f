// hearthd: the Hearth sync daemon (docs/hearthd.md). Runs a SyncNode for one
// replica: listens for peers, connects to the configured ones, logs what
// moves, serves /healthz and /metrics on loopback, stops cleanly on
// SIGTERM/SIGINT. Uses only the public API.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "config.hpp"
#include "service.hpp"
#include "status.hpp"
#include "hearth/inspect.hpp"
#include "hearth/node.hpp"
#include "hearth/replica.hpp"

#ifdef HEARTHD_HAVE_HTTPLIB
#include <httplib.h>
#endif

namespace {

using hearth::NodeOptions;

#ifdef HEARTHD_HAVE_HTTPLIB
// cpp-httplib's default task queue is a pool of 8 threads: 8 clients that
// send their request slowly (or not at all) hold every thread for its read
// timeout and /healthz waits behind them. This one gives each connection its
// own thread, up to kMaxHttpThreads at once (further connections wait for a
// thread); with 2 s read/keep-alive timeouts a silent client holds its
// thread 2 s. Bound: 128 concurrent slow clients before /healthz waits.
constexpr size_t kMaxHttpThreads = 128;

class ConnectionThreads : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (running_ >= kMaxHttpThreads) {
      queue_.push_back(std::move(fn));
      return;
    }
    ++running_;
    try {
      std::thread([this, f = std::move(fn)]() mutable { Run(std::move(f)); }).detach();
    } catch (const std::system_error&) {  // no thread: queue it for a running one
      --running_;
      queue_.push_back(std::move(fn));
    }
  }
  // Waits for every connection (each is bounded by the read timeout).
  void shutdown() override {
    std::unique_lock<std::mutex> lock(mu_);
    while (running_ == 0 && !queue_.empty()) {  // nothing runs them: run here
      auto f = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      f();
      lock.lock();
    }
    idle_.wait(lock, [&] { return running_ == 0; });
  }

 private:
  void Run(std::function<void()> fn) {
    for (;;) {
      fn();
      std::unique_lock<std::mutex> lock(mu_);
      if (queue_.empty()) {
        --running_;
        idle_.notify_all();
        return;
      }
      fn = std::move(queue_.front());
      queue_.pop_front();
    }
  }
  std::mutex mu_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  size_t running_ = 0;
};
#endif

void LogEvent(const NodeOptions::Event& e) {
  using K = NodeOptions::EventKind;
  std::string key = e.peer_key_hex.empty() ? "-" : e.peer_key_hex.substr(0, 16);
  switch (e.kind) {
    case K::kListening:
      spdlog::info("listening on {} (node key {})", e.peer_endpoint, e.peer_key_hex);
      break;
    case K::kConnected:
      spdlog::info("connect {} peer {} ({})", e.peer_endpoint, key, e.detail);
      break;
    case K::kDisconnected:
      spdlog::info("disconnect {} peer {} ({})", e.peer_endpoint, key, e.detail);
      break;
    case K::kRefused:
      spdlog::warn("refused {} key {}: {}", e.peer_endpoint, key, e.detail);
      break;
    case K::kSessionStarted:
      spdlog::debug("session start {} peer {} ({})", e.peer_endpoint, key, e.detail);
      break;
    case K::kSessionFailed:
      // The peer went away (stopped, its laptop closed, the network
      // dropped): normal for an offline-first node, not a failure to warn of.
      if (e.detail.ends_with(": disconnected")) {
        spdlog::info("session ended {} peer {}: peer disconnected", e.peer_endpoint, key);
      } else {
        spdlog::warn("session failed {} peer {}: {}", e.peer_endpoint, key, e.detail);
      }
      break;
    case K::kSessionDone:
      spdlog::info("session done {} peer {}", e.peer_endpoint, key);
      break;
    case K::kDeltasSent:
      spdlog::info("sent {} delta(s) to {} ({})", e.count, key, e.peer_endpoint);
      break;
    case K::kDeltasReceived:
      spdlog::info("received {} delta(s) from {} ({})", e.count, key, e.peer_endpoint);
      break;
    case K::kDeltasApplied:
      spdlog::info("applied {} delta(s) from {}", e.count, key);
      break;
    case K::kDeltasRejected:
      spdlog::warn("rejected {} delta(s) from {}: {}", e.count, key, e.detail);
      break;
    case K::kBadMessage:
      spdlog::warn("bad message on {}: {}", e.peer_endpoint, e.detail);
      break;
    case K::kDeltasUnreadable:  // once per scope
      spdlog::warn("stored delta(s) of scope {} from {} without the scope's key: they apply once the key arrives "
                   "(`hearth keys import`, or the root's key envelope)",
                   e.detail, key);
      break;
  }
}

// Prometheus label value: backslash, double quote and newline escaped.
std::string LabelValue(const std::string& v) {
  std::string o;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') o += '\\', o += ch;
    else if (ch == '\n') o += "\\n";
    else o += ch;
  }
  return o;
}

// One peer key's series: every connection of the key (outbound, inbound,
// and inbound ones that are gone) summed, so that the series keeps its
// labels and its counters across reconnects.
struct KeySeries {
  std::string name;
  bool connected = false;
  uint64_t bytes_in = 0, bytes_out = 0, deltas_sent = 0, deltas_applied = 0, deltas_rejected = 0;
  uint64_t session_failures = 0, last_sync_unix_ms = 0;
};

std::string Metrics(hearth::Replica& replica, hearth::SyncNode& node, const hearthd::Config& cfg) {
  std::ostringstream o;
  hearth::NodeStats ns = node.Stats();
  auto stats = hearth::inspect::Stats(replica);
  auto gauge = [&](const char* name, const char* help, const char* type) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << "\n";
  };
  gauge("hearth_build_info", "Version and source commit of this hearthd (always 1)", "gauge");
  o << "hearth_build_info{commit=\"" << HEARTH_GIT_COMMIT << "\",version=\"" << HEARTH_VERSION_STRING << "\"} 1\n";

  // Peer names: the config's [[peers]] name, else the member's name in the policy.
  std::map<hearth::AuthorId, std::string> names;
  if (replica.root()) {
    if (auto pol = replica.CurrentPolicy(); pol.ok() && *pol) {
      for (const auto& m : (*pol)->members()) names[m.key] = m.name;
    }
  }
  for (const auto& p : cfg.peers) {
    if (!p.name.empty()) names[p.key] = p.name;
  }
  std::map<std::string, KeySeries> keys;  // by key hex16 (the label), sorted
  auto add = [&](const hearth::PeerStats& p) {
    if (p.peer == hearth::AuthorId{}) return;  // an inbound connection before its hello
    KeySeries& k = keys[p.peer.ToHex().substr(0, 16)];
    if (auto n = names.find(p.peer); n != names.end()) k.name = n->second;
    k.connected = k.connected || p.connected;
    k.bytes_in += p.bytes_in;
    k.bytes_out += p.bytes_out;
    k.deltas_sent += p.deltas_sent;
    k.deltas_applied += p.deltas_applied;
    k.deltas_rejected += p.deltas_rejected;
    k.session_failures += p.session_failures;
    k.last_sync_unix_ms = std::max(k.last_sync_unix_ms, p.last_sync_unix_ms);
  };
  for (const auto& p : ns.peers) add(p);
  for (const auto& p : ns.closed) add(p);
  for (const auto& p : cfg.peers) keys[p.key.ToHex().substr(0, 16)].name = p.name;  // configured: always a series
  auto series = [&](const char* metric, const char* help, const char* type, auto value) {
    gauge(metric, help, type);
    for (const auto& [key, k] : keys) {
      o << metric << "{key=\"" << key << "\",name=\"" << LabelValue(k.name) << "\"} " << value(k) << "\n";
    }
  };
  series("hearth_peer_bytes_in_total", "Bytes received from the peer", "counter", [](const KeySeries& k) { return k.bytes_in; });
  series("hearth_peer_bytes_out_total", "Bytes sent to the peer", "counter", [](const KeySeries& k) { return k.bytes_out; });
  series("hearth_peer_deltas_sent_total", "Deltas sent to the peer", "counter", [](const KeySeries& k) { return k.deltas_sent; });
  series("hearth_peer_deltas_applied_total", "Deltas from the peer applied", "counter", [](const KeySeries& k) { return k.deltas_applied; });
  series("hearth_peer_deltas_rejected_total", "Deltas from the peer rejected", "counter", [](const KeySeries& k) { return k.deltas_rejected; });
  series("hearth_peer_connected", "1 while a session runs with the peer", "gauge", [](const KeySeries& k) { return k.connected ? 1 : 0; });
  series("hearth_peer_session_failures_total", "Sessions with the peer that ended with an error", "counter", [](const KeySeries& k) { return k.session_failures; });
  series("hearth_peer_last_sync_timestamp_seconds", "Unix time the peer and this node were last caught up (0: never)", "gauge",
         [](const KeySeries& k) { return k.last_sync_unix_ms / 1000; });
  {
    // Lag per peer key, from the last handshake's heads comparison (a
    // running session's, else the last one's); keys whose lag is not known
    // yet have no series.
    const auto views = hearthd::PeerViews(ns, replica, cfg);
    const uint64_t mean = hearthd::MeanDeltaBytes(ns, replica);
    auto lag = [&](const char* metric, const char* help, auto value) {
      gauge(metric, help, "gauge");
      for (const auto& v : views) {
        if (!v.lag_known) continue;
        o << metric << "{key=\"" << v.key.ToHex().substr(0, 16) << "\",name=\"" << LabelValue(v.name) << "\"} "
          << value(v) << "\n";
      }
    };
    lag("hearth_peer_behind_out_deltas", "Deltas the peer lacks from this node (last handshake, counted down)",
        [](const hearthd::PeerView& v) { return v.behind_out; });
    lag("hearth_peer_behind_in_deltas", "Deltas this node lacks from the peer (last handshake, counted down)",
        [](const hearthd::PeerView& v) { return v.behind_in; });
    lag("hearth_peer_behind_out_bytes", "Estimate: behind_out deltas times the mean delta size",
        [mean](const hearthd::PeerView& v) { return v.behind_out * mean; });
    lag("hearth_peer_behind_in_bytes", "Estimate: behind_in deltas times the mean delta size",
        [mean](const hearthd::PeerView& v) { return v.behind_in * mean; });
    gauge("hearth_peer_last_seen_timestamp_seconds", "Unix time of the last message from the peer (0: never)", "gauge");
    for (const auto& v : views) {
      o << "hearth_peer_last_seen_timestamp_seconds{key=\"" << v.key.ToHex().substr(0, 16) << "\",name=\""
        << LabelValue(v.name) << "\"} " << v.last_seen_ms / 1000 << "\n";
    }
    uint64_t denied = 0;
    for (const auto* list : {&ns.peers, &ns.closed}) {
      for (const auto& p : *list) denied += p.deltas_rejected;
    }
    gauge("hearth_deltas_denied_total", "Deltas from peers refused (policy, invalid content, bad signature)", "counter");
    o << "hearth_deltas_denied_total " << denied << "\n";
    // Withheld deltas (docs/policy.md, "What a stub reveals"), over every
    // peer and session.
    uint64_t withheld = 0, stubs_sent = 0, bodies = 0;
    for (const auto* list : {&ns.peers, &ns.closed}) {
      for (const auto& p : *list) {
        withheld += p.deltas_withheld;
        stubs_sent += p.stubs_sent;
        bodies += p.bodies_arrived;
      }
    }
    gauge("hearth_deltas_withheld_total",
          "Deltas stored here as stubs: the policy withholds their body from this node", "counter");
    o << "hearth_deltas_withheld_total " << withheld << "\n";
    gauge("hearth_stubs_sent_total", "Stubs sent to peers in place of bodies the policy withholds from them",
          "counter");
    o << "hearth_stubs_sent_total " << stubs_sent << "\n";
    gauge("hearth_withheld_bodies_arrived_total", "Bodies of stubs held here that arrived later (a new grant)",
          "counter");
    o << "hearth_withheld_bodies_arrived_total " << bodies << "\n";
  }
  gauge("hearth_zap_refused_total", "CURVE keys refused by the ZAP handler", "counter");
  o << "hearth_zap_refused_total " << ns.zap_refused << "\n";
  gauge("hearth_handshake_failures_total", "Failed ZMTP/CURVE handshakes", "counter");
  o << "hearth_handshake_failures_total " << ns.handshake_failures << "\n";
  gauge("hearth_bad_messages_total", "Malformed transport messages dropped", "counter");
  o << "hearth_bad_messages_total " << ns.bad_messages << "\n";
  gauge("hearth_deltas_unreadable_total", "Deltas stored without their scope's key", "counter");
  o << "hearth_deltas_unreadable_total " << ns.deltas_unreadable << "\n";
  // A failed read leaves the replica's gauges out of this scrape (absent,
  // not zero: an alert on absence fires); the log says why.
  if (!stats.ok()) {
    spdlog::error("metrics: reading the replica's counts: {}", stats.status().ToString());
    return o.str();
  }
  {
    const hearth::ReplicaStats& rs = *stats;
    gauge("hearth_replica_records", "Records in the replica", "gauge");
    o << "hearth_replica_records " << rs.records << "\n";
    gauge("hearth_replica_deltas", "Deltas stored", "gauge");
    o << "hearth_replica_deltas " << rs.deltas << "\n";
    gauge("hearth_replica_pending", "Deltas waiting for a predecessor or held", "gauge");
    o << "hearth_replica_pending " << rs.pending << "\n";
    gauge("hearth_replica_forks", "Fork proofs held", "gauge");
    o << "hearth_replica_forks " << rs.forks << "\n";
    gauge("hearth_lmdb_map_used_bytes", "LMDB bytes in use", "gauge");
    o << "hearth_lmdb_map_used_bytes " << rs.map_used << "\n";
    gauge("hearth_lmdb_map_size_bytes", "LMDB map size", "gauge");
    o << "hearth_lmdb_map_size_bytes " << rs.map_size << "\n";
  }
  return o.str();
}

// --check-config: the replica directory exists and holds a replica that
// can be opened, checked with reads only (nothing is created or written,
// not even LMDB's lock file): the directory, a readable identity.key, and a
// readable data.mdb whose first page carries LMDB's magic (0xBEEFC0DE at
// offset 16). Returns an empty string when it is, else what is wrong.
std::string CheckReplicaDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto st = fs::status(dir, ec);
  if (ec || !fs::exists(st)) {
    return "replica " + dir + " does not exist: create it with `hearth -C " + dir + " init` (or fix `replica`)";
  }
  if (!fs::is_directory(st)) return "replica " + dir + " is not a directory";
  auto readable = [](const std::string& path, std::string* head) -> bool {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return false;
    char buf[20];
    size_t n = std::fread(buf, 1, sizeof buf, f);
    std::fclose(f);
    if (head) head->assign(buf, n);
    return true;
  };
  const std::string data = dir + "/data.mdb", id = dir + "/identity.key";
  std::string head;
  if (!fs::is_regular_file(data, ec) || !fs::is_regular_file(id, ec)) {
    return "replica " + dir + " is not a Hearth replica (no data.mdb or identity.key): create one with `hearth -C " +
           dir + " init`";
  }
  if (!readable(id, nullptr)) return "replica " + dir + ": cannot read identity.key: " + std::strerror(errno);
  if (!readable(data, &head)) return "replica " + dir + ": cannot read data.mdb: " + std::strerror(errno);
  static const unsigned char kMagic[4] = {0xDE, 0xC0, 0xEF, 0xBE};  // 0xBEEFC0DE, little-endian
  if (head.size() < 20 || std::memcmp(head.data() + 16, kMagic, 4) != 0) {
    return "replica " + dir + ": data.mdb is not an LMDB file (damaged? see `hearth -C " + dir + " verify`)";
  }
  return "";
}

int Run(const hearthd::Config& cfg) {
  // Signals are taken synchronously by the main thread: block them before
  // any thread starts so every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);  // reload (service.hpp, docs/hearthd.md)
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  // The library reads no environment: the passphrase comes from the systemd
  // credential or the variable the config names (service.hpp), read here only.
  std::string passphrase_source;
  auto passphrase = hearthd::ReadPassphrase(cfg, &passphrase_source);
  if (!passphrase.ok()) {
    spdlog::error("identity passphrase: {}", passphrase.status().message());
    return 3;
  }
  spdlog::debug("identity passphrase from: {}", passphrase_source);
  hearth::ReplicaOptions ro;
  ro.create_if_missing = false;
  ro.passphrase = *passphrase;
  ro.unencrypted_identity = cfg.unencrypted_identity;
  auto replica = hearth::Replica::Open(cfg.replica, ro);
  if (!replica.ok()) {
    spdlog::error("cannot open replica {}: {}", cfg.replica, replica.status().ToString());
    return 3;
  }
  spdlog::info("replica {} author {}", cfg.replica, (*replica)->author().ToHex());
  if (auto root = (*replica)->root()) {
    auto read = (*replica)->CurrentPolicy();
    if (!read.ok()) {
      spdlog::error("replica {}: {}", cfg.replica, read.status().ToString());
      return 3;
    }
    const auto& pol = *read;
    spdlog::info("obeys root {}; policy {}", root->ToHex().substr(0, 16),
                 pol ? "v" + std::to_string(pol->version()) + " (" + std::to_string(pol->members().size()) + " members admitted)"
                     : "not held yet (only the root is admitted)");
  } else {
    spdlog::warn("replica obeys no root: any CURVE key is admitted");
  }

  NodeOptions no;
  no.sync.max_message_bytes = cfg.max_message_bytes;
  no.sync.idle_timeout_ms = cfg.idle_timeout_ms;
  no.sync.heartbeat_ms = cfg.heartbeat_ms;
  no.tick_ms = cfg.tick_ms;
  no.heads_poll_ms = cfg.heads_poll_ms;
  no.max_sessions_per_key = static_cast<uint32_t>(cfg.max_sessions_per_key);
  no.on_event = LogEvent;
  auto node = hearth::SyncNode::Create(**replica, no);
  if (!node.ok()) {
    spdlog::error("cannot start the sync node: {}", node.status().ToString());
    return 3;
  }
  for (const auto& ep : cfg.listen) {
    if (auto s = (*node)->Listen(ep); !s.ok()) {
      spdlog::error("{}", s.ToString());
      return 3;
    }
  }
  for (const auto& p : cfg.peers) {
    if (auto s = (*node)->Connect(p.endpoint, p.key); !s.ok()) {
      spdlog::error("{}", s.ToString());
      return 3;
    }
  }
  if (auto s = (*node)->Start(); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 3;
  }

#ifdef HEARTHD_HAVE_HTTPLIB
  std::unique_ptr<httplib::Server> http;
  std::thread http_thread;
  if (!cfg.metrics.empty()) {
    http = std::make_unique<httplib::Server>();
    http->new_task_queue = [] { return new ConnectionThreads(); };
    http->set_read_timeout(2, 0);
    http->set_write_timeout(2, 0);
    http->set_keep_alive_timeout(2);
    http->set_keep_alive_max_count(10);
    hearth::Replica* rp = replica->get();
    hearth::SyncNode* np = node->get();
    http->Get("/healthz", [np](const httplib::Request&, httplib::Response& res) {
      bool ok = np->running();
      res.status = ok ? 200 : 503;
      res.set_content(ok ? "ok\n" : "node loop stopped\n", "text/plain");
    });
    http->Get("/metrics", [rp, np, &cfg](const httplib::Request&, httplib::Response& res) {
      res.set_content(Metrics(*rp, *np, cfg), "text/plain; version=0.0.4");
    });
    http->Get("/status", [rp, np, &cfg](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(hearthd::StatusJson(*rp, *np, cfg), "application/json");
    });
    if (cfg.ui) {  // the read-only web page (docs/hearthd.md, "Web page")
      http->Get("/", [rp, np, &cfg](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-store");
        res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
        res.set_content(hearthd::StatusPage(*rp, *np, cfg), "text/html; charset=utf-8");
      });
      http->Get("/report", [rp](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-store");
        res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
        res.set_content(hearthd::ReportPage(*rp), "text/html; charset=utf-8");
      });
    }
    auto colon = cfg.metrics.rfind(':');
    int port = std::stoi(cfg.metrics.substr(colon + 1));
    if (!http->bind_to_port("127.0.0.1", port)) {
      spdlog::error("metrics: cannot bind 127.0.0.1:{}", port);
      (*node)->Stop();
      return 3;
    }
    http_thread = std::thread([&http] { http->listen_after_bind(); });
    spdlog::info("metrics on http://127.0.0.1:{}/metrics, health on /healthz, status on /status{}", port,
                 cfg.ui ? ", web page on /" : "");
  }
#else
  if (!cfg.metrics.empty()) spdlog::warn("metrics requested but hearthd was built without cpp-httplib; ignored");
#endif

  spdlog::info("hearthd running (pid {})", static_cast<long>(getpid()));
  // Type=notify: the replica is open, every listen socket is bound (Listen
  // binds before it returns), the node loop and /metrics run.
  hearthd::Notify("READY=1\nSTATUS=running: " + std::to_string(cfg.listen.size()) + " listen, " +
                  std::to_string(cfg.peers.size()) + " peer(s)\nMAINPID=" + std::to_string(getpid()));
  int exit_code = 0;
  while (true) {
    timespec ts{1, 0};
    int sig = sigtimedwait(&sigs, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (sig == SIGHUP) {
      hearthd::Notify("RELOADING=1");
      hearthd::Reload(cfg);
      hearthd::Notify("READY=1");
      continue;
    }
    if (!(*node)->running()) {
      spdlog::error("sync loop stopped unexpectedly");
      exit_code = 3;
      break;
    }
  }
  hearthd::Notify("STOPPING=1");
#ifdef HEARTHD_HAVE_HTTPLIB
  if (http) {
    http->stop();
    if (http_thread.joinable()) http_thread.join();
  }
#endif
  (*node)->Stop();
  hearth::NodeStats ns = (*node)->Stats();
  for (const auto& p : ns.peers) {
    spdlog::info("peer {}: sessions {}, deltas sent {}, applied {}, rejected {}, bytes in {} out {}", p.endpoint,
                 p.sessions, p.deltas_sent, p.deltas_applied, p.deltas_rejected, p.bytes_in, p.bytes_out);
  }
  node->reset();
  replica->reset();
  spdlog::info("stopped");
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hearthd: Hearth sync daemon (docs/hearthd.md)", "hearthd"};
  app.set_version_flag("--version", "hearthd " HEARTH_VERSION_STRING);
  // Also the man page hearthd(8) (help2man, cmake/Packaging.cmake).
  app.footer(
      "Signals:\n"
      "  SIGTERM, SIGINT  stop cleanly (exit 0)\n"
      "  SIGHUP           re-read the config: log_level applies, other changes need a restart\n"
      "\n"
      "Environment:\n"
      "  CREDENTIALS_DIRECTORY  systemd credentials: the identity passphrase is read from\n"
      "                         $CREDENTIALS_DIRECTORY/passphrase when that file exists\n"
      "  HEARTH_PASSPHRASE      else the passphrase, from the variable the config's\n"
      "                         passphrase_env names (this one by default)\n"
      "  NOTIFY_SOCKET          systemd Type=notify: READY=1 once the replica is open and\n"
      "                         the listen sockets accept, STOPPING=1 on shutdown\n"
      "\n"
      "Files:\n"
      "  /etc/hearth/hearthd.toml, /etc/hearth/NAME.toml  config of hearthd.service, hearthd@NAME.service\n"
      "  /etc/hearth/passphrase                          identity passphrase (LoadCredential=)\n"
      "  /var/lib/hearth/                                replicas\n"
      "\n"
      "Exit status: 0 stopped cleanly or config ok; 2 bad configuration; 3 cannot open the\n"
      "replica, bind, or the sync loop died.\n"
      "\n"
      "See docs/hearthd.md (/usr/share/doc/hearth-tools/hearthd.md).");
  std::string config, check;
  auto* run_opt = app.add_option("--config", config, "Run with this TOML configuration file");
  auto* check_opt = app.add_option("--check-config", check, "Validate the configuration file and exit (0 ok, 2 bad)");
  run_opt->excludes(check_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  auto logger = spdlog::stderr_color_mt("hearthd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  if (!check.empty()) {
    auto c = hearthd::LoadConfig(check);
    if (!c.ok()) {
      std::fprintf(stderr, "hearthd: %s\n", c.status().message().c_str());
      return 2;
    }
    if (std::string why = CheckReplicaDir(c->replica); !why.empty()) {
      std::fprintf(stderr, "hearthd: %s: %s\n", check.c_str(), why.c_str());
      return 2;
    }
    std::printf("%s: ok (replica %s, %zu listen, %zu peer(s))\n", check.c_str(), c->replica.c_str(), c->listen.size(),
                c->peers.size());
    return 0;
  }
  if (config.empty()) {
    std::fprintf(stderr, "hearthd: --config FILE is required (or --check-config FILE); see --help\n");
    return 2;
  }
  auto c = hearthd::LoadConfig(config);
  if (!c.ok()) {
    std::fprintf(stderr, "hearthd: %s\n", c.status().message().c_str());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(c->log_level));
  return Run(*c);
}
