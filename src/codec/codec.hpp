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

// A delta's plaintext payload, version 1: array of [collection, id(bin16),
// [op...]]. DecodePayload also reads version 2 (below), by its first byte.
Bytes EncodePayload(const std::vector<crdt::RecordOps>& records);
Result<std::vector<crdt::RecordOps>> DecodePayload(std::span<const uint8_t> bytes,
                                                    const DecodeLimits& limits = {});

// Payload version 2 (docs/delta-format.md, "Payload version 2"): the same
// ops as version 1 in a compact binary form that starts with the byte
// kPayloadV2 (0x02), which no msgpack array (version 1) starts with.
// DecodePayload reads both versions, whatever the delta's format version.
inline constexpr uint8_t kPayloadV1 = 0x01;  // version number only: v1 has no marker byte
inline constexpr uint8_t kPayloadV2 = 0x02;  // first byte of every v2 payload
// What writers emit (Replica: ReplicaOptions::payload_version).
inline constexpr uint8_t kDefaultPayloadVersion = kPayloadV2;

// The version of an encoded payload from its first byte: kPayloadV2 for
// 0x02, kPayloadV1 otherwise (even if invalid; decoding decides).
inline uint8_t PayloadVersionOf(std::span<const uint8_t> bytes) {
  return !bytes.empty() && bytes[0] == kPayloadV2 ? kPayloadV2 : kPayloadV1;
}
Bytes EncodePayloadV2(const std::vector<crdt::RecordOps>& records);
Result<std::vector<crdt::RecordOps>> DecodePayloadV2(std::span<const uint8_t> bytes,
                                                      const DecodeLimits& limits = {});
// EncodePayload (kPayloadV1) or EncodePayloadV2 (any other value).
Bytes EncodePayloadAs(const std::vector<crdt::RecordOps>& records, uint8_t version);

// A materialised record: kRecordStateV1 byte then msgpack.
Bytes EncodeRecordState(const crdt::RecordState& state);
Result<crdt::RecordState> DecodeRecordState(std::span<const uint8_t> bytes,
                                            const DecodeLimits& limits = {});

}  // namespace hearth::codec
