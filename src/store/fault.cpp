#include "store/fault.hpp"

#include <lmdb.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace hearth::store {
namespace {

std::mutex g_mu;
uint64_t g_nth = 0;
int g_err = 0;
uint32_t g_mask = kAllFaultOps;
uint64_t g_count = 0;
bool g_fired = false;
std::string g_last;

const char* const kNames[kFaultOpKinds] = {"begin", "get", "put", "del", "cursor", "commit", "drop", "grow"};

std::string ErrName(int err) {
  switch (err) {
    case EIO: return "EIO";
    case ENOSPC: return "ENOSPC";
    case MDB_MAP_FULL: return "MAP_FULL";
    default: return std::to_string(err);
  }
}

}  // namespace

std::atomic<bool> FaultInjector::armed_{false};

std::string_view FaultOpName(FaultOp op) {
  const auto i = static_cast<int>(op);
  return i >= 0 && i < kFaultOpKinds ? kNames[i] : "?";
}

int FaultInjector::CheckSlow(FaultOp op) {
  std::lock_guard lk(g_mu);
  if (!armed_.load(std::memory_order_relaxed)) return 0;
  if ((g_mask & (1u << static_cast<int>(op))) == 0) return 0;
  ++g_count;
  if (g_fired || g_nth == 0 || g_count != g_nth) return 0;
  g_fired = true;
  g_last = std::string(FaultOpName(op)) + " #" + std::to_string(g_count) + ": " + ErrName(g_err);
  return g_err;
}

void FaultInjector::Arm(uint64_t nth, int err, uint32_t op_mask) {
  std::lock_guard lk(g_mu);
  g_nth = nth;
  g_err = err;
  g_mask = op_mask;
  g_count = 0;
  g_fired = false;
  g_last.clear();
  armed_.store(true, std::memory_order_relaxed);
}

void FaultInjector::Disarm() {
  std::lock_guard lk(g_mu);
  armed_.store(false, std::memory_order_relaxed);
}

uint64_t FaultInjector::Count() {
  std::lock_guard lk(g_mu);
  return g_count;
}

bool FaultInjector::Fired() {
  std::lock_guard lk(g_mu);
  return g_fired;
}

std::string FaultInjector::LastFault() {
  std::lock_guard lk(g_mu);
  return g_last;
}

int FaultInjector::ErrorCode(std::string_view name) {
  if (name == "EIO") return EIO;
  if (name == "ENOSPC") return ENOSPC;
  if (name == "MAP_FULL" || name == "MDB_MAP_FULL") return MDB_MAP_FULL;
  return 0;
}

Status FaultInjector::Arm(std::string_view spec) {
  uint64_t nth = 0;
  int err = 0;
  uint32_t mask = kAllFaultOps;
  bool have_op = false;
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return Status::InvalidArgument("fault spec: expected key=value, got " + std::string(item));
    std::string_view k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "op") {
      char* end = nullptr;
      std::string s(v);
      nth = std::strtoull(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0') return Status::InvalidArgument("fault spec: bad op count " + s);
      have_op = true;
    } else if (k == "err") {
      err = ErrorCode(v);
      if (err == 0) return Status::InvalidArgument("fault spec: err must be EIO, ENOSPC or MAP_FULL, got " + std::string(v));
    } else if (k == "kind") {
      mask = 0;
      for (int i = 0; i < kFaultOpKinds; ++i) {
        if (v == kNames[i]) mask = 1u << i;
      }
      if (mask == 0) return Status::InvalidArgument("fault spec: unknown kind " + std::string(v));
    } else {
      return Status::InvalidArgument("fault spec: unknown key " + std::string(k));
    }
  }
  if (!have_op || err == 0) return Status::InvalidArgument("fault spec needs op=N and err=NAME");
  Arm(nth, err, mask);
  return Status::Ok();
}

}  // namespace hearth::store
