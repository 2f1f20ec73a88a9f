// JSON shapes of the C API (docs/c-api.md, "JSON shapes"): records, values,
// queries, reports. Internal to src/capi; nlohmann-json never reaches a
// public header.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "hearth/bundle.hpp"
#include "hearth/node.hpp"
#include "hearth/replica.hpp"
#include "hearth/status.hpp"

namespace hearth::capi {

// Compact text; invalid UTF-8 (never produced by the replica) is replaced.
std::string Dump(const nlohmann::json& j);

// null, true/false, integers (int64 range), other numbers (double),
// strings, {"$bytes": hex}, {"$ts": ms}, {"$ref": 32 hex}.
nlohmann::json ValueToJson(const Value& v);
Status ValueFromJson(const nlohmann::json& j, Value* out);

nlohmann::json RecordToJson(const Record& r);
Status QueryFromJson(const nlohmann::json& j, Query* out);
nlohmann::json ApplyResultToJson(const ApplyResult& a);
nlohmann::json ImportReportToJson(const BundleImportReport& r);
Status NodeOptionsFromJson(const nlohmann::json& j, NodeOptions* out);
nlohmann::json NodeStatsToJson(const NodeStats& s);
nlohmann::json ChangeToJson(const Change& c);
nlohmann::json ConflictToJson(const Conflict& c);
nlohmann::json HistoryToJson(const HistoryEntry& e);

}  // namespace hearth::capi
