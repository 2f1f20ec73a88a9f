// The simulator runs (docs/protocol.md, "Simulator"): random writes under
// loss, duplication, reordering, delay, partitions, crashes and restarts;
// after healing, every replica holds the same state and every acknowledged
// write.
#include <chrono>
#include <cstdio>
#include <sstream>

#include "hearth/inspect.hpp"
#include "sync/sim.hpp"

namespace hearth {
namespace {

using testing::Sim;
using testing::TempDir;

std::optional<CommitInfo> RandomWrite(std::mt19937_64& rng, const std::vector<RecordId>& ids,
                                      Replica& r) {
  auto c = r.Write([&](WriteBatch& w) {
    const int ops = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < ops; ++k) {
      const RecordId& id = ids[rng() % ids.size()];
      switch (rng() % 6) {
        case 0: w.Set("item", id, "title", "t" + std::to_string(rng() % 1000)); break;
        case 1: w.Increment("item", id, "count", static_cast<int64_t>(rng() % 7) - 3); break;
        case 2: w.Add("item", id, "tags", "g" + std::to_string(rng() % 5)); break;
        case 3: w.Remove("item", id, "tags", "g" + std::to_string(rng() % 5)); break;
        case 4: w.Set("other", id, "name", "n" + std::to_string(rng() % 1000)); break;
        default: w.Append("item", id, "notes", "note" + std::to_string(rng() % 100)); break;
      }
    }
  });
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return *c;
}

// Everything a node holds that a run decides: digest, heads (author, seq,
// hash) and every record of both collections, field by field.
std::string NodeState(const Replica& r) {
  auto hex = [](const Hash32& h) {
    std::ostringstream x;
    for (uint8_t b : h) x << "0123456789abcdef"[b >> 4] << "0123456789abcdef"[b & 15];
    return x.str();
  };
  std::ostringstream o;
  const Hash32 d = testing::DigestOf(r);
  o << "digest " << hex(d) << "\n";
  for (const auto& [a, h] : r.GetHeads().value())
    o << "head " << a.ToHex() << " " << h.seq << " " << hex(h.hash) << "\n";
  for (const char* coll : {"item", "other"}) {
    REQUIRE(r.Scan(coll, [&](const Record& rec) {
                o << "record " << rec.collection << "/" << rec.id.ToHex() << (rec.deleted ? " deleted" : "") << "\n";
                for (const auto& [name, f] : rec.fields) {
                  o << "  " << name << " kind=" << static_cast<int>(f.kind) << " value=" << f.value.ToString()
                    << " count=" << f.count << " hlc=" << f.hlc << " author=" << f.author.ToHex() << " values=";
                  for (const Value& v : f.values) o << v.ToString() << ";";
                  o << " log=";
                  for (const LogEntry& e : f.log) o << e.hlc << "/" << e.author.ToHex() << "/" << e.value.ToString() << ";";
                  o << "\n";
                }
                return true;
              }).ok());
  }
  return o.str();
}

// One simulator run of `seed`; returns every node's state (NodeState).
std::vector<std::string> RunPlainSeed(uint64_t seed, int nodes) {
  // The seed fixes the run: faults and writes (the simulator's RNG), the
  // clock (virtual), libsodium's randomness and the record ids.
  testing::SeededRandomness randomness(seed);
  std::mt19937_64 id_rng(seed);
  TempDir tmp;
  std::vector<std::string> dirs;
  std::vector<ReplicaOptions> opts;
  ReplicaOptions o;
  o.schema = testing::TestSchema();
  o.durability = Durability::kNoSync;
  o.unencrypted_identity = true;
  Bytes keyring;
  for (int i = 0; i < nodes; ++i) {
    dirs.push_back(tmp.Sub("n" + std::to_string(i)));
    opts.push_back(o);  // the simulator sets clock_ms to its virtual clock
    ReplicaOptions setup = o;
    setup.clock_ms = [] { return uint64_t{1'000'000}; };
    auto r = Replica::Open(dirs.back(), setup);
    REQUIRE(r.ok());
    if (i == 0) {
      // The scope keys of the test schema, made on node 0 and copied to the
      // others; then one write in each scope.
      REQUIRE((*r)->CreateScopeKey("test.a").ok());
      REQUIRE((*r)->CreateScopeKey("test.b").ok());
      auto c = (*r)->Write([&](WriteBatch& w) {
        w.Set("item", testing::SeededRecordId(id_rng), "title", "seed");
        w.Set("other", testing::SeededRecordId(id_rng), "name", "seed");
      });
      REQUIRE_MESSAGE(c.ok(), c.status().ToString());
      keyring = *(*r)->ExportKeyring();
    } else {
      REQUIRE((*r)->ImportKeyring(keyring).ok());
    }
  }
  std::vector<RecordId> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(testing::SeededRecordId(id_rng));
  Sim sim(seed, dirs, opts, [&](std::mt19937_64& rng, size_t, Replica& r) { return RandomWrite(rng, ids, r); });
  const bool quiet = sim.Run();
  INFO("seed " << seed << " (rerun: HEARTH_SEED=" << seed << " HEARTH_SIM_SEEDS=1) " << sim.Summary());
  REQUIRE(quiet);
  const Hash32 d0 = testing::DigestOf(sim.replica(0));
  const Heads h0 = sim.replica(0).GetHeads().value();
  for (size_t i = 0; i < sim.size(); ++i) {
    CHECK(testing::DigestOf(sim.replica(i)) == d0);
    CHECK(sim.replica(i).GetHeads().value() == h0);
    CHECK(inspect::Pending(sim.replica(i)).value().empty());
    for (const auto& [a, seq] : sim.acked()) {
      auto it = h0.find(a);
      REQUIRE(it != h0.end());
      CHECK(it->second.seq >= seq);
    }
  }
  CHECK(inspect::CheckConsistency(sim.replica(0)).ok());
  if (std::getenv("HEARTH_SIM_VERBOSE")) MESSAGE("seed " << seed << ": " << sim.Summary());
  std::vector<std::string> state;
  for (size_t i = 0; i < sim.size(); ++i) state.push_back(NodeState(sim.replica(i)));
  return state;
}

TEST_CASE("simulator: 6 nodes converge under loss, partitions and crashes") {
  const int seeds = testing::SimSeeds(20);
  const uint64_t base = testing::BaseSeed();
  auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < seeds; ++k) {
    const uint64_t seed = base + static_cast<uint64_t>(k);
    CAPTURE(seed);
    RunPlainSeed(seed, 6);
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE(seeds << " seeds x 6 nodes in " << secs << " s");
}

TEST_CASE("simulator: a seed reproduces its run exactly") {
  const uint64_t seed = testing::BaseSeed();
  CAPTURE(seed);
  const std::vector<std::string> first = RunPlainSeed(seed, 4);
  const std::vector<std::string> again = RunPlainSeed(seed, 4);
  REQUIRE(first.size() == again.size());
  for (size_t i = 0; i < first.size(); ++i) {
    CAPTURE(i);
    CHECK(first[i] == again[i]);  // digest, heads and every record of node i
  }
  // Sanity: the state does depend on the seed (other keys, writes, faults).
  const std::vector<std::string> other = RunPlainSeed(seed + 1, 4);
  CHECK(other[0] != first[0]);
}

}  // namespace
}  // namespace hearth
