// Partitioned scopes on real replicas (docs/policy.md, "Partitioned
// scopes"): test.a is partitioned by township (城厢镇, 始阳镇). Each township
// office reads and writes its own township's items only; the labour bureau
// (hr) and civil affairs read every township's; the union has no right on
// test.a. Checks: ids, commit splitting and refusal, per-partition keys and
// envelopes, apply-side denial, and that the verdicts do not depend on the
// order deltas arrive in.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "codec/codec.hpp"
#include "feed/delta.hpp"
#include "hearth/inspect.hpp"
#include "hearth/policy.hpp"
#include "hearth/replica.hpp"
#include "support/node_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using testing::TempDir;

constexpr const char* kA = "城厢镇";
constexpr const char* kB = "始阳镇";

struct County {
  TempDir tmp;
  std::unique_ptr<Replica> root, town_a, town_b, hr, civil, un;
  Policy policy;

  County() {
    root = testing::OpenMember(tmp.Sub("root"), std::nullopt, true);
    const AuthorId r = root->author();
    town_a = testing::OpenMember(tmp.Sub("a"), r);
    town_b = testing::OpenMember(tmp.Sub("b"), r);
    hr = testing::OpenMember(tmp.Sub("hr"), r);
    civil = testing::OpenMember(tmp.Sub("civil"), r);
    un = testing::OpenMember(tmp.Sub("union"), r);
    auto parsed = Policy::Parse(std::string(R"(format = 1
version = 1
county = "天全县"

[scopes."test.a"]
partitioned_by = "township"
partitions = ["城厢镇", "始阳镇"]

[scopes."test.b"]

[[grants]]
agency = "township"
scope = "test.a"
partition = "own"
rights = ["read", "write"]

[[grants]]
agency = "hr"
scope = "test.a"
rights = ["read"]

[[grants]]
agency = "civil"
scope = "test.a"
rights = ["read", "write"]

[[grants]]
agency = "union"
scope = "test.b"
rights = ["read", "write"]
)"));
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
    policy = *parsed;
    REQUIRE(policy.AddMember({town_a->author(), "城厢镇 office", "township", kA, {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({town_b->author(), "始阳镇 office", "township", kB, {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({hr->author(), "labour bureau", "hr", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({civil->author(), "civil affairs", "civil", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({un->author(), "union", "union", "", {}, std::nullopt}).ok());
    auto c = root->PublishPolicy(policy);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    for (Replica* to : All()) testing::CopyDeltas(*root, *to);
  }
  std::vector<Replica*> All() { return {town_a.get(), town_b.get(), hr.get(), civil.get(), un.get()}; }
};

bool HasKey(const Replica& r, const std::string& scope) {
  auto keys = r.ListKeys();
  REQUIRE(keys.ok());
  return std::any_of(keys->begin(), keys->end(), [&](const ScopeEpoch& k) { return k.scope == scope; });
}

Result<CommitInfo> WriteItem(Replica& r, const RecordId& id, const std::string& title) {
  return r.Write([&](WriteBatch& w) { w.Set("item", id, "title", Value(title)); });
}

std::string HeaderScope(const Replica& r, uint64_t seq) {
  auto d = r.GetDelta(r.author(), seq);
  REQUIRE(d.ok());
  auto p = feed::ParseDelta(*d);
  REQUIRE(p.ok());
  return p->header.scope;
}

TEST_CASE("partitions: ids carry their partition's prefix; the policy finds the partition from the id alone") {
  // The test vector of docs/policy.md, "A record's partition is its id's prefix".
  CHECK(PartitionPrefix(kA) == std::array<uint8_t, 4>{0x12, 0x65, 0x8d, 0xe1});
  CHECK(PartitionPrefix(kB) == std::array<uint8_t, 4>{0xe5, 0x29, 0x2d, 0x8e});
  const RecordId a = NewRecordIdIn(kA), b = NewRecordIdIn(kB);
  CHECK(RecordInPartition(a, kA));
  CHECK_FALSE(RecordInPartition(a, kB));
  CHECK(RecordInPartition(b, kB));
  CHECK(NewRecordIdIn(kA) != a);  // the other 12 bytes stay unique
  County c;
  CHECK(c.policy.PartitionOf("test.a", a) == std::optional<std::string>(kA));
  CHECK(c.policy.PartitionOf("test.a", b) == std::optional<std::string>(kB));
  CHECK_FALSE(c.policy.PartitionOf("test.b", a));
  std::vector<std::string> want = {"test.a/始阳镇", "test.a/城厢镇", "test.b"};
  std::vector<std::string> got = c.policy.KeyScopes();
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  CHECK(got == want);
}

TEST_CASE("partitions: a township office writes and reads its own township only; hr and civil read all") {
  County c;
  // Keys: one per partition, sealed only to who may read it.
  CHECK(HasKey(*c.town_a, "test.a/城厢镇"));
  CHECK_FALSE(HasKey(*c.town_a, "test.a/始阳镇"));
  CHECK(HasKey(*c.town_b, "test.a/始阳镇"));
  CHECK_FALSE(HasKey(*c.town_b, "test.a/城厢镇"));
  for (Replica* r : {c.hr.get(), c.civil.get()}) {
    CHECK(HasKey(*r, "test.a/城厢镇"));
    CHECK(HasKey(*r, "test.a/始阳镇"));
  }
  CHECK_FALSE(HasKey(*c.un, "test.a/城厢镇"));
  CHECK_FALSE(HasKey(*c.un, "test.a/始阳镇"));
  CHECK_FALSE(HasKey(*c.hr, "test.a"));  // a partitioned scope has no county-wide key

  const RecordId in_a = NewRecordIdIn(kA), in_b = NewRecordIdIn(kB);
  auto w = WriteItem(*c.town_a, in_a, "child of 城厢镇");
  REQUIRE_MESSAGE(w.ok(), w.status().ToString());
  CHECK(HeaderScope(*c.town_a, w->first_seq) == "test.a/城厢镇");
  // Into the other township: refused before anything is written.
  auto head_before = c.town_a->GetHeads().value();
  auto other = WriteItem(*c.town_a, in_b, "not mine");
  CHECK(other.status().code() == Code::kPermissionDenied);
  CHECK(other.status().message().find("test.a/始阳镇") != std::string::npos);
  // An id in no partition: refused, naming the way to mint one.
  auto stray = WriteItem(*c.town_a, RecordId::Generate(), "stray");
  CHECK(stray.status().code() == Code::kInvalidArgument);
  CHECK(stray.status().message().find("NewRecordIdIn") != std::string::npos);
  CHECK(c.town_a->GetHeads().value() == head_before);
  REQUIRE(WriteItem(*c.town_b, in_b, "child of 始阳镇").ok());

  // A batch spanning partitions becomes one delta per partition.
  const RecordId more_a = NewRecordIdIn(kA), more_b = NewRecordIdIn(kB);
  auto both = c.civil->Write([&](WriteBatch& b) {
    b.Set("item", more_a, "title", Value("civil in 城厢镇"));
    b.Set("item", more_b, "title", Value("civil in 始阳镇"));
  });
  REQUIRE_MESSAGE(both.ok(), both.status().ToString());
  CHECK(both->last_seq == both->first_seq + 1);
  std::vector<std::string> scopes = {HeaderScope(*c.civil, both->first_seq), HeaderScope(*c.civil, both->last_seq)};
  std::sort(scopes.begin(), scopes.end());
  CHECK(scopes == std::vector<std::string>{"test.a/城厢镇", "test.a/始阳镇"});  // bytewise order

  // Everyone gets everything (as a relay would carry it).
  for (int round = 0; round < 2; ++round) {
    for (Replica* from : c.All()) {
      for (Replica* to : c.All()) {
        if (from != to) testing::CopyDeltas(*from, *to);
      }
    }
  }
  CHECK(c.town_a->Get("item", in_a).ok());
  CHECK(c.town_a->Get("item", more_a).ok());
  CHECK(c.town_a->Get("item", in_b).status().code() == Code::kNotFound);  // held, unreadable
  CHECK(c.town_a->Get("item", more_b).status().code() == Code::kNotFound);
  CHECK(c.town_b->Get("item", in_a).status().code() == Code::kNotFound);
  CHECK(c.town_b->Get("item", in_b).ok());
  for (Replica* r : {c.hr.get(), c.civil.get()}) {
    for (const RecordId& id : {in_a, in_b, more_a, more_b}) CHECK(r->Get("item", id).ok());
  }
  for (const RecordId& id : {in_a, in_b}) CHECK(c.un->Get("item", id).status().code() == Code::kNotFound);
  for (Replica* r : c.All()) {
    CHECK(inspect::Denied(*r).value().empty());
    CHECK(inspect::CheckConsistency(*r).ok());
  }
}

// A delta M signs and chains by hand: the forger's way past Commit's checks.
struct Hand {
  crypto::SigningKeyPair id;
  uint64_t seq = 0;
  crypto::Hash prev{};
  Bytes Sign(const std::string& scope, uint32_t epoch, const crypto::SecretBytes& key, const RecordId& rec,
             crdt::Hlc hlc) {
    crdt::Op op;
    op.field = "title";
    op.kind = crdt::OpKind::kLwwSet;
    op.hlc = hlc;
    op.value = Value(std::string("forged"));
    std::vector<crdt::RecordOps> recs{crdt::RecordOps{"item", rec, {op}}};
    feed::DeltaHeader h;
    h.author = id.public_key;
    h.scope = scope;
    h.epoch = epoch;
    h.seq = ++seq;
    h.prev = prev;
    h.hlc_min = h.hlc_max = hlc;
    h.op_count = 1;
    auto d = feed::SealDeltaPlaintext(feed::kDeltaFormatV1, h, codec::EncodePayload(recs), key, id);
    REQUIRE(d.ok());
    prev = feed::ParseDelta(*d)->hash;
    return *d;
  }
};

TEST_CASE("partitions: writes outside the author's partition are denied identically in any arrival order") {
  County c;
  const RecordId in_a = NewRecordIdIn(kA), in_b = NewRecordIdIn(kB);
  REQUIRE(WriteItem(*c.town_b, in_b, "始阳镇's own").ok());
  Hand m{testing::MemberIdentity(*c.town_a)};
  m.seq = c.town_a->GetHeads().value()[c.town_a->author()].seq;
  auto own_key = testing::HeldScopeKey(*c.town_a, "test.a/城厢镇", 1);
  REQUIRE(own_key);
  const crdt::Hlc t0 = crdt::MakeHlc(1'800'000'000'000ull, 0);
  std::vector<Bytes> forged;
  // 1. Its own partition's header and key, the other partition's record.
  forged.push_back(m.Sign("test.a/城厢镇", 1, *own_key, in_b, t0 + 1));
  // 2. The other partition's header (a random key: it holds none).
  forged.push_back(m.Sign("test.a/始阳镇", 1, crypto::RandomAeadKey(), in_b, t0 + 2));
  // 3. The plain name of the partitioned scope.
  forged.push_back(m.Sign("test.a", 1, *own_key, in_a, t0 + 3));
  // 4. An honest one after them: still applies.
  forged.push_back(m.Sign("test.a/城厢镇", 1, *own_key, in_a, t0 + 4));

  std::vector<Bytes> all = c.town_b->DeltasSince({}).value();
  const std::vector<Bytes> root_deltas = c.root->DeltasSince({}).value();
  all.insert(all.end(), forged.begin(), forged.end());

  TempDir tmp;
  auto v1 = testing::OpenMember(tmp.Sub("v1"), c.root->author());
  auto v2 = testing::OpenMember(tmp.Sub("v2"), c.root->author());
  Policy p = c.policy;
  p.set_version(2);
  REQUIRE(p.AddMember({v1->author(), "civil 1", "civil", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddMember({v2->author(), "civil 2", "civil", "", {}, std::nullopt}).ok());
  REQUIRE(c.root->PublishPolicy(p).ok());
  std::vector<Bytes> policy_deltas = c.root->DeltasSince({}).value();
  // v1: policy first, then the deltas in order; v2: the deltas in reverse
  // (feeds wait for their gaps), the policy last.
  for (const Bytes& d : policy_deltas) REQUIRE(v1->Apply(d).ok());
  for (const Bytes& d : all) REQUIRE(v1->Apply(d).ok());
  for (auto it = all.rbegin(); it != all.rend(); ++it) REQUIRE(v2->Apply(*it).ok());
  for (const Bytes& d : policy_deltas) REQUIRE(v2->Apply(d).ok());

  auto verdicts = [](const Replica& r) {
    std::vector<std::string> out;
    for (const DeniedDelta& d : inspect::Denied(r).value()) out.push_back(std::to_string(d.seq) + " " + d.reason);
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto v = verdicts(*v1);
  CHECK(v == verdicts(*v2));
  REQUIRE(v.size() == 3);
  CHECK(v[0].find("not in partition 城厢镇") != std::string::npos);
  CHECK(v[1].find("no write grant for scope test.a/始阳镇") != std::string::npos);
  CHECK(v[2].find("is partitioned") != std::string::npos);
  CHECK(v1->Digest().value() == v2->Digest().value());
  for (Replica* r : {v1.get(), v2.get()}) {
    auto b = r->Get("item", in_b);
    REQUIRE(b.ok());
    CHECK(b->Find("title")->value == Value(std::string("始阳镇's own")));
    auto a = r->Get("item", in_a);
    REQUIRE(a.ok());  // the honest delta after the forged ones applied
    CHECK(a->Find("title")->value == Value(std::string("forged")));
    CHECK(inspect::CheckConsistency(*r).ok());
  }
  (void)root_deltas;
}

TEST_CASE("partitions: policy text is bounded and checked") {
  auto parse = [](const std::string& scopes_and_grants) {
    return Policy::Parse("format = 1\nversion = 1\n" + scopes_and_grants);
  };
  CHECK(parse("[scopes.s]\npartitions = [\"a\", \"a\"]\n").status().code() == Code::kInvalidArgument);
  CHECK(parse("[scopes.s]\npartitions = [\"a/b\"]\n").status().code() == Code::kInvalidArgument);
  CHECK(parse("[scopes.s]\npartitions = [\"\"]\n").status().code() == Code::kInvalidArgument);
  CHECK(parse("[scopes.s]\npartitions = [\"\xff\"]\n").status().code() == Code::kInvalidArgument);
  CHECK(parse("[scopes.s]\npartitions = [\"" + std::string(65, 'x') + "\"]\n").status().code() ==
        Code::kInvalidArgument);
  CHECK(parse("[scopes.s]\npartitioned_by = \"township\"\n").status().code() == Code::kInvalidArgument);
  CHECK(parse("[scopes.s]\npartitions = 3\n").status().code() == Code::kInvalidArgument);
  // Grants: "own" or a list of declared partitions, only on a partitioned scope.
  const std::string s = "[scopes.s]\npartitions = [\"a\", \"b\"]\n[scopes.t]\n";
  CHECK(parse(s + "[[grants]]\nagency = \"x\"\nscope = \"s\"\npartition = \"mine\"\nrights = [\"read\"]\n")
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(parse(s + "[[grants]]\nagency = \"x\"\nscope = \"s\"\npartitions = [\"c\"]\nrights = [\"read\"]\n")
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(parse(s + "[[grants]]\nagency = \"x\"\nscope = \"t\"\npartition = \"own\"\nrights = [\"read\"]\n")
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(parse(s + "[[grants]]\nagency = \"x\"\nscope = \"s\"\npartition = \"own\"\npartitions = [\"a\"]\n"
                  "rights = [\"read\"]\n")
            .status()
            .code() == Code::kInvalidArgument);
  auto ok = parse(s + "[[grants]]\nagency = \"x\"\nscope = \"s\"\npartitions = [\"b\", \"a\"]\nrights = [\"read\"]\n"
                      "[[grants]]\nrole = \"y\"\nscope = \"s\"\npartition = \"own\"\nrights = [\"write\"]\n");
  REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
  auto again = Policy::Parse(ok->ToToml());
  REQUIRE(again.ok());
  CHECK(*again == *ok);
  CHECK(ok->grants()[0].partitions == std::vector<std::string>{"a", "b"});
  CHECK(ok->grants()[1].own_partition);
  // Too many partitions.
  std::string many = "[scopes.s]\npartitions = [";
  for (int i = 0; i < 1025; ++i) many += (i ? ", \"p" : "\"p") + std::to_string(i) + "\"";
  CHECK(parse(many + "]\n").status().code() == Code::kInvalidArgument);
}

TEST_CASE("partitions: rights by own township or by list; the plain scope name gets only county-wide grants") {
  Policy p;
  ScopeSpec s{"s", 1, ""};
  s.partitions = {"a", "b", "c"};
  REQUIRE(p.AddScope(s).ok());
  AuthorId ka, kb, kc;
  ka.bytes.fill(1);
  kb.bytes.fill(2);
  kc.bytes.fill(3);
  REQUIRE(p.AddMember({ka, "office a", "township", "a", {}, std::nullopt}).ok());
  REQUIRE(p.AddMember({kb, "bureau", "hr", "", {}, std::nullopt}).ok());
  REQUIRE(p.AddMember({kc, "liaison", "liaison", "a", {}, std::nullopt}).ok());
  Grant own{"township", "", "s", Right::kRead | Right::kWrite};
  own.own_partition = true;
  REQUIRE(p.AddGrant(own).ok());
  REQUIRE(p.AddGrant({"hr", "", "s", Right::kRead}).ok());
  Grant listed{"liaison", "", "s", Right::kRelay};
  listed.partitions = {"b", "c"};
  REQUIRE(p.AddGrant(listed).ok());
  CHECK(p.RightsOf(ka, "s/a") == (Right::kRead | Right::kWrite));
  CHECK(p.RightsOf(ka, "s/b").empty());
  CHECK(p.RightsOf(ka, "s").empty());
  CHECK(p.CheckWrite(ka, 1, "s/a", 1).ok());
  CHECK(p.CheckWrite(ka, 1, "s/b", 1).code() == Code::kPermissionDenied);
  CHECK(p.CheckWrite(ka, 1, "s/zz", 1).message().find("unknown scope") != std::string::npos);
  CHECK(p.MayRead(kb, "s/a"));
  CHECK(p.MayRead(kb, "s/c"));
  CHECK_FALSE(p.MayReceive(kc, "s/a"));  // its township is a, but its grant lists b and c
  CHECK(p.MayReceive(kc, "s/b"));
  CHECK_FALSE(p.MayRead(kc, "s/b"));
  CHECK(p.Readers("s/b") == std::vector<AuthorId>{kb});
  // Revoking the office starts a new epoch of s (it could read one partition).
  REQUIRE(p.Revoke(ka, 3).ok());
  CHECK(p.FindScope("s")->epoch == 2);
}

}  // namespace
}  // namespace hearth
