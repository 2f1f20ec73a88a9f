// The township office's part of the county (generate_internal.hpp).
#include "generate_internal.hpp"

namespace hearth::county::internal {

// Township services: village stations (with their ids, which documents
// refer to) and outreach rounds.
void PlanStations(Context& c) {
  Rng r(c.seed, "station-ids");
  const int64_t n = std::min<int64_t>(c.S(Seed::kVillageStations), static_cast<int64_t>(Villages().size()));
  c.stations.clear();
  c.station_dates.clear();
  for (int64_t i = 0; i < n; ++i) {
    c.station_dates.push_back(r.Day(DateMs(2021, 3, 1), DateMs(2022, 9, 30)));
    c.stations.push_back(r.Id(c.station_dates.back()));
  }
}

Status GenTownship(Context& c, Replica* rep) {
  Rng r(c.seed, "township");
  Writer w(rep, c.opt.batch, c.sum);
  const auto& villages = Villages();
  const size_t n = c.stations.size();
  const int64_t n_new = std::min<int64_t>(c.S(Seed::kNewStations), static_cast<int64_t>(n));
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  r.Shuffle(order);
  std::vector<bool> is_new(n, false);
  for (int64_t i = 0; i < n_new; ++i) is_new[order[static_cast<size_t>(i)]] = true;
  const int64_t staff_total = std::max<int64_t>(n_new, c.S(Seed::kStationStaff));
  std::vector<int64_t> staff = r.Split(staff_total, static_cast<size_t>(n_new), 1);
  size_t new_i = 0;
  int64_t plaques = 0, staffed = 0;
  for (size_t v = 0; v < n; ++v) {
    const RecordId& id = c.stations[v];
    // New stations opened during the campaign; the others got their plaque earlier.
    int64_t date = is_new[v] ? r.Day(DateMs(2022, 10, 10), DateMs(2023, 2, 20)) : c.station_dates[v];
    WriteBatch& b = w.b();
    b.Set("village_station", id, "name", villages[v].name + "农民工综合服务站");
    b.Set("village_station", id, "township", Str(villages[v].township));
    b.Set("village_station", id, "village", Str(villages[v].name));
    b.Set("village_station", id, "date", Ts(date));
    b.Set("village_station", id, "plaque", true);
    b.Set("village_station", id, "new_build", static_cast<bool>(is_new[v]));
    b.Add("village_station", id, "services", "worker_service");
    if (is_new[v]) {
      for (const char* s : {"telecom", "post", "finance"}) b.Add("village_station", id, "services", s);
      for (int64_t s = 0; s < staff[new_i]; ++s) b.Add("village_station", id, "staff", PersonName(r, r.Chance(0.5)));
      staffed += staff[new_i];
      ++new_i;
    }
    b.Increment("village_station", id, "visits", r.Int(20, 600));
    ++plaques;
    COUNTY_TRY(w.Done("village_station"));
  }
  static const std::vector<std::string_view> kKinds = {"policy_briefing", "job_push", "door_to_door", "letter"};
  const int64_t rounds = c.S(Seed::kRounds);
  for (int64_t i = 0; i < rounds; ++i) {
    const auto& v = villages[r.Index(villages.size())];
    int64_t date = r.Day(DateMs(2022, 11, 1), DateMs(2023, 2, 28));
    RecordId id = r.Id(date);
    WriteBatch& b = w.b();
    b.Set("township_outreach", id, "kind", Str(r.Pick(kKinds)));
    b.Set("township_outreach", id, "township", Str(v.township));
    b.Set("township_outreach", id, "village", Str(v.name));
    b.Set("township_outreach", id, "date", Ts(date));
    b.Increment("township_outreach", id, "reached", r.Int(15, 180));
    COUNTY_TRY(w.Done("township_outreach"));
  }
  COUNTY_TRY(w.Flush());
  auto& f = c.sum.figures;
  f["township.stations"] = plaques;
  f["township.new_stations"] = n_new;
  f["township.station_staff"] = staffed;
  return Status::Ok();
}

}  // namespace hearth::county::internal
