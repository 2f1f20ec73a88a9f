// Scope keys without a county root (docs/policy.md, "Keys without a root"):
// no key is made implicitly, keys are created and rotated explicitly, and
// two keys created separately for one (scope, epoch) never block a feed and
// have a way out (rotate, share the new epoch).
#include <algorithm>

#include "hearth/inspect.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using testing::OpenReplica;
using testing::TempDir;

// A replica that starts with no key at all.
std::unique_ptr<Replica> Bare(TempDir& tmp, const std::string& name) {
  return OpenReplica(tmp.Sub(name), nullptr, {}, /*keys=*/false);
}

// Applies every delta `to` lacks from `from`; returns the results.
std::vector<ApplyResult> Pull(Replica& from, Replica& to) {
  auto deltas = from.DeltasSince(to.GetHeads().value());
  REQUIRE(deltas.ok());
  std::vector<ApplyResult> out;
  for (const Bytes& d : *deltas) {
    auto r = to.Apply(d);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    out.push_back(*r);
  }
  return out;
}

TEST_CASE("without a root, a write to a scope with no key fails, writes nothing and names both ways forward") {
  TempDir tmp;
  auto a = Bare(tmp, "a");
  RecordId id = RecordId::Generate();
  auto c = a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "x"); });
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kFailedPrecondition);
  const std::string& m = c.status().message();
  CHECK(m.find("no key for scope test.a") != std::string::npos);
  CHECK(m.find("`hearth keys new test.a`") != std::string::npos);
  CHECK(m.find("Replica::CreateScopeKey") != std::string::npos);
  CHECK(m.find("import the keyring") != std::string::npos);
  CHECK(a->ListKeys().value().empty());  // no key was made
  CHECK(inspect::Stats(*a).value().deltas == 0);
  CHECK(a->Get("item", id).status().code() == Code::kNotFound);
  // A batch over two scopes, one keyed: nothing of it is written.
  REQUIRE(a->CreateScopeKey("test.a").ok());
  c = a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "x").Set("other", id, "name", "y"); });
  CHECK(c.status().code() == Code::kFailedPrecondition);
  CHECK(inspect::Stats(*a).value().deltas == 0);
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "x"); }).ok());
  CHECK(a->Get("item", id)->Find("title")->value.as_string() == "x");
}

TEST_CASE("CreateScopeKey and RotateScopeKey: once per scope, new epochs, refused under a root") {
  TempDir tmp;
  auto a = Bare(tmp, "a");
  auto k = a->CreateScopeKey("test.a");
  REQUIRE(k.ok());
  CHECK(*k == ScopeEpoch{"test.a", 1});
  auto again = a->CreateScopeKey("test.a");
  CHECK(again.status().code() == Code::kAlreadyExists);
  CHECK(again.status().message().find("hearth keys rotate test.a") != std::string::npos);
  CHECK(a->CreateScopeKey("no.such.scope").status().code() == Code::kInvalidArgument);
  CHECK(a->RotateScopeKey("test.b").status().code() == Code::kFailedPrecondition);  // nothing to rotate
  auto r = a->RotateScopeKey("test.a");
  REQUIRE(r.ok());
  CHECK(*r == ScopeEpoch{"test.a", 2});
  CHECK(a->ListKeys().value() == std::vector<ScopeEpoch>{{"test.a", 1}, {"test.a", 2}});
  // Writes use the newest epoch.
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", RecordId::Generate(), "title", "x"); }).ok());
  auto d = a->GetDelta(a->author(), 1);
  REQUIRE(d.ok());
  CHECK(inspect::Describe(*a, *d).value().epoch == 2);

  // Under a root, the root's policy makes the keys.
  ReplicaOptions o;
  o.root = a->author();  // any root key
  auto under = OpenReplica(tmp.Sub("under"), nullptr, o, /*keys=*/false);
  CHECK(under->CreateScopeKey("test.a").status().code() == Code::kFailedPrecondition);
  CHECK(under->RotateScopeKey("test.a").status().code() == Code::kFailedPrecondition);
}

TEST_CASE("ImportKeyring imports the new keys and reports a different held key instead of failing") {
  TempDir tmp;
  auto a = Bare(tmp, "a");
  auto b = Bare(tmp, "b");
  REQUIRE(a->CreateScopeKey("test.a").ok());
  REQUIRE(a->CreateScopeKey("test.b").ok());
  REQUIRE(b->CreateScopeKey("test.a").ok());  // its own
  std::vector<ScopeEpoch> conflicts;
  Status s = b->ImportKeyring(a->ExportKeyring().value(), &conflicts);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  CHECK(conflicts == std::vector<ScopeEpoch>{{"test.a", 1}});
  CHECK(b->ListKeys().value() == std::vector<ScopeEpoch>{{"test.a", 1}, {"test.b", 1}});
  // The same keyring again: nothing new, the same conflict.
  REQUIRE(b->ImportKeyring(a->ExportKeyring().value(), &conflicts).ok());
  CHECK(conflicts.size() == 1);
}

// The scenario: A creates the key; B, before importing it, creates
// its own for the same scope (today only by `keys new` on both); they write
// and exchange deltas. Nothing blocks: each stores the other's deltas
// unreadable and goes on. The way out: A rotates, B imports the new epoch;
// from then on both write under it and converge both ways. Old deltas stay
// readable by whoever holds each old key.
TEST_CASE("two keys created separately: stored unreadable, not blocking; rotate and share converges") {
  TempDir tmp;
  auto a = Bare(tmp, "a");
  auto b = Bare(tmp, "b");
  REQUIRE(a->CreateScopeKey("test.a").ok());
  REQUIRE(b->CreateScopeKey("test.a").ok());
  RecordId ra = RecordId::Generate(), rb = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", ra, "title", "from a"); }).ok());
  REQUIRE(a->Write([&](WriteBatch& w) { w.Increment("item", ra, "count", 1); }).ok());
  REQUIRE(b->Write([&](WriteBatch& w) { w.Set("item", rb, "title", "from b"); }).ok());

  auto at_b = Pull(*a, *b);
  REQUIRE(at_b.size() == 2);
  for (const ApplyResult& r : at_b) {
    CHECK(r.outcome == ApplyOutcome::kUnreadable);
    CHECK(r.missing_key == std::optional<ScopeEpoch>(ScopeEpoch{"test.a", 1}));
  }
  auto at_a = Pull(*b, *a);
  REQUIRE(at_a.size() == 1);
  CHECK(at_a[0].outcome == ApplyOutcome::kUnreadable);
  CHECK(at_a[0].reason.find("a different key was created elsewhere") != std::string::npos);
  // The feeds are not blocked: both hold both feeds to their heads.
  CHECK(a->GetHeads().value() == b->GetHeads().value());
  auto un = inspect::Unreadable(*b);
  REQUIRE(un.ok());
  REQUIRE(un->size() == 1);
  CHECK(un->at(0).deltas == 2);
  CHECK(un->at(0).other_key_held);
  // Importing the other's keyring does not fail; the clash is reported.
  std::vector<ScopeEpoch> conflicts;
  REQUIRE(b->ImportKeyring(a->ExportKeyring().value(), &conflicts).ok());
  CHECK(conflicts == std::vector<ScopeEpoch>{{"test.a", 1}});
  CHECK(b->Get("item", ra).status().code() == Code::kNotFound);
  // A later delta from A (still epoch 1) is stored too: the feed goes on.
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", ra, "title", "from a, again"); }).ok());
  CHECK(Pull(*a, *b).at(0).outcome == ApplyOutcome::kUnreadable);

  // The way out: A rotates; B imports the new epoch.
  auto rotated = a->RotateScopeKey("test.a");
  REQUIRE(rotated.ok());
  CHECK(rotated->epoch == 2);
  REQUIRE(b->ImportKeyring(a->ExportKeyring({"test.a"}).value(), &conflicts).ok());
  CHECK(conflicts == std::vector<ScopeEpoch>{{"test.a", 1}});  // epoch 1 still differs
  CHECK(b->ListKeys().value() == std::vector<ScopeEpoch>{{"test.a", 1}, {"test.a", 2}});
  // New writes on both sides, under epoch 2, converge both ways.
  RecordId shared = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", shared, "title", "a's title").Increment("item", shared, "count", 2); }).ok());
  REQUIRE(b->Write([&](WriteBatch& w) { w.Increment("item", shared, "count", 3); }).ok());
  for (const ApplyResult& r : Pull(*a, *b)) CHECK(r.outcome == ApplyOutcome::kApplied);
  for (const ApplyResult& r : Pull(*b, *a)) CHECK(r.outcome == ApplyOutcome::kApplied);
  for (Replica* r : {a.get(), b.get()}) {
    auto rec = r->Get("item", shared);
    REQUIRE(rec.ok());
    CHECK(rec->Find("title")->value.as_string() == "a's title");
    CHECK(rec->Find("count")->count == 5);
    CHECK(inspect::CheckConsistency(*r).ok());
  }
  // Old deltas: readable by whoever holds each old key.
  CHECK(a->Get("item", ra)->Find("count")->count == 1);
  CHECK(b->Get("item", rb)->Find("title")->value.as_string() == "from b");
  CHECK(a->Get("item", rb).status().code() == Code::kNotFound);
  CHECK(b->Get("item", ra).status().code() == Code::kNotFound);
  // A third replica given A's keyring reads A's old deltas and the new ones.
  auto c = Bare(tmp, "c");
  REQUIRE(c->ImportKeyring(a->ExportKeyring().value()).ok());
  Pull(*a, *c);
  CHECK(c->Get("item", ra)->Find("title")->value.as_string() == "from a, again");
  CHECK(c->Get("item", shared)->Find("count")->count == 5);
}

}  // namespace
}  // namespace hearth
