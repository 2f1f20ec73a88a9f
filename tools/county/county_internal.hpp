// Internals of hearth_county shared by the generator and the report: the
// county's geography, name tables, dates and small helpers. Not installed.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "county.hpp"

namespace hearth::county::internal {

struct Village {
  std::string name;
  std::string township;
};

// The 96 villages (村/社区), in township order.
const std::vector<Village>& Villages();

// Days since 1970-01-01 for a civil date, and back.
int64_t DaysFromCivil(int y, unsigned m, unsigned d);
void CivilFromDays(int64_t z, int& y, unsigned& m, unsigned& d);
inline int64_t DateMs(int y, unsigned m, unsigned d) { return DaysFromCivil(y, m, d) * 86'400'000; }

// Name tables (UTF-8).
extern const std::vector<std::string_view> kSurnames;       // weighted by repetition
extern const std::vector<std::string_view> kMaleGiven;      // one or two characters each
extern const std::vector<std::string_view> kFemaleGiven;
extern const std::vector<std::string_view> kChildGiven;

// SHA-256 hex of `text` (libsodium).
std::string Sha256Hex(std::string_view text);

// Figure keys, their labels, units and scopes, in display order.
struct FigureDef {
  const char* key;
  const char* label;
  const char* unit;
  const char* scope;
  int level = 0;
};
const std::vector<FigureDef>& FigureDefs();

}  // namespace hearth::county::internal
