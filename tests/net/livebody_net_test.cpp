// SyncNode: a body that arrives at a relay after the stub reaches a live
// peer in the same session (docs/protocol.md, "Bodies follow live"). The
// body's arrival moves no head, so the node must notice the commit itself
// (LMDB's transaction id) and tell its sessions.
#include <doctest/doctest.h>

#include "feed/delta.hpp"
#include "hearth/node.hpp"
#include "hearth/replica.hpp"
#include "support/node_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using testing::TempDir;
using testing::WaitFor;

TEST_CASE("node: a body that reaches the relay later goes on to a live peer without a reconnect") {
  TempDir tmp;
  auto root = testing::OpenMember(tmp.Sub("root"), std::nullopt, true);
  const AuthorId r = root->author();
  auto hr = testing::OpenMember(tmp.Sub("hr"), r);
  auto relay = testing::OpenMember(tmp.Sub("relay"), r);
  auto office = testing::OpenMember(tmp.Sub("office"), r);
  Policy p;
  p.set_county("test");
  REQUIRE(p.AddScope({"test.a", 1, ""}).ok());
  REQUIRE(p.AddScope({"test.b", 1, ""}).ok());
  REQUIRE(p.AddMember({hr->author(), "hr", "hr", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddMember({relay->author(), "relay", "civil", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddMember({office->author(), "office", "civil", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddGrant({"hr", "", "*", Right::kRead | Right::kWrite}).ok());
  REQUIRE(p.AddGrant({"civil", "", "*", Right::kRead}).ok());
  REQUIRE(root->PublishPolicy(p).ok());
  for (Replica* x : {hr.get(), relay.get(), office.get()}) testing::CopyDeltas(*root, *x);
  const RecordId kid = RecordId::Generate();
  REQUIRE(hr->Write([&](WriteBatch& w) { w.Set("other", kid, "name", Value("child")); }).ok());
  REQUIRE(hr->Write([&](WriteBatch& w) { w.Set("item", RecordId::Generate(), "title", Value("wage")); }).ok());
  auto d1 = hr->GetDelta(hr->author(), 1);
  auto d2 = hr->GetDelta(hr->author(), 2);
  REQUIRE(d1.ok());
  REQUIRE(d2.ok());
  auto parsed = feed::ParseDelta(*d1);
  REQUIRE(parsed.ok());
  REQUIRE(feed::Detachable(parsed->version));
  auto stub = feed::MakeStub(*parsed);
  REQUIRE(stub.ok());
  // The relay holds the child's delta as a stub (as if it came through a
  // peer that may not hold the body), the wage delta in full.
  REQUIRE(relay->Apply(*stub).value().outcome == ApplyOutcome::kWithheld);
  REQUIRE(relay->Apply(*d2).ok());

  NodeOptions opts;
  opts.sync.heartbeat_ms = 500;
  opts.sync.idle_timeout_ms = 10'000;
  opts.tick_ms = 20;
  opts.heads_poll_ms = 60'000;  // only the commit itself may wake the relay
  auto nr = SyncNode::Create(*relay, opts);
  REQUIRE(nr.ok());
  REQUIRE((*nr)->Listen("tcp://127.0.0.1:*").ok());
  const std::string ep = (*nr)->ListenEndpoints().at(0);
  REQUIRE((*nr)->Start().ok());
  auto no = SyncNode::Create(*office, opts);
  REQUIRE(no.ok());
  REQUIRE((*no)->Connect(ep, relay->author()).ok());
  REQUIRE((*no)->Start().ok());

  // The office gets the stub and the wage delta.
  CHECK(WaitFor([&] {
    auto h = office->GetHeads().value();
    return h.count(hr->author()) && h.at(hr->author()).seq == 2;
  }, 10'000));
  REQUIRE(office->Withheld().value().size() == 1);

  // The body reaches the relay (another peer, a bundle): no head moves.
  REQUIRE(relay->Apply(*d1).value().outcome == ApplyOutcome::kBodyArrived);
  CHECK(WaitFor([&] { return office->Withheld().value().empty(); }, 10'000));
  CHECK(office->Get("other", kid).ok());
  CHECK(office->Digest().value() == hr->Digest().value());
  // In the same session: the office's connection never started another one.
  CHECK(WaitFor([&] {
    NodeStats s = (*no)->Stats();
    return s.peers.size() == 1 && s.peers[0].bodies_arrived == 1;
  }, 5'000));
  NodeStats so = (*no)->Stats();
  REQUIRE(so.peers.size() == 1);
  CHECK(so.peers[0].sessions == 1);
  CHECK(so.peers[0].session_failures == 0);
  (*no)->Stop();
  (*nr)->Stop();
}

}  // namespace
}  // namespace hearth
