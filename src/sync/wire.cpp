// Sync messages on the shared msgpack grammar (codec/mp.hpp): the writer
// emits the smallest encodings; the reader accepts any encoding of the
// subset (non-minimal lengths and integers included), as it always has.
#include "sync/wire.hpp"

namespace hearth::sync {

namespace mp = codec::mp;

Writer& Writer::Array(uint32_t n) {
  mp::PutArray(out_, n);
  return *this;
}

Writer& Writer::Uint(uint64_t v) {
  mp::PutUint(out_, v);
  return *this;
}

Writer& Writer::Bin(std::span<const uint8_t> b) {
  mp::PutBin(out_, b);
  return *this;
}

Writer& Writer::Str(std::string_view s) {
  mp::PutStr(out_, s);
  return *this;
}

Writer& Writer::Nil() {
  mp::PutNil(out_);
  return *this;
}

Writer& Writer::Bool(bool b) {
  mp::PutBool(out_, b);
  return *this;
}

// The next header of `kind`; `what` names it in the messages.
Result<uint64_t> Reader::Head(mp::Kind kind, const char* what, const char* expected) {
  mp::Head h;
  switch (r_.Next(kind, &h)) {
    case mp::Read::kOk: return h.value;
    case mp::Read::kEnd: return Status::Corruption(std::string("sync: truncated message (") + what + ")");
    case mp::Read::kShort: return Status::Corruption("sync: truncated message");
    case mp::Read::kWrongKind: break;
  }
  return Status::Corruption(std::string("sync: expected ") + expected);
}

Result<uint32_t> Reader::Array(uint32_t max_items) {
  auto n = Head((mp::Kind::kArray), "array", "an array");
  if (!n.ok()) return n.status();
  // Every element takes at least one byte.
  if (*n > max_items || *n > r_.remaining()) {
    return Status::Corruption("sync: array of " + std::to_string(*n) + " items exceeds its bounds");
  }
  return static_cast<uint32_t>(*n);
}

Result<uint64_t> Reader::Uint() { return Head((mp::Kind::kUint), "uint", "an unsigned integer"); }

Result<std::span<const uint8_t>> Reader::Bin(uint64_t max_bytes) {
  auto n = Head((mp::Kind::kBin), "bin", "bin");
  if (!n.ok()) return n.status();
  std::span<const uint8_t> s;
  if (*n > max_bytes || !r_.Take(*n, &s)) {
    return Status::Corruption("sync: bin of " + std::to_string(*n) + " bytes exceeds its bounds");
  }
  return s;
}

Result<std::string> Reader::Str(uint64_t max_bytes) {
  auto n = Head((mp::Kind::kStr), "str", "str");
  if (!n.ok()) return n.status();
  std::span<const uint8_t> s;
  if (*n > max_bytes || !r_.Take(*n, &s)) return Status::Corruption("sync: str exceeds its bounds");
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

Result<bool> Reader::Bool() {
  auto b = Head((mp::Kind::kBool), "bool", "bool");
  if (!b.ok()) return b.status();
  return *b != 0;
}

Status Reader::Finish() const {
  if (!r_.AtEnd()) return Status::Corruption("sync: trailing bytes in message");
  return Status::Ok();
}

}  // namespace hearth::sync
