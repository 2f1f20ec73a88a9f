// GenerateCounty: a synthetic county at the seed article's scale.
//
// Every random choice comes from std::mt19937_64 streams seeded from
// CountyOptions::seed (one stream per part, so a change in one part does not
// move the others), with our own integer helpers instead of the <random>
// distributions (whose output differs between standard libraries). Record
// ids come from the same streams: 48 bits of the record's date (so records
// sort by date in storage, as RecordId::Generate ids sort by creation time)
// and 80 random bits; in the partitioned scopes (hr.workers, civil.children)
// the first 4 bytes are the record's township's PartitionPrefix instead
// (InTownship), so those sort by township, then date. Same seed and scale -> same records, ids and values.
//
// The headline counts are exact: each is Scaled(n) of the seed's figure
// (docs/domain.md lists them), and sums such as the loans' total or the
// wages recovered are distributed over the records so that they add up
// exactly. The figures the report must show are returned in
// CountySummary::figures.
//
// This file runs the parts in order; each agency's part is in its own file
// (generate_hr.cpp, generate_township.cpp, generate_civil.cpp,
// generate_union.cpp), their shared internals in generate_internal.hpp.
#include <chrono>
#include <cmath>

#include "generate_internal.hpp"

namespace hearth::county {

int64_t Scaled(int64_t n, double scale) {
  if (n <= 0 || scale <= 0) return 0;
  return std::max<int64_t>(1, std::llround(static_cast<double>(n) * scale));
}

Result<CountySummary> GenerateCounty(const CountyOptions& options, const AgencyReplicas& replicas) {
  if (!(options.scale > 0) || options.scale > 100) {
    return Status::InvalidArgument("county scale must be in (0, 100]; got " + std::to_string(options.scale));
  }
  Replica* hr = replicas.hr ? replicas.hr : replicas.township;
  Replica* town_hr = replicas.township ? replicas.township : replicas.hr;
  // Under a policy that limits the township office to its own township's
  // workers (partition = "own", policies/county.toml), the bureau registers
  // the workers of the whole county instead (docs/policy.md, "Partitioned
  // scopes"); the township keeps its own scopes.
  if (replicas.township && replicas.hr && replicas.township != replicas.hr) {
    auto pol = replicas.township->CurrentPolicy();
    if (!pol.ok()) return pol.status();
    const ScopeSpec* workers = *pol ? (*pol)->FindScope("hr.workers") : nullptr;
    if (workers != nullptr) {
      for (const std::string& t : workers->partitions) {
        if (!((*pol)->RightsOf(replicas.township->author(), PartitionScope("hr.workers", t)) & Right::kWrite)) {
          town_hr = replicas.hr;
          break;
        }
      }
    }
  }
  if (!hr && !replicas.civil && !replicas.union_) {
    return Status::InvalidArgument("GenerateCounty: no replica to write into");
  }
  auto t0 = std::chrono::steady_clock::now();
  using namespace internal;
  CountySummary sum;
  Context c(options, sum);
  PlanWorkers(c);
  PlanStations(c);
  if (hr) COUNTY_TRY(GenWorkers(c, town_hr));
  if (replicas.township) COUNTY_TRY(GenTownship(c, replicas.township));
  if (hr) {
    COUNTY_TRY(GenDocuments(c, town_hr));
    COUNTY_TRY(GenServices(c, hr));
    COUNTY_TRY(GenWages(c, hr, town_hr));
  }
  if (replicas.civil) COUNTY_TRY(GenChildren(c, replicas.civil));
  if (replicas.union_) COUNTY_TRY(GenUnion(c, replicas.union_));
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace hearth::county
