// The simulator runs (docs/protocol.md, "Simulator"): random writes under
// loss, duplication, reordering, delay, partitions, crashes and restarts;
// after healing, every replica holds the same state and every acknowledged
// write.
#include <chrono>
#include <cstdio>

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

void RunPlainSeed(uint64_t seed, int nodes) {
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
    opts.push_back(o);
    auto r = Replica::Open(dirs.back(), o);
    REQUIRE(r.ok());
    if (i == 0) {
      testing::SeedKeys(**r);
      keyring = *(*r)->ExportKeyring();
    } else {
      REQUIRE((*r)->ImportKeyring(keyring).ok());
    }
  }
  std::vector<RecordId> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(RecordId::Generate());
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

}  // namespace
}  // namespace hearth
