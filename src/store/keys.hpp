// Key layouts of the LMDB tables (docs/storage-format.md). Big-endian
// integers so that byte order equals numeric order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hearth/value.hpp"

namespace hearth::store {

void AppendU32(std::string& out, uint32_t v);
void AppendU64(std::string& out, uint64_t v);
uint32_t ReadU32(const uint8_t* p);
uint64_t ReadU64(const uint8_t* p);

// feeds / pending / forks / opaque: author(32) || seq(8)
std::string FeedKey(const AuthorId& author, uint64_t seq);
// state: collection || 0x00 || id(16)
std::string StateKey(std::string_view collection, const RecordId& id);
std::string StatePrefix(std::string_view collection);  // collection || 0x00
// history: StateKey(collection, id) || author(32) || seq(8)
std::string HistoryKey(std::string_view collection, const RecordId& id, const AuthorId& author, uint64_t seq);
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
