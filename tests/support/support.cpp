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

std::vector<uint8_t> FromHex(std::string_view hex) {
  auto bytes = base::FromHex(hex);
  REQUIRE_MESSAGE(bytes.has_value(), "not hex: " << hex);
  return *bytes;
}

int Cases(int default_cases) {
  if (const char* env = std::getenv("HEARTH_CASES"); env && *env) return std::atoi(env);
  return default_cases;
}

}  // namespace hearth::testing
