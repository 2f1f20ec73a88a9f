// Civil affairs' part of the county (generate_internal.hpp).
#include "generate_internal.hpp"

namespace hearth::county::internal {

// Child care: companion homes, mothers, children, activities (civil affairs).
Status GenChildren(Context& c, Replica* rep) {
  Rng r(c.seed, "children");
  Writer w(rep, c.opt.batch, c.sum);
  const auto& villages = Villages();
  const auto& towns = Townships();
  auto& f = c.sum.figures;
  struct Home {
    RecordId id;
    size_t township;
    uint32_t village;
    std::vector<RecordId> kids;
  };
  std::vector<Home> homes;
  static const std::vector<std::string_view> kAmenities = {"reading_corner", "playroom", "counselling_room",
                                                           "homework_desks", "video_call_corner"};
  const int64_t n_homes = c.S(Seed::kHomes);
  for (int64_t i = 0; i < n_homes; ++i) {
    size_t t = static_cast<size_t>(i) % towns.size();
    std::vector<uint32_t> vs;
    for (uint32_t v = 0; v < villages.size(); ++v) {
      if (villages[v].township == towns[t]) vs.push_back(v);
    }
    uint32_t v = r.Pick(vs);
    int64_t date = r.Day(DateMs(2019, 3, 1), DateMs(2021, 12, 31));
    Home h{InTownship(r.Id(date), towns[t]), t, v, {}};
    WriteBatch& b = w.b();
    b.Set("companion_home", h.id, "name", villages[v].name + "童伴之家");
    b.Set("companion_home", h.id, "township", Str(towns[t]));
    b.Set("companion_home", h.id, "village", Str(villages[v].name));
    b.Set("companion_home", h.id, "date", Ts(date));
    for (size_t a : r.Sample(kAmenities.size(), static_cast<size_t>(r.Int(2, 4)))) {
      b.Add("companion_home", h.id, "amenities", Str(kAmenities[a]));
    }
    COUNTY_TRY(w.Done("companion_home"));
    // Its companion mother.
    RecordId m = InTownship(r.Id(date), towns[t]);
    b.Set("companion_mother", m, "name", PersonName(r, false));
    b.Set("companion_mother", m, "home", h.id);
    b.Set("companion_mother", m, "township", Str(towns[t]));
    b.Set("companion_mother", m, "date", Ts(date));
    b.Set("companion_mother", m, "phone", Phone(r));
    b.Add("companion_mother", m, "training", "child_protection");
    b.Add("companion_mother", m, "training", "psychological_first_aid");
    COUNTY_TRY(w.Done("companion_mother"));
    homes.push_back(std::move(h));
  }
  // Children, spread over the homes.
  const int64_t n_children = std::max<int64_t>(n_homes, c.S(Seed::kChildren));
  std::vector<int64_t> per_home = r.Split(n_children, homes.size(), 1);
  for (size_t hi = 0; hi < homes.size(); ++hi) {
    Home& h = homes[hi];
    const auto& away = c.away_by_township[h.township];
    for (int64_t k = 0; k < per_home[hi]; ++k) {
      int64_t date = r.Day(DateMs(2019, 9, 1), DateMs(2023, 2, 20));
      RecordId id = InTownship(r.Id(date), towns[h.township]);
      h.kids.push_back(id);
      WriteBatch& b = w.b();
      b.Set("child", id, "name", Str(r.Pick(internal::kChildGiven)));
      b.Set("child", id, "birth_year", r.Int(2008, 2019));
      b.Set("child", id, "home", h.id);
      b.Set("child", id, "township", Str(towns[h.township]));
      b.Set("child", id, "village", Str(villages[h.village].name));
      b.Set("child", id, "date", Ts(date));
      b.Set("child", id, "guardian", Str(r.Pick(kGuardians)));
      if (!away.empty()) b.Set("child", id, "parent", c.workers[r.Pick(away)].id);
      for (size_t s : r.Sample(kNeeds.size(), static_cast<size_t>(r.Int(1, 2)))) b.Add("child", id, "needs", Str(kNeeds[s]));
      COUNTY_TRY(w.Done("child"));
    }
  }
  // Activities under the five care projects.
  const int64_t n_act = c.S(Seed::kActivities);
  for (int64_t i = 0; i < n_act; ++i) {
    const Home& h = homes[r.Index(homes.size())];
    const CareProject& p = kCareProjects[static_cast<size_t>(i) % kCareProjects.size()];
    int64_t date = r.Day(DateMs(2022, 3, 1), DateMs(2023, 2, 28));
    RecordId id = InTownship(r.Id(date), towns[h.township]);
    WriteBatch& b = w.b();
    b.Set("care_activity", id, "project", Str(p.key));
    b.Set("care_activity", id, "home", h.id);
    b.Set("care_activity", id, "township", Str(towns[h.township]));
    b.Set("care_activity", id, "date", Ts(date));
    b.Set("care_activity", id, "topic", Str(r.Pick(p.topics)));
    size_t k = std::min(h.kids.size(), static_cast<size_t>(r.Int(3, 15)));
    for (size_t a : r.Sample(h.kids.size(), k)) b.Add("care_activity", id, "attendees", h.kids[a]);
    COUNTY_TRY(w.Done("care_activity"));
  }
  COUNTY_TRY(w.Flush());
  f["children.homes"] = n_homes;
  f["children.mothers"] = n_homes;
  f["children.count"] = n_children;
  f["children.activities"] = n_act;
  return Status::Ok();
}

}  // namespace hearth::county::internal
