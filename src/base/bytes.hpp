// Bytes as text and integers as bytes: the one hex encoder/decoder and the
// one set of big-endian loads and stores (issue #13). Every key, frame and
// file format of Hearth that stores an integer stores it big-endian, most
// significant byte first; every hex string Hearth prints is lowercase.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::base {

// ------------------------------------------------------------------- hex

inline constexpr char kHexDigits[] = "0123456789abcdef";

// Lowercase hex, two digits a byte.
inline std::string ToHex(std::span<const uint8_t> bytes) {
  std::string s(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    s[2 * i] = kHexDigits[bytes[i] >> 4];
    s[2 * i + 1] = kHexDigits[bytes[i] & 15];
  }
  return s;
}
inline std::string ToHex(const uint8_t* p, size_t n) { return ToHex(std::span<const uint8_t>(p, n)); }

// The value of one hex digit (either case), or -1.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes exactly out.size() bytes: false (out partly written) unless `hex`
// is 2 * out.size() hex digits of either case.
inline bool FromHexInto(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() != 2 * out.size()) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexDigitValue(hex[2 * i]), lo = HexDigitValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

// The bytes of an even number of hex digits of either case; nullopt otherwise.
inline std::optional<std::vector<uint8_t>> FromHex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::vector<uint8_t> out(hex.size() / 2);
  if (!FromHexInto(hex, out)) return std::nullopt;
  return out;
}

// ------------------------------------------------------------ big-endian

// The `n` (0..8) bytes at `p` as a big-endian unsigned integer.
constexpr uint64_t LoadBE(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}
constexpr uint16_t LoadBE16(const uint8_t* p) { return static_cast<uint16_t>(LoadBE(p, 2)); }
constexpr uint32_t LoadBE32(const uint8_t* p) { return static_cast<uint32_t>(LoadBE(p, 4)); }
constexpr uint64_t LoadBE64(const uint8_t* p) { return LoadBE(p, 8); }

// The low `n` (0..8) bytes of `v`, big-endian, at `p`.
constexpr void StoreBE(uint8_t* p, uint64_t v, size_t n) {
  for (size_t i = n; i-- > 0; v >>= 8) p[i] = static_cast<uint8_t>(v);
}
constexpr void StoreBE16(uint8_t* p, uint16_t v) { StoreBE(p, v, 2); }
constexpr void StoreBE32(uint8_t* p, uint32_t v) { StoreBE(p, v, 4); }
constexpr void StoreBE64(uint8_t* p, uint64_t v) { StoreBE(p, v, 8); }

// Appends the low `n` (0..8) bytes of `v`, big-endian, to a byte string
// (std::string or std::vector<uint8_t>).
template <typename Out>
void AppendBE(Out& out, uint64_t v, size_t n) {
  for (size_t i = n; i-- > 0;) out.push_back(static_cast<typename Out::value_type>(v >> (8 * i)));
}
template <typename Out>
void AppendBE16(Out& out, uint16_t v) { AppendBE(out, v, 2); }
template <typename Out>
void AppendBE32(Out& out, uint32_t v) { AppendBE(out, v, 4); }
template <typename Out>
void AppendBE64(Out& out, uint64_t v) { AppendBE(out, v, 8); }

}  // namespace hearth::base
