// Replica: opening, local commits and reads. Remote apply is in apply.cpp.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "base/bytes.hpp"
#include "crdt/hlc.hpp"
#include "identity/identity.hpp"
#include "store/replica_identity.hpp"
#include "store/keys.hpp"
#include "store/record_view.hpp"
#include "store/storage_check.hpp"
#include "base/text.hpp"
#include "store/replica_impl.hpp"

namespace hearth {
namespace {

using store::AsBytes;
using store::ByteView;
using store::Txn;

// docs/storage-format.md, "Replica marker".
Status LostData(const std::string& dir, const AuthorId& author, const std::string& what) {
  return Status::Corruption(
      "replica " + dir + ": " + what + ", but this replica was created earlier (" + store::kMarkerFile +
      ", author " + author.ToHex().substr(0, 16) +
      "): its records and this author's feed are lost here, and writing would restart the feed at seq 1, "
      "which peers holding the old feed see as a fork. Refusing to open it. Restore the whole directory from a "
      "backup (`hearth backup`, then `hearth restore " + dir + "`), or create a new replica with a new identity (`hearth init NEWDIR`) and sync it "
      "from a peer (docs/reliability.md, \"Damaged storage\")");
}

Status ForeignIdentity(const std::string& dir, const AuthorId& holds, const AuthorId& created, const char* where) {
  return Status::Corruption("replica " + dir + ": identity.key holds author " + holds.ToHex().substr(0, 16) +
                            ", but this replica belongs to author " + created.ToHex().substr(0, 16) + " (" + where +
                            "): identity.key was replaced. Put the replica's own identity.key back (from a "
                            "backup); an identity must never be copied between replicas");
}

// The replica's identity (<dir>/identity.key), created when missing and
// options.create_if_missing is set. Errors: kFailedPrecondition (protected
// and no passphrase; a new identity without a passphrase and without
// unencrypted_identity), kUnauthenticated (wrong passphrase), kNotFound,
// kCorruption, kIOError.
Result<crypto::SigningKeyPair> LoadIdentity(const std::string& dir, const ReplicaOptions& options) {
  const std::string path = dir + "/" + identity::kReplicaFileName;
  if (::access(path.c_str(), F_OK) == 0 || !options.create_if_missing) {
    identity::RemoveStaleTemporaries(path);
    return identity::ReadFile(path, options.passphrase);
  }
  if (!options.passphrase && !options.unencrypted_identity) {
    return Status::FailedPrecondition(
        "a new identity needs a passphrase: pass a passphrase (ReplicaOptions::passphrase), or for an "
        "unattended node choose an unencrypted identity explicitly (ReplicaOptions::unencrypted_identity)");
  }
  auto made = identity::CreateFile(path, options.passphrase);
  // Another process creating the same replica won the race: use its key.
  if (!made.ok() && made.status().code() == Code::kAlreadyExists) return identity::ReadFile(path, options.passphrase);
  return made;
}

Status InterruptedRestore(const std::string& dir) {
  return Status::FailedPrecondition("replica " + dir + ": a restore was interrupted (" +
                                    store::kRestoreJournalFile + "); run `hearth restore " + dir +
                                    "` again to finish it (docs/durability.md, \"Restoring a backup\")");
}

uint64_t WallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Replica directories open in this process, by (device, inode).
std::mutex g_open_mu;
std::set<std::pair<dev_t, ino_t>> g_open;

}  // namespace

Replica::Impl::~Impl() {
  if (ino != 0) {
    std::lock_guard lk(g_open_mu);
    g_open.erase({dev, ino});
  }
}

uint64_t Replica::Impl::NowMs() const {
  if (opts.clock_ms) return opts.clock_ms();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Status Replica::Impl::AdoptResize() const {
  std::unique_lock lk(resize_mu);
  return env.AdoptMapSize();
}

Status Replica::Impl::Grow() {
  std::unique_lock lk(resize_mu);
  uint64_t cur = env.MapSize();
  if (cur >= opts.max_map_size) {
    return Status::ResourceExhausted("replica " + dir + " is full: map size " + std::to_string(cur) +
                                     " bytes reached max_map_size");
  }
  uint64_t next = std::min(opts.max_map_size, cur * 2);
  return env.SetMapSize(next);
}

Status Replica::Impl::DiagnoseWriteError(Status s) const {
  if (s.code() != Code::kIOError) return s;
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return s;
  const uint64_t free_bytes = uint64_t{v.f_bavail} * v.f_frsize;
  if (free_bytes >= (uint64_t{1} << 20)) return s;
  return Status::ResourceExhausted(s.message() + " (disk full: " + std::to_string(free_bytes) +
                                   " bytes free on the file system of " + dir + ")");
}

// ---------------------------------------------------------------- opening

Result<std::unique_ptr<Replica>> Replica::Open(const std::string& dir, ReplicaOptions options) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  if (options.delta_format != 4 && options.delta_format != 5) {
    return Status::InvalidArgument("ReplicaOptions::delta_format must be 4 or 5, not " +
                                   std::to_string(options.delta_format));
  }
  if (options.payload_version != 1 && options.payload_version != 2) {
    return Status::InvalidArgument("ReplicaOptions::payload_version must be 1 or 2, not " +
                                   std::to_string(options.payload_version));
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(dir + "/data.mdb", ec);
  // A replica that was created once must find its data (docs/storage-format.md,
  // "Replica marker"): LMDB would take a missing or empty data.mdb for a new one.
  auto marker = store::ReadMarker(dir);
  if (!marker.ok()) return marker.status().WithContext("replica " + dir);
  // A restore in progress (or interrupted) changes identity.key, the marker
  // and meta one after the other: never open between two steps.
  auto journal = store::ReadRestoreJournal(dir);
  if (!journal.ok()) return journal.status().WithContext("replica " + dir);
  if (*journal) return InterruptedRestore(dir);
  struct stat dst {};
  const bool have_data = ::stat((dir + "/data.mdb").c_str(), &dst) == 0;
  if (*marker && !have_data) return LostData(dir, **marker, "data.mdb is missing");
  if (*marker && dst.st_size == 0) return LostData(dir, **marker, "data.mdb is empty (0 bytes)");
  // Meta pages and file size, read without mapping the file. (An empty
  // file without a marker is a creation that was interrupted: LMDB starts it
  // afresh.)
  if (have_data && dst.st_size > 0) {
    auto info = store::CheckDataFile(dir + "/data.mdb");
    if (!info.ok()) return info.status().WithContext("replica " + dir + " is damaged");
  }
  if (!exists) {
    if (!options.create_if_missing) {
      return Status::NotFound(dir + " is not a Hearth replica directory (no data.mdb)");
    }
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError("creating " + dir + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Status::IOError("stat " + dir);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + " is not a directory");

  auto impl = std::make_unique<Impl>();
  {
    std::lock_guard lk(g_open_mu);
    if (!g_open.insert({st.st_dev, st.st_ino}).second) {
      return Status::FailedPrecondition("replica " + dir +
                                        " is already open in this process; share the Replica");
    }
  }
  impl->dev = st.st_dev;
  impl->ino = st.st_ino;
  impl->dir = dir;
  impl->opts = options;

  auto id = LoadIdentity(dir, options);
  if (!id.ok()) return id.status();
  impl->identity = std::move(id).value();
  if (*marker && **marker != impl->identity.public_key) {
    return ForeignIdentity(dir, impl->identity.public_key, **marker, store::kMarkerFile);
  }
  if (options.is_root) {
    if (options.root && *options.root != impl->identity.public_key) {
      return Status::InvalidArgument("is_root is set but root names another key");
    }
    impl->opts.root = impl->identity.public_key;
  }

  unsigned flags = MDB_NOTLS;
  if (options.durability == Durability::kNoSync) flags |= MDB_NOSYNC;
  // Before the map exists: the base of the resident-map bound.
  if (auto base = ResidentFileBytes(); base.ok()) impl->resident_base = *base;
  HEARTH_RETURN_IF_ERROR(impl->env.Open(dir, flags, options.initial_map_size, 16));
  if (options.check_storage) {
    Status s = store::CheckEnvTrees(impl->env, dir, store::kTableNames);
    if (!s.ok()) return s.WithContext("replica " + dir + " is damaged");
  }

  // The identity of the data.mdb file: a copied directory has another one.
  auto file_id = store::DataFileIdentity(dir + "/data.mdb");
  if (!file_id.ok()) return file_id.status().WithContext("replica " + dir);

  // Open (and on first use create) the named tables.
  Impl* p = impl.get();
  auto opened = p->WithWrite<bool>([&](Txn& t) -> Result<bool> {
    MDB_dbi* dbis[] = {&p->meta,  &p->feeds,  &p->heads, &p->state,      &p->index,  &p->pending, &p->forks,
                       &p->frozen, &p->keys,  &p->unreadable, &p->denied, &p->changes, &p->history};
    for (size_t i = 0; i < store::kTableNames.size(); ++i) {
      auto dbi = t.OpenTable(store::kTableNames[i], MDB_CREATE);
      if (!dbi.ok()) return dbi.status();
      *dbis[i] = *dbi;
    }
    auto fmt = t.Get(p->meta, AsBytes("format"));
    if (!fmt.ok()) return fmt.status();
    // A fresh environment where a replica was created: data.mdb was replaced.
    if (!fmt->has_value() && *marker) return LostData(dir, **marker, "data.mdb holds no replica (a fresh file)");
    if (!fmt->has_value()) {
      std::string v;
      store::AppendU32(v, kStorageFormatVersion);
      HEARTH_RETURN_IF_ERROR(t.Put(p->meta, AsBytes("format"), AsBytes(v)));
    } else {
      ByteView v = **fmt;
      if (v.size() != 4) return Status::Corruption("format record has " + std::to_string(v.size()) + " bytes");
      uint32_t version = store::ReadU32(v.data());
      if (version > kStorageFormatVersion) {
        return Status::FailedPrecondition("replica " + p->dir + " has storage format " +
                                          std::to_string(version) + "; this build reads up to " +
                                          std::to_string(kStorageFormatVersion) + " (upgrade Hearth)");
      }
      if (version == 0) return Status::Corruption("replica " + p->dir + " has storage format 0");
      // Format 1 (feeds keyed author || seq): re-keyed by lane in this
      // transaction, so a crash leaves format 1 or 2, never a mixture.
      if (version == 1) {
        HEARTH_RETURN_IF_ERROR(p->MigrateToFormat2(t).WithContext("replica " + p->dir + ": migrating to storage format 2"));
      }
    }
    // The county root: stored once, never changed.
    auto stored_root = t.Get(p->meta, AsBytes("root"));
    if (!stored_root.ok()) return stored_root.status();
    if (stored_root->has_value()) {
      ByteView v = **stored_root;
      if (v.size() != 32) return Status::Corruption("stored root key has wrong size");
      AuthorId r;
      std::copy(v.begin(), v.end(), r.bytes.begin());
      if (p->opts.root && *p->opts.root != r) {
        return Status::FailedPrecondition("replica " + p->dir + " obeys root " + r.ToHex().substr(0, 16) +
                                          ", not " + p->opts.root->ToHex().substr(0, 16));
      }
      p->root_key = r;
    } else if (p->opts.root) {
      HEARTH_RETURN_IF_ERROR(t.Put(p->meta, AsBytes("root"), p->opts.root->bytes));
      p->root_key = p->opts.root;
    }
    // The author this replica belongs to, recorded once (identity.key must
    // keep holding it).
    auto recorded = t.Get(p->meta, AsBytes("author"));
    if (!recorded.ok()) return recorded.status();
    if (recorded->has_value()) {
      ByteView v = **recorded;
      AuthorId a;
      if (v.size() != a.bytes.size()) return Status::Corruption("replica " + p->dir + ": meta author record has wrong size");
      std::copy(v.begin(), v.end(), a.bytes.begin());
      if (a != p->identity.public_key) return ForeignIdentity(p->dir, p->identity.public_key, a, "meta author record");
    } else {
      HEARTH_RETURN_IF_ERROR(t.Put(p->meta, AsBytes("author"), p->identity.public_key.bytes));
    }
    // The live copy (docs/durability.md, "Restoring a backup"): a backup is
    // marked "copy_of"; any other copy has a data.mdb file of another
    // identity than the one recorded. Recorded at creation, and on the
    // first open of a replica made before the record existed.
    p->is_copy = false;
    p->backup_ms = 0;
    auto copy_of = t.Get(p->meta, AsBytes(store::kMetaCopyOf));
    if (!copy_of.ok()) return copy_of.status();
    if (copy_of->has_value()) {
      p->is_copy = true;
      if ((*copy_of)->size() == 40) p->backup_ms = store::ReadU64((*copy_of)->data() + 32);
    }
    auto live = t.Get(p->meta, AsBytes(store::kMetaLiveFile));
    if (!live.ok()) return live.status();
    if (live->has_value()) {
      ByteView v = **live;
      ByteView actual = AsBytes(*file_id);
      if (!std::equal(v.begin(), v.end(), actual.begin(), actual.end())) p->is_copy = true;
    } else if (!p->is_copy) {
      HEARTH_RETURN_IF_ERROR(t.Put(p->meta, AsBytes(store::kMetaLiveFile), AsBytes(*file_id)));
    }
    // The replica's own schema, as stored.
    std::shared_ptr<const Schema> stored_schema;
    auto stored = t.Get(p->meta, AsBytes("schema"));
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) {
      ByteView v = **stored;
      auto schema = Schema::Parse(std::string_view(reinterpret_cast<const char*>(v.data()), v.size()),
                                  "stored schema");
      // The stored schema was written by ToToml(): text that does not parse is damage.
      if (!schema.ok()) {
        return Status::Corruption("replica " + p->dir + ": the stored schema (meta) is damaged: " +
                                  schema.status().message());
      }
      stored_schema = std::make_shared<const Schema>(std::move(schema).value());
      p->local_schema = stored_schema;
    }
    if (p->opts.schema && !(stored_schema && *stored_schema == *p->opts.schema)) {
      // Under a county root that published a schema, the root's is in force.
      auto root_schema = p->RootSchemaIn(t, nullptr);
      if (!root_schema.ok()) return root_schema.status();
      if (*root_schema && **root_schema == *p->opts.schema) {  // already in force
        HEARTH_RETURN_IF_ERROR(p->MigrateHistory(t));
        return true;
      }
      if (*root_schema) {
        return Status::FailedPrecondition(
            "replica " + p->dir + " follows the schema the county root publishes (version " +
            std::to_string((*root_schema)->version()) +
            "); a new schema is published by the root (`hearth schema publish FILE` on the root's replica)");
      }
      // Only compatible changes (docs/schema.md, "Changing a schema").
      if (stored_schema) {
        Status compatible = CheckSchemaChange(*stored_schema, *p->opts.schema);
        if (!compatible.ok()) return compatible.WithContext("replica " + p->dir + ": schema change refused");
      }
      p->local_schema = std::make_shared<const Schema>(*p->opts.schema);
      std::string text = p->local_schema->ToToml();
      const bool changed = stored->has_value() && !std::equal((*stored)->begin(), (*stored)->end(),
                                                              text.begin(), text.end());
      HEARTH_RETURN_IF_ERROR(t.Put(p->meta, AsBytes("schema"), AsBytes(text)));
      // The schema is part of the derivation rule (a delta naming what the
      // schema lacks waits for a newer one): a new schema re-derives the
      // state from the feeds, so that what a replica holds never depends on
      // which schema it had when a delta arrived.
      if (changed) HEARTH_RETURN_IF_ERROR(p->Rebuild(t));
    } else if (p->opts.schema && stored_schema) {
      // Same schema; the stored text may predate the canonical form.
      std::string text = stored_schema->ToToml();
      if (!std::equal((*stored)->begin(), (*stored)->end(), text.begin(), text.end())) {
        HEARTH_RETURN_IF_ERROR(t.Put(p->meta, AsBytes("schema"), AsBytes(text)));
      }
    }
    // The history index of a replica made before it existed (once).
    HEARTH_RETURN_IF_ERROR(p->MigrateHistory(t));
    return true;
  });
  if (!opened.ok()) return opened.status();
  if (!*marker) HEARTH_RETURN_IF_ERROR(store::WriteMarker(dir, impl->identity.public_key));

  return std::unique_ptr<Replica>(new Replica(std::move(impl)));
}

Replica::Replica(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Replica::~Replica() = default;

const AuthorId& Replica::author() const { return impl_->identity.public_key; }
const std::string& Replica::dir() const { return impl_->dir; }
const Schema& Replica::schema() const {
  const Impl& m = *impl_;
  auto in_force = m.WithRead([&](const Txn& t) { return m.SchemaIn(t, nullptr); });
  // On a read error, the last schema handed out (else the local one).
  std::lock_guard lk(m.schema_mu);
  if (!in_force.ok()) {
    return m.schemas_handed_out.empty() ? *m.local_schema : *m.schemas_handed_out.back();
  }
  std::shared_ptr<const Schema> s = std::move(in_force).value();
  // Keep every schema handed out alive: callers hold references.
  if (std::find(m.schemas_handed_out.begin(), m.schemas_handed_out.end(), s) == m.schemas_handed_out.end()) {
    m.schemas_handed_out.push_back(s);
  }
  return *s;
}
bool Replica::is_copy() const { return impl_->is_copy; }

Status Replica::Impl::CheckOwnFeedWritable() const {
  if (!is_copy) return Status::Ok();
  return Status::FailedPrecondition(
      dir + " is a copy of a replica (a backup or a copied directory): its identity may still be writing "
      "elsewhere, and writing here would fork it; run `hearth restore " + dir +
      "` first (docs/durability.md, \"Restoring a backup\")");
}

namespace store {
Status EditMeta(const std::string& dir, const std::function<Status(Txn&, MDB_dbi)>& fn) {
  Env env;
  HEARTH_RETURN_IF_ERROR(env.Open(dir, MDB_NOTLS, uint64_t{64} << 20, 16));
  HEARTH_RETURN_IF_ERROR(env.AdoptMapSize());
  Txn t;
  HEARTH_RETURN_IF_ERROR(t.Begin(env, /*read_only=*/false));
  auto dbi = t.OpenTable("meta", 0);
  if (!dbi.ok()) return dbi.status().WithContext("replica " + dir + ": meta table");
  HEARTH_RETURN_IF_ERROR(fn(t, *dbi));
  return t.Commit();
}
}  // namespace store

// ---------------------------------------------------------------- restore
//
// docs/durability.md, "Restoring a backup". The steps, each durable before
// the next:
//   1. write the new identity to identity.restore (temporary file, fsync,
//      link);
//   2. write restore.journal (new author, old author): from here on Open
//      refuses the directory and Restore finishes what is left;
//   3. link identity.key to identity.<old-hex16>.retired; rename
//      identity.restore over identity.key;
//   4. replace replica.mark with the new author;
//   5. one LMDB transaction: meta author = new, live_file = this data.mdb,
//      copy_of removed, restored_from = old author + time;
//   6. remove restore.journal.
// Killed before 2: the replica is the unchanged copy (a stale
// identity.restore is replaced by the next Restore). Killed after 2: Open
// refuses and the next Restore resumes at the first step not done.

namespace {

struct DirLock {
  int fd = -1;
  ~DirLock() {
    if (fd >= 0) ::close(fd);  // releases the flock
  }
};

struct OpenSlot {
  std::pair<dev_t, ino_t> key;
  bool held = false;
  ~OpenSlot() {
    if (held) {
      std::lock_guard lk(g_open_mu);
      g_open.erase(key);
    }
  }
};

}  // namespace

Result<RestoreInfo> Replica::Restore(const std::string& dir, const RestoreOptions& options) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Status::NotFound(dir + " is not a directory");
  struct stat dst {};
  if (::stat((dir + "/data.mdb").c_str(), &dst) != 0 || dst.st_size == 0) {
    return Status::NotFound(dir + " is not a Hearth replica directory (no data.mdb)");
  }
  OpenSlot slot;
  slot.key = {st.st_dev, st.st_ino};
  {
    std::lock_guard lk(g_open_mu);
    if (!g_open.insert(slot.key).second) {
      return Status::FailedPrecondition("replica " + dir + " is open in this process; close it before restoring it");
    }
    slot.held = true;
  }
  DirLock lock;
  lock.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock.fd < 0) return Status::IOError("opening " + dir + ": " + std::strerror(errno));
  if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
    return Status::FailedPrecondition("another restore of " + dir + " is running");
  }
  auto info_data = store::CheckDataFile(dir + "/data.mdb");
  if (!info_data.ok()) return info_data.status().WithContext("replica " + dir + " is damaged");

  auto journal = store::ReadRestoreJournal(dir);
  if (!journal.ok()) return journal.status().WithContext("replica " + dir);
  auto file_id = store::DataFileIdentity(dir + "/data.mdb");
  if (!file_id.ok()) return file_id.status().WithContext("replica " + dir);

  // What meta says.
  std::optional<AuthorId> author, root;
  bool copy = false;
  HEARTH_RETURN_IF_ERROR(store::EditMeta(dir, [&](Txn& t, MDB_dbi meta) -> Status {
    auto a = t.Get(meta, AsBytes("author"));
    if (!a.ok()) return a.status();
    if (a->has_value() && (*a)->size() == 32) {
      author.emplace();
      std::copy((*a)->begin(), (*a)->end(), author->bytes.begin());
    }
    auto r = t.Get(meta, AsBytes("root"));
    if (!r.ok()) return r.status();
    if (r->has_value() && (*r)->size() == 32) {
      root.emplace();
      std::copy((*r)->begin(), (*r)->end(), root->bytes.begin());
    }
    auto c = t.Get(meta, AsBytes(store::kMetaCopyOf));
    if (!c.ok()) return c.status();
    auto l = t.Get(meta, AsBytes(store::kMetaLiveFile));
    if (!l.ok()) return l.status();
    // No live_file: never opened by a version that records it (a backup
    // of an older replica); nothing says it is live, and the caller says
    // it is a copy.
    copy = c->has_value() || !l->has_value() ||
           !std::equal((*l)->begin(), (*l)->end(), AsBytes(*file_id).begin(), AsBytes(*file_id).end());
    return Status::Ok();
  }));
  if (!author) return Status::Corruption("replica " + dir + ": meta holds no author record");

  RestoreInfo info;
  info.root = root;
  const std::string key_path = dir + "/" + identity::kReplicaFileName;
  const std::string next_path = dir + "/identity.restore";

  if (!*journal) {
    if (!copy) {
      return Status::FailedPrecondition("replica " + dir + " is the live copy of its identity (author " +
                                        author->ToHex().substr(0, 16) +
                                        "): there is nothing to restore (`hearth restore` is for a backup or a "
                                        "copied directory)");
    }
    info.old_author = info.author = *author;
    if (options.keep_identity) {
      HEARTH_RETURN_IF_ERROR(store::EditMeta(dir, [&](Txn& t, MDB_dbi meta) -> Status {
        HEARTH_RETURN_IF_ERROR(t.Put(meta, AsBytes(store::kMetaLiveFile), AsBytes(*file_id)));
        HEARTH_RETURN_IF_ERROR(t.Del(meta, AsBytes(store::kMetaCopyOf)));
        return Status::Ok();
      }));
      return info;
    }
    if (root && *root == *author) {
      return Status::FailedPrecondition(
          "replica " + dir + " is a copy of the county root's replica (author " + author->ToHex().substr(0, 16) +
          "): the root is the county's trust anchor and cannot change identity. Sync the root's own feed back "
          "from the peers first (`hearth merge PEER " + dir + "`, or sync), and only if the original root "
          "replica is gone for good, run `hearth restore --keep-identity " + dir + "`");
    }
    if (!options.passphrase && !options.unencrypted_identity) {
      return Status::FailedPrecondition(
          "a new identity needs a passphrase: pass a passphrase (RestoreOptions::passphrase), or for an "
          "unattended node choose an unencrypted identity explicitly (RestoreOptions::unencrypted_identity)");
    }
    // A restore killed before its journal left an identity nobody uses.
    if (::unlink(next_path.c_str()) != 0 && errno != ENOENT) {
      return Status::IOError("removing " + next_path + ": " + std::strerror(errno));
    }
    identity::RemoveStaleTemporaries(next_path);
    auto kp = identity::CreateFile(next_path, options.passphrase);
    if (!kp.ok()) return kp.status().WithContext("creating the new identity");
    journal = std::optional<store::RestoreJournal>(store::RestoreJournal{kp->public_key, *author});
    HEARTH_RETURN_IF_ERROR(store::WriteRestoreJournal(dir, **journal));
  }
  const store::RestoreJournal j = **journal;
  info.old_author = j.old_author;
  info.author = j.new_author;
  info.new_identity = true;
  info.retired_identity_file = dir + "/identity." + j.old_author.ToHex().substr(0, 16) + ".retired";

  // 3. The identity files. identity.restore still there: identity.key is
  // the old identity.
  if (::access(next_path.c_str(), F_OK) == 0) {
    // (A copy without identity.key: nothing to keep.)
    if (::link(key_path.c_str(), info.retired_identity_file.c_str()) != 0 && errno != EEXIST && errno != ENOENT) {
      return Status::IOError("keeping the old identity as " + info.retired_identity_file + ": " + std::strerror(errno));
    }
    ::chmod(info.retired_identity_file.c_str(), 0600);
    if (::rename(next_path.c_str(), key_path.c_str()) != 0) {
      return Status::IOError("installing the new identity " + key_path + ": " + std::strerror(errno));
    }
    if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  // 4. The marker.
  HEARTH_RETURN_IF_ERROR(store::ReplaceMarker(dir, j.new_author));
  // 5. Meta.
  HEARTH_RETURN_IF_ERROR(store::EditMeta(dir, [&](Txn& t, MDB_dbi meta) -> Status {
    HEARTH_RETURN_IF_ERROR(t.Put(meta, AsBytes("author"), j.new_author.bytes));
    HEARTH_RETURN_IF_ERROR(t.Put(meta, AsBytes(store::kMetaLiveFile), AsBytes(*file_id)));
    HEARTH_RETURN_IF_ERROR(t.Del(meta, AsBytes(store::kMetaCopyOf)));
    std::string from(j.old_author.bytes.begin(), j.old_author.bytes.end());
    store::AppendU64(from, WallMs());
    return t.Put(meta, AsBytes(store::kMetaRestoredFrom), AsBytes(from));
  }));
  // 6. Done.
  HEARTH_RETURN_IF_ERROR(store::RemoveRestoreJournal(dir));
  return info;
}

namespace store {
const crypto::SigningKeyPair& IdentityOf(const Replica& replica) { return ReplicaAccess::Of(replica).identity; }
}  // namespace store

// ---------------------------------------------------------------- helpers

Result<Replica::Impl::CachedRecord*> Replica::Impl::Load(const Txn& t, Cache& cache,
                                                         std::string_view collection,
                                                         const RecordId& id) const {
  std::string key = store::StateKey(collection, id);
  auto it = cache.find(key);
  if (it != cache.end()) return &it->second;
  CachedRecord rec;
  auto got = t.Get(state, AsBytes(key));
  if (!got.ok()) return got.status();
  if (got->has_value()) {
    auto decoded = codec::DecodeRecordState(**got);
    if (!decoded.ok()) {
      return decoded.status().WithContext("stored record " + std::string(collection) + "/" + id.ToHex());
    }
    rec.before = decoded.value();
    rec.now = std::move(decoded).value();
  } else {
    rec.now.collection = std::string(collection);
    rec.now.id = id;
  }
  return &cache.emplace(std::move(key), std::move(rec)).first->second;
}

Status Replica::Impl::Flush(Txn& t, Cache& cache) const {
  auto in_force = SchemaIn(t, &cache);
  if (!in_force.ok()) return in_force.status();
  const Schema& schema = **in_force;
  for (auto& [key, rec] : cache) {
    if (!rec.dirty) continue;
    Bytes enc = codec::EncodeRecordState(rec.now);
    HEARTH_RETURN_IF_ERROR(t.Put(state, AsBytes(key), enc));
    HEARTH_RETURN_IF_ERROR(RecordChange(t, rec));
    const CollectionSpec* spec = schema.Find(rec.now.collection);
    if (spec == nullptr) continue;
    for (const FieldSpec& f : spec->fields) {
      if (!f.indexed) continue;
      std::optional<Value> old_v = rec.before ? store::IndexedValue(*rec.before, f.name) : std::nullopt;
      std::optional<Value> new_v = store::IndexedValue(rec.now, f.name);
      if (old_v == new_v) continue;
      if (old_v) {
        HEARTH_RETURN_IF_ERROR(
            t.Del(index, AsBytes(store::IndexKey(rec.now.collection, f.name, *old_v, rec.now.id))));
      }
      if (new_v) {
        HEARTH_RETURN_IF_ERROR(t.Put(
            index, AsBytes(store::IndexKey(rec.now.collection, f.name, *new_v, rec.now.id)), {}));
      }
    }
  }
  return Status::Ok();
}

Result<std::optional<crypto::SecretBytes>> Replica::Impl::ScopeKey(const Txn& t, std::string_view scope,
                                                                   uint32_t epoch) const {
  // Reserved scopes ($policy, $keys, $schema) are public: epoch 0, an all-zero key.
  if (!scope.empty() && scope[0] == '$') {
    if (epoch != 0) return std::optional<crypto::SecretBytes>();
    return std::optional<crypto::SecretBytes>(crypto::SecretBytes(crypto::kAeadKeyBytes));
  }
  auto got = t.Get(keys, AsBytes(store::ScopeKeyKey(scope, epoch)));
  if (!got.ok()) return got.status();
  if (!got->has_value()) return std::optional<crypto::SecretBytes>();
  if ((*got)->size() != crypto::kAeadKeyBytes) return Status::Corruption("scope key has wrong size");
  return std::optional<crypto::SecretBytes>(crypto::SecretBytes::Copy(**got));
}

Result<std::optional<uint32_t>> Replica::Impl::NewestEpoch(const Txn& t, std::string_view scope) const {
  // Newest epoch: the last key with prefix scope || 0x00.
  std::string prefix(scope);
  prefix.push_back('\0');
  std::string after = prefix;
  after.back() = '\x01';
  store::Cursor c(t, keys);
  std::optional<uint32_t> epoch;
  bool found = c.Seek(AsBytes(after)) ? c.Prev() : c.Last();
  if (found) {
    ByteView k = c.key();
    if (k.size() == prefix.size() + 4 && std::equal(prefix.begin(), prefix.end(), k.begin())) {
      epoch = store::ReadU32(k.data() + prefix.size());
    }
  }
  HEARTH_RETURN_IF_ERROR(c.status());
  return epoch;
}

Result<std::pair<uint32_t, crypto::SecretBytes>> Replica::Impl::WriteKey(Txn& t, std::string_view scope) {
  auto epoch = NewestEpoch(t, scope);
  if (!epoch.ok()) return epoch.status();
  if (!*epoch) {
    // No implicit key: two replicas that each made their own key for a
    // scope could never read each other (docs/policy.md, "Keys without a root").
    const std::string s(scope);
    return Status::FailedPrecondition(
        "no key for scope " + s + ": create it on ONE replica with `hearth keys new " + s +
        "` (Replica::CreateScopeKey) and copy it to the others with `hearth keys export`/`import`, "
        "or import the keyring of a replica that has it");
  }
  auto key = ScopeKey(t, scope, **epoch);
  if (!key.ok()) return key.status();
  if (!key->has_value()) return Status::Corruption("scope key of " + std::string(scope) + " vanished");
  return std::make_pair(**epoch, std::move(**key));
}

Result<FeedHead> Replica::Impl::Head(const Txn& t, const AuthorId& a, const store::LaneId& lane) const {
  auto got = t.Get(heads, AsBytes(store::LaneKey(a, lane)));
  if (!got.ok()) return got.status();
  FeedHead h;
  if (!got->has_value()) return h;
  ByteView v = **got;
  if (v.size() != 40) return Status::Corruption("feed head of " + a.ToHex() + " has wrong size");
  h.seq = store::ReadU64(v.data());
  std::copy(v.begin() + 8, v.end(), h.hash.begin());
  return h;
}

Status Replica::Impl::PutHead(Txn& t, const AuthorId& a, const store::LaneId& lane, const FeedHead& h) const {
  std::string v;
  store::AppendU64(v, h.seq);
  v.append(reinterpret_cast<const char*>(h.hash.data()), h.hash.size());
  return t.Put(heads, AsBytes(store::LaneKey(a, lane)), AsBytes(v));
}

Result<crdt::Hlc> Replica::Impl::LoadHlc(const Txn& t) const {
  auto got = t.Get(meta, AsBytes("hlc"));
  if (!got.ok()) return got.status();
  if (!got->has_value()) return crdt::Hlc{0};
  if ((*got)->size() != 8) return Status::Corruption("stored clock has wrong size");
  return store::ReadU64((*got)->data());
}

Status Replica::Impl::StoreHlc(Txn& t, crdt::Hlc h) const {
  std::string v;
  store::AppendU64(v, h);
  return t.Put(meta, AsBytes("hlc"), AsBytes(v));
}

// ---------------------------------------------------------------- commit

namespace {

Status CheckIntent(const Schema& schema, const BatchIntent& in) {
  using A = BatchAction;
  // Strings are UTF-8, on write as on apply (a remote delta with another
  // string is invalid content on every replica).
  if (in.value.type() == ValueType::kString && !ValidUtf8(in.value.as_string())) {
    return Status::InvalidArgument(in.collection + "." + in.field + ": string value is not valid UTF-8");
  }
  if (in.action == A::kDelete) return schema.CheckCollection(in.collection);
  const CollectionSpec* spec = schema.Find(in.collection);
  if (spec == nullptr) return schema.CheckCollection(in.collection);
  const FieldSpec* f = spec->Find(in.field);
  if (f == nullptr) {
    return Status::InvalidArgument("unknown field " + in.collection + "." + in.field);
  }
  FieldKind kind = KindOf(f->type);
  FieldKind want;
  const char* verb;
  switch (in.action) {
    case A::kSet:
      verb = "Set";
      want = kind == FieldKind::kMv ? FieldKind::kMv : FieldKind::kLww;
      break;
    case A::kAdd: verb = "Add"; want = FieldKind::kSet; break;
    case A::kRemove: verb = "Remove"; want = FieldKind::kSet; break;
    case A::kIncrement: verb = "Increment"; want = FieldKind::kCounter; break;
    case A::kAdvance: verb = "Advance"; want = FieldKind::kStatus; break;
    case A::kAppend: verb = "Append"; want = FieldKind::kLog; break;
    default: return Status::Internal("bad action");
  }
  if (kind != want) {
    return Status::InvalidArgument(std::string(verb) + " does not apply to " + in.collection + "." +
                                   in.field + ", a " + std::string(FieldTypeName(f->type)) + " field");
  }
  return schema.CheckValue(in.collection, in.field, kind,
                           in.action == A::kIncrement ? nullptr : &in.value);
}

// The header scope an intent is committed under: its collection's scope,
// or "scope/partition" when the policy in force partitions that scope; a
// batch spanning partitions becomes one delta per partition. The partition
// is the one the record id's prefix names (docs/policy.md, "Partitioned
// scopes"); an id in no partition of the scope is refused.
Result<std::string> PartitionedScopeOf(const Policy* policy, const std::string& scope, const BatchIntent& in) {
  if (policy == nullptr) return scope;
  const ScopeSpec* spec = policy->FindScope(scope);
  if (spec == nullptr || !spec->partitioned()) return scope;
  auto partition = policy->PartitionOf(scope, in.id);
  if (!partition) {
    return Status::InvalidArgument("record " + in.collection + "/" + in.id.ToHex() + " is in no partition of scope " +
                                   scope + (spec->partitioned_by.empty() ? "" : " (partitioned by " +
                                                                                  spec->partitioned_by + ")") +
                                   ": mint ids of partitioned collections with NewRecordIdIn(partition)");
  }
  return PartitionScope(scope, *partition);
}

Status AddChecked(int64_t a, int64_t b, int64_t* out) {
  if (__builtin_add_overflow(a, b, out)) return Status::InvalidArgument("counter overflows int64");
  return Status::Ok();
}

}  // namespace

Result<CommitInfo> Replica::Write(const std::function<void(WriteBatch&)>& fn) {
  WriteBatch b;
  fn(b);
  return Commit(b);
}

Result<CommitInfo> Replica::Commit(const WriteBatch& batch) {
  return impl_->CommitIntents(ReplicaAccess::Intents(batch), /*internal=*/false);
}

Result<CommitInfo> Replica::Impl::CommitIntents(const std::vector<BatchIntent>& intents, bool internal) {
  Impl& m = *this;
  CommitInfo info;
  info.author = m.identity.public_key;
  HEARTH_RETURN_IF_ERROR(m.CheckOwnFeedWritable());
  if (intents.empty()) return info;
  // Concurrent Commit calls of this process share one durable write
  // transaction (group_commit.cpp). PublishPolicy and PublishSchema
  // (internal) re-derive the state: they keep a transaction of their own.
  if (!internal) return m.GroupCommit(intents);
  return m.WithWrite<CommitInfo>([&](Txn& t) { return m.CommitInTxn(t, intents, internal); });
}

Result<CommitInfo> Replica::Impl::CommitInTxn(Txn& t, const std::vector<BatchIntent>& intents, bool internal) {
  Impl& m = *this;
  {  // the same for a lone commit and for each batch of a group
    // Validate everything against the schema in force before writing;
    // group intents by scope. Reserved collections ($policy, $keys,
    // $schema) are written only by PublishPolicy and PublishSchema.
    auto in_force = m.SchemaIn(t, nullptr);
    if (!in_force.ok()) return in_force.status();
    const Schema& schema = **in_force;
    auto policy = m.PolicyIn(t, nullptr);
    if (!policy.ok()) return policy.status();
    std::map<std::string, std::vector<const BatchIntent*>> by_scope;
    for (const auto& in : intents) {
      if (internal && !in.collection.empty() && in.collection[0] == '$') {
        by_scope[in.collection].push_back(&in);
        continue;
      }
      HEARTH_RETURN_IF_ERROR(CheckIntent(schema, in));
      auto scope = PartitionedScopeOf(policy->get(), schema.Find(in.collection)->scope, in);
      if (!scope.ok()) return scope.status();
      by_scope[*scope].push_back(&in);
    }
    const AuthorId& me = m.identity.public_key;
    // delta_format 4: versions 3/4, every scope in the legacy lane.
    // 5: versions 5/6, each scope in its own lane (author, LaneIdOf(scope)),
    // its seq and prev counted there.
    const bool lanes = m.opts.delta_format == 5;
    std::map<store::LaneId, FeedHead> lane_heads;  // the lanes this commit writes
    auto head_of = [&](const std::string& scope) -> Result<std::pair<store::LaneId, FeedHead*>> {
      const store::LaneId lane = lanes ? store::LaneIdOf(scope) : store::kLegacyLane;
      auto it = lane_heads.find(lane);
      if (it == lane_heads.end()) {
        auto head = m.Head(t, me, lane);
        if (!head.ok()) return head.status();
        it = lane_heads.emplace(lane, *head).first;
      }
      return std::make_pair(lane, &it->second);
    };
    auto hlc0 = m.LoadHlc(t);
    if (!hlc0.ok()) return hlc0.status();
    crdt::Hlc hlc = *hlc0;
    const uint64_t now = m.NowMs();
    Impl::Cache cache;
    CommitInfo out;
    out.author = me;

    for (const auto& [scope, scope_intents] : by_scope) {
      const bool reserved = scope[0] == '$';
      auto lane_head = head_of(scope);
      if (!lane_head.ok()) return lane_head.status();
      const store::LaneId lane = lane_head->first;
      FeedHead& h = *lane_head->second;
      Result<std::pair<uint32_t, crypto::SecretBytes>> key = Status::Internal("unset");
      if (reserved) {
        key = std::make_pair(uint32_t{0}, crypto::SecretBytes(crypto::kAeadKeyBytes));
      } else if (m.root_key) {
        // Under a policy: write only where granted, under the current epoch.
        if (!*policy) {
          return Status::PermissionDenied("no policy from the county root has been received yet; "
                                          "this replica cannot write " + scope);
        }
        const ScopeSpec* spec = (*policy)->FindScope(scope);
        uint32_t epoch = spec ? spec->epoch : 1;
        HEARTH_RETURN_IF_ERROR((*policy)->CheckWrite(me, h.seq + 1, scope, epoch, lanes));
        auto held = m.ScopeKey(t, scope, epoch);
        if (!held.ok()) return held.status();
        if (!held->has_value()) {
          return Status::PermissionDenied("no key for scope " + scope + " epoch " + std::to_string(epoch) +
                                          " (its key envelope has not arrived yet)");
        }
        key = std::make_pair(epoch, std::move(**held));
      } else {
        key = m.WriteKey(t, scope);
      }
      if (!key.ok()) return key.status();
      std::vector<crdt::RecordOps> records;
      std::map<std::string, size_t> record_pos;
      feed::DeltaHeader hdr;
      hdr.author = me;
      hdr.scope = scope;
      hdr.epoch = key->first;
      for (const BatchIntent* in : scope_intents) {
        auto rec = m.Load(t, cache, in->collection, in->id);
        if (!rec.ok()) return rec.status();
        crdt::RecordState& st = (*rec)->now;
        hlc = crdt::HlcTick(hlc, now);
        if (hlc > crdt::kHlcMax || hlc == 0) {
          return Status::FailedPrecondition(
              "the clock would pass 9999-12-31 (system clock or a received HLC near the end of time); "
              "no valid HLC is left for this write");
        }
        crdt::Op op;
        op.field = in->field;
        op.hlc = hlc;
        op.value = in->value;
        const crdt::FieldState* fs = st.Find(in->field);
        using A = BatchAction;
        switch (in->action) {
          case A::kSet: {
            const CollectionSpec* c = schema.Find(in->collection);
            const FieldSpec* f = c ? c->Find(in->field) : nullptr;
            if (f && KindOf(f->type) == FieldKind::kMv) {
              op.kind = crdt::OpKind::kMvSet;
              if (fs && fs->kind() == FieldKind::kMv) op.context = fs->as<crdt::MvState>().WriteContext();
            } else {
              op.kind = crdt::OpKind::kLwwSet;
            }
            break;
          }
          case A::kDelete: op.kind = crdt::OpKind::kLwwSet; break;
          case A::kAdd: op.kind = crdt::OpKind::kSetAdd; break;
          case A::kRemove:
            op.kind = crdt::OpKind::kSetRemove;
            if (fs && fs->kind() == FieldKind::kSet) op.context = fs->as<crdt::SetState>().RemoveContext(in->value);
            break;
          case A::kIncrement: {
            op.kind = crdt::OpKind::kCounter;
            op.value = Value();
            auto [p, n] = fs && fs->kind() == FieldKind::kCounter
                              ? fs->as<crdt::CounterState>().TotalsOf(me)
                              : std::pair<int64_t, int64_t>{0, 0};
            if (in->by >= 0) {
              HEARTH_RETURN_IF_ERROR(AddChecked(p, in->by, &p));
            } else {
              if (in->by == INT64_MIN) return Status::InvalidArgument("decrement too large");
              HEARTH_RETURN_IF_ERROR(AddChecked(n, -in->by, &n));
            }
            op.p = p;
            op.n = n;
            break;
          }
          case A::kAdvance: {
            op.kind = crdt::OpKind::kStatus;
            const FieldSpec* f = schema.Find(in->collection)->Find(in->field);
            op.rank = *f->RankOf(in->value.as_string());
            break;
          }
          case A::kAppend: op.kind = crdt::OpKind::kLogAppend; break;
        }
        st.Apply(op, me);
        (*rec)->dirty = true;
        (*rec)->cause.Note(me, hlc, /*is_remote=*/false);
        std::string rk = store::StateKey(in->collection, in->id);
        auto [pos, inserted] = record_pos.emplace(rk, records.size());
        if (inserted) records.push_back(crdt::RecordOps{in->collection, in->id, {}});
        records[pos->second].ops.push_back(std::move(op));
        if (hdr.op_count == 0) hdr.hlc_min = hlc;
        hdr.hlc_max = hlc;
        ++hdr.op_count;
      }
      hdr.seq = ++h.seq;
      hdr.prev = h.hash;
      if (out.first_seq == 0) out.first_seq = hdr.seq;
      out.last_seq = hdr.seq;
      for (const crdt::RecordOps& r : records) {
        HEARTH_RETURN_IF_ERROR(m.IndexHistory(t, r.collection, r.id, me, lane, hdr.seq));
      }
      Bytes payload = codec::EncodePayloadAs(records, m.opts.payload_version);
      // Versions 3 to 6: the body can be withheld from a peer as a stub (docs/delta-format.md).
      // In a group, the leader signs later, on two cores (group_commit.cpp).
      // Sealing gives the delta's hash (what the next `prev` names), so the
      // sealed bytes are not parsed again.
      crypto::Hash to_sign{};
      auto delta = feed::SealDeltaUnsigned(hdr, payload, key->second, m.identity, to_sign,
                                           lanes ? feed::Layout::kLane : feed::Layout::kDetachable);
      if (!delta.ok()) return delta.status();
      if (m.sign_later == nullptr) feed::SignSealedDelta(*delta, to_sign, m.identity);
      h.hash = to_sign;
      std::string feed_key = store::FeedKey(me, lane, hdr.seq);
      HEARTH_RETURN_IF_ERROR(t.Put(m.feeds, AsBytes(feed_key), *delta));
      if (m.sign_later != nullptr) {
        m.sign_later->push_back(Impl::UnsignedDelta{std::move(feed_key), std::move(*delta), to_sign});
      }
      out.op_count += hdr.op_count;
    }
    for (const auto& [lane, h] : lane_heads) HEARTH_RETURN_IF_ERROR(m.PutHead(t, me, lane, h));
    HEARTH_RETURN_IF_ERROR(m.StoreHlc(t, hlc));
    // A new policy or schema decides every delta's fate anew (docs/policy.md).
    if (by_scope.count(kPolicyScope) || by_scope.count(kSchemaScope)) m.rebuild_pending = true;
    HEARTH_RETURN_IF_ERROR(m.FinishWrite(t, cache));
    return out;
  }
}

// ---------------------------------------------------------------- reads

// This process's resident file-backed pages (/proc/self/statm, third field:
// RssFile + RssShmem): LMDB maps and shared libraries.
Result<uint64_t> ResidentFileBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return Status::IOError(std::string("/proc/self/statm: ") + std::strerror(errno));
  unsigned long long size = 0, resident = 0, shared = 0;
  const int got = std::fscanf(f, "%llu %llu %llu", &size, &resident, &shared);
  std::fclose(f);
  if (got != 3) return Status::IOError("/proc/self/statm: unexpected contents");
  const long page = ::sysconf(_SC_PAGESIZE);
  return static_cast<uint64_t>(shared) * static_cast<uint64_t>(page > 0 ? page : 4096);
}

void Replica::Impl::MaybeTrim() const {
  if (opts.max_resident_map_bytes == 0) return;
  const uint64_t now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
  uint64_t due = next_trim_check.load(std::memory_order_relaxed);
  if (now < due || !next_trim_check.compare_exchange_strong(due, now + kTrimCheckNs)) return;
  auto resident = ResidentFileBytes();
  if (!resident.ok() || *resident <= resident_base + opts.max_resident_map_bytes) return;
  std::shared_lock lk(resize_mu);
  (void)env.ReleaseMap();  // memory only: a refusal leaves the pages mapped, nothing else changes
}

Result<uint64_t> Replica::TrimMappedMemory(uint64_t keep_bytes) const {
  const Impl& m = *impl_;
  auto resident = ResidentFileBytes();
  if (!resident.ok() || *resident <= keep_bytes) return resident;
  // Under resize_mu: a map that grows is unmapped and mapped elsewhere.
  std::shared_lock lk(m.resize_mu);
  HEARTH_RETURN_IF_ERROR(m.env.ReleaseMap());
  return *resident;
}

Result<Record> Replica::Get(std::string_view collection, const RecordId& id) const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<Record> {
    auto got = t.Get(m.state, AsBytes(store::StateKey(collection, id)));
    if (!got.ok()) return got.status();
    if (!got->has_value()) {
      return Status::NotFound("no record " + std::string(collection) + "/" + id.ToHex());
    }
    auto st = codec::DecodeRecordState(**got);
    if (!st.ok()) return st.status().WithContext("record " + std::string(collection) + "/" + id.ToHex());
    return store::ToRecord(*st);
  });
}

Status Replica::Scan(std::string_view collection,
                     const std::function<bool(const Record&)>& fn) const {
  const Impl& m = *impl_;
  auto r = m.WithRead([&](const Txn& t) -> Result<bool> {
    std::string prefix = store::StatePrefix(collection);
    store::Cursor c(t, m.state);
    for (bool ok = c.Seek(AsBytes(prefix)); ok; ok = c.Next()) {
      ByteView k = c.key();
      if (k.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), k.begin())) break;
      auto st = codec::DecodeRecordState(c.value());
      if (!st.ok()) return st.status().WithContext("scanning " + std::string(collection));
      if (!fn(store::ToRecord(*st))) break;
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    return true;
  });
  return r.status();
}

namespace {
bool Matches(const Query& q, const Record& r, const Schema& schema) {
  if (r.deleted && !q.include_deleted) return false;
  if (q.field.empty()) return true;
  const FieldValue* fv = r.Find(q.field);
  if (fv == nullptr) return false;
  Value v = fv->value;
  if (fv->kind == FieldKind::kStatus) {
    const CollectionSpec* c = schema.Find(q.collection);
    const FieldSpec* f = c ? c->Find(q.field) : nullptr;
    if (!f || v.is_null()) return false;
    v = Value(static_cast<int64_t>(*f->RankOf(v.as_string())));
  }
  if (fv->kind != FieldKind::kLww && fv->kind != FieldKind::kStatus) return false;
  if (q.equals && !(v == *q.equals)) return false;
  if (q.lower && v < *q.lower) return false;
  if (q.upper && v > *q.upper) return false;
  return true;
}
}  // namespace

Result<std::vector<Record>> Replica::Find(const Query& q) const {
  const Impl& m = *impl_;
  const Schema& schema = this->schema();
  std::vector<Record> out;
  if (q.limit == 0) return out;
  if (q.field.empty()) {
    HEARTH_RETURN_IF_ERROR(Scan(q.collection, [&](const Record& r) {
      if (Matches(q, r, schema)) out.push_back(r);
      return out.size() < q.limit;
    }));
    return out;
  }
  const CollectionSpec* c = schema.Find(q.collection);
  if (c == nullptr) return Status::InvalidArgument("unknown collection " + q.collection);
  const FieldSpec* f = c->Find(q.field);
  if (f == nullptr) return Status::InvalidArgument("unknown field " + q.collection + "." + q.field);
  if (!f->indexed) {
    return Status::InvalidArgument(q.collection + "." + q.field +
                                   " is not indexed (set index = true in the schema)");
  }
  // Status fields are indexed by rank: translate state names.
  Query qq = q;
  auto to_rank = [&](std::optional<Value>& v) -> Status {
    if (!v || f->type != FieldType::kStatus) return Status::Ok();
    if (v->type() != ValueType::kString || !f->RankOf(v->as_string())) {
      return Status::InvalidArgument(v->ToString() + " is not a state of " + q.collection + "." + q.field);
    }
    v = Value(static_cast<int64_t>(*f->RankOf(v->as_string())));
    return Status::Ok();
  };
  HEARTH_RETURN_IF_ERROR(to_rank(qq.equals));
  HEARTH_RETURN_IF_ERROR(to_rank(qq.lower));
  HEARTH_RETURN_IF_ERROR(to_rank(qq.upper));
  if (qq.equals) qq.lower = qq.upper = qq.equals;

  auto r = m.WithRead([&](const Txn& t) -> Result<bool> {
    const std::string prefix = store::IndexPrefix(q.collection, q.field);
    std::string start = prefix;
    if (qq.lower) store::AppendSortable(start, *qq.lower);
    std::string upper;
    if (qq.upper) store::AppendSortable(upper, *qq.upper);
    store::Cursor c(t, m.index);
    for (bool ok = c.Seek(AsBytes(start)); ok; ok = c.Next()) {
      ByteView k = c.key();
      if (k.size() < prefix.size() + 16 || !std::equal(prefix.begin(), prefix.end(), k.begin())) break;
      std::string_view sv(reinterpret_cast<const char*>(k.data()) + prefix.size(),
                          k.size() - prefix.size() - 16);
      if (qq.upper && sv > upper) break;
      RecordId id;
      std::copy(k.end() - 16, k.end(), id.bytes.begin());
      auto got = t.Get(m.state, AsBytes(store::StateKey(q.collection, id)));
      if (!got.ok()) return got.status();
      if (!got->has_value()) return Status::Corruption("index entry without record " + id.ToHex());
      auto st = codec::DecodeRecordState(**got);
      if (!st.ok()) return st.status();
      Record rec = store::ToRecord(*st);
      // The index may hold truncated long values: confirm on the record.
      if (Matches(qq, rec, schema)) out.push_back(std::move(rec));
      if (out.size() >= q.limit) break;
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    return true;
  });
  if (!r.ok()) return r.status();
  return out;
}

Result<Heads> Replica::Impl::ReadHeads(const Txn& t) const {
  Heads out;
  store::Cursor c(t, heads);
  for (bool ok = c.First(); ok; ok = c.Next()) {
    auto lk = store::ParseLaneKey(c.key());
    if (!lk || c.value().size() != 40) {
      return Status::Corruption("heads: entry of " + std::to_string(c.key().size()) + "+" +
                                std::to_string(c.value().size()) + " bytes (expected 40+40)");
    }
    // Lanes of versions 5/6 are not in Heads (GetLaneHeads has them):
    // sync exchanges legacy lanes only until lanes reach it
    // (docs/proposal-lanes.md, steps 4 and 5).
    if (lk->lane != store::kLegacyLane) continue;
    const AuthorId& a = lk->author;
    FeedHead h;
    h.seq = store::ReadU64(c.value().data());
    std::copy(c.value().begin() + 8, c.value().end(), h.hash.begin());
    out.emplace(a, h);
  }
  HEARTH_RETURN_IF_ERROR(c.status());
  return out;
}

Result<Heads> Replica::GetHeads() const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) { return m.ReadHeads(t); });
}

Result<std::vector<LaneHead>> Replica::GetLaneHeads() const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<std::vector<LaneHead>> {
    std::vector<LaneHead> out;
    store::Cursor c(t, m.heads);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      auto lk = store::ParseLaneKey(c.key());
      if (!lk || c.value().size() != 40) {
        return Status::Corruption("heads: entry of " + std::to_string(c.key().size()) + "+" +
                                  std::to_string(c.value().size()) + " bytes (expected 40+40)");
      }
      LaneHead lh;
      lh.author = lk->author;
      lh.lane = lk->lane;
      lh.head.seq = store::ReadU64(c.value().data());
      std::copy(c.value().begin() + 8, c.value().end(), lh.head.hash.begin());
      if (lk->lane != store::kLegacyLane) {
        // The scope is in every delta of the lane: read the head's.
        auto got = t.Get(m.feeds, AsBytes(store::FeedKey(lh.author, lh.lane, lh.head.seq)));
        if (!got.ok()) return got.status();
        if (!got->has_value()) {
          return Status::Corruption("heads: head of " + lh.author.ToHex() + " in lane " +
                                    base::ToHex(lh.lane.data(), lh.lane.size()) + " names no stored delta");
        }
        auto d = feed::ParseDelta(**got, UINT64_MAX);
        if (!d.ok()) return d.status().WithContext("stored delta");
        lh.scope = d->header.scope;
      }
      out.push_back(std::move(lh));
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    return out;
  });
}

Result<std::vector<Bytes>> Replica::DeltasSince(const Heads& since, uint64_t max_bytes) const {
  const Impl& m = *impl_;
  std::vector<Bytes> out;
  uint64_t total = 0;
  auto r = m.WithRead([&](const Txn& t) -> Result<bool> {
    auto mine = m.ReadHeads(t);
    if (!mine.ok()) return mine.status();
    for (const auto& [a, h] : *mine) {
      auto it = since.find(a);
      uint64_t from = it == since.end() ? 1 : it->second.seq + 1;
      if (from > h.seq) continue;
      store::Cursor c(t, m.feeds);
      const std::string lane_key = store::LaneKey(a, store::kLegacyLane);
      const ByteView lane = AsBytes(lane_key);
      std::string start = store::FeedKey(a, store::kLegacyLane, from);
      for (bool ok = c.Seek(AsBytes(start)); ok; ok = c.Next()) {
        ByteView k = c.key();
        if (k.size() != store::kFeedKeySize || !std::equal(lane.begin(), lane.end(), k.begin())) break;
        if (store::ReadU64(k.data() + store::kLaneKeySize) > h.seq) break;
        if (!out.empty() && total + c.value().size() > max_bytes) return true;
        out.emplace_back(c.value().begin(), c.value().end());
        total += c.value().size();
      }
      HEARTH_RETURN_IF_ERROR(c.status());
    }
    return true;
  });
  if (!r.ok()) return r.status();
  return out;
}

Result<Bytes> Replica::GetDelta(const AuthorId& author, uint64_t seq) const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<Bytes> {
    auto got = t.Get(m.feeds, AsBytes(store::FeedKey(author, store::kLegacyLane, seq)));
    if (!got.ok()) return got.status();
    if (!got->has_value()) {
      return Status::NotFound("no delta " + author.ToHex() + "#" + std::to_string(seq));
    }
    return Bytes((*got)->begin(), (*got)->end());
  });
}

Result<Hash32> Replica::Digest() const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<Hash32> {
    crypto::Hasher h;
    store::Cursor c(t, m.state);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      std::string len;
      store::AppendU32(len, static_cast<uint32_t>(c.key().size()));
      h.Update(AsBytes(len));
      h.Update(c.key());
      len.clear();
      store::AppendU32(len, static_cast<uint32_t>(c.value().size()));
      h.Update(AsBytes(len));
      h.Update(c.value());
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    return h.Final();
  });
}

}  // namespace hearth
