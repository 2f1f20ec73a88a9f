// A real full disk: the test binary re-executes itself under `unshare -m`,
// the child mounts an 8 MiB tmpfs in its private mount namespace, puts a
// filler file and a replica (Durability::kSync) on it and commits until a
// commit fails. Checked in the child: the failure is kResourceExhausted and
// says the disk is full; reads keep working; a retry fails the same way and
// breaks nothing; after the filler is deleted writing resumes; after
// closing and reopening, every acknowledged commit is there and the replica
// is consistent. Skipped (with a message) where unshare or mount is not
// permitted. Figures are printed (docs/reliability.md, "Storage faults").
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "faults/faults_support.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "store/store_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using testing::TempDir;

RecordId Rid(uint32_t i) {
  RecordId id;
  id.bytes[0] = 0xdf;
  base::StoreBE32(&id.bytes[12], i);
  return id;
}

std::string Payload(std::mt19937_64& rng, size_t n) {
  std::string s(n, ' ');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

uint64_t FreeBytes(const std::string& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return 0;
  return uint64_t{v.f_bavail} * v.f_frsize;
}

ReplicaOptions ChildOptions() {
  ReplicaOptions o;
  o.schema = testing::TestSchema();
  o.unencrypted_identity = true;
  o.durability = Durability::kSync;
  return o;
}

// Child side: runs only when re-executed by the test below, inside its own
// mount namespace.
TEST_CASE("disk full: child (runs only when re-executed)") {
  const char* mnt_env = std::getenv("HEARTH_DISKFULL_MNT");
  if (mnt_env == nullptr) return;
  const std::string mnt = mnt_env;
  if (::mount("hearth-diskfull", mnt.c_str(), "tmpfs", 0, "size=8m,mode=0700") != 0) {
    std::printf("DISKFULL_SKIP mount of an 8 MiB tmpfs not permitted: %s\n", std::strerror(errno));
    return;
  }
  std::mt19937_64 rng(testing::BaseSeed());
  // A filler file of 2 MiB, to be deleted later.
  const std::string filler = mnt + "/filler";
  {
    std::ofstream f(filler, std::ios::binary);
    std::string block(1 << 20, 'f');
    f << block << block;
    REQUIRE(f.good());
  }
  const std::string dir = mnt + "/replica";
  auto opened = Replica::Open(dir, ChildOptions());
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  std::unique_ptr<Replica> r = std::move(opened).value();
  REQUIRE(testing::GiveTestKeys(*r).ok());  // no key is made implicitly
  const AuthorId me = r->author();

  // Commit until the disk is full. Every acknowledged commit is remembered.
  struct Ack {
    uint32_t i;
    uint64_t first, last;
    std::string title;
  };
  std::vector<Ack> acks;
  Status failure;
  for (uint32_t i = 0; i < 10000; ++i) {
    const std::string title = "t" + std::to_string(i);
    auto c = r->Write([&](WriteBatch& b) {
      b.Set("item", Rid(i), "title", title).Set("item", Rid(i), "any", Payload(rng, 48 * 1024));
      b.Increment("other", Rid(0), "n", 1);
    });
    if (!c.ok()) {
      failure = c.status();
      break;
    }
    acks.push_back({i, c->first_seq, c->last_seq, title});
  }
  REQUIRE_MESSAGE(!failure.ok(), "8 MiB never filled up");
  const uint64_t free_at_failure = FreeBytes(mnt);
  std::printf("DISKFULL_ACKED %zu\nDISKFULL_ERROR %s\nDISKFULL_DATA_MDB %" PRIu64 "\nDISKFULL_FREE %" PRIu64 "\n",
              acks.size(), failure.ToString().c_str(),
              static_cast<uint64_t>(std::filesystem::file_size(dir + "/data.mdb")), free_at_failure);
  CHECK(failure.code() == Code::kResourceExhausted);
  CHECK_MESSAGE(failure.message().find("disk full") != std::string::npos, failure.ToString());
  REQUIRE(acks.size() > 10);

  // Reads still work, the last acknowledged commit is visible.
  auto last = r->Get("item", Rid(acks.back().i));
  REQUIRE_MESSAGE(last.ok(), last.status().ToString());
  CHECK(last->Find("title")->value.as_string() == acks.back().title);
  CHECK(r->Digest().ok());
  CHECK(inspect::CheckConsistency(*r).ok());
  CHECK(r->GetHeads().value().at(me).seq == acks.back().last);
  // A retry while still full fails the same way and consumes no seq.
  auto retry = r->Write([&](WriteBatch& b) { b.Set("item", Rid(99999), "any", Payload(rng, 48 * 1024)); });
  CHECK(!retry.ok());
  CHECK(retry.status().code() == Code::kResourceExhausted);
  CHECK(r->GetHeads().value().at(me).seq == acks.back().last);

  // Free space: writing resumes.
  std::filesystem::remove(filler);
  int resumed = 0;
  for (uint32_t i = 20000; i < 20005; ++i) {
    const std::string title = "after " + std::to_string(i);
    auto c = r->Write([&](WriteBatch& b) {
      b.Set("item", Rid(i), "title", title).Set("item", Rid(i), "any", Payload(rng, 48 * 1024));
    });
    REQUIRE_MESSAGE(c.ok(), "after deleting the filler: " << c.status().ToString());
    CHECK(c->first_seq == acks.back().last + 1);
    acks.push_back({i, c->first_seq, c->last_seq, title});
    ++resumed;
  }
  std::printf("DISKFULL_RESUMED %d\n", resumed);

  // Close, reopen: every acknowledged commit is there.
  r.reset();
  auto again = Replica::Open(dir, ChildOptions());
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  r = std::move(again).value();
  uint64_t missing = 0;
  for (const Ack& a : acks) {
    for (uint64_t s = a.first; s <= a.last; ++s) missing += r->GetDelta(me, s).ok() ? 0 : 1;
    auto rec = r->Get("item", Rid(a.i));
    if (!rec.ok() || rec->Find("title")->value.as_string() != a.title) ++missing;
  }
  CHECK(missing == 0);
  CHECK(inspect::Stats(*r).value().deltas == acks.back().last);
  Status cons = inspect::CheckConsistency(*r);
  CHECK_MESSAGE(cons.ok(), cons.ToString());
  std::printf("DISKFULL_LOST %" PRIu64 "\nDISKFULL_OK 1\n", missing);
  r.reset();
  ::umount2(mnt.c_str(), MNT_DETACH);
}

TEST_CASE("disk full: a real 8 MiB tmpfs fills up; reads work, nothing acknowledged is lost, writing resumes" *
          doctest::timeout(300)) {
  if (!testing::HaveProgram("unshare")) {
    MESSAGE("SKIPPED: unshare(1) is not installed");
    return;
  }
  TempDir tmp;
  auto probe = testing::RunChild({"unshare", "-m", "true"}, {}, tmp.Sub("probe.out"));
  if (!probe.exited_ok()) {
    MESSAGE("SKIPPED: cannot create a mount namespace here (unshare -m: " << probe.output << ")");
    return;
  }
  const std::string mnt = tmp.Sub("mnt");
  std::filesystem::create_directories(mnt);
  auto run = testing::RunChild({"unshare", "-m", "--propagation", "private", testing::SelfExe(),
                                "-tc=disk full: child*"},
                               {"HEARTH_DISKFULL_MNT=" + mnt}, tmp.Sub("child.out"));
  INFO("child output:\n", run.output);
  const std::string skip = testing::ChildValue(run.output, "DISKFULL_SKIP");
  if (!skip.empty()) {
    MESSAGE("SKIPPED: " << skip);
    return;
  }
  REQUIRE(run.exited_ok());
  REQUIRE(testing::ChildValue(run.output, "DISKFULL_OK") == "1");
  MESSAGE("disk full: " << testing::ChildValue(run.output, "DISKFULL_ACKED") << " commits acknowledged on 8 MiB tmpfs ("
                        << "data.mdb " << testing::ChildValue(run.output, "DISKFULL_DATA_MDB") << " bytes, "
                        << testing::ChildValue(run.output, "DISKFULL_FREE") << " bytes free) then: "
                        << testing::ChildValue(run.output, "DISKFULL_ERROR") << "; lost after reopen: "
                        << testing::ChildValue(run.output, "DISKFULL_LOST") << "; commits after freeing space: "
                        << testing::ChildValue(run.output, "DISKFULL_RESUMED"));
}

}  // namespace
}  // namespace hearth
