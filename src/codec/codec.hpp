// Canonical msgpack encoding of values, ops (delta payloads) and
// materialised record states. The only module that includes msgpack-c.
//
// Encoders are canonical: the same logical content always yields the same
// bytes (smallest integer/length encodings, containers in the sorted order
// the crdt types keep). Decoders never trust lengths: they cap sizes and
// nesting depth, check every type, and return kCorruption on bad bytes.
// Formats: docs/delta-format.md (payload) and docs/storage-format.md (state).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "crdt/op.hpp"
#include "crdt/record_state.hpp"
#include "hearth/status.hpp"

namespace hearth::codec {

// Format/version byte that starts every encoded record state.
inline constexpr uint8_t kRecordStateV1 = 0x01;

struct DecodeLimits {
  uint64_t max_bytes = uint64_t{16} << 20;  // whole input
  uint32_t max_items = 1u << 20;           // elements of any one array/map
  uint32_t max_string = 1u << 20;           // bytes of one str/bin/ext
  uint32_t max_depth = 16;                  // nesting
};

// One value, canonical msgpack: nil, bool, int (positive ints as uint
// family, negative as int family, smallest form), float64, str, bin,
// ext 1 (timestamp: 8-byte big-endian int64 ms), ext 2 (ref: 16-byte id).
Bytes EncodeValue(const Value& v);
Result<Value> DecodeValue(std::span<const uint8_t> bytes, const DecodeLimits& limits = {});

// A delta's plaintext payload: array of [collection, id(bin16), [op...]].
Bytes EncodePayload(const std::vector<crdt::RecordOps>& records);
Result<std::vector<crdt::RecordOps>> DecodePayload(std::span<const uint8_t> bytes,
                                                    const DecodeLimits& limits = {});

// A materialised record: kRecordStateV1 byte then msgpack.
Bytes EncodeRecordState(const crdt::RecordState& state);
Result<crdt::RecordState> DecodeRecordState(std::span<const uint8_t> bytes,
                                            const DecodeLimits& limits = {});

}  // namespace hearth::codec
