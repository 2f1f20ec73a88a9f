// The county's geography, name tables, dates and figure definitions.
#include <sodium.h>

#include <charconv>
#include <cstdio>

#include "base/bytes.hpp"
#include "county_internal.hpp"

namespace hearth::county {

namespace internal {

namespace {

struct TownshipVillages {
  const char* township;
  std::vector<const char*> villages;
};

// Tianquan county's townships (real names) with invented villages and
// communities: 96 in all, as in the seed article.
const std::vector<TownshipVillages>& Geography() {
  static const std::vector<TownshipVillages> g = {
      {"城厢镇", {"城东社区", "城西社区", "向阳社区", "七里村", "光明村", "红星村", "沙坪村", "龙尾村", "凤鸣村", "东风村"}},
      {"始阳镇", {"始阳社区", "新村", "团结村", "桃坪村", "青衣村", "罗家村", "八角村", "九龙村", "白果村"}},
      {"小河镇", {"小河社区", "清水村", "双河村", "三合村", "竹林村", "松林村", "五里村", "长岭村"}},
      {"思经镇", {"思经社区", "茶园村", "金鸡村", "银杏村", "高桥村", "上坝村", "下坝村"}},
      {"乐英乡", {"乐英村", "枫树村", "杉木村", "梅子村", "岩峰村"}},
      {"多功镇", {"多功社区", "桂花村", "荷花村", "四方村", "六合村", "平安村"}},
      {"仁义镇", {"仁义社区", "永兴村", "兴隆村", "长春村", "同心村", "联合村", "共和村", "中坝村"}},
      {"大坪乡", {"大坪村", "胜利村", "建设村", "前进村", "红岩村"}},
      {"兴业乡", {"兴业村", "青龙村", "白鹤村", "黄泥村", "乌木村", "干溪村"}},
      {"新华乡", {"新华村", "水井村", "老街村", "新街村", "河坝村", "天池村"}},
      {"新场镇", {"新场社区", "云峰村", "落红村", "河口村", "滩头村", "坪上村"}},
      {"老场乡", {"老场村", "庙坪村", "观音村", "杨家村", "陈家村"}},
      {"紫石镇", {"紫石村", "张家村", "刘家村", "何家村", "关坝村"}},
      {"两路乡", {"两路村", "马家村", "周家村", "二郎山村", "长河坝村"}},
      {"鱼泉乡", {"鱼泉村", "王家村", "李家村", "赵家村", "大河村"}},
  };
  return g;
}

}  // namespace

const std::vector<Village>& Villages() {
  static const std::vector<Village> v = [] {
    std::vector<Village> out;
    for (const auto& t : Geography()) {
      for (const char* name : t.villages) out.push_back({name, t.township});
    }
    return out;
  }();
  return v;
}

// Common surnames, the most frequent ones (and some local ones) repeated.
const std::vector<std::string_view> kSurnames = {
    "杨", "杨", "杨", "李", "李", "李", "高", "高", "罗", "罗", "陈", "陈", "王", "王", "张", "张",
    "刘", "刘", "黄", "周", "吴", "赵", "徐", "胡", "郭", "何", "马", "程", "骆", "郑", "蒋", "冯",
    "唐", "曾", "彭", "邓", "袁", "谢", "韩", "宋", "任", "钟", "苏", "蔡", "余", "严", "魏", "邹"};
const std::vector<std::string_view> kMaleGiven = {
    "伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "平", "刚", "斌", "波", "辉", "鹏",
    "建国", "志强", "建华", "国强", "文斌", "俊杰", "永富", "德明", "小龙", "海军", "成林", "家福",
    "光荣", "云飞", "天佑", "春生", "建平", "红军", "学兵", "子豪", "浩然", "宇航", "思远", "明轩"};
const std::vector<std::string_view> kFemaleGiven = {
    "芳", "娜", "敏", "静", "艳", "丽", "霞", "燕", "玲", "梅", "英", "兰", "琴", "萍", "红", "婷",
    "秀英", "玉兰", "春梅", "桂芳", "丽华", "小红", "淑珍", "晓燕", "雪梅", "海燕", "金凤", "德英",
    "佳怡", "欣然", "雨涵", "梦琪", "思雨", "紫涵", "诗琪", "静怡", "慧敏", "晓丽", "文静", "美玲"};
const std::vector<std::string_view> kChildGiven = {
    "欣怡", "梓涵", "一诺", "子轩", "浩宇", "雨桐", "思彤", "若汐", "俊熙", "宇轩", "梓萱", "可馨",
    "皓轩", "诗涵", "语桐", "沐阳", "依诺", "晨曦", "天宇", "嘉怡", "明哲", "子墨", "欣妍", "奕辰",
    "小雨", "小宝", "佳琪", "睿泽", "锦程", "安琪"};

int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return int64_t{era} * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400 + (m <= 2));
}

std::string Sha256Hex(std::string_view text) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  return base::ToHex(h, sizeof h);
}

const std::vector<FigureDef>& FigureDefs() {
  static const std::vector<FigureDef> d = {
      {"workers.total", "Migrant workers in work (农民工转移就业)", "", "hr.workers"},
      {"workers.out_of_province", "out of the province (省外)", "", "hr.workers", 1},
      {"workers.province", "in the province, outside the city (省内市外)", "", "hr.workers", 1},
      {"workers.in_city", "in the city (市内)", "", "hr.workers", 1},
      {"workers.city", "elsewhere in the city", "", "hr.workers", 2},
      {"workers.local", "in the county", "", "hr.workers", 2},
      {"workers.contacts", "Workers contacted: visits, calls, SMS (慰问人次)", "", "hr.workers"},
      {"welfare.gift_packs", "Gift packs handed over (礼包)", "", "hr.workers"},
      {"postings.count", "Job postings (岗位)", "", "hr.workers"},
      {"postings.pushes", "Job-information pushes (推送岗位信息)", "", "hr.workers"},
      {"events.count", "Recruitment events (招聘活动)", "", "hr.workers"},
      {"events.intentions", "Employment intentions (就业意向)", "", "hr.workers"},
      {"placements.career_planning", "Career-planning placements (职业生涯规划)", "", "hr.workers"},
      {"training.enrolments", "Training enrolments (培训)", "", "hr.workers"},
      {"loans.count", "Start-up guarantee loans disbursed (创业担保贷款)", "", "hr.workers"},
      {"loans.amount_yuan", "Start-up loans disbursed, total", "yuan", "hr.workers"},
      {"shuttle.trips", "Return-to-work shuttle trips (返岗直通车)", "", "hr.workers"},
      {"shuttle.passengers", "Shuttle passengers", "", "hr.workers"},
      {"documents.count", "Licences and certificates handled (证照办理)", "", "hr.workers"},
      {"wages.inspections", "Employer and site inspections (检查用人单位)", "", "hr.wages"},
      {"wages.cases", "Wage-arrears incidents handled (欠薪事件)", "", "hr.wages"},
      {"wages.filed", "Labour-inspection cases filed (立案)", "", "hr.wages"},
      {"wages.workers_recovered", "Workers whose wages were recovered", "", "hr.wages"},
      {"wages.recovered_yuan", "Wages recovered (追回工资)", "yuan", "hr.wages"},
      {"children.homes", "Child companion homes (童伴之家)", "", "civil.children"},
      {"children.mothers", "Child companion mothers (童伴妈妈)", "", "civil.children"},
      {"children.count", "Left-behind children cared for (留守儿童)", "", "civil.children"},
      {"children.activities", "Children's activities (活动)", "", "civil.children"},
      {"union.stations", "Outdoor workers' service stations (户外劳动者服务站点)", "", "union.stations"},
      {"union.outreach_events", "Legal and policy outreach events (送法律送政策)", "", "union.stations"},
      {"union.consultations", "Outreach consultations (咨询人次)", "", "union.stations"},
      {"township.stations", "Village service stations with plaque (挂牌)", "", "township.services"},
      {"township.new_stations", "New integrated village stations (新建四位一体)", "", "township.services"},
      {"township.station_staff", "Full-time staff of new stations (专职工作人员)", "", "township.services"},
  };
  return d;
}

}  // namespace internal

const std::vector<std::string>& CountyScopes() {
  static const std::vector<std::string> s = {"hr.workers", "hr.wages", "civil.children", "union.stations",
                                             "township.services"};
  return s;
}

const std::vector<std::string>& Townships() {
  static const std::vector<std::string> t = [] {
    std::vector<std::string> out;
    for (const auto& g : internal::Geography()) out.emplace_back(g.township);
    return out;
  }();
  return t;
}

Result<int64_t> ParseDate(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("bad date '" + std::string(text) + "': expected YYYY-MM-DD or @<ms since the epoch>");
  };
  if (!text.empty() && text[0] == '@') {
    int64_t ms = 0;
    auto [p, ec] = std::from_chars(text.data() + 1, text.data() + text.size(), ms);
    if (ec != std::errc() || p != text.data() + text.size() || text.size() == 1) return bad();
    return ms;
  }
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  auto num = [&](size_t pos, size_t len, int& out) {
    auto [p, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return ec == std::errc() && p == text.data() + pos + len;
  };
  int y = 0, m = 0, d = 0;
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return bad();
  if (m < 1 || m > 12 || d < 1 || d > 31) return bad();
  int64_t days = internal::DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  int cy;
  unsigned cm, cd;
  internal::CivilFromDays(days, cy, cm, cd);
  if (cy != y || static_cast<int>(cm) != m || static_cast<int>(cd) != d) return bad();  // e.g. 2023-02-30
  return days * 86'400'000;
}

std::string FormatDate(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
  int y;
  unsigned m, d;
  internal::CivilFromDays(days, y, m, d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  return buf;
}

}  // namespace hearth::county
