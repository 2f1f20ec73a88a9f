// SeededRandomness: libsodium's randombytes as a stream fixed by a seed,
// for tests whose runs (keys, nonces) must be reproducible: the simulator
// (tests/sync/sim.hpp) and the bundle example vector (docs/vectors/).
#pragma once

#include <doctest/doctest.h>
#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>

namespace hearth::testing {

// While alive, libsodium's randombytes (every random byte the library uses:
// identity keys, scope keys, nonces) is a stream fixed by `seed`. One at a
// time, single-threaded: a test scope, never a real key.
class SeededRandomness {
 public:
  explicit SeededRandomness(uint64_t seed) : rng_(seed ^ 0x9e3779b97f4a7c15ULL) {
    REQUIRE(sodium_init() >= 0);
    REQUIRE(Active() == nullptr);
    Active() = &rng_;
    randombytes_set_implementation(&impl_);
  }
  ~SeededRandomness() {
    randombytes_set_implementation(&randombytes_internal_implementation);  // libsodium's default
    Active() = nullptr;
  }
  SeededRandomness(const SeededRandomness&) = delete;
  SeededRandomness& operator=(const SeededRandomness&) = delete;

 private:
  static std::mt19937_64*& Active() {
    static std::mt19937_64* rng = nullptr;
    return rng;
  }
  static const char* Name() { return "hearth-test-seeded"; }
  static uint32_t Random() { return static_cast<uint32_t>((*Active())()); }
  static void Buf(void* out, size_t n) {
    auto* p = static_cast<uint8_t*>(out);
    while (n > 0) {
      const uint64_t x = (*Active())();
      const size_t k = std::min<size_t>(n, 8);
      std::memcpy(p, &x, k);
      p += k;
      n -= k;
    }
  }
  // stir, uniform and close may be null (libsodium then derives uniform from random).
  static inline randombytes_implementation impl_ = {&Name, &Random, nullptr, nullptr, &Buf, nullptr};
  std::mt19937_64 rng_;
};

}  // namespace hearth::testing
