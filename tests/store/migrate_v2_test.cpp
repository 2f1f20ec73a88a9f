// Storage format 1 -> 2 (docs/storage-format.md, "Migration from format
// 1"): a copy of the format-1 fixture tests/data/replica_v1 (made by the
// build before format 2, tests/fixtures/make_replica_v1.cpp) opens migrated,
// in one transaction, holding exactly what it held; a fault at any LMDB
// operation of the open leaves format 1 or format 2, never a mixture.
// The kill -9 case is in tests/durability/kill9_test.cpp.
#include <doctest/doctest.h>
#include <lmdb.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "hearth/inspect.hpp"
#include "hearth/replica.hpp"
#include "store/fault.hpp"
#include "store/keys.hpp"
#include "store/replica_impl.hpp"
#include "store/raw_tables.hpp"
#include "store/replica_dump.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using testing::RawTables;
using testing::TempDir;

const std::string kFixture = std::string(HEARTH_TEST_DATA_DIR) + "/data/replica_v1";

void CopyFixture(const std::string& dest) {
  fs::create_directories(dest);
  ::chmod(dest.c_str(), 0700);
  for (const char* f : {"data.mdb", "identity.key", "replica.mark"}) {
    fs::copy_file(kFixture + "/" + f, dest + "/" + f, fs::copy_options::overwrite_existing);
    ::chmod((dest + "/" + f).c_str(), 0600);
  }
}

std::string Expected() {
  std::ifstream in(kFixture + "/expected.txt");
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RawTables Raw(const std::string& dir) {
  std::string err;
  RawTables t = testing::ReadRawTables(dir, &err);
  REQUIRE_MESSAGE(err.empty(), err);
  return t;
}

// Without the meta record the first open writes (the copy's file identity).
RawTables WithoutLiveFile(RawTables t) {
  t["meta"].erase("live_file");
  return t;
}

ReplicaOptions Options() { return testing::TestOptions(); }

// The fixture's tables, read from a copy (opening LMDB in the source tree
// would leave a lock.mdb there).
RawTables FixtureTables(const TempDir& tmp) {
  const std::string dir = tmp.Sub("fixture-copy");
  CopyFixture(dir);
  return Raw(dir);
}

TEST_CASE("migration: the fixture is format 1, keyed author || seq") {
  TempDir tmp;
  RawTables v1 = FixtureTables(tmp);
  CHECK(testing::RawFormat(v1) == 1);
  for (const char* name : {"feeds", "pending", "opaque", "forks", "denied"}) {
    CAPTURE(name);
    CHECK_FALSE(v1[name].empty());
    for (const auto& [k, v] : v1[name]) CHECK(k.size() == 40);
  }
  for (const char* name : {"heads", "frozen"}) {
    CHECK_FALSE(v1[name].empty());
    for (const auto& [k, v] : v1[name]) CHECK(k.size() == 32);
  }
  CHECK_FALSE(v1["history"].empty());
  CHECK(v1["meta"].count("live_file") == 0);
}

TEST_CASE("migration: a format-1 replica opens re-keyed to format 2, holding the same; a second open is a no-op") {
  TempDir tmp;
  const std::string dir = tmp.Sub("r");
  CopyFixture(dir);
  const RawTables v1 = Raw(dir);
  {
    auto r = Replica::Open(dir, Options());
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(inspect::Stats(**r).value().format_version == 2);
    CHECK(testing::DumpReplica(**r) == Expected());
    auto rep = inspect::Verify(**r);
    REQUIRE(rep.ok());
    CHECK_MESSAGE(rep->ok(), (rep->problems.empty() ? "" : rep->problems.front()));
    CHECK(rep->deltas == 12);
    CHECK(inspect::CheckConsistency(**r).ok());
    CHECK_FALSE((*r)->is_copy());
  }
  // Byte for byte: every key re-keyed to the legacy lane, every value kept.
  const RawTables v2 = Raw(dir);
  CHECK(testing::RawFormat(v2) == 2);
  CHECK(v2.at("meta").count("live_file") == 1);
  CHECK(WithoutLiveFile(v2) == testing::MigratedRawTables(v1));

  // Opening again changes nothing.
  {
    auto r = Replica::Open(dir, Options());
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(testing::DumpReplica(**r) == Expected());
  }
  CHECK(Raw(dir) == v2);

  // The migrated replica goes on: the author's next commit is seq 6 on
  // its legacy lane, and everything still verifies.
  auto r = Replica::Open(dir, Options());
  REQUIRE(r.ok());
  auto c = (*r)->Write([](WriteBatch& b) { b.Set("item", testing::FixtureRid(3), "title", "after"); });
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  CHECK(c->last_seq == 6);
  CHECK((*r)->GetHeads().value().at((*r)->author()).seq == 6);
  CHECK((*r)->History("item", testing::FixtureRid(3)).value().size() == 1);
  auto rep = inspect::Verify(**r);
  REQUIRE(rep.ok());
  CHECK_MESSAGE(rep->ok(), (rep->problems.empty() ? "" : rep->problems.front()));
}

TEST_CASE("migration: a replica of a newer format is refused, unchanged") {
  TempDir tmp;
  const std::string dir = tmp.Sub("r");
  CopyFixture(dir);
  REQUIRE(store::EditMeta(dir, [](store::Txn& t, MDB_dbi meta) {
            std::string v;
            store::AppendU32(v, 3);
            return t.Put(meta, store::AsBytes("format"), store::AsBytes(v));
          }).ok());
  const RawTables before = Raw(dir);
  auto r = Replica::Open(dir, Options());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kFailedPrecondition);
  CHECK_MESSAGE(r.status().message().find("upgrade Hearth") != std::string::npos, r.status().ToString());
  CHECK(Raw(dir) == before);
}

TEST_CASE("migration: a malformed format-1 key refuses the open and changes nothing") {
  TempDir tmp;
  const std::string dir = tmp.Sub("r");
  CopyFixture(dir);
  // A 41-byte key in pending (after the valid ones, so the migration has
  // re-keyed some entries when it meets it).
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 32);
  REQUIRE(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600) == 0);
  MDB_txn* t = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &t) == 0);
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(t, "pending", 0, &dbi) == 0);
  std::string key(41, '\xff');
  MDB_val k{key.size(), key.data()}, v{0, nullptr};
  REQUIRE(mdb_put(t, dbi, &k, &v, 0) == 0);
  REQUIRE(mdb_txn_commit(t) == 0);
  mdb_env_close(env);

  const RawTables before = Raw(dir);
  auto r = Replica::Open(dir, Options());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kCorruption);
  CHECK_MESSAGE(r.status().message().find("pending: a format-1 key of 41 bytes") != std::string::npos,
                r.status().ToString());
  CHECK(Raw(dir) == before);
}

// Every LMDB operation of the open, in turn, fails (EIO, and MAP_FULL,
// which grows the map and runs the transaction again): the replica is then
// exactly format 1 or exactly the migrated format 2, and the next open
// without a fault gives the fixture's content.
TEST_CASE("migration: a fault at any LMDB operation of the open leaves format 1 or format 2") {
  TempDir tmp;
  const RawTables v1 = FixtureTables(tmp);
  const RawTables v2 = testing::MigratedRawTables(v1);
  const std::string expected = Expected();
  for (const char* err : {"EIO", "MAP_FULL"}) {
    const int code = store::FaultInjector::ErrorCode(err);
    REQUIRE(code != 0);
    uint64_t failed_old = 0, failed_new = 0, n = 1;
    for (;; ++n) {
      CAPTURE(err);
      CAPTURE(n);
      const std::string dir = tmp.Sub(std::string(err) + "-" + std::to_string(n));
      CopyFixture(dir);
      store::FaultInjector::Arm(n, code);
      auto r = Replica::Open(dir, Options());
      store::FaultInjector::Disarm();
      const bool fired = store::FaultInjector::Fired();
      if (r.ok()) r->reset();  // closed before the raw read
      const RawTables after = WithoutLiveFile(Raw(dir));
      const uint32_t format = testing::RawFormat(after);
      REQUIRE((format == 1 || format == 2));
      if (format == 1) {
        CHECK(after == v1);
      } else {
        CHECK(after == v2);
      }
      if (!r.ok()) (format == 1 ? failed_old : failed_new)++;
      // Opening again without a fault: the fixture's content, format 2.
      auto again = Replica::Open(dir, Options());
      REQUIRE_MESSAGE(again.ok(), again.status().ToString());
      CHECK(testing::DumpReplica(**again) == expected);
      again->reset();
      CHECK(WithoutLiveFile(Raw(dir)) == v2);
      fs::remove_all(dir);
      if (!fired) break;  // past the open's last operation
    }
    MESSAGE(std::string(err) << ": " << n - 1 << " operations faulted; opens failed leaving format 1: " << failed_old
                << ", leaving format 2: " << failed_new);
    CHECK(n > 50);
    if (std::string(err) == "EIO") CHECK(failed_old > 0);
  }
}

}  // namespace
}  // namespace hearth
