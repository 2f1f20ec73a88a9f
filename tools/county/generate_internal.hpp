// Internals of GenerateCounty shared by its parts (generate.cpp runs them;
// generate_hr.cpp, generate_township.cpp, generate_civil.cpp and
// generate_union.cpp write each agency's records): the deterministic random
// streams, the batched writer, the name tables, the seed's figures and the
// county in memory. Not installed; the report does not need it.
#pragma once

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

namespace hearth::county::internal {

inline constexpr int64_t kDay = 86'400'000;

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

// Ids of records in the template's partitioned scopes (hr.workers,
// civil.children: docs/policy.md, "Partitioned scopes") carry their
// township: the first 4 bytes of `id` become PartitionPrefix(township), the
// rest (date and random bits) stays. Same seed, same ids.
inline RecordId InTownship(RecordId id, std::string_view township) {
  const auto p = PartitionPrefix(township);
  std::copy(p.begin(), p.end(), id.bytes.begin());
  return id;
}

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

inline Value Ts(int64_t ms) { return Value(Timestamp{ms}); }
inline Value Str(std::string_view s) { return Value(std::string(s)); }

// ---- tables --------------------------------------------------------------------

inline const std::vector<std::string_view> kAreas = {"local", "city", "province", "out_of_province"};
inline const std::vector<std::string_view> kYaanPlaces = {"雨城区", "名山区", "荥经县", "芦山县", "石棉县", "汉源县", "宝兴县"};
inline const std::vector<std::string_view> kProvincePlaces = {"成都市", "成都市", "成都市", "绵阳市", "德阳市", "乐山市",
                                                        "眉山市", "攀枝花市", "宜宾市"};
inline const std::vector<std::string_view> kOutPlaces = {"浙江省", "广东省", "江苏省", "福建省", "上海市",
                                                   "新疆维吾尔自治区", "西藏自治区", "重庆市", "北京市"};
inline const std::vector<std::string_view> kSkills = {"masonry", "rebar_work", "carpentry", "welding", "electrician",
                                                "plumbing", "driving", "excavator", "cooking", "tea_processing",
                                                "housekeeping", "elder_care", "sewing", "e_commerce", "security",
                                                "logistics"};
inline const std::vector<std::string_view> kBrands = {"恒达", "鑫源", "兴旺", "宏远", "华泰", "锦城", "川西", "二郎山",
                                                "金辉", "蜀道", "顺发", "众鑫", "永安", "嘉禾", "瑞丰", "天成",
                                                "青衣江", "龙门", "康达", "富民"};
inline const std::vector<std::string_view> kFirmKinds = {"建筑劳务有限公司", "建设工程有限公司", "茶业有限公司",
                                                   "电子科技有限公司", "物流有限公司", "餐饮管理有限公司",
                                                   "机械制造有限公司", "家政服务有限公司", "汽车配件有限公司",
                                                   "水电开发有限公司", "旅游开发有限公司", "食品有限公司"};
inline const std::vector<std::string_view> kJobTitles = {"钢筋工", "木工", "电焊工", "普工", "茶叶加工工", "服务员",
                                                   "厨师", "保安", "驾驶员", "快递员", "家政服务员", "电工",
                                                   "挖掘机司机", "缝纫工", "仓管员", "销售代表", "护工", "装配工"};
inline const std::vector<std::string_view> kBusinesses = {"茶叶加工坊", "农家乐", "民宿", "冷水鱼养殖场", "牦牛养殖场",
                                                    "电商网店", "汽车修理店", "建材店", "川菜馆", "竹编工坊",
                                                    "中药材种植基地", "猕猴桃种植园", "物流配送站", "家庭农场"};
inline const std::vector<std::string_view> kBanks = {"天全县农村信用联社", "中国农业银行天全县支行", "中国邮政储蓄银行天全县支行",
                                               "雅安农商银行天全支行"};
inline const std::vector<std::string_view> kInspectors = {"徐军", "李明华", "杨帆", "高建", "罗婷", "陈志刚", "王丽",
                                                    "周强", "郑雪"};
inline const std::vector<std::string_view> kProjectKinds = {"安置房", "道路改建工程", "水电站", "学校教学楼", "卫生院",
                                                      "产业园标准厂房", "桥梁工程", "河道治理工程",
                                                      "旅游集散中心", "高速公路连接线"};
inline const std::vector<std::string_view> kGuardians = {"祖母", "祖父", "外祖母", "外祖父", "姑姑", "舅舅", "伯父"};
inline const std::vector<std::string_view> kNeeds = {"psychological", "emotional", "study", "health", "safety"};

struct CareProject {
  std::string_view key;
  std::vector<std::string_view> topics;
};
inline const std::vector<CareProject> kCareProjects = {
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
inline const std::vector<EventDef> kEvents = {
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

inline std::string PersonName(Rng& r, bool male) {
  std::string s(r.Pick(internal::kSurnames));
  s += male ? r.Pick(internal::kMaleGiven) : r.Pick(internal::kFemaleGiven);
  return s;
}

inline std::string Firm(Rng& r, std::string_view place) {
  std::string s(place);
  s += r.Pick(kBrands);
  s += r.Pick(kFirmKinds);
  return s;
}

inline std::string Phone(Rng& r) {
  static const char* kPrefix[] = {"135", "136", "137", "138", "139", "150", "151", "152", "157", "158",
                                  "159", "182", "183", "187", "188", "189", "199"};
  std::string s = kPrefix[r.Index(std::size(kPrefix))];
  for (int i = 0; i < 8; ++i) s += static_cast<char>('0' + r.Int(0, 9));
  return s;
}

// An 18-character resident ID number of Tianquan county (511825), with the
// GB 11643 check character. Only its hash is ever stored.
inline std::string IdNumber(Rng& r, int y, int m, int d, bool male) {
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

// ---- parts, one file per agency ----------------------------------------------------

// generate_hr.cpp: the labour bureau.
void PlanWorkers(Context& c);
Status GenWorkers(Context& c, Replica* rep);
Status GenDocuments(Context& c, Replica* rep);
Status GenServices(Context& c, Replica* rep);
Status GenWages(Context& c, Replica* rep, Replica* complaints_rep);
// generate_township.cpp: the township office.
void PlanStations(Context& c);
Status GenTownship(Context& c, Replica* rep);
// generate_civil.cpp: civil affairs.
Status GenChildren(Context& c, Replica* rep);
// generate_union.cpp: the trade union.
Status GenUnion(Context& c, Replica* rep);

}  // namespace hearth::county::internal
