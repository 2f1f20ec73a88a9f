// A small FuzzedDataProvider: takes values from the front of the input and
// yields zeros once it is exhausted (the gcc replay build has no
// <fuzzer/FuzzedDataProvider.h>).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hearth::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  uint8_t U8() { return p_ < end_ ? *p_++ : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() << 8 | U8()); }
  uint32_t U32() { return static_cast<uint32_t>(U16()) << 16 | U16(); }
  uint64_t U64() { return static_cast<uint64_t>(U32()) << 32 | U32(); }
  bool Bool() { return U8() & 1; }
  // Up to `max` bytes, the length taken from one byte.
  std::vector<uint8_t> Bytes(size_t max) {
    size_t n = U8() % (max + 1);
    if (n > left()) n = left();
    std::vector<uint8_t> out(p_, p_ + n);
    p_ += n;
    return out;
  }
  std::string String(size_t max) {
    auto b = Bytes(max);
    return std::string(b.begin(), b.end());
  }
  // Everything not consumed yet.
  std::span<const uint8_t> Rest() {
    std::span<const uint8_t> r(p_, left());
    p_ = end_;
    return r;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace hearth::fuzz
