// Display width of UTF-8 text (src/base/text.hpp), as the CLI's tables and
// the county report align their columns.
#include <doctest/doctest.h>

#include <string>

#include "base/text.hpp"

namespace hearth {
namespace {

TEST_CASE("DisplayWidth: a column a code point, two for 3- and 4-byte sequences") {
  CHECK(DisplayWidth("") == 0);
  CHECK(DisplayWidth("FIGURE") == 6);
  CHECK(DisplayWidth("caf\xc3\xa9") == 4);               // é: 2 bytes, one column
  CHECK(DisplayWidth("\xe4\xb8\xad\xe6\x96\x87") == 4);  // 中文: two columns each
  CHECK(DisplayWidth("\xf0\x9f\x98\x80!") == 3);         // U+1F600 then '!'
  CHECK(DisplayWidth("a\xe4\xb8\xad" "b") == 4);
}

TEST_CASE("DisplayWidth: any bytes have a width; a cut sequence ends it") {
  CHECK(DisplayWidth("\xe4") == 2);      // a lead byte alone still counts its columns
  CHECK(DisplayWidth("\xe4\xb8") == 2);
  CHECK(DisplayWidth("\x80\x80") == 1);  // a stray continuation byte reads as a 2-byte lead
  CHECK(DisplayWidth(std::string("a\0b", 3)) == 3);
}

}  // namespace
}  // namespace hearth
