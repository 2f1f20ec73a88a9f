// Bounds checked on TOML text before it reaches the TOML parser.
//
// toml11 parses nested arrays, inline tables and dotted keys recursively: a
// document nested 100,000 levels deep overflows the stack of whatever
// thread parses it. Every TOML input of Hearth (schema, policy, including
// policy documents arriving in deltas, and the hearthd configuration) goes
// through CheckTomlBounds first (docs/reliability.md, "Hostile files and
// TOML").
#pragma once

#include <cstddef>
#include <string_view>

#include "hearth/export.hpp"
#include "hearth/status.hpp"

namespace hearth {

// Deepest nesting accepted: open arrays, inline tables and table headers
// plus the dots of the key (or value) being read. Real documents use < 10.
inline constexpr size_t kTomlMaxDepth = 64;
// Largest documents accepted, per kind.
inline constexpr size_t kSchemaMaxBytes = size_t{1} << 20;  // 1 MiB
inline constexpr size_t kPolicyMaxBytes = size_t{4} << 20;  // 4 MiB
inline constexpr size_t kConfigMaxBytes = size_t{1} << 20;  // 1 MiB

// Scans `text` without parsing it: counts the nesting of `[` and `{` and
// the dots of dotted keys outside strings ("...", '...', """...""",
// '''...''') and comments. Ok, or kInvalidArgument naming the limit (and
// the line where the depth limit was crossed). Never recurses; O(size).
HEARTH_EXPORT Status CheckTomlBounds(std::string_view text, size_t max_bytes, size_t max_depth = kTomlMaxDepth);

}  // namespace hearth
