// SyncSession between two replicas over a lossless pipe: handshake,
// transfer, live push, resumption, flow control, faults.
#include <random>

#include "hearth/inspect.hpp"
#include "feed/delta.hpp"
#include "sync/sync_support.hpp"
#include "sync/wire.hpp"

namespace hearth {
namespace {

using testing::DigestOf;
using testing::Pipe;
using testing::TempDir;

struct Two {
  TempDir tmp;
  std::unique_ptr<Replica> a, b;
  Two() {
    a = testing::OpenReplica(tmp.Sub("a"));
    b = testing::OpenReplica(tmp.Sub("b"));
    testing::SeedKeys(*a);
    testing::ShareKeys(*a, *b);
  }
  void Write(Replica& r, int n, const std::string& prefix = "t") {
    for (int i = 0; i < n; ++i) {
      auto c = r.Write([&](WriteBatch& w) {
        w.Set("item", RecordId::Generate(), "title", prefix + std::to_string(i));
        if (i % 3 == 0) w.Increment("other", RecordId::Generate(), "n", i);
      });
      REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    }
  }
};

TEST_CASE("two replicas converge over one session") {
  Two t;
  t.Write(*t.a, 40, "a");
  t.Write(*t.b, 25, "b");
  Pipe p(*t.a, *t.b);
  p.Run();
  CHECK(p.a_status.ok());
  CHECK(p.b_status.ok());
  CHECK(p.caught_up());
  CHECK(p.a->peer() == t.b->author());
  CHECK(p.b->peer() == t.a->author());
  CHECK(t.a->GetHeads().value() == t.b->GetHeads().value());
  CHECK(DigestOf(*t.a) == DigestOf(*t.b));
  CHECK(p.a->stats().deltas_sent > 0);
  CHECK(p.b->stats().deltas_applied == p.a->stats().deltas_sent);
  CHECK(inspect::CheckConsistency(*t.a).ok());
  CHECK(inspect::CheckConsistency(*t.b).ok());
}

TEST_CASE("in sync: a tiny handshake, then live push of new commits") {
  Two t;
  t.Write(*t.a, 10);
  testing::Sync(*t.a, *t.b);
  Pipe p(*t.a, *t.b);
  p.Run();
  CHECK(p.caught_up());
  CHECK(p.a->stats().deltas_sent == 0);
  CHECK(p.b->stats().deltas_sent == 0);
  CHECK(p.a->stats().handshake_bytes < 1024);
  MESSAGE("handshake bytes in sync: " << p.a->stats().handshake_bytes);
  // Live: a new commit is offered after NotifyNewDeltas.
  t.Write(*t.b, 3, "live");
  p.b->NotifyNewDeltas();
  p.Run();
  CHECK(p.a->stats().deltas_received == 4);  // the first batch touches two scopes
  CHECK(DigestOf(*t.a) == DigestOf(*t.b));
  CHECK(p.caught_up());
  // Heartbeats keep an idle session open; silence closes it.
  for (int i = 0; i < 20; ++i) {
    p.now += 4'000;
    p.Run();
  }
  CHECK_FALSE(p.a->done());
  CHECK_FALSE(p.b->done());
  p.now += 40'000;
  CHECK(p.a->OnTick(p.now).code() == Code::kUnavailable);
  CHECK(p.a->done());
}

TEST_CASE("flow control: small window and messages, bounds respected") {
  Two t;
  t.Write(*t.a, 200);
  SyncOptions small;
  small.window_bytes = 4096;
  small.max_message_bytes = 2048;
  Pipe p(*t.a, *t.b, small, small);
  p.Run();
  CHECK(p.caught_up());
  CHECK(DigestOf(*t.a) == DigestOf(*t.b));
  CHECK(p.a->stats().max_in_flight_bytes <= 4096);
  CHECK(p.a->stats().max_message_bytes <= 2048);
  CHECK(p.a->stats().messages_out > 20);
}

TEST_CASE("resumable: a new session sends only what the receiver still lacks") {
  Two t;
  t.Write(*t.a, 100);
  SyncOptions small;
  small.window_bytes = 2048;
  small.max_message_bytes = 1024;
  uint64_t first_sent = 0;
  {
    Pipe p(*t.a, *t.b, small, small);
    int deltas_msgs = 0;
    // Cut the connection after 10 DELTAS messages.
    p.Run(100000, [&](bool, Bytes& m) {
      if (m[0] == sync::kDeltas && ++deltas_msgs > 10) return false;
      return true;
    });
    first_sent = p.b->stats().deltas_applied;
  }
  uint64_t total = 0;
  for (const auto& [a, h] : t.a->GetHeads().value()) total += h.seq;
  REQUIRE(first_sent > 0);
  REQUIRE(first_sent < total);
  Pipe q(*t.a, *t.b, small, small);
  q.Run();
  CHECK(q.caught_up());
  CHECK(q.a->stats().deltas_sent == total - first_sent);
  CHECK(q.b->stats().deltas_received == total - first_sent);
  CHECK(DigestOf(*t.a) == DigestOf(*t.b));
}

TEST_CASE("lag: the handshake counts what each side lacks; it goes to 0 after the catch-up") {
  Two t;
  t.Write(*t.a, 12, "a");
  t.Write(*t.b, 7, "b");
  auto total = [](Replica& r) {
    uint64_t n = 0;
    for (const auto& [a, h] : r.GetHeads().value()) n += h.seq;
    return n;
  };
  const uint64_t na = total(*t.a), nb = total(*t.b);
  {
    // Every DELTAS message is lost: after the handshake each side still
    // counts all it sent (never credited) and all it lacks.
    Pipe p(*t.a, *t.b);
    CHECK_FALSE(p.a->stats().lag_known);
    p.Run(100000, [](bool, Bytes& m) { return m[0] != sync::kDeltas; });
    REQUIRE(p.a->stats().lag_known);
    REQUIRE(p.b->stats().lag_known);
    CHECK(p.a->stats().deltas_sent == na);
    CHECK(p.a->stats().behind_out == na);
    CHECK(p.a->stats().behind_in == nb);
    CHECK(p.b->stats().behind_out == nb);
    CHECK(p.b->stats().behind_in == na);
    CHECK_FALSE(p.caught_up());
  }
  Pipe q(*t.a, *t.b);
  q.Run();
  REQUIRE(q.caught_up());
  for (auto* s : {q.a.get(), q.b.get()}) {
    CHECK(s->stats().lag_known);
    CHECK(s->stats().behind_out == 0);
    CHECK(s->stats().behind_in == 0);
  }
  CHECK(q.a->stats().deltas_received == nb);
  // In sync: the next session's handshake finds nothing to count.
  Pipe r(*t.a, *t.b);
  r.Run();
  CHECK((r.a->stats().lag_known && r.a->stats().behind_out == 0 && r.a->stats().behind_in == 0));
}

TEST_CASE("a lost DELTAS message is detected and ends the session") {
  Two t;
  t.Write(*t.a, 50);
  SyncOptions small;
  small.max_message_bytes = 1024;
  Pipe p(*t.a, *t.b, small, small);
  int n = 0;
  p.Run(100000, [&](bool, Bytes& m) { return !(m[0] == sync::kDeltas && ++n == 2); });
  CHECK(p.b->done());
  CHECK(p.b->status().code() == Code::kUnavailable);
  CHECK(p.a->done());
}

TEST_CASE("bad deltas count as faults; past max_faults the session ends with ERROR") {
  Two t;
  t.Write(*t.a, 20);
  SyncOptions small;
  small.max_message_bytes = 1024;
  Pipe p(*t.a, *t.b, small, small);
  // Flip a byte inside every delta (its signature no longer verifies).
  p.Run(100000, [&](bool ab, Bytes& m) {
    if (ab && m[0] == sync::kDeltas && m.size() > 200) m[m.size() - 10] ^= 0x55;
    return true;
  });
  CHECK(p.b->done());
  CHECK(p.b->stats().faults == 4);
  CHECK(p.b->stats().deltas_rejected >= 4);
  CHECK_FALSE(p.b->status().ok());
  CHECK(p.a->done());  // got the ERROR
  CHECK_FALSE(p.a->status().ok());
}

TEST_CASE("an impostor cannot complete the handshake") {
  Two t;
  Pipe p(*t.a, *t.b);
  // Replace the responder's author id in its HELLO by another key.
  auto other = crypto::SigningKeyPair::Generate();
  p.Run(100000, [&](bool ab, Bytes& m) {
    if (!ab && m[0] == sync::kHello) {
      // HELLO: type, array(8), uint version, bin8 32 author...
      std::copy(other.public_key.bytes.begin(), other.public_key.bytes.end(), m.begin() + 5);
    }
    return true;
  });
  CHECK(p.a->done());
  CHECK(p.a->status().code() == Code::kUnauthenticated);
  CHECK(p.a->peer() == AuthorId{});
}

TEST_CASE("malformed, oversized and random messages never crash; they are faults") {
  Two t;
  t.Write(*t.a, 5);
  std::mt19937_64 rng(testing::BaseSeed());
  for (int round = 0; round < 300; ++round) {
    Pipe p(*t.a, *t.b);
    p.Run();  // handshake done, in sync
    REQUIRE(p.caught_up());
    Bytes junk(rng() % 64);
    for (auto& x : junk) x = static_cast<uint8_t>(rng());
    if (!junk.empty()) junk[0] = static_cast<uint8_t>(0x11 + rng() % 9);
    Status s = p.b->OnMessage(junk, p.now);
    // Either tolerated (a fault) or the end of the session; never a crash.
    CHECK(p.b->stats().faults + (p.b->done() ? 1 : 0) >= (junk.empty() ? 1u : 0u));
    (void)s;
  }
  Pipe p(*t.a, *t.b);
  p.Run();
  Bytes big(uint64_t{4} << 20 | 1, 0x13);
  CHECK(p.b->OnMessage(big, p.now).ok());
  CHECK(p.b->stats().faults == 1);
  // Truncations of a valid DELTAS message.
  t.Write(*t.a, 1);
  p.a->NotifyNewDeltas();
  REQUIRE(p.a->OnTick(p.now).ok());
  auto out = p.a->TakeOutgoing();
  REQUIRE(!out.empty());
  REQUIRE(out[0][0] == sync::kDeltas);
  for (size_t cut = 1; cut < out[0].size() && !p.b->done(); cut += 7) {
    (void)p.b->OnMessage(std::span(out[0]).first(cut), p.now);
  }
  CHECK(p.b->done());  // past max_faults
}

TEST_CASE("wire: readers refuse lengths beyond the input") {
  // array claiming 2^32-1 items in 5 bytes
  const uint8_t arr[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
  sync::Reader r(arr);
  CHECK(r.Array(UINT32_MAX).status().code() == Code::kCorruption);
  const uint8_t bin[] = {0xc6, 0x7f, 0xff, 0xff, 0xff, 1, 2};
  sync::Reader r2(bin);
  CHECK(r2.Bin(UINT64_MAX).status().code() == Code::kCorruption);
}

}  // namespace
}  // namespace hearth
