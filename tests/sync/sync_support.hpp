// Helpers for the sync tests: replicas sharing a keyring, and a lossless
// in-order pipe between two sessions driven by a virtual clock.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hearth/sync.hpp"
#include "store/store_support.hpp"

namespace hearth::testing {

// Creates the scope keys of the test schema in `r` (a write in each scope).
inline void SeedKeys(Replica& r) {
  auto c = r.Write([](WriteBatch& w) {
    w.Set("item", RecordId::Generate(), "title", "seed");
    w.Set("other", RecordId::Generate(), "name", "seed");
  });
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
}

// Two sessions joined by an in-order, lossless pipe.
struct Pipe {
  std::unique_ptr<SyncSession> a, b;  // a initiates
  uint64_t now = 1'000;
  std::vector<Bytes> a_to_b, b_to_a;
  Status a_status, b_status;

  Pipe(Replica& ra, Replica& rb, SyncOptions oa = {}, SyncOptions ob = {})
      : a(std::make_unique<SyncSession>(ra, true, oa)),
        b(std::make_unique<SyncSession>(rb, false, ob)) {
    REQUIRE(a->Start(now).ok());
    REQUIRE(b->Start(now).ok());
  }

  // Moves messages both ways until none are left (or `max_rounds`);
  // `on_message` may inspect/alter each one (return false to drop it).
  void Run(int max_rounds = 100000,
           const std::function<bool(bool a_to_b, Bytes&)>& filter = {}) {
    for (int i = 0; i < max_rounds; ++i) {
      now += 1;
      if (!a->done()) a_status = a->OnTick(now);
      if (!b->done()) b_status = b->OnTick(now);
      for (Bytes& m : a->TakeOutgoing()) a_to_b.push_back(std::move(m));
      for (Bytes& m : b->TakeOutgoing()) b_to_a.push_back(std::move(m));
      if (a_to_b.empty() && b_to_a.empty()) return;
      auto ab = std::exchange(a_to_b, {});
      auto ba = std::exchange(b_to_a, {});
      for (Bytes& m : ab) {
        if (filter && !filter(true, m)) continue;
        if (!b->done()) b_status = b->OnMessage(m, now);
      }
      for (Bytes& m : ba) {
        if (filter && !filter(false, m)) continue;
        if (!a->done()) a_status = a->OnMessage(m, now);
      }
    }
  }

  bool caught_up() const { return a->stats().caught_up && b->stats().caught_up; }
};

inline Hash32 DigestOf(const Replica& r) {
  auto d = r.Digest();
  REQUIRE(d.ok());
  return *d;
}

}  // namespace hearth::testing
