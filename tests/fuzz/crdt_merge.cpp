// Fuzz target: the CRDT merge (src/crdt, in memory).
//
// The input describes two small lists of field operations, a and b, on one
// record (few fields, few authors, small HLCs so that dots, values and
// contexts collide). The ops are passed through the payload codec first, so
// that only ops a delta can carry are used. Oracles (docs/crdt.md):
//   * order independence: a then b == b then a == each list reversed;
//   * idempotence: applying a and b again changes nothing;
//   * the two states encode to the same bytes, and the codec accepts every
//     state the merge produces (decode(encode(s)) == s).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "byte_reader.hpp"
#include "codec/codec.hpp"
#include "crdt/record_state.hpp"
#include "fuzz_support.hpp"

using namespace hearth;
using hearth::fuzz::ByteReader;

namespace {

struct AuthoredOp {
  crdt::Op op;
  AuthorId author;
};

AuthorId Author(uint8_t i) {
  AuthorId a;
  a.bytes.fill(static_cast<uint8_t>(0x10 * (i % 3 + 1)));
  return a;
}

Value MakeValue(ByteReader& r) {
  switch (r.U8() % 9) {
    case 0: return Value();
    case 1: return Value(r.Bool());
    case 2: return Value(static_cast<int64_t>(static_cast<int8_t>(r.U8())));
    case 3: return Value(static_cast<int64_t>(r.U64()));
    case 4: {
      uint64_t bits = r.U64();
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return Value(d);  // any bit pattern: NaNs, -0.0, infinities
    }
    case 5: return Value(std::string(1, static_cast<char>('a' + r.U8() % 3)));
    case 6: {
      Bytes b = r.Bytes(4);
      return Value(std::move(b));
    }
    case 7: return Value(Timestamp{static_cast<int64_t>(static_cast<int8_t>(r.U8()))});
    default: {
      RecordId id;
      id.bytes.fill(r.U8() % 3);
      return Value(id);
    }
  }
}

crdt::VersionVector MakeContext(ByteReader& r) {
  crdt::VersionVector vv;
  const int n = r.U8() % 4;
  for (int i = 0; i < n; ++i) vv.Raise(Author(r.U8()), 1 + r.U8() % 6);
  return vv;
}

AuthoredOp MakeOp(ByteReader& r) {
  AuthoredOp a;
  crdt::Op& op = a.op;
  const uint8_t f = r.U8();
  static const char* const kFields[] = {"f", "g", crdt::kDeletedField};
  op.field = kFields[f % 3];
  op.kind = static_cast<crdt::OpKind>(1 + r.U8() % 7);
  op.hlc = r.U8() % 7;  // 0 is allowed on the wire
  a.author = Author(r.U8());
  switch (op.kind) {
    case crdt::OpKind::kLwwSet:
    case crdt::OpKind::kSetAdd:
    case crdt::OpKind::kLogAppend: op.value = MakeValue(r); break;
    case crdt::OpKind::kMvSet:
    case crdt::OpKind::kSetRemove:
      op.value = MakeValue(r);
      op.context = MakeContext(r);
      break;
    case crdt::OpKind::kCounter:
      op.p = r.Bool() ? static_cast<int64_t>(r.U64() >> 1) : r.U8() % 8;
      op.n = r.Bool() ? static_cast<int64_t>(r.U64() >> 1) : r.U8() % 8;
      break;
    case crdt::OpKind::kStatus:
      op.rank = r.U8() % 4;
      op.value = Value(std::string(1, static_cast<char>('a' + r.U8() % 3)));
      break;
  }
  return a;
}

// Round-trips each op through the payload codec (as the one op of a record
// of a delta); ops the decoder refuses are dropped.
std::vector<AuthoredOp> Wire(const std::vector<AuthoredOp>& in, const RecordId& id) {
  std::vector<AuthoredOp> out;
  for (const AuthoredOp& a : in) {
    std::vector<crdt::RecordOps> recs(1);
    recs[0].collection = "c";
    recs[0].id = id;
    recs[0].ops.push_back(a.op);
    auto d = codec::DecodePayload(codec::EncodePayload(recs));
    if (!d.ok() || d->size() != 1 || (*d)[0].ops.size() != 1) continue;
    out.push_back({(*d)[0].ops[0], a.author});
  }
  return out;
}

void ApplyAll(crdt::RecordState& s, const std::vector<AuthoredOp>& ops) {
  for (const AuthoredOp& a : ops) s.Apply(a.op, a.author);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader r(data, size);
  const size_t na = r.U8() % 9;
  const size_t nb = r.U8() % 9;
  RecordId id;
  id.bytes.fill(7);
  std::vector<AuthoredOp> a, b;
  for (size_t i = 0; i < na && !r.empty(); ++i) a.push_back(MakeOp(r));
  for (size_t i = 0; i < nb && !r.empty(); ++i) b.push_back(MakeOp(r));
  a = Wire(a, id);
  b = Wire(b, id);

  auto fresh = [&] {
    crdt::RecordState s;
    s.collection = "c";
    s.id = id;
    return s;
  };
  crdt::RecordState ab = fresh(), ba = fresh(), rev = fresh(), twice = fresh();
  ApplyAll(ab, a);
  ApplyAll(ab, b);
  ApplyAll(ba, b);
  ApplyAll(ba, a);
  FUZZ_CHECK(ab == ba);

  std::vector<AuthoredOp> ra(a.rbegin(), a.rend()), rb(b.rbegin(), b.rend());
  ApplyAll(rev, rb);
  ApplyAll(rev, ra);
  FUZZ_CHECK(ab == rev);

  ApplyAll(twice, a);
  ApplyAll(twice, b);
  ApplyAll(twice, a);
  ApplyAll(twice, b);
  FUZZ_CHECK(ab == twice);

  // Applying to a copy of a merged state, op by op, is also a no-op.
  crdt::RecordState again = ab;
  ApplyAll(again, b);
  FUZZ_CHECK(again == ab);

  const Bytes e1 = codec::EncodeRecordState(ab);
  const Bytes e2 = codec::EncodeRecordState(ba);
  FUZZ_CHECK(e1 == e2);
  auto back = codec::DecodeRecordState(e1);
  FUZZ_CHECK_MSG(back.ok(), back.status().ToString());
  FUZZ_CHECK(*back == ab);
  FUZZ_CHECK(codec::EncodeRecordState(*back) == e1);
  return 0;
}
