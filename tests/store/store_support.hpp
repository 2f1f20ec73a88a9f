// Helpers for replica tests: the shared test schema, opening replicas with a
// fake clock, and moving deltas between replicas.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>

#include "hearth/replica.hpp"
#include "support/support.hpp"
#include "support/test_keys.hpp"

namespace hearth::testing {

inline Schema TestSchema() {
  auto s = Schema::LoadFile(std::string(HEARTH_TEST_DATA_DIR) + "/data/test_schema.toml");
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return s.value();
}

// Options of a test replica under an optional county root (the test
// schema, no fsync, an unencrypted identity).
inline ReplicaOptions TestOptions(std::optional<AuthorId> root = std::nullopt, bool is_root = false) {
  ReplicaOptions o;
  o.schema = TestSchema();
  o.durability = Durability::kNoSync;
  o.unencrypted_identity = true;
  o.root = root;
  o.is_root = is_root;
  return o;
}

// Opens a test replica. Without a root it gets the shared test keyring
// (support/test_keys.hpp) unless `keys` is false (a replica that must
// start without keys).
inline std::unique_ptr<Replica> OpenReplica(const std::string& dir, FakeClock* clock = nullptr,
                                            ReplicaOptions opts = {}, bool keys = true) {
  if (!opts.schema) opts.schema = TestSchema();
  opts.durability = Durability::kNoSync;
  opts.unencrypted_identity = true;
  if (clock != nullptr) opts.clock_ms = [clock] { return clock->Now(); };
  auto r = Replica::Open(dir, opts);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  if (keys) {
    Status k = GiveTestKeys(**r);
    REQUIRE_MESSAGE(k.ok(), k.ToString());
  }
  return std::move(r).value();
}

// Copies every delta `to` lacks from `from`; returns how many were applied.
inline size_t Sync(Replica& from, Replica& to) {
  auto deltas = from.DeltasSince(to.GetHeads().value());
  REQUIRE(deltas.ok());
  size_t n = 0;
  for (const Bytes& d : *deltas) {
    auto r = to.Apply(d);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    ++n;
  }
  return n;
}

inline void ShareKeys(Replica& from, Replica& to) {
  auto kr = from.ExportKeyring();
  REQUIRE(kr.ok());
  REQUIRE(to.ImportKeyring(*kr).ok());
}

}  // namespace hearth::testing
