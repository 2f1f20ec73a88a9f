// Replica: the full verification pass (`hearth verify`) and the consistency
// check. Re-derives every table that can be derived — from the feeds, the
// schema and the identity — and compares it with what is stored, both ways.
// Kept apart from apply.cpp, which owns the write paths.
//
// Every problem names the table it was found in ("index: …"), so that an
// operator (and the damaged-storage test) can tell what is wrong. Deltas
// refused by the policy or with invalid content are evidence kept on
// purpose, never a problem (docs/reliability.md, "Damaged storage").
#include <algorithm>
#include <set>

#include "base/bytes.hpp"
#include "store/keys.hpp"
#include "store/record_view.hpp"
#include "store/replica_impl.hpp"
#include "store/storage_check.hpp"

namespace hearth {
namespace {

using store::AsBytes;
using store::ByteView;
using store::Txn;

// The reason of a denied-table entry for a delta whose content can never be
// applied starts with this (the apply path's kInvalidContentPrefix).
constexpr std::string_view kInvalidContentReason = "invalid content:";

std::string Short(const AuthorId& a) { return a.ToHex().substr(0, 16); }

// "author16#seq", with "/lane_id" after the author outside the legacy lane.
std::string LaneName(const AuthorId& a, const store::LaneId& lane) {
  return lane == store::kLegacyLane ? Short(a) : Short(a) + "/" + base::ToHex(lane.data(), lane.size());
}

std::string KeyName(ByteView k) {
  auto pos = store::ParseFeedKey(k);
  if (!pos) return "bad key (" + std::to_string(k.size()) + " bytes)";
  return LaneName(pos->author, pos->lane) + "#" + std::to_string(pos->seq);
}

std::string Str(ByteView v) { return std::string(v.begin(), v.end()); }

// Compares a stored set of keys with the derived one; one problem per side.
void CompareKeys(const std::string& table, const std::set<std::string>& stored,
                 const std::set<std::string>& derived, const std::function<std::string(const std::string&)>& name,
                 std::vector<std::string>* out) {
  std::vector<std::string> missing, extra;
  std::set_difference(derived.begin(), derived.end(), stored.begin(), stored.end(), std::back_inserter(missing));
  std::set_difference(stored.begin(), stored.end(), derived.begin(), derived.end(), std::back_inserter(extra));
  if (!missing.empty()) {
    out->push_back(table + ": " + std::to_string(missing.size()) + " entr" + (missing.size() == 1 ? "y" : "ies") +
                   " missing (first: " + name(missing.front()) + ")");
  }
  if (!extra.empty()) {
    out->push_back(table + ": " + std::to_string(extra.size()) + " entr" + (extra.size() == 1 ? "y" : "ies") +
                   " that the feeds do not derive (first: " + name(extra.front()) + ")");
  }
}

std::string IndexName(const std::string& k) {
  size_t a = k.find('\0');
  size_t b = a == std::string::npos ? a : k.find('\0', a + 1);
  if (b == std::string::npos) return "bad key";
  return k.substr(0, a) + "." + k.substr(a + 1, b - a - 1);
}

std::string StateName(const std::string& k) {
  size_t a = k.find('\0');
  if (a == std::string::npos || k.size() != a + 17) return "bad key";
  RecordId id;
  std::copy(k.begin() + a + 1, k.end(), id.bytes.begin());
  return k.substr(0, a) + "/" + id.ToHex();
}

// A delta kept in pending or forks: well formed, signed, under its key.
std::optional<std::string> CheckKept(ByteView bytes, const store::FeedPos& pos, feed::ParsedDelta* out) {
  auto d = feed::ParseDelta(bytes, UINT64_MAX);
  if (!d.ok()) return d.status().ToString();
  if (d->header.author != pos.author || d->header.seq != pos.seq) return std::string("stored under another author or seq");
  if (store::LaneOfDelta(*d) != pos.lane) return std::string("stored under another lane");
  if (!feed::VerifyDelta(*d).ok()) return std::string("bad signature");
  if (out) *out = *d;
  return std::nullopt;
}

// Every check of the tables that needs no signature work on the feeds.
// Problems go to `out`; the Status is for failures to read at all.
Status CheckTables(const ReplicaImpl& m, const Txn& t, std::vector<std::string>* out) {
  // ---- feeds: keys (author || lane of the delta || seq), contiguity from
  // seq 1 in each lane, hash links.
  std::map<std::string, FeedHead> last;  // per lane key: the last delta of the contiguous feed
  std::set<std::string> feed_keys;
  crdt::Hlc own_hlc = 0;
  bool feeds_ok = true;
  {
    store::Cursor c(t, m.feeds);
    std::string prev_lane;
    std::string lane_scope;  // of the lane's first delta: every delta of a lane has it
    FeedHead chain;
    bool broken = false;
    for (bool ok = c.First(); ok; ok = c.Next()) {
      feed_keys.insert(Str(c.key()));
      auto d = feed::ParseDelta(c.value(), UINT64_MAX);
      if (!d.ok()) {
        out->push_back("feeds: delta " + KeyName(c.key()) + ": " + d.status().ToString());
        feeds_ok = false;
        continue;
      }
      const feed::DeltaHeader& h = d->header;
      const store::LaneId lane = store::LaneOfDelta(*d);
      if (store::FeedKey(h.author, lane, h.seq) != Str(c.key())) {
        // Also a delta of versions 1 to 4 outside its author's legacy lane.
        out->push_back("feeds: delta " + LaneName(h.author, lane) + "#" + std::to_string(h.seq) +
                       " (format version " + std::to_string(d->version) + ") stored under key " + KeyName(c.key()));
        feeds_ok = false;
      }
      const std::string lane_key = store::LaneKey(h.author, lane);
      if (lane_key != prev_lane) {  // keys sort by author, then lane, then seq
        prev_lane = lane_key;
        lane_scope = h.scope;
        chain = FeedHead{};
        broken = false;
      }
      if (lane != store::kLegacyLane && h.scope != lane_scope) {
        // Two scopes whose lane ids collide: one chain would mix them.
        out->push_back("feeds: delta " + LaneName(h.author, lane) + "#" + std::to_string(h.seq) + " of scope " +
                       h.scope + " is in the lane of scope " + lane_scope + " (lane-id collision)");
        feeds_ok = false;
      }
      if (broken) continue;
      if (h.seq != chain.seq + 1 || h.prev != chain.hash) {
        out->push_back("feeds: delta " + LaneName(h.author, lane) + "#" + std::to_string(h.seq) + ": feed chain broken (" +
                       (h.seq != chain.seq + 1 ? "gap after seq " + std::to_string(chain.seq)
                                               : std::string("previous hash does not match")) +
                       ")");
        feeds_ok = false;
        broken = true;
        continue;
      }
      chain = FeedHead{h.seq, d->hash};
      last[lane_key] = chain;
      if (h.author == m.identity.public_key) own_hlc = std::max(own_hlc, h.hlc_max);
    }
    HEARTH_RETURN_IF_ERROR(c.status());
  }

  // ---- heads: one per feed, equal to its last delta; none without a feed.
  {
    store::Cursor c(t, m.heads);
    std::set<std::string> seen;
    for (bool ok = c.First(); ok; ok = c.Next()) {
      auto lk = store::ParseLaneKey(c.key());
      if (!lk || c.value().size() != 40) {
        out->push_back("heads: malformed entry (" + std::to_string(c.key().size()) + "-byte key, " +
                       std::to_string(c.value().size()) + "-byte value)");
        continue;
      }
      const std::string name = LaneName(lk->author, lk->lane);
      seen.insert(Str(c.key()));
      FeedHead h;
      h.seq = store::ReadU64(c.value().data());
      std::copy(c.value().begin() + 8, c.value().end(), h.hash.begin());
      auto it = last.find(Str(c.key()));
      if (it == last.end()) {
        out->push_back("heads: head of " + name + " (seq " + std::to_string(h.seq) + ") but no feed is stored");
      } else if (!(it->second == h)) {
        out->push_back("heads: head of " + name + " says seq " + std::to_string(h.seq) +
                       ", but its feed ends at seq " + std::to_string(it->second.seq) +
                       (it->second.seq == h.seq ? " with another hash" : ""));
      }
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    for (const auto& [lk, h] : last) {
      if (seen.count(lk)) continue;
      auto pos = store::ParseLaneKey(AsBytes(lk));
      out->push_back("heads: feed of " + LaneName(pos->author, pos->lane) + " (seq " + std::to_string(h.seq) +
                     ") has no head");
    }
  }

  // ---- meta: format, clock, author, root, schema.
  {
    auto get = [&](const char* name) { return t.Get(m.meta, AsBytes(name)); };
    auto fmt = get("format");
    HEARTH_RETURN_IF_ERROR(fmt.status());
    if (!fmt->has_value() || (*fmt)->size() != 4 || store::ReadU32((*fmt)->data()) != kStorageFormatVersion) {
      out->push_back("meta: format record missing or wrong");
    }
    auto hlc = get("hlc");
    HEARTH_RETURN_IF_ERROR(hlc.status());
    if (hlc->has_value() && (*hlc)->size() != 8) {
      out->push_back("meta: clock record has " + std::to_string((*hlc)->size()) + " bytes");
    } else if (own_hlc != 0 && (!hlc->has_value() || store::ReadU64((*hlc)->data()) < own_hlc)) {
      // A clock behind this author's own deltas would let a new local write
      // lose to an older one.
      out->push_back("meta: clock record " + std::string(hlc->has_value() ? "is behind" : "is missing, behind") +
                     " this author's own deltas");
    }
    auto author = get("author");
    HEARTH_RETURN_IF_ERROR(author.status());
    if (!author->has_value() || (*author)->size() != 32 ||
        !std::equal((*author)->begin(), (*author)->end(), m.identity.public_key.bytes.begin())) {
      out->push_back("identity: identity.key (author " + Short(m.identity.public_key) +
                     ") is not the author recorded in meta");
    }
    auto root = get("root");
    HEARTH_RETURN_IF_ERROR(root.status());
    if (root->has_value() && (*root)->size() != 32) out->push_back("meta: root record has the wrong size");
    auto schema = get("schema");
    HEARTH_RETURN_IF_ERROR(schema.status());
    if (schema->has_value()) {
      std::string text = Str(**schema);
      auto parsed = Schema::Parse(text, "stored schema");
      if (!parsed.ok()) out->push_back("meta: schema record does not parse: " + parsed.status().ToString());
      else if (parsed->ToToml() != m.local_schema->ToToml()) out->push_back("meta: schema record differs from the schema in use");
    } else {
      // Without a schema no user collection could have been written.
      store::Cursor c(t, m.state);
      for (bool ok = c.First(); ok; ok = c.Next()) {
        if (!c.key().empty() && c.key()[0] != '$') {
          out->push_back("meta: schema record missing, but state holds records of " + IndexName(Str(c.key()) + '\0'));
          break;
        }
      }
      HEARTH_RETURN_IF_ERROR(c.status());
    }
  }

  // ---- keys: scope || 0 || epoch -> 32 bytes.
  {
    store::Cursor c(t, m.keys);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      ByteView k = c.key();
      if (k.size() < 5 || k[k.size() - 5] != 0 || c.value().size() != crypto::kAeadKeyBytes) {
        out->push_back("keys: malformed entry");
      }
    }
    HEARTH_RETURN_IF_ERROR(c.status());
  }

  // ---- forks and frozen: both deltas signed at the same (author, lane,
  // seq), different; each forked lane frozen at its lowest fork point.
  std::map<std::string, uint64_t> lowest_fork;  // by lane key
  {
    store::Cursor c(t, m.forks);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      ByteView k = c.key(), v = c.value();
      auto pos = store::ParseFeedKey(k);
      if (!pos || v.size() < 4 || 4 + uint64_t{store::ReadU32(v.data())} > v.size()) {
        out->push_back("forks: malformed entry " + KeyName(k));
        continue;
      }
      const uint32_t n = store::ReadU32(v.data());
      feed::ParsedDelta d1, d2;
      auto p1 = CheckKept(v.subspan(4, n), *pos, &d1);
      auto p2 = CheckKept(v.subspan(4 + n), *pos, &d2);
      if (p1 || p2) {
        out->push_back("forks: proof " + KeyName(k) + ": " + (p1 ? *p1 : *p2));
        continue;
      }
      if (d1.hash == d2.hash) out->push_back("forks: proof " + KeyName(k) + " holds the same delta twice");
      auto [it, fresh] = lowest_fork.emplace(store::LaneKey(pos->author, pos->lane), pos->seq);
      if (!fresh) it->second = std::min(it->second, pos->seq);
    }
    HEARTH_RETURN_IF_ERROR(c.status());
  }
  {
    store::Cursor c(t, m.frozen);
    std::set<std::string> seen;
    for (bool ok = c.First(); ok; ok = c.Next()) {
      auto lk = store::ParseLaneKey(c.key());
      if (!lk || c.value().size() != 8) {
        out->push_back("frozen: malformed entry");
        continue;
      }
      const std::string name = LaneName(lk->author, lk->lane);
      seen.insert(Str(c.key()));
      auto it = lowest_fork.find(Str(c.key()));
      const uint64_t seq = store::ReadU64(c.value().data());
      if (it == lowest_fork.end()) out->push_back("frozen: " + name + " is frozen without a fork proof");
      else if (it->second != seq) out->push_back("frozen: " + name + " frozen at seq " + std::to_string(seq) +
                                                 ", its lowest fork is at " + std::to_string(it->second));
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    for (const auto& [lk, seq] : lowest_fork) {
      if (seen.count(lk)) continue;
      auto pos = store::ParseLaneKey(AsBytes(lk));
      out->push_back("frozen: " + LaneName(pos->author, pos->lane) + " has a fork proof (seq " + std::to_string(seq) +
                     ") but is not frozen");
    }
  }

  // ---- pending: signed deltas beyond their author's head.
  {
    store::Cursor c(t, m.pending);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      ByteView k = c.key();
      auto pos = store::ParseFeedKey(k);
      if (!pos) {
        out->push_back("pending: malformed key");
        continue;
      }
      const uint64_t seq = pos->seq;
      if (auto p = CheckKept(c.value(), *pos, nullptr)) {
        out->push_back("pending: delta " + KeyName(k) + ": " + *p);
        continue;
      }
      auto it = last.find(store::LaneKey(pos->author, pos->lane));
      if (it != last.end() && seq <= it->second.seq) {
        out->push_back("pending: delta " + KeyName(k) + " is at or below its feed's head (seq " +
                       std::to_string(it->second.seq) + ")");
      }
    }
    HEARTH_RETURN_IF_ERROR(c.status());
  }

  // With broken feeds the derivation below would only repeat the problem.
  if (!feeds_ok) return Status::Ok();

  // ---- state, unreadable, denied: the derivation rule, from the feeds alone.
  ReplicaImpl::Derived derived;
  Status ds = m.Derive(t, &derived);
  if (!ds.ok()) {
    out->push_back("feeds: the state cannot be re-derived: " + ds.ToString());
    return Status::Ok();
  }
  {
    store::Cursor s(t, m.state);
    std::set<std::string> stored_keys;
    std::string first_diff;
    size_t diffs = 0;
    for (bool ok = s.First(); ok; ok = s.Next()) {
      std::string key = Str(s.key());
      stored_keys.insert(key);
      auto it = derived.records.find(key);
      if (it == derived.records.end()) continue;
      Bytes enc = codec::EncodeRecordState(it->second);
      if (!std::equal(enc.begin(), enc.end(), s.value().begin(), s.value().end())) {
        if (diffs++ == 0) first_diff = StateName(key);
      }
    }
    HEARTH_RETURN_IF_ERROR(s.status());
    if (diffs) {
      out->push_back("state: " + std::to_string(diffs) + " stored record(s) differ from the state re-derived from the feeds (first: " +
                     first_diff + ")");
    }
    std::set<std::string> derived_keys;
    for (const auto& [k, r] : derived.records) derived_keys.insert(k);
    CompareKeys("state", stored_keys, derived_keys, StateName, out);
  }
  {
    // index: from the derived records and the schema.
    std::set<std::string> want;
    for (const auto& [k, rec] : derived.records) {
      const CollectionSpec* spec = derived.schema->Find(rec.collection);
      if (spec == nullptr) continue;
      for (const FieldSpec& f : spec->fields) {
        if (!f.indexed) continue;
        if (auto v = store::IndexedValue(rec, f.name)) want.insert(store::IndexKey(rec.collection, f.name, *v, rec.id));
      }
    }
    std::set<std::string> have;
    bool values_ok = true;
    store::Cursor c(t, m.index);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      have.insert(Str(c.key()));
      if (!c.value().empty()) values_ok = false;
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    if (!values_ok) out->push_back("index: entries with a value (index entries are empty)");
    CompareKeys("index", have, want, IndexName, out);
  }
  {
    std::set<std::string> have, want(derived.unreadable.begin(), derived.unreadable.end());
    store::Cursor c(t, m.unreadable);
    for (bool ok = c.First(); ok; ok = c.Next()) have.insert(Str(c.key()));
    HEARTH_RETURN_IF_ERROR(c.status());
    CompareKeys("opaque", have, want, [](const std::string& k) { return KeyName(AsBytes(k)); }, out);
  }
  {
    std::set<std::string> have, want;
    for (const auto& [k, reason] : derived.denied) want.insert(k);
    store::Cursor c(t, m.denied);
    for (bool ok = c.First(); ok; ok = c.Next()) have.insert(Str(c.key()));
    HEARTH_RETURN_IF_ERROR(c.status());
    CompareKeys("denied", have, want, [](const std::string& k) { return KeyName(AsBytes(k)); }, out);
  }
  {
    // The history index (docs/storage-format.md, "history"): one entry per
    // (record, delta) the derivation applies.
    std::set<std::string> have, want(derived.history.begin(), derived.history.end());
    store::Cursor c(t, m.history);
    for (bool ok = c.First(); ok; ok = c.Next()) have.insert(Str(c.key()));
    HEARTH_RETURN_IF_ERROR(c.status());
    CompareKeys("history", have, want, [](const std::string& k) { return base::ToHex(reinterpret_cast<const uint8_t*>(k.data()), k.size()); }, out);
  }
  (void)feed_keys;
  return Status::Ok();
}

}  // namespace

namespace inspect {

Status CheckConsistency(const Replica& replica) {
  const ReplicaImpl& m = ReplicaAccess::Of(replica);
  std::vector<std::string> problems;
  auto r = m.WithRead([&](const Txn& t) -> Result<bool> {
    HEARTH_RETURN_IF_ERROR(CheckTables(m, t, &problems));
    return true;
  });
  HEARTH_RETURN_IF_ERROR(r.status());
  if (problems.empty()) return Status::Ok();
  std::string msg = problems.front();
  if (problems.size() > 1) msg += " (and " + std::to_string(problems.size() - 1) + " more: run `hearth verify`)";
  return Status::Corruption(msg);
}

Result<VerifyReport> Verify(const Replica& replica, const std::function<void(uint64_t, uint64_t)>& progress) {
  const ReplicaImpl& m = ReplicaAccess::Of(replica);
  VerifyReport rep;
  // The file first, with plain reads: LMDB must not walk a damaged page.
  Status storage = store::CheckEnvTrees(m.env, m.dir, store::kTableNames);
  if (!storage.ok()) {
    if (storage.code() != Code::kCorruption) return storage;
    rep.problems.push_back("storage: " + storage.message());
    return rep;
  }
  auto r = m.WithRead([&](const Txn& t) -> Result<bool> {
    std::shared_ptr<const Schema> in_force;  // read once, at the first delta to check
    auto total = t.Entries(m.feeds);
    if (!total.ok()) return total.status();
    auto records = t.Entries(m.state);
    if (!records.ok()) return records.status();
    rep.records = *records;
    std::set<AuthorId> authors;
    // Signatures, and the content of every delta that was applied.
    store::Cursor c(t, m.feeds);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      ++rep.deltas;
      if (progress && rep.deltas % 1024 == 0) progress(rep.deltas, *total);
      ByteView k = c.key();
      auto d = feed::ParseDelta(c.value(), UINT64_MAX);
      if (!d.ok()) continue;  // CheckTables reports it
      authors.insert(d->header.author);
      if (!feed::VerifyDelta(*d).ok()) {
        rep.problems.push_back("feeds: delta " + KeyName(k) + ": bad signature");
        continue;
      }
      // Kept on purpose, not applied: evidence, not damage.
      auto denied = t.Get(m.denied, k);
      HEARTH_RETURN_IF_ERROR(denied.status());
      if (denied->has_value()) {
        const std::string reason = Str(**denied);
        if (IsWaitingReason(reason)) {
          ++rep.waiting;
          continue;
        }
        ++rep.denied;
        if (reason.rfind(kInvalidContentReason, 0) == 0) ++rep.invalid;
        continue;
      }
      auto op = t.Get(m.unreadable, k);
      HEARTH_RETURN_IF_ERROR(op.status());
      if (op->has_value()) {
        ++rep.unreadable;
        continue;
      }
      if (!in_force) {
        auto sc = m.SchemaIn(t, nullptr);
        HEARTH_RETURN_IF_ERROR(sc.status());
        in_force = *sc;
      }
      auto p = m.Prepare(t, *d, *in_force);
      if (!p.ok()) rep.problems.push_back("feeds: delta " + KeyName(k) + ": " + p.status().ToString());
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    rep.authors = authors.size();
    if (progress) progress(rep.deltas, *total);
    HEARTH_RETURN_IF_ERROR(CheckTables(m, t, &rep.problems));
    return true;
  });
  if (!r.ok()) {
    if (r.status().code() != Code::kCorruption) return r.status();
    rep.problems.push_back("storage: " + r.status().message());
  }
  return rep;
}

}  // namespace inspect
}  // namespace hearth
