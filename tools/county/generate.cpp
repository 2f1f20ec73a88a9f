// GenerateCounty: a synthetic county at the seed article's scale.
//
// Every random choice comes from std::mt19937_64 streams seeded from
// CountyOptions::seed (one stream per part, so a change in one part does not
// move the others), with our own integer helpers instead of the <random>
// distributions (whose output differs between standard libraries). Record
// ids come from the same streams: 48 bits of the record's date (so records
// sort by date in storage, as RecordId::Generate ids sort by creation time)
// and 80 random bits. Same seed and scale -> same records, ids and values.
//
// The headline counts are exact: each is Scaled(n) of the seed's figure
// (docs/domain.md lists them), and sums such as the loans' total or the
// wages recovered are distributed over the records so that they add up
// exactly. The figures the report must show are returned in
// CountySummary::figures.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/bytes.hpp"
#include "county_internal.hpp"

namespace hearth::county {

int64_t Scaled(int64_t n, double scale) {
  if (n <= 0 || scale <= 0) return 0;
  return std::max<int64_t>(1, std::llround(static_cast<double>(n) * scale));
}

namespace {

using internal::DateMs;
using internal::Villages;

constexpr int64_t kDay = 86'400'000;

// ---- deterministic randomness ----------------------------------------------

class Rng {
 public:
  Rng(uint64_t seed, std::string_view stream) : g_(seed ^ Fnv(stream)) {}
  uint64_t Next() { return g_(); }
  // Uniform integer in [lo, hi].
  int64_t Int(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<int64_t>(g_() % static_cast<uint64_t>(hi - lo + 1));
  }
  size_t Index(size_t n) { return n == 0 ? 0 : static_cast<size_t>(g_() % n); }
  double Unit() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Index(v.size())];
  }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Index(i)]);
  }
  // A day in [from, to] (ms at UTC midnight).
  int64_t Day(int64_t from_ms, int64_t to_ms) { return Int(from_ms / kDay, to_ms / kDay) * kDay; }
  // A record id: 48 bits of `date_ms`, then 80 random bits.
  RecordId Id(int64_t date_ms) {
    RecordId id;
    uint64_t t = static_cast<uint64_t>(date_ms);
    base::StoreBE(id.bytes.data(), t, 6);
    uint64_t a = g_(), b = g_();
    for (int i = 0; i < 8; ++i) id.bytes[6 + i] = static_cast<uint8_t>(a >> (8 * i));
    id.bytes[14] = static_cast<uint8_t>(b);
    id.bytes[15] = static_cast<uint8_t>(b >> 8);
    return id;
  }
  // k distinct indexes out of n (k <= n), in random order.
  std::vector<size_t> Sample(size_t n, size_t k) {
    k = std::min(k, n);
    std::vector<size_t> out;
    out.reserve(k);
    if (k * 4 < n) {
      std::unordered_set<size_t> seen;
      while (out.size() < k) {
        size_t i = Index(n);
        if (seen.insert(i).second) out.push_back(i);
      }
    } else {
      std::vector<size_t> all(n);
      std::iota(all.begin(), all.end(), size_t{0});
      for (size_t i = 0; i < k; ++i) std::swap(all[i], all[i + Index(n - i)]);
      out.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k));
    }
    return out;
  }
  // `total` split into `k` parts, each >= min_each, roughly proportional to
  // `weights` (uniform 0.5..1.5 when empty); the parts add up exactly.
  std::vector<int64_t> Split(int64_t total, size_t k, int64_t min_each = 0, std::vector<double> weights = {}) {
    std::vector<int64_t> out(k, 0);
    if (k == 0) return out;
    min_each = std::min<int64_t>(min_each, total / static_cast<int64_t>(k));
    int64_t rest = total - min_each * static_cast<int64_t>(k);
    if (weights.size() != k) {
      weights.assign(k, 0);
      for (double& w : weights) w = 0.5 + Unit();
    }
    double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
    int64_t given = 0;
    for (size_t i = 0; i < k; ++i) {
      out[i] = min_each + static_cast<int64_t>(std::floor(static_cast<double>(rest) * weights[i] / sum));
      given += out[i] - min_each;
    }
    for (int64_t left = rest - given; left > 0; --left) ++out[Index(k)];
    return out;
  }

 private:
  static uint64_t Fnv(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
  }
  std::mt19937_64 g_;
};

// ---- batched writes ----------------------------------------------------------

class Writer {
 public:
  Writer(Replica* r, uint32_t batch, CountySummary& sum) : r_(r), batch_(batch ? batch : 1), sum_(sum) {}
  WriteBatch& b() { return b_; }
  // One record finished (counted under `collection`); commits every `batch`.
  Status Done(const std::string& collection) {
    ++sum_.records[collection];
    if (++pending_ >= batch_) return Flush();
    return Status::Ok();
  }
  Status Flush() {
    if (b_.empty()) return Status::Ok();
    auto c = r_->Commit(b_);
    b_.Clear();
    pending_ = 0;
    if (!c.ok()) return c.status().WithContext("generating the county (replica " + r_->dir() + ")");
    sum_.ops += c->op_count;
    if (c->last_seq) sum_.deltas += c->last_seq - c->first_seq + 1;
    return Status::Ok();
  }

 private:
  Replica* r_;
  uint32_t batch_;
  CountySummary& sum_;
  WriteBatch b_;
  uint32_t pending_ = 0;
};

#define COUNTY_TRY(expr) HEARTH_RETURN_IF_ERROR(expr)

Value Ts(int64_t ms) { return Value(Timestamp{ms}); }
Value Str(std::string_view s) { return Value(std::string(s)); }

// ---- tables --------------------------------------------------------------------

const std::vector<std::string_view> kAreas = {"local", "city", "province", "out_of_province"};
const std::vector<std::string_view> kYaanPlaces = {"雨城区", "名山区", "荥经县", "芦山县", "石棉县", "汉源县", "宝兴县"};
const std::vector<std::string_view> kProvincePlaces = {"成都市", "成都市", "成都市", "绵阳市", "德阳市", "乐山市",
                                                        "眉山市", "攀枝花市", "宜宾市"};
const std::vector<std::string_view> kOutPlaces = {"浙江省", "广东省", "江苏省", "福建省", "上海市",
                                                   "新疆维吾尔自治区", "西藏自治区", "重庆市", "北京市"};
const std::vector<std::string_view> kSkills = {"masonry", "rebar_work", "carpentry", "welding", "electrician",
                                                "plumbing", "driving", "excavator", "cooking", "tea_processing",
                                                "housekeeping", "elder_care", "sewing", "e_commerce", "security",
                                                "logistics"};
const std::vector<std::string_view> kBrands = {"恒达", "鑫源", "兴旺", "宏远", "华泰", "锦城", "川西", "二郎山",
                                                "金辉", "蜀道", "顺发", "众鑫", "永安", "嘉禾", "瑞丰", "天成",
                                                "青衣江", "龙门", "康达", "富民"};
const std::vector<std::string_view> kFirmKinds = {"建筑劳务有限公司", "建设工程有限公司", "茶业有限公司",
                                                   "电子科技有限公司", "物流有限公司", "餐饮管理有限公司",
                                                   "机械制造有限公司", "家政服务有限公司", "汽车配件有限公司",
                                                   "水电开发有限公司", "旅游开发有限公司", "食品有限公司"};
const std::vector<std::string_view> kJobTitles = {"钢筋工", "木工", "电焊工", "普工", "茶叶加工工", "服务员",
                                                   "厨师", "保安", "驾驶员", "快递员", "家政服务员", "电工",
                                                   "挖掘机司机", "缝纫工", "仓管员", "销售代表", "护工", "装配工"};
const std::vector<std::string_view> kBusinesses = {"茶叶加工坊", "农家乐", "民宿", "冷水鱼养殖场", "牦牛养殖场",
                                                    "电商网店", "汽车修理店", "建材店", "川菜馆", "竹编工坊",
                                                    "中药材种植基地", "猕猴桃种植园", "物流配送站", "家庭农场"};
const std::vector<std::string_view> kBanks = {"天全县农村信用联社", "中国农业银行天全县支行", "中国邮政储蓄银行天全县支行",
                                               "雅安农商银行天全支行"};
const std::vector<std::string_view> kInspectors = {"徐军", "李明华", "杨帆", "高建", "罗婷", "陈志刚", "王丽",
                                                    "周强", "郑雪"};
const std::vector<std::string_view> kProjectKinds = {"安置房", "道路改建工程", "水电站", "学校教学楼", "卫生院",
                                                      "产业园标准厂房", "桥梁工程", "河道治理工程",
                                                      "旅游集散中心", "高速公路连接线"};
const std::vector<std::string_view> kGuardians = {"祖母", "祖父", "外祖母", "外祖父", "姑姑", "舅舅", "伯父"};
const std::vector<std::string_view> kNeeds = {"psychological", "emotional", "study", "health", "safety"};

struct CareProject {
  std::string_view key;
  std::vector<std::string_view> topics;
};
const std::vector<CareProject> kCareProjects = {
    {"tong_zhi_zhu", {"学业辅导", "爱心助学物资发放", "寒假作业辅导"}},         // 童之助
    {"tong_zhi_hu", {"防溺水安全教育", "交通安全课", "自我保护讲座"}},          // 童之护
    {"tong_zhi_jia", {"亲情视频通话", "集体生日会", "包饺子过元宵"}},            // 童之家
    {"tong_zhi_xing", {"红色研学", "二郎山自然课堂", "科技馆参观"}},              // 童之行
    {"tong_zhi_ai", {"心理健康辅导", "绘画疗愈", "给爸爸妈妈写信"}},              // 童之爱
};

struct EventDef {
  const char* name;
  std::vector<std::string_view> programmes;
  const char* township;
  int y, m, d;
  const char* venue;
  double weight;  // share of intentions and attendance
};
// The campaign events "since last winter" (去冬今春, 8 in the seed); the
// Spring Breeze fair comes first so that the smallest scale keeps it.
const std::vector<EventDef> kEvents = {
    {"2023年\"春风行动\"暨\"就业援助月\"专场招聘会", {"spring_breeze", "assistance_month"}, "城厢镇", 2023, 2, 1,
     "天全县音乐广场", 5.0},
    {"2022年11月28日定期招聘会", {"monthly_28th"}, "城厢镇", 2022, 11, 28, "天全县人力资源市场", 1.0},
    {"线上招聘会（直播带岗）", {"online"}, "城厢镇", 2022, 12, 10, "天全县就业服务微信平台", 1.2},
    {"2022年12月28日定期招聘会", {"monthly_28th"}, "城厢镇", 2022, 12, 28, "天全县人力资源市场", 1.0},
    {"送岗位下乡·始阳专场", {"jobs_to_villages"}, "始阳镇", 2023, 1, 8, "始阳镇便民服务中心", 0.8},
    {"2023年1月28日定期招聘会", {"monthly_28th"}, "城厢镇", 2023, 1, 28, "天全县人力资源市场", 1.3},
    {"民营企业招聘月专场", {"private_enterprise"}, "小河镇", 2023, 2, 15, "小河镇文化广场", 1.1},
    {"2023年2月28日定期招聘会", {"monthly_28th"}, "城厢镇", 2023, 2, 28, "天全县人力资源市场", 1.0},
};

// The seed's figures (scale 1.0). docs/domain.md, "Generator".
struct Seed {
  static constexpr int64_t kOutOfProvince = 8'200, kProvince = 12'400, kCity = 11'600, kLocal = 16'300;
  static constexpr int64_t kVisits = 18'000, kCalls = 20'000;  // the rest are reached by SMS
  static constexpr int64_t kPostings = 8'000, kPushes = 580'000;
  static constexpr int64_t kEvents = 8, kIntentions = 2'046;
  static constexpr int64_t kCareerPlanning = 580;
  static constexpr int64_t kCourses = 40, kEnrolments = 2'000;
  static constexpr int64_t kLoans = 227, kLoansYuan = 31'260'000, kLoansPending = 12;
  static constexpr int64_t kTrips = 5, kPassengers = 127;
  static constexpr int64_t kDocuments = 3'722;
  static constexpr int64_t kEmployers = 180, kProjects = 60, kInspections = 265;
  static constexpr int64_t kCases = 72, kFiled = 2, kWorkersRecovered = 1'013, kRecoveredYuan = 11'552'300;
  static constexpr int64_t kHomes = 15, kChildren = 712, kActivities = 516;
  static constexpr int64_t kStations = 16, kOutreach = 32, kConsultations = 2'080;
  static constexpr int64_t kVillageStations = 96, kNewStations = 10, kStationStaff = 56, kRounds = 288;
};

// ---- the county in memory ---------------------------------------------------

struct Worker {
  RecordId id;
  uint32_t village;  // index into Villages()
  uint8_t area;      // index into kAreas
  int64_t date;
};

struct Context {
  Context(const CountyOptions& o, CountySummary& s) : opt(o), seed(o.seed), scale(o.scale), sum(s) {}
  const CountyOptions& opt;
  uint64_t seed;
  double scale;
  CountySummary& sum;
  std::vector<Worker> workers;
  std::vector<std::vector<size_t>> away_by_township;  // workers not working locally, per township
  std::vector<RecordId> stations;                     // village stations, by village index (may be shorter)
  std::vector<int64_t> station_dates;
  std::vector<RecordId> postings;
  std::vector<int> posting_event;  // event index or -1
  std::vector<RecordId> events;
  int64_t S(int64_t n) const { return Scaled(n, scale); }
  const std::string& TownshipOf(const Worker& w) const { return Villages()[w.village].township; }
};

std::string PersonName(Rng& r, bool male) {
  std::string s(r.Pick(internal::kSurnames));
  s += male ? r.Pick(internal::kMaleGiven) : r.Pick(internal::kFemaleGiven);
  return s;
}

std::string Firm(Rng& r, std::string_view place) {
  std::string s(place);
  s += r.Pick(kBrands);
  s += r.Pick(kFirmKinds);
  return s;
}

std::string Phone(Rng& r) {
  static const char* kPrefix[] = {"135", "136", "137", "138", "139", "150", "151", "152", "157", "158",
                                  "159", "182", "183", "187", "188", "189", "199"};
  std::string s = kPrefix[r.Index(std::size(kPrefix))];
  for (int i = 0; i < 8; ++i) s += static_cast<char>('0' + r.Int(0, 9));
  return s;
}

// An 18-character resident ID number of Tianquan county (511825), with the
// GB 11643 check character. Only its hash is ever stored.
std::string IdNumber(Rng& r, int y, int m, int d, bool male) {
  char buf[24];
  int seq = static_cast<int>(r.Int(0, 499)) * 2 + (male ? 1 : 0);
  std::snprintf(buf, sizeof buf, "511825%04d%02d%02d%03d", y, m, d, seq);
  static const int kW[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (buf[i] - '0') * kW[i];
  std::string s(buf, 17);
  s += "10X98765432"[sum % 11];
  return s;
}

// ---- parts -----------------------------------------------------------------------

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
    wk.id = r.Id(wk.date);
    c.workers.push_back(wk);
    const std::string& township = villages[wk.village].township;
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
    RecordId id = r.Id(date);
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
    RecordId id = r.Id(date);
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
    RecordId id = r.Id(date);
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
    c.postings.push_back(id);
    c.posting_event.push_back(ev);
    uint8_t area = static_cast<uint8_t>(r.Chance(0.55) ? 0 : r.Int(1, 3));
    std::string_view place = area == 0 ? "天全县" : area == 1 ? r.Pick(kYaanPlaces)
                           : area == 2 ? r.Pick(kProvincePlaces) : r.Pick(kOutPlaces);
    WriteBatch& b = w.b();
    b.Set("job_posting", id, "title", Str(r.Pick(kJobTitles)));
    b.Set("job_posting", id, "employer", Firm(r, area == 0 ? "天全县" : place));
    b.Set("job_posting", id, "township", Str(r.Pick(towns)));
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
      RecordId id = r.Id(date);
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
    RecordId id = r.Id(date);
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
      RecordId id = r.Id(date);
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
    RecordId id = r.Id(date);
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
    RecordId id = r.Id(date);
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
    Home h{r.Id(date), t, v, {}};
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
    RecordId m = r.Id(date);
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
      RecordId id = r.Id(date);
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
    RecordId id = r.Id(date);
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

}  // namespace

Result<CountySummary> GenerateCounty(const CountyOptions& options, const AgencyReplicas& replicas) {
  if (!(options.scale > 0) || options.scale > 100) {
    return Status::InvalidArgument("county scale must be in (0, 100]; got " + std::to_string(options.scale));
  }
  Replica* hr = replicas.hr ? replicas.hr : replicas.township;
  Replica* town_hr = replicas.township ? replicas.township : replicas.hr;
  if (!hr && !replicas.civil && !replicas.union_) {
    return Status::InvalidArgument("GenerateCounty: no replica to write into");
  }
  auto t0 = std::chrono::steady_clock::now();
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
