// SyncSession: the sync protocol state machine (docs/protocol.md).
#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>

#include "crypto/crypto.hpp"
#include "feed/delta.hpp"
#include "hearth/sync.hpp"
#include "identity/identity.hpp"
#include "store/replica_identity.hpp"
#include "sync/recon.hpp"
#include "sync/wire.hpp"

namespace hearth {

using sync::Reader;
using sync::Writer;

namespace {

constexpr size_t kNonceBytes = 32;
// Room for the type byte, array headers and mseq of a DELTAS message.
constexpr uint64_t kDeltasOverhead = 32;
// Per delta: the bin header (at most 5 bytes).
constexpr uint64_t kPerDeltaOverhead = 5;
// A HEADS entry: array(2) + bin32 + uint64.
constexpr uint64_t kHeadsEntryBytes = 1 + 34 + 9;
// HEADS entries one handshake may receive (CPU bound; memory is bounded by
// our own heads: entries for authors we do not hold are not kept).
constexpr uint64_t kMaxHeadsEntries = uint64_t{1} << 20;
constexpr uint64_t kMaxErrorText = 512;

// Range-based reconciliation (docs/protocol.md, "Summary"): the author key
// space is cut into kRanges fixed ranges by the high nibble of the key's
// first byte. Above kRangesFrom authors on either side, differing summaries
// are followed by one fingerprint per range, and only the heads of the
// ranges that differ are exchanged.
constexpr size_t kRanges = 16;
constexpr uint64_t kRangesFrom = 64;

size_t RangeOf(const AuthorId& a) { return a.bytes[0] >> 4; }

// BLAKE2b-256("hearth/sync-heads/v1" || author || seq BE || hash ...) over
// the heads whose author is in range `range` (or all of them: kRanges).
Hash32 Fingerprint(const Heads& heads, size_t range = kRanges) {
  crypto::Hasher h;
  static constexpr std::string_view kCtx = "hearth/sync-heads/v1";
  h.Update({reinterpret_cast<const uint8_t*>(kCtx.data()), kCtx.size()});
  for (const auto& [a, fh] : heads) {
    if (range != kRanges && RangeOf(a) != range) continue;
    uint8_t seq[8];
    for (int i = 0; i < 8; ++i) seq[i] = static_cast<uint8_t>(fh.seq >> (56 - 8 * i));
    h.Update(a.bytes);
    h.Update(seq);
    h.Update(fh.hash);
  }
  return h.Final();
}

bool IsReserved(std::string_view scope) { return scope == kPolicyScope || scope == kKeysScope || scope == kSchemaScope; }

}  // namespace

struct SyncSession::Impl {
  enum class St { kInit, kHelloSent, kAwaitProof, kAuthed, kLive, kDone };

  Replica& replica;
  bool initiator;
  SyncOptions opts;
  SyncStats stats;
  Status status;
  AuthorId peer;
  St st = St::kInit;
  bool started = false;

  std::array<uint8_t, kNonceBytes> my_nonce{}, peer_nonce{};
  AuthorId peer_claimed;
  uint64_t peer_window = 0;
  uint64_t peer_max_message = 0;

  uint64_t now = 0, start_ms = 0, last_recv = 0, last_send = 0;

  // Handshake.
  Heads summary_heads;  // my heads when I sent SUMMARY
  Hash32 my_fp{};
  Heads incoming_heads;  // peer's HEADS chunks so far (authors we hold only)
  uint64_t heads_chunk_next = 0;
  uint64_t heads_received = 0;       // entries in the peer's HEADS chunks, all
  std::optional<Heads> heads_filter;  // my heads while HEADS arrive
  bool ranges_expected = false;  // we sent RANGES; the peer's comes next
  // Recursive reconciliation (OnRecon): while recon_active, the peer's RECON
  // of round recon_round is expected; recon_open holds the ranges (sorted,
  // depth recon_round - 1) still differing, recon_mode what we sent for them.
  bool recon_active = false;
  uint32_t recon_round = 0;
  uint8_t recon_mode = 0;
  // Compact RECON (6-byte fingerprints and items, modes 3/4) until the peer's
  // round 1 shows it speaks only the first RECON (modes 0/1, 8 bytes).
  bool recon_compact = true;
  uint64_t recon_n = 0;  // max of both SUMMARY counts
  uint64_t recon_peer_count = 0;
  std::vector<uint32_t> recon_open;
  sync::ReconKey recon_key{};
  bool handshake_counting = true;

  // Transfer.
  Heads peer_heads;                        // what the peer holds (known or sent by us)
  std::map<AuthorId, uint64_t> blocked;    // feeds not sent past this seq (scope filter)
  uint64_t policy_version_seen = UINT64_MAX;
  bool dirty = true;
  uint64_t out_mseq = 0, in_mseq = 0;
  uint64_t sent_bytes = 0, acked_bytes = 0, recv_bytes = 0;
  uint64_t charged = 0;          // in-flight bytes charged to opts.send_budgets
  uint64_t last_credit_ms = 0;   // last credit progress (or first byte in flight)
  bool self_announced = false;
  bool peer_caught_up = false;
  // Sum of the seqs of the peer's heads for feeds this side does not hold
  // (HEADS chunks keep no entry for those): deltas behind_in counts.
  uint64_t unknown_feeds_seq = 0;
  // Lag out = deltas not sent yet (from the handshake, counted down) + deltas
  // sent and not credited yet: (sent_bytes after a DELTAS message, its
  // deltas), oldest first; at most a window's worth of messages.
  uint64_t unsent_lag = 0, inflight_deltas = 0;
  std::deque<std::pair<uint64_t, uint64_t>> inflight_msgs;
  void UpdateBehindOut() { stats.behind_out = unsent_lag + inflight_deltas; }

  std::vector<Bytes> outgoing;
  uint64_t queued_bytes = 0;

  // Bodies that follow within the session (docs/protocol.md, "Bodies follow
  // live"): the positions the peer holds as stubs while it may receive
  // their scope (stubs held here that were sent to it, and stubs it sent
  // here). When the replica holds such a body (ApplyOutcome::kBodyArrived,
  // from another peer or a bundle; or it was here already), PumpBodies
  // sends the full delta at once. Bounded: past kMaxStubsWatched positions
  // a stub is not watched (stubs_unwatched counts them) and its body waits
  // for the next handshake, where the peer lowers its heads below it.
  static constexpr size_t kMaxStubsWatched = 4096;
  std::set<std::pair<AuthorId, uint64_t>> stubs_out;
  uint64_t stubs_unwatched = 0;
  bool check_bodies = false;  // the replica changed: look at stubs_out again

  Impl(Replica& r, bool init, SyncOptions o) : replica(r), initiator(init), opts(o) {
    if (opts.handshake_timeout_ms == 0) opts.handshake_timeout_ms = opts.idle_timeout_ms;
    if (opts.max_message_bytes < 1024) opts.max_message_bytes = 1024;
    if (opts.window_bytes == 0) opts.window_bytes = 1;
  }
  ~Impl() { Release(charged); }

  // --- shared send budgets (SyncOptions::send_budgets) ---
  void Charge(uint64_t n) {
    for (auto& b : opts.send_budgets) {
      if (b) b->used += n;
    }
    charged += n;
  }
  void Release(uint64_t n) {
    n = std::min(n, charged);
    for (auto& b : opts.send_budgets) {
      if (b) b->used -= std::min(n, b->used);
    }
    charged -= n;
  }
  // Bytes every budget still allows; and the smallest limit.
  uint64_t BudgetLeft() const {
    uint64_t left = UINT64_MAX;
    for (const auto& b : opts.send_budgets) {
      if (b) left = std::min(left, b->limit > b->used ? b->limit - b->used : 0);
    }
    return left;
  }
  uint64_t BudgetLimit() const {
    uint64_t lim = UINT64_MAX;
    for (const auto& b : opts.send_budgets) {
      if (b) lim = std::min(lim, b->limit);
    }
    return lim;
  }

  bool IsHandshakeType(uint8_t t) const { return t != sync::kDeltas && t != sync::kCredit; }

  void Queue(Bytes m) {
    const uint8_t t = m[0];
    stats.messages_out++;
    stats.bytes_out += m.size();
    if (handshake_counting && IsHandshakeType(t)) stats.handshake_bytes += m.size();
    stats.max_message_bytes = std::max<uint64_t>(stats.max_message_bytes, m.size());
    queued_bytes += m.size();
    stats.max_queued_bytes = std::max(stats.max_queued_bytes, queued_bytes);
    last_send = now;
    outgoing.push_back(std::move(m));
  }

  Status Fail(Status s) {
    if (st != St::kDone) {
      st = St::kDone;
      status = s;
    }
    return s;
  }

  Status SendErrorAndFail(Status s) {
    if (st == St::kDone) return s;
    std::string text = s.message().substr(0, kMaxErrorText);
    Writer w(sync::kError);
    w.Array(2).Uint(static_cast<uint8_t>(s.code())).Str(text);
    Queue(w.Take());
    return Fail(std::move(s));
  }

  // A fault by the peer: tolerated up to max_faults (only once authenticated).
  Status Fault(Status why) {
    stats.faults++;
    if (st < St::kAuthed || stats.faults > opts.max_faults) {
      return SendErrorAndFail(why.WithContext("sync: giving up after " + std::to_string(stats.faults) + " fault(s)"));
    }
    return Status::Ok();
  }

  Bytes Transcript(char role) const {
    Bytes t;
    t.push_back(static_cast<uint8_t>(role));
    t.push_back(static_cast<uint8_t>(sync::kProtocolVersion));
    const auto& ni = initiator ? my_nonce : peer_nonce;
    const auto& nr = initiator ? peer_nonce : my_nonce;
    const AuthorId& ai = initiator ? replica.author() : peer_claimed;
    const AuthorId& ar = initiator ? peer_claimed : replica.author();
    t.insert(t.end(), ni.begin(), ni.end());
    t.insert(t.end(), nr.begin(), nr.end());
    t.insert(t.end(), ai.bytes.begin(), ai.bytes.end());
    t.insert(t.end(), ar.bytes.begin(), ar.bytes.end());
    return t;
  }

  // This replica's identity signature of a transcript (docs/protocol.md).
  crypto::Signature SignProof(std::span<const uint8_t> transcript) const {
    return identity::Sign(store::IdentityOf(replica), identity::kSyncProofContext, transcript);
  }

  // The policy in force when the replica obeys a root; nullopt without a
  // root or before the root's first policy arrived.
  Status ReadPolicyInForce(std::optional<Policy>& out) {
    out.reset();
    if (!replica.root()) return Status::Ok();
    auto read = replica.CurrentPolicy();
    if (!read.ok()) return Fail(read.status().WithContext("sync"));
    out = std::move(read).value();
    return Status::Ok();
  }

  Status SendHello() {
    Writer w(sync::kHello);
    auto root = replica.root();
    auto read = replica.CurrentPolicy();
    if (!read.ok()) return Fail(read.status().WithContext("sync"));
    const std::optional<Policy>& policy = *read;
    w.Array(8).Uint(sync::kProtocolVersion).Bin(replica.author().bytes);
    if (root) w.Bin(root->bytes);
    else w.Nil();
    w.Uint(policy ? policy->version() : 0).Bin(my_nonce).Uint(opts.window_bytes).Uint(opts.max_message_bytes);
    if (initiator) {
      w.Nil();
    } else {
      w.Bin(SignProof(Transcript('R')));
    }
    Queue(w.Take());
    return Status::Ok();
  }

  // This replica's heads; a read failure ends the session.
  Status ReadMyHeads(Heads* out) {
    auto h = replica.GetHeads();
    if (!h.ok()) return Fail(h.status().WithContext("sync: reading this replica's heads"));
    *out = std::move(h).value();
    return Status::Ok();
  }

  // The heads this replica offers the peer: its heads, lowered below the
  // first withheld delta (a stub held without its body) of each author whose
  // scope the current policy now lets this replica receive. The peer then
  // sends that feed again from there: the body arrives where it may
  // (ApplyOutcome::kBodyArrived), the rest are duplicates (docs/protocol.md,
  // "What is sent to whom", bodies later). Bounded: at most kWithheldAsked
  // stubs are looked at.
  static constexpr uint64_t kWithheldAsked = 4096;
  Status ReadAdvertisedHeads(Heads* out) {
    HEARTH_RETURN_IF_ERROR(ReadMyHeads(out));
    if (!replica.root()) return Status::Ok();
    auto withheld = replica.Withheld(kWithheldAsked);
    if (!withheld.ok()) return Fail(withheld.status().WithContext("sync: listing withheld deltas"));
    if (withheld->empty()) return Status::Ok();
    auto policy = replica.CurrentPolicy();
    if (!policy.ok()) return Fail(policy.status().WithContext("sync"));
    if (!policy->has_value()) return Status::Ok();
    const AuthorId self = replica.author();
    for (const Replica::WithheldDelta& w : *withheld) {
      if (!(*policy)->MayReceive(self, w.scope)) continue;
      auto it = out->find(w.author);
      if (it == out->end() || it->second.seq < w.seq) continue;
      if (w.seq <= 1) {
        out->erase(it);
      } else {
        it->second.seq = w.seq - 1;
        it->second.hash = {};  // not sent (HEADS carries seqs); the fingerprint differs, as it should
      }
    }
    return Status::Ok();
  }

  Status SendSummary() {
    HEARTH_RETURN_IF_ERROR(ReadAdvertisedHeads(&summary_heads));
    my_fp = Fingerprint(summary_heads);
    Writer w(sync::kSummary);
    w.Array(2).Bin(my_fp).Uint(summary_heads.size());
    Queue(w.Take());
    return Status::Ok();
  }

  uint64_t MessageCap() const { return std::min(opts.max_message_bytes, peer_max_message); }

  Status SendHeads() {
    Heads mine;
    HEARTH_RETURN_IF_ERROR(ReadAdvertisedHeads(&mine));
    SendHeads(mine);
    return Status::Ok();
  }

  void SendRanges() {
    Writer w(sync::kRanges);
    w.Array(kRanges);
    for (size_t i = 0; i < kRanges; ++i) {
      uint64_t n = 0;
      for (const auto& [a, h] : summary_heads) n += RangeOf(a) == i;
      w.Array(2).Bin(Fingerprint(summary_heads, i)).Uint(n);
    }
    Queue(w.Take());
    ranges_expected = true;
  }

  void SendHeads(const Heads& heads) {
    const uint64_t per = std::max<uint64_t>(1, (MessageCap() - 32) / kHeadsEntryBytes);
    auto it = heads.begin();
    uint64_t chunk = 0;
    do {
      const uint64_t n = std::min<uint64_t>(per, static_cast<uint64_t>(std::distance(it, heads.end())));
      const bool final = n == static_cast<uint64_t>(std::distance(it, heads.end()));
      Writer w(sync::kHeads);
      w.Array(3).Uint(chunk++).Bool(final).Array(static_cast<uint32_t>(n));
      for (uint64_t i = 0; i < n; ++i, ++it) w.Array(2).Bin(it->first.bytes).Uint(it->second.seq);
      Queue(w.Take());
    } while (it != heads.end());
  }

  void SendHeartbeat(bool caught_up) {
    Writer w(sync::kHeartbeat);
    w.Array(3).Uint(out_mseq).Uint(recv_bytes).Bool(caught_up);
    Queue(w.Take());
  }

  void MergePeerHead(const AuthorId& a, uint64_t seq) {
    auto& h = peer_heads[a];
    if (seq > h.seq) h.seq = seq;
  }

  void GoLive() {
    st = St::kLive;
    dirty = true;
    ComputeLag();
  }

  // SyncStats::behind_out/behind_in from the heads the handshake compared
  // (peer_heads: the peer's, for the feeds this side holds).
  void ComputeLag() {
    auto h = replica.GetHeads();
    if (!h.ok()) return;  // monitoring only: a failed read leaves the lag unknown
    uint64_t out = 0, in = unknown_feeds_seq;
    for (const auto& [a, mh] : *h) {
      auto p = peer_heads.find(a);
      const uint64_t ps = p == peer_heads.end() ? 0 : p->second.seq;
      if (mh.seq > ps) out += mh.seq - ps;
      if (ps > mh.seq) in += ps - mh.seq;
    }
    unsent_lag = out;
    UpdateBehindOut();
    stats.behind_in = in;
    stats.lag_known = true;
  }

  // --- scope filter (docs/protocol.md, "What is sent to whom") ---
  bool PeerMayReceive(std::string_view scope, const std::optional<Policy>& policy,
                      bool has_root) const {
    if (!has_root) return true;
    if (IsReserved(scope)) return true;
    if (!policy) return false;
    return policy->MayReceive(peer, scope);
  }

  // Sends what the peer lacks, within its credit.
  Status Pump() {
    if (st != St::kLive || !dirty) return Status::Ok();
    const bool has_root = replica.root().has_value();
    std::optional<Policy> policy;
    HEARTH_RETURN_IF_ERROR(ReadPolicyInForce(policy));
    const uint64_t pv = policy ? policy->version() : 0;
    if (pv != policy_version_seen) {
      blocked.clear();  // a new policy may grant what the old one refused
      policy_version_seen = pv;
    }
    const uint64_t msg_cap = MessageCap() - kDeltasOverhead;
    // A delta that can never be sent: larger than a message, the window or
    // a shared budget (the feed stops for this peer, as for a refused scope).
    const uint64_t max_cost = std::min({msg_cap, peer_window + kPerDeltaOverhead, BudgetLimit()});
    Heads mine;
    bool have_mine = false;
    for (int rounds = 0; rounds < 1'000'000; ++rounds) {
      const uint64_t in_flight = sent_bytes - acked_bytes;
      if (in_flight >= peer_window) return Status::Ok();  // wait for credit (stay dirty)
      const uint64_t room = std::min(peer_window - in_flight, BudgetLeft());
      if (room == 0) return Status::Ok();  // other sessions hold the shared budget (stay dirty)
      const uint64_t budget = std::min(msg_cap, room);
      Heads since = peer_heads;
      if (!blocked.empty()) {
        if (!have_mine) {
          HEARTH_RETURN_IF_ERROR(ReadMyHeads(&mine));
          have_mine = true;
        }
        for (const auto& [a, s] : blocked) {
          auto m = mine.find(a);
          if (m != mine.end()) since[a].seq = std::max(since[a].seq, m->second.seq);
        }
      }
      auto got = replica.DeltasSince(since, budget);
      if (!got.ok()) return Fail(got.status().WithContext("sync: reading deltas"));
      if (got->empty()) {
        unsent_lag = 0;  // nothing left for this peer but what is in flight
        UpdateBehindOut();
        dirty = false;
        return Status::Ok();
      }
      std::vector<const Bytes*> batch;
      // Stubs made in this round (std::deque: the pointers in `batch` stay valid).
      std::deque<Bytes> stubs;
      uint64_t size = 0, stub_count = 0;
      bool progress = false, wait_credit = false;
      for (const Bytes& stored : *got) {
        auto p = feed::ParseDelta(stored, UINT64_MAX);
        if (!p.ok()) return Fail(p.status().WithContext("sync: stored delta"));
        const AuthorId& a = p->header.author;
        if (blocked.count(a)) continue;
        const Bytes* send = &stored;
        // A version 3/4 delta the peer may not receive goes as its stub
        // (docs/protocol.md, "What is sent to whom"): the feed goes on, and
        // nothing of the body leaves the node. A stub held here goes as is.
        const bool may = PeerMayReceive(p->header.scope, policy, has_root);
        if (!may && feed::Detachable(p->version) && !p->stub) {
          auto stub = feed::MakeStub(*p);
          if (!stub.ok()) return Fail(stub.status().WithContext("sync: making a stub"));
          stubs.push_back(std::move(stub).value());
          send = &stubs.back();
        }
        const Bytes& d = *send;
        const uint64_t cost = d.size() + kPerDeltaOverhead;
        if ((!may && !feed::Detachable(p->version)) || cost > max_cost) {
          // A version 1/2 delta not for this peer (it cannot be detached),
          // or one too large for any message: the feed stops here.
          blocked[a] = p->header.seq;
          progress = true;
          if (!have_mine) {
            HEARTH_RETURN_IF_ERROR(ReadMyHeads(&mine));
            have_mine = true;
          }
          continue;
        }
        if (size + cost > budget) {
          if (batch.empty()) wait_credit = true;
          break;
        }
        batch.push_back(&d);
        if (send != &stored || p->stub) ++stub_count;
        if (p->stub && may) WatchStub(a, p->header.seq);
        size += cost;
        MergePeerHead(a, p->header.seq);
      }
      if (!batch.empty()) {
        Writer w(sync::kDeltas);
        w.Array(2).Uint(++out_mseq).Array(static_cast<uint32_t>(batch.size()));
        uint64_t bytes = 0;
        for (const Bytes* d : batch) {
          w.Bin(*d);
          bytes += d->size();
        }
        if (sent_bytes == acked_bytes) last_credit_ms = now;  // the stall clock starts
        sent_bytes += bytes;
        Charge(bytes);
        stats.in_flight_bytes = sent_bytes - acked_bytes;
        stats.deltas_sent += batch.size();
        unsent_lag -= std::min<uint64_t>(unsent_lag, batch.size());
        inflight_msgs.emplace_back(sent_bytes, batch.size());
        inflight_deltas += batch.size();
        UpdateBehindOut();
        stats.stubs_sent += stub_count;
        stats.max_in_flight_bytes = std::max(stats.max_in_flight_bytes, sent_bytes - acked_bytes);
        self_announced = false;
        Queue(w.Take());
        progress = true;
      }
      if (wait_credit || !progress) return Status::Ok();
    }
    return Status::Ok();
  }

  void WatchStub(const AuthorId& a, uint64_t seq) {
    if (stubs_out.size() < kMaxStubsWatched) {
      stubs_out.emplace(a, seq);
    } else if (!stubs_out.count({a, seq})) {
      stubs_unwatched++;  // its body follows at the next handshake
    }
  }

  // Sends the bodies that arrived here of stubs this peer was sent (see
  // stubs_out), within its credit. A body the peer may not receive (the
  // policy changed) is forgotten: the peer keeps the stub.
  Status PumpBodies() {
    if (st != St::kLive || !check_bodies) return Status::Ok();
    if (stubs_out.empty()) {
      check_bodies = false;
      return Status::Ok();
    }
    const bool has_root = replica.root().has_value();
    std::optional<Policy> policy;
    HEARTH_RETURN_IF_ERROR(ReadPolicyInForce(policy));
    const uint64_t msg_cap = MessageCap() - kDeltasOverhead;
    std::vector<Bytes> batch;
    uint64_t size = 0;
    bool full = false;
    for (auto it = stubs_out.begin(); it != stubs_out.end();) {
      auto got = replica.GetDelta(it->first, it->second);
      if (!got.ok()) {
        if (got.status().code() == Code::kNotFound) {  // no longer in the feed (a fork rebuild): forget it
          it = stubs_out.erase(it);
          continue;
        }
        return Fail(got.status().WithContext("sync: reading a watched stub"));
      }
      auto p = feed::ParseDelta(*got, UINT64_MAX);
      if (!p.ok()) return Fail(p.status().WithContext("sync: stored delta"));
      if (p->stub) {  // still no body here
        ++it;
        continue;
      }
      if (!PeerMayReceive(p->header.scope, policy, has_root)) {
        it = stubs_out.erase(it);
        continue;
      }
      const uint64_t cost = got->size() + kPerDeltaOverhead;
      const uint64_t in_flight = sent_bytes - acked_bytes + size;
      const uint64_t room = in_flight >= peer_window ? 0 : std::min(peer_window - in_flight, BudgetLeft());
      if (cost > msg_cap || cost > std::min(peer_window + kPerDeltaOverhead, BudgetLimit())) {
        it = stubs_out.erase(it);  // never fits a message: the next handshake's feed order sends it
        stubs_unwatched++;
        continue;
      }
      if (size + cost > msg_cap || cost > room) {
        full = true;  // the rest after the peer credits this (stay checking)
        break;
      }
      size += cost;
      batch.push_back(std::move(got).value());
      it = stubs_out.erase(it);
    }
    check_bodies = full;
    if (batch.empty()) return Status::Ok();
    Writer w(sync::kDeltas);
    w.Array(2).Uint(++out_mseq).Array(static_cast<uint32_t>(batch.size()));
    uint64_t bytes = 0;
    for (const Bytes& d : batch) {
      w.Bin(d);
      bytes += d.size();
    }
    if (sent_bytes == acked_bytes) last_credit_ms = now;
    sent_bytes += bytes;
    Charge(bytes);
    stats.in_flight_bytes = sent_bytes - acked_bytes;
    stats.deltas_sent += batch.size();
    stats.bodies_sent += batch.size();
    inflight_msgs.emplace_back(sent_bytes, batch.size());
    inflight_deltas += batch.size();
    UpdateBehindOut();
    stats.max_in_flight_bytes = std::max(stats.max_in_flight_bytes, sent_bytes - acked_bytes);
    self_announced = false;
    Queue(w.Take());
    return Status::Ok();
  }

  void UpdateCaughtUp() {
    const bool self = st == St::kLive && !dirty && sent_bytes == acked_bytes;
    if (self && !self_announced) {
      self_announced = true;
      SendHeartbeat(true);
    }
    stats.caught_up = self && peer_caught_up;
    if (stats.caught_up) handshake_counting = false;
  }

  Status OnAck(uint64_t received_total) {
    if (received_total > sent_bytes) return Fault(Status::Corruption("sync: credit for bytes never sent"));
    if (received_total > acked_bytes) {
      Release(received_total - acked_bytes);
      acked_bytes = received_total;
      while (!inflight_msgs.empty() && inflight_msgs.front().first <= acked_bytes) {
        inflight_deltas -= std::min(inflight_deltas, inflight_msgs.front().second);
        inflight_msgs.pop_front();
      }
      UpdateBehindOut();
      last_credit_ms = now;
      stats.in_flight_bytes = sent_bytes - acked_bytes;
    }
    return Status::Ok();
  }

  // --- message handlers ---
  Status OnHello(Reader& r) {
    if (!(initiator ? st == St::kHelloSent : st == St::kInit)) {
      return Fault(Status::Corruption("sync: unexpected HELLO"));
    }
    auto n = r.Array(16);
    if (!n.ok()) return Fault(n.status());
    if (*n != 8) return Fault(Status::Corruption("sync: HELLO must have 8 fields"));
    auto ver = r.Uint();
    if (!ver.ok()) return Fault(ver.status());
    if (*ver != sync::kProtocolVersion) {
      return SendErrorAndFail(Status::FailedPrecondition("sync: unsupported protocol version " + std::to_string(*ver)));
    }
    auto author = r.Fixed<32>();
    if (!author.ok()) return Fault(author.status());
    std::optional<AuthorId> root;
    if (r.NextIsNil()) {
      r.SkipNil();
    } else {
      auto rb = r.Fixed<32>();
      if (!rb.ok()) return Fault(rb.status());
      root = AuthorId{*rb};
    }
    auto pv = r.Uint();
    auto nonce = r.Fixed<kNonceBytes>();
    auto window = r.Uint();
    auto maxmsg = r.Uint();
    if (!pv.ok() || !nonce.ok() || !window.ok() || !maxmsg.ok()) {
      return Fault(Status::Corruption("sync: malformed HELLO"));
    }
    std::optional<std::array<uint8_t, 64>> sig;
    if (r.NextIsNil()) {
      r.SkipNil();
    } else {
      auto s = r.Fixed<64>();
      if (!s.ok()) return Fault(s.status());
      sig = *s;
    }
    HEARTH_RETURN_IF_ERROR(r.Finish().ok() ? Status::Ok() : Fault(r.Finish()));
    if (root != replica.root()) {
      return SendErrorAndFail(Status::FailedPrecondition("sync: peer obeys another county root (or none)"));
    }
    peer_claimed = AuthorId{*author};
    if (peer_claimed == replica.author()) {
      return SendErrorAndFail(Status::FailedPrecondition("sync: connected to itself"));
    }
    peer_nonce = *nonce;
    // Capped by our own window: a peer's claim (2^62, say) must not let it
    // make us buffer more than we would accept ourselves.
    peer_window = std::clamp<uint64_t>(*window, 1, opts.window_bytes);
    peer_max_message = std::max<uint64_t>(*maxmsg, 1024);
    if (initiator) {
      if (!sig || !identity::Verify(peer_claimed, identity::kSyncProofContext, Transcript('R'), *sig)) {
        return SendErrorAndFail(Status::Unauthenticated("sync: peer's identity proof does not verify"));
      }
      peer = peer_claimed;
      Writer w(sync::kProof);
      w.Array(1).Bin(SignProof(Transcript('I')));
      Queue(w.Take());
      st = St::kAuthed;
      return SendSummary();
    }
    if (sig) return SendErrorAndFail(Status::Corruption("sync: initiator's HELLO carries a proof"));
    HEARTH_RETURN_IF_ERROR(SendHello());
    st = St::kAwaitProof;
    return Status::Ok();
  }

  Status OnProof(Reader& r) {
    if (st != St::kAwaitProof) return Fault(Status::Corruption("sync: unexpected PROOF"));
    auto n = r.Array(4);
    if (!n.ok() || *n != 1) return Fault(Status::Corruption("sync: malformed PROOF"));
    auto sig = r.Fixed<64>();
    if (!sig.ok() || !r.Finish().ok()) return Fault(Status::Corruption("sync: malformed PROOF"));
    if (!identity::Verify(peer_claimed, identity::kSyncProofContext, Transcript('I'), *sig)) {
      return SendErrorAndFail(Status::Unauthenticated("sync: peer's identity proof does not verify"));
    }
    peer = peer_claimed;
    st = St::kAuthed;
    return SendSummary();
  }

  Status OnSummary(Reader& r) {
    if (st != St::kAuthed) return Fault(Status::Corruption("sync: unexpected SUMMARY"));
    auto n = r.Array(8);
    if (!n.ok() || *n != 2) return Fault(Status::Corruption("sync: malformed SUMMARY"));
    auto fp = r.Fixed<32>();
    auto count = r.Uint();
    if (!fp.ok() || !count.ok() || !r.Finish().ok()) return Fault(Status::Corruption("sync: malformed SUMMARY"));
    if (*fp == my_fp) {
      // Same heads on both sides: nothing to exchange but new deltas.
      for (const auto& [a, h] : summary_heads) MergePeerHead(a, h.seq);
      GoLive();
      return Status::Ok();
    }
    // Both sides decide from the same two counts, so they take the same path.
    if (std::max<uint64_t>(summary_heads.size(), *count) > kRangesFrom) {
      if (opts.recursive_recon && std::max<uint64_t>(summary_heads.size(), *count) <= sync::kReconMaxAuthors) {
        return StartRecon(*count);
      }
      SendRanges();
      return Status::Ok();
    }
    return SendHeads();
  }

  Status OnRanges(Reader& r) {
    if (st == St::kAuthed && recon_active && recon_round == 1) {
      // A peer from before RECON (it counted ours as a fault): take the
      // RANGES path with it.
      recon_active = false;
      SendRanges();
    }
    if (st != St::kAuthed || !ranges_expected) return Fault(Status::Corruption("sync: unexpected RANGES"));
    ranges_expected = false;
    auto n = r.Array(kRanges);
    if (!n.ok() || *n != kRanges) return Fault(Status::Corruption("sync: malformed RANGES"));
    std::array<bool, kRanges> differs{};
    for (size_t i = 0; i < kRanges; ++i) {
      auto e = r.Array(2);
      if (!e.ok() || *e != 2) return Fault(Status::Corruption("sync: malformed RANGES entry"));
      auto fp = r.Fixed<32>();
      auto count = r.Uint();
      if (!fp.ok() || !count.ok()) return Fault(Status::Corruption("sync: malformed RANGES entry"));
      differs[i] = *fp != Fingerprint(summary_heads, i);
    }
    if (!r.Finish().ok()) return Fault(Status::Corruption("sync: trailing bytes in RANGES"));
    // Equal ranges: the peer holds what I held when I sent SUMMARY. The
    // others: each side sends its heads in them (the same ranges on both
    // sides), as of its SUMMARY.
    Heads mine;
    for (const auto& [a, h] : summary_heads) {
      if (differs[RangeOf(a)]) {
        mine.emplace(a, h);
      } else {
        MergePeerHead(a, h.seq);
      }
    }
    SendHeads(mine);
    return Status::Ok();
  }

  // --- recursive reconciliation (docs/protocol.md, "Recursive reconciliation") ---
  // Both sides send round r at once and decide the next one from the same
  // data (both fingerprints, both SUMMARY counts), so they stay in step.

  Status StartRecon(uint64_t peer_count) {
    recon_n = std::max<uint64_t>(summary_heads.size(), peer_count);
    const auto& ni = initiator ? my_nonce : peer_nonce;
    const auto& nr = initiator ? peer_nonce : my_nonce;
    recon_key = sync::DeriveReconKey(ni, nr);
    recon_peer_count = peer_count;
    recon_open = {0};
    recon_compact = opts.compact_recon;
    // Round 1 is always sent, and always carries fingerprints (max_message
    // is at least 1 KB): a peer from before RECON answers it with RANGES, a
    // peer that knows only the first RECON with mode 0, which is how we find
    // out.
    return ReconSend(1);
  }

  size_t ReconFpBytes() const { return recon_compact ? sync::kReconFpBytes : sync::kReconFpBytesV1; }
  size_t ReconItemBytes() const { return recon_compact ? sync::kReconItemBytes : sync::kReconItemBytesV1; }
  uint8_t ReconFpsMode() const { return recon_compact ? sync::kReconFps : sync::kReconFpsV1; }
  uint8_t ReconItemsMode() const { return recon_compact ? sync::kReconItems : sync::kReconItemsV1; }

  // My heads in the open ranges (depth recon_round - 1) as HEADS; the
  // reconciliation ends and the peer's HEADS come next.
  Status ReconHeads() {
    const uint32_t depth = recon_round == 0 ? 0 : recon_round - 1;
    Heads mine;
    for (const auto& [a, h] : summary_heads) {
      if (sync::ReconInOpen(recon_open, depth, a)) mine.emplace(a, h);
    }
    recon_active = false;
    SendHeads(mine);
    return Status::Ok();
  }

  // Sends round `round` about recon_open (ranges at depth round - 1).
  Status ReconSend(uint32_t round) {
    recon_round = round;
    const uint32_t depth = round - 1;
    if (recon_open.empty()) {  // nothing differs any more: an empty final HEADS
      recon_active = false;
      SendHeads(Heads{});
      return Status::Ok();
    }
    // From round 2 on: at least half the authors on one side only (one side
    // empty, say), so most ranges differ and fingerprints would only add to
    // the heads that must travel anyway.
    const uint64_t mine = summary_heads.size();
    const uint64_t diff = mine > recon_peer_count ? mine - recon_peer_count : recon_peer_count - mine;
    if (round >= 2 && diff * 2 > recon_n) return ReconHeads();
    const uint64_t fps = recon_open.size() * sync::kReconBranch;
    // Most of the ranges differ (more child fingerprints than half the
    // authors), the depth limit is reached, or the fingerprints would not
    // fit one message: send the heads of the open ranges.
    if (fps * 2 > recon_n || depth >= sync::kReconMaxDepth ||
        fps * ReconFpBytes() + 32 > MessageCap()) {
      return ReconHeads();
    }
    // Expected authors per open range: recon_n / b^depth.
    uint64_t per = recon_n;
    for (uint32_t i = 0; i < depth; ++i) per /= sync::kReconBranch;
    Bytes data;
    if (per <= sync::kReconLeafItems) {
      std::vector<uint64_t> items;
      for (const auto& [a, h] : summary_heads) {
        if (sync::ReconInOpen(recon_open, depth, a)) {
          items.push_back(sync::ReconItem(recon_key, a, h, ReconItemBytes()));
        }
      }
      std::sort(items.begin(), items.end());
      recon_mode = ReconItemsMode();
      const size_t hb = ReconItemBytes();
      if (items.size() * hb + 32 > MessageCap()) {
        recon_mode = sync::kReconFallback;  // too many of mine: heads follow at once
      } else {
        data.reserve(items.size() * hb);
        for (uint64_t v : items) {
          for (size_t i = 0; i < hb; ++i) data.push_back(static_cast<uint8_t>(v >> (8 * (hb - 1 - i))));
        }
      }
    } else {
      recon_mode = ReconFpsMode();
      sync::ReconChildFps(recon_key, summary_heads, recon_open, depth, &data, ReconFpBytes());
    }
    Writer w(sync::kRecon);
    w.Array(3).Uint(round).Uint(recon_mode).Bin(data);
    Queue(w.Take());
    recon_active = true;
    if (recon_mode == sync::kReconFallback) {
      HEARTH_RETURN_IF_ERROR(ReconHeads());
      recon_active = true;  // the peer's RECON of this round still comes
    }
    return Status::Ok();
  }

  Status OnRecon(Reader& r) {
    if (st != St::kAuthed || !recon_active) return Fault(Status::Corruption("sync: unexpected RECON"));
    auto n = r.Array(8);
    if (!n.ok() || *n != 3) return Fault(Status::Corruption("sync: malformed RECON"));
    auto round = r.Uint();
    auto mode = r.Uint();
    auto data = r.Bin(opts.max_message_bytes);
    if (!round.ok() || !mode.ok() || !data.ok() || !r.Finish().ok()) {
      return Fault(Status::Corruption("sync: malformed RECON"));
    }
    // A peer that knows only the first RECON (compact_recon = false) knows
    // modes up to 2 and counts any other as a fault.
    const uint8_t max_mode = opts.compact_recon ? sync::kReconMaxMode : uint8_t{sync::kReconFallback};
    if (*round != recon_round || *mode > max_mode) {
      return Fault(Status::Corruption("sync: RECON out of step"));
    }
    if (recon_round == 1 && recon_compact && recon_mode == sync::kReconFps && *mode == sync::kReconFpsV1) {
      // The peer knows only the first RECON: it counted our compact round 1
      // as a fault and still waits for round 1. Send it again in mode 0 and
      // go on in the first RECON.
      recon_compact = false;
      HEARTH_RETURN_IF_ERROR(ReconSend(1));
    }
    recon_active = false;
    const uint32_t depth = recon_round - 1;
    if (recon_mode == sync::kReconFallback) return Status::Ok();  // my heads are sent; the peer's follow
    if (*mode == sync::kReconFallback) return ReconHeads();       // the peer's heads follow; mine now
    if (*mode != recon_mode) return Fault(Status::Corruption("sync: RECON out of step"));
    if (recon_mode == ReconFpsMode()) {
      Bytes mine;
      const size_t fb = ReconFpBytes();
      sync::ReconChildFps(recon_key, summary_heads, recon_open, depth, &mine, fb);
      if (data->size() != mine.size()) return Fault(Status::Corruption("sync: RECON with a wrong number of fingerprints"));
      std::vector<uint32_t> next;
      std::vector<uint32_t> same;
      for (size_t i = 0; i < recon_open.size() * sync::kReconBranch; ++i) {
        const uint32_t child = recon_open[i / sync::kReconBranch] << sync::kReconBitsPerLevel |
                               static_cast<uint32_t>(i % sync::kReconBranch);
        const bool eq = std::equal(mine.begin() + i * fb, mine.begin() + (i + 1) * fb, data->begin() + i * fb);
        (eq ? same : next).push_back(child);
      }
      // Equal children: the peer holds exactly my summarised heads there.
      for (const auto& [a, h] : summary_heads) {
        if (sync::ReconInOpen(same, depth + 1, a)) MergePeerHead(a, h.seq);
      }
      recon_open = std::move(next);
      return ReconSend(recon_round + 1);
    }
    // Items: mine found among the peer's are held by the peer as they are;
    // the others travel as HEADS (the peer sends its unmatched ones too, so
    // an author of mine that is not in its HEADS is one it lacks).
    const size_t hb = ReconItemBytes();
    if (data->size() % hb != 0) return Fault(Status::Corruption("sync: malformed RECON items"));
    std::vector<uint64_t> theirs(data->size() / hb);
    for (size_t i = 0; i < theirs.size(); ++i) {
      uint64_t v = 0;
      for (size_t j = 0; j < hb; ++j) v = v << 8 | (*data)[i * hb + j];
      theirs[i] = v;
    }
    std::sort(theirs.begin(), theirs.end());
    Heads unmatched;
    for (const auto& [a, h] : summary_heads) {
      if (!sync::ReconInOpen(recon_open, depth, a)) continue;
      if (std::binary_search(theirs.begin(), theirs.end(), sync::ReconItem(recon_key, a, h, hb))) {
        MergePeerHead(a, h.seq);
      } else {
        unmatched.emplace(a, h);
      }
    }
    SendHeads(unmatched);
    return Status::Ok();
  }

  Status OnHeads(Reader& r) {
    if (st != St::kAuthed || ranges_expected || recon_active) {
      return Fault(Status::Corruption("sync: unexpected HEADS"));
    }
    auto n = r.Array(8);
    if (!n.ok() || *n != 3) return Fault(Status::Corruption("sync: malformed HEADS"));
    auto chunk = r.Uint();
    auto final = r.Bool();
    auto count = r.Array(static_cast<uint32_t>(kMaxHeadsEntries));
    if (!chunk.ok() || !final.ok() || !count.ok()) return Fault(Status::Corruption("sync: malformed HEADS"));
    if (*chunk != heads_chunk_next) {
      return SendErrorAndFail(Status::Unavailable("sync: HEADS chunk lost"));
    }
    if (*count == 0 && !*final) return Fault(Status::Corruption("sync: empty HEADS chunk that is not the last"));
    heads_received += *count;
    if (heads_received > kMaxHeadsEntries) {
      return SendErrorAndFail(Status::ResourceExhausted("sync: more than " + std::to_string(kMaxHeadsEntries) +
                                                        " heads"));
    }
    // Only the heads of feeds I hold matter (they say what not to send);
    // keeping the others would let the peer's word size my memory.
    if (!heads_filter) {
      heads_filter.emplace();
      HEARTH_RETURN_IF_ERROR(ReadMyHeads(&*heads_filter));
    }
    Heads got;
    for (uint32_t i = 0; i < *count; ++i) {
      auto e = r.Array(2);
      if (!e.ok() || *e != 2) return Fault(Status::Corruption("sync: malformed HEADS entry"));
      auto a = r.Fixed<32>();
      auto seq = r.Uint();
      if (!a.ok() || !seq.ok()) return Fault(Status::Corruption("sync: malformed HEADS entry"));
      const AuthorId author{*a};
      if (heads_filter->count(author)) {
        got[author].seq = *seq;
      } else if (*seq <= UINT64_MAX - unknown_feeds_seq) {
        unknown_feeds_seq += *seq;  // a feed this side lacks entirely (lag only)
      }
    }
    if (!r.Finish().ok()) return Fault(Status::Corruption("sync: trailing bytes in HEADS"));
    heads_chunk_next++;
    for (auto& [a, h] : got) incoming_heads[a] = h;
    if (*final) {
      for (const auto& [a, h] : incoming_heads) MergePeerHead(a, h.seq);
      incoming_heads.clear();
      heads_filter.reset();
      GoLive();
    }
    return Status::Ok();
  }

  Status OnDeltas(Reader& r) {
    if (st != St::kAuthed && st != St::kLive) return Fault(Status::Corruption("sync: unexpected DELTAS"));
    auto n = r.Array(8);
    if (!n.ok() || *n != 2) return Fault(Status::Corruption("sync: malformed DELTAS"));
    auto mseq = r.Uint();
    auto count = r.Array(UINT32_MAX);
    if (!mseq.ok() || !count.ok()) return Fault(Status::Corruption("sync: malformed DELTAS"));
    std::vector<Bytes> deltas;
    // count <= bytes left, but a 24-byte vector per 2-byte bin would still
    // amplify a 4 MiB message to ~50 MB: reserve a bounded amount only.
    deltas.reserve(std::min<uint32_t>(*count, 1024));
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < *count; ++i) {
      auto b = r.Bin(opts.max_message_bytes);
      if (!b.ok()) return Fault(b.status());
      deltas.emplace_back(b->begin(), b->end());
      bytes += b->size();
    }
    if (!r.Finish().ok()) return Fault(Status::Corruption("sync: trailing bytes in DELTAS"));
    if (*mseq <= in_mseq) return Status::Ok();  // duplicate: already handled
    if (*mseq != in_mseq + 1) {
      return SendErrorAndFail(Status::Unavailable("sync: DELTAS #" + std::to_string(in_mseq + 1) + " lost"));
    }
    in_mseq = *mseq;
    recv_bytes += bytes;
    if (recv_bytes > opts.window_bytes + acked_grace()) {
      // The peer ignored its credit.
      HEARTH_RETURN_IF_ERROR(Fault(Status::ResourceExhausted("sync: peer exceeded its window")));
    }
    peer_caught_up = false;
    stats.deltas_received += deltas.size();
    stats.behind_in -= std::min<uint64_t>(stats.behind_in, deltas.size());
    HEARTH_RETURN_IF_ERROR(ApplyAll(deltas));
    credited_bytes = recv_bytes;
    Writer w(sync::kCredit);
    w.Array(1).Uint(recv_bytes);
    Queue(w.Take());
    return Status::Ok();
  }

  // Bytes received and credited back (the receiver consumes synchronously,
  // so everything received before this message was credited).
  uint64_t credited_bytes = 0;
  uint64_t acked_grace() const { return credited_bytes; }

  void CountOutcome(const ApplyResult& res) {
    if (res.outcome == ApplyOutcome::kApplied) stats.deltas_applied += 1 + res.unblocked;
    if (res.outcome == ApplyOutcome::kUnreadable) {
      stats.deltas_unreadable++;
      if (res.missing_key) stats.unreadable_scopes.insert(res.missing_key->scope);
    }
    if (res.outcome == ApplyOutcome::kWithheld) stats.deltas_withheld++;
    if (res.outcome == ApplyOutcome::kBodyArrived) stats.bodies_arrived++;
    MergePeerHead(res.author, res.seq);
  }

  // One ApplyBatch (one write transaction) per kApplyChunk deltas: a DELTAS
  // message is bounded in bytes, and with compressed deltas 4 MiB holds
  // ~600 deltas; one transaction over all of them grows the working set
  // (docs/benchmarks.md, "Batch size").
  static constexpr size_t kApplyChunk = 8;
  Status ApplyAll(const std::vector<Bytes>& deltas) {
    for (size_t i = 0; i < deltas.size(); i += kApplyChunk) {
      HEARTH_RETURN_IF_ERROR(ApplyChunk(std::span<const Bytes>(deltas).subspan(i, std::min(kApplyChunk, deltas.size() - i))));
    }
    return Status::Ok();
  }

  // A stub the peer sent (stored withheld here, or a duplicate of what is
  // held here) says the peer holds that position as a stub: if it may
  // receive the scope, its body is owed to it, now if held here, else when
  // it arrives (stubs_out, PumpBodies).
  Status NoteStubFromPeer(const Bytes& d, const ApplyResult& res, std::optional<std::optional<Policy>>* policy) {
    if (res.outcome != ApplyOutcome::kWithheld && res.outcome != ApplyOutcome::kDuplicate) return Status::Ok();
    auto p = feed::ParseDelta(d, UINT64_MAX);
    if (!p.ok() || !p->stub) return Status::Ok();
    const bool has_root = replica.root().has_value();
    if (has_root && !policy->has_value()) {
      auto read = replica.CurrentPolicy();
      if (!read.ok()) return Fail(read.status().WithContext("sync"));
      policy->emplace(std::move(read).value());
    }
    const std::optional<Policy> none;
    if (!PeerMayReceive(p->header.scope, has_root ? **policy : none, has_root)) return Status::Ok();
    WatchStub(res.author, res.seq);
    check_bodies = true;
    return Status::Ok();
  }

  Status ApplyChunk(std::span<const Bytes> deltas) {
    BatchApplyResult res = replica.ApplyBatch(deltas);
    std::optional<std::optional<Policy>> policy;  // read once, if a stub came
    for (size_t i = 0; i < res.results.size(); ++i) {
      CountOutcome(res.results[i]);
      HEARTH_RETURN_IF_ERROR(NoteStubFromPeer(deltas[i], res.results[i], &policy));
    }
    if (res.ok()) return Status::Ok();
    // Delta #failed_index() failed: go on one by one from it.
    for (const Bytes& d : deltas.subspan(res.failed_index())) {
      auto one = replica.Apply(d);
      if (one.ok()) {
        CountOutcome(*one);
        HEARTH_RETURN_IF_ERROR(NoteStubFromPeer(d, *one, &policy));
        continue;
      }
      if (one.status().code() == Code::kIOError || one.status().code() == Code::kResourceExhausted) {
        return Fail(one.status().WithContext("sync: applying a delta"));
      }
      stats.deltas_rejected++;
      HEARTH_RETURN_IF_ERROR(Fault(one.status().WithContext("sync: peer sent a bad delta")));
    }
    return Status::Ok();
  }

  Status OnCredit(Reader& r) {
    if (st != St::kLive && st != St::kAuthed) return Fault(Status::Corruption("sync: unexpected CREDIT"));
    auto n = r.Array(4);
    if (!n.ok() || *n != 1) return Fault(Status::Corruption("sync: malformed CREDIT"));
    auto total = r.Uint();
    if (!total.ok() || !r.Finish().ok()) return Fault(Status::Corruption("sync: malformed CREDIT"));
    return OnAck(*total);
  }

  Status OnHeartbeat(Reader& r) {
    if (st < St::kAuthed) return Fault(Status::Corruption("sync: unexpected HEARTBEAT"));
    auto n = r.Array(8);
    if (!n.ok() || *n != 3) return Fault(Status::Corruption("sync: malformed HEARTBEAT"));
    auto last = r.Uint();
    auto total = r.Uint();
    auto cu = r.Bool();
    if (!last.ok() || !total.ok() || !cu.ok() || !r.Finish().ok()) {
      return Fault(Status::Corruption("sync: malformed HEARTBEAT"));
    }
    if (*last > in_mseq) {
      return SendErrorAndFail(Status::Unavailable("sync: DELTAS #" + std::to_string(in_mseq + 1) + " lost"));
    }
    HEARTH_RETURN_IF_ERROR(OnAck(*total));
    peer_caught_up = *cu;
    if (peer_caught_up) stats.behind_in = 0;  // the peer has nothing left for us
    return Status::Ok();
  }

  Status OnError(Reader& r) {
    auto n = r.Array(4);
    Code code = Code::kUnavailable;
    std::string text = "(unreadable)";
    if (n.ok() && *n == 2) {
      auto c = r.Uint();
      auto t = r.Str(kMaxErrorText);
      if (c.ok() && *c <= static_cast<uint64_t>(Code::kInternal) && *c != 0) code = static_cast<Code>(*c);
      if (t.ok()) text = *t;
    }
    return Fail(Status(code, "sync: peer reported: " + text));
  }

  Status Handle(std::span<const uint8_t> msg) {
    if (msg.empty()) return Fault(Status::Corruption("sync: empty message"));
    if (msg.size() > opts.max_message_bytes) {
      return Fault(Status::ResourceExhausted("sync: message of " + std::to_string(msg.size()) + " bytes exceeds the limit"));
    }
    const uint8_t type = msg[0];
    if (handshake_counting && IsHandshakeType(type)) stats.handshake_bytes += msg.size();
    if ((type & 0xf0) != 0x10) {
      return SendErrorAndFail(Status::FailedPrecondition("sync: unsupported protocol version (type byte " + std::to_string(type) + ")"));
    }
    Reader r(msg.subspan(1));
    switch (type) {
      case sync::kHello: return OnHello(r);
      case sync::kProof: return OnProof(r);
      case sync::kSummary: return OnSummary(r);
      case sync::kHeads: return OnHeads(r);
      case sync::kRanges: return OnRanges(r);
      case sync::kRecon:
        if (!opts.recursive_recon) return Fault(Status::Corruption("sync: unknown message type " + std::to_string(type)));
        return OnRecon(r);
      case sync::kDeltas: return OnDeltas(r);
      case sync::kCredit: return OnCredit(r);
      case sync::kHeartbeat: return OnHeartbeat(r);
      case sync::kError: return OnError(r);
      case sync::kBye:
        st = St::kDone;
        return Status::Ok();
      default: return Fault(Status::Corruption("sync: unknown message type " + std::to_string(type)));
    }
  }

  Status After() {
    if (st == St::kDone) return status;
    HEARTH_RETURN_IF_ERROR(Pump());
    HEARTH_RETURN_IF_ERROR(PumpBodies());
    stats.stubs_watched = stubs_out.size();
    stats.stubs_unwatched = stubs_unwatched;
    UpdateCaughtUp();
    return Status::Ok();
  }
};

SyncSession::SyncSession(Replica& replica, bool initiator, SyncOptions options)
    : impl_(std::make_unique<Impl>(replica, initiator, options)) {}
SyncSession::~SyncSession() = default;

Status SyncSession::Start(uint64_t now_ms) {
  Impl& m = *impl_;
  if (m.started) return Status::FailedPrecondition("sync: session already started");
  m.started = true;
  m.now = m.start_ms = m.last_recv = m.last_send = now_ms;
  crypto::RandomBytes(m.my_nonce);
  if (m.initiator) {
    HEARTH_RETURN_IF_ERROR(m.SendHello());
    m.st = Impl::St::kHelloSent;
  }
  return Status::Ok();
}

Status SyncSession::OnMessage(std::span<const uint8_t> message, uint64_t now_ms) {
  Impl& m = *impl_;
  if (m.st == Impl::St::kDone) {
    return m.status.ok() ? Status::FailedPrecondition("sync: session is over") : m.status;
  }
  if (!m.started) HEARTH_RETURN_IF_ERROR(Start(now_ms));
  m.now = std::max(m.now, now_ms);
  m.last_recv = m.now;
  m.stats.messages_in++;
  m.stats.bytes_in += message.size();
  Status s = m.Handle(message);
  if (!s.ok()) return m.Fail(s);
  return m.After();
}

Status SyncSession::OnTick(uint64_t now_ms) {
  Impl& m = *impl_;
  if (m.st == Impl::St::kDone) return m.status;
  if (!m.started) return Status::Ok();
  m.now = std::max(m.now, now_ms);
  // Timeouts tell the peer (ERROR): the silence may be one-sided (a stalled
  // process, a lost message), and the peer should reconnect now rather than
  // at its own timeout.
  if (m.st != Impl::St::kLive && m.now - m.start_ms > m.opts.handshake_timeout_ms) {
    return m.SendErrorAndFail(Status::Unavailable("sync: handshake timed out"));
  }
  if (m.now - m.last_recv > m.opts.idle_timeout_ms) {
    return m.SendErrorAndFail(
        Status::Unavailable("sync: peer idle for " + std::to_string(m.now - m.last_recv) + " ms"));
  }
  // A peer that sends (heartbeats, say) but never credits what it was sent
  // does not read: its deltas would sit in our queues for good.
  if (m.sent_bytes > m.acked_bytes && m.now - m.last_credit_ms > m.opts.idle_timeout_ms) {
    return m.SendErrorAndFail(Status::Unavailable(
        "sync: peer credits nothing: " + std::to_string(m.sent_bytes - m.acked_bytes) +
        " bytes in flight, no credit for " + std::to_string(m.now - m.last_credit_ms) + " ms"));
  }
  HEARTH_RETURN_IF_ERROR(m.After());
  if (m.st >= Impl::St::kAuthed && m.now - m.last_send >= m.opts.heartbeat_ms) {
    m.SendHeartbeat(m.self_announced);
  }
  return Status::Ok();
}

void SyncSession::NotifyNewDeltas() {
  impl_->dirty = true;
  impl_->check_bodies = true;
}

void SyncSession::NotifyReplicaChanged() { impl_->check_bodies = true; }

std::vector<Bytes> SyncSession::TakeOutgoing() {
  impl_->queued_bytes = 0;
  return std::exchange(impl_->outgoing, {});
}

const AuthorId& SyncSession::peer() const { return impl_->peer; }
bool SyncSession::done() const { return impl_->st == Impl::St::kDone; }
const SyncStats& SyncSession::stats() const { return impl_->stats; }
const Status& SyncSession::status() const { return impl_->status; }

void SyncSession::Close() {
  Impl& m = *impl_;
  if (m.st == Impl::St::kDone) return;
  Writer w(sync::kBye);
  w.Array(0);
  m.Queue(w.Take());
  m.st = Impl::St::kDone;
}

}  // namespace hearth
