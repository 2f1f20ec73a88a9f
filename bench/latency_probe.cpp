// hearth_latency_probe: write-to-visible latency through running hearthd
// daemons (docs/benchmarks.md, "Write-to-visible latency"). Driven by
// bench/latency_bench.py, which starts the daemons; usable alone too.
//
//   hearth_latency_probe --writer DIR --reader DIR [--reader DIR ...]
//                        [--count N] [--gap-ms G] [--timeout-ms T]
//                        [--collection C] [--field F] [--json]
//
// For each of N writes: commit one lww string on a new record of the writer
// replica (a process other than its hearthd, as the CLI or an app is), take
// the time when Commit returned (the write is acknowledged), then read each
// reader replica (opened read-side next to its own hearthd) every 0.2 ms
// until the record is there. Writes are G ms apart (default 25, with up to
// G/2 of jitter) so that each one travels on its own. Prints per reader the
// median, p90, p99 and max in milliseconds.
//
// Exit status 1 when a write does not become visible within T ms (default
// 10,000) on some reader: that is a lost or stuck write, never a slow one.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hearth/replica.hpp"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "hearth_latency_probe: %s\n", why.c_str());
  std::exit(1);
}

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: hearth_latency_probe --writer DIR --reader DIR [--reader DIR ...] [--count N] "
               "[--gap-ms G] [--timeout-ms T] [--collection C] [--field F] [--json]\n");
  std::exit(2);
}

std::unique_ptr<hearth::Replica> OpenExisting(const std::string& dir) {
  hearth::ReplicaOptions o;
  o.create_if_missing = false;
  // As the hearth tool: a protected identity is unlocked with $HEARTH_PASSPHRASE.
  if (const char* p = std::getenv("HEARTH_PASSPHRASE"); p != nullptr && *p != '\0') o.passphrase = p;
  auto r = hearth::Replica::Open(dir, std::move(o));
  if (!r.ok()) Die("cannot open " + dir + ": " + r.status().ToString());
  return std::move(r).value();
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  std::string writer_dir, collection = "item", field = "title";
  std::vector<std::string> reader_dirs;
  long count = 200, gap_ms = 25, timeout_ms = 10'000;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--writer") writer_dir = next();
    else if (a == "--reader") reader_dirs.push_back(next());
    else if (a == "--count") count = std::strtol(next().c_str(), nullptr, 10);
    else if (a == "--gap-ms") gap_ms = std::strtol(next().c_str(), nullptr, 10);
    else if (a == "--timeout-ms") timeout_ms = std::strtol(next().c_str(), nullptr, 10);
    else if (a == "--collection") collection = next();
    else if (a == "--field") field = next();
    else if (a == "--json") json = true;
    else if (a == "--help" || a == "-h") Usage();
    else Die("unknown option " + a);
  }
  if (writer_dir.empty() || reader_dirs.empty()) Usage();
  if (count < 1 || count > 100'000) Die("--count must be 1..100000");
  if (gap_ms < 0 || gap_ms > 10'000) Die("--gap-ms must be 0..10000");
  if (timeout_ms < 1 || timeout_ms > 600'000) Die("--timeout-ms must be 1..600000");

  auto writer = OpenExisting(writer_dir);
  std::vector<std::unique_ptr<hearth::Replica>> readers;
  for (const auto& d : reader_dirs) readers.push_back(OpenExisting(d));

  std::mt19937_64 rng(12345);
  std::vector<std::vector<double>> lat(readers.size());
  for (long n = 0; n < count; ++n) {
    const hearth::RecordId id = hearth::RecordId::Generate();
    auto c = writer->Write([&](hearth::WriteBatch& b) {
      b.Set(collection, id, field, hearth::Value(std::string("latency-") + std::to_string(n)));
    });
    if (!c.ok()) Die("commit: " + c.status().ToString());
    const Clock::time_point t0 = Clock::now();
    std::vector<bool> seen(readers.size(), false);
    size_t left = readers.size();
    while (left > 0) {
      const Clock::time_point now = Clock::now();
      for (size_t r = 0; r < readers.size(); ++r) {
        if (seen[r]) continue;
        auto got = readers[r]->Get(collection, id);
        if (got.ok()) {
          seen[r] = true;
          --left;
          lat[r].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        } else if (got.status().code() != hearth::Code::kNotFound) {
          Die("read " + reader_dirs[r] + ": " + got.status().ToString());
        }
      }
      if (left == 0) break;
      if (now - t0 > std::chrono::milliseconds(timeout_ms)) {
        Die("write " + std::to_string(n) + " (" + id.ToHex() + ") not visible within " +
            std::to_string(timeout_ms) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (gap_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms + static_cast<long>(rng() % (gap_ms / 2 + 1))));
    }
  }

  if (json) std::printf("{\"writes\":%ld,\"readers\":[", count);
  for (size_t r = 0; r < readers.size(); ++r) {
    const double med = Quantile(lat[r], 0.5), p90 = Quantile(lat[r], 0.9), p99 = Quantile(lat[r], 0.99),
                 mx = Quantile(lat[r], 1.0);
    if (json) {
      std::printf("%s{\"dir\":\"%s\",\"median_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}",
                  r ? "," : "", reader_dirs[r].c_str(), med, p90, p99, mx);
    } else {
      std::printf("%-40s writes %ld  median %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n",
                  reader_dirs[r].c_str(), count, med, p90, p99, mx);
    }
  }
  if (json) std::printf("]}\n");
  return 0;
}
