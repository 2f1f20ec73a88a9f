// Bundles: a file of signed, encrypted deltas for moving data between
// replicas where no network reaches (a USB stick). Byte layout in
// docs/bundle-format.md:
//
//   "HRTHBNDL" | 0x01 | since heads | covers heads | { len:u32 | delta }* |
//   0xFFFFFFFF | entry_count:u64 | BLAKE2b-256 of every byte before the trailer
//
// A bundle carries the same deltas a network sync would, and ImportBundle
// applies them through the same path (Replica::Apply), so it is exactly as
// trusted as the network: signatures, chains, keys and the schema are checked
// per delta. The trailer hash only detects damage in transit (it is not a
// signature): ImportBundle checks the whole file before applying anything.
//
// Thread safety: free functions; the Replica's own guarantees apply.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/export.hpp"
#include "hearth/replica.hpp"
#include "hearth/status.hpp"

namespace hearth {

inline constexpr char kBundleMagic[8] = {'H', 'R', 'T', 'H', 'B', 'N', 'D', 'L'};
inline constexpr uint8_t kBundleVersion = 0x01;
inline constexpr uint32_t kBundleMaxEntryBytes = uint32_t{16} << 20;
inline constexpr uint32_t kBundleEndMarker = 0xFFFFFFFFu;

// Progress of a long bundle operation. `phase` is "export" (deltas
// written), "check" (bytes read while checking the file) or "apply" (deltas
// applied); total is 0 when unknown.
using BundleProgress = std::function<void(std::string_view phase, uint64_t done, uint64_t total)>;

struct BundleExportReport {
  uint64_t entries = 0;  // deltas written
  uint64_t bytes = 0;    // size of the bundle file
  Heads covers;          // the exporter's heads the bundle brings a receiver up to
};

// Writes every delta `replica` holds that `since` lacks (per author, seq
// since[author].seq + 1 .. heads[author].seq; authors missing from `since`
// from seq 1) to `path`. Written to path + ".tmp", fsynced, then renamed:
// the final name never holds a partial bundle. Errors: kAlreadyExists if
// `path` exists, kIOError.
HEARTH_EXPORT Result<BundleExportReport> ExportBundle(const Replica& replica, const Heads& since,
                                                      const std::string& path,
                                                      const BundleProgress& progress = {});

// The receiver a bundle is made for (docs/bundle-format.md, "Bundles for
// one receiver"). Under a county root, a delta of a scope the receiver may
// not receive (Policy::MayReceive under the exporter's current policy) is
// written as its stub when it is version 3/4 (the feed goes on), and ends
// that author's entries when it is version 1/2 (which cannot be detached).
// The full deltas at the positions in `withheld` (what the receiver holds as
// stubs) are added when the receiver may now receive them: their bodies
// follow. Without a root, or for the root itself, every delta is written
// whole, as ExportBundle does.
struct BundleTarget {
  AuthorId receiver;
  std::vector<std::pair<AuthorId, uint64_t>> withheld;
};

struct BundleTargetReport {
  uint64_t stubs = 0;   // entries written as stubs
  uint64_t bodies = 0;  // full deltas added for the receiver's withheld stubs
  uint64_t stopped_feeds = 0;  // authors whose entries ended at a version 1/2 delta it may not receive
};

// ExportBundle for one receiver (see BundleTarget).
HEARTH_EXPORT Result<BundleExportReport> ExportBundleFor(const Replica& replica, const Heads& since,
                                                         const std::string& path, const BundleTarget& target,
                                                         BundleTargetReport* target_report = nullptr,
                                                         const BundleProgress& progress = {});

// What a bundle says about itself (after its structure and trailer check out).
struct BundleInfo {
  uint8_t version = 0;
  Heads since;
  Heads covers;
  uint64_t entries = 0;
  uint64_t bytes = 0;      // file size
  Hash32 checksum{};       // the trailer hash
};

// Streams the whole file and checks it: magic, version, head lists, every
// entry length (1 .. 16 MiB), the end marker, the entry count and the
// BLAKE2b-256 checksum, and that nothing follows the trailer. Any defect is
// kCorruption naming the byte offset. Never holds more than one entry in
// memory.
HEARTH_EXPORT Result<BundleInfo> CheckBundle(const std::string& path,
                                             const BundleProgress& progress = {});

struct BundleRejection {
  AuthorId author;     // zero when the entry could not be parsed
  uint64_t seq = 0;
  uint64_t index = 0;  // entry number in the bundle, from 0
  std::string reason;  // Status::ToString() of the Apply error
};

struct BundleImportReport {
  BundleInfo info;
  uint64_t applied = 0;
  uint64_t duplicate = 0;
  uint64_t pending = 0;
  uint64_t unreadable = 0; // chained but no key for its scope (applied once the key arrives)
  uint64_t fork = 0;
  uint64_t held = 0;
  uint64_t denied = 0;     // stored, but the access policy refuses it (never applied)
  uint64_t waiting_schema = 0;  // stored, waits for a newer schema (hearth pending)
  uint64_t unblocked = 0;  // earlier pending deltas applied because a gap filled
  uint64_t withheld = 0;   // stubs stored withheld (the body was not exported to this node)
  uint64_t bodies = 0;     // bodies of stubs held here (stored, applied if policy and keys allow)
  std::vector<BundleRejection> rejected;
};

// Checks the whole bundle first (CheckBundle: any defect -> kCorruption and
// nothing applied), then applies its deltas in order through Replica::Apply,
// exactly as if they arrived from the network. A delta the replica rejects is
// listed in `rejected` and the import goes on. Idempotent: deltas already held
// count as duplicates, so an interrupted import resumes when run again.
// Errors: kNotFound / kIOError for the file, kCorruption for a damaged
// bundle, kResourceExhausted / kIOError from the replica (deltas applied
// before the error stay applied; run the import again).
HEARTH_EXPORT Result<BundleImportReport> ImportBundle(Replica& replica, const std::string& path,
                                                      const BundleProgress& progress = {});

// The apply step of ImportBundle, for other transports (hearth merge):
// applies `deltas` in order through Replica::ApplyBatch (one write
// transaction per call), adds each outcome to `report` and lists refused
// deltas in report.rejected (index = first_index + position). Clears
// `deltas`. Errors: the replica's own (kIOError, kResourceExhausted, ...);
// deltas before the failing one stay applied.
HEARTH_EXPORT Status ApplyDeltas(Replica& replica, std::vector<Bytes>& deltas, uint64_t first_index,
                                 BundleImportReport& report);

}  // namespace hearth
