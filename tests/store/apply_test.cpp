// Replica::Apply: convergence, and rejection of every kind of bad delta.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "hearth/inspect.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using testing::OpenReplica;
using testing::ShareKeys;
using testing::Sync;
using testing::TempDir;

std::vector<Bytes> AllDeltas(Replica& r) {
  auto d = r.DeltasSince({});
  REQUIRE(d.ok());
  return *d;
}

TEST_CASE("two replicas converge by exchanging deltas") {
  TempDir tmp;
  auto a = OpenReplica(tmp.Sub("a"));
  auto b = OpenReplica(tmp.Sub("b"));
  RecordId id = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "from a").Increment("item", id, "count", 2); }).ok());
  ShareKeys(*a, *b);
  REQUIRE(b->Write([&](WriteBatch& w) { w.Increment("item", id, "count", 3).Add("item", id, "tags", "b"); }).ok());
  CHECK(Sync(*a, *b) == 1);
  CHECK(Sync(*b, *a) == 1);
  CHECK(a->Digest().value() == b->Digest().value());
  auto rec = b->Get("item", id);
  CHECK(rec->Find("count")->count == 5);
  CHECK(rec->Find("title")->value == Value("from a"));
  CHECK(a->GetHeads().value() == b->GetHeads().value());
  CHECK(inspect::CheckConsistency(*a).ok());
  CHECK(inspect::CheckConsistency(*b).ok());
}

TEST_CASE("forged, tampered, truncated and random deltas are rejected and change nothing") {
  TempDir tmp;
  auto a = OpenReplica(tmp.Sub("a"));
  auto b = OpenReplica(tmp.Sub("b"));
  RecordId id = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "secret"); }).ok());
  ShareKeys(*a, *b);
  Bytes good = AllDeltas(*a).at(0);
  auto before = b->Digest().value();

  // Every single-byte change is caught (structure, signature or MAC).
  for (size_t i = 0; i < good.size(); ++i) {
    Bytes bad = good;
    bad[i] ^= 0x40;
    auto r = b->Apply(bad);
    CAPTURE(i);
    CHECK_FALSE(r.ok());
  }
  // Every truncation.
  for (size_t n = 0; n < good.size(); n += 7) {
    auto r = b->Apply(std::span(good).first(n));
    CHECK_FALSE(r.ok());
  }
  // Random bytes.
  std::mt19937_64 rng(testing::BaseSeed());
  for (int i = 0; i < 200; ++i) {
    Bytes junk(rng() % 400);
    for (auto& x : junk) x = static_cast<uint8_t>(rng());
    if (!junk.empty()) junk[0] = 0x01;
    CHECK_FALSE(b->Apply(junk).ok());
  }
  // Forged signature: valid structure, signature from someone else's bytes.
  {
    Bytes forged = good;
    for (size_t i = forged.size() - 64; i < forged.size(); ++i) forged[i] = 0x11;
    auto r = b->Apply(forged);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnauthenticated);
  }
  CHECK(b->Digest().value() == before);
  CHECK(b->GetHeads().value().count(a->author()) == 0);
  CHECK(inspect::Stats(*b).value().pending == 0);

  // The genuine delta still applies, and a replay is a no-op.
  auto ok = b->Apply(good);
  REQUIRE(ok.ok());
  CHECK(ok->outcome == ApplyOutcome::kApplied);
  auto digest = b->Digest().value();
  auto again = b->Apply(good);
  REQUIRE(again.ok());
  CHECK(again->outcome == ApplyOutcome::kDuplicate);
  CHECK(b->Digest().value() == digest);
}

// Without a county root, keys are shared by hand and a replica may hold a
// key of its own for the same (scope, epoch): such a delta is stored chained
// and unreadable (the author's feed goes on), never applied with the wrong
// key. (Under a root the key is the root's, and a body that does not open
// under it is invalid content: tests/trust/attacks_test.cpp.) The whole
// divergence and its way out: tests/store/keys_test.cpp.
TEST_CASE("a delta under another key of the same (scope, epoch) is stored unreadable, not refused") {
  TempDir tmp;
  auto a = OpenReplica(tmp.Sub("a"), nullptr, {}, /*keys=*/false);
  auto b = OpenReplica(tmp.Sub("b"), nullptr, {}, /*keys=*/false);
  REQUIRE(a->CreateScopeKey("test.a").ok());
  REQUIRE(b->CreateScopeKey("test.a").ok());  // its own, different key
  RecordId id = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "x"); }).ok());
  REQUIRE(b->Write([&](WriteBatch& w) { w.Set("item", RecordId::Generate(), "title", "y"); }).ok());
  auto before = b->Digest().value();
  auto r = b->Apply(AllDeltas(*a).at(0));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->outcome == ApplyOutcome::kUnreadable);
  REQUIRE(r->missing_key.has_value());
  CHECK(*r->missing_key == ScopeEpoch{"test.a", 1});
  CHECK(r->reason.find("does not open it: a different key was created elsewhere") != std::string::npos);
  CHECK(b->Digest().value() == before);
  CHECK(b->GetHeads().value().at(a->author()).seq == 1);
  CHECK(b->Get("item", id).status().code() == Code::kNotFound);
  CHECK(inspect::CheckConsistency(*b).ok());
}

TEST_CASE("without the key a delta is stored and chained, and applied once the key arrives") {
  TempDir tmp;
  auto a = OpenReplica(tmp.Sub("a"));
  auto relay = OpenReplica(tmp.Sub("relay"), nullptr, {}, /*keys=*/false);
  RecordId id = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "for readers only"); }).ok());
  REQUIRE(a->Write([&](WriteBatch& w) { w.Increment("item", id, "count", 4); }).ok());
  auto deltas = AllDeltas(*a);
  for (const Bytes& d : deltas) {
    auto r = relay->Apply(d);
    REQUIRE(r.ok());
    CHECK(r->outcome == ApplyOutcome::kUnreadable);
    CHECK(r->missing_key == std::optional<ScopeEpoch>(ScopeEpoch{"test.a", 1}));
    CHECK(r->reason == "no key for scope test.a epoch 1 is held");
  }
  auto missing = inspect::Unreadable(*relay);
  REQUIRE(missing.ok());
  REQUIRE(missing->size() == 1);
  CHECK((*missing)[0].key == ScopeEpoch{"test.a", 1});
  CHECK((*missing)[0].deltas == 2);
  CHECK_FALSE((*missing)[0].other_key_held);
  CHECK(relay->GetHeads().value() == a->GetHeads().value());
  CHECK(relay->Get("item", id).status().code() == Code::kNotFound);
  // It can forward what it cannot read.
  auto c = OpenReplica(tmp.Sub("c"), nullptr, {}, /*keys=*/false);
  ShareKeys(*a, *c);
  CHECK(Sync(*relay, *c) == 2);
  CHECK(c->Digest().value() == a->Digest().value());
  // Given the key, the relay applies what it held.
  ShareKeys(*a, *relay);
  CHECK(relay->Get("item", id)->Find("count")->count == 4);
  CHECK(relay->Digest().value() == a->Digest().value());
  CHECK(inspect::Unreadable(*relay)->empty());
  CHECK(inspect::CheckConsistency(*relay).ok());
}

TEST_CASE("a gap waits as pending and is applied when it fills") {
  TempDir tmp;
  auto a = OpenReplica(tmp.Sub("a"));
  auto b = OpenReplica(tmp.Sub("b"));
  RecordId id = RecordId::Generate();
  for (int i = 0; i < 4; ++i) {
    REQUIRE(a->Write([&](WriteBatch& w) { w.Increment("item", id, "count", 1); }).ok());
  }
  ShareKeys(*a, *b);
  auto d = AllDeltas(*a);
  auto r3 = b->Apply(d[3]);
  REQUIRE(r3.ok());
  CHECK(r3->outcome == ApplyOutcome::kPending);
  auto r2 = b->Apply(d[2]);
  CHECK(r2->outcome == ApplyOutcome::kPending);
  CHECK(b->Apply(d[2])->outcome == ApplyOutcome::kDuplicate);
  CHECK(inspect::Stats(*b).value().pending == 2);
  CHECK(b->Get("item", id).status().code() == Code::kNotFound);
  CHECK(b->Apply(d[0])->outcome == ApplyOutcome::kApplied);
  auto r1 = b->Apply(d[1]);
  REQUIRE(r1.ok());
  CHECK(r1->outcome == ApplyOutcome::kApplied);
  CHECK(r1->unblocked == 2);
  CHECK(inspect::Stats(*b).value().pending == 0);
  CHECK(b->Get("item", id)->Find("count")->count == 4);
  CHECK(b->Digest().value() == a->Digest().value());
}

TEST_CASE("two deltas with one (author, seq) are a fork: kept as proof, author frozen") {
  TempDir tmp;
  std::string dir_a = tmp.Sub("a"), dir_a2 = tmp.Sub("a2");
  { auto a = OpenReplica(dir_a); }
  std::filesystem::copy(dir_a, dir_a2);  // a laptop restored from a backup
  // ... and forced live under the same identity while the original lives:
  // the misuse that forks (a copy refuses to write without this).
  RestoreOptions keep;
  keep.keep_identity = true;
  REQUIRE(Replica::Restore(dir_a2, keep).ok());
  auto a = OpenReplica(dir_a);
  auto a2 = OpenReplica(dir_a2);
  REQUIRE(a->author() == a2->author());
  RecordId id = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "original"); }).ok());
  ShareKeys(*a, *a2);
  REQUIRE(a2->Write([&](WriteBatch& w) { w.Set("item", id, "title", "from the backup"); }).ok());
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "later"); }).ok());

  auto b = OpenReplica(tmp.Sub("b"));
  ShareKeys(*a, *b);
  auto da = AllDeltas(*a);
  auto da2 = AllDeltas(*a2);
  CHECK(b->Apply(da[0])->outcome == ApplyOutcome::kApplied);
  auto f = b->Apply(da2[0]);
  REQUIRE(f.ok());
  CHECK(f->outcome == ApplyOutcome::kFork);
  auto forks = inspect::Forks(*b).value();
  REQUIRE(forks.size() == 1);
  CHECK(forks[0].author == a->author());
  CHECK(forks[0].seq == 1);
  CHECK(forks[0].first == da[0]);
  CHECK(forks[0].second == da2[0]);
  // The author is frozen from the fork point: its later deltas are held.
  auto held = b->Apply(da[1]);
  REQUIRE(held.ok());
  CHECK(held->outcome == ApplyOutcome::kHeld);
  // Frozen from the fork point: neither branch's seq 1 counts any more.
  CHECK(b->Get("item", id).status().code() == Code::kNotFound);
  CHECK(b->GetHeads().value().at(a->author()).seq == 1);
  CHECK(inspect::CheckConsistency(*b).ok());

  // Whichever branch arrives first, every replica ends in the same state.
  auto c = OpenReplica(tmp.Sub("c"));
  ShareKeys(*a, *c);
  CHECK(c->Apply(da2[0])->outcome == ApplyOutcome::kApplied);
  // Branch a's seq 2 does not chain onto branch b's seq 1.
  CHECK(c->Apply(da[1]).status().code() == Code::kUnauthenticated);
  CHECK(c->Apply(da[0])->outcome == ApplyOutcome::kFork);
  CHECK(c->Apply(da[1])->outcome == ApplyOutcome::kHeld);
  CHECK(c->Digest().value() == b->Digest().value());
  CHECK(inspect::Forks(*c).value().size() == 1);
  CHECK(inspect::CheckConsistency(*c).ok());
}

TEST_CASE("any delivery order, with duplicates, converges to the same state") {
  TempDir tmp;
  const uint64_t seed = testing::BaseSeed();
  std::mt19937_64 rng(seed);
  auto w0 = OpenReplica(tmp.Sub("w0"));
  auto w1 = OpenReplica(tmp.Sub("w1"));
  auto w2 = OpenReplica(tmp.Sub("w2"));
  REQUIRE(w0->Write([&](WriteBatch& b) {
               b.Set("item", RecordId::Generate(), "title", "seed");
               b.Set("other", RecordId::Generate(), "name", "seed");
             }).ok());
  ShareKeys(*w0, *w1);
  ShareKeys(*w0, *w2);
  Replica* writers[] = {w0.get(), w1.get(), w2.get()};
  std::vector<RecordId> ids(6);
  for (auto& id : ids) id = RecordId::Generate();
  const char* words[] = {"甲", "乙", "丙", "丁"};
  for (int round = 0; round < 30; ++round) {
    Replica* w = writers[rng() % 3];
    REQUIRE(w->Write([&](WriteBatch& b) {
                 int n = 1 + rng() % 5;
                 for (int i = 0; i < n; ++i) {
                   const RecordId& id = ids[rng() % ids.size()];
                   switch (rng() % 8) {
                     case 0: b.Set("item", id, "title", words[rng() % 4]); break;
                     case 1: b.Add("item", id, "tags", words[rng() % 4]); break;
                     case 2: b.Remove("item", id, "tags", words[rng() % 4]); break;
                     case 3: b.Increment("item", id, "count", int64_t(rng() % 7) - 3); break;
                     case 4: b.Advance("item", id, "stage", rng() % 2 ? "open" : "done"); break;
                     case 5: b.Set("item", id, "owner", words[rng() % 4]); break;
                     case 6: b.Append("item", id, "notes", words[rng() % 4]); break;
                     case 7: b.Increment("other", id, "n", 1); break;
                   }
                 }
               }).ok());
    // Occasionally writers sync with each other, so later writes see earlier ones.
    if (rng() % 3 == 0) {
      Replica* x = writers[rng() % 3];
      Replica* y = writers[rng() % 3];
      if (x != y) Sync(*x, *y);
    }
  }
  std::vector<Bytes> all;
  for (Replica* w : writers) {
    auto d = AllDeltas(*w);
    all.insert(all.end(), d.begin(), d.end());
  }
  std::optional<Hash32> expected;
  for (int trial = 0; trial < 4; ++trial) {
    CAPTURE(seed);
    CAPTURE(trial);
    auto r = OpenReplica(tmp.Sub("r" + std::to_string(trial)));
    ShareKeys(*w0, *r);
    std::vector<Bytes> order = all;
    for (int dup = 0; dup < 10; ++dup) order.push_back(all[rng() % all.size()]);
    std::shuffle(order.begin(), order.end(), rng);
    for (const Bytes& d : order) REQUIRE(r->Apply(d).ok());
    CHECK(inspect::Stats(*r).value().pending == 0);
    CHECK(inspect::CheckConsistency(*r).ok());
    auto dg = r->Digest().value();
    if (!expected) expected = dg;
    CHECK(dg == *expected);
  }
  // The writers themselves converge to the same state once fully synced.
  for (Replica* x : writers)
    for (Replica* y : writers)
      if (x != y) Sync(*x, *y);
  for (Replica* w : writers) CHECK(w->Digest().value() == *expected);
}

TEST_CASE("a collection from a newer schema waits until the schema arrives; contradicting kinds are refused") {
  TempDir tmp;
  std::string text = testing::TestSchema().ToToml();
  auto newer = Schema::Parse(text + "\n[collections.item2]\nscope = \"test.a\"\n"
                                    "[collections.item2.fields]\nx = { type = \"counter\" }\n");
  REQUIRE_MESSAGE(newer.ok(), newer.status().ToString());
  ReplicaOptions o;
  o.schema = newer.value();
  auto a = OpenReplica(tmp.Sub("a"), nullptr, o);
  auto b = OpenReplica(tmp.Sub("b"));
  RecordId id = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Increment("item2", id, "x", 9); }).ok());
  ShareKeys(*a, *b);
  // b's schema lacks item2: the delta is stored and chained, not applied
  // (a name outside the schema could otherwise alias another scope's data)
  // until a schema that has it is in force.
  auto r0 = b->Apply(AllDeltas(*a).at(0));
  REQUIRE_MESSAGE(r0.ok(), r0.status().ToString());
  CHECK(r0->outcome == ApplyOutcome::kWaitingSchema);
  CHECK(r0->reason == "waiting for a newer schema: collection item2 is not in schema v1");
  CHECK(b->Get("item2", id).status().code() == Code::kNotFound);
  CHECK(inspect::CheckConsistency(*b).ok());
  // Reopened with the newer schema, b re-derives and applies it.
  b.reset();
  b = OpenReplica(tmp.Sub("b"), nullptr, o);
  auto rec = b->Get("item2", id);
  REQUIRE(rec.ok());
  CHECK(rec->Find("x")->count == 9);
  CHECK(inspect::Denied(*b).value().empty());
  CHECK(a->Digest().value() == b->Digest().value());
  CHECK(inspect::CheckConsistency(*b).ok());

  // A replica whose schema declares item2.x as an lww string refuses ops of
  // another kind on it (invalid content: stored, never applied).
  auto conflicting = Schema::Parse(text + "\n[collections.item2]\nscope = \"test.a\"\n"
                                          "[collections.item2.fields]\nx = { type = \"lww\", value = \"string\" }\n");
  REQUIRE(conflicting.ok());
  ReplicaOptions oc;
  oc.schema = conflicting.value();
  auto c = OpenReplica(tmp.Sub("c"), nullptr, oc);
  ShareKeys(*a, *c);
  auto r = c->Apply(AllDeltas(*a).at(0));
  REQUIRE(r.ok());
  CHECK(r->outcome == ApplyOutcome::kDenied);
  CHECK(c->Get("item2", id).status().code() == Code::kNotFound);
}

TEST_CASE("two processes writing one replica never reuse a seq") {
  TempDir tmp;
  const std::string dir = tmp.Sub("shared");
  { auto r = OpenReplica(dir); }
  constexpr int kPerChild = 40;
  RecordId id = RecordId::Generate();
  std::vector<pid_t> kids;
  for (int k = 0; k < 2; ++k) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ReplicaOptions o;
      o.durability = Durability::kNoSync;
      auto r = Replica::Open(dir, o);
      if (!r.ok()) _exit(10);
      for (int i = 0; i < kPerChild; ++i) {
        auto c = (*r)->Write([&](WriteBatch& b) { b.Increment("item", id, "count", 1); });
        if (!c.ok()) _exit(11);
      }
      r.value().reset();
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto r = OpenReplica(dir);
  CHECK(r->GetHeads().value().at(r->author()).seq == 2 * kPerChild);
  CHECK(inspect::Stats(*r).value().deltas == 2 * kPerChild);
  CHECK(r->Get("item", id)->Find("count")->count == 2 * kPerChild);
  CHECK(inspect::CheckConsistency(*r).ok());
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

TEST_CASE("ApplyBatch applies many deltas in one transaction and stops cleanly at a bad one") {
  using testing::OpenReplica;
  TempDir tmp;
  auto a = OpenReplica(tmp.Sub("a"));
  RecordId id = RecordId::Generate();
  for (int i = 0; i < 6; ++i) {
    REQUIRE(a->Write([&](WriteBatch& w) { w.Increment("item", id, "count", 1); }).ok());
  }
  auto all = a->DeltasSince({});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 6);

  // In order, out of order (gap then fill) and with a duplicate.
  auto b = OpenReplica(tmp.Sub("b"));
  testing::ShareKeys(*a, *b);
  std::vector<Bytes> mixed = {(*all)[2], (*all)[0], (*all)[1], (*all)[1]};
  auto r = b->ApplyBatch(mixed);
  REQUIRE_MESSAGE(r.ok(), r.error.ToString());
  REQUIRE(r.results.size() == 4);
  CHECK(r.results[0].outcome == ApplyOutcome::kPending);
  CHECK(r.results[1].outcome == ApplyOutcome::kApplied);
  CHECK(r.results[2].outcome == ApplyOutcome::kApplied);
  CHECK(r.results[3].outcome == ApplyOutcome::kDuplicate);
  CHECK(b->Get("item", id)->Find("count")->count == 3);

  // A tampered delta in the middle: the ones before stay applied, it and
  // the ones after are not, and the result says which one and why, as data.
  Bytes bad = (*all)[4];
  bad[bad.size() - 1] ^= 1;
  std::vector<Bytes> rest = {(*all)[3], bad, (*all)[5]};
  auto r2 = b->ApplyBatch(rest);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.failed_index() == 1);
  REQUIRE(r2.results.size() == 1);
  CHECK(r2.results[0].outcome == ApplyOutcome::kApplied);
  CHECK(r2.results[0].seq == 4);
  CHECK(r2.refused);  // the delta's own fault, not the store's
  CHECK(r2.error.code() == Code::kUnauthenticated);
  CHECK(r2.error.message().find("#1") != std::string::npos);
  CHECK(b->GetHeads().value().at(a->author()).seq == 4);
  CHECK(inspect::Stats(*b).value().pending == 0);
  CHECK(b->Get("item", id)->Find("count")->count == 4);
  auto r3 = b->ApplyBatch(std::vector<Bytes>{(*all)[4], (*all)[5]});
  REQUIRE(r3.ok());
  CHECK(r3.results.size() == 2);
  CHECK(b->Digest().value() == a->Digest().value());
  CHECK(inspect::CheckConsistency(*b).ok());
}

}  // namespace
}  // namespace hearth
