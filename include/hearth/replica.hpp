// Replica: one node's durable copy of the shared records.
//
// A replica is a directory holding an LMDB environment (the feeds of every
// author, the materialised records, indexes, pending deltas, forks, keys and
// metadata) and this node's identity. Local writes become signed, encrypted
// deltas appended to this node's own feed; remote deltas are verified and
// applied. Storing a delta and applying it to the records happen in one LMDB
// write transaction: after a crash both or neither are there.
//
// Thread safety: a Replica may be used from many threads at once. Reads run
// concurrently and never block writers; writes are serialised. Several
// processes may open the same directory (an app, hearthd, the CLI); the
// feed's next seq and the clock are advanced inside the LMDB write
// transaction, so they never hand out the same (author, seq) twice. One
// process may not open the same directory twice (kFailedPrecondition).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/changes.hpp"
#include "hearth/export.hpp"
#include "hearth/policy.hpp"
#include "hearth/schema.hpp"
#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth {

using Hash32 = std::array<uint8_t, 32>;

// The newest delta of one author's feed that this replica holds.
struct FeedHead {
  uint64_t seq = 0;
  Hash32 hash{};
  bool operator==(const FeedHead&) const = default;
};

// Version vector: author -> newest contiguous delta held in the author's
// legacy lane (deltas of format versions 1 to 4).
using Heads = std::map<AuthorId, FeedHead>;

// The head of one lane (docs/storage-format.md, "Lanes"): a delta of format
// version 5/6 chains in the lane (author, LaneIdOf(scope)); versions 1 to 4
// in the author's legacy lane, whose id is eight zero bytes.
struct LaneHead {
  AuthorId author;
  std::array<uint8_t, 8> lane{};  // all zero: the legacy lane
  std::string scope;              // the lane's scope; "" for the legacy lane
  FeedHead head;
  bool operator==(const LaneHead&) const = default;
};

enum class Durability : uint8_t {
  kSync,    // fsync every commit (default): acknowledged means on disk
  kNoSync,  // leave flushing to the OS: fast, loses recent commits on power loss
};

struct HEARTH_EXPORT ReplicaOptions {
  // Create the directory, environment and identity when missing.
  bool create_if_missing = true;
  Durability durability = Durability::kSync;
  // Initial LMDB map size; it doubles on demand up to max_map_size.
  uint64_t initial_map_size = uint64_t{64} << 20;
  uint64_t max_map_size = uint64_t{1} << 40;
  // Memory: LMDB reads through a shared map of data.mdb, and the kernel maps
  // more than is read (it maps the cached pages around each page read), so
  // a process that reads or syncs a large replica would show most of the
  // file in its RSS. At most every 10 ms, when a transaction ends, the
  // replica looks at the process's resident file pages; past what they were
  // at Open plus this many bytes it drops its mappings of the map
  // (TrimMappedMemory). The data stays in the file and the page cache. 0:
  // never (docs/storage-format.md, "Map size").
  uint64_t max_resident_map_bytes = uint64_t{32} << 20;
  // Schema to use. When set it is stored in the replica (replacing the
  // stored one); when empty the stored schema is used.
  std::optional<Schema> schema;
  // Source of wall-clock milliseconds for the hybrid logical clock; tests
  // pass a fake. Empty = system clock.
  std::function<uint64_t()> clock_ms;
  // Largest delta accepted by Apply (bytes).
  uint64_t max_delta_bytes = uint64_t{16} << 20;

  // --- identity at rest ---
  // Passphrase protecting the identity key (Argon2id, docs/policy.md): the
  // only one the library uses (it reads no environment variable; the hearth
  // and hearthd tools take theirs from $HEARTH_PASSPHRASE or the configured
  // variable and pass it here).
  std::optional<std::string> passphrase;
  // Create an unencrypted identity when no passphrase is available: an
  // explicit choice for unattended nodes. Without a passphrase and without
  // this, creating a replica fails (kFailedPrecondition).
  bool unencrypted_identity = false;

  // --- access control ---
  // The county root key whose signed policy this replica obeys. Set once
  // (stored in the replica); a different root later is refused. Without a
  // root the replica enforces no policy (a single-agency or test setup).
  std::optional<AuthorId> root;
  // This replica's own identity is the county root (the administrator's).
  bool is_root = false;

  // --- damaged storage (docs/reliability.md, "Damaged storage") ---
  // Before LMDB reads any page, walk every B-tree of data.mdb with plain
  // reads and refuse a damaged file (kCorruption naming the table and page)
  // instead of letting LMDB crash on it. Costs one read of every page in
  // use (the `hearth` tool always sets it). Without it, Open still checks
  // the meta pages and the file size (a truncated file).
  bool check_storage = false;

  // --- delta payload encoding (docs/delta-format.md, "Payload version 2") ---
  // Payload version of the deltas this replica writes: 2 (compact, the
  // default) or 1 (msgpack, for peers older than payload version 2 and for
  // benchmarks comparing the two). Both versions are always read.
  uint8_t payload_version = 2;

  // --- delta format (docs/delta-format.md, "Versions 5 and 6") ---
  // 4 (the default): Commit writes versions 3/4, one chain per author (the
  // legacy lane). 5: versions 5/6, one chain per (author, scope): each
  // delta's seq and prev count in the lane of its scope. Deltas of every
  // version are always applied. Peers older than lanes refuse 5/6.
  uint8_t delta_format = 4;
};

// One merged field as readers see it.
struct HEARTH_EXPORT LogEntry {
  uint64_t hlc = 0;
  AuthorId author;
  Value value;
};

struct HEARTH_EXPORT FieldValue {
  FieldKind kind = FieldKind::kLww;
  Value value;                // lww/ref: the winner; status: the state name
  std::vector<Value> values;  // mv: concurrent values (sorted); set: members (sorted)
  int64_t count = 0;          // counter: sum over authors of increments - decrements
  std::vector<LogEntry> log;  // log: entries in (hlc, author) order
  uint64_t hlc = 0;           // lww/ref: HLC of the winning write
  AuthorId author;            // lww/ref: author of the winning write
  // mv: every concurrent value with the author and HLC of its write, in
  // (hlc, author) order (`values` holds the same values, sorted, unique).
  std::vector<LogEntry> sources;

  // An mv register holding more than one concurrent value: a person should
  // decide (Set the field again to resolve it).
  bool conflict() const { return kind == FieldKind::kMv && values.size() > 1; }
};

struct HEARTH_EXPORT Record {
  std::string collection;
  RecordId id;
  bool deleted = false;
  std::map<std::string, FieldValue, std::less<>> fields;  // includes fields unknown to the schema

  const FieldValue* Find(std::string_view field) const;
};

// A set of field operations committed atomically by Replica::Commit. Checks
// against the schema happen at commit; the first error fails the whole batch.
class HEARTH_EXPORT WriteBatch {
 public:
  // lww, ref and mv fields. For mv, resolves every value this replica has seen.
  WriteBatch& Set(std::string_view collection, const RecordId& id, std::string_view field, Value v);
  WriteBatch& Add(std::string_view collection, const RecordId& id, std::string_view field, Value v);
  WriteBatch& Remove(std::string_view collection, const RecordId& id, std::string_view field, Value v);
  // Counter fields; negative decrements.
  WriteBatch& Increment(std::string_view collection, const RecordId& id, std::string_view field, int64_t by);
  // Status fields: moves to `state` if it is further along the declared order.
  WriteBatch& Advance(std::string_view collection, const RecordId& id, std::string_view field, std::string_view state);
  WriteBatch& Append(std::string_view collection, const RecordId& id, std::string_view field, Value v);
  // Record-level tombstone.
  WriteBatch& Delete(std::string_view collection, const RecordId& id);

  size_t size() const { return intents_.size(); }
  bool empty() const { return intents_.empty(); }
  void Clear() { intents_.clear(); }

 private:
  friend struct ReplicaAccess;
  enum class Action : uint8_t { kSet, kAdd, kRemove, kIncrement, kAdvance, kAppend, kDelete };
  struct Intent {
    Action action;
    std::string collection;
    RecordId id;
    std::string field;
    Value value;
    int64_t by = 0;
  };
  WriteBatch& Push(Action a, std::string_view collection, const RecordId& id, std::string_view field, Value v,
                   int64_t by = 0);
  std::vector<Intent> intents_;
};

// What a commit produced: one delta per scope touched, consecutive seqs.
// A scope key's name: (scope, epoch).
struct ScopeEpoch {
  std::string scope;
  uint32_t epoch = 0;
  auto operator<=>(const ScopeEpoch&) const = default;
};

// Options of Replica::Restore (docs/durability.md, "Restoring a backup").
struct HEARTH_EXPORT RestoreOptions {
  // The new identity's passphrase, and the explicit choice of an
  // unencrypted one: the same rules as creating a replica (ReplicaOptions).
  std::optional<std::string> passphrase;
  bool unencrypted_identity = false;
  // Mark the copy live under its current identity instead of creating a
  // new one. Only after syncing this identity's own feed back from the
  // peers, and only when the original is gone for good: if the original
  // still writes, the two fork. The only way for a copy of the county
  // root's replica (the root cannot change identity).
  bool keep_identity = false;
};

// What Replica::Restore did.
struct HEARTH_EXPORT RestoreInfo {
  AuthorId old_author;               // the identity the copy was made under
  AuthorId author;                   // the identity it writes as from now on
  bool new_identity = false;         // false with keep_identity
  std::string retired_identity_file; // the old identity.key, kept (empty with keep_identity)
  std::optional<AuthorId> root;      // the county root the replica obeys, if any
};

struct CommitInfo {
  AuthorId author;
  // The seqs of the first and the last delta written (one per scope, in
  // scope order). With ReplicaOptions::delta_format 5 each delta counts in
  // the lane of its scope, so the two may be in different lanes.
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;  // 0 when the batch was empty
  uint64_t op_count = 0;
};

enum class ApplyOutcome : uint8_t {
  kApplied,    // stored and applied (plus any pending deltas it unblocked)
  kDuplicate,  // already held: nothing changed
  kPending,    // predecessor missing: kept until the gap fills
  kUnreadable, // stored and chained, but no key for its scope: applied once the key arrives
  kFork,       // same (author, seq) as a held delta, other content: kept as proof
  kHeld,       // author is frozen by an earlier fork: kept, not applied
  kDenied,     // stored and chained, but the policy refuses it: never applied (see reason)
  kWaitingSchema,  // stored and chained, names what the schema lacks: applied once a newer schema is in force
  kWithheld,   // a stub (version 3/4 without its body): stored and chained, never applied until the body comes
  kBodyArrived,  // the body of a held stub: stored in its place and applied if the policy and keys allow
};

HEARTH_EXPORT std::string_view ApplyOutcomeName(ApplyOutcome o);

struct ApplyResult {
  ApplyOutcome outcome = ApplyOutcome::kApplied;
  AuthorId author;
  uint64_t seq = 0;
  uint64_t unblocked = 0;  // pending deltas applied because this one filled a gap
  std::string reason;      // kDenied: why (unknown member, no write grant, revoked, ...);
                           // kUnreadable: why (no key held, or the held key does not open it)
  // kUnreadable: the (scope, epoch) whose key would open it.
  std::optional<ScopeEpoch> missing_key;
};

// What Replica::ApplyBatch did: the deltas [0, results.size()) are
// applied (committed, each as Apply would), in order; when `error` is not
// ok, the delta at failed_index() and every later one are not, and `error`
// says why.
struct BatchApplyResult {
  std::vector<ApplyResult> results;
  Status error;
  // True when `error` is the failed delta's own (malformed, forged, over a
  // limit, not chaining: Apply refuses it too, nothing else is wrong); false
  // when the store failed (I/O, disk or map full), which a later try may
  // not meet.
  bool refused = false;
  bool ok() const { return error.ok(); }
  size_t failed_index() const { return results.size(); }
};

// Equality and range conditions on one indexed field.
struct HEARTH_EXPORT Query {
  std::string collection;
  std::string field;                // empty: scan the whole collection
  std::optional<Value> equals;
  std::optional<Value> lower;       // inclusive
  std::optional<Value> upper;       // inclusive
  size_t limit = SIZE_MAX;
  bool include_deleted = false;
};

class HEARTH_EXPORT Replica {
 public:
  // Opens (or creates) the replica in `dir`. Errors: kNotFound (missing and
  // !create_if_missing), kFailedPrecondition (already open in this process,
  // newer format version), kIOError, kCorruption.
  static Result<std::unique_ptr<Replica>> Open(const std::string& dir, ReplicaOptions options = {});

  // Makes a copy of a replica (a backup, or a directory copied with cp -r,
  // tar, rsync) the live copy, so that it may write (docs/durability.md,
  // "Restoring a backup"). By default the replica continues under a fresh
  // identity: a new identity.key (passphrase rules as for a new replica);
  // the old one is kept as identity.<old-hex16>.retired; the old author's
  // feed stays as any other author's; the scope keys held are kept. Under a
  // county root the new author writes once the root added it as a member
  // (`hearth policy add-member NEW --like OLD`). Crash-safe: a restore
  // interrupted at any point is finished by calling Restore again (Open
  // refuses the directory until then). Errors: kNotFound (not a replica),
  // kFailedPrecondition (the replica is the live copy; a copy of the county
  // root's replica without keep_identity; open in this process; another
  // restore is running; no passphrase), kIOError.
  static Result<RestoreInfo> Restore(const std::string& dir, const RestoreOptions& options = {});

  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  const AuthorId& author() const;
  const std::string& dir() const;
  // The schema in force: under a county root the newest schema the root
  // published (PublishSchema) when one is held, else this replica's own
  // (ReplicaOptions::schema, stored). The reference stays valid for the
  // Replica's lifetime, also after a newer schema arrives (call again to
  // see it).
  const Schema& schema() const;
  // True when this directory is not the live copy of its identity: a backup
  // made by inspect::Backup, or a copied directory (its data.mdb is not the
  // file the replica was created in; docs/durability.md, "Restoring a
  // backup"). A copy reads, verifies and applies remote deltas, but refuses
  // every write to its own feed (Commit, Write, PublishPolicy:
  // kFailedPrecondition) until Restore made it live: its identity may still
  // be writing elsewhere, and writing here would fork it.
  bool is_copy() const;

  // Commits `batch` as one delta per scope touched, each under the newest
  // epoch of its scope's key. Errors: kInvalidArgument (unknown
  // collection/field, wrong value type), kFailedPrecondition (no key for a
  // scope: no key is ever made implicitly, see CreateScopeKey; or
  // is_copy()),
  // kPermissionDenied (under a root: no grant or no envelope), kResourceExhausted (map at max_map_size, disk full), kIOError. On error
  // nothing is written.
  Result<CommitInfo> Commit(const WriteBatch& batch);
  // Builds a batch with `fn` and commits it.
  Result<CommitInfo> Write(const std::function<void(WriteBatch&)>& fn);

  // Reads one record. kNotFound when no operation ever touched it.
  Result<Record> Get(std::string_view collection, const RecordId& id) const;
  // Records matching `q`, in index order (or id order for a plain scan).
  Result<std::vector<Record>> Find(const Query& q) const;
  // Calls fn for each record of `collection` in id order until it returns false.
  Status Scan(std::string_view collection, const std::function<bool(const Record&)>& fn) const;

  // Verifies and applies one delta from another replica. Errors:
  // kCorruption (malformed bytes), kUnauthenticated (bad signature, broken
  // chain, decryption failure), kInvalidArgument (operations outside the
  // schema), kResourceExhausted. On error nothing changes.
  Result<ApplyResult> Apply(std::span<const uint8_t> delta);

  // Applies several deltas in order, as Apply on each would, but in one
  // write transaction (one fsync under Durability::kSync): use it to apply
  // what DeltasSince returned. The deltas before the first one that fails
  // are applied (committed, as if by Apply), that one and every later one
  // are not; the result says which and why. Call Apply on the remaining
  // deltas to go on past it. A failing delta never leaves part of itself
  // behind.
  BatchApplyResult ApplyBatch(std::span<const Bytes> deltas);

  // Version vector of the feeds held (contiguous prefixes only), legacy
  // lanes only: the lanes of version 5/6 deltas are left out (GetLaneHeads).
  Result<Heads> GetHeads() const;
  // The head of every lane held (legacy lanes included, scope ""), in
  // key order: author, then lane id.
  Result<std::vector<LaneHead>> GetLaneHeads() const;
  // Deltas held that `since` lacks, per author in seq order; at most
  // `max_bytes` in total (at least one delta if any is missing).
  Result<std::vector<Bytes>> DeltasSince(const Heads& since, uint64_t max_bytes = UINT64_MAX) const;
  // One delta by position. kNotFound if not held.
  Result<Bytes> GetDelta(const AuthorId& author, uint64_t seq) const;

  // Withheld deltas (docs/storage-format.md, "Withheld deltas"): the feed
  // positions held as a stub only (chained, never applied), in feed-key
  // order, with their scope. At most `limit` entries.
  struct WithheldDelta {
    AuthorId author;
    uint64_t seq = 0;
    std::string scope;
    uint64_t body_size = 0;
  };
  Result<std::vector<WithheldDelta>> Withheld(uint64_t limit = UINT64_MAX) const;

  // Memory. LMDB reads through a shared, read-only map of data.mdb, so every
  // page this process has read stays in its resident set (RSS, as file
  // pages) until the kernel needs the memory: a node that syncs a large
  // replica shows an RSS of the replica's size though its heap is small.
  // TrimMappedMemory drops this process's mappings of the replica's map when
  // the process's resident file pages (/proc/self/statm: its LMDB maps and
  // shared libraries) exceed `keep_bytes`; the data stays in the file and
  // the page cache, and the next read maps a page again (a minor fault).
  // Returns the resident file bytes found (nothing is dropped when that is
  // at most keep_bytes). The replica calls it itself when a transaction ends
  // (ReplicaOptions::max_resident_map_bytes); an application may too, from
  // any thread that is not inside a transaction of this replica.
  Result<uint64_t> TrimMappedMemory(uint64_t keep_bytes) const;

  // Hash of the materialised records; equal on replicas that applied the
  // same deltas, whatever the order.
  Result<Hash32> Digest() const;

  // Scope keys (XChaCha20-Poly1305, 32 bytes) for (scope, epoch). A local
  // write needs its scope's key: none is ever generated implicitly. Under a
  // county root keys come from the root's envelopes; without one, create a
  // scope's key on ONE replica (CreateScopeKey) and copy it to the others
  // (ExportKeyring / ImportKeyring). AddScopeKey: kAlreadyExists when a
  // different key of (scope, epoch) is held.
  Status AddScopeKey(std::string_view scope, uint32_t epoch, std::span<const uint8_t> key);
  // Without a root: a new random key for `scope` at epoch 1. Errors:
  // kFailedPrecondition (under a root: the root's policy creates keys),
  // kAlreadyExists (the scope has a key: RotateScopeKey makes a new epoch),
  // kInvalidArgument (a scope the schema does not declare).
  Result<ScopeEpoch> CreateScopeKey(std::string_view scope);
  // Without a root: a new random key for `scope` at its newest epoch + 1;
  // later writes use it, older epochs stay held for reading. The way out
  // when two replicas created different keys for one (scope, epoch)
  // (docs/policy.md). Errors: kFailedPrecondition (under a root, or no key
  // for the scope yet: CreateScopeKey), kInvalidArgument.
  Result<ScopeEpoch> RotateScopeKey(std::string_view scope);
  // The keyring as bytes (for copying to another replica that may read the
  // same scopes); `scopes` empty = every scope. Secret material: keep it safe.
  Result<Bytes> ExportKeyring(const std::vector<std::string>& scopes = {}) const;
  // Imports every key of `keyring` that is not held yet (applying the
  // deltas it unlocks) in one transaction. A key that differs from the one
  // held for its (scope, epoch) is not imported and does not stop the
  // others: it is listed in `conflicts` (when not null). Errors:
  // kCorruption / kInvalidArgument (malformed keyring: nothing imported).
  Status ImportKeyring(std::span<const uint8_t> keyring, std::vector<ScopeEpoch>* conflicts = nullptr);
  // The (scope, epoch) pairs whose keys this replica holds, sorted; no key
  // material.
  Result<std::vector<ScopeEpoch>> ListKeys() const;

  // --- access control (docs/policy.md) ---
  // The county root this replica obeys, if any.
  std::optional<AuthorId> root() const;
  // The policy in force: the newest one published by the root that this
  // replica holds. nullopt before the first arrives (or without a root).
  // Errors: kIOError, kCorruption (the stored policy cannot be read).
  Result<std::optional<Policy>> CurrentPolicy() const;
  // Root only: publishes `policy` as a signed delta, creates the scope keys
  // of every epoch it names that do not exist yet, and seals each to every
  // member that may read the scope (key envelopes). Errors:
  // kPermissionDenied (not the root), kInvalidArgument (version not newer
  // than the current policy's).
  Result<CommitInfo> PublishPolicy(const Policy& policy);
  // Root only: publishes `schema` as the county's schema (a signed delta in
  // the reserved scope `$schema`, docs/schema.md "Publishing under a county
  // root"); every replica under the root adopts it when the delta arrives
  // and re-derives its state. Errors: kPermissionDenied (not the root),
  // kInvalidArgument (version not newer than the schema in force, or a
  // change CheckSchemaChange refuses, named).
  Result<CommitInfo> PublishSchema(const Schema& schema);

  // --- change feed, conflicts, history (hearth/changes.hpp) ---
  // Changes numbered above `since`, oldest first, at most `limit`.
  Result<std::vector<Change>> Changes(uint64_t since, size_t limit = SIZE_MAX) const;
  // The newest change number (0 before the first change).
  Result<uint64_t> LastChangeNumber() const;
  // A subscription that wakes on changes made by this or another process.
  // Errors: kIOError (no inotify instance available).
  Result<ChangeWatcher> Watch() const;
  // Every mv field holding more than one concurrent value, in `collection`
  // (empty: every collection), by collection, id and field.
  Result<std::vector<Conflict>> Conflicts(std::string_view collection = {}) const;
  // Every operation this replica applied to the record, oldest first (by
  // HLC, then author): only operations of deltas it could read and the
  // policy let it apply. An empty list when none (also for a record never
  // seen).
  Result<std::vector<HistoryEntry>> History(std::string_view collection, const RecordId& id) const;

  // Read by the library's own modules (inspection, sync's identity
  // proofs) through ReplicaAccess (src/store/replica_impl.hpp).
 private:
  friend struct ReplicaAccess;
  struct Impl;
  explicit Replica(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth
