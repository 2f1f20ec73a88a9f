// Clock skew (docs/crdt.md, "Clock skew"): replicas whose clocks are days
// apart converge whatever the delivery order; a write stamped far in the
// future wins concurrent writes but never freezes a field (a write made after
// receiving it wins, also when its key arrives later); stamps beyond
// 9999-12-31 are refused by every replica whatever its own clock; and a real
// process running under faketime days ahead merges with one on the real clock.
#include <doctest/doctest.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "codec/codec.hpp"
#include "crdt/hlc.hpp"
#include "crypto/crypto.hpp"
#include "faults/faults_support.hpp"
#include "feed/delta.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "store/store_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using testing::FakeClock;
using testing::TempDir;

constexpr uint64_t kDay = 24ull * 3600 * 1000;
constexpr uint64_t kNow = 1'780'000'000'000ull;      // 2026-05-28
constexpr uint64_t kYear2200 = 7'258'118'400'000ull;  // 2200-01-01T00:00:00Z

RecordId Rid(uint8_t i) {
  RecordId id;
  id.bytes[0] = 0xc1;
  id.bytes[15] = i;
  return id;
}

std::string Title(const Replica& r, uint8_t i) {
  auto rec = r.Get("item", Rid(i));
  REQUIRE_MESSAGE(rec.ok(), rec.status().ToString());
  const FieldValue* f = rec->Find("title");
  REQUIRE(f != nullptr);
  return f->value.as_string();
}

uint64_t TitleHlc(const Replica& r, uint8_t i) {
  auto rec = r.Get("item", Rid(i));
  REQUIRE(rec.ok());
  return rec->Find("title")->hlc;
}

Hash32 DigestOf(const Replica& r) {
  auto d = r.Digest();
  REQUIRE_MESSAGE(d.ok(), d.status().ToString());
  CHECK(inspect::CheckConsistency(r).ok());
  return *d;
}

void SyncBoth(Replica& a, Replica& b) {
  testing::Sync(a, b);
  testing::Sync(b, a);
}

void RandomWrite(Replica& r, std::mt19937_64& rng, int round) {
  auto c = r.Write([&](WriteBatch& b) {
    const int ops = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < ops; ++k) {
      const RecordId id = Rid(static_cast<uint8_t>(rng() % 3));
      switch (rng() % 7) {
        case 0: b.Set("item", id, "title", "r" + std::to_string(round) + "-" + std::to_string(rng() % 100)); break;
        case 1: b.Set("item", id, "owner", "o" + std::to_string(rng() % 5)); break;
        case 2: b.Add("item", id, "tags", "t" + std::to_string(rng() % 4)); break;
        case 3: b.Remove("item", id, "tags", "t" + std::to_string(rng() % 4)); break;
        case 4: b.Increment("item", id, "count", static_cast<int64_t>(rng() % 9) - 4); break;
        case 5: b.Advance("item", id, "stage", rng() % 2 ? "open" : "done"); break;
        case 6: b.Append("item", id, "notes", "n" + std::to_string(round)); break;
      }
    }
    b.Increment("other", Rid(50), "n", 1);
  });
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
}

TEST_CASE("clock skew: replicas days apart converge whatever the delivery order") {
  const uint64_t seed = testing::BaseSeed();
  std::mt19937_64 rng(seed ^ 0x736b6577ull);
  TempDir tmp;
  // Clocks: now, a week ahead, three days behind; each drifts on its own.
  FakeClock c0(kNow), c1(kNow + 7 * kDay), c2(kNow - 3 * kDay);
  auto r0 = testing::OpenReplica(tmp.Sub("r0"), &c0);
  auto r1 = testing::OpenReplica(tmp.Sub("r1"), &c1);
  auto r2 = testing::OpenReplica(tmp.Sub("r2"), &c2);
  REQUIRE(r0->Write([](WriteBatch& b) { b.Set("item", Rid(0), "title", "seed").Set("other", Rid(50), "name", "x"); }).ok());
  testing::ShareKeys(*r0, *r1);
  testing::ShareKeys(*r0, *r2);
  Replica* rs[3] = {r0.get(), r1.get(), r2.get()};
  FakeClock* cs[3] = {&c0, &c1, &c2};

  const int rounds = 30;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < 3; ++i) {
      cs[i]->Advance(rng() % 5000);
      if (rng() % 3 != 0) RandomWrite(*rs[i], rng, round);
    }
    // Now and then two of them meet, in either direction.
    if (rng() % 4 == 0) {
      const int a = static_cast<int>(rng() % 3), b = (a + 1 + static_cast<int>(rng() % 2)) % 3;
      testing::Sync(*rs[a], *rs[b]);
    }
  }

  // Every delta of every author, then delivered to fresh replicas in
  // different orders: feed order, a random shuffle (gaps wait as pending),
  // and reversed in one ApplyBatch.
  std::vector<Bytes> all;
  {
    Heads none;
    for (Replica* r : rs) {
      for (const auto& [author, head] : r->GetHeads().value()) {
        if (author != r->author()) continue;
        for (uint64_t s = 1; s <= head.seq; ++s) {
          auto d = r->GetDelta(author, s);
          REQUIRE(d.ok());
          all.push_back(*d);
        }
      }
    }
  }
  auto keyring = r0->ExportKeyring();
  REQUIRE(keyring.ok());
  std::vector<std::unique_ptr<Replica>> obs;
  FakeClock oc(kNow - 30 * kDay);  // the observers' own clocks do not matter
  for (int k = 0; k < 3; ++k) {
    obs.push_back(testing::OpenReplica(tmp.Sub("obs" + std::to_string(k)), &oc));
    REQUIRE(obs.back()->ImportKeyring(*keyring).ok());
  }
  for (const Bytes& d : all) REQUIRE(obs[0]->Apply(d).ok());
  std::vector<Bytes> shuffled = all;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (const Bytes& d : shuffled) REQUIRE(obs[1]->Apply(d).ok());
  std::vector<Bytes> reversed(all.rbegin(), all.rend());
  REQUIRE(obs[2]->ApplyBatch(reversed).ok());
  // And the writers themselves, by pairwise syncs in a fixed ring.
  SyncBoth(*r0, *r1);
  SyncBoth(*r1, *r2);
  SyncBoth(*r0, *r1);

  const Hash32 d0 = DigestOf(*r0);
  CHECK(DigestOf(*r1) == d0);
  CHECK(DigestOf(*r2) == d0);
  for (auto& o : obs) {
    CHECK(inspect::Stats(*o).value().pending == 0);
    CHECK(DigestOf(*o) == d0);
  }
  // The replica three days behind issued stamps ahead of its own clock
  // after hearing from the one a week ahead (HLC observe), so its writes
  // after that meeting still order after what it had seen.
  MESSAGE("clock skew: " << all.size() << " deltas from 3 authors (clocks -3 d, 0, +7 d) converge in 5 orders");
}

TEST_CASE("clock skew: a write stamped in year 2200 wins concurrent writes but never freezes the field") {
  TempDir tmp;
  FakeClock ca(kNow), cb(kNow + 2 * kDay), cf(kYear2200), cc(kNow);
  auto a = testing::OpenReplica(tmp.Sub("a"), &ca);
  auto b = testing::OpenReplica(tmp.Sub("b"), &cb);
  auto f = testing::OpenReplica(tmp.Sub("f"), &cf);
  auto c = testing::OpenReplica(tmp.Sub("c"), &cc, {}, /*keys=*/false);  // receives F's write before its key
  REQUIRE(a->Write([](WriteBatch& w) { w.Set("item", Rid(1), "title", "a0"); }).ok());
  testing::ShareKeys(*a, *b);
  testing::ShareKeys(*a, *f);
  testing::Sync(*a, *b);
  testing::Sync(*a, *f);

  // Concurrent writes; F's clock says 2200.
  REQUIRE(a->Write([](WriteBatch& w) { w.Set("item", Rid(1), "title", "a1"); }).ok());
  REQUIRE(b->Write([](WriteBatch& w) { w.Set("item", Rid(1), "title", "b1"); }).ok());
  REQUIRE(f->Write([](WriteBatch& w) { w.Set("item", Rid(1), "title", "future"); }).ok());
  const uint64_t future_hlc = TitleHlc(*f, 1);
  CHECK(crdt::HlcPhysicalMs(future_hlc) == kYear2200);
  SyncBoth(*a, *f);
  SyncBoth(*b, *f);
  SyncBoth(*a, *b);
  // Deterministic rule: the greatest (HLC, author) wins, so the stamp from
  // 2200 beats writes made without seeing it, on every replica.
  CHECK(Title(*a, 1) == "future");
  CHECK(Title(*b, 1) == "future");
  CHECK(DigestOf(*a) == DigestOf(*f));

  // A write made after receiving it wins: the receiver's clock observed the
  // 2200 stamp, so its next stamp is later (same millisecond, next counter).
  REQUIRE(a->Write([](WriteBatch& w) { w.Set("item", Rid(1), "title", "a2 after seeing it"); }).ok());
  CHECK(Title(*a, 1) == "a2 after seeing it");
  CHECK(TitleHlc(*a, 1) > future_hlc);
  CHECK(crdt::HlcPhysicalMs(TitleHlc(*a, 1)) == kYear2200);  // A now stamps in 2200 too
  SyncBoth(*a, *b);
  SyncBoth(*a, *f);
  CHECK(Title(*b, 1) == "a2 after seeing it");
  CHECK(Title(*f, 1) == "a2 after seeing it");
  // And B, having seen both, can overwrite again.
  REQUIRE(b->Write([](WriteBatch& w) { w.Set("item", Rid(1), "title", "b2"); }).ok());
  SyncBoth(*a, *b);
  SyncBoth(*a, *f);
  CHECK(Title(*a, 1) == "b2");
  CHECK(DigestOf(*a) == DigestOf(*b));
  CHECK(DigestOf(*a) == DigestOf(*f));

  // The same when the future write arrives before its key: C stores it
  // unreadable, its clock still observes the stamp, and a write made after
  // the key arrives wins (before the fix C's clock stayed in 2026 and C's
  // write lost to the one it had already applied).
  auto fd = f->DeltasSince({});
  REQUIRE(fd.ok());
  for (const Bytes& d : *fd) REQUIRE(c->Apply(d).ok());
  testing::ShareKeys(*a, *c);
  CHECK(Title(*c, 1) == "b2");
  REQUIRE(c->Write([](WriteBatch& w) { w.Set("item", Rid(1), "title", "c after key"); }).ok());
  CHECK(Title(*c, 1) == "c after key");
  SyncBoth(*a, *c);
  CHECK(Title(*a, 1) == "c after key");
  CHECK(DigestOf(*a) == DigestOf(*c));
}

// A delta signed by a fresh author, stamped `hlc`, one lww op on item/title.
Bytes Forge(const crypto::SigningKeyPair& kp, const crypto::SecretBytes& key, uint64_t seq,
            const crypto::Hash& prev, uint64_t hlc, const std::string& title) {
  crdt::Op op;
  op.field = "title";
  op.kind = crdt::OpKind::kLwwSet;
  op.hlc = hlc;
  op.value = Value(title);
  Bytes payload = codec::EncodePayload({crdt::RecordOps{"item", Rid(7), {op}}});
  feed::DeltaHeader h;
  h.author = kp.public_key;
  h.seq = seq;
  h.prev = prev;
  h.scope = "test.a";
  h.epoch = 1;
  h.hlc_min = h.hlc_max = hlc;
  h.op_count = 1;
  auto d = feed::SealDelta(h, payload, key, kp);
  REQUIRE_MESSAGE(d.ok(), d.status().ToString());
  return *d;
}

TEST_CASE("clock skew: stamps beyond 9999-12-31 are refused by every replica, whatever its clock") {
  TempDir tmp;
  auto kp = crypto::SigningKeyPair::Generate();
  crypto::SecretBytes key = crypto::RandomAeadKey();
  const crypto::Hash zero{};
  const uint64_t beyond = crdt::MakeHlc(crdt::kHlcMaxPhysicalMs + 1, 0);
  const Bytes too_late = Forge(kp, key, 1, zero, beyond, "too late");
  const Bytes overflow = Forge(kp, key, 1, zero, UINT64_MAX, "overflow");
  const Bytes at_end = Forge(kp, key, 1, zero, crdt::MakeHlc(crdt::kHlcMaxPhysicalMs, 0), "last millisecond");

  FakeClock clocks[3] = {FakeClock(kNow), FakeClock(kYear2200), FakeClock(crdt::kHlcMaxPhysicalMs)};
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    auto r = testing::OpenReplica(tmp.Sub("r" + std::to_string(i)), &clocks[i], {}, /*keys=*/false);
    REQUIRE(r->AddScopeKey("test.a", 1, key.span()).ok());
    for (const Bytes* d : {&too_late, &overflow}) {
      auto res = r->Apply(*d);
      REQUIRE(!res.ok());
      CHECK(res.status().code() == Code::kInvalidArgument);
      CHECK(res.status().message().find("beyond 9999-12-31") != std::string::npos);
      std::vector<Bytes> batch{*d};
      CHECK(r->ApplyBatch(batch).error.code() == Code::kInvalidArgument);
    }
    CHECK(r->GetHeads().value().empty());
    // The receiver's clock was not moved: its next stamp follows its own clock.
    REQUIRE(r->Write([](WriteBatch& w) { w.Set("item", Rid(8), "title", "mine"); }).ok());
    auto rec = r->Get("item", Rid(8));
    REQUIRE(rec.ok());
    CHECK(crdt::HlcPhysicalMs(rec->Find("title")->hlc) == clocks[i].Now());
    // The last valid millisecond is accepted, and a later local write still
    // wins (the counter has 65,535 steps left in that millisecond).
    auto ok = r->Apply(at_end);
    REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
    CHECK(ok->outcome == ApplyOutcome::kApplied);
    CHECK(Title(*r, 7) == "last millisecond");
    REQUIRE(r->Write([](WriteBatch& w) { w.Set("item", Rid(7), "title", "after the end"); }).ok());
    CHECK(Title(*r, 7) == "after the end");
  }
  // A local clock past the end of time cannot issue stamps.
  FakeClock broken(crdt::kHlcMaxPhysicalMs + 1000);
  auto r = testing::OpenReplica(tmp.Sub("broken"), &broken);
  auto c = r->Write([](WriteBatch& w) { w.Set("item", Rid(9), "title", "x"); });
  REQUIRE(!c.ok());
  CHECK(c.status().code() == Code::kFailedPrecondition);
  CHECK(r->GetHeads().value().empty());
}

// ---------------------------------------------------------------- faketime

// Child side: runs only when re-executed by the test below (possibly under
// faketime). Opens the replica at $HEARTH_SKEW_DIR with the system clock,
// writes the title and prints what its clock said.
TEST_CASE("clock skew: faketime child (runs only when re-executed)") {
  const char* dir = std::getenv("HEARTH_SKEW_DIR");
  if (dir == nullptr) return;
  ReplicaOptions o;
  o.schema = testing::TestSchema();
  o.unencrypted_identity = true;
  auto r = Replica::Open(dir, o);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  if (const char* kr = std::getenv("HEARTH_SKEW_KEYRING")) {
    auto bytes = testing::FromHex(kr);
    REQUIRE((*r)->ImportKeyring(bytes).ok());
  }
  const std::string title = std::getenv("HEARTH_SKEW_TITLE") ? std::getenv("HEARTH_SKEW_TITLE") : "child";
  REQUIRE((*r)->Write([&](WriteBatch& w) { w.Set("item", Rid(3), "title", title); }).ok());
  const uint64_t wall = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::printf("SKEW_WALL_MS %" PRIu64 "\nSKEW_HLC %" PRIu64 "\n", wall, TitleHlc(**r, 3));
}

TEST_CASE("clock skew: a process under faketime 10 days ahead merges with one on the real clock") {
  if (!testing::HaveProgram("faketime")) {
    MESSAGE("SKIPPED: the faketime program is not installed (Debian package faketime)");
    return;
  }
  TempDir tmp;
  const std::string exe = testing::SelfExe();
  const std::string here = tmp.Sub("here"), ahead = tmp.Sub("ahead");
  // The replica on the real clock writes first and owns the scope keys.
  ReplicaOptions o;
  o.schema = testing::TestSchema();
  o.unencrypted_identity = true;
  std::string keyring_hex;
  {
    auto r = Replica::Open(here, o);
    REQUIRE(r.ok());
    REQUIRE((*r)->CreateScopeKey("test.a").ok());
    REQUIRE((*r)->Write([](WriteBatch& w) { w.Set("item", Rid(3), "title", "real clock"); }).ok());
    keyring_hex = testing::ToHex(*(*r)->ExportKeyring());
  }
  const auto real_now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  auto run = testing::RunChild(
      {"faketime", "-f", "+10d", exe, "-tc=clock skew: faketime child*"},
      {"HEARTH_SKEW_DIR=" + ahead, "HEARTH_SKEW_KEYRING=" + keyring_hex, "HEARTH_SKEW_TITLE=ten days ahead",
       // Under ASan, faketime's LD_PRELOAD library comes before the ASan
       // runtime; tell ASan that is fine (no effect in other builds).
       std::string("ASAN_OPTIONS=") + (std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "") +
           ":verify_asan_link_order=0"},
      tmp.Sub("child.out"));
  INFO("child output:\n", run.output);
  REQUIRE(run.exited_ok());
  const uint64_t child_wall = std::strtoull(testing::ChildValue(run.output, "SKEW_WALL_MS").c_str(), nullptr, 10);
  const uint64_t child_hlc = std::strtoull(testing::ChildValue(run.output, "SKEW_HLC").c_str(), nullptr, 10);
  REQUIRE(child_wall > 0);
  // faketime really moved the child's clock (and its HLC) ~10 days ahead.
  const int64_t ahead_ms = static_cast<int64_t>(child_wall) - real_now;
  CHECK(ahead_ms > static_cast<int64_t>(9 * kDay));
  CHECK(ahead_ms < static_cast<int64_t>(11 * kDay));
  CHECK(crdt::HlcPhysicalMs(child_hlc) + 60'000 > child_wall);

  // Merge both ways in this (real-clock) process.
  auto rh = Replica::Open(here, o);
  auto ra = Replica::Open(ahead, o);
  REQUIRE(rh.ok());
  REQUIRE(ra.ok());
  SyncBoth(**rh, **ra);
  CHECK(Title(**rh, 3) == "ten days ahead");  // the later stamp wins the concurrent write
  CHECK(DigestOf(**rh) == DigestOf(**ra));
  // The real-clock replica, having merged, overwrites it (its HLC advanced).
  REQUIRE((*rh)->Write([](WriteBatch& w) { w.Set("item", Rid(3), "title", "real clock again"); }).ok());
  SyncBoth(**rh, **ra);
  CHECK(Title(**ra, 3) == "real clock again");
  CHECK(DigestOf(**rh) == DigestOf(**ra));
  MESSAGE("clock skew: faketime child was " << ahead_ms / 3'600'000 << " h ahead; merged, converged, overwritten");
}

}  // namespace
}  // namespace hearth
