// A restored backup never forks its own author (issue 14, part 2;
// docs/durability.md, "Restoring a backup"): a copied replica directory or
// a backup knows it is not the live copy of its identity and refuses to
// write its own feed until Replica::Restore gave it a fresh identity.
#include <unistd.h>

#include <filesystem>

#include "hearth/identity.hpp"
#include "hearth/inspect.hpp"
#include "store/keys.hpp"
#include "store/replica_impl.hpp"
#include "store/storage_check.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using testing::OpenReplica;
using testing::TempDir;

const char* kScopeA = "test.a";
const char* kScopeB = "test.b";

// Every replica of a test without a root holds the same scope keys (the
// shared test keyring; OpenReplica already gives it, this is idempotent).
void GiveKeys(Replica& r) { REQUIRE(testing::GiveTestKeys(r).ok()); }

Status WriteTitle(Replica& r, const RecordId& id, const std::string& title) {
  return r.Write([&](WriteBatch& w) { w.Set("item", id, "title", Value(title)); }).status();
}

uint64_t DeltaCount(const Replica& r) { return inspect::Stats(r).value().deltas; }

// cp -r of a closed replica directory.
void CopyDir(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive);
}

// Applies every delta `to` lacks from `from` in one batch.
void SyncBatch(Replica& from, Replica& to) {
  auto d = from.DeltasSince(to.GetHeads().value());
  REQUIRE(d.ok());
  auto r = to.ApplyBatch(*d);
  REQUIRE_MESSAGE(r.ok(), r.error.ToString());
}

RestoreOptions Plain() {
  RestoreOptions o;
  o.unencrypted_identity = true;
  return o;
}

TEST_CASE("a copied replica directory refuses to write its own feed, writes nothing, and still applies") {
  TempDir tmp;
  RecordId id = RecordId::Generate();
  {
    auto o = OpenReplica(tmp.Sub("o"));
    GiveKeys(*o);
    REQUIRE(WriteTitle(*o, id, "one").ok());
    CHECK_FALSE(o->is_copy());
  }
  CopyDir(tmp.Sub("o"), tmp.Sub("copy"));
  auto o = OpenReplica(tmp.Sub("o"));
  auto c = OpenReplica(tmp.Sub("copy"));
  CHECK_FALSE(o->is_copy());
  CHECK(c->is_copy());
  CHECK(inspect::Stats(*c).value().is_copy);
  CHECK(inspect::Stats(*c).value().backup_ms == 0);
  CHECK(c->author() == o->author());

  const Hash32 digest = c->Digest().value();
  const Heads heads = c->GetHeads().value();
  auto w = c->Write([&](WriteBatch& b) { b.Set("item", id, "title", Value("forked")); });
  REQUIRE_FALSE(w.ok());
  CHECK(w.status().code() == Code::kFailedPrecondition);
  CHECK(w.status().message().find("is a copy of a replica") != std::string::npos);
  CHECK(w.status().message().find("hearth restore " + tmp.Sub("copy")) != std::string::npos);
  CHECK(w.status().message().find("Restoring a backup") != std::string::npos);
  CHECK(c->Digest().value() == digest);
  CHECK(c->GetHeads().value() == heads);
  CHECK(DeltaCount(*c) == 1);

  // The original keeps writing; the copy reads and applies what it wrote.
  REQUIRE(WriteTitle(*o, id, "two").ok());
  SyncBatch(*o, *c);
  CHECK(c->Get("item", id)->Find("title")->value == Value("two"));
  CHECK(c->Digest().value() == o->Digest().value());
  CHECK(inspect::Verify(*c).value().ok());

  // Still a copy after reopening.
  c.reset();
  c = OpenReplica(tmp.Sub("copy"));
  CHECK(c->is_copy());
  CHECK(c->Commit(WriteBatch().Set("item", id, "title", Value("x"))).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("a backup is marked as a copy: it refuses writes even where its file looks live") {
  TempDir tmp;
  auto o = OpenReplica(tmp.Sub("o"));
  GiveKeys(*o);
  RecordId id = RecordId::Generate();
  REQUIRE(WriteTitle(*o, id, "one").ok());
  REQUIRE(inspect::Backup(*o, tmp.Sub("b")).ok());
  {
    auto b = OpenReplica(tmp.Sub("b"));
    CHECK(b->is_copy());
    auto st = inspect::Stats(*b).value();
    CHECK(st.is_copy);
    CHECK(st.backup_ms > 0);
    auto w = b->Write([&](WriteBatch& x) { x.Set("item", id, "title", Value("b")); });
    REQUIRE_FALSE(w.ok());
    CHECK(w.status().code() == Code::kFailedPrecondition);
    CHECK(DeltaCount(*b) == 1);
  }
  // Even if the recorded file identity matched (inode reuse), "copy_of" decides.
  REQUIRE(store::EditMeta(tmp.Sub("b"), [&](store::Txn& t, MDB_dbi meta) -> Status {
            auto id_now = store::DataFileIdentity(tmp.Sub("b") + "/data.mdb");
            if (!id_now.ok()) return id_now.status();
            return t.Put(meta, store::AsBytes(store::kMetaLiveFile), store::AsBytes(*id_now));
          }).ok());
  auto b = OpenReplica(tmp.Sub("b"));
  CHECK(b->is_copy());
  // The original is unaffected.
  CHECK_FALSE(o->is_copy());
  CHECK(WriteTitle(*o, id, "two").ok());
}

TEST_CASE("restoring an old backup while the original wrote more: no fork anywhere, nothing lost") {
  TempDir tmp;
  auto o = OpenReplica(tmp.Sub("o"));
  GiveKeys(*o);
  const AuthorId old_author = o->author();
  RecordId r1 = RecordId::Generate(), r2 = RecordId::Generate();
  REQUIRE(WriteTitle(*o, r1, "o1").ok());
  REQUIRE(WriteTitle(*o, r1, "o2").ok());
  REQUIRE(inspect::Backup(*o, tmp.Sub("b")).ok());  // after seq 2
  REQUIRE(WriteTitle(*o, r1, "o3").ok());
  REQUIRE(WriteTitle(*o, r2, "o4").ok());
  REQUIRE(WriteTitle(*o, r2, "o5").ok());
  CHECK(o->GetHeads().value().at(old_author).seq == 5);

  // Without the restore step the backup cannot write.
  {
    auto b = OpenReplica(tmp.Sub("b"));
    CHECK(WriteTitle(*b, r1, "b?").code() == Code::kFailedPrecondition);
  }
  auto info = Replica::Restore(tmp.Sub("b"), Plain());
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  CHECK(info->new_identity);
  CHECK(info->old_author == old_author);
  CHECK(info->author != old_author);
  CHECK_FALSE(info->root);
  CHECK(info->retired_identity_file == tmp.Sub("b") + "/identity." + old_author.ToHex().substr(0, 16) + ".retired");
  CHECK(ReadIdentityFile(info->retired_identity_file).value() == old_author);
  CHECK((fs::status(info->retired_identity_file).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(ReadIdentityFile(tmp.Sub("b") + "/identity.key").value() == info->author);
  CHECK(store::ReadMarker(tmp.Sub("b")).value() == info->author);
  CHECK_FALSE(fs::exists(tmp.Sub("b") + "/" + store::kRestoreJournalFile));
  // Restoring again: the replica is live now.
  CHECK(Replica::Restore(tmp.Sub("b"), Plain()).status().code() == Code::kFailedPrecondition);

  auto b = OpenReplica(tmp.Sub("b"));
  CHECK_FALSE(b->is_copy());
  CHECK(b->author() == info->author);
  // The old author's feed stays (seq 1..2); the new one starts at seq 1.
  CHECK(b->GetHeads().value().at(old_author).seq == 2);
  auto c1 = b->Write([&](WriteBatch& w) { w.Set("item", r2, "title", Value("b1")); });
  REQUIRE_MESSAGE(c1.ok(), c1.status().ToString());
  CHECK(c1->author == info->author);
  CHECK(c1->first_seq == 1);
  RecordId r3 = RecordId::Generate();
  REQUIRE(WriteTitle(*b, r3, "b2").ok());
  REQUIRE(WriteTitle(*o, r1, "o6").ok());  // the original goes on too

  auto p = OpenReplica(tmp.Sub("p"));
  GiveKeys(*p);
  SyncBatch(*o, *b);
  SyncBatch(*b, *o);
  SyncBatch(*b, *p);
  SyncBatch(*o, *p);
  for (Replica* r : {o.get(), b.get(), p.get()}) {
    CHECK(inspect::Forks(*r).value().empty());
    CHECK(inspect::Pending(*r).value().empty());
    auto h = r->GetHeads().value();
    CHECK(h.at(old_author).seq == 6);
    CHECK(h.at(info->author).seq == 2);
    CHECK(r->Digest().value() == o->Digest().value());
  }
  CHECK(p->Get("item", r1)->Find("title")->value == Value("o6"));
  CHECK(p->Get("item", r3)->Find("title")->value == Value("b2"));
  CHECK(inspect::Verify(*p).value().ok());
}

TEST_CASE("Restore refuses a live replica, one open in this process, and a new identity without a passphrase") {
  TempDir tmp;
  {
    auto o = OpenReplica(tmp.Sub("o"));
    CHECK(Replica::Restore(tmp.Sub("o"), Plain()).status().code() == Code::kFailedPrecondition);
  }
  auto live = Replica::Restore(tmp.Sub("o"), Plain());
  CHECK(live.status().code() == Code::kFailedPrecondition);
  CHECK(live.status().message().find("live copy") != std::string::npos);
  CopyDir(tmp.Sub("o"), tmp.Sub("c"));
  auto none = Replica::Restore(tmp.Sub("c"), RestoreOptions{});
  CHECK(none.status().code() == Code::kFailedPrecondition);
  CHECK(none.status().message().find("passphrase") != std::string::npos);
  CHECK(Replica::Restore(tmp.Sub("nothing"), Plain()).status().code() == Code::kNotFound);
  // With a passphrase the new identity is protected by it.
  RestoreOptions pw;
  pw.passphrase = "correct horse";
  auto info = Replica::Restore(tmp.Sub("c"), pw);
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  CHECK(ReadIdentityFile(tmp.Sub("c") + "/identity.key").status().code() == Code::kFailedPrecondition);
  CHECK(ReadIdentityFile(tmp.Sub("c") + "/identity.key", pw.passphrase).value() == info->author);
}

TEST_CASE("keep_identity marks a copy live under its identity") {
  TempDir tmp;
  AuthorId a;
  {
    auto o = OpenReplica(tmp.Sub("o"));
    a = o->author();
  }
  CopyDir(tmp.Sub("o"), tmp.Sub("c"));
  RestoreOptions keep;
  keep.keep_identity = true;
  auto info = Replica::Restore(tmp.Sub("c"), keep);
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  CHECK_FALSE(info->new_identity);
  CHECK(info->author == a);
  CHECK(info->retired_identity_file.empty());
  auto c = OpenReplica(tmp.Sub("c"));
  CHECK_FALSE(c->is_copy());
  CHECK(c->author() == a);
  GiveKeys(*c);
  CHECK(WriteTitle(*c, RecordId::Generate(), "x").ok());
}

TEST_CASE("a copy made before the live-copy record existed is restored when asked") {
  TempDir tmp;
  {
    auto o = OpenReplica(tmp.Sub("o"));
  }
  CopyDir(tmp.Sub("o"), tmp.Sub("old-backup"));
  // As an older Hearth left it: no live_file record.
  REQUIRE(store::EditMeta(tmp.Sub("old-backup"), [](store::Txn& t, MDB_dbi meta) {
            return t.Del(meta, store::AsBytes(store::kMetaLiveFile));
          }).ok());
  auto info = Replica::Restore(tmp.Sub("old-backup"), Plain());
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  CHECK(info->new_identity);
  CHECK_FALSE(OpenReplica(tmp.Sub("old-backup"))->is_copy());
}

// The states a restore killed between its steps leaves behind: Open
// refuses (or sees the unchanged copy), and the next Restore finishes.
TEST_CASE("an interrupted restore is refused by Open and finished by the next Restore") {
  TempDir tmp;
  AuthorId old_author;
  {
    auto o = OpenReplica(tmp.Sub("o"));
    GiveKeys(*o);
    old_author = o->author();
    REQUIRE(WriteTitle(*o, RecordId::Generate(), "o1").ok());
  }
  const std::string next = "/identity.restore";
  const std::string retired = "/identity." + old_author.ToHex().substr(0, 16) + ".retired";

  SUBCASE("killed after writing the new identity, before the journal") {
    CopyDir(tmp.Sub("o"), tmp.Sub("c"));
    REQUIRE(CreateIdentityFile(tmp.Sub("c") + next).ok());
    auto c = OpenReplica(tmp.Sub("c"));
    CHECK(c->is_copy());
    CHECK(c->author() == old_author);
    c.reset();
    auto info = Replica::Restore(tmp.Sub("c"), Plain());
    REQUIRE_MESSAGE(info.ok(), info.status().ToString());
    CHECK(OpenReplica(tmp.Sub("c"))->author() == info->author);
  }
  for (int step = 2; step <= 4; ++step) {
    CAPTURE(step);
    const std::string dir = tmp.Sub("c" + std::to_string(step));
    CopyDir(tmp.Sub("o"), dir);
    auto made = CreateIdentityFile(dir + next);
    REQUIRE(made.ok());
    REQUIRE(store::WriteRestoreJournal(dir, {*made, old_author}).ok());
    if (step >= 3) {
      REQUIRE(::link((dir + "/identity.key").c_str(), (dir + retired).c_str()) == 0);
      REQUIRE(::rename((dir + next).c_str(), (dir + "/identity.key").c_str()) == 0);
    }
    if (step >= 4) REQUIRE(store::ReplaceMarker(dir, *made).ok());
    ReplicaOptions opts;
    opts.unencrypted_identity = true;
    auto refused = Replica::Open(dir, opts);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == Code::kFailedPrecondition);
    CHECK(refused.status().message().find("hearth restore " + dir) != std::string::npos);
    auto info = Replica::Restore(dir, Plain());
    REQUIRE_MESSAGE(info.ok(), info.status().ToString());
    CHECK(info->author == *made);
    CHECK(info->old_author == old_author);
    CHECK(ReadIdentityFile(dir + retired).value() == old_author);
    auto c = OpenReplica(dir);
    CHECK_FALSE(c->is_copy());
    CHECK(c->author() == *made);
    CHECK(WriteTitle(*c, RecordId::Generate(), "after").ok());
    CHECK(inspect::Verify(*c).value().ok());
  }
}


// Under a county root: the restored identity is a new member the root must
// add (`hearth policy add-member NEW --like OLD`: the old member's agency,
// township and roles) before it may write; the root itself cannot change
// identity.
TEST_CASE("under a county root the restored identity writes once the root added it like the old member") {
  TempDir tmp;
  auto opts = testing::TestOptions;
  auto root = Replica::Open(tmp.Sub("root"), opts(std::nullopt, true)).value();
  const AuthorId rk = root->author();
  auto hr = Replica::Open(tmp.Sub("hr"), opts(rk, false)).value();
  Policy policy;
  REQUIRE(policy.AddScope({kScopeA, 1, "a"}).ok());
  REQUIRE(policy.AddMember({hr->author(), "county HR bureau", "hr", "城厢镇", {"labour_inspector"}, std::nullopt}).ok());
  REQUIRE(policy.AddGrant({"hr", "", kScopeA, Right::kRead | Right::kWrite}).ok());
  REQUIRE(root->PublishPolicy(policy).ok());
  SyncBatch(*root, *hr);
  RecordId id = RecordId::Generate();
  REQUIRE(WriteTitle(*hr, id, "h1").ok());
  REQUIRE(inspect::Backup(*hr, tmp.Sub("hr-backup")).ok());
  REQUIRE(WriteTitle(*hr, id, "h2").ok());

  auto info = Replica::Restore(tmp.Sub("hr-backup"), Plain());
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  REQUIRE(info->root);
  CHECK(*info->root == rk);
  auto b = Replica::Open(tmp.Sub("hr-backup"), opts(rk, false)).value();
  CHECK(b->author() == info->author);
  // Not a member yet: refused, nothing written.
  auto w = b->Write([&](WriteBatch& x) { x.Set("item", id, "title", Value("b1")); });
  REQUIRE_FALSE(w.ok());
  CHECK(w.status().code() == Code::kPermissionDenied);
  CHECK(b->GetHeads().value().count(info->author) == 0);

  // The root adds it like the old member (which stays: the original may be live).
  const Member* old_m = policy.FindMember(info->old_author);
  REQUIRE(old_m != nullptr);
  Member m = *old_m;
  m.key = info->author;
  m.name += " (restored)";
  REQUIRE(policy.AddMember(m).ok());
  policy.set_version(2);
  REQUIRE(root->PublishPolicy(policy).ok());
  SyncBatch(*root, *b);
  REQUIRE(WriteTitle(*b, id, "b1").ok());

  for (int round = 0; round < 2; ++round) {
    for (Replica* from : {root.get(), hr.get(), b.get()}) {
      for (Replica* to : {root.get(), hr.get(), b.get()}) {
        if (from != to) SyncBatch(*from, *to);
      }
    }
  }
  for (Replica* r : {root.get(), hr.get(), b.get()}) {
    CHECK(inspect::Forks(*r).value().empty());
    CHECK(inspect::Denied(*r).value().empty());
    CHECK(r->Digest().value() == hr->Digest().value());
  }
  CHECK(hr->Get("item", id)->Find("title")->value == Value("b1"));
  CHECK(hr->GetHeads().value().at(info->old_author).seq == 2);

  // A copy of the root: no new identity, only keep_identity.
  REQUIRE(inspect::Backup(*root, tmp.Sub("root-backup")).ok());
  auto refused = Replica::Restore(tmp.Sub("root-backup"), Plain());
  CHECK(refused.status().code() == Code::kFailedPrecondition);
  CHECK(refused.status().message().find("--keep-identity") != std::string::npos);
  {
    auto rb = Replica::Open(tmp.Sub("root-backup"), opts(std::nullopt, true)).value();
    policy.set_version(3);
    CHECK(rb->PublishPolicy(policy).status().code() == Code::kFailedPrecondition);
    CHECK(rb->ListKeys().value().size() == 1);
  }
  RestoreOptions keep;
  keep.keep_identity = true;
  auto kept = Replica::Restore(tmp.Sub("root-backup"), keep);
  REQUIRE(kept.ok());
  CHECK(kept->author == rk);
  auto rb = Replica::Open(tmp.Sub("root-backup"), opts(std::nullopt, true)).value();
  CHECK_FALSE(rb->is_copy());
}

}  // namespace
}  // namespace hearth
