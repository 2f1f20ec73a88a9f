// Value syntax of `hearth put`, `query` and `resolve` (docs/cli.md, "Values").
//
//   text            a string (for string fields, the text is always taken as is)
//   42  -7          int          3.5  1e-3   double
//   true false null
//   @1717171717000  timestamp (ms since the Unix epoch)
//   ref:<32 hex>    reference to a record
//   0x<hex>         bytes
//   "text"          a string, even if it looks like a number
//
// The field's declared value type is tried first (so `phone=0123` on a
// string field stays a string, `price=3` on a double field is 3.0); when the
// text does not fit it, the generic syntax above is used and the library's
// schema check reports the mismatch.
#pragma once

#include <string>
#include <string_view>

#include "common.hpp"
#include "hearth/replica.hpp"
#include "hearth/schema.hpp"

namespace hcli {

struct Assignment {
  enum Op { kSet, kAdd, kRemove } op = kSet;
  std::string field;
  std::string text;
};

// "field=value", "field+=value", "field-=value"; exit 2 on bad syntax.
Assignment ParseAssignment(std::string_view arg);

// The field's spec, or nullptr when the schema does not declare it.
const hearth::FieldSpec* FindField(const hearth::Schema& s, std::string_view collection,
                                   std::string_view field);

hearth::Value ParseValue(std::string_view text, const hearth::FieldSpec* spec);
// JSON form (docs/cli.md): {"$ref": hex}, {"$ts": ms}, {"$bytes": hex} or a plain JSON scalar.
hearth::Value JsonToValue(const json& j, const hearth::FieldSpec* spec, const std::string& where);

// Adds the operation an assignment means for the field's type to `b`.
void AddAssignment(hearth::WriteBatch& b, const hearth::Schema& s, const std::string& collection,
                   const hearth::RecordId& id, const Assignment& a);
// Adds the operations for one --set-json member.
void AddJsonField(hearth::WriteBatch& b, const hearth::Schema& s, const std::string& collection,
                  const hearth::RecordId& id, const std::string& field, const json& v);

}  // namespace hcli
