// A deterministic network simulator for SyncSession: N replicas in one
// process, one session pair per link, a virtual clock, and faults chosen by
// one seeded RNG: message loss, duplication, reordering, delay, partitions
// that come and go, node crashes and restarts (docs/protocol.md,
// "Simulator").
//
// Loss model: the simulator loses single messages inside a connection (a
// stricter model than ZeroMQ's, whose connections are ordered and reliable
// until they reset). Sessions detect the loss (message sequence numbers,
// heartbeats, handshake timeout) and end; the simulator then reconnects the
// link after a back-off, and the new session resumes from the receiver's
// heads.
//
// Determinism: one seed fixes a run. The simulator's RNG draws the faults and
// the writes; each replica's HLC reads the simulator's virtual clock (set by
// Sim unless the caller passes ReplicaOptions::clock_ms); a test holds a
// SeededRandomness for the run so that libsodium's randombytes (identity
// keys, scope keys, nonces) follows the seed too, and draws its record ids
// with SeededRecordId (below). sim_test.cpp's
// "a seed reproduces its run exactly" checks that two runs of one seed end
// in the same state.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/seeded_random.hpp"
#include "sync/sync_support.hpp"

namespace hearth::testing {

// A record id drawn from `rng` (RecordId::Generate mixes in the wall clock
// and the system RNG).
inline RecordId SeededRecordId(std::mt19937_64& rng) {
  RecordId id;
  for (size_t i = 0; i < id.bytes.size(); i += 8) {
    const uint64_t x = rng();
    std::memcpy(id.bytes.data() + i, &x, std::min<size_t>(8, id.bytes.size() - i));
  }
  return id;
}

struct SimConfig {
  uint64_t step_ms = 5;
  int fault_steps = 1500;      // steps with faults and writes
  int heal_step_bound = 40000;  // steps allowed to become quiescent after healing
  double p_write = 0.02;       // per node per step
  double p_drop = 0.002;       // per message
  double p_dup = 0.002;
  double p_reorder = 0.002;
  double p_partition = 0.002;  // per step: toggle one random link
  double p_crash = 0.0008;     // per step: crash one random node
  uint64_t max_delay_ms = 40;
  SyncOptions sync;
  // The links to run (a topology). Empty: every pair of nodes (a full
  // mesh). A `foreign` link joins replicas of two different county roots:
  // the session refuses it at HELLO ("peer obeys another county root"), so
  // it is retried like any link but never counts for quiescence, and no
  // delta may ever be received over it (province_sim_test.cpp).
  struct LinkSpec {
    size_t i, j;
    bool foreign = false;
  };
  std::vector<LinkSpec> links;
};

inline SyncOptions SimSyncOptions() {
  SyncOptions o;
  o.max_message_bytes = 4096;
  o.window_bytes = 16384;
  o.heartbeat_ms = 200;
  o.idle_timeout_ms = 1500;
  o.handshake_timeout_ms = 1500;
  return o;
}

class Sim {
 public:
  using Writer = std::function<std::optional<CommitInfo>(std::mt19937_64&, size_t node, Replica&)>;

  Sim(uint64_t seed, std::vector<std::string> dirs, std::vector<ReplicaOptions> opts, Writer writer,
      SimConfig cfg = {})
      : rng_(seed), cfg_(cfg), writer_(std::move(writer)) {
    if (cfg_.sync.max_message_bytes == SyncOptions{}.max_message_bytes) cfg_.sync = SimSyncOptions();
    for (size_t i = 0; i < dirs.size(); ++i) {
      // Every replica's HLC reads the virtual clock (a seed fixes the run).
      if (!opts[i].clock_ms) opts[i].clock_ms = [this] { return now_; };
      nodes_.push_back({dirs[i], opts[i], nullptr, 0});
      Open(i);
    }
    if (cfg_.links.empty()) {
      for (size_t i = 0; i < dirs.size(); ++i)
        for (size_t j = i + 1; j < dirs.size(); ++j) links_.push_back(Link{i, j});
    } else {
      for (const auto& spec : cfg_.links) {
        REQUIRE((spec.i < dirs.size() && spec.j < dirs.size() && spec.i != spec.j));
        Link l{spec.i, spec.j};
        l.foreign = spec.foreign;
        links_.push_back(std::move(l));
      }
    }
  }

  ~Sim() {
    for (auto& l : links_) Disconnect(l);
  }
  Sim(const Sim&) = delete;  // the replicas' clock_ms holds `this`
  Sim& operator=(const Sim&) = delete;

  // Runs the fault phase, then heals and runs until quiescent. Returns false
  // if the step bound was hit.
  bool Run() {
    for (int s = 0; s < cfg_.fault_steps; ++s) Step(true);
    // Heal: everyone up, no partitions, no loss.
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (!nodes_[i].replica) Open(i);
    for (auto& l : links_) l.partitioned = false;
    for (int s = 0; s < cfg_.heal_step_bound; ++s) {
      Step(false);
      if (Quiescent()) {
        heal_steps_ = s;
        return true;
      }
    }
    return false;
  }

  // Ends every session (no faults) and runs until quiescent again: each
  // link's next session re-runs the handshake, where a node offers lower
  // heads for the withheld deltas it may now receive (docs/protocol.md,
  // "Bodies later"). Returns false if the step bound was hit.
  bool Reconnect() {
    for (auto& l : links_) Disconnect(l);
    for (int s = 0; s < cfg_.heal_step_bound; ++s) {
      Step(false);
      if (Quiescent()) return true;
    }
    return false;
  }

  Replica& replica(size_t i) { return *nodes_[i].replica; }
  size_t size() const { return nodes_.size(); }
  // Last acknowledged seq per author (what Commit returned).
  const std::map<AuthorId, uint64_t>& acked() const { return acked_; }
  uint64_t max_in_flight() const { return max_in_flight_; }
  uint64_t max_message() const { return max_message_; }
  // Sessions of foreign links refused at HELLO (both sides count).
  uint64_t refused() const { return refused_; }
  int heal_steps() const { return heal_steps_; }
  std::string Summary() const {
    std::ostringstream o;
    o << "commits=" << commits_ << " sessions=" << sessions_ << " resets=" << resets_ << " crashes=" << crashes_
      << " dropped=" << dropped_ << " dup=" << duped_ << " reordered=" << reordered_ << " heal_steps=" << heal_steps_
      << " max_in_flight=" << max_in_flight_ << " max_msg=" << max_message_;
    if (refused_) o << " refused=" << refused_;
    return o.str();
  }

 private:
  struct Node {
    std::string dir;
    ReplicaOptions opts;
    std::unique_ptr<Replica> replica;
    uint64_t restart_at = 0;
  };
  struct Msg {
    uint64_t at;
    uint64_t order;
    bool to_j;
    Bytes data;
  };
  struct Link {
    size_t i, j;
    bool foreign = false;
    bool partitioned = false;
    uint64_t gen = 0;
    uint64_t next_connect = 0;
    std::unique_ptr<SyncSession> si, sj;  // si initiates
    std::vector<Msg> wire;
    uint64_t last_at[2] = {0, 0};
  };

  void Open(size_t i) {
    auto r = Replica::Open(nodes_[i].dir, nodes_[i].opts);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    nodes_[i].replica = std::move(r).value();
  }

  void Crash(size_t i) {
    for (auto& l : links_)
      if (l.i == i || l.j == i) Disconnect(l);
    nodes_[i].replica.reset();
    nodes_[i].restart_at = now_ + 100 + rng_() % 2000;
    crashes_++;
  }

  void Disconnect(Link& l) {
    if (!l.si) return;
    Track(*l.si);
    Track(*l.sj);
    if (l.foreign) {
      // Nothing crosses between two county roots.
      REQUIRE(l.si->stats().deltas_received == 0);
      REQUIRE(l.sj->stats().deltas_received == 0);
    }
    l.si.reset();
    l.sj.reset();
    l.wire.clear();
    l.gen++;
    l.next_connect = now_ + 20 + rng_() % 300;
  }

  void Track(const SyncSession& s) {
    max_in_flight_ = std::max(max_in_flight_, s.stats().max_in_flight_bytes);
    max_message_ = std::max(max_message_, s.stats().max_message_bytes);
    REQUIRE(s.stats().max_in_flight_bytes <= cfg_.sync.window_bytes);
    REQUIRE(s.stats().max_message_bytes <= cfg_.sync.max_message_bytes);
  }

  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void Notify(size_t node) {
    for (auto& l : links_) {
      if (l.si && l.i == node) l.si->NotifyNewDeltas();
      if (l.sj && l.j == node) l.sj->NotifyNewDeltas();
    }
  }

  void Step(bool faults) {
    now_ += cfg_.step_ms;
    if (faults) {
      for (size_t n = 0; n < nodes_.size(); ++n) {
        if (!nodes_[n].replica || !Chance(cfg_.p_write)) continue;
        auto c = writer_(rng_, n, *nodes_[n].replica);
        if (c && c->last_seq > 0) {
          auto& a = acked_[c->author];
          a = std::max(a, c->last_seq);
          commits_++;
          Notify(n);
        }
      }
      if (Chance(cfg_.p_partition)) {
        Link& l = links_[rng_() % links_.size()];
        l.partitioned = !l.partitioned;
        if (l.partitioned) Disconnect(l);
      }
      if (Chance(cfg_.p_crash)) {
        size_t n = rng_() % nodes_.size();
        if (nodes_[n].replica) Crash(n);
      }
    }
    // A crashed node restarts after its delay; with faults off (healing)
    // Run() has already reopened every node.
    if (faults)
      for (size_t n = 0; n < nodes_.size(); ++n)
        if (!nodes_[n].replica && now_ >= nodes_[n].restart_at) Open(n);
    for (auto& l : links_) {
      if (!l.si && !l.partitioned && nodes_[l.i].replica && nodes_[l.j].replica && now_ >= l.next_connect) {
        l.si = std::make_unique<SyncSession>(*nodes_[l.i].replica, true, cfg_.sync);
        l.sj = std::make_unique<SyncSession>(*nodes_[l.j].replica, false, cfg_.sync);
        l.last_at[0] = l.last_at[1] = now_;
        REQUIRE(l.si->Start(now_).ok());
        REQUIRE(l.sj->Start(now_).ok());
        sessions_++;
      }
      if (!l.si) continue;
      if (!l.si->OnTick(now_).ok() || !l.sj->OnTick(now_).ok() || l.si->done() || l.sj->done()) {
        // Deliver what is queued (an ERROR) is pointless here: the link resets.
        resets_++;
        Disconnect(l);
        continue;
      }
      Send(l, *l.si, true, faults);
      Send(l, *l.sj, false, faults);
      Deliver(l);
    }
  }

  void Send(Link& l, SyncSession& s, bool to_j, bool faults) {
    for (Bytes& m : s.TakeOutgoing()) {
      if (faults && Chance(cfg_.p_drop)) {
        dropped_++;
        continue;
      }
      uint64_t at = now_ + 1 + rng_() % cfg_.max_delay_ms;
      uint64_t& last = l.last_at[to_j ? 1 : 0];
      if (faults && Chance(cfg_.p_reorder)) {
        reordered_++;
        at = now_ + 1;  // may overtake earlier messages
      } else {
        at = std::max(at, last);
        last = at;
      }
      if (faults && Chance(cfg_.p_dup)) {
        duped_++;
        l.wire.push_back({at + rng_() % 20, order_++, to_j, m});
      }
      l.wire.push_back({at, order_++, to_j, std::move(m)});
    }
  }

  void Deliver(Link& l) {
    std::sort(l.wire.begin(), l.wire.end(),
              [](const Msg& a, const Msg& b) { return a.at != b.at ? a.at < b.at : a.order < b.order; });
    size_t k = 0;
    const uint64_t gen = l.gen;
    while (k < l.wire.size() && l.wire[k].at <= now_) {
      Msg m = std::move(l.wire[k++]);
      SyncSession& to = m.to_j ? *l.sj : *l.si;
      const size_t node = m.to_j ? l.j : l.i;
      // Every delta stored counts, not only those applied: a relay stores
      // deltas it cannot read (kUnreadable) and stubs (kWithheld), and must
      // still push them on to its other peers.
      const uint64_t before = to.stats().deltas_received;
      Status s = to.OnMessage(m.data, now_);
      if (to.stats().deltas_received != before) Notify(node);
      if (l.foreign && !s.ok()) {
        // The only way a foreign session may end on a message: the root check.
        REQUIRE_MESSAGE(s.ToString().find("another county root") != std::string::npos, s.ToString());
        refused_++;
      }
      if (!s.ok() || to.done()) {
        resets_++;
        Disconnect(l);
        return;
      }
      (void)gen;
    }
    l.wire.erase(l.wire.begin(), l.wire.begin() + static_cast<long>(k));
  }

  bool Quiescent() const {
    for (const auto& l : links_) {
      if (l.foreign) continue;  // refused at every attempt, by design
      if (!l.si || !l.wire.empty()) return false;
      if (!l.si->stats().caught_up || !l.sj->stats().caught_up) return false;
    }
    return true;
  }

  std::mt19937_64 rng_;
  SimConfig cfg_;
  Writer writer_;
  std::vector<Node> nodes_;
  std::vector<Link> links_;
  std::map<AuthorId, uint64_t> acked_;
  uint64_t now_ = 1'000'000;
  uint64_t order_ = 0;
  uint64_t refused_ = 0;
  uint64_t commits_ = 0, sessions_ = 0, resets_ = 0, crashes_ = 0, dropped_ = 0, duped_ = 0, reordered_ = 0;
  uint64_t max_in_flight_ = 0, max_message_ = 0;
  int heal_steps_ = -1;
};

// Cases for the simulator: $HEARTH_SIM_SEEDS, else `default_seeds`.
inline int SimSeeds(int default_seeds) {
  if (const char* e = std::getenv("HEARTH_SIM_SEEDS")) return std::max(1, std::atoi(e));
  return default_seeds;
}

}  // namespace hearth::testing
