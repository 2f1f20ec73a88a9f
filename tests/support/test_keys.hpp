// Scope keys for tests of replicas without a county root. A replica never
// makes a key implicitly (docs/policy.md, "Keys without a root"): every
// replica of a test that writes a scope must hold that scope's key. The
// keys here are one fixed, shared keyring: TestScopeKey(scope, epoch) is the
// same bytes in every process, so replicas opened separately (or in a
// child process) read each other as if the keyring had been copied by hand.
// Header-only and public API only: used by doctest binaries, fuzz drivers
// and helper programs alike.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "hearth/replica.hpp"

namespace hearth::testing {

// 32 fixed bytes for (scope, epoch): splitmix64 over the name. Not secret.
inline std::array<uint8_t, 32> TestScopeKey(std::string_view scope, uint32_t epoch = 1) {
  uint64_t x = 0x6865617274686b79ULL ^ epoch;
  for (unsigned char c : scope) x = (x ^ c) * 0x100000001b3ULL;
  std::array<uint8_t, 32> key{};
  for (size_t i = 0; i < key.size(); i += 8) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (size_t j = 0; j < 8; ++j) key[i + j] = static_cast<uint8_t>(z >> (8 * j));
  }
  return key;
}

// Gives a replica WITHOUT a root the shared test key (epoch 1) of every scope
// of its schema that has no key yet; a replica under a root is left alone
// (its keys come from the root's envelopes). Idempotent.
inline Status GiveTestKeys(Replica& r) {
  if (r.root()) return Status::Ok();
  auto held = r.ListKeys();
  if (!held.ok()) return held.status();
  std::set<std::string> scopes;
  for (const CollectionSpec& c : r.schema().collections()) scopes.insert(c.scope);
  for (const ScopeEpoch& k : *held) scopes.erase(k.scope);
  for (const std::string& s : scopes) {
    auto k = TestScopeKey(s);
    Status st = r.AddScopeKey(s, 1, k);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace hearth::testing
