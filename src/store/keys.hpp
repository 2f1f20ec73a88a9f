// Key layouts of the LMDB tables (docs/storage-format.md). Big-endian
// integers so that byte order equals numeric order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hearth/value.hpp"

namespace hearth::store {

void AppendU32(std::string& out, uint32_t v);
void AppendU64(std::string& out, uint64_t v);
uint32_t ReadU32(const uint8_t* p);
uint64_t ReadU64(const uint8_t* p);

// Lanes (docs/storage-format.md, "Lanes"): the chain a delta belongs to
// is (author, lane). Deltas of versions 1 to 4 are in the author's legacy
// lane, eight zero bytes; a version 5/6 delta of scope S in LaneIdOf(S).
using LaneId = std::array<uint8_t, 8>;
inline constexpr LaneId kLegacyLane{};
// The first 8 bytes of BLAKE2b-256(scope). Never used for the legacy lane
// (which is not LaneIdOf("")).
LaneId LaneIdOf(std::string_view scope);
// The lane of a delta of format `version` in `scope`.
LaneId LaneOf(uint8_t version, std::string_view scope);

// Storage format 2 key sizes.
inline constexpr size_t kLaneKeySize = 40;  // author(32) || lane_id(8)
inline constexpr size_t kFeedKeySize = 48;  // author(32) || lane_id(8) || seq(8)

// heads / frozen: author(32) || lane_id(8); also the prefix of a lane's
// entries in the feed-keyed tables.
std::string LaneKey(const AuthorId& author, const LaneId& lane);
// feeds / pending / forks / opaque / denied: author(32) || lane_id(8) || seq(8)
std::string FeedKey(const AuthorId& author, const LaneId& lane, uint64_t seq);
// A feed position, read back from a key.
struct FeedPos {
  AuthorId author;
  LaneId lane{};
  uint64_t seq = 0;
};
// nullopt unless `k` has kFeedKeySize bytes.
std::optional<FeedPos> ParseFeedKey(std::span<const uint8_t> k);
// nullopt unless `k` has kLaneKeySize bytes (the seq is 0).
std::optional<FeedPos> ParseLaneKey(std::span<const uint8_t> k);
// state: collection || 0x00 || id(16)
std::string StateKey(std::string_view collection, const RecordId& id);
std::string StatePrefix(std::string_view collection);  // collection || 0x00
// history: StateKey(collection, id) || author(32) || lane_id(8) || seq(8)
std::string HistoryKey(std::string_view collection, const RecordId& id, const AuthorId& author, const LaneId& lane,
                       uint64_t seq);
// keys: scope || 0x00 || epoch(4)
std::string ScopeKeyKey(std::string_view scope, uint32_t epoch);

// Order-preserving encoding of a value: a type byte, then a body whose
// bytewise order is the value order (ints sign-flipped big-endian, doubles
// IEEE-754 total-order transform, strings/bytes with 0x00 escaped as
// 0x00 0xff and terminated by 0x00 0x01, truncated to kMaxIndexedBytes).
inline constexpr size_t kMaxIndexedBytes = 256;
void AppendSortable(std::string& out, const Value& v);

// index: collection || 0x00 || field || 0x00 || sortable(value) || id(16)
std::string IndexPrefix(std::string_view collection, std::string_view field);
std::string IndexKey(std::string_view collection, std::string_view field, const Value& v,
                     const RecordId& id);

}  // namespace hearth::store
