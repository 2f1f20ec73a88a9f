// SyncNode over ZeroMQ (include/hearth/node.hpp). The only place in Hearth
// that includes zmq headers. Every zmq exception stops here and becomes a
// Status or an event.
#include "hearth/node.hpp"

#include <sys/inotify.h>
#include <unistd.h>
#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "hearth/inspect.hpp"
#include "crypto/seal.hpp"
#include "store/replica_identity.hpp"
#include "store/replica_impl.hpp"
#include "sync/wire.hpp"

namespace hearth {

std::string_view NodeEventName(NodeOptions::EventKind kind) {
  using K = NodeOptions::EventKind;
  switch (kind) {
    case K::kListening: return "listening";
    case K::kConnected: return "connected";
    case K::kDisconnected: return "disconnected";
    case K::kRefused: return "refused";
    case K::kSessionStarted: return "session_started";
    case K::kSessionFailed: return "session_failed";
    case K::kSessionDone: return "session_done";
    case K::kDeltasSent: return "deltas_sent";
    case K::kDeltasReceived: return "deltas_received";
    case K::kDeltasApplied: return "deltas_applied";
    case K::kDeltasRejected: return "deltas_rejected";
    case K::kBadMessage: return "bad_message";
    case K::kDeltasUnreadable: return "deltas_unreadable";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
using Curve = std::array<uint8_t, 32>;
using K = NodeOptions::EventKind;

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count());
}

std::string Hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}

// Bounds of every loop over a socket in one iteration.
constexpr int kMaxReadsPerSocket = 256;
constexpr int kMaxZapPerIteration = 64;
constexpr size_t kMaxDeadIds = 4096;
constexpr size_t kMaxInbound = 1024;
constexpr size_t kMaxOutboxMessages = 4096;

// One connection carrying one session at a time.
struct Conn {
  std::unique_ptr<SyncSession> session;
  SyncStats last{};  // stats of the current session already added to totals
  std::deque<Bytes> outbox;
  uint64_t outbox_bytes = 0;
  std::vector<std::shared_ptr<SendBudget>> budgets;  // the session's (total, its key's)
  PeerStats stats;
};

// Bytes a finished session left in a connection's ZeroMQ queue that the
// peer has not read: they stay charged to the budgets until the connection
// goes (disconnect event) or ZeroMQ's heartbeat timeout must have closed it.
struct Hold {
  std::vector<std::shared_ptr<SendBudget>> budgets;
  uint64_t bytes = 0;
  int fd = -1;
  uint64_t until = 0;
};

struct Outbound {
  std::string endpoint;
  AuthorId key;
  Curve curve_pk{};
  std::unique_ptr<zmq::socket_t> sock;
  std::unique_ptr<zmq::socket_t> mon;
  uint64_t recreate_at = 0;  // when sock is null
  uint64_t backoff = 0;
  Conn conn;
};

struct Inbound {
  Conn conn;
  Curve curve_pk{};  // from ZAP (User-Id)
  int fd = -1;
  uint64_t created = 0;
};

struct Listener {
  std::string endpoint;
  std::unique_ptr<zmq::socket_t> sock;
  std::unique_ptr<zmq::socket_t> mon;
  std::map<std::string, std::unique_ptr<Inbound>> conns;  // by routing id
  std::deque<std::string> dead;                           // failed routing ids (ignored)
  std::set<std::string> dead_set;
  uint64_t next_n = 0;
};

}  // namespace

struct SyncNode::Impl {
  Replica& replica;
  NodeOptions opts;
  AuthorId author;  // the replica's
  Curve curve_pk{};
  crypto::SecretBytes curve_sk;
  zmq::context_t ctx;
  std::unique_ptr<zmq::socket_t> zap;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<std::unique_ptr<Outbound>> outbound;
  uint64_t mon_counter = 0;

  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> started{false};
  std::atomic<bool> running{false};

  mutable std::mutex stats_mu;
  NodeStats snapshot;
  NodeStats counters;  // zap/handshake/bad message counters (thread-owned)
  std::map<AuthorId, PeerStats> closed;  // gone inbound connections, per key (thread-owned)
  std::set<std::string> unreadable_scopes;  // scopes already reported by kDeltasUnreadable
  Heads last_heads;
  uint64_t next_heads_poll = 0;
  uint64_t next_tick = 0;

  // --- noticing new deltas (docs/hearthd.md, "How fast a write travels") ---
  // Every commit to the replica, by this node's sessions or by another
  // process (the CLI, an app), moves LMDB's last transaction id; reading it
  // costs no system call. The loop compares it after each wake-up and, when
  // it moved, compares heads and offers new deltas to every session at
  // once (at most every kMinNotifyGapMs). Another process's commit writes
  // data.mdb, which wakes the loop through inotify; LMDB publishes the new
  // transaction id just after its last write, so after an inotify wake-up
  // the loop looks again every 1 ms for kRecheckMs. Without inotify, or if
  // it fails, heads_poll_ms still catches every commit.
  static constexpr uint64_t kMinNotifyGapMs = 2;
  static constexpr uint64_t kRecheckMs = 20;
  int inotify_fd = -1;
  uint64_t seen_txn = 0;
  uint64_t last_heads_check = 0;
  uint64_t recheck_until = 0;

  // Resource bounds (NodeOptions::max_sessions_per_key, max_send_bytes_total).
  std::shared_ptr<SendBudget> total_budget = std::make_shared<SendBudget>();
  std::map<Curve, std::weak_ptr<SendBudget>> key_budgets;
  std::deque<std::pair<uint64_t, Curve>> admitted;  // (when, key): ZAP said yes, no session yet
  std::vector<Hold> holds;
  // Inbound connections whose session ended while the connection stays open
  // (a ROUTER cannot close one peer): fd -> key, until the disconnect event.
  // They count against the key's limit, so a key cannot pile up connections
  // by failing its sessions and opening new ones. An entry also expires after
  // kLingerMs (a lost monitor event must not lock a key out for good).
  static constexpr uint64_t kLingerMs = 600'000;
  std::map<int, std::pair<Curve, uint64_t>> lingering;

  Impl(Replica& r, NodeOptions o) : replica(r), opts(std::move(o)), ctx(1) {
    total_budget->limit = std::max<uint64_t>(opts.max_send_bytes_total, 1);
    if (opts.max_sessions_per_key == 0) opts.max_sessions_per_key = 1;
    if (opts.max_outbox_bytes == 0) {
      opts.max_outbox_bytes = opts.sync.window_bytes + 2 * opts.sync.max_message_bytes + (uint64_t{1} << 20);
    }
  }

  // --- per-key bounds ---
  size_t SessionsOf(const Curve& pk) const {
    size_t n = 0;
    for (const auto& l : listeners) {
      for (const auto& [rid, in] : l->conns) n += in->conn.session && in->curve_pk == pk;
    }
    for (const auto& o : outbound) n += o->conn.session && o->curve_pk == pk;
    for (const auto& [fd, k] : lingering) n += k.first == pk;
    return n;
  }
  void Linger(const Inbound& in, uint64_t now) {
    for (auto it = lingering.begin(); it != lingering.end();) {
      it = it->second.second + kLingerMs < now ? lingering.erase(it) : std::next(it);
    }
    if (in.fd >= 0 && lingering.size() < kMaxDeadIds) lingering[in.fd] = {in.curve_pk, now};
  }
  // Admissions not yet turned into sessions count for a few seconds (a burst
  // of handshakes is refused before any of them has sent a message).
  size_t AdmittedOf(const Curve& pk, uint64_t now) {
    const uint64_t window = static_cast<uint64_t>(opts.handshake_ivl_ms) + 1'000;
    while (!admitted.empty() && admitted.front().first + window < now) admitted.pop_front();
    size_t n = 0;
    for (const auto& [t, k] : admitted) n += k == pk;
    return n;
  }
  void ForgetAdmission(const Curve& pk) {
    for (auto it = admitted.begin(); it != admitted.end(); ++it) {
      if (it->second == pk) {
        admitted.erase(it);
        return;
      }
    }
  }
  std::shared_ptr<SendBudget> KeyBudget(const Curve& pk) {
    for (auto it = key_budgets.begin(); it != key_budgets.end();) {
      it = it->second.expired() ? key_budgets.erase(it) : std::next(it);
    }
    if (auto b = key_budgets[pk].lock()) return b;
    auto b = std::make_shared<SendBudget>();
    b->limit = std::max<uint64_t>(opts.sync.window_bytes, 1);
    key_budgets[pk] = b;
    return b;
  }
  void ReleaseHolds(uint64_t now, int fd) {
    for (auto it = holds.begin(); it != holds.end();) {
      if (now >= it->until || (fd >= 0 && it->fd == fd)) {
        for (auto& b : it->budgets) b->used -= std::min(it->bytes, b->used);
        it = holds.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Emit(K kind, const std::string& ep, const std::string& key, std::string detail, uint64_t count = 0) {
    if (!opts.on_event) return;
    try {
      opts.on_event(NodeOptions::Event{kind, ep, key, std::move(detail), count});
    } catch (...) {
    }
  }

  void CommonOptions(zmq::socket_t& s) {
    s.set(zmq::sockopt::linger, opts.linger_ms);
    s.set(zmq::sockopt::sndhwm, opts.hwm);
    s.set(zmq::sockopt::rcvhwm, opts.hwm);
    s.set(zmq::sockopt::maxmsgsize,
          static_cast<int64_t>(opts.sync.max_message_bytes + opts.max_message_slack));
    s.set(zmq::sockopt::heartbeat_ivl, opts.heartbeat_ivl_ms);
    s.set(zmq::sockopt::heartbeat_timeout, opts.heartbeat_timeout_ms);
    s.set(zmq::sockopt::heartbeat_ttl, opts.heartbeat_ttl_ms);
    s.set(zmq::sockopt::handshake_ivl, opts.handshake_ivl_ms);
    s.set(zmq::sockopt::reconnect_ivl, opts.reconnect_ivl_ms);
    s.set(zmq::sockopt::reconnect_ivl_max, opts.reconnect_ivl_max_ms);
  }

  std::unique_ptr<zmq::socket_t> Monitor(zmq::socket_t& s) {
    std::string ep = "inproc://hearth-monitor-" + std::to_string(mon_counter++);
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                 ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(s.handle(), ep.c_str(), events) != 0) throw zmq::error_t();
    auto m = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::pair);
    m->set(zmq::sockopt::linger, 0);
    m->connect(ep);
    return m;
  }

  void CloseMonitored(std::unique_ptr<zmq::socket_t>& s, std::unique_ptr<zmq::socket_t>& mon) {
    if (s) zmq_socket_monitor(s->handle(), nullptr, 0);
    if (mon) mon->close();
    if (s) s->close();
    mon.reset();
    s.reset();
  }

  // --- admission (ZAP) ---
  // Returns the reason for a refusal, or empty when `pk` is admitted.
  std::string AdmitReason(const Curve& pk, std::string* who) {
    std::optional<AuthorId> root = replica.root();
    if (!root) {
      *who = "x25519:" + Hex(pk.data(), pk.size()).substr(0, 16) + " (no root: any key)";
      return "";
    }
    auto matches = [&](const AuthorId& a) {
      auto c = crypto::CurvePublicKey(a);
      return c.ok() && *c == pk;
    };
    auto read = replica.CurrentPolicy();
    if (!read.ok()) return "the policy in force cannot be read: " + read.status().ToString();
    const std::optional<Policy>& policy = *read;
    if (!policy) {
      if (matches(*root)) {
        *who = "root " + root->ToHex().substr(0, 16);
        return "";
      }
      return "no policy yet: only the root is admitted";
    }
    for (const Member& m : policy->members()) {
      if (!matches(m.key)) continue;
      if (m.revoked_after) return "member " + m.name + " is revoked";
      *who = m.name + " (" + m.key.ToHex().substr(0, 16) + ")";
      return "";
    }
    return "not a member of policy v" + std::to_string(policy->version());
  }

  void ServeZap() {
    for (int i = 0; i < kMaxZapPerIteration; ++i) {
      std::vector<zmq::message_t> req;
      while (true) {
        zmq::message_t m;
        if (!zap->recv(m, zmq::recv_flags::dontwait)) break;
        bool more = m.more();
        if (req.size() < 16) req.push_back(std::move(m));
        if (!more) break;
      }
      if (req.empty()) return;
      std::string request_id = req.size() > 1 ? req[1].to_string() : "";
      std::string code = "400", text, user;
      std::string address = req.size() > 3 ? req[3].to_string() : "";
      if (req.size() >= 7 && req[5].to_string() == "CURVE" && req[6].size() == 32) {
        Curve pk;
        std::memcpy(pk.data(), req[6].data(), 32);
        std::string who;
        std::string why = AdmitReason(pk, &who);
        const uint64_t now = NowMs();
        if (why.empty()) {
          const size_t have = SessionsOf(pk) + AdmittedOf(pk, now);
          if (have >= opts.max_sessions_per_key) {
            why = "too many sessions for this key (" + std::to_string(have) + ", limit " +
                  std::to_string(opts.max_sessions_per_key) + ")";
          }
        }
        if (why.empty()) {
          admitted.emplace_back(now, pk);
          code = "200";
          text = "OK";
          user = Hex(pk.data(), 32);
          counters.zap_admitted++;
        } else {
          text = why;
          counters.zap_refused++;
          Emit(K::kRefused, address, Hex(pk.data(), 32), "CURVE key refused: " + why);
        }
      } else {
        text = "only CURVE is accepted";
        counters.zap_refused++;
        Emit(K::kRefused, address, "", text);
      }
      zap->send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
      zap->send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      zap->send(zmq::buffer(code), zmq::send_flags::sndmore);
      zap->send(zmq::buffer(text), zmq::send_flags::sndmore);
      zap->send(zmq::buffer(user), zmq::send_flags::sndmore);
      zap->send(zmq::message_t(), zmq::send_flags::none);
    }
  }

  // --- sessions ---
  void AddTotals(Conn& c) {
    if (!c.session) return;
    const SyncStats& s = c.session->stats();
    const SyncStats& l = c.last;
    const std::string key = c.stats.peer.ToHex();
    auto delta = [](uint64_t now, uint64_t before) { return now >= before ? now - before : 0; };
    c.stats.bytes_in += delta(s.bytes_in, l.bytes_in);
    c.stats.bytes_out += delta(s.bytes_out, l.bytes_out);
    c.stats.messages_in += delta(s.messages_in, l.messages_in);
    c.stats.messages_out += delta(s.messages_out, l.messages_out);
    uint64_t sent = delta(s.deltas_sent, l.deltas_sent);
    uint64_t recv = delta(s.deltas_received, l.deltas_received);
    uint64_t appl = delta(s.deltas_applied, l.deltas_applied);
    uint64_t rej = delta(s.deltas_rejected, l.deltas_rejected);
    c.stats.deltas_sent += sent;
    c.stats.deltas_received += recv;
    c.stats.deltas_applied += appl;
    c.stats.deltas_rejected += rej;
    c.stats.stubs_sent += delta(s.stubs_sent, l.stubs_sent);
    c.stats.deltas_withheld += delta(s.deltas_withheld, l.deltas_withheld);
    c.stats.bodies_arrived += delta(s.bodies_arrived, l.bodies_arrived);
    uint64_t unread = delta(s.deltas_unreadable, l.deltas_unreadable);
    c.stats.deltas_unreadable += unread;
    counters.deltas_unreadable += unread;
    for (const std::string& scope : s.unreadable_scopes) {
      if (unreadable_scopes.insert(scope).second) Emit(K::kDeltasUnreadable, c.stats.endpoint, key, scope, unread);
    }
    c.stats.caught_up = s.caught_up;
    if (s.lag_known) {
      c.stats.lag_known = true;
      c.stats.behind_out = s.behind_out;
      c.stats.behind_in = s.behind_in;
    }
    if (s.messages_in != l.messages_in) {
      c.stats.last_seen_unix_ms = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count());
    }
    if (s.caught_up) {
      c.stats.last_sync_unix_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                            std::chrono::system_clock::now().time_since_epoch())
                                                            .count());
    }
    if (sent) Emit(K::kDeltasSent, c.stats.endpoint, key, "", sent);
    if (recv) Emit(K::kDeltasReceived, c.stats.endpoint, key, "", recv);
    if (appl) Emit(K::kDeltasApplied, c.stats.endpoint, key, "", appl);
    if (rej) {
      std::string reason;
      auto denied = inspect::Denied(replica);
      if (denied.ok() && !denied->empty()) {
        const DeniedDelta& d = denied->back();
        reason = "latest denied: " + d.author.ToHex().substr(0, 16) + " seq " + std::to_string(d.seq) +
                 " scope " + d.scope + ": " + d.reason;
      } else {
        reason = "malformed, unauthenticated or outside the schema (see session faults)";
      }
      Emit(K::kDeltasRejected, c.stats.endpoint, key, reason, rej);
    }
    c.last = s;
  }

  void StartSession(Conn& c, bool initiator, uint64_t now, const Curve& pk) {
    SyncOptions so = opts.sync;
    c.budgets = {total_budget, KeyBudget(pk)};
    so.send_budgets = c.budgets;
    c.session = std::make_unique<SyncSession>(replica, initiator, so);
    c.last = SyncStats{};
    c.outbox.clear();
    c.outbox_bytes = 0;
    c.stats.sessions++;
    c.stats.connected = true;
    Status s = c.session->Start(now);
    Emit(K::kSessionStarted, c.stats.endpoint, c.stats.peer.ToHex(), initiator ? "initiator" : "responder");
    if (!s.ok()) c.stats.last_error = s.ToString();
  }

  // Ends the session; `failed` with the status. `hold_fd` >= 0: the
  // connection stays (a ROUTER cannot close one peer), so what the session
  // left unread in ZeroMQ's queue stays charged (Hold) until it goes.
  void EndSession(Conn& c, const Status& s, int hold_fd = -1, uint64_t now = 0) {
    AddTotals(c);
    if (hold_fd >= 0 && c.session && c.session->stats().in_flight_bytes > 0) {
      Hold h;
      h.budgets = c.budgets;
      h.bytes = c.session->stats().in_flight_bytes;
      h.fd = hold_fd;
      h.until = now + static_cast<uint64_t>(opts.heartbeat_timeout_ms + opts.heartbeat_ivl_ms) + 1'000;
      for (auto& b : h.budgets) b->used += h.bytes;  // the session's destructor gives its share back
      holds.push_back(std::move(h));
    }
    if (!s.ok()) {
      // Ended with an error before the hello exchange named the peer: the
      // session handshake failed (not a transport that merely went away).
      if (c.session && c.session->peer() == AuthorId{} && s.message() != "disconnected") {
        counters.handshake_failures++;
      }
      c.stats.session_failures++;
      c.stats.last_error = s.ToString();
      Emit(K::kSessionFailed, c.stats.endpoint, c.stats.peer.ToHex(), s.ToString());
    } else {
      Emit(K::kSessionDone, c.stats.endpoint, c.stats.peer.ToHex(), "");
    }
    c.session.reset();
    c.outbox.clear();
    c.outbox_bytes = 0;
    c.budgets.clear();
    c.stats.connected = false;
  }

  // Sends what is queued (throws when a ROUTER peer is gone). Returns false
  // when the connection's queue is past its bounds: the peer does not read.
  bool Flush(Conn& c, zmq::socket_t& s, const std::string* routing_id) {
    if (c.session) {
      for (Bytes& b : c.session->TakeOutgoing()) {
        c.outbox_bytes += b.size();
        c.outbox.push_back(std::move(b));
      }
    }
    size_t sent = 0;
    while (!c.outbox.empty() && sent < static_cast<size_t>(kMaxReadsPerSocket)) {
      const Bytes& b = c.outbox.front();
      if (routing_id) {
        auto r = s.send(zmq::buffer(*routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        if (!r) break;  // queue full: retry next iteration
      }
      auto r = s.send(zmq::buffer(b.data(), b.size()), zmq::send_flags::dontwait);
      if (!r) break;
      c.outbox_bytes -= b.size();
      c.outbox.pop_front();
      ++sent;
    }
    return c.outbox_bytes <= opts.max_outbox_bytes && c.outbox.size() <= kMaxOutboxMessages;
  }
  Status Unread(const Conn& c) const {
    return Status::ResourceExhausted("peer does not read: " + std::to_string(c.outbox.size()) + " messages (" +
                                     std::to_string(c.outbox_bytes) + " bytes) queued");
  }

  // After a message or a tick: account stats, detect the end.
  // Returns false when the session ended.
  bool Check(Conn& c, const Status& s, zmq::socket_t& sock, const std::string* rid, int hold_fd = -1,
             uint64_t now = 0) {
    AddTotals(c);
    if (!s.ok() || c.session->done()) {
      try {
        Flush(c, sock, rid);  // the error message for the peer, if any
      } catch (const zmq::error_t&) {
      }
      EndSession(c, s, hold_fd, now);
      return false;
    }
    return true;
  }

  // --- outbound (DEALER) ---
  void CreateDealer(Outbound& o) {
    o.sock = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
    CommonOptions(*o.sock);
    o.sock->set(zmq::sockopt::immediate, 1);
    o.sock->set(zmq::sockopt::curve_serverkey, zmq::const_buffer(o.curve_pk.data(), 32));
    o.sock->set(zmq::sockopt::curve_publickey, zmq::const_buffer(curve_pk.data(), 32));
    o.sock->set(zmq::sockopt::curve_secretkey, zmq::const_buffer(curve_sk.data(), 32));
    o.mon = Monitor(*o.sock);
    o.sock->connect(o.endpoint);
  }

  void DropDealer(Outbound& o, uint64_t now) {
    CloseMonitored(o.sock, o.mon);
    o.backoff = o.backoff == 0 ? static_cast<uint64_t>(opts.reconnect_ivl_ms)
                               : std::min<uint64_t>(o.backoff * 2, opts.reconnect_ivl_max_ms);
    o.recreate_at = now + o.backoff;
  }

  // Reads monitor events: (event, value).
  std::vector<std::pair<uint16_t, int32_t>> ReadEvents(zmq::socket_t& mon) {
    std::vector<std::pair<uint16_t, int32_t>> out;
    for (int i = 0; i < kMaxReadsPerSocket; ++i) {
      zmq::message_t a;
      if (!mon.recv(a, zmq::recv_flags::dontwait)) break;
      bool more = a.more();
      while (more) {
        zmq::message_t b;
        if (!mon.recv(b, zmq::recv_flags::dontwait)) break;
        more = b.more();
      }
      if (a.size() >= 6) {
        uint16_t ev;
        int32_t val;
        std::memcpy(&ev, a.data(), 2);
        std::memcpy(&val, static_cast<const char*>(a.data()) + 2, 4);
        out.emplace_back(ev, val);
      }
    }
    return out;
  }

  static std::string HandshakeWhy(uint16_t ev, int32_t val) {
    std::string s = ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH       ? "authentication failed (ZAP status "
                    : ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error (code "
                                                                : "handshake failed (errno ";
    return s + std::to_string(val) + ")";
  }

  void OutboundEvents(Outbound& o, uint64_t now) {
    if (!o.mon) return;
    auto events = ReadEvents(*o.mon);
    // A peer's last messages (its BYE) come before its disconnect: read
    // them first, or a clean goodbye would look like a vanished peer.
    for (const auto& e : events) {
      if (e.first == ZMQ_EVENT_DISCONNECTED && o.sock && o.conn.session) {
        OutboundMessages(o, now);
        break;
      }
    }
    for (auto [ev, val] : events) {
      if (!o.sock) break;
      if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        o.backoff = 0;
        Emit(K::kConnected, o.endpoint, o.key.ToHex(), "outbound");
        if (o.conn.session) EndSession(o.conn, Status::Unavailable("reconnected"));
        StartSession(o.conn, /*initiator=*/true, now, o.curve_pk);
      } else if (ev == ZMQ_EVENT_DISCONNECTED) {
        Emit(K::kDisconnected, o.endpoint, o.key.ToHex(), "outbound");
        if (o.conn.session) {
          EndSession(o.conn, Status::Unavailable("disconnected"));
          DropDealer(o, now);  // a fresh socket: nothing stale survives
        }
      } else if (ev & (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)) {
        counters.handshake_failures++;
        Emit(K::kRefused, o.endpoint, o.key.ToHex(), HandshakeWhy(ev, val));
        // libzmq does not reconnect after a failed handshake (its session
        // ends on the ZAP refusal): without a fresh socket this peer would
        // never be tried again, e.g. when it refused us only because it had
        // no policy yet. Retry with a new socket after the backoff.
        if (o.conn.session) EndSession(o.conn, Status::Unavailable("handshake failed"));
        DropDealer(o, now);
      }
    }
  }

  void OutboundMessages(Outbound& o, uint64_t now) {
    for (int i = 0; i < kMaxReadsPerSocket && o.sock; ++i) {
      zmq::message_t m;
      if (!o.sock->recv(m, zmq::recv_flags::dontwait)) break;
      if (m.more()) {  // we only ever send single-frame messages
        while (m.more() && o.sock->recv(m, zmq::recv_flags::dontwait)) {
        }
        counters.bad_messages++;
        Emit(K::kBadMessage, o.endpoint, o.key.ToHex(), "multi-frame message dropped");
        continue;
      }
      if (!o.conn.session) continue;  // before the handshake event was read
      Status s = o.conn.session->OnMessage(
          std::span<const uint8_t>(static_cast<const uint8_t*>(m.data()), m.size()), now);
      if (s.ok() && o.conn.session->peer() != AuthorId{} && o.conn.session->peer() != o.key) {
        s = Status::Unauthenticated("peer says it is " + o.conn.session->peer().ToHex() +
                                    ", expected " + o.key.ToHex());
      }
      if (!Check(o.conn, s, *o.sock, nullptr)) {
        DropDealer(o, now);
        return;
      }
    }
    if (o.sock && o.conn.session && !Flush(o.conn, *o.sock, nullptr)) {
      EndSession(o.conn, Unread(o.conn));
      DropDealer(o, now);
    }
  }

  // --- inbound (ROUTER) ---
  void ListenerEvents(Listener& l, uint64_t now) {
    auto events = ReadEvents(*l.mon);
    for (const auto& e : events) {  // last messages before the disconnect (as OutboundEvents)
      if (e.first == ZMQ_EVENT_DISCONNECTED) {
        ListenerMessages(l, now);
        break;
      }
    }
    for (auto [ev, val] : events) {
      if (ev == ZMQ_EVENT_DISCONNECTED) {
        ReleaseHolds(now, val);
        lingering.erase(val);
        for (auto it = l.conns.begin(); it != l.conns.end();) {
          Inbound& in = *it->second;
          if (in.fd == val && in.created < now) {
            Emit(K::kDisconnected, in.conn.stats.endpoint, in.conn.stats.peer.ToHex(), "inbound");
            if (in.conn.session) EndSession(in.conn, Status::Unavailable("disconnected"));
            Bury(l, it->first);
            it = l.conns.erase(it);
          } else {
            ++it;
          }
        }
      } else if (ev & (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)) {
        counters.handshake_failures++;
        Emit(K::kRefused, "listen:" + l.endpoint, "", HandshakeWhy(ev, val));
      }
    }
  }

  void Bury(Listener& l, const std::string& rid) {
    if (auto it = l.conns.find(rid); it != l.conns.end() && it->second->conn.stats.peer != AuthorId{}) {
      const PeerStats& g = it->second->conn.stats;
      PeerStats& t = closed[g.peer];
      t.endpoint = "in:closed";
      t.peer = g.peer;
      t.sessions += g.sessions;
      t.session_failures += g.session_failures;
      if (!g.last_error.empty()) t.last_error = g.last_error;
      t.bytes_in += g.bytes_in;
      t.bytes_out += g.bytes_out;
      t.messages_in += g.messages_in;
      t.messages_out += g.messages_out;
      t.deltas_sent += g.deltas_sent;
      t.deltas_received += g.deltas_received;
      t.deltas_applied += g.deltas_applied;
      t.deltas_rejected += g.deltas_rejected;
      t.deltas_unreadable += g.deltas_unreadable;
      t.stubs_sent += g.stubs_sent;
      t.deltas_withheld += g.deltas_withheld;
      t.bodies_arrived += g.bodies_arrived;
      t.last_sync_unix_ms = std::max(t.last_sync_unix_ms, g.last_sync_unix_ms);
      if (g.lag_known) {  // the last session's lag
        t.lag_known = true;
        t.behind_out = g.behind_out;
        t.behind_in = g.behind_in;
      }
      t.last_seen_unix_ms = std::max(t.last_seen_unix_ms, g.last_seen_unix_ms);
    }
    if (l.dead_set.insert(rid).second) l.dead.push_back(rid);
    while (l.dead.size() > kMaxDeadIds) {
      l.dead_set.erase(l.dead.front());
      l.dead.pop_front();
    }
  }

  void ListenerMessages(Listener& l, uint64_t now) {
    for (int i = 0; i < kMaxReadsPerSocket; ++i) {
      zmq::message_t id;
      if (!l.sock->recv(id, zmq::recv_flags::dontwait)) break;
      std::vector<zmq::message_t> parts;
      bool more = id.more();
      while (more) {
        zmq::message_t p;
        if (!l.sock->recv(p, zmq::recv_flags::dontwait)) break;
        more = p.more();
        if (parts.size() < 4) parts.push_back(std::move(p));
      }
      std::string rid = id.to_string();
      if (l.dead_set.count(rid)) continue;
      if (parts.size() != 1) {
        counters.bad_messages++;
        Emit(K::kBadMessage, "listen:" + l.endpoint, "", "expected one frame, got " + std::to_string(parts.size()));
        continue;
      }
      zmq::message_t& m = parts[0];
      auto it = l.conns.find(rid);
      if (it == l.conns.end()) {
        if (l.conns.size() >= kMaxInbound) {
          Emit(K::kRefused, "listen:" + l.endpoint, "", "too many inbound connections");
          continue;
        }
        auto in = std::make_unique<Inbound>();
        in->created = now;
        in->conn.stats.endpoint = "in:" + l.endpoint + "#" + std::to_string(l.next_n++);
        in->conn.stats.outbound = false;
        try {
          const char* uid = m.gets("User-Id");
          std::string hex = uid ? uid : "";
          auto a = AuthorId::FromHex(hex);  // curve key, 64 hex digits
          if (a.ok()) in->curve_pk = a->bytes;
          in->fd = static_cast<int>(m.get(ZMQ_SRCFD));
        } catch (const zmq::error_t&) {
        }
        ForgetAdmission(in->curve_pk);
        if (const size_t have = SessionsOf(in->curve_pk); have >= opts.max_sessions_per_key) {
          const std::string why = "too many sessions for this key (" + std::to_string(have) + ", limit " +
                                  std::to_string(opts.max_sessions_per_key) + ")";
          Emit(K::kRefused, "listen:" + l.endpoint, Hex(in->curve_pk.data(), 32), why);
          sync::Writer w(sync::kError);
          w.Array(2).Uint(static_cast<uint8_t>(Code::kResourceExhausted)).Str("sync: " + why);
          Bytes err = w.Take();
          try {
            if (l.sock->send(zmq::buffer(rid), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
              (void)l.sock->send(zmq::buffer(err.data(), err.size()), zmq::send_flags::dontwait);
            }
          } catch (const zmq::error_t&) {
          }
          Linger(*in, now);
          Bury(l, rid);
          continue;
        }
        StartSession(in->conn, /*initiator=*/false, now, in->curve_pk);
        Emit(K::kConnected, in->conn.stats.endpoint, "", "inbound");
        it = l.conns.emplace(rid, std::move(in)).first;
      }
      Inbound& in = *it->second;
      Status s = in.conn.session->OnMessage(
          std::span<const uint8_t>(static_cast<const uint8_t*>(m.data()), m.size()), now);
      // Bind the session's identity to the CURVE key that ZAP admitted.
      const AuthorId& peer = in.conn.session->peer();
      if (s.ok() && peer != AuthorId{} && in.conn.stats.peer != peer) {
        auto c = crypto::CurvePublicKey(peer);
        if (!c.ok() || *c != in.curve_pk) {
          s = Status::Unauthenticated("session identity " + peer.ToHex().substr(0, 16) +
                                      " does not match the CURVE key of the connection");
        } else {
          in.conn.stats.peer = peer;
        }
      }
      if (!Check(in.conn, s, *l.sock, &rid, in.fd, now)) {
        Linger(in, now);
        Bury(l, rid);
        l.conns.erase(it);
        continue;
      }
      try {
        if (!Flush(in.conn, *l.sock, &rid)) {
          EndSession(in.conn, Unread(in.conn), in.fd, now);
          Linger(in, now);
          Bury(l, rid);
          l.conns.erase(it);
        }
      } catch (const zmq::error_t& e) {  // EHOSTUNREACH: the peer left since its message
        EndSession(in.conn, Status::Unavailable(std::string("send: ") + e.what()));
        Bury(l, rid);
        l.conns.erase(it);
      }
    }
  }

  // --- ticks ---
  uint64_t LastTxn() const { return ReplicaAccess::Of(replica).LastTxnId(); }

  // True when the replica has new heads since the last look (then every
  // session is offered its new deltas).
  bool HeadsMoved(uint64_t now) {
    const bool poll = now >= next_heads_poll;
    if (LastTxn() == seen_txn && !poll) return false;
    if (poll) next_heads_poll = now + opts.heads_poll_ms;
    // What the heads read below sees at least: while LastTxn() is ahead of
    // it, the loop keeps looking.
    const uint64_t txn = ReplicaAccess::Of(replica).ReadableTxnId();
    if (txn != 0) seen_txn = txn;
    last_heads_check = now;
    // A read failure is retried at the next poll (the sessions meet it too).
    if (auto h = replica.GetHeads(); h.ok() && *h != last_heads) {
      last_heads = std::move(h).value();
      return true;
    }
    return false;
  }

  void WatchReplicaFile() {
    inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd < 0) return;
    const std::string data = replica.dir() + "/data.mdb";
    if (inotify_add_watch(inotify_fd, data.c_str(), IN_MODIFY) < 0) {
      ::close(inotify_fd);
      inotify_fd = -1;
    }
  }

  void DrainInotify(uint64_t now) {
    alignas(struct inotify_event) char buf[4096];
    while (::read(inotify_fd, buf, sizeof buf) > 0) {
    }
    recheck_until = now + kRecheckMs;
  }

  void Tick(uint64_t now) {
    ReleaseHolds(now, -1);
    const uint64_t txn_before = seen_txn;
    const bool notify = HeadsMoved(now);
    // A commit that moved no head (a body arriving for a held stub): the
    // sessions look for bodies of the stubs they sent (docs/protocol.md,
    // "Bodies follow live").
    const bool changed = !notify && seen_txn != txn_before;
    for (auto& o : outbound) {
      if (!o->sock) {
        if (now >= o->recreate_at) CreateDealer(*o);
        continue;
      }
      if (!o->conn.session) continue;
      if (notify) o->conn.session->NotifyNewDeltas();
      if (changed) o->conn.session->NotifyReplicaChanged();
      Status s = o->conn.session->OnTick(now);
      if (!Check(o->conn, s, *o->sock, nullptr)) {
        DropDealer(*o, now);
        continue;
      }
      if (!Flush(o->conn, *o->sock, nullptr)) {
        EndSession(o->conn, Unread(o->conn));
        DropDealer(*o, now);
      }
    }
    for (auto& l : listeners) {
      for (auto it = l->conns.begin(); it != l->conns.end();) {
        Conn& c = it->second->conn;
        const int fd = it->second->fd;
        if (notify) c.session->NotifyNewDeltas();
        if (changed) c.session->NotifyReplicaChanged();
        Status s = c.session->OnTick(now);
        if (!Check(c, s, *l->sock, &it->first, fd, now)) {
          Linger(*it->second, now);
          Bury(*l, it->first);
          it = l->conns.erase(it);
          continue;
        }
        try {
          if (!Flush(c, *l->sock, &it->first)) {
            EndSession(c, Unread(c), fd, now);
            Linger(*it->second, now);
            Bury(*l, it->first);
            it = l->conns.erase(it);
            continue;
          }
        } catch (const zmq::error_t& e) {  // EHOSTUNREACH: the peer is gone
          EndSession(c, Status::Unavailable(std::string("send: ") + e.what()));
          Bury(*l, it->first);
          it = l->conns.erase(it);
          continue;
        }
        ++it;
      }
    }
  }

  void PublishStats() {
    NodeStats s;
    s.zap_admitted = counters.zap_admitted;
    s.zap_refused = counters.zap_refused;
    s.handshake_failures = counters.handshake_failures;
    s.bad_messages = counters.bad_messages;
    s.deltas_unreadable = counters.deltas_unreadable;
    s.loop_iterations = ++counters.loop_iterations;
    for (auto& o : outbound) s.peers.push_back(o->conn.stats);
    for (auto& [k, t] : closed) s.closed.push_back(t);
    for (auto& l : listeners) {
      for (auto& [rid, in] : l->conns) s.peers.push_back(in->conn.stats);
    }
    std::lock_guard<std::mutex> lock(stats_mu);
    snapshot = std::move(s);
  }

  void Loop() {
    uint64_t now = NowMs();
    for (auto& o : outbound) CreateDealer(*o);
    WatchReplicaFile();
    seen_txn = LastTxn();
    while (!stop.load()) {
      std::vector<zmq::pollitem_t> items;
      if (inotify_fd >= 0) items.push_back({nullptr, inotify_fd, ZMQ_POLLIN, 0});
      const size_t first_zmq = items.size();
      items.push_back({zap->handle(), 0, ZMQ_POLLIN, 0});
      for (auto& l : listeners) {
        items.push_back({l->mon->handle(), 0, ZMQ_POLLIN, 0});
        items.push_back({l->sock->handle(), 0, ZMQ_POLLIN, 0});
      }
      for (auto& o : outbound) {
        if (!o->sock) continue;
        items.push_back({o->mon->handle(), 0, ZMQ_POLLIN, 0});
        items.push_back({o->sock->handle(), 0, ZMQ_POLLIN, 0});
      }
      now = NowMs();
      long wait = next_tick > now ? static_cast<long>(next_tick - now) : 0;
      wait = std::min<long>(wait, static_cast<long>(opts.tick_ms));
      if (now < recheck_until || (LastTxn() != seen_txn)) wait = std::min<long>(wait, 1);
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(wait));
      now = NowMs();
      if (first_zmq > 0 && (items[0].revents & ZMQ_POLLIN)) DrainInotify(now);
      ServeZap();
      for (auto& l : listeners) {
        ListenerEvents(*l, now);
        ListenerMessages(*l, now);
      }
      for (auto& o : outbound) {
        OutboundEvents(*o, now);
        OutboundMessages(*o, now);
      }
      if (now >= next_tick) {
        next_tick = now + opts.tick_ms;
        Tick(now);
      } else if (LastTxn() != seen_txn && now >= last_heads_check + kMinNotifyGapMs) {
        Tick(now);  // new deltas (a commit, or a session applied some): offer them now
      }
      PublishStats();
    }
  }

  // A clean stop says goodbye: the peer logs a BYE (info), not a transport
  // that vanished. Best effort: the linger on close gives it time to leave.
  void SayBye(Conn& c, zmq::socket_t* sock, const std::string* rid) {
    if (!c.session || !sock || c.session->done()) return;
    c.session->Close();
    try {
      Flush(c, *sock, rid);
    } catch (const zmq::error_t&) {
    }
  }

  void Shutdown() {
    for (auto& o : outbound) {
      SayBye(o->conn, o->sock.get(), nullptr);
      if (o->conn.session) EndSession(o->conn, Status::Ok());
      CloseMonitored(o->sock, o->mon);
    }
    for (auto& l : listeners) {
      for (auto& [rid, in] : l->conns) {
        SayBye(in->conn, l->sock.get(), &rid);
        if (in->conn.session) EndSession(in->conn, Status::Ok());
      }
      l->conns.clear();
      CloseMonitored(l->sock, l->mon);
    }
    if (zap) zap->close();
    if (inotify_fd >= 0) {
      ::close(inotify_fd);
      inotify_fd = -1;
    }
    PublishStats();
  }

  void Run() {
    try {
      Loop();
    } catch (const std::exception& e) {
      Emit(K::kSessionFailed, "", "", std::string("node loop stopped: ") + e.what());
    }
    try {
      Shutdown();
    } catch (const std::exception& e) {
      Emit(K::kSessionFailed, "", "", std::string("shutdown: ") + e.what());
    }
    running = false;
  }
};

Result<std::unique_ptr<SyncNode>> SyncNode::Create(Replica& replica, NodeOptions options) {
  if (options.tick_ms == 0 || options.tick_ms > 10'000) return Status::InvalidArgument("tick_ms must be 1..10000");
  // The CURVE key pair is the X25519 form of the open replica's identity.
  const crypto::SigningKeyPair& id = store::IdentityOf(replica);
  auto impl = std::make_unique<Impl>(replica, std::move(options));
  auto pk = crypto::CurvePublicKey(id.public_key);
  if (!pk.ok()) return pk.status();
  auto sk = crypto::CurveSecretKey(id);
  if (!sk.ok()) return sk.status();
  impl->author = id.public_key;
  impl->curve_pk = *pk;
  impl->curve_sk = std::move(sk).value();
  try {
    impl->zap = std::make_unique<zmq::socket_t>(impl->ctx, zmq::socket_type::rep);
    impl->zap->set(zmq::sockopt::linger, 0);
    impl->zap->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("ZAP handler: ") + e.what());
  }
  return std::unique_ptr<SyncNode>(new SyncNode(std::move(impl)));
}

SyncNode::SyncNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SyncNode::~SyncNode() {
  Stop();
  if (!impl_->started) {  // sockets were never handed to the thread
    try {
      impl_->Shutdown();
    } catch (...) {
    }
  }
}

Status SyncNode::Listen(const std::string& endpoint) {
  if (impl_->started) return Status::FailedPrecondition("Listen after Start");
  auto l = std::make_unique<Listener>();
  try {
    l->sock = std::make_unique<zmq::socket_t>(impl_->ctx, zmq::socket_type::router);
    impl_->CommonOptions(*l->sock);
    l->sock->set(zmq::sockopt::router_mandatory, 1);
    l->sock->set(zmq::sockopt::curve_server, 1);
    l->sock->set(zmq::sockopt::curve_secretkey, zmq::const_buffer(impl_->curve_sk.data(), 32));
    l->sock->set(zmq::sockopt::zap_domain, "hearth");
    l->mon = impl_->Monitor(*l->sock);
    l->sock->bind(endpoint);
    l->endpoint = l->sock->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    std::unique_ptr<zmq::socket_t> s = std::move(l->sock), m = std::move(l->mon);
    try {
      impl_->CloseMonitored(s, m);
    } catch (...) {
    }
    if (e.num() == EADDRINUSE) return Status::Unavailable("listen " + endpoint + ": " + e.what());
    return Status::InvalidArgument("listen " + endpoint + ": " + e.what());
  }
  impl_->Emit(K::kListening, l->endpoint, impl_->author.ToHex(), "");
  impl_->listeners.push_back(std::move(l));
  return Status::Ok();
}

std::vector<std::string> SyncNode::ListenEndpoints() const {
  std::vector<std::string> out;
  for (auto& l : impl_->listeners) out.push_back(l->endpoint);
  return out;
}

Status SyncNode::Connect(const std::string& endpoint, const AuthorId& peer_key) {
  if (impl_->started) return Status::FailedPrecondition("Connect after Start");
  if (endpoint.rfind("tcp://", 0) != 0 && endpoint.rfind("ipc://", 0) != 0 && endpoint.rfind("inproc://", 0) != 0) {
    return Status::InvalidArgument("endpoint " + endpoint + ": expected tcp://HOST:PORT");
  }
  auto pk = crypto::CurvePublicKey(peer_key);
  if (!pk.ok()) return pk.status().WithContext("peer key for " + endpoint);
  if (peer_key == impl_->author) return Status::InvalidArgument("peer " + endpoint + " has this node's own key");
  auto o = std::make_unique<Outbound>();
  o->endpoint = endpoint;
  o->key = peer_key;
  o->curve_pk = *pk;
  o->conn.stats.endpoint = endpoint;
  o->conn.stats.outbound = true;
  o->conn.stats.peer = peer_key;
  impl_->outbound.push_back(std::move(o));
  return Status::Ok();
}

Status SyncNode::Start() {
  if (impl_->started.exchange(true)) return Status::FailedPrecondition("already started");
  impl_->running = true;
  auto heads = impl_->replica.GetHeads();
  if (!heads.ok()) {
    impl_->started = false;
    return heads.status().WithContext("reading the replica's heads");
  }
  impl_->last_heads = std::move(heads).value();
  try {
    impl_->thread = std::thread([this] { impl_->Run(); });
  } catch (const std::exception& e) {
    impl_->running = false;
    return Status::Internal(std::string("thread: ") + e.what());
  }
  return Status::Ok();
}

void SyncNode::Stop() {
  impl_->stop = true;
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool SyncNode::running() const { return impl_->running.load(); }

NodeStats SyncNode::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->snapshot;
}

const AuthorId& SyncNode::author() const { return impl_->author; }

}  // namespace hearth
