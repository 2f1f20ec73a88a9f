// Schema: which collections exist, their fields and field types, status
// orders, indexed fields and the scope each collection belongs to.
//
// Schemas are data: a TOML document (format in docs/schema.md) loaded at run
// time, so agencies add collections without recompiling. A Schema is
// immutable once loaded and safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/export.hpp"
#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth {

// Field types as written in a schema file. `ref` is an lww register whose
// values must be record references (to `ref_collection` when set).
enum class FieldType : uint8_t { kLww, kMv, kSet, kCounter, kStatus, kLog, kRef };

HEARTH_EXPORT std::string_view FieldTypeName(FieldType t);
HEARTH_EXPORT FieldKind KindOf(FieldType t);

struct HEARTH_EXPORT FieldSpec {
  std::string name;
  FieldType type = FieldType::kLww;
  // For lww, mv, set and log: the value type every value must have, or
  // nullopt for "any". Ignored for counter and status; kRef for ref.
  std::optional<ValueType> value_type;
  // For status: the declared order, first = initial state.
  std::vector<std::string> order;
  // For ref: the collection referenced, or empty for any.
  std::string ref_collection;
  // Maintain a secondary index (lww, ref and status fields only).
  bool indexed = false;
  // Free text for people.
  std::string description;

  // Rank of `state` in `order`, or nullopt.
  std::optional<uint32_t> RankOf(std::string_view state) const;

  bool operator==(const FieldSpec&) const = default;
};

struct HEARTH_EXPORT CollectionSpec {
  std::string name;
  std::string scope;
  std::string description;
  std::vector<FieldSpec> fields;  // sorted by name

  const FieldSpec* Find(std::string_view field) const;

  bool operator==(const CollectionSpec&) const = default;
};

class HEARTH_EXPORT Schema {
 public:
  Schema() = default;

  // Parses a TOML schema document. Errors: kInvalidArgument with the line
  // and what is wrong (unknown key, bad type name, empty status order, ...).
  static Result<Schema> Parse(std::string_view toml_text, std::string_view source_name = "<schema>");
  // Reads and parses a file. Errors: kNotFound / kIOError, or as Parse.
  static Result<Schema> LoadFile(const std::string& path);

  const CollectionSpec* Find(std::string_view collection) const;
  const std::vector<CollectionSpec>& collections() const { return collections_; }  // sorted by name
  // The schema's version (`version = N`, default 1; docs/schema.md,
  // "Changing a schema").
  uint32_t version() const { return version_; }

  // Canonical TOML text of this schema (stable; Parse(ToToml()) == *this).
  std::string ToToml() const;

  // Checks that a value may be stored in `field` of `collection` by an
  // operation on a field of kind `kind`. Errors: kInvalidArgument naming the
  // collection, field and what was expected.
  Status CheckValue(std::string_view collection, std::string_view field, FieldKind kind,
                    const Value* value) const;

  // Checks that `collection` is declared. Errors: kInvalidArgument naming it.
  Status CheckCollection(std::string_view collection) const;

  bool operator==(const Schema& other) const;

 private:
  std::vector<CollectionSpec> collections_;
  uint32_t version_ = 1;
};

// Whether `to` may replace `from` (docs/schema.md, "Changing a schema"):
// adding collections, fields, indexes, status states at the end of an
// order and changing descriptions are allowed; changing a field's type,
// value type or ref target, removing (or renaming) a field or collection,
// reordering or removing status states, moving a collection to another
// scope and lowering the version are not. Errors: kInvalidArgument naming
// the first offending change and the migration path.
HEARTH_EXPORT Status CheckSchemaChange(const Schema& from, const Schema& to);

}  // namespace hearth
