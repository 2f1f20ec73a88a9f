#include "values.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace hcli {

using namespace hearth;

namespace {

std::optional<int64_t> AsInt(std::string_view t) {
  if (t.empty()) return std::nullopt;
  size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (i == t.size()) return std::nullopt;
  for (size_t k = i; k < t.size(); ++k)
    if (t[k] < '0' || t[k] > '9') return std::nullopt;
  std::string s(t);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || *end) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> AsDouble(std::string_view t) {
  if (t.empty()) return std::nullopt;
  for (char c : t)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
      return std::nullopt;
  std::string s(t);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<RecordId> AsRef(std::string_view t) {
  if (t.substr(0, 4) == "ref:") t.remove_prefix(4);
  auto r = RecordId::FromHex(t);
  if (!r.ok()) return std::nullopt;
  return *r;
}

std::optional<Bytes> AsBytes(std::string_view t, bool need_prefix) {
  if (t.substr(0, 2) == "0x") t.remove_prefix(2);
  else if (need_prefix) return std::nullopt;
  return hearth::base::FromHex(t);
}

std::optional<Timestamp> AsTimestamp(std::string_view t, bool need_at) {
  if (!t.empty() && t[0] == '@') t.remove_prefix(1);
  else if (need_at) return std::nullopt;
  auto v = AsInt(t);
  if (!v) return std::nullopt;
  return Timestamp{*v};
}

Value Generic(std::string_view t) {
  if (t == "null") return Value();
  if (t == "true") return Value(true);
  if (t == "false") return Value(false);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') return Value(std::string(t.substr(1, t.size() - 2)));
  if (auto ts = AsTimestamp(t, true)) return Value(*ts);
  if (t.substr(0, 4) == "ref:") {
    if (auto r = AsRef(t)) return Value(*r);
    Fail(kExitUsage, "'" + std::string(t) + "' is not a reference (ref: then 32 hex digits)");
  }
  if (t.substr(0, 2) == "0x") {
    if (auto b = AsBytes(t, true)) return Value(std::move(*b));
    Fail(kExitUsage, "'" + std::string(t) + "' is not bytes (0x then an even number of hex digits)");
  }
  if (auto i = AsInt(t)) return Value(*i);
  if (auto d = AsDouble(t)) return Value(*d);
  return Value(std::string(t));
}

std::string Where(const std::string& c, const std::string& f) { return c + "." + f; }

}  // namespace

Assignment ParseAssignment(std::string_view arg) {
  auto eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    Fail(kExitUsage, "'" + std::string(arg) + "' is not an assignment; write field=value, field+=value or field-=value");
  }
  Assignment a;
  size_t name_end = eq;
  if (arg[eq - 1] == '+') {
    a.op = Assignment::kAdd;
    name_end = eq - 1;
  } else if (arg[eq - 1] == '-') {
    a.op = Assignment::kRemove;
    name_end = eq - 1;
  }
  a.field = std::string(arg.substr(0, name_end));
  a.text = std::string(arg.substr(eq + 1));
  if (a.field.empty()) Fail(kExitUsage, "'" + std::string(arg) + "' names no field");
  return a;
}

const FieldSpec* FindField(const Schema& s, std::string_view collection, std::string_view field) {
  const CollectionSpec* c = s.Find(collection);
  return c ? c->Find(field) : nullptr;
}

Value ParseValue(std::string_view t, const FieldSpec* spec) {
  std::optional<ValueType> want;
  if (spec) {
    if (spec->type == FieldType::kRef) want = ValueType::kRef;
    else if (spec->type == FieldType::kStatus) want = ValueType::kString;
    else want = spec->value_type;
  }
  if (want) {
    switch (*want) {
      case ValueType::kString:
        if (t.size() >= 2 && t.front() == '"' && t.back() == '"') return Value(std::string(t.substr(1, t.size() - 2)));
        return Value(std::string(t));
      case ValueType::kInt:
        if (auto i = AsInt(t)) return Value(*i);
        break;
      case ValueType::kDouble:
        if (auto d = AsDouble(t)) return Value(*d);
        break;
      case ValueType::kBool:
        if (t == "true" || t == "yes" || t == "1") return Value(true);
        if (t == "false" || t == "no" || t == "0") return Value(false);
        break;
      case ValueType::kTimestamp:
        if (auto ts = AsTimestamp(t, false)) return Value(*ts);
        break;
      case ValueType::kRef:
        if (auto r = AsRef(t)) return Value(*r);
        break;
      case ValueType::kBytes:
        if (auto b = AsBytes(t, false)) return Value(std::move(*b));
        break;
      case ValueType::kNull: break;
    }
  }
  return Generic(t);
}

Value JsonToValue(const json& j, const FieldSpec* spec, const std::string& where) {
  if (j.is_null()) return Value();
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_integer() || j.is_number_unsigned()) {
    if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      Fail(kExitUsage, where + ": " + Dump(j) + " does not fit an int64");
    }
    int64_t v = j.get<int64_t>();
    if (spec && spec->value_type == ValueType::kDouble) return Value(static_cast<double>(v));
    if (spec && spec->value_type == ValueType::kTimestamp) return Value(Timestamp{v});
    return Value(v);
  }
  if (j.is_number_float()) return Value(j.get<double>());
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    if (spec && spec->value_type && *spec->value_type != ValueType::kString) return ParseValue(s, spec);
    if (spec && spec->type == FieldType::kRef) return ParseValue(s, spec);
    return Value(std::move(s));
  }
  if (j.is_object() && j.size() == 1) {
    // begin() returns a temporary proxy: copy the key and take the value by
    // iterator, which lives as long as `j`.
    auto it = j.begin();
    const std::string k = it.key();
    const auto& v = it.value();
    if (k == "$ref" && v.is_string()) {
      if (auto r = AsRef(v.get<std::string>())) return Value(*r);
    } else if (k == "$ts" && v.is_number_integer()) {
      return Value(Timestamp{v.get<int64_t>()});
    } else if (k == "$bytes" && v.is_string()) {
      if (auto b = AsBytes(v.get<std::string>(), false)) return Value(std::move(*b));
    }
  }
  Fail(kExitUsage, where + ": cannot use " + Dump(j) +
                       " as a value (JSON scalar, {\"$ref\": hex}, {\"$ts\": ms} or {\"$bytes\": hex})");
}

void AddAssignment(WriteBatch& b, const Schema& s, const std::string& c, const RecordId& id,
                   const Assignment& a) {
  const FieldSpec* spec = FindField(s, c, a.field);
  FieldType type = spec ? spec->type : FieldType::kLww;
  const std::string w = Where(c, a.field);
  auto bad = [&](const std::string& expected) {
    Fail(kExitUsage, w + " is a " + std::string(FieldTypeName(type)) + " field: " + expected);
  };
  switch (type) {
    case FieldType::kLww:
    case FieldType::kMv:
    case FieldType::kRef:
      if (a.op != Assignment::kSet) bad("write " + a.field + "=VALUE");
      b.Set(c, id, a.field, ParseValue(a.text, spec));
      break;
    case FieldType::kSet:
      if (a.op == Assignment::kSet) bad("write " + a.field + "+=VALUE to add or " + a.field + "-=VALUE to remove");
      if (a.op == Assignment::kAdd) b.Add(c, id, a.field, ParseValue(a.text, spec));
      else b.Remove(c, id, a.field, ParseValue(a.text, spec));
      break;
    case FieldType::kCounter: {
      if (a.op == Assignment::kSet) bad("write " + a.field + "+=N or " + a.field + "-=N");
      auto n = AsInt(a.text);
      if (!n || *n < 0) bad("'" + a.text + "' is not a non-negative whole number");
      b.Increment(c, id, a.field, a.op == Assignment::kAdd ? *n : -*n);
      break;
    }
    case FieldType::kStatus:
      if (a.op != Assignment::kSet) bad("write " + a.field + "=STATE (one of its declared states)");
      b.Advance(c, id, a.field, a.text);
      break;
    case FieldType::kLog:
      if (a.op != Assignment::kAdd) bad("write " + a.field + "+=TEXT to append an entry");
      b.Append(c, id, a.field, ParseValue(a.text, spec));
      break;
  }
}

void AddJsonField(WriteBatch& b, const Schema& s, const std::string& c, const RecordId& id,
                  const std::string& field, const json& v) {
  const FieldSpec* spec = FindField(s, c, field);
  FieldType type = spec ? spec->type : FieldType::kLww;
  const std::string w = Where(c, field);
  auto each = [&](auto&& fn) {
    if (v.is_array()) {
      for (const auto& e : v) fn(e);
    } else {
      fn(v);
    }
  };
  switch (type) {
    case FieldType::kLww:
    case FieldType::kMv:
    case FieldType::kRef:
      b.Set(c, id, field, JsonToValue(v, spec, w));
      break;
    case FieldType::kSet:
      each([&](const json& e) { b.Add(c, id, field, JsonToValue(e, spec, w)); });
      break;
    case FieldType::kCounter:
      if (!v.is_number_integer()) Fail(kExitUsage, w + " is a counter: give a whole number to add (negative subtracts)");
      b.Increment(c, id, field, v.get<int64_t>());
      break;
    case FieldType::kStatus:
      if (!v.is_string()) Fail(kExitUsage, w + " is a status field: give the state name as a string");
      b.Advance(c, id, field, v.get<std::string>());
      break;
    case FieldType::kLog:
      each([&](const json& e) { b.Append(c, id, field, JsonToValue(e, spec, w)); });
      break;
  }
}

}  // namespace hcli
