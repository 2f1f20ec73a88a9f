// What hearth_bench and hearth_sync_bench share: error exits, timing, the
// machine description, temporary directories and the 8-field workload of
// bench/bench_schema.toml (docs/benchmarks.md).
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/types.h>
#include <fstream>
#include <memory>
#include <random>
#include <optional>
#include <string>
#include <thread>
#include <atomic>
#include <vector>

#include "hearth/replica.hpp"
#include "hearth/schema.hpp"
#include "../tests/support/test_keys.hpp"

namespace hearth::bench {

using Clock = std::chrono::steady_clock;

// Program name for error messages and temporary directory names.
inline const char* g_prog = "hearth_bench";

inline double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", g_prog, what.c_str());
  std::exit(1);
}

template <typename T>
T Check(Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}
inline void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

inline std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(line.find_first_not_of(' ', p + 1));
    }
  }
  return "unknown";
}

inline std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

inline std::string MakeTempDir(const std::string& base, const char* tag) {
  std::string tmpl = base + "/" + g_prog + "_" + tag + "_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) Die("mkdtemp in " + base + ": " + std::strerror(errno));
  return buf.data();
}

// A "Key:  N kB" line of /proc/<pid>/status (pid 0: this process); -1 if absent.
inline long StatusKb(pid_t pid, const char* key) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status") : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  size_t n = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, n, key) == 0) return std::strtol(line.c_str() + n, nullptr, 10);
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0). False when not permitted.
inline bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// Peak RssAnon (heap, stacks: what the process allocates, not LMDB's mapped
// file pages, which the kernel may drop at will) of this process and of
// `other` (0: none), sampled every 5 ms on a thread from construction until
// Stop(). VmHWM counts both kinds together; this splits them.
class AnonPeakSampler {
 public:
  explicit AnonPeakSampler(pid_t other) : other_(other), thread_([this] { Loop(); }) {}
  ~AnonPeakSampler() { Stop(); }
  void Stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
  }
  long self_kb() const { return self_kb_; }
  long other_kb() const { return other_kb_; }
  // Peak RssFile (file-backed pages: LMDB's map, the libraries).
  long self_file_kb() const { return self_file_kb_; }
  long other_file_kb() const { return other_file_kb_; }

 private:
  void Loop() {
    while (!stop_) {
      self_kb_ = std::max(self_kb_.load(), StatusKb(0, "RssAnon:"));
      self_file_kb_ = std::max(self_file_kb_.load(), StatusKb(0, "RssFile:"));
      if (other_ != 0) {
        other_kb_ = std::max(other_kb_.load(), StatusKb(other_, "RssAnon:"));
        other_file_kb_ = std::max(other_file_kb_.load(), StatusKb(other_, "RssFile:"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  pid_t other_;
  std::atomic<bool> stop_{false};
  std::atomic<long> self_kb_{0}, other_kb_{0}, self_file_kb_{0}, other_file_kb_{0};
  std::thread thread_;
};

// ------------------------------------------------------------------ workload

inline const Schema& BenchSchema() {
  static const Schema s = Check(Schema::LoadFile(HEARTH_BENCH_SCHEMA), "loading bench schema");
  return s;
}

inline constexpr const char* kColl = "case";
inline constexpr int kFieldsPerRecord = 8;
inline const char* const kStages[] = {"reported", "verifying", "mediating", "filed", "resolved", "closed"};

// payload_version: ReplicaOptions::payload_version of the deltas it writes.
// max_resident_map_bytes: ReplicaOptions::max_resident_map_bytes (the default when unset).
inline std::unique_ptr<Replica> OpenReplica(const std::string& dir, Durability d = Durability::kNoSync,
                                            uint8_t payload_version = 2,
                                            std::optional<uint64_t> max_resident_map_bytes = std::nullopt) {
  ReplicaOptions o;
  if (max_resident_map_bytes) o.max_resident_map_bytes = *max_resident_map_bytes;
  o.schema = BenchSchema();
  o.durability = d;
  o.payload_version = payload_version;
  o.unencrypted_identity = true;
  auto r = Check(Replica::Open(dir, o), "opening replica");
  // No key is made implicitly without a root: every bench replica holds the
  // same fixed keyring, as if copied by hand (tests/support/test_keys.hpp).
  Check(hearth::testing::GiveTestKeys(*r), "giving the bench replica its scope keys");
  return r;
}

// Op `k` (0..7) of record `i`: one op on each of the 8 fields, in the order
// of the schema listing; values vary with i so records differ.
inline void AddOp(WriteBatch& b, const RecordId& id, uint64_t i, int k, std::mt19937_64& rng) {
  char buf[96];
  switch (k) {
    case 0:
      std::snprintf(buf, sizeof buf, "Person %08" PRIu64 " %04x", i, static_cast<unsigned>(rng() & 0xffff));
      b.Set(kColl, id, "name", Value(std::string(buf)));
      break;
    case 1:
      std::snprintf(buf, sizeof buf, "+86 1%010" PRIu64, static_cast<uint64_t>(rng() % 10000000000ull));
      b.Set(kColl, id, "phone", Value(std::string(buf)));
      break;
    case 2: b.Set(kColl, id, "age", Value(static_cast<int64_t>(16 + rng() % 60))); break;
    case 3: b.Increment(kColl, id, "visits", static_cast<int64_t>(1 + rng() % 5)); break;
    case 4:
      std::snprintf(buf, sizeof buf, "tag-%u", static_cast<unsigned>(rng() % 50));
      b.Add(kColl, id, "tags", Value(std::string(buf)));
      break;
    case 5: b.Advance(kColl, id, "stage", kStages[rng() % 6]); break;
    case 6:
      std::snprintf(buf, sizeof buf, "Guardian %" PRIu64, i % 9973);
      b.Set(kColl, id, "guardian", Value(std::string(buf)));
      break;
    default:
      std::snprintf(buf, sizeof buf, "visit %" PRIu64 ": wages owed since March, employer contacted",
                    i);
      b.Append(kColl, id, "notes", Value(std::string(buf)));
      break;
  }
}

}  // namespace hearth::bench
