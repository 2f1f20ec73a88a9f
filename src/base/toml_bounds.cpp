// Pre-parse bounds for TOML text (include/hearth/toml_bounds.hpp).
#include "hearth/toml_bounds.hpp"

#include <string>

#include "base/text.hpp"

namespace hearth {

Status CheckTomlBounds(std::string_view text, size_t max_bytes, size_t max_depth) {
  if (text.size() > max_bytes) {
    return Status::InvalidArgument("TOML document of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                                   std::to_string(max_bytes) + " bytes");
  }
  // A TOML document is UTF-8 (toml.io, "Spec"). toml11 3.7.1 reads past
  // its buffer when it reports invalid UTF-8 inside a literal-string key
  // (found by fuzz_hearthd_config), so it never sees any.
  if (!ValidUtf8(text)) {
    // '\n' never occurs inside a multi-byte sequence: check line by line.
    size_t bad_line = 1;
    for (size_t start = 0; start <= text.size(); ++bad_line) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      if (!ValidUtf8(text.substr(start, end - start))) break;
      start = end + 1;
    }
    return Status::InvalidArgument("TOML document is not valid UTF-8 (line " + std::to_string(bad_line) + ")");
  }
  const size_t n = text.size();
  size_t line = 1;
  size_t brackets = 0;  // open [ and { (table headers count too: [a] is 1, [[a]] is 2)
  size_t dots = 0;      // dots in the current key or value (reset by = , newline and brackets)
  auto deep = [&]() {
    return Status::InvalidArgument("TOML nested deeper than " + std::to_string(max_depth) + " levels at line " +
                                   std::to_string(line) + " (open arrays, inline tables and table headers, plus the dots of a dotted key, count)");
  };
  // Skips a string starting at text[i] (a quote); returns the index after it.
  // An unterminated one-line string ends at the newline (the parser reports
  // it); an unterminated multi-line string ends at the end of the text.
  auto skip_string = [&](size_t i) -> size_t {
    const char q = text[i];
    const bool basic = q == '"';
    if (i + 2 < n && text[i + 1] == q && text[i + 2] == q) {  // """ or '''
      i += 3;
      while (i < n) {
        char c = text[i];
        if (c == '\n') {
          ++line;
        } else if (basic && c == '\\') {
          if (i + 1 < n && text[i + 1] == '\n') ++line;
          i += 2;
          continue;
        } else if (c == q && i + 2 < n && text[i + 1] == q && text[i + 2] == q) {
          i += 3;
          // Up to two more quotes belong to the content: """a"""" is `a"`.
          for (int k = 0; k < 2 && i < n && text[i] == q; ++k) ++i;
          return i;
        }
        ++i;
      }
      return n;
    }
    ++i;
    while (i < n) {
      char c = text[i];
      if (c == '\n') return i;  // left for the caller to count
      if (basic && c == '\\') {
        i += (i + 1 < n && text[i + 1] != '\n') ? 2 : 1;
        continue;
      }
      if (c == q) return i + 1;
      ++i;
    }
    return n;
  };
  size_t i = 0;
  while (i < n) {
    const char c = text[i];
    switch (c) {
      case '"':
      case '\'':
        i = skip_string(i);
        continue;
      case '#':
        while (i < n && text[i] != '\n') ++i;
        continue;
      case '\n':
        ++line;
        dots = 0;
        break;
      case '[':
      case '{':
        ++brackets;
        dots = 0;
        if (brackets > max_depth) return deep();
        break;
      case ']':
      case '}':
        if (brackets > 0) --brackets;
        dots = 0;
        break;
      case '=':
      case ',':
        dots = 0;
        break;
      case '.':
        ++dots;
        // A dotted key a.b.c nests a table per dot; a float's one dot
        // is counted too (an upper bound is all this needs).
        if (brackets + dots > max_depth) return deep();
        break;
      default:
        break;
    }
    ++i;
  }
  return Status::Ok();
}

}  // namespace hearth
