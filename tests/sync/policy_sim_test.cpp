// The simulator with a county policy: scope filtering under faults. The
// union (relay on test.a, nothing on test.b) never receives a children's
// record (test.b); hr, civil and the township converge.
//
// Liveness under a hostile author (issue #12): civil, a legitimate writer of
// test.b, also signs poison deltas into its own feed now and then (msgpack
// bombs, a collection named "item\0" or "item" of another scope, a body
// under a key that is not the scope's, an epoch that does not exist yet).
// Whatever it injects, every acknowledged honest write (hr's, the
// township's and civil's own later ones) still reaches every node allowed
// to receive it, and no wage-case record ever holds anything but hr's
// writes.
#include "hearth/inspect.hpp"
#include "codec/codec.hpp"
#include "feed/delta.hpp"
#include "identity/identity.hpp"
#include "sync/sim.hpp"

namespace hearth {
namespace {

using testing::Sim;
using testing::TempDir;

ReplicaOptions CountyOptions(std::optional<AuthorId> root, bool is_root) {
  return testing::TestOptions(root, is_root);
}

enum { kRoot, kHr, kUnion, kCivil, kTown };

// One poison delta signed by `r`'s own identity, chained onto its head, and
// stored in its own replica (from where sync carries it on). Returns the
// outcome of storing it.
ApplyResult InjectPoison(std::mt19937_64& rng, Replica& r, const std::vector<RecordId>& items) {
  auto id = identity::ReadFile(r.dir() + "/" + identity::kReplicaFileName, std::nullopt);
  REQUIRE(id.ok());
  auto kr = r.ExportKeyring({"test.b"});
  REQUIRE(kr.ok());
  crypto::SecretBytes key = crypto::RandomAeadKey();
  uint32_t epoch = 1;
  if (kr->size() >= 5 + 1 + 6 + 4 + 32) key = crypto::SecretBytes::Copy(std::span<const uint8_t>(*kr).last(32));
  const FeedHead head = r.GetHeads().value().count(r.author()) ? r.GetHeads().value().at(r.author()) : FeedHead{};
  feed::DeltaHeader h;
  h.author = r.author();
  h.seq = head.seq + 1;
  h.prev = head.hash;
  h.scope = "test.b";
  h.hlc_min = h.hlc_max = crdt::MakeHlc(1'800'000'000'000ull, 1);
  h.op_count = 1;
  Bytes plain;
  auto one_op = [&](std::string coll, const RecordId& rid) {
    crdt::RecordOps ro{std::move(coll), rid, {}};
    crdt::Op op;
    op.field = "title";
    op.hlc = h.hlc_min;
    op.value = Value(std::string("forged"));
    ro.ops.push_back(op);
    return codec::EncodePayload({ro});
  };
  switch (rng() % 5) {
    case 0: plain = {0x91, 0xdd, 0xff, 0xff, 0xff, 0xff}; break;     // 2^32-1 items
    case 1: plain = one_op(std::string("item\0", 5), items[0]); break;  // NUL-suffixed name
    case 2: plain = one_op("item", items[0]); break;                  // another scope's collection
    case 3: plain = one_op("other", items[0]); key = crypto::RandomAeadKey(); break;  // wrong key
    default: plain = one_op("other", items[0]); epoch = 2; key = crypto::RandomAeadKey(); break;  // future epoch
  }
  h.epoch = epoch;
  auto sealed = feed::SealDeltaPlaintext(feed::kDeltaFormatV1, h, plain, key, *id);
  REQUIRE(sealed.ok());
  auto res = r.Apply(*sealed);
  REQUIRE_MESSAGE(res.ok(), res.status().ToString());
  CHECK(res->outcome == ApplyOutcome::kDenied);
  return *res;
}

TEST_CASE("simulator with a county policy: scopes reach only who may receive them") {
  const int seeds = testing::SimSeeds(20) / 3 + 1;
  const uint64_t base = testing::BaseSeed();
  for (int k = 0; k < seeds; ++k) {
    const uint64_t seed = base + 1000 + static_cast<uint64_t>(k);
    CAPTURE(seed);
    // The seed fixes the run (keys, nonces, record ids; the simulator's clock).
    testing::SeededRandomness randomness(seed);
    std::mt19937_64 id_rng(seed);
    TempDir tmp;
    std::vector<std::string> dirs;
    std::vector<ReplicaOptions> opts;
    const char* names[] = {"root", "hr", "union", "civil", "township"};
    for (const char* n : names) dirs.push_back(tmp.Sub(n));
    std::vector<AuthorId> ids;
    AuthorId root_key;
    {
      // Set up on a fixed clock; the simulator gives its replicas its own.
      auto fixed = [](ReplicaOptions o) {
        o.clock_ms = [] { return uint64_t{1'000'000}; };
        return o;
      };
      auto root = Replica::Open(dirs[kRoot], fixed(CountyOptions(std::nullopt, true)));
      REQUIRE(root.ok());
      root_key = (*root)->author();
      ids.push_back(root_key);
      opts.push_back(CountyOptions(std::nullopt, true));
      for (int i = 1; i < 5; ++i) {
        auto r = Replica::Open(dirs[i], fixed(CountyOptions(root_key, false)));
        REQUIRE(r.ok());
        ids.push_back((*r)->author());
        opts.push_back(CountyOptions(root_key, false));
      }
      Policy p;
      p.set_county("test county");
      REQUIRE(p.AddScope({"test.a", 1, "wage cases"}).ok());
      REQUIRE(p.AddScope({"test.b", 1, "children"}).ok());
      REQUIRE(p.AddMember({ids[kHr], "hr", "hr", "", {}, std::nullopt}).ok());
      REQUIRE(p.AddMember({ids[kUnion], "union", "union", "", {}, std::nullopt}).ok());
      REQUIRE(p.AddMember({ids[kCivil], "civil", "civil", "", {}, std::nullopt}).ok());
      REQUIRE(p.AddMember({ids[kTown], "town", "township", "t1", {"child_care"}, std::nullopt}).ok());
      REQUIRE(p.AddGrant({"hr", "", "test.a", Right::kRead | Right::kWrite}).ok());
      REQUIRE(p.AddGrant({"civil", "", "test.b", Right::kRead | Right::kWrite}).ok());
      REQUIRE(p.AddGrant({"", "child_care", "test.b", Right::kRead | Right::kWrite}).ok());
      REQUIRE(p.AddGrant({"township", "", "test.a", Right::kRelay}).ok());
      REQUIRE(p.AddGrant({"hr", "", "test.b", Right::kRelay}).ok());
      REQUIRE(p.AddGrant({"union", "", "test.a", Right::kRelay}).ok());
      REQUIRE((*root)->PublishPolicy(p).ok());
    }
    std::vector<RecordId> items, kids;
    for (int i = 0; i < 8; ++i) {
      items.push_back(testing::SeededRecordId(id_rng));
      kids.push_back(testing::SeededRecordId(id_rng));
    }
    int poison = 0;
    Sim sim(seed, dirs, opts, [&](std::mt19937_64& rng, size_t n, Replica& r) -> std::optional<CommitInfo> {
      Result<CommitInfo> c = Status::NotFound("no write");
      if (n == kHr) {
        c = r.Write([&](WriteBatch& w) { w.Set("item", items[rng() % items.size()], "title", "wage " + std::to_string(rng() % 100)); });
      } else if (n == kCivil && rng() % 3 == 0) {
        ApplyResult res = InjectPoison(rng, r, items);
        ++poison;
        // Counted like a commit: the simulator pushes it to the peers, and
        // it must reach every node that may receive test.b like any write.
        return CommitInfo{res.author, res.seq, res.seq, 1};
      } else if (n == kCivil || n == kTown) {
        c = r.Write([&](WriteBatch& w) { w.Set("other", kids[rng() % kids.size()], "name", "child " + std::to_string(rng() % 100)); });
      } else if (n == kUnion && rng() % 4 == 0) {
        // Refused: the union has no write grant.
        c = r.Write([&](WriteBatch& w) { w.Set("item", items[0], "title", "union"); });
        CHECK_FALSE(c.ok());
      }
      if (!c.ok()) return std::nullopt;  // e.g. no key yet: not acknowledged
      return *c;
    });
    const bool quiet = sim.Run();
    INFO("seed " << seed << " " << sim.Summary());
    REQUIRE(quiet);
    // hr and the township may receive both scopes: same feeds. Civil may
    // receive test.b (and the reserved scopes) only: it holds hr's feed
    // (test.a, version 3) as stubs, withheld, none of it applied.
    const Heads h = sim.replica(kHr).GetHeads().value();
    CHECK(sim.replica(kTown).GetHeads().value() == h);
    CHECK(sim.replica(kCivil).GetHeads().value() == h);
    {
      auto w = sim.replica(kCivil).Withheld();
      REQUIRE(w.ok());
      uint64_t from_hr = 0;
      for (const auto& wd : *w) {
        CHECK(wd.scope == "test.a");
        from_hr += wd.author == ids[kHr];
      }
      CHECK(from_hr == h.at(ids[kHr]).seq);
    }
    for (const auto& [a, seq] : sim.acked()) {
      REQUIRE(h.count(a));
      CHECK(h.at(a).seq >= seq);
    }
    // Readers of test.b agree on the children's records.
    auto kids_of = [&](size_t n) {
      std::vector<std::string> out;
      REQUIRE(sim.replica(n).Scan("other", [&](const Record& rec) {
        out.push_back(rec.id.ToHex() + "=" + rec.Find("name")->value.as_string());
        return true;
      }).ok());
      return out;
    };
    CHECK(kids_of(kCivil) == kids_of(kTown));
    // Poison changed nothing outside civil's grant: wage cases hold hr's
    // writes only, on every node that reads them.
    for (size_t n : {size_t{kHr}, size_t{kTown}}) {
      REQUIRE(sim.replica(n).Scan("item", [&](const Record& rec) {
        const FieldValue* t = rec.Find("title");
        CHECK((t != nullptr && t->author == ids[kHr]));
        return true;
      }).ok());
    }
    // Civil's feed, poison included, reached every reader of test.b whole.
    CHECK(sim.replica(kTown).GetHeads().value().at(ids[kCivil]) == sim.replica(kCivil).GetHeads().value().at(ids[kCivil]));
    CHECK(kids_of(kHr).empty());  // relays, cannot read
    // The union: never a children's record, never even a test.b body (only
    // stubs of version 3 deltas: docs/policy.md, "What a stub reveals").
    CHECK(kids_of(kUnion).empty());
    auto body_of_b = [&](const Bytes& d) {
      auto p = feed::ParseDelta(d);
      REQUIRE(p.ok());
      return p->header.scope == "test.b" && !p->stub;
    };
    for (const auto& [a, fh] : sim.replica(kUnion).GetHeads().value()) {
      for (uint64_t s = 1; s <= fh.seq; ++s) {
        auto d = sim.replica(kUnion).GetDelta(a, s);
        REQUIRE(d.ok());
        CHECK_FALSE(body_of_b(*d));
      }
    }
    for (const auto& p : inspect::Pending(sim.replica(kUnion)).value()) {
      auto d = sim.replica(kUnion).GetDelta(p.author, p.seq);
      if (d.ok()) CHECK_FALSE(body_of_b(*d));
    }
    // The union relays hr's wage cases completely.
    CHECK(sim.replica(kUnion).GetHeads().value().at(ids[kHr]) == h.at(ids[kHr]));
    if (std::getenv("HEARTH_SIM_VERBOSE")) MESSAGE("policy seed " << seed << ": " << sim.Summary() << ", " << poison << " poison deltas");
  }
}

}  // namespace
}  // namespace hearth
