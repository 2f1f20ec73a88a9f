// hearth_capi_bench: overhead of the C API (include/hearth/hearth.h) and of
// the Python package (python/hearth) over the C++ API, measured in one run
// on one machine (docs/benchmarks.md, "C API and Python overhead"):
//   - a commit of 1 op (lww string; Durability::kNoSync, so the figure is
//     the API and the store, not the disk's fsync);
//   - a scan of 100,000 records (C++: Record objects; C: JSON text per
//     record through the callback; Python: dicts through the iterator).
// The Python figures come from bench/capi_bench.py, run on the same replica
// right after (the C++ figures are passed to it for the ratios).
//   hearth_capi_bench [--quick] [--python PYTHON]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "hearth/hearth.h"
#include "hearth/replica.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "hearth_capi_bench: %s\n", what.c_str());
  std::exit(1);
}

const char* kSchema =
    "format = 1\n[collections.worker]\nscope = \"hr.workers\"\n[collections.worker.fields]\n"
    "name = { type = \"lww\", value = \"string\" }\nage = { type = \"lww\", value = \"int\" }\n"
    "skills = { type = \"set\", value = \"string\" }\nvisits = { type = \"counter\" }\n";

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string python = "python3";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--python") && i + 1 < argc) python = argv[++i];
    else if (!std::strcmp(argv[i], "--help")) {
      std::printf("usage: hearth_capi_bench [--quick] [--python PYTHON]\n");
      return 0;
    } else Die(std::string("unknown argument ") + argv[i]);
  }
  const int commits = quick ? 200 : 3000;
  const int records = quick ? 2000 : 100000;
  std::string dir = (std::filesystem::temp_directory_path() / ("hearth-capi-bench-" + std::to_string(getpid()))).string();
  std::filesystem::remove_all(dir);

  // ---- C++ ----
  auto schema = hearth::Schema::Parse(kSchema);
  if (!schema.ok()) Die(schema.status().ToString());
  hearth::ReplicaOptions options;
  options.schema = *schema;
  options.unencrypted_identity = true;
  options.durability = hearth::Durability::kNoSync;
  double cpp_commit_us = 0, cpp_scan_s = 0, c_commit_us = 0, c_scan_s = 0;
  {
    auto r = hearth::Replica::Open(dir, options);
    if (!r.ok()) Die(r.status().ToString());
    auto& rep = **r;
    if (auto k = rep.CreateScopeKey("hr.workers"); !k.ok()) Die(k.status().ToString());
    // Fill: `records` workers, 1,000 per commit.
    for (int done = 0; done < records;) {
      hearth::WriteBatch b;
      for (int i = 0; i < 1000 && done < records; ++i, ++done) {
        auto id = hearth::RecordId::Generate();
        b.Set("worker", id, "name", "worker " + std::to_string(done)).Set("worker", id, "age", done % 80);
        b.Add("worker", id, "skills", "masonry").Increment("worker", id, "visits", 1);
      }
      if (auto c = rep.Commit(b); !c.ok()) Die(c.status().ToString());
    }
    auto one = hearth::RecordId::Generate();
    auto t0 = Clock::now();
    for (int i = 0; i < commits; ++i) {
      hearth::WriteBatch b;
      b.Set("worker", one, "name", "commit " + std::to_string(i));
      if (auto c = rep.Commit(b); !c.ok()) Die(c.status().ToString());
    }
    cpp_commit_us = Since(t0) * 1e6 / commits;
    size_t n = 0;
    t0 = Clock::now();
    if (auto s = rep.Scan("worker", [&](const hearth::Record&) { return ++n, true; }); !s.ok()) Die(s.ToString());
    cpp_scan_s = Since(t0);
    if (n != static_cast<size_t>(records) + 1) Die("C++ scan saw " + std::to_string(n) + " records");
  }

  // ---- C ----
  {
    hearth_replica* r = nullptr;
    hearth_options* o = nullptr;
    if (hearth_options_new(&o) != HEARTH_OK || hearth_options_set_durability(o, HEARTH_DURABILITY_NOSYNC) != HEARTH_OK ||
        hearth_replica_open(dir.c_str(), o, &r) != HEARTH_OK) {
      Die(hearth_last_error());
    }
    hearth_options_free(o);
    char id[33];
    hearth_record_id_generate(id, sizeof id);
    auto t0 = Clock::now();
    for (int i = 0; i < commits; ++i) {
      std::string text = "commit " + std::to_string(i);
      hearth_value v{HEARTH_VALUE_STRING, 0, 0.0, text.data(), text.size()};
      hearth_batch* b = nullptr;
      if (hearth_batch_new(&b) != HEARTH_OK || hearth_batch_set(b, "worker", id, "name", &v) != HEARTH_OK ||
          hearth_replica_commit(r, b, nullptr) != HEARTH_OK) {
        Die(hearth_last_error());
      }
      hearth_batch_free(b);
    }
    c_commit_us = Since(t0) * 1e6 / commits;
    size_t n = 0;
    t0 = Clock::now();
    auto count = [](void* ctx, const char*, size_t) -> int { return ++*static_cast<size_t*>(ctx), 0; };
    if (hearth_replica_scan(r, "worker", count, &n) != HEARTH_OK) Die(hearth_last_error());
    c_scan_s = Since(t0);
    if (n != static_cast<size_t>(records) + 2) Die("C scan saw " + std::to_string(n) + " records");
    if (hearth_replica_close(r) != HEARTH_OK) Die(hearth_last_error());
  }

  std::printf("records %d, 1-op commits %d each, durability nosync\n", records, commits);
  std::printf("%-8s %16s %14s %14s %12s\n", "api", "commit us/op", "x C++", "scan s", "x C++");
  std::printf("%-8s %16.1f %14.2f %14.3f %12.2f\n", "C++", cpp_commit_us, 1.0, cpp_scan_s, 1.0);
  std::printf("%-8s %16.1f %14.2f %14.3f %12.2f\n", "C", c_commit_us, c_commit_us / cpp_commit_us, c_scan_s,
              c_scan_s / cpp_scan_s);
  std::fflush(stdout);
  std::string cmd = python + " " + HEARTH_CAPI_BENCH_PY + " " + dir + " " + std::to_string(commits) + " " +
                    std::to_string(records + 2) + " " + std::to_string(cpp_commit_us) + " " +
                    std::to_string(cpp_scan_s);
  int rc = std::system(cmd.c_str());
  std::filesystem::remove_all(dir);
  if (rc != 0) Die("the Python part failed: " + cmd);
  return 0;
}
