// Sync message framing (docs/protocol.md): one type/version byte, then one
// msgpack array. A tiny msgpack subset (array, uint, bin, str, nil, bool)
// on the shared grammar of codec/mp.hpp, so that src/sync needs no
// third-party header. The writer emits the smallest encodings; the reader
// also accepts longer ones. The reader never trusts a length: each is
// checked against the bytes left and against caps before anything is
// allocated.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "codec/mp.hpp"
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
  kRecon = 0x1b,  // recursive reconciliation (docs/protocol.md); old peers count it as a fault
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
  Bytes out_;
};

// Encoded size of a bin header for n bytes.
using codec::mp::BinHeaderSize;

class Reader {
 public:
  // `data` excludes the type byte.
  explicit Reader(std::span<const uint8_t> data) : r_(data) {}
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
  bool NextIsNil() const { return r_.Peek() == 0xc0; }
  void SkipNil() { r_.Take(1); }
  bool AtEnd() const { return r_.AtEnd(); }
  // Fails with kCorruption unless every byte was consumed.
  Status Finish() const;

 private:
  Result<uint64_t> Head(codec::mp::Kind kind, const char* what, const char* expected);
  codec::mp::Reader r_;
};

}  // namespace hearth::sync
