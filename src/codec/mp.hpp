// The one hand-written msgpack grammar of Hearth (issue #13): a writer of the
// smallest (canonical) encoding of each header, and a bounded reader of one
// header at a time. Three callers share it:
//   - codec.cpp's pre-scan, which walks untrusted payloads and record states
//     before msgpack-c builds anything (limits on depth, items, lengths);
//   - delta_frame.cpp, the strict reader and writer of the delta frame;
//   - sync/wire.cpp, the sync messages (canonical writer, lax reader).
// The reader never reads past its input and never allocates; whether a
// non-canonical header is an error is the caller's choice (Head::canonical).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "hearth/value.hpp"

namespace hearth::codec::mp {

// ---------------------------------------------------------------- writer

// Each appends the smallest msgpack encoding (fixint/fixstr/fixarray first).
void PutUint(Bytes& out, uint64_t v);
void PutStr(Bytes& out, std::string_view s);  // header and bytes
void PutBin(Bytes& out, std::span<const uint8_t> b);  // header and bytes
void PutArray(Bytes& out, uint32_t n);
inline void PutNil(Bytes& out) { out.push_back(0xc0); }
inline void PutBool(Bytes& out, bool b) { out.push_back(b ? 0xc3 : 0xc2); }

// Size of the bin header PutBin writes for n bytes.
constexpr size_t BinHeaderSize(size_t n) { return n < 256 ? 2 : n < 65536 ? 3 : 5; }

// ---------------------------------------------------------------- reader

enum class Kind : uint8_t { kNil, kBool, kUint, kInt, kFloat32, kFloat64, kStr, kBin, kExt, kArray, kMap, kReserved };

// The kind of value a header byte starts (0xc1 is kReserved).
Kind KindOf(uint8_t tag);

// One header: the tag byte and the length or value bytes that follow it.
struct Head {
  uint8_t tag = 0;
  Kind kind = Kind::kNil;
  // kBool: 0 or 1; kUint: the value; kInt: the value (two's complement in
  // 64 bits); kFloat32/64: the raw bits; kStr/kBin: the byte length; kExt:
  // the length of the data (the type byte not counted); kArray: items;
  // kMap: key/value pairs.
  uint64_t value = 0;
  // The smallest encoding of its value or length: uints and lengths in the
  // fewest bytes, negative ints only in int8..64 and only when no shorter
  // form holds them (non-negatives never), exts of 1/2/4/8/16 bytes only as
  // fixext. Floats, nil and bools are canonical as such.
  bool canonical = true;

  // Bytes that follow the header: str/bin data, ext type byte and data.
  uint64_t payload() const { return kind == Kind::kExt ? value + 1 : (kind == Kind::kStr || kind == Kind::kBin) ? value : 0; }
};

enum class Read : uint8_t {
  kOk,
  kEnd,        // no byte left for the tag (position unchanged)
  kWrongKind,  // the tag is not of the kind asked for (position after the tag)
  kShort,      // the length or value bytes are cut (position after the tag)
};

// A cursor over untrusted bytes.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return b_.size() - pos_; }
  bool AtEnd() const { return pos_ == b_.size(); }
  // The next byte, without consuming it; -1 at the end.
  int Peek() const { return pos_ < b_.size() ? b_[pos_] : -1; }

  // Reads the next header, whatever its kind (kReserved included).
  Read Next(Head* h) { return Next(nullptr, h); }
  // Reads the next header if its tag is of `kind`; kWrongKind (tag consumed,
  // nothing else) otherwise.
  Read Next(Kind kind, Head* h) { return Next(&kind, h); }

  // The next n bytes (a payload): false, and nothing consumed, if fewer are left.
  bool Take(uint64_t n, std::span<const uint8_t>* out = nullptr) {
    if (n > remaining()) return false;
    if (out) *out = b_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return true;
  }

 private:
  Read Next(const Kind* want, Head* h);

  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

}  // namespace hearth::codec::mp
