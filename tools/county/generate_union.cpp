// The trade union's part of the county (generate_internal.hpp).
#include "generate_internal.hpp"

namespace hearth::county::internal {

// The union: outdoor workers' stations and outreach events.
Status GenUnion(Context& c, Replica* rep) {
  Rng r(c.seed, "union");
  Writer w(rep, c.opt.batch, c.sum);
  const auto& towns = Townships();
  auto& f = c.sum.figures;
  static const std::vector<std::string_view> kHosts = {"农商银行网点", "环卫所", "加油站", "邮政网点", "供电所",
                                                       "职工服务中心", "建筑工地", "客运站"};
  static const std::vector<std::string_view> kExtra = {"hot_meals", "charging", "first_aid", "heating_cooling"};
  static const std::vector<std::string_view> kHours = {"08:00-20:00", "07:30-21:00", "00:00-24:00", "08:30-18:00"};
  const int64_t n_st = c.S(Seed::kStations);
  for (int64_t i = 0; i < n_st; ++i) {
    const std::string& t = towns[static_cast<size_t>(i) % towns.size()];
    std::string host(r.Pick(kHosts));
    int64_t date = r.Day(DateMs(2020, 4, 1), DateMs(2022, 12, 31));
    RecordId id = r.Id(date);
    WriteBatch& b = w.b();
    b.Set("outdoor_station", id, "name", t + host + "户外劳动者服务站");
    b.Set("outdoor_station", id, "host", Str(t + host));
    b.Set("outdoor_station", id, "location", Str(t + (r.Chance(0.5) ? "正街" : "新街") + std::to_string(r.Int(1, 200)) + "号"));
    b.Set("outdoor_station", id, "township", Str(t));
    b.Set("outdoor_station", id, "date", Ts(date));
    b.Set("outdoor_station", id, "hours", Str(r.Pick(kHours)));
    for (const char* a : {"water", "rest", "toilet"}) b.Add("outdoor_station", id, "amenities", a);
    for (size_t a : r.Sample(kExtra.size(), static_cast<size_t>(r.Int(1, 4)))) b.Add("outdoor_station", id, "amenities", Str(kExtra[a]));
    for (int64_t k = 0, n = r.Int(1, 3); k < n; ++k) b.Increment("outdoor_station", id, "visits", r.Int(300, 2000));
    b.Advance("outdoor_station", id, "stage", "open");
    COUNTY_TRY(w.Done("outdoor_station"));
  }
  static const std::vector<std::string_view> kVenueKinds = {"enterprise", "project", "community"};
  static const std::vector<std::string_view> kTopics = {"wage_rights", "labour_contracts", "social_insurance",
                                                        "employment_policy", "work_safety"};
  const int64_t n_ev = c.S(Seed::kOutreach);
  std::vector<int64_t> cons = r.Split(std::max<int64_t>(n_ev, c.S(Seed::kConsultations)), static_cast<size_t>(n_ev), 1);
  for (int64_t i = 0; i < n_ev; ++i) {
    const std::string& t = r.Pick(towns);
    std::string_view vk = r.Pick(kVenueKinds);
    int64_t date = r.Day(DateMs(2022, 11, 1), DateMs(2023, 2, 28));
    RecordId id = r.Id(date);
    WriteBatch& b = w.b();
    b.Set("outreach_event", id, "title", "送法律、送政策、送服务进" + std::string(vk == "enterprise" ? "企业" : vk == "project" ? "项目" : "基层"));
    b.Set("outreach_event", id, "venue_kind", Str(vk));
    b.Set("outreach_event", id, "venue", vk == "enterprise" ? Firm(r, "天全县") : t + (vk == "project" ? "在建工地" : "便民服务中心"));
    b.Set("outreach_event", id, "township", Str(t));
    b.Set("outreach_event", id, "date", Ts(date));
    for (size_t s : r.Sample(kTopics.size(), static_cast<size_t>(r.Int(1, 3)))) b.Add("outreach_event", id, "topics", Str(kTopics[s]));
    b.Increment("outreach_event", id, "consultations", cons[static_cast<size_t>(i)]);
    COUNTY_TRY(w.Done("outreach_event"));
  }
  COUNTY_TRY(w.Flush());
  f["union.stations"] = n_st;
  f["union.outreach_events"] = n_ev;
  f["union.consultations"] = std::accumulate(cons.begin(), cons.end(), int64_t{0});
  return Status::Ok();
}

}  // namespace hearth::county::internal
