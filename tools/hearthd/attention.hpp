// What needs a person on a replica: the counts `hearth status` and hearthd's
// /status and web page show (docs/hearthd.md, "Status"). Header-only so the
// daemon and the CLI (which falls back to the replica when hearthd is not
// running) count the same way from the public API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "hearth/inspect.hpp"
#include "hearth/replica.hpp"
#include "hearth/status.hpp"

namespace hearth_status {

struct AttentionCounts {
  uint64_t conflicts = 0;       // mv fields holding more than one value
  uint64_t denied = 0;          // deltas the policy refused (or invalid content)
  uint64_t forked_authors = 0;  // authors with fork evidence (their feed is frozen)
  uint64_t pending = 0;         // waiting for a predecessor, or held behind a fork
  uint64_t waiting_schema = 0;  // waiting for a newer schema
  uint64_t unreadable = 0;      // stored without their scope's key
};

inline hearth::Result<AttentionCounts> CountAttention(const hearth::Replica& r) {
  AttentionCounts c;
  auto conflicts = r.Conflicts();
  if (!conflicts.ok()) return conflicts.status();
  c.conflicts = conflicts->size();
  auto denied = hearth::inspect::Denied(r);
  if (!denied.ok()) return denied.status();
  c.denied = denied->size();
  auto forks = hearth::inspect::Forks(r);
  if (!forks.ok()) return forks.status();
  std::set<hearth::AuthorId> forked;
  for (const auto& f : *forks) forked.insert(f.author);
  c.forked_authors = forked.size();
  auto pending = hearth::inspect::Pending(r);
  if (!pending.ok()) return pending.status();
  for (const auto& p : *pending) (p.waiting_schema ? c.waiting_schema : c.pending)++;
  auto unread = hearth::inspect::Unreadable(r);
  if (!unread.ok()) return unread.status();
  for (const auto& u : *unread) c.unreadable += u.deltas;
  return c;
}

// At most `limit` conflicts, each value with its author and HLC
// (Replica::Conflicts: the mv state keeps who wrote each value, so nothing
// is decoded).
inline hearth::Result<std::vector<hearth::Conflict>> ListConflicts(const hearth::Replica& r, size_t limit) {
  auto all = r.Conflicts();
  if (!all.ok()) return all.status();
  if (all->size() > limit) all->resize(limit);
  return all;
}

}  // namespace hearth_status
