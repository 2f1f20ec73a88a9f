// Fuzz target: schema TOML (src/schema, docs/schema.md).
//
// Oracles: Schema::Parse never throws, crashes or fails with anything but
// kInvalidArgument; an accepted schema's canonical text ToToml() parses
// back to an equal schema and is stable (ToToml of that is the same text).
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "hearth/schema.hpp"

using namespace hearth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = Schema::Parse(text, "fuzz.toml");
  if (!s.ok()) {
    FUZZ_CHECK_MSG(s.status().code() == Code::kInvalidArgument, s.status().ToString());
    return 0;
  }
  const std::string canon = s->ToToml();
  auto again = Schema::Parse(canon, "canonical.toml");
  FUZZ_CHECK_MSG(again.ok(), again.status().ToString() + "\n" + canon);
  FUZZ_CHECK_MSG(*again == *s, canon);
  FUZZ_CHECK_MSG(again->ToToml() == canon, canon);
  return 0;
}
