// SyncNode: runs the sync protocol (SyncSession) with peers over ZeroMQ.
//
// A node owns a ZeroMQ context and its sockets: one ROUTER per Listen()
// endpoint (peers connect to it) and one DEALER per Connect() peer (the
// DEALER side is the session initiator). Every connection runs over CURVE;
// both key pairs are the X25519 form of the nodes' Ed25519 identities, so a
// peer's transport key *is* its author key. The node takes its key pair
// from the open Replica (unlocked when it was opened, with
// ReplicaOptions::passphrase): it reads no identity file and needs no
// passphrase of its own. The node's ZAP handler admits:
//   - when the replica obeys a root and holds a policy: only the keys of
//     policy members that are not revoked;
//   - when the replica obeys a root but holds no policy yet: only the root;
//   - when the replica obeys no root (single-agency or test setups): any key.
// A DEALER only talks to the server key it was given (CURVE authenticates
// the server), so Connect() needs the peer's public key.
//
// Threading: Listen/Connect are called before Start(); Start() hands every
// socket to one background thread, which owns them until Stop(). Stats()
// and Stop() may be called from any thread. Nothing here throws.
//
// Protocol: docs/protocol.md; daemon and operations: docs/hearthd.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hearth/export.hpp"
#include "hearth/replica.hpp"
#include "hearth/status.hpp"
#include "hearth/sync.hpp"
#include "hearth/value.hpp"

namespace hearth {

struct HEARTH_EXPORT NodeOptions {
  SyncOptions sync;
  // Main loop period: OnTick of every session.
  uint64_t tick_ms = 100;
  // New deltas (a commit by this or another process, or deltas a session
  // applied) are offered to the peers as soon as the loop sees LMDB's
  // transaction id move: at once for this process's sessions, and through
  // inotify on data.mdb for other processes (docs/hearthd.md, "How fast a
  // write travels"). This is the fallback: how often the heads are compared
  // anyway (no inotify, or a missed event).
  uint64_t heads_poll_ms = 200;
  // ZeroMQ: reconnect backoff (DEALER), ZMTP heartbeats, CURVE handshake
  // deadline, queue lengths (messages), linger on close.
  int reconnect_ivl_ms = 200;
  int reconnect_ivl_max_ms = 5'000;
  int heartbeat_ivl_ms = 2'000;
  int heartbeat_timeout_ms = 10'000;
  int heartbeat_ttl_ms = 10'000;
  int handshake_ivl_ms = 5'000;
  int hwm = 1'000;
  int linger_ms = 500;
  // Largest ZeroMQ message accepted: SyncOptions::max_message_bytes plus
  // this much slack. Bigger messages drop the connection.
  uint64_t max_message_slack = 4'096;

  // Resource bounds against peers (docs/protocol.md, "Memory"):
  // - sessions at once per peer key (inbound and outbound together); past
  //   it, ZAP refuses the key's new connections and a new session is
  //   answered with ERROR. One key cannot take the inbound slots of others.
  uint32_t max_sessions_per_key = 4;
  // - delta bytes in flight (sent, not yet credited) over all sessions.
  //   Each key's sessions together hold at most one window
  //   (SyncOptions::window_bytes), whatever window its peers announce.
  uint64_t max_send_bytes_total = uint64_t{64} << 20;
  // - bytes queued for one connection beyond what ZeroMQ took (0: window +
  //   2 x max_message_bytes + 1 MiB), and at most 4,096 messages: past
  //   either the peer does not read, and its session ends.
  uint64_t max_outbox_bytes = 0;

  // Events for logs (called on the node's thread; keep it quick).
  enum class EventKind : uint8_t {
    kListening,      // a ROUTER is bound (detail = endpoint)
    kConnected,      // transport up and CURVE handshake done
    kDisconnected,   // transport gone
    kRefused,        // ZAP refused a key, or a handshake failed (detail = why)
    kSessionStarted,
    kSessionFailed,  // the session ended with an error (detail = status)
    kSessionDone,    // the peer said goodbye
    kDeltasSent,     // count = how many since the last event
    kDeltasReceived,
    kDeltasApplied,
    kDeltasRejected,
    kBadMessage,     // malformed transport message (not a session message)
    kDeltasUnreadable,  // deltas stored without their scope's key (count); detail = the
                        // scope, once per scope while the node runs
  };
  struct Event {
    EventKind kind;
    std::string peer_endpoint;  // configured endpoint (outbound) or "listen:<ep>"
    std::string peer_key_hex;   // when known
    std::string detail;
    uint64_t count = 0;
  };
  std::function<void(const Event&)> on_event;
};

HEARTH_EXPORT std::string_view NodeEventName(NodeOptions::EventKind kind);

// Per connection (outbound peer or inbound ROUTER connection).
struct HEARTH_EXPORT PeerStats {
  std::string endpoint;   // outbound: the configured endpoint; inbound: "in:<listen ep>#<n>"
  bool outbound = false;
  AuthorId peer;          // from the CURVE key (inbound) or configuration (outbound)
  bool connected = false;     // a session is running
  uint64_t sessions = 0;      // sessions started on this connection/peer
  uint64_t session_failures = 0;
  std::string last_error;
  // Totals over every session of this peer, plus the current one.
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t messages_in = 0, messages_out = 0;
  uint64_t deltas_sent = 0, deltas_received = 0, deltas_applied = 0, deltas_rejected = 0;
  uint64_t deltas_unreadable = 0;  // stored without their scope's key (ApplyOutcome::kUnreadable)
  // Withheld deltas (docs/policy.md, "What a stub reveals"): stubs sent to
  // the peer instead of bodies it may not receive; stubs from the peer
  // stored here without their body (ApplyOutcome::kWithheld); bodies of
  // stubs held here that the peer sent later (ApplyOutcome::kBodyArrived).
  uint64_t stubs_sent = 0, deltas_withheld = 0, bodies_arrived = 0;
  bool caught_up = false;
  // Wall-clock ms (Unix epoch) when a session with this peer was last
  // caught up in both directions (0: never). For monitoring only.
  uint64_t last_sync_unix_ms = 0;
  // Lag of the current or last session (SyncStats::behind_out/behind_in):
  // deltas the peer lacks from us, and we from it. lag_known: a session's
  // handshake compared heads.
  bool lag_known = false;
  uint64_t behind_out = 0, behind_in = 0;
  // Wall-clock ms of the last message from the peer (0: never). Monitoring only.
  uint64_t last_seen_unix_ms = 0;
};

struct HEARTH_EXPORT NodeStats {
  std::vector<PeerStats> peers;
  // Inbound connections that are gone, summed per peer key (endpoint
  // "in:closed", connected false): with `peers`, totals per key that do not
  // restart when a peer reconnects.
  std::vector<PeerStats> closed;
  uint64_t zap_admitted = 0, zap_refused = 0;
  uint64_t handshake_failures = 0;  // protocol errors, bad keys, garbage; sessions failed before the hello exchange
  uint64_t bad_messages = 0;        // transport-level malformed messages
  uint64_t deltas_unreadable = 0;   // deltas stored without their scope's key, from every peer
  uint64_t loop_iterations = 0;
};

class HEARTH_EXPORT SyncNode {
 public:
  // `replica` must outlive the node. Loads the identity (for the CURVE keys)
  // and sets up the ZAP handler. Errors: identity errors
  // (kFailedPrecondition, kUnauthenticated), kInternal (ZeroMQ).
  static Result<std::unique_ptr<SyncNode>> Create(Replica& replica, NodeOptions options = {});
  ~SyncNode();  // Stop()s
  SyncNode(const SyncNode&) = delete;
  SyncNode& operator=(const SyncNode&) = delete;

  // Binds a ROUTER to `endpoint` (e.g. "tcp://127.0.0.1:7400"). Before
  // Start(). kInvalidArgument (bad endpoint), kUnavailable (address in use).
  Status Listen(const std::string& endpoint);
  // The actual endpoints bound (resolves "tcp://127.0.0.1:*").
  std::vector<std::string> ListenEndpoints() const;
  // Adds an outbound peer; reconnects forever with backoff. Before Start().
  Status Connect(const std::string& endpoint, const AuthorId& peer_key);

  // Runs the loop on a background thread.
  Status Start();
  // Stops the loop (the current message finishes), closes the sockets and
  // joins the thread. Idempotent.
  void Stop();
  bool running() const;

  NodeStats Stats() const;
  const AuthorId& author() const;

  struct Impl;

 private:
  explicit SyncNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth
