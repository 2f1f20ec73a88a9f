// child_care: a child companion home (童伴之家) records an activity and who
// attended, the work of a child companion mother (童伴妈妈).
//
// Civil affairs registers the home, its companion mother and the children;
// the mother records an activity under one of the five care projects and
// adds each child who came to the attendance set (an add-wins set of record
// references: the mother and a volunteer can add children at the same time
// and no one is lost). Then it lists the home's activities through the
// `home` index and each child's attendance.
//
//   child_care [DIR] [--schema FILE]   (DIR default ./child-care-replica)
//
// Schema: schemas/county.toml, scope civil.children, the most sensitive
// one: in the county network only civil affairs and township staff holding
// the child_care role can read it; others relay it encrypted or never see
// it (docs/policy.md). Children's records are minimal by design: given name,
// birth year, village; no ID number, no address. Uses only the public API.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <hearth/replica.hpp>

#ifndef HEARTH_SCHEMA_PACK
#define HEARTH_SCHEMA_PACK "schemas/county.toml"
#endif

using namespace hearth;

namespace {

template <typename T>
T Check(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "child_care: %s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

// Without a county root no key is ever made implicitly: a scope's key is
// created once, on ONE replica, and copied to the others (ExportKeyring /
// ImportKeyring; docs/policy.md, "Keys without a root"). A reopened replica
// already holds it (kAlreadyExists).
void EnsureScopeKey(Replica& r, const char* scope) {
  auto k = r.CreateScopeKey(scope);
  if (!k.ok() && k.status().code() != Code::kAlreadyExists) {
    std::fprintf(stderr, "creating the key of scope %s: %s\n", scope, k.status().ToString().c_str());
    std::exit(1);
  }
}

Timestamp Now() {
  using namespace std::chrono;
  return Timestamp{duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()};
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "child-care-replica", schema_path = HEARTH_SCHEMA_PACK;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--schema") == 0 && i + 1 < argc) schema_path = argv[++i];
    else dir = argv[i];
  }
  ReplicaOptions options;
  options.schema = Check(Schema::LoadFile(schema_path), "loading the schema pack");
  options.unencrypted_identity = true;  // example only: real nodes set options.passphrase
  auto replica = Check(Replica::Open(dir, options), "opening the replica");
  EnsureScopeKey(*replica, "civil.children");

  // 1. The home, its companion mother and three children (one transaction).
  const RecordId home = RecordId::Generate(), mother = RecordId::Generate();
  std::vector<RecordId> children;
  Check(replica->Write([&](WriteBatch& b) {
          b.Set("companion_home", home, "name", "两河村童伴之家")
              .Set("companion_home", home, "township", "始阳镇")
              .Set("companion_home", home, "village", "两河村")
              .Add("companion_home", home, "amenities", "reading_corner")
              .Add("companion_home", home, "amenities", "homework_desks");
          b.Set("companion_mother", mother, "name", "李春梅")
              .Set("companion_mother", mother, "home", home)
              .Set("companion_mother", mother, "township", "始阳镇");
          const char* names[] = {"小雨", "小杰", "小敏"};
          for (int i = 0; i < 3; ++i) {
            RecordId c = RecordId::Generate();
            children.push_back(c);
            b.Set("child", c, "name", names[i])
                .Set("child", c, "birth_year", 2015 + i)
                .Set("child", c, "home", home)
                .Set("child", c, "township", "始阳镇")
                .Set("child", c, "village", "两河村")
                .Set("child", c, "guardian", "grandmother")  // mv: a disagreement is kept for review
                .Add("child", c, "needs", i == 1 ? "study" : "emotional");
          }
        }),
        "registering the home");

  // 2. The mother records today's activity and its attendance.
  const RecordId activity = RecordId::Generate();
  Check(replica->Write([&](WriteBatch& b) {
          b.Set("care_activity", activity, "project", "tong_zhi_jia")  // 童之家: the home's own activities
              .Set("care_activity", activity, "home", home)
              .Set("care_activity", activity, "township", "始阳镇")
              .Set("care_activity", activity, "date", Now())
              .Set("care_activity", activity, "topic", "summer reading and a video call with parents");
          for (const RecordId& c : children) b.Add("care_activity", activity, "attendees", c);
          b.Append("care_activity", activity, "notes", "three children came; 小杰 asked for maths help");
        }),
        "recording the activity");

  // 3. A volunteer adds a late arrival and removes nobody: the set only grows.
  Check(replica->Write([&](WriteBatch& b) {
          b.Append("care_activity", activity, "notes", "volunteer checked the list at 17:00");
          b.Add("care_activity", activity, "attendees", children[0]);  // already there: no duplicate
        }),
        "volunteer's note");

  // 4. The home's activities (index on `home`), and each child's attendance.
  Query q;
  q.collection = "care_activity";
  q.field = "home";
  q.equals = Value(home);
  auto activities = Check(replica->Find(q), "querying activities");
  std::printf("companion home %s: %zu activit%s\n", home.ToHex().c_str(), activities.size(),
              activities.size() == 1 ? "y" : "ies");
  size_t attended = 0;
  for (const Record& a : activities) {
    std::printf("  %s: %s, %zu attendee(s)\n", a.Find("project")->value.as_string().c_str(),
                a.Find("topic")->value.as_string().c_str(), a.Find("attendees")->values.size());
    for (const LogEntry& e : a.Find("notes")->log) std::printf("    note: %s\n", e.value.as_string().c_str());
    attended += a.Find("attendees")->values.size();
  }
  for (const RecordId& c : children) {
    Record r = Check(replica->Get("child", c), "reading a child");
    size_t n = 0;
    for (const Record& a : activities) {
      for (const Value& v : a.Find("attendees")->values) n += v.as_ref() == c;
    }
    std::printf("  child %s (born %lld): %zu activit%s\n", r.Find("name")->value.as_string().c_str(),
                static_cast<long long>(r.Find("birth_year")->value.as_int()), n, n == 1 ? "y" : "ies");
  }
  return activities.size() == 1 && attended == 3 ? 0 : 1;
}
