// Inspection of a replica, for tools and operators: counts, the deltas
// waiting or refused, fork evidence, decoding a delta, a full verification
// pass and consistent backups. An app that only reads and writes records
// needs hearth/replica.hpp alone.
//
// Every call reads in its own LMDB read transaction (a consistent
// snapshot) and is safe while other threads and processes write. Errors
// are returned, never a partial answer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "hearth/export.hpp"
#include "hearth/replica.hpp"
#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth {

// A delta kept in its author's feed but not applied because the current
// policy refuses it. Re-evaluated whenever the policy changes.
struct DeniedDelta {
  AuthorId author;
  uint64_t seq = 0;
  std::string scope;
  std::string reason;
};

// Deltas stored chained but not applied because no key held opens them,
// grouped by the (scope, epoch) they were written under.
struct UnreadableKey {
  ScopeEpoch key;          // the key that would open them
  uint64_t deltas = 0;
  // A key of this (scope, epoch) is held but does not open them: it was
  // created separately from the writer's (no root; see `hearth keys
  // rotate`). False: no key of (scope, epoch) is held here.
  bool other_key_held = false;
};

struct ForkProof {
  AuthorId author;
  uint64_t seq = 0;
  Bytes first;   // the delta held first
  Bytes second;  // the conflicting delta
};

// A delta held in `pending`: waiting for its predecessor, or held because
// its author forked.
struct PendingDelta {
  AuthorId author;
  uint64_t seq = 0;
  uint64_t size = 0;
  bool held = false;  // true: author frozen by a fork; false: gap (or waiting_schema)
  // Chained and stored, but it names a collection, field or status state
  // the schema in force lacks: applied once a schema that has them is in
  // force. `reason` says which ("waiting for a newer schema: field
  // worker.score2 is not in schema v1").
  bool waiting_schema = false;
  std::string reason;
};

// One operation of a delta, decoded (for logs and inspection).
struct HEARTH_EXPORT OpInfo {
  std::string collection;
  RecordId id;
  std::string field;
  std::string op;  // "set", "mv_set", "add", "remove", "counter", "advance", "append"
  uint64_t hlc = 0;
  Value value;     // the value, element, log entry or state name (null for counter)
  int64_t p = 0;   // counter: author's cumulative increments
  int64_t n = 0;   // counter: author's cumulative decrements
};

// A delta's header, and its operations when this replica holds the key.
struct HEARTH_EXPORT DeltaInfo {
  AuthorId author;
  uint64_t seq = 0;
  Hash32 prev{};
  Hash32 hash{};
  std::string scope;
  uint32_t epoch = 0;
  uint64_t hlc_min = 0;
  uint64_t hlc_max = 0;
  uint32_t op_count = 0;
  uint64_t size = 0;
  bool signature_ok = false;
  bool readable = false;    // key held and payload decrypted
  std::vector<OpInfo> ops;  // when readable
  // A stub (version 3/4 without its body): withheld from this replica,
  // never readable; body_size = the ciphertext bytes it names.
  bool withheld = false;
  uint64_t body_size = 0;
};

// Result of inspect::Verify.
struct VerifyReport {
  uint64_t deltas = 0;       // stored deltas checked
  uint64_t authors = 0;
  uint64_t records = 0;
  uint64_t unreadable = 0;   // chained but no key for its scope (not applied)
  uint64_t denied = 0;       // chained, refused by the policy: evidence, not damage
  uint64_t invalid = 0;      // chained, content can never apply ("invalid content: …"), also evidence
  uint64_t waiting = 0;      // chained, names what the schema in force lacks: waits for a newer schema
  std::vector<std::string> problems;  // empty = all good
  bool ok() const { return problems.empty(); }
};

struct HEARTH_EXPORT ReplicaStats {
  uint64_t records = 0;
  uint64_t deltas = 0;
  uint64_t authors = 0;  // distinct authors with a head
  uint64_t lanes = 0;    // heads: one per lane (an author's legacy lane and its v5/v6 lanes)
  uint64_t pending = 0;
  uint64_t forks = 0;
  uint64_t map_size = 0;
  uint64_t map_used = 0;
  uint32_t format_version = 0;
  // Not the live copy of its identity (Replica::is_copy); backup_ms: when
  // inspect::Backup made it (Unix ms; 0 for a copied directory or a live
  // replica).
  bool is_copy = false;
  uint64_t backup_ms = 0;
};

namespace inspect {

// Entry counts and map use. kIOError and kCorruption from the store.
HEARTH_EXPORT Result<ReplicaStats> Stats(const Replica& replica);

// Deltas held in `pending` (gap or frozen author), then the deltas waiting
// for a newer schema (waiting_schema), each by (author, seq).
HEARTH_EXPORT Result<std::vector<PendingDelta>> Pending(const Replica& replica);

// Fork evidence: both deltas of every (author, seq) seen with two contents.
HEARTH_EXPORT Result<std::vector<ForkProof>> Forks(const Replica& replica);

// Deltas refused by the policy or holding invalid content, with reasons.
HEARTH_EXPORT Result<std::vector<DeniedDelta>> Denied(const Replica& replica);

// Unreadable deltas by (scope, epoch), sorted. `scope` non-empty: only that
// scope. Reads the header of each unreadable delta (table "opaque").
HEARTH_EXPORT Result<std::vector<UnreadableKey>> Unreadable(const Replica& replica, std::string_view scope = {});

// Decodes a delta (held or not): header, signature check, and the ops when
// the key for its scope is held. kCorruption for malformed bytes.
HEARTH_EXPORT Result<DeltaInfo> Describe(const Replica& replica, std::span<const uint8_t> delta);

// Full check: the file's B-trees, every stored delta parses, its signature
// verifies, each feed chains without gaps, heads match, and re-deriving the
// state from the feeds gives the stored state. `progress(done, total)` is
// called now and then. Problems are listed in the report (a Status error
// is for I/O).
HEARTH_EXPORT Result<VerifyReport> Verify(const Replica& replica,
                                          const std::function<void(uint64_t, uint64_t)>& progress = {});

// Rebuilds the state from the feeds alone into memory and compares it with
// the stored state; kCorruption describing the first difference.
HEARTH_EXPORT Status CheckConsistency(const Replica& replica);

// A consistent copy of the replica into `dest_dir` (created; must not hold
// a replica), safe while other processes write. `compact` rewrites the copy
// without free pages. The identity file is copied too. The copy is marked
// as a backup (meta "copy_of"): it opens and reads, but refuses local
// writes until Replica::Restore (docs/durability.md, "Restoring a backup").
HEARTH_EXPORT Status Backup(const Replica& replica, const std::string& dest_dir, bool compact = true);

}  // namespace inspect
}  // namespace hearth
