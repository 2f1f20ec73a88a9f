// Schema: parsing (TOML via toml11), canonical output and value checks.
// Format reference: docs/schema.md.

#include "hearth/schema.hpp"
#include "hearth/toml_bounds.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <toml.hpp>
#include <utility>

namespace hearth {
namespace {

constexpr int64_t kFormatVersion = 1;
constexpr size_t kMaxNameLen = 64;
constexpr size_t kMaxScopeLen = 128;

constexpr std::string_view kFieldTypeNames[] = {"lww",    "mv",  "set", "counter",
                                                "status", "log", "ref"};

std::optional<FieldType> FieldTypeFromName(std::string_view s) {
  for (size_t i = 0; i < std::size(kFieldTypeNames); ++i) {
    if (kFieldTypeNames[i] == s) return static_cast<FieldType>(i);
  }
  return std::nullopt;
}

// Value type names accepted in `value = "..."`. "any" is represented as
// nullopt and never written.
struct ValueTypeParse {
  bool known = false;
  std::optional<ValueType> type;
};

ValueTypeParse ValueTypeFromName(std::string_view s) {
  if (s == "any") return {true, std::nullopt};
  for (uint8_t i = 0; i <= static_cast<uint8_t>(ValueType::kRef); ++i) {
    auto t = static_cast<ValueType>(i);
    if (ValueTypeName(t) == s) return {true, t};
  }
  return {};
}

bool TakesValueType(FieldType t) {
  return t == FieldType::kLww || t == FieldType::kMv || t == FieldType::kSet ||
         t == FieldType::kLog;
}

bool Indexable(FieldType t) {
  return t == FieldType::kLww || t == FieldType::kRef || t == FieldType::kStatus;
}

// Collection and field names: 1-64 chars of [a-z0-9_], not starting with a
// digit; '$' prefix reserved. Returns an empty string when fine.
std::string NameProblem(std::string_view name, std::string_view what) {
  std::string w(what);
  if (!name.empty() && name[0] == '$') {
    return w + " name '" + std::string(name) +
           "' is reserved (names starting with '$' are for Hearth)";
  }
  if (name.empty() || name.size() > kMaxNameLen) {
    return w + " name '" + std::string(name) + "' must be 1-64 characters long";
  }
  if (name[0] >= '0' && name[0] <= '9') {
    return w + " name '" + std::string(name) + "' must not start with a digit";
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      return w + " name '" + std::string(name) + "' may only contain a-z, 0-9 and _";
    }
  }
  return {};
}

std::string ScopeProblem(std::string_view scope) {
  if (scope.empty() || scope.size() > kMaxScopeLen) {
    return "scope '" + std::string(scope) + "' must be 1-128 characters long";
  }
  for (char c : scope) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return "scope '" + std::string(scope) + "' may only contain a-z, 0-9, _, . and -";
  }
  return {};
}

// Status states: 1-64 chars of [a-z0-9_-].
std::string StateProblem(std::string_view state) {
  if (state.empty() || state.size() > kMaxNameLen) {
    return "state '" + std::string(state) + "' must be 1-64 characters long";
  }
  for (char c : state) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return "state '" + std::string(state) + "' may only contain a-z, 0-9, _ and -";
  }
  return {};
}

std::string TomlTypeName(const toml::value& v) {
  std::ostringstream os;
  os << v.type();
  return os.str();
}

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  // "<source>:<line>: <path>: <message>".
  Status Error(const toml::value& at, std::string_view path, std::string_view msg) const {
    std::string m = source_;
    auto line = at.location().line();
    if (line > 0) m += ":" + std::to_string(line);
    m += ": ";
    if (!path.empty()) {
      m += path;
      m += ": ";
    }
    m += msg;
    return Status::InvalidArgument(std::move(m));
  }

  // Keys of a table ordered by where they appear in the file (then by name),
  // so that the first problem in the file is the one reported.
  static std::vector<std::pair<std::string, const toml::value*>> Ordered(const toml::value& t) {
    std::vector<std::pair<std::string, const toml::value*>> out;
    for (const auto& [k, v] : t.as_table()) out.emplace_back(k, &v);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      auto la = a.second->location(), lb = b.second->location();
      if (la.line() != lb.line()) return la.line() < lb.line();
      if (la.column() != lb.column()) return la.column() < lb.column();
      return a.first < b.first;
    });
    return out;
  }

  Status CheckKeys(const toml::value& table, std::string_view path,
                   std::initializer_list<std::string_view> allowed) const {
    for (const auto& [k, v] : Ordered(table)) {
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::string list;
        for (auto a : allowed) {
          if (!list.empty()) list += ", ";
          list += a;
        }
        return Error(*v, path, "unknown key '" + k + "' (allowed: " + list + ")");
      }
    }
    return Status::Ok();
  }

  static const toml::value* Get(const toml::value& table, const std::string& key) {
    const auto& t = table.as_table();
    auto it = t.find(key);
    return it == t.end() ? nullptr : &it->second;
  }

  Status GetString(const toml::value& table, const std::string& key, std::string_view path,
                   std::string* out, bool* present) const {
    *present = false;
    const toml::value* v = Get(table, key);
    if (v == nullptr) return Status::Ok();
    if (!v->is_string()) {
      return Error(*v, path, "'" + key + "' must be a string, got " + TomlTypeName(*v));
    }
    *out = v->as_string().str;
    *present = true;
    return Status::Ok();
  }

  Status Run(const toml::value& root, std::vector<CollectionSpec>* out, uint32_t* version) {
    if (!root.is_table()) return Error(root, "", "a schema must be a TOML table");
    HEARTH_RETURN_IF_ERROR(CheckKeys(root, "", {"format", "version", "collections"}));
    const toml::value* format = Get(root, "format");
    if (format == nullptr) {
      return Status::InvalidArgument(source_ + ": missing 'format = 1' at the top of the schema");
    }
    if (!format->is_integer() || format->as_integer() != kFormatVersion) {
      return Error(
          *format, "format",
          "unsupported schema format " + toml::format(*format) + " (this version reads 1)");
    }
    *version = 1;
    if (const toml::value* v = Get(root, "version")) {
      if (!v->is_integer() || v->as_integer() < 1 || v->as_integer() > UINT32_MAX) {
        return Error(*v, "version", "must be a positive integer (1 to 4294967295), got " + toml::format(*v));
      }
      *version = static_cast<uint32_t>(v->as_integer());
    }
    if (const toml::value* cols = Get(root, "collections")) {
      if (!cols->is_table()) {
        return Error(*cols, "collections", "must be a table, got " + TomlTypeName(*cols));
      }
      for (const auto& [name, v] : Ordered(*cols)) {
        CollectionSpec c;
        HEARTH_RETURN_IF_ERROR(ParseCollection(name, *v, &c));
        out->push_back(std::move(c));
      }
    }
    std::sort(out->begin(), out->end(),
              [](const CollectionSpec& a, const CollectionSpec& b) { return a.name < b.name; });
    // Every ref target must be a declared collection.
    for (const auto& r : refs_) {
      bool found = std::any_of(out->begin(), out->end(),
                               [&](const CollectionSpec& c) { return c.name == r.target; });
      if (!found) {
        return Error(*r.at, r.path, "refers to unknown collection '" + r.target + "'");
      }
    }
    return Status::Ok();
  }

 private:
  struct PendingRef {
    const toml::value* at;
    std::string path;
    std::string target;
  };

  Status ParseCollection(const std::string& name, const toml::value& v, CollectionSpec* c) {
    std::string path = "collections." + name;
    if (auto p = NameProblem(name, "collection"); !p.empty()) return Error(v, path, p);
    if (!v.is_table()) return Error(v, path, "must be a table, got " + TomlTypeName(v));
    HEARTH_RETURN_IF_ERROR(CheckKeys(v, path, {"scope", "description", "fields"}));
    c->name = name;
    bool present = false;
    HEARTH_RETURN_IF_ERROR(GetString(v, "scope", path, &c->scope, &present));
    if (!present) {
      return Error(v, path, "missing 'scope' (e.g. scope = \"hr.workers\")");
    }
    if (auto p = ScopeProblem(c->scope); !p.empty()) return Error(*Get(v, "scope"), path, p);
    HEARTH_RETURN_IF_ERROR(GetString(v, "description", path, &c->description, &present));
    if (const toml::value* fields = Get(v, "fields")) {
      std::string fpath = path + ".fields";
      if (!fields->is_table()) {
        return Error(*fields, fpath, "must be a table, got " + TomlTypeName(*fields));
      }
      for (const auto& [fname, fv] : Ordered(*fields)) {
        FieldSpec f;
        HEARTH_RETURN_IF_ERROR(ParseField(fpath + "." + fname, fname, *fv, &f));
        c->fields.push_back(std::move(f));
      }
    }
    std::sort(c->fields.begin(), c->fields.end(),
              [](const FieldSpec& a, const FieldSpec& b) { return a.name < b.name; });
    return Status::Ok();
  }

  Status ParseField(const std::string& path, const std::string& name, const toml::value& v,
                    FieldSpec* f) {
    if (auto p = NameProblem(name, "field"); !p.empty()) return Error(v, path, p);
    if (!v.is_table()) {
      return Error(v, path,
                   "a field must be a table such as { type = \"lww\", value = \"string\" }, got " +
                       TomlTypeName(v));
    }
    HEARTH_RETURN_IF_ERROR(
        CheckKeys(v, path, {"type", "value", "index", "collection", "order", "description"}));
    f->name = name;

    std::string type_name;
    bool present = false;
    HEARTH_RETURN_IF_ERROR(GetString(v, "type", path, &type_name, &present));
    if (!present) {
      return Error(v, path, "missing 'type' (one of lww, mv, set, counter, status, log, ref)");
    }
    auto type = FieldTypeFromName(type_name);
    if (!type) {
      return Error(*Get(v, "type"), path,
                   "unknown field type '" + type_name +
                       "' (expected lww, mv, set, counter, status, log or ref)");
    }
    f->type = *type;
    std::string tname(FieldTypeName(f->type));

    // value
    if (const toml::value* vt = Get(v, "value")) {
      if (!TakesValueType(f->type)) {
        return Error(*vt, path,
                     "'value' is only allowed for lww, mv, set and log fields, not " + tname +
                         (f->type == FieldType::kRef ? " (ref fields always hold refs)" : ""));
      }
      std::string vname;
      HEARTH_RETURN_IF_ERROR(GetString(v, "value", path, &vname, &present));
      auto parsed = ValueTypeFromName(vname);
      if (!parsed.known) {
        return Error(*vt, path,
                     "unknown value type '" + vname +
                         "' (expected null, bool, int, double, string, bytes, timestamp, ref or "
                         "any)");
      }
      f->value_type = parsed.type;
    }
    if (f->type == FieldType::kRef) f->value_type = ValueType::kRef;

    // index
    if (const toml::value* ix = Get(v, "index")) {
      if (!ix->is_boolean()) {
        return Error(*ix, path, "'index' must be true or false, got " + TomlTypeName(*ix));
      }
      if (ix->as_boolean() && !Indexable(f->type)) {
        return Error(*ix, path,
                     "'index = true' is only allowed for lww, ref and status fields, not " + tname);
      }
      f->indexed = ix->as_boolean();
    }

    // collection
    if (const toml::value* col = Get(v, "collection")) {
      if (f->type != FieldType::kRef) {
        return Error(*col, path, "'collection' is only allowed for ref fields, not " + tname);
      }
      HEARTH_RETURN_IF_ERROR(GetString(v, "collection", path, &f->ref_collection, &present));
      if (auto p = NameProblem(f->ref_collection, "referenced collection"); !p.empty()) {
        return Error(*col, path, p);
      }
      refs_.push_back({col, path, f->ref_collection});
    }

    // order
    if (const toml::value* ord = Get(v, "order")) {
      if (f->type != FieldType::kStatus) {
        return Error(*ord, path, "'order' is only allowed for status fields, not " + tname);
      }
      if (!ord->is_array()) {
        return Error(*ord, path,
                     "'order' must be an array of state names, got " + TomlTypeName(*ord));
      }
      std::set<std::string, std::less<>> seen;
      for (const auto& s : ord->as_array()) {
        if (!s.is_string()) {
          return Error(s, path, "'order' entries must be strings, got " + TomlTypeName(s));
        }
        const std::string& state = s.as_string().str;
        if (auto p = StateProblem(state); !p.empty()) return Error(s, path, p);
        if (!seen.insert(state).second) {
          return Error(s, path, "state '" + state + "' appears twice in 'order'");
        }
        f->order.push_back(state);
      }
      if (f->order.empty()) {
        return Error(*ord, path, "'order' must list at least one state");
      }
    } else if (f->type == FieldType::kStatus) {
      return Error(v, path,
                   "status fields need an 'order' (e.g. order = [\"new\", \"open\", \"done\"])");
    }

    HEARTH_RETURN_IF_ERROR(GetString(v, "description", path, &f->description, &present));
    return Status::Ok();
  }

  std::string source_;
  std::vector<PendingRef> refs_;
};

// A TOML basic string literal.
void AppendQuoted(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out->push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

std::string Quoted(std::string_view s) {
  std::string out;
  AppendQuoted(&out, s);
  return out;
}

}  // namespace

std::string_view FieldTypeName(FieldType t) {
  auto i = static_cast<size_t>(t);
  return i < std::size(kFieldTypeNames) ? kFieldTypeNames[i] : std::string_view("unknown");
}

FieldKind KindOf(FieldType t) {
  switch (t) {
    case FieldType::kLww:
      return FieldKind::kLww;
    case FieldType::kRef:
      return FieldKind::kLww;
    case FieldType::kMv:
      return FieldKind::kMv;
    case FieldType::kSet:
      return FieldKind::kSet;
    case FieldType::kCounter:
      return FieldKind::kCounter;
    case FieldType::kStatus:
      return FieldKind::kStatus;
    case FieldType::kLog:
      return FieldKind::kLog;
  }
  return FieldKind::kLww;
}

std::optional<uint32_t> FieldSpec::RankOf(std::string_view state) const {
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i] == state) return static_cast<uint32_t>(i);
  }
  return std::nullopt;
}

const FieldSpec* CollectionSpec::Find(std::string_view field) const {
  auto it = std::lower_bound(fields.begin(), fields.end(), field,
                             [](const FieldSpec& f, std::string_view n) { return f.name < n; });
  return it != fields.end() && it->name == field ? &*it : nullptr;
}

const CollectionSpec* Schema::Find(std::string_view collection) const {
  auto it =
      std::lower_bound(collections_.begin(), collections_.end(), collection,
                       [](const CollectionSpec& c, std::string_view n) { return c.name < n; });
  return it != collections_.end() && it->name == collection ? &*it : nullptr;
}

Result<Schema> Schema::Parse(std::string_view toml_text, std::string_view source_name) {
  std::string source(source_name.empty() ? std::string_view("<schema>") : source_name);
  // Before toml11, which recurses once per nesting level (a deep document
  // would overflow the stack): docs/schema.md, "Limits".
  if (Status b = CheckTomlBounds(toml_text, kSchemaMaxBytes); !b.ok()) return b.WithContext(source);
  try {
    std::istringstream in{std::string(toml_text)};
    toml::value root = toml::parse(in, source);
    Parser parser(source);
    std::vector<CollectionSpec> cols;
    uint32_t version = 1;
    Status st = parser.Run(root, &cols, &version);
    if (!st.ok()) return st;
    Schema s;
    s.collections_ = std::move(cols);
    s.version_ = version;
    return s;
  } catch (const std::exception& e) {
    // toml11 syntax and type errors carry the file, line and a caret.
    return Status::InvalidArgument(source + ": invalid TOML: " + e.what());
  } catch (...) {
    return Status::InvalidArgument(source + ": invalid TOML");
  }
}

Result<Schema> Schema::LoadFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return Status::NotFound("schema file " + path + " does not exist");
    }
    return Status::IOError("cannot stat schema file " + path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    return Status::IOError("schema file " + path + " is a directory");
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::IOError("schema file " + path + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kSchemaMaxBytes) {
    return Status::InvalidArgument(path + ": TOML document of " + std::to_string(st.st_size) +
                                   " bytes exceeds the limit of " + std::to_string(kSchemaMaxBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::IOError("cannot open schema file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read schema file " + path);
  return Parse(buf.str(), path);
}

std::string Schema::ToToml() const {
  std::string out = "format = 1\nversion = " + std::to_string(version_) + "\n";
  for (const auto& c : collections_) {
    out += "\n[collections." + c.name + "]\n";
    out += "scope = " + Quoted(c.scope) + "\n";
    if (!c.description.empty()) out += "description = " + Quoted(c.description) + "\n";
    out += "\n[collections." + c.name + ".fields]\n";
    for (const auto& f : c.fields) {
      out += f.name + " = { type = ";
      AppendQuoted(&out, FieldTypeName(f.type));
      if (TakesValueType(f.type) && f.value_type) {
        out += ", value = ";
        AppendQuoted(&out, ValueTypeName(*f.value_type));
      }
      if (f.type == FieldType::kRef && !f.ref_collection.empty()) {
        out += ", collection = " + Quoted(f.ref_collection);
      }
      if (f.type == FieldType::kStatus) {
        out += ", order = [";
        for (size_t i = 0; i < f.order.size(); ++i) {
          if (i) out += ", ";
          AppendQuoted(&out, f.order[i]);
        }
        out += "]";
      }
      if (f.indexed) out += ", index = true";
      if (!f.description.empty()) out += ", description = " + Quoted(f.description);
      out += " }\n";
    }
  }
  return out;
}

Status Schema::CheckCollection(std::string_view collection) const {
  if (Find(collection) == nullptr) {
    return Status::InvalidArgument("unknown collection '" + std::string(collection) +
                                   "' (not declared in the schema)");
  }
  return Status::Ok();
}

Status Schema::CheckValue(std::string_view collection, std::string_view field, FieldKind kind,
                          const Value* value) const {
  const CollectionSpec* c = Find(collection);
  if (c == nullptr) return CheckCollection(collection);
  std::string where = std::string(collection) + "." + std::string(field);
  if (!field.empty() && field[0] == '$') {
    return Status::InvalidArgument(where + ": field names starting with '$' are reserved");
  }
  const FieldSpec* f = c->Find(field);
  if (f == nullptr) {
    return Status::InvalidArgument("unknown field '" + where + "' (not declared in the schema)");
  }
  std::string tname(FieldTypeName(f->type));
  if (KindOf(f->type) != kind) {
    return Status::InvalidArgument(
        where + ": " + tname + " field (kind " + std::string(FieldKindName(KindOf(f->type))) +
        "); an operation of kind " + std::string(FieldKindName(kind)) + " cannot apply to it");
  }
  if (f->type == FieldType::kCounter) {
    // Counter ops carry their amounts outside the value.
    if (value == nullptr || value->is_null() || value->type() == ValueType::kInt) {
      return Status::Ok();
    }
    return Status::InvalidArgument(where + ": counter field; expected no value or an int, got " +
                                   std::string(ValueTypeName(value->type())));
  }
  if (value == nullptr) {
    return Status::InvalidArgument(where + ": " + tname + " field; a value is required");
  }
  if (f->type == FieldType::kStatus) {
    if (value->type() != ValueType::kString) {
      return Status::InvalidArgument(where +
                                     ": status field; expected a state name (string), got " +
                                     std::string(ValueTypeName(value->type())));
    }
    if (!f->RankOf(value->as_string())) {
      std::string states;
      for (const auto& s : f->order) {
        if (!states.empty()) states += ", ";
        states += s;
      }
      return Status::InvalidArgument(where + ": '" + value->as_string() +
                                     "' is not a state of this status field (order: " + states +
                                     ")");
    }
    return Status::Ok();
  }
  bool clearable =
      f->type == FieldType::kLww || f->type == FieldType::kMv || f->type == FieldType::kRef;
  if (value->is_null() && clearable) return Status::Ok();
  if (f->value_type) {
    if (value->type() != *f->value_type) {
      return Status::InvalidArgument(where + ": " + tname + " field of " +
                                     std::string(ValueTypeName(*f->value_type)) + " values; got " +
                                     std::string(ValueTypeName(value->type())));
    }
  } else if (value->is_null()) {
    return Status::InvalidArgument(where + ": " + tname +
                                   " field; null is not a valid element or entry");
  }
  return Status::Ok();
}

bool Schema::operator==(const Schema& other) const {
  return version_ == other.version_ && collections_ == other.collections_;
}

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}

std::string ValueTypeText(const FieldSpec& f) {
  return f.value_type ? std::string(ValueTypeName(*f.value_type)) : "any";
}

constexpr const char* kNewField =
    "; add a new field with the new shape and stop writing the old one, docs/schema.md \"Changing a schema\")";
constexpr const char* kNewCollection =
    "; add a new collection with the new shape and stop writing the old one, docs/schema.md \"Changing a schema\")";

}  // namespace

Status CheckSchemaChange(const Schema& from, const Schema& to) {
  auto refuse = [](std::string what, const char* path) {
    return Status::InvalidArgument(std::move(what) + path);
  };
  for (const CollectionSpec& c : from.collections()) {
    const CollectionSpec* n = to.Find(c.name);
    if (n == nullptr) {
      return refuse("collection " + c.name + " is removed (a collection is never removed or renamed: its records "
                    "stay in every replica's feeds",
                    kNewCollection);
    }
    if (n->scope != c.scope) {
      return refuse("collection " + c.name + ": scope " + c.scope + " -> " + n->scope +
                        " is not allowed (a collection never moves to another scope: its deltas were granted, "
                        "keyed and sent by scope",
                    kNewCollection);
    }
    for (const FieldSpec& f : c.fields) {
      const std::string name = c.name + "." + f.name;
      const FieldSpec* g = n->Find(f.name);
      if (g == nullptr) {
        return refuse("field " + name + " is removed (a field is never removed or renamed: replicas hold its ops",
                      kNewField);
      }
      if (g->type != f.type) {
        return refuse("field " + name + ": type " + std::string(FieldTypeName(f.type)) + " -> " +
                          std::string(FieldTypeName(g->type)) + " is not allowed (a field's type never changes",
                      kNewField);
      }
      if (g->value_type != f.value_type) {
        return refuse("field " + name + ": value type " + ValueTypeText(f) + " -> " + ValueTypeText(*g) +
                          " is not allowed (a field's value type never changes",
                      kNewField);
      }
      if (g->ref_collection != f.ref_collection) {
        auto target = [](const std::string& s) { return s.empty() ? std::string("any") : s; };
        return refuse("field " + name + ": ref target " + target(f.ref_collection) + " -> " +
                          target(g->ref_collection) + " is not allowed (a ref field's target never changes",
                      kNewField);
      }
      if (g->order.size() < f.order.size() || !std::equal(f.order.begin(), f.order.end(), g->order.begin())) {
        return refuse("field " + name + ": status order " + Join(f.order) + " -> " + Join(g->order) +
                          " is not allowed (states are only added at the end: a state's rank never changes",
                      kNewField);
      }
    }
  }
  if (to.version() < from.version()) {
    return Status::InvalidArgument("schema version " + std::to_string(to.version()) + " is older than version " +
                                   std::to_string(from.version()) +
                                   " in use (a new schema keeps or raises `version`, docs/schema.md \"Changing a "
                                   "schema\")");
  }
  return Status::Ok();
}

}  // namespace hearth
