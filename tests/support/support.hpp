// Test support shared by every test binary: temporary directories removed
// at scope exit, a seed taken from HEARTH_SEED (printed so a failure can be
// rerun), and a fake clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"

namespace hearth::testing {

// A fresh directory under $TMPDIR (or /tmp), removed recursively on
// destruction unless HEARTH_KEEP_TMP is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The base seed for randomized tests: $HEARTH_SEED if set, else a fresh
// random one. Printed once per process ("HEARTH_SEED=<n>").
uint64_t BaseSeed();

// Number of random cases: $HEARTH_CASES if set, else `default_cases`.
int Cases(int default_cases);

// Hex of bytes (lowercase, base/bytes.hpp), and bytes of hex; FromHex
// fails the current test on odd length or a non-hex digit.
using base::ToHex;
std::vector<uint8_t> FromHex(std::string_view hex);

// A manually advanced clock in milliseconds; thread-safe.
class FakeClock {
 public:
  explicit FakeClock(uint64_t start_ms = 1'700'000'000'000ull) : now_(start_ms) {}
  uint64_t Now() const { return now_.load(); }
  void Advance(uint64_t ms) { now_ += ms; }
  void Set(uint64_t ms) { now_ = ms; }

 private:
  std::atomic<uint64_t> now_;
};

}  // namespace hearth::testing
