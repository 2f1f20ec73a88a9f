// Values stored in record fields, and the ids that name records and authors.
//
// A Value is one of: null, bool, int64, double, UTF-8 string, bytes,
// timestamp (milliseconds since the Unix epoch) or a reference to another
// record (its RecordId). Values are plain data: copyable, comparable, safe to
// share between threads once built.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "hearth/export.hpp"
#include "hearth/status.hpp"

namespace hearth {

using Bytes = std::vector<uint8_t>;

// 128-bit record id. Generate() makes time-ordered ids (48-bit Unix ms, then
// 80 random bits) so that records created together sort together in storage.
struct HEARTH_EXPORT RecordId {
  std::array<uint8_t, 16> bytes{};

  static RecordId Generate();
  // 32 lowercase hex digits.
  std::string ToHex() const;
  static Result<RecordId> FromHex(std::string_view hex);

  auto operator<=>(const RecordId&) const = default;
  bool operator==(const RecordId&) const = default;
};

// An author (node identity): its Ed25519 public key.
struct HEARTH_EXPORT AuthorId {
  std::array<uint8_t, 32> bytes{};

  std::string ToHex() const;
  static Result<AuthorId> FromHex(std::string_view hex);

  auto operator<=>(const AuthorId&) const = default;
  bool operator==(const AuthorId&) const = default;
};

// Milliseconds since the Unix epoch (UTC).
struct Timestamp {
  int64_t ms = 0;
  auto operator<=>(const Timestamp&) const = default;
  bool operator==(const Timestamp&) const = default;
};

enum class ValueType : uint8_t {
  kNull = 0,
  kBool = 1,
  kInt = 2,
  kDouble = 3,
  kString = 4,
  kBytes = 5,
  kTimestamp = 6,
  kRef = 7,
};

HEARTH_EXPORT std::string_view ValueTypeName(ValueType t);

// The CRDT a field uses; decides how concurrent edits merge. Numbers are
// part of the stored and wire formats (docs/delta-format.md).
enum class FieldKind : uint8_t {
  kLww = 1,      // last writer wins by (HLC, author)
  kMv = 2,       // multi-value register: concurrent values kept until resolved
  kSet = 3,      // add-wins observed-remove set
  kCounter = 5,  // PN counter, per-author totals
  kStatus = 6,   // monotonic state over a declared order
  kLog = 7,      // append-only entries ordered by (HLC, author)
};

HEARTH_EXPORT std::string_view FieldKindName(FieldKind k);

class HEARTH_EXPORT Value {
 public:
  using Storage = std::variant<std::monostate, bool, int64_t, double, std::string, Bytes,
                               Timestamp, RecordId>;

  Value() = default;
  Value(std::nullptr_t) {}                                 // NOLINT
  Value(bool b) : v_(b) {}                                 // NOLINT
  Value(int v) : v_(static_cast<int64_t>(v)) {}            // NOLINT
  Value(int64_t v) : v_(v) {}                              // NOLINT
  Value(double v) : v_(v) {}                               // NOLINT
  Value(std::string s) : v_(std::move(s)) {}               // NOLINT
  Value(const char* s) : v_(std::string(s)) {}             // NOLINT
  Value(Bytes b) : v_(std::move(b)) {}                     // NOLINT
  Value(Timestamp t) : v_(t) {}                            // NOLINT
  Value(RecordId r) : v_(r) {}                             // NOLINT

  ValueType type() const { return static_cast<ValueType>(v_.index()); }
  bool is_null() const { return v_.index() == 0; }

  // REQUIRES: type() matches.
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Bytes& as_bytes() const { return std::get<Bytes>(v_); }
  Timestamp as_timestamp() const { return std::get<Timestamp>(v_); }
  const RecordId& as_ref() const { return std::get<RecordId>(v_); }

  const Storage& storage() const { return v_; }

  // Human-readable rendering (strings quoted, bytes as hex).
  std::string ToString() const;


 private:
  Storage v_;
};

// Total order used for deterministic tie-breaks: by type, then value
// (doubles by the IEEE-754 totalOrder: numeric, -0 before +0, NaNs ordered
// by sign and payload, so every value has a place).
HEARTH_EXPORT std::strong_ordering operator<=>(const Value& a, const Value& b);
inline bool operator==(const Value& a, const Value& b) { return (a <=> b) == 0; }

}  // namespace hearth
