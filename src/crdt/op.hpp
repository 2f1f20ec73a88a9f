// Field operations: what a delta's payload carries. An operation names a
// field and carries everything needed to merge it without reading any other
// state or the schema, so that every replica computes the same result. The
// author of an op is the author of the delta that carries it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "crdt/hlc.hpp"
#include "hearth/value.hpp"

namespace hearth::crdt {

// Unique event id: (hlc, author). Ordered by hlc, then author bytes.
struct Dot {
  Hlc hlc = 0;
  AuthorId author;
  auto operator<=>(const Dot&) const = default;
  bool operator==(const Dot&) const = default;
};

// Per-author maximum HLC seen. Sorted by author, one entry per author.
struct VersionVector {
  std::vector<std::pair<AuthorId, Hlc>> entries;

  Hlc Get(const AuthorId& a) const;                // 0 when absent
  bool Covers(const Dot& d) const { return Get(d.author) >= d.hlc; }
  void Raise(const AuthorId& a, Hlc h);            // entry = max(entry, h)
  void MergeFrom(const VersionVector& other);      // pointwise max
  // Sorted by author, one entry each, no zero entries: the form the payload
  // encoders write (MergeFrom into an empty vector makes any vector so).
  bool IsCanonical() const {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].second == 0 || (i > 0 && !(entries[i - 1].first < entries[i].first))) return false;
    }
    return true;
  }
  bool operator==(const VersionVector&) const = default;
};

// Numbers are part of the payload format (docs/delta-format.md).
enum class OpKind : uint8_t {
  kLwwSet = 1,     // value
  kMvSet = 2,      // value, context (what the writer saw)
  kSetAdd = 3,     // value (the element); the op's dot is the add tag
  kSetRemove = 4,  // value (the element), context (tags the remover saw)
  kCounter = 5,    // p, n: the author's cumulative increments/decrements
  kStatus = 6,     // rank, value (state name, a string)
  kLogAppend = 7,  // value
};

FieldKind KindOfOp(OpKind k);

struct Op {
  std::string field;
  OpKind kind = OpKind::kLwwSet;
  Hlc hlc = 0;
  Value value;
  VersionVector context;  // kMvSet, kSetRemove
  int64_t p = 0;          // kCounter, >= 0
  int64_t n = 0;          // kCounter, >= 0
  uint32_t rank = 0;      // kStatus
  bool operator==(const Op&) const = default;
};

// The ops of one delta that touch one record.
struct RecordOps {
  std::string collection;
  RecordId id;
  std::vector<Op> ops;
  bool operator==(const RecordOps&) const = default;
};

// Reserved field holding the record-level tombstone (an lww bool).
inline constexpr const char* kDeletedField = "$deleted";

}  // namespace hearth::crdt
