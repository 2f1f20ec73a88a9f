// Access control with real keys and real replicas: policy deltas, key
// envelopes, write enforcement, revocation by feed position, key rotation,
// order independence, and the plaintext canary.
#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "hearth/inspect.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using testing::TempDir;

// The county of the tests: a root (administrator) and four agencies.
struct County {
  TempDir tmp;
  std::unique_ptr<Replica> root, hr, un, civil, town;
  Policy policy;

  static ReplicaOptions Options(std::optional<AuthorId> root_key, bool is_root = false) {
    ReplicaOptions o;
    o.schema = testing::TestSchema();
    o.durability = Durability::kNoSync;
    o.unencrypted_identity = true;
    o.root = root_key;
    o.is_root = is_root;
    return o;
  }

  County() {
    root = Open("root", std::nullopt, true);
    const AuthorId r = root->author();
    hr = Open("hr", r);
    un = Open("union", r);
    civil = Open("civil", r);
    town = Open("township", r);
    policy.set_county("天全县");
    REQUIRE(policy.AddScope({"test.a", 1, "records of agency a (read: hr, civil; write: hr)"}).ok());
    REQUIRE(policy.AddScope({"test.b", 1, "records of agency b"}).ok());
    REQUIRE(policy.AddMember({hr->author(), "county HR bureau", "hr", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({un->author(), "county union", "union", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({civil->author(), "civil affairs", "civil", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({town->author(), "城厢镇 office", "township", "城厢镇", {"child_care"}, std::nullopt}).ok());
    REQUIRE(policy.AddGrant({"hr", "", "test.a", Right::kRead | Right::kWrite}).ok());
    REQUIRE(policy.AddGrant({"civil", "", "test.b", Right::kRead | Right::kWrite}).ok());
    REQUIRE(policy.AddGrant({"", "child_care", "test.b", Right::kRead | Right::kWrite}).ok());
    REQUIRE(policy.AddGrant({"township", "", "test.a", Right::kRelay}).ok());
    REQUIRE(policy.AddGrant({"hr", "", "test.b", Right::kRelay}).ok());
    REQUIRE(policy.AddGrant({"union", "", "test.a", Right::kRelay}).ok());
  }

  std::unique_ptr<Replica> Open(const std::string& name, std::optional<AuthorId> r, bool is_root = false) {
    auto rep = Replica::Open(tmp.Sub(name), Options(r, is_root));
    REQUIRE_MESSAGE(rep.ok(), rep.status().ToString());
    return std::move(rep).value();
  }

  // A replica with the union's identity that obeys no root (a tampered
  // build) and holds a stolen key for `scope`, taken from `key_holder`.
  std::unique_ptr<Replica> RogueUnion(Replica& key_holder, const std::string& scope) {
    std::string dir = tmp.Sub("rogue");
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(tmp.Sub("union/identity.key"), dir + "/identity.key");
    auto rogue = Open("rogue", std::nullopt);
    REQUIRE(rogue->author() == un->author());
    REQUIRE(rogue->ImportKeyring(*key_holder.ExportKeyring({scope})).ok());
    return rogue;
  }

  std::vector<Replica*> all() { return {root.get(), hr.get(), un.get(), civil.get(), town.get()}; }

  void Publish() {
    auto c = root->PublishPolicy(policy);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  }

  // Full mesh until nothing moves.
  void SyncAll() {
    for (bool moved = true; moved;) {
      moved = false;
      for (Replica* from : all()) {
        for (Replica* to : all()) {
          if (from == to) continue;
          auto d = from->DeltasSince(to->GetHeads().value());
          REQUIRE(d.ok());
          for (const Bytes& b : *d) {
            auto r = to->Apply(b);
            REQUIRE_MESSAGE(r.ok(), r.status().ToString());
            moved = true;
          }
        }
      }
    }
  }
};

TEST_CASE("policy reaches every replica and key envelopes give readers their keys") {
  County c;
  c.Publish();
  c.SyncAll();
  for (Replica* r : c.all()) {
    auto p = r->CurrentPolicy().value();
    REQUIRE(p.has_value());
    CHECK(p->version() == 1);
    CHECK(*p == c.policy);
  }
  // hr reads test.a, civil and the township's child_care staff read test.b.
  RecordId a = RecordId::Generate(), b = RecordId::Generate();
  REQUIRE(c.hr->Write([&](WriteBatch& w) { w.Set("item", a, "title", "wage case 17"); }).ok());
  REQUIRE(c.civil->Write([&](WriteBatch& w) { w.Set("other", b, "name", "王小明"); }).ok());
  c.SyncAll();
  CHECK(c.hr->Get("item", a).ok());
  CHECK(c.town->Get("other", b)->Find("name")->value == Value("王小明"));
  // HR stores and relays the children's scope but cannot read it.
  CHECK(c.hr->Get("other", b).status().code() == Code::kNotFound);
  CHECK(c.hr->GetHeads().value().at(c.civil->author()).seq == 1);
  CHECK(c.civil->Get("item", a).status().code() == Code::kNotFound);
  // The union may write neither.
  auto w = c.un->Write([&](WriteBatch& x) { x.Set("item", RecordId::Generate(), "title", "x"); });
  REQUIRE_FALSE(w.ok());
  CHECK(w.status().code() == Code::kPermissionDenied);
  for (Replica* r : c.all()) CHECK(inspect::CheckConsistency(*r).ok());
}

TEST_CASE("a write without a grant is refused by every replica, whenever it arrives") {
  County c;
  c.Publish();
  c.SyncAll();
  // The union node writes a wage case anyway.
  auto rogue = c.RogueUnion(*c.hr, "test.a");
  RecordId id = RecordId::Generate();
  REQUIRE(rogue->Write([&](WriteBatch& w) { w.Set("item", id, "title", "forged wage case"); }).ok());
  auto forged = rogue->DeltasSince({});
  REQUIRE(forged->size() == 1);

  auto hr_digest = c.hr->Digest().value();
  auto r = c.hr->Apply(forged->at(0));
  REQUIRE(r.ok());
  CHECK(r->outcome == ApplyOutcome::kDenied);
  CHECK(r->reason.find("no write grant for scope test.a") != std::string::npos);
  CHECK(c.hr->Get("item", id).status().code() == Code::kNotFound);
  CHECK(c.hr->Digest().value() == hr_digest);
  auto denied = inspect::Denied(*c.hr).value();
  REQUIRE(denied.size() == 1);
  CHECK(denied[0].author == c.un->author());
  CHECK(denied[0].scope == "test.a");

  // A replica that gets the forged delta before any policy refuses it too
  // (no policy yet), and still refuses it once the policy arrives.
  auto late = c.Open("late", c.root->author());
  auto first = late->Apply(forged->at(0));
  REQUIRE(first.ok());
  CHECK(first->outcome == ApplyOutcome::kDenied);
  CHECK(first->reason.find("no policy") != std::string::npos);
  auto rd = c.root->DeltasSince({});
  for (const Bytes& d : *rd) REQUIRE(late->Apply(d).ok());
  REQUIRE(late->ImportKeyring(*c.hr->ExportKeyring({"test.a"})).ok());
  CHECK(late->Get("item", id).status().code() == Code::kNotFound);
  CHECK(inspect::Denied(*late).value().size() == 1);
  CHECK(inspect::Denied(*late).value()[0].reason.find("no write grant") != std::string::npos);
  CHECK(inspect::CheckConsistency(*late).ok());
}

TEST_CASE("a grant added later admits the deltas written before it, on every replica") {
  County c;
  c.Publish();
  c.SyncAll();
  // The union writes test.b with a key it should not have yet.
  auto rogue = c.RogueUnion(*c.civil, "test.b");
  RecordId id = RecordId::Generate();
  REQUIRE(rogue->Write([&](WriteBatch& w) { w.Increment("other", id, "n", 5); }).ok());
  Bytes d = rogue->DeltasSince({})->at(0);
  CHECK(c.civil->Apply(d)->outcome == ApplyOutcome::kDenied);
  // Policy v2 grants the union write on test.b: the held delta now counts.
  c.policy.set_version(2);
  REQUIRE(c.policy.AddGrant({"union", "", "test.b", Right::kWrite}).ok());
  c.Publish();
  c.SyncAll();
  CHECK(c.civil->Get("other", id)->Find("n")->count == 5);
  CHECK(inspect::Denied(*c.civil).value().empty());
  CHECK(c.town->Get("other", id)->Find("n")->count == 5);
  CHECK(c.civil->Digest().value() == c.town->Digest().value());
  CHECK(inspect::CheckConsistency(*c.civil).ok());
}

TEST_CASE("revocation by feed position: before N kept, after N refused; new epoch unreadable to the revoked") {
  County c;
  c.Publish();
  c.SyncAll();
  RecordId id = RecordId::Generate();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.town->Write([&](WriteBatch& w) { w.Increment("other", id, "n", 1); }).ok());
  }
  c.SyncAll();
  const uint64_t n = c.town->GetHeads().value().at(c.town->author()).seq;
  CHECK(n == 3);
  // The township keeps writing offline, unaware of the revocation.
  for (int i = 0; i < 2; ++i) {
    REQUIRE(c.town->Write([&](WriteBatch& w) { w.Increment("other", id, "n", 10); }).ok());
  }
  // The administrator revokes the township office after its seq 3.
  c.policy.set_version(2);
  REQUIRE(c.policy.Revoke(c.town->author(), n).ok());
  CHECK(c.policy.FindScope("test.b")->epoch == 2);
  CHECK(c.policy.FindScope("test.a")->epoch == 1);  // it could not read test.a
  c.Publish();
  c.SyncAll();
  CHECK(c.civil->Get("other", id)->Find("n")->count == 3);
  auto denied = inspect::Denied(*c.civil).value();
  REQUIRE(denied.size() == 2);
  CHECK(denied[0].seq == 4);
  CHECK(denied[0].reason.find("revoked after seq 3") != std::string::npos);
  // Later writes use epoch 2, sealed only to the remaining readers.
  REQUIRE(c.civil->Write([&](WriteBatch& w) { w.Set("other", id, "name", "after rotation"); }).ok());
  c.SyncAll();
  CHECK(c.root->Get("other", id)->Find("name")->value == Value("after rotation"));
  CHECK_FALSE(c.town->Get("other", id)->Find("name"));  // epoch-2 delta unreadable there
  auto w = c.town->Write([&](WriteBatch& x) { x.Increment("other", id, "n", 1); });
  CHECK(w.status().code() == Code::kPermissionDenied);
  CHECK(c.civil->Digest().value() == c.root->Digest().value());
  for (Replica* r : c.all()) CHECK(inspect::CheckConsistency(*r).ok());
}

TEST_CASE("the same deltas in any order give the same accepted set and digest") {
  County c;
  c.Publish();
  c.SyncAll();
  RecordId id = RecordId::Generate();
  REQUIRE(c.hr->Write([&](WriteBatch& w) { w.Set("item", id, "title", "v1"); }).ok());
  REQUIRE(c.civil->Write([&](WriteBatch& w) { w.Increment("other", id, "n", 2); }).ok());
  REQUIRE(c.town->Write([&](WriteBatch& w) { w.Increment("other", id, "n", 3); }).ok());
  c.SyncAll();
  REQUIRE(c.town->Write([&](WriteBatch& w) { w.Increment("other", id, "n", 30); }).ok());  // after revocation
  c.policy.set_version(2);
  REQUIRE(c.policy.Revoke(c.town->author(), 1).ok());
  c.Publish();
  REQUIRE(c.civil->Write([&](WriteBatch& w) { w.Increment("other", id, "n", 4); }).ok());  // epoch 1 still
  c.SyncAll();
  REQUIRE(c.civil->Write([&](WriteBatch& w) { w.Increment("other", id, "n", 100); }).ok());  // epoch 2
  c.SyncAll();

  std::vector<Bytes> everything = *c.root->DeltasSince({});
  auto keyring = c.root->ExportKeyring();
  std::mt19937_64 rng(testing::BaseSeed());
  std::optional<Hash32> digest;
  std::vector<DeniedDelta> denied0;
  for (int trial = 0; trial < 5; ++trial) {
    CAPTURE(trial);
    auto r = c.Open("fresh" + std::to_string(trial), c.root->author());
    if (trial % 2) REQUIRE(r->ImportKeyring(*keyring).ok());  // before or after the deltas
    std::vector<Bytes> order = everything;
    std::shuffle(order.begin(), order.end(), rng);
    for (const Bytes& d : order) REQUIRE(r->Apply(d).ok());
    if (trial % 2 == 0) REQUIRE(r->ImportKeyring(*keyring).ok());
    CHECK(r->Get("other", id)->Find("n")->count == 2 + 3 + 4 + 100);
    CHECK(inspect::CheckConsistency(*r).ok());
    auto dg = r->Digest().value();
    auto den = inspect::Denied(*r).value();
    if (!digest) {
      digest = dg;
      denied0 = den;
    }
    CHECK(dg == *digest);
    REQUIRE(den.size() == denied0.size());
    for (size_t i = 0; i < den.size(); ++i) CHECK(den[i].seq == denied0[i].seq);
  }
  CHECK(*digest == c.root->Digest().value());
}

bool FileContains(const std::string& path, const std::string& needle) {
  std::ifstream f(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return data.find(needle) != std::string::npos;
}

TEST_CASE("canary: no plaintext of a scope in the files of a replica without its key") {
  County c;
  c.Publish();
  c.SyncAll();
  const std::string canary = "CANARY-王小明-guardian-13800000000";
  RecordId id = RecordId::Generate();
  REQUIRE(c.civil->Write([&](WriteBatch& w) {
                 w.Set("other", id, "name", canary);
               }).ok());
  c.SyncAll();
  // The readers hold it in the clear in their state; HR relays it.
  CHECK(c.town->Get("other", id)->Find("name")->value == Value(canary));
  CHECK(c.hr->GetHeads().value().at(c.civil->author()).seq == 1);
  for (const auto& entry : std::filesystem::directory_iterator(c.tmp.Sub("hr"))) {
    CAPTURE(entry.path().string());
    CHECK_FALSE(FileContains(entry.path().string(), canary));
    CHECK_FALSE(FileContains(entry.path().string(), "王小明"));
  }
  for (const auto& entry : std::filesystem::directory_iterator(c.tmp.Sub("union"))) {
    CHECK_FALSE(FileContains(entry.path().string(), canary));
  }
}

TEST_CASE("a passphrase protects the identity at rest") {
  TempDir tmp;
  ReplicaOptions o;
  o.schema = testing::TestSchema();
  o.durability = Durability::kNoSync;
  {
    auto none = Replica::Open(tmp.Sub("a"), o);
    REQUIRE_FALSE(none.ok());
    CHECK(none.status().code() == Code::kFailedPrecondition);
  }
  o.passphrase = "correct horse battery staple";
  AuthorId who;
  {
    auto r = Replica::Open(tmp.Sub("b"), o);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    who = (*r)->author();
  }
  std::ifstream f(tmp.Sub("b/identity.key"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(bytes.size() == 144);
  CHECK(static_cast<uint8_t>(bytes[7]) == 1);
  ReplicaOptions wrong = o;
  wrong.passphrase = "wrong";
  auto bad = Replica::Open(tmp.Sub("b"), wrong);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kUnauthenticated);
  ReplicaOptions missing = o;
  missing.passphrase.reset();
  auto locked = Replica::Open(tmp.Sub("b"), missing);
  REQUIRE_FALSE(locked.ok());
  CHECK(locked.status().code() == Code::kFailedPrecondition);
  CHECK(locked.status().message().find("pass a passphrase") != std::string::npos);
  // The library reads no environment variable for it (the tools do).
  CHECK(locked.status().message().find("HEARTH_PASSPHRASE") == std::string::npos);
  ::setenv("HEARTH_PASSPHRASE", "correct horse battery staple", 1);
  auto still_locked = Replica::Open(tmp.Sub("b"), missing);
  ::unsetenv("HEARTH_PASSPHRASE");
  CHECK(still_locked.status().code() == Code::kFailedPrecondition);
  auto ok = Replica::Open(tmp.Sub("b"), o);
  REQUIRE(ok.ok());
  CHECK((*ok)->author() == who);
}

TEST_CASE("only the root publishes policy; a root-less replica cannot be re-rooted") {
  County c;
  auto r = c.hr->PublishPolicy(c.policy);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kPermissionDenied);
  c.Publish();
  auto again = c.root->PublishPolicy(c.policy);  // same version
  CHECK(again.status().code() == Code::kInvalidArgument);
  c.hr.reset();
  ReplicaOptions o = County::Options(c.un->author());
  auto other_root = Replica::Open(c.tmp.Sub("hr"), o);
  REQUIRE_FALSE(other_root.ok());
  CHECK(other_root.status().code() == Code::kFailedPrecondition);
}

// Change feed and history under a policy (include/hearth/changes.hpp).
TEST_CASE("changes and history under a policy: member names, denied deltas, re-derivation") {
  County c;
  c.Publish();
  c.SyncAll();
  RecordId id = RecordId::Generate();
  REQUIRE(c.civil->Write([&](WriteBatch& w) { w.Set("other", id, "name", "王小明"); }).ok());
  c.SyncAll();
  auto h = c.town->History("other", id);
  REQUIRE(h.ok());
  REQUIRE(h->size() == 1);
  CHECK(h->at(0).author == c.civil->author());
  CHECK(h->at(0).author_name == "civil affairs");
  // HR relays test.b but cannot read it: no history, no change.
  CHECK(c.hr->History("other", id)->empty());
  for (const Change& ch : c.hr->Changes(0).value()) CHECK(ch.collection != "other");

  // A denied delta changes nothing and lists nothing ...
  auto rogue = c.RogueUnion(*c.civil, "test.b");
  REQUIRE(rogue->Write([&](WriteBatch& w) { w.Increment("other", id, "n", 5); }).ok());
  Bytes d = rogue->DeltasSince({})->at(0);
  const uint64_t before = c.civil->LastChangeNumber().value();
  CHECK(c.civil->Apply(d)->outcome == ApplyOutcome::kDenied);
  CHECK(c.civil->LastChangeNumber().value() == before);
  CHECK(c.civil->History("other", id)->size() == 1);
  // ... until a policy admits it: the re-derivation is a change.
  c.policy.set_version(2);
  REQUIRE(c.policy.AddGrant({"union", "", "test.b", Right::kWrite}).ok());
  c.Publish();
  c.SyncAll();
  auto after = c.civil->Changes(before).value();
  auto it = std::find_if(after.begin(), after.end(), [&](const Change& ch) { return ch.id == id; });
  REQUIRE(it != after.end());
  CHECK(it->rederived);
  CHECK(it->fields == std::vector<std::string>{"n"});
  CHECK(it->author == c.root->author());
  auto h2 = c.civil->History("other", id).value();
  REQUIRE(h2.size() == 2);
  CHECK(h2[1].author == c.un->author());
  CHECK(h2[1].author_name == "county union");
  CHECK(h2[1].operation == "counter");
  CHECK(h2[1].p == 5);
  CHECK(c.hr->History("other", id)->empty());
  for (Replica* r : c.all()) CHECK(inspect::CheckConsistency(*r).ok());
}

}  // namespace
}  // namespace hearth
