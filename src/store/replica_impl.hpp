// Internals of Replica, shared by the store's .cpp files.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "codec/codec.hpp"
#include "crdt/record_state.hpp"
#include "crypto/crypto.hpp"
#include "feed/delta.hpp"
#include "hearth/inspect.hpp"
#include "hearth/policy.hpp"
#include "hearth/replica.hpp"
#include "store/keys.hpp"
#include "store/lmdb.hpp"

namespace hearth {

// This process's resident file-backed bytes (/proc/self/statm, third
// field: RssFile + RssShmem), i.e. its LMDB maps and shared libraries.
Result<uint64_t> ResidentFileBytes();

// 2: feed positions keyed by lane (author || lane_id || seq, docs/
// storage-format.md); a format-1 replica is migrated by Open (migrate.cpp).
inline constexpr uint32_t kStorageFormatVersion = 2;

// Reason of a denied-table entry for a delta with invalid content.
inline constexpr const char* kInvalidContentPrefix = "invalid content: ";
// Reason of a denied-table entry for a delta that names a collection, field
// or status state the schema in force does not know: applied once a schema
// that knows them is in force (docs/schema.md, "Waiting deltas").
inline constexpr const char* kWaitingSchemaPrefix = "waiting for a newer schema: ";
inline bool IsWaitingReason(std::string_view reason) { return reason.starts_with(kWaitingSchemaPrefix); }

// The library's door to a Replica's internals and a WriteBatch's intents
// (both private in the public headers).
struct ReplicaAccess {
  using Impl = Replica::Impl;
  using Intent = WriteBatch::Intent;
  using Action = WriteBatch::Action;
  static Impl& Of(Replica& r) { return *r.impl_; }
  static const Impl& Of(const Replica& r) { return *r.impl_; }
  static const std::vector<Intent>& Intents(const WriteBatch& b) { return b.intents_; }
};
using ReplicaImpl = ReplicaAccess::Impl;
using BatchIntent = ReplicaAccess::Intent;
using BatchAction = ReplicaAccess::Action;

// Why a delta is held unreadable although a key of its (scope, epoch) is
// held (no root: a different key was created elsewhere).
std::string UnopenedReason(std::string_view scope, uint32_t epoch);
namespace store {
// Meta records of the live-copy check (docs/storage-format.md, "meta").
inline constexpr const char* kMetaLiveFile = "live_file";
inline constexpr const char* kMetaCopyOf = "copy_of";
inline constexpr const char* kMetaRestoredFrom = "restored_from";
// Runs fn on the meta table of the (closed) replica environment in `dir`,
// in one write transaction committed when fn returns ok. REQUIRES: the
// environment is not open in this process.
Status EditMeta(const std::string& dir, const std::function<Status(Txn&, MDB_dbi)>& fn);
// The lane of a parsed delta (legacy for versions 1 to 4).
inline LaneId LaneOfDelta(const feed::ParsedDelta& d) { return LaneOf(d.version, d.header.scope); }
}  // namespace store

struct Replica::Impl {
  std::string dir;
  ReplicaOptions opts;
  // This replica's own schema (meta "schema": init, --schema, schema set);
  // set once by Open. The schema in force is SchemaIn(): under a county
  // root the root-published one when held, else this.
  std::shared_ptr<const Schema> local_schema = std::make_shared<const Schema>();
  // The root-published schema, parsed once per $schema doc (by its dot),
  // and every schema Replica::schema() handed out (kept alive so that the
  // references it returns stay valid).
  mutable std::mutex schema_mu;
  mutable std::shared_ptr<const Schema> schema_cache;
  mutable crdt::Dot schema_dot;
  mutable std::vector<std::shared_ptr<const Schema>> schemas_handed_out;
  crypto::SigningKeyPair identity;
  store::Env env;
  dev_t dev = 0;
  ino_t ino = 0;
  // Not the live copy of its identity (Replica::is_copy): set by Open from
  // meta "copy_of" / "live_file"; backup_ms from "copy_of".
  bool is_copy = false;
  uint64_t backup_ms = 0;
  // kFailedPrecondition naming `hearth restore` when is_copy: called by
  // every write to the own feed before anything is written.
  Status CheckOwnFeedWritable() const;

  // Named sub-databases (docs/storage-format.md).
  MDB_dbi meta = 0, feeds = 0, heads = 0, state = 0, index = 0, pending = 0, forks = 0,
          frozen = 0, keys = 0, unreadable = 0 /* table "opaque" */, denied = 0;
  // Change feed and record history (changes.cpp).
  MDB_dbi changes = 0, history = 0;

  // Access control (access.cpp). root_key is fixed once stored.
  std::optional<AuthorId> root_key;
  // Set inside a write transaction when applied deltas change what the
  // derivation rule decides (a new policy, a fork): FinishWrite then
  // re-derives the state from the feeds. Guarded by write_mu.
  bool rebuild_pending = false;
  mutable std::mutex policy_mu;
  mutable std::shared_ptr<const Policy> policy_cache;
  mutable crdt::Dot policy_dot;

  // Shared by every transaction of this process; taken exclusively to change
  // the map size (LMDB requires that no transaction is active then).
  mutable std::shared_mutex resize_mu;
  // Serialises this process's writers (LMDB serialises across processes).
  std::mutex write_mu;

  // The resident-map bound (ReplicaOptions::max_resident_map_bytes; the
  // measure: ResidentFileBytes, replica.cpp): the
  // process's resident file bytes at Open, and when a transaction's end
  // may look again (steady-clock ns; at most every kTrimCheckNs).
  static constexpr uint64_t kTrimCheckNs = 10'000'000;
  uint64_t resident_base = 0;
  mutable std::atomic<uint64_t> next_trim_check{0};
  // Called when a thread's outermost transaction of this replica ended.
  void MaybeTrim() const;
  // Counts this thread's open transactions of any replica; the outermost
  // one's end calls MaybeTrim (a trim takes resize_mu, which an enclosing
  // transaction of the same thread would hold).
  struct TxnDepth {
    explicit TxnDepth(const Impl& m) : m(m) { ++depth(); }
    ~TxnDepth() {
      if (--depth() == 0) m.MaybeTrim();
    }
    static int& depth() {
      thread_local int d = 0;
      return d;
    }
    const Impl& m;
  };

  ~Impl();

  uint64_t NowMs() const;

  // Env::LastTxnId / ReadableTxnId under resize_mu: both read the map, which
  // Grow() unmaps and maps again (a SyncNode asks from its own thread while
  // another thread commits).
  uint64_t LastTxnId() const {
    std::shared_lock lk(resize_mu);
    return env.LastTxnId();
  }
  uint64_t ReadableTxnId() const {
    std::shared_lock lk(resize_mu);
    return env.ReadableTxnId();
  }

  // Runs fn(txn) in a read transaction; adopts a map grown by another process.
  template <typename F>
  auto WithRead(F&& fn) const -> decltype(fn(std::declval<const store::Txn&>()));

  // Runs fn(txn) in a write transaction and commits if it returns ok. On a
  // full map the transaction is aborted, the map grown and fn run again.
  template <typename R, typename F>
  Result<R> WithWrite(F&& fn);

  Status Grow();
  Status AdoptResize() const;
  // LMDB reports a short write (the disk filled up part-way through a page
  // flush) as EIO. When the replica's file system has (almost) no space
  // left, an I/O error of a write is reported as disk full
  // (kResourceExhausted); anything else is returned unchanged.
  Status DiagnoseWriteError(Status s) const;

  // --- state cache used within one write transaction ---
  // What changed a cached record, for the change feed (changes.cpp).
  struct ChangeCause {
    bool set = false;
    AuthorId author;
    uint64_t hlc = 0;
    bool remote = false;
    bool rederived = false;
    // Keeps the operation with the highest HLC.
    void Note(const AuthorId& a, uint64_t h, bool is_remote) {
      if (set && h < hlc) return;
      set = true;
      author = a;
      hlc = h;
      remote = is_remote;
    }
  };
  struct CachedRecord {
    std::optional<crdt::RecordState> before;  // as stored; nullopt if new
    crdt::RecordState now;
    bool dirty = false;
    ChangeCause cause;
    // A rebuild: the state before it, which the change feed compares
    // against (`before` is empty there: the tables were dropped).
    std::optional<crdt::RecordState> feed_base;
  };
  using Cache = std::map<std::string, CachedRecord>;
  Result<CachedRecord*> Load(const store::Txn& t, Cache& cache, std::string_view collection,
                             const RecordId& id) const;
  Status Flush(store::Txn& t, Cache& cache) const;

  // --- change feed and history (changes.cpp) ---
  // Appends a Change for `rec` when its merged state differs from what was
  // stored; sets notify_pending.
  Status RecordChange(store::Txn& t, const CachedRecord& rec) const;
  // Adds (collection, id) <- (author, lane, seq) to the history index.
  Status IndexHistory(store::Txn& t, std::string_view collection, const RecordId& id, const AuthorId& author,
                      const store::LaneId& lane, uint64_t seq) const;
  // Opening: builds the history index from the feeds once (a replica made
  // before it existed).
  Status MigrateHistory(store::Txn& t);
  // Opening a format-1 replica: re-keys every feed position to its legacy
  // lane (storage format 2) in the caller's transaction (migrate.cpp).
  Status MigrateToFormat2(store::Txn& t) const;
  // After a committed transaction that recorded changes: rewrites the
  // notify file so that watchers in every process wake.
  void NotifyChanges() const;
  mutable bool notify_pending = false;
  mutable uint64_t notify_number = 0;

  // --- schema (access.cpp) ---
  // The root-published schema as of this transaction (cache: records not
  // yet flushed); nullptr when there is no root or none is held.
  Result<std::shared_ptr<const Schema>> RootSchemaIn(const store::Txn& t, const Cache* cache) const;
  // The schema in force: RootSchemaIn, else local_schema.
  Result<std::shared_ptr<const Schema>> SchemaIn(const store::Txn& t, const Cache* cache) const;

  // --- keys ---
  Result<std::optional<crypto::SecretBytes>> ScopeKey(const store::Txn& t, std::string_view scope,
                                                      uint32_t epoch) const;
  // The newest epoch whose key is held for `scope`, nullopt when none.
  Result<std::optional<uint32_t>> NewestEpoch(const store::Txn& t, std::string_view scope) const;
  // Newest epoch's key for `scope`; kFailedPrecondition naming the ways
  // forward when none is held (no implicit generation).
  Result<std::pair<uint32_t, crypto::SecretBytes>> WriteKey(store::Txn& t, std::string_view scope);
  // Without a root: a new random key for `scope` at `epoch`.
  Result<ScopeEpoch> NewScopeKey(std::string_view scope, bool rotate);

  // --- feeds ---
  // The head of lane (a, lane); seq 0 when none is held.
  Result<FeedHead> Head(const store::Txn& t, const AuthorId& a, const store::LaneId& lane) const;
  // Every author's head, of its legacy lane: the only lanes this build
  // writes (kCorruption for a malformed entry or another lane).
  Result<Heads> ReadHeads(const store::Txn& t) const;
  Status PutHead(store::Txn& t, const AuthorId& a, const store::LaneId& lane, const FeedHead& h) const;
  Result<crdt::Hlc> LoadHlc(const store::Txn& t) const;
  Status StoreHlc(store::Txn& t, crdt::Hlc h) const;
  // Raises the stored clock to `remote` if that is newer (HlcObserve).
  Status ObserveHlc(store::Txn& t, crdt::Hlc remote) const;

  // --- remote apply ---
  // What a chained delta's payload holds. `invalid` (non-empty: the
  // reason, starting with kInvalidContentPrefix) when the delta is signed
  // and chained but its content can never be applied: it does not decrypt
  // under its scope key (under a root; without one it is `unreadable`: the
  // key held may be another replica's separate key), breaks the format's limits, names a collection
  // outside its scope or the schema, or fails the schema. Such a delta is
  // kept in its feed and listed with the denied ones, on every replica alike.
  // `invalid` may instead start with kWaitingSchemaPrefix: the delta names
  // what `schema` does not know; it is kept like an invalid one and
  // re-judged whenever the schema in force changes.
  struct Prepared {
    bool unreadable = false;
    bool withheld = false;  // a stub: unreadable because no body is held (implies unreadable)
    std::string unreadable_reason;  // why (no key, or a held key that does not open it)
    std::string invalid;
    std::vector<crdt::RecordOps> records;
  };
  // Scope keys read within one transaction, by (scope, epoch); only keys
  // that exist are cached (a stored key never changes). Saves a table read
  // and a sodium_malloc (mmap + mlock) per delta of a batch.
  using KeyCache = std::map<std::pair<std::string, uint32_t>, crypto::SecretBytes, std::less<>>;
  // Decrypts, decodes and validates a chained delta's payload; writes nothing.
  Result<Prepared> Prepare(const store::Txn& t, const feed::ParsedDelta& d, const Schema& schema,
                           KeyCache* key_cache = nullptr) const;
  Status WriteApplied(store::Txn& t, Cache& cache, const feed::ParsedDelta& d,
                      std::span<const uint8_t> bytes, const Prepared& p);
  Result<ApplyResult> ApplyInTxn(store::Txn& t, Cache& cache, const feed::ParsedDelta& d,
                                 std::span<const uint8_t> bytes, KeyCache* key_cache = nullptr);
  // Records a fork (author, lane, seq) with both deltas and freezes the lane.
  Status RecordFork(store::Txn& t, const AuthorId& a, const store::LaneId& lane, uint64_t seq,
                    std::span<const uint8_t> first, std::span<const uint8_t> second) const;
  // A delta that chains onto its author's head: refused by policy (kept as
  // kDenied), stored without a key (kUnreadable) or applied (kApplied).
  Result<ApplyOutcome> ApplyChained(store::Txn& t, Cache& cache, const feed::ParsedDelta& d,
                                    std::span<const uint8_t> bytes, KeyCache* key_cache, std::string* reason);
  // Applies pending deltas that now chain onto the head of lane (a, lane).
  Result<uint64_t> Drain(store::Txn& t, Cache& cache, const AuthorId& a, const store::LaneId& lane,
                         KeyCache* key_cache = nullptr);

  // Applies unreadable deltas of (scope, epoch) once its key is known.
  Status ApplyUnreadable(store::Txn& t, Cache& cache, std::string_view scope, uint32_t epoch);

  // --- access control (access.cpp) ---
  // The policy in force as of this transaction (cache: records not yet
  // flushed). nullptr when none.
  Result<std::shared_ptr<const Policy>> PolicyIn(const store::Txn& t, const Cache* cache) const;
  // kPermissionDenied with the reason when the policy refuses the delta.
  // `lane`: the delta is of version 5/6 (Policy::CheckWrite).
  Status Permit(const feed::DeltaHeader& h, const Policy* policy, bool lane) const;
  // Opens key envelopes addressed to this replica among `records`; returns
  // the (scope, epoch) pairs whose keys are new.
  Result<std::vector<std::pair<std::string, uint32_t>>> OpenEnvelopes(
      const store::Txn& t, const std::vector<crdt::RecordOps>& records, const Cache& cache,
      KeyCache* new_keys) const;
  // Stores new keys and applies the unreadable deltas they unlock.
  Status InstallKeys(store::Txn& t, Cache& cache, KeyCache& new_keys);
  // The whole derivation rule, from the feeds alone (docs/policy.md).
  struct Derived {
    std::map<std::string, crdt::RecordState> records;
    std::vector<std::string> unreadable;                     // feed keys
    std::vector<std::pair<std::string, std::string>> denied;  // feed key, reason
    KeyCache new_keys;                                       // opened from envelopes
    std::shared_ptr<const Schema> schema;                    // the schema in force
    std::vector<std::string> history;                        // history index keys
  };
  Status Derive(const store::Txn& t, Derived* out) const;
  // Replaces the tables state, index, opaque and denied with a fresh derivation.
  Status Rebuild(store::Txn& t);
  // Flushes the cache and rebuilds when rebuild_pending.
  Status FinishWrite(store::Txn& t, Cache& cache);
  // Shared by Commit and PublishPolicy; `internal` allows reserved scopes.
  Result<CommitInfo> CommitIntents(const std::vector<BatchIntent>& intents, bool internal);
  // Writes the deltas of one batch in `t` (which the caller commits): what
  // a lone Commit does inside its transaction. On error `t` may hold part
  // of the batch: abort it.
  Result<CommitInfo> CommitInTxn(store::Txn& t, const std::vector<BatchIntent>& intents, bool internal);

  // --- group commit (group_commit.cpp; docs/durability.md, "Group commit") ---
  // A Commit waiting in the queue; the first one in the queue leads.
  struct CommitWaiter;
  // Commits `intents` (not internal, not empty) together with the batches
  // other threads of this process commit at the same time: one write
  // transaction, one fsync, one delta per batch and scope, each caller its
  // own result. Returns once the batch's deltas are durable.
  Result<CommitInfo> GroupCommit(const std::vector<BatchIntent>& intents);
  // Leader: commits `group` (in queue order) and sets each one's result.
  void CommitGroup(const std::vector<CommitWaiter*>& group);
  std::mutex commit_queue_mu;
  std::deque<CommitWaiter*> commit_queue;  // guarded by commit_queue_mu
  // Size of the last group and how long its work took (guarded by
  // commit_queue_mu): a leader that finds fewer batches queued waits a
  // little for the writers of the last group to come back.
  size_t last_group_size = 0;
  uint64_t last_group_ns = 0;
  size_t group_target = 0;  // > 0 while a leader waits for that many queued
  // Signing apart from sealing: while a group of several batches runs,
  // CommitInTxn (leader thread, under write_mu) seals its deltas unsigned,
  // stores them and lists them here; CommitGroup signs the list on two
  // cores and stores the signed bytes before the transaction commits.
  struct UnsignedDelta {
    std::string key;  // in `feeds`
    Bytes bytes;      // the stored delta, its last 64 bytes zero
    crypto::Hash to_sign;
  };
  std::vector<UnsignedDelta>* sign_later = nullptr;
  class SignHelper;
  std::shared_ptr<SignHelper> sign_helper;  // made by the first group that can use it
  // Since Open: groups committed, batches in them, groups that fell back to
  // one transaction per batch (read by tests and benchmarks).
  std::atomic<uint64_t> groups_committed{0}, batches_grouped{0}, group_fallbacks{0};
};

template <typename F>
auto Replica::Impl::WithRead(F&& fn) const -> decltype(fn(std::declval<const store::Txn&>())) {
  TxnDepth depth(*this);  // declared first: its end runs after resize_mu is released
  for (int attempt = 0;; ++attempt) {
    std::shared_lock lk(resize_mu);
    store::Txn t;
    Status s = t.Begin(env, /*read_only=*/true);
    if (t.error() == store::MdbError::kMapResized && attempt < 3) {
      lk.unlock();
      HEARTH_RETURN_IF_ERROR(AdoptResize());
      continue;
    }
    HEARTH_RETURN_IF_ERROR(s);
    return fn(static_cast<const store::Txn&>(t));
  }
}

template <typename R, typename F>
Result<R> Replica::Impl::WithWrite(F&& fn) {
  TxnDepth depth(*this);  // declared first: its end runs after both locks are released
  std::lock_guard wl(write_mu);
  for (int attempt = 0;; ++attempt) {
    std::shared_lock lk(resize_mu);
    store::Txn t;
    Status s = t.Begin(env, /*read_only=*/false);
    if (t.error() == store::MdbError::kMapResized && attempt < 8) {
      lk.unlock();
      HEARTH_RETURN_IF_ERROR(AdoptResize());
      continue;
    }
    HEARTH_RETURN_IF_ERROR(s);
    rebuild_pending = false;
    notify_pending = false;
    Result<R> r = fn(t);
    if (r.ok()) s = t.Commit();
    else s = r.status();
    if (s.ok()) {
      if (notify_pending) NotifyChanges();
      return r;
    }
    t.Abort();
    lk.unlock();
    if (t.error() == store::MdbError::kMapFull && attempt < 64) {
      HEARTH_RETURN_IF_ERROR(Grow());
      continue;
    }
    return DiagnoseWriteError(std::move(s));
  }
}

}  // namespace hearth
