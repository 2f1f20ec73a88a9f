// The msgpack framing of a delta (docs/delta-format.md), without any crypto:
// src/feed/delta.cpp builds and checks the version byte, encryption, hash and
// signature on top of it. Plain types only (no crypto or crdt types).
//
// Everything after the version byte:
//   header := fixarray(8) [author bin(32), seq uint, prev bin(32), scope str,
//                          epoch uint, hlc_min uint, hlc_max uint, op_count uint]
//   nonce  := bin(24)
//   body   := bin(n)         (AEAD ciphertext, n >= 16)
//   sig    := 64 raw bytes, then end of input
//
// A stub (versions 3 and 4 only; feed checks the version) replaces nonce
// and body with:
//   body_hash := bin(32)     (BLAKE2b-256 of nonce || ciphertext)
//   body_size := uint        (ciphertext bytes, >= 16, < 2^32)
// The element after the header tells them apart: `c4 18` (a 24-byte bin,
// the nonce) or `c4 20` (a 32-byte bin, the body hash).
//
// The encoders emit the canonical (smallest) msgpack form; the parser rejects
// every other form, wrong types, wrong sizes and missing or trailing bytes,
// and never reads outside the span it is given. Value-level rules (seq >= 1,
// scope UTF-8, ...) are checked by feed, not here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth::codec {

inline constexpr size_t kDeltaHeaderFields = 8;
inline constexpr size_t kDeltaKeyBytes = 32;     // author, prev
inline constexpr size_t kDeltaNonceBytes = 24;
inline constexpr size_t kDeltaSigBytes = 64;
inline constexpr size_t kDeltaMinBodyBytes = 16;  // AEAD tag

struct DeltaFrameHeader {
  std::array<uint8_t, kDeltaKeyBytes> author{};
  uint64_t seq = 0;
  std::array<uint8_t, kDeltaKeyBytes> prev{};
  std::string scope;
  uint64_t epoch = 0;
  uint64_t hlc_min = 0;
  uint64_t hlc_max = 0;
  uint64_t op_count = 0;
  bool operator==(const DeltaFrameHeader&) const = default;
};

// Appends the canonical msgpack header (the fixarray of 8) to `out`.
void AppendDeltaHeader(const DeltaFrameHeader& header, Bytes& out);

// Appends `data` as a canonical msgpack bin (bin8/bin16/bin32, smallest).
// REQUIRES: data.size() < 2^32.
void AppendMsgpackBin(std::span<const uint8_t> data, Bytes& out);

// Appends `v` as a canonical msgpack unsigned integer (smallest form).
void AppendMsgpackUint(uint64_t v, Bytes& out);

// Where the parts of a delta lie. Offsets are into the span given to
// ParseDeltaFrame (which starts after the version byte).
struct DeltaFrame {
  DeltaFrameHeader header;
  size_t header_end = 0;  // end of the header array
  std::array<uint8_t, kDeltaNonceBytes> nonce{};
  size_t body_offset = 0;  // first ciphertext byte
  size_t body_size = 0;    // ciphertext bytes, >= 16
  size_t body_end = 0;     // == body_offset + body_size == offset of the signature
  std::array<uint8_t, kDeltaSigBytes> signature{};
  // A stub: no nonce and no body (nonce, body_offset, body_size = 0 and
  // body_end = end of body_size), body_hash and stub_body_size instead.
  bool stub = false;
  std::array<uint8_t, kDeltaKeyBytes> body_hash{};
  uint64_t stub_body_size = 0;
};

// Parses header, nonce, body and signature from `bytes` (a delta without its
// version byte), or a stub's header, body hash, body size and signature.
// kCorruption on any defect.
Result<DeltaFrame> ParseDeltaFrame(std::span<const uint8_t> bytes);

}  // namespace hearth::codec
