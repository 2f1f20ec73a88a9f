// seed-county, report: the synthetic county and its headline figures
// (tools/county, docs/domain.md).
#include <algorithm>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "common.hpp"
#include "county.hpp"

namespace hcli {

using namespace hearth;
namespace fs = std::filesystem;

namespace {

std::string Num(uint64_t v) {
  std::string d = std::to_string(v), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

struct SeedArgs {
  uint64_t seed = county::CountyOptions{}.seed;
  double scale = 1.0;
  uint32_t batch = county::CountyOptions{}.batch;
  std::string schemas;
  bool unencrypted = false;
  bool sync = false;
};

int SeedCounty(Globals& g, const SeedArgs& a) {
  if (!(a.scale > 0) || a.scale > 100) Fail(kExitUsage, "--scale must be in (0, 100]");
  if (a.batch == 0) Fail(kExitUsage, "--batch must be at least 1");
  auto pack = county::LoadSchemaPack(a.schemas);
  if (!pack.ok()) Fail(kExitUsage, "schema pack: " + pack.status().message());
  const std::string& dir = g.replica;
  const bool create = !IsReplicaDir(dir);
  if (create) {
    std::error_code ec;
    if (fs::exists(dir, ec) && (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec))) {
      Fail(kExitRuntime, dir + " is neither a replica nor an empty directory; name a replica or a new directory with -C");
    }
  }
  if (create) CheckIdentityChoice(a.unencrypted);
  ReplicaOptions o;
  o.create_if_missing = create;
  // Bulk load: one fsync at the end rather than one per commit (kSync with --sync).
  o.durability = a.sync ? Durability::kSync : Durability::kNoSync;
  o.passphrase = EnvPassphrase();
  o.unencrypted_identity = a.unencrypted;
  if (create) o.schema = *pack;
  auto opened = Replica::Open(dir, o);
  if (!opened.ok()) {
    FailStatus(opened.status(), (create ? "creating replica " : "opening replica ") + dir,
               create ? "set HEARTH_PASSPHRASE to protect the identity, or pass --unencrypted-identity" : "");
  }
  std::unique_ptr<Replica> r = std::move(opened).value();
  // The replica's schema must hold the pack's collections, field for field.
  for (const CollectionSpec& c : pack->collections()) {
    const CollectionSpec* have = r->schema().Find(c.name);
    if (!have || have->scope != c.scope) {
      Fail(kExitUsage, "replica " + dir + " has no collection '" + c.name + "' of the county schema pack\n" +
                           "  set it first: hearth -C " + dir + " schema set schemas/county.toml");
    }
  }
  uint64_t existing = 0;
  Must(r->Scan("worker", [&](const Record&) { return ++existing < 1; }), "reading " + dir);
  if (existing) {
    Fail(kExitRuntime, dir + " already holds county records; seeding twice would add every counter twice. "
                             "Seed a new replica (-C NEW_DIR)");
  }
  // Without a root, the scopes the county writes need keys: seeding creates
  // the missing ones explicitly, as `hearth keys new --all` would, and says so
  // (under a root they come from the root's envelopes).
  std::vector<std::string> created_keys;
  if (!r->root()) {
    std::set<std::string> held;
    for (const auto& k : Must(r->ListKeys(), "listing the scope keys")) held.insert(k.scope);
    std::set<std::string> scopes;
    for (const CollectionSpec& c : pack->collections()) scopes.insert(c.scope);
    for (const std::string& s : scopes) {
      if (held.count(s)) continue;
      Must(r->CreateScopeKey(s), "creating the key of scope " + s);
      created_keys.push_back(s);
    }
  }
  county::CountyOptions co;
  co.seed = a.seed;
  co.scale = a.scale;
  co.batch = a.batch;
  county::AgencyReplicas ar;
  ar.hr = ar.union_ = ar.civil = ar.township = r.get();
  auto sum = Must(county::GenerateCounty(co, ar), "seeding the county into " + dir);
  uint64_t records = 0;
  for (const auto& [c, n] : sum.records) records += n;
  if (g.json) {
    json j = {{"dir", dir},          {"created", create},       {"seed", a.seed},
              {"scale", a.scale},    {"records", records},      {"ops", sum.ops},
              {"deltas", sum.deltas}, {"seconds", sum.seconds}, {"author", r->author().ToHex()}};
    j["collections"] = sum.records;
    j["keys_created"] = created_keys;
    j["figures"] = sum.figures;
    PrintJson(j);
    return kExitOk;
  }
  if (create) Say(g, "Created replica " + dir + " with the county schema pack");
  if (!created_keys.empty()) {
    std::string list;
    for (const auto& s : created_keys) list += " " + s;
    Say(g, "Created scope keys (no county root):" + list + "; copy them to other replicas with `hearth -C " + dir +
               " keys export FILE` and `hearth keys import FILE`");
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", sum.seconds);
  Say(g, "Seeded the county (seed " + std::to_string(a.seed) + ", scale " + Dump(json(a.scale)) + ") into " + dir +
             ": " + Num(records) + " records, " + Num(sum.ops) + " ops, " + Num(sum.deltas) + " deltas in " + secs +
             " s");
  if (!g.quiet) {
    Table t({"COLLECTION", "RECORDS"});
    for (const auto& [c, n] : sum.records) t.Add({c, Num(n)});
    t.Print();
    std::cout << "`hearth -C " << dir << " report` shows the county's figures.\n";
  }
  return kExitOk;
}

struct ReportArgs {
  std::string township, from, to, html;
};

int Report(Globals& g, const ReportArgs& a) {
  county::ReportFilter f;
  if (!a.township.empty()) {
    const auto& known = county::Townships();
    if (std::find(known.begin(), known.end(), a.township) == known.end()) {
      std::string list;
      for (const auto& t : known) list += (list.empty() ? "" : ", ") + t;
      Fail(kExitUsage, "--township: unknown township '" + a.township + "'; the county's townships: " + list);
    }
    f.township = a.township;
  }
  auto date = [](const std::string& s, const char* opt) {
    auto d = county::ParseDate(s);
    if (!d.ok()) Fail(kExitUsage, std::string(opt) + ": " + d.status().message());
    return *d;
  };
  if (!a.from.empty()) f.from_ms = date(a.from, "--from");
  if (!a.to.empty()) f.to_ms = date(a.to, "--to");
  if (f.from_ms && f.to_ms && *f.from_ms >= *f.to_ms) Fail(kExitUsage, "--from must be before --to (--to is exclusive)");
  auto r = OpenGlobal(g);
  auto rep = Must(county::ComputeReport(*r, f), "computing the county report");
  if (!a.html.empty()) WriteNewFile(a.html, county::ReportHtml(rep), 0644, "HTML report");
  if (g.json) {
    std::cout << county::ReportJson(rep);
  } else if (!g.quiet) {
    std::cout << county::ReportText(rep);
    if (!a.html.empty()) std::cout << "\nHTML report written to " << a.html << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddCountyCommands(CLI::App& app, Globals& g) {
  {
    auto* sc = app.add_subcommand("seed-county",
                                  "Write a synthetic county (the seed article's scale) into the replica named by -C");
    auto a = std::make_shared<SeedArgs>();
    sc->add_option("--seed", a->seed, "Random seed: same seed, same records and record ids")->capture_default_str();
    sc->add_option("--scale", a->scale, "1.0 = the seed article's county (48,500 workers, ...); 0.02 for a small one")
        ->capture_default_str();
    sc->add_option("--batch", a->batch, "Records per commit")->capture_default_str();
    sc->add_option("--schemas", a->schemas, "Directory of the schema pack (default: the built-in schemas/county.toml)");
    sc->add_flag("--unencrypted-identity", a->unencrypted,
                 "When creating the replica: store its identity unencrypted (not with HEARTH_PASSPHRASE set)");
    sc->add_flag("--sync", a->sync, "fsync every commit (default: one bulk load, flushed by the OS)");
    sc->footer("Creates the replica with the county schema pack when -C names a new or empty directory.\n"
               "Refuses a replica that already holds county records (counters would count twice).");
    sc->callback([&g, a] { g.action = [&g, a] { return SeedCounty(g, *a); }; });
  }
  {
    auto* rp = app.add_subcommand("report", "The county's headline figures from the records this replica can read");
    auto a = std::make_shared<ReportArgs>();
    rp->add_option("--township", a->township, "Only records of this township, e.g. 城厢镇");
    rp->add_option("--from", a->from, "Only records dated on or after DATE (YYYY-MM-DD, UTC)");
    rp->add_option("--to", a->to, "Only records dated before DATE (exclusive)");
    rp->add_option("--html", a->html, "Also write a self-contained HTML report to FILE (never overwritten)");
    rp->footer("Figures from scopes this replica holds no key for are shown as n/a (JSON: available false).\n"
               "Definitions: docs/domain.md, \"Report\".");
    rp->callback([&g, a] { g.action = [&g, a] { return Report(g, *a); }; });
  }
}

}  // namespace hcli
