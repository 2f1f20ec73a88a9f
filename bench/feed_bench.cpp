// hearth_feed_bench: change-feed wake-up latency across processes
// (docs/benchmarks.md, "Change feed"). A writer process commits one small
// record at a time; this process waits on a ChangeWatcher of the same
// replica directory. Latency = watcher wake-up minus the moment the writer
// called Commit (CLOCK_MONOTONIC is shared by the processes), so it includes
// the commit itself; the commit's own duration is reported beside it.
//
// Usage: hearth_feed_bench [--iterations N] [--quick] [--sync] [--json] [--dir DIR]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "bench_common.hpp"

namespace hearth::bench {
namespace {

struct Options {
  int iterations = 500;
  bool sync = false;
  bool json = false;
  std::string dir;
};

int64_t MonoNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool ReadAll(int fd, void* p, size_t n) {
  auto* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::read(fd, c, n);
    if (r <= 0) return false;
    c += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// The writer: one commit per byte read from `go`; reports (start, duration)
// in ns on `out`. Exits when `go` closes.
[[noreturn]] void Writer(const std::string& dir, bool sync, int go, int out) {
  ReplicaOptions o;
  o.durability = sync ? Durability::kSync : Durability::kNoSync;
  auto r = Replica::Open(dir, o);
  if (!r.ok()) _exit(10);
  RecordId id = RecordId::Generate();
  char b = 0;
  for (uint64_t i = 0; ::read(go, &b, 1) == 1; ++i) {
    int64_t t0 = MonoNs();
    auto c = (*r)->Write([&](WriteBatch& w) { w.Increment(kColl, id, "visits", 1); });
    int64_t t1 = MonoNs();
    if (!c.ok()) _exit(11);
    int64_t msg[2] = {t0, t1 - t0};
    if (::write(out, msg, sizeof msg) != sizeof msg) _exit(12);
  }
  r.value().reset();
  _exit(0);
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace
}  // namespace hearth::bench

int main(int argc, char** argv) {
  using namespace hearth;
  using namespace hearth::bench;
  g_prog = "hearth_feed_bench";
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc) o.iterations = std::max(1, std::atoi(argv[++i]));
    else if (a == "--quick") o.iterations = 20;
    else if (a == "--sync") o.sync = true;
    else if (a == "--json") o.json = true;
    else if (a == "--dir" && i + 1 < argc) o.dir = argv[++i];
    else if (a == "--help" || a == "-h") {
      std::printf("usage: hearth_feed_bench [--iterations N] [--quick] [--sync] [--json] [--dir DIR]\n"
                  "Change-feed wake-up latency across two processes (docs/benchmarks.md).\n");
      return 0;
    } else {
      std::fprintf(stderr, "hearth_feed_bench: unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string base = o.dir.empty() ? MakeTempDir(tmp ? tmp : "/tmp", "feed") : o.dir;
  std::string dir = base + "/replica";
  { auto r = OpenReplica(dir); }  // creates it with the bench schema and keys

  int go[2], res[2];
  if (::pipe(go) != 0 || ::pipe(res) != 0) Die("pipe");
  // Fork before this process opens the replica (one open per process).
  pid_t pid = ::fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    ::close(go[1]);
    ::close(res[0]);
    Writer(dir, o.sync, go[0], res[1]);
  }
  ::close(go[0]);
  ::close(res[1]);
  auto r = OpenReplica(dir);
  auto w = Check(r->Watch(), "Watch");
  std::vector<double> wake_us, commit_us, after_us;
  int missed = 0;
  for (int i = 0; i < o.iterations; ++i) {
    uint64_t last = Check(r->LastChangeNumber(), "LastChangeNumber");
    if (::write(go[1], "g", 1) != 1) Die("writer gone");
    bool woke = Check(w.Wait(last, std::chrono::seconds(5)), "Wait");
    int64_t t_wake = MonoNs();
    int64_t msg[2];
    if (!ReadAll(res[0], msg, sizeof msg)) Die("writer failed");
    if (!woke) {
      ++missed;
      continue;
    }
    wake_us.push_back(static_cast<double>(t_wake - msg[0]) / 1e3);
    commit_us.push_back(static_cast<double>(msg[1]) / 1e3);
    after_us.push_back(static_cast<double>(t_wake - (msg[0] + msg[1])) / 1e3);
    ::usleep(2000);  // let the writer settle: one change at a time
  }
  ::close(go[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.reset();
  if (o.dir.empty()) std::filesystem::remove_all(base);
  const double med = Pct(wake_us, 0.5), p99 = Pct(wake_us, 0.99), mx = Pct(wake_us, 1.0);
  const double cmed = Pct(commit_us, 0.5);
  const double amed = Pct(after_us, 0.5), ap99 = Pct(after_us, 0.99);
  if (o.json) {
    std::printf("{\"iterations\": %d, \"missed\": %d, \"durability\": \"%s\", \"wake_us_median\": %.1f, "
                "\"wake_us_p99\": %.1f, \"wake_us_max\": %.1f, \"commit_us_median\": %.1f, "
                "\"after_return_us_median\": %.1f, \"after_return_us_p99\": %.1f, \"cpu\": \"%s\"}\n",
                o.iterations, missed, o.sync ? "sync" : "nosync", med, p99, mx, cmed, amed, ap99, CpuModel().c_str());
  } else {
    std::printf("change feed wake-up across processes (%d commits, %s, %s)\n", o.iterations,
                o.sync ? "kSync" : "kNoSync", CpuModel().c_str());
    std::printf("  commit start -> watcher wakes: median %.0f us, p99 %.0f us, max %.0f us\n", med, p99, mx);
    std::printf("  the commit itself (until Commit returns): median %.0f us\n", cmed);
    std::printf("  wake-up minus Commit's return:  median %.0f us, p99 %.0f us (negative: woke before it returned)\n",
                amed, ap99);
    if (missed) std::printf("  MISSED wake-ups (5 s timeout): %d\n", missed);
  }
  return missed == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
