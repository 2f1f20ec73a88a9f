// The grant invariant, as a property (issue #12): whatever a member signs,
// nothing outside its write grants changes anywhere, every replica reaches
// the same verdicts, and the honest authors' deltas all apply.
//
// A county: root, an honest writer H (hr: writes test.a, collection "item"),
// a hostile member M (union: writes test.b, collection "other"), two
// observers V1, V2 that read both scopes, and a reference replica Ref that
// reads both scopes and never sees M's deltas. M forges deltas that are
// validly signed and chained in its own feed, with arbitrary scopes, epochs,
// keys (its real keys or random ones), collection and field names (NUL,
// capitals, other scopes' collections, reserved ones), op kinds, values
// (invalid UTF-8 among them), HLC ranges, op counts and raw payloads
// (msgpack bombs, garbage). Half are made under policy v1; then the root
// publishes v2 (a key rotation of test.b, and in some cases M's revocation
// after one of its seqs: the "plant a delta under the next epoch" attack);
// then the other half.
//
// V1 applies every delta one by one in one random order, V2 in another in
// random ApplyBatch chunks. Then:
//   - no Apply fails with anything but a bad-input code (never a local
//     resource or storage error, never a crash);
//   - V1 and V2: same digest, heads, denied verdicts, policy (the root's);
//   - on V1 and V2, every record outside M's grant (collection "item", and
//     every collection but "other", reserved ones included) is identical to
//     Ref's, and no record exists outside the schema's collections;
//   - H's and the root's feeds are complete on V1 and V2;
//   - CheckConsistency passes on V1 and V2.
// Seeds: HEARTH_SEED (base), HEARTH_CASES (default 40); the failing case's
// seed is printed.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <sstream>

#include "codec/codec.hpp"
#include "crypto/crypto.hpp"
#include "feed/delta.hpp"
#include "hearth/policy.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "support/node_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using testing::TempDir;

std::string Dump(const Record& r) {
  std::ostringstream os;
  os << r.collection << "/" << r.id.ToHex() << (r.deleted ? " deleted" : "") << "\n";
  for (const auto& [name, f] : r.fields) {
    os << "  " << name << " k" << static_cast<int>(f.kind) << " v=" << f.value.ToString() << " n=" << f.count
       << " hlc=" << f.hlc << " a=" << f.author.ToHex().substr(0, 8);
    for (const Value& v : f.values) os << " [" << v.ToString() << "]";
    for (const LogEntry& e : f.log) os << " {" << e.hlc << " " << e.value.ToString() << "}";
    os << "\n";
  }
  return os.str();
}

std::string DumpCollection(const Replica& r, std::string_view coll, size_t* count = nullptr) {
  std::string out;
  size_t n = 0;
  Status s = r.Scan(coll, [&](const Record& rec) {
    out += Dump(rec);
    ++n;
    return true;
  });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  if (count) *count = n;
  return out;
}

crypto::SecretBytes RandomKey() { return crypto::RandomAeadKey(); }

// M's forging workshop.
struct Forger {
  std::mt19937_64& rng;
  crypto::SigningKeyPair id;
  std::vector<RecordId> victims;  // H's record ids: phantom writes aim at them
  // Partitioned run: the scopes M names and where its fresh ids fall.
  std::vector<std::string> scope_pool;
  std::string own_partition;
  uint64_t seq = 0;
  crypto::Hash prev{};
  crdt::Hlc base = crdt::MakeHlc(1'800'000'000'000ull, 0);

  uint64_t Pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); }
  bool Chance(int percent) { return static_cast<int>(Pick(100)) < percent; }

  Value AnyValue() {
    switch (Pick(9)) {
      case 0: return Value(static_cast<int64_t>(Pick(1000)) - 500);
      case 1: return Value(std::string("城厢镇 ") + std::to_string(Pick(100)));
      case 2: return Value(std::string("bad \xff\xfe utf-8"));
      case 3: return Value(std::string("nul\0inside", 10));
      case 4: return Value(Bytes{1, 2, 3});
      case 5: return Value(Pick(2) == 1);
      case 6: return Value(3.5);
      case 7: return Value(victims.empty() ? RecordId::Generate() : victims[Pick(victims.size())]);
      default: return Value();
    }
  }

  std::string Collection() {
    static const char* const kPool[] = {"item",    "other",    "$policy", "$keys", "$schema", "Item", "zz_unknown",
                                        "other2",  "",         "a-b",     "item ", "x"};
    switch (Pick(14)) {
      case 0: return std::string("item\0", 5);
      case 1: return std::string("other\0x", 7);
      case 2: return std::string(70, 'a');
      default: return kPool[Pick(std::size(kPool))];
    }
  }

  std::string Field() {
    static const char* const kPool[] = {"title", "score", "name",  "n",   "tags",   "stage",    "owner",
                                        "notes", "count", "$deleted", "doc", "scope", "recipient", "Title",
                                        "zz",    "any",   "price", "ref", "epoch",  "sealed"};
    if (Chance(5)) return std::string("title\0", 6);
    return kPool[Pick(std::size(kPool))];
  }

  crdt::Op AnyOp() {
    crdt::Op op;
    op.field = Field();
    op.kind = static_cast<crdt::OpKind>(1 + Pick(7));
    op.hlc = base + Pick(4000);
    op.value = AnyValue();
    op.p = static_cast<int64_t>(Pick(1'000'000'000));
    op.n = static_cast<int64_t>(Pick(10));
    op.rank = static_cast<uint32_t>(Pick(4));
    if (op.kind == crdt::OpKind::kStatus) {
      static const char* const kStates[] = {"new", "open", "done", "closed"};
      op.value = Value(std::string(kStates[Pick(4)]));
    }
    if (op.kind == crdt::OpKind::kCounter) op.value = Value();
    return op;
  }

  // Raw plaintexts that no honest writer produces.
  Bytes Bomb() {
    switch (Pick(5)) {
      case 0: return {0x91, 0xdd, 0xff, 0xff, 0xff, 0xff};   // array of 2^32-1 items
      case 1: return {0xdc, 0xff, 0xff};                     // array16, nothing follows
      case 2: return Bytes(200, 0x91);                       // nesting 200 deep
      case 3: {
        Bytes b(Pick(64) + 1);
        for (auto& x : b) x = static_cast<uint8_t>(Pick(256));
        return b;
      }
      default: return {0x91, 0x93, 0xc6, 0xff, 0xff, 0xff, 0xff};  // bin32 of 4 GiB
    }
  }

  // One forged delta, signed and chained (or, rarely, equivocating).
  // `keys`: the scope keys M really holds.
  std::optional<Bytes> Next(Replica& m_replica) {
    static const char* const kScopes[] = {"test.b", "test.b", "test.b", "test.a", "$policy", "$keys", "$schema", "test.zz"};
    feed::DeltaHeader h;
    h.author = id.public_key;
    h.scope = scope_pool.empty() ? kScopes[Pick(std::size(kScopes))] : scope_pool[Pick(scope_pool.size())];
    static const uint32_t kEpochs[] = {1, 1, 2, 2, 0, 7};
    h.epoch = kEpochs[Pick(std::size(kEpochs))];
    // The key: M's real one when it has it (mostly), else anything.
    crypto::SecretBytes key = RandomKey();
    if (Chance(80)) {
      if (auto held = testing::HeldScopeKey(m_replica, h.scope, h.epoch)) key = std::move(*held);
    }
    Bytes plain;
    uint64_t lo = UINT64_MAX, hi = 0;
    uint32_t ops = 0;
    if (Chance(15)) {
      plain = Bomb();
      lo = hi = base + 1;
      ops = 1 + static_cast<uint32_t>(Pick(3));
    } else {
      std::vector<crdt::RecordOps> recs(1 + Pick(3));
      for (auto& r : recs) {
        const std::string_view base = SplitScope(h.scope).first;
        r.collection = Chance(40) ? (base == "test.a" ? "item" : base == "test.b" ? "other" : h.scope)
                                  : Collection();
        r.id = (Chance(60) && !victims.empty()) ? victims[Pick(victims.size())]
               : (!own_partition.empty() && Chance(60)) ? NewRecordIdIn(own_partition)
                                                        : RecordId::Generate();
        r.ops.resize(1 + Pick(4));
        for (auto& op : r.ops) {
          op = AnyOp();
          lo = std::min(lo, op.hlc);
          hi = std::max(hi, op.hlc);
          ++ops;
        }
      }
      plain = codec::EncodePayload(recs);
      if (Chance(10)) ++ops;                  // header disagrees with the payload
      if (Chance(10) && hi > lo) hi -= 1;     // an op outside the header's range
    }
    h.hlc_min = lo;
    h.hlc_max = hi;
    h.op_count = ops;
    const bool equivocate = seq > 0 && Chance(3);
    h.seq = equivocate ? seq : seq + 1;
    h.prev = prev;
    if (equivocate) h.prev = prev_of_last;
    auto sealed = feed::SealDeltaPlaintext(feed::kDeltaFormatV1, h, plain, key, id);
    if (!sealed.ok()) return std::nullopt;  // a header the format cannot express
    if (!equivocate) {
      auto p = feed::ParseDelta(*sealed);
      REQUIRE(p.ok());
      prev_of_last = prev;
      prev = p->hash;
      seq = h.seq;
    }
    return *sealed;
  }
  crypto::Hash prev_of_last{};
};

struct Bed {
  TempDir tmp;
  std::unique_ptr<Replica> root, hr, un, v1, v2, ref;
  Policy policy;

  // partitioned: test.a is partitioned by township (城厢镇, 始阳镇); H is
  // 始阳镇's office, M (the union member) 城厢镇's, each writing only its
  // own partition (grant `partition = "own"`); the observers read all.
  explicit Bed(bool partitioned = false) {
    root = testing::OpenMember(tmp.Sub("root"), std::nullopt, true);
    const AuthorId r = root->author();
    hr = testing::OpenMember(tmp.Sub("hr"), r);
    un = testing::OpenMember(tmp.Sub("union"), r);
    v1 = testing::OpenMember(tmp.Sub("v1"), r);
    v2 = testing::OpenMember(tmp.Sub("v2"), r);
    ref = testing::OpenMember(tmp.Sub("ref"), r);
    policy.set_county("天全县");
    ScopeSpec a{"test.a", 1, "hr's records"};
    if (partitioned) {
      a.partitioned_by = "township";
      a.partitions = {"城厢镇", "始阳镇"};
    }
    REQUIRE(policy.AddScope(a).ok());
    REQUIRE(policy.AddScope({"test.b", 1, "the union's records"}).ok());
    REQUIRE(policy.AddMember({hr->author(), "county HR bureau", "hr", partitioned ? "始阳镇" : "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({un->author(), "county union", "union", partitioned ? "城厢镇" : "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({v1->author(), "civil affairs", "civil", "", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({v2->author(), "城厢镇 office", "township", "城厢镇", {}, std::nullopt}).ok());
    REQUIRE(policy.AddMember({ref->author(), "auditor", "audit", "", {}, std::nullopt}).ok());
    Grant hr_a{"hr", "", "test.a", Right::kRead | Right::kWrite};
    hr_a.own_partition = partitioned;
    REQUIRE(policy.AddGrant(hr_a).ok());
    if (partitioned) {
      Grant un_a{"union", "", "test.a", Right::kRead | Right::kWrite};
      un_a.own_partition = true;
      REQUIRE(policy.AddGrant(un_a).ok());
    }
    REQUIRE(policy.AddGrant({"union", "", "test.b", Right::kRead | Right::kWrite}).ok());
    for (const char* agency : {"civil", "township", "audit"}) {
      REQUIRE(policy.AddGrant({agency, "", "test.a", Right::kRead}).ok());
      REQUIRE(policy.AddGrant({agency, "", "test.b", Right::kRead}).ok());
    }
    Publish();
  }

  void Publish() {
    auto c = root->PublishPolicy(policy);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    for (Replica* to : {hr.get(), un.get()}) testing::CopyDeltas(*root, *to);
  }
};

bool BadInputCode(Code c) {
  return c == Code::kCorruption || c == Code::kUnauthenticated || c == Code::kInvalidArgument ||
         c == Code::kPermissionDenied;
}

struct Totals {
  size_t forged = 0, refused = 0, evidence = 0;
};

// M's own partition in the partitioned run: what it may change there is
// not compared with the reference.
constexpr const char* kOwn = "城厢镇";

void RunCase(uint64_t seed, Totals& totals, bool partitioned = false) {
  std::mt19937_64 rng(seed);
  Bed bed(partitioned);
  Forger forge{rng, testing::MemberIdentity(*bed.un)};
  if (partitioned) {
    forge.own_partition = kOwn;
    forge.scope_pool = {"test.a/城厢镇", "test.a/城厢镇", "test.a/始阳镇", "test.a", "test.a/nowhere", "test.b", "$keys"};
  }
  std::vector<Bytes> honest, hostile;
  auto honest_write = [&](int n) {
    for (int i = 0; i < n; ++i) {
      RecordId id = forge.victims.empty() || forge.Chance(50)
                        ? (partitioned ? NewRecordIdIn("始阳镇") : RecordId::Generate())
                        : forge.victims[forge.Pick(forge.victims.size())];
      auto c = bed.hr->Write([&](WriteBatch& w) {
        w.Set("item", id, "title", Value("wage case " + std::to_string(forge.Pick(100))));
        w.Set("item", id, "score", Value(static_cast<int64_t>(forge.Pick(5000))));
        w.Increment("item", id, "count", 1);
        w.Add("item", id, "tags", Value(std::string("bus")));
      });
      REQUIRE_MESSAGE(c.ok(), c.status().ToString());
      forge.victims.push_back(id);
    }
  };
  auto forge_some = [&](int n) {
    for (int i = 0; i < n; ++i) {
      if (auto d = forge.Next(*bed.un)) hostile.push_back(std::move(*d));
    }
  };

  honest_write(4);
  forge_some(20);
  // Policy v2: rotate test.b; in half the cases revoke M after one of the
  // seqs it has used (its later deltas, and the ones it planted under
  // epoch 2 beforehand, must then never apply).
  const bool revoke = forge.Chance(50);
  bed.policy.set_version(2);
  if (revoke && forge.seq > 0) {
    REQUIRE(bed.policy.Revoke(bed.un->author(), forge.Pick(forge.seq + 1)).ok());
  } else {
    std::vector<ScopeSpec> scopes = bed.policy.scopes();
    Policy p;
    p.set_county(bed.policy.county());
    p.set_version(2);
    for (ScopeSpec s : scopes) {
      if (s.name == "test.b") s.epoch = 2;
      REQUIRE(p.AddScope(s).ok());
    }
    for (const Member& m : bed.policy.members()) REQUIRE(p.AddMember(m).ok());
    for (const Grant& g : bed.policy.grants()) REQUIRE(p.AddGrant(g).ok());
    bed.policy = p;
  }
  bed.Publish();
  honest_write(4);
  forge_some(20);

  // Everything honest: the root's feed and H's.
  for (Replica* from : {bed.root.get(), bed.hr.get()}) {
    auto d = from->DeltasSince({});
    REQUIRE(d.ok());
    honest.insert(honest.end(), d->begin(), d->end());
  }
  // The reference: honest deltas only, in order.
  for (const Bytes& d : honest) {
    auto r = bed.ref->Apply(d);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  }

  std::vector<Bytes> all = honest;
  all.insert(all.end(), hostile.begin(), hostile.end());
  size_t errors = 0;
  auto check_error = [&](const Status& s) {
    ++errors;
    CHECK_MESSAGE(BadInputCode(s.code()), "a forged delta caused a non-input error: " << s.ToString());
  };
  // V1: one by one, one order. Twice over: a delta refused for a reason that
  // a later arrival removes would show up as a difference from V2.
  std::vector<size_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i : order) {
    auto r = bed.v1->Apply(all[i]);
    if (!r.ok()) check_error(r.status());
  }
  // V2: another order, random ApplyBatch chunks.
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t at = 0; at < order.size();) {
    size_t n = std::min<size_t>(order.size() - at, 1 + forge.Pick(9));
    std::vector<Bytes> chunk;
    for (size_t j = 0; j < n; ++j) chunk.push_back(all[order[at + j]]);
    auto r = bed.v2->ApplyBatch(chunk);
    if (!r.ok()) {
      check_error(r.error);
      CHECK(r.refused);  // a forged delta is refused; the store itself is fine
      // ApplyBatch stops at the first refused delta: it and the rest one by one.
      for (const Bytes& d : std::span<const Bytes>(chunk).subspan(r.failed_index())) {
        auto one = bed.v2->Apply(d);
        if (!one.ok()) CHECK(BadInputCode(one.status().code()));
      }
    }
    at += n;
  }

  // Same verdicts and state everywhere.
  Replica& v1 = *bed.v1;
  Replica& v2 = *bed.v2;
  Replica& ref = *bed.ref;
  auto d1 = v1.Digest(), d2 = v2.Digest();
  REQUIRE(d1.ok());
  REQUIRE(d2.ok());
  CHECK_MESSAGE(*d1 == *d2, "V1 and V2 hold the same deltas but derived different states");
  // Heads agree, except for an author that equivocated: which branch's
  // delta a replica holds at the fork point is the one it saw first (both
  // hold the fork proof, freeze the author there and derive the same state).
  auto unforked_heads = [](const Replica& r) {
    Heads h = r.GetHeads().value();
    for (const ForkProof& f : inspect::Forks(r).value()) h.erase(f.author);
    return h;
  };
  CHECK(unforked_heads(v1) == unforked_heads(v2));
  auto forked = [](const Replica& r) {
    std::set<AuthorId> out;
    for (const ForkProof& f : inspect::Forks(r).value()) out.insert(f.author);
    return out;
  };
  CHECK(forked(v1) == forked(v2));
  auto verdicts = [](const Replica& r) {
    std::vector<std::string> out;
    for (const DeniedDelta& d : inspect::Denied(r).value()) out.push_back(d.author.ToHex() + "#" + std::to_string(d.seq) + " " + d.reason);
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(verdicts(v1) == verdicts(v2));
  for (Replica* v : {&v1, &v2}) {
    auto p = v->CurrentPolicy().value();
    REQUIRE(p.has_value());
    CHECK(p->version() == 2);
    CHECK(*p == bed.policy);
    CHECK(v->schema() == ref.schema());  // nobody but the root publishes a schema
    // Nothing outside M's grant differs from the reference (partitioned:
    // M may write the items of its own partition, and only those).
    size_t own_v = 0;
    auto items_outside_own = [&](const Replica& r) {
      std::string out;
      REQUIRE(r.Scan("item", [&](const Record& rec) {
                 if (partitioned && RecordInPartition(rec.id, kOwn)) {
                   if (&r == v) ++own_v;
                   return true;
                 }
                 out += Dump(rec);
                 return true;
               }).ok());
      return out;
    };
    CHECK(items_outside_own(*v) == items_outside_own(ref));
    size_t other_v = 0, other_ref = 0;
    DumpCollection(*v, "other", &other_v);
    DumpCollection(ref, "other", &other_ref);
    CHECK(other_ref == 0);
    CHECK_MESSAGE(inspect::Stats(*v).value().records - other_v - own_v == inspect::Stats(ref).value().records,
                  "records outside M's collection appeared (phantom collection or reserved record)");
    // Honest feeds complete.
    auto heads = v->GetHeads().value();
    CHECK(heads.at(bed.hr->author()) == bed.hr->GetHeads().value().at(bed.hr->author()));
    CHECK(heads.at(bed.root->author()) == bed.root->GetHeads().value().at(bed.root->author()));
    Status cons = inspect::CheckConsistency(*v);
    CHECK_MESSAGE(cons.ok(), cons.ToString());
  }
  totals.forged += hostile.size();
  totals.refused += errors;
  totals.evidence += inspect::Denied(v1).value().size();
}

TEST_CASE("grant invariant: whatever member M signs, nothing outside M's grants changes, and replicas agree") {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(40);
  Totals totals;
  for (int i = 0; i < cases; ++i) {
    const uint64_t seed = base + static_cast<uint64_t>(i);
    CAPTURE(seed);
    INFO("rerun with HEARTH_SEED=" << seed << " HEARTH_CASES=1");
    RunCase(seed, totals);
  }
  MESSAGE("grant invariant: " << cases << " cases, " << totals.forged << " forged deltas, " << totals.refused
                              << " refused outright, " << totals.evidence << " kept as denied/invalid evidence");
}

// The same property with a partitioned scope (docs/policy.md, "Partitioned
// scopes"): M may write test.a only in its own township's partition. It
// signs deltas into the other partition, into the plain partitioned scope,
// into an undeclared partition, and deltas whose header names its own
// partition but whose records carry the other partition's ids (H's). None
// changes anything outside its own partition, on any replica, in any order.
TEST_CASE("grant invariant: partitions: M changes nothing outside its own partition, and replicas agree") {
  const uint64_t base = testing::BaseSeed() + 7919;
  const int cases = std::max(1, testing::Cases(40) / 4);
  Totals totals;
  for (int i = 0; i < cases; ++i) {
    const uint64_t seed = base + static_cast<uint64_t>(i);
    CAPTURE(seed);
    RunCase(seed, totals, /*partitioned=*/true);
  }
  MESSAGE("grant invariant (partitions): " << cases << " cases, " << totals.forged << " forged deltas, "
                                           << totals.refused << " refused outright, " << totals.evidence
                                           << " kept as denied/invalid evidence");
}

}  // namespace
}  // namespace hearth
