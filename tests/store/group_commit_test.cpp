// Group commit (src/store/group_commit.cpp; docs/durability.md, "Group
// commit"): concurrent Commit calls of one process share one durable write
// transaction, and each caller still gets its own deltas and its own result.
//
// Threads are never checked with doctest macros: they record what they got
// and the test thread checks it after joining them.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hearth/inspect.hpp"
#include "store/fault.hpp"
#include "store/replica_impl.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using testing::TempDir;
using Clock = std::chrono::steady_clock;

// A test replica that fsyncs every commit (OpenReplica turns sync off).
std::unique_ptr<Replica> OpenSynced(const std::string& dir) {
  ReplicaOptions o = testing::TestOptions();
  o.durability = Durability::kSync;
  auto r = Replica::Open(dir, o);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  Status k = testing::GiveTestKeys(**r);
  REQUIRE_MESSAGE(k.ok(), k.ToString());
  return std::move(r).value();
}

RecordId IdOf(int thread, int i) {
  RecordId id;
  id.bytes[0] = 0x6c;
  id.bytes[1] = static_cast<uint8_t>(thread);
  id.bytes[2] = static_cast<uint8_t>(i >> 8);
  id.bytes[3] = static_cast<uint8_t>(i);
  return id;
}

size_t QueueLength(ReplicaImpl& m) {
  std::lock_guard lk(m.commit_queue_mu);
  return m.commit_queue.size();
}

// Waits (bounded) until `n` commits are queued.
bool WaitForQueue(ReplicaImpl& m, size_t n) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (QueueLength(m) < n) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

TEST_CASE("group commit: N threads x M synced commits, each acknowledged, seqs contiguous, one delta each") {
  TempDir tmp;
  auto r = OpenSynced(tmp.Sub("a"));
  ReplicaImpl& m = ReplicaAccess::Of(*r);
  constexpr int kThreads = 8, kCommits = 25;
  const RecordId shared = IdOf(0xff, 0);
  std::vector<std::vector<Result<CommitInfo>>> got(kThreads);
  {
    std::vector<std::thread> threads;
    for (int th = 0; th < kThreads; ++th) {
      threads.emplace_back([&, th] {
        for (int i = 0; i < kCommits; ++i) {
          WriteBatch b;
          b.Set("item", IdOf(th, i), "title", "t" + std::to_string(th) + "-" + std::to_string(i));
          b.Increment("item", shared, "count", 1);
          got[th].push_back(r->Commit(b));
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  const uint64_t total = kThreads * kCommits;
  std::set<uint64_t> seqs;
  for (int th = 0; th < kThreads; ++th) {
    CAPTURE(th);
    REQUIRE(got[th].size() == kCommits);
    uint64_t prev = 0;
    for (const auto& c : got[th]) {
      REQUIRE_MESSAGE(c.ok(), c.status().ToString());
      CHECK(c->author == r->author());
      CHECK(c->first_seq == c->last_seq);  // one scope: one delta
      CHECK(c->op_count == 2);
      CHECK(c->first_seq > prev);  // a thread's commits are in its order
      prev = c->first_seq;
      CHECK(seqs.insert(c->first_seq).second);  // no seq handed out twice
    }
  }
  // Contiguous: exactly 1..total, and the head is total.
  REQUIRE(seqs.size() == total);
  CHECK(*seqs.begin() == 1);
  CHECK(*seqs.rbegin() == total);
  CHECK(r->GetHeads().value().at(r->author()).seq == total);

  // Grouping happened: fewer transactions than commits.
  const uint64_t groups = m.groups_committed.load();
  const uint64_t batches = m.batches_grouped.load();
  MESSAGE("group commit: " << total << " commits in " << groups << " groups");
  CHECK(batches == total);
  CHECK(groups < total);
  CHECK(m.group_fallbacks.load() == 0);

  // Every commit's effects, its change and its history are there.
  for (int th = 0; th < kThreads; ++th) {
    for (int i = 0; i < kCommits; ++i) {
      auto rec = r->Get("item", IdOf(th, i));
      REQUIRE(rec.ok());
      CHECK(rec->Find("title")->value == Value("t" + std::to_string(th) + "-" + std::to_string(i)));
      CHECK(r->History("item", IdOf(th, i)).value().size() == 1);
    }
  }
  CHECK(r->Get("item", shared).value().Find("count")->count == static_cast<int64_t>(total));
  CHECK(r->History("item", shared).value().size() == total);
  // One change per record per commit: its own record and the shared one.
  CHECK(r->Changes(0).value().size() == 2 * total);
  CHECK(inspect::CheckConsistency(*r).ok());

  // The deltas verify, chain and apply on another replica like any others.
  auto other = testing::OpenReplica(tmp.Sub("b"));
  CHECK(testing::Sync(*r, *other) == total);
  CHECK(other->Digest().value() == r->Digest().value());
  auto report = inspect::Verify(*r);
  REQUIRE(report.ok());
  CHECK(report->ok());
  CHECK(report->deltas == total);
}

TEST_CASE("group commit: a bad batch fails only its own caller, inside a group, and leaves no trace") {
  TempDir tmp;
  auto r = OpenSynced(tmp.Sub("a"));
  ReplicaImpl& m = ReplicaAccess::Of(*r);
  const RecordId big = IdOf(0xfe, 0);
  REQUIRE(r->Write([&](WriteBatch& w) { w.Increment("other", big, "n", 5); }).ok());
  auto watcher = r->Watch();
  REQUIRE(watcher.ok());
  const uint64_t changes_before = r->LastChangeNumber().value();

  // The batches, in queue order. Bad ones: an unknown field; a wrong value
  // type; and one whose first scope (test.a) is written before its second
  // (test.b) fails on a counter overflow, so its nested transaction holds a
  // delta when it is aborted.
  enum Kind { kGood, kUnknownField, kWrongType, kOverflowAfterDelta };
  const std::vector<Kind> kinds = {kGood, kGood, kUnknownField, kGood, kOverflowAfterDelta,
                                   kGood, kWrongType, kGood,   kGood};
  std::vector<Result<CommitInfo>> got(kinds.size(), Status::Internal("not run"));
  std::vector<std::thread> threads;
  {
    // Hold this process's write lock: the first thread leads a group of
    // itself and blocks in its transaction; the others queue behind it, in
    // the order started, and form the next group.
    std::unique_lock hold(m.write_mu);
    for (size_t i = 0; i < kinds.size(); ++i) {
      threads.emplace_back([&, i] {
        WriteBatch b;
        const RecordId id = IdOf(1, static_cast<int>(i));
        switch (kinds[i]) {
          case kGood: b.Set("item", id, "title", "ok " + std::to_string(i)).Increment("other", id, "n", 1); break;
          case kUnknownField: b.Set("item", id, "title", "x").Set("item", id, "nope", "y"); break;
          case kWrongType: b.Set("item", id, "score", "not an int"); break;
          case kOverflowAfterDelta:
            b.Set("item", id, "title", "never").Increment("other", big, "n", INT64_MAX);
            break;
        }
        got[i] = r->Commit(b);
      });
      REQUIRE(WaitForQueue(m, i + 1));
    }
  }
  for (auto& t : threads) t.join();

  uint64_t expect_seq = 2;  // seq 1: the setup commit
  for (size_t i = 0; i < kinds.size(); ++i) {
    CAPTURE(i);
    const RecordId id = IdOf(1, static_cast<int>(i));
    if (kinds[i] == kGood) {
      REQUIRE_MESSAGE(got[i].ok(), got[i].status().ToString());
      // One delta per scope, chained in queue order.
      CHECK(got[i]->first_seq == expect_seq);
      CHECK(got[i]->last_seq == expect_seq + 1);
      expect_seq += 2;
      CHECK(r->Get("item", id).value().Find("title")->value == Value("ok " + std::to_string(i)));
    } else {
      REQUIRE(!got[i].ok());
      CHECK(got[i].status().code() == Code::kInvalidArgument);
      CHECK(r->Get("item", id).status().code() == Code::kNotFound);
      CHECK(r->History("item", id).value().empty());
    }
  }
  CHECK(got[4].status().message().find("overflow") != std::string::npos);
  // Two groups: the leader alone, then the eight queued behind it.
  CHECK(m.groups_committed.load() == 1 + 2);  // + the setup commit
  CHECK(m.group_fallbacks.load() == 0);
  const uint64_t good = std::count(kinds.begin(), kinds.end(), kGood);
  CHECK(r->GetHeads().value().at(r->author()).seq == 1 + 2 * good);
  CHECK(inspect::Stats(*r).value().deltas == 1 + 2 * good);
  CHECK(r->Get("other", big).value().Find("n")->count == 5);
  // Changes: two records per good batch, numbered without gaps.
  auto changes = r->Changes(changes_before).value();
  CHECK(changes.size() == 2 * good);
  for (size_t i = 0; i < changes.size(); ++i) CHECK(changes[i].number == changes_before + 1 + i);
  auto woke = watcher->Wait(changes_before, std::chrono::milliseconds(2000));
  REQUIRE(woke.ok());
  CHECK(*woke);
  CHECK(inspect::CheckConsistency(*r).ok());
  // The group's deltas were signed after all its batches ran, on two
  // cores: every signature verifies, none is left blank, and the failed
  // batches left no delta to sign.
  auto report = inspect::Verify(*r);
  REQUIRE(report.ok());
  CHECK(report->ok());
  CHECK(report->deltas == 1 + 2 * good);
  for (const std::string& p : report->problems) MESSAGE(p);
}

TEST_CASE("group commit: the bounds cap a group at 64 batches") {
  TempDir tmp;
  auto r = testing::OpenReplica(tmp.Sub("a"));
  ReplicaImpl& m = ReplicaAccess::Of(*r);
  constexpr int kThreads = 70;
  std::vector<Result<CommitInfo>> got(kThreads, Status::Internal("not run"));
  std::vector<std::thread> threads;
  {
    std::unique_lock hold(m.write_mu);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        got[i] = r->Write([&](WriteBatch& w) { w.Set("item", IdOf(2, i), "title", "v"); });
      });
    }
    REQUIRE(WaitForQueue(m, kThreads));
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> seqs;
  for (const auto& c : got) {
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    seqs.insert(c->first_seq);
  }
  CHECK(seqs.size() == kThreads);
  CHECK(*seqs.rbegin() == kThreads);
  // One leader alone (it held the lock), then 64, then the other 5.
  CHECK(m.groups_committed.load() == 3);
}

// Starts one thread per batch while this process's write lock is held, so
// that the first leads a group of itself and the rest queue behind it in
// order; returns once all are queued. The caller joins the threads.
template <typename Fn>
std::vector<std::thread> QueueBehindLeader(ReplicaImpl& m, size_t n, Fn fn) {
  std::vector<std::thread> threads;
  std::unique_lock hold(m.write_mu);
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back(fn, i);
    REQUIRE(WaitForQueue(m, i + 1));
  }
  return threads;
}

TEST_CASE("group commit: a full map grows and the whole group runs again") {
  TempDir tmp;
  ReplicaOptions o = testing::TestOptions();
  o.durability = Durability::kSync;
  o.initial_map_size = uint64_t{256} << 10;
  auto opened = Replica::Open(tmp.Sub("a"), o);
  REQUIRE(opened.ok());
  auto& r = *opened;
  REQUIRE(testing::GiveTestKeys(*r).ok());
  ReplicaImpl& m = ReplicaAccess::Of(*r);
  const uint64_t map0 = inspect::Stats(*r).value().map_size;
  constexpr size_t kBatches = 9;
  std::vector<Result<CommitInfo>> got(kBatches, Status::Internal("not run"));
  auto threads = QueueBehindLeader(m, kBatches, [&](size_t i) {
    const std::string big(100 * 1024, static_cast<char>('a' + i));
    got[i] = r->Write([&](WriteBatch& w) { w.Set("item", IdOf(3, static_cast<int>(i)), "any", big); });
  });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < kBatches; ++i) {
    CAPTURE(i);
    REQUIRE_MESSAGE(got[i].ok(), got[i].status().ToString());
    CHECK(got[i]->first_seq == i + 1);  // queue order
  }
  CHECK(inspect::Stats(*r).value().map_size > map0);
  CHECK(m.groups_committed.load() == 2);
  CHECK(m.group_fallbacks.load() == 0);  // grown and retried, not split
  CHECK(inspect::CheckConsistency(*r).ok());
}

TEST_CASE("group commit: a store failure inside a group falls back to one transaction per batch") {
  // The injected fault fails one LMDB commit once: first a nested one (a
  // batch of the group), then the group's own. Either way the group is
  // aborted and every batch committed alone: all succeed, in queue order.
  for (uint64_t nth : {uint64_t{2}, uint64_t{6}}) {
    CAPTURE(nth);
    TempDir tmp;
    auto r = OpenSynced(tmp.Sub("a"));
    ReplicaImpl& m = ReplicaAccess::Of(*r);
    constexpr size_t kBatches = 5;  // the leader alone, then a group of 4
    std::vector<Result<CommitInfo>> got(kBatches, Status::Internal("not run"));
    store::FaultInjector::Arm(nth, store::FaultInjector::ErrorCode("EIO"),
                              1u << static_cast<int>(store::FaultOp::kCommit));
    auto threads = QueueBehindLeader(m, kBatches, [&](size_t i) {
      got[i] = r->Write([&](WriteBatch& w) { w.Set("item", IdOf(4, static_cast<int>(i)), "title", "x"); });
    });
    for (auto& t : threads) t.join();
    const bool fired = store::FaultInjector::Fired();
    store::FaultInjector::Disarm();
    CHECK(fired);
    for (size_t i = 0; i < kBatches; ++i) {
      CAPTURE(i);
      REQUIRE_MESSAGE(got[i].ok(), got[i].status().ToString());
      CHECK(got[i]->first_seq == i + 1);
    }
    CHECK(m.group_fallbacks.load() == 1);
    CHECK(inspect::Stats(*r).value().deltas == kBatches);
    CHECK(r->Changes(0).value().size() == kBatches);
    CHECK(inspect::CheckConsistency(*r).ok());
  }
}

}  // namespace
}  // namespace hearth
