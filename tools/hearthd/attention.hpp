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

// Visits every conflicting mv field (records in schema order) until `fn`
// returns false.
template <typename Fn>
hearth::Status ForEachConflict(const hearth::Replica& r, Fn fn) {
  bool go = true;
  for (const auto& cs : r.schema().collections()) {
    bool has_mv = false;
    for (const auto& f : cs.fields) has_mv |= f.type == hearth::FieldType::kMv;
    if (!has_mv || !go) continue;
    hearth::Status s = r.Scan(cs.name, [&](const hearth::Record& rec) {
      for (const auto& [name, f] : rec.fields) {
        if (f.conflict() && !(go = fn(rec, name, f))) return false;
      }
      return true;
    });
    if (!s.ok()) return s;
  }
  return hearth::Status::Ok();
}

inline hearth::Result<AttentionCounts> CountAttention(const hearth::Replica& r) {
  AttentionCounts c;
  auto st = ForEachConflict(r, [&](const hearth::Record&, const std::string&, const hearth::FieldValue&) {
    ++c.conflicts;
    return true;
  });
  if (!st.ok()) return st;
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

// One value of a conflict with who wrote it and when (the mv_set op that
// wrote it; author zero and hlc 0 when the scan bound was reached first).
struct ConflictValue {
  hearth::Value value;
  hearth::AuthorId author;
  uint64_t hlc = 0;
};
struct Conflict {
  std::string collection;
  hearth::RecordId id;
  std::string field;
  std::vector<ConflictValue> values;
};

// At most `limit` conflicts, each value with its author and HLC, found by
// decoding the stored deltas (at most `max_deltas` of them: the page of a
// large replica stays bounded; values not found keep a zero author).
inline hearth::Result<std::vector<Conflict>> ListConflicts(const hearth::Replica& r, size_t limit,
                                                           uint64_t max_deltas = 200'000) {
  std::vector<Conflict> out;
  auto st = ForEachConflict(r, [&](const hearth::Record& rec, const std::string& name, const hearth::FieldValue& f) {
    Conflict c{rec.collection, rec.id, name, {}};
    for (const auto& v : f.values) c.values.push_back({v, hearth::AuthorId{}, 0});
    out.push_back(std::move(c));
    return out.size() < limit;
  });
  if (!st.ok()) return st;
  if (out.empty()) return out;
  hearth::Heads since;
  uint64_t seen = 0;
  for (int page = 0; page < 100'000 && seen < max_deltas; ++page) {
    auto got = r.DeltasSince(since, uint64_t{4} << 20);
    if (!got.ok()) return got.status();
    if (got->empty()) break;
    const hearth::Heads before = since;
    for (const auto& d : *got) {
      ++seen;
      auto info = hearth::inspect::Describe(r, d);
      if (!info.ok()) continue;  // counted by verify, not here
      auto& h = since[info->author];
      h.seq = std::max(h.seq, info->seq);
      for (const auto& op : info->ops) {
        if (op.op != "mv_set") continue;
        for (auto& c : out) {
          if (c.id != op.id || c.field != op.field || c.collection != op.collection) continue;
          for (auto& v : c.values) {
            if (v.value == op.value && op.hlc >= v.hlc) {
              v.author = info->author;
              v.hlc = op.hlc;
            }
          }
        }
      }
    }
    if (since == before) break;  // nothing decodable advanced: stop rather than loop
  }
  return out;
}

}  // namespace hearth_status
