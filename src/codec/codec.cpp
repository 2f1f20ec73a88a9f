// Canonical msgpack encoding of values, delta payloads and record states.
// Layouts: docs/crdt.md.
//
// Decoding runs in three steps:
//   1. PreScan walks the raw bytes once without allocating: every header is
//      well formed, uses the smallest encoding (so that decode -> encode is
//      the identity), every declared length and count fits in the input and
//      in the limits, nesting stays within max_depth, and exactly one
//      top-level object fills the input. Only then is anything allocated, so
//      memory stays linear in the input size (msgpack-c allocates an array's
//      slots as soon as it reads the count).
//   2. msgpack::unpack builds the object tree in a zone (strings, bins and
//      exts reference the input, no copies), with an unpack_limit built from
//      the same limits as a second line of defence.
//   3. The typed decoders check every type, count, range and the canonical
//      (sorted, unique) order of every container.
#include "codec/codec.hpp"

#include "base/bytes.hpp"
#include "base/text.hpp"
#include "codec/mp.hpp"

#include <msgpack.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <string_view>

namespace hearth::codec {

namespace {

using crdt::Dot;
using crdt::FieldState;
using crdt::Hlc;
using crdt::Op;
using crdt::OpKind;
using crdt::RecordOps;
using crdt::RecordState;
using crdt::VersionVector;

constexpr int8_t kExtTimestamp = 1;
constexpr int8_t kExtRef = 2;

// ---------------------------------------------------------------- encoding

// msgpack-c stream writing straight into the output vector. The vector is
// kept at its capacity (len_ is the real size) so that each small write is a
// bounds check and a memcpy; Finish() trims it.
struct VecStream {
  Bytes* out;
  size_t len = 0;
  void write(const char* p, size_t n) {
    if (n == 0) return;  // p may be null (empty bin)
    if (out->size() - len < n) out->resize(std::max(out->size() * 2, len + n));
    std::memcpy(out->data() + len, p, n);
    len += n;
  }
};
using Packer = msgpack::packer<VecStream>;

class Encoder {
 public:
  // Appends to `out`, expecting about `expect` more bytes.
  Encoder(Bytes& out, size_t expect) : stream_{&out, out.size()}, pk_(stream_) {
    out.resize(out.size() + expect);
  }
  // Trims the output to what was written.
  void Finish() { stream_.out->resize(stream_.len); }

  void Array(size_t n) { pk_.pack_array(static_cast<uint32_t>(n)); }
  void Uint(uint64_t v) { pk_.pack_uint64(v); }
  void Bool(bool b) { b ? pk_.pack_true() : pk_.pack_false(); }
  void Str(std::string_view s) {
    pk_.pack_str(static_cast<uint32_t>(s.size()));
    pk_.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
  }
  void Bin(const uint8_t* p, size_t n) {
    pk_.pack_bin(static_cast<uint32_t>(n));
    pk_.pack_bin_body(reinterpret_cast<const char*>(p), static_cast<uint32_t>(n));
  }
  void Author(const AuthorId& a) { Bin(a.bytes.data(), a.bytes.size()); }
  void Id(const RecordId& id) { Bin(id.bytes.data(), id.bytes.size()); }

  void Value(const hearth::Value& v) {
    switch (v.type()) {
      case ValueType::kNull: pk_.pack_nil(); return;
      case ValueType::kBool: Bool(v.as_bool()); return;
      case ValueType::kInt: pk_.pack_int64(v.as_int()); return;  // uint family when >= 0
      case ValueType::kDouble: {
        // Not pack_double: msgpack-c writes integral doubles as ints.
        uint64_t bits;
        const double d = v.as_double();
        std::memcpy(&bits, &d, sizeof bits);
        uint8_t buf[9];
        buf[0] = 0xcb;
        for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
        stream_.write(reinterpret_cast<const char*>(buf), 9);
        return;
      }
      case ValueType::kString: Str(v.as_string()); return;
      case ValueType::kBytes: Bin(v.as_bytes().data(), v.as_bytes().size()); return;
      case ValueType::kTimestamp: {
        const uint64_t ms = static_cast<uint64_t>(v.as_timestamp().ms);
        char buf[8];
        for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(ms >> (56 - 8 * i));
        pk_.pack_ext(8, kExtTimestamp);
        pk_.pack_ext_body(buf, 8);
        return;
      }
      case ValueType::kRef: {
        pk_.pack_ext(16, kExtRef);
        pk_.pack_ext_body(reinterpret_cast<const char*>(v.as_ref().bytes.data()), 16);
        return;
      }
    }
    pk_.pack_nil();  // unreachable
  }

  // [[author, hlc]...] sorted by author, no zero entries.
  void Context(const VersionVector& vv) {
    if (!vv.IsCanonical()) {
      VersionVector norm;
      norm.MergeFrom(vv);
      Context(norm);
      return;
    }
    Array(vv.entries.size());
    for (const auto& [a, h] : vv.entries) {
      Array(2);
      Author(a);
      Uint(h);
    }
  }

  // [hlc, author]
  void DotArr(const Dot& d) {
    Array(2);
    Uint(d.hlc);
    Author(d.author);
  }

  void OpArr(const Op& op) {
    size_t extra = 0;
    switch (op.kind) {
      case OpKind::kLwwSet:
      case OpKind::kSetAdd:
      case OpKind::kLogAppend: extra = 1; break;
      case OpKind::kMvSet:
      case OpKind::kSetRemove:
      case OpKind::kCounter:
      case OpKind::kStatus: extra = 2; break;
    }
    Array(3 + extra);
    Str(op.field);
    Uint(static_cast<uint8_t>(op.kind));
    Uint(op.hlc);
    switch (op.kind) {
      case OpKind::kLwwSet:
      case OpKind::kSetAdd:
      case OpKind::kLogAppend: Value(op.value); break;
      case OpKind::kMvSet:
      case OpKind::kSetRemove:
        Value(op.value);
        Context(op.context);
        break;
      case OpKind::kCounter:
        Uint(static_cast<uint64_t>(std::max<int64_t>(op.p, 0)));
        Uint(static_cast<uint64_t>(std::max<int64_t>(op.n, 0)));
        break;
      case OpKind::kStatus:
        Uint(op.rank);
        Str(op.value.type() == ValueType::kString ? std::string_view(op.value.as_string())
                                                  : std::string_view());
        break;
    }
  }

  void Field(const std::string& name, const FieldState& f) {
    std::visit([&](const auto& s) { FieldBody(name, s); }, f.storage());
  }

 private:
  void Head(const std::string& name, FieldKind k, size_t items) {
    Array(items);
    Str(name);
    Uint(static_cast<uint8_t>(k));
  }
  void FieldBody(const std::string& name, const crdt::LwwState& s) {
    Head(name, FieldKind::kLww, 5);
    Uint(s.dot.hlc);
    Author(s.dot.author);
    Value(s.value);
  }
  void FieldBody(const std::string& name, const crdt::MvState& s) {
    Head(name, FieldKind::kMv, 4);
    Array(s.entries.size());
    for (const auto& e : s.entries) {
      Array(3);
      Uint(e.dot.hlc);
      Author(e.dot.author);
      Value(e.value);
    }
    Context(s.seen);
  }
  void FieldBody(const std::string& name, const crdt::SetState& s) {
    Head(name, FieldKind::kSet, 3);
    Array(s.elements.size());
    for (const auto& e : s.elements) {
      Array(3);
      Value(e.value);
      Array(e.tags.size());
      for (const auto& t : e.tags) DotArr(t);
      Context(e.removed);
    }
  }
  void FieldBody(const std::string& name, const crdt::CounterState& s) {
    Head(name, FieldKind::kCounter, 3);
    Array(s.entries.size());
    for (const auto& e : s.entries) {
      Array(3);
      Author(e.author);
      Uint(static_cast<uint64_t>(std::max<int64_t>(e.p, 0)));
      Uint(static_cast<uint64_t>(std::max<int64_t>(e.n, 0)));
    }
  }
  void FieldBody(const std::string& name, const crdt::StatusState& s) {
    Head(name, FieldKind::kStatus, 5);
    Bool(s.set);
    Uint(s.rank);
    Str(s.name);
  }
  void FieldBody(const std::string& name, const crdt::LogState& s) {
    Head(name, FieldKind::kLog, 3);
    Array(s.items.size());
    for (const auto& e : s.items) {
      Array(3);
      Uint(e.dot.hlc);
      Author(e.dot.author);
      Value(e.value);
    }
  }

  VecStream stream_;
  Packer pk_;
};

// ---------------------------------------------------------------- pre-scan

class PreScanner {
 public:
  PreScanner(std::span<const uint8_t> b, const DecodeLimits& lim) : r_(b), lim_(lim) {}

  Status Run() {
    // stack_[i] = items still expected in the i-th open container.
    uint64_t stack[64];
    const uint32_t max_depth = std::min<uint32_t>(lim_.max_depth, 64);
    size_t depth = 0;
    bool top_done = false;
    while (true) {
      while (depth > 0 && stack[depth - 1] == 0) --depth;
      if (depth == 0 && top_done) break;
      if (depth > 0) {
        --stack[depth - 1];
      } else {
        top_done = true;
      }
      mp::Head h;
      if (r_.Next(&h) != mp::Read::kOk) return Truncated();  // kEnd or kShort
      if (h.kind == mp::Kind::kReserved) return Status::Corruption("reserved msgpack byte 0xc1");
      if (!h.canonical) return Status::Corruption("non-canonical msgpack encoding");
      if (h.kind == mp::Kind::kStr || h.kind == mp::Kind::kBin || h.kind == mp::Kind::kExt) {
        // An ext's limit counts its type byte.
        const uint64_t max = uint64_t{lim_.max_string} + (h.kind == mp::Kind::kExt ? 1 : 0);
        if (h.payload() > max) return Status::ResourceExhausted("msgpack string/bin/ext longer than allowed");
        if (!r_.Take(h.payload())) return Truncated();
      }
      if (h.kind == mp::Kind::kArray || h.kind == mp::Kind::kMap) {
        const uint64_t count = h.kind == mp::Kind::kMap ? 2 * h.value : h.value;
        if (h.value > lim_.max_items) {
          return Status::ResourceExhausted("msgpack container has more items than allowed");
        }
        // Every item takes at least one byte.
        if (count > r_.remaining()) return Status::Corruption("msgpack container count exceeds input");
        if (count > 0) {
          if (depth >= max_depth) return Status::ResourceExhausted("msgpack nesting too deep");
          stack[depth++] = count;
        } else if (depth >= max_depth) {
          return Status::ResourceExhausted("msgpack nesting too deep");
        }
      }
    }
    if (!r_.AtEnd()) return Status::Corruption("trailing bytes after msgpack object");
    return Status::Ok();
  }

 private:
  static Status Truncated() { return Status::Corruption("truncated msgpack"); }

  mp::Reader r_;
  const DecodeLimits& lim_;
};

// ---------------------------------------------------------------- decoding

// Thrown inside the typed decoders, caught at the API boundary.
struct Bad {
  const char* what;
};
[[noreturn]] void Fail(const char* what) { throw Bad{what}; }

using Obj = msgpack::object;

std::span<const Obj> Arr(const Obj& o, const char* what) {
  if (o.type != msgpack::type::ARRAY) Fail(what);
  return {o.via.array.ptr, o.via.array.size};
}
std::span<const Obj> Arr(const Obj& o, size_t n, const char* what) {
  auto a = Arr(o, what);
  if (a.size() != n) Fail(what);
  return a;
}
uint64_t Uint(const Obj& o, const char* what) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) Fail(what);
  return o.via.u64;
}
std::string_view Str(const Obj& o, const char* what) {
  if (o.type != msgpack::type::STR) Fail(what);
  return {o.via.str.ptr, o.via.str.size};
}
bool Boolean(const Obj& o, const char* what) {
  if (o.type != msgpack::type::BOOLEAN) Fail(what);
  return o.via.boolean;
}
template <size_t N>
void FixedBin(const Obj& o, std::array<uint8_t, N>& out, const char* what) {
  if (o.type != msgpack::type::BIN || o.via.bin.size != N) Fail(what);
  std::memcpy(out.data(), o.via.bin.ptr, N);
}
AuthorId Author(const Obj& o) {
  AuthorId a;
  FixedBin(o, a.bytes, "author must be bin 32");
  return a;
}

Value DecodeValueObj(const Obj& o) {
  switch (o.type) {
    case msgpack::type::NIL: return Value();
    case msgpack::type::BOOLEAN: return Value(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER:
      if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        Fail("integer value out of int64 range");
      }
      return Value(static_cast<int64_t>(o.via.u64));
    case msgpack::type::NEGATIVE_INTEGER: return Value(o.via.i64);
    case msgpack::type::FLOAT64: return Value(o.via.f64);
    case msgpack::type::STR: {
      std::string_view sv(o.via.str.ptr, o.via.str.size);
      if (!ValidUtf8(sv)) Fail("string value is not valid UTF-8");
      return Value(std::string(sv));
    }
    case msgpack::type::BIN: {
      const auto* b = reinterpret_cast<const uint8_t*>(o.via.bin.ptr);
      return Value(Bytes(b, b + o.via.bin.size));
    }
    case msgpack::type::EXT: {
      const auto* d = reinterpret_cast<const uint8_t*>(o.via.ext.data());
      if (o.via.ext.type() == kExtTimestamp && o.via.ext.size == 8) {
        return Value(Timestamp{static_cast<int64_t>(base::LoadBE64(d))});
      }
      if (o.via.ext.type() == kExtRef && o.via.ext.size == 16) {
        RecordId id;
        std::memcpy(id.bytes.data(), d, 16);
        return Value(id);
      }
      Fail("unknown ext value type");
    }
    default: Fail("value of unsupported msgpack type");
  }
}

// [[author, hlc]...]: strictly sorted by author, hlc > 0.
VersionVector DecodeContext(const Obj& o) {
  auto a = Arr(o, "context must be an array");
  VersionVector vv;
  vv.entries.reserve(a.size());
  for (const Obj& e : a) {
    auto pair = Arr(e, 2, "context entry must be [author, hlc]");
    AuthorId author = Author(pair[0]);
    const Hlc h = Uint(pair[1], "context hlc must be uint");
    if (h == 0) Fail("context hlc must be > 0");
    if (!vv.entries.empty() && !(vv.entries.back().first < author)) {
      Fail("context not sorted by author or has duplicates");
    }
    vv.entries.emplace_back(author, h);
  }
  return vv;
}

Dot DecodeDot(const Obj& hlc, const Obj& author) {
  return Dot{Uint(hlc, "hlc must be uint"), Author(author)};
}

template <typename T>
bool DotValueLess(const T& a, const T& b) {
  if (auto c = a.dot <=> b.dot; c != 0) return c < 0;
  return a.value < b.value;
}

// Items [hlc, author, value] strictly ascending by (dot, value).
template <typename T>
std::vector<T> DecodeDotValues(const Obj& o) {
  auto a = Arr(o, "entries must be an array");
  std::vector<T> out;
  out.reserve(a.size());
  for (const Obj& e : a) {
    auto t = Arr(e, 3, "entry must be [hlc, author, value]");
    T item{DecodeDot(t[0], t[1]), DecodeValueObj(t[2])};
    if (!out.empty() && !DotValueLess(out.back(), item)) Fail("entries not sorted or duplicated");
    out.push_back(std::move(item));
  }
  return out;
}

Op DecodeOp(const Obj& o) {
  auto a = Arr(o, "op must be an array");
  if (a.size() < 3) Fail("op too short");
  Op op;
  std::string_view field = Str(a[0], "op field must be str");
  // Exactly the schema's name grammar: a name that differs from a known
  // one by a byte (a NUL, a capital) must not reach the key space.
  if (!ValidFieldName(field)) Fail("op field name is not a valid field name ([a-z0-9_], 1..64, or $deleted)");
  op.field.assign(field);
  const uint64_t kind = Uint(a[1], "op kind must be uint");
  if (kind < 1 || kind > 7) Fail("unknown op kind");
  op.kind = static_cast<OpKind>(kind);
  op.hlc = Uint(a[2], "op hlc must be uint");
  auto want = [&](size_t n) {
    if (a.size() != n) Fail("op has the wrong number of items for its kind");
  };
  switch (op.kind) {
    case OpKind::kLwwSet:
    case OpKind::kSetAdd:
    case OpKind::kLogAppend:
      want(4);
      op.value = DecodeValueObj(a[3]);
      break;
    case OpKind::kMvSet:
    case OpKind::kSetRemove:
      want(5);
      op.value = DecodeValueObj(a[3]);
      op.context = DecodeContext(a[4]);
      break;
    case OpKind::kCounter: {
      want(5);
      const uint64_t p = Uint(a[3], "counter p must be uint");
      const uint64_t n = Uint(a[4], "counter n must be uint");
      constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      if (p > kMax || n > kMax) Fail("counter total out of range");
      op.p = static_cast<int64_t>(p);
      op.n = static_cast<int64_t>(n);
      break;
    }
    case OpKind::kStatus: {
      want(5);
      const uint64_t rank = Uint(a[3], "status rank must be uint");
      if (rank > std::numeric_limits<uint32_t>::max()) Fail("status rank out of range");
      op.rank = static_cast<uint32_t>(rank);
      op.value = Value(std::string(Str(a[4], "status name must be str")));
      if (!ValidUtf8(op.value.as_string())) Fail("status name is not valid UTF-8");
      break;
    }
  }
  return op;
}

std::vector<RecordOps> DecodePayloadObj(const Obj& root) {
  auto recs = Arr(root, "payload must be an array");
  std::vector<RecordOps> out;
  out.reserve(recs.size());
  for (const Obj& r : recs) {
    auto t = Arr(r, 3, "record must be [collection, id, ops]");
    RecordOps ro;
    std::string_view coll = Str(t[0], "collection must be str");
    if (!ValidCollectionName(coll)) {
      Fail("collection is not a valid collection name ([a-z0-9_], 1..64, or $policy/$keys/$schema)");
    }
    ro.collection.assign(coll);
    FixedBin(t[1], ro.id.bytes, "record id must be bin 16");
    auto ops = Arr(t[2], "ops must be an array");
    ro.ops.reserve(ops.size());
    for (const Obj& o : ops) ro.ops.push_back(DecodeOp(o));
    out.push_back(std::move(ro));
  }
  return out;
}

FieldState DecodeField(std::span<const Obj> a, FieldKind kind) {
  FieldState f(kind);
  auto want = [&](size_t n) {
    if (a.size() != n) Fail("field state has the wrong number of items for its kind");
  };
  switch (kind) {
    case FieldKind::kLww: {
      want(5);
      auto& s = f.as<crdt::LwwState>();
      s.dot = DecodeDot(a[2], a[3]);
      s.value = DecodeValueObj(a[4]);
      break;
    }
    case FieldKind::kMv: {
      want(4);
      auto& s = f.as<crdt::MvState>();
      s.entries = DecodeDotValues<crdt::MvEntry>(a[2]);
      s.seen = DecodeContext(a[3]);
      for (const auto& e : s.entries) {
        if (s.seen.Covers(e.dot)) Fail("mv entry covered by seen");
      }
      break;
    }
    case FieldKind::kSet: {
      want(3);
      auto& s = f.as<crdt::SetState>();
      auto els = Arr(a[2], "set elements must be an array");
      s.elements.reserve(els.size());
      for (const Obj& eo : els) {
        auto t = Arr(eo, 3, "set element must be [value, tags, removed]");
        crdt::SetElement e;
        e.value = DecodeValueObj(t[0]);
        if (!s.elements.empty() && !(s.elements.back().value < e.value)) {
          Fail("set elements not sorted or duplicated");
        }
        auto tags = Arr(t[1], "set tags must be an array");
        e.tags.reserve(tags.size());
        for (const Obj& to : tags) {
          auto d = Arr(to, 2, "set tag must be [hlc, author]");
          Dot dot = DecodeDot(d[0], d[1]);
          if (!e.tags.empty() && !(e.tags.back() < dot)) Fail("set tags not sorted or duplicated");
          e.tags.push_back(dot);
        }
        e.removed = DecodeContext(t[2]);
        if (e.tags.empty() && e.removed.entries.empty()) Fail("empty set element");
        for (const Dot& d : e.tags) {
          if (e.removed.Covers(d)) Fail("set tag covered by removed");
        }
        s.elements.push_back(std::move(e));
      }
      break;
    }
    case FieldKind::kCounter: {
      want(3);
      auto& s = f.as<crdt::CounterState>();
      auto es = Arr(a[2], "counter entries must be an array");
      s.entries.reserve(es.size());
      constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      for (const Obj& eo : es) {
        auto t = Arr(eo, 3, "counter entry must be [author, p, n]");
        crdt::CounterEntry e;
        e.author = Author(t[0]);
        const uint64_t p = Uint(t[1], "counter p must be uint");
        const uint64_t n = Uint(t[2], "counter n must be uint");
        if (p > kMax || n > kMax) Fail("counter total out of range");
        if (p == 0 && n == 0) Fail("zero counter entry");
        e.p = static_cast<int64_t>(p);
        e.n = static_cast<int64_t>(n);
        if (!s.entries.empty() && !(s.entries.back().author < e.author)) {
          Fail("counter entries not sorted or duplicated");
        }
        s.entries.push_back(e);
      }
      break;
    }
    case FieldKind::kStatus: {
      want(5);
      auto& s = f.as<crdt::StatusState>();
      s.set = Boolean(a[2], "status set flag must be bool");
      const uint64_t rank = Uint(a[3], "status rank must be uint");
      if (rank > std::numeric_limits<uint32_t>::max()) Fail("status rank out of range");
      s.rank = static_cast<uint32_t>(rank);
      s.name.assign(Str(a[4], "status name must be str"));
      if (!ValidUtf8(s.name)) Fail("status name is not valid UTF-8");
      if (!s.set && (s.rank != 0 || !s.name.empty())) Fail("unset status with a value");
      break;
    }
    case FieldKind::kLog: {
      want(3);
      f.as<crdt::LogState>().items = DecodeDotValues<crdt::LogItem>(a[2]);
      break;
    }
  }
  return f;
}

RecordState DecodeStateObj(const Obj& root) {
  auto t = Arr(root, 3, "record state must be [collection, id, fields]");
  RecordState st;
  st.collection.assign(Str(t[0], "collection must be str"));
  if (!ValidCollectionName(st.collection)) Fail("record state collection is not a valid collection name");
  FixedBin(t[1], st.id.bytes, "record id must be bin 16");
  auto fields = Arr(t[2], "fields must be an array");
  const std::string* prev = nullptr;
  for (const Obj& fo : fields) {
    auto a = Arr(fo, "field must be an array");
    if (a.size() < 2) Fail("field too short");
    std::string_view name = Str(a[0], "field name must be str");
    if (!ValidFieldName(name)) Fail("record state field name is not a valid field name");
    if (prev != nullptr && !(std::string_view(*prev) < name)) Fail("fields not sorted or duplicated");
    const uint64_t k = Uint(a[1], "field kind must be uint");
    FieldKind kind;
    switch (k) {
      case 1: case 2: case 3: case 5: case 6: case 7: kind = static_cast<FieldKind>(k); break;
      default: Fail("unknown field kind");
    }
    auto it = st.fields.emplace_hint(st.fields.end(), std::string(name), DecodeField(a, kind));
    prev = &it->first;
  }
  return st;
}

bool ReferenceAll(msgpack::type::object_type, std::size_t, void*) { return true; }

template <typename T, typename F>
Result<T> Decode(std::span<const uint8_t> bytes, const DecodeLimits& limits, F&& f) {
  if (bytes.size() > limits.max_bytes) return Status::ResourceExhausted("input larger than max_bytes");
  if (Status s = PreScanner(bytes, limits).Run(); !s.ok()) return s;
  try {
    // One zone per thread, reused: clear() keeps its first chunk, so a
    // typical decode allocates nothing for the object tree.
    thread_local msgpack::zone zone;
    struct ClearOnExit {
      msgpack::zone& z;
      ~ClearOnExit() { z.clear(); }
    } clear_on_exit{zone};
    std::size_t off = 0;
    bool referenced = false;
    const msgpack::unpack_limit lim(limits.max_items, limits.max_items, limits.max_string,
                                    limits.max_string, std::size_t{limits.max_string} + 1, limits.max_depth);
    Obj root = msgpack::unpack(zone, reinterpret_cast<const char*>(bytes.data()), bytes.size(), off,
                               referenced, ReferenceAll, nullptr, lim);
    if (off != bytes.size()) return Status::Corruption("trailing bytes after msgpack object");
    return f(root);
  } catch (const Bad& e) {
    return Status::Corruption(e.what);
  } catch (const msgpack::size_overflow& e) {
    return Status::ResourceExhausted(std::string("msgpack: ") + e.what());
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory while decoding");
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("msgpack: ") + e.what());
  }
}

}  // namespace

Bytes EncodeValue(const Value& v) {
  Bytes out;
  Encoder e(out, 16);
  e.Value(v);
  e.Finish();
  return out;
}

Result<Value> DecodeValue(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  return Decode<Value>(bytes, limits, [](const Obj& o) { return DecodeValueObj(o); });
}

Bytes EncodePayload(const std::vector<crdt::RecordOps>& records) {
  Bytes out;
  size_t guess = 8;
  for (const auto& r : records) guess += 24 + r.collection.size() + 40 * r.ops.size();
  Encoder e(out, guess);
  e.Array(records.size());
  for (const auto& r : records) {
    e.Array(3);
    e.Str(r.collection);
    e.Id(r.id);
    e.Array(r.ops.size());
    for (const auto& op : r.ops) e.OpArr(op);
  }
  e.Finish();
  return out;
}

Result<std::vector<crdt::RecordOps>> DecodePayload(std::span<const uint8_t> bytes,
                                                    const DecodeLimits& limits) {
  if (PayloadVersionOf(bytes) == kPayloadV2) return DecodePayloadV2(bytes, limits);
  return Decode<std::vector<RecordOps>>(bytes, limits, DecodePayloadObj);
}

Bytes EncodeRecordState(const crdt::RecordState& state) {
  Bytes out;
  out.push_back(kRecordStateV1);
  Encoder e(out, 64 + 96 * state.fields.size());
  e.Array(3);
  e.Str(state.collection);
  e.Id(state.id);
  e.Array(state.fields.size());
  for (const auto& [name, f] : state.fields) e.Field(name, f);
  e.Finish();
  return out;
}

Result<crdt::RecordState> DecodeRecordState(std::span<const uint8_t> bytes,
                                            const DecodeLimits& limits) {
  if (bytes.empty()) return Status::Corruption("empty record state");
  if (bytes[0] != kRecordStateV1) return Status::Corruption("unknown record state version");
  if (bytes.size() > limits.max_bytes) return Status::ResourceExhausted("input larger than max_bytes");
  return Decode<RecordState>(bytes.subspan(1), limits, DecodeStateObj);
}

}  // namespace hearth::codec
