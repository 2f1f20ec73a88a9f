// The name grammar and the UTF-8 check of payload strings (src/base/text.hpp).
#include <doctest/doctest.h>

#include <string>

#include "base/text.hpp"

namespace hearth {
namespace {

TEST_CASE("ValidUtf8: a bad byte anywhere in or after an ASCII run is found") {
  for (size_t len = 0; len < 40; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      std::string s(len, 'a');
      CHECK(ValidUtf8(s));
      s.insert(at, "\xff");
      CHECK_FALSE(ValidUtf8(s));
      s[at] = '\xc3';  // a lone lead byte, or one followed by ASCII
      CHECK_FALSE(ValidUtf8(s));
      std::string ok = std::string(len, 'a');
      ok.insert(at, "\xe4\xb8\xad");  // 中
      CHECK(ValidUtf8(ok));
    }
  }
  CHECK(ValidUtf8(std::string("nul\0inside", 10)));
  CHECK_FALSE(ValidUtf8("\xc0\xaf"));          // overlong
  CHECK_FALSE(ValidUtf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(ValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK(ValidUtf8("\xf0\x9f\x98\x80"));        // U+1F600
}

TEST_CASE("names: the schema grammar, plus the reserved ones a payload may carry") {
  CHECK(ValidName("wage_case"));
  CHECK(ValidName(std::string(64, 'a')));
  CHECK_FALSE(ValidName(std::string(65, 'a')));
  CHECK_FALSE(ValidName(""));
  CHECK_FALSE(ValidName("1st"));
  CHECK_FALSE(ValidName("Item"));
  CHECK_FALSE(ValidName(std::string("item\0", 5)));
  CHECK_FALSE(ValidName("$policy"));
  CHECK(ValidCollectionName("$policy"));
  CHECK(ValidCollectionName("$keys"));
  CHECK_FALSE(ValidCollectionName("$deleted"));
  CHECK(ValidFieldName("$deleted"));
  CHECK_FALSE(ValidFieldName("$policy"));
}

}  // namespace
}  // namespace hearth
