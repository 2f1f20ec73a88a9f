// hearth_sync_bench: sync between two SyncNodes over ZeroMQ + CURVE on
// 127.0.0.1, in two processes.
//
//   hearth_sync_bench [--records N] [--json] [--dir D] [--max-message BYTES]
//                     [--payload-version 1|2] [--compare-payload] [--receiver-sync]
//                     [--map-trim MIB]
//   hearth_sync_bench --payload-breakdown [--records N]
//   hearth_sync_bench --handshake [--json] [--dir D]
//   hearth_sync_bench --handshake-sets N [--json] [--dir D]
//
// Node A runs in a child process (this program re-executed in its internal
// "--serve" mode): it builds N records x 8 fields in 1,000-op commits with
// bench/bench_schema.toml (as hearth_bench does), listens on
// tcp://127.0.0.1:<free port> and answers commands on stdin (heads, mutate,
// digest, quit). Node B runs in this process: an empty replica holding A's
// keyring (no root), connecting to A.
//
// 1. Full sync: from B's Start() until B's heads equal A's (polled every
//    10 ms, bounded by 120 s per 100,000 records). Wire bytes = B's PeerStats bytes_in+bytes_out
//    (session messages, not ZMTP/CURVE framing). Peak RSS = VmHWM of each
//    process (reset via /proc/<pid>/clear_refs after setup when allowed).
// 2. Incremental: A and B each change 1% of the records (2 ops per record,
//    one commit each side) at the same time; the live session carries them.
//    Wire bytes during that phase vs the encoded size of the two deltas.
// 3. Handshake when in sync: (a) a fresh SyncNode for B reconnects to A,
//    bytes until caught_up; (b) SyncStats::handshake_bytes of an in-process
//    SyncSession pair between B and a copy C of B's data.
//
// --payload-version: the payload version of A's deltas (default 2,
// docs/delta-format.md "Payload version 2"). --compare-payload first runs
// step 1 alone with a second child A writing payload version 1 (same
// workload, same seed, fresh B) and prints both, so the two versions are
// compared within one run.
//
// --map-trim MIB: both replicas' ReplicaOptions::max_resident_map_bytes
// (0 = never drop the map's pages; docs/storage-format.md, "Resident pages
// of the map"), to compare RSS and time with and without the bound.
// --receiver-sync: B's replica uses Durability::kSync (every ApplyBatch
// fsyncs) instead of kNoSync, for the cost of durable receiving.
//
// --payload-breakdown: no sync; builds the workload's ops in memory, in
// 1,000-op payloads as the commits do, and prints where the payload bytes
// go: versions 1 and 2, raw and as zstd frames (what a version 2 delta
// carries), and version 2 with one kind of item left out at a time.
//
// --handshake: no sync of records; SyncStats::handshake_bytes (both
// directions) of in-process SyncSession pairs over two replicas holding
// 1,000 authors' feeds: in sync, 1 / 10 / 500 authors behind, all different
// (500 + 500), one side empty; with recursive reconciliation (RECON) and
// with the RANGES path of peers from before it (docs/protocol.md).
// --handshake-sets N: one author behind among 1,000 over N random author
// sets: min, median, p99, max and sets over 1 KB, for compact RECON and for
// the first RECON (8-byte hashes) on the same data.
//
// Exit status 1 when a result is wrong (timeout, digests differ), never
// because of speed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.hpp"
#include "codec/codec.hpp"
#include "crdt/op.hpp"
#include "crypto/crypto.hpp"
#include "feed/compress.hpp"
#include "feed/delta.hpp"
#include "hearth/node.hpp"
#include "bench_common.hpp"
#include "hearth/replica.hpp"
#include "hearth/schema.hpp"
#include "hearth/sync.hpp"

#ifndef HEARTH_BENCH_SCHEMA
#define HEARTH_BENCH_SCHEMA "bench/bench_schema.toml"
#endif
#ifndef HEARTH_BENCH_BUILD_TYPE
#define HEARTH_BENCH_BUILD_TYPE "unknown"
#endif

namespace {

using namespace hearth;
using namespace hearth::bench;



// ------------------------------------------------------------------ helpers

std::string HeadsToLine(const Heads& h) {
  std::string s = "heads " + std::to_string(h.size());
  for (const auto& [a, fh] : h) {
    s.append(" ").append(a.ToHex()).append(" ").append(std::to_string(fh.seq));
    s.append(" ").append(base::ToHex(fh.hash));
  }
  return s;
}

Heads HeadsFromLine(const std::string& line) {
  std::istringstream in(line);
  std::string tag;
  size_t n = 0;
  in >> tag >> n;
  if (tag != "heads") Die("bad heads line from A: " + line);
  Heads h;
  for (size_t i = 0; i < n; ++i) {
    std::string ah, hh;
    uint64_t seq = 0;
    in >> ah >> seq >> hh;
    AuthorId a = Check(AuthorId::FromHex(ah), "author hex");
    FeedHead fh;
    fh.seq = seq;
    if (!base::FromHexInto(hh, fh.hash)) Die("bad hash hex from A");
    h[a] = fh;
  }
  return h;
}



// kB from a "Key:   123 kB" line of /proc/<pid>/status; -1 if unavailable.


// ------------------------------------------------------------------ workload (as hearth_bench)





// The records whose position in id order is `offset` mod 100 (1%). The
// mutation changes each of them with 2 ops (name, visits) in one commit and
// returns the encoded size of the deltas produced.
std::vector<RecordId> PickOnePercent(const Replica& r, uint64_t offset) {
  std::vector<RecordId> ids;
  uint64_t pos = 0;
  Check(r.Scan(kColl,
               [&](const Record& rec) {
                 if (pos++ % 100 == offset) ids.push_back(rec.id);
                 return true;
               }),
        "scan");
  return ids;
}

uint64_t MutateOnePercent(Replica& r, const std::vector<RecordId>& ids, const char* who) {
  WriteBatch b;
  for (size_t i = 0; i < ids.size(); ++i) {
    b.Set(kColl, ids[i], "name", Value(std::string("Renamed by ") + who + " " + std::to_string(i)));
    b.Increment(kColl, ids[i], "visits", 1);
  }
  CommitInfo ci = Check(r.Commit(b), "mutate commit");
  uint64_t bytes = 0;
  for (uint64_t s = ci.first_seq; s <= ci.last_seq && ci.last_seq != 0; ++s) {
    bytes += Check(r.GetDelta(ci.author, s), "GetDelta").size();
  }
  return bytes;
}

// --max-message: SyncOptions::max_message_bytes of both nodes (0 = the
// default, 4 MiB). A DELTAS message is applied in one ApplyBatch, so this
// also bounds the deltas per write transaction on the receiver.
uint64_t g_max_message = 0;
// --payload-version: ReplicaOptions::payload_version of A.
uint8_t g_payload_version = 2;
// --receiver-sync: Durability of B.
Durability g_receiver_durability = Durability::kNoSync;
// --map-trim MIB: ReplicaOptions::max_resident_map_bytes of A and B, in MiB
// (0 = never trim; unset = the library's default).
std::optional<uint64_t> g_map_trim;
// Bound of a full sync: 120 s per 100,000 records (set in main).
double g_full_sync_bound_s = 120.0;

NodeOptions BenchNodeOptions() {
  NodeOptions o;
  o.tick_ms = 10;
  o.heads_poll_ms = 20;
  o.sync.idle_timeout_ms = 60'000;
  if (g_max_message != 0) o.sync.max_message_bytes = g_max_message;
  return o;
}

// ------------------------------------------------------------------ serve mode (node A, child)

// Reads one line from `fd` within `timeout_ms`; false on EOF or timeout.
bool ReadLine(int fd, std::string& line, int timeout_ms) {
  line.clear();
  auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, left);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) return false;
    if (c == '\n') return true;
    line.push_back(c);
    if (line.size() > (1u << 20)) return false;
  }
}

void WriteLine(int fd, const std::string& s) {
  std::string l = s + "\n";
  size_t off = 0;
  while (off < l.size()) {
    ssize_t n = ::write(fd, l.data() + off, l.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die("write to pipe failed");
    off += static_cast<size_t>(n);
  }
}

int Serve(const std::string& dir, const std::string& keyring_path, uint64_t records) {
  g_prog = "hearth_sync_bench[serve]";
  auto a = OpenReplica(dir, Durability::kNoSync, g_payload_version, g_map_trim);
  std::mt19937_64 rng(7);
  const uint64_t per_txn = 1000 / kFieldsPerRecord;
  WriteBatch b;
  auto t0 = Clock::now();
  uint64_t ops = 0;
  for (uint64_t i = 0; i < records;) {
    b.Clear();
    for (uint64_t j = 0; j < per_txn && i < records; ++j, ++i) {
      RecordId id = RecordId::Generate();
      for (int k = 0; k < kFieldsPerRecord; ++k) AddOp(b, id, i, k, rng);
    }
    ops += Check(a->Commit(b), "building data").op_count;
  }
  double gen = Since(t0);
  uint64_t delta_bytes = 0, deltas = 0;
  for (const Bytes& d : Check(a->DeltasSince({}), "DeltasSince")) {
    delta_bytes += d.size();
    ++deltas;
  }
  {
    Bytes kr = Check(a->ExportKeyring(), "ExportKeyring");
    std::ofstream out(keyring_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(kr.data()), static_cast<std::streamsize>(kr.size()));
    if (!out) Die("writing keyring");
  }
  auto node = Check(SyncNode::Create(*a, BenchNodeOptions()), "SyncNode::Create (A)");
  Check(node->Listen("tcp://127.0.0.1:*"), "Listen");
  const std::string ep = node->ListenEndpoints().at(0);
  // A sender that starts as a fresh process (hearthd) has none of the
  // build's pages mapped: drop them, so that A's peak is the serving one.
  Check(a->TrimMappedMemory(0), "TrimMappedMemory (A)");
  bool reset = ResetPeakRss();
  Check(node->Start(), "Start (A)");
  char buf[256];
  std::snprintf(buf, sizeof buf, "ready %s %s %.3f %" PRIu64 " %" PRIu64 " %" PRIu64 " %d", ep.c_str(),
                a->author().ToHex().c_str(), gen, ops, deltas, delta_bytes, reset ? 1 : 0);
  WriteLine(1, buf);
  // Commands until quit, EOF or 15 minutes idle.
  std::string line;
  std::vector<RecordId> ids;
  while (ReadLine(0, line, 15 * 60 * 1000)) {
    if (line == "heads") {
      WriteLine(1, HeadsToLine(a->GetHeads().value()));
    } else if (line == "digest") {
      Hash32 d = Check(a->Digest(), "digest");
      WriteLine(1, "digest " + base::ToHex(d));
    } else if (line == "prepare") {
      ids = PickOnePercent(*a, 0);
      WriteLine(1, "prepared " + std::to_string(ids.size()));
    } else if (line == "mutate") {
      uint64_t n = MutateOnePercent(*a, ids, "A");
      WriteLine(1, "mutated " + std::to_string(n));
    } else if (line == "stats") {
      NodeStats s = node->Stats();
      uint64_t in = 0, out = 0;
      for (auto& p : s.peers) in += p.bytes_in, out += p.bytes_out;
      WriteLine(1, "stats " + std::to_string(in) + " " + std::to_string(out));
    } else if (line == "quit") {
      break;
    } else {
      WriteLine(1, "error unknown command");
    }
  }
  node->Stop();
  return 0;
}

// ------------------------------------------------------------------ the child process

struct Child {
  pid_t pid = -1;
  int to = -1, from = -1;

  std::string Ask(const std::string& cmd, int timeout_ms = 60'000) {
    WriteLine(to, cmd);
    std::string l;
    if (!ReadLine(from, l, timeout_ms)) Die("no answer from A to '" + cmd + "'");
    return l;
  }
  void Finish() {
    if (pid <= 0) return;
    WriteLine(to, "quit");
    ::close(to);
    for (int i = 0; i < 500; ++i) {  // up to 10 s
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
    ::close(from);
  }
};

Child Spawn(const std::vector<std::string>& args) {
  int in[2], out[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0) Die("pipe");
  pid_t pid = ::fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::close(in[0]);
    ::close(in[1]);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    std::_Exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  Child c;
  c.pid = pid;
  c.to = in[1];
  c.from = out[0];
  return c;
}

// ------------------------------------------------------------------ report

struct Report {
  uint64_t records = 0, ops = 0, deltas = 0, delta_bytes = 0;
  double gen_seconds = 0;
  // full sync
  double full_seconds = 0;
  uint64_t full_in = 0, full_out = 0;
  long rss_b_before_kb = 0, rss_b_kb = 0, rss_a_kb = 0;
  long anon_b_kb = 0, anon_a_kb = 0;  // peak RssAnon during the full sync (AnonPeakSampler)
  long file_b_kb = 0, file_a_kb = 0;  // peak RssFile during the full sync (LMDB map pages, libraries)
  bool rss_reset_b = false, rss_reset_a = false;
  // incremental
  double inc_seconds = 0;
  uint64_t inc_wire = 0, inc_delta_a = 0, inc_delta_b = 0;
  // handshake
  uint64_t reconnect_bytes = 0;
  double reconnect_seconds = 0;
  uint64_t handshake_bytes = 0;
  uint64_t session_pair_bytes = 0;
  bool digests_equal = false;
  // --compare-payload: step 1 with payload version 1 on A (0 = not run).
  uint64_t v1_delta_bytes = 0, v1_in = 0, v1_out = 0;
  double v1_seconds = 0;
  long v1_rss_b_kb = 0, v1_rss_a_kb = 0;
};

void PrintTable(const Report& r) {
  const double wire = static_cast<double>(r.full_in + r.full_out);
  const double inc_changed = static_cast<double>(r.inc_delta_a + r.inc_delta_b);
  std::printf("hearth_sync_bench  %s  build %s  nproc %u  CPU %s\n", NowUtc().c_str(), HEARTH_BENCH_BUILD_TYPE,
              std::thread::hardware_concurrency(), CpuModel().c_str());
  std::printf("Two processes: A = child (--serve), B = this process; ZeroMQ + CURVE on 127.0.0.1;\n"
              "tick 10 ms, heads poll 20 ms; A nosync, B %s; max message %s.\n\n",
              g_receiver_durability == Durability::kSync ? "sync" : "nosync", g_max_message == 0 ? "4 MiB (default)" : (std::to_string(g_max_message) + " B").c_str());
  std::printf("%-44s %s\n", "Figure", "Value");
  std::printf("%-44s %" PRIu64 " records, %" PRIu64 " ops, %" PRIu64 " deltas, %.1f MB (built in %.2f s)\n",
              "Data on A", r.records, r.ops, r.deltas, r.delta_bytes / 1e6, r.gen_seconds);
  std::printf("%-44s %.3f s = %.0f ops/s (target < 4 s, goal 2 s)\n", "Full sync: time", r.full_seconds,
              r.ops / r.full_seconds);
  std::printf("%-44s %.2f MB (in %" PRIu64 " B + out %" PRIu64 " B) (target < 12 MB)\n",
              "Full sync: bytes on the wire (B)", wire / 1e6, r.full_in, r.full_out);
  std::printf("%-44s B %.1f MB (%.1f before; %s), A %.1f MB (%s) (target B < 200 MB)\n", "Full sync: peak RSS",
              r.rss_b_kb / 1024.0, r.rss_b_before_kb / 1024.0, r.rss_reset_b ? "VmHWM reset" : "VmHWM whole run",
              r.rss_a_kb / 1024.0, r.rss_reset_a ? "VmHWM reset after build" : "VmHWM incl. build");
  std::printf("%-44s B %.1f MB, A %.1f MB (RssAnon sampled every 5 ms: heap, not LMDB's mapped pages)\n",
              "Full sync: peak anonymous RSS", r.anon_b_kb / 1024.0, r.anon_a_kb / 1024.0);
  std::printf("%-44s B %.1f MB, A %.1f MB (RssFile sampled every 5 ms: LMDB's mapped pages, libraries)\n",
              "Full sync: peak file-backed RSS", r.file_b_kb / 1024.0, r.file_a_kb / 1024.0);
  if (r.v1_delta_bytes != 0) {
    const double v1_wire = static_cast<double>(r.v1_in + r.v1_out);
    std::printf("%-44s %.2f MB on the wire (deltas %.2f MB), %.3f s, peak RSS B %.1f MB, A %.1f MB\n",
                "Full sync, payload v1 (--compare-payload)", v1_wire / 1e6, r.v1_delta_bytes / 1e6, r.v1_seconds,
                r.v1_rss_b_kb / 1024.0, r.v1_rss_a_kb / 1024.0);
    std::printf("%-44s v%d/v1: wire %.3f, deltas %.3f, time %.2f\n", "Full sync, payload ratio",
                g_payload_version, wire / v1_wire, static_cast<double>(r.delta_bytes) / r.v1_delta_bytes,
                r.full_seconds / r.v1_seconds);
  }
  std::printf("%-44s %.3f s\n", "Incremental (1%+1%, 2 ops/rec): commits+sync", r.inc_seconds);
  std::printf("%-44s %" PRIu64 " B vs deltas %" PRIu64 " B (A %" PRIu64 " + B %" PRIu64 ") = %.2fx (target < 1.5x)\n",
              "Incremental: wire bytes", r.inc_wire, r.inc_delta_a + r.inc_delta_b, r.inc_delta_a, r.inc_delta_b,
              inc_changed > 0 ? r.inc_wire / inc_changed : 0.0);
  std::printf("%-44s %" PRIu64 " B (SyncStats::handshake_bytes; pair total %" PRIu64 " B)\n",
              "Handshake in sync (SyncSession pair)", r.handshake_bytes, r.session_pair_bytes);
  std::printf("%-44s %" PRIu64 " B, caught up in %.3f s\n", "Reconnect in sync (fresh SyncNode, B side)",
              r.reconnect_bytes, r.reconnect_seconds);
  std::printf("%-44s %s\n", "Digests A == B", r.digests_equal ? "yes" : "NO");
  std::printf("%-44s %d\n", "Payload version of A's deltas", g_payload_version);
}

void PrintJson(const Report& r) {
  std::printf("{\n");
  std::printf("  \"date\": \"%s\", \"build_type\": \"%s\", \"nproc\": %u, \"cpu\": \"%s\",\n", NowUtc().c_str(),
              HEARTH_BENCH_BUILD_TYPE, std::thread::hardware_concurrency(), CpuModel().c_str());
  std::printf("  \"processes\": 2, \"records\": %" PRIu64 ", \"ops\": %" PRIu64 ", \"deltas\": %" PRIu64
              ", \"delta_bytes\": %" PRIu64 ", \"gen_seconds\": %.3f,\n",
              r.records, r.ops, r.deltas, r.delta_bytes, r.gen_seconds);
  std::printf("  \"full\": {\"seconds\": %.4f, \"ops_per_s\": %.0f, \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
              ", \"rss_b_kb\": %ld, \"rss_b_before_kb\": %ld, \"rss_a_kb\": %ld, \"rss_reset\": %s"
              ", \"anon_b_kb\": %ld, \"anon_a_kb\": %ld, \"file_b_kb\": %ld, \"file_a_kb\": %ld},\n",
              r.full_seconds, r.ops / r.full_seconds, r.full_in, r.full_out, r.rss_b_kb, r.rss_b_before_kb, r.rss_a_kb,
              r.rss_reset_b ? "true" : "false", r.anon_b_kb, r.anon_a_kb, r.file_b_kb, r.file_a_kb);
  double ch = static_cast<double>(r.inc_delta_a + r.inc_delta_b);
  std::printf("  \"incremental\": {\"seconds\": %.4f, \"wire_bytes\": %" PRIu64 ", \"delta_bytes_a\": %" PRIu64
              ", \"delta_bytes_b\": %" PRIu64 ", \"ratio\": %.3f},\n",
              r.inc_seconds, r.inc_wire, r.inc_delta_a, r.inc_delta_b, ch > 0 ? r.inc_wire / ch : 0.0);
  std::printf("  \"handshake\": {\"handshake_bytes\": %" PRIu64 ", \"session_pair_bytes\": %" PRIu64
              ", \"reconnect_bytes\": %" PRIu64 ", \"reconnect_seconds\": %.4f},\n",
              r.handshake_bytes, r.session_pair_bytes, r.reconnect_bytes, r.reconnect_seconds);
  if (r.v1_delta_bytes != 0) {
    std::printf("  \"compare_payload_v1\": {\"seconds\": %.4f, \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
                ", \"delta_bytes\": %" PRIu64 ", \"rss_b_kb\": %ld, \"rss_a_kb\": %ld},\n",
                r.v1_seconds, r.v1_in, r.v1_out, r.v1_delta_bytes, r.v1_rss_b_kb, r.v1_rss_a_kb);
  }
  std::printf("  \"payload_version\": %d, \"receiver_sync\": %s,\n", g_payload_version,
              g_receiver_durability == Durability::kSync ? "true" : "false");
  std::printf("  \"digests_equal\": %s\n}\n", r.digests_equal ? "true" : "false");
}

// Polls every 10 ms until pred() or `timeout_s`; returns whether pred() held.
template <typename F>
bool PollUntil(F pred, double timeout_s) {
  auto t0 = Clock::now();
  while (Since(t0) < timeout_s) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

uint64_t NodeBytes(const SyncNode& n, uint64_t* in = nullptr, uint64_t* out = nullptr) {
  uint64_t i = 0, o = 0;
  for (const PeerStats& p : n.Stats().peers) i += p.bytes_in, o += p.bytes_out;
  if (in) *in = i;
  if (out) *out = o;
  return i + o;
}

// The node publishes its stats snapshot once per loop iteration, which may
// cover many messages: after B's heads match, wait until the session says
// caught_up and the byte counters stop moving (100 ms apart; at most 10 s).
void Settle(const SyncNode& n) {
  uint64_t prev = UINT64_MAX;
  for (int i = 0; i < 100; ++i) {
    NodeStats s = n.Stats();
    bool caught_up = !s.peers.empty();
    for (const PeerStats& p : s.peers) caught_up &= p.caught_up;
    uint64_t now = NodeBytes(n);
    if (caught_up && now == prev) return;
    prev = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// --compare-payload: step 1 alone with A writing payload version 1 (its own
// child, directories and B replica, removed afterwards).
void CompareFullSync(const std::string& base, uint64_t records, Report& r) {
  const std::string dir_a = base + "/v1a", dir_b = base + "/v1b", keyring = base + "/v1keyring.bin";
  std::filesystem::create_directories(dir_a);
  Child child = Spawn({"hearth_sync_bench", "--serve", dir_a, "--keyring", keyring, "--records",
                       std::to_string(records), "--max-message", std::to_string(g_max_message),
                       "--payload-version", "1"});
  std::string line;
  if (!ReadLine(child.from, line, 600'000)) Die("A (payload v1) did not become ready");
  std::string tag, endpoint, author_hex;
  {
    std::istringstream in(line);
    double gen = 0;
    uint64_t ops = 0, deltas = 0;
    in >> tag >> endpoint >> author_hex >> gen >> ops >> deltas >> r.v1_delta_bytes;
    if (tag != "ready") Die("unexpected line from A (payload v1): " + line);
  }
  const AuthorId author_a = Check(AuthorId::FromHex(author_hex), "A's author");
  const Heads heads_a = HeadsFromLine(child.Ask("heads"));
  {
    auto b = OpenReplica(dir_b, g_receiver_durability, 2, g_map_trim);
    std::ifstream kin(keyring, std::ios::binary);
    Bytes kr((std::istreambuf_iterator<char>(kin)), std::istreambuf_iterator<char>());
    Check(b->ImportKeyring(kr), "ImportKeyring");
    ResetPeakRss();
    auto nb = Check(SyncNode::Create(*b, BenchNodeOptions()), "SyncNode::Create (B, v1)");
    Check(nb->Connect(endpoint, author_a), "Connect");
    auto t0 = Clock::now();
    Check(nb->Start(), "Start (B, v1)");
    if (!PollUntil([&] { return b->GetHeads().value() == heads_a; }, g_full_sync_bound_s)) {
      Die("full sync (payload v1) did not finish in time");
    }
    r.v1_seconds = Since(t0);
    Settle(*nb);
    NodeBytes(*nb, &r.v1_in, &r.v1_out);
    r.v1_rss_b_kb = StatusKb(0, "VmHWM:");
    r.v1_rss_a_kb = StatusKb(child.pid, "VmHWM:");
    Hash32 db = Check(b->Digest(), "digest B (v1)");
    if (child.Ask("digest") != "digest " + base::ToHex(db)) Die("payload v1 full sync: digests differ");
    nb->Stop();
  }
  child.Finish();
  std::error_code ec;
  std::filesystem::remove_all(dir_a, ec);
  std::filesystem::remove_all(dir_b, ec);
}

// ------------------------------------------------------------------ payload breakdown

// The ops of hearth_bench's workload (AddOp), built directly: the same
// fields, value shapes and random draws, consecutive HLCs as one commit
// gives them, ids from RecordId::Generate.
crdt::Op MakeOp(const char* field, crdt::OpKind kind, crdt::Hlc hlc, Value v) {
  crdt::Op op;
  op.field = field;
  op.kind = kind;
  op.hlc = hlc;
  op.value = std::move(v);
  return op;
}

std::vector<std::vector<crdt::RecordOps>> WorkloadPayloads(uint64_t records) {
  std::mt19937_64 rng(7);
  const uint64_t per_txn = 1000 / kFieldsPerRecord;
  std::vector<std::vector<crdt::RecordOps>> out;
  crdt::Hlc hlc = uint64_t{1700000000000} << 16;
  char buf[96];
  for (uint64_t i = 0; i < records;) {
    auto& p = out.emplace_back();
    for (uint64_t j = 0; j < per_txn && i < records; ++j, ++i) {
      crdt::RecordOps r{kColl, RecordId::Generate(), {}};
      for (int k = 0; k < kFieldsPerRecord; ++k) {
        crdt::Op op;
        op.hlc = ++hlc;
        switch (k) {
          case 0:
            std::snprintf(buf, sizeof buf, "Person %08" PRIu64 " %04x", i, static_cast<unsigned>(rng() & 0xffff));
            op = MakeOp("name", crdt::OpKind::kLwwSet, hlc, Value(std::string(buf)));
            break;
          case 1:
            std::snprintf(buf, sizeof buf, "+86 1%010" PRIu64, static_cast<uint64_t>(rng() % 10000000000ull));
            op = MakeOp("phone", crdt::OpKind::kLwwSet, hlc, Value(std::string(buf)));
            break;
          case 2: op = MakeOp("age", crdt::OpKind::kLwwSet, hlc, Value(static_cast<int64_t>(16 + rng() % 60))); break;
          case 3:
            op = MakeOp("visits", crdt::OpKind::kCounter, hlc, Value());
            op.p = static_cast<int64_t>(1 + rng() % 5);
            break;
          case 4:
            std::snprintf(buf, sizeof buf, "tag-%u", static_cast<unsigned>(rng() % 50));
            op = MakeOp("tags", crdt::OpKind::kSetAdd, hlc, Value(std::string(buf)));
            break;
          case 5: {
            const uint64_t st = rng() % 6;
            op = MakeOp("stage", crdt::OpKind::kStatus, hlc, Value(std::string(kStages[st])));
            op.rank = static_cast<uint32_t>(st);
            break;
          }
          case 6:
            std::snprintf(buf, sizeof buf, "Guardian %" PRIu64, i % 9973);
            op = MakeOp("guardian", crdt::OpKind::kMvSet, hlc, Value(std::string(buf)));
            break;
          default:
            std::snprintf(buf, sizeof buf, "visit %" PRIu64 ": wages owed since March, employer contacted", i);
            op = MakeOp("notes", crdt::OpKind::kLogAppend, hlc, Value(std::string(buf)));
            break;
        }
        r.ops.push_back(std::move(op));
      }
      p.push_back(std::move(r));
    }
  }
  return out;
}

int PayloadBreakdown(uint64_t records) {
  const auto payloads = WorkloadPayloads(records);
  struct Row {
    const char* what;
    std::function<Bytes(std::vector<crdt::RecordOps>)> enc;
  };
  auto zeroed = [](auto f) {
    return [f](std::vector<crdt::RecordOps> p) {
      for (auto& r : p) f(r);
      return codec::EncodePayloadV2(p);
    };
  };
  const Row rows[] = {
      {"v1 (msgpack)", [](std::vector<crdt::RecordOps> p) { return codec::EncodePayload(p); }},
      {"v2", [](std::vector<crdt::RecordOps> p) { return codec::EncodePayloadV2(p); }},
      {"v2, ids all zero", zeroed([](crdt::RecordOps& r) { r.id = RecordId{}; })},
      {"v2, hlcs all equal", zeroed([](crdt::RecordOps& r) { for (auto& o : r.ops) o.hlc = 1; })},
      {"v2, values nil/0", zeroed([](crdt::RecordOps& r) {
         for (auto& o : r.ops) o.value = Value(), o.p = 0, o.rank = 0;
       })},
      {"v2, ids+hlcs+values zeroed (structure)", zeroed([](crdt::RecordOps& r) {
         r.id = RecordId{};
         for (auto& o : r.ops) o.value = Value(), o.p = 0, o.rank = 0, o.hlc = 1;
       })},
  };
  std::printf("Payload breakdown: %" PRIu64 " records x %d fields in %zu payloads of <= 1,000 ops\n", records,
              kFieldsPerRecord, payloads.size());
  std::printf("%-40s %12s %12s %8s %10s %10s\n", "Encoding", "raw B", "zstd-1 B", "B/op", "encode s", "decode s");
  const double ops = static_cast<double>(records) * kFieldsPerRecord;
  for (const Row& row : rows) {
    uint64_t raw = 0, z = 0;
    double enc_s = 0, dec_s = 0;
    for (const auto& p : payloads) {
      auto t0 = Clock::now();
      Bytes b = row.enc(p);
      enc_s += Since(t0);
      raw += b.size();
      z += Check(feed::CompressPayload(b), "CompressPayload").size();
      auto t1 = Clock::now();
      auto back = codec::DecodePayload(b);
      dec_s += Since(t1);
      if (!back.ok()) Die("payload does not decode: " + back.status().ToString());
    }
    std::printf("%-40s %12" PRIu64 " %12" PRIu64 " %8.2f %10.3f %10.3f\n", row.what, raw, z, z / ops, enc_s, dec_s);
  }
  return 0;
}

// --- --handshake: handshake bytes at 1,000 authors, RECON vs RANGES ---

// Seq 1..seqs[i] of a fresh author per entry, chained, one after the other.
std::vector<Bytes> AuthorFeeds(const std::vector<uint64_t>& seqs) {
  std::vector<Bytes> out;
  const auto key = crypto::RandomAeadKey();
  const uint8_t payload[] = {0x90};
  for (uint64_t n : seqs) {
    auto kp = crypto::SigningKeyPair::Generate();
    crypto::Hash prev{};
    for (uint64_t s = 1; s <= n; ++s) {
      feed::DeltaHeader h;
      h.author = kp.public_key;
      h.seq = s;
      h.prev = prev;
      h.scope = "bench.handshake";
      h.epoch = 9;  // a key epoch nobody holds: stored and chained, not applied
      h.hlc_min = h.hlc_max = s;
      h.op_count = 1;
      Bytes d = Check(feed::SealDelta(h, payload, key, kp), "SealDelta");
      prev = Check(feed::ParseDelta(d), "ParseDelta").hash;
      out.push_back(std::move(d));
    }
  }
  return out;
}

struct HandshakeRow {
  std::string what;
  uint64_t recon = 0, ranges = 0;
};

// handshake_bytes of one session pair a -> b (a initiates), until both are
// caught up; dies unless the heads end equal.
uint64_t PairBytes(Replica& a, Replica& b, bool recon, bool compact = true) {
  SyncOptions o;
  o.recursive_recon = recon;
  o.compact_recon = compact;
  SyncSession sa(a, true, o), sb(b, false, o);
  uint64_t now = 1'000;
  Check(sa.Start(now), "session start");
  for (int i = 0; i < 100'000 && !(sa.stats().caught_up && sb.stats().caught_up); ++i) {
    now += 1;
    for (Bytes& m : sa.TakeOutgoing()) Check(sb.OnMessage(m, now), "b OnMessage");
    for (Bytes& m : sb.TakeOutgoing()) Check(sa.OnMessage(m, now), "a OnMessage");
    Check(sa.OnTick(now), "a tick");
    Check(sb.OnTick(now), "b tick");
  }
  if (!(sa.stats().caught_up && sb.stats().caught_up)) Die("handshake pair did not catch up");
  if (Check(a.GetHeads(), "heads a") != Check(b.GetHeads(), "heads b")) Die("heads differ after the handshake");
  return sa.stats().handshake_bytes;
}

int HandshakeSeries(const std::string& dir, bool json) {
  const std::string base = MakeTempDir(dir, "handshake");
  struct Case {
    const char* what;
    int shared, behind, only_a, only_b;
  };
  const Case cases[] = {{"1,000 authors in sync", 1000, 0, 0, 0},
                        {"1 author behind among 1,000", 1000, 1, 0, 0},
                        {"10 authors behind among 1,000", 1000, 10, 0, 0},
                        {"500 authors behind among 1,000", 1000, 500, 0, 0},
                        {"all different (500 + 500)", 0, 0, 500, 500},
                        {"one side empty (1,000 + 0)", 0, 0, 1000, 0}};
  std::vector<HandshakeRow> rows;
  int n = 0;
  for (const Case& c : cases) {
    std::vector<uint64_t> seqs(static_cast<size_t>(c.shared), 1);
    for (int i = 0; i < c.behind; ++i) seqs[static_cast<size_t>(i) * (seqs.size() / c.behind)] = 2;
    const auto shared = AuthorFeeds(seqs);
    const auto only_a = AuthorFeeds(std::vector<uint64_t>(static_cast<size_t>(c.only_a), 1));
    const auto only_b = AuthorFeeds(std::vector<uint64_t>(static_cast<size_t>(c.only_b), 1));
    HandshakeRow row{c.what};
    for (int recon = 1; recon >= 0; --recon) {
      const std::string d = base + "/" + std::to_string(n++);
      auto a = OpenReplica(d + "a");
      auto b = OpenReplica(d + "b");
      Check(a->ApplyBatch(shared).error, "ApplyBatch a");
      std::vector<Bytes> b_shared;  // b: the seq-1 deltas only (behind on the seq 2s)
      for (size_t i = 0, k = 0; i < seqs.size(); k += seqs[i], ++i) b_shared.push_back(shared[k]);
      Check(b->ApplyBatch(b_shared).error, "ApplyBatch b");
      Check(a->ApplyBatch(only_a).error, "ApplyBatch a (only a)");
      Check(b->ApplyBatch(only_b).error, "ApplyBatch b (only b)");
      (recon ? row.recon : row.ranges) = PairBytes(*a, *b, recon != 0);
    }
    rows.push_back(row);
  }
  std::error_code ec;
  std::filesystem::remove_all(base, ec);
  if (json) {
    std::printf("{\n  \"date\": \"%s\", \"build_type\": \"%s\", \"handshake\": [\n", NowUtc().c_str(),
                HEARTH_BENCH_BUILD_TYPE);
    for (size_t i = 0; i < rows.size(); ++i) {
      std::printf("    {\"case\": \"%s\", \"recon_bytes\": %" PRIu64 ", \"ranges_bytes\": %" PRIu64 "}%s\n",
                  rows[i].what.c_str(), rows[i].recon, rows[i].ranges, i + 1 < rows.size() ? "," : "");
    }
    std::printf("  ]\n}\n");
    return 0;
  }
  std::printf("hearth_sync_bench --handshake  %s  build %s\n", NowUtc().c_str(), HEARTH_BENCH_BUILD_TYPE);
  std::printf("SyncStats::handshake_bytes, both directions, one SyncSession pair (no root, default limits)\n\n");
  std::printf("%-36s %12s %12s\n", "Case", "RECON (B)", "RANGES (B)");
  for (const auto& r : rows) std::printf("%-36s %12" PRIu64 " %12" PRIu64 "\n", r.what.c_str(), r.recon, r.ranges);
  return 0;
}

// --handshake-sets N: one author behind among 1,000 over N random author
// sets (fresh keys each), compact RECON and the first RECON on the same
// data; the size depends on how many authors share the leaf range of the
// one behind, so a few sets say little about the largest.
int HandshakeSets(const std::string& dir, int sets, bool json) {
  const std::string base = MakeTempDir(dir, "handshake-sets");
  std::vector<uint64_t> compact, first;
  std::mt19937_64 rng(std::random_device{}());
  for (int set = 0; set < sets; ++set) {
    std::vector<uint64_t> seqs(1000, 1);
    seqs[rng() % seqs.size()] = 2;
    const auto ahead = AuthorFeeds(seqs);
    std::vector<Bytes> behind;
    for (size_t i = 0, k = 0; i < seqs.size(); k += seqs[i], ++i) behind.push_back(ahead[k]);
    const bool ahead_initiates = rng() % 2;
    for (int c = 1; c >= 0; --c) {
      const std::string d = base + "/" + std::to_string(set) + (c ? "c" : "f");
      auto x = OpenReplica(d + "x");
      auto y = OpenReplica(d + "y");
      Check(x->ApplyBatch(ahead_initiates ? ahead : behind).error, "ApplyBatch x");
      Check(y->ApplyBatch(ahead_initiates ? behind : ahead).error, "ApplyBatch y");
      (c ? compact : first).push_back(PairBytes(*x, *y, true, c != 0));
      x.reset();
      y.reset();
      std::error_code ec;
      std::filesystem::remove_all(d + "x", ec);
      std::filesystem::remove_all(d + "y", ec);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(base, ec);
  struct Dist {
    uint64_t min, median, p99, max, over_1k;
  };
  auto dist = [](std::vector<uint64_t> v) {
    std::sort(v.begin(), v.end());
    Dist d{v.front(), v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)], v.back(), 0};
    for (uint64_t x : v) d.over_1k += x > 1024;
    return d;
  };
  const Dist dc = dist(compact), df = dist(first);
  if (json) {
    std::printf("{\"date\": \"%s\", \"build_type\": \"%s\", \"sets\": %d", NowUtc().c_str(),
                HEARTH_BENCH_BUILD_TYPE, sets);
    for (const auto& [name, d] : {std::pair{"compact", dc}, std::pair{"first_recon", df}}) {
      std::printf(", \"%s\": {\"min\": %" PRIu64 ", \"median\": %" PRIu64 ", \"p99\": %" PRIu64
                  ", \"max\": %" PRIu64 ", \"over_1024\": %" PRIu64 "}",
                  name, d.min, d.median, d.p99, d.max, d.over_1k);
    }
    std::printf("}\n");
    return 0;
  }
  std::printf("hearth_sync_bench --handshake-sets %d  %s  build %s\n", sets, NowUtc().c_str(), HEARTH_BENCH_BUILD_TYPE);
  std::printf("One author behind among 1,000, %d random author sets, random direction (SyncStats::handshake_bytes)\n\n",
              sets);
  std::printf("%-34s %6s %7s %6s %6s %10s\n", "RECON", "min", "median", "p99", "max", "sets > 1 KB");
  for (const auto& [name, d] : {std::pair{"compact (6-byte hashes)", dc}, std::pair{"first RECON (8-byte hashes)", df}}) {
    std::printf("%-34s %6" PRIu64 " %7" PRIu64 " %6" PRIu64 " %6" PRIu64 " %10" PRIu64 "\n", name, d.min, d.median,
                d.p99, d.max, d.over_1k);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  g_prog = "hearth_sync_bench";
  uint64_t records = 100000;
  bool json = false;
  bool compare_payload = false;
  bool breakdown = false;
  bool handshake = false;
  int handshake_sets = 0;
  std::string dir, serve_dir, keyring_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--records") {
      records = std::strtoull(next().c_str(), nullptr, 10);
      if (records < 100) Die("--records must be >= 100");
    } else if (a == "--json") {
      json = true;
    } else if (a == "--dir") {
      dir = next();
    } else if (a == "--serve") {
      serve_dir = next();
    } else if (a == "--keyring") {
      keyring_path = next();
    } else if (a == "--max-message") {
      g_max_message = std::strtoull(next().c_str(), nullptr, 10);
      if (g_max_message != 0 && g_max_message < 65536) Die("--max-message must be 0 or >= 65536");
    } else if (a == "--payload-version") {
      const std::string v = next();
      if (v != "1" && v != "2") Die("--payload-version must be 1 or 2");
      g_payload_version = static_cast<uint8_t>(v[0] - '0');
    } else if (a == "--compare-payload") {
      compare_payload = true;
    } else if (a == "--receiver-sync") {
      g_receiver_durability = Durability::kSync;
    } else if (a == "--map-trim") {
      g_map_trim = std::strtoull(next().c_str(), nullptr, 10) << 20;
    } else if (a == "--payload-breakdown") {
      breakdown = true;
    } else if (a == "--handshake") {
      handshake = true;
    } else if (a == "--handshake-sets") {
      handshake_sets = std::atoi(next().c_str());
      if (handshake_sets < 1 || handshake_sets > 100000) Die("--handshake-sets must be 1..100000");
    } else if (a == "-h" || a == "--help") {
      std::puts("usage: hearth_sync_bench [--records N] [--json] [--dir D] [--max-message BYTES]\n"
                "                         [--payload-version 1|2] [--compare-payload] [--receiver-sync]\n"
                "                         [--map-trim MIB]\n"
                "       hearth_sync_bench --payload-breakdown [--records N]\n"
                "       hearth_sync_bench --handshake [--json] [--dir D]\n"
                "       hearth_sync_bench --handshake-sets N [--json] [--dir D]");
      return 0;
    } else {
      Die("unknown option " + a + " (try --help)");
    }
  }
  g_full_sync_bound_s = 120.0 * std::max<double>(1.0, static_cast<double>(records) / 100000.0);
  if (!serve_dir.empty()) return Serve(serve_dir, keyring_path, records);
  if (breakdown) return PayloadBreakdown(records);
  if (handshake_sets > 0) {
    const char* t = std::getenv("TMPDIR");
    return HandshakeSets(!dir.empty() ? dir : (t && *t ? t : "/tmp"), handshake_sets, json);
  }
  if (handshake) {
    const char* t = std::getenv("TMPDIR");
    return HandshakeSeries(!dir.empty() ? dir : (t && *t ? t : "/tmp"), json);
  }

  ::signal(SIGPIPE, SIG_IGN);
  if (dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    dir = t && *t ? t : "/tmp";
  }
  const std::string base = MakeTempDir(dir, "run");
  const std::string dir_a = base + "/a", dir_b = base + "/b", dir_c = base + "/c";
  const std::string keyring = base + "/keyring.bin";
  std::filesystem::create_directories(dir_a);
  Report r;
  r.records = records;
  if (compare_payload) CompareFullSync(base, records, r);

  std::vector<std::string> serve_args = {"hearth_sync_bench", "--serve", dir_a, "--keyring", keyring, "--records",
                                         std::to_string(records), "--max-message", std::to_string(g_max_message),
                                         "--payload-version", std::to_string(g_payload_version)};
  if (g_map_trim) {
    serve_args.push_back("--map-trim");
    serve_args.push_back(std::to_string(*g_map_trim >> 20));
  }
  Child child = Spawn(serve_args);
  std::string line;
  if (!ReadLine(child.from, line, 600'000)) Die("A did not become ready");
  std::string endpoint, author_hex;
  int reset_a = 0;
  {
    std::istringstream in(line);
    std::string tag;
    in >> tag >> endpoint >> author_hex >> r.gen_seconds >> r.ops >> r.deltas >> r.delta_bytes >> reset_a;
    if (tag != "ready") Die("unexpected line from A: " + line);
  }
  r.rss_reset_a = reset_a != 0;
  const AuthorId author_a = Check(AuthorId::FromHex(author_hex), "A's author");
  const Heads heads_a = HeadsFromLine(child.Ask("heads"));

  int rc = 0;
  {
    auto b = OpenReplica(dir_b, g_receiver_durability, 2, g_map_trim);
    {
      std::ifstream kin(keyring, std::ios::binary);
      Bytes kr((std::istreambuf_iterator<char>(kin)), std::istreambuf_iterator<char>());
      Check(b->ImportKeyring(kr), "ImportKeyring");
    }
    r.rss_b_before_kb = StatusKb(0, "VmRSS:");
    r.rss_reset_b = ResetPeakRss();

    // 1. Full sync.
    auto nb = Check(SyncNode::Create(*b, BenchNodeOptions()), "SyncNode::Create (B)");
    Check(nb->Connect(endpoint, author_a), "Connect");
    AnonPeakSampler anon(child.pid);
    auto t0 = Clock::now();
    Check(nb->Start(), "Start (B)");
    if (!PollUntil([&] { return b->GetHeads().value() == heads_a; }, g_full_sync_bound_s)) {
      Die("full sync did not finish in time");
    }
    r.full_seconds = Since(t0);
    Settle(*nb);
    NodeBytes(*nb, &r.full_in, &r.full_out);
    r.rss_b_kb = StatusKb(0, "VmHWM:");
    r.rss_a_kb = StatusKb(child.pid, "VmHWM:");
    anon.Stop();
    r.anon_b_kb = anon.self_kb();
    r.anon_a_kb = anon.other_kb();
    r.file_b_kb = anon.self_file_kb();
    r.file_a_kb = anon.other_file_kb();

    // 2. Incremental: 1% on each side at once, carried by the live session.
    const std::vector<RecordId> ids_b = PickOnePercent(*b, 50);
    if (child.Ask("prepare").rfind("prepared ", 0) != 0) Die("A: prepare failed");
    const uint64_t wire0 = NodeBytes(*nb);
    auto t1 = Clock::now();
    WriteLine(child.to, "mutate");
    r.inc_delta_b = MutateOnePercent(*b, ids_b, "B");
    if (!ReadLine(child.from, line, 60'000) || line.rfind("mutated ", 0) != 0) Die("A: mutate failed: " + line);
    r.inc_delta_a = std::strtoull(line.c_str() + 8, nullptr, 10);
    if (!PollUntil([&] { return b->GetHeads().value() == HeadsFromLine(child.Ask("heads")); }, 120.0)) {
      Die("incremental sync did not finish in 120 s");
    }
    r.inc_seconds = Since(t1);
    Settle(*nb);  // trailing acks/credits and the stats snapshot
    r.inc_wire = NodeBytes(*nb) - wire0;
    {
      Hash32 db = Check(b->Digest(), "digest B");
      std::string da = child.Ask("digest");
      r.digests_equal = da == "digest " + base::ToHex(db);
    }
    nb->Stop();
    nb.reset();

    // 3a. Reconnect a fresh node while in sync.
    auto nb2 = Check(SyncNode::Create(*b, BenchNodeOptions()), "SyncNode::Create (B2)");
    Check(nb2->Connect(endpoint, author_a), "Connect (B2)");
    auto t2 = Clock::now();
    Check(nb2->Start(), "Start (B2)");
    if (!PollUntil(
            [&] {
              auto s = nb2->Stats();
              return !s.peers.empty() && s.peers[0].caught_up;
            },
            30.0)) {
      Die("reconnect did not catch up in 30 s");
    }
    r.reconnect_seconds = Since(t2);
    Settle(*nb2);
    r.reconnect_bytes = NodeBytes(*nb2);
    nb2->Stop();
    nb2.reset();

    // 3b. SyncStats::handshake_bytes of a SyncSession pair, B and C in sync.
    {
      auto c = OpenReplica(dir_c);
      Check(c->ImportKeyring(Check(b->ExportKeyring(), "ExportKeyring B")), "ImportKeyring C");
      auto all = Check(b->DeltasSince({}), "DeltasSince B");
      std::span<const Bytes> sp(all);
      for (size_t i = 0; i < sp.size(); i += 8) {
        Check(c->ApplyBatch(sp.subspan(i, std::min<size_t>(8, sp.size() - i))).error, "ApplyBatch C");
      }
      if (c->GetHeads().value() != b->GetHeads().value()) Die("C is not in sync with B");
      SyncSession sb(*b, true), sc(*c, false);
      uint64_t now = 1'000;
      Check(sb.Start(now), "session start");
      for (int i = 0; i < 10'000 && !(sb.stats().caught_up && sc.stats().caught_up); ++i) {
        now += 1;
        for (Bytes& m : sb.TakeOutgoing()) Check(sc.OnMessage(m, now), "C OnMessage");
        for (Bytes& m : sc.TakeOutgoing()) Check(sb.OnMessage(m, now), "B OnMessage");
        Check(sb.OnTick(now), "B tick");
        Check(sc.OnTick(now), "C tick");
      }
      if (!(sb.stats().caught_up && sc.stats().caught_up)) Die("session pair did not catch up");
      r.handshake_bytes = sb.stats().handshake_bytes;
      r.session_pair_bytes = sb.stats().bytes_in + sb.stats().bytes_out;
    }
    if (!r.digests_equal) rc = 1;
  }
  child.Finish();
  std::error_code ec;
  std::filesystem::remove_all(base, ec);
  if (json) {
    PrintJson(r);
  } else {
    PrintTable(r);
  }
  return rc;
}
