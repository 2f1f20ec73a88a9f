// union_station: an outdoor workers' service station (户外劳动者服务站点) of the
// county trade union, kept in two replicas that work offline and merge.
//
// The union office adds the station and its amenities; the host unit (a bank
// branch that lends the room) keeps its own replica at the station. Both
// update the amenities and count visitors while offline, then exchange
// deltas (what a hearthd or a USB-stick bundle would carry) and agree:
// the visit counter keeps both tallies, the amenity set keeps every add
// that no remove has seen (add-wins).
//
//   union_station [DIR] [--schema FILE]   (DIR default ./union-station; it
//   holds the replicas DIR/union and DIR/host)
//
// Schema: schemas/county.toml (collection outdoor_station, scope
// union.stations). Uses only the public API (include/hearth).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <hearth/replica.hpp>

#ifndef HEARTH_SCHEMA_PACK
#define HEARTH_SCHEMA_PACK "schemas/county.toml"
#endif

using namespace hearth;

namespace {

template <typename T>
T Check(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "union_station: %s: %s\n", what, r.status().ToString().c_str());
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

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "union_station: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// One-way sync: every delta `from` holds that `to` lacks, verified and
// applied by `to` in one transaction. Returns how many moved.
size_t Pull(Replica& to, const Replica& from) {
  auto deltas = Check(from.DeltasSince(to.GetHeads().value()), "reading deltas");
  Check(to.ApplyBatch(deltas).error, "applying deltas");
  return deltas.size();
}

void Print(const char* who, const Replica& r, const RecordId& id) {
  Record s = Check(r.Get("outdoor_station", id), "reading the station");
  std::printf("%-6s %s: visits %lld, amenities", who, s.Find("name")->value.as_string().c_str(),
              static_cast<long long>(s.Find("visits")->count));
  for (const Value& a : s.Find("amenities")->values) std::printf(" %s", a.as_string().c_str());
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "union-station", schema_path = HEARTH_SCHEMA_PACK;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--schema") == 0 && i + 1 < argc) schema_path = argv[++i];
    else dir = argv[i];
  }
  ReplicaOptions options;
  options.schema = Check(Schema::LoadFile(schema_path), "loading the schema pack");
  options.unencrypted_identity = true;  // example only: real nodes set options.passphrase
  auto office = Check(Replica::Open(dir + "/union", options), "opening the union replica");
  auto host = Check(Replica::Open(dir + "/host", options), "opening the host's replica");

  // 1. The union office creates the scope key and opens the station; the
  //    host receives a copy of the key (in a county network the root's
  //    policy seals scope keys to every reader instead).
  EnsureScopeKey(*office, "union.stations");
  const RecordId station = RecordId::Generate();
  Check(office->Write([&](WriteBatch& b) {
          b.Set("outdoor_station", station, "name", "城厢镇户外劳动者服务站")
              .Set("outdoor_station", station, "host", "农业银行城厢支行")
              .Set("outdoor_station", station, "township", "城厢镇")
              .Set("outdoor_station", station, "hours", "08:00-20:00")
              .Advance("outdoor_station", station, "stage", "open");
          for (const char* a : {"water", "rest", "toilet", "charging"}) b.Add("outdoor_station", station, "amenities", a);
        }),
        "opening the station");
  Check(host->ImportKeyring(Check(office->ExportKeyring({"union.stations"}), "exporting the key")), "importing the key");
  Pull(*host, *office);

  // 2. Offline, both sides edit the same record.
  Check(host->Write([&](WriteBatch& b) {
          b.Increment("outdoor_station", station, "visits", 41)  // the host's tally this week
              .Add("outdoor_station", station, "amenities", "heating_cooling");
        }),
        "host's tally");
  Check(office->Write([&](WriteBatch& b) {
          b.Increment("outdoor_station", station, "visits", 17)  // union staff's tally, same week
              .Add("outdoor_station", station, "amenities", "first_aid")
              .Remove("outdoor_station", station, "amenities", "charging");  // the charger broke
        }),
        "union's tally");
  Print("before", *office, station);

  // 3. They meet again: exchange deltas both ways; both hold the same state.
  size_t moved = Pull(*office, *host) + Pull(*host, *office);
  Print("union", *office, station);
  Print("host", *host, station);
  const bool same = Check(office->Digest(), "digest") == Check(host->Digest(), "digest");
  std::printf("%zu delta(s) exchanged; replicas %s\n", moved, same ? "converged (equal digests)" : "DIFFER");
  Record s = Check(office->Get("outdoor_station", station), "reading");
  return same && s.Find("visits")->count == 58 ? 0 : 1;
}
