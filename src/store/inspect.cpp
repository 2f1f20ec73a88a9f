// Inspection of a replica (hearth/inspect.hpp): counts, pending, forks and
// denied deltas, decoding deltas and consistent backups (the verification
// pass is in verify.cpp).
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "store/keys.hpp"
#include "store/replica_impl.hpp"

namespace hearth {
namespace {

using store::AsBytes;
using store::ByteView;
using store::Txn;

const char* OpName(crdt::OpKind k) {
  switch (k) {
    case crdt::OpKind::kLwwSet: return "set";
    case crdt::OpKind::kMvSet: return "mv_set";
    case crdt::OpKind::kSetAdd: return "add";
    case crdt::OpKind::kSetRemove: return "remove";
    case crdt::OpKind::kCounter: return "counter";
    case crdt::OpKind::kStatus: return "advance";
    case crdt::OpKind::kLogAppend: return "append";
  }
  return "?";
}

// Calls fn(key, position, value) for each entry of `table`, a table keyed
// by feed position (author 32 bytes, lane_id 8, seq 8): a key of another
// size is damage, reported as kCorruption naming the table.
template <typename F>
Status ScanByFeedKey(const Txn& t, MDB_dbi dbi, std::string_view table, F&& fn) {
  store::Cursor c(t, dbi);
  for (bool ok = c.First(); ok; ok = c.Next()) {
    auto pos = store::ParseFeedKey(c.key());
    if (!pos) {
      return Status::Corruption(std::string(table) + ": key of " + std::to_string(c.key().size()) + " bytes (expected " +
                                std::to_string(store::kFeedKeySize) + ")");
    }
    HEARTH_RETURN_IF_ERROR(fn(c.key(), *pos, c.value()));
  }
  return c.status();
}

}  // namespace

namespace inspect {

Result<ReplicaStats> Stats(const Replica& replica) {
  const ReplicaImpl& m = ReplicaAccess::Of(replica);
  ReplicaStats s;
  s.format_version = kStorageFormatVersion;
  s.map_size = m.env.MapSize();
  s.map_used = m.env.UsedBytes();
  s.is_copy = m.is_copy;
  s.backup_ms = m.backup_ms;
  auto r = m.WithRead([&](const Txn& t) -> Result<bool> {
    std::pair<MDB_dbi, uint64_t*> counts[] = {{m.state, &s.records},   {m.feeds, &s.deltas}, {m.heads, &s.lanes},
                                              {m.pending, &s.pending}, {m.forks, &s.forks}};
    for (auto& [dbi, out] : counts) {
      auto n = t.Entries(dbi);
      if (!n.ok()) return n.status();
      *out = *n;
    }
    // heads is keyed author || lane_id: an author's lanes are adjacent.
    store::Cursor c(t, m.heads);
    std::string last;
    for (bool ok = c.First(); ok; ok = c.Next()) {
      if (c.key().size() < 32) continue;
      std::string a(reinterpret_cast<const char*>(c.key().data()), 32);
      if (a != last) ++s.authors;
      last = std::move(a);
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    return true;
  });
  if (!r.ok()) return r.status();
  return s;
}

Result<std::vector<PendingDelta>> Pending(const Replica& replica) {
  const ReplicaImpl& m = ReplicaAccess::Of(replica);
  std::vector<PendingDelta> out;
  Status r = m.WithRead([&](const Txn& t) -> Status {
    return ScanByFeedKey(t, m.pending, "pending", [&](ByteView, const store::FeedPos& pos, ByteView v) -> Status {
      PendingDelta p;
      p.author = pos.author;
      p.seq = pos.seq;
      p.size = v.size();
      auto fr = t.Get(m.frozen, AsBytes(store::LaneKey(pos.author, pos.lane)));
      if (!fr.ok()) return fr.status();
      p.held = fr->has_value() && (*fr)->size() == 8 && p.seq >= store::ReadU64((*fr)->data());
      out.push_back(p);
      return Status::Ok();
    });
  });
  if (!r.ok()) return r;
  // Deltas waiting for a newer schema: in the denied table, by reason.
  r = m.WithRead([&](const Txn& t) -> Status {
    return ScanByFeedKey(t, m.denied, "denied", [&](ByteView k, const store::FeedPos& pos, ByteView v) -> Status {
      std::string_view reason(reinterpret_cast<const char*>(v.data()), v.size());
      if (!IsWaitingReason(reason)) return Status::Ok();
      PendingDelta p;
      p.author = pos.author;
      p.seq = pos.seq;
      auto got = t.Get(m.feeds, k);
      if (!got.ok()) return got.status();
      if (got->has_value()) p.size = (*got)->size();
      p.waiting_schema = true;
      p.reason.assign(reason);
      out.push_back(std::move(p));
      return Status::Ok();
    });
  });
  if (!r.ok()) return r;
  return out;
}

Result<std::vector<ForkProof>> Forks(const Replica& replica) {
  const ReplicaImpl& m = ReplicaAccess::Of(replica);
  std::vector<ForkProof> out;
  Status r = m.WithRead([&](const Txn& t) -> Status {
    return ScanByFeedKey(t, m.forks, "forks", [&](ByteView, const store::FeedPos& pos, ByteView v) -> Status {
      ForkProof f;
      f.author = pos.author;
      f.seq = pos.seq;
      uint32_t n = v.size() >= 4 ? store::ReadU32(v.data()) : 0;
      if (v.size() < 4 || 4 + uint64_t{n} > v.size()) {
        return Status::Corruption("forks: entry of " + f.author.ToHex() + "#" + std::to_string(f.seq) +
                                  " is malformed");
      }
      f.first.assign(v.begin() + 4, v.begin() + 4 + n);
      f.second.assign(v.begin() + 4 + n, v.end());
      out.push_back(std::move(f));
      return Status::Ok();
    });
  });
  if (!r.ok()) return r;
  return out;
}

Result<std::vector<DeniedDelta>> Denied(const Replica& replica) {
  const ReplicaImpl& m = ReplicaAccess::Of(replica);
  std::vector<DeniedDelta> out;
  Status r = m.WithRead([&](const Txn& t) -> Status {
    return ScanByFeedKey(t, m.denied, "denied", [&](ByteView k, const store::FeedPos& pos, ByteView v) -> Status {
      if (IsWaitingReason(std::string_view(reinterpret_cast<const char*>(v.data()), v.size()))) {
        return Status::Ok();  // listed by Pending
      }
      DeniedDelta d;
      d.author = pos.author;
      d.seq = pos.seq;
      d.reason.assign(reinterpret_cast<const char*>(v.data()), v.size());
      auto got = t.Get(m.feeds, k);
      if (!got.ok()) return got.status();
      if (!got->has_value()) {
        return Status::Corruption("denied: " + d.author.ToHex() + "#" + std::to_string(d.seq) +
                                  " is not in its feed");
      }
      auto pd = feed::ParseDelta(**got, UINT64_MAX);
      if (pd.ok()) d.scope = pd->header.scope;  // unparsable: the reason says so, scope stays empty
      out.push_back(std::move(d));
      return Status::Ok();
    });
  });
  if (!r.ok()) return r;
  return out;
}

Result<std::vector<UnreadableKey>> Unreadable(const Replica& replica, std::string_view scope) {
  const ReplicaImpl& m = ReplicaAccess::Of(replica);
  std::map<ScopeEpoch, UnreadableKey> by;
  Status r = m.WithRead([&](const Txn& t) -> Status {
    by.clear();
    Status s = ScanByFeedKey(t, m.unreadable, "opaque", [&](ByteView k, const store::FeedPos& pos, ByteView) -> Status {
      auto got = t.Get(m.feeds, k);
      if (!got.ok()) return got.status();
      if (!got->has_value()) {
        return Status::Corruption("opaque: " + pos.author.ToHex() + "#" + std::to_string(pos.seq) +
                                  " is not in its feed");
      }
      auto pd = feed::ParseDelta(**got, UINT64_MAX);
      if (!pd.ok()) return pd.status().WithContext("stored delta");
      if (!scope.empty() && pd->header.scope != scope) return Status::Ok();
      UnreadableKey& u = by[ScopeEpoch{pd->header.scope, pd->header.epoch}];
      u.key = ScopeEpoch{pd->header.scope, pd->header.epoch};
      ++u.deltas;
      return Status::Ok();
    });
    if (!s.ok()) return s;
    for (auto& [se, u] : by) {
      auto held = t.Get(m.keys, AsBytes(store::ScopeKeyKey(se.scope, se.epoch)));
      if (!held.ok()) return held.status();
      u.other_key_held = held->has_value();
    }
    return Status::Ok();
  });
  if (!r.ok()) return r;
  std::vector<UnreadableKey> out;
  for (auto& [se, u] : by) out.push_back(std::move(u));
  return out;
}

Result<DeltaInfo> Describe(const Replica& replica, std::span<const uint8_t> delta) {
  const ReplicaImpl& m = ReplicaAccess::Of(replica);
  auto d = feed::ParseDelta(delta, UINT64_MAX);
  if (!d.ok()) return d.status();
  DeltaInfo info;
  const feed::DeltaHeader& h = d->header;
  info.author = h.author;
  info.seq = h.seq;
  info.prev = h.prev;
  info.hash = d->hash;
  info.scope = h.scope;
  info.epoch = h.epoch;
  info.hlc_min = h.hlc_min;
  info.hlc_max = h.hlc_max;
  info.op_count = h.op_count;
  info.size = delta.size();
  info.signature_ok = feed::VerifyDelta(*d).ok();
  info.withheld = d->stub;
  info.body_size = d->body_size;
  if (d->stub) return info;  // no body: nothing to open
  auto key = m.WithRead([&](const Txn& t) { return m.ScopeKey(t, h.scope, h.epoch); });
  if (!key.ok()) return key.status();
  if (!key->has_value()) return info;
  auto plain = feed::OpenDelta(*d, **key);
  if (!plain.ok()) return info;
  auto records = codec::DecodePayload(*plain);
  if (!records.ok()) return records.status();
  info.readable = true;
  for (const crdt::RecordOps& r : *records) {
    for (const crdt::Op& op : r.ops) {
      OpInfo o;
      o.collection = r.collection;
      o.id = r.id;
      o.field = op.field;
      o.op = OpName(op.kind);
      o.hlc = op.hlc;
      o.value = op.value;
      o.p = op.p;
      o.n = op.n;
      info.ops.push_back(std::move(o));
    }
  }
  return info;
}

// Verify and CheckConsistency: verify.cpp.

Status Backup(const Replica& replica, const std::string& dest_dir, bool compact) {
  const ReplicaImpl& m = ReplicaAccess::Of(replica);
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dest_dir + "/data.mdb", ec)) {
    return Status::AlreadyExists(dest_dir + " already holds a replica; choose an empty directory");
  }
  fs::create_directories(dest_dir, ec);
  if (ec) return Status::IOError("creating " + dest_dir + ": " + ec.message());
  ::chmod(dest_dir.c_str(), 0700);
  {
    std::shared_lock lk(m.resize_mu);
    HEARTH_RETURN_IF_ERROR(m.env.CopyTo(dest_dir, compact));
  }
  // Mark the copy as a backup (docs/durability.md, "Restoring a backup"):
  // it must not write its author's feed until `hearth restore`, whatever
  // its data.mdb file's identity says.
  {
    std::string copy_of(m.identity.public_key.bytes.begin(), m.identity.public_key.bytes.end());
    store::AppendU64(copy_of, static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        std::chrono::system_clock::now().time_since_epoch())
                                                        .count()));
    Status s = store::EditMeta(dest_dir, [&](Txn& t, MDB_dbi meta) {
      return t.Put(meta, AsBytes(store::kMetaCopyOf), AsBytes(copy_of));
    });
    if (!s.ok()) return s.WithContext("marking the backup in " + dest_dir);
  }
  fs::copy_file(m.dir + "/identity.key", dest_dir + "/identity.key", fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError("copying identity: " + ec.message());
  ::chmod((dest_dir + "/identity.key").c_str(), 0600);
  return Status::Ok();
}

}  // namespace inspect
}  // namespace hearth
