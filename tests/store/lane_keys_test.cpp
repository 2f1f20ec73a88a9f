// Storage format 2 key layouts (docs/storage-format.md, "Tables" and
// "Lanes"): exact bytes of lane ids and keys, their order, and the keys a
// replica actually writes; verify's check of a delta's lane.
#include <doctest/doctest.h>

#include <string>

#include "base/bytes.hpp"
#include "hearth/inspect.hpp"
#include "store/keys.hpp"
#include "store/replica_impl.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using store::AsBytes;
using store::ByteView;
using testing::TempDir;

std::string Hex(std::string_view s) { return base::ToHex(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
std::string Hex(const store::LaneId& l) { return base::ToHex(l.data(), l.size()); }

AuthorId Filled(uint8_t b) {
  AuthorId a;
  a.bytes.fill(b);
  return a;
}

constexpr const char* kChildCare = "child_care/\xe5\x9f\x8e\xe5\x8e\xa2\xe9\x95\x87";  // child_care/城厢镇

TEST_CASE("lane ids: the first 8 bytes of BLAKE2b-256(scope); the legacy lane is zeros") {
  CHECK(Hex(store::LaneIdOf(kChildCare)) == "a46982be9be2b965");
  CHECK(Hex(store::LaneIdOf("hr.workers/\xe5\xa7\x8b\xe9\x98\xb3\xe9\x95\x87")) == "691b499780458f18");
  CHECK(Hex(store::LaneIdOf("")) == "0e5751c026e543b2");
  CHECK(Hex(store::kLegacyLane) == "0000000000000000");
  CHECK(store::LaneIdOf("") != store::kLegacyLane);
  // Versions 1 to 4 are in the legacy lane whatever their scope; 5/6 by scope.
  for (uint8_t v = 1; v <= 4; ++v) CHECK(store::LaneOf(v, kChildCare) == store::kLegacyLane);
  CHECK(store::LaneOf(5, kChildCare) == store::LaneIdOf(kChildCare));
  CHECK(store::LaneOf(6, "test.a") == store::LaneIdOf("test.a"));
}

TEST_CASE("lane keys: exact bytes of feed, lane and history keys") {
  const AuthorId a = Filled(0x11);
  const std::string a_hex(64, '1');
  const std::string fk = store::FeedKey(a, store::kLegacyLane, 0x0102030405060708ull);
  CHECK(fk.size() == store::kFeedKeySize);
  CHECK(Hex(fk) == a_hex + "0000000000000000" + "0102030405060708");
  CHECK(Hex(store::FeedKey(a, store::LaneIdOf(kChildCare), 1)) == a_hex + "a46982be9be2b965" + "0000000000000001");
  const std::string lk = store::LaneKey(a, store::LaneIdOf(kChildCare));
  CHECK(lk.size() == store::kLaneKeySize);
  CHECK(Hex(lk) == a_hex + "a46982be9be2b965");

  RecordId id;
  for (uint8_t i = 0; i < 16; ++i) id.bytes[i] = i;
  CHECK(Hex(store::HistoryKey("item", id, a, store::kLegacyLane, 7)) ==
        "6974656d00" "000102030405060708090a0b0c0d0e0f" + a_hex + "0000000000000000" + "0000000000000007");

  // Read back.
  auto pos = store::ParseFeedKey(AsBytes(store::FeedKey(a, store::LaneIdOf("test.b"), 42)));
  REQUIRE(pos);
  CHECK(pos->author == a);
  CHECK(pos->lane == store::LaneIdOf("test.b"));
  CHECK(pos->seq == 42);
  CHECK_FALSE(store::ParseFeedKey(AsBytes(fk.substr(0, 40))));  // a format-1 key
  CHECK_FALSE(store::ParseFeedKey(AsBytes(fk + "x")));
  auto lp = store::ParseLaneKey(AsBytes(lk));
  REQUIRE(lp);
  CHECK(lp->author == a);
  CHECK(lp->lane == store::LaneIdOf(kChildCare));
  CHECK_FALSE(store::ParseLaneKey(AsBytes(lk.substr(0, 32))));

  // Order: by author, then lane (legacy first), then seq numerically.
  CHECK(store::FeedKey(a, store::kLegacyLane, 300) < store::FeedKey(a, store::LaneIdOf("test.a"), 1));
  CHECK(store::FeedKey(a, store::kLegacyLane, 2) < store::FeedKey(a, store::kLegacyLane, 256));
  CHECK(store::FeedKey(a, store::LaneIdOf("test.a"), UINT64_MAX) < store::FeedKey(Filled(0x12), store::kLegacyLane, 1));
}

TEST_CASE("lane keys: a replica writes format 2 keys in the legacy lane") {
  TempDir tmp;
  auto r = testing::OpenReplica(tmp.Sub("r"));
  RecordId id;
  id.bytes[15] = 9;
  REQUIRE(r->Write([&](WriteBatch& b) { b.Set("item", id, "title", "x"); }).ok());
  REQUIRE(r->Write([&](WriteBatch& b) { b.Set("item", id, "title", "y"); }).ok());
  const ReplicaImpl& m = ReplicaAccess::Of(*r);
  const AuthorId me = r->author();
  auto checked = m.WithRead([&](const store::Txn& t) -> Result<bool> {
    auto fmt = t.Get(m.meta, AsBytes("format"));
    REQUIRE(fmt.ok());
    REQUIRE(fmt->has_value());
    CHECK(store::ReadU32((*fmt)->data()) == 2);
    for (uint64_t seq : {1, 2}) {
      auto d = t.Get(m.feeds, AsBytes(store::FeedKey(me, store::kLegacyLane, seq)));
      REQUIRE(d.ok());
      CHECK(d->has_value());
    }
    CHECK(t.Entries(m.feeds).value() == 2);
    auto head = t.Get(m.heads, AsBytes(store::LaneKey(me, store::kLegacyLane)));
    REQUIRE(head.ok());
    REQUIRE(head->has_value());
    CHECK(store::ReadU64((*head)->data()) == 2);
    CHECK(t.Entries(m.heads).value() == 1);
    store::Cursor c(t, m.history);
    size_t n = 0;
    for (bool ok = c.First(); ok; ok = c.Next(), ++n) {
      ByteView k = c.key();
      const std::string want_prefix = store::StateKey("item", id);
      REQUIRE(k.size() == want_prefix.size() + store::kFeedKeySize);
      auto pos = store::ParseFeedKey(k.subspan(want_prefix.size()));
      REQUIRE(pos);
      CHECK(pos->author == me);
      CHECK(pos->lane == store::kLegacyLane);
      CHECK(pos->seq == n + 1);
    }
    CHECK(n == 2);
    return true;
  });
  REQUIRE(checked.ok());
  CHECK(inspect::Stats(*r).value().format_version == 2);
}

TEST_CASE("verify: a version 1-4 delta outside its legacy lane is reported") {
  TempDir tmp;
  auto r = testing::OpenReplica(tmp.Sub("r"));
  RecordId id;
  id.bytes[15] = 3;
  REQUIRE(r->Write([&](WriteBatch& b) { b.Set("item", id, "title", "x"); }).ok());
  REQUIRE(inspect::CheckConsistency(*r).ok());
  ReplicaImpl& m = ReplicaAccess::Of(*r);
  const AuthorId me = r->author();
  // Move seq 1 (and its head) to the lane of its scope, as if a version 5
  // delta: the chain is intact, the lane is wrong for a version 3/4 delta.
  auto moved = m.WithWrite<bool>([&](store::Txn& t) -> Result<bool> {
    const std::string from = store::FeedKey(me, store::kLegacyLane, 1);
    auto d = t.Get(m.feeds, AsBytes(from));
    REQUIRE(d.ok());
    REQUIRE(d->has_value());
    const std::string bytes((*d)->begin(), (*d)->end());
    const store::LaneId lane = store::LaneIdOf("test.a");
    HEARTH_RETURN_IF_ERROR(t.Del(m.feeds, AsBytes(from)));
    HEARTH_RETURN_IF_ERROR(t.Put(m.feeds, AsBytes(store::FeedKey(me, lane, 1)), AsBytes(bytes)));
    auto h = t.Get(m.heads, AsBytes(store::LaneKey(me, store::kLegacyLane)));
    REQUIRE(h.ok());
    const std::string head((*h)->begin(), (*h)->end());
    HEARTH_RETURN_IF_ERROR(t.Del(m.heads, AsBytes(store::LaneKey(me, store::kLegacyLane))));
    HEARTH_RETURN_IF_ERROR(t.Put(m.heads, AsBytes(store::LaneKey(me, lane)), AsBytes(head)));
    return true;
  });
  REQUIRE(moved.ok());
  Status s = inspect::CheckConsistency(*r);
  CHECK(s.code() == Code::kCorruption);
  CHECK_MESSAGE(s.message().find("feeds: delta") != std::string::npos, s.ToString());
  CHECK_MESSAGE(s.message().find("stored under key") != std::string::npos, s.ToString());
  auto rep = inspect::Verify(*r);
  REQUIRE(rep.ok());
  CHECK_FALSE(rep->ok());
  // GetHeads covers legacy lanes only: the moved head is not in it, and
  // GetLaneHeads lists it under the lane of test.a.
  auto heads = r->GetHeads();
  REQUIRE(heads.ok());
  CHECK(heads->empty());
  auto lanes = r->GetLaneHeads();
  REQUIRE(lanes.ok());
  REQUIRE(lanes->size() == 1);
  CHECK((*lanes)[0].lane == store::LaneIdOf("test.a"));
  CHECK((*lanes)[0].scope == "test.a");
  CHECK((*lanes)[0].head.seq == 1);
}

}  // namespace
}  // namespace hearth
