// Hex and big-endian helpers (src/base/bytes.hpp).
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "base/bytes.hpp"

namespace hearth::base {
namespace {

TEST_CASE("ToHex: lowercase, two digits a byte; FromHex reads it back") {
  const std::vector<uint8_t> b = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  CHECK(ToHex(b) == "00017f80abff");
  CHECK(ToHex(b.data(), 2) == "0001");
  CHECK(ToHex(std::span<const uint8_t>()) == "");
  auto back = FromHex("00017f80abff");
  REQUIRE(back.has_value());
  CHECK(*back == b);
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  CHECK(FromHex(ToHex(all)) == all);
}

TEST_CASE("FromHex: either case; odd lengths and non-digits fail") {
  CHECK(FromHex("ABcd") == std::vector<uint8_t>{0xab, 0xcd});
  CHECK(FromHex("")->empty());
  CHECK_FALSE(FromHex("abc").has_value());
  CHECK_FALSE(FromHex("zz").has_value());
  CHECK_FALSE(FromHex("0g").has_value());
  CHECK_FALSE(FromHex(" 0").has_value());
  CHECK(HexDigitValue('9') == 9);
  CHECK(HexDigitValue('F') == 15);
  CHECK(HexDigitValue('/') == -1);
  CHECK(HexDigitValue(':') == -1);
  CHECK(HexDigitValue('G') == -1);
}

TEST_CASE("FromHexInto: exactly 2 * size digits") {
  std::array<uint8_t, 2> out{};
  CHECK(FromHexInto("beef", out));
  CHECK(out == std::array<uint8_t, 2>{0xbe, 0xef});
  CHECK_FALSE(FromHexInto("bee", out));
  CHECK_FALSE(FromHexInto("beefee", out));
  CHECK_FALSE(FromHexInto("bexf", out));
}

TEST_CASE("big-endian stores and loads, most significant byte first") {
  uint8_t p[8] = {};
  StoreBE64(p, 0x0102030405060708ull);
  CHECK(std::vector<uint8_t>(p, p + 8) == std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(LoadBE64(p) == 0x0102030405060708ull);
  CHECK(LoadBE32(p) == 0x01020304u);
  CHECK(LoadBE16(p) == 0x0102u);
  CHECK(LoadBE(p, 3) == 0x010203u);
  CHECK(LoadBE(p, 0) == 0u);
  StoreBE32(p, 0xdeadbeefu);
  CHECK(LoadBE32(p) == 0xdeadbeefu);
  StoreBE16(p, 0xcafe);
  CHECK(p[0] == 0xca);
  CHECK(p[1] == 0xfe);
  StoreBE(p, 0x123456, 3);  // the low three bytes
  CHECK(LoadBE(p, 3) == 0x123456u);
  static_assert(LoadBE64(std::array<uint8_t, 8>{0, 0, 0, 0, 0, 0, 1, 0}.data()) == 256);
}

TEST_CASE("AppendBE: to std::string and to byte vectors alike") {
  std::string s;
  AppendBE32(s, 0x41424344u);
  CHECK(s == "ABCD");
  AppendBE16(s, 0x4546);
  CHECK(s == "ABCDEF");
  std::vector<uint8_t> v;
  AppendBE64(v, 0xff00000000000001ull);
  CHECK(v == std::vector<uint8_t>{0xff, 0, 0, 0, 0, 0, 0, 1});
  AppendBE(v, 0x0a0b0c, 2);  // the low two bytes
  CHECK(v.size() == 10);
  CHECK(v[8] == 0x0b);
  CHECK(v[9] == 0x0c);
  CHECK(LoadBE64(v.data()) == 0xff00000000000001ull);
}

}  // namespace
}  // namespace hearth::base
