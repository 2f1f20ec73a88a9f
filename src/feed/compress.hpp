// Payload compression of version-2 deltas (docs/delta-format.md,
// "Compressed payload"): the AEAD plaintext of a version-2 delta is one
// Zstandard frame (RFC 8878) of the canonical payload. Only this file and
// compress.cpp include zstd.h.
#pragma once

#include <cstdint>
#include <span>

#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth::feed {

// Largest decompressed payload a version-2 delta may declare: a format
// constant (kCorruption above it), independent of any reader's settings.
// Writers fall back to version 1 for larger payloads.
inline constexpr uint64_t kMaxCompressedPayloadBytes = uint64_t{16} << 20;

// Smallest payload writers try to compress (kAuto); below it the frame
// overhead (~10 bytes) eats most of the gain. Not a format rule.
inline constexpr size_t kCompressMinBytes = 256;

// zstd level writers use: on the benchmark workload level 1 is both the
// fastest and the smallest of levels 1..3 (docs/benchmarks.md).
inline constexpr int kCompressLevel = 1;

// The frame a writer puts in a version-2 delta: level kCompressLevel,
// Frame_Content_Size declared, single segment (window log up to 24), no
// checksum (the AEAD tag authenticates), no dictionary.
// REQUIRES: 1 <= payload.size() <= kMaxCompressedPayloadBytes.
// kInternal if libzstd fails (out of memory).
Result<Bytes> CompressPayload(std::span<const uint8_t> payload);

// Checks and decompresses the AEAD plaintext of a version-2 delta, in this
// order, before allocating anything: a zstd frame (magic 28 b5 2f fd, not a
// skippable frame), Single_Segment_flag set, no dictionary id, reserved bit
// clear, Frame_Content_Size in 1..kMaxCompressedPayloadBytes (kCorruption
// otherwise) and <= max_payload_bytes (kResourceExhausted otherwise); then
// exactly one frame with nothing after it, decompressing to exactly the
// declared size (kCorruption otherwise). The result is not checked to be a
// canonical payload: codec::DecodePayload does that.
Result<Bytes> DecompressPayload(std::span<const uint8_t> frame, uint64_t max_payload_bytes);

// The size a frame declares (Frame_Content_Size), after the header checks
// above; kCorruption when the header is invalid. Does not decompress.
Result<uint64_t> CompressedPayloadSize(std::span<const uint8_t> frame);

}  // namespace hearth::feed
