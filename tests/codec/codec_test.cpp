// Codec tests: canonical encodings, round trips, and decoders that reject
// every malformed, truncated, oversized or non-canonical input cleanly.
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "codec/codec.hpp"
#include "crdt/crdt_testgen.hpp"
#include "support/support.hpp"

namespace hearth::codec {
namespace {
using ::hearth::testing::FromHex;

using crdt::Op;
using crdt::OpKind;
using crdt::RecordOps;
using crdt::RecordState;
using ::hearth::testing::ToHex;
using testgen::Rng;

// ------------------------------------------------------------ helpers

// A small msgpack writer for hand-made inputs (smallest forms unless raw()).
struct W {
  Bytes b;
  W& raw(std::initializer_list<int> bytes) {
    for (int x : bytes) b.push_back(static_cast<uint8_t>(x));
    return *this;
  }
  W& be(uint64_t v, int w) {
    for (int i = w - 1; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  W& arr(uint32_t n) {
    if (n < 16) return raw({0x90 | static_cast<int>(n)});
    if (n < 65536) return raw({0xdc}).be(n, 2);
    return raw({0xdd}).be(n, 4);
  }
  W& u(uint64_t v) {
    if (v < 128) return raw({static_cast<int>(v)});
    if (v < 256) return raw({0xcc}).be(v, 1);
    if (v < 65536) return raw({0xcd}).be(v, 2);
    if (v < (uint64_t{1} << 32)) return raw({0xce}).be(v, 4);
    return raw({0xcf}).be(v, 8);
  }
  W& str(std::string_view s) {
    if (s.size() < 32) raw({0xa0 | static_cast<int>(s.size())});
    else if (s.size() < 256) raw({0xd9}).be(s.size(), 1);
    else raw({0xda}).be(s.size(), 2);
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  W& bin(size_t n, uint8_t fill) {
    if (n < 256) raw({0xc4}).be(n, 1);
    else raw({0xc5}).be(n, 2);
    b.insert(b.end(), n, fill);
    return *this;
  }
  W& author(uint8_t fill) { return bin(32, fill); }
  W& nil() { return raw({0xc0}); }
  W& boolean(bool v) { return raw({v ? 0xc3 : 0xc2}); }
  W& cat(const Bytes& x) {
    b.insert(b.end(), x.begin(), x.end());
    return *this;
  }
};

AuthorId Author(uint8_t fill) {
  AuthorId a;
  a.bytes.fill(fill);
  return a;
}

RecordId ExampleId() {
  RecordId id;
  for (int i = 0; i < 16; ++i) id.bytes[i] = static_cast<uint8_t>(i);
  return id;
}


template <typename T>
Code CodeOf(const Result<T>& r) {
  return r.status().code();
}

Result<RecordState> DecodeStateBody(const Bytes& msgpack_body, const DecodeLimits& lim = {}) {
  Bytes b{kRecordStateV1};
  b.insert(b.end(), msgpack_body.begin(), msgpack_body.end());
  return DecodeRecordState(b, lim);
}

// Random payload: simulated ops with values over the whole domain.
std::vector<RecordOps> RandomPayload(Rng& rng) {
  std::vector<RecordOps> recs(rng() % 4);
  for (auto& r : recs) {
    const size_t clen = 1 + (rng() % 8 == 0 ? rng() % 64 : rng() % 12);  // names: 1..64 bytes
    r.collection.assign(clen, 'c');
    for (auto& c : r.collection) c = static_cast<char>('a' + rng() % 26);
    for (auto& b : r.id.bytes) b = static_cast<uint8_t>(rng());
    std::vector<testgen::FieldSpec> fields;
    static const OpKind kAll[] = {OpKind::kLwwSet,  OpKind::kMvSet,  OpKind::kSetAdd,   OpKind::kSetRemove,
                                  OpKind::kCounter, OpKind::kStatus, OpKind::kLogAppend};
    const size_t nf = 1 + rng() % 4;
    for (size_t i = 0; i < nf; ++i) {
      std::string name(1 + (rng() % 10 == 0 ? rng() % 64 : rng() % 8), 'f');
      name[0] = static_cast<char>('a' + i);
      fields.push_back({name, {kAll[rng() % 7], kAll[rng() % 7]}});
    }
    auto ops = testgen::GenerateOps(rng, fields, 2 + static_cast<int>(rng() % 3),
                                    static_cast<int>(rng() % 12), testgen::Chance(rng, 0.3));
    for (auto& ao : ops) {
      Op op = std::move(ao.op);
      const bool has_value = op.kind != OpKind::kCounter && op.kind != OpKind::kStatus;
      if (has_value && testgen::Chance(rng, 0.5)) op.value = testgen::AnyValue(rng);
      if (testgen::Chance(rng, 0.1)) op.hlc = rng();
      if (op.kind == OpKind::kCounter && testgen::Chance(rng, 0.1)) op.p = std::numeric_limits<int64_t>::max();
      if (op.kind == OpKind::kStatus && testgen::Chance(rng, 0.1)) op.rank = std::numeric_limits<uint32_t>::max();
      r.ops.push_back(std::move(op));
    }
  }
  return recs;
}

RecordState RandomState(Rng& rng) {
  RecordState st;
  st.collection = "c" + std::to_string(rng() % 100);
  for (auto& b : st.id.bytes) b = static_cast<uint8_t>(rng());
  for (const auto& r : RandomPayload(rng)) {
    AuthorId a = testgen::MakeAuthor(static_cast<uint8_t>(rng() % 4), rng);
    for (const auto& op : r.ops) st.Apply(op, testgen::Chance(rng, 0.5) ? a : Author(7));
  }
  return st;
}

// ------------------------------------------------------------ examples (docs/crdt.md)

std::vector<Value> ExampleValues() {
  RecordId ref = ExampleId();
  return {Value(), Value(true), Value(int64_t{5}), Value(int64_t{-33}), Value(int64_t{300}),
          Value(1.5), Value("hi"), Value(Bytes{1, 2}), Value(Timestamp{1700000000000}), Value(ref)};
}

std::vector<RecordOps> ExamplePayload() {
  const AuthorId a = Author(0xaa);
  RecordOps r;
  r.collection = "tasks";
  r.id = ExampleId();
  Op title;
  title.field = "title";
  title.kind = OpKind::kLwwSet;
  title.hlc = 0x10000;
  title.value = "hi";
  Op rm;
  rm.field = "tags";
  rm.kind = OpKind::kSetRemove;
  rm.hlc = 0x10001;
  rm.value = "x";
  rm.context.Raise(a, 0x10000);
  Op n;
  n.field = "n";
  n.kind = OpKind::kCounter;
  n.hlc = 0x10002;
  n.p = 3;
  n.n = 1;
  Op st;
  st.field = "state";
  st.kind = OpKind::kStatus;
  st.hlc = 0x10003;
  st.rank = 2;
  st.value = "done";
  r.ops = {title, rm, n, st};
  return {r};
}

RecordState ExampleState() {
  const AuthorId a = Author(0xaa);
  RecordState s;
  s.collection = "tasks";
  s.id = ExampleId();
  auto ops = ExamplePayload()[0].ops;
  ops[1].kind = OpKind::kSetAdd;  // add "x" to tags instead of removing it
  ops[1].context = {};
  for (const auto& op : ops) s.Apply(op, a);
  return s;
}

// The ```hex <name> blocks of docs/crdt.md, whitespace and #-comments removed.
std::map<std::string, std::string> DocHexBlocks() {
  std::ifstream in(std::string(HEARTH_SOURCE_DIR) + "/docs/crdt.md");
  REQUIRE_MESSAGE(in.good(), "docs/crdt.md not found");
  std::map<std::string, std::string> out;
  std::string line, name;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line.rfind("```hex ", 0) == 0) {
      name = line.substr(7);
      while (!name.empty() && isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
      inside = true;
      out[name];
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
    } else if (inside) {
      line = line.substr(0, line.find('#'));
      for (char c : line) {
        if (!isspace(static_cast<unsigned char>(c))) out[name] += static_cast<char>(tolower(c));
      }
    }
  }
  return out;
}

// ------------------------------------------------------------ tests

TEST_CASE("codec: docs/crdt.md hex examples match the encoder byte for byte") {
  auto blocks = DocHexBlocks();
  REQUIRE(blocks.count("value") == 1);
  REQUIRE(blocks.count("payload") == 1);
  REQUIRE(blocks.count("state") == 1);

  std::string values_hex;
  for (const auto& v : ExampleValues()) values_hex += ToHex(EncodeValue(v));
  CHECK(blocks["value"] == values_hex);
  CHECK(blocks["payload"] == ToHex(EncodePayload(ExamplePayload())));
  CHECK(blocks["state"] == ToHex(EncodeRecordState(ExampleState())));

  // And they decode back.
  auto p = DecodePayload(FromHex(blocks["payload"]));
  REQUIRE(p.ok());
  CHECK(p.value() == ExamplePayload());
  auto s = DecodeRecordState(FromHex(blocks["state"]));
  REQUIRE(s.ok());
  CHECK(s.value() == ExampleState());
}

TEST_CASE("codec: values use the smallest canonical form") {
  const std::pair<Value, const char*> cases[] = {
      {Value(), "c0"},
      {Value(false), "c2"},
      {Value(true), "c3"},
      {Value(int64_t{0}), "00"},
      {Value(int64_t{127}), "7f"},
      {Value(int64_t{128}), "cc80"},
      {Value(int64_t{255}), "ccff"},
      {Value(int64_t{256}), "cd0100"},
      {Value(int64_t{65535}), "cdffff"},
      {Value(int64_t{65536}), "ce00010000"},
      {Value(int64_t{4294967295}), "ceffffffff"},
      {Value(int64_t{4294967296}), "cf0000000100000000"},
      {Value(std::numeric_limits<int64_t>::max()), "cf7fffffffffffffff"},
      {Value(int64_t{-1}), "ff"},
      {Value(int64_t{-32}), "e0"},
      {Value(int64_t{-33}), "d0df"},
      {Value(int64_t{-128}), "d080"},
      {Value(int64_t{-129}), "d1ff7f"},
      {Value(int64_t{-32768}), "d18000"},
      {Value(int64_t{-32769}), "d2ffff7fff"},
      {Value(int64_t{-2147483648}), "d280000000"},
      {Value(int64_t{-2147483649}), "d3ffffffff7fffffff"},
      {Value(std::numeric_limits<int64_t>::min()), "d38000000000000000"},
      {Value(1.0), "cb3ff0000000000000"},  // integral doubles stay doubles
      {Value(0.0), "cb0000000000000000"},
      {Value(-0.0), "cb8000000000000000"},
      {Value(""), "a0"},
      {Value(std::string(31, 'a')), nullptr},
      {Value(Bytes{}), "c400"},
      {Value(Timestamp{-1}), "d701ffffffffffffffff"},
  };
  for (const auto& [v, hex] : cases) {
    CAPTURE(v.ToString());
    const Bytes enc = EncodeValue(v);
    if (hex != nullptr) CHECK(ToHex(enc) == hex);
    auto back = DecodeValue(enc);
    REQUIRE(back.ok());
    CHECK(back.value() == v);
  }
  CHECK(EncodeValue(Value(std::string(31, 'a')))[0] == 0xbf);
  CHECK(EncodeValue(Value(std::string(32, 'a')))[0] == 0xd9);
  CHECK(EncodeValue(Value(std::string(256, 'a')))[0] == 0xda);
  CHECK(EncodeValue(Value(std::string(65536, 'a')))[0] == 0xdb);
  CHECK(EncodeValue(Value(Bytes(256)))[0] == 0xc5);
  CHECK(EncodeValue(Value(Bytes(65536)))[0] == 0xc6);
}

TEST_CASE("codec: random values round trip") {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(10000);
  for (int i = 0; i < cases; ++i) {
    CAPTURE(base);
    CAPTURE(i);
    Rng rng(testgen::CaseSeed(base, 200, static_cast<uint64_t>(i)));
    const Value v = testgen::AnyValue(rng);
    const Bytes enc = EncodeValue(v);
    auto back = DecodeValue(enc);
    REQUIRE_MESSAGE(back.ok(), back.status().ToString());
    REQUIRE(back.value() == v);
    REQUIRE(EncodeValue(back.value()) == enc);
  }
}

TEST_CASE("codec: random payloads and states round trip byte for byte") {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(3000);
  for (int i = 0; i < cases; ++i) {
    CAPTURE(base);
    CAPTURE(i);
    Rng rng(testgen::CaseSeed(base, 201, static_cast<uint64_t>(i)));
    const auto payload = RandomPayload(rng);
    const Bytes enc = EncodePayload(payload);
    auto back = DecodePayload(enc);
    REQUIRE_MESSAGE(back.ok(), back.status().ToString());
    REQUIRE(back.value() == payload);
    REQUIRE(EncodePayload(back.value()) == enc);

    const RecordState st = RandomState(rng);
    const Bytes senc = EncodeRecordState(st);
    REQUIRE(senc[0] == kRecordStateV1);
    auto sback = DecodeRecordState(senc);
    REQUIRE_MESSAGE(sback.ok(), sback.status().ToString());
    REQUIRE(sback.value() == st);
    REQUIRE(EncodeRecordState(sback.value()) == senc);
  }
}

TEST_CASE("codec: the encoder writes canonical contexts for any version vector") {
  Op op;
  op.field = "f";
  op.kind = OpKind::kMvSet;
  op.hlc = 3;
  op.context.entries = {{Author(2), 5}, {Author(1), 0}, {Author(1), 4}, {Author(2), 7}};
  RecordOps r{"c", {}, {op}};
  auto back = DecodePayload(EncodePayload({r}));
  REQUIRE(back.ok());
  crdt::VersionVector want;
  want.Raise(Author(1), 4);
  want.Raise(Author(2), 7);
  CHECK(back.value()[0].ops[0].context == want);
}

// Every strict prefix is truncated msgpack, so it must fail as corruption.
template <typename F>
void CheckTruncations(const Bytes& enc, F decode) {
  for (size_t n = 0; n < enc.size(); ++n) {
    CAPTURE(n);
    auto r = decode(std::span<const uint8_t>(enc.data(), n));
    REQUIRE_FALSE(r.ok());
    REQUIRE(CodeOf(r) == Code::kCorruption);
  }
}

TEST_CASE("codec: every truncation fails cleanly") {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(300);
  for (int i = 0; i < cases; ++i) {
    CAPTURE(base);
    CAPTURE(i);
    Rng rng(testgen::CaseSeed(base, 202, static_cast<uint64_t>(i)));
    Bytes v = EncodeValue(testgen::AnyValue(rng));
    if (v.size() < 4096) CheckTruncations(v, [](auto s) { return DecodeValue(s); });
    Bytes p = EncodePayload(RandomPayload(rng));
    if (p.size() < 8192) CheckTruncations(p, [](auto s) { return DecodePayload(s); });
    Bytes st = EncodeRecordState(RandomState(rng));
    if (st.size() < 8192) CheckTruncations(st, [](auto s) { return DecodeRecordState(s); });
  }
  CheckTruncations(EncodePayload(ExamplePayload()), [](auto s) { return DecodePayload(s); });
  CheckTruncations(EncodeRecordState(ExampleState()), [](auto s) { return DecodeRecordState(s); });
}

// Random corruption never crashes; whatever still decodes is canonical, so
// it re-encodes to exactly the input.
TEST_CASE("codec: random byte flips never crash, and what decodes is canonical") {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(20000);
  int decoded = 0;
  for (int i = 0; i < cases; ++i) {
    CAPTURE(base);
    CAPTURE(i);
    Rng rng(testgen::CaseSeed(base, 203, static_cast<uint64_t>(i)));
    const int which = static_cast<int>(rng() % 3);
    Bytes b = which == 0   ? EncodeValue(testgen::AnyValue(rng))
              : which == 1 ? EncodePayload(RandomPayload(rng))
                           : EncodeRecordState(RandomState(rng));
    if (b.size() > 20000) continue;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      const size_t at = rng() % b.size();
      switch (rng() % 4) {
        case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: b[at] = static_cast<uint8_t>(rng()); break;
        case 2: b.insert(b.begin() + static_cast<ptrdiff_t>(at), static_cast<uint8_t>(rng())); break;
        default: b.erase(b.begin() + static_cast<ptrdiff_t>(at)); break;
      }
    }
    CAPTURE(ToHex(b));
    if (which == 0) {
      auto r = DecodeValue(b);
      if (r.ok()) {
        ++decoded;
        REQUIRE(EncodeValue(r.value()) == b);
      }
    } else if (which == 1) {
      auto r = DecodePayload(b);
      if (r.ok()) {
        ++decoded;
        REQUIRE(EncodePayloadAs(r.value(), PayloadVersionOf(b)) == b);
      } else {
        REQUIRE((CodeOf(r) == Code::kCorruption || CodeOf(r) == Code::kResourceExhausted));
      }
    } else {
      auto r = DecodeRecordState(b);
      if (r.ok()) {
        ++decoded;
        REQUIRE(EncodeRecordState(r.value()) == b);
      } else {
        REQUIRE((CodeOf(r) == Code::kCorruption || CodeOf(r) == Code::kResourceExhausted));
      }
    }
  }
  MESSAGE("mutated inputs that still decoded: ", decoded, " of ", cases);
}

TEST_CASE("codec: huge declared lengths are rejected without allocating them") {
  const Bytes bombs[] = {
      W().raw({0xdd}).be(0xffffffff, 4).b,                  // array32
      W().raw({0xdf}).be(0xffffffff, 4).b,                  // map32
      W().raw({0xdb}).be(0xffffffff, 4).raw({'a'}).b,       // str32
      W().raw({0xc6}).be(0xffffffff, 4).raw({0}).b,         // bin32
      W().raw({0xc9}).be(0xffffffff, 4).raw({1, 0}).b,      // ext32
      W().raw({0xdd}).be(1000, 4).nil().b,                  // more items than bytes
      W().arr(1).arr(3).str("c").bin(16, 0).raw({0xdd}).be(0x00fffff0, 4).b,
  };
  for (const auto& b : bombs) {
    CAPTURE(ToHex(b));
    auto v = DecodeValue(b);
    CHECK_FALSE(v.ok());
    auto p = DecodePayload(b);
    CHECK_FALSE(p.ok());
    CHECK((CodeOf(p) == Code::kCorruption || CodeOf(p) == Code::kResourceExhausted));
    CHECK_FALSE(DecodeStateBody(b).ok());
  }
  // Over the configured limits: resource exhausted.
  CHECK(CodeOf(DecodePayload(W().raw({0xdd}).be(uint64_t{1} << 21, 4).b)) == Code::kResourceExhausted);
  DecodeLimits small;
  small.max_items = 3;
  small.max_string = 8;
  small.max_bytes = 64;
  CHECK(CodeOf(DecodeValue(W().str("123456789").b, small)) == Code::kResourceExhausted);
  CHECK(DecodeValue(W().str("12345678").b, small).ok());
  CHECK(CodeOf(DecodeValue(W().bin(9, 0).b, small)) == Code::kResourceExhausted);
  CHECK(CodeOf(DecodePayload(W().arr(4).arr(0).arr(0).arr(0).arr(0).b, small)) == Code::kResourceExhausted);
  CHECK(CodeOf(DecodePayload(Bytes(65, 0x90), small)) == Code::kResourceExhausted);  // max_bytes
  CHECK(CodeOf(DecodeRecordState(Bytes(66, 0x01), small)) == Code::kResourceExhausted);
  // A whole nest of big arrays in a small input stays cheap.
  Bytes nest;
  for (int i = 0; i < 20000; ++i) {
    nest.push_back(0xdc);
    nest.push_back(0xff);
    nest.push_back(0xff);
  }
  CHECK_FALSE(DecodePayload(nest).ok());
}

TEST_CASE("codec: depth bombs are rejected; nesting up to the limit is fine") {
  Bytes bomb(100000, 0x91);
  bomb.push_back(0xc0);
  auto r = DecodePayload(bomb);
  CHECK_FALSE(r.ok());
  CHECK(CodeOf(r) == Code::kResourceExhausted);
  CHECK_FALSE(DecodeValue(bomb).ok());
  CHECK_FALSE(DecodeStateBody(bomb).ok());

  // The example payload nests 6 deep ([records [record [ops [op [context [pair).
  const Bytes p = EncodePayload(ExamplePayload());
  DecodeLimits lim;
  lim.max_depth = 6;
  CHECK(DecodePayload(p, lim).ok());
  lim.max_depth = 5;
  CHECK(CodeOf(DecodePayload(p, lim)) == Code::kResourceExhausted);
  // Empty arrays count as a level too.
  lim.max_depth = 2;
  CHECK(DecodePayload(W().arr(1).arr(0).b, lim).ok() == false);  // [[]] is not a valid record
  CHECK(CodeOf(DecodePayload(W().arr(1).arr(1).arr(0).b, lim)) == Code::kResourceExhausted);
}

TEST_CASE("codec: malformed payloads are corruption") {
  // A valid one-op payload, built by hand, parameterised by its op.
  auto payload = [](const Bytes& op, std::string_view coll = "c", size_t id_len = 16) {
    return W().arr(1).arr(3).str(coll).bin(id_len, 0).arr(1).cat(op).b;
  };
  auto ctx = [](std::initializer_list<std::pair<int, uint64_t>> es) {
    W w;
    w.arr(static_cast<uint32_t>(es.size()));
    for (auto [a, h] : es) w.arr(2).author(static_cast<uint8_t>(a)).u(h);
    return w.b;
  };
  // Sanity: the good forms decode.
  REQUIRE(DecodePayload(payload(W().arr(4).str("f").u(1).u(7).nil().b)).ok());
  REQUIRE(DecodePayload(payload(W().arr(5).str("f").u(2).u(7).nil().cat(ctx({{1, 3}, {2, 4}})).b)).ok());
  REQUIRE(DecodePayload(payload(W().arr(5).str("f").u(5).u(7).u(0x7fffffffffffffff).u(0).b)).ok());
  REQUIRE(DecodePayload(payload(W().arr(5).str("f").u(6).u(7).u(0xffffffff).str("s").b)).ok());
  REQUIRE(DecodePayload(payload(W().arr(4).str(std::string(64, 'f')).u(7).u(7).nil().b)).ok());
  REQUIRE(DecodePayload(payload(W().arr(4).str("f").u(1).u(7).nil().b, std::string(64, 'c'))).ok());
  REQUIRE(DecodePayload(payload(W().arr(4).str("$deleted").u(1).u(7).boolean(true).b)).ok());
  REQUIRE(DecodePayload(payload(W().arr(4).str("doc").u(1).u(7).nil().b, "$policy")).ok());
  REQUIRE(DecodePayload(W().arr(0).b).ok());

  const std::pair<const char*, Bytes> bad[] = {
      {"top not array", W().str("x").b},
      {"top is map", W().raw({0x80}).b},
      {"record of 2", W().arr(1).arr(2).str("c").bin(16, 0).b},
      {"record of 4", W().arr(1).arr(4).str("c").bin(16, 0).arr(0).nil().b},
      {"empty collection", payload(W().arr(4).str("f").u(1).u(7).nil().b, "")},
      {"collection 65", payload(W().arr(4).str("f").u(1).u(7).nil().b, std::string(65, 'c'))},
      {"collection with NUL", payload(W().arr(4).str("f").u(1).u(7).nil().b, std::string("item\0", 5))},
      {"collection capital", payload(W().arr(4).str("f").u(1).u(7).nil().b, "Item")},
      {"collection digit first", payload(W().arr(4).str("f").u(1).u(7).nil().b, "1item")},
      {"collection unknown reserved", payload(W().arr(4).str("f").u(1).u(7).nil().b, "$other")},
      {"field with NUL", payload(W().arr(4).str(std::string("f\0", 2)).u(1).u(7).nil().b)},
      {"field unknown reserved", payload(W().arr(4).str("$x").u(1).u(7).nil().b)},
      {"string not UTF-8", payload(W().arr(4).str("f").u(1).u(7).str("\xff").b)},
      {"string overlong", payload(W().arr(4).str("f").u(1).u(7).str("\xc0\xaf").b)},
      {"status name not UTF-8", payload(W().arr(5).str("f").u(6).u(7).u(1).str("\xed\xa0\x80").b)},
      {"collection not str", W().arr(1).arr(3).bin(1, 'c').bin(16, 0).arr(0).b},
      {"id 15 bytes", payload(W().arr(4).str("f").u(1).u(7).nil().b, "c", 15)},
      {"id 17 bytes", payload(W().arr(4).str("f").u(1).u(7).nil().b, "c", 17)},
      {"ops not array", W().arr(1).arr(3).str("c").bin(16, 0).nil().b},
      {"op not array", payload(W().nil().b)},
      {"op too short", payload(W().arr(2).str("f").u(1).b)},
      {"kind 0", payload(W().arr(4).str("f").u(0).u(7).nil().b)},
      {"kind 8", payload(W().arr(4).str("f").u(8).u(7).nil().b)},
      {"kind huge", payload(W().arr(4).str("f").u(uint64_t{1} << 40).u(7).nil().b)},
      {"kind negative", payload(W().arr(4).str("f").raw({0xff}).u(7).nil().b)},
      {"lww with 5", payload(W().arr(5).str("f").u(1).u(7).nil().nil().b)},
      {"lww with 3", payload(W().arr(3).str("f").u(1).u(7).b)},
      {"remove without context", payload(W().arr(4).str("f").u(4).u(7).nil().b)},
      {"mv with 6", payload(W().arr(6).str("f").u(2).u(7).nil().arr(0).nil().b)},
      {"empty field", payload(W().arr(4).str("").u(1).u(7).nil().b)},
      {"field 65", payload(W().arr(4).str(std::string(65, 'f')).u(1).u(7).nil().b)},
      {"field not str", payload(W().arr(4).u(1).u(1).u(7).nil().b)},
      {"hlc not uint", payload(W().arr(4).str("f").u(1).str("7").nil().b)},
      {"hlc negative", payload(W().arr(4).str("f").u(1).raw({0xff}).nil().b)},
      {"context unsorted", payload(W().arr(5).str("f").u(2).u(7).nil().cat(ctx({{2, 3}, {1, 4}})).b)},
      {"context duplicate", payload(W().arr(5).str("f").u(4).u(7).nil().cat(ctx({{1, 3}, {1, 4}})).b)},
      {"context zero hlc", payload(W().arr(5).str("f").u(2).u(7).nil().cat(ctx({{1, 0}})).b)},
      {"context author 31", payload(W().arr(5).str("f").u(2).u(7).nil().arr(1).arr(2).bin(31, 1).u(3).b)},
      {"context pair of 3", payload(W().arr(5).str("f").u(2).u(7).nil().arr(1).arr(3).author(1).u(3).u(3).b)},
      {"context not array", payload(W().arr(5).str("f").u(2).u(7).nil().nil().b)},
      {"counter p too big", payload(W().arr(5).str("f").u(5).u(7).u(0x8000000000000000).u(0).b)},
      {"counter n negative", payload(W().arr(5).str("f").u(5).u(7).u(1).raw({0xff}).b)},
      {"counter with 4", payload(W().arr(4).str("f").u(5).u(7).u(1).b)},
      {"status rank too big", payload(W().arr(5).str("f").u(6).u(7).u(0x100000000).str("s").b)},
      {"status name not str", payload(W().arr(5).str("f").u(6).u(7).u(1).nil().b)},
      {"value float32", payload(W().arr(4).str("f").u(1).u(7).raw({0xca, 0, 0, 0, 0}).b)},
      {"value ext 3", payload(W().arr(4).str("f").u(1).u(7).raw({0xd4, 3, 0}).b)},
      {"value timestamp 4 bytes", payload(W().arr(4).str("f").u(1).u(7).raw({0xd6, 1, 0, 0, 0, 0}).b)},
      {"value ref 8 bytes", payload(W().arr(4).str("f").u(1).u(7).raw({0xd7, 2, 0, 0, 0, 0, 0, 0, 0, 0}).b)},
      {"value ext -1", payload(W().arr(4).str("f").u(1).u(7).raw({0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}).b)},
      {"value array", payload(W().arr(4).str("f").u(1).u(7).arr(0).b)},
      {"value map", payload(W().arr(4).str("f").u(1).u(7).raw({0x80}).b)},
      {"value uint64 > int64", payload(W().arr(4).str("f").u(1).u(7).u(0x8000000000000000).b)},
      {"reserved c1", payload(W().arr(4).str("f").u(1).u(7).raw({0xc1}).b)},
      {"non-minimal uint8", payload(W().arr(4).str("f").u(1).raw({0xcc, 7}).nil().b)},
      {"non-minimal uint16", payload(W().arr(4).str("f").u(1).raw({0xcd, 0, 200}).nil().b)},
      {"non-minimal uint32", payload(W().arr(4).str("f").u(1).raw({0xce, 0, 0, 1, 0}).nil().b)},
      {"non-minimal uint64", payload(W().arr(4).str("f").u(1).raw({0xcf, 0, 0, 0, 0, 0, 1, 0, 0}).nil().b)},
      {"int8 positive", payload(W().arr(4).str("f").u(1).raw({0xd0, 7}).nil().b)},
      {"non-minimal int8", payload(W().arr(4).str("f").u(1).u(7).raw({0xd0, 0xff}).b)},
      {"non-minimal int16", payload(W().arr(4).str("f").u(1).u(7).raw({0xd1, 0xff, 0xf0}).b)},
      {"non-minimal str8", payload(W().arr(4).raw({0xd9, 1, 'f'}).u(1).u(7).nil().b)},
      {"non-minimal str16", payload(W().arr(4).raw({0xda, 0, 1, 'f'}).u(1).u(7).nil().b)},
      {"non-minimal bin16", payload(W().arr(4).str("f").u(1).u(7).raw({0xc5, 0, 1, 9}).b)},
      {"non-minimal array16", payload(W().raw({0xdc, 0, 4}).str("f").u(1).u(7).nil().b)},
      {"ext8 for fixext", payload(W().arr(4).str("f").u(1).u(7).raw({0xc7, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0}).b)},
      {"trailing byte", W().arr(0).nil().b},
      {"two objects", W().arr(0).arr(0).b},
      {"empty input", Bytes{}},
  };
  for (const auto& [what, b] : bad) {
    CAPTURE(std::string(what));
    auto r = DecodePayload(b);
    CHECK_FALSE(r.ok());
    CHECK(CodeOf(r) == Code::kCorruption);
  }
  CHECK(CodeOf(DecodeValue(W().arr(0).b)) == Code::kCorruption);
  CHECK(CodeOf(DecodeValue(W().nil().nil().b)) == Code::kCorruption);
  CHECK(CodeOf(DecodeValue(Bytes{})) == Code::kCorruption);
}

TEST_CASE("codec: malformed or non-canonical record states are corruption") {
  auto state = [](std::initializer_list<Bytes> fields) {
    W w;
    w.arr(3).str("c").bin(16, 0).arr(static_cast<uint32_t>(fields.size()));
    for (const auto& f : fields) w.cat(f);
    return w.b;
  };
  auto ctx = [](std::initializer_list<std::pair<int, uint64_t>> es) {
    W w;
    w.arr(static_cast<uint32_t>(es.size()));
    for (auto [a, h] : es) w.arr(2).author(static_cast<uint8_t>(a)).u(h);
    return w.b;
  };
  auto lww = [](std::string_view name) { return W().arr(5).str(name).u(1).u(3).author(1).str("v").b; };
  auto dv = [](uint64_t h, int a, std::string_view v) { return W().arr(3).u(h).author(static_cast<uint8_t>(a)).str(v).b; };
  auto mv = [&](std::initializer_list<Bytes> entries, const Bytes& seen) {
    W w;
    w.arr(4).str("m").u(2).arr(static_cast<uint32_t>(entries.size()));
    for (const auto& e : entries) w.cat(e);
    return w.cat(seen).b;
  };
  auto tag = [](uint64_t h, int a) { return W().arr(2).u(h).author(static_cast<uint8_t>(a)).b; };
  auto elem = [](std::string_view v, std::initializer_list<Bytes> tags, const Bytes& removed) {
    W w;
    w.arr(3).str(v).arr(static_cast<uint32_t>(tags.size()));
    for (const auto& t : tags) w.cat(t);
    return w.cat(removed).b;
  };
  auto set = [](std::initializer_list<Bytes> elems) {
    W w;
    w.arr(3).str("s").u(3).arr(static_cast<uint32_t>(elems.size()));
    for (const auto& e : elems) w.cat(e);
    return w.b;
  };
  auto ctr = [](std::initializer_list<std::tuple<int, uint64_t, uint64_t>> es) {
    W w;
    w.arr(3).str("n").u(5).arr(static_cast<uint32_t>(es.size()));
    for (auto [a, p, n] : es) w.arr(3).author(static_cast<uint8_t>(a)).u(p).u(n);
    return w.b;
  };
  auto status = [](bool set, uint64_t rank, std::string_view name) {
    return W().arr(5).str("st").u(6).boolean(set).u(rank).str(name).b;
  };
  auto log = [](std::initializer_list<Bytes> items) {
    W w;
    w.arr(3).str("l").u(7).arr(static_cast<uint32_t>(items.size()));
    for (const auto& e : items) w.cat(e);
    return w.b;
  };

  // Sanity: good states decode and re-encode identically.
  const Bytes good[] = {
      state({}),
      state({lww("a"), lww("b")}),
      state({mv({dv(4, 1, "x"), dv(4, 2, "a"), dv(5, 1, "a"), dv(5, 1, "b")}, ctx({{1, 3}, {2, 1}}))}),
      state({set({elem("a", {tag(1, 1), tag(1, 2), tag(2, 1)}, ctx({})), elem("b", {}, ctx({{1, 9}})),
                  elem("c", {tag(5, 1)}, ctx({{1, 4}}))})}),
      state({ctr({{1, 3, 0}, {2, 0, 1}, {3, 0x7fffffffffffffff, 0x7fffffffffffffff}})}),
      state({status(false, 0, "")}),
      state({status(true, 0, "")}),
      state({log({dv(1, 1, "a"), dv(1, 1, "b"), dv(1, 2, "a"), dv(2, 1, "a")})}),
  };
  for (const auto& g : good) {
    CAPTURE(ToHex(g));
    auto r = DecodeStateBody(g);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    Bytes full{kRecordStateV1};
    full.insert(full.end(), g.begin(), g.end());
    CHECK(EncodeRecordState(r.value()) == full);
  }

  const std::pair<const char*, Bytes> bad[] = {
      {"not array", W().nil().b},
      {"state of 2", W().arr(2).str("c").bin(16, 0).b},
      {"id 15", W().arr(3).str("c").bin(15, 0).arr(0).b},
      {"fields unsorted", state({lww("b"), lww("a")})},
      {"fields duplicate", state({lww("a"), lww("a")})},
      {"field kind 4", state({W().arr(3).str("x").u(4).arr(0).b})},
      {"field kind 0", state({W().arr(3).str("x").u(0).arr(0).b})},
      {"field kind 8", state({W().arr(3).str("x").u(8).arr(0).b})},
      {"field of 1", state({W().arr(1).str("x").b})},
      {"lww of 4", state({W().arr(4).str("a").u(1).u(3).author(1).b})},
      {"lww author 16", state({W().arr(5).str("a").u(1).u(3).bin(16, 1).nil().b})},
      {"mv entries unsorted", state({mv({dv(5, 1, "a"), dv(4, 1, "a")}, ctx({}))})},
      {"mv same dot unsorted values", state({mv({dv(5, 1, "b"), dv(5, 1, "a")}, ctx({}))})},
      {"mv entries duplicate", state({mv({dv(5, 1, "a"), dv(5, 1, "a")}, ctx({}))})},
      {"mv entry covered", state({mv({dv(5, 1, "a")}, ctx({{1, 5}}))})},
      {"mv entry hlc 0", state({mv({dv(0, 1, "a")}, ctx({}))})},
      {"mv seen unsorted", state({mv({}, ctx({{2, 1}, {1, 1}}))})},
      {"mv of 3", state({W().arr(3).str("m").u(2).arr(0).b})},
      {"set elements unsorted", state({set({elem("b", {tag(1, 1)}, ctx({})), elem("a", {tag(1, 1)}, ctx({}))})})},
      {"set elements duplicate", state({set({elem("a", {tag(1, 1)}, ctx({})), elem("a", {tag(2, 1)}, ctx({}))})})},
      {"set tags unsorted", state({set({elem("a", {tag(2, 1), tag(1, 1)}, ctx({}))})})},
      {"set tags duplicate", state({set({elem("a", {tag(1, 1), tag(1, 1)}, ctx({}))})})},
      {"set tag covered", state({set({elem("a", {tag(3, 1)}, ctx({{1, 3}}))})})},
      {"set element empty", state({set({elem("a", {}, ctx({}))})})},
      {"set removed zero", state({set({elem("a", {}, ctx({{1, 0}}))})})},
      {"set element of 2", state({W().arr(3).str("s").u(3).arr(1).arr(2).str("a").arr(0).b})},
      {"counter unsorted", state({ctr({{2, 1, 0}, {1, 1, 0}})})},
      {"counter duplicate", state({ctr({{1, 1, 0}, {1, 2, 0}})})},
      {"counter zero entry", state({ctr({{1, 0, 0}})})},
      {"counter p too big", state({ctr({{1, 0x8000000000000000, 0}})})},
      {"status unset with rank", state({status(false, 1, "")})},
      {"status unset with name", state({status(false, 0, "x")})},
      {"status rank too big", state({status(true, 0x100000000, "x")})},
      {"status flag not bool", state({W().arr(5).str("st").u(6).u(1).u(0).str("").b})},
      {"log unsorted", state({log({dv(2, 1, "a"), dv(1, 1, "a")})})},
      {"log duplicate", state({log({dv(1, 1, "a"), dv(1, 1, "a")})})},
      {"trailing", W().cat(state({})).nil().b},
  };
  for (const auto& [what, b] : bad) {
    CAPTURE(std::string(what));
    auto r = DecodeStateBody(b);
    CHECK_FALSE(r.ok());
    CHECK(CodeOf(r) == Code::kCorruption);
  }
  CHECK(CodeOf(DecodeRecordState(Bytes{})) == Code::kCorruption);
  CHECK(CodeOf(DecodeRecordState(Bytes{kRecordStateV1})) == Code::kCorruption);
  Bytes v2 = EncodeRecordState(ExampleState());
  v2[0] = 0x02;
  CHECK(CodeOf(DecodeRecordState(v2)) == Code::kCorruption);
}

}  // namespace
}  // namespace hearth::codec
