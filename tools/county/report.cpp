// ComputeReport: the seed's headline figures from whatever one replica can
// read. Definitions of every figure: docs/domain.md, "Report".
#include <chrono>
#include <set>

#include "county_internal.hpp"

namespace hearth::county {

const Figure* CountyReport::Find(const std::string& key) const {
  for (const Figure& f : figures) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

namespace {

// Scopes this replica holds a key for (any epoch).
Result<std::set<std::string>> ScopesWithKeys(const Replica& r) {
  auto keys = r.ListKeys();
  if (!keys.ok()) return keys.status();
  std::set<std::string> out;
  for (const ScopeEpoch& k : *keys) {
    out.insert(k.scope);
    // A key of one partition ("civil.children/城厢镇") makes its scope
    // readable in part: the report counts the records of the partitions
    // held (the others are not materialised here).
    out.insert(std::string(SplitScope(k.scope).first));
  }
  return out;
}

const std::string* LwwString(const Record& r, std::string_view field) {
  const FieldValue* f = r.Find(field);
  if (!f || f->value.type() != ValueType::kString) return nullptr;
  return &f->value.as_string();
}

int64_t Count(const Record& r, std::string_view field) {
  const FieldValue* f = r.Find(field);
  return f ? f->count : 0;
}

int64_t SetSize(const Record& r, std::string_view field) {
  const FieldValue* f = r.Find(field);
  return f ? static_cast<int64_t>(f->values.size()) : 0;
}

bool LwwBool(const Record& r, std::string_view field) {
  const FieldValue* f = r.Find(field);
  return f && f->value.type() == ValueType::kBool && f->value.as_bool();
}

// An mv register's value: the first of its values in Hearth's value order
// (the smallest number), so a conflict never inflates a total.
const Value* MvFirst(const Record& r, std::string_view field) {
  const FieldValue* f = r.Find(field);
  if (!f) return nullptr;
  if (!f->values.empty()) return &f->values.front();
  return f->value.is_null() ? nullptr : &f->value;
}

class Reader {
 public:
  Reader(const Replica& r, const ReportFilter& f, CountyReport& out) : r_(r), f_(f), out_(out) {}

  // Calls fn(record, township) for every live record of `collection` that
  // passes the filter.
  template <typename Fn>
  Status Each(const std::string& collection, Fn&& fn) {
    auto visit = [&](const Record& rec) {
      if (rec.deleted) return true;
      const std::string* t = LwwString(rec, "township");
      if (f_.township && (!t || *t != *f_.township)) return true;
      if (f_.from_ms || f_.to_ms) {
        const FieldValue* d = rec.Find("date");
        if (!d || d->value.type() != ValueType::kTimestamp) return true;
        int64_t ms = d->value.as_timestamp().ms;
        if (f_.from_ms && ms < *f_.from_ms) return true;
        if (f_.to_ms && ms >= *f_.to_ms) return true;
      }
      static const std::string kNone;
      fn(rec, t ? *t : kNone);
      return true;
    };
    if (!r_.schema().Find(collection)) return Status::Ok();
    if (f_.township) {
      // The township index narrows the scan.
      Query q;
      q.collection = collection;
      q.field = "township";
      q.equals = Value(*f_.township);
      auto rs = r_.Find(q);
      if (!rs.ok()) return rs.status().WithContext("report: " + collection);
      for (const Record& rec : *rs) visit(rec);
      return Status::Ok();
    }
    return r_.Scan(collection, visit).WithContext("report: " + collection);
  }

  void Add(const std::string& key, const std::string& township, int64_t v) {
    values_[key] += v;
    if (!township.empty()) out_.by_township[township][key] += v;
  }
  int64_t Get(const std::string& key) const {
    auto it = values_.find(key);
    return it == values_.end() ? 0 : it->second;
  }
  // Rank of `state` in collection.field's status order, or -1.
  int Rank(const Record& rec, const std::string& collection, std::string_view field) const {
    const FieldValue* f = rec.Find(field);
    if (!f || f->value.type() != ValueType::kString) return -1;
    const CollectionSpec* c = r_.schema().Find(collection);
    const FieldSpec* fs = c ? c->Find(field) : nullptr;
    if (!fs) return -1;
    auto rank = fs->RankOf(f->value.as_string());
    return rank ? static_cast<int>(*rank) : -1;
  }
  int RankOf(const std::string& collection, std::string_view field, std::string_view state) const {
    const CollectionSpec* c = r_.schema().Find(collection);
    const FieldSpec* fs = c ? c->Find(field) : nullptr;
    auto rank = fs ? fs->RankOf(state) : std::nullopt;
    return rank ? static_cast<int>(*rank) : 1 << 30;
  }

 private:
  const Replica& r_;
  const ReportFilter& f_;
  CountyReport& out_;
  std::map<std::string, int64_t> values_;
};

}  // namespace

Result<CountyReport> ComputeReport(const Replica& replica, const ReportFilter& filter) {
  CountyReport rep;
  rep.filter = filter;
  rep.generated_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  rep.node = replica.author().ToHex();
  auto policy = replica.CurrentPolicy();
  if (!policy.ok()) return policy.status();
  if (const auto& p = *policy) {
    for (const auto& m : p->members()) {
      if (m.key == replica.author()) rep.node_name = m.name;
    }
  }
  if (const auto& p = *policy; p && !p->county().empty()) rep.county = p->county();
  else rep.county = "天全县";
  auto held = ScopesWithKeys(replica);
  if (!held.ok()) return held.status();
  const std::set<std::string>& keys = *held;
  std::set<std::string> readable;
  for (const std::string& s : CountyScopes()) {
    if (keys.count(s)) readable.insert(s);
    else rep.unreadable_scopes.push_back(s);
  }
  Reader rd(replica, filter, rep);

  if (readable.count("hr.workers")) {
    HEARTH_RETURN_IF_ERROR(rd.Each("worker", [&](const Record& r, const std::string& t) {
      rd.Add("workers.contacts", t, Count(r, "visits") + Count(r, "calls") + Count(r, "sms"));
      const Value* area = MvFirst(r, "work_area");
      if (!area || area->type() != ValueType::kString) return;
      const std::string& a = area->as_string();
      if (a == "local") rd.Add("workers.local", t, 1), rd.Add("workers.in_city", t, 1);
      else if (a == "city") rd.Add("workers.city", t, 1), rd.Add("workers.in_city", t, 1);
      else if (a == "province") rd.Add("workers.province", t, 1);
      else if (a == "out_of_province") rd.Add("workers.out_of_province", t, 1);
      else return;
      rd.Add("workers.total", t, 1);
    }));
    HEARTH_RETURN_IF_ERROR(rd.Each("welfare_visit", [&](const Record& r, const std::string& t) {
      rd.Add("welfare.gift_packs", t, Count(r, "gift_packs"));
    }));
    HEARTH_RETURN_IF_ERROR(rd.Each("job_posting", [&](const Record& r, const std::string& t) {
      rd.Add("postings.count", t, 1);
      rd.Add("postings.pushes", t, Count(r, "pushes"));
    }));
    HEARTH_RETURN_IF_ERROR(rd.Each("recruitment_event", [&](const Record& r, const std::string& t) {
      rd.Add("events.count", t, 1);
      rd.Add("events.intentions", t, Count(r, "intentions"));
    }));
    const int hired = rd.RankOf("placement", "stage", "hired");
    HEARTH_RETURN_IF_ERROR(rd.Each("placement", [&](const Record& r, const std::string& t) {
      const std::string* kind = LwwString(r, "kind");
      if (kind && *kind == "career_planning" && rd.Rank(r, "placement", "stage") >= hired) {
        rd.Add("placements.career_planning", t, 1);
      }
    }));
    HEARTH_RETURN_IF_ERROR(rd.Each("enrolment", [&](const Record&, const std::string& t) {
      rd.Add("training.enrolments", t, 1);
    }));
    const int disbursed = rd.RankOf("startup_loan", "stage", "disbursed");
    int64_t loan_fen = 0;
    HEARTH_RETURN_IF_ERROR(rd.Each("startup_loan", [&](const Record& r, const std::string& t) {
      if (rd.Rank(r, "startup_loan", "stage") < disbursed) return;
      rd.Add("loans.count", t, 1);
      const Value* v = MvFirst(r, "amount_fen");
      int64_t fen = v && v->type() == ValueType::kInt ? v->as_int() : 0;
      loan_fen += fen;
      rd.Add("loans.fen", t, fen);
    }));
    rd.Add("loans.amount_yuan", "", loan_fen / 100);
    const int departed = rd.RankOf("shuttle_trip", "stage", "departed");
    HEARTH_RETURN_IF_ERROR(rd.Each("shuttle_trip", [&](const Record& r, const std::string& t) {
      if (rd.Rank(r, "shuttle_trip", "stage") < departed) return;
      rd.Add("shuttle.trips", t, 1);
      rd.Add("shuttle.passengers", t, SetSize(r, "passengers"));
    }));
    const int issued = rd.RankOf("document_service", "stage", "issued");
    HEARTH_RETURN_IF_ERROR(rd.Each("document_service", [&](const Record& r, const std::string& t) {
      if (rd.Rank(r, "document_service", "stage") >= issued) rd.Add("documents.count", t, 1);
    }));
  }
  if (readable.count("hr.wages")) {
    HEARTH_RETURN_IF_ERROR(rd.Each("inspection", [&](const Record&, const std::string& t) {
      rd.Add("wages.inspections", t, 1);
    }));
    int64_t recovered_fen = 0;
    HEARTH_RETURN_IF_ERROR(rd.Each("wage_case", [&](const Record& r, const std::string& t) {
      rd.Add("wages.cases", t, 1);
      if (LwwBool(r, "filed")) rd.Add("wages.filed", t, 1);
      rd.Add("wages.workers_recovered", t, Count(r, "workers_recovered"));
      recovered_fen += Count(r, "recovered_fen");
      rd.Add("wages.recovered_fen", t, Count(r, "recovered_fen"));
    }));
    rd.Add("wages.recovered_yuan", "", recovered_fen / 100);
  }
  if (readable.count("civil.children")) {
    HEARTH_RETURN_IF_ERROR(rd.Each("companion_home", [&](const Record&, const std::string& t) {
      rd.Add("children.homes", t, 1);
    }));
    HEARTH_RETURN_IF_ERROR(rd.Each("companion_mother", [&](const Record&, const std::string& t) {
      rd.Add("children.mothers", t, 1);
    }));
    HEARTH_RETURN_IF_ERROR(rd.Each("child", [&](const Record&, const std::string& t) {
      rd.Add("children.count", t, 1);
    }));
    HEARTH_RETURN_IF_ERROR(rd.Each("care_activity", [&](const Record&, const std::string& t) {
      rd.Add("children.activities", t, 1);
    }));
  }
  if (readable.count("union.stations")) {
    HEARTH_RETURN_IF_ERROR(rd.Each("outdoor_station", [&](const Record& r, const std::string& t) {
      const FieldValue* st = r.Find("stage");
      if (st && st->value.type() == ValueType::kString && st->value.as_string() == "open") {
        rd.Add("union.stations", t, 1);
      }
    }));
    HEARTH_RETURN_IF_ERROR(rd.Each("outreach_event", [&](const Record& r, const std::string& t) {
      rd.Add("union.outreach_events", t, 1);
      rd.Add("union.consultations", t, Count(r, "consultations"));
    }));
  }
  if (readable.count("township.services")) {
    HEARTH_RETURN_IF_ERROR(rd.Each("village_station", [&](const Record& r, const std::string& t) {
      if (LwwBool(r, "plaque")) rd.Add("township.stations", t, 1);
      if (LwwBool(r, "new_build")) {
        rd.Add("township.new_stations", t, 1);
        rd.Add("township.station_staff", t, SetSize(r, "staff"));
      }
    }));
  }
  // Per-township money in yuan (from the fen sums).
  for (auto& [t, m] : rep.by_township) {
    if (auto it = m.find("loans.fen"); it != m.end()) m["loans.amount_yuan"] = it->second / 100, m.erase(it);
    if (auto it = m.find("wages.recovered_fen"); it != m.end()) m["wages.recovered_yuan"] = it->second / 100, m.erase(it);
  }

  for (const internal::FigureDef& d : internal::FigureDefs()) {
    Figure f;
    f.key = d.key;
    f.label = d.label;
    f.unit = d.unit;
    f.scope = d.scope;
    f.level = d.level;
    f.available = readable.count(d.scope) > 0;
    f.value = f.available ? rd.Get(d.key) : 0;
    rep.figures.push_back(std::move(f));
  }
  return rep;
}

}  // namespace hearth::county
