// crash_writer: the victim process of the kill -9 durability test
// (tests/durability/kill9_test.cpp, docs/durability.md).
//
//   crash_writer <replica-dir> <schema.toml> [seed] [mode] [mode-arg]
//
// Modes (default "commit"):
//   commit  the mixed commit workload described below.
//   grow    the same with a 64 KiB initial map and a ~100 KB value every
//           ~6 commits, so the map grows (LMDB reopens a replica with the map
//           sized to its data, so every run starts by growing).
//   rotate  the replica is the county root: every 4th step publishes a new
//           policy version that rotates the key epoch of test.a
//           (PublishPolicy: new scope key, key envelopes, policy delta), the
//           other steps commit under the policy in force.
//   import  mode-arg is a directory of bundles b0000, b0001, ... of one
//           source author and its keyring ("keyring"): imports the keyring,
//           then each bundle not yet fully held (ImportBundle), printing
//           "<source_author_hex> <first> <last>" after each import returns
//           OK; "# done" when none is left (then it waits to be killed).
//   threads mode-arg (default 4) threads commit the commit workload at once
//           on the one replica (group commit, docs/durability.md): each
//           thread its own random stream, its acks printed as its commits
//           return, so acks of different threads may appear out of seq
//           order.
//   migrate mode-arg is a format-1 replica (tests/data/replica_v1): in a
//           loop, copies it to <replica-dir>/m<i>, prints "# begin migrate
//           <i>", removes m<i-1>, opens m<i> (which migrates it to storage
//           format 2 in one transaction), closes it and prints
//           "# migrated <i>" (docs/storage-format.md, "Migration from
//           format 1"). Never acknowledges a commit.
// Before each policy publish and each bundle import the writer prints
// "# begin <what>", so the test can tell kills inside them.
//
// Opens (creating if needed) the replica with durability kSync and a 1 MiB
// initial map, then commits transactions until it is killed. Each
// transaction is a few operations of mixed kinds on a handful of fixed
// records in both scopes of the test schema (so some commits make two
// deltas); every ~50th writes a ~100 KB string so the map has to grow.
//
// After each commit returns OK it prints, and flushes, one line
//
//   <author_hex> <first_seq> <last_seq>
//
// so every line the parent reads names deltas that were durable before it
// was written. Lines starting with '#' are information for the parent
// ("# map <bytes>" when the map size changed). Any error is printed to
// stderr and the process exits with status 2; it never exits on its own
// otherwise.
#include <cinttypes>
#include <mutex>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "hearth/bundle.hpp"
#include "hearth/policy.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "hearth/schema.hpp"
#include "store/fault.hpp"
#include "../support/test_keys.hpp"

namespace {

using hearth::RecordId;
using hearth::Value;
using hearth::WriteBatch;

constexpr int kItems = 6;
constexpr int kOthers = 4;
constexpr int kLargeEvery = 50;
constexpr size_t kLargeBytes = 100 * 1024;

// Fixed ids, the same in every run, so state accumulates on a handful of
// records across crashes.
RecordId FixedId(uint8_t kind, int i) {
  RecordId id;
  id.bytes[0] = 0xd0;
  id.bytes[1] = kind;
  id.bytes[15] = static_cast<uint8_t>(i);
  return id;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "crash_writer: %s\n", what.c_str());
  std::fflush(stderr);
  std::exit(2);
}

const char* const kTags[] = {"urgent", "wages", "housing", "noise", "repair", "school", "permit", "road"};
const char* const kStages[] = {"new", "open", "done"};
const char* const kOwners[] = {"township-a", "township-b", "district", "hotline"};

void AddItemOp(WriteBatch& b, std::mt19937_64& rng, uint64_t txn) {
  const RecordId id = FixedId(1, static_cast<int>(rng() % kItems));
  switch (rng() % 12) {
    case 0: b.Set("item", id, "title", "title " + std::to_string(txn)); break;
    case 1: b.Add("item", id, "tags", kTags[rng() % 8]); break;
    case 2: b.Remove("item", id, "tags", kTags[rng() % 8]); break;
    case 3: b.Increment("item", id, "count", static_cast<int64_t>(rng() % 7) - 3); break;
    case 4: b.Advance("item", id, "stage", kStages[rng() % 3]); break;
    case 5: b.Set("item", id, "owner", kOwners[rng() % 4]); break;
    case 6: b.Set("item", id, "ref", FixedId(2, static_cast<int>(rng() % kOthers))); break;
    case 7:
      // Logs keep every entry: append rarely so records stay small.
      if (rng() % 4 == 0) {
        b.Append("item", id, "notes", "note " + std::to_string(txn));
      } else {
        b.Increment("item", id, "count", 1);
      }
      break;
    case 8: b.Set("item", id, "score", static_cast<int64_t>(rng() % 1000)); break;
    case 9: b.Set("item", id, "price", static_cast<double>(rng() % 10000) / 100.0); break;
    case 10: b.Set("item", id, "any", static_cast<int64_t>(txn)); break;
    case 11:
      if (rng() % 8 == 0) {
        b.Delete("item", id);
      } else {
        b.Set("item", id, "title", "t" + std::to_string(rng() % 100));
      }
      break;
  }
}

void AddOtherOp(WriteBatch& b, std::mt19937_64& rng, uint64_t txn) {
  const RecordId id = FixedId(2, static_cast<int>(rng() % kOthers));
  if (rng() % 2 == 0) {
    b.Set("other", id, "name", "name " + std::to_string(txn));
  } else {
    b.Increment("other", id, "n", static_cast<int64_t>(rng() % 5) + 1);
  }
}

std::string LargeString(std::mt19937_64& rng) {
  std::string s(kLargeBytes, ' ');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

std::mutex g_out_mu;  // one whole line per write(2), also with several threads

void Ack(const std::string& author, uint64_t first, uint64_t last) {
  std::lock_guard lk(g_out_mu);
  std::printf("%s %" PRIu64 " %" PRIu64 "\n", author.c_str(), first, last);
  std::fflush(stdout);
}

void Info(const std::string& line) {
  std::printf("# %s\n", line.c_str());
  std::fflush(stdout);
}

[[noreturn]] void WaitForKill() {
  for (;;) ::pause();
}

// The root's policy of version v: the root is the only member, writes both
// scopes; test.a's key epoch is v (a rotation per version).
hearth::Policy RootPolicy(const hearth::AuthorId& root, uint64_t v) {
  hearth::Policy p;
  p.set_version(v);
  p.set_county("crash");
  hearth::Status s = p.AddScope({"test.a", static_cast<uint32_t>(v), "rotated every version"});
  if (s.ok()) s = p.AddScope({"test.b", 1, ""});
  if (s.ok()) s = p.AddMember({root, "county", "county", "", {}, std::nullopt});
  if (s.ok()) s = p.AddGrant({"county", "", "test.a", hearth::Right::kRead | hearth::Right::kWrite});
  if (s.ok()) s = p.AddGrant({"county", "", "test.b", hearth::Right::kRead | hearth::Right::kWrite});
  if (!s.ok()) Die("building policy: " + s.ToString());
  return p;
}

int RunImport(hearth::Replica& replica, const std::string& bundles) {
  {
    std::ifstream f(bundles + "/keyring", std::ios::binary);
    hearth::Bytes kr((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    hearth::Status s = replica.ImportKeyring(kr);
    if (!s.ok()) Die("importing keyring: " + s.ToString());
  }
  for (int i = 0;; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/b%04d", i);
    const std::string path = bundles + name;
    if (!std::filesystem::exists(path)) break;
    auto info = hearth::CheckBundle(path);
    if (!info.ok()) Die("checking " + path + ": " + info.status().ToString());
    if (info->covers.size() != 1) Die(path + " covers more than one author");
    const auto& [src, covers] = *info->covers.begin();
    const hearth::Heads heads = replica.GetHeads().value();
    const uint64_t held = heads.count(src) ? heads.at(src).seq : 0;
    if (covers.seq <= held) continue;
    const uint64_t since = info->since.count(src) ? info->since.at(src).seq : 0;
    Info("begin import " + std::to_string(i));
    auto rep = hearth::ImportBundle(replica, path);
    if (!rep.ok()) Die("importing " + path + ": " + rep.status().ToString());
    if (!rep->rejected.empty()) Die("importing " + path + ": rejected " + rep->rejected.front().reason);
    // Everything the bundle covers is applied and synced now.
    Ack(src.ToHex(), since + 1, covers.seq);
  }
  Info("done");
  WaitForKill();
}

// One transaction of the commit workload.
void BuildBatch(WriteBatch& b, std::mt19937_64& rng, uint64_t txn, int large_every) {
  const int ops = 1 + static_cast<int>(rng() % 5);
  const bool both = rng() % 2 == 0;
  for (int i = 0; i < ops; ++i) {
    // Without `both`, stay in one scope (chosen by the txn's parity).
    const bool item = both ? rng() % 2 == 0 : txn % 2 == 0;
    if (item) {
      AddItemOp(b, rng, txn);
    } else {
      AddOtherOp(b, rng, txn);
    }
  }
  if (both) {
    // Make sure both scopes really are touched.
    AddItemOp(b, rng, txn);
    AddOtherOp(b, rng, txn);
  }
  // Random rather than txn % 50: each run is short (a few dozen commits)
  // and restarts the count.
  if (rng() % large_every == 0) {
    const std::string big = LargeString(rng);
    if (rng() % 2 == 0) {
      b.Set("item", FixedId(1, static_cast<int>(rng() % kItems)), "any", big);
    } else {
      b.Set("other", FixedId(2, static_cast<int>(rng() % kOthers)), "name", big);
    }
  }
}

// Mode threads: `n` threads commit at once until the process is killed.
[[noreturn]] void RunThreads(hearth::Replica& replica, uint64_t seed, int n) {
  const std::string author = replica.author().ToHex();
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&replica, &author, seed, i] {
      std::mt19937_64 rng(seed * 31 + static_cast<uint64_t>(i));
      for (uint64_t txn = 1;; ++txn) {
        WriteBatch b;
        BuildBatch(b, rng, txn, kLargeEvery);
        auto c = replica.Commit(b);
        if (!c.ok()) Die("thread " + std::to_string(i) + " commit " + std::to_string(txn) + ": " + c.status().ToString());
        // Durable (fsynced, alone or with the other threads' batches) now.
        Ack(author, c->first_seq, c->last_seq);
      }
    });
  }
  for (auto& t : threads) t.join();  // never: each thread runs until the kill
  WaitForKill();
}

}  // namespace

// Mode migrate: copies of a format-1 replica, each opened (migrated) in turn.
[[noreturn]] void RunMigrate(const std::string& dir, const std::string& fixture, const hearth::ReplicaOptions& opts) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  for (uint64_t i = 0;; ++i) {
    const std::string cur = dir + "/m" + std::to_string(i);
    fs::create_directories(cur);
    for (const char* f : {"data.mdb", "identity.key", "replica.mark"}) {
      fs::copy_file(fixture + "/" + f, cur + "/" + f, fs::copy_options::overwrite_existing);
      fs::permissions(cur + "/" + f, fs::perms::owner_read | fs::perms::owner_write);
    }
    // The copy is complete: from here the parent may check m<i>.
    Info("begin migrate " + std::to_string(i));
    if (i > 0) fs::remove_all(dir + "/m" + std::to_string(i - 1));
    {
      auto r = hearth::Replica::Open(cur, opts);
      if (!r.ok()) Die("opening " + cur + ": " + r.status().ToString());
    }
    Info("migrated " + std::to_string(i));
  }
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <replica-dir> <schema.toml> [seed] [commit|grow|rotate|import|threads] [arg]\n",
                 argv[0]);
    return 64;
  }
  const std::string dir = argv[1];
  const uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : std::random_device{}();
  const std::string mode = argc > 4 ? argv[4] : "commit";
  if (mode != "commit" && mode != "grow" && mode != "rotate" && mode != "import" && mode != "threads" &&
      mode != "migrate") {
    Die("unknown mode " + mode);
  }
  if (mode == "import" && argc < 6) Die("import needs the bundle directory");
  if (mode == "migrate" && argc < 6) Die("migrate needs the format-1 replica directory");
  std::mt19937_64 rng(seed);
  // Test seam (tests/faults): HEARTH_FAULT="op=N,err=NAME[,kind=KIND]" makes
  // the Nth LMDB operation of this process fail (src/store/fault.hpp). The
  // library itself reads no environment variable.
  if (const char* spec = std::getenv("HEARTH_FAULT"); spec != nullptr && *spec != '\0') {
    hearth::Status armed = hearth::store::FaultInjector::Arm(spec);
    if (!armed.ok()) Die("HEARTH_FAULT: " + armed.ToString());
  }

  auto schema = hearth::Schema::LoadFile(argv[2]);
  if (!schema.ok()) Die("loading schema: " + schema.status().ToString());

  hearth::ReplicaOptions opts;
  opts.durability = hearth::Durability::kSync;  // the default, stated for the reader
  opts.unencrypted_identity = true;  // an unattended test writer
  opts.initial_map_size = mode == "grow" ? uint64_t{64} << 10 : uint64_t{1} << 20;
  opts.is_root = mode == "rotate";
  opts.schema = std::move(schema).value();
  if (mode == "migrate") RunMigrate(dir, argv[5], opts);
  auto opened = hearth::Replica::Open(dir, opts);
  if (!opened.ok()) Die("opening " + dir + ": " + opened.status().ToString());
  std::unique_ptr<hearth::Replica> replica = std::move(opened).value();
  const std::string author = replica->author().ToHex();

  uint64_t map_size = hearth::inspect::Stats(*replica).value().map_size;
  std::printf("# map %" PRIu64 "\n", map_size);
  std::fflush(stdout);
  if (mode == "import") return RunImport(*replica, argv[5]);
  // No key is made implicitly without a root: the writer holds the shared
  // test keyring (under a root, in mode rotate, keys come from envelopes).
  if (hearth::Status k = hearth::testing::GiveTestKeys(*replica); !k.ok()) Die("scope keys: " + k.ToString());
  const int large_every = mode == "grow" ? 6 : kLargeEvery;
  if (mode == "threads") {
    const int n = argc > 5 ? std::atoi(argv[5]) : 4;
    if (n < 1 || n > 64) Die("threads: 1..64 threads");
    RunThreads(*replica, seed, n);
  }

  for (uint64_t txn = 1;; ++txn) {
    if (mode == "rotate" && txn % 4 == 1) {
      auto cur = replica->CurrentPolicy().value();
      const uint64_t v = cur ? cur->version() + 1 : 1;
      Info("begin publish " + std::to_string(v));
      auto c = replica->PublishPolicy(RootPolicy(replica->author(), v));
      if (!c.ok()) Die("publishing policy " + std::to_string(v) + ": " + c.status().ToString());
      Ack(author, c->first_seq, c->last_seq);
      continue;
    }
    WriteBatch b;
    BuildBatch(b, rng, txn, large_every);
    auto c = replica->Commit(b);
    if (!c.ok()) Die("commit " + std::to_string(txn) + ": " + c.status().ToString());
    // The commit is durable (fsynced) now: acknowledge it.
    Ack(author, c->first_seq, c->last_seq);

    const uint64_t now_size = hearth::inspect::Stats(*replica).value().map_size;
    if (now_size != map_size) {
      map_size = now_size;
      std::printf("# map %" PRIu64 "\n", map_size);
      std::fflush(stdout);
    }
  }
}
