// A text dump of what a replica holds, through the public API only: heads,
// digest, counts, pending, forks, denied, withheld, unreadable keys, the
// hash of every delta it serves, the history of the fixture's records and
// the change numbers. tests/fixtures/make_replica_v1.cpp writes it next to
// the format-1 fixture (tests/data/replica_v1/expected.txt) with the build
// that made the fixture; tests/store/migrate_v2_test.cpp compares a migrated
// copy with it. Keep it unchanged: the two must print the same lines.
#pragma once

#include <sstream>
#include <string>

#include "base/bytes.hpp"
#include "crypto/crypto.hpp"
#include "hearth/changes.hpp"
#include "hearth/inspect.hpp"
#include "hearth/replica.hpp"

namespace hearth::testing {

// Record ids the fixture writes (item and other), 1..6.
inline RecordId FixtureRid(uint8_t i) {
  RecordId id;
  id.bytes[0] = 0x01;
  id.bytes[1] = 0x8b;
  id.bytes[15] = i;
  return id;
}

inline std::string HexOf(std::span<const uint8_t> b) { return base::ToHex(b.data(), b.size()); }

// Everything but the replica's directory; "ERROR ..." lines for failures.
inline std::string DumpReplica(const Replica& r) {
  std::ostringstream o;
  o << "author " << r.author().ToHex() << "\n";
  if (auto heads = r.GetHeads(); heads.ok()) {
    for (const auto& [a, h] : *heads) o << "head " << a.ToHex() << " " << h.seq << " " << HexOf(h.hash) << "\n";
  } else {
    o << "ERROR heads " << heads.status().ToString() << "\n";
  }
  if (auto d = r.Digest(); d.ok()) o << "digest " << HexOf(*d) << "\n";
  else o << "ERROR digest " << d.status().ToString() << "\n";
  if (auto s = inspect::Stats(r); s.ok()) {
    o << "stats records " << s->records << " deltas " << s->deltas << " authors " << s->authors << " pending "
      << s->pending << " forks " << s->forks << "\n";
  } else {
    o << "ERROR stats " << s.status().ToString() << "\n";
  }
  if (auto p = inspect::Pending(r); p.ok()) {
    for (const auto& x : *p) {
      o << "pending " << x.author.ToHex() << " " << x.seq << " size " << x.size << " held " << x.held
        << " waiting " << x.waiting_schema << " " << x.reason << "\n";
    }
  } else {
    o << "ERROR pending " << p.status().ToString() << "\n";
  }
  if (auto f = inspect::Forks(r); f.ok()) {
    for (const auto& x : *f) {
      o << "fork " << x.author.ToHex() << " " << x.seq << " " << HexOf(crypto::HashBytes(x.first)) << " "
        << HexOf(crypto::HashBytes(x.second)) << "\n";
    }
  } else {
    o << "ERROR forks " << f.status().ToString() << "\n";
  }
  if (auto d = inspect::Denied(r); d.ok()) {
    for (const auto& x : *d) o << "denied " << x.author.ToHex() << " " << x.seq << " " << x.scope << " " << x.reason << "\n";
  } else {
    o << "ERROR denied " << d.status().ToString() << "\n";
  }
  if (auto w = r.Withheld(); w.ok()) {
    for (const auto& x : *w) o << "withheld " << x.author.ToHex() << " " << x.seq << " " << x.scope << " " << x.body_size << "\n";
  } else {
    o << "ERROR withheld " << w.status().ToString() << "\n";
  }
  if (auto u = inspect::Unreadable(r); u.ok()) {
    for (const auto& x : *u) {
      o << "unreadable " << x.key.scope << " " << x.key.epoch << " deltas " << x.deltas << " other_key "
        << x.other_key_held << "\n";
    }
  } else {
    o << "ERROR unreadable " << u.status().ToString() << "\n";
  }
  if (auto ds = r.DeltasSince({}); ds.ok()) {
    for (const Bytes& d : *ds) o << "delta " << HexOf(crypto::HashBytes(d)) << "\n";
  } else {
    o << "ERROR deltas " << ds.status().ToString() << "\n";
  }
  for (const char* coll : {"item", "other"}) {
    for (uint8_t i = 1; i <= 6; ++i) {
      auto h = r.History(coll, FixtureRid(i));
      if (!h.ok()) {
        o << "ERROR history " << h.status().ToString() << "\n";
        continue;
      }
      for (const auto& e : *h) {
        o << "history " << coll << "/" << int{i} << " " << e.author.ToHex() << " " << e.seq << " " << e.hlc << " "
          << e.field << " " << e.operation << "\n";
      }
    }
  }
  if (auto n = r.LastChangeNumber(); n.ok()) o << "changes " << *n << "\n";
  else o << "ERROR changes " << n.status().ToString() << "\n";
  return o.str();
}

}  // namespace hearth::testing
