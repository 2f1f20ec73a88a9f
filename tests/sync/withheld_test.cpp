// Withheld deltas (issue #15 item 2): a peer that may not receive a scope
// gets the stubs of its version 3 deltas, the author's feed goes on, and the
// bodies follow once a new policy grants the scope — over sync and over
// bundles. A body that does not match its stub is refused and changes
// nothing.
#include "feed/delta.hpp"
#include "hearth/bundle.hpp"
#include "hearth/inspect.hpp"
#include "sync/sync_support.hpp"

namespace hearth {
namespace {

using testing::Pipe;
using testing::TempDir;

// root; hr writes test.a (wage cases, collection "item") and test.b
// (children, collection "other"); the union may read test.a only.
struct County {
  TempDir tmp;
  std::unique_ptr<Replica> root, hr, uni;
  Policy policy;
  std::vector<RecordId> items, kids;

  County() {
    auto r = Replica::Open(tmp.Sub("root"), testing::TestOptions(std::nullopt, true));
    REQUIRE(r.ok());
    root = std::move(r).value();
    auto h = Replica::Open(tmp.Sub("hr"), testing::TestOptions(root->author(), false));
    REQUIRE(h.ok());
    hr = std::move(h).value();
    auto u = Replica::Open(tmp.Sub("union"), testing::TestOptions(root->author(), false));
    REQUIRE(u.ok());
    uni = std::move(u).value();
    policy.set_county("test county");
    policy.set_version(1);
    REQUIRE(policy.AddScope({"test.a", 1, "wage cases"}).ok());
    REQUIRE(policy.AddScope({"test.b", 1, "children"}).ok());
    REQUIRE(policy.AddMember({hr->author(), "hr", "hr", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({uni->author(), "union", "union", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddGrant({"hr", "", "test.a", Right::kRead | Right::kWrite}).ok());
    REQUIRE(policy.AddGrant({"hr", "", "test.b", Right::kRead | Right::kWrite}).ok());
    REQUIRE(policy.AddGrant({"union", "", "test.a", Right::kRead}).ok());
    REQUIRE(root->PublishPolicy(policy).ok());
    Sync(*root, *hr);
    Sync(*root, *uni);
    // hr: children, wages, children, wages (seq 1..4): the union may not
    // receive seq 1 and 3.
    for (int i = 0; i < 2; ++i) {
      kids.push_back(RecordId::Generate());
      items.push_back(RecordId::Generate());
      auto c = hr->Write([&](WriteBatch& w) { w.Set("other", kids.back(), "name", "child " + std::to_string(i)); });
      REQUIRE_MESSAGE(c.ok(), c.status().ToString());
      c = hr->Write([&](WriteBatch& w) { w.Set("item", items.back(), "title", "wage " + std::to_string(i)); });
      REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    }
  }

  static SyncStats Sync(Replica& a, Replica& b, SyncStats* b_stats = nullptr) {
    Pipe p(a, b);
    p.Run();
    REQUIRE(p.caught_up());
    if (b_stats != nullptr) *b_stats = p.b->stats();
    return p.a->stats();
  }

  // Policy 2: the union may read test.b too.
  void GrantChildren() {
    policy.set_version(2);
    REQUIRE(policy.AddGrant({"union", "", "test.b", Right::kRead}).ok());
    auto s = root->PublishPolicy(policy);
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    Sync(*root, *hr);
    Sync(*root, *uni);
  }

  size_t Count(Replica& r, const char* coll) {
    size_t n = 0;
    REQUIRE(r.Scan(coll, [&](const Record&) {
      ++n;
      return true;
    }).ok());
    return n;
  }
};

void CheckWithheldAtUnion(County& c) {
  // The feed did not stop: the union holds all of hr's feed, chained.
  const Heads hh = c.hr->GetHeads().value();
  const Heads uh = c.uni->GetHeads().value();
  REQUIRE(uh.count(c.hr->author()));
  CHECK(uh.at(c.hr->author()) == hh.at(c.hr->author()));
  // Wages arrived and apply; children are stubs: withheld, never applied.
  CHECK(c.Count(*c.uni, "item") == 2);
  CHECK(c.Count(*c.uni, "other") == 0);
  auto w = c.uni->Withheld();
  REQUIRE(w.ok());
  REQUIRE(w->size() == 2);
  CHECK((*w)[0].author == c.hr->author());
  CHECK((*w)[0].seq == 1);
  CHECK((*w)[1].seq == 3);
  CHECK((*w)[0].scope == "test.b");
  for (uint64_t seq : {1, 3}) {
    auto d = c.uni->GetDelta(c.hr->author(), seq);
    REQUIRE(d.ok());
    auto p = feed::ParseDelta(*d);
    REQUIRE(p.ok());
    CHECK(p->stub);  // no nonce, no ciphertext of a child's record at the union
  }
  Status ok = inspect::CheckConsistency(*c.uni);
  CHECK_MESSAGE(ok.ok(), ok.ToString());
}

TEST_CASE("sync: stubs for a scope the peer may not receive; the feed goes on; bodies follow a new policy") {
  County c;
  SyncStats ub;
  SyncStats hs = County::Sync(*c.hr, *c.uni, &ub);
  CHECK(hs.stubs_sent == 2);
  CHECK(ub.deltas_withheld == 2);
  CheckWithheldAtUnion(c);

  // Again: nothing new to send, the stubs stay (a stub twice is a duplicate).
  SyncStats again = County::Sync(*c.hr, *c.uni);
  CHECK(again.deltas_sent == 0);
  CHECK(c.uni->Withheld()->size() == 2);

  // A body that does not match its stub: refused, nothing changes.
  {
    auto full = c.hr->GetDelta(c.hr->author(), 1);
    REQUIRE(full.ok());
    Bytes bad = *full;
    bad[bad.size() - 64 - 3] ^= 0x01;  // a ciphertext byte
    const Hash32 before = testing::DigestOf(*c.uni);
    auto r = c.uni->Apply(bad);
    CHECK(r.status().code() == Code::kUnauthenticated);
    CHECK(testing::DigestOf(*c.uni) == before);
    CHECK(c.uni->Withheld()->size() == 2);
  }

  // The union may read children now: the bodies follow, and apply.
  c.GrantChildren();
  SyncStats ub2;
  County::Sync(*c.hr, *c.uni, &ub2);
  CHECK(ub2.bodies_arrived == 2);
  CHECK(c.uni->Withheld()->empty());
  CHECK(c.Count(*c.uni, "other") == 2);
  CHECK(c.Count(*c.uni, "item") == 2);
  CHECK(testing::DigestOf(*c.uni) == testing::DigestOf(*c.hr));
  Status ok = inspect::CheckConsistency(*c.uni);
  CHECK_MESSAGE(ok.ok(), ok.ToString());
  // And nothing more is asked for afterwards.
  CHECK(County::Sync(*c.hr, *c.uni).deltas_sent == 0);
}

TEST_CASE("bundles: stubs for one receiver; the bodies follow in a later bundle") {
  County c;
  BundleTarget to{c.uni->author(), {}};
  BundleTargetReport tr;
  auto ex = ExportBundleFor(*c.hr, c.uni->GetHeads().value(), c.tmp.Sub("one.bundle"), to, &tr);
  REQUIRE_MESSAGE(ex.ok(), ex.status().ToString());
  CHECK(tr.stubs == 2);
  CHECK(tr.bodies == 0);
  auto im = ImportBundle(*c.uni, c.tmp.Sub("one.bundle"));
  REQUIRE_MESSAGE(im.ok(), im.status().ToString());
  CHECK(im->withheld == 2);
  CheckWithheldAtUnion(c);

  // Policy 2; the union's withheld list goes with its heads to the exporter.
  c.GrantChildren();
  for (const auto& w : c.uni->Withheld().value()) to.withheld.emplace_back(w.author, w.seq);
  REQUIRE(to.withheld.size() == 2);
  auto ex2 = ExportBundleFor(*c.hr, c.uni->GetHeads().value(), c.tmp.Sub("two.bundle"), to, &tr);
  REQUIRE_MESSAGE(ex2.ok(), ex2.status().ToString());
  CHECK(tr.bodies == 2);
  CHECK(tr.stubs == 0);
  auto im2 = ImportBundle(*c.uni, c.tmp.Sub("two.bundle"));
  REQUIRE_MESSAGE(im2.ok(), im2.status().ToString());
  CHECK(im2->bodies == 2);
  CHECK(c.uni->Withheld()->empty());
  CHECK(c.Count(*c.uni, "other") == 2);
  CHECK(testing::DigestOf(*c.uni) == testing::DigestOf(*c.hr));
}

TEST_CASE("a stub of a delta held in full changes nothing") {
  County c;
  auto full = c.hr->GetDelta(c.hr->author(), 1);
  REQUIRE(full.ok());
  auto p = feed::ParseDelta(*full);
  REQUIRE(p.ok());
  auto stub = feed::MakeStub(*p);
  REQUIRE(stub.ok());
  const Hash32 before = testing::DigestOf(*c.hr);
  auto r = c.hr->Apply(*stub);
  REQUIRE(r.ok());
  CHECK(r->outcome == ApplyOutcome::kDuplicate);
  CHECK(testing::DigestOf(*c.hr) == before);
  auto held = c.hr->GetDelta(c.hr->author(), 1);
  REQUIRE(held.ok());
  CHECK(*held == *full);
}

}  // namespace
}  // namespace hearth
