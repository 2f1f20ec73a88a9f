// Sync message framing (docs/protocol.md): one type/version byte, then one
// msgpack array. A tiny canonical msgpack subset (array, uint, bin, str,
// nil, bool) written and read here, so that src/sync needs no third-party
// header. The reader never trusts a length: each is checked against the
// bytes left and against caps before anything is allocated.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth::sync {

// Message types (first byte). The high nibble 0x1 is protocol version 1.
enum MsgType : uint8_t {
  kHello = 0x11,
  kSummary = 0x12,
  kDeltas = 0x13,
  kCredit = 0x14,
  kHeartbeat = 0x15,
  kError = 0x16,
  kBye = 0x17,
  kProof = 0x18,
  kHeads = 0x19,
  kRanges = 0x1a,
};

inline constexpr uint32_t kProtocolVersion = 1;

class Writer {
 public:
  explicit Writer(uint8_t type) { out_.push_back(type); }
  Writer& Array(uint32_t n);
  Writer& Uint(uint64_t v);
  Writer& Bin(std::span<const uint8_t> b);
  Writer& Str(std::string_view s);
  Writer& Nil();
  Writer& Bool(bool b);
  Bytes Take() { return std::move(out_); }
  size_t size() const { return out_.size(); }

 private:
  void Be(uint64_t v, int n);
  Bytes out_;
};

// Encoded size of a bin header for n bytes.
inline size_t BinHeaderSize(size_t n) { return n < 256 ? 2 : n < 65536 ? 3 : 5; }

class Reader {
 public:
  // `data` excludes the type byte.
  explicit Reader(std::span<const uint8_t> data) : p_(data.data()), end_(data.data() + data.size()) {}
  // Array header; fails unless 0 <= n <= max_items and n <= bytes left.
  Result<uint32_t> Array(uint32_t max_items);
  Result<uint64_t> Uint();
  Result<std::span<const uint8_t>> Bin(uint64_t max_bytes);
  // Bin of exactly N bytes.
  template <size_t N>
  Result<std::array<uint8_t, N>> Fixed() {
    auto b = Bin(N);
    if (!b.ok()) return b.status();
    if (b->size() != N) return Status::Corruption("sync: expected " + std::to_string(N) + " bytes");
    std::array<uint8_t, N> a{};
    for (size_t i = 0; i < N; ++i) a[i] = (*b)[i];
    return a;
  }
  Result<std::string> Str(uint64_t max_bytes);
  Result<bool> Bool();
  bool NextIsNil() const { return p_ < end_ && *p_ == 0xc0; }
  void SkipNil() { ++p_; }
  bool AtEnd() const { return p_ == end_; }
  // Fails with kCorruption unless every byte was consumed.
  Status Finish() const;

 private:
  Result<uint64_t> Be(int n);
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace hearth::sync
