// hearth_group_bench: durable single-op commits per second with several
// writers on one replica (group commit, docs/durability.md "Group commit";
// figures in docs/benchmarks.md, "Group commit").
//
//   hearth_group_bench [--writers LIST] [--processes LIST] [--seconds S]
//                      [--rounds R] [--quick] [--json] [--dir D]
//
// --writers LIST    writer threads of one process, comma-separated (default 1,4,16)
// --processes LIST  writer processes, one thread each, on one replica (default 2,4;
//                   "none" to skip)
// --seconds S       length of each run (default 3)
// --nosync          Durability::kNoSync instead (the CPU cost without fsync)
// --rounds R        runs of each configuration, interleaved (default 3); the
//                   run of median commits/s is reported, with the range
// --quick           0.3 s runs, writers 1,4, processes 2 (a smoke test)
// --json            JSON instead of the table
// --dir D           where the temporary replicas go (default $TMPDIR or /tmp)
//
// Every commit is one Set on a new record of bench/bench_schema.toml with
// Durability::kSync (the default): acknowledged = fsynced. The same run
// measures the raw cost: one LMDB write transaction of one 200-byte put,
// synced, in a loop (what one commit could cost at best without grouping).
// Prints commits/s per configuration and the ratio of 16 writers (the
// largest thread count) to 1. Exit status 1 when a result is wrong (a
// commit failed, seqs not contiguous), never because of speed.
#include <lmdb.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "hearth/replica.hpp"
#include "store/replica_impl.hpp"

namespace {

using namespace hearth;
using namespace hearth::bench;

struct Options {
  std::vector<int> writers = {1, 4, 16};
  std::vector<int> processes = {2, 4};
  double seconds = 3;
  int rounds = 3;
  bool quick = false, json = false;
  Durability durability = Durability::kSync;
  std::string dir;
};

std::vector<int> ParseList(const std::string& s) {
  std::vector<int> out;
  if (s == "none") return out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    const int n = std::atoi(item.c_str());
    if (n < 1 || n > 256) Die("bad count in list: " + item);
    out.push_back(n);
  }
  return out;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  bool writers_set = false, processes_set = false, seconds_set = false, rounds_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--writers") {
      o.writers = ParseList(next());
      writers_set = true;
    } else if (a == "--processes") {
      o.processes = ParseList(next());
      processes_set = true;
    } else if (a == "--seconds") {
      o.seconds = std::atof(next().c_str());
      seconds_set = true;
      if (o.seconds <= 0 || o.seconds > 600) Die("--seconds must be in (0, 600]");
    } else if (a == "--rounds") {
      o.rounds = std::atoi(next().c_str());
      rounds_set = true;
      if (o.rounds < 1 || o.rounds > 100) Die("--rounds must be in [1, 100]");
    } else if (a == "--nosync") {
      o.durability = Durability::kNoSync;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--dir") {
      o.dir = next();
    } else if (a == "-h" || a == "--help") {
      std::puts(
          "usage: hearth_group_bench [--writers 1,4,16] [--processes 2,4|none] [--seconds S] [--rounds R] [--nosync]\n"
          "                          [--quick] [--json] [--dir D]\n"
          "Durable (kSync) single-op commits per second with N writer threads of one process (group commit)\n"
          "and with N writer processes on one replica; the raw synced LMDB transaction rate of the same disk;\n"
          "the ratio of the largest thread count to one thread. See docs/benchmarks.md, \"Group commit\".");
      std::exit(0);
    } else {
      Die("unknown option " + a + " (try --help)");
    }
  }
  if (o.quick) {
    if (!writers_set) o.writers = {1, 4};
    if (!processes_set) o.processes = {2};
    if (!seconds_set) o.seconds = 0.3;
    if (!rounds_set) o.rounds = 1;
  }
  if (o.dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    o.dir = t && *t ? t : "/tmp";
  }
  return o;
}

struct TempDir {
  std::string path;
  TempDir(const std::string& base, const char* tag) : path(MakeTempDir(base, tag)) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

struct Fig {
  std::string kind;  // "threads" or "processes"
  int writers = 0;
  uint64_t commits = 0;
  double seconds = 0;
  uint64_t groups = 0;  // threads: write transactions of the commits (0 for processes)
  double p50_ms = 0, p99_ms = 0;  // commit latency
  double min_per_s = 0, max_per_s = 0;  // over the rounds
  double cpu_us_per_commit = 0;  // threads: process CPU (user + system) / commits
  double per_s() const { return seconds > 0 ? double(commits) / seconds : 0; }
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// One writer's loop: single-op commits until `stop`; latencies in ms.
void WriterLoop(Replica& r, int writer, const std::atomic<bool>& stop, uint64_t* commits,
                std::vector<double>* lat, std::vector<uint64_t>* seqs) {
  uint64_t i = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    WriteBatch b;
    char name[64];
    std::snprintf(name, sizeof name, "writer %d commit %" PRIu64, writer, i++);
    b.Set(kColl, RecordId::Generate(), "name", Value(std::string(name)));
    const auto t0 = Clock::now();
    auto c = r.Commit(b);
    if (!c.ok()) Die("commit: " + c.status().ToString());
    lat->push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (seqs) seqs->push_back(c->first_seq);
    ++*commits;
  }
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

Fig RunThreads(const Options& o, int n) {
  TempDir td(o.dir, "threads");
  auto r = OpenReplica(td.path, o.durability);
  ReplicaImpl& m = ReplicaAccess::Of(*r);
  const uint64_t groups0 = m.groups_committed.load();
  std::atomic<bool> stop{false};
  std::vector<uint64_t> commits(n, 0);
  std::vector<std::vector<double>> lat(n);
  std::vector<std::vector<uint64_t>> seqs(n);
  std::vector<std::thread> threads;
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] { WriterLoop(*r, i, stop, &commits[i], &lat[i], &seqs[i]); });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  Fig f;
  f.kind = "threads";
  f.writers = n;
  f.seconds = Since(t0);
  const double cpu = CpuSeconds() - cpu0;
  std::vector<double> all;
  std::set<uint64_t> seen;
  for (int i = 0; i < n; ++i) {
    f.commits += commits[i];
    all.insert(all.end(), lat[i].begin(), lat[i].end());
    for (uint64_t s : seqs[i]) {
      if (!seen.insert(s).second) Die("seq " + std::to_string(s) + " handed out twice");
    }
  }
  // Contiguous: 1..commits, nothing else.
  if (!seen.empty() && (*seen.begin() != 1 || *seen.rbegin() != f.commits)) Die("seqs are not 1..commits");
  f.groups = m.groups_committed.load() - groups0;
  if (f.commits > 0) f.cpu_us_per_commit = cpu * 1e6 / double(f.commits);
  f.p50_ms = Percentile(all, 0.5);
  f.p99_ms = Percentile(all, 0.99);
  return f;
}

// ------------------------------------------------------------------ processes

// Child: hearth_group_bench --child DIR SECONDS sync|nosync. Opens the replica, writes
// "ready\n", waits for one byte on stdin, commits for SECONDS, writes
// "<commits> <seconds> <p50_ms> <p99_ms>\n".
int ChildMain(const std::string& dir, double seconds, Durability d) {
  auto r = OpenReplica(dir, d);
  std::fputs("ready\n", stdout);
  std::fflush(stdout);
  char go;
  if (::read(STDIN_FILENO, &go, 1) != 1) Die("child: no start signal");
  std::atomic<bool> stop{false};
  uint64_t commits = 0;
  std::vector<double> lat;
  const auto t0 = Clock::now();
  std::thread timer([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
  });
  WriterLoop(*r, static_cast<int>(::getpid()), stop, &commits, &lat, nullptr);
  timer.join();
  const double secs = Since(t0);
  std::printf("%" PRIu64 " %.6f %.4f %.4f\n", commits, secs, Percentile(lat, 0.5), Percentile(lat, 0.99));
  std::fflush(stdout);
  return 0;
}

struct Child {
  pid_t pid = -1;
  int in = -1, out = -1;  // our ends: its stdin, its stdout
};

std::string ReadLine(int fd, int timeout_ms) {
  std::string line;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) break;
    if (c == '\n') return line;
    line += c;
    if (line.size() > 200) break;
  }
  Die("child process: no line within " + std::to_string(timeout_ms) + " ms (got \"" + line + "\")");
}

Fig RunProcesses(const Options& o, int n) {
  TempDir td(o.dir, "procs");
  OpenReplica(td.path, Durability::kSync);  // created (identity, keys) once, then closed
  std::vector<Child> kids(n);
  const std::string exe = "/proc/self/exe";
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", o.seconds);
  for (Child& k : kids) {
    int to[2], from[2];
    if (::pipe2(to, O_CLOEXEC) != 0 || ::pipe2(from, O_CLOEXEC) != 0) Die("pipe");
    std::vector<char*> argv = {const_cast<char*>(g_prog), const_cast<char*>("--child"),
                               const_cast<char*>(td.path.c_str()), secs,
                               const_cast<char*>(o.durability == Durability::kSync ? "sync" : "nosync"), nullptr};
    std::fflush(stdout);
    k.pid = ::fork();
    if (k.pid < 0) Die("fork");
    if (k.pid == 0) {
      if (::dup2(to[0], STDIN_FILENO) < 0 || ::dup2(from[1], STDOUT_FILENO) < 0) ::_exit(126);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(to[0]);
    ::close(from[1]);
    k.in = to[1];
    k.out = from[0];
  }
  for (Child& k : kids) {
    if (ReadLine(k.out, 30000) != "ready") Die("child did not get ready");
  }
  const auto t0 = Clock::now();
  for (Child& k : kids) {
    if (::write(k.in, "g", 1) != 1) Die("starting a child");
  }
  Fig f;
  f.kind = "processes";
  f.writers = n;
  double p50 = 0, p99 = 0;
  for (Child& k : kids) {
    std::istringstream line(ReadLine(k.out, static_cast<int>(o.seconds * 1000) + 30000));
    uint64_t c = 0;
    double s = 0, a = 0, b = 0;
    if (!(line >> c >> s >> a >> b)) Die("malformed result line from a child");
    f.commits += c;
    f.seconds = std::max(f.seconds, s);
    p50 = std::max(p50, a);
    p99 = std::max(p99, b);
    ::close(k.in);
    ::close(k.out);
    int st = 0;
    if (::waitpid(k.pid, &st, 0) != k.pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) Die("child failed");
  }
  (void)t0;
  f.p50_ms = p50;  // the slowest process's median and p99
  f.p99_ms = p99;
  // Every commit of every process is in the one feed, without a gap.
  auto r = OpenReplica(td.path, Durability::kSync);
  const Heads heads = Check(r->GetHeads(), "heads");
  const uint64_t head = heads.count(r->author()) ? heads.at(r->author()).seq : 0;
  if (head != f.commits) Die("feed head " + std::to_string(head) + " != commits " + std::to_string(f.commits));
  return f;
}

// ------------------------------------------------------------------ raw

// LMDB write transactions of one 200-byte put each, per second (synced
// unless --nosync).
double RawSyncedTxns(const Options& o) {
  TempDir td(o.dir, "raw");
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0) Die("mdb_env_create");
  mdb_env_set_mapsize(env, uint64_t{256} << 20);
  if (int rc = mdb_env_open(env, td.path.c_str(), MDB_NOTLS | (o.durability == Durability::kSync ? 0u : unsigned{MDB_NOSYNC}), 0600);
      rc != 0) Die(mdb_strerror(rc));
  std::string value(200, 'v');
  uint64_t n = 0;
  const auto t0 = Clock::now();
  while (Since(t0) < std::min(o.seconds, 2.0)) {
    MDB_txn* t = nullptr;
    MDB_dbi dbi;
    if (mdb_txn_begin(env, nullptr, 0, &t) != 0 || mdb_dbi_open(t, nullptr, 0, &dbi) != 0) Die("raw begin");
    uint64_t key = __builtin_bswap64(n);
    MDB_val k{sizeof key, &key}, v{value.size(), value.data()};
    if (mdb_put(t, dbi, &k, &v, 0) != 0 || mdb_txn_commit(t) != 0) Die("raw put");
    ++n;
  }
  const double s = Since(t0);
  mdb_env_close(env);
  return double(n) / s;
}

// ------------------------------------------------------------------ output

void Print(const Options& o, const std::vector<Fig>& figs, double raw, const std::string& date) {
  const Fig* one = nullptr;
  const Fig* most = nullptr;
  for (const Fig& f : figs) {
    if (f.kind != "threads") continue;
    if (f.writers == 1) one = &f;
    if (!most || f.writers > most->writers) most = &f;
  }
  const double ratio = one && most && one->per_s() > 0 ? most->per_s() / one->per_s() : 0;
  if (o.json) {
    std::printf("{\"date\":\"%s\",\"cpus\":%u,\"seconds_per_run\":%.3f,\"rounds\":%d,\"durability\":\"%s\",\"raw_txn_per_s\":%.1f,"
                "\"runs\":[",
                date.c_str(), std::thread::hardware_concurrency(), o.seconds, o.rounds,
                o.durability == Durability::kSync ? "sync" : "nosync", raw);
    for (size_t i = 0; i < figs.size(); ++i) {
      const Fig& f = figs[i];
      std::printf("%s{\"kind\":\"%s\",\"writers\":%d,\"commits\":%" PRIu64
                  ",\"seconds\":%.3f,\"commits_per_s\":%.1f,\"min_per_s\":%.1f,\"max_per_s\":%.1f,\"groups\":%" PRIu64
                  ",\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"cpu_us_per_commit\":%.1f}",
                  i ? "," : "", f.kind.c_str(), f.writers, f.commits, f.seconds, f.per_s(), f.min_per_s, f.max_per_s,
                  f.groups, f.p50_ms, f.p99_ms, f.cpu_us_per_commit);
    }
    std::printf("],\"ratio_max_threads_to_1\":%.2f,\"max_threads\":%d}\n", ratio, most ? most->writers : 0);
    return;
  }
  std::printf("Group commit benchmark%s\n", o.quick ? " (--quick: smoke sizes, figures not meaningful)" : "");
  std::printf("  date        %s\n", date.c_str());
  std::printf("  machine     %u CPUs, %s\n", std::thread::hardware_concurrency(), CpuModel().c_str());
  std::printf("  workload    single-op Commit (one Set on a new record), Durability::%s, %.1f s per run,\n"
              "              %d round(s) interleaved; the run of median commits/s is shown\n",
              o.durability == Durability::kSync ? "kSync" : "kNoSync", o.seconds, o.rounds);
  std::printf("  raw         %.0f %sLMDB write txns/s (one 200-B put each): the ungrouped ceiling\n\n", raw,
              o.durability == Durability::kSync ? "synced " : "");
  std::printf("  %-10s %7s %10s %12s %17s %12s %9s %9s %11s %9s\n", "writers", "count", "commits", "commits/s",
              "range (rounds)", "batches/txn", "p50 ms", "p99 ms", "CPU us/c", "vs 1 thr");
  for (const Fig& f : figs) {
    char per_txn[32] = "-";
    if (f.groups > 0) std::snprintf(per_txn, sizeof per_txn, "%.1f", double(f.commits) / double(f.groups));
    char vs[32] = "-";
    if (one && one->per_s() > 0) std::snprintf(vs, sizeof vs, "%.2fx", f.per_s() / one->per_s());
    char range[48];
    std::snprintf(range, sizeof range, "%.0f-%.0f", f.min_per_s, f.max_per_s);
    char cpu[32] = "-";
    if (f.cpu_us_per_commit > 0) std::snprintf(cpu, sizeof cpu, "%.0f", f.cpu_us_per_commit);
    std::printf("  %-10s %7d %10" PRIu64 " %12.0f %17s %12s %9.2f %9.2f %11s %9s\n", f.kind.c_str(), f.writers,
                f.commits, f.per_s(), range, per_txn, f.p50_ms, f.p99_ms, cpu, vs);
  }
  if (most && one) {
    std::printf("\n  ratio %d threads / 1 thread: %.2fx (target >= 5x at 16)\n", most->writers, ratio);
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_prog = "hearth_group_bench";
  if (argc == 5 && std::string(argv[1]) == "--child") {
    return ChildMain(argv[2], std::atof(argv[3]),
                     std::string(argv[4]) == "sync" ? Durability::kSync : Durability::kNoSync);
  }
  const Options o = ParseArgs(argc, argv);
  const std::string date = NowUtc();
  // Rounds interleave the configurations, so that a change in the disk's
  // speed (other load on a shared machine) hits all of them alike.
  std::vector<double> raws;
  const size_t configs = o.writers.size() + o.processes.size();
  std::vector<std::vector<Fig>> runs(configs);
  for (int round = 0; round < o.rounds; ++round) {
    raws.push_back(RawSyncedTxns(o));
    size_t c = 0;
    for (int n : o.writers) runs[c++].push_back(RunThreads(o, n));
    for (int n : o.processes) runs[c++].push_back(RunProcesses(o, n));
  }
  std::vector<Fig> figs;
  for (auto& r : runs) {
    std::sort(r.begin(), r.end(), [](const Fig& a, const Fig& b) { return a.per_s() < b.per_s(); });
    Fig f = r[r.size() / 2];
    f.min_per_s = r.front().per_s();
    f.max_per_s = r.back().per_s();
    figs.push_back(f);
  }
  std::sort(raws.begin(), raws.end());
  Print(o, figs, raws[raws.size() / 2], date);
  return 0;
}
