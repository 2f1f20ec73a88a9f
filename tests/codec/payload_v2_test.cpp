// Payload version 2 (docs/delta-format.md, "Payload version 2"): the
// published vector byte for byte, the same ops as version 1 for random
// payloads, one encoding per payload, and hostile inputs refused without
// allocating.
#include <doctest/doctest.h>

#include <fstream>
#include <limits>
#include <string>

#include "codec/codec.hpp"
#include "crdt/crdt_testgen.hpp"
#include "support/support.hpp"

namespace hearth::codec {
namespace {

using ::hearth::testing::FromHex;
using ::hearth::testing::ToHex;
using crdt::Op;
using crdt::OpKind;
using crdt::RecordOps;
using testgen::Rng;

template <typename T>
Code CodeOf(const Result<T>& r) {
  return r.status().code();
}

// The hex block tagged `name` in docs/delta-format.md (```hex NAME fences;
// text after '#' is a comment).
std::string DocHex(const std::string& name) {
  std::ifstream in(std::string(HEARTH_SOURCE_DIR) + "/docs/delta-format.md");
  REQUIRE_MESSAGE(in.good(), "docs/delta-format.md not found");
  std::string line, out;
  bool inside = false, found = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```hex " + name) {
      inside = found = true;
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
    } else if (inside) {
      line = line.substr(0, line.find('#'));
      for (char c : line) {
        if (!isspace(static_cast<unsigned char>(c))) out += static_cast<char>(tolower(c));
      }
    }
  }
  const std::string missing = "no ```hex " + name + " block in docs/delta-format.md";
  REQUIRE_MESSAGE(found, missing);
  return out;
}

RecordId IdFrom(std::initializer_list<int> head, uint8_t tail) {
  RecordId id;
  id.bytes.fill(tail);
  size_t i = 0;
  for (int b : head) id.bytes[i++] = static_cast<uint8_t>(b);
  return id;
}

AuthorId Author(uint8_t fill) {
  AuthorId a;
  a.bytes.fill(fill);
  return a;
}

// The example of docs/delta-format.md, "Payload version 2 — test vector".
std::vector<RecordOps> VectorPayload() {
  const uint64_t t = uint64_t{1700000000000} << 16;  // HLC(T0, 0)
  std::vector<RecordOps> out;
  RecordOps a{"case", IdFrom({0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}, 0x11), {}};
  Op name{"name", OpKind::kLwwSet, t, Value("Li Wei")};
  Op age{"age", OpKind::kLwwSet, t + 1, Value(int64_t{-3})};
  Op visits{"visits", OpKind::kCounter, t + 2};
  visits.p = 3;
  visits.n = 1;
  a.ops = {name, age, visits};
  RecordOps b{"case", IdFrom({0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}, 0x22), {}};
  Op stage{"stage", OpKind::kStatus, t + 3, Value("filed")};
  stage.rank = 3;
  Op guardian{"guardian", OpKind::kMvSet, t + 4, Value("Wang Fang")};
  guardian.context.Raise(Author(0xaa), t - 5);
  Op name2{"name", OpKind::kLwwSet, t + 2, Value()};  // an hlc below the previous op's
  b.ops = {stage, guardian, name2};
  RecordOps c{"item", IdFrom({0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}, 0x22), {}};
  Op due{"due", OpKind::kLwwSet, t + 5, Value(Timestamp{1700000000000})};
  c.ops = {due};
  out = {a, b, c};
  return out;
}

// ------------------------------------------------------------ random payloads

// Payloads shaped like real deltas (few collections, ids sharing a time
// prefix, HLCs close together) mixed with anything the types allow.
std::vector<RecordOps> RandomPayload(Rng& rng) {
  std::vector<RecordOps> recs(rng() % 6);
  static const char* kColls[] = {"case", "item", "$policy", "x"};
  static const OpKind kAll[] = {OpKind::kLwwSet,  OpKind::kMvSet,  OpKind::kSetAdd,   OpKind::kSetRemove,
                                OpKind::kCounter, OpKind::kStatus, OpKind::kLogAppend};
  RecordId prev;
  for (auto& b : prev.bytes) b = static_cast<uint8_t>(rng());
  for (auto& r : recs) {
    if (testgen::Chance(rng, 0.2)) {
      r.collection.assign(1 + rng() % 64, 'c');
      for (auto& c : r.collection) c = static_cast<char>('a' + rng() % 26);
    } else {
      r.collection = kColls[rng() % 4];
    }
    r.id = prev;  // sometimes the same record twice
    const size_t keep = rng() % 18;
    for (size_t i = std::min<size_t>(keep, 16); i < 16; ++i) r.id.bytes[i] = static_cast<uint8_t>(rng());
    prev = r.id;
    std::vector<testgen::FieldSpec> fields;
    const size_t nf = 1 + rng() % 4;
    for (size_t i = 0; i < nf; ++i) {
      std::string name(1 + (rng() % 10 == 0 ? rng() % 64 : rng() % 8), 'f');
      name[0] = static_cast<char>('a' + i);
      if (testgen::Chance(rng, 0.05)) name = "$deleted";
      if (testgen::Chance(rng, 0.05)) name = "case";  // a field named like a collection
      fields.push_back({name, {kAll[rng() % 7], kAll[rng() % 7]}});
    }
    auto ops = testgen::GenerateOps(rng, fields, 2 + static_cast<int>(rng() % 3),
                                    static_cast<int>(rng() % 12), testgen::Chance(rng, 0.3));
    for (auto& ao : ops) {
      Op op = std::move(ao.op);
      const bool has_value = op.kind != OpKind::kCounter && op.kind != OpKind::kStatus;
      if (has_value && testgen::Chance(rng, 0.5)) op.value = testgen::AnyValue(rng);
      if (testgen::Chance(rng, 0.1)) op.hlc = rng();
      if (testgen::Chance(rng, 0.02)) op.hlc = 0;
      if (op.kind == OpKind::kCounter && testgen::Chance(rng, 0.1)) op.p = std::numeric_limits<int64_t>::max();
      if (op.kind == OpKind::kStatus && testgen::Chance(rng, 0.1)) op.rank = std::numeric_limits<uint32_t>::max();
      r.ops.push_back(std::move(op));
    }
  }
  return recs;
}

// ------------------------------------------------------------ tests

TEST_CASE("payload v2: docs/delta-format.md vector matches byte for byte and decodes") {
  const std::string hex = DocHex("payload-v2");
  const Bytes enc = EncodePayloadV2(VectorPayload());
  CHECK(ToHex(enc) == hex);
  auto back = DecodePayload(FromHex(hex));
  REQUIRE_MESSAGE(back.ok(), back.status().ToString());
  CHECK(back.value() == VectorPayload());
  // The same ops in version 1, for the size comparison in the doc.
  CHECK(ToHex(EncodePayload(VectorPayload())) == DocHex("payload-v2-as-v1"));
}

TEST_CASE("payload v2: random payloads decode to what version 1 decodes to, canonically") {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(3000);
  size_t v1_bytes = 0, v2_bytes = 0;
  for (int i = 0; i < cases; ++i) {
    CAPTURE(base);
    CAPTURE(i);
    Rng rng(testgen::CaseSeed(base, 211, static_cast<uint64_t>(i)));
    const auto payload = RandomPayload(rng);
    const Bytes e1 = EncodePayload(payload);
    const Bytes e2 = EncodePayloadV2(payload);
    REQUIRE(e2[0] == kPayloadV2);
    REQUIRE(PayloadVersionOf(e2) == kPayloadV2);
    REQUIRE(PayloadVersionOf(e1) == kPayloadV1);
    REQUIRE(EncodePayloadAs(payload, kPayloadV1) == e1);
    REQUIRE(EncodePayloadAs(payload, kPayloadV2) == e2);
    v1_bytes += e1.size();
    v2_bytes += e2.size();
    auto d1 = DecodePayload(e1);
    auto d2 = DecodePayload(e2);
    REQUIRE_MESSAGE(d1.ok(), d1.status().ToString());
    REQUIRE_MESSAGE(d2.ok(), d2.status().ToString());
    REQUIRE(d2.value() == d1.value());
    REQUIRE(EncodePayloadV2(d2.value()) == e2);
    REQUIRE(EncodePayload(d2.value()) == e1);
  }
  MESSAGE("random payloads: v1 " << v1_bytes << " bytes, v2 " << v2_bytes);
  CHECK(v2_bytes < v1_bytes);
}

TEST_CASE("payload v2: normalises ops the way version 1 does") {
  Op op{"f", OpKind::kMvSet, 3, Value("v")};
  op.context.entries = {{Author(2), 5}, {Author(1), 0}, {Author(1), 4}, {Author(2), 7}};
  Op c{"g", OpKind::kCounter, 4, Value("ignored")};
  c.p = -5;
  c.n = 2;
  Op s{"h", OpKind::kStatus, 5, Value(int64_t{1})};  // a non-string status name
  std::vector<RecordOps> p{{"c", {}, {op, c, s}}};
  auto d1 = DecodePayload(EncodePayload(p));
  auto d2 = DecodePayload(EncodePayloadV2(p));
  REQUIRE(d1.ok());
  REQUIRE(d2.ok());
  CHECK(d2.value() == d1.value());
}

TEST_CASE("payload v2: every truncation and random damage fails cleanly or decodes canonically") {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(2000);
  int decoded = 0;
  for (int i = 0; i < cases; ++i) {
    CAPTURE(base);
    CAPTURE(i);
    Rng rng(testgen::CaseSeed(base, 212, static_cast<uint64_t>(i)));
    Bytes b = EncodePayloadV2(RandomPayload(rng));
    if (i < 200 && b.size() < 4096) {
      for (size_t n = 0; n < b.size(); ++n) {
        auto r = DecodePayload(std::span<const uint8_t>(b.data(), n));
        REQUIRE_FALSE(r.ok());
        REQUIRE(CodeOf(r) == Code::kCorruption);
      }
    }
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
    auto r = DecodePayload(b);
    if (r.ok()) {
      ++decoded;
      REQUIRE(EncodePayloadAs(r.value(), PayloadVersionOf(b)) == b);
    } else {
      REQUIRE((CodeOf(r) == Code::kCorruption || CodeOf(r) == Code::kResourceExhausted));
    }
  }
  MESSAGE(decoded << " damaged payloads still decoded (canonically)");
}

TEST_CASE("payload v2: malformed or non-canonical inputs are corruption") {
  // 02 | 1 name "c" | 1 record: coll 0, prefix 0, id 16 x 00, 1 op:
  // field/kind (0<<3|1) -- "c" as a field too -- hlc zigzag(7)=14, nil.
  auto rec = [](std::initializer_list<int> tail) {
    Bytes b{0x02, 0x01, 0x01, 'c', 0x01, 0x00, 0x00};
    b.insert(b.end(), 16, 0x00);
    for (int x : tail) b.push_back(static_cast<uint8_t>(x));
    return b;
  };
  REQUIRE(DecodePayload(rec({0x01, 0x01, 0x0e, 0x00})).ok());
  REQUIRE(DecodePayload(Bytes{0x02, 0x00, 0x00}).ok());  // no records
  const std::pair<const char*, Bytes> bad[] = {
      {"just the marker", Bytes{0x02}},
      {"trailing byte", rec({0x01, 0x01, 0x0e, 0x00, 0x00})},
      {"non-minimal varint", rec({0x01, 0x81, 0x00, 0x0e, 0x00})},
      {"varint above 2^64", rec({0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00})},
      {"kind 0", rec({0x01, 0x00, 0x0e, 0x00})},
      {"field index out of range", rec({0x01, 0x09, 0x0e, 0x00})},
      {"unknown value tag", rec({0x01, 0x01, 0x0e, 0x0a})},
      {"int above int64", rec({0x01, 0x01, 0x0e, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})},
      {"invalid utf-8", rec({0x01, 0x01, 0x0e, 0x06, 0x01, 0xff})},
      {"count above input", rec({0xff, 0x7f})},
      {"unused name", Bytes{0x02, 0x01, 0x01, 'c', 0x00}},
      {"duplicate name", Bytes{0x02, 0x02, 0x01, 'c', 0x01, 'c', 0x00}},
      {"invalid name", Bytes{0x02, 0x01, 0x01, 'C', 0x00}},
      {"empty name", Bytes{0x02, 0x01, 0x00, 0x00}},
      {"first id with a prefix", Bytes{0x02, 0x01, 0x01, 'c', 0x01, 0x00, 0x10, 0x00}},
      {"prefix above 16", Bytes{0x02, 0x01, 0x01, 'c', 0x01, 0x00, 0x11, 0x00}},
      {"$deleted as a collection", [] {
         Bytes b{0x02, 0x01, 0x08};
         for (char ch : std::string("$deleted")) b.push_back(static_cast<uint8_t>(ch));
         b.insert(b.end(), {0x01, 0x00, 0x00});
         b.insert(b.end(), 16, 0x00);
         b.push_back(0x00);
         return b;
       }()},
      {"names used out of order", [] {
         Bytes b{0x02, 0x02, 0x01, 'c', 0x01, 'f', 0x01, 0x01, 0x00};  // collection 1 before 0
         b.insert(b.end(), 16, 0x00);
         b.insert(b.end(), {0x01, 0x01, 0x0e, 0x00});
         return b;
       }()},
      {"shorter shared prefix than possible", [] {
         Bytes b{0x02, 0x01, 0x01, 'c', 0x02, 0x00, 0x00};
         b.insert(b.end(), 16, 0x00);
         b.push_back(0x00);
         b.insert(b.end(), {0x00, 0x0f});  // shares 15, but byte 15 is 00 too
         b.push_back(0x00);
         b.push_back(0x00);
         return b;
       }()},
  };
  for (const auto& [what, b] : bad) {
    CAPTURE(std::string(what));
    auto r = DecodePayload(b);
    CHECK_FALSE(r.ok());
    CHECK(CodeOf(r) == Code::kCorruption);
  }
}

TEST_CASE("payload v2: declared sizes beyond the limits are refused before allocating") {
  DecodeLimits small;
  small.max_items = 4;
  small.max_string = 8;
  // 5 names > max_items.
  CHECK(CodeOf(DecodePayload(Bytes{0x02, 0x05, 0x01, 'a'}, small)) == Code::kResourceExhausted);
  // A record count of 2^63 with a few bytes of input.
  CHECK(CodeOf(DecodePayload(Bytes{0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})) ==
        Code::kResourceExhausted);
  // A record count within max_items but above what the input could hold.
  CHECK(CodeOf(DecodePayload(Bytes{0x02, 0x00, 0xff, 0x7f})) == Code::kCorruption);
  // A 9-byte string with max_string 8.
  Bytes b{0x02, 0x01, 0x01, 'c', 0x01, 0x00, 0x00};
  b.insert(b.end(), 16, 0x00);
  b.insert(b.end(), {0x01, 0x01, 0x0e, 0x06, 0x09});
  b.insert(b.end(), 9, 'x');
  CHECK(DecodePayload(b).ok());
  CHECK(CodeOf(DecodePayload(b, small)) == Code::kResourceExhausted);
  // max_bytes.
  DecodeLimits tiny;
  tiny.max_bytes = 8;
  CHECK(CodeOf(DecodePayload(b, tiny)) == Code::kResourceExhausted);
}

}  // namespace
}  // namespace hearth::codec
