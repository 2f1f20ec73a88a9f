// SyncNode over real sockets on 127.0.0.1, in one process: two honest
// nodes of a county (root + policy) sync while hostile clients try a CURVE
// key that is not a member, garbage, multi-frame and oversized messages.
#include <doctest/doctest.h>

#include <zmq.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "crypto/seal.hpp"
#include "hearth/node.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "identity/identity.hpp"
#include "support/node_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using testing::TempDir;
using testing::WaitFor;

std::unique_ptr<Replica> Open(const std::string& dir, std::optional<AuthorId> root, bool is_root = false) {
  return testing::OpenMember(dir, root, is_root);
}
void Copy(Replica& from, Replica& to) { testing::CopyDeltas(from, to); }
crypto::SigningKeyPair Identity(const Replica& r) { return testing::MemberIdentity(r); }
Schema TestSchema() { return testing::NodeTestSchema(); }

// A raw DEALER with a CURVE identity, for hostile tests.
struct RawClient {
  void* sock = nullptr;
  RawClient(void* ctx, const std::string& ep, const crypto::SigningKeyPair& me, const AuthorId& server) {
    sock = zmq_socket(ctx, ZMQ_DEALER);
    auto spk = crypto::CurvePublicKey(server);
    auto pk = crypto::CurvePublicKey(me.public_key);
    auto sk = crypto::CurveSecretKey(me);
    REQUIRE(spk.ok());
    REQUIRE(pk.ok());
    REQUIRE(sk.ok());
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, spk->data(), 32);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pk->data(), 32);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sk->data(), 32);
    REQUIRE(zmq_connect(sock, ep.c_str()) == 0);
  }
  ~RawClient() { zmq_close(sock); }
  void Send(const std::string& s, int flags = 0) { zmq_send(sock, s.data(), s.size(), flags | ZMQ_DONTWAIT); }
  // Whether anything comes back within `ms`.
  bool Receives(int ms) {
    zmq_pollitem_t it{sock, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&it, 1, ms) > 0;
  }
};

TEST_CASE("nodes sync over CURVE; strangers, garbage and oversized messages are refused") {
  TempDir tmp;
  auto root = Open(tmp.Sub("root"), std::nullopt, true);
  const AuthorId r = root->author();
  auto a = Open(tmp.Sub("a"), r);
  auto b = Open(tmp.Sub("b"), r);
  auto m = Open(tmp.Sub("m"), r);          // a member that turns hostile
  auto stranger = Open(tmp.Sub("x"), r);   // not in the policy
  Policy p;
  p.set_county("test");
  REQUIRE(p.AddScope({"test.a", 1, ""}).ok());
  REQUIRE(p.AddScope({"test.b", 1, ""}).ok());
  REQUIRE(p.AddMember({a->author(), "a", "hr", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddMember({b->author(), "b", "hr", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddMember({m->author(), "m", "hr", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddGrant({"hr", "", "*", Right::kRead | Right::kWrite}).ok());
  REQUIRE(root->PublishPolicy(p).ok());
  Copy(*root, *a);
  Copy(*root, *b);
  REQUIRE(a->CurrentPolicy().value().has_value());

  std::vector<NodeOptions::Event> events;
  std::mutex mu;
  NodeOptions opts;
  opts.sync.max_message_bytes = 1 << 20;
  opts.sync.heartbeat_ms = 500;
  opts.sync.idle_timeout_ms = 5'000;
  opts.tick_ms = 20;
  opts.on_event = [&](const NodeOptions::Event& e) {
    std::lock_guard<std::mutex> l(mu);
    events.push_back(e);
  };
  auto na = SyncNode::Create(*a, opts);
  REQUIRE_MESSAGE(na.ok(), na.status().ToString());
  REQUIRE((*na)->Listen("tcp://127.0.0.1:*").ok());
  const std::string ep = (*na)->ListenEndpoints().at(0);
  REQUIRE(ep.rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK((*na)->Listen(ep).code() == Code::kUnavailable);  // address in use
  REQUIRE((*na)->Start().ok());

  NodeOptions ob = opts;
  ob.on_event = nullptr;
  auto nb = SyncNode::Create(*b, ob);
  REQUIRE(nb.ok());
  CHECK((*nb)->Connect(ep, b->author()).code() == Code::kInvalidArgument);  // own key
  REQUIRE((*nb)->Connect(ep, a->author()).ok());
  REQUIRE((*nb)->Start().ok());
  CHECK((*nb)->Connect(ep, a->author()).code() == Code::kFailedPrecondition);

  void* ctx = zmq_ctx_new();
  {
    // A key outside the policy: ZAP refuses the handshake; nothing comes back.
    RawClient rogue(ctx, ep, Identity(*stranger), a->author());
    rogue.Send("hello?");
    CHECK_FALSE(rogue.Receives(1'000));
    CHECK(WaitFor([&] { return (*na)->Stats().zap_refused >= 1; }, 10'000));

    // A member sending garbage, multi-frame and oversized messages.
    RawClient bad(ctx, ep, Identity(*m), a->author());
    bad.Send("part1", ZMQ_SNDMORE);
    bad.Send("part2");
    for (int i = 0; i < 5; ++i) bad.Send(std::string(37, static_cast<char>(0xC1 + i)));
    bad.Send(std::string((1 << 20) + 64 * 1024, 'x'));  // > max_message_bytes + slack: connection dropped
    CHECK(WaitFor([&] { return (*na)->Stats().bad_messages >= 1; }, 10'000));

    // The wrong server key on our side: the CURVE handshake cannot complete.
    RawClient wrong_server(ctx, ep, Identity(*m), stranger->author());
    wrong_server.Send("x");
    CHECK_FALSE(wrong_server.Receives(500));
  }
  zmq_ctx_term(ctx);

  // The honest peers still sync, both ways, live.
  auto cb = b->Write([](WriteBatch& w) { w.Set("item", RecordId{{1}}, "title", Value("from b")); });
  REQUIRE_MESSAGE(cb.ok(), cb.status().ToString());
  CHECK(WaitFor([&] { return a->Get("item", RecordId{{1}}).ok(); }));
  auto ca = a->Write([](WriteBatch& w) { w.Set("item", RecordId{{2}}, "title", Value("from a")); });
  REQUIRE(ca.ok());
  CHECK(WaitFor([&] { return b->Get("item", RecordId{{2}}).ok(); }));
  CHECK(WaitFor([&] { return a->Digest().value() == b->Digest().value(); }));

  // Stats are published by each node's loop after it handles a message, so
  // they may trail the replica by an iteration: wait for them.
  auto applied_by_b = [&] {
    NodeStats s = (*nb)->Stats();
    return s.peers.size() == 1 && s.peers[0].deltas_applied >= 1;
  };
  auto applied_by_a = [&] {
    for (const PeerStats& ps : (*na)->Stats().peers) {
      if (ps.peer == b->author() && ps.deltas_applied >= 1) return true;
    }
    return false;
  };
  CHECK(WaitFor(applied_by_b, 10'000));
  CHECK(WaitFor(applied_by_a, 10'000));
  NodeStats sa = (*na)->Stats();
  NodeStats sb = (*nb)->Stats();
  REQUIRE(sb.peers.size() == 1);
  CHECK(sb.peers[0].connected);
  CHECK(sb.peers[0].deltas_applied >= 1);
  CHECK(sb.peers[0].bytes_in > 0);
  bool found_b = false;
  for (const PeerStats& ps : sa.peers) found_b |= ps.peer == b->author() && ps.deltas_applied >= 1;
  CHECK(found_b);
  (*nb)->Stop();
  (*na)->Stop();
  CHECK_FALSE((*na)->running());
  std::lock_guard<std::mutex> l(mu);
  bool refused = false;
  for (auto& e : events) refused |= e.kind == NodeOptions::EventKind::kRefused;
  CHECK(refused);
}

TEST_CASE("a replica without a root admits any key; Stop is idempotent; no Start is fine") {
  TempDir tmp;
  auto a = Open(tmp.Sub("a"), std::nullopt);
  auto b = Open(tmp.Sub("b"), std::nullopt);
  auto kr = a->Write([](WriteBatch& w) { w.Set("item", RecordId{{3}}, "title", Value("x")); });
  REQUIRE(kr.ok());
  auto keys = a->ExportKeyring();
  REQUIRE(keys.ok());
  REQUIRE(b->ImportKeyring(*keys).ok());
  NodeOptions o;
  o.tick_ms = 20;
  auto na = SyncNode::Create(*a, o);
  REQUIRE(na.ok());
  REQUIRE((*na)->Listen("tcp://127.0.0.1:*").ok());
  REQUIRE((*na)->Start().ok());
  auto nb = SyncNode::Create(*b, o);
  REQUIRE(nb.ok());
  REQUIRE((*nb)->Connect((*na)->ListenEndpoints()[0], a->author()).ok());
  REQUIRE((*nb)->Start().ok());
  CHECK(WaitFor([&] { return b->Get("item", RecordId{{3}}).ok(); }));
  (*nb)->Stop();
  (*nb)->Stop();
  auto idle = SyncNode::Create(*b, o);  // never started: destructor cleans up
  REQUIRE(idle.ok());
  CHECK((*idle)->Listen("garbage-endpoint").code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace hearth
