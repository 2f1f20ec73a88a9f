// Replica: open, local writes, reads, queries, schema checks, map growth.
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "hearth/inspect.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using testing::FakeClock;
using testing::OpenReplica;
using testing::TempDir;

TEST_CASE("open creates a replica with a private identity and reopens it") {
  TempDir tmp;
  AuthorId first;
  {
    auto r = OpenReplica(tmp.Sub("a"));
    first = r->author();
    struct stat st {};
    REQUIRE(::stat(tmp.Sub("a/identity.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    // A second open in the same process is refused.
    ReplicaOptions o;
    auto again = Replica::Open(tmp.Sub("a"), o);
    REQUIRE_FALSE(again.ok());
    CHECK(again.status().code() == Code::kFailedPrecondition);
  }
  auto r = OpenReplica(tmp.Sub("a"));
  CHECK(r->author() == first);
  CHECK(inspect::Stats(*r).value().format_version == 2);
}

TEST_CASE("open without create on a non-replica directory fails clearly") {
  TempDir tmp;
  ReplicaOptions o;
  o.create_if_missing = false;
  auto r = Replica::Open(tmp.path(), o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kNotFound);
  CHECK(r.status().message().find("not a Hearth replica") != std::string::npos);
}

TEST_CASE("every field type can be written and read back") {
  TempDir tmp;
  FakeClock clock;
  auto r = OpenReplica(tmp.path(), &clock);
  RecordId id = RecordId::Generate();
  RecordId other = RecordId::Generate();
  auto c = r->Write([&](WriteBatch& b) {
    b.Set("item", id, "title", "张三的工资案")
        .Add("item", id, "tags", "urgent")
        .Add("item", id, "tags", "construction")
        .Increment("item", id, "count", 5)
        .Increment("item", id, "count", -2)
        .Advance("item", id, "stage", "open")
        .Set("item", id, "owner", "township-a")
        .Set("item", id, "ref", other)
        .Append("item", id, "notes", "hotline call")
        .Set("item", id, "score", int64_t{42})
        .Set("item", id, "price", 3.5)
        .Set("item", id, "any", Bytes{1, 2, 3});
  });
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  CHECK(c->first_seq == 1);
  CHECK(c->last_seq == 1);
  CHECK(c->op_count == 12);

  auto rec = r->Get("item", id);
  REQUIRE(rec.ok());
  CHECK(rec->Find("title")->value == Value("张三的工资案"));
  CHECK(rec->Find("tags")->values == std::vector<Value>{"construction", "urgent"});
  CHECK(rec->Find("count")->count == 3);
  CHECK(rec->Find("stage")->value == Value("open"));
  CHECK(rec->Find("owner")->values == std::vector<Value>{"township-a"});
  CHECK_FALSE(rec->Find("owner")->conflict());
  CHECK(rec->Find("ref")->value == Value(other));
  REQUIRE(rec->Find("notes")->log.size() == 1);
  CHECK(rec->Find("notes")->log[0].value == Value("hotline call"));
  CHECK(rec->Find("score")->value == Value(int64_t{42}));
  CHECK(rec->Find("price")->value == Value(3.5));
  CHECK(rec->Find("any")->value == Value(Bytes{1, 2, 3}));
  CHECK_FALSE(rec->deleted);

  // Status never goes backwards; removing a tag; deletion is a tombstone.
  REQUIRE(r->Write([&](WriteBatch& b) {
             b.Advance("item", id, "stage", "new").Remove("item", id, "tags", "urgent");
           }).ok());
  rec = r->Get("item", id);
  CHECK(rec->Find("stage")->value == Value("open"));
  CHECK(rec->Find("tags")->values == std::vector<Value>{"construction"});
  REQUIRE(r->Write([&](WriteBatch& b) { b.Delete("item", id); }).ok());
  CHECK(r->Get("item", id)->deleted);
  CHECK(r->GetHeads().value().at(r->author()).seq == 3);
  CHECK(inspect::CheckConsistency(*r).ok());
}

TEST_CASE("a batch touching two scopes makes one delta per scope") {
  TempDir tmp;
  auto r = OpenReplica(tmp.path());
  RecordId a = RecordId::Generate(), b = RecordId::Generate();
  auto c = r->Write([&](WriteBatch& w) {
    w.Set("item", a, "title", "x").Set("other", b, "name", "y").Increment("other", b, "n", 1);
  });
  REQUIRE(c.ok());
  CHECK(c->first_seq == 1);
  CHECK(c->last_seq == 2);
  CHECK(c->op_count == 3);
  CHECK(inspect::Stats(*r).value().deltas == 2);
  // The keys the writes made, listed by name without the key material.
  auto keys = r->ListKeys();
  REQUIRE(keys.ok());
  CHECK(*keys == std::vector<ScopeEpoch>{{"test.a", 1}, {"test.b", 1}});
  // An added epoch appears in order; a listed key exports to another replica.
  std::array<uint8_t, 32> k2{};
  k2[0] = 7;
  REQUIRE(r->AddScopeKey("test.a", 2, k2).ok());
  keys = r->ListKeys();
  REQUIRE(keys.ok());
  CHECK(*keys == std::vector<ScopeEpoch>{{"test.a", 1}, {"test.a", 2}, {"test.b", 1}});
  auto other = OpenReplica(tmp.Sub("other"), nullptr, {}, /*keys=*/false);
  REQUIRE(other->ImportKeyring(r->ExportKeyring({"test.a"}).value()).ok());
  CHECK(other->ListKeys().value() == std::vector<ScopeEpoch>{{"test.a", 1}, {"test.a", 2}});
}

TEST_CASE("writes outside the schema are refused and change nothing") {
  TempDir tmp;
  auto r = OpenReplica(tmp.path());
  RecordId id = RecordId::Generate();
  REQUIRE(r->Write([&](WriteBatch& b) { b.Set("item", id, "title", "ok"); }).ok());
  auto digest = r->Digest();
  auto heads = r->GetHeads().value();

  struct Case {
    const char* what;
    std::function<void(WriteBatch&)> fn;
    const char* needle;
  } cases[] = {
      {"unknown collection", [&](WriteBatch& b) { b.Set("nope", id, "title", "x"); }, "nope"},
      {"unknown field", [&](WriteBatch& b) { b.Set("item", id, "colour", "x"); }, "colour"},
      {"wrong value type", [&](WriteBatch& b) { b.Set("item", id, "title", int64_t{3}); }, "title"},
      {"wrong op for field", [&](WriteBatch& b) { b.Add("item", id, "title", "x"); }, "title"},
      {"unknown status", [&](WriteBatch& b) { b.Advance("item", id, "stage", "flying"); }, "stage"},
      {"reserved field", [&](WriteBatch& b) { b.Set("item", id, "$deleted", true); }, "$deleted"},
      {"good then bad",
       [&](WriteBatch& b) {
         b.Set("item", id, "title", "changed");
         b.Increment("item", id, "title", 1);
       },
       "title"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto res = r->Write(c.fn);
    REQUIRE_FALSE(res.ok());
    CHECK(res.status().code() == Code::kInvalidArgument);
    CHECK_MESSAGE(res.status().message().find(c.needle) != std::string::npos, res.status().message());
  }
  CHECK(r->Digest().value() == digest.value());
  CHECK(r->GetHeads().value() == heads);
  CHECK(r->Get("item", id)->Find("title")->value == Value("ok"));
}

TEST_CASE("queries use indexes for equality and ranges") {
  TempDir tmp;
  auto r = OpenReplica(tmp.path());
  std::vector<RecordId> ids;
  REQUIRE(r->Write([&](WriteBatch& b) {
             for (int i = 0; i < 50; ++i) {
               RecordId id = RecordId::Generate();
               ids.push_back(id);
               b.Set("item", id, "score", int64_t{i - 10});
               b.Set("item", id, "title", i % 2 ? "odd" : "even");
               b.Advance("item", id, "stage", i < 20 ? "new" : (i < 40 ? "open" : "done"));
               b.Set("item", id, "price", i * 0.5 - 3);
             }
           }).ok());
  Query q;
  q.collection = "item";
  q.field = "title";
  q.equals = Value("odd");
  CHECK(r->Find(q)->size() == 25);

  q = Query{};
  q.collection = "item";
  q.field = "score";
  q.lower = Value(int64_t{-5});
  q.upper = Value(int64_t{4});
  auto res = r->Find(q);
  REQUIRE(res.ok());
  REQUIRE(res->size() == 10);
  CHECK(res->front().Find("score")->value == Value(int64_t{-5}));
  CHECK(res->back().Find("score")->value == Value(int64_t{4}));

  q = Query{};
  q.collection = "item";
  q.field = "price";
  q.upper = Value(-1.0);
  CHECK(r->Find(q)->size() == 5);  // -3, -2.5, -2, -1.5, -1

  q = Query{};
  q.collection = "item";
  q.field = "stage";
  q.lower = Value("open");
  CHECK(r->Find(q)->size() == 30);
  q.limit = 7;
  CHECK(r->Find(q)->size() == 7);

  // Updating an indexed value moves its index entry.
  REQUIRE(r->Write([&](WriteBatch& b) { b.Set("item", ids[0], "title", "odd"); }).ok());
  q = Query{};
  q.collection = "item";
  q.field = "title";
  q.equals = Value("odd");
  CHECK(r->Find(q)->size() == 26);
  q.equals = Value("even");
  CHECK(r->Find(q)->size() == 24);

  q = Query{};
  q.collection = "item";
  q.field = "tags";
  CHECK(r->Find(q).status().code() == Code::kInvalidArgument);
  q = Query{};
  q.collection = "item";
  CHECK(r->Find(q)->size() == 50);
}

TEST_CASE("a full map grows on demand; at the maximum writes fail cleanly") {
  TempDir tmp;
  ReplicaOptions o;
  o.initial_map_size = 256 << 10;
  o.max_map_size = 8 << 20;
  auto r = OpenReplica(tmp.path(), nullptr, o);
  const uint64_t start = inspect::Stats(*r).value().map_size;
  std::string big(2000, 'x');
  int committed = 0;
  Status last;
  for (int i = 0; i < 400; ++i) {
    auto c = r->Write([&](WriteBatch& b) {
      for (int j = 0; j < 10; ++j) b.Set("item", RecordId::Generate(), "title", big);
    });
    if (!c.ok()) {
      last = c.status();
      break;
    }
    ++committed;
  }
  CHECK(inspect::Stats(*r).value().map_size > start);
  REQUIRE_FALSE(last.ok());
  CHECK(last.code() == Code::kResourceExhausted);
  CHECK(committed > 50);
  // Everything committed is intact, reads still work.
  CHECK(r->GetHeads().value().at(r->author()).seq == static_cast<uint64_t>(committed));
  CHECK(inspect::CheckConsistency(*r).ok());
}

TEST_CASE("the clock survives restarts even when the wall clock goes back") {
  TempDir tmp;
  FakeClock clock(2'000'000'000'000ull);
  RecordId id = RecordId::Generate();
  uint64_t before;
  {
    auto r = OpenReplica(tmp.path(), &clock);
    REQUIRE(r->Write([&](WriteBatch& b) { b.Set("item", id, "title", "a"); }).ok());
    before = r->Get("item", id)->Find("title")->hlc;
  }
  clock.Set(1'000'000'000'000ull);  // a day-long skew backwards
  auto r = OpenReplica(tmp.path(), &clock);
  REQUIRE(r->Write([&](WriteBatch& b) { b.Set("item", id, "title", "b"); }).ok());
  auto rec = r->Get("item", id);
  CHECK(rec->Find("title")->hlc > before);
  CHECK(rec->Find("title")->value == Value("b"));
}

TEST_CASE("readers run while a writer commits") {
  TempDir tmp;
  auto r = OpenReplica(tmp.path());
  RecordId id = RecordId::Generate();
  REQUIRE(r->Write([&](WriteBatch& b) { b.Increment("item", id, "count", 1); }).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!stop) {
        auto rec = r->Get("item", id);
        REQUIRE(rec.ok());
        int64_t v = rec->Find("count")->count;
        REQUIRE(v >= last);  // monotonic snapshots
        last = v;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    REQUIRE(r->Write([&](WriteBatch& b) { b.Increment("item", id, "count", 1); }).ok());
  }
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(r->Get("item", id)->Find("count")->count == 201);
  CHECK(reads > 0);
}

}  // namespace
}  // namespace hearth
