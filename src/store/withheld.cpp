// Withheld deltas: stubs chained in the feeds (docs/storage-format.md,
// "Withheld deltas"). A stub is always listed in the table "opaque"
// (unreadable) too: it is chained and not applied, whatever keys are held.
#include "feed/delta.hpp"
#include "store/keys.hpp"
#include "store/replica_impl.hpp"

namespace hearth {

using store::AsBytes;
using store::Txn;

Result<std::vector<Replica::WithheldDelta>> Replica::Withheld(uint64_t limit) const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<std::vector<WithheldDelta>> {
    std::vector<WithheldDelta> out;
    store::Cursor c(t, m.unreadable);
    for (bool ok = c.First(); ok && out.size() < limit; ok = c.Next()) {
      auto got = t.Get(m.feeds, c.key());
      if (!got.ok()) return got.status();
      if (!got->has_value()) continue;
      auto d = feed::ParseDelta(**got, UINT64_MAX);
      if (!d.ok()) return d.status().WithContext("stored delta");
      if (!d->stub) continue;
      out.push_back(WithheldDelta{d->header.author, d->header.seq, d->header.scope, d->body_size});
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    return out;
  });
}

}  // namespace hearth
