// The synthetic county and the county report (issue #6).
//
// GenerateCounty() writes a realistic county, at the scale of the seed article
// (docs/domain.md), into the replicas of the agencies that own each part:
// worker services through hr and the townships, wage cases through hr's
// labour inspectors and the townships, child care through civil affairs,
// outdoor stations through the union, village service stations through the
// townships. Same seed, same records (record ids and values; the deltas'
// signatures differ per author key, as they must).
//
// ComputeReport() derives the seed's headline figures from whatever records
// one replica can read; fields it cannot read are reported as unavailable.
//
// Used by `hearth seed-county`, `hearth report`, the four-agency demo and the
// tests. Built as the static library hearth_county (tools/county/).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/replica.hpp"
#include "hearth/schema.hpp"
#include "hearth/status.hpp"

namespace hearth::county {

// The schema pack shipped in schemas/ (all collections of the county).
// `dir` defaults to the installed/source schemas directory.
// The pack is one file, <dir>/county.toml. With `dir` empty: the directory
// named by $HEARTH_SCHEMAS_DIR if set, else the source tree's schemas/ when
// it exists, else the copy embedded in the library at build time.
Result<Schema> LoadSchemaPack(const std::string& dir = "");
// The schema pack text embedded at build time (schemas/county.toml).
std::string SchemaPackText();

// The five scopes of policies/county.toml, in display order.
const std::vector<std::string>& CountyScopes();
// The county's townships (乡镇), in the generator's order.
const std::vector<std::string>& Townships();
// "YYYY-MM-DD" (UTC midnight) or "@<ms>" -> ms since the Unix epoch.
// kInvalidArgument otherwise.
Result<int64_t> ParseDate(std::string_view text);
// ms since the Unix epoch -> "YYYY-MM-DD" (UTC).
std::string FormatDate(int64_t ms);

// max(1, round(n * scale)) for n > 0: how the generator scales each of the
// seed's counts (0 stays 0).
int64_t Scaled(int64_t n, double scale);

struct CountyOptions {
  uint64_t seed = 20260128;
  // 1.0 = the seed article's scale (48,500 workers, ...); tests use less.
  double scale = 1.0;
  // Records per commit (one delta per commit and scope).
  uint32_t batch = 250;
};

// Where each part is written. A null replica means "that agency's part is
// written by the next one that can": hr falls back to township and the other
// way round; civil, union and township.services are skipped when null.
struct AgencyReplicas {
  Replica* hr = nullptr;        // hr.workers, hr.wages (needs labour_inspector)
  Replica* union_ = nullptr;    // union.stations
  Replica* civil = nullptr;     // civil.children
  Replica* township = nullptr;  // township.services (and its share of hr.*)
};

// What was written: records per collection, and the expected report figures.
struct CountySummary {
  std::map<std::string, uint64_t> records;  // collection -> count
  // The figures ComputeReport gives for the whole county on a replica that
  // can read everything written (Figure::key -> value).
  std::map<std::string, int64_t> figures;
  uint64_t ops = 0;
  uint64_t deltas = 0;
  double seconds = 0;
};

Result<CountySummary> GenerateCounty(const CountyOptions& options, const AgencyReplicas& replicas);

struct ReportFilter {
  std::optional<std::string> township;  // only records of this township
  std::optional<int64_t> from_ms;       // only records dated in [from, to)
  std::optional<int64_t> to_ms;
};

// One headline figure. `available` is false when the replica cannot read the
// scope it comes from (then value is 0).
struct Figure {
  std::string key;    // stable id, e.g. "workers.out_of_province"
  std::string label;  // human label, e.g. "Workers out of province"
  std::string unit;   // "", "yuan", "fen", ...
  int64_t value = 0;
  bool available = true;
  std::string scope;  // the scope the figure is read from, e.g. "civil.children"
  int level = 0;      // 1: a part of the figure above it (display indentation)
};

struct CountyReport {
  std::string county;
  std::vector<Figure> figures;  // in display order
  ReportFilter filter;          // what it was computed over
  // When and where it was computed (shown by every rendering): Unix ms, and
  // the replica's author key (64 hex) and member name in the policy ("" if none).
  int64_t generated_ms = 0;
  std::string node, node_name;
  std::vector<std::string> unreadable_scopes;  // of CountyScopes(), in that order
  // The same figures per township (township -> key -> value), for the
  // charts; records without a township are left out. Only available figures.
  std::map<std::string, std::map<std::string, int64_t>> by_township;
  const Figure* Find(const std::string& key) const;
};

Result<CountyReport> ComputeReport(const Replica& replica, const ReportFilter& filter = {});

// Renderings for `hearth report`.
std::string ReportText(const CountyReport& report);
std::string ReportJson(const CountyReport& report);
std::string ReportHtml(const CountyReport& report);  // self-contained, inline SVG charts

}  // namespace hearth::county
