// crash_writer: the victim process of the kill -9 durability test
// (tests/durability/kill9_test.cpp, docs/durability.md).
//
//   crash_writer <replica-dir> <schema.toml> [seed]
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
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "hearth/replica.hpp"
#include "hearth/schema.hpp"

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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <replica-dir> <schema.toml> [seed]\n", argv[0]);
    return 64;
  }
  const std::string dir = argv[1];
  const uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : std::random_device{}();
  std::mt19937_64 rng(seed);

  auto schema = hearth::Schema::LoadFile(argv[2]);
  if (!schema.ok()) Die("loading schema: " + schema.status().ToString());

  hearth::ReplicaOptions opts;
  opts.durability = hearth::Durability::kSync;  // the default, stated for the reader
  opts.unencrypted_identity = true;  // an unattended test writer
  opts.initial_map_size = uint64_t{1} << 20;
  opts.schema = std::move(schema).value();
  auto opened = hearth::Replica::Open(dir, opts);
  if (!opened.ok()) Die("opening " + dir + ": " + opened.status().ToString());
  std::unique_ptr<hearth::Replica> replica = std::move(opened).value();
  const std::string author = replica->author().ToHex();

  uint64_t map_size = replica->Stats().map_size;
  std::printf("# map %" PRIu64 "\n", map_size);
  std::fflush(stdout);

  for (uint64_t txn = 1;; ++txn) {
    WriteBatch b;
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
    if (rng() % kLargeEvery == 0) {
      const std::string big = LargeString(rng);
      if (rng() % 2 == 0) {
        b.Set("item", FixedId(1, static_cast<int>(rng() % kItems)), "any", big);
      } else {
        b.Set("other", FixedId(2, static_cast<int>(rng() % kOthers)), "name", big);
      }
    }

    auto c = replica->Commit(b);
    if (!c.ok()) Die("commit " + std::to_string(txn) + ": " + c.status().ToString());
    // The commit is durable (fsynced) now: acknowledge it.
    std::printf("%s %" PRIu64 " %" PRIu64 "\n", author.c_str(), c->first_seq, c->last_seq);
    std::fflush(stdout);

    const uint64_t now_size = replica->Stats().map_size;
    if (now_size != map_size) {
      map_size = now_size;
      std::printf("# map %" PRIu64 "\n", map_size);
      std::fflush(stdout);
    }
  }
}
