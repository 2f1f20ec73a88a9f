// What an application needs to follow a replica without rescanning it: the
// change feed (Replica::Changes, Replica::Watch), the conflicts a person
// should resolve (Replica::Conflicts) and the operations that made a record
// what it is (Replica::History). Included by hearth/replica.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hearth/export.hpp"
#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth {

class Replica;

// One change to a materialised record, numbered by this replica.
//
// Every write transaction that changes a record's merged state (a local
// Commit, an applied remote delta, deltas applied later when their key,
// schema or policy arrives, a re-derivation) appends one Change per record
// it changed, in the same LMDB transaction: a change is listed if and only
// if the state it describes is committed. Numbers are local to the replica
// (two replicas number the same change differently), start at 1, increase
// by one per change and never repeat, also across restarts and across the
// processes sharing the directory. Every change is kept (docs/storage-format.md,
// "changes").
struct HEARTH_EXPORT Change {
  uint64_t number = 0;
  std::string collection;
  RecordId id;
  // The fields whose merged state changed, sorted (the record tombstone is
  // the field "$deleted").
  std::vector<std::string> fields;
  // The author of the operation that changed the record (when one
  // transaction applied operations of several authors to the record: the
  // one with the highest HLC). A re-derivation: the county root (or this
  // replica's own author without a root).
  AuthorId author;
  // Applied from another replica's delta (false: committed here).
  bool remote = false;
  // Caused by a re-derivation (a new policy or schema decided anew which
  // deltas apply); `hlc` is then 0.
  bool rederived = false;
  // The highest HLC among the operations applied to the record.
  uint64_t hlc = 0;
};

// A waitable subscription to a replica's change feed. It wakes on changes
// committed by any process that has the replica's directory open (each
// committing transaction that changed records rewrites the file
// `changes.notify` in the directory; a watcher follows it with inotify).
// Must not outlive the Replica that made it. Movable; one thread at a time.
class HEARTH_EXPORT ChangeWatcher {
 public:
  ChangeWatcher();
  ~ChangeWatcher();
  ChangeWatcher(ChangeWatcher&&) noexcept;
  ChangeWatcher& operator=(ChangeWatcher&&) noexcept;

  // Waits until the replica's last change number exceeds `after` or
  // `timeout` passes: true when it does (then read Replica::Changes(after)),
  // false on timeout. Returns at once when a change is already there.
  Result<bool> Wait(uint64_t after, std::chrono::milliseconds timeout);

 private:
  friend class Replica;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One of the concurrent values of an mv field.
struct HEARTH_EXPORT ConflictValue {
  Value value;
  AuthorId author;
  uint64_t hlc = 0;
};

// An mv field holding more than one concurrent value.
struct HEARTH_EXPORT Conflict {
  std::string collection;
  RecordId id;
  std::string field;
  std::vector<ConflictValue> values;  // in (hlc, author) order
};

// One operation that touched a record.
struct HEARTH_EXPORT HistoryEntry {
  uint64_t hlc = 0;
  AuthorId author;
  std::string author_name;  // the member's name in the policy in force; empty when none
  uint64_t seq = 0;         // the delta of the author's feed that carries it
  std::string field;        // "$deleted" for a record delete or undelete
  // set (lww), mv_set, add, remove, counter, status, append
  std::string operation;
  Value value;              // counter: null (see p, n)
  int64_t p = 0, n = 0;     // counter: the author's cumulative increments, decrements
};

}  // namespace hearth
