// Payload version 2 (docs/delta-format.md, "Payload version 2"): a compact
// binary form of the same operations as the msgpack payload (version 1).
//
// Why a second form: a full sync is mostly delta payloads, and version 1
// repeats per op what is the same for a whole delta (the collection and
// field names as strings, 9-byte HLCs that differ by one from the previous
// op, 16-byte ids sharing their time prefix with the previous record). Here
// names are indexes into one table per payload, HLCs are zigzag deltas from
// the previous op, ids share a prefix with the previous record and integers
// are LEB128; the ops' values come after all the records, field by field,
// so that each value follows the previous one of its field (zstd finds it
// at a short, repeated distance). zstd (version 2 deltas) still runs on
// top; these bytes simply give it less to do.
//
// The decoder is a bounded cursor over the input: every count is checked
// against the remaining bytes and the limits before anything is reserved,
// every varint must be minimal and every name is referenced in the order of
// its first use, so that decode -> encode is the identity (one encoding per
// list of ops, as in version 1).
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/text.hpp"
#include "codec/codec.hpp"

namespace hearth::codec {

namespace {

using crdt::Hlc;
using crdt::Op;
using crdt::OpKind;
using crdt::RecordOps;
using crdt::VersionVector;

// Value tags.
enum : uint8_t {
  kTagNil = 0,
  kTagFalse = 1,
  kTagTrue = 2,
  kTagUint = 3,       // int >= 0: varint v
  kTagNegInt = 4,     // int < 0: varint (-1 - v)
  kTagDouble = 5,     // 8 bytes big-endian IEEE 754 bits
  kTagStr = 6,        // varint length, UTF-8 bytes
  kTagBin = 7,        // varint length, bytes
  kTagTimestamp = 8,  // varint zigzag(ms)
  kTagRef = 9,        // 16 bytes
};

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t u) {
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

// ---------------------------------------------------------------- encoding

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}

  void Byte(uint8_t b) { out_.push_back(b); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<uint8_t>(v));
  }
  void Raw(const uint8_t* p, size_t n) { out_.insert(out_.end(), p, p + n); }
  void Blob(std::string_view s) {
    Varint(s.size());
    Raw(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }

  void Value(const hearth::Value& v) {
    switch (v.type()) {
      case ValueType::kNull: Byte(kTagNil); return;
      case ValueType::kBool: Byte(v.as_bool() ? kTagTrue : kTagFalse); return;
      case ValueType::kInt: {
        const int64_t i = v.as_int();
        if (i >= 0) {
          Byte(kTagUint);
          Varint(static_cast<uint64_t>(i));
        } else {
          Byte(kTagNegInt);
          Varint(static_cast<uint64_t>(-(i + 1)));
        }
        return;
      }
      case ValueType::kDouble: {
        uint64_t bits;
        const double d = v.as_double();
        std::memcpy(&bits, &d, sizeof bits);
        Byte(kTagDouble);
        for (int i = 0; i < 8; ++i) Byte(static_cast<uint8_t>(bits >> (56 - 8 * i)));
        return;
      }
      case ValueType::kString: Byte(kTagStr); Blob(v.as_string()); return;
      case ValueType::kBytes: {
        const Bytes& b = v.as_bytes();
        Byte(kTagBin);
        Varint(b.size());
        Raw(b.data(), b.size());
        return;
      }
      case ValueType::kTimestamp: Byte(kTagTimestamp); Varint(ZigZag(v.as_timestamp().ms)); return;
      case ValueType::kRef: Byte(kTagRef); Raw(v.as_ref().bytes.data(), 16); return;
    }
    Byte(kTagNil);  // unreachable
  }

  // count, then [author 32 bytes, hlc varint] sorted by author, no zero hlc
  // (normalised as version 1 does).
  void Context(const VersionVector& vv) {
    if (!vv.IsCanonical()) {
      VersionVector norm;
      norm.MergeFrom(vv);
      Context(norm);
      return;
    }
    Varint(vv.entries.size());
    for (const auto& [a, h] : vv.entries) {
      Raw(a.bytes.data(), a.bytes.size());
      Varint(h);
    }
  }

 private:
  Bytes& out_;
};

// ---------------------------------------------------------------- decoding

struct Bad {
  const char* what;
};
[[noreturn]] void Fail(const char* what) { throw Bad{what}; }

class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> b) : b_(b) {}

  size_t remaining() const { return b_.size() - pos_; }
  bool AtEnd() const { return pos_ == b_.size(); }

  uint8_t Byte(const char* what) {
    if (pos_ >= b_.size()) Fail(what);
    return b_[pos_++];
  }
  // LEB128, at most 10 bytes, minimal (no trailing zero group), <= 2^64-1.
  uint64_t Varint(const char* what) {
    uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ >= b_.size()) Fail("truncated payload v2 (in a varint)");
      const uint8_t c = b_[pos_++];
      if (i == 9 && c > 1) Fail("payload v2 varint above 2^64-1");
      v |= uint64_t{static_cast<uint8_t>(c & 0x7f)} << (7 * i);
      if ((c & 0x80) == 0) {
        if (c == 0 && i > 0) Fail("payload v2 varint not minimal");
        return v;
      }
    }
    Fail(what);
  }
  const uint8_t* Take(uint64_t n, const char* what) {
    if (n > remaining()) Fail(what);
    const uint8_t* p = b_.data() + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  // A count of items that each take at least `min_bytes` bytes.
  uint64_t Count(uint32_t max_items, size_t min_bytes, const char* what) {
    const uint64_t n = Varint(what);
    if (n > max_items) throw Status::ResourceExhausted(std::string("payload v2: ") + what + " above the item limit");
    if (n > remaining() / min_bytes) Fail("payload v2 count exceeds the input");
    return n;
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

class Decoder {
 public:
  Decoder(std::span<const uint8_t> b, const DecodeLimits& lim) : c_(b), lim_(lim) {}

  std::vector<RecordOps> Run() {
    if (c_.Byte("empty payload") != kPayloadV2) Fail("not a payload v2");
    const uint64_t n_names = c_.Count(lim_.max_items, 2, "name table");
    names_.reserve(n_names);
    seen_.reserve(n_names);
    for (uint64_t i = 0; i < n_names; ++i) {
      const uint64_t len = c_.Varint("name length");
      if (len == 0 || len > 64) Fail("payload v2 name is not 1..64 bytes");
      const uint8_t* p = c_.Take(len, "truncated payload v2 (in the name table)");
      std::string_view name(reinterpret_cast<const char*>(p), len);
      if (!ValidCollectionName(name) && !ValidFieldName(name)) Fail("payload v2 name is neither a collection nor a field name");
      if (!seen_.emplace(name, i).second) Fail("payload v2 name table has a duplicate");
      names_.push_back(name);
    }
    // Each record: collection index, prefix byte, ops count: 3 bytes at least.
    const uint64_t n_records = c_.Count(lim_.max_items, 3, "records");
    std::vector<RecordOps> out;
    out.reserve(n_records);
    RecordId prev_id{};
    std::vector<uint32_t> field_of_op;
    for (uint64_t r = 0; r < n_records; ++r) {
      RecordOps ro;
      std::string_view coll = Name(c_.Varint("collection index"));
      if (!ValidCollectionName(coll)) {
        Fail("collection is not a valid collection name ([a-z0-9_], 1..64, or $policy/$keys/$schema)");
      }
      ro.collection.assign(coll);
      const uint8_t shared = c_.Byte("truncated payload v2 (in a record id)");
      if (shared > 16) Fail("payload v2 id prefix longer than 16");
      if (r == 0 && shared != 0) Fail("payload v2 first record id shares a prefix");
      std::memcpy(ro.id.bytes.data(), prev_id.bytes.data(), shared);
      const uint8_t* rest = c_.Take(16 - shared, "truncated payload v2 (in a record id)");
      std::memcpy(ro.id.bytes.data() + shared, rest, 16 - shared);
      // Canonical: the shared prefix is the longest one.
      if (shared < 16 && r > 0 && ro.id.bytes[shared] == prev_id.bytes[shared]) {
        Fail("payload v2 id prefix not the longest shared one");
      }
      prev_id = ro.id;
      // Each op: field/kind varint, hlc varint, one more byte at least.
      const uint64_t n_ops = c_.Count(lim_.max_items, 3, "ops");
      if (ops_.size() + n_ops > std::numeric_limits<uint32_t>::max()) Fail("payload v2 has too many ops");
      ro.ops.reserve(n_ops);
      for (uint64_t i = 0; i < n_ops; ++i) {
        ro.ops.push_back(DecodeOpHead(&field_of_op));
        ops_.push_back({static_cast<uint32_t>(r), static_cast<uint32_t>(i)});
      }
      out.push_back(std::move(ro));
    }
    if (used_ != names_.size()) Fail("payload v2 name table has an unused name");
    // The items: field by field in name-table order, each field's ops in
    // payload order (a stable counting sort of the ops by field index).
    std::vector<uint32_t> start(names_.size() + 1, 0);
    for (uint32_t f : field_of_op) ++start[f + 1];
    for (size_t f = 0; f < names_.size(); ++f) start[f + 1] += start[f];
    std::vector<uint32_t> order(ops_.size());
    for (size_t i = 0; i < ops_.size(); ++i) order[start[field_of_op[i]]++] = static_cast<uint32_t>(i);
    for (uint32_t i : order) DecodeItems(out[ops_[i].first].ops[ops_[i].second]);
    if (!c_.AtEnd()) Fail("trailing bytes after payload v2");
    return out;
  }

 private:
  // Names are referenced in the order of their first use: a new index is
  // exactly the number of names used so far.
  std::string_view Name(uint64_t index) {
    if (index > used_ || index >= names_.size()) Fail("payload v2 name index out of order or out of range");
    if (index == used_) ++used_;
    return names_[index];
  }

  hearth::Value Val() {
    switch (c_.Byte("truncated payload v2 (in a value)")) {
      case kTagNil: return hearth::Value();
      case kTagFalse: return hearth::Value(false);
      case kTagTrue: return hearth::Value(true);
      case kTagUint: {
        const uint64_t v = c_.Varint("int");
        if (v > kInt64Max) Fail("integer value out of int64 range");
        return hearth::Value(static_cast<int64_t>(v));
      }
      case kTagNegInt: {
        const uint64_t m = c_.Varint("int");
        if (m > kInt64Max) Fail("integer value out of int64 range");
        return hearth::Value(-static_cast<int64_t>(m) - 1);
      }
      case kTagDouble: {
        const uint8_t* p = c_.Take(8, "truncated payload v2 (in a double)");
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return hearth::Value(d);
      }
      case kTagStr: {
        std::string_view s = Blob();
        if (!ValidUtf8(s)) Fail("string value is not valid UTF-8");
        return hearth::Value(std::string(s));
      }
      case kTagBin: {
        std::string_view s = Blob();
        const auto* p = reinterpret_cast<const uint8_t*>(s.data());
        return hearth::Value(Bytes(p, p + s.size()));
      }
      case kTagTimestamp: return hearth::Value(Timestamp{UnZigZag(c_.Varint("timestamp"))});
      case kTagRef: {
        RecordId id;
        std::memcpy(id.bytes.data(), c_.Take(16, "truncated payload v2 (in a ref)"), 16);
        return hearth::Value(id);
      }
      default: Fail("unknown payload v2 value tag");
    }
  }

  std::string_view Blob() {
    const uint64_t len = c_.Varint("length");
    if (len > lim_.max_string) throw Status::ResourceExhausted("payload v2: string longer than allowed");
    const uint8_t* p = c_.Take(len, "truncated payload v2 (in a string)");
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(len)};
  }

  VersionVector Context() {
    const uint64_t n = c_.Count(lim_.max_items, 33, "context");
    VersionVector vv;
    vv.entries.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      AuthorId a;
      std::memcpy(a.bytes.data(), c_.Take(32, "truncated payload v2 (in a context)"), 32);
      const Hlc h = c_.Varint("context hlc");
      if (h == 0) Fail("context hlc must be > 0");
      if (!vv.entries.empty() && !(vv.entries.back().first < a)) {
        Fail("context not sorted by author or has duplicates");
      }
      vv.entries.emplace_back(a, h);
    }
    return vv;
  }

  // field/kind and hlc of one op; its field's index goes to *field_of_op.
  Op DecodeOpHead(std::vector<uint32_t>* field_of_op) {
    Op op;
    const uint64_t fk = c_.Varint("field/kind");
    const uint64_t kind = fk & 7;
    if (kind < 1) Fail("unknown op kind");
    std::string_view field = Name(fk >> 3);
    if (!ValidFieldName(field)) Fail("op field name is not a valid field name ([a-z0-9_], 1..64, or $deleted)");
    field_of_op->push_back(static_cast<uint32_t>(fk >> 3));
    op.field.assign(field);
    op.kind = static_cast<OpKind>(kind);
    op.hlc = prev_hlc_ + static_cast<uint64_t>(UnZigZag(c_.Varint("hlc")));
    prev_hlc_ = op.hlc;
    return op;
  }

  // The kind-specific items of `op`.
  void DecodeItems(Op& op) {
    switch (op.kind) {
      case OpKind::kLwwSet:
      case OpKind::kSetAdd:
      case OpKind::kLogAppend: op.value = Val(); break;
      case OpKind::kMvSet:
      case OpKind::kSetRemove:
        op.value = Val();
        op.context = Context();
        break;
      case OpKind::kCounter: {
        const uint64_t p = c_.Varint("counter p");
        const uint64_t n = c_.Varint("counter n");
        if (p > kInt64Max || n > kInt64Max) Fail("counter total out of range");
        op.p = static_cast<int64_t>(p);
        op.n = static_cast<int64_t>(n);
        break;
      }
      case OpKind::kStatus: {
        const uint64_t rank = c_.Varint("status rank");
        if (rank > std::numeric_limits<uint32_t>::max()) Fail("status rank out of range");
        op.rank = static_cast<uint32_t>(rank);
        std::string_view s = Blob();
        if (!ValidUtf8(s)) Fail("status name is not valid UTF-8");
        op.value = hearth::Value(std::string(s));
        break;
      }
    }
  }

  Cursor c_;
  const DecodeLimits& lim_;
  std::vector<std::string_view> names_;
  std::unordered_map<std::string_view, uint64_t> seen_;
  std::vector<std::pair<uint32_t, uint32_t>> ops_;  // (record, op) in payload order
  uint64_t used_ = 0;
  Hlc prev_hlc_ = 0;
};

}  // namespace

Bytes EncodePayloadV2(const std::vector<crdt::RecordOps>& records) {
  // The name table: collections and fields in the order of first use.
  std::unordered_map<std::string_view, uint64_t> index;
  std::vector<std::string_view> names;
  auto name_index = [&](std::string_view s) {
    auto [it, inserted] = index.emplace(s, names.size());
    if (inserted) names.push_back(s);
    return it->second;
  };
  size_t ops = 0;
  for (const auto& r : records) {
    name_index(r.collection);
    for (const auto& op : r.ops) name_index(op.field);
    ops += r.ops.size();
  }
  Bytes out;
  out.reserve(16 + 24 * records.size() + 24 * ops);
  Writer w(out);
  w.Byte(kPayloadV2);
  w.Varint(names.size());
  for (std::string_view n : names) w.Blob(n);
  w.Varint(records.size());
  const RecordId* prev = nullptr;
  Hlc prev_hlc = 0;
  std::vector<std::vector<const Op*>> by_field(names.size());
  for (const auto& r : records) {
    w.Varint(index.find(r.collection)->second);
    uint8_t shared = 0;
    if (prev != nullptr) {
      while (shared < 16 && prev->bytes[shared] == r.id.bytes[shared]) ++shared;
    }
    w.Byte(shared);
    w.Raw(r.id.bytes.data() + shared, 16 - shared);
    prev = &r.id;
    w.Varint(r.ops.size());
    for (const Op& op : r.ops) {
      const uint64_t f = index.find(op.field)->second;
      w.Varint(f << 3 | static_cast<uint8_t>(op.kind));
      w.Varint(ZigZag(static_cast<int64_t>(op.hlc - prev_hlc)));
      prev_hlc = op.hlc;
      by_field[f].push_back(&op);
    }
  }
  // The items, field by field: a field's values sit together, so zstd finds
  // the previous one at a short, often repeated distance.
  for (const auto& ops_of_field : by_field) {
    for (const Op* opp : ops_of_field) {
      const Op& op = *opp;
      switch (op.kind) {
        case OpKind::kLwwSet:
        case OpKind::kSetAdd:
        case OpKind::kLogAppend: w.Value(op.value); break;
        case OpKind::kMvSet:
        case OpKind::kSetRemove:
          w.Value(op.value);
          w.Context(op.context);
          break;
        case OpKind::kCounter:
          w.Varint(static_cast<uint64_t>(std::max<int64_t>(op.p, 0)));
          w.Varint(static_cast<uint64_t>(std::max<int64_t>(op.n, 0)));
          break;
        case OpKind::kStatus:
          w.Varint(op.rank);
          w.Blob(op.value.type() == ValueType::kString ? std::string_view(op.value.as_string())
                                                       : std::string_view());
          break;
      }
    }
  }
  return out;
}

Result<std::vector<crdt::RecordOps>> DecodePayloadV2(std::span<const uint8_t> bytes,
                                                      const DecodeLimits& limits) {
  if (bytes.size() > limits.max_bytes) return Status::ResourceExhausted("input larger than max_bytes");
  try {
    return Decoder(bytes, limits).Run();
  } catch (const Bad& e) {
    return Status::Corruption(e.what);
  } catch (const Status& s) {
    return s;
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory while decoding");
  }
}

Bytes EncodePayloadAs(const std::vector<crdt::RecordOps>& records, uint8_t version) {
  return version == kPayloadV1 ? EncodePayload(records) : EncodePayloadV2(records);
}

}  // namespace hearth::codec
