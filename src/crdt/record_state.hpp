// Materialised CRDT state of fields and records, and their merge.
//
// Every container below is kept sorted and free of duplicates, so that two
// states built from the same set of ops, in any order, with duplicates,
// compare equal and encode to the same bytes (codec/). Apply is commutative,
// associative and idempotent over ops from any authors.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crdt/op.hpp"
#include "hearth/status.hpp"

namespace hearth::crdt {

struct LwwState {
  Dot dot;       // winner's dot; hlc 0 = never written
  Value value;
  bool operator==(const LwwState&) const = default;
};

struct MvEntry {
  Dot dot;
  Value value;
  bool operator==(const MvEntry&) const = default;
};
struct MvState {
  std::vector<MvEntry> entries;  // sorted by dot; none covered by `seen`
  VersionVector seen;            // union of contexts of all writes
  // Context for a new local write: seen + every live entry's dot.
  VersionVector WriteContext() const;
  bool operator==(const MvState&) const = default;
};

struct SetElement {
  Value value;
  std::vector<Dot> tags;  // live add tags, sorted; none covered by `removed`
  VersionVector removed;  // union of contexts of removes of this element
  bool operator==(const SetElement&) const = default;
};
struct SetState {
  std::vector<SetElement> elements;  // sorted by value; may hold elements with no live tag
  // Context for removing `v` locally: removed + every live tag of v.
  VersionVector RemoveContext(const Value& v) const;
  std::vector<Value> Members() const;  // values with a live tag, sorted
  bool operator==(const SetState&) const = default;
};

struct CounterEntry {
  AuthorId author;
  int64_t p = 0;
  int64_t n = 0;
  bool operator==(const CounterEntry&) const = default;
};
struct CounterState {
  std::vector<CounterEntry> entries;  // sorted by author
  // The author's current (p, n), or (0, 0).
  std::pair<int64_t, int64_t> TotalsOf(const AuthorId& a) const;
  // Sum of p - n, saturating at int64 limits.
  int64_t Value() const;
  bool operator==(const CounterState&) const = default;
};

struct StatusState {
  bool set = false;
  uint32_t rank = 0;
  std::string name;
  bool operator==(const StatusState&) const = default;
};

struct LogItem {
  Dot dot;
  Value value;
  bool operator==(const LogItem&) const = default;
};
struct LogState {
  std::vector<LogItem> items;  // sorted by (dot, value), unique
  bool operator==(const LogState&) const = default;
};

class FieldState {
 public:
  using Storage = std::variant<LwwState, MvState, SetState, CounterState, StatusState, LogState>;

  explicit FieldState(FieldKind kind);
  FieldKind kind() const { return kind_; }

  // Merges one op by `author`. An op of another kind than this field's: the
  // higher FieldKind number wins (the field restarts as that kind and ops of
  // lower kinds are ignored), so the result is still order-independent.
  void Apply(const Op& op, const AuthorId& author);

  template <typename T> T& as() { return std::get<T>(s_); }
  template <typename T> const T& as() const { return std::get<T>(s_); }
  const Storage& storage() const { return s_; }
  Storage& storage() { return s_; }
  bool operator==(const FieldState&) const = default;

 private:
  FieldKind kind_;
  Storage s_;
};

struct RecordState {
  std::string collection;
  RecordId id;
  std::map<std::string, FieldState, std::less<>> fields;

  // REQUIRES: op targets this record. Merges the op into its field.
  void Apply(const Op& op, const AuthorId& author);
  // True when the $deleted lww field holds true.
  bool deleted() const;
  const FieldState* Find(std::string_view field) const;
  bool operator==(const RecordState&) const = default;
};

}  // namespace hearth::crdt
