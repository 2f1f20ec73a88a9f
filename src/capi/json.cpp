// JSON shapes of the C API; see json.hpp and docs/c-api.md.
#include "capi/json.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

#include "base/bytes.hpp"

namespace hearth::capi {

using json = nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json ValueToJson(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull: return nullptr;
    case ValueType::kBool: return v.as_bool();
    case ValueType::kInt: return v.as_int();
    case ValueType::kDouble: return v.as_double();
    case ValueType::kString: return v.as_string();
    case ValueType::kBytes: return json{{"$bytes", base::ToHex(v.as_bytes())}};
    case ValueType::kTimestamp: return json{{"$ts", v.as_timestamp().ms}};
    case ValueType::kRef: return json{{"$ref", v.as_ref().ToHex()}};
  }
  return nullptr;
}

Status ValueFromJson(const json& j, Value* out) {
  switch (j.type()) {
    case json::value_t::null: *out = Value(); return Status::Ok();
    case json::value_t::boolean: *out = Value(j.get<bool>()); return Status::Ok();
    case json::value_t::number_integer: *out = Value(j.get<int64_t>()); return Status::Ok();
    case json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Status::InvalidArgument("value: integer out of the int64 range");
      }
      *out = Value(static_cast<int64_t>(u));
      return Status::Ok();
    }
    case json::value_t::number_float: *out = Value(j.get<double>()); return Status::Ok();
    case json::value_t::string: *out = Value(j.get<std::string>()); return Status::Ok();
    case json::value_t::object: {
      if (j.size() != 1) return Status::InvalidArgument("value: an object value has exactly one key");
      const auto it = j.begin();
      const std::string key = it.key();
      const json& inner = it.value();
      if (key == "$ts") {
        if (!inner.is_number_integer()) return Status::InvalidArgument("value: $ts is an integer (ms)");
        if (inner.is_number_unsigned() &&
            inner.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Status::InvalidArgument("value: $ts out of range");
        }
        *out = Value(Timestamp{inner.get<int64_t>()});
        return Status::Ok();
      }
      if (!inner.is_string()) return Status::InvalidArgument("value: " + key + " takes a hex string");
      const std::string& hex = inner.get_ref<const std::string&>();
      if (key == "$bytes") {
        auto b = base::FromHex(hex);
        if (!b) return Status::InvalidArgument("value: $bytes is not hex");
        *out = Value(std::move(*b));
        return Status::Ok();
      }
      if (key == "$ref") {
        auto id = RecordId::FromHex(hex);
        if (!id.ok()) return Status::InvalidArgument("value: $ref: " + id.status().message());
        *out = Value(*id);
        return Status::Ok();
      }
      return Status::InvalidArgument("value: unknown key '" + key + "' (use $bytes, $ts or $ref)");
    }
    default: return Status::InvalidArgument("value: arrays and binary are not values");
  }
}

namespace {

json FieldToJson(const FieldValue& f) {
  json j;
  j["kind"] = std::string(FieldKindName(f.kind));
  switch (f.kind) {
    case FieldKind::kLww:
      j["value"] = ValueToJson(f.value);
      j["hlc"] = f.hlc;
      j["author"] = f.author.ToHex();
      break;
    case FieldKind::kMv:
    case FieldKind::kSet: {
      json a = json::array();
      for (const auto& v : f.values) a.push_back(ValueToJson(v));
      j["values"] = std::move(a);
      if (f.kind == FieldKind::kMv) {
        j["conflict"] = f.conflict();
        json src = json::array();  // who wrote each concurrent value, and when
        for (const auto& e : f.sources) {
          src.push_back({{"hlc", e.hlc}, {"author", e.author.ToHex()}, {"value", ValueToJson(e.value)}});
        }
        j["sources"] = std::move(src);
      }
      break;
    }
    case FieldKind::kCounter: j["value"] = f.count; break;
    case FieldKind::kStatus: j["value"] = ValueToJson(f.value); break;
    case FieldKind::kLog: {
      json a = json::array();
      for (const auto& e : f.log) {
        a.push_back({{"hlc", e.hlc}, {"author", e.author.ToHex()}, {"value", ValueToJson(e.value)}});
      }
      j["entries"] = std::move(a);
      break;
    }
  }
  return j;
}

}  // namespace

json RecordToJson(const Record& r) {
  json fields = json::object();
  for (const auto& [name, f] : r.fields) fields[name] = FieldToJson(f);
  return {{"collection", r.collection}, {"id", r.id.ToHex()}, {"deleted", r.deleted}, {"fields", std::move(fields)}};
}

Status QueryFromJson(const json& j, Query* q) {
  if (!j.is_object()) return Status::InvalidArgument("query: not a JSON object");
  for (const auto& [key, v] : j.items()) {
    if (key == "collection" || key == "field") {
      if (!v.is_string()) return Status::InvalidArgument("query: " + key + " is a string");
      (key == "collection" ? q->collection : q->field) = v.get<std::string>();
    } else if (key == "equals" || key == "lower" || key == "upper") {
      Value value;
      HEARTH_RETURN_IF_ERROR(ValueFromJson(v, &value).WithContext("query: " + key));
      (key == "equals" ? q->equals : key == "lower" ? q->lower : q->upper) = std::move(value);
    } else if (key == "limit") {
      if (!v.is_number_unsigned()) return Status::InvalidArgument("query: limit is a non-negative integer");
      q->limit = static_cast<size_t>(v.get<uint64_t>());
    } else if (key == "include_deleted") {
      if (!v.is_boolean()) return Status::InvalidArgument("query: include_deleted is a bool");
      q->include_deleted = v.get<bool>();
    } else {
      return Status::InvalidArgument("query: unknown key '" + key + "'");
    }
  }
  if (q->collection.empty()) return Status::InvalidArgument("query: collection is missing");
  return Status::Ok();
}

json ApplyResultToJson(const ApplyResult& a) {
  json j{{"outcome", std::string(ApplyOutcomeName(a.outcome))},
         {"author", a.author.ToHex()},
         {"seq", a.seq},
         {"unblocked", a.unblocked},
         {"reason", a.reason}};
  return j;
}

json ImportReportToJson(const BundleImportReport& r) {
  json rejected = json::array();
  for (const auto& x : r.rejected) {
    rejected.push_back({{"author", x.author.ToHex()}, {"seq", x.seq}, {"index", x.index}, {"reason", x.reason}});
  }
  return {{"entries", r.info.entries}, {"applied", r.applied},   {"duplicate", r.duplicate},
          {"pending", r.pending},      {"unreadable", r.unreadable}, {"fork", r.fork},
          {"held", r.held},            {"denied", r.denied},     {"waiting_schema", r.waiting_schema},
          {"unblocked", r.unblocked},  {"rejected", std::move(rejected)}};
}

Status NodeOptionsFromJson(const json& j, NodeOptions* out) {
  if (!j.is_object()) return Status::InvalidArgument("node options: not a JSON object");
  for (const auto& [key, v] : j.items()) {
    if (!v.is_number_unsigned() || v.get<uint64_t>() < 1 || v.get<uint64_t>() > 60'000) {
      return Status::InvalidArgument("node options: " + key + " is an integer in [1, 60000] (ms)");
    }
    if (key == "tick_ms") out->tick_ms = v.get<uint64_t>();
    else if (key == "heads_poll_ms") out->heads_poll_ms = v.get<uint64_t>();
    else return Status::InvalidArgument("node options: unknown key '" + key + "'");
  }
  return Status::Ok();
}

namespace {
json PeerToJson(const PeerStats& p) {
  return {{"endpoint", p.endpoint},
          {"outbound", p.outbound},
          {"peer", p.peer.ToHex()},
          {"connected", p.connected},
          {"sessions", p.sessions},
          {"session_failures", p.session_failures},
          {"last_error", p.last_error},
          {"bytes_in", p.bytes_in},
          {"bytes_out", p.bytes_out},
          {"messages_in", p.messages_in},
          {"messages_out", p.messages_out},
          {"deltas_sent", p.deltas_sent},
          {"deltas_received", p.deltas_received},
          {"deltas_applied", p.deltas_applied},
          {"deltas_rejected", p.deltas_rejected},
          {"deltas_unreadable", p.deltas_unreadable},
          {"caught_up", p.caught_up},
          {"last_sync_unix_ms", p.last_sync_unix_ms}};
}
}  // namespace

json NodeStatsToJson(const NodeStats& s) {
  json peers = json::array(), closed = json::array();
  for (const auto& p : s.peers) peers.push_back(PeerToJson(p));
  for (const auto& p : s.closed) closed.push_back(PeerToJson(p));
  return {{"peers", std::move(peers)},
          {"closed", std::move(closed)},
          {"zap_admitted", s.zap_admitted},
          {"zap_refused", s.zap_refused},
          {"handshake_failures", s.handshake_failures},
          {"bad_messages", s.bad_messages},
          {"deltas_unreadable", s.deltas_unreadable},
          {"loop_iterations", s.loop_iterations}};
}

json ChangeToJson(const Change& c) {
  return {{"number", c.number},       {"collection", c.collection}, {"id", c.id.ToHex()},
          {"fields", c.fields},       {"author", c.author.ToHex()}, {"remote", c.remote},
          {"rederived", c.rederived}, {"hlc", c.hlc}};
}

json ConflictToJson(const Conflict& c) {
  json values = json::array();
  for (const auto& v : c.values) {
    values.push_back({{"value", ValueToJson(v.value)}, {"author", v.author.ToHex()}, {"hlc", v.hlc}});
  }
  return {{"collection", c.collection}, {"id", c.id.ToHex()}, {"field", c.field}, {"values", std::move(values)}};
}

json HistoryToJson(const HistoryEntry& e) {
  return {{"hlc", e.hlc},     {"author", e.author.ToHex()}, {"author_name", e.author_name},
          {"seq", e.seq},     {"field", e.field},           {"operation", e.operation},
          {"value", ValueToJson(e.value)}, {"p", e.p}, {"n", e.n}};
}

}  // namespace hearth::capi
