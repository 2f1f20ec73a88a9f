// The three severe attacks of issue #12, each as it was reported, against
// real replicas (and a real bundle file): a legitimate member M (the union:
// writes test.b only) signs deltas that every check of the format accepts.
//   1. a collection named "item\0" (item is test.a, hr's): write beyond grant
//   2. a payload whose msgpack declares 2^32-1 items: a poison delta
//   3. a delta planted under the next key epoch, then the root revokes M:
//      "unrevokable member"
// Strings: non-UTF-8 values are refused on write and are invalid content
// on apply.
#include <doctest/doctest.h>

#include <filesystem>

#include "codec/codec.hpp"
#include "crypto/crypto.hpp"
#include "feed/delta.hpp"
#include "hearth/bundle.hpp"
#include "hearth/policy.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "support/node_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using testing::TempDir;

struct County {
  TempDir tmp;
  std::unique_ptr<Replica> root, hr, un, civil;
  Policy policy;

  County() {
    root = testing::OpenMember(tmp.Sub("root"), std::nullopt, true);
    hr = testing::OpenMember(tmp.Sub("hr"), root->author());
    un = testing::OpenMember(tmp.Sub("union"), root->author());
    civil = testing::OpenMember(tmp.Sub("civil"), root->author());
    policy.set_county("天全县");
    REQUIRE(policy.AddScope({"test.a", 1, "wage cases"}).ok());
    REQUIRE(policy.AddScope({"test.b", 1, "stations"}).ok());
    REQUIRE(policy.AddMember({hr->author(), "hr", "hr", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({un->author(), "union", "union", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({civil->author(), "civil", "civil", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddGrant({"hr", "", "test.a", Right::kRead | Right::kWrite}).ok());
    REQUIRE(policy.AddGrant({"union", "", "test.b", Right::kRead | Right::kWrite}).ok());
    REQUIRE(policy.AddGrant({"civil", "", "test.a", Right::kRead}).ok());
    REQUIRE(policy.AddGrant({"civil", "", "test.b", Right::kRead}).ok());
    Publish();
  }
  void Publish() {
    auto c = root->PublishPolicy(policy);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    for (Replica* r : {hr.get(), un.get(), civil.get()}) testing::CopyDeltas(*root, *r);
  }
  // The union's real key for (test.b, epoch), or a random one.
  crypto::SecretBytes UnionKey(uint32_t epoch) {
    if (auto held = testing::HeldScopeKey(*un, "test.b", epoch)) return std::move(*held);
    return crypto::RandomAeadKey();
  }
  // A delta signed by the union, chained onto its feed as `holder` holds it.
  Bytes Forge(Replica& holder, uint32_t epoch, const Bytes& plain, uint32_t op_count,
              const crypto::SecretBytes& key, std::string scope = "test.b") {
    auto id = testing::MemberIdentity(*un);
    Heads heads = holder.GetHeads().value();
    FeedHead head = heads.count(un->author()) ? heads.at(un->author()) : FeedHead{};
    feed::DeltaHeader h;
    h.author = un->author();
    h.seq = head.seq + 1;
    h.prev = head.hash;
    h.scope = std::move(scope);
    h.epoch = epoch;
    h.hlc_min = h.hlc_max = crdt::MakeHlc(1'800'000'000'000ull, 7);
    h.op_count = op_count;
    auto sealed = feed::SealDeltaPlaintext(feed::kDeltaFormatV1, h, plain, key, id);
    REQUIRE_MESSAGE(sealed.ok(), sealed.status().ToString());
    return *sealed;
  }
  static Bytes OneSet(std::string collection, const RecordId& rid, std::string field, Value v) {
    crdt::RecordOps ro{std::move(collection), rid, {}};
    crdt::Op op;
    op.field = std::move(field);
    op.hlc = crdt::MakeHlc(1'800'000'000'000ull, 7);
    op.value = std::move(v);
    ro.ops.push_back(std::move(op));
    return codec::EncodePayload({ro});
  }
};

size_t Count(const Replica& r, std::string_view coll) {
  size_t n = 0;
  REQUIRE(r.Scan(coll, [&](const Record&) { return ++n, true; }).ok());
  return n;
}

TEST_CASE("attack 1: a collection name with a NUL writes nothing beyond the member's grant") {
  County c;
  RecordId wage = RecordId::Generate();
  REQUIRE(c.hr->Write([&](WriteBatch& w) { w.Set("item", wage, "score", Value(int64_t{5000})); }).ok());
  testing::CopyDeltas(*c.hr, *c.civil);
  const uint64_t records_before = inspect::Stats(*c.civil).value().records;
  // "item\0" under the union's own scope and real key; and plain "item"
  // (another scope's collection); and a collection the schema lacks (it
  // waits for a newer schema: stored, chained, never applied under this one).
  for (std::string coll : {std::string("item\0", 5), std::string("item"), std::string("wage_case")}) {
    Bytes d = c.Forge(*c.civil, 1, County::OneSet(coll, RecordId::Generate(), "score", Value(int64_t{100000000})), 1,
                      c.UnionKey(1));
    auto r = c.civil->Apply(d);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    if (coll == "wage_case") {
      CHECK(r->outcome == ApplyOutcome::kWaitingSchema);
      CHECK(r->reason == "waiting for a newer schema: collection wage_case is not in schema v1");
    } else {
      CHECK(r->outcome == ApplyOutcome::kDenied);
      CHECK(r->reason.rfind("invalid content: ", 0) == 0);
    }
  }
  CHECK(Count(*c.civil, "item") == 1);
  CHECK(inspect::Stats(*c.civil).value().records == records_before);
  CHECK(c.civil->Get("item", wage)->Find("score")->value == Value(int64_t{5000}));
  auto v = inspect::Verify(*c.civil);
  REQUIRE(v.ok());
  CHECK(v->ok());
  CHECK(inspect::CheckConsistency(*c.civil).ok());
  // The union's next honest write still applies: its feed goes on.
  RecordId st = RecordId::Generate();
  REQUIRE(c.un->ImportKeyring(*c.un->ExportKeyring()).ok());
  testing::CopyDeltas(*c.civil, *c.un);
  REQUIRE(c.un->Write([&](WriteBatch& w) { w.Set("other", st, "name", Value("outdoor station 3")); }).ok());
  testing::CopyDeltas(*c.un, *c.civil);
  CHECK(c.civil->Get("other", st).ok());
}

TEST_CASE("attack 4: a member cannot publish a schema: its $schema delta is denied and the schema in force stays") {
  County c;
  const std::string before = c.civil->schema().ToToml();
  // A valid, compatible, newer schema, exactly as the root would publish it.
  std::string text = before;
  if (size_t at = text.find("version = 1\n"); at != std::string::npos) text.erase(at, 12);
  auto newer = Schema::Parse("version = 2\n" + text);
  REQUIRE_MESSAGE(newer.ok(), newer.status().ToString());
  REQUIRE(newer->version() == 2);
  REQUIRE(CheckSchemaChange(c.civil->schema(), *newer).ok());
  const std::string doc = newer->ToToml();
  const RecordId zero{};
  Bytes plain = County::OneSet("$schema", zero, "doc", Value(Bytes(doc.begin(), doc.end())));
  Bytes d = c.Forge(*c.civil, 0, plain, 1, crypto::SecretBytes::Copy(Bytes(32, 0)), "$schema");
  auto r = c.civil->Apply(d);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->outcome == ApplyOutcome::kDenied);
  CHECK_MESSAGE(r->reason.find("only the county root key writes $schema") != std::string::npos, r->reason);
  CHECK(c.civil->schema().ToToml() == before);
  // The union's feed goes on: its next honest write applies.
  RecordId st = RecordId::Generate();
  REQUIRE(c.un->ImportKeyring(*c.un->ExportKeyring()).ok());
  testing::CopyDeltas(*c.civil, *c.un);
  REQUIRE(c.un->Write([&](WriteBatch& w) { w.Set("other", st, "name", Value("outdoor station 4")); }).ok());
  testing::CopyDeltas(*c.un, *c.civil);
  CHECK(c.civil->Get("other", st).ok());
}

TEST_CASE("attack 2: a poison delta is kept as evidence and never stops other authors, over Apply and bundles") {
  County c;
  Bytes bomb = c.Forge(*c.un, 1, Bytes{0x91, 0xdd, 0xff, 0xff, 0xff, 0xff}, 1, c.UnionKey(1));
  REQUIRE(c.un->Apply(bomb).ok());  // the union stores its own poison; sync carries it on
  RecordId wage = RecordId::Generate();
  REQUIRE(c.hr->Write([&](WriteBatch& w) { w.Set("item", wage, "title", Value("wage case 17")); }).ok());

  SUBCASE("Apply") {
    auto r = c.civil->Apply(bomb);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(r->outcome == ApplyOutcome::kDenied);
    testing::CopyDeltas(*c.hr, *c.civil);
    CHECK(c.civil->Get("item", wage).ok());
    // The same verdict after a full re-derivation (a new policy).
    c.policy.set_version(2);
    c.Publish();
    CHECK(c.civil->CurrentPolicy().value()->version() == 2);
    CHECK(inspect::Denied(*c.civil).value().size() == 1);
    CHECK(inspect::CheckConsistency(*c.civil).ok());
  }
  SUBCASE("bundle") {
    // The union's feed (with the poison) and hr's, in one bundle.
    TempDir t;
    Heads since;
    auto a = ExportBundle(*c.un, since, t.Sub("union.hbundle"));
    REQUIRE_MESSAGE(a.ok(), a.status().ToString());
    auto imp = ImportBundle(*c.civil, t.Sub("union.hbundle"));
    REQUIRE_MESSAGE(imp.ok(), imp.status().ToString());
    CHECK(imp->denied == 1);
    auto b = ExportBundle(*c.hr, since, t.Sub("hr.hbundle"));
    REQUIRE(b.ok());
    auto imp2 = ImportBundle(*c.civil, t.Sub("hr.hbundle"));
    REQUIRE_MESSAGE(imp2.ok(), imp2.status().ToString());
    CHECK(c.civil->Get("item", wage).ok());
  }
}

TEST_CASE("attack 3: a delta planted under a future epoch cannot make its author unrevokable") {
  County c;
  // Seq 1 under epoch 2, which does not exist yet: denied for now.
  Bytes planted = c.Forge(*c.un, 2, County::OneSet("other", RecordId::Generate(), "name", Value("planted")), 1,
                          crypto::RandomAeadKey());
  REQUIRE(c.un->Apply(planted).ok());
  for (Replica* r : {c.root.get(), c.civil.get()}) {
    auto res = r->Apply(planted);
    REQUIRE_MESSAGE(res.ok(), res.status().ToString());
    CHECK(res->outcome == ApplyOutcome::kDenied);
  }
  // The root revokes the union after its seq 1: test.b moves to epoch 2, the
  // epoch of the planted delta, which the revocation point still admits.
  REQUIRE(c.policy.Revoke(c.un->author(), 1).ok());
  c.policy.set_version(2);
  auto pub = c.root->PublishPolicy(c.policy);
  REQUIRE_MESSAGE(pub.ok(), pub.status().ToString());
  testing::CopyDeltas(*c.root, *c.civil);
  REQUIRE(c.civil->CurrentPolicy().value().has_value());
  CHECK(c.civil->CurrentPolicy().value()->version() == 2);
  // The planted delta is now invalid content (it does not decrypt under the
  // real epoch-2 key); the union's later writes are refused.
  bool invalid = false;
  for (const DeniedDelta& d : inspect::Denied(*c.civil).value()) {
    if (d.author == c.un->author() && d.seq == 1) invalid = d.reason.rfind("invalid content: ", 0) == 0;
  }
  CHECK(invalid);
  Bytes later = c.Forge(*c.civil, 1, County::OneSet("other", RecordId::Generate(), "name", Value("after")), 1,
                        c.UnionKey(1));
  auto res = c.civil->Apply(later);
  REQUIRE(res.ok());
  CHECK(res->outcome == ApplyOutcome::kDenied);
  CHECK(Count(*c.civil, "other") == 0);
  CHECK(inspect::CheckConsistency(*c.civil).ok());
  CHECK(inspect::CheckConsistency(*c.root).ok());
}

TEST_CASE("strings are UTF-8: refused on write, invalid content on apply") {
  County c;
  RecordId id = RecordId::Generate();
  auto w = c.hr->Write([&](WriteBatch& b) { b.Set("item", id, "title", Value(std::string("bad \xff name"))); });
  REQUIRE_FALSE(w.ok());
  CHECK(w.status().code() == Code::kInvalidArgument);
  Bytes d = c.Forge(*c.civil, 1, County::OneSet("other", id, "name", Value(std::string("\xc0\xaf"))), 1, c.UnionKey(1));
  auto r = c.civil->Apply(d);
  REQUIRE(r.ok());
  CHECK(r->outcome == ApplyOutcome::kDenied);
  CHECK(Count(*c.civil, "other") == 0);
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

TEST_CASE("a denied delta whose body does not decrypt is evidence, not damage: verify stays clean") {
  County c;
  // An outsider (not in the policy) signs a delta in test.b, epoch 1, under
  // a random key; the observer holds the real test.b key.
  TempDir t;
  auto outsider = testing::OpenMember(t.Sub("outsider"), c.root->author());
  auto id = testing::MemberIdentity(*outsider);
  feed::DeltaHeader h;
  h.author = outsider->author();
  h.seq = 1;
  h.scope = "test.b";
  h.epoch = 1;
  h.hlc_min = h.hlc_max = crdt::MakeHlc(1'800'000'000'000ull, 1);
  h.op_count = 1;
  Bytes plain = County::OneSet("other", RecordId::Generate(), "name", Value("x"));
  auto sealed = feed::SealDeltaPlaintext(feed::kDeltaFormatV1, h, plain, crypto::RandomAeadKey(), id);
  REQUIRE(sealed.ok());
  auto r = c.civil->Apply(*sealed);
  REQUIRE(r.ok());
  CHECK(r->outcome == ApplyOutcome::kDenied);
  auto v = inspect::Verify(*c.civil);
  REQUIRE_MESSAGE(v.ok(), v.status().ToString());
  CHECK(v->ok());
  CHECK(v->denied == 1);
  // Admitted later (the outsider joins with a write grant): invalid
  // content, still no damage.
  c.policy.set_version(2);
  REQUIRE(c.policy.AddMember({outsider->author(), "late", "union", "", {}, std::nullopt}).ok());
  c.Publish();
  auto denied = inspect::Denied(*c.civil).value();
  REQUIRE(denied.size() == 1);
  CHECK(denied[0].reason.rfind("invalid content: ", 0) == 0);
  auto v2 = inspect::Verify(*c.civil);
  REQUIRE(v2.ok());
  CHECK(v2->ok());
  CHECK(inspect::CheckConsistency(*c.civil).ok());
}

}  // namespace
}  // namespace hearth
