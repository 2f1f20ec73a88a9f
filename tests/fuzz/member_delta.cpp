// Fuzz target: the grant and liveness invariants (issue #12) for deltas a
// legitimate member signs. A county in a temp dir, made once per process:
// root, hr (writes test.a: collection "item"), the union M (writes test.b:
// "other") and an observer that reads both.
//
// Input: byte 0 = mode, byte 1 = op_count - 1, the rest = the payload
// plaintext, sealed and signed by M, chained onto M's feed as the observer
// holds it. Mode bits: 0-1 scope (test.b, test.a, $policy, $keys); 2 epoch 2
// instead of 1 (2 does not exist); 3 a random key instead of M's real one;
// 4 version 2 (zstd) instead of version 1; 5 scope $schema (overrides 0-1).
//
// Oracles, for every input: Apply succeeds (a signed, chained delta gets a
// verdict, never an error of the replica); nothing outside "other" changes
// (the observer's "item" records and its record count outside "other" are
// as before); the observer's policy and schema in force are unchanged; and
// every 16th input an honest delta of hr written afterwards applies
// (kApplied).
#include <cstdint>
#include <string>

#include "hearth/inspect.hpp"
#include "crypto/crypto.hpp"
#include "feed/delta.hpp"
#include "fuzz_support.hpp"
#include "hearth/policy.hpp"
#include "identity/identity.hpp"

using namespace hearth;

namespace {

std::unique_ptr<Replica> Open(const std::string& name, std::optional<AuthorId> root, bool is_root) {
  ReplicaOptions o;
  o.schema = fuzz::TestSchema();
  o.durability = Durability::kNoSync;
  o.unencrypted_identity = true;
  o.root = root;
  o.is_root = is_root;
  auto r = Replica::Open(fuzz::TempDir().Sub(name), o);
  FUZZ_CHECK_MSG(r.ok(), r.status().ToString());
  return std::move(r).value();
}

void Copy(Replica& from, Replica& to) {
  auto d = from.DeltasSince(to.GetHeads().value());
  FUZZ_CHECK(d.ok());
  for (const Bytes& b : *d) {
    auto r = to.Apply(b);
    FUZZ_CHECK_MSG(r.ok(), r.status().ToString());
  }
}

std::string Items(const Replica& r, uint64_t* n) {
  std::string out;
  *n = 0;
  Status s = r.Scan("item", [&](const Record& rec) {
    out += rec.id.ToHex();
    for (const auto& [name, f] : rec.fields) out += "|" + name + "=" + f.value.ToString() + "@" + std::to_string(f.hlc);
    ++*n;
    return true;
  });
  FUZZ_CHECK_MSG(s.ok(), s.ToString());
  return out;
}

struct World {
  std::unique_ptr<Replica> root, hr, un, obs;
  crypto::SigningKeyPair m_id;
  Bytes m_key;  // M's real test.b epoch-1 key
  uint64_t inputs = 0;
  World() {
    root = Open("root", std::nullopt, true);
    hr = Open("hr", root->author(), false);
    un = Open("union", root->author(), false);
    obs = Open("obs", root->author(), false);
    Policy p;
    p.set_county("fuzz county");
    FUZZ_CHECK(p.AddScope({"test.a", 1, "a"}).ok());
    FUZZ_CHECK(p.AddScope({"test.b", 1, "b"}).ok());
    FUZZ_CHECK(p.AddMember({hr->author(), "hr", "hr", "", {}, std::nullopt}).ok());
    FUZZ_CHECK(p.AddMember({un->author(), "union", "union", "", {}, std::nullopt}).ok());
    FUZZ_CHECK(p.AddMember({obs->author(), "civil", "civil", "", {}, std::nullopt}).ok());
    FUZZ_CHECK(p.AddGrant({"hr", "", "test.a", Right::kRead | Right::kWrite}).ok());
    FUZZ_CHECK(p.AddGrant({"union", "", "test.b", Right::kRead | Right::kWrite}).ok());
    FUZZ_CHECK(p.AddGrant({"civil", "", "test.a", Right::kRead}).ok());
    FUZZ_CHECK(p.AddGrant({"civil", "", "test.b", Right::kRead}).ok());
    auto pub = root->PublishPolicy(p);
    FUZZ_CHECK_MSG(pub.ok(), pub.status().ToString());
    for (Replica* r : {hr.get(), un.get(), obs.get()}) Copy(*root, *r);
    auto c = hr->Write([](WriteBatch& w) { w.Set("item", RecordId::Generate(), "title", "wage case 1"); });
    FUZZ_CHECK(c.ok());
    Copy(*hr, *obs);
    auto id = identity::ReadFile(un->dir() + "/" + identity::kReplicaFileName, std::nullopt);
    FUZZ_CHECK(id.ok());
    m_id = std::move(id).value();
    auto kr = un->ExportKeyring({"test.b"});
    FUZZ_CHECK(kr.ok() && kr->size() == 5 + 1 + 6 + 4 + 32);
    m_key.assign(kr->end() - 32, kr->end());
  }
};

World& W() {
  static World* w = new World();
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3 || size > (1u << 16)) return 0;
  World& w = W();
  Replica& obs = *w.obs;
  const uint8_t mode = data[0];
  static const char* const kScopes[] = {"test.b", "test.a", "$policy", "$keys"};
  feed::DeltaHeader h;
  h.author = w.un->author();
  Heads heads = obs.GetHeads().value();
  const FeedHead head = heads.count(h.author) ? heads.at(h.author) : FeedHead{};
  h.seq = head.seq + 1;
  h.prev = head.hash;
  h.scope = (mode & 32) ? "$schema" : kScopes[mode & 3];
  h.epoch = (mode & 4) ? 2 : 1;
  h.hlc_min = 1;
  h.hlc_max = crdt::MakeHlc(1'900'000'000'000ull, 0);
  h.op_count = 1u + data[1];
  const std::span<const uint8_t> plain(data + 2, size - 2);
  crypto::SecretBytes key = (mode & 8) ? crypto::RandomAeadKey() : crypto::SecretBytes::Copy(w.m_key);
  Result<Bytes> sealed = (mode & 16)
                             ? feed::SealDelta(h, plain, key, w.m_id, nullptr, feed::Compression::kZstd)
                             : feed::SealDeltaPlaintext(feed::kDeltaFormatV1, h, plain, key, w.m_id);
  if (!sealed.ok()) return 0;  // not expressible as a delta

  uint64_t items_before = 0, items_after = 0;
  const std::string before = Items(obs, &items_before);
  const uint64_t outside_before = inspect::Stats(obs).value().records;
  auto other_count = [&] {
    uint64_t n = 0;
    FUZZ_CHECK(obs.Scan("other", [&](const Record&) { return ++n, true; }).ok());
    return n;
  };
  const uint64_t other_before = other_count();
  const auto policy_before = obs.CurrentPolicy().value();
  const std::string schema_before = obs.schema().ToToml();

  auto r = obs.Apply(*sealed);
  FUZZ_CHECK_MSG(r.ok(), r.status().ToString());
  FUZZ_CHECK(Items(obs, &items_after) == before);
  FUZZ_CHECK(inspect::Stats(obs).value().records - other_count() == outside_before - other_before);
  FUZZ_CHECK(obs.CurrentPolicy().value() == policy_before);
  FUZZ_CHECK(obs.schema().ToToml() == schema_before);

  // Liveness: an honest author's next delta still applies.
  if (++w.inputs % 16 == 0) {
    auto c = w.hr->Write([](WriteBatch& b) { b.Set("item", RecordId::Generate(), "title", "wage case"); });
    FUZZ_CHECK(c.ok());
    auto d = w.hr->GetDelta(w.hr->author(), c->last_seq);
    FUZZ_CHECK(d.ok());
    auto a = obs.Apply(*d);
    FUZZ_CHECK_MSG(a.ok(), a.status().ToString());
    FUZZ_CHECK(a->outcome == ApplyOutcome::kApplied);
  }
  return 0;
}
