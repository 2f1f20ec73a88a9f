// Storage faults: every LMDB operation of a write, made to fail in turn.
//
// For each scenario (a local commit, a remote Apply, an ApplyBatch, a keyring
// import, a policy publish with key rotation, a member applying a policy with
// key envelopes, a commit that grows the map) the test
//   1. runs the operation once on a copy of a template replica, counting the
//      LMDB operations it performs (FaultInjector in counting mode) and
//      recording the resulting state (the reference);
//   2. for every N in 1..count and every injected error (EIO, ENOSPC,
//      MAP_FULL) runs it again on a fresh copy with the Nth operation failing,
//      and checks: the call fails with the right code and a message naming
//      the LMDB operation (or, for MAP_FULL, is retried after growing the map
//      and succeeds); nothing is half-applied (Digest, heads, delta and
//      pending counts unchanged, CheckConsistency ok; ApplyBatch may commit
//      the deltas before the failing one, as documented, and then the
//      replica must be consistent); reads keep working; and, disarmed, the
//      same call succeeds and gives the reference state.
// Prints how many injection points were exercised (docs/reliability.md).
#include <doctest/doctest.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "faults/faults_support.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "store/fault.hpp"
#include "store/store_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using store::FaultInjector;
using testing::FakeClock;
using testing::TempDir;
namespace fs = std::filesystem;

RecordId Id(uint8_t a, uint8_t b) {
  RecordId id;
  id.bytes[0] = 0xfa;
  id.bytes[1] = a;
  id.bytes[15] = b;
  return id;
}

void CopyReplica(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const char* f : {"data.mdb", "identity.key"}) {
    fs::copy_file(fs::path(from) / f, fs::path(to) / f);
  }
  // Each copy stands in for the one live replica of the scenario: mark it
  // live (docs/durability.md, "Restoring a backup"), or it refuses writes.
  RestoreOptions keep;
  keep.keep_identity = true;
  auto r = Replica::Restore(to, keep);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
}

struct Observed {
  Hash32 digest{};
  std::map<AuthorId, uint64_t> head_seqs;
  uint64_t deltas = 0;
  uint64_t pending = 0;
  uint64_t records = 0;
};

Observed Observe(const Replica& r) {
  Observed o;
  auto d = r.Digest();
  REQUIRE_MESSAGE(d.ok(), d.status().ToString());
  o.digest = *d;
  for (const auto& [a, h] : r.GetHeads().value()) o.head_seqs[a] = h.seq;
  ReplicaStats st = inspect::Stats(r).value();
  o.deltas = st.deltas;
  o.pending = st.pending;
  o.records = st.records;
  return o;
}

// Reads that must keep working after a failed write.
void CheckReads(const Replica& r) {
  Status c = inspect::CheckConsistency(r);
  CHECK_MESSAGE(c.ok(), c.ToString());
  auto all = r.DeltasSince({});
  CHECK_MESSAGE(all.ok(), all.status().ToString());
  uint64_t n = 0;
  Status s = r.Scan("item", [&](const Record&) { ++n; return true; });
  CHECK_MESSAGE(s.ok(), s.ToString());
  Query q;
  q.collection = "item";
  q.field = "score";
  q.lower = Value(int64_t{0});
  auto found = r.Find(q);
  CHECK_MESSAGE(found.ok(), found.status().ToString());
}

struct Scenario {
  std::string name;
  std::string template_dir;                  // a closed replica, copied per run
  std::function<ReplicaOptions()> options;   // how to open the copy
  std::function<Status(Replica&)> op;        // the call under test
  bool deterministic = true;                 // the resulting Digest is reproducible
  bool prefix_may_commit = false;            // ApplyBatch: deltas before the failing one
  std::function<void(Replica&, uint64_t)> after_reference;  // extra check (map size before)
};

struct Totals {
  uint64_t points = 0;     // (scenario, error, N) runs
  uint64_t failed = 0;     // the call failed cleanly
  uint64_t retried = 0;    // MAP_FULL absorbed by growing the map
  uint64_t tolerated = 0;  // the call succeeded anyway (a read whose failure is harmless)
  uint64_t prefix = 0;     // ApplyBatch committed a prefix
  std::set<std::string> tolerated_ops;
};

Totals g_totals;

std::unique_ptr<Replica> OpenCopy(const Scenario& sc, const std::string& dir) {
  CopyReplica(sc.template_dir, dir);
  auto r = Replica::Open(dir, sc.options());
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return std::move(r).value();
}

void RunScenario(const Scenario& sc) {
  INFO("scenario ", sc.name);
  TempDir tmp;
  Observed before, ref;
  uint64_t count = 0;
  {
    auto r = OpenCopy(sc, tmp.Sub("ref"));
    before = Observe(*r);
    const uint64_t map_before = inspect::Stats(*r).value().map_size;
    FaultInjector::Arm(0, 0);
    Status s = sc.op(*r);
    count = FaultInjector::Count();
    FaultInjector::Disarm();
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    ref = Observe(*r);
    CHECK(inspect::CheckConsistency(*r).ok());
    if (sc.after_reference) sc.after_reference(*r, map_before);
  }
  REQUIRE(count > 0);
  uint64_t points = 0;
  for (const char* err : {"EIO", "ENOSPC", "MAP_FULL"}) {
    const int code = FaultInjector::ErrorCode(err);
    for (uint64_t n = 1; n <= count; ++n) {
      CAPTURE(err);
      CAPTURE(n);
      const std::string dir = tmp.Sub(std::string(err) + "-" + std::to_string(n));
      {
        auto r = OpenCopy(sc, dir);
        FaultInjector::Arm(n, code);
        Status s = sc.op(*r);
        const bool fired = FaultInjector::Fired();
        const std::string fault = FaultInjector::LastFault();
        FaultInjector::Disarm();
        CAPTURE(fault);
        CAPTURE(s.ToString());
        ++points;
        ++g_totals.points;
        CHECK_MESSAGE(fired, "operation #" << n << " of " << count << " never happened");
        if (s.ok()) {
          // Succeeded despite the fault: only acceptable when the result is
          // exactly the reference (MAP_FULL retried, or a harmless read).
          if (code == FaultInjector::ErrorCode("MAP_FULL")) {
            ++g_totals.retried;
          } else {
            ++g_totals.tolerated;
            g_totals.tolerated_ops.insert(sc.name + ": " + fault);
          }
          Observed after = Observe(*r);
          if (sc.deterministic) CHECK(after.digest == ref.digest);
          CHECK(after.head_seqs == ref.head_seqs);
          CHECK(after.deltas == ref.deltas);
          CheckReads(*r);
        } else {
          ++g_totals.failed;
          if (code == EIO) {
            CHECK(s.code() == Code::kIOError);
          } else {
            CHECK(s.code() == Code::kResourceExhausted);  // ENOSPC and a MAP_FULL that cannot be retried
          }
          CHECK_MESSAGE(s.message().find("(injected fault)") != std::string::npos, s.ToString());
          CHECK_MESSAGE(s.message().find("LMDB ") != std::string::npos, s.ToString());
          Observed after = Observe(*r);
          const bool unchanged = after.digest == before.digest && after.head_seqs == before.head_seqs &&
                                 after.deltas == before.deltas && after.pending == before.pending;
          if (!unchanged && sc.prefix_may_commit) {
            // ApplyBatch: the deltas before the failing one are committed;
            // every feed moved forward only, within the reference.
            ++g_totals.prefix;
            for (const auto& [a, seq] : after.head_seqs) {
              CHECK(seq >= (before.head_seqs.count(a) ? before.head_seqs.at(a) : 0));
              CHECK(seq <= ref.head_seqs.at(a));
            }
          } else {
            CHECK_MESSAGE(unchanged, "state changed by a failed " << sc.name);
          }
          CheckReads(*r);
          // The next attempt, disarmed, succeeds and ends where the reference did.
          Status again = sc.op(*r);
          CHECK_MESSAGE(again.ok(), again.ToString());
          Observed fin = Observe(*r);
          if (sc.deterministic) CHECK(fin.digest == ref.digest);
          CHECK(fin.head_seqs == ref.head_seqs);
          CHECK(fin.deltas == ref.deltas);
          CHECK(fin.pending == ref.pending);
          CHECK(inspect::CheckConsistency(*r).ok());
        }
      }
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
  std::fprintf(stderr, "faults: %-34s %3" PRIu64 " LMDB operations x 3 errors = %4" PRIu64 " injection points\n",
               sc.name.c_str(), count, points);
}

// ------------------------------------------------------------------ templates

struct World {
  TempDir tmp;
  FakeClock clock{1'780'000'000'000ull};
  std::vector<Bytes> b_deltas;  // B's feed, seq 1..6
  Bytes b_keyring;
  std::vector<Bytes> root_deltas;  // the root's feed for the member template

  ReplicaOptions Plain(uint64_t map = uint64_t{64} << 20) {
    ReplicaOptions o;
    o.schema = testing::TestSchema();
    o.durability = Durability::kNoSync;
    o.unencrypted_identity = true;
    o.initial_map_size = map;
    o.clock_ms = [this] { return clock.Now(); };
    return o;
  }
};

void WriteSome(Replica& r, uint8_t tag, int n) {
  for (int i = 0; i < n; ++i) {
    auto c = r.Write([&](WriteBatch& b) {
      b.Set("item", Id(tag, static_cast<uint8_t>(i)), "title", "t" + std::to_string(i))
          .Set("item", Id(tag, static_cast<uint8_t>(i)), "score", int64_t{i})
          .Add("item", Id(tag, static_cast<uint8_t>(i)), "tags", "x")
          .Increment("other", Id(tag, 100), "n", 1);
    });
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  }
}

Policy MakePolicy(uint64_t version, uint32_t epoch, const AuthorId& root, const AuthorId& member) {
  Policy p;
  p.set_version(version);
  p.set_county("faults");
  REQUIRE(p.AddScope({"test.a", epoch, ""}).ok());
  REQUIRE(p.AddScope({"test.b", 1, ""}).ok());
  REQUIRE(p.AddMember({root, "county", "county", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddMember({member, "hr", "hr", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddGrant({"county", "", "test.a", Right::kRead | Right::kWrite}).ok());
  REQUIRE(p.AddGrant({"hr", "", "test.a", Right::kRead | Right::kWrite}).ok());
  REQUIRE(p.AddGrant({"county", "", "test.b", Right::kRead | Right::kWrite}).ok());
  return p;
}

TEST_CASE("storage faults: every LMDB operation of a write fails in turn; nothing half-applied" *
          doctest::timeout(600)) {
  World w;
  // B: another author whose deltas A receives.
  {
    auto b = testing::OpenReplica(w.tmp.Sub("b"), &w.clock);
    WriteSome(*b, 2, 6);
    auto all = b->DeltasSince({});
    REQUIRE(all.ok());
    w.b_deltas = *all;  // 6 commits x 2 scopes = 12 deltas
    auto kr = b->ExportKeyring();
    REQUIRE(kr.ok());
    w.b_keyring = *kr;
  }
  REQUIRE(w.b_deltas.size() == 12);
  // A: own records, B's keys, B's deltas 1..4 applied, 6 pending (gap at 5).
  const std::string a_dir = w.tmp.Sub("a");
  {
    auto a = testing::OpenReplica(a_dir, &w.clock, {}, /*keys=*/false);
    REQUIRE(a->ImportKeyring(w.b_keyring).ok());
    WriteSome(*a, 1, 4);
    for (int i = 0; i < 4; ++i) REQUIRE(a->Apply(w.b_deltas[i]).ok());
    auto p = a->Apply(w.b_deltas[5]);
    REQUIRE(p.ok());
    REQUIRE(p->outcome == ApplyOutcome::kPending);
  }
  // C: no keys; B's deltas all stored unreadable (opaque).
  const std::string c_dir = w.tmp.Sub("c");
  {
    auto c = testing::OpenReplica(c_dir, &w.clock, {}, /*keys=*/false);
    for (const Bytes& d : w.b_deltas) REQUIRE(c->Apply(d).ok());
  }
  // R: a county root with policy v1 and records; M: a member that has
  // received nothing from R yet.
  const std::string r_dir = w.tmp.Sub("root");
  const std::string m_dir = w.tmp.Sub("member");
  AuthorId root_key, member_key;
  {
    ReplicaOptions o = w.Plain();
    auto m = Replica::Open(m_dir, o);
    REQUIRE(m.ok());
    member_key = (*m)->author();
  }
  {
    ReplicaOptions o = w.Plain();
    o.is_root = true;
    auto r = Replica::Open(r_dir, o);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    root_key = (*r)->author();
    auto pub = (*r)->PublishPolicy(MakePolicy(1, 1, root_key, member_key));
    REQUIRE_MESSAGE(pub.ok(), pub.status().ToString());
    WriteSome(**r, 4, 3);
    auto all = (*r)->DeltasSince({});
    REQUIRE(all.ok());
    w.root_deltas = *all;
  }
  {
    // Fix M's root (stored on first open with a root).
    ReplicaOptions o = w.Plain();
    o.root = root_key;
    auto m = Replica::Open(m_dir, o);
    REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  }
  // G: a replica whose map is nearly full; reopened with a tiny initial map
  // size, LMDB sizes the map to the data, so the next big commit must grow it.
  const std::string g_dir = w.tmp.Sub("grow");
  {
    auto g = testing::OpenReplica(g_dir, &w.clock);
    WriteSome(*g, 5, 3);
  }

  const std::string big(150 * 1024, 'g');
  std::vector<Scenario> scenarios;
  scenarios.push_back({"commit (2 scopes, indexes)", a_dir, [&] { return w.Plain(); },
                       [&](Replica& r) {
                         return r.Write([&](WriteBatch& b) {
                                   b.Set("item", Id(1, 0), "title", "changed")
                                       .Set("item", Id(1, 0), "score", int64_t{42})
                                       .Advance("item", Id(1, 0), "stage", "open")
                                       .Remove("item", Id(1, 1), "tags", "x")
                                       .Append("item", Id(1, 9), "notes", "new record")
                                       .Increment("other", Id(1, 100), "n", 5);
                                 })
                             .status();
                       }});
  scenarios.push_back({"apply (fills a gap, drains 1)", a_dir, [&] { return w.Plain(); },
                       [&](Replica& r) {
                         auto x = r.Apply(w.b_deltas[4]);
                         if (x.ok() && x->unblocked != 1) return Status::Internal("expected one unblocked delta");
                         return x.status();
                       }});
  scenarios.push_back({"apply batch (4 remote deltas)", a_dir, [&] { return w.Plain(); },
                       [&](Replica& r) {
                         std::vector<Bytes> batch(w.b_deltas.begin() + 4, w.b_deltas.begin() + 8);
                         return r.ApplyBatch(batch).error;
                       },
                       true, /*prefix_may_commit=*/true});
  scenarios.push_back({"keyring import (applies 12 opaque)", c_dir, [&] { return w.Plain(); },
                       [&](Replica& r) { return r.ImportKeyring(w.b_keyring); }});
  scenarios.push_back({"policy publish, key rotation", r_dir,
                       [&] {
                         ReplicaOptions o = w.Plain();
                         o.root = root_key;
                         return o;
                       },
                       [&](Replica& r) { return r.PublishPolicy(MakePolicy(2, 2, root_key, member_key)).status(); },
                       /*deterministic=*/false});
  scenarios.push_back({"member applies policy + envelopes", m_dir,
                       [&] {
                         ReplicaOptions o = w.Plain();
                         o.root = root_key;
                         return o;
                       },
                       [&](Replica& r) { return r.ApplyBatch(w.root_deltas).error; },
                       true, /*prefix_may_commit=*/true});
  scenarios.push_back({"commit that grows the map", g_dir, [&] { return w.Plain(uint64_t{64} << 10); },
                       [&](Replica& r) {
                         return r.Write([&](WriteBatch& b) { b.Set("item", Id(5, 0), "any", big); }).status();
                       }});
  scenarios.back().after_reference = [](Replica& r, uint64_t map_before) {
    CHECK_MESSAGE(inspect::Stats(r).value().map_size > map_before, "the reference commit did not grow the map");
  };

  for (const Scenario& sc : scenarios) RunScenario(sc);

  std::fprintf(stderr,
               "faults: %" PRIu64 " injection points over %zu scenarios: %" PRIu64 " failed cleanly, %" PRIu64
               " MAP_FULL retried after growing the map, %" PRIu64 " ApplyBatch prefixes committed, %" PRIu64
               " tolerated\n",
               g_totals.points, scenarios.size(), g_totals.failed, g_totals.retried, g_totals.prefix,
               g_totals.tolerated);
  for (const std::string& t : g_totals.tolerated_ops) std::fprintf(stderr, "faults: tolerated: %s\n", t.c_str());
}

TEST_CASE("storage faults: HEARTH_FAULT spec parsing") {
  CHECK(FaultInjector::Arm("op=3,err=EIO").ok());
  CHECK(FaultInjector::Arm("op=1,err=MAP_FULL,kind=commit").ok());
  CHECK(FaultInjector::Arm("op=1,err=ENOSPC,kind=put").ok());
  CHECK(!FaultInjector::Arm("op=x,err=EIO").ok());
  CHECK(!FaultInjector::Arm("op=1,err=EBADF").ok());
  CHECK(!FaultInjector::Arm("op=1").ok());
  CHECK(!FaultInjector::Arm("op=1,err=EIO,kind=sync").ok());
  FaultInjector::Disarm();

  // kind= restricts counting: the first commit fails, whatever came before.
  TempDir tmp;
  FakeClock clock;
  auto r = testing::OpenReplica(tmp.Sub("r"), &clock);
  REQUIRE(FaultInjector::Arm("op=1,err=ENOSPC,kind=commit").ok());
  auto c = r->Write([](WriteBatch& b) { b.Set("item", Id(9, 1), "title", "x"); });
  FaultInjector::Disarm();
  REQUIRE(!c.ok());
  CHECK(c.status().code() == Code::kResourceExhausted);
  CHECK(c.status().message().find("LMDB commit (injected fault)") != std::string::npos);
  CHECK(FaultInjector::LastFault() == "commit #1: ENOSPC");
  auto again = r->Write([](WriteBatch& b) { b.Set("item", Id(9, 1), "title", "x"); });
  REQUIRE(again.ok());
  CHECK(again->first_seq == 1);  // the failed commit consumed no seq
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

using store::FaultInjector;
using testing::TempDir;

// The environment form, for subprocesses: crash_writer commits until the
// armed commit fails, exits with its error; the replica it leaves is whole.
TEST_CASE("storage faults: HEARTH_FAULT arms a subprocess") {
#ifdef HEARTH_CRASH_WRITER
  TempDir tmp;
  const std::string dir = tmp.Sub("r");
  const std::string schema = std::string(HEARTH_TEST_DATA_DIR) + "/data/test_schema.toml";
  for (const char* err : {"EIO", "ENOSPC"}) {
    CAPTURE(err);
    auto run = testing::RunChild({HEARTH_CRASH_WRITER, dir, schema, "7"},
                                 {std::string("HEARTH_FAULT=op=8,err=") + err + ",kind=commit"},  // 2 key commits first
                                 tmp.Sub(std::string(err) + ".out"));
    INFO("crash_writer output:\n", run.output);
    CHECK(run.exit_code() == 2);
    CHECK(run.output.find("LMDB commit (injected fault)") != std::string::npos);
    CHECK(run.output.find(std::string(err) == "EIO" ? "I/O error" : "disk full") != std::string::npos);
    // Acknowledged lines: "<author> <first> <last>"; all present after reopen.
    std::istringstream in(run.output);
    std::string line;
    uint64_t last = 0, acks = 0;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string author;
      uint64_t f = 0, l = 0;
      if (line.size() > 64 && line[0] != '#' && (ls >> author >> f >> l) && author.size() == 64) {
        last = l;
        ++acks;
      }
    }
    CHECK(acks >= 4);
    ReplicaOptions o;
    o.schema = testing::TestSchema();
    o.unencrypted_identity = true;
    auto r = Replica::Open(dir, o);
    REQUIRE(r.ok());
    CHECK((*r)->GetHeads().value().at((*r)->author()).seq == last);
    CHECK(inspect::CheckConsistency(*(*r)).ok());
  }
#else
  MESSAGE("SKIPPED: built without HEARTH_CRASH_WRITER");
#endif
}

}  // namespace
}  // namespace hearth
