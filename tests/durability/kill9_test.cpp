// Crash durability: kill -9 a writer at random moments and check that every
// commit it acknowledged survives, that its feed has no gap and that the
// stored state still equals the state rebuilt from the feeds.
//
// The writer is tests/durability/crash_writer.cpp, started with fork+exec
// (an LMDB environment must not cross a fork). See docs/durability.md.
//
// Environment:
//   HEARTH_KILL_ITERATIONS  kills on the shared directory (default 60; CI
//                           must run >= 50 in the normal build)
//   HEARTH_KILL_MAX_MS      kills among commits land up to this long after
//                           the writer's (measured) start-up; default 150
//   HEARTH_KILL_VERBOSE=1   one line per kill on stderr
//   HEARTH_SEED             seed for delays and the writer's workload
//   HEARTH_KILL_EXTRA_ITERATIONS  kills in each of the import, rotation and
//                           map-growth cases (default 12)
//   HEARTH_KILL_CONCURRENT_ITERATIONS  kills while several threads commit
//                           (group commit; default 15)
//   HEARTH_KILL_THREADS     committing threads of that case (default 4)
//   HEARTH_KILL_MIGRATE_ITERATIONS  kills while copies of the format-1
//                           fixture are migrated to format 2 on open
//                           (default 30)
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <functional>

#include "base/bytes.hpp"
#include "hearth/bundle.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "hearth/schema.hpp"
#include "store/raw_tables.hpp"
#include "store/replica_dump.hpp"
#include "support/support.hpp"

#ifndef HEARTH_CRASH_WRITER
#error "HEARTH_CRASH_WRITER must name the crash_writer binary"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define HEARTH_DUR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEARTH_DUR_ASAN 1
#endif
#endif

namespace hearth {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int EnvInt(const char* name, int def) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return def;
  return std::atoi(v);
}

// One acknowledged commit, as printed by the writer.
struct Ack {
  std::string author;
  uint64_t first = 0;
  uint64_t last = 0;
};

struct ChildRun {
  std::vector<Ack> acks;
  std::vector<uint64_t> map_sizes;  // "# map" lines
  std::vector<std::string> bad_lines;
  std::string partial;               // bytes after the last newline
  int wait_status = 0;
  bool killed_by_us = false;         // we sent SIGKILL before it exited
  double ms_alive = 0;
  double ready_ms = -1;              // when the "# map" line (replica open) arrived
  bool in_op = false;                // a "# begin" line with no ack after it: killed inside
  uint64_t begun = 0;                // "# begin" lines
  bool done = false;                 // "# done": the import had nothing left
  uint64_t migrated = 0;             // "# migrated" lines (mode migrate)
};

void ParseLines(std::string& buf, ChildRun& run) {
  size_t start = 0;
  for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = buf.substr(start, nl - start);
    if (line.rfind("# map ", 0) == 0) {
      run.map_sizes.push_back(std::strtoull(line.c_str() + 6, nullptr, 10));
      continue;
    }
    if (line.rfind("# begin ", 0) == 0) {
      run.in_op = true;
      ++run.begun;
      continue;
    }
    if (line == "# done") {
      run.done = true;
      continue;
    }
    if (line.rfind("# migrated ", 0) == 0) {
      run.in_op = false;
      ++run.migrated;
      continue;
    }
    std::istringstream in(line);
    Ack a;
    std::string rest;
    if (!(in >> a.author >> a.first >> a.last) || (in >> rest) || a.author.size() != 64 ||
        a.first == 0 || a.last < a.first) {
      run.bad_lines.push_back(line);
      continue;
    }
    run.acks.push_back(a);
    run.in_op = false;
  }
  buf.erase(0, start);
}

// Starts the writer, lets it run for `delay`, kills it with SIGKILL and
// collects everything it printed. Always reaps the child.
ChildRun RunAndKill(const std::string& dir, const std::string& schema_path, uint64_t seed,
                    milliseconds delay, const std::string& mode = "commit", const std::string& mode_arg = "") {
  ChildRun run;
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);

  // Everything the child needs is built before fork: between fork and exec
  // only async-signal-safe calls.
  const std::string exe = HEARTH_CRASH_WRITER;
  const std::string seed_s = std::to_string(seed);
  std::vector<char*> argv = {const_cast<char*>(exe.c_str()), const_cast<char*>(dir.c_str()),
                             const_cast<char*>(schema_path.c_str()),
                             const_cast<char*>(seed_s.c_str()), const_cast<char*>(mode.c_str())};
  if (!mode_arg.empty()) argv.push_back(const_cast<char*>(mode_arg.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const auto started = Clock::now();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: stdout -> pipe (dup2 clears O_CLOEXEC on fd 1), stderr inherited.
    if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(126);
    ::execv(exe.c_str(), argv.data());
    static const char kMsg[] = "kill9_test: execv of crash_writer failed\n";
    (void)!::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    ::_exit(127);
  }
  ::close(fds[1]);  // our copy of the write end: EOF comes when the child dies

  std::string buf;
  char chunk[8192];
  bool eof = false;
  auto read_some = [&](int timeout_ms) {
    pollfd p{fds[0], POLLIN, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) return;
    if (rc <= 0) return;
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      eof = true;
      return;
    }
    buf.append(chunk, static_cast<size_t>(n));
    ParseLines(buf, run);
    if (run.ready_ms < 0 && !run.map_sizes.empty()) {
      run.ready_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    }
  };

  // Read while the child runs, so it never blocks on a full pipe.
  const auto kill_at = started + delay;
  while (!eof) {
    auto left = std::chrono::duration_cast<milliseconds>(kill_at - Clock::now()).count();
    if (left <= 0) break;
    read_some(static_cast<int>(left));
  }
  // If the child ended by itself (eof before the deadline), still make sure
  // it is gone; SIGKILL on a zombie is harmless.
  int wst = 0;
  pid_t w = ::waitpid(pid, &wst, WNOHANG);
  if (w == 0) {
    ::kill(pid, SIGKILL);
    run.killed_by_us = true;
  }
  run.ms_alive = std::chrono::duration<double, std::milli>(Clock::now() - started).count();

  // Drain to EOF, with a hard limit so a stuck child cannot hang the test.
  const auto drain_deadline = Clock::now() + std::chrono::seconds(30);
  while (!eof && Clock::now() < drain_deadline) read_some(100);
  ::close(fds[0]);
  if (w == 0) {
    // Reap; SIGKILL cannot be ignored, but bound the wait anyway.
    const auto reap_deadline = Clock::now() + std::chrono::seconds(30);
    while ((w = ::waitpid(pid, &wst, WNOHANG)) == 0 && Clock::now() < reap_deadline) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    if (w == 0) {
      ::kill(pid, SIGKILL);
      w = ::waitpid(pid, &wst, 0);  // blocks only if the kernel never delivers SIGKILL
    }
  }
  REQUIRE_MESSAGE(w == pid, "waitpid failed: " << std::strerror(errno));
  REQUIRE_MESSAGE(eof, "crash_writer's stdout did not close within 30 s of SIGKILL");
  run.wait_status = wst;
  run.partial = buf;
  return run;
}

std::string Describe(int wst) {
  if (WIFSIGNALED(wst)) return "killed by signal " + std::to_string(WTERMSIG(wst));
  if (WIFEXITED(wst)) return "exited with status " + std::to_string(WEXITSTATUS(wst));
  return "wait status " + std::to_string(wst);
}

// Running totals over all kills of one directory.
struct Tally {
  uint64_t head = 0;           // author's head after the previous kill
  std::string author_hex;      // fixed once the identity exists
  uint64_t acked_commits = 0;
  uint64_t acked_deltas = 0;   // sum over acknowledged lines of (last - first + 1)
  uint64_t lost = 0;           // acknowledged seqs not found after reopen
  uint64_t startup_kills = 0;  // kills before the first acknowledged commit
  uint64_t map_growths = 0;    // "# map" changes seen within one run
  uint64_t max_map = 0;
};

// Checks what one killed run left in `dir`: the writer died of our SIGKILL,
// printed well-formed consecutive acks, and the reopened replica holds every
// acknowledged delta, has no gap and is consistent. Closes the replica.
// With `concurrent` (crash_writer threads) acks come in the order the
// threads' commits returned, not in seq order, and a commit that was durable
// but not yet acknowledged may lie between two acknowledged ones: the acks
// are then checked as disjoint ranges above the previous head.
void CheckAfterKill(const std::string& dir, const Schema& schema, const ChildRun& run, Tally& t,
                    const std::function<void(Replica&)>& extra = {}, bool concurrent = false) {
  // The writer never stops on its own: anything but our SIGKILL is a failure
  // (its error is on stderr).
  INFO("crash_writer ", Describe(run.wait_status), " after ", run.ms_alive, " ms");
  REQUIRE(run.killed_by_us);
  REQUIRE(WIFSIGNALED(run.wait_status));
  REQUIRE(WTERMSIG(run.wait_status) == SIGKILL);
  CHECK_MESSAGE(run.bad_lines.empty(),
                "malformed line from crash_writer: " << (run.bad_lines.empty() ? "" : run.bad_lines.front()));
  // Lines are written with one write(2) each (< PIPE_BUF): never torn.
  CHECK_MESSAGE(run.partial.empty(), "torn line from crash_writer: " << run.partial);
  if (run.acks.empty()) ++t.startup_kills;
  if (run.map_sizes.size() > 1) t.map_growths += run.map_sizes.size() - 1;
  for (uint64_t m : run.map_sizes) t.max_map = std::max(t.max_map, m);

  // Acknowledged ranges are consecutive and start right after the head seen
  // after the previous kill (nothing else writes in between).
  uint64_t expect = t.head + 1;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Ack& a : run.acks) {
    if (t.author_hex.empty()) t.author_hex = a.author;
    CHECK(a.author == t.author_hex);
    if (concurrent) {
      CHECK_MESSAGE(a.first > t.head, "ack " << a.first << ".." << a.last << " at or below the old head " << t.head);
      ranges.emplace_back(a.first, a.last);
      expect = std::max(expect, a.last + 1);
    } else {
      CHECK_MESSAGE(a.first == expect, "ack " << a.first << ".." << a.last << ", expected first " << expect);
      expect = a.last + 1;
    }
    CHECK(a.last - a.first <= 1);  // one delta per scope, two scopes
    t.acked_deltas += a.last - a.first + 1;
    ++t.acked_commits;
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    CHECK_MESSAGE(ranges[i].first > ranges[i - 1].second,
                  "acks " << ranges[i - 1].first << ".." << ranges[i - 1].second << " and " << ranges[i].first
                          << ".." << ranges[i].second << " overlap (a seq handed out twice)");
  }

  ReplicaOptions opts;
  opts.schema = schema;
  opts.unencrypted_identity = true;
  opts.initial_map_size = uint64_t{1} << 20;
  auto opened = Replica::Open(dir, opts);
  REQUIRE_MESSAGE(opened.ok(), "reopen after kill: " << opened.status().ToString());
  std::unique_ptr<Replica> r = std::move(opened).value();
  const AuthorId me = r->author();
  if (t.author_hex.empty() && r->GetHeads().value().count(me) != 0) t.author_hex = me.ToHex();
  if (!t.author_hex.empty()) REQUIRE(me.ToHex() == t.author_hex);

  // Every acknowledged delta is there.
  for (const Ack& a : run.acks) {
    for (uint64_t s = a.first; s <= a.last; ++s) {
      auto d = r->GetDelta(me, s);
      if (!d.ok()) {
        ++t.lost;
        FAIL_CHECK("acknowledged delta " << a.author << "#" << s << " missing: " << d.status().ToString());
      }
    }
  }

  // One author, no gap: head == number of deltas and 1..head all held.
  const Heads heads = r->GetHeads().value();
  const ReplicaStats st = inspect::Stats(*r).value();
  CHECK(heads.size() <= 1);
  uint64_t new_head = 0;
  if (auto h = heads.find(me); h != heads.end()) new_head = h->second.seq;
  CHECK(st.deltas == new_head);
  CHECK(st.pending == 0);
  CHECK(st.forks == 0);
  CHECK_MESSAGE(new_head >= t.head, "head went back from " << t.head << " to " << new_head);
  CHECK_MESSAGE(new_head + 1 >= expect, "head " << new_head << " below acknowledged " << expect - 1);
  for (uint64_t s = 1; s <= new_head; ++s) {
    auto d = r->GetDelta(me, s);
    CHECK_MESSAGE(d.ok(), "gap at seq " << s << " of " << new_head << ": " << d.status().ToString());
  }
  auto all = r->DeltasSince({});
  REQUIRE_MESSAGE(all.ok(), all.status().ToString());
  CHECK(all->size() == new_head);

  // Materialised state == state rebuilt from the feeds.
  Status cons = inspect::CheckConsistency(*r);
  CHECK_MESSAGE(cons.ok(), cons.ToString());
  REQUIRE(r->Digest().ok());
  if (extra) extra(*r);
  t.head = new_head;
  // r is destroyed on return: no environment is open when the next child starts.
}

// Kill delays are measured from fork. Start-up (exec, loading the schema,
// creating or opening the environment, the identity) takes tens of ms in a
// release build and several hundred under ASan, so the test keeps an
// estimate of it (from when the writer reports the replica open) and aims
// kills either inside it or at [min_ms, max_ms] after it.
struct Config {
  uint64_t seed = 0;
  int iterations = 60;
  int min_ms = 5;
  int max_ms = 150;
  double startup_ms = 60;  // first guess; refined from observed runs
  std::string schema_path;
};

Config GetConfig() {
  Config c;
  c.seed = testing::BaseSeed();
  c.iterations = EnvInt("HEARTH_KILL_ITERATIONS", 60);
  c.max_ms = EnvInt("HEARTH_KILL_MAX_MS", 150);
#ifdef HEARTH_DUR_ASAN
  c.startup_ms = 350;
#endif
  c.schema_path = std::string(HEARTH_TEST_DATA_DIR) + "/data/test_schema.toml";
  return c;
}

TEST_CASE("kill -9 at start-up leaves a replica that opens (fresh directories)" * doctest::timeout(300)) {
  const Config cfg = GetConfig();
  auto schema = Schema::LoadFile(cfg.schema_path);
  REQUIRE_MESSAGE(schema.ok(), schema.status().ToString());
  testing::TempDir tmp;
  // Kills spread evenly over the start-up window, each on a new directory:
  // during exec, environment creation, the first write transaction, identity
  // creation and the first commits.
  const int runs = 8;
  for (int i = 0; i < runs; ++i) {
    CAPTURE(i);
    const std::string dir = tmp.Sub("fresh" + std::to_string(i));
    const int delay = static_cast<int>(cfg.startup_ms * i / (runs - 1));
    CAPTURE(delay);
    ChildRun run = RunAndKill(dir, cfg.schema_path, cfg.seed + 1000 + static_cast<uint64_t>(i),
                              milliseconds(delay));
    Tally t;
    CheckAfterKill(dir, *schema, run, t);
    CHECK(t.lost == 0);
  }
}

TEST_CASE("kill -9 during commits loses no acknowledged delta and leaves a consistent replica" *
          doctest::timeout(590)) {
  const Config cfg = GetConfig();
  REQUIRE(cfg.iterations >= 1);
  REQUIRE(cfg.max_ms > cfg.min_ms);
  auto schema = Schema::LoadFile(cfg.schema_path);
  REQUIRE_MESSAGE(schema.ok(), schema.status().ToString());

  testing::TempDir tmp;
  const std::string dir = tmp.Sub("replica");
  std::mt19937_64 rng(cfg.seed ^ 0x6b696c6c39ull);
  const auto t0 = Clock::now();
  Tally t;
  double startup = cfg.startup_ms;
  const bool verbose = EnvInt("HEARTH_KILL_VERBOSE", 0) != 0;
  int early = 0;
  for (int it = 0; it < cfg.iterations; ++it) {
    CAPTURE(it);
    // Iteration 0 (empty directory: environment and identity creation) and
    // about one in eight later ones are killed inside the start-up window;
    // the rest [min_ms, max_ms] after it, among the commits (and sometimes
    // during a map growth).
    int delay_ms;
    const bool aim_early = it == 0 || rng() % 8 == 0;
    if (aim_early) {
      delay_ms = static_cast<int>(rng() % static_cast<uint64_t>(startup + 1));
      ++early;
    } else {
      delay_ms = static_cast<int>(startup) + cfg.min_ms +
                 static_cast<int>(rng() % static_cast<uint64_t>(cfg.max_ms - cfg.min_ms + 1));
    }
    CAPTURE(delay_ms);
    ChildRun run = RunAndKill(dir, cfg.schema_path, cfg.seed + static_cast<uint64_t>(it),
                              milliseconds(delay_ms));
    if (run.ready_ms > 0) {
      startup = 0.7 * startup + 0.3 * run.ready_ms;
    } else if (!aim_early) {
      // Meant to land among commits but the writer had not even opened the
      // replica: start-up is slower than estimated (loaded machine, sanitizer).
      startup = std::max(startup, run.ms_alive) * 1.25;
    }
    const auto check_start = Clock::now();
    CheckAfterKill(dir, *schema, run, t);
    if (verbose) {
      std::fprintf(stderr,
                   "kill %d: delay %d ms, open after %.0f ms, killed after %.0f ms, %zu acks, head %" PRIu64
                   ", check %.0f ms\n",
                   it, delay_ms, run.ready_ms, run.ms_alive, run.acks.size(), t.head,
                   std::chrono::duration<double, std::milli>(Clock::now() - check_start).count());
    }
  }

  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  uint64_t file_bytes = 0;
  std::error_code ec;
  if (auto n = std::filesystem::file_size(dir + "/data.mdb", ec); !ec) file_bytes = n;
  std::fprintf(stderr,
               "durability: iterations=%d acknowledged_commits=%" PRIu64 " acknowledged_deltas=%" PRIu64
               " lost=%" PRIu64 " final_head=%" PRIu64 " startup_kills=%" PRIu64 " map_growths=%" PRIu64
               " max_map=%" PRIu64 " data.mdb=%" PRIu64 " startup_est_ms=%.0f early_aimed=%d seconds=%.1f\n",
               cfg.iterations, t.acked_commits, t.acked_deltas, t.lost, t.head, t.startup_kills,
               t.map_growths, t.max_map, file_bytes, startup, early, secs);
  CHECK(t.lost == 0);
  CHECK(t.acked_deltas > 0);
}

// ------------------------------------------------------------------------
// Kills during map growth, key rotation (policy publish) and bundle import.
// Each case runs HEARTH_KILL_EXTRA_ITERATIONS kills (default 12: the test is
// labelled slow, CI keeps it short) at [min_ms, max_ms] after the measured
// start-up, i.e. among the writer's work.

int ExtraIterations() { return EnvInt("HEARTH_KILL_EXTRA_ITERATIONS", 12); }

int WorkDelay(std::mt19937_64& rng, double startup, const Config& cfg) {
  return static_cast<int>(startup) + cfg.min_ms +
         static_cast<int>(rng() % static_cast<uint64_t>(cfg.max_ms - cfg.min_ms + 1));
}

void UpdateStartup(double& startup, const ChildRun& run) {
  if (run.ready_ms > 0) {
    startup = 0.7 * startup + 0.3 * run.ready_ms;
  } else {
    startup = std::max(startup, run.ms_alive) * 1.25;
  }
}

TEST_CASE("kill -9 during map growth (64 KiB initial map) loses no acknowledged delta" * doctest::timeout(590)) {
  const Config cfg = GetConfig();
  const int iterations = ExtraIterations();
  auto schema = Schema::LoadFile(cfg.schema_path);
  REQUIRE(schema.ok());
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("grow");
  std::mt19937_64 rng(cfg.seed ^ 0x67726f77ull);
  double startup = cfg.startup_ms;
  Tally t;
  int runs_with_growth = 0;
  const auto t0 = Clock::now();
  for (int it = 0; it < iterations; ++it) {
    CAPTURE(it);
    const int delay_ms = WorkDelay(rng, startup, cfg);
    ChildRun run = RunAndKill(dir, cfg.schema_path, cfg.seed + 500 + static_cast<uint64_t>(it),
                              milliseconds(delay_ms), "grow");
    UpdateStartup(startup, run);
    if (run.map_sizes.size() > 1) ++runs_with_growth;
    CheckAfterKill(dir, *schema, run, t);
  }
  std::fprintf(stderr,
               "durability/grow: kills=%d acknowledged_commits=%" PRIu64 " acknowledged_deltas=%" PRIu64
               " lost=%" PRIu64 " map_growths=%" PRIu64 " runs_with_growth=%d max_map=%" PRIu64 " seconds=%.1f\n",
               iterations, t.acked_commits, t.acked_deltas, t.lost, t.map_growths, runs_with_growth, t.max_map,
               std::chrono::duration<double>(Clock::now() - t0).count());
  CHECK(t.lost == 0);
  CHECK(t.map_growths > 0);
}

TEST_CASE("kill -9 during key rotation (policy publish) loses no acknowledged delta" * doctest::timeout(590)) {
  const Config cfg = GetConfig();
  const int iterations = ExtraIterations();
  auto schema = Schema::LoadFile(cfg.schema_path);
  REQUIRE(schema.ok());
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("root");
  std::mt19937_64 rng(cfg.seed ^ 0x726f7461ull);
  double startup = cfg.startup_ms;
  Tally t;
  int in_publish = 0;
  uint64_t publishes = 0, max_version = 0;
  const auto t0 = Clock::now();
  for (int it = 0; it < iterations; ++it) {
    CAPTURE(it);
    const int delay_ms = WorkDelay(rng, startup, cfg);
    ChildRun run = RunAndKill(dir, cfg.schema_path, cfg.seed + 700 + static_cast<uint64_t>(it),
                              milliseconds(delay_ms), "rotate");
    UpdateStartup(startup, run);
    if (run.in_op) ++in_publish;
    publishes += run.begun;
    CheckAfterKill(dir, *schema, run, t, [&](Replica& r) {
      // The policy in force is whole: a version, its epoch for test.a, and
      // a key for every epoch up to it (a publish killed after its key
      // transaction leaves one key more, which the next publish reuses).
      auto p = r.CurrentPolicy().value();
      if (t.acked_commits > 0) REQUIRE(p.has_value());
      if (!p) return;
      CHECK(p->FindScope("test.a") != nullptr);
      CHECK(p->FindScope("test.a")->epoch == p->version());
      CHECK(p->version() >= max_version);
      max_version = p->version();
      auto kr = r.ExportKeyring({"test.a"});
      REQUIRE(kr.ok());
      REQUIRE(kr->size() >= 5);
      const uint32_t keys = base::LoadBE32(kr->data() + 1);
      CHECK(keys >= p->version());
      CHECK(inspect::Denied(r).value().empty());
    });
  }
  std::fprintf(stderr,
               "durability/rotate: kills=%d killed_inside_publish=%d publishes_started=%" PRIu64
               " policy_version=%" PRIu64 " acknowledged_commits=%" PRIu64 " acknowledged_deltas=%" PRIu64
               " lost=%" PRIu64 " seconds=%.1f\n",
               iterations, in_publish, publishes, max_version, t.acked_commits, t.acked_deltas, t.lost,
               std::chrono::duration<double>(Clock::now() - t0).count());
  CHECK(t.lost == 0);
  CHECK(max_version > 0);
}

TEST_CASE("kill -9 during bundle import loses no acknowledged delta; imports converge" * doctest::timeout(590)) {
  const Config cfg = GetConfig();
  const int iterations = ExtraIterations();
  auto schema = Schema::LoadFile(cfg.schema_path);
  REQUIRE(schema.ok());
  testing::TempDir tmp;
  // The source: one author, 60 bundles of 20 commits each (one delta each).
  const std::string bundles = tmp.Sub("bundles");
  std::filesystem::create_directories(bundles);
  ReplicaOptions so;
  so.schema = *schema;
  so.unencrypted_identity = true;
  so.durability = Durability::kNoSync;
  auto src_open = Replica::Open(tmp.Sub("source"), so);
  REQUIRE(src_open.ok());
  std::unique_ptr<Replica> src = std::move(src_open).value();
  REQUIRE(src->CreateScopeKey("test.a").ok());  // exported below as the keyring
  REQUIRE(src->CreateScopeKey("test.b").ok());
  const int kBundles = 60, kPerBundle = 20;
  Heads since;
  for (int b = 0; b < kBundles; ++b) {
    for (int i = 0; i < kPerBundle; ++i) {
      const int n = b * kPerBundle + i;
      RecordId id;
      id.bytes[0] = 0xb0;
      id.bytes[15] = static_cast<uint8_t>(n % 16);
      auto c = src->Write([&](WriteBatch& w) {
        if (n % 2 == 0) {
          w.Set("item", id, "title", "v" + std::to_string(n)).Increment("item", id, "count", 1);
          if (n % 7 == 0) w.Append("item", id, "notes", "note " + std::to_string(n));
        } else {
          w.Set("other", id, "name", "n" + std::to_string(n)).Increment("other", id, "n", 2);
        }
      });
      REQUIRE(c.ok());
    }
    char name[32];
    std::snprintf(name, sizeof name, "/b%04d", b);
    auto rep = ExportBundle(*src, since, bundles + name);
    REQUIRE_MESSAGE(rep.ok(), rep.status().ToString());
    since = src->GetHeads().value();
  }
  {
    auto kr = src->ExportKeyring();
    REQUIRE(kr.ok());
    std::FILE* f = std::fopen((bundles + "/keyring").c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(std::fwrite(kr->data(), 1, kr->size(), f) == kr->size());
    std::fclose(f);
  }
  const AuthorId src_author = src->author();
  const std::string src_hex = src_author.ToHex();
  auto src_digest = src->Digest();
  REQUIRE(src_digest.ok());
  const uint64_t total = src->GetHeads().value().at(src_author).seq;

  std::mt19937_64 rng(cfg.seed ^ 0x696d706full);
  double startup = cfg.startup_ms;
  int dest_no = 0, completed = 0, in_import = 0;
  uint64_t acked_imports = 0, acked_deltas = 0, lost = 0, head = 0;
  std::string dest = tmp.Sub("dest0");
  ReplicaOptions opts;
  opts.schema = *schema;
  opts.unencrypted_identity = true;
  Bytes keyring;
  {
    std::ifstream f(bundles + "/keyring", std::ios::binary);
    keyring.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    REQUIRE(!keyring.empty());
  }
  auto converge = [&](const std::string& d) {
    auto r = Replica::Open(d, opts);
    REQUIRE(r.ok());
    // As crash_writer does first: a child killed before its keyring import
    // left the deltas it got unreadable (stored opaque) until the key comes.
    REQUIRE((*r)->ImportKeyring(keyring).ok());
    for (int b = 0; b < kBundles; ++b) {
      char name[32];
      std::snprintf(name, sizeof name, "/b%04d", b);
      auto rep = ImportBundle(**r, bundles + name);
      REQUIRE_MESSAGE(rep.ok(), rep.status().ToString());
    }
    CHECK((*r)->GetHeads().value().at(src_author).seq == total);
    auto dg = (*r)->Digest();
    REQUIRE(dg.ok());
    CHECK(*dg == *src_digest);
    CHECK(inspect::CheckConsistency(*(*r)).ok());
  };
  const auto t0 = Clock::now();
  for (int it = 0; it < iterations; ++it) {
    CAPTURE(it);
    const int delay_ms = WorkDelay(rng, startup, cfg);
    ChildRun run = RunAndKill(dest, cfg.schema_path, cfg.seed + 900 + static_cast<uint64_t>(it),
                              milliseconds(delay_ms), "import", bundles);
    UpdateStartup(startup, run);
    INFO("crash_writer ", Describe(run.wait_status), " after ", run.ms_alive, " ms");
    REQUIRE(run.killed_by_us);
    REQUIRE(WIFSIGNALED(run.wait_status));
    CHECK(run.bad_lines.empty());
    CHECK(run.partial.empty());
    if (run.in_op) ++in_import;
    {
      auto opened = Replica::Open(dest, opts);
      REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
      std::unique_ptr<Replica> r = std::move(opened).value();
      uint64_t max_ack = 0;
      for (const Ack& a : run.acks) {
        CHECK(a.author == src_hex);
        ++acked_imports;
        acked_deltas += a.last - a.first + 1;
        max_ack = std::max(max_ack, a.last);
        for (uint64_t s = a.first; s <= a.last; ++s) {
          if (!r->GetDelta(src_author, s).ok()) {
            ++lost;
            FAIL_CHECK("acknowledged imported delta #" << s << " missing after kill");
          }
        }
      }
      const Heads heads = r->GetHeads().value();
      const uint64_t h = heads.count(src_author) ? heads.at(src_author).seq : 0;
      CHECK(h >= max_ack);
      CHECK(h >= head);  // never goes back
      head = h;
      const ReplicaStats st = inspect::Stats(*r).value();
      CHECK(st.deltas == h);  // no gap, nothing else
      CHECK(st.pending == 0);
      CHECK(st.forks == 0);
      Status cons = inspect::CheckConsistency(*r);
      CHECK_MESSAGE(cons.ok(), cons.ToString());
    }
    if (run.done) {
      // Everything imported: it must equal the source. Start a new replica.
      CHECK(head == total);
      converge(dest);
      ++completed;
      dest = tmp.Sub("dest" + std::to_string(++dest_no));
      head = 0;
    }
  }
  converge(dest);  // finishing an interrupted import converges too
  std::fprintf(stderr,
               "durability/import: kills=%d killed_inside_import=%d acknowledged_imports=%" PRIu64
               " acknowledged_deltas=%" PRIu64 " lost=%" PRIu64 " replicas_completed=%d (+1 finished in-process)"
               " bundles=%d x %d deltas seconds=%.1f\n",
               iterations, in_import, acked_imports, acked_deltas, lost, completed, kBundles, kPerBundle,
               std::chrono::duration<double>(Clock::now() - t0).count());
  CHECK(lost == 0);
}

// ------------------------------------------------------------------------
// Kills while several threads commit at once (group commit: one write
// transaction and one fsync for the batches of several threads). Its own
// ctest entry (durability_concurrent, not slow): HEARTH_KILL_CONCURRENT_ITERATIONS
// kills (default 15), 4 threads (HEARTH_KILL_THREADS).

TEST_CASE("kill -9 during concurrent commits (group commit) loses no acknowledged delta" *
          doctest::timeout(300)) {
  const Config cfg = GetConfig();
  const int iterations = EnvInt("HEARTH_KILL_CONCURRENT_ITERATIONS", 15);
  const int threads = EnvInt("HEARTH_KILL_THREADS", 4);
  auto schema = Schema::LoadFile(cfg.schema_path);
  REQUIRE(schema.ok());
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("threads");
  std::mt19937_64 rng(cfg.seed ^ 0x67726f7570ull);
  double startup = cfg.startup_ms;
  Tally t;
  uint64_t out_of_order = 0;  // acks printed before one of a lower seq: evidence of concurrency
  const auto t0 = Clock::now();
  for (int it = 0; it < iterations; ++it) {
    CAPTURE(it);
    const int delay_ms = WorkDelay(rng, startup, cfg);
    CAPTURE(delay_ms);
    ChildRun run = RunAndKill(dir, cfg.schema_path, cfg.seed + 1100 + static_cast<uint64_t>(it),
                              milliseconds(delay_ms), "threads", std::to_string(threads));
    UpdateStartup(startup, run);
    for (size_t i = 1; i < run.acks.size(); ++i) out_of_order += run.acks[i].first < run.acks[i - 1].first;
    CheckAfterKill(dir, *schema, run, t, {}, /*concurrent=*/true);
  }
  std::fprintf(stderr,
               "durability/concurrent: kills=%d threads=%d acknowledged_commits=%" PRIu64
               " acknowledged_deltas=%" PRIu64 " acks_out_of_seq_order=%" PRIu64 " lost=%" PRIu64
               " final_head=%" PRIu64 " seconds=%.1f\n",
               iterations, threads, t.acked_commits, t.acked_deltas, out_of_order, t.lost, t.head,
               std::chrono::duration<double>(Clock::now() - t0).count());
  CHECK(t.lost == 0);
  CHECK(t.acked_commits > 0);
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

// Storage format 1 -> 2 (docs/storage-format.md, "Migration from format 1"):
// crash_writer (mode migrate) opens fresh copies of the format-1 fixture in
// a loop, each open re-keying it in one write transaction. Whenever it is
// killed, the copy it was opening is exactly format 1 or exactly the
// migrated format 2, and opens (migrated) with the fixture's content.
TEST_CASE("kill -9 during the migration to storage format 2 leaves format 1 or format 2" *
          doctest::timeout(590)) {
  const Config cfg = GetConfig();
  const int iterations = EnvInt("HEARTH_KILL_MIGRATE_ITERATIONS", 30);
  const std::string fixture = std::string(HEARTH_TEST_DATA_DIR) + "/data/replica_v1";
  auto schema = Schema::LoadFile(cfg.schema_path);
  REQUIRE(schema.ok());
  testing::TempDir tmp;
  // The fixture's tables, read from a copy (not in the source tree).
  testing::RawTables v1;
  {
    const std::string copy = tmp.Sub("fixture");
    std::filesystem::create_directories(copy);
    for (const char* f : {"data.mdb", "identity.key", "replica.mark"}) {
      std::filesystem::copy_file(fixture + "/" + f, copy + "/" + f);
    }
    std::string err;
    v1 = testing::ReadRawTables(copy, &err);
    REQUIRE_MESSAGE(err.empty(), err);
    REQUIRE(testing::RawFormat(v1) == 1);
  }
  const testing::RawTables v2 = testing::MigratedRawTables(v1);
  std::string expected;
  {
    std::ifstream in(fixture + "/expected.txt");
    REQUIRE(in);
    expected.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ReplicaOptions opts;
  opts.schema = *schema;
  opts.unencrypted_identity = true;
  opts.durability = Durability::kNoSync;

  std::mt19937_64 rng(cfg.seed ^ 0x6d696772ull);
  uint64_t before_copy = 0, in_open_old = 0, in_open_new = 0, between = 0;
  for (int it = 0; it < iterations; ++it) {
    CAPTURE(it);
    const std::string dir = tmp.Sub("run" + std::to_string(it));
    const int delay = static_cast<int>(cfg.startup_ms) + static_cast<int>(rng() % 100);
    ChildRun run = RunAndKill(dir, cfg.schema_path, cfg.seed + 900 + static_cast<uint64_t>(it),
                              milliseconds(delay), "migrate", fixture);
    INFO("crash_writer ", Describe(run.wait_status), " after ", run.ms_alive, " ms");
    REQUIRE(run.killed_by_us);
    REQUIRE(WIFSIGNALED(run.wait_status));
    CHECK(run.bad_lines.empty());
    CHECK(run.acks.empty());
    if (run.begun == 0) {
      ++before_copy;  // killed before the first copy was complete
      continue;
    }
    // The copy being opened (or last opened) when the kill came.
    const std::string m = dir + "/m" + std::to_string(run.begun - 1);
    std::string err;
    testing::RawTables after = testing::ReadRawTables(m, &err);
    REQUIRE_MESSAGE(err.empty(), err);
    const uint32_t format = testing::RawFormat(after);
    CAPTURE(format);
    REQUIRE((format == 1 || format == 2));
    after["meta"].erase("live_file");  // written by the open, with the migration
    if (format == 1) {
      CHECK(after == v1);
    } else {
      CHECK(after == v2);
    }
    if (run.in_op) (format == 1 ? in_open_old : in_open_new)++;
    else ++between;
    auto r = Replica::Open(m, opts);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(testing::DumpReplica(**r) == expected);
    auto rep = inspect::Verify(**r);
    REQUIRE(rep.ok());
    CHECK_MESSAGE(rep->ok(), (rep->problems.empty() ? std::string() : rep->problems.front()));
    r->reset();
    std::filesystem::remove_all(dir);
  }
  MESSAGE("migration kills: " << iterations << "; before the first copy " << before_copy
                              << "; inside an open, left format 1: " << in_open_old << ", left format 2: "
                              << in_open_new << "; after an open returned: " << between);
  // Most of a loop is the open: kills must land inside it.
  CHECK(in_open_old + in_open_new > 0);
}

}  // namespace
}  // namespace hearth
