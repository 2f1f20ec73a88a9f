// Text rules shared by the codecs, the schema and the replica: what a name
// is, and what a string is (docs/delta-format.md, "Names and strings").
//
// These rules are part of the formats: a delta whose payload breaks one is
// invalid content on every replica alike, so they must not depend on local
// configuration.
#pragma once

#include <cstddef>
#include <string_view>

namespace hearth {

// Longest collection, field or status-state name.
inline constexpr size_t kMaxNameBytes = 64;

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF.
// NUL (U+0000) is valid UTF-8; callers that forbid it say so.
bool ValidUtf8(std::string_view s);

// A collection or field name of the schema grammar: 1..64 bytes of
// [a-z0-9_], not starting with a digit. Reserved names ('$' prefix) are not
// names in this sense.
bool ValidName(std::string_view name);

// A collection name a payload may carry: a ValidName, or one of the
// reserved collections "$policy", "$keys" and "$schema".
bool ValidCollectionName(std::string_view name);

// A field name a payload may carry: a ValidName, or the reserved "$deleted".
bool ValidFieldName(std::string_view name);

// Terminal columns of UTF-8 text, as the CLI's tables and the county report
// align it: one column a code point, two for a 3- or 4-byte sequence (CJK
// and the like). A lead byte's length is trusted as is (no validation), so
// any bytes have a width. Inline: the tools use it without linking below the
// public API.
inline size_t DisplayWidth(std::string_view s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    w += len >= 3 ? 2 : 1;
    i += len;
  }
  return w;
}

}  // namespace hearth
