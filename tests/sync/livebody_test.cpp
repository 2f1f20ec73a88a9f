// Bodies follow within a live session (issue #15, docs/protocol.md "Bodies
// follow live"): a relay that got a stub first (through a peer that holds
// only the stub) and the body later (from the author) passes the body on to
// its live peers that may receive it, in the same session, without a
// reconnect; a live peer that may not receive it still gets the stub only.
#include "feed/delta.hpp"
#include "hearth/inspect.hpp"
#include "sync/sync_support.hpp"
#include "sync/wire.hpp"

namespace hearth {
namespace {

using testing::Pipe;
using testing::TempDir;

// root; hr writes test.a ("item") and test.b ("other"); the union may read
// test.a only; the civil bureau's two offices (relay, office) read both; a
// second union office (union2) reads test.a only.
struct Line {
  TempDir tmp;
  std::unique_ptr<Replica> root, hr, uni, relay, office, uni2;
  Policy policy;

  std::unique_ptr<Replica> Open(const char* name) {
    auto r = Replica::Open(tmp.Sub(name), testing::TestOptions(root->author(), false));
    REQUIRE(r.ok());
    return std::move(r).value();
  }

  Line() {
    auto r = Replica::Open(tmp.Sub("root"), testing::TestOptions(std::nullopt, true));
    REQUIRE(r.ok());
    root = std::move(r).value();
    hr = Open("hr");
    uni = Open("union");
    relay = Open("relay");
    office = Open("office");
    uni2 = Open("union2");
    policy.set_county("test county");
    policy.set_version(1);
    REQUIRE(policy.AddScope({"test.a", 1, "wage cases"}).ok());
    REQUIRE(policy.AddScope({"test.b", 1, "children"}).ok());
    REQUIRE(policy.AddMember({hr->author(), "hr", "hr", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({uni->author(), "union", "union", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({uni2->author(), "union", "union", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({relay->author(), "civil", "civil", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({office->author(), "civil", "civil", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddGrant({"hr", "", "test.a", Right::kRead | Right::kWrite}).ok());
    REQUIRE(policy.AddGrant({"hr", "", "test.b", Right::kRead | Right::kWrite}).ok());
    REQUIRE(policy.AddGrant({"union", "", "test.a", Right::kRead}).ok());
    REQUIRE(policy.AddGrant({"civil", "", "test.a", Right::kRead}).ok());
    REQUIRE(policy.AddGrant({"civil", "", "test.b", Right::kRead}).ok());
    REQUIRE(root->PublishPolicy(policy).ok());
    for (Replica* x : {hr.get(), uni.get(), relay.get(), office.get(), uni2.get()}) Sync(*root, *x);
    // hr: children, wages, children, wages (seq 1..4): the union may not
    // receive seq 1 and 3.
    for (int i = 0; i < 2; ++i) {
      auto c = hr->Write([&](WriteBatch& w) { w.Set("other", RecordId::Generate(), "name", "child " + std::to_string(i)); });
      REQUIRE_MESSAGE(c.ok(), c.status().ToString());
      c = hr->Write([&](WriteBatch& w) { w.Set("item", RecordId::Generate(), "title", "wage " + std::to_string(i)); });
      REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    }
  }

  static void Sync(Replica& a, Replica& b) {
    Pipe p(a, b);
    p.Run();
    REQUIRE(p.caught_up());
  }

  static size_t Count(Replica& r, const char* coll) {
    size_t n = 0;
    REQUIRE(r.Scan(coll, [&](const Record&) {
      ++n;
      return true;
    }).ok());
    return n;
  }

  bool IsStub(Replica& r, uint64_t seq) {
    auto d = r.GetDelta(hr->author(), seq);
    REQUIRE(d.ok());
    auto p = feed::ParseDelta(*d);
    REQUIRE(p.ok());
    return p->stub;
  }
};

// DELTAS messages in one direction of a pipe, and the deltas they carry.
struct DeltasCount {
  uint64_t messages = 0, stubs = 0, full = 0;
  std::function<bool(bool, Bytes&)> Filter(bool direction) {
    return [this, direction](bool a_to_b, Bytes& m) {
      if (a_to_b == direction && !m.empty() && m[0] == sync::kDeltas) {
        messages++;
        sync::Reader r(std::span<const uint8_t>(m).subspan(1));
        REQUIRE(r.Array(8).ok());
        REQUIRE(r.Uint().ok());
        auto n = r.Array(UINT32_MAX);
        REQUIRE(n.ok());
        for (uint32_t i = 0; i < *n; ++i) {
          auto b = r.Bin(UINT64_MAX);
          REQUIRE(b.ok());
          auto p = feed::ParseDelta(Bytes(b->begin(), b->end()));
          REQUIRE(p.ok());
          (p->stub ? stubs : full)++;
        }
      }
      return true;
    };
  }
};

TEST_CASE("sync: a body that arrives after its stub reaches live peers in the same session") {
  Line l;
  // The union gets stubs of the children's deltas (it may not receive them)
  // and passes them on to the relay: all it can forward.
  Line::Sync(*l.hr, *l.uni);
  Line::Sync(*l.uni, *l.relay);
  REQUIRE(l.relay->Withheld()->size() == 2);
  CHECK(l.Count(*l.relay, "other") == 0);

  // Live sessions relay—office (may receive test.b) and relay—union2 (may not).
  Pipe office(*l.relay, *l.office);
  office.Run();
  REQUIRE(office.caught_up());
  CHECK(office.a->stats().stubs_sent == 2);
  CHECK(office.a->stats().stubs_watched == 2);  // the office may have the bodies
  CHECK(l.office->Withheld()->size() == 2);
  Pipe uni2(*l.relay, *l.uni2);
  uni2.Run();
  REQUIRE(uni2.caught_up());
  CHECK(uni2.a->stats().stubs_sent == 2);
  CHECK(uni2.a->stats().stubs_watched == 0);  // union2 may never have them

  // The bodies reach the relay from the author (another peer).
  {
    Pipe from_hr(*l.hr, *l.relay);
    from_hr.Run();
    REQUIRE(from_hr.caught_up());
    CHECK(from_hr.b->stats().bodies_arrived == 2);
  }
  CHECK(l.relay->Withheld()->empty());
  CHECK(l.Count(*l.relay, "other") == 2);

  // Heads did not move: the node tells its sessions the replica changed.
  office.a->NotifyReplicaChanged();
  uni2.a->NotifyReplicaChanged();
  DeltasCount to_office, to_uni2;
  office.Run(100000, to_office.Filter(true));
  uni2.Run(100000, to_uni2.Filter(true));

  // The same sessions, still live: the office got both bodies and applied them.
  REQUIRE(office.a_status.ok());
  REQUIRE(office.b_status.ok());
  CHECK(!office.a->done());
  CHECK(!office.b->done());
  CHECK(office.caught_up());
  CHECK(to_office.full == 2);
  CHECK(to_office.stubs == 0);
  CHECK(office.a->stats().bodies_sent == 2);
  CHECK(office.a->stats().stubs_watched == 0);
  CHECK(office.b->stats().bodies_arrived == 2);
  CHECK(l.office->Withheld()->empty());
  CHECK(l.Count(*l.office, "other") == 2);
  CHECK(testing::DigestOf(*l.office) == testing::DigestOf(*l.hr));
  Status ok = inspect::CheckConsistency(*l.office);
  CHECK_MESSAGE(ok.ok(), ok.ToString());

  // Union2 got nothing more than the stubs.
  CHECK(!uni2.a->done());
  CHECK(to_uni2.messages == 0);
  CHECK(uni2.a->stats().bodies_sent == 0);
  CHECK(l.uni2->Withheld()->size() == 2);
  CHECK(l.IsStub(*l.uni2, 1));
  CHECK(l.IsStub(*l.uni2, 3));
  CHECK(l.Count(*l.uni2, "other") == 0);

  // Nothing is sent twice: a later notification moves no delta.
  office.a->NotifyNewDeltas();
  DeltasCount again;
  office.Run(100000, again.Filter(true));
  CHECK(again.messages == 0);
}

TEST_CASE("sync: a watched stub whose body has not arrived sends nothing") {
  Line l;
  Line::Sync(*l.hr, *l.uni);
  Line::Sync(*l.uni, *l.relay);
  Pipe office(*l.relay, *l.office);
  office.Run();
  REQUIRE(office.caught_up());
  CHECK(office.a->stats().stubs_watched == 2);
  // A commit elsewhere (no body): nothing to send, the stubs stay watched.
  office.a->NotifyReplicaChanged();
  DeltasCount none;
  office.Run(100000, none.Filter(true));
  CHECK(none.messages == 0);
  CHECK(office.a->stats().stubs_watched == 2);
  CHECK(l.office->Withheld()->size() == 2);
}

TEST_CASE("sync: a live peer that sends the stub of a body held here gets the body in the same session") {
  Line l;
  Pipe live(*l.relay, *l.office);
  live.Run();
  REQUIRE(live.caught_up());
  // Meanwhile the office gets stubs of the children's deltas through the
  // union, and the relay the full feed from the author.
  Line::Sync(*l.hr, *l.uni);
  Line::Sync(*l.uni, *l.office);
  REQUIRE(l.office->Withheld()->size() == 2);
  Line::Sync(*l.hr, *l.relay);
  REQUIRE(l.relay->Withheld()->empty());
  // The office offers what it got; the stubs it sends say it lacks the bodies.
  live.b->NotifyNewDeltas();
  DeltasCount to_office;
  live.Run(100000, to_office.Filter(true));
  REQUIRE(live.a_status.ok());
  REQUIRE(live.b_status.ok());
  CHECK(!live.a->done());
  CHECK(live.caught_up());
  CHECK(live.a->stats().bodies_sent == 2);
  CHECK(to_office.full == 2);
  CHECK(live.b->stats().bodies_arrived == 2);
  CHECK(l.office->Withheld()->empty());
  CHECK(l.Count(*l.office, "other") == 2);
  CHECK(testing::DigestOf(*l.office) == testing::DigestOf(*l.hr));
}

}  // namespace
}  // namespace hearth
