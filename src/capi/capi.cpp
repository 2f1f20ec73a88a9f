// The C API (include/hearth/hearth.h) over the C++ API.
//
// Every entry point runs its body inside Guard(): arguments are checked
// first (NULL, sizes, UTF-8), C++ results become an int code plus the
// thread-local message, and any exception (std::bad_alloc from a JSON dump,
// a bug) is caught here so that none crosses into C.
#include "hearth/hearth.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/bytes.hpp"
#include "base/text.hpp"
#include "hearth/bundle.hpp"
#include "hearth/heads.hpp"
#include "hearth/node.hpp"
#include "hearth/replica.hpp"
#include "capi/json.hpp"

using hearth::Code;
using hearth::Status;
using json = nlohmann::json;

struct hearth_options {
  hearth::ReplicaOptions o;
};

struct hearth_replica {
  std::unique_ptr<hearth::Replica> r;
  std::atomic<int> nodes{0};  // hearth_node and hearth_watch handles made on it (close refuses while > 0)
};

struct hearth_batch {
  hearth::WriteBatch b;
};

struct hearth_deltas {
  std::vector<hearth::Bytes> v;
};

struct hearth_watch {
  hearth::ChangeWatcher w;
  hearth_replica* owner = nullptr;
};

struct hearth_node {
  std::unique_ptr<hearth::SyncNode> n;
  hearth_replica* owner = nullptr;
};

namespace {

static_assert(static_cast<int>(Code::kInternal) == HEARTH_INTERNAL, "hearth_code mirrors hearth::Code");
static_assert(static_cast<int>(Code::kAlreadyExists) == HEARTH_ALREADY_EXISTS, "hearth_code mirrors hearth::Code");

// Largest JSON text accepted from a caller (queries, values, options, heads).
constexpr size_t kMaxJsonText = hearth::kMaxHeadsFileSize;

thread_local std::string t_error;
thread_local int t_code = HEARTH_OK;

int Report(const Status& s) {
  t_code = static_cast<int>(s.code());
  try {
    t_error = s.ok() ? std::string() : s.message();
  } catch (...) {
    t_error.clear();
  }
  return t_code;
}

template <typename F>
int Guard(F&& body) noexcept {
  try {
    return Report(body());
  } catch (const std::bad_alloc&) {
    return Report(Status::ResourceExhausted("out of memory"));
  } catch (const std::exception& e) {
    return Report(Status::Internal(std::string("unexpected exception: ") + e.what()));
  } catch (...) {
    return Report(Status::Internal("unexpected exception"));
  }
}

Status Null(const char* what) { return Status::InvalidArgument(std::string(what) + " is NULL"); }

// A NUL-terminated UTF-8 argument.
Status Text(const char* s, const char* what, std::string_view* out) {
  if (s == nullptr) return Null(what);
  std::string_view v(s);
  if (!hearth::ValidUtf8(v)) return Status::InvalidArgument(std::string(what) + " is not valid UTF-8");
  *out = v;
  return Status::Ok();
}

Status Id(const char* hex, hearth::RecordId* out) {
  std::string_view v;
  HEARTH_RETURN_IF_ERROR(Text(hex, "record id", &v));
  auto id = hearth::RecordId::FromHex(v);
  if (!id.ok()) return Status::InvalidArgument("record id: " + id.status().message());
  *out = *id;
  return Status::Ok();
}

Status Author(const char* hex, const char* what, hearth::AuthorId* out) {
  std::string_view v;
  HEARTH_RETURN_IF_ERROR(Text(hex, what, &v));
  auto a = hearth::AuthorId::FromHex(v);
  if (!a.ok()) return Status::InvalidArgument(std::string(what) + ": " + a.status().message());
  *out = *a;
  return Status::Ok();
}

Status ParseJson(const char* text, const char* what, json* out) {
  std::string_view v;
  HEARTH_RETURN_IF_ERROR(Text(text, what, &v));
  if (v.size() > kMaxJsonText) return Status::InvalidArgument(std::string(what) + " is too long");
  json j = json::parse(v, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(std::string(what) + " is not valid JSON");
  *out = std::move(j);
  return Status::Ok();
}

// Heads from optional JSON text (NULL = empty heads).
Status HeadsArg(const char* text, hearth::Heads* out) {
  out->clear();
  if (text == nullptr) return Status::Ok();
  std::string_view v;
  HEARTH_RETURN_IF_ERROR(Text(text, "heads", &v));
  auto h = hearth::HeadsFromJson(v);
  if (!h.ok()) return h.status();
  *out = std::move(h).value();
  return Status::Ok();
}

// A malloc'ed copy of `s` for the caller (hearth_free).
char* Dup(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) throw std::bad_alloc();
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

// Stores JSON for an optional out parameter.
void Out(char** out, const json& j) {
  if (out != nullptr) *out = Dup(hearth::capi::Dump(j));
}

template <typename T>
void Clear(T** out) {
  if (out != nullptr) *out = nullptr;
}

Status ValueArg(const hearth_value* v, hearth::Value* out) {
  if (v == nullptr) return Null("value");
  if (v->data == nullptr && v->size != 0) return Status::InvalidArgument("value: data is NULL but size is not 0");
  const auto* data = static_cast<const uint8_t*>(v->data);
  switch (v->type) {
    case HEARTH_VALUE_NULL: *out = hearth::Value(); return Status::Ok();
    case HEARTH_VALUE_BOOL:
      if (v->i != 0 && v->i != 1) return Status::InvalidArgument("value: a bool is 0 or 1");
      *out = hearth::Value(v->i == 1);
      return Status::Ok();
    case HEARTH_VALUE_INT: *out = hearth::Value(v->i); return Status::Ok();
    case HEARTH_VALUE_DOUBLE: *out = hearth::Value(v->d); return Status::Ok();
    case HEARTH_VALUE_STRING: {
      std::string s(reinterpret_cast<const char*>(data), v->size);
      if (!hearth::ValidUtf8(s)) return Status::InvalidArgument("value: string is not valid UTF-8");
      *out = hearth::Value(std::move(s));
      return Status::Ok();
    }
    case HEARTH_VALUE_BYTES: *out = hearth::Value(hearth::Bytes(data, data + v->size)); return Status::Ok();
    case HEARTH_VALUE_TIMESTAMP: *out = hearth::Value(hearth::Timestamp{v->i}); return Status::Ok();
    case HEARTH_VALUE_REF: {
      if (v->size != 16) return Status::InvalidArgument("value: a ref is 16 bytes, got " + std::to_string(v->size));
      hearth::RecordId id;
      std::memcpy(id.bytes.data(), data, 16);
      *out = hearth::Value(id);
      return Status::Ok();
    }
    default: return Status::InvalidArgument("value: unknown type " + std::to_string(v->type));
  }
}

enum class ValueOp { kSet, kAdd, kRemove, kAppend };

int BatchValueOp(hearth_batch* b, ValueOp op, const char* collection, const char* id_hex, const char* field,
                 const hearth::Value* parsed, const hearth_value* v) {
  return Guard([&]() -> Status {
    if (b == nullptr) return Null("batch");
    std::string_view c, f;
    hearth::RecordId id;
    HEARTH_RETURN_IF_ERROR(Text(collection, "collection", &c));
    HEARTH_RETURN_IF_ERROR(Id(id_hex, &id));
    HEARTH_RETURN_IF_ERROR(Text(field, "field", &f));
    hearth::Value value;
    if (parsed != nullptr) {
      value = *parsed;
    } else {
      HEARTH_RETURN_IF_ERROR(ValueArg(v, &value));
    }
    switch (op) {
      case ValueOp::kSet: b->b.Set(c, id, f, std::move(value)); break;
      case ValueOp::kAdd: b->b.Add(c, id, f, std::move(value)); break;
      case ValueOp::kRemove: b->b.Remove(c, id, f, std::move(value)); break;
      case ValueOp::kAppend: b->b.Append(c, id, f, std::move(value)); break;
    }
    return Status::Ok();
  });
}

Status OutBuffer(char* out, size_t out_size, const std::string& s) {
  if (out == nullptr) return Null("out");
  if (out_size < s.size() + 1) {
    return Status::InvalidArgument("out buffer holds " + std::to_string(out_size) + " bytes, needs " +
                                   std::to_string(s.size() + 1));
  }
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = '\0';
  return Status::Ok();
}

}  // namespace

extern "C" {

// ---- library --------------------------------------------------------------

int hearth_abi_version(void) { return HEARTH_ABI_VERSION; }

const char* hearth_code_name(int code) {
  static const char* const kNames[] = {"ok",          "not_found",         "invalid_argument",   "corruption",
                                       "io_error",    "unavailable",       "unauthenticated",    "permission_denied",
                                       "resource_exhausted", "failed_precondition", "already_exists", "internal"};
  if (code < 0 || code > HEARTH_INTERNAL) return "unknown";
  return kNames[code];
}

const char* hearth_last_error(void) { return t_error.c_str(); }
int hearth_last_error_code(void) { return t_code; }
void hearth_free(void* p) { std::free(p); }

int hearth_record_id_generate(char* out, size_t out_size) {
  return Guard([&]() -> Status { return OutBuffer(out, out_size, hearth::RecordId::Generate().ToHex()); });
}

// ---- options --------------------------------------------------------------

int hearth_options_new(hearth_options** out) {
  Clear(out);
  return Guard([&]() -> Status {
    if (out == nullptr) return Null("out");
    *out = new hearth_options();
    return Status::Ok();
  });
}

void hearth_options_free(hearth_options* o) { delete o; }

#define HEARTH_OPTIONS_BODY(stmt)              \
  return Guard([&]() -> Status {               \
    if (o == nullptr) return Null("options");  \
    stmt;                                      \
    return Status::Ok();                       \
  })

int hearth_options_set_create_if_missing(hearth_options* o, int yes) {
  HEARTH_OPTIONS_BODY(o->o.create_if_missing = yes != 0);
}
int hearth_options_set_unencrypted_identity(hearth_options* o, int yes) {
  HEARTH_OPTIONS_BODY(o->o.unencrypted_identity = yes != 0);
}
int hearth_options_set_is_root(hearth_options* o, int yes) { HEARTH_OPTIONS_BODY(o->o.is_root = yes != 0); }
int hearth_options_set_max_map_size(hearth_options* o, uint64_t bytes) {
  HEARTH_OPTIONS_BODY(if (bytes < (uint64_t{1} << 20)) return Status::InvalidArgument("max map size below 1 MiB");
                      o->o.max_map_size = bytes;
                      if (o->o.initial_map_size > bytes) o->o.initial_map_size = bytes);
}

int hearth_options_set_max_resident_map_bytes(hearth_options* o, uint64_t bytes) {
  HEARTH_OPTIONS_BODY(o->o.max_resident_map_bytes = bytes);
}

int hearth_options_set_durability(hearth_options* o, int durability) {
  HEARTH_OPTIONS_BODY(
      if (durability != HEARTH_DURABILITY_SYNC && durability != HEARTH_DURABILITY_NOSYNC) {
        return Status::InvalidArgument("unknown durability " + std::to_string(durability));
      } o->o.durability = durability == HEARTH_DURABILITY_SYNC ? hearth::Durability::kSync
                                                               : hearth::Durability::kNoSync);
}

int hearth_options_set_passphrase(hearth_options* o, const char* passphrase) {
  std::string_view p;
  HEARTH_OPTIONS_BODY(if (passphrase == nullptr) { o->o.passphrase.reset(); } else {
    HEARTH_RETURN_IF_ERROR(Text(passphrase, "passphrase", &p));
    o->o.passphrase = std::string(p);
  });
}

int hearth_options_set_root(hearth_options* o, const char* root_hex) {
  hearth::AuthorId a;
  HEARTH_OPTIONS_BODY(if (root_hex == nullptr) { o->o.root.reset(); } else {
    HEARTH_RETURN_IF_ERROR(Author(root_hex, "root key", &a));
    o->o.root = a;
  });
}

int hearth_options_set_schema_toml(hearth_options* o, const char* toml) {
  std::string_view t;
  HEARTH_OPTIONS_BODY(if (toml == nullptr) { o->o.schema.reset(); } else {
    HEARTH_RETURN_IF_ERROR(Text(toml, "schema", &t));
    auto s = hearth::Schema::Parse(t);
    if (!s.ok()) return s.status();
    o->o.schema = std::move(s).value();
  });
}

#undef HEARTH_OPTIONS_BODY

// ---- replicas -------------------------------------------------------------

int hearth_replica_open(const char* dir, const hearth_options* options, hearth_replica** out) {
  Clear(out);
  return Guard([&]() -> Status {
    if (out == nullptr) return Null("out");
    std::string_view d;
    HEARTH_RETURN_IF_ERROR(Text(dir, "dir", &d));
    if (d.empty()) return Status::InvalidArgument("dir is empty");
    auto r = hearth::Replica::Open(std::string(d), options ? options->o : hearth::ReplicaOptions{});
    if (!r.ok()) return r.status();
    auto h = std::make_unique<hearth_replica>();
    h->r = std::move(r).value();
    *out = h.release();
    return Status::Ok();
  });
}

int hearth_replica_close(hearth_replica* r) {
  return Guard([&]() -> Status {
    if (r == nullptr) return Status::Ok();
    if (r->nodes.load() > 0) {
      return Status::FailedPrecondition("replica still has " + std::to_string(r->nodes.load()) +
                                        " sync node(s) or watcher(s): free them first");
    }
    delete r;
    return Status::Ok();
  });
}

int hearth_replica_author(const hearth_replica* r, char* out, size_t out_size) {
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    return OutBuffer(out, out_size, r->r->author().ToHex());
  });
}

int hearth_replica_digest(const hearth_replica* r, uint8_t* out, size_t out_size) {
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out == nullptr) return Null("out");
    if (out_size < 32) return Status::InvalidArgument("digest needs 32 bytes");
    auto d = r->r->Digest();
    if (!d.ok()) return d.status();
    std::memcpy(out, d->data(), 32);
    return Status::Ok();
  });
}

int hearth_replica_create_scope_key(hearth_replica* r, const char* scope) {
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    std::string_view s;
    HEARTH_RETURN_IF_ERROR(Text(scope, "scope", &s));
    auto k = r->r->CreateScopeKey(s);
    return k.ok() ? Status::Ok() : k.status();
  });
}

int hearth_replica_export_keyring(const hearth_replica* r, const char* scopes_csv, uint8_t** out, size_t* out_len) {
  Clear(out);
  if (out_len != nullptr) *out_len = 0;
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out == nullptr || out_len == nullptr) return Null("out");
    std::vector<std::string> scopes;
    if (scopes_csv != nullptr) {
      std::string_view csv;
      HEARTH_RETURN_IF_ERROR(Text(scopes_csv, "scopes", &csv));
      while (!csv.empty()) {
        size_t comma = csv.find(',');
        std::string_view one = csv.substr(0, comma);
        if (one.empty()) return Status::InvalidArgument("scopes: empty scope name");
        scopes.emplace_back(one);
        csv = comma == std::string_view::npos ? std::string_view() : csv.substr(comma + 1);
      }
    }
    auto k = r->r->ExportKeyring(scopes);
    if (!k.ok()) return k.status();
    auto* p = static_cast<uint8_t*>(std::malloc(k->empty() ? 1 : k->size()));
    if (p == nullptr) throw std::bad_alloc();
    if (!k->empty()) std::memcpy(p, k->data(), k->size());
    *out = p;
    *out_len = k->size();
    return Status::Ok();
  });
}

int hearth_replica_import_keyring(hearth_replica* r, const uint8_t* data, size_t len) {
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (data == nullptr) return Null("keyring");
    return r->r->ImportKeyring(std::span<const uint8_t>(data, len));
  });
}

// ---- batches --------------------------------------------------------------

int hearth_batch_new(hearth_batch** out) {
  Clear(out);
  return Guard([&]() -> Status {
    if (out == nullptr) return Null("out");
    *out = new hearth_batch();
    return Status::Ok();
  });
}

void hearth_batch_free(hearth_batch* b) { delete b; }

int hearth_batch_clear(hearth_batch* b) {
  return Guard([&]() -> Status {
    if (b == nullptr) return Null("batch");
    b->b.Clear();
    return Status::Ok();
  });
}

size_t hearth_batch_size(const hearth_batch* b) { return b == nullptr ? 0 : b->b.size(); }

int hearth_batch_set(hearth_batch* b, const char* c, const char* id, const char* f, const hearth_value* v) {
  return BatchValueOp(b, ValueOp::kSet, c, id, f, nullptr, v);
}
int hearth_batch_add(hearth_batch* b, const char* c, const char* id, const char* f, const hearth_value* v) {
  return BatchValueOp(b, ValueOp::kAdd, c, id, f, nullptr, v);
}
int hearth_batch_remove(hearth_batch* b, const char* c, const char* id, const char* f, const hearth_value* v) {
  return BatchValueOp(b, ValueOp::kRemove, c, id, f, nullptr, v);
}
int hearth_batch_append(hearth_batch* b, const char* c, const char* id, const char* f, const hearth_value* v) {
  return BatchValueOp(b, ValueOp::kAppend, c, id, f, nullptr, v);
}

int hearth_batch_op_json(hearth_batch* b, const char* op, const char* collection, const char* id_hex,
                         const char* field, const char* value_json) {
  ValueOp kind = ValueOp::kSet;
  hearth::Value value;
  int rc = Guard([&]() -> Status {
    if (b == nullptr) return Null("batch");
    std::string_view o;
    HEARTH_RETURN_IF_ERROR(Text(op, "op", &o));
    if (o == "set") kind = ValueOp::kSet;
    else if (o == "add") kind = ValueOp::kAdd;
    else if (o == "remove") kind = ValueOp::kRemove;
    else if (o == "append") kind = ValueOp::kAppend;
    else return Status::InvalidArgument("op must be set, add, remove or append");
    json j;
    HEARTH_RETURN_IF_ERROR(ParseJson(value_json, "value", &j));
    return hearth::capi::ValueFromJson(j, &value);
  });
  if (rc != HEARTH_OK) return rc;
  return BatchValueOp(b, kind, collection, id_hex, field, &value, nullptr);
}

int hearth_batch_increment(hearth_batch* b, const char* collection, const char* id_hex, const char* field,
                           int64_t by) {
  return Guard([&]() -> Status {
    if (b == nullptr) return Null("batch");
    std::string_view c, f;
    hearth::RecordId id;
    HEARTH_RETURN_IF_ERROR(Text(collection, "collection", &c));
    HEARTH_RETURN_IF_ERROR(Id(id_hex, &id));
    HEARTH_RETURN_IF_ERROR(Text(field, "field", &f));
    b->b.Increment(c, id, f, by);
    return Status::Ok();
  });
}

int hearth_batch_advance(hearth_batch* b, const char* collection, const char* id_hex, const char* field,
                         const char* state) {
  return Guard([&]() -> Status {
    if (b == nullptr) return Null("batch");
    std::string_view c, f, s;
    hearth::RecordId id;
    HEARTH_RETURN_IF_ERROR(Text(collection, "collection", &c));
    HEARTH_RETURN_IF_ERROR(Id(id_hex, &id));
    HEARTH_RETURN_IF_ERROR(Text(field, "field", &f));
    HEARTH_RETURN_IF_ERROR(Text(state, "state", &s));
    b->b.Advance(c, id, f, s);
    return Status::Ok();
  });
}

int hearth_batch_delete(hearth_batch* b, const char* collection, const char* id_hex) {
  return Guard([&]() -> Status {
    if (b == nullptr) return Null("batch");
    std::string_view c;
    hearth::RecordId id;
    HEARTH_RETURN_IF_ERROR(Text(collection, "collection", &c));
    HEARTH_RETURN_IF_ERROR(Id(id_hex, &id));
    b->b.Delete(c, id);
    return Status::Ok();
  });
}

int hearth_replica_commit(hearth_replica* r, const hearth_batch* b, hearth_commit_info* info) {
  if (info != nullptr) *info = hearth_commit_info{0, 0, 0};
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (b == nullptr) return Null("batch");
    auto c = r->r->Commit(b->b);
    if (!c.ok()) return c.status();
    if (info != nullptr) *info = hearth_commit_info{c->first_seq, c->last_seq, c->op_count};
    return Status::Ok();
  });
}

// ---- reads ----------------------------------------------------------------

int hearth_replica_get_json(const hearth_replica* r, const char* collection, const char* id_hex, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out_json == nullptr) return Null("out");
    std::string_view c;
    hearth::RecordId id;
    HEARTH_RETURN_IF_ERROR(Text(collection, "collection", &c));
    HEARTH_RETURN_IF_ERROR(Id(id_hex, &id));
    auto rec = r->r->Get(c, id);
    if (!rec.ok()) return rec.status();
    Out(out_json, hearth::capi::RecordToJson(*rec));
    return Status::Ok();
  });
}

int hearth_replica_find_json(const hearth_replica* r, const char* query_json, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out_json == nullptr) return Null("out");
    json j;
    HEARTH_RETURN_IF_ERROR(ParseJson(query_json, "query", &j));
    hearth::Query q;
    HEARTH_RETURN_IF_ERROR(hearth::capi::QueryFromJson(j, &q));
    auto recs = r->r->Find(q);
    if (!recs.ok()) return recs.status();
    json a = json::array();
    for (const auto& rec : *recs) a.push_back(hearth::capi::RecordToJson(rec));
    Out(out_json, a);
    return Status::Ok();
  });
}

int hearth_replica_scan(const hearth_replica* r, const char* collection, hearth_scan_fn fn, void* ctx) {
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (fn == nullptr) return Null("callback");
    std::string_view c;
    HEARTH_RETURN_IF_ERROR(Text(collection, "collection", &c));
    std::string text;
    return r->r->Scan(c, [&](const hearth::Record& rec) {
      text = hearth::capi::Dump(hearth::capi::RecordToJson(rec));
      return fn(ctx, text.c_str(), text.size()) == 0;
    });
  });
}

// ---- heads, deltas, bundles -------------------------------------------------

int hearth_replica_heads_json(const hearth_replica* r, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out_json == nullptr) return Null("out");
    auto h = r->r->GetHeads();
    if (!h.ok()) return h.status();
    *out_json = Dup(hearth::HeadsToJson(*h));
    return Status::Ok();
  });
}

int hearth_heads_save(const char* heads_json, const char* path) {
  return Guard([&]() -> Status {
    if (heads_json == nullptr) return Null("heads");
    hearth::Heads h;
    HEARTH_RETURN_IF_ERROR(HeadsArg(heads_json, &h));
    std::string_view p;
    HEARTH_RETURN_IF_ERROR(Text(path, "path", &p));
    return hearth::SaveHeads(h, std::string(p));
  });
}

int hearth_heads_load(const char* path, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (out_json == nullptr) return Null("out");
    std::string_view p;
    HEARTH_RETURN_IF_ERROR(Text(path, "path", &p));
    auto h = hearth::LoadHeads(std::string(p));
    if (!h.ok()) return h.status();
    *out_json = Dup(hearth::HeadsToJson(*h));
    return Status::Ok();
  });
}

int hearth_replica_deltas_since(const hearth_replica* r, const char* since_heads_json, uint64_t max_bytes,
                                hearth_deltas** out) {
  Clear(out);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out == nullptr) return Null("out");
    hearth::Heads since;
    HEARTH_RETURN_IF_ERROR(HeadsArg(since_heads_json, &since));
    auto d = r->r->DeltasSince(since, max_bytes);
    if (!d.ok()) return d.status();
    auto h = std::make_unique<hearth_deltas>();
    h->v = std::move(d).value();
    *out = h.release();
    return Status::Ok();
  });
}

size_t hearth_deltas_count(const hearth_deltas* d) { return d == nullptr ? 0 : d->v.size(); }

int hearth_deltas_get(const hearth_deltas* d, size_t index, const uint8_t** data, size_t* len) {
  Clear(data);
  if (len != nullptr) *len = 0;
  return Guard([&]() -> Status {
    if (d == nullptr) return Null("deltas");
    if (data == nullptr || len == nullptr) return Null("out");
    if (index >= d->v.size()) {
      return Status::InvalidArgument("delta index " + std::to_string(index) + " out of range (count " +
                                     std::to_string(d->v.size()) + ")");
    }
    *data = d->v[index].data();
    *len = d->v[index].size();
    return Status::Ok();
  });
}

void hearth_deltas_free(hearth_deltas* d) { delete d; }

int hearth_replica_apply(hearth_replica* r, const uint8_t* delta, size_t len, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (delta == nullptr) return Null("delta");
    auto a = r->r->Apply(std::span<const uint8_t>(delta, len));
    if (!a.ok()) return a.status();
    Out(out_json, hearth::capi::ApplyResultToJson(*a));
    return Status::Ok();
  });
}

int hearth_replica_apply_deltas(hearth_replica* r, const hearth_deltas* d, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (d == nullptr) return Null("deltas");
    std::vector<hearth::Bytes> copy = d->v;  // ApplyDeltas consumes its input; `d` stays usable
    hearth::BundleImportReport report;
    report.info.entries = copy.size();
    HEARTH_RETURN_IF_ERROR(hearth::ApplyDeltas(*r->r, copy, 0, report));
    Out(out_json, hearth::capi::ImportReportToJson(report));
    return Status::Ok();
  });
}

int hearth_bundle_export(const hearth_replica* r, const char* since_heads_json, const char* path, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    hearth::Heads since;
    HEARTH_RETURN_IF_ERROR(HeadsArg(since_heads_json, &since));
    std::string_view p;
    HEARTH_RETURN_IF_ERROR(Text(path, "path", &p));
    auto rep = hearth::ExportBundle(*r->r, since, std::string(p));
    if (!rep.ok()) return rep.status();
    Out(out_json, json{{"entries", rep->entries},
                       {"bytes", rep->bytes},
                       {"covers", json::parse(hearth::HeadsToJson(rep->covers))["heads"]}});
    return Status::Ok();
  });
}

int hearth_bundle_import(hearth_replica* r, const char* path, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    std::string_view p;
    HEARTH_RETURN_IF_ERROR(Text(path, "path", &p));
    auto rep = hearth::ImportBundle(*r->r, std::string(p));
    if (!rep.ok()) return rep.status();
    Out(out_json, hearth::capi::ImportReportToJson(*rep));
    return Status::Ok();
  });
}

// ---- change feed, conflicts, history ---------------------------------------

int hearth_replica_changes_json(const hearth_replica* r, uint64_t since, uint64_t limit, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out_json == nullptr) return Null("out");
    const size_t n = limit == 0 || limit > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(limit);
    auto c = r->r->Changes(since, n);
    if (!c.ok()) return c.status();
    json a = json::array();
    for (const auto& ch : *c) a.push_back(hearth::capi::ChangeToJson(ch));
    Out(out_json, a);
    return Status::Ok();
  });
}

int hearth_replica_last_change(const hearth_replica* r, uint64_t* out) {
  if (out != nullptr) *out = 0;
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out == nullptr) return Null("out");
    auto n = r->r->LastChangeNumber();
    if (!n.ok()) return n.status();
    *out = *n;
    return Status::Ok();
  });
}

int hearth_watch_new(hearth_replica* r, hearth_watch** out) {
  Clear(out);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out == nullptr) return Null("out");
    auto w = r->r->Watch();
    if (!w.ok()) return w.status();
    auto h = std::make_unique<hearth_watch>();
    h->w = std::move(w).value();
    h->owner = r;
    r->nodes.fetch_add(1);
    *out = h.release();
    return Status::Ok();
  });
}

void hearth_watch_free(hearth_watch* w) {
  if (w == nullptr) return;
  hearth_replica* owner = w->owner;
  delete w;
  if (owner != nullptr) owner->nodes.fetch_sub(1);
}

int hearth_watch_wait(hearth_watch* w, uint64_t after, uint32_t timeout_ms, int* changed) {
  if (changed != nullptr) *changed = 0;
  return Guard([&]() -> Status {
    if (w == nullptr) return Null("watch");
    if (changed == nullptr) return Null("out");
    if (timeout_ms > 3'600'000) return Status::InvalidArgument("timeout over one hour");
    auto r = w->w.Wait(after, std::chrono::milliseconds(timeout_ms));
    if (!r.ok()) return r.status();
    *changed = *r ? 1 : 0;
    return Status::Ok();
  });
}

int hearth_replica_conflicts_json(const hearth_replica* r, const char* collection, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out_json == nullptr) return Null("out");
    std::string_view c;
    if (collection != nullptr) HEARTH_RETURN_IF_ERROR(Text(collection, "collection", &c));
    auto list = r->r->Conflicts(c);
    if (!list.ok()) return list.status();
    json a = json::array();
    for (const auto& x : *list) a.push_back(hearth::capi::ConflictToJson(x));
    Out(out_json, a);
    return Status::Ok();
  });
}

int hearth_replica_history_json(const hearth_replica* r, const char* collection, const char* id_hex,
                                char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out_json == nullptr) return Null("out");
    std::string_view c;
    hearth::RecordId id;
    HEARTH_RETURN_IF_ERROR(Text(collection, "collection", &c));
    HEARTH_RETURN_IF_ERROR(Id(id_hex, &id));
    auto h = r->r->History(c, id);
    if (!h.ok()) return h.status();
    json a = json::array();
    for (const auto& e : *h) a.push_back(hearth::capi::HistoryToJson(e));
    Out(out_json, a);
    return Status::Ok();
  });
}

// ---- sync node ------------------------------------------------------------

int hearth_node_create(hearth_replica* r, const char* options_json, hearth_node** out) {
  Clear(out);
  return Guard([&]() -> Status {
    if (r == nullptr) return Null("replica");
    if (out == nullptr) return Null("out");
    hearth::NodeOptions options;
    if (options_json != nullptr) {
      json j;
      HEARTH_RETURN_IF_ERROR(ParseJson(options_json, "node options", &j));
      HEARTH_RETURN_IF_ERROR(hearth::capi::NodeOptionsFromJson(j, &options));
    }
    auto n = hearth::SyncNode::Create(*r->r, std::move(options));
    if (!n.ok()) return n.status();
    auto h = std::make_unique<hearth_node>();
    h->n = std::move(n).value();
    h->owner = r;
    r->nodes.fetch_add(1);
    *out = h.release();
    return Status::Ok();
  });
}

void hearth_node_free(hearth_node* n) {
  if (n == nullptr) return;
  hearth_replica* owner = n->owner;
  try {
    n->n.reset();  // Stop()s and joins
  } catch (...) {
  }
  delete n;
  if (owner != nullptr) owner->nodes.fetch_sub(1);
}

int hearth_node_listen(hearth_node* n, const char* endpoint) {
  return Guard([&]() -> Status {
    if (n == nullptr) return Null("node");
    std::string_view e;
    HEARTH_RETURN_IF_ERROR(Text(endpoint, "endpoint", &e));
    return n->n->Listen(std::string(e));
  });
}

int hearth_node_listen_endpoints_json(const hearth_node* n, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (n == nullptr) return Null("node");
    if (out_json == nullptr) return Null("out");
    Out(out_json, json(n->n->ListenEndpoints()));
    return Status::Ok();
  });
}

int hearth_node_connect(hearth_node* n, const char* endpoint, const char* peer_hex) {
  return Guard([&]() -> Status {
    if (n == nullptr) return Null("node");
    std::string_view e;
    hearth::AuthorId peer;
    HEARTH_RETURN_IF_ERROR(Text(endpoint, "endpoint", &e));
    HEARTH_RETURN_IF_ERROR(Author(peer_hex, "peer key", &peer));
    return n->n->Connect(std::string(e), peer);
  });
}

int hearth_node_start(hearth_node* n) {
  return Guard([&]() -> Status {
    if (n == nullptr) return Null("node");
    return n->n->Start();
  });
}

int hearth_node_stop(hearth_node* n) {
  return Guard([&]() -> Status {
    if (n == nullptr) return Null("node");
    n->n->Stop();
    return Status::Ok();
  });
}

int hearth_node_running(const hearth_node* n) { return n != nullptr && n->n->running() ? 1 : 0; }

int hearth_node_stats_json(const hearth_node* n, char** out_json) {
  Clear(out_json);
  return Guard([&]() -> Status {
    if (n == nullptr) return Null("node");
    if (out_json == nullptr) return Null("out");
    Out(out_json, hearth::capi::NodeStatsToJson(n->n->Stats()));
    return Status::Ok();
  });
}

}  // extern "C"
