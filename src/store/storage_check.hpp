// Checks of a replica's files that do not trust them: run before LMDB maps
// data.mdb or walks its pages, so that a damaged file is reported as
// kCorruption instead of crashing the process (LMDB reads pages through the
// map: a truncated file raises SIGBUS, a zeroed or garbled page can fail an
// assertion inside liblmdb, which aborts). docs/storage-format.md, "Damaged
// storage", has the rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hearth/status.hpp"
#include "hearth/value.hpp"
#include "store/lmdb.hpp"

namespace hearth::store {

// The replica's named tables (docs/storage-format.md), in the order
// Replica::Open creates them.
inline const std::vector<std::string> kTableNames = {"meta",  "feeds",  "heads", "state",  "index", "pending",
                                                     "forks", "frozen", "keys",  "opaque", "denied",
                                                     "changes", "history"};

// Tables added after format 1 was first released: a replica not yet opened
// by a build that knows them lacks them (Open creates them).
inline const std::vector<std::string> kLaterTableNames = {"changes", "history"};

// What the two LMDB meta pages of data.mdb say (the newest valid one).
struct DataFileInfo {
  uint64_t file_size = 0;
  uint32_t page_size = 0;
  uint64_t last_page = 0;  // highest page number in use
  uint64_t txnid = 0;
};

// Reads the meta pages of `path` with pread (never through a map): both must
// be LMDB meta pages of a supported version, and the file must hold every
// page up to the newest one's last page. Cheap (two page reads).
// Errors: kCorruption naming what is wrong; kIOError; kNotFound.
Result<DataFileInfo> CheckDataFile(const std::string& path);

// Walks every B-tree of data.mdb as of the meta page of transaction `txnid`
// (the caller holds an LMDB read transaction with that id, so no writer
// reuses those pages meanwhile), reading pages with pread: the free list,
// the main table and each named table. Every page must be in the file,
// reached once, carry its own number and a branch/leaf/overflow layout whose
// offsets stay inside it; keys must be in order and inside their parent's
// range; leaves at the recorded depth; page and entry counts equal to the
// table's record. `tables`: the names the main table must hold (all of them,
// and no other). Errors: kCorruption "data.mdb: table T: page P: …";
// kUnavailable when the meta page of `txnid` has been overwritten by newer
// commits (retry with a new read transaction).
Status CheckDataTrees(const std::string& path, uint64_t txnid, const std::vector<std::string>& tables);

// CheckDataTrees on an open environment, inside a read transaction of its
// own (retried when commits of another process overwrite its meta page).
Status CheckEnvTrees(const Env& env, const std::string& dir, const std::vector<std::string>& tables);

// The replica marker ("replica.mark", docs/storage-format.md): written when
// a replica's data.mdb is first initialised, so that a data.mdb later found
// missing, emptied or replaced by a fresh one is refused instead of silently
// restarting the author's feed at seq 1.
inline constexpr const char* kMarkerFile = "replica.mark";
// nullopt when there is no marker; kCorruption when it is unreadable.
Result<std::optional<AuthorId>> ReadMarker(const std::string& dir);
Status WriteMarker(const std::string& dir, const AuthorId& author);
// Replaces the marker (Restore: the replica continues under a new author):
// a temporary file, fsynced, rename()d over the old one, directory fsynced.
Status ReplaceMarker(const std::string& dir, const AuthorId& author);

// The identity of a replica's data.mdb file (docs/storage-format.md, meta
// "live_file"): kind u8 | a u64 | b u64 | c u32, big-endian. Kind 1: inode
// number, birth time seconds, birth time nanoseconds (statx STX_INO |
// STX_BTIME); kind 2 when the file system gives no birth time: device,
// inode number, 0. A copied directory (cp -r, tar, rsync, a backup) has a
// new data.mdb file, hence another identity.
inline constexpr size_t kFileIdentitySize = 21;
Result<std::string> DataFileIdentity(const std::string& path);

// The journal of an interrupted Replica::Restore ("restore.journal"):
// "HRTHRJ" | version 0x01 | 0x00 | new author[32] | old author[32].
inline constexpr const char* kRestoreJournalFile = "restore.journal";
struct RestoreJournal {
  AuthorId new_author;
  AuthorId old_author;
};
// nullopt when there is none; kCorruption when it is unreadable.
Result<std::optional<RestoreJournal>> ReadRestoreJournal(const std::string& dir);
Status WriteRestoreJournal(const std::string& dir, const RestoreJournal& j);
Status RemoveRestoreJournal(const std::string& dir);

}  // namespace hearth::store
