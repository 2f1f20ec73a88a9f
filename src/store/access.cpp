// Access control in the replica: the policy in force, the permit check,
// key envelopes, and the derivation rule used to rebuild state when the
// policy changes or an author is frozen (docs/policy.md).
//
// The derivation rule. A delta in a feed is applied iff
//   1. its author is not frozen at or before its seq (fork), and
//   2. the policy in force permits it (Permit), and
//   3. this replica holds the key of its (scope, epoch), and
//   4. its payload decrypts, decodes and fits the schema (else it was never
//      stored).
// "The policy in force" is the policy record as derived from the root's
// $policy deltas (lww: the newest by HLC). It depends only on the deltas
// held, so replicas holding the same deltas derive the same state, whatever
// the order in which the deltas arrived.
#include <algorithm>

#include "crypto/seal.hpp"
#include "store/fault.hpp"
#include "store/keys.hpp"
#include "store/replica_impl.hpp"

namespace hearth {
namespace {

using store::AsBytes;
using store::ByteView;
using store::Txn;

const RecordId kPolicyRecord{};  // all zero

bool IsReserved(std::string_view scope) { return !scope.empty() && scope[0] == '$'; }

std::string Short(const AuthorId& a) { return a.ToHex().substr(0, 16); }

const Value* LwwValue(const crdt::RecordState& r, std::string_view field) {
  const crdt::FieldState* f = r.Find(field);
  if (f == nullptr || f->kind() != FieldKind::kLww) return nullptr;
  const auto& s = f->as<crdt::LwwState>();
  return s.dot.hlc == 0 ? nullptr : &s.value;
}

RecordId EnvelopeId(std::string_view scope, uint32_t epoch, const AuthorId& recipient) {
  std::string m = "hearth/envelope/v1";
  m.push_back('\0');
  m.append(scope);
  m.push_back('\0');
  store::AppendU32(m, epoch);
  m.append(reinterpret_cast<const char*>(recipient.bytes.data()), 32);
  crypto::Hash h = crypto::HashBytes(AsBytes(m));
  RecordId id;
  std::copy(h.begin(), h.begin() + 16, id.bytes.begin());
  return id;
}

}  // namespace

// ------------------------------------------------- root-published documents

namespace {

// The `doc` of a reserved record the root publishes ($policy, $schema), as
// the lww rule derives it from the root's deltas held; nullopt before the
// first one. `cache` (a write in progress) is consulted before the table.
Result<std::optional<crdt::LwwState>> RootDocIn(const ReplicaImpl& m, const Txn& t, const ReplicaImpl::Cache* cache,
                                                const char* scope) {
  const std::string key = store::StateKey(scope, kPolicyRecord);
  std::optional<crdt::RecordState> rec;
  if (cache != nullptr) {
    auto it = cache->find(key);
    if (it != cache->end()) rec = it->second.now;
  }
  if (!rec) {
    auto got = t.Get(m.state, AsBytes(key));
    if (!got.ok()) return got.status();
    if (!got->has_value()) return std::optional<crdt::LwwState>();
    auto decoded = codec::DecodeRecordState(**got);
    if (!decoded.ok()) return decoded.status().WithContext(std::string(scope) + " record");
    rec = std::move(decoded).value();
  }
  const crdt::FieldState* f = rec->Find("doc");
  if (f == nullptr || f->kind() != FieldKind::kLww) return std::optional<crdt::LwwState>();
  const auto& lww = f->as<crdt::LwwState>();
  if (lww.dot.hlc == 0 || lww.value.type() != ValueType::kBytes) return std::optional<crdt::LwwState>();
  return std::optional<crdt::LwwState>(lww);
}

// The parsed document of `doc`, parsed once per dot: `parse` runs only when
// the winning write changed since the cached one.
template <typename T, typename Parse>
Result<std::shared_ptr<const T>> ParsedDoc(const crdt::LwwState& doc, std::mutex& mu,
                                           std::shared_ptr<const T>& cached, crdt::Dot& cached_dot, Parse parse) {
  {
    std::lock_guard lk(mu);
    if (cached && cached_dot == doc.dot) return cached;
  }
  const Bytes& bytes = doc.value.as_bytes();
  Result<T> parsed = parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!parsed.ok()) return parsed.status();
  auto shared = std::make_shared<const T>(std::move(parsed).value());
  std::lock_guard lk(mu);
  cached = shared;
  cached_dot = doc.dot;
  return shared;
}

}  // namespace

Result<std::shared_ptr<const Schema>> Replica::Impl::RootSchemaIn(const Txn& t, const Cache* cache) const {
  if (!root_key) return std::shared_ptr<const Schema>();
  auto doc = RootDocIn(*this, t, cache, kSchemaScope);
  if (!doc.ok()) return doc.status();
  if (!*doc) return std::shared_ptr<const Schema>();
  return ParsedDoc<Schema>(**doc, schema_mu, schema_cache, schema_dot, [](std::string_view text) -> Result<Schema> {
    // Prepare admits only docs that parse: one that does not is damage.
    auto sc = Schema::Parse(text, "schema");
    if (!sc.ok()) return Status::Corruption("the stored root-published schema does not parse: " + sc.status().message());
    return sc;
  });
}

Result<std::shared_ptr<const Schema>> Replica::Impl::SchemaIn(const Txn& t, const Cache* cache) const {
  auto root = RootSchemaIn(t, cache);
  if (!root.ok()) return root.status();
  if (*root) return *root;
  return local_schema;
}

Result<std::shared_ptr<const Policy>> Replica::Impl::PolicyIn(const Txn& t, const Cache* cache) const {
  if (!root_key) return std::shared_ptr<const Policy>();
  auto doc = RootDocIn(*this, t, cache, kPolicyScope);
  if (!doc.ok()) return doc.status();
  if (!*doc) return std::shared_ptr<const Policy>();
  return ParsedDoc<Policy>(**doc, policy_mu, policy_cache, policy_dot, [](std::string_view text) -> Result<Policy> {
    auto p = Policy::Parse(text, "policy");
    if (!p.ok()) return p.status().WithContext("stored policy");
    return p;
  });
}

Status Replica::Impl::Permit(const feed::DeltaHeader& h, const Policy* policy, bool lane) const {
  if (!root_key) return Status::Ok();  // no root: no policy to enforce
  if (IsReserved(h.scope)) {
    if (h.author != *root_key) {
      return Status::PermissionDenied("only the county root key writes " + h.scope + " (author " +
                                      Short(h.author) + ")");
    }
    if (h.epoch != 0) return Status::PermissionDenied("unknown key epoch " + std::to_string(h.epoch) + " for " + h.scope);
    return Status::Ok();
  }
  if (policy == nullptr) {
    return Status::PermissionDenied("no policy from the county root has been received yet");
  }
  return policy->CheckWrite(h.author, h.seq, h.scope, h.epoch, lane);
}

// ---------------------------------------------------------------- envelopes

Result<std::vector<std::pair<std::string, uint32_t>>> Replica::Impl::OpenEnvelopes(
    const Txn& t, const std::vector<crdt::RecordOps>& records, const Cache& cache, KeyCache* new_keys) const {
  std::vector<std::pair<std::string, uint32_t>> out;
  for (const crdt::RecordOps& r : records) {
    if (r.collection != kKeysScope) continue;
    // An envelope is written whole in one delta: read it from the ops.
    crdt::RecordState env;
    auto it = cache.find(store::StateKey(r.collection, r.id));
    if (it != cache.end()) {
      env = it->second.now;
    } else {
      env.collection = r.collection;
      env.id = r.id;
      for (const crdt::Op& op : r.ops) env.Apply(op, *root_key);
    }
    const Value* scope = LwwValue(env, "scope");
    const Value* epoch = LwwValue(env, "epoch");
    const Value* recipient = LwwValue(env, "recipient");
    const Value* sealed = LwwValue(env, "sealed");
    if (!scope || !epoch || !recipient || !sealed || scope->type() != ValueType::kString ||
        epoch->type() != ValueType::kInt || recipient->type() != ValueType::kBytes ||
        sealed->type() != ValueType::kBytes || recipient->as_bytes().size() != 32) {
      continue;
    }
    if (!std::equal(recipient->as_bytes().begin(), recipient->as_bytes().end(), identity.public_key.bytes.begin())) {
      continue;
    }
    if (epoch->as_int() <= 0 || epoch->as_int() > UINT32_MAX) continue;
    auto ek = std::make_pair(scope->as_string(), static_cast<uint32_t>(epoch->as_int()));
    if (new_keys->count(ek)) continue;
    auto held = ScopeKey(t, ek.first, ek.second);
    if (!held.ok()) return held.status();
    if (held->has_value()) continue;
    auto key = crypto::OpenSealed(identity, sealed->as_bytes());
    if (!key.ok() || key->size() != crypto::kAeadKeyBytes) continue;  // not for us after all
    new_keys->emplace(ek, std::move(key).value());
    out.push_back(ek);
  }
  return out;
}

Status Replica::Impl::InstallKeys(Txn& t, Cache& cache, KeyCache& new_keys) {
  for (auto& [ek, key] : new_keys) {
    HEARTH_RETURN_IF_ERROR(t.Put(keys, AsBytes(store::ScopeKeyKey(ek.first, ek.second)), key.span()));
  }
  for (auto& [ek, key] : new_keys) HEARTH_RETURN_IF_ERROR(ApplyUnreadable(t, cache, ek.first, ek.second));
  return Status::Ok();
}

// ---------------------------------------------------------------- derivation

Status Replica::Impl::Derive(const Txn& t, Derived* out) const {
  // By lane key (author || lane_id): a fork freezes its lane.
  std::map<std::string, uint64_t> frozen_at;
  {
    store::Cursor c(t, frozen);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      if (c.key().size() != store::kLaneKeySize || c.value().size() != 8) continue;
      frozen_at[std::string(c.key().begin(), c.key().end())] = store::ReadU64(c.value().data());
    }
    HEARTH_RETURN_IF_ERROR(c.status());
  }
  auto is_frozen = [&](const feed::ParsedDelta& d) {
    auto it = frozen_at.find(store::LaneKey(d.header.author, store::LaneOfDelta(d)));
    return it != frozen_at.end() && d.header.seq >= it->second;
  };
  auto apply = [&](const feed::ParsedDelta& d, const std::vector<crdt::RecordOps>& records) {
    const feed::DeltaHeader& h = d.header;
    const store::LaneId lane = store::LaneOfDelta(d);
    for (const crdt::RecordOps& rec : records) {
      auto [it, inserted] = out->records.try_emplace(store::StateKey(rec.collection, rec.id));
      if (inserted) {
        it->second.collection = rec.collection;
        it->second.id = rec.id;
      }
      for (const crdt::Op& o : rec.ops) it->second.Apply(o, h.author);
      out->history.push_back(store::HistoryKey(rec.collection, rec.id, h.author, lane, h.seq));
    }
  };

  // Pass 1: the root's reserved scopes (policy and key envelopes) first, so
  // the whole derivation runs under the policy in force.
  std::shared_ptr<const Policy> policy;
  if (root_key) {
    store::Cursor c(t, feeds);
    // Every lane of the root's: the prefix is the author alone.
    const std::string start(reinterpret_cast<const char*>(root_key->bytes.data()), root_key->bytes.size());
    for (bool ok = c.Seek(AsBytes(start)); ok; ok = c.Next()) {
      if (c.key().size() != store::kFeedKeySize ||
          !std::equal(root_key->bytes.begin(), root_key->bytes.end(), c.key().begin())) {
        break;
      }
      auto d = feed::ParseDelta(c.value(), UINT64_MAX);
      if (!d.ok()) return d.status().WithContext("stored delta");
      if (!IsReserved(d->header.scope) || is_frozen(*d)) continue;
      auto p = Prepare(t, *d, *local_schema, &out->new_keys);  // reserved: no schema checks
      if (!p.ok()) return p.status().WithContext("re-deriving");
      if (!p->invalid.empty()) {
        out->denied.emplace_back(std::string(c.key().begin(), c.key().end()), p->invalid);
        continue;
      }
      apply(*d, p->records);
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    Cache view;
    for (const char* reserved : {kPolicyScope, kSchemaScope}) {
      auto it = out->records.find(store::StateKey(reserved, kPolicyRecord));
      if (it != out->records.end()) view[it->first].now = it->second;
    }
    auto pol = PolicyIn(t, &view);
    if (!pol.ok()) return pol.status();
    policy = *pol;
    // The schema in force: the root's newest $schema, else the local one.
    auto sc = SchemaIn(t, &view);
    if (!sc.ok()) return sc.status();
    out->schema = *sc;
    // Envelopes addressed to this replica.
    std::vector<crdt::RecordOps> envs;
    for (const auto& [k, r] : out->records) {
      if (r.collection == kKeysScope) envs.push_back(crdt::RecordOps{r.collection, r.id, {}});
    }
    Cache env_view;
    for (const auto& e : envs) {
      std::string k = store::StateKey(e.collection, e.id);
      env_view[k].now = out->records[k];
    }
    auto opened = OpenEnvelopes(t, envs, env_view, &out->new_keys);
    if (!opened.ok()) return opened.status();
  }

  if (!out->schema) out->schema = local_schema;
  // Pass 2: every other delta, in feed order.
  store::Cursor c(t, feeds);
  for (bool ok = c.First(); ok; ok = c.Next()) {
    auto d = feed::ParseDelta(c.value(), UINT64_MAX);
    if (!d.ok()) return d.status().WithContext("stored delta");
    const feed::DeltaHeader& h = d->header;
    std::string fk(c.key().begin(), c.key().end());
    if (root_key && h.author == *root_key && IsReserved(h.scope)) continue;  // pass 1
    if (is_frozen(*d)) continue;
    Status permit = Permit(h, policy.get(), feed::IsLaneVersion(d->version));
    if (!permit.ok()) {
      out->denied.emplace_back(fk, permit.message());
      continue;
    }
    auto p = Prepare(t, *d, *out->schema, &out->new_keys);
    if (!p.ok()) return p.status().WithContext("re-deriving");
    if (!p->invalid.empty()) {
      out->denied.emplace_back(fk, p->invalid);
      continue;
    }
    if (p->unreadable) {
      out->unreadable.push_back(fk);
      continue;
    }
    apply(*d, p->records);
  }
  return c.status();
}

Status Replica::Impl::Rebuild(Txn& t) {
  Derived d;
  HEARTH_RETURN_IF_ERROR(Derive(t, &d));
  // The change feed compares the derived records against the stored ones.
  std::map<std::string, crdt::RecordState> old_states;
  {
    store::Cursor c(t, state);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      auto decoded = codec::DecodeRecordState(c.value());
      if (!decoded.ok()) return decoded.status().WithContext("stored record (before a rebuild)");
      old_states.emplace(std::string(c.key().begin(), c.key().end()), std::move(decoded).value());
    }
    HEARTH_RETURN_IF_ERROR(c.status());
  }
  for (MDB_dbi dbi : {state, index, unreadable, denied, history}) {
    HEARTH_RETURN_IF_ERROR(t.Drop(dbi).WithContext("clearing a table for a rebuild"));
  }
  for (auto& [ek, key] : d.new_keys) {
    auto held = ScopeKey(t, ek.first, ek.second);
    if (!held.ok()) return held.status();
    if (!held->has_value() && !IsReserved(ek.first)) {
      HEARTH_RETURN_IF_ERROR(t.Put(keys, AsBytes(store::ScopeKeyKey(ek.first, ek.second)), key.span()));
    }
  }
  Cache cache;
  for (auto& [k, rec] : d.records) {
    CachedRecord& c = cache[k];
    auto old = old_states.find(k);
    if (old != old_states.end()) {
      c.feed_base = std::move(old->second);
      old_states.erase(old);
    } else {
      c.feed_base = crdt::RecordState{rec.collection, rec.id, {}};
    }
    c.cause.rederived = true;
    c.now = std::move(rec);
    c.dirty = true;
  }
  HEARTH_RETURN_IF_ERROR(Flush(t, cache));
  // Records no delta applies to any more.
  for (auto& [k, old] : old_states) {
    CachedRecord gone;
    gone.feed_base = std::move(old);
    gone.now.collection = gone.feed_base->collection;
    gone.now.id = gone.feed_base->id;
    gone.cause.rederived = true;
    HEARTH_RETURN_IF_ERROR(RecordChange(t, gone));
  }
  for (const std::string& hk : d.history) HEARTH_RETURN_IF_ERROR(t.Put(history, AsBytes(hk), {}));
  for (const std::string& fk : d.unreadable) HEARTH_RETURN_IF_ERROR(t.Put(unreadable, AsBytes(fk), {}));
  for (const auto& [fk, reason] : d.denied) HEARTH_RETURN_IF_ERROR(t.Put(denied, AsBytes(fk), AsBytes(reason)));
  rebuild_pending = false;
  return Status::Ok();
}

Status Replica::Impl::FinishWrite(Txn& t, Cache& cache) {
  HEARTH_RETURN_IF_ERROR(Flush(t, cache));
  cache.clear();
  if (rebuild_pending) HEARTH_RETURN_IF_ERROR(Rebuild(t));
  return Status::Ok();
}

// ---------------------------------------------------------------- public

std::optional<AuthorId> Replica::root() const { return impl_->root_key; }

Result<std::optional<Policy>> Replica::CurrentPolicy() const {
  const Impl& m = *impl_;
  auto p = m.WithRead([&](const Txn& t) { return m.PolicyIn(t, nullptr); });
  if (!p.ok()) return p.status().WithContext("reading the policy in force");
  if (!*p) return std::optional<Policy>();
  return std::optional<Policy>(**p);
}

Result<CommitInfo> Replica::PublishPolicy(const Policy& policy) {
  Impl& m = *impl_;
  if (!m.root_key || *m.root_key != m.identity.public_key) {
    return Status::PermissionDenied("only the county root's replica publishes policy (this replica is " +
                                    Short(m.identity.public_key) + ")");
  }
  HEARTH_RETURN_IF_ERROR(m.CheckOwnFeedWritable());
  auto cur = m.WithRead([&](const Txn& t) { return m.PolicyIn(t, nullptr); });
  if (!cur.ok()) return cur.status().WithContext("reading the policy in force");
  if (*cur && policy.version() <= (*cur)->version()) {
    return Status::InvalidArgument("policy version " + std::to_string(policy.version()) +
                                   " is not newer than the current version " + std::to_string((*cur)->version()));
  }
  // Keys for every (scope, epoch) the policy names, created by the root.
  std::map<std::pair<std::string, uint32_t>, crypto::SecretBytes> scope_keys;
  auto made = m.WithWrite<bool>([&](Txn& t) -> Result<bool> {
    scope_keys.clear();
    // A partitioned scope has one key per partition and epoch, named
    // "scope/partition" (docs/policy.md, "Partitioned scopes").
    for (const std::string& name : policy.KeyScopes()) {
      const uint32_t epoch = policy.FindScope(name)->epoch;
      auto held = m.ScopeKey(t, name, epoch);
      if (!held.ok()) return held.status();
      if (held->has_value()) {
        scope_keys.emplace(std::make_pair(name, epoch), std::move(**held));
        continue;
      }
      crypto::SecretBytes key = crypto::RandomAeadKey();
      HEARTH_RETURN_IF_ERROR(t.Put(m.keys, AsBytes(store::ScopeKeyKey(name, epoch)), key.span()));
      scope_keys.emplace(std::make_pair(name, epoch), std::move(key));
    }
    return true;
  });
  if (!made.ok()) return made.status();

  std::vector<BatchIntent> intents;
  auto set = [&](const RecordId& id, const char* coll, const char* field, Value v) {
    intents.push_back(BatchIntent{BatchAction::kSet, coll, id, field, std::move(v), 0});
  };
  for (const std::string& name : policy.KeyScopes()) {
    const ScopeSpec s{name, policy.FindScope(name)->epoch, {}, {}, {}};
    const crypto::SecretBytes& key = scope_keys.at({s.name, s.epoch});
    // Envelopes of a partition only to the members that may read it.
    for (const AuthorId& reader : policy.Readers(s.name)) {
      RecordId id = EnvelopeId(s.name, s.epoch, reader);
      auto sealed_before = Get(kKeysScope, id);
      if (sealed_before.ok()) continue;  // already sealed to this reader
      if (sealed_before.status().code() != Code::kNotFound) return sealed_before.status();
      auto sealed = crypto::SealTo(reader, key.span());
      if (!sealed.ok()) return sealed.status().WithContext("sealing " + s.name + " to " + Short(reader));
      set(id, kKeysScope, "scope", Value(s.name));
      set(id, kKeysScope, "epoch", Value(static_cast<int64_t>(s.epoch)));
      set(id, kKeysScope, "recipient", Value(Bytes(reader.bytes.begin(), reader.bytes.end())));
      set(id, kKeysScope, "sealed", Value(std::move(sealed).value()));
    }
  }
  std::string doc = policy.ToToml();
  set(kPolicyRecord, kPolicyScope, "doc", Value(Bytes(doc.begin(), doc.end())));
  return m.CommitIntents(intents, /*internal=*/true);
}

Result<CommitInfo> Replica::PublishSchema(const Schema& schema) {
  Impl& m = *impl_;
  if (!m.root_key || *m.root_key != m.identity.public_key) {
    return Status::PermissionDenied("only the county root's replica publishes the schema (this replica is " +
                                    Short(m.identity.public_key) + "; without a root, use `hearth schema set`)");
  }
  auto cur = m.WithRead([&](const Txn& t) { return m.SchemaIn(t, nullptr); });
  if (!cur.ok()) return cur.status().WithContext("reading the schema in force");
  const Schema& now = **cur;
  if (schema.version() <= now.version()) {
    return Status::InvalidArgument("schema version " + std::to_string(schema.version()) +
                                   " is not newer than version " + std::to_string(now.version()) +
                                   " in force (raise `version` in the schema file)");
  }
  HEARTH_RETURN_IF_ERROR(CheckSchemaChange(now, schema));
  std::string doc = schema.ToToml();
  std::vector<BatchIntent> intents;
  intents.push_back(
      BatchIntent{BatchAction::kSet, kSchemaScope, kPolicyRecord, "doc", Value(Bytes(doc.begin(), doc.end())), 0});
  return m.CommitIntents(intents, /*internal=*/true);
}

}  // namespace hearth
