// Replica: the full verification pass (`hearth verify`): re-derives every
// table that can be derived from the feeds and compares it with what is
// stored. Kept apart from apply.cpp, which owns the write paths.
#include <algorithm>

#include "store/keys.hpp"
#include "store/replica_impl.hpp"

namespace hearth {
namespace {

using store::ByteView;
using store::Txn;

std::string Where(const feed::DeltaHeader& h) {
  return "delta " + h.author.ToHex().substr(0, 16) + "#" + std::to_string(h.seq);
}

}  // namespace

Status Replica::CheckConsistency() const {
  const Impl& m = *impl_;
  auto r = m.WithRead([&](const Txn& t) -> Result<bool> {
    // Chains first: every feed contiguous from seq 1 and hash-linked.
    {
      store::Cursor c(t, m.feeds);
      AuthorId prev_author;
      FeedHead chain;
      for (bool ok = c.First(); ok; ok = c.Next()) {
        auto d = feed::ParseDelta(c.value(), UINT64_MAX);
        if (!d.ok()) return d.status().WithContext("stored delta");
        const feed::DeltaHeader& h = d->header;
        if (h.author != prev_author) {
          prev_author = h.author;
          chain = FeedHead{};
        }
        if (h.seq != chain.seq + 1 || h.prev != chain.hash) {
          return Status::Corruption(Where(h) + ": feed chain broken in storage");
        }
        chain = FeedHead{h.seq, d->hash};
      }
      HEARTH_RETURN_IF_ERROR(c.status());
    }
    // Then the derivation rule, from the feeds alone, against what is stored.
    Impl::Derived derived;
    HEARTH_RETURN_IF_ERROR(m.Derive(t, &derived));
    store::Cursor s(t, m.state);
    size_t seen = 0;
    for (bool ok = s.First(); ok; ok = s.Next()) {
      std::string key(s.key().begin(), s.key().end());
      auto it = derived.records.find(key);
      if (it == derived.records.end()) return Status::Corruption("stored record not derivable from feeds");
      Bytes enc = codec::EncodeRecordState(it->second);
      if (!std::equal(enc.begin(), enc.end(), s.value().begin(), s.value().end())) {
        return Status::Corruption("stored record " + it->second.collection + "/" + it->second.id.ToHex() +
                                  " differs from the state re-derived from the feeds");
      }
      ++seen;
    }
    HEARTH_RETURN_IF_ERROR(s.status());
    if (seen != derived.records.size()) return Status::Corruption("feeds derive records that are not stored");
    MDB_stat st;
    mdb_stat(t.get(), m.denied, &st);
    if (st.ms_entries != derived.denied.size()) {
      return Status::Corruption("stored list of denied deltas differs from the policy's verdicts");
    }
    mdb_stat(t.get(), m.opaque, &st);
    if (st.ms_entries != derived.opaque.size()) {
      return Status::Corruption("stored list of unreadable deltas differs from the keys held");
    }
    return true;
  });
  return r.status();
}

}  // namespace hearth
