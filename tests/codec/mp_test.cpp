// The shared msgpack grammar (src/codec/mp.hpp): smallest encodings out,
// every header read back with its kind, value and canonical flag, and the
// reader's position on each failure.
#include <doctest/doctest.h>

#include <string>

#include "codec/mp.hpp"

namespace hearth::codec::mp {
namespace {

Head ReadOne(const Bytes& b) {
  Reader r(b);
  Head h;
  REQUIRE(r.Next(&h) == Read::kOk);
  return h;
}

TEST_CASE("mp writer: the smallest encoding at each boundary") {
  auto uint = [](uint64_t v) { Bytes b; PutUint(b, v); return b; };
  CHECK(uint(0x7f) == Bytes{0x7f});
  CHECK(uint(0x80) == Bytes{0xcc, 0x80});
  CHECK(uint(0x100) == Bytes{0xcd, 0x01, 0x00});
  CHECK(uint(0x10000) == Bytes{0xce, 0, 1, 0, 0});
  CHECK(uint(0x100000000ull) == Bytes{0xcf, 0, 0, 0, 1, 0, 0, 0, 0});
  Bytes s;
  PutStr(s, std::string(31, 'a'));
  CHECK(s[0] == 0xbf);
  s.clear();
  PutStr(s, std::string(32, 'a'));
  CHECK(s[0] == 0xd9);
  CHECK(s.size() == 34);
  Bytes b;
  PutBin(b, Bytes(300, 1));
  CHECK(b[0] == 0xc5);
  CHECK(b.size() == BinHeaderSize(300) + 300);
  Bytes a;
  PutArray(a, 15);
  PutArray(a, 16);
  CHECK(a == Bytes{0x9f, 0xdc, 0x00, 0x10});
  Bytes nb;
  PutNil(nb);
  PutBool(nb, true);
  PutBool(nb, false);
  CHECK(nb == Bytes{0xc0, 0xc3, 0xc2});
}

TEST_CASE("mp reader: what the writer writes reads back canonical") {
  for (uint64_t v : {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{65535}, uint64_t{1} << 40}) {
    Bytes b;
    PutUint(b, v);
    const Head h = ReadOne(b);
    CHECK(h.kind == Kind::kUint);
    CHECK(h.value == v);
    CHECK(h.canonical);
  }
  for (size_t n : {size_t{0}, size_t{31}, size_t{32}, size_t{255}, size_t{256}, size_t{70000}}) {
    Bytes b;
    PutStr(b, std::string(n, 'x'));
    Reader r(b);
    Head h;
    REQUIRE(r.Next(Kind::kStr, &h) == Read::kOk);
    CHECK(h.value == n);
    CHECK(h.canonical);
    CHECK(r.Take(h.payload()));
    CHECK(r.AtEnd());
  }
}

TEST_CASE("mp reader: longer encodings than needed are flagged, not refused") {
  CHECK_FALSE(ReadOne({0xcc, 0x7f}).canonical);                    // uint8 of a fixint
  CHECK_FALSE(ReadOne({0xcd, 0x00, 0xff}).canonical);              // uint16 of a uint8
  CHECK_FALSE(ReadOne({0xd9, 0x1f}).canonical);                    // str8 of a fixstr
  CHECK_FALSE(ReadOne({0xc5, 0x00, 0xff}).canonical);              // bin16 of a bin8
  CHECK(ReadOne({0xc4, 0x00}).canonical);                          // bin8 of 0 bytes
  CHECK_FALSE(ReadOne({0xdc, 0x00, 0x0f}).canonical);              // array16 of a fixarray
  CHECK_FALSE(ReadOne({0xde, 0x00, 0x0f}).canonical);              // map16 of a fixmap
  CHECK_FALSE(ReadOne({0xd0, 0xe0}).canonical);                    // int8 of -32: a fixint
  CHECK(ReadOne({0xd0, 0xdf}).canonical);                          // int8 of -33
  CHECK_FALSE(ReadOne({0xd0, 0x05}).canonical);                    // int8 of a non-negative
  CHECK(ReadOne({0xd0, 0xdf}).value == static_cast<uint64_t>(int64_t{-33}));
  CHECK_FALSE(ReadOne({0xc7, 0x04, 0x01}).canonical);              // ext8 of a fixext 4
  CHECK(ReadOne({0xc7, 0x03, 0x01}).canonical);
  CHECK(ReadOne({0xd6, 0x01}).payload() == 5);                     // fixext 4: type + 4 bytes
  CHECK(ReadOne({0xe0}).kind == Kind::kInt);
  CHECK(ReadOne({0x85}).kind == Kind::kMap);
  CHECK(ReadOne({0x85}).value == 5);
  CHECK(ReadOne({0xc1}).kind == Kind::kReserved);
  CHECK(ReadOne({0xca, 0, 0, 0, 0}).kind == Kind::kFloat32);
}

TEST_CASE("mp reader: end, wrong kind and cut headers, and where it stops") {
  Head h;
  {
    Reader r({});
    CHECK(r.Next(&h) == Read::kEnd);
    CHECK(r.pos() == 0);
    CHECK(r.Peek() == -1);
  }
  {
    const Bytes b = {0xcd, 0x01};
    Reader r(b);
    CHECK(r.Next(Kind::kUint, &h) == Read::kShort);
    CHECK(r.pos() == 1);
  }
  {
    const Bytes b = {0xd9, 0x01};
    Reader r(b);
    CHECK(r.Next(Kind::kUint, &h) == Read::kWrongKind);  // the kind is checked before the length
    CHECK(h.tag == 0xd9);
    CHECK(r.pos() == 1);
  }
  {
    const Bytes b = {0xa3, 'a', 'b'};
    Reader r(b);
    REQUIRE(r.Next(Kind::kStr, &h) == Read::kOk);
    CHECK_FALSE(r.Take(h.payload()));  // 3 bytes declared, 2 left: nothing taken
    CHECK(r.pos() == 1);
    CHECK(r.remaining() == 2);
  }
}

}  // namespace
}  // namespace hearth::codec::mp
