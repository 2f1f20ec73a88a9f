// Shared helpers for the fuzz targets (tests/fuzz/*.cpp). Each target
// defines LLVMFuzzerTestOneInput; it runs under libFuzzer (HEARTH_FUZZ=ON)
// or under replay_main.cpp (the fuzz_replay_* ctest tests).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/replica.hpp"
#include "hearth/schema.hpp"

// An oracle failed: print where and why, then abort (libFuzzer saves the
// input as a crasher; the replay test fails).
#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: fuzz oracle failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

#define FUZZ_CHECK_MSG(cond, msg)                                                     \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: fuzz oracle failed: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   std::string(msg).c_str());                                         \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace hearth::fuzz {

// A directory under $TMPDIR (or /tmp) for the whole process, removed at exit.
class ProcessTempDir {
 public:
  ProcessTempDir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/hearth-fuzz-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = buf.data();
  }
  ~ProcessTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

inline ProcessTempDir& TempDir() {
  static ProcessTempDir* dir = [] {
    auto* d = new ProcessTempDir();
    // libFuzzer ends with exit(): remove the directory then.
    std::atexit([] { delete &TempDir(); });
    return d;
  }();
  return *dir;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, std::span<const uint8_t> data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::abort();
  }
}

// The schema of the tests (tests/data/test_schema.toml).
inline Schema TestSchema() {
  auto s = Schema::LoadFile(std::string(HEARTH_SOURCE_DIR) + "/tests/data/test_schema.toml");
  if (!s.ok()) {
    std::fprintf(stderr, "test schema: %s\n", s.status().ToString().c_str());
    std::abort();
  }
  return s.value();
}

// A replica in the process temp dir (no fsync, unencrypted identity).
inline std::unique_ptr<Replica> OpenReplica(std::string_view name) {
  ReplicaOptions o;
  o.schema = TestSchema();
  o.durability = Durability::kNoSync;
  o.unencrypted_identity = true;
  auto r = Replica::Open(TempDir().Sub(name), o);
  if (!r.ok()) {
    std::fprintf(stderr, "replica: %s\n", r.status().ToString().c_str());
    std::abort();
  }
  return std::move(r).value();
}

}  // namespace hearth::fuzz
