// Hostile peers against a real `hearthd` process (issue #7).
//
// A county (root + policy) with four members: A runs as a real hearthd
// process (fork/exec, CURVE, /metrics); B is an honest SyncNode in this
// process; M is a member that turns hostile; R is a member revoked after its
// seq 2. Attacks, each followed by a check that A is up and honest sync works:
//
//   slow loris        64 TCP connections that send 1 byte of the ZMTP greeting
//                     and hold: closed by A's handshake timeout
//   size limit        a message one byte over A's ZMQ_MAXMSGSIZE: A closes
//                     the connection
//   many parts        a 10,000-part message
//   msgpack bombs     DELTAS declaring 2^32-1 items, a 4 GiB bin, 100,000
//                     levels of nesting, and garbage, over an authenticated
//                     session: each a fault; past max_faults A sends ERROR
//   replay            deltas A already holds, sent again: duplicates, no effect
//   revoked key       R's seq 3, written after its revocation, relayed by M:
//                     arrives, stored in R's feed as denied, never applied
//   equivocation      M's second branch of seq k: a fork proof, M frozen
//   withholding relay M claims (HEADS) deltas it never sends; B delivers them
//
// Throughout, A's anonymous memory (RssAnon) is sampled; it must stay under
// kMemoryBound. A's log must name each refusal. No fixed sleeps: each step
// polls A (its replica, read in this process) with a bounded deadline.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "crypto/seal.hpp"
#include "hearth/node.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "hearth/sync.hpp"
#include "identity/identity.hpp"
#include "support/node_support.hpp"
#include "support/support.hpp"
#include "sync/wire.hpp"

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
using Clock = std::chrono::steady_clock;

// hearthd's heap may not grow past this while under attack (its sync window
// is 16 MiB per peer and at most a few peers are connected at once).
constexpr uint64_t kMemoryBound = uint64_t{160} << 20;

using testing::FreePort;
using testing::ReadFile;
using testing::RssAnon;

// A hearthd process on A's replica directory.
struct Daemon {
  pid_t pid = -1;
  std::string log;
  uint64_t peak_anon = 0;
  Daemon(const std::string& dir, const std::string& replica, int port) {
    const std::string cfg = dir + "/a.toml";
    log = dir + "/a.log";
    std::ofstream(cfg) << "replica = \"" << replica << "\"\nlisten = \"tcp://127.0.0.1:" << port
                       << "\"\nlog_level = \"debug\"\nunencrypted_identity = true\n[sync]\nidle_timeout_ms = 5000\n"
                       << "heartbeat_ms = 500\nmax_message_bytes = 1048576\n";
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execl(HEARTHD_BIN, HEARTHD_BIN, "--config", cfg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  bool Alive() { return pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0; }
  void Sample() {
    if (pid > 0) peak_anon = std::max(peak_anon, RssAnon(pid));
  }
  int Stop() {
    if (pid <= 0) return -1;
    ::kill(pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    pid = -1;
    return -1;
  }
  ~Daemon() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// A raw DEALER speaking CURVE with a member's key: it can drive an honest
// SyncSession for the handshake and then send whatever it likes.
struct Client {
  void* sock = nullptr;
  void* mon = nullptr;  // PAIR receiving sock's ZMQ_EVENT_DISCONNECTED (Watch)
  Client(void* ctx, const std::string& ep, const crypto::SigningKeyPair& me, const AuthorId& server) {
    sock = zmq_socket(ctx, ZMQ_DEALER);
    auto spk = crypto::CurvePublicKey(server);
    auto pk = crypto::CurvePublicKey(me.public_key);
    auto sk = crypto::CurveSecretKey(me);
    REQUIRE((spk.ok() && pk.ok() && sk.ok()));
    int linger = 0;
    int64_t big = int64_t{64} << 20;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &big, sizeof big);
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, spk->data(), 32);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pk->data(), 32);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sk->data(), 32);
    REQUIRE(zmq_connect(sock, ep.c_str()) == 0);
  }
  ~Client() {
    if (mon) {
      zmq_socket_monitor(sock, nullptr, 0);
      int linger = 0;
      zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
      zmq_close(mon);
    }
    zmq_close(sock);
  }
  // Starts reporting the socket's disconnects (see Disconnected).
  void Watch(void* ctx) {
    static int n = 0;
    const std::string mep = "inproc://hostile-monitor-" + std::to_string(n++);
    REQUIRE(zmq_socket_monitor(sock, mep.c_str(), ZMQ_EVENT_DISCONNECTED) == 0);
    mon = zmq_socket(ctx, ZMQ_PAIR);
    REQUIRE(zmq_connect(mon, mep.c_str()) == 0);
  }
  // Whether the server closes the connection within `ms` (after Watch).
  bool Disconnected(int ms) {
    REQUIRE(mon != nullptr);
    auto end = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < end) {
      zmq_pollitem_t it{mon, 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&it, 1, 50) <= 0) continue;
      // Two frames: event (u16) + value (u32), then the endpoint.
      uint8_t ev[6] = {};
      const int n = zmq_recv(mon, ev, sizeof ev, 0);
      int more = 0;
      size_t more_len = sizeof more;
      zmq_getsockopt(mon, ZMQ_RCVMORE, &more, &more_len);
      if (more) {
        char ep[256];
        zmq_recv(mon, ep, sizeof ep, 0);
      }
      uint16_t kind = 0;
      std::memcpy(&kind, ev, sizeof kind);
      if (n >= 2 && kind == ZMQ_EVENT_DISCONNECTED) return true;
    }
    return false;
  }
  void Send(std::span<const uint8_t> b, int flags = 0) { zmq_send(sock, b.data(), b.size(), flags); }
  void Send(const std::string& s, int flags = 0) { zmq_send(sock, s.data(), s.size(), flags); }
  // Receives one message within `ms`; nullopt on timeout.
  std::optional<Bytes> Recv(int ms) {
    zmq_pollitem_t it{sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0) return std::nullopt;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, 0) < 0) {
      zmq_msg_close(&m);
      return std::nullopt;
    }
    auto* p = static_cast<const uint8_t*>(zmq_msg_data(&m));
    Bytes b(p, p + zmq_msg_size(&m));
    zmq_msg_close(&m);
    return b;
  }
  // Runs `s` over this socket until `until()` or `ms` pass. `filter` may
  // drop outgoing messages (a withholding relay). Returns the messages the
  // server sent that the session did not take (after it ended).
  template <typename Until>
  void Drive(SyncSession& s, Until until, int ms, bool withhold_deltas = false) {
    auto start = Clock::now();
    auto now = [&] {
      return static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()) + 1'000'000;
    };
    while (Clock::now() - start < std::chrono::milliseconds(ms) && !until() && !s.done()) {
      for (const Bytes& m : s.TakeOutgoing()) {
        if (withhold_deltas && !m.empty() && m[0] == sync::kDeltas) continue;
        Send(m);
      }
      if (auto in = Recv(20)) (void)s.OnMessage(*in, now());
      (void)s.OnTick(now());
    }
  }
  // Whether an ERROR message arrives within `ms` (others are skipped).
  bool GetsError(int ms) {
    auto end = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < end) {
      auto in = Recv(50);
      if (in && !in->empty() && (*in)[0] == sync::kError) return true;
    }
    return false;
  }
};

// An authenticated session of `who` with A, left LIVE and idle.
std::unique_ptr<SyncSession> Handshake(Client& c, Replica& who) {
  SyncOptions so;
  so.max_message_bytes = 1 << 20;
  so.heartbeat_ms = 500;
  so.idle_timeout_ms = 10'000;
  auto s = std::make_unique<SyncSession>(who, true, so);
  REQUIRE(s->Start(1'000'000).ok());
  c.Drive(*s, [&] { return s->stats().caught_up; }, 15'000);
  REQUIRE_MESSAGE(s->stats().caught_up, "handshake with hearthd did not complete: ", s->status().ToString());
  return s;
}

Bytes DeltasMessage(uint64_t mseq, const std::vector<Bytes>& deltas) {
  sync::Writer w(sync::kDeltas);
  w.Array(2).Uint(mseq).Array(static_cast<uint32_t>(deltas.size()));
  for (const Bytes& d : deltas) w.Bin(d);
  return w.Take();
}

TEST_CASE("a real hearthd withstands hostile peers and keeps serving honest ones") {
  TempDir tmp;
  auto root = Open(tmp.Sub("root"), std::nullopt, true);
  const AuthorId rk = root->author();
  auto a = Open(tmp.Sub("a"), rk);
  auto b = Open(tmp.Sub("b"), rk);
  auto m = Open(tmp.Sub("m"), rk);
  auto rv = Open(tmp.Sub("r"), rk);
  auto relay = Open(tmp.Sub("p"), rk);
  const AuthorId ka = a->author();
  Policy p;
  p.set_county("test");
  REQUIRE(p.AddScope({"test.a", 1, ""}).ok());
  REQUIRE(p.AddScope({"test.b", 1, ""}).ok());
  for (auto* r : {a.get(), b.get(), m.get(), rv.get(), relay.get()}) {
    REQUIRE(p.AddMember({r->author(), r->dir(), "hr", "", {}, std::nullopt}).ok());
  }
  REQUIRE(p.AddGrant({"hr", "", "*", Right::kRead | Right::kWrite}).ok());
  REQUIRE(root->PublishPolicy(p).ok());
  for (auto* r : {a.get(), b.get(), m.get(), rv.get(), relay.get()}) Copy(*root, *r);

  auto put = [](Replica& r, uint8_t id, const std::string& title) {
    auto c = r.Write([&](WriteBatch& w) { w.Set("item", RecordId{{id}}, "title", Value(title)); });
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    return *c;
  };
  // R writes seq 1, 2, is revoked after 2, and writes seq 3 anyway.
  put(*rv, 10, "r1");
  put(*rv, 11, "r2");
  Policy p2 = p;
  p2.set_version(2);
  REQUIRE(p2.Revoke(rv->author(), 2).ok());
  REQUIRE(root->PublishPolicy(p2).ok());
  put(*rv, 12, "r3 after revocation");
  for (auto* r : {a.get(), b.get(), m.get(), relay.get()}) Copy(*root, *r);
  // A holds R's seq 1..2 (applied) but not seq 3; M holds all three.
  {
    auto d = rv->DeltasSince({});
    REQUIRE(d.ok());
    for (const Bytes& x : *d) REQUIRE(m->Apply(x).ok());
    for (uint64_t s = 1; s <= 2; ++s) REQUIRE(a->Apply(rv->GetDelta(rv->author(), s).value()).ok());
  }
  // Equivocation: M's replica is copied; each copy writes a different seq k.
  put(*m, 20, "m common");
  Copy(*m, *a);
  Copy(*m, *b);
  const std::string m_dir = m->dir();
  m.reset();
  std::filesystem::copy(m_dir, tmp.Sub("m2"), std::filesystem::copy_options::recursive);
  {
    // M forces its copy live under the same identity (a copy refuses to
    // write without this): the equivocation under test.
    RestoreOptions keep;
    keep.keep_identity = true;
    REQUIRE(Replica::Restore(tmp.Sub("m2"), keep).ok());
  }
  m = Open(m_dir, rk);
  auto m2 = Open(tmp.Sub("m2"), rk);
  CommitInfo branch1 = put(*m, 21, "branch one");
  CommitInfo branch2 = put(*m2, 21, "branch two");
  REQUIRE(branch1.last_seq == branch2.last_seq);
  const Bytes fork_delta = m2->GetDelta(m2->author(), branch2.last_seq).value();
  m2.reset();
  // What M withholds: a delta B also gets (B delivers it to A later).
  CommitInfo withheld = put(*m, 22, "withheld by m");
  const Bytes withheld_delta = m->GetDelta(m->author(), withheld.last_seq).value();

  const Hash32 digest_before = a->Digest().value();
  const std::string a_dir = a->dir();
  a.reset();
  const int port = FreePort();
  const std::string ep = "tcp://127.0.0.1:" + std::to_string(port);
  Daemon d(tmp.path(), a_dir, port);
  REQUIRE(WaitFor([&] { return ReadFile(d.log).find("listening") != std::string::npos || !d.Alive(); }, 20'000));
  REQUIRE_MESSAGE(d.Alive(), ReadFile(d.log));

  // B: the honest peer, live throughout.
  NodeOptions bo;
  bo.sync.max_message_bytes = 1 << 20;
  bo.sync.heartbeat_ms = 500;
  bo.sync.idle_timeout_ms = 5'000;
  bo.tick_ms = 20;
  auto nb = SyncNode::Create(*b, bo);
  REQUIRE(nb.ok());
  REQUIRE((*nb)->Connect(ep, ka).ok());
  REQUIRE((*nb)->Start().ok());
  uint8_t next_id = 100;
  // A short-lived handle of A's directory in this process (several
  // processes may open one replica); `fn` reads it.
  auto with_a = [&](const std::function<bool(const Replica&)>& fn) {
    ReplicaOptions o;
    o.schema = TestSchema();
    o.create_if_missing = false;
    o.durability = Durability::kNoSync;
    o.unencrypted_identity = true;
    auto view = Replica::Open(a_dir, o);
    return view.ok() && fn(**view);
  };
  // B writes; A must have it (read through with_a).
  auto honest_round = [&](const char* after) {
    const uint8_t id = next_id++;
    put(*b, id, std::string("honest after ") + after);
    bool ok = WaitFor([&] {
      d.Sample();
      return with_a([&](const Replica& va) { return va.Get("item", RecordId{{id}}).ok(); });
    }, 30'000);
    CHECK_MESSAGE(ok, "honest write did not reach hearthd after ", after);
    CHECK_MESSAGE(d.Alive(), "hearthd died after ", after, "\n", ReadFile(d.log));
  };
  honest_round("start");

  void* ctx = zmq_ctx_new();
  // ---- slow loris ---------------------------------------------------------
  {
    std::vector<int> fds;
    for (int i = 0; i < 64; ++i) {
      int s = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
        const char one = static_cast<char>(0xff);
        (void)!::write(s, &one, 1);
        fds.push_back(s);
      } else {
        ::close(s);
      }
    }
    CHECK(fds.size() == 64);
    honest_round("64 slow-loris connections opened");
    // A's handshake timeout (5 s) closes them: read() returns 0 or an error.
    auto end = Clock::now() + std::chrono::seconds(20);
    size_t closed = 0;
    for (int s : fds) {
      timeval tv{1, 0};
      ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buf[256];
      while (Clock::now() < end) {
        ssize_t n = ::read(s, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          ++closed;
          break;
        }
      }
      ::close(s);
    }
    MESSAGE("slow loris: ", closed, " of ", fds.size(), " connections closed by hearthd");
    CHECK(closed == fds.size());
  }
  // ---- one byte over the size limit, many parts -----------------------------
  {
    Client c(ctx, ep, Identity(*b), ka);  // any member key
    c.Watch(ctx);
    const size_t limit = (1u << 20) + 4096;  // max_message_bytes + NodeOptions::max_message_slack
    c.Send(std::string(limit + 1, 'x'));
    CHECK_MESSAGE(c.Disconnected(15'000), "hearthd kept the connection of a message over ZMQ_MAXMSGSIZE");
    Client many(ctx, ep, Identity(*b), ka);
    for (int i = 0; i < 9'999; ++i) many.Send("p", ZMQ_SNDMORE);
    many.Send("last");
    d.Sample();
    honest_round("an oversized and a 10,000-part message");
  }
  // ---- msgpack bombs over an authenticated session ---------------------------
  {
    Client c(ctx, ep, Identity(*m), ka);
    auto s = Handshake(c, *m);
    const uint8_t huge_array[] = {sync::kDeltas, 0x92, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff};
    const uint8_t huge_bin[] = {sync::kDeltas, 0x92, 0x01, 0x91, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x01};
    Bytes deep = {sync::kDeltas, 0x92, 0x01};
    deep.insert(deep.end(), 100'000, 0x91);
    c.Send(std::span<const uint8_t>(huge_array));
    c.Send(std::span<const uint8_t>(huge_bin));
    c.Send(deep);
    c.Send(std::string("\x13\xc1\xc1\xc1", 4));
    CHECK_MESSAGE(c.GetsError(10'000), "no ERROR after four malformed messages");
    d.Sample();
    honest_round("msgpack bombs");
  }
  // ---- revoked key, replay, equivocation -------------------------------------
  {
    // M's honest session delivers R's seq 3 (denied at A) and M's branch
    // one: driven until A holds R's seq 3 in R's feed.
    Client c(ctx, ep, Identity(*m), ka);
    auto s = Handshake(c, *m);
    auto last_look = Clock::now() - std::chrono::seconds(1);
    bool r3_held = false;
    c.Drive(*s, [&] {
      if (Clock::now() - last_look < std::chrono::milliseconds(200)) return false;
      last_look = Clock::now();
      d.Sample();
      r3_held = with_a([&](const Replica& va) { return va.GetDelta(rv->author(), 3).ok(); });
      return r3_held;
    }, 30'000);
    CHECK_MESSAGE(r3_held, "R's seq 3 (after its revocation) never reached hearthd through M");
  }
  {
    // Replay: deltas A already holds, sent again on a fresh session that has
    // sent no DELTAS yet (so mseq 1 is in order): duplicates, no effect, no
    // fault.
    Client c(ctx, ep, Identity(*m), ka);
    auto s = Handshake(c, *m);
    std::vector<Bytes> old;
    for (uint64_t q = 1; q <= 2; ++q) old.push_back(rv->GetDelta(rv->author(), q).value());
    old.push_back(m->GetDelta(m->author(), 1).value());
    c.Send(DeltasMessage(1, old));
    CHECK_FALSE_MESSAGE(c.GetsError(1'500), "a replay of held deltas was treated as a fault");
  }
  {
    // Equivocation: branch two of M's seq k, forwarded by P (a relay).
    Client c(ctx, ep, Identity(*relay), ka);
    auto s = Handshake(c, *relay);
    c.Send(DeltasMessage(1, {fork_delta}));
    // The connection stays open until A holds the fork proof.
    CHECK_MESSAGE(WaitFor([&] {
      d.Sample();
      return with_a([](const Replica& va) { return !inspect::Forks(va).value().empty(); });
    }, 30'000), "no fork proof at hearthd after M's second branch");
  }
  // ---- a withholding relay ---------------------------------------------------
  {
    Client c(ctx, ep, Identity(*m), ka);
    SyncOptions so;
    so.max_message_bytes = 1 << 20;
    so.heartbeat_ms = 500;
    so.idle_timeout_ms = 10'000;
    SyncSession s(*m, true, so);
    REQUIRE(s.Start(1'000'000).ok());
    // M claims its deltas (HEADS) and sends none of them.
    c.Drive(s, [&] { return s.stats().caught_up; }, 15'000, /*withhold_deltas=*/true);
    CHECK(s.stats().caught_up);
    honest_round("a relay that withholds");
    REQUIRE(b->Apply(withheld_delta).ok());  // B delivers what M withheld
  }
  zmq_ctx_term(ctx);
  honest_round("all attacks");

  // Verdicts, read from A's replica while hearthd still runs.
  {
    ReplicaOptions o;
    o.schema = TestSchema();
    o.create_if_missing = false;
    o.durability = Durability::kNoSync;
    o.unencrypted_identity = true;
    auto view = Replica::Open(a_dir, o);
    REQUIRE(view.ok());
    auto& va = **view;
    CHECK(WaitFor([&] { return va.Get("item", RecordId{{22}}).ok() || !inspect::Forks(va).value().empty(); }));
    // R's seq 3 arrived, is kept in R's feed, listed as denied, and was
    // never applied; seq 1 and 2 (before the revocation) are applied.
    CHECK(va.GetDelta(rv->author(), 3).ok());
    bool r3_denied = false;
    for (const DeniedDelta& dd : inspect::Denied(va).value()) r3_denied |= dd.author == rv->author() && dd.seq == 3;
    CHECK_MESSAGE(r3_denied, "R's seq 3 (written after its revocation) is not listed as denied");
    CHECK_FALSE(va.Get("item", RecordId{{12}}).ok());
    CHECK(va.Get("item", RecordId{{10}}).ok());
    CHECK(va.Get("item", RecordId{{11}}).ok());
    // The equivocation was caught: a fork proof for M.
    CHECK(WaitFor([&] { return !inspect::Forks(va).value().empty(); }, 10'000));
    CHECK(va.Digest().value() != digest_before);
    auto vr = inspect::Verify(va);
    REQUIRE_MESSAGE(vr.ok(), vr.status().ToString());  // Verify ran
    std::string problems;
    for (const std::string& p : vr->problems) problems += p + "\n";
    CHECK_MESSAGE(vr->ok(), "A's replica is not sound:\n", problems);  // and found nothing wrong
  }
  d.Sample();
  MESSAGE("hearthd peak RssAnon under attack: ", d.peak_anon >> 20, " MiB (bound ", kMemoryBound >> 20, " MiB)");
  CHECK(d.peak_anon < kMemoryBound);
  (*nb)->Stop();
  CHECK(d.Stop() == 0);
  const std::string log = ReadFile(d.log);
  for (std::string needle : {"refused", "malformed DELTAS"}) {
    CHECK_MESSAGE(log.find(needle) != std::string::npos, "hearthd log lacks: " << needle);
  }
}

}  // namespace
}  // namespace hearth
