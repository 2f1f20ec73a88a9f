// Schema governance on replicas (docs/schema.md, "Changing a schema"):
// incompatible schema changes are refused wherever a schema is replaced,
// the county root publishes the schema, and a delta written under a newer
// schema than the receiver's waits (listed by inspect::Pending) until that
// schema arrives, whatever the arrival order.
#include <algorithm>
#include <atomic>
#include <thread>

#include "crypto/crypto.hpp"
#include "hearth/inspect.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using testing::TempDir;

constexpr const char* kV2Fields = "score2 = { type = \"lww\", value = \"int\" }\n";

// TestSchema's text with `extra` appended to item's fields and `version`.
Schema Variant(const std::string& item_fields_extra, uint32_t version, const std::string& tail = "") {
  std::string text = testing::TestSchema().ToToml();
  auto at = text.find("[collections.item.fields]\n");
  REQUIRE(at != std::string::npos);
  text.insert(at + std::string("[collections.item.fields]\n").size(), item_fields_extra);
  auto v = text.find("version = 1\n");
  REQUIRE(v != std::string::npos);
  text.replace(v, 12, "version = " + std::to_string(version) + "\n");
  text += tail;
  auto s = Schema::Parse(text, "variant");
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return std::move(s).value();
}

// TestSchema with one field of `item` replaced by `field_line` (same name).
Schema Changed(const std::string& field, const std::string& field_line) {
  std::string text = testing::TestSchema().ToToml();
  auto at = text.find("\n" + field + " = {");
  REQUIRE(at != std::string::npos);
  auto end = text.find('\n', at + 1);
  text.replace(at + 1, end - at - 1, field_line);
  auto s = Schema::Parse(text, "changed");
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return std::move(s).value();
}

ReplicaOptions Opts(std::optional<AuthorId> root = std::nullopt, bool is_root = false) {
  return testing::TestOptions(root, is_root);
}

std::unique_ptr<Replica> MustOpen(const std::string& dir, const ReplicaOptions& o) {
  auto r = Replica::Open(dir, o);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return std::move(r).value();
}

Bytes SharedKey() { return Bytes(32, 0x5a); }

TEST_CASE("a replica refuses to be opened with an incompatible schema and keeps its state") {
  TempDir tmp;
  const std::string dir = tmp.Sub("town");
  RecordId id = RecordId::Generate();
  {
    auto r = MustOpen(dir, Opts());
    REQUIRE(r->AddScopeKey("test.a", 1, SharedKey()).ok());
    REQUIRE(r->Write([&](WriteBatch& w) { w.Set("item", id, "score", int64_t{7}); }).ok());
  }
  struct Case {
    const char* what;
    Schema schema;
    const char* message;
  };
  const Case cases[] = {
      {"lww int -> counter", Changed("score", "score = { type = \"counter\" }"),
       "field item.score: type lww -> counter is not allowed"},
      {"moved to another scope",
       [] {
         std::string t = testing::TestSchema().ToToml();
         t.replace(t.find("scope = \"test.a\""), 16, "scope = \"test.b\"");
         return Schema::Parse(t).value();
       }(),
       "collection item: scope test.a -> test.b is not allowed"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    ReplicaOptions o = Opts();
    o.schema = c.schema;
    auto r = Replica::Open(dir, o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find(c.message) != std::string::npos);
    CHECK(r.status().message().find("add a new") != std::string::npos);
    // Nothing was written: the old schema is in force and the state verifies.
    ReplicaOptions plain = Opts();
    plain.schema.reset();
    auto again = MustOpen(dir, plain);
    CHECK(again->schema() == testing::TestSchema());
    CHECK(again->Get("item", id)->Find("score")->value == Value(int64_t{7}));
    auto rep = inspect::Verify(*again);
    REQUIRE(rep.ok());
    CHECK(rep->ok());
  }
  // A compatible change (a new field, version 2) is accepted.
  ReplicaOptions o = Opts();
  o.schema = Variant(kV2Fields, 2);
  auto r = MustOpen(dir, o);
  CHECK(r->schema().version() == 2);
  CHECK(r->schema().Find("item")->Find("score2") != nullptr);
}

TEST_CASE("without a root, a delta naming an unknown field waits until the local schema has it") {
  TempDir tmp;
  ReplicaOptions newer = Opts();
  newer.schema = Variant(kV2Fields, 2);
  auto a = MustOpen(tmp.Sub("a"), newer);
  auto b = MustOpen(tmp.Sub("b"), Opts());
  for (Replica* r : {a.get(), b.get()}) {
    REQUIRE(r->AddScopeKey("test.a", 1, SharedKey()).ok());
    REQUIRE(r->AddScopeKey("test.b", 1, SharedKey()).ok());
  }
  RecordId x = RecordId::Generate(), y = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", x, "score2", int64_t{5}).Set("item", x, "title", "t"); }).ok());
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("other", y, "name", "later"); }).ok());
  auto d1 = a->GetDelta(a->author(), 1).value();
  auto d2 = a->GetDelta(a->author(), 2).value();
  auto r1 = b->Apply(d1);
  REQUIRE(r1.ok());
  CHECK(r1->outcome == ApplyOutcome::kWaitingSchema);
  CHECK(r1->reason == "waiting for a newer schema: field item.score2 is not in schema v1");
  CHECK(b->Apply(d2)->outcome == ApplyOutcome::kApplied);  // the feed is not blocked
  CHECK(b->Get("item", x).status().code() == Code::kNotFound);
  auto pend = inspect::Pending(*b).value();
  REQUIRE(pend.size() == 1);
  CHECK(pend[0].waiting_schema);
  CHECK(pend[0].seq == 1);
  CHECK(inspect::Denied(*b).value().empty());
  CHECK(inspect::CheckConsistency(*b).ok());
  // The new schema arrives: the waiting delta is applied.
  b.reset();
  b = MustOpen(tmp.Sub("b"), newer);
  CHECK(b->Get("item", x)->Find("score2")->value == Value(int64_t{5}));
  CHECK(inspect::Pending(*b).value().empty());
  CHECK(b->Digest().value() == a->Digest().value());
  CHECK(inspect::CheckConsistency(*b).ok());
}

TEST_CASE("a status state appended by a newer schema waits") {
  TempDir tmp;
  ReplicaOptions newer = Opts();
  newer.schema = Changed("stage", "stage = { type = \"status\", order = [\"new\", \"open\", \"done\", \"archived\"] }");
  auto a = MustOpen(tmp.Sub("a"), newer);
  auto b = MustOpen(tmp.Sub("b"), Opts());
  for (Replica* r : {a.get(), b.get()}) REQUIRE(r->AddScopeKey("test.a", 1, SharedKey()).ok());
  RecordId x = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Advance("item", x, "stage", "archived"); }).ok());
  auto r = b->Apply(a->GetDelta(a->author(), 1).value());
  REQUIRE(r.ok());
  CHECK(r->outcome == ApplyOutcome::kWaitingSchema);
  CHECK(r->reason.find("status state item.stage = archived is not in schema v1") != std::string::npos);
}

// Two offices under a county root; the root publishes v2 of the schema
// adding item.score2. Office A has v2 and writes the new field; office B
// receives A's deltas before or after the root's v2.
struct Offices {
  TempDir tmp;
  std::unique_ptr<Replica> root, a, b;
  Policy policy;

  Offices() {
    root = MustOpen(tmp.Sub("root"), Opts(std::nullopt, true));
    a = MustOpen(tmp.Sub("a"), Opts(root->author()));
    b = MustOpen(tmp.Sub("b"), Opts(root->author()));
    REQUIRE(policy.AddScope({"test.a", 1, ""}).ok());
    REQUIRE(policy.AddScope({"test.b", 1, ""}).ok());
    REQUIRE(policy.AddMember({a->author(), "office a", "a", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({b->author(), "office b", "b", "", {}, std::nullopt}).ok());
    for (const char* org : {"a", "b"}) {
      for (const char* scope : {"test.a", "test.b"}) {
        REQUIRE(policy.AddGrant({org, "", scope, Right::kRead | Right::kWrite}).ok());
      }
    }
    REQUIRE(root->PublishPolicy(policy).ok());
    testing::Sync(*root, *a);
    testing::Sync(*root, *b);
  }
};

void PublishV2AndWrite(Offices& o, RecordId x, RecordId y) {
  auto published = o.root->PublishSchema(Variant(kV2Fields, 2));
  REQUIRE_MESSAGE(published.ok(), published.status().ToString());
  CHECK(o.root->schema().version() == 2);
  testing::Sync(*o.root, *o.a);
  REQUIRE(o.a->schema().version() == 2);
  REQUIRE(o.a->Write([&](WriteBatch& w) { w.Set("item", x, "score2", int64_t{42}); }).ok());
  REQUIRE(o.a->Write([&](WriteBatch& w) { w.Set("other", y, "name", "after"); }).ok());
}

TEST_CASE("under a root, a delta written under the root's newer schema waits for it, in either order") {
  RecordId x = RecordId::Generate(), y = RecordId::Generate();
  for (bool a_first : {true, false}) {
    CAPTURE(a_first);
    Offices o;
    const Schema& before = o.b->schema();  // stays valid after the swap
    PublishV2AndWrite(o, x, y);
    if (a_first) {
      auto deltas = o.a->DeltasSince(o.b->GetHeads().value()).value();
      std::vector<Bytes> from_a;
      for (const Bytes& d : deltas) {
        if (inspect::Describe(*o.b, d)->author == o.a->author()) from_a.push_back(d);
      }
      REQUIRE(from_a.size() == 2);
      auto r1 = o.b->Apply(from_a[0]);
      REQUIRE(r1.ok());
      CHECK(r1->outcome == ApplyOutcome::kWaitingSchema);
      CHECK(o.b->Apply(from_a[1])->outcome == ApplyOutcome::kApplied);  // later deltas go on
      CHECK(o.b->Get("other", y)->Find("name")->value == Value("after"));
      CHECK(o.b->Get("item", x).status().code() == Code::kNotFound);
      auto pend = inspect::Pending(*o.b).value();
      REQUIRE(pend.size() == 1);
      CHECK(pend[0].waiting_schema);
      CHECK(pend[0].author == o.a->author());
      CHECK(pend[0].reason == "waiting for a newer schema: field item.score2 is not in schema v1");
      CHECK(inspect::CheckConsistency(*o.b).ok());
    }
    testing::Sync(*o.root, *o.b);
    testing::Sync(*o.a, *o.b);
    CHECK(before.version() == 1);
    CHECK(o.b->schema().version() == 2);
    CHECK(o.b->Get("item", x)->Find("score2")->value == Value(int64_t{42}));
    CHECK(inspect::Pending(*o.b).value().empty());
    CHECK(o.b->Digest().value() == o.a->Digest().value());
    CHECK(inspect::CheckConsistency(*o.b).ok());
    auto rep = inspect::Verify(*o.b);
    REQUIRE(rep.ok());
    CHECK(rep->ok());
    // B now follows the root's schema: a local change is refused.
    o.b.reset();
    ReplicaOptions local = Opts(o.root->author());
    local.schema = Variant(kV2Fields + std::string("extra = { type = \"lww\" }\n"), 3);
    auto refused = Replica::Open(o.tmp.Sub("b"), local);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == Code::kFailedPrecondition);
    CHECK(refused.status().message().find("follows the schema the county root publishes") != std::string::npos);
    // Naming the schema already in force is no change.
    local.schema = Variant(kV2Fields, 2);
    auto same = Replica::Open(o.tmp.Sub("b"), local);
    REQUIRE_MESSAGE(same.ok(), same.status().ToString());
    CHECK((*same)->schema().version() == 2);
  }
}

TEST_CASE("schema() stays valid while another thread's apply adopts a newer schema") {
  Offices o;
  REQUIRE(o.root->PublishSchema(Variant(kV2Fields, 2)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<uint64_t> reads{0};
  std::thread reader([&] {
    while (!stop.load() || reads.load() == 0) {
      const Schema& s = o.b->schema();
      if (s.Find("item") == nullptr || (s.version() != 1 && s.version() != 2)) ++bad;
      ++reads;
    }
  });
  testing::Sync(*o.root, *o.b);
  stop = true;
  reader.join();
  CHECK(bad.load() == 0);
  CHECK(o.b->schema().version() == 2);
}

TEST_CASE("PublishSchema: root only, newer version, compatible") {
  Offices o;
  auto not_root = o.a->PublishSchema(Variant(kV2Fields, 2));
  CHECK(not_root.status().code() == Code::kPermissionDenied);
  auto same_version = o.root->PublishSchema(Variant(kV2Fields, 1));
  CHECK(same_version.status().code() == Code::kInvalidArgument);
  CHECK(same_version.status().message().find("not newer") != std::string::npos);
  Schema bad = Changed("score", "score = { type = \"counter\" }");
  std::string text = bad.ToToml();
  text.replace(text.find("version = 1"), 11, "version = 2");
  auto incompatible = o.root->PublishSchema(Schema::Parse(text).value());
  CHECK(incompatible.status().code() == Code::kInvalidArgument);
  CHECK(incompatible.status().message().find("field item.score: type lww -> counter") != std::string::npos);
  CHECK(o.root->schema().version() == 1);
  REQUIRE(o.root->PublishSchema(Variant(kV2Fields, 2)).ok());
  auto older = o.root->PublishSchema(testing::TestSchema());
  CHECK(older.status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace hearth
