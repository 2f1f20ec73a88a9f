// The labour bureau's part of the county (generate_internal.hpp): workers,
// documents, worker services, wage arrears.
#include "generate_internal.hpp"

namespace hearth::county::internal {

// The workers' ids, villages, areas and dates: planned apart from their
// details so that the other parts (children's parents, wage cases, ...) refer
// to the same workers whichever replicas are written.
void PlanWorkers(Context& c) {
  Rng r(c.seed, "worker-ids");
  const auto& villages = Villages();
  std::vector<uint8_t> areas;
  const int64_t n_area[4] = {c.S(Seed::kLocal), c.S(Seed::kCity), c.S(Seed::kProvince), c.S(Seed::kOutOfProvince)};
  for (uint8_t a = 0; a < 4; ++a) areas.insert(areas.end(), static_cast<size_t>(n_area[a]), a);
  r.Shuffle(areas);
  c.workers.clear();
  c.workers.reserve(areas.size());
  c.away_by_township.assign(Townships().size(), {});
  const int64_t from = DateMs(2021, 1, 4), to = DateMs(2023, 2, 28);
  for (size_t i = 0; i < areas.size(); ++i) {
    Worker wk;
    wk.village = static_cast<uint32_t>(r.Index(villages.size()));
    wk.area = areas[i];
    wk.date = r.Day(from, to);
    const std::string& township = villages[wk.village].township;
    wk.id = InTownship(r.Id(wk.date), township);
    c.workers.push_back(wk);
    size_t t = static_cast<size_t>(std::find(Townships().begin(), Townships().end(), township) - Townships().begin());
    if (wk.area != 0) c.away_by_township[t].push_back(i);
  }
}

// Workers, their contacts and welfare visits (the township's share).
Status GenWorkers(Context& c, Replica* rep) {
  Rng r(c.seed, "workers");
  Writer w(rep, c.opt.batch, c.sum);
  const auto& villages = Villages();
  int64_t n_area[4] = {0, 0, 0, 0};
  for (const Worker& wk : c.workers) ++n_area[wk.area];
  const size_t n = c.workers.size();
  // Who is reached how (each worker exactly once, 4.85万人次 in the seed).
  const int64_t n_visits = std::min<int64_t>(c.S(Seed::kVisits), static_cast<int64_t>(n));
  const int64_t n_calls = std::min<int64_t>(c.S(Seed::kCalls), static_cast<int64_t>(n) - n_visits);
  std::vector<uint8_t> contact(n, 2);  // 0 visit, 1 call, 2 sms
  {
    auto pick = r.Sample(n, static_cast<size_t>(n_visits + n_calls));
    for (size_t i = 0; i < pick.size(); ++i) contact[pick[i]] = i < static_cast<size_t>(n_visits) ? 0 : 1;
  }
  std::unordered_set<std::string> ids;
  int64_t contacts = 0;
  for (size_t i = 0; i < n; ++i) {
    const Worker& wk = c.workers[i];
    const std::string& township = villages[wk.village].township;
    bool male = r.Chance(0.62);
    int y = static_cast<int>(r.Int(1963, 2004)), m = static_cast<int>(r.Int(1, 12)), d = static_cast<int>(r.Int(1, 28));
    std::string idn = IdNumber(r, y, m, d, male);
    while (!ids.insert(idn).second) idn = IdNumber(r, y, m, d, male);
    WriteBatch& b = w.b();
    const RecordId& id = wk.id;
    b.Set("worker", id, "name", PersonName(r, male));
    b.Set("worker", id, "id_hash", internal::Sha256Hex(idn));
    b.Set("worker", id, "gender", male ? "male" : "female");
    b.Set("worker", id, "birth_year", int64_t{y});
    b.Set("worker", id, "phone", Phone(r));
    b.Set("worker", id, "township", Str(township));
    b.Set("worker", id, "village", Str(villages[wk.village].name));
    b.Set("worker", id, "date", Ts(wk.date));
    for (size_t s : r.Sample(kSkills.size(), static_cast<size_t>(r.Int(1, 3)))) b.Add("worker", id, "skills", Str(kSkills[s]));
    b.Set("worker", id, "work_area", Str(kAreas[wk.area]));
    std::string_view place = wk.area == 0 ? "天全县" : wk.area == 1 ? r.Pick(kYaanPlaces)
                           : wk.area == 2 ? r.Pick(kProvincePlaces) : r.Pick(kOutPlaces);
    b.Set("worker", id, "work_place", Str(place));
    if (r.Chance(0.9)) b.Set("worker", id, "employer", Firm(r, wk.area == 0 ? "天全县" : place));
    if (wk.area == 0 && r.Chance(0.25)) b.Add("worker", id, "tags", "returnee");
    b.Increment("worker", id, contact[i] == 0 ? "visits" : contact[i] == 1 ? "calls" : "sms", 1);
    ++contacts;
    COUNTY_TRY(w.Done("worker"));
  }
  COUNTY_TRY(w.Flush());
  auto& f = c.sum.figures;
  f["workers.local"] = n_area[0];
  f["workers.city"] = n_area[1];
  f["workers.province"] = n_area[2];
  f["workers.out_of_province"] = n_area[3];
  f["workers.in_city"] = n_area[0] + n_area[1];
  f["workers.total"] = static_cast<int64_t>(n);
  f["workers.contacts"] = contacts;

  // Welfare visits with a gift pack: one per visited worker (1.8万份礼包).
  int64_t packs = 0;
  const int64_t v_from = DateMs(2023, 1, 5), v_to = DateMs(2023, 2, 5);
  for (size_t i = 0; i < n; ++i) {
    if (contact[i] != 0) continue;
    const Worker& wk = c.workers[i];
    int64_t date = r.Day(v_from, v_to);
    RecordId id = InTownship(r.Id(date), c.TownshipOf(wk));
    WriteBatch& b = w.b();
    b.Set("welfare_visit", id, "worker", wk.id);
    b.Set("welfare_visit", id, "township", Str(c.TownshipOf(wk)));
    b.Set("welfare_visit", id, "date", Ts(date));
    int staff = static_cast<int>(r.Int(1, 2));
    for (int s = 0; s < staff; ++s) b.Add("welfare_visit", id, "visitors", PersonName(r, r.Chance(0.5)));
    b.Increment("welfare_visit", id, "gift_packs", 1);
    ++packs;
    COUNTY_TRY(w.Done("welfare_visit"));
  }
  COUNTY_TRY(w.Flush());
  f["welfare.gift_packs"] = packs;
  return Status::Ok();
}

// Document services (证照办理), entered at the village stations.
Status GenDocuments(Context& c, Replica* rep) {
  Rng r(c.seed, "documents");
  Writer w(rep, c.opt.batch, c.sum);
  static const std::vector<std::string_view> kKinds = {"business_licence", "business_licence", "social_security_card",
                                                       "social_security_card", "health_certificate",
                                                       "skills_certificate", "id_card", "residence_permit"};
  const int64_t n = c.S(Seed::kDocuments);
  const int64_t from = DateMs(2022, 11, 1), to = DateMs(2023, 2, 28);
  for (int64_t i = 0; i < n; ++i) {
    const Worker& wk = c.workers[r.Index(c.workers.size())];
    int64_t date = r.Day(from, to);
    RecordId id = InTownship(r.Id(date), c.TownshipOf(wk));
    WriteBatch& b = w.b();
    b.Set("document_service", id, "worker", wk.id);
    if (wk.village < c.stations.size() && r.Chance(0.7)) b.Set("document_service", id, "station", c.stations[wk.village]);
    b.Set("document_service", id, "kind", Str(r.Pick(kKinds)));
    b.Set("document_service", id, "township", Str(c.TownshipOf(wk)));
    b.Set("document_service", id, "date", Ts(date));
    b.Advance("document_service", id, "stage", "issued");
    COUNTY_TRY(w.Done("document_service"));
  }
  COUNTY_TRY(w.Flush());
  c.sum.figures["documents.count"] = n;
  return Status::Ok();
}

// The bureau's worker services: events, postings, placements, training,
// loans, shuttles.
Status GenServices(Context& c, Replica* rep) {
  Rng r(c.seed, "services");
  Writer w(rep, c.opt.batch, c.sum);
  const auto& towns = Townships();
  auto& f = c.sum.figures;
  auto worker = [&]() -> const Worker& { return c.workers[r.Index(c.workers.size())]; };

  // Recruitment events.
  const size_t n_ev = static_cast<size_t>(std::min<int64_t>(c.S(Seed::kEvents), static_cast<int64_t>(kEvents.size())));
  std::vector<double> ev_weight;
  for (size_t e = 0; e < n_ev; ++e) ev_weight.push_back(kEvents[e].weight);
  std::vector<int64_t> intentions = r.Split(c.S(Seed::kIntentions), n_ev, 0, ev_weight);
  c.events.clear();
  for (size_t e = 0; e < n_ev; ++e) {
    const EventDef& d = kEvents[e];
    int64_t date = DateMs(d.y, static_cast<unsigned>(d.m), static_cast<unsigned>(d.d));
    RecordId id = InTownship(r.Id(date), d.township);
    c.events.push_back(id);
    WriteBatch& b = w.b();
    b.Set("recruitment_event", id, "name", d.name);
    for (auto p : d.programmes) b.Add("recruitment_event", id, "programmes", Str(p));
    b.Set("recruitment_event", id, "township", d.township);
    b.Set("recruitment_event", id, "date", Ts(date));
    b.Set("recruitment_event", id, "venue", d.venue);
    int64_t stands = std::max<int64_t>(3, std::llround(12 * d.weight * std::min(1.0, c.scale * 10)));
    for (int64_t s = 0; s < stands; ++s) b.Add("recruitment_event", id, "employers", Firm(r, "天全县"));
    // Attendance arrives from two gate counters.
    int64_t att = std::max<int64_t>(intentions[e] * 3, c.S(static_cast<int64_t>(900 * d.weight)));
    b.Increment("recruitment_event", id, "attendance", att / 2);
    b.Increment("recruitment_event", id, "attendance", att - att / 2);
    if (intentions[e]) b.Increment("recruitment_event", id, "intentions", intentions[e]);
    b.Append("recruitment_event", id, "notes", "岗位信息通过微信朋友圈、短信和\"直通车\"平台提前推送");
    COUNTY_TRY(w.Done("recruitment_event"));
  }
  f["events.count"] = static_cast<int64_t>(n_ev);
  f["events.intentions"] = std::accumulate(intentions.begin(), intentions.end(), int64_t{0});

  // Job postings and their pushes (58万余条 in the seed).
  const int64_t n_post = c.S(Seed::kPostings);
  std::vector<int64_t> pushes = r.Split(c.S(Seed::kPushes), static_cast<size_t>(n_post), 1);
  c.postings.clear();
  c.posting_event.clear();
  const int64_t p_from = DateMs(2022, 11, 1), p_to = DateMs(2023, 2, 28);
  for (int64_t i = 0; i < n_post; ++i) {
    int64_t date = r.Day(p_from, p_to);
    RecordId id = r.Id(date);
    int ev = (n_ev && r.Chance(0.5)) ? static_cast<int>(r.Index(n_ev)) : -1;
    uint8_t area = static_cast<uint8_t>(r.Chance(0.55) ? 0 : r.Int(1, 3));
    std::string_view place = area == 0 ? "天全县" : area == 1 ? r.Pick(kYaanPlaces)
                           : area == 2 ? r.Pick(kProvincePlaces) : r.Pick(kOutPlaces);
    // Drawn in the order the stream always had; the id takes the township.
    Value title = Str(r.Pick(kJobTitles));
    Value employer = Firm(r, area == 0 ? "天全县" : place);
    std::string township(r.Pick(towns));
    id = InTownship(id, township);
    c.postings.push_back(id);
    c.posting_event.push_back(ev);
    WriteBatch& b = w.b();
    b.Set("job_posting", id, "title", std::move(title));
    b.Set("job_posting", id, "employer", std::move(employer));
    b.Set("job_posting", id, "township", Str(township));
    b.Set("job_posting", id, "date", Ts(date));
    b.Set("job_posting", id, "work_area", Str(kAreas[area]));
    b.Set("job_posting", id, "work_place", Str(place));
    b.Set("job_posting", id, "openings", r.Int(1, 20));
    b.Set("job_posting", id, "monthly_wage_fen", r.Int(30, 90) * 10'000);
    if (ev >= 0) b.Set("job_posting", id, "event", c.events[static_cast<size_t>(ev)]);
    double s = r.Unit();
    b.Advance("job_posting", id, "stage", s < 0.6 ? "open" : s < 0.9 ? "filled" : "closed");
    b.Increment("job_posting", id, "pushes", pushes[static_cast<size_t>(i)]);
    COUNTY_TRY(w.Done("job_posting"));
  }
  f["postings.count"] = n_post;
  f["postings.pushes"] = c.S(Seed::kPushes);

  // Placements: intentions reached at the fairs, and career planning (580).
  std::vector<std::vector<size_t>> by_event(n_ev);
  for (size_t p = 0; p < c.postings.size(); ++p) {
    if (c.posting_event[p] >= 0) by_event[static_cast<size_t>(c.posting_event[p])].push_back(p);
  }
  for (size_t e = 0; e < n_ev; ++e) {
    const EventDef& d = kEvents[e];
    int64_t date = DateMs(d.y, static_cast<unsigned>(d.m), static_cast<unsigned>(d.d));
    for (int64_t k = 0; k < intentions[e]; ++k) {
      const Worker& wk = worker();
      size_t p = by_event[e].empty() ? r.Index(c.postings.size()) : r.Pick(by_event[e]);
      RecordId id = InTownship(r.Id(date), c.TownshipOf(wk));
      WriteBatch& b = w.b();
      b.Set("placement", id, "worker", wk.id);
      b.Set("placement", id, "posting", c.postings[p]);
      b.Set("placement", id, "kind", "job_fair");
      b.Set("placement", id, "township", Str(c.TownshipOf(wk)));
      b.Set("placement", id, "date", Ts(date));
      double s = r.Unit();
      b.Advance("placement", id, "stage", s < 0.5 ? "intention" : s < 0.75 ? "interviewed" : "hired");
      COUNTY_TRY(w.Done("placement"));
    }
  }
  const int64_t n_cp = c.S(Seed::kCareerPlanning);
  static const std::vector<std::string_view> kSteps = {"树：树立职业目标", "帮：一对一帮扶", "促：推荐岗位",
                                                        "解：解决后顾之忧"};
  for (int64_t i = 0; i < n_cp; ++i) {
    const Worker& wk = worker();
    int64_t date = r.Day(DateMs(2022, 3, 1), DateMs(2023, 2, 28));
    RecordId id = InTownship(r.Id(date), c.TownshipOf(wk));
    WriteBatch& b = w.b();
    b.Set("placement", id, "worker", wk.id);
    b.Set("placement", id, "posting", c.postings[r.Index(c.postings.size())]);
    b.Set("placement", id, "kind", "career_planning");
    b.Set("placement", id, "township", Str(c.TownshipOf(wk)));
    b.Set("placement", id, "date", Ts(date));
    b.Advance("placement", id, "stage", r.Chance(0.6) ? "retained" : "hired");
    b.Append("placement", id, "notes", Str(kSteps[static_cast<size_t>(i % 4)]));
    COUNTY_TRY(w.Done("placement"));
  }
  f["placements.career_planning"] = n_cp;

  // Training courses and enrolments.
  const int64_t n_course = c.S(Seed::kCourses);
  std::vector<int64_t> enrol = r.Split(std::max<int64_t>(n_course, c.S(Seed::kEnrolments)), static_cast<size_t>(n_course), 1);
  static const std::vector<std::string_view> kSkillCourses = {"电工上岗培训", "焊工技能培训", "茶叶加工技能培训",
                                                              "中式烹调师培训", "挖掘机操作培训", "家政服务员培训",
                                                              "养老护理员培训", "电子商务培训"};
  static const std::vector<std::string_view> kStartCourses = {"SYB创业培训", "网络创业培训", "创业模拟实训"};
  int64_t enrolments = 0;
  for (int64_t i = 0; i < n_course; ++i) {
    bool start = i % 10 < 3;
    int64_t date = r.Day(DateMs(2022, 6, 1), DateMs(2023, 2, 20));
    RecordId course = r.Id(date);
    std::string township = r.Pick(towns);
    course = InTownship(course, township);
    int64_t hours = start ? 80 : r.Int(40, 120);
    WriteBatch& b = w.b();
    b.Set("training_course", course, "title", Str(start ? r.Pick(kStartCourses) : r.Pick(kSkillCourses)));
    b.Set("training_course", course, "kind", start ? "entrepreneurship" : "skills");
    b.Set("training_course", course, "provider", r.Chance(0.5) ? "天全县职业技术学校" : "天全县就业服务中心");
    b.Set("training_course", course, "township", Str(township));
    b.Set("training_course", course, "date", Ts(date));
    b.Set("training_course", course, "hours", hours);
    b.Set("training_course", course, "capacity", enrol[static_cast<size_t>(i)] + r.Int(0, 10));
    b.Advance("training_course", course, "stage", "finished");
    COUNTY_TRY(w.Done("training_course"));
    for (int64_t k = 0; k < enrol[static_cast<size_t>(i)]; ++k) {
      const Worker& wk = worker();
      RecordId id = InTownship(r.Id(date), township);
      WriteBatch& e = w.b();
      e.Set("enrolment", id, "course", course);
      e.Set("enrolment", id, "worker", wk.id);
      e.Set("enrolment", id, "township", Str(township));
      e.Set("enrolment", id, "date", Ts(date));
      e.Advance("enrolment", id, "stage", r.Chance(0.7) ? "certified" : "completed");
      e.Increment("enrolment", id, "attendance", hours / 4 - r.Int(0, 2));
      ++enrolments;
      COUNTY_TRY(w.Done("enrolment"));
    }
  }
  f["training.enrolments"] = enrolments;

  // Start-up guarantee loans: 227 disbursed, 3100余万元 (an exact total).
  const int64_t n_loans = c.S(Seed::kLoans);
  const int64_t step = 10'000;  // yuan: loans are in multiples of 10,000
  int64_t target = std::llround(static_cast<double>(Seed::kLoansYuan) * c.scale / step);
  target = std::clamp<int64_t>(target, 3 * n_loans, 30 * n_loans);
  std::vector<int64_t> units(static_cast<size_t>(n_loans));
  for (auto& u : units) u = r.Int(5, 25);
  int64_t have = std::accumulate(units.begin(), units.end(), int64_t{0});
  while (have != target) {
    auto& u = units[r.Index(units.size())];
    if (have < target && u < 30) ++u, ++have;
    else if (have > target && u > 3) --u, --have;
  }
  std::vector<size_t> locals;
  for (size_t i = 0; i < c.workers.size(); ++i) {
    if (c.workers[i].area == 0) locals.push_back(i);
  }
  auto loan = [&](int64_t yuan, bool disbursed) -> Status {
    const Worker& wk = c.workers[locals.empty() ? r.Index(c.workers.size()) : r.Pick(locals)];
    int64_t date = disbursed ? r.Day(DateMs(2020, 6, 1), DateMs(2023, 2, 20)) : r.Day(DateMs(2023, 2, 1), DateMs(2023, 2, 28));
    RecordId id = InTownship(r.Id(date), c.TownshipOf(wk));
    WriteBatch& b = w.b();
    b.Set("startup_loan", id, "worker", wk.id);
    b.Set("startup_loan", id, "business", Str(r.Pick(kBusinesses)));
    b.Set("startup_loan", id, "township", Str(c.TownshipOf(wk)));
    b.Set("startup_loan", id, "date", Ts(date));
    b.Set("startup_loan", id, "amount_fen", yuan * 100);
    b.Set("startup_loan", id, "bank", Str(r.Pick(kBanks)));
    if (disbursed) {
      double s = r.Unit();
      const char* stage = s < 0.3 ? "disbursed" : s < 0.8 ? "repaying" : "repaid";
      b.Advance("startup_loan", id, "stage", stage);
      if (stage[2] == 'p') {  // repaying / repaid
        int64_t paid = stage[5] == 'd' ? yuan * 100 : yuan * 100 * r.Int(5, 60) / 100;
        b.Increment("startup_loan", id, "repaid_fen", paid);
      }
      b.Add("worker", wk.id, "tags", "returnee");
      b.Add("worker", wk.id, "tags", "entrepreneur");
    } else {
      b.Advance("startup_loan", id, "stage", r.Chance(0.5) ? "applied" : "approved");
    }
    b.Append("startup_loan", id, "notes", "创业指导：政策咨询、项目策划、金融信贷");
    return w.Done("startup_loan");
  };
  for (int64_t u : units) COUNTY_TRY(loan(u * step, true));
  for (int64_t i = 0, n = c.S(Seed::kLoansPending); i < n; ++i) COUNTY_TRY(loan(r.Int(5, 20) * step, false));
  f["loans.count"] = n_loans;
  f["loans.amount_yuan"] = target * step;

  // Return-to-work shuttles: 5 trips, 127 workers; the first on 正月初五 with 25.
  const int64_t n_trips = std::min<int64_t>(c.S(Seed::kTrips), 5);
  const int64_t n_pass = std::max<int64_t>(n_trips, c.S(Seed::kPassengers));
  std::vector<int64_t> pass = (n_trips == 5 && n_pass == 127) ? std::vector<int64_t>{25, 27, 26, 24, 25}
                                                               : r.Split(n_pass, static_cast<size_t>(n_trips), 1);
  struct Trip {
    int m, d;
    const char* dest;
    const char* township;
  };
  static const Trip kTrips[] = {{1, 26, "成都市", "城厢镇"},
                                {1, 27, "成都市", "仁义镇"},
                                {1, 28, "浙江省宁波市", "始阳镇"},
                                {1, 29, "广东省东莞市", "小河镇"},
                                {2, 1, "福建省晋江市", "思经镇"}};
  std::vector<size_t> away;
  for (size_t i = 0; i < c.workers.size(); ++i) {
    if (c.workers[i].area >= 2) away.push_back(i);
  }
  auto riders = r.Sample(away.size(), static_cast<size_t>(n_pass));
  size_t next = 0;
  int64_t carried = 0;
  for (int64_t t = 0; t < n_trips; ++t) {
    const Trip& tr = kTrips[t];
    int64_t date = DateMs(2023, static_cast<unsigned>(tr.m), static_cast<unsigned>(tr.d));
    RecordId id = InTownship(r.Id(date), tr.township);
    WriteBatch& b = w.b();
    b.Set("shuttle_trip", id, "route", std::string("天全县 → ") + tr.dest);
    b.Set("shuttle_trip", id, "destination", tr.dest);
    b.Set("shuttle_trip", id, "township", tr.township);
    b.Set("shuttle_trip", id, "date", Ts(date));
    b.Set("shuttle_trip", id, "seats", int64_t{pass[static_cast<size_t>(t)] <= 35 ? 35 : 45});
    for (int64_t k = 0; k < pass[static_cast<size_t>(t)] && next < riders.size(); ++k, ++carried) {
      b.Add("shuttle_trip", id, "passengers", c.workers[away[riders[next++]]].id);
    }
    b.Advance("shuttle_trip", id, "stage", "arrived");
    COUNTY_TRY(w.Done("shuttle_trip"));
  }
  f["shuttle.trips"] = n_trips;
  f["shuttle.passengers"] = carried;
  return w.Flush();
}

// Wage arrears: employers, projects, inspections, cases (labour inspectors);
// complaints (townships, `complaints` replica).
Status GenWages(Context& c, Replica* rep, Replica* complaints_rep) {
  Rng r(c.seed, "wages");
  Writer w(rep, c.opt.batch, c.sum);
  Writer wc(complaints_rep, c.opt.batch, c.sum);
  const auto& towns = Townships();
  auto& f = c.sum.figures;
  static const std::vector<std::string_view> kIndustries = {"construction", "construction", "construction",
                                                            "construction", "manufacturing", "tea", "tourism",
                                                            "services", "hydropower", "logistics"};
  struct Emp {
    RecordId id;
    std::string name, township;
    bool construction;
  };
  std::vector<Emp> emps;
  std::vector<size_t> builders;
  for (int64_t i = 0, n = c.S(Seed::kEmployers); i < n; ++i) {
    int64_t date = r.Day(DateMs(2015, 1, 1), DateMs(2022, 12, 31));
    std::string_view ind = r.Pick(kIndustries);
    Emp e{r.Id(date), Firm(r, "天全县"), r.Pick(towns), ind == "construction"};
    if (e.construction) builders.push_back(emps.size());
    double s = r.Unit();
    WriteBatch& b = w.b();
    b.Set("employer", e.id, "name", Str(e.name));
    b.Set("employer", e.id, "industry", Str(ind));
    b.Set("employer", e.id, "township", Str(e.township));
    b.Set("employer", e.id, "date", Ts(date));
    b.Set("employer", e.id, "credit_rating", s < 0.35 ? "A" : s < 0.9 ? "B" : "C");
    emps.push_back(std::move(e));
    COUNTY_TRY(w.Done("employer"));
  }
  if (builders.empty()) builders.push_back(0);
  struct Proj {
    RecordId id;
    size_t emp;
    std::string inspector;
  };
  std::vector<Proj> projs;
  for (int64_t i = 0, n = c.S(Seed::kProjects); i < n; ++i) {
    int64_t date = r.Day(DateMs(2021, 3, 1), DateMs(2023, 1, 31));
    Proj p{r.Id(date), r.Pick(builders), std::string(r.Pick(kInspectors))};
    const std::string& township = emps[p.emp].township;
    WriteBatch& b = w.b();
    b.Set("construction_project", p.id, "name", township + std::string(r.Pick(kProjectKinds)));
    b.Set("construction_project", p.id, "employer", emps[p.emp].id);
    b.Set("construction_project", p.id, "township", Str(township));
    b.Set("construction_project", p.id, "date", Ts(date));
    b.Set("construction_project", p.id, "inspector", Str(p.inspector));
    b.Set("construction_project", p.id, "wage_account", r.Chance(0.92));
    double s = r.Unit();
    b.Advance("construction_project", p.id, "stage", s < 0.7 ? "building" : s < 0.9 ? "completed" : "settled");
    projs.push_back(std::move(p));
    COUNTY_TRY(w.Done("construction_project"));
  }
  std::vector<std::vector<size_t>> projs_of(emps.size());
  for (size_t i = 0; i < projs.size(); ++i) projs_of[projs[i].emp].push_back(i);

  // Inspections: 265 家次 since last winter.
  static const std::vector<std::string_view> kKinds = {"double_random", "double_random", "special_campaign",
                                                       "special_campaign", "complaint", "follow_up"};
  const int64_t n_insp = c.S(Seed::kInspections);
  for (int64_t i = 0; i < n_insp; ++i) {
    int64_t date = r.Day(DateMs(2022, 11, 1), DateMs(2023, 2, 28));
    RecordId id = r.Id(date);
    size_t e = r.Index(emps.size());
    WriteBatch& b = w.b();
    b.Set("inspection", id, "employer", emps[e].id);
    if (!projs_of[e].empty()) b.Set("inspection", id, "project", projs[r.Pick(projs_of[e])].id);
    b.Set("inspection", id, "kind", Str(r.Pick(kKinds)));
    b.Set("inspection", id, "township", Str(emps[e].township));
    b.Set("inspection", id, "date", Ts(date));
    b.Set("inspection", id, "inspector", Str(r.Pick(kInspectors)));
    double s = r.Unit();
    b.Set("inspection", id, "result", s < 0.75 ? "compliant" : s < 0.95 ? "rectify" : "penalty");
    b.Append("inspection", id, "findings", s < 0.75 ? "工资按月足额发放，实名制管理台账齐全" : "工资支付台账不全，责令限期整改");
    COUNTY_TRY(w.Done("inspection"));
  }
  f["wages.inspections"] = n_insp;

  // Wage cases: 72 incidents, 1,013 workers paid back 1155万余元 (exact).
  const int64_t n_cases = c.S(Seed::kCases);
  const int64_t n_recovered_workers = std::max<int64_t>(n_cases, c.S(Seed::kWorkersRecovered));
  const int64_t recovered_yuan = std::llround(static_cast<double>(Seed::kRecoveredYuan) * c.scale);
  std::vector<int64_t> wr = r.Split(n_recovered_workers, static_cast<size_t>(n_cases), 1);
  std::vector<double> weights;
  for (int64_t x : wr) weights.push_back(static_cast<double>(x) * (0.6 + 0.8 * r.Unit()));
  std::vector<int64_t> yuan = r.Split(recovered_yuan, static_cast<size_t>(n_cases), 0, weights);
  const int64_t n_filed = std::min(c.S(Seed::kFiled), n_cases);
  auto filed_idx = r.Sample(static_cast<size_t>(n_cases), static_cast<size_t>(n_filed));
  std::vector<bool> filed(static_cast<size_t>(n_cases), false);
  for (size_t i : filed_idx) filed[i] = true;
  static const std::vector<std::string_view> kChannels = {"hotline", "hotline", "hotline", "walk_in", "walk_in", "station"};
  int64_t complaints = 0;
  for (size_t k = 0; k < static_cast<size_t>(n_cases); ++k) {
    int64_t date = r.Day(DateMs(2022, 11, 1), DateMs(2023, 2, 25));
    RecordId id = r.Id(date);
    const Emp& e = emps[r.Pick(builders)];
    std::string handler(r.Pick(kInspectors));
    int64_t fen = yuan[k] * 100;
    double s = r.Unit();
    const char* stage = filed[k] ? "closed" : s < 0.4 ? "resolved" : s < 0.85 ? "closed" : s < 0.93 ? "mediating" : "arbitration";
    bool open = stage[0] == 'm' || stage[0] == 'a';
    int64_t owed = open ? fen + r.Int(1, 40) * 1'000'000 : fen;
    WriteBatch& b = w.b();
    b.Set("wage_case", id, "title", e.name + "拖欠农民工工资");
    b.Set("wage_case", id, "employer", e.id);
    size_t ei = static_cast<size_t>(&e - emps.data());
    if (!projs_of[ei].empty()) b.Set("wage_case", id, "project", projs[r.Pick(projs_of[ei])].id);
    b.Set("wage_case", id, "township", Str(e.township));
    b.Set("wage_case", id, "date", Ts(date));
    b.Advance("wage_case", id, "stage", stage);
    if (filed[k]) b.Set("wage_case", id, "filed", true);
    int64_t affected = wr[k] + (open ? r.Int(1, 5) : 0);
    for (size_t i : r.Sample(c.workers.size(), static_cast<size_t>(affected))) {
      b.Add("wage_case", id, "workers_affected", c.workers[i].id);
    }
    b.Set("wage_case", id, "amount_owed_fen", owed);
    // Paid back in one to three instalments, each office adding what it collected.
    int64_t parts = fen >= 300 ? r.Int(1, 3) : 1;
    int64_t left = fen;
    for (int64_t p = 0; p < parts; ++p) {
      int64_t amount = p + 1 == parts ? left : left / (parts - p) / 100 * 100;
      if (amount > 0) b.Increment("wage_case", id, "recovered_fen", amount);
      left -= amount;
    }
    b.Increment("wage_case", id, "workers_recovered", wr[k]);
    b.Set("wage_case", id, "handler", Str(handler));
    b.Append("wage_case", id, "notes", "线索核实：工资支付台账、考勤记录");
    b.Append("wage_case", id, "notes", filed[k] ? "劳动保障监察立案调查" : "约谈企业负责人，责令限期支付");
    if (!open) b.Append("wage_case", id, "notes", "欠薪已足额支付到农民工本人账户");
    COUNTY_TRY(w.Done("wage_case"));
    // The complaints that started it.
    for (int64_t q = 0, nq = r.Chance(0.35) ? 2 : 1; q < nq; ++q) {
      int64_t cdate = date - r.Int(0, 3) * kDay;
      RecordId cid = r.Id(cdate);
      std::string_view ch = r.Pick(kChannels);
      WriteBatch& cb = wc.b();
      cb.Set("complaint", cid, "channel", Str(ch));
      cb.Set("complaint", cid, "employer", e.id);
      cb.Set("complaint", cid, "wage_case", id);
      cb.Set("complaint", cid, "township", Str(e.township));
      cb.Set("complaint", cid, "date", Ts(cdate));
      cb.Set("complaint", cid, "workers", r.Int(1, std::max<int64_t>(1, affected)));
      cb.Set("complaint", cid, "summary", ch == "hotline" ? "投诉举报电话反映被拖欠工资" : "来访反映工地欠薪");
      cb.Advance("complaint", cid, "stage", open ? "referred" : "closed");
      ++complaints;
      COUNTY_TRY(wc.Done("complaint"));
    }
  }
  COUNTY_TRY(w.Flush());
  COUNTY_TRY(wc.Flush());
  f["wages.cases"] = n_cases;
  f["wages.filed"] = n_filed;
  f["wages.workers_recovered"] = n_recovered_workers;
  f["wages.recovered_yuan"] = recovered_yuan;
  return Status::Ok();
}

}  // namespace hearth::county::internal
