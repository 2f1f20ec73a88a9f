// The change feed (Replica::Changes, Watch), conflicts and record history
// (include/hearth/changes.hpp, issue #16 items 1-3).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "hearth/inspect.hpp"
#include "store/change_codec.hpp"
#include "store/lmdb.hpp"
#include "store/replica_impl.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using testing::FakeClock;
using testing::OpenReplica;
using testing::ShareKeys;
using testing::Sync;
using testing::TempDir;

std::vector<Change> AllChanges(const Replica& r) {
  auto c = r.Changes(0);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return *c;
}

TEST_CASE("changes: local and remote changes are numbered, with author and origin, across restarts") {
  TempDir tmp;
  FakeClock clock;
  auto a = OpenReplica(tmp.Sub("a"), &clock);
  auto b = OpenReplica(tmp.Sub("b"), &clock);
  CHECK(a->LastChangeNumber().value() == 0);
  CHECK(a->Changes(0)->empty());
  RecordId id = RecordId::Generate();
  RecordId id2 = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) {
             w.Set("item", id, "title", "stove");
             w.Increment("item", id, "count", 2);
             w.Set("other", id2, "name", "x");
           }).ok());
  auto ca = AllChanges(*a);
  REQUIRE(ca.size() == 2);  // one per record changed
  CHECK(ca[0].number == 1);
  CHECK(ca[1].number == 2);
  const Change& item = ca[0].collection == "item" ? ca[0] : ca[1];
  CHECK(item.id == id);
  CHECK(item.fields == std::vector<std::string>{"count", "title"});
  CHECK(item.author == a->author());
  CHECK_FALSE(item.remote);
  CHECK_FALSE(item.rederived);
  CHECK(item.hlc > 0);
  CHECK(item.hlc >= a->Get("item", id)->Find("title")->hlc);  // the newest op on the record

  // Applied from a peer: remote, the peer's author, the peer's HLC.
  CHECK(Sync(*a, *b) == 2);
  auto cb = AllChanges(*b);
  REQUIRE(cb.size() == 2);
  for (const Change& c : cb) {
    CHECK(c.remote);
    CHECK(c.author == a->author());
  }
  CHECK((cb[0].collection == "item" ? cb[0] : cb[1]).hlc == item.hlc);
  // A duplicate changes nothing.
  for (const Bytes& d : a->DeltasSince({}).value()) CHECK(b->Apply(d)->outcome == ApplyOutcome::kDuplicate);
  CHECK(b->LastChangeNumber().value() == 2);

  clock.Advance(5);
  REQUIRE(b->Write([&](WriteBatch& w) { w.Add("item", id, "tags", "red"); }).ok());
  CHECK(b->LastChangeNumber().value() == 3);
  auto tail = b->Changes(2).value();
  REQUIRE(tail.size() == 1);
  CHECK(tail[0].fields == std::vector<std::string>{"tags"});
  CHECK(tail[0].author == b->author());
  CHECK_FALSE(tail[0].remote);

  // Numbers survive a restart and never repeat.
  const std::string bdir = b->dir();
  b.reset();
  b = OpenReplica(bdir, &clock);
  CHECK(b->LastChangeNumber().value() == 3);
  REQUIRE(b->Write([&](WriteBatch& w) { w.Delete("item", id); }).ok());
  auto after = b->Changes(2).value();
  REQUIRE(after.size() == 2);
  CHECK(after[0].number == 3);
  CHECK(after[1].number == 4);
  CHECK(after[1].fields == std::vector<std::string>{"$deleted"});
  // since and limit.
  CHECK(b->Changes(0, 1)->size() == 1);
  CHECK(b->Changes(0, 1)->front().number == 1);
  CHECK(b->Changes(4)->empty());
  CHECK(b->Changes(UINT64_MAX)->empty());
  CHECK(inspect::CheckConsistency(*b).ok());
}

TEST_CASE("changes: a delta waiting for its key or its predecessor produces no change until applied") {
  TempDir tmp;
  auto a = OpenReplica(tmp.Sub("a"));
  auto relay = OpenReplica(tmp.Sub("relay"), nullptr, {}, /*keys=*/false);
  auto gap = OpenReplica(tmp.Sub("gap"));
  RecordId id = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "title", "one"); }).ok());
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "owner", "bureau"); }).ok());
  auto deltas = a->DeltasSince({}).value();
  REQUIRE(deltas.size() == 2);
  for (const Bytes& d : deltas) CHECK(relay->Apply(d)->outcome == ApplyOutcome::kUnreadable);
  CHECK(relay->LastChangeNumber().value() == 0);
  ShareKeys(*a, *relay);
  auto applied = AllChanges(*relay);
  REQUIRE(applied.size() == 1);  // both deltas, one transaction, one record
  CHECK(applied[0].remote);
  CHECK(applied[0].author == a->author());
  CHECK(applied[0].fields == std::vector<std::string>{"owner", "title"});

  CHECK(gap->Apply(deltas[1])->outcome == ApplyOutcome::kPending);
  CHECK(gap->LastChangeNumber().value() == 0);
  CHECK(gap->Apply(deltas[0])->outcome == ApplyOutcome::kApplied);
  CHECK(gap->LastChangeNumber().value() == 1);
}

// Commits in another process once the parent says so (a byte on `go`).
[[noreturn]] void ChildCommit(const std::string& dir, int go, const RecordId& id) {
  char byte = 0;
  if (::read(go, &byte, 1) != 1) _exit(9);
  ReplicaOptions o;
  o.durability = Durability::kNoSync;
  auto r = Replica::Open(dir, o);
  if (!r.ok()) _exit(10);
  auto c = (*r)->Write([&](WriteBatch& b) { b.Set("item", id, "title", "from the other process"); });
  if (!c.ok()) _exit(11);
  r.value().reset();
  _exit(0);
}

TEST_CASE("changes: a watcher wakes on a commit made by another process") {
  TempDir tmp;
  const std::string dir = tmp.Sub("shared");
  { auto r = OpenReplica(dir); }
  RecordId id = RecordId::Generate();
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  // Fork before this process opens the replica (one open per process).
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipefd[1]);
    ChildCommit(dir, pipefd[0], id);
  }
  ::close(pipefd[0]);
  auto r = OpenReplica(dir, nullptr, {}, /*keys=*/false);
  auto w = r->Watch();
  REQUIRE_MESSAGE(w.ok(), w.status().ToString());
  const uint64_t before = r->LastChangeNumber().value();
  // Nothing yet: the wait times out.
  CHECK_FALSE(w->Wait(before, std::chrono::milliseconds(20)).value());
  REQUIRE(::write(pipefd[1], "g", 1) == 1);
  ::close(pipefd[1]);
  auto woke = w->Wait(before, std::chrono::seconds(20));
  REQUIRE(woke.ok());
  CHECK(*woke);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  auto got = r->Changes(before).value();
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == id);
  CHECK(got[0].author == r->author());
  CHECK_FALSE(got[0].remote);
  // A change already there: Wait returns at once. Many watchers, one gone.
  {
    auto gone = r->Watch();
    REQUIRE(gone.ok());
  }
  auto w2 = r->Watch();
  REQUIRE(w2.ok());
  CHECK(w2->Wait(before, std::chrono::milliseconds(0)).value());
  // An in-process commit wakes it too, also without the notify file.
  std::filesystem::remove(dir + "/changes.notify");
  const uint64_t now = r->LastChangeNumber().value();
  REQUIRE(r->Write([&](WriteBatch& b) { b.Increment("item", id, "count", 1); }).ok());
  CHECK(w2->Wait(now, std::chrono::seconds(20)).value());
  ChangeWatcher empty;
  CHECK(empty.Wait(0, std::chrono::milliseconds(1)).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("conflicts: two authors' concurrent mv writes list both values with author and HLC") {
  TempDir tmp;
  FakeClock clock;
  auto a = OpenReplica(tmp.Sub("a"), &clock);
  auto b = OpenReplica(tmp.Sub("b"), &clock);
  RecordId id = RecordId::Generate();
  RecordId calm = RecordId::Generate();
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", calm, "owner", "city"); }).ok());
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "owner", "city"); }).ok());
  clock.Advance(3);
  REQUIRE(b->Write([&](WriteBatch& w) { w.Set("item", id, "owner", "out_of_province"); }).ok());
  Sync(*a, *b);
  Sync(*b, *a);
  for (Replica* r : {a.get(), b.get()}) {
    auto all = r->Conflicts();
    REQUIRE(all.ok());
    REQUIRE(all->size() == 1);
    const Conflict& c = (*all)[0];
    CHECK(c.collection == "item");
    CHECK(c.id == id);
    CHECK(c.field == "owner");
    REQUIRE(c.values.size() == 2);
    CHECK(c.values[0].value == Value("city"));
    CHECK(c.values[0].author == a->author());
    CHECK(c.values[1].value == Value("out_of_province"));
    CHECK(c.values[1].author == b->author());
    CHECK(c.values[0].hlc < c.values[1].hlc);
    CHECK(r->Conflicts("item")->size() == 1);
    CHECK(r->Conflicts("other")->empty());
    CHECK(r->Conflicts("nope")->empty());
    // The same in the record.
    auto rec = r->Get("item", id);
    const FieldValue* owner = rec->Find("owner");
    REQUIRE(owner != nullptr);
    CHECK(owner->conflict());
    REQUIRE(owner->sources.size() == 2);
    CHECK(owner->sources[0].author == a->author());
    CHECK(owner->sources[0].hlc == c.values[0].hlc);
    CHECK(owner->sources[1].value == Value("out_of_province"));
  }
  // Resolving removes it.
  REQUIRE(a->Write([&](WriteBatch& w) { w.Set("item", id, "owner", "city"); }).ok());
  CHECK(a->Conflicts()->empty());
  CHECK(a->Get("item", id)->Find("owner")->sources.size() == 1);
}

TEST_CASE("history: ops of three authors on one record in HLC order; only what the replica may read") {
  TempDir tmp;
  FakeClock clock;
  auto a = OpenReplica(tmp.Sub("a"), &clock);
  auto b = OpenReplica(tmp.Sub("b"), &clock);
  auto c = OpenReplica(tmp.Sub("c"), &clock);
  RecordId id = RecordId::Generate();
  RecordId other = RecordId::Generate();
  // Written in the order c, a, b, received in the order b, a, c.
  REQUIRE(c->Write([&](WriteBatch& w) { w.Set("item", id, "title", "first"); }).ok());
  clock.Advance(10);
  REQUIRE(a->Write([&](WriteBatch& w) {
             w.Increment("item", id, "count", 3);
             w.Set("item", other, "title", "elsewhere");
           }).ok());
  clock.Advance(10);
  REQUIRE(b->Write([&](WriteBatch& w) { w.Add("item", id, "tags", "red"); }).ok());
  auto d = OpenReplica(tmp.Sub("d"), &clock);
  Sync(*b, *d);
  Sync(*a, *d);
  Sync(*c, *d);
  auto h = d->History("item", id);
  REQUIRE_MESSAGE(h.ok(), h.status().ToString());
  REQUIRE(h->size() == 3);
  CHECK((*h)[0].author == c->author());
  CHECK((*h)[0].field == "title");
  CHECK((*h)[0].operation == "set");
  CHECK((*h)[0].value == Value("first"));
  CHECK((*h)[1].author == a->author());
  CHECK((*h)[1].operation == "counter");
  CHECK((*h)[1].p == 3);
  CHECK((*h)[2].author == b->author());
  CHECK((*h)[2].operation == "add");
  CHECK((*h)[2].value == Value("red"));
  CHECK((*h)[0].hlc < (*h)[1].hlc);
  CHECK((*h)[1].hlc < (*h)[2].hlc);
  CHECK((*h)[0].author_name.empty());  // no policy, no names
  CHECK(d->History("item", other)->size() == 1);
  CHECK(d->History("item", RecordId::Generate())->empty());

  // A replica without the scope's key shows nothing; with it, everything.
  auto relay = OpenReplica(tmp.Sub("relay"), &clock, {}, /*keys=*/false);
  Sync(*d, *relay);
  CHECK(relay->History("item", id)->empty());
  ShareKeys(*a, *relay);
  CHECK(relay->History("item", id)->size() == 3);

  // Migration: a replica without the index (made before it existed)
  // builds it when opened.
  const std::string ddir = d->dir();
  d.reset();
  REQUIRE(store::EditMeta(ddir, [](store::Txn& t, MDB_dbi meta) -> Status {
            auto hist = t.OpenTable("history", 0);
            if (!hist.ok()) return hist.status();
            HEARTH_RETURN_IF_ERROR(t.Drop(*hist));
            return t.Del(meta, store::AsBytes("history_index"));
          }).ok());
  d = OpenReplica(ddir, &clock);
  auto again = d->History("item", id);
  REQUIRE(again.ok());
  CHECK(again->size() == 3);
}

// The test vector of docs/storage-format.md, "Change feed".
TEST_CASE("changes: the entry encoding matches the documented vector; malformed entries are refused") {
  Change c;
  c.number = 7;
  c.collection = "item";
  for (size_t i = 0; i < c.id.bytes.size(); ++i) c.id.bytes[i] = static_cast<uint8_t>(i);
  c.author.bytes.fill(0x11);
  c.hlc = 0x0102030405060708ull;
  c.remote = true;
  c.fields = {"owner", "title"};
  const std::string hex =
      "0101" + std::string(64, '1') +
      "0102030405060708000000046974656d000102030405060708090a0b0c0d0e0f00000002000000056f776e6572000000057469746c65";
  std::string enc = store::EncodeChange(c);
  CHECK(testing::ToHex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(enc.data()), enc.size())) == hex);
  std::vector<uint8_t> bytes = testing::FromHex(hex);
  auto back = store::DecodeChange(7, bytes);
  REQUIRE(back.ok());
  CHECK(back->collection == "item");
  CHECK(back->id == c.id);
  CHECK(back->author == c.author);
  CHECK(back->hlc == c.hlc);
  CHECK(back->remote);
  CHECK_FALSE(back->rederived);
  CHECK(back->fields == c.fields);
  // Every truncation, a huge field count, trailing bytes, another version.
  for (size_t n = 0; n < bytes.size(); ++n) {
    CHECK(store::DecodeChange(7, store::ByteView(bytes.data(), n)).status().code() == Code::kCorruption);
  }
  std::vector<uint8_t> huge = bytes;
  huge[2 + 32 + 8 + 4 + 4 + 16 + 3] = 0xff;  // field count low byte
  huge[2 + 32 + 8 + 4 + 4 + 16] = 0xff;      // and high byte
  CHECK(store::DecodeChange(7, huge).status().code() == Code::kCorruption);
  std::vector<uint8_t> trailing = bytes;
  trailing.push_back(0);
  CHECK(store::DecodeChange(7, trailing).status().code() == Code::kCorruption);
  std::vector<uint8_t> v2 = bytes;
  v2[0] = 2;
  CHECK(store::DecodeChange(7, v2).status().code() == Code::kCorruption);
}

}  // namespace
}  // namespace hearth
