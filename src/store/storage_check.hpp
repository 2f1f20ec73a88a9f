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
                                                     "forks", "frozen", "keys",  "opaque", "denied"};

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

}  // namespace hearth::store
