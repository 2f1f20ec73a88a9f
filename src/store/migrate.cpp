// Storage format 1 -> 2 (docs/storage-format.md, "Migration from format 1").
//
// Format 1 keyed feed positions `author || seq` and heads/frozen `author`;
// format 2 keys them by lane: `author || lane_id || seq` and
// `author || lane_id`. A format-1 replica holds deltas of versions 1 to 4
// only (every build that wrote format 1 refused versions 5 and 6), all in
// their author's legacy lane (lane_id = 8 zero bytes), so the migration
// inserts 8 zero bytes into every key: no delta is parsed, re-signed or
// re-applied, and values are copied as they are.
//
// It runs in Replica::Open's first write transaction, which also writes
// `format` = 2: a crash (or a failed write) leaves format 1 with every key
// as it was, or format 2 with every key re-keyed.
#include <string>
#include <utility>
#include <vector>

#include "store/keys.hpp"
#include "store/replica_impl.hpp"

namespace hearth {
namespace {

using store::AsBytes;
using store::ByteView;
using store::Txn;

constexpr size_t kV1FeedKeySize = 40;  // author(32) || seq(8)
// history: collection (at least 1 byte) || 0x00 || id(16) || author || seq.
constexpr size_t kV1MinHistoryKeySize = 1 + 1 + 16 + kV1FeedKeySize;
// Entries re-keyed per cursor pass: bounds the memory of one pass (one
// author's whole feed could be large).
constexpr size_t kChunk = 1024;

std::string Str(ByteView v) { return std::string(v.begin(), v.end()); }

// `... || author || seq` -> `... || author || legacy lane || seq`.
std::string LegacyLaneKey(std::string_view old) {
  std::string k(old.substr(0, old.size() - 8));
  k.append(reinterpret_cast<const char*>(store::kLegacyLane.data()), store::kLegacyLane.size());
  k.append(old.substr(old.size() - 8));
  return k;
}

// Re-keys every entry of a table whose keys end in `author || seq` (feed
// tables: exactly that; history: after the record's prefix).
//
// In place and in chunks: a re-keyed key sorts strictly before the key it
// replaces (at the 8 bytes after the author it has zeros where the old key
// has seq >= 1; the part before, record prefix and author, is the same and
// no record prefix is a prefix of another), so after a chunk every new key
// is before the last old key handled, and seeking past that key finds old
// keys only.
Status RekeyPositions(Txn& t, MDB_dbi dbi, std::string_view table, bool history) {
  std::string from;  // the last old key re-keyed (deleted); empty at the start
  for (;;) {
    std::vector<std::pair<std::string, std::string>> chunk;
    {
      store::Cursor c(t, dbi);
      for (bool ok = from.empty() ? c.First() : c.Seek(AsBytes(from)); ok && chunk.size() < kChunk; ok = c.Next()) {
        ByteView k = c.key();
        const bool sized = history ? k.size() >= kV1MinHistoryKeySize : k.size() == kV1FeedKeySize;
        if (!sized || store::ReadU64(k.data() + k.size() - 8) == 0) {
          return Status::Corruption(std::string(table) + ": a format-1 key of " + std::to_string(k.size()) +
                                    " bytes" + (sized ? " with seq 0" : ""));
        }
        chunk.emplace_back(Str(k), Str(c.value()));
      }
      HEARTH_RETURN_IF_ERROR(c.status());
    }
    if (chunk.empty()) return Status::Ok();
    for (const auto& [k, v] : chunk) {
      HEARTH_RETURN_IF_ERROR(t.Del(dbi, AsBytes(k)));
      HEARTH_RETURN_IF_ERROR(t.Put(dbi, AsBytes(LegacyLaneKey(k)), AsBytes(v)));
    }
    from = std::move(chunk.back().first);
  }
}

// heads / frozen: `author` -> `author || legacy lane`. One entry per author:
// read whole, then rewritten (a new key sorts after its old one).
Status RekeyAuthors(Txn& t, MDB_dbi dbi, std::string_view table) {
  std::vector<std::pair<std::string, std::string>> all;
  {
    store::Cursor c(t, dbi);
    for (bool ok = c.First(); ok; ok = c.Next()) {
      if (c.key().size() != 32) {
        return Status::Corruption(std::string(table) + ": a format-1 key of " + std::to_string(c.key().size()) +
                                  " bytes (expected 32)");
      }
      all.emplace_back(Str(c.key()), Str(c.value()));
    }
    HEARTH_RETURN_IF_ERROR(c.status());
  }
  for (const auto& [k, v] : all) {
    HEARTH_RETURN_IF_ERROR(t.Del(dbi, AsBytes(k)));
    std::string nk = k;
    nk.append(reinterpret_cast<const char*>(store::kLegacyLane.data()), store::kLegacyLane.size());
    HEARTH_RETURN_IF_ERROR(t.Put(dbi, AsBytes(nk), AsBytes(v)));
  }
  return Status::Ok();
}

}  // namespace

Status Replica::Impl::MigrateToFormat2(Txn& t) const {
  const std::pair<MDB_dbi, std::string_view> positions[] = {
      {feeds, "feeds"}, {pending, "pending"}, {unreadable, "opaque"}, {forks, "forks"}, {denied, "denied"}};
  for (const auto& [dbi, name] : positions) HEARTH_RETURN_IF_ERROR(RekeyPositions(t, dbi, name, false));
  HEARTH_RETURN_IF_ERROR(RekeyPositions(t, history, "history", true));
  HEARTH_RETURN_IF_ERROR(RekeyAuthors(t, heads, "heads"));
  HEARTH_RETURN_IF_ERROR(RekeyAuthors(t, frozen, "frozen"));
  std::string v;
  store::AppendU32(v, 2);
  return t.Put(meta, AsBytes("format"), AsBytes(v));
}

}  // namespace hearth
