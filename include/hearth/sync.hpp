// SyncSession: the sync protocol with one peer, as a pure state machine.
//
// The session never touches a socket or a clock: the caller passes in the
// bytes of each message received and the current time, and takes out the
// messages to send. The same code runs over ZeroMQ (SyncNode, hearthd) and
// inside the deterministic simulator of the tests. Protocol: docs/protocol.md.
//
// A session reads and writes its Replica (heads, deltas to send, deltas
// received are applied through Replica::ApplyBatch, the same validation as
// every other path).
//
// Thread safety: a session is used by one thread at a time. Several
// sessions may share one Replica (which is thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "hearth/export.hpp"
#include "hearth/replica.hpp"
#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth {

// Bytes of deltas sent and not yet credited, shared by several sessions (a
// node's total, or one peer key's across its sessions). A session never puts
// more in flight than `limit - used` of every budget it holds, and gives its
// share back as the peer credits it and when the session is destroyed.
// Sessions sharing a budget must run on one thread (SyncNode's loop).
struct SendBudget {
  uint64_t limit = 0;
  uint64_t used = 0;
};

struct SyncOptions {
  // Largest message this side sends or accepts (bytes).
  uint64_t max_message_bytes = uint64_t{4} << 20;
  // Flow control: bytes of deltas the peer may send before it needs more
  // credit. Bounds what either side buffers for this peer. The window the
  // peer announces is capped by this one: we never put more than
  // min(ours, theirs) in flight, whatever a peer claims.
  uint64_t window_bytes = uint64_t{16} << 20;
  // No message from the peer for this long, or deltas in flight and no new
  // credit for this long (a peer that does not read): the session fails
  // (kUnavailable).
  uint64_t idle_timeout_ms = 30'000;
  // Send a heartbeat when nothing else was sent for this long.
  uint64_t heartbeat_ms = 5'000;
  // Faults (bad deltas, malformed messages) tolerated before giving up.
  uint32_t max_faults = 3;
  // Handshake (hello, proof, summary, heads) not finished this long after
  // Start: the session fails (kUnavailable). 0 = idle_timeout_ms.
  uint64_t handshake_timeout_ms = 0;
  // Shared limits on delta bytes in flight (see SendBudget); empty: only
  // the window bounds this session.
  std::vector<std::shared_ptr<SendBudget>> send_budgets;
  // Recursive reconciliation (RECON messages, docs/protocol.md). false:
  // behave as a peer from before it (RANGES only; a RECON counts a fault),
  // for interoperability tests.
  bool recursive_recon = true;
  // Compact RECON (6-byte fingerprints and item hashes, modes 3 and 4).
  // false: behave as a peer that knows only the first RECON (8 bytes, modes
  // 0 and 1; a mode 3 counts a fault), for interoperability tests. A compact
  // peer falls back to the first RECON with such a peer by itself.
  bool compact_recon = true;
};

struct SyncStats {
  uint64_t messages_in = 0, messages_out = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t deltas_sent = 0, deltas_received = 0, deltas_applied = 0;
  uint64_t deltas_rejected = 0;
  // Stored without their scope's key (ApplyOutcome::kUnreadable), and the
  // scopes they belong to (names, sorted).
  uint64_t deltas_unreadable = 0;
  std::set<std::string> unreadable_scopes;
  // Stubs: sent in place of a delta the peer may not receive, received and
  // stored withheld (ApplyOutcome::kWithheld), and bodies of held stubs that
  // arrived (ApplyOutcome::kBodyArrived).
  uint64_t stubs_sent = 0, deltas_withheld = 0, bodies_arrived = 0;
  // Bodies sent within the session for stubs sent earlier (docs/protocol.md,
  // "Bodies follow live"); stubs watched for their body now, and stubs not
  // watched (over the bound: their body waits for the next handshake).
  uint64_t bodies_sent = 0, stubs_watched = 0, stubs_unwatched = 0;
  uint64_t faults = 0;
  uint64_t handshake_bytes = 0;  // both directions, until in sync
  bool caught_up = false;        // both sides have everything the other offered
  // Bounds actually reached (for tests and monitoring).
  uint64_t max_in_flight_bytes = 0;  // delta bytes sent and not yet credited
  uint64_t in_flight_bytes = 0;      // the same, now
  uint64_t max_message_bytes = 0;    // largest message queued
  uint64_t max_queued_bytes = 0;     // largest outgoing queue between TakeOutgoing calls
  // Lag (docs/hearthd.md, "Status"): deltas each side lacks, from the
  // handshake's heads comparison (lag_known once it ran), then counted down
  // as deltas move: behind_out to 0 when nothing is left to send to the
  // peer, behind_in to 0 when the peer says it has nothing left for us.
  // Deltas committed after the handshake are not counted (they move live).
  bool lag_known = false;
  uint64_t behind_out = 0;  // deltas the peer lacks that this side holds
  uint64_t behind_in = 0;   // deltas this side lacks that the peer holds
};

class HEARTH_EXPORT SyncSession {
 public:
  // `initiator` sends the first message (the connecting side).
  SyncSession(Replica& replica, bool initiator, SyncOptions options = {});
  ~SyncSession();
  SyncSession(const SyncSession&) = delete;
  SyncSession& operator=(const SyncSession&) = delete;

  // Starts the session (the initiator queues its hello).
  Status Start(uint64_t now_ms);
  // Handles one message from the peer. A non-ok Status means the session is
  // over (protocol violation past max_faults, or the peer said goodbye with
  // an error); an error message for the peer may still be queued.
  Status OnMessage(std::span<const uint8_t> message, uint64_t now_ms);
  // Advances timers: heartbeats, idle timeout, live push of new local deltas.
  Status OnTick(uint64_t now_ms);
  // New local commits (or deltas applied from another peer) exist: offer them.
  void NotifyNewDeltas();
  // The replica changed without new heads (a body arrived for a held stub,
  // say): the bodies of stubs sent to this peer are looked for again.
  void NotifyReplicaChanged();

  // Messages to send to the peer, in order; the queue is emptied.
  std::vector<Bytes> TakeOutgoing();

  // The peer's identity once the handshake has run (zero before).
  const AuthorId& peer() const;
  bool done() const;
  // Ends the session politely: queues a BYE; done() becomes true.
  void Close();
  // Why the session ended (ok while running or after a clean BYE).
  const Status& status() const;
  const SyncStats& stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth
