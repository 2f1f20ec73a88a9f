// Replica: applying remote deltas, keys, forks and the consistency check.
//
// Order of checks for a remote delta (docs/storage-format.md, "Apply"):
// structure and signature first (no key needed, outside the write lock),
// then position in the author's feed (duplicate, fork, gap, chain), then —
// only for a delta that chains onto the held head — decryption, decoding and
// schema checks. A delta that fails any check changes nothing.
#include <algorithm>

#include "base/bytes.hpp"
#include "crdt/hlc.hpp"
#include "feed/chain.hpp"
#include "store/keys.hpp"
#include "store/record_view.hpp"
#include "store/replica_impl.hpp"

namespace hearth {
namespace {

using store::AsBytes;
using store::ByteView;
using store::Txn;

std::string Where(const feed::DeltaHeader& h) {
  return "delta " + h.author.ToHex().substr(0, 16) + "#" + std::to_string(h.seq);
}

// True only when Schema::CheckValue(collection, f.name, kind, value) is
// certainly ok: the common case, decided without the name lookups and the
// message strings CheckValue builds on every call. Anything else goes to
// CheckValue, which has the final word and the error message.
bool ValueCertainlyOk(const FieldSpec& f, FieldKind kind, const Value* value) {
  if (f.name.empty() || f.name[0] == '$' || KindOf(f.type) != kind) return false;
  if (f.type == FieldType::kCounter) {
    return value == nullptr || value->is_null() || value->type() == ValueType::kInt;
  }
  if (value == nullptr || value->is_null() || f.type == FieldType::kStatus) return false;
  return !f.value_type || value->type() == *f.value_type;
}

Result<Hash32> HashOf(ByteView bytes) {
  auto p = feed::ParseDelta(bytes, UINT64_MAX);
  if (!p.ok()) return p.status().WithContext("stored delta");
  return p->hash;
}

// Versions 5/6 chain per lane (author, LaneIdOf(scope)): every delta of a
// lane has the lane's scope. Two scopes of one author with the same 8-byte
// lane id would share one chain and is refused at receipt (kCorruption):
// compares the scope with one delta the lane already holds (its head, else
// one waiting in pending).
Status CheckLaneScope(const Txn& t, MDB_dbi feeds, MDB_dbi pending, const feed::ParsedDelta& d,
                      const store::LaneId& lane, uint64_t head_seq) {
  if (!feed::IsLaneVersion(d.version)) return Status::Ok();
  const feed::DeltaHeader& h = d.header;
  std::optional<Bytes> held;
  if (head_seq > 0) {
    auto got = t.Get(feeds, AsBytes(store::FeedKey(h.author, lane, head_seq)));
    if (!got.ok()) return got.status();
    if (got->has_value()) held.emplace((*got)->begin(), (*got)->end());
  }
  if (!held) {
    const std::string prefix = store::LaneKey(h.author, lane);
    store::Cursor c(t, pending);
    if (c.Seek(AsBytes(prefix)) && c.key().size() == store::kFeedKeySize &&
        std::equal(prefix.begin(), prefix.end(), reinterpret_cast<const char*>(c.key().data()))) {
      held.emplace(c.value().begin(), c.value().end());
    }
    HEARTH_RETURN_IF_ERROR(c.status());
  }
  if (!held) return Status::Ok();
  auto other = feed::ParseDelta(*held, UINT64_MAX);
  if (!other.ok()) return other.status().WithContext("stored delta");
  if (other->header.scope == h.scope) return Status::Ok();
  return Status::Corruption(Where(h) + ": lane id " + base::ToHex(lane.data(), lane.size()) + " of scope " +
                            h.scope + " is also the lane of scope " + other->header.scope +
                            " held for this author (a lane-id collision; the delta is refused)");
}

}  // namespace

std::string UnopenedReason(std::string_view scope, uint32_t epoch) {
  const std::string s(scope);
  return "the key held for scope " + s + " epoch " + std::to_string(epoch) +
         " does not open it: a different key was created elsewhere (way out: `hearth keys rotate " + s +
         "` on one replica, then export/import the new epoch)";
}

Result<Replica::Impl::Prepared> Replica::Impl::Prepare(const Txn& t, const feed::ParsedDelta& d,
                                                      const Schema& schema, KeyCache* key_cache) const {
  Prepared out;
  const feed::DeltaHeader& h = d.header;
  // Every check below is a function of the delta, the key of its (scope,
  // epoch) and the schema: a failure is the delta's verdict ("invalid
  // content"), the same on every replica, never an error of this replica.
  // Only storage errors (reading a key) are returned as errors.
  auto invalid = [&](const Status& s) -> Result<Prepared> {
    Prepared bad;
    bad.invalid = kInvalidContentPrefix + s.message();
    return bad;
  };
  // Names the schema in force does not know: the delta was written under
  // a newer schema. The first such name is the reason; a delta that is
  // also invalid otherwise is invalid (checked to the end first).
  std::string unknown;
  auto waiting = [&](std::string what) {
    if (unknown.empty()) unknown = std::move(what) + " is not in schema v" + std::to_string(schema.version());
  };
  // A stub (the sender withheld the body from this node): chained, never
  // applied, whatever keys are held. Its body may follow later.
  if (d.stub) {
    out.unreadable = true;
    out.withheld = true;
    out.unreadable_reason = "withheld: only the stub of this delta is held (its body was not sent to this node)";
    return out;
  }
  const crypto::SecretBytes* scope_key = nullptr;
  std::optional<crypto::SecretBytes> uncached;
  auto cached = key_cache ? key_cache->find(std::make_pair(h.scope, h.epoch)) : KeyCache::iterator();
  if (key_cache != nullptr && cached != key_cache->end()) {
    scope_key = &cached->second;
  } else {
    auto key = ScopeKey(t, h.scope, h.epoch);
    if (!key.ok()) return key.status();
    if (!key->has_value()) {
      out.unreadable = true;
      out.unreadable_reason = "no key for scope " + h.scope + " epoch " + std::to_string(h.epoch) + " is held";
      return out;
    }
    if (key_cache != nullptr) {
      scope_key = &key_cache->emplace(std::make_pair(h.scope, h.epoch), std::move(**key)).first->second;
    } else {
      uncached = std::move(*key);
      scope_key = &*uncached;
    }
  }
  // A version-2 payload is decompressed here; its declared size is checked
  // against the format's limit before allocating. The limits are the
  // format's, not this replica's options: the verdict must not depend on
  // local configuration.
  auto plain = feed::OpenDelta(d, *scope_key, feed::kMaxCompressedPayloadBytes);
  if (!plain.ok()) {
    // Under a county root the key of (scope, epoch) is the root's, the same
    // on every replica: a body it does not open is the delta's fault. A
    // replica without a root may hold a key of its own making for the same
    // (scope, epoch) (keys are shared by hand there): the delta is stored
    // chained and unreadable, so the author's feed goes on; whoever holds
    // the key it was written under reads it (docs/policy.md, "Keys without
    // a root").
    if (!root_key && plain.status().code() == Code::kUnauthenticated) {
      out.unreadable = true;
      out.unreadable_reason = UnopenedReason(h.scope, h.epoch);
      return out;
    }
    return invalid(plain.status());
  }
  codec::DecodeLimits limits;  // the format's limits (docs/delta-format.md)
  auto records = codec::DecodePayload(*plain, limits);
  if (!records.ok()) return invalid(records.status().WithContext("payload"));
  uint64_t ops = 0;
  const bool reserved_scope = !h.scope.empty() && h.scope[0] == '$';
  for (const crdt::RecordOps& r : *records) {
    const bool reserved_coll = !r.collection.empty() && r.collection[0] == '$';
    if ((reserved_scope || reserved_coll) && r.collection != h.scope) {
      return invalid(Status::PermissionDenied("writes collection " + r.collection + " under scope " + h.scope +
                                              " (reserved collections live only in their own scope)"));
    }
    if (r.collection == kPolicyScope) {
      for (const crdt::Op& op : r.ops) {
        if (op.field != "doc" || op.kind != crdt::OpKind::kLwwSet || op.value.type() != ValueType::kBytes) {
          return invalid(Status::InvalidArgument("a policy record holds only 'doc' (bytes)"));
        }
        const Bytes& doc = op.value.as_bytes();
        auto pol = Policy::Parse(std::string_view(reinterpret_cast<const char*>(doc.data()), doc.size()), "policy");
        if (!pol.ok()) return invalid(pol.status());
      }
    }
    if (r.collection == kSchemaScope) {
      if (r.id != RecordId{}) return invalid(Status::InvalidArgument("the schema record's id is 16 zero bytes"));
      for (const crdt::Op& op : r.ops) {
        if (op.field != "doc" || op.kind != crdt::OpKind::kLwwSet || op.value.type() != ValueType::kBytes) {
          return invalid(Status::InvalidArgument("a schema record holds only 'doc' (bytes)"));
        }
        const Bytes& doc = op.value.as_bytes();
        auto sc = Schema::Parse(std::string_view(reinterpret_cast<const char*>(doc.data()), doc.size()), "schema");
        if (!sc.ok()) return invalid(sc.status());
      }
    }
    // Every collection outside the reserved ones must belong to the
    // delta's scope (the scope is what the policy granted); one the schema
    // does not know makes the delta wait for a newer schema.
    const CollectionSpec* spec = reserved_coll ? nullptr : schema.Find(r.collection);
    if (!reserved_coll && spec == nullptr) {
      waiting("collection " + r.collection);
      for (const crdt::Op& op : r.ops) {
        ++ops;
        if (op.hlc < h.hlc_min || op.hlc > h.hlc_max) {
          return invalid(Status::Corruption("op HLC outside the header's range"));
        }
      }
      continue;
    }
    if (spec != nullptr && spec->scope != h.scope) {
      // A partitioned delta ("scope/partition", docs/policy.md "Partitioned
      // scopes") touches only records whose id carries its partition's
      // prefix: a record's partition is fixed by its id, the same on every
      // replica whatever the arrival order.
      auto [base, partition] = SplitScope(h.scope);
      if (partition.empty() || spec->scope != base) {
        return invalid(Status::PermissionDenied("writes collection " + r.collection + " of scope " + spec->scope +
                                                " under scope " + h.scope));
      }
      if (!RecordInPartition(r.id, partition)) {
        return invalid(Status::PermissionDenied("writes record " + r.collection + "/" + r.id.ToHex() +
                                                ", which is not in partition " + std::string(partition) +
                                                " (its id prefix names another partition)"));
      }
    }
    for (const crdt::Op& op : r.ops) {
      ++ops;
      if (op.hlc < h.hlc_min || op.hlc > h.hlc_max) {
        return invalid(Status::Corruption("op HLC outside the header's range"));
      }
      if (op.field == crdt::kDeletedField) {
        if (op.kind != crdt::OpKind::kLwwSet || op.value.type() != ValueType::kBool) {
          return invalid(Status::InvalidArgument("$deleted must be an lww bool"));
        }
        continue;
      }
      if (spec == nullptr) continue;  // reserved collection: checked above
      const FieldSpec* f = spec->Find(op.field);
      if (f == nullptr) {  // field from a newer schema
        waiting("field " + r.collection + "." + op.field);
        continue;
      }
      FieldKind kind = crdt::KindOfOp(op.kind);
      const Value* value = op.kind == crdt::OpKind::kCounter ? nullptr : &op.value;
      if (op.kind == crdt::OpKind::kStatus && f->type == FieldType::kStatus &&
          op.value.type() == ValueType::kString && !f->RankOf(op.value.as_string())) {
        // A state appended to the order by a newer schema.
        waiting("status state " + r.collection + "." + op.field + " = " + op.value.as_string());
        continue;
      }
      if (!ValueCertainlyOk(*f, kind, value)) {
        Status s = schema.CheckValue(r.collection, op.field, kind, value);
        if (!s.ok()) return invalid(s);
      }
      if (op.kind == crdt::OpKind::kStatus && f->RankOf(op.value.as_string()) != op.rank) {
        return invalid(Status::InvalidArgument("status " + op.value.as_string() + " of " + r.collection + "." +
                                               op.field + " has rank " + std::to_string(op.rank) +
                                               ", schema says otherwise"));
      }
    }
  }
  if (ops != h.op_count) {
    return invalid(Status::Corruption("header says " + std::to_string(h.op_count) + " ops, payload has " +
                                      std::to_string(ops)));
  }
  if (!unknown.empty()) {
    Prepared wait;
    wait.invalid = kWaitingSchemaPrefix + unknown;
    return wait;
  }
  out.records = std::move(records).value();
  return out;
}

Status Replica::Impl::WriteApplied(Txn& t, Cache& cache, const feed::ParsedDelta& d,
                                   std::span<const uint8_t> bytes, const Prepared& p) {
  const feed::DeltaHeader& h = d.header;
  const store::LaneId lane = store::LaneOfDelta(d);
  std::string fk = store::FeedKey(h.author, lane, h.seq);
  HEARTH_RETURN_IF_ERROR(t.Put(feeds, AsBytes(fk), bytes));
  HEARTH_RETURN_IF_ERROR(PutHead(t, h.author, lane, FeedHead{h.seq, d.hash}));
  // The clock observes every chained delta, readable or not, so that a local
  // write made after receiving it is newer even if its key comes later.
  HEARTH_RETURN_IF_ERROR(ObserveHlc(t, h.hlc_max));
  if (p.unreadable) return t.Put(unreadable, AsBytes(fk), {});
  for (const crdt::RecordOps& r : p.records) {
    auto rec = Load(t, cache, r.collection, r.id);
    if (!rec.ok()) return rec.status();
    for (const crdt::Op& op : r.ops) {
      (*rec)->now.Apply(op, h.author);
      (*rec)->cause.Note(h.author, op.hlc, h.author != identity.public_key);
    }
    (*rec)->dirty = true;
    HEARTH_RETURN_IF_ERROR(IndexHistory(t, r.collection, r.id, h.author, lane, h.seq));
  }
  if (root_key && h.author == *root_key) {
    // A new policy or schema changes what every other delta's fate is:
    // re-derive.
    if (h.scope == kPolicyScope || h.scope == kSchemaScope) rebuild_pending = true;
    if (h.scope == kKeysScope) {
      KeyCache fresh;
      auto opened = OpenEnvelopes(t, p.records, cache, &fresh);
      if (!opened.ok()) return opened.status();
      if (!fresh.empty()) HEARTH_RETURN_IF_ERROR(InstallKeys(t, cache, fresh));
    }
  }
  return Status::Ok();
}

Status Replica::Impl::ObserveHlc(Txn& t, crdt::Hlc remote) const {
  auto hlc = LoadHlc(t);
  if (!hlc.ok()) return hlc.status();
  if (remote > *hlc) HEARTH_RETURN_IF_ERROR(StoreHlc(t, crdt::HlcObserve(*hlc, remote)));
  return Status::Ok();
}

static Status CheckHlcRange(const feed::DeltaHeader& h) {
  if (crdt::HlcPhysicalMs(h.hlc_max) > crdt::kHlcMaxPhysicalMs) {
    return Status::InvalidArgument(Where(h) + ": HLC " + std::to_string(h.hlc_max) +
                                   " is beyond 9999-12-31 (refused by every replica)");
  }
  return Status::Ok();
}

Status Replica::Impl::RecordFork(Txn& t, const AuthorId& a, const store::LaneId& lane, uint64_t seq,
                                 std::span<const uint8_t> first, std::span<const uint8_t> second) const {
  std::string fk = store::FeedKey(a, lane, seq);
  const std::string lk = store::LaneKey(a, lane);
  auto existing = t.Get(forks, AsBytes(fk));
  if (!existing.ok()) return existing.status();
  if (!existing->has_value()) {
    std::string v;
    store::AppendU32(v, static_cast<uint32_t>(first.size()));
    v.append(reinterpret_cast<const char*>(first.data()), first.size());
    v.append(reinterpret_cast<const char*>(second.data()), second.size());
    HEARTH_RETURN_IF_ERROR(t.Put(forks, AsBytes(fk), AsBytes(v)));
  }
  auto fr = t.Get(frozen, AsBytes(lk));
  if (!fr.ok()) return fr.status();
  if (!fr->has_value() || store::ReadU64((*fr)->data()) > seq) {
    std::string v;
    store::AppendU64(v, seq);
    HEARTH_RETURN_IF_ERROR(t.Put(frozen, AsBytes(lk), AsBytes(v)));
  }
  return Status::Ok();
}

Result<ApplyResult> Replica::Impl::ApplyInTxn(Txn& t, Cache& cache, const feed::ParsedDelta& d,
                                              std::span<const uint8_t> bytes, KeyCache* key_cache) {
  const feed::DeltaHeader& h = d.header;
  ApplyResult res;
  res.author = h.author;
  res.seq = h.seq;
  const store::LaneId lane = store::LaneOfDelta(d);
  const std::string fk = store::FeedKey(h.author, lane, h.seq);

  auto head = Head(t, h.author, lane);
  if (!head.ok()) return head.status();
  HEARTH_RETURN_IF_ERROR(CheckLaneScope(t, feeds, pending, d, lane, head->seq));

  // What the feed holds at this position (feed::ClassifyDelta reads the
  // feed's delta for seq <= head, the pending one and the fork point after).
  feed::FeedPosition at;
  at.head_seq = head->seq;
  at.head_hash = head->hash;
  std::optional<ByteView> first;  // the delta held at this position, if any
  if (h.seq <= head->seq) {
    auto held = t.Get(feeds, AsBytes(fk));
    if (!held.ok()) return held.status();
    if (held->has_value()) {
      auto held_hash = HashOf(**held);
      if (!held_hash.ok()) return held_hash.status();
      at.held = *held_hash;
      first = **held;
    }
  } else {
    auto waiting = t.Get(pending, AsBytes(fk));
    if (!waiting.ok()) return waiting.status();
    if (waiting->has_value()) {
      auto w_hash = HashOf(**waiting);
      if (!w_hash.ok()) return w_hash.status();
      at.waiting = *w_hash;
      first = **waiting;
    }
    auto fr = t.Get(frozen, AsBytes(store::LaneKey(h.author, lane)));
    if (!fr.ok()) return fr.status();
    if (fr->has_value()) at.frozen_from = store::ReadU64((*fr)->data());
  }

  const feed::ChainDecision place = feed::ClassifyDelta(h, d.hash, at);
  switch (place.verdict) {
    case feed::ChainVerdict::kHole:
      return Status::Corruption("feed of " + h.author.ToHex() + " has a hole");
    case feed::ChainVerdict::kDuplicate:
      res.outcome = ApplyOutcome::kDuplicate;
      // The same delta (same hash) held as a stub, arriving with its body:
      // the signature just verified covers the body's hash, so this is the
      // body the stub names. Store it in the stub's place; a chained one is
      // then judged like any delta by re-deriving the state from the feeds.
      if (!d.stub && first) {
        auto held = feed::ParseDelta(*first, UINT64_MAX);
        if (!held.ok()) return held.status().WithContext("stored delta");
        if (held->stub) {
          const bool in_feed = h.seq <= head->seq;
          HEARTH_RETURN_IF_ERROR(t.Put(in_feed ? feeds : pending, AsBytes(fk), bytes));
          if (in_feed) rebuild_pending = true;
          res.outcome = ApplyOutcome::kBodyArrived;
        }
      }
      return res;
    case feed::ChainVerdict::kFork: {
      Bytes held_first(first->begin(), first->end());
      HEARTH_RETURN_IF_ERROR(RecordFork(t, h.author, lane, h.seq, held_first, bytes));
      // Deltas from the fork point on were applied here: un-apply them, as
      // every replica that sees both branches does.
      if (place.fork_in_feed) rebuild_pending = true;
      res.outcome = ApplyOutcome::kFork;
      return res;
    }
    case feed::ChainVerdict::kHeld:
    case feed::ChainVerdict::kPending:
      HEARTH_RETURN_IF_ERROR(t.Put(pending, AsBytes(fk), bytes));
      res.outcome = place.verdict == feed::ChainVerdict::kHeld ? ApplyOutcome::kHeld : ApplyOutcome::kPending;
      return res;
    case feed::ChainVerdict::kBrokenChain:
      return Status::Unauthenticated(Where(h) + ": previous-delta hash does not match the held feed" +
                                     " (the author rewrote its history)");
    case feed::ChainVerdict::kChains:
      break;
  }

  // A stub chaining where its full delta already waits in pending: apply
  // the full one (the body must not be lost to its own stub).
  std::optional<Bytes> full_bytes;
  std::optional<feed::ParsedDelta> full;
  if (place.waiting_copy && d.stub && first) {
    full_bytes.emplace(first->begin(), first->end());
    auto p = feed::ParseDelta(*full_bytes, UINT64_MAX);
    if (!p.ok()) return p.status().WithContext("stored delta");
    if (p->stub) {
      full_bytes.reset();
    } else {
      full = std::move(p).value();
    }
  }
  auto outcome = full ? ApplyChained(t, cache, *full, *full_bytes, key_cache, &res.reason)
                      : ApplyChained(t, cache, d, bytes, key_cache, &res.reason);
  if (!outcome.ok()) return outcome.status();
  if (place.waiting_copy) HEARTH_RETURN_IF_ERROR(t.Del(pending, AsBytes(fk)));
  res.outcome = *outcome;
  if (res.outcome == ApplyOutcome::kUnreadable) res.missing_key = ScopeEpoch{h.scope, h.epoch};
  auto drained = Drain(t, cache, h.author, lane, key_cache);
  if (!drained.ok()) return drained.status();
  res.unblocked = *drained;
  return res;
}

Result<ApplyOutcome> Replica::Impl::ApplyChained(Txn& t, Cache& cache, const feed::ParsedDelta& d,
                                                 std::span<const uint8_t> bytes, KeyCache* key_cache,
                                                 std::string* reason) {
  const feed::DeltaHeader& h = d.header;
  auto policy = PolicyIn(t, &cache);
  if (!policy.ok()) return policy.status();
  // Kept in the feed (the chain stays verifiable, relays forward it) but
  // never applied: refused by the policy (a later policy may admit it), or
  // content that can never be applied (kept as evidence; other authors'
  // deltas and this author's later ones go on).
  auto deny = [&](const std::string& why) -> Result<ApplyOutcome> {
    const store::LaneId lane = store::LaneOfDelta(d);
    std::string fk = store::FeedKey(h.author, lane, h.seq);
    HEARTH_RETURN_IF_ERROR(t.Put(feeds, AsBytes(fk), bytes));
    HEARTH_RETURN_IF_ERROR(PutHead(t, h.author, lane, FeedHead{h.seq, d.hash}));
    HEARTH_RETURN_IF_ERROR(t.Put(denied, AsBytes(fk), AsBytes(why)));
    HEARTH_RETURN_IF_ERROR(ObserveHlc(t, h.hlc_max));
    *reason = why;
    return IsWaitingReason(why) ? ApplyOutcome::kWaitingSchema : ApplyOutcome::kDenied;
  };
  Status permit = Permit(h, policy->get(), feed::IsLaneVersion(d.version));
  if (!permit.ok()) return deny(permit.message());
  auto schema = SchemaIn(t, &cache);
  if (!schema.ok()) return schema.status();
  auto prepared = Prepare(t, d, **schema, key_cache);
  if (!prepared.ok()) return prepared.status();
  if (!prepared->invalid.empty()) return deny(prepared->invalid);
  HEARTH_RETURN_IF_ERROR(WriteApplied(t, cache, d, bytes, *prepared));
  if (prepared->unreadable) *reason = prepared->unreadable_reason;
  if (prepared->withheld) return ApplyOutcome::kWithheld;
  return prepared->unreadable ? ApplyOutcome::kUnreadable : ApplyOutcome::kApplied;
}

Result<uint64_t> Replica::Impl::Drain(Txn& t, Cache& cache, const AuthorId& a, const store::LaneId& lane,
                                      KeyCache* key_cache) {
  uint64_t n = 0;
  auto fr = t.Get(frozen, AsBytes(store::LaneKey(a, lane)));
  if (!fr.ok()) return fr.status();
  const uint64_t frozen_at = fr->has_value() ? store::ReadU64((*fr)->data()) : UINT64_MAX;
  for (;;) {
    auto head = Head(t, a, lane);
    if (!head.ok()) return head.status();
    const uint64_t next = head->seq + 1;
    if (next >= frozen_at) break;
    const std::string fk = store::FeedKey(a, lane, next);
    auto got = t.Get(pending, AsBytes(fk));
    if (!got.ok()) return got.status();
    if (!got->has_value()) break;
    Bytes bytes((*got)->begin(), (*got)->end());
    auto d = feed::ParseDelta(bytes, UINT64_MAX);
    bool ok = d.ok() && d->header.prev == head->hash;
    std::string reason;
    Result<ApplyOutcome> o = ok ? ApplyChained(t, cache, *d, bytes, key_cache, &reason)
                                : Result<ApplyOutcome>(Status::Corruption("unchained"));
    if (!o.ok() && o.status().code() != Code::kCorruption && o.status().code() != Code::kUnauthenticated &&
        o.status().code() != Code::kInvalidArgument && o.status().code() != Code::kPermissionDenied) {
      return o.status();  // storage trouble: abort the transaction
    }
    // Signed but invalid content, or a successor of another branch: drop
    // it; the feed stays at its head (every replica rejects it alike).
    HEARTH_RETURN_IF_ERROR(t.Del(pending, AsBytes(fk)));
    if (!o.ok()) break;
    ++n;
  }
  return n;
}

// ApplyBatch (below) makes the same checks: keep the two in step.
Result<ApplyResult> Replica::Apply(std::span<const uint8_t> delta) {
  Impl& m = *impl_;
  if (delta.size() > m.opts.max_delta_bytes) {
    return Status::ResourceExhausted("delta of " + std::to_string(delta.size()) +
                                     " bytes exceeds max_delta_bytes");
  }
  auto parsed = feed::ParseDelta(delta, m.opts.max_delta_bytes);
  if (!parsed.ok()) return parsed.status();
  HEARTH_RETURN_IF_ERROR(feed::VerifyDelta(*parsed).WithContext(Where(parsed->header)));
  HEARTH_RETURN_IF_ERROR(CheckHlcRange(parsed->header));
  return m.WithWrite<ApplyResult>([&](Txn& t) -> Result<ApplyResult> {
    Impl::Cache cache;
    auto r = m.ApplyInTxn(t, cache, *parsed, delta);
    if (!r.ok()) return r;
    HEARTH_RETURN_IF_ERROR(m.FinishWrite(t, cache));
    return r;
  });
}

BatchApplyResult Replica::ApplyBatch(std::span<const Bytes> deltas) {
  Impl& m = *impl_;
  BatchApplyResult out;
  // Structure and signatures first, outside the write lock. A delta that
  // fails here ends the batch: only those before it are applied.
  std::vector<feed::ParsedDelta> parsed;
  parsed.reserve(deltas.size());
  Status first_error;
  bool refused = false;  // first_error is the delta's own
  size_t n = deltas.size();
  auto batch_where = [](size_t i) { return "batch delta #" + std::to_string(i); };
  for (size_t i = 0; i < deltas.size(); ++i) {
    const Bytes& delta = deltas[i];
    if (delta.size() > m.opts.max_delta_bytes) {
      first_error = Status::ResourceExhausted(batch_where(i) + ": delta of " + std::to_string(delta.size()) +
                                              " bytes exceeds max_delta_bytes");
      refused = true;
      n = i;
      break;
    }
    auto p = feed::ParseDelta(delta, m.opts.max_delta_bytes);
    Status s = p.status();
    if (s.ok()) s = feed::VerifyDelta(*p).WithContext(Where(p->header));
    if (s.ok()) s = CheckHlcRange(p->header);
    if (!s.ok()) {
      first_error = s.WithContext(batch_where(i));
      refused = true;
      n = i;
      break;
    }
    parsed.push_back(std::move(p).value());
  }
  // Apply deltas [0, n) in one transaction. When delta i fails inside it,
  // the transaction is abandoned (nothing written) and [0, i) is applied
  // again on its own; i strictly decreases, so this ends.
  while (n > 0) {
    size_t failed_at = n;
    Status failure;
    auto r = m.WithWrite<std::vector<ApplyResult>>([&](Txn& t) -> Result<std::vector<ApplyResult>> {
      failed_at = n;  // WithWrite may run this again after growing the map
      Impl::Cache cache;
      Impl::KeyCache key_cache;
      std::vector<ApplyResult> res;
      res.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        auto one = m.ApplyInTxn(t, cache, parsed[i], deltas[i], &key_cache);
        if (!one.ok()) {
          failed_at = i;
          failure = one.status();
          return one.status();
        }
        res.push_back(*one);
      }
      HEARTH_RETURN_IF_ERROR(m.FinishWrite(t, cache));
      return res;
    });
    if (r.ok()) {
      out.results = std::move(r).value();
      out.error = first_error;
      out.refused = refused;
      return out;
    }
    if (failed_at >= n) {  // flush, commit or I/O: nothing of [0, n) written
      out.error = r.status();
      return out;
    }
    first_error = failure.WithContext(batch_where(failed_at));
    // Inside the transaction, these codes are the store's trouble (a read
    // failed, the disk or the map is full), not the delta's.
    Code c = failure.code();
    refused = !(c == Code::kIOError || c == Code::kInternal || c == Code::kUnavailable ||
                c == Code::kResourceExhausted);
    n = failed_at;
  }
  out.error = first_error;
  out.refused = refused;
  return out;
}

// ---------------------------------------------------------------- keys

Status Replica::Impl::ApplyUnreadable(Txn& t, Cache& cache, std::string_view scope, uint32_t epoch) {
  // Collect first: applying edits the table `unreadable`.
  std::vector<std::string> todo;
  {
    store::Cursor c(t, unreadable);
    for (bool ok = c.First(); ok; ok = c.Next()) todo.emplace_back(c.key().begin(), c.key().end());
    HEARTH_RETURN_IF_ERROR(c.status());
  }
  for (const std::string& fk : todo) {
    auto got = t.Get(feeds, AsBytes(fk));
    if (!got.ok()) return got.status();
    if (!got->has_value()) continue;
    Bytes bytes((*got)->begin(), (*got)->end());
    auto d = feed::ParseDelta(bytes, UINT64_MAX);
    if (!d.ok()) return d.status().WithContext("stored delta");
    if (d->header.scope != scope || d->header.epoch != epoch) continue;
    auto schema = SchemaIn(t, &cache);
    if (!schema.ok()) return schema.status();
    auto p = Prepare(t, *d, **schema);
    if (!p.ok()) return p.status();
    if (p->unreadable) continue;  // written under another key of this (scope, epoch)
    HEARTH_RETURN_IF_ERROR(t.Del(unreadable, AsBytes(fk)));
    if (!p->invalid.empty()) {
      // Readable now, and not applicable: evidence, like a denied delta.
      HEARTH_RETURN_IF_ERROR(t.Put(denied, AsBytes(fk), AsBytes(p->invalid)));
      continue;
    }
    for (const crdt::RecordOps& r : p->records) {
      auto rec = Load(t, cache, r.collection, r.id);
      if (!rec.ok()) return rec.status();
      for (const crdt::Op& op : r.ops) {
        (*rec)->now.Apply(op, d->header.author);
        (*rec)->cause.Note(d->header.author, op.hlc, d->header.author != identity.public_key);
      }
      (*rec)->dirty = true;
      HEARTH_RETURN_IF_ERROR(
          IndexHistory(t, r.collection, r.id, d->header.author, store::LaneOfDelta(*d), d->header.seq));
    }
  }
  return Status::Ok();
}

Status Replica::AddScopeKey(std::string_view scope, uint32_t epoch, std::span<const uint8_t> key) {
  if (key.size() != crypto::kAeadKeyBytes) {
    return Status::InvalidArgument("a scope key has 32 bytes, got " + std::to_string(key.size()));
  }
  if (scope.empty() || scope.size() > feed::kMaxScopeBytes || epoch == 0) {
    return Status::InvalidArgument("bad scope name or epoch");
  }
  Impl& m = *impl_;
  auto r = m.WithWrite<bool>([&](Txn& t) -> Result<bool> {
    std::string kk = store::ScopeKeyKey(scope, epoch);
    auto held = t.Get(m.keys, AsBytes(kk));
    if (!held.ok()) return held.status();
    if (held->has_value()) {
      if (!crypto::ConstantTimeEqual(**held, key)) {
        return Status::AlreadyExists("a different key for scope " + std::string(scope) + " epoch " +
                                     std::to_string(epoch) + " is already held");
      }
      return true;
    }
    HEARTH_RETURN_IF_ERROR(t.Put(m.keys, AsBytes(kk), key));
    Impl::Cache cache;
    HEARTH_RETURN_IF_ERROR(m.ApplyUnreadable(t, cache, scope, epoch));
    HEARTH_RETURN_IF_ERROR(m.FinishWrite(t, cache));
    return true;
  });
  return r.status();
}

// Keyring: 0x01 | count u32 | { scope_len u8 | scope | epoch u32 | key[32] }*
Result<Bytes> Replica::ExportKeyring(const std::vector<std::string>& scopes) const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<Bytes> {
    std::string out(1, '\x01');
    std::string body;
    uint32_t count = 0;
    store::Cursor c(t, m.keys);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      ByteView k = c.key();
      if (k.size() < 6 || c.value().size() != crypto::kAeadKeyBytes) continue;
      size_t scope_len = k.size() - 5;
      std::string_view scope(reinterpret_cast<const char*>(k.data()), scope_len);
      if (!scopes.empty() && std::find(scopes.begin(), scopes.end(), scope) == scopes.end()) continue;
      body.push_back(static_cast<char>(scope_len));
      body.append(reinterpret_cast<const char*>(k.data()), scope_len);
      body.append(reinterpret_cast<const char*>(k.data()) + scope_len + 1, 4);
      body.append(reinterpret_cast<const char*>(c.value().data()), c.value().size());
      ++count;
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    store::AppendU32(out, count);
    out += body;
    crypto::Wipe({reinterpret_cast<uint8_t*>(body.data()), body.size()});
    Bytes b(out.begin(), out.end());
    crypto::Wipe({reinterpret_cast<uint8_t*>(out.data()), out.size()});
    return b;
  });
}

Result<std::vector<ScopeEpoch>> Replica::ListKeys() const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<std::vector<ScopeEpoch>> {
    std::vector<ScopeEpoch> out;
    store::Cursor c(t, m.keys);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      ByteView k = c.key();  // scope | 0x00 | epoch u32 (store/keys.hpp)
      if (k.size() < 6 || c.value().size() != crypto::kAeadKeyBytes) {
        return Status::Corruption("keys: entry of " + std::to_string(k.size()) + "+" +
                                  std::to_string(c.value().size()) + " bytes");
      }
      ScopeEpoch se;
      se.scope.assign(reinterpret_cast<const char*>(k.data()), k.size() - 5);
      se.epoch = store::ReadU32(k.data() + k.size() - 4);
      out.push_back(std::move(se));
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    std::sort(out.begin(), out.end());
    return out;
  });
}

// One write transaction for the whole keyring: a storage failure part-way
// leaves none of its keys (and none of the deltas they unlock) behind.
Status Replica::ImportKeyring(std::span<const uint8_t> kr, std::vector<ScopeEpoch>* conflicts) {
  if (kr.size() < 5 || kr[0] != 0x01) return Status::Corruption("not a Hearth keyring (version byte)");
  uint32_t count = store::ReadU32(kr.data() + 1);
  struct Entry {
    std::string scope;
    uint32_t epoch;
    std::span<const uint8_t> key;
  };
  std::vector<Entry> entries;
  size_t off = 5;
  for (uint32_t i = 0; i < count; ++i) {
    if (off + 1 > kr.size()) return Status::Corruption("keyring truncated");
    size_t n = kr[off++];
    if (off + n + 4 + 32 > kr.size()) return Status::Corruption("keyring truncated");
    std::string scope(reinterpret_cast<const char*>(kr.data() + off), n);
    uint32_t epoch = store::ReadU32(kr.data() + off + n);
    if (scope.empty() || scope.size() > feed::kMaxScopeBytes || epoch == 0) {
      return Status::InvalidArgument("bad scope name or epoch in keyring");
    }
    entries.push_back(Entry{std::move(scope), epoch, kr.subspan(off + n + 4, 32)});
    off += n + 4 + 32;
  }
  if (off != kr.size()) return Status::Corruption("keyring has trailing bytes");
  if (entries.empty()) return Status::Ok();
  Impl& m = *impl_;
  std::vector<ScopeEpoch> clashes;
  auto r = m.WithWrite<bool>([&](Txn& t) -> Result<bool> {
    clashes.clear();  // WithWrite may run this again after growing the map
    Impl::Cache cache;
    for (const Entry& e : entries) {
      std::string kk = store::ScopeKeyKey(e.scope, e.epoch);
      auto held = t.Get(m.keys, AsBytes(kk));
      if (!held.ok()) return held.status();
      if (held->has_value()) {
        // One key per (scope, epoch): a different one is reported, not
        // imported, and the others go on (docs/policy.md, "Keys without a root").
        if (!crypto::ConstantTimeEqual(**held, e.key)) clashes.push_back(ScopeEpoch{e.scope, e.epoch});
        continue;
      }
      HEARTH_RETURN_IF_ERROR(t.Put(m.keys, AsBytes(kk), e.key));
      HEARTH_RETURN_IF_ERROR(m.ApplyUnreadable(t, cache, e.scope, e.epoch));
    }
    HEARTH_RETURN_IF_ERROR(m.FinishWrite(t, cache));
    return true;
  });
  if (r.ok() && conflicts != nullptr) *conflicts = std::move(clashes);
  return r.status();
}

Result<ScopeEpoch> Replica::Impl::NewScopeKey(std::string_view scope, bool rotate) {
  const std::string s(scope);
  if (root_key) {
    return Status::FailedPrecondition("this replica obeys county root " + root_key->ToHex().substr(0, 16) +
                                      ": the root's policy creates and rotates the keys of scope " + s +
                                      " (a new policy version from the root: `hearth policy sign` or `policy revoke`)");
  }
  if (scope.empty() || scope.size() > feed::kMaxScopeBytes || scope[0] == '$') {
    return Status::InvalidArgument("bad scope name '" + s + "'");
  }
  bool declared = false;
  // No root here: the schema in force is the replica's own.
  for (const CollectionSpec& c : local_schema->collections()) declared = declared || c.scope == scope;
  if (!declared) {
    return Status::InvalidArgument("scope " + s + " is not declared by any collection of this replica's schema");
  }
  return WithWrite<ScopeEpoch>([&](Txn& t) -> Result<ScopeEpoch> {
    auto newest = NewestEpoch(t, scope);
    if (!newest.ok()) return newest.status();
    uint32_t epoch = 1;
    if (!rotate && *newest) {
      return Status::AlreadyExists("scope " + s + " already has a key (epoch " + std::to_string(**newest) +
                                   "); `hearth keys rotate " + s +
                                   "` (Replica::RotateScopeKey) makes a new epoch");
    }
    if (rotate) {
      if (!*newest) {
        return Status::FailedPrecondition("no key for scope " + s + " to rotate: create it with `hearth keys new " +
                                          s + "` (Replica::CreateScopeKey) or import it");
      }
      if (**newest == UINT32_MAX) return Status::ResourceExhausted("scope " + s + " has no epoch left");
      epoch = **newest + 1;
    }
    crypto::SecretBytes key = crypto::RandomAeadKey();
    HEARTH_RETURN_IF_ERROR(t.Put(keys, AsBytes(store::ScopeKeyKey(scope, epoch)), key.span()));
    Cache cache;
    HEARTH_RETURN_IF_ERROR(ApplyUnreadable(t, cache, scope, epoch));  // none expected; cheap
    HEARTH_RETURN_IF_ERROR(FinishWrite(t, cache));
    return ScopeEpoch{s, epoch};
  });
}

Result<ScopeEpoch> Replica::CreateScopeKey(std::string_view scope) { return impl_->NewScopeKey(scope, false); }
Result<ScopeEpoch> Replica::RotateScopeKey(std::string_view scope) { return impl_->NewScopeKey(scope, true); }

}  // namespace hearth
