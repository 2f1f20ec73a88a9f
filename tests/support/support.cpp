#include "support/support.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace hearth::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/hearth-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("HEARTH_KEEP_TMP") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

uint64_t BaseSeed() {
  static const uint64_t seed = [] {
    uint64_t s;
    if (const char* env = std::getenv("HEARTH_SEED"); env && *env) {
      s = std::strtoull(env, nullptr, 10);
    } else {
      std::random_device rd;
      s = (uint64_t{rd()} << 32) ^ rd();
    }
    std::fprintf(stderr, "HEARTH_SEED=%llu (set HEARTH_SEED to rerun)\n",
                 static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char k[] = "0123456789abcdef";
  std::string s;
  for (uint8_t x : bytes) {
    s.push_back(k[x >> 4]);
    s.push_back(k[x & 15]);
  }
  return s;
}

std::vector<uint8_t> FromHex(std::string_view hex) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  REQUIRE(hex.size() % 2 == 0);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nib(hex[i]), lo = nib(hex[i + 1]);
    REQUIRE(hi >= 0);
    REQUIRE(lo >= 0);
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

int Cases(int default_cases) {
  if (const char* env = std::getenv("HEARTH_CASES"); env && *env) return std::atoi(env);
  return default_cases;
}

}  // namespace hearth::testing
