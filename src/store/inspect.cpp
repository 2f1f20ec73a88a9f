// Replica: inspection for tools — pending deltas, decoding deltas and
// consistent backups (the verification pass is in verify.cpp).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

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

}  // namespace

std::vector<PendingDelta> Replica::Pending() const {
  const Impl& m = *impl_;
  std::vector<PendingDelta> out;
  auto r = m.WithRead([&](const Txn& t) -> Result<bool> {
    store::Cursor c(t, m.pending);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      if (c.key().size() != 40) continue;
      PendingDelta p;
      std::copy(c.key().begin(), c.key().begin() + 32, p.author.bytes.begin());
      p.seq = store::ReadU64(c.key().data() + 32);
      p.size = c.value().size();
      auto fr = t.Get(m.frozen, p.author.bytes);
      p.held = fr.ok() && fr->has_value() && p.seq >= store::ReadU64((*fr)->data());
      out.push_back(p);
    }
    return true;
  });
  (void)r;
  return out;
}

Result<DeltaInfo> Replica::Describe(std::span<const uint8_t> delta) const {
  const Impl& m = *impl_;
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

// Replica::Verify and CheckConsistency: verify.cpp.

Status Replica::Backup(const std::string& dest_dir, bool compact) const {
  const Impl& m = *impl_;
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
    int rc = mdb_env_copy2(m.env.get(), dest_dir.c_str(), compact ? MDB_CP_COMPACT : 0);
    if (rc != 0) return store::MdbStatus(rc, "copying replica to " + dest_dir);
  }
  fs::copy_file(m.dir + "/identity.key", dest_dir + "/identity.key", fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError("copying identity: " + ec.message());
  ::chmod((dest_dir + "/identity.key").c_str(), 0600);
  return Status::Ok();
}

}  // namespace hearth
