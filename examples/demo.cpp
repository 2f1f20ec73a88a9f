// hearth_demo: four agencies of one county keep shared records offline and
// converge by exchanging deltas.
//
// The labour bureau (hr), the trade union (union), civil affairs (civil) and a
// township office (township) each have their own replica directory. Each
// writes in its own scopes while "offline"; the township office enters data
// for everyone. The county administrator's root key signs the policy (who
// reads, writes and relays which scope) and seals each scope's key to its
// readers. Then every pair syncs: the replicas that may read the same scopes
// end with the same digest, and the union node holds civil-affairs records
// it cannot read.
//
// Usage: hearth_demo [OUT_DIR] [--schema FILE]   (OUT_DIR is wiped first)
// Uses only the public API (include/hearth).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "hearth/replica.hpp"
#include "hearth/schema.hpp"

#ifndef HEARTH_DEMO_SCHEMA
#define HEARTH_DEMO_SCHEMA "examples/demo_schema.toml"
#endif

using namespace hearth;

namespace {

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "hearth_demo: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(r).value();
}

void Must(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what, s);
}

std::string Hex(const Hash32& h, size_t n = 8) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += k[h[i] >> 4];
    s += k[h[i] & 15];
  }
  return s;
}

const char* kSurnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴",
                           "徐", "孙", "马", "胡", "朱", "郭", "何", "罗", "高", "林"};
const char* kGiven[] = {"伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇",
                        "艳", "杰", "涛", "明", "超", "秀英", "建国", "志强", "玉兰", "春梅"};
const char* kTownships[] = {"城厢镇", "始阳镇", "仁义镇", "小河镇", "思经镇", "乐英乡", "两路乡"};
const char* kSkills[] = {"welding", "masonry", "electrician", "driving", "cooking", "tea_picking"};

struct Node {
  std::string name;
  std::unique_ptr<Replica> replica;
};

}  // namespace

int main(int argc, char** argv) {
  std::string out = "out/demo";
  std::string schema_path = HEARTH_DEMO_SCHEMA;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--schema") == 0 && i + 1 < argc) {
      schema_path = argv[++i];
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: hearth_demo [OUT_DIR] [--schema FILE]\n"
                  "Runs four agency replicas (hr, union, civil, township) in OUT_DIR\n"
                  "(default out/demo, wiped first), writes offline, syncs, and prints the result.\n");
      return 0;
    } else {
      out = argv[i];
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  std::filesystem::remove_all(out);
  Schema schema = Must(Schema::LoadFile(schema_path), "loading schema " + schema_path);

  std::vector<Node> nodes;
  auto open = [&](const std::string& name, std::optional<AuthorId> root, bool is_root) {
    ReplicaOptions o;
    o.schema = schema;
    o.durability = Durability::kNoSync;  // a demo; real nodes keep the default kSync
    o.unencrypted_identity = true;       // a demo; real nodes protect their key with a passphrase
    o.root = root;
    o.is_root = is_root;
    nodes.push_back({name, Must(Replica::Open(out + "/" + name, o), "opening " + name)});
  };
  // The county administrator's replica holds the root key that signs policy.
  open("county", std::nullopt, true);
  const AuthorId root = nodes[0].replica->author();
  for (const char* name : {"hr", "union", "civil", "township"}) open(name, root, false);
  Replica& county = *nodes[0].replica;
  Replica& hr = *nodes[1].replica;
  Replica& un = *nodes[2].replica;
  Replica& civil = *nodes[3].replica;
  Replica& town = *nodes[4].replica;
  std::mt19937 rng(20261129);
  auto pick = [&](auto& arr) { return arr[rng() % (sizeof(arr) / sizeof(arr[0]))]; };

  // --- 0. The county signs a policy: members, scopes, grants (docs/policy.md). ---
  Policy policy;
  policy.set_county("天全县");
  for (const char* s : {"hr.workers", "hr.wages", "civil.children", "union.stations"}) {
    Must(policy.AddScope({s, 1, ""}), "scope");
  }
  Must(policy.AddMember({hr.author(), "县人社局", "hr", "", {"labour_inspector"}, std::nullopt}), "member");
  Must(policy.AddMember({un.author(), "县总工会", "union", "", {}, std::nullopt}), "member");
  Must(policy.AddMember({civil.author(), "县民政局", "civil", "", {}, std::nullopt}), "member");
  Must(policy.AddMember({town.author(), "城厢镇便民服务中心", "township", "城厢镇", {"child_care"}, std::nullopt}),
       "member");
  struct G {
    const char *agency, *role, *scope;
    uint8_t rights;
  } grants[] = {
      {"hr", "", "hr.workers", kRightRead | kRightWrite},
      {"township", "", "hr.workers", kRightRead | kRightWrite},
      {"civil", "", "hr.workers", kRightRead},
      {"union", "", "hr.workers", kRightRelay},
      {"hr", "", "hr.wages", kRightRead},
      {"", "labour_inspector", "hr.wages", kRightWrite},
      {"township", "", "hr.wages", kRightRead | kRightWrite},
      {"union", "", "hr.wages", kRightRelay},
      {"civil", "", "civil.children", kRightRead | kRightWrite},
      {"", "child_care", "civil.children", kRightRead | kRightWrite},
      {"township", "", "civil.children", kRightRelay},
      {"hr", "", "civil.children", kRightRelay},
      {"union", "", "union.stations", kRightRead | kRightWrite},
      {"hr", "", "union.stations", kRightRead},
      {"township", "", "union.stations", kRightRead | kRightRelay},
      {"civil", "", "union.stations", kRightRelay},
  };
  for (const G& g : grants) Must(policy.AddGrant({g.agency, g.role, g.scope, g.rights}), "grant");
  Must(county.PublishPolicy(policy), "publishing the policy");
  // Everyone receives the policy and its key envelopes from the county.
  for (Node& n : nodes) {
    if (n.replica.get() == &county) continue;
    for (const Bytes& d : Must(county.DeltasSince(n.replica->GetHeads()), "deltas")) {
      Must(n.replica->Apply(d), "policy to " + n.name);
    }
  }

  // --- 1. Each agency records its own programmes (offline). ---
  std::vector<RecordId> workers, postings, children, stations;
  RecordId wage_case = RecordId::Generate();
  Must(hr.Write([&](WriteBatch& b) {
         for (int i = 0; i < 300; ++i) {
           RecordId w = RecordId::Generate();
           workers.push_back(w);
           b.Set("worker", w, "name", std::string(pick(kSurnames)) + pick(kGiven));
           b.Set("worker", w, "home_village", pick(kTownships));
           b.Add("worker", w, "skills", pick(kSkills));
         }
         for (int i = 0; i < 20; ++i) {
           RecordId p = RecordId::Generate();
           postings.push_back(p);
           b.Set("job_posting", p, "employer_name", "雅安建工" + std::to_string(i + 1) + "号项目部");
           b.Set("job_posting", p, "title", "钢筋工");
           b.Set("job_posting", p, "city", i % 3 ? "雅安" : "成都");
           b.Set("job_posting", p, "monthly_wage_fen", int64_t{(6000 + 250 * i) * 100});
           b.Advance("job_posting", p, "stage", "open");
         }
         b.Set("wage_case", wage_case, "title", "某工地拖欠农民工工资");
         b.Set("wage_case", wage_case, "employer_name", "某建筑劳务公司");
         b.Set("wage_case", wage_case, "amount_owed_fen", int64_t{1155000000} / 72);
         b.Advance("wage_case", wage_case, "stage", "reported");
         for (int i = 0; i < 14; ++i) b.Add("wage_case", wage_case, "workers_affected", workers[i]);
         b.Append("wage_case", wage_case, "notes", "12333 hotline complaint received");
       }),
       "hr writes");
  RecordId child0;
  Must(civil.Write([&](WriteBatch& b) {
         for (int i = 0; i < 50; ++i) {
           RecordId c = RecordId::Generate();
           children.push_back(c);
           b.Set("child", c, "name", std::string(pick(kSurnames)) + "小" + pick(kGiven));
           b.Set("child", c, "village", pick(kTownships));
           b.Add("child", c, "needs", i % 2 ? "tutoring" : "meals");
         }
         child0 = children[0];
         RecordId act = RecordId::Generate();
         b.Set("care_activity", act, "title", "儿童之家 summer reading");
         for (int i = 0; i < 12; ++i) b.Add("care_activity", act, "attendees", children[i]);
       }),
       "civil writes");
  Must(un.Write([&](WriteBatch& b) {
         for (int i = 0; i < 16; ++i) {
           RecordId s = RecordId::Generate();
           stations.push_back(s);
           b.Set("station", s, "name", std::string("户外劳动者服务站 ") + std::to_string(i + 1));
           b.Set("station", s, "township", pick(kTownships));
           for (const char* a : {"water", "rest", "charging"}) b.Add("station", s, "amenities", a);
           b.Set("station", s, "open", true);
         }
       }),
       "union writes");

  // --- 3. Concurrent offline edits at the township office and the bureau. ---
  Must(town.Write([&](WriteBatch& b) {
         for (int i = 0; i < 100; ++i) b.Increment("worker", workers[i], "visits", 1);
         b.Increment("wage_case", wage_case, "recovered_fen", 3'000'000);
         b.Advance("wage_case", wage_case, "stage", "mediating");
         b.Append("wage_case", wage_case, "notes", "township mediation session held");
         b.Set("child", child0, "guardian", "祖母");
       }),
       "township writes");
  Must(un.Write([&](WriteBatch& b) { b.Increment("station", stations[0], "visits", 37); }), "union writes again");
  // The union may not write wage cases: refused before anything is written.
  auto refused = un.Write([&](WriteBatch& b) { b.Increment("wage_case", wage_case, "recovered_fen", 1); });
  Must(hr.Write([&](WriteBatch& b) {
         b.Increment("wage_case", wage_case, "recovered_fen", 5'000'000);
         b.Advance("wage_case", wage_case, "stage", "verifying");
         b.Append("wage_case", wage_case, "notes", "labour inspection visited the site");
         for (int i = 50; i < 150; ++i) b.Increment("worker", workers[i], "visits", 1);
       }),
       "hr writes again");
  Must(civil.Write([&](WriteBatch& b) { b.Set("child", child0, "guardian", "外公"); }), "civil writes again");

  // --- 4. Sync every pair until nothing moves (the township relays). ---
  size_t moved = 0, rounds = 0;
  for (bool changed = true; changed; ++rounds) {
    changed = false;
    for (Node& from : nodes) {
      for (Node& to : nodes) {
        if (&from == &to) continue;
        auto deltas = Must(from.replica->DeltasSince(to.replica->GetHeads()), "deltas since");
        for (const Bytes& d : deltas) {
          Must(to.replica->Apply(d), from.name + " -> " + to.name);
          ++moved;
          changed = true;
        }
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // --- 5. What every node now holds. ---
  std::printf("Hearth demo: a county root and four agencies, offline writes, then sync (%zu deltas moved in %zu rounds, %.2f s)\n\n",
              moved, rounds, secs);
  std::printf("%-9s %8s %7s %8s  %-16s  %s\n", "node", "records", "deltas", "authors", "digest", "consistent");
  std::map<std::string, Hash32> digests;
  for (Node& n : nodes) {
    ReplicaStats st = n.replica->Stats();
    Hash32 d = Must(n.replica->Digest(), "digest");
    digests[n.name] = d;
    Status c = n.replica->CheckConsistency();
    std::printf("%-9s %8llu %7llu %8llu  %-16s  %s\n", n.name.c_str(), (unsigned long long)st.records,
                (unsigned long long)st.deltas, (unsigned long long)st.authors, Hex(d).c_str(),
                c.ok() ? "yes" : c.ToString().c_str());
    if (!c.ok()) return 1;
  }
  Record wc = Must(town.Get("wage_case", wage_case), "reading wage case");
  std::printf("\nwage case %s at the township office:\n", wage_case.ToHex().substr(0, 8).c_str());
  std::printf("  stage          %s   (furthest of 'verifying' (hr) and 'mediating' (township))\n",
              wc.Find("stage")->value.as_string().c_str());
  std::printf("  recovered      %.2f yuan (hr 50,000 + township 30,000)\n",
              wc.Find("recovered_fen")->count / 100.0);
  std::printf("  workers        %zu\n", wc.Find("workers_affected")->values.size());
  for (const LogEntry& e : wc.Find("notes")->log) std::printf("  note           %s\n", e.value.as_string().c_str());
  Record ch = Must(civil.Get("child", child0), "reading child");
  std::printf("\nchild %s guardian: ", ch.id.ToHex().substr(0, 8).c_str());
  for (const Value& v : ch.Find("guardian")->values) std::printf("%s ", v.as_string().c_str());
  std::printf("%s\n", ch.Find("guardian")->conflict() ? "(concurrent edits: a person must decide)" : "");
  auto hidden = un.Get("child", child0);
  std::printf("union node holds civil-affairs deltas but cannot read them: Get(child) -> %s\n",
              hidden.ok() ? "READABLE (wrong!)" : hidden.status().ToString().c_str());
  std::printf("union writing a wage case -> %s\n", refused.ok() ? "ACCEPTED (wrong!)" : refused.status().ToString().c_str());

  const bool same = digests["county"] == digests["township"];
  std::printf("\ncounty and township may read every scope and reach the same digest: %s\n", same ? "yes" : "NO");
  if (!same || hidden.ok() || refused.ok()) return 1;
  std::printf("replica directories: %s/{county,hr,union,civil,township}\n", out.c_str());
  return 0;
}
