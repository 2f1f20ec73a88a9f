// Storage fault seam (test-only, always compiled in, inert unless armed).
//
// Every LMDB operation the store performs through store/lmdb.hpp (and the
// table drop of a rebuild) first asks FaultInjector::Check. While disarmed
// that is one relaxed atomic load. Armed, the injector counts operations and
// makes the Nth one fail with a chosen error *instead of* calling LMDB, as if
// LMDB had returned that code (a failed commit also aborts the transaction,
// as mdb_txn_commit does). The failing Status names the operation and says
// the fault was injected.
//
// Armed only by test code, through this internal header (it is not part of
// the installed API, and the library reads no environment variable to arm
// it). Subprocess tests pass a spec in HEARTH_FAULT, which the test program
// (tests/durability/crash_writer.cpp) reads and hands to Arm:
//
//   "op=N,err=EIO|ENOSPC|MAP_FULL[,kind=begin|get|put|del|cursor|commit|drop|grow]"
//
// op=N counts from when it is armed; kind= restricts counting to one kind
// of operation. The injector is process-wide: with several replicas open,
// operations of all of them are counted.
// See docs/reliability.md, "Storage faults".
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "hearth/status.hpp"

namespace hearth::store {

enum class FaultOp : uint8_t {
  kBegin = 0,   // mdb_txn_begin (read or write)
  kGet = 1,     // mdb_get
  kPut = 2,     // mdb_put
  kDel = 3,     // mdb_del
  kCursor = 4,  // mdb_cursor_open / mdb_cursor_get
  kCommit = 5,  // mdb_txn_commit
  kDrop = 6,    // mdb_drop (clearing a table for a rebuild)
  kGrow = 7,    // mdb_env_set_mapsize when the map grows
};
inline constexpr int kFaultOpKinds = 8;
inline constexpr uint32_t kAllFaultOps = (1u << kFaultOpKinds) - 1;

std::string_view FaultOpName(FaultOp op);

class FaultInjector {
 public:
  // Called before each LMDB operation: 0 = go ahead, else the error code to
  // report instead (an errno or an MDB_* code).
  static int Check(FaultOp op) {
    if (!armed_.load(std::memory_order_relaxed)) return 0;
    return CheckSlow(op);
  }

  // Starts counting operations of the kinds in `op_mask` from zero; the
  // `nth` (1-based) fails with `err`, once. nth = 0 only counts.
  static void Arm(uint64_t nth, int err, uint32_t op_mask = kAllFaultOps);
  // Arms from a spec "op=N,err=NAME[,kind=KIND]" (the syntax of the test
  // programs' HEARTH_FAULT variable; the library reads no environment).
  static Status Arm(std::string_view spec);
  // Stops counting and injecting. Count() and Fired() keep their values.
  static void Disarm();
  // Operations counted since the last Arm.
  static uint64_t Count();
  // Whether the armed fault has fired, and a description of it
  // ("put #7: EIO").
  static bool Fired();
  static std::string LastFault();
  // Error code for "EIO", "ENOSPC", "MAP_FULL" (also "MDB_MAP_FULL"); 0 if unknown.
  static int ErrorCode(std::string_view name);

 private:
  static int CheckSlow(FaultOp op);
  static std::atomic<bool> armed_;
};

}  // namespace hearth::store
