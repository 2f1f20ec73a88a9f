// Hybrid logical clock: 64-bit timestamps, physical milliseconds in the high
// 48 bits and a logical counter in the low 16. Ties between equal HLCs are
// broken by author id (see Dot). Pure functions: the caller persists the last
// value (the replica keeps it in LMDB, advanced inside the write txn).
#pragma once

#include <cstdint>

namespace hearth::crdt {

using Hlc = uint64_t;

constexpr int kHlcLogicalBits = 16;

constexpr Hlc MakeHlc(uint64_t physical_ms, uint16_t logical) {
  return (physical_ms << kHlcLogicalBits) | logical;
}
constexpr uint64_t HlcPhysicalMs(Hlc h) { return h >> kHlcLogicalBits; }
constexpr uint16_t HlcLogical(Hlc h) { return static_cast<uint16_t>(h & 0xffff); }

// The end of time for HLCs: 9999-12-31T23:59:59.999Z. A delta stamped later
// is refused by every replica (whatever its own clock), and a replica never
// issues a later stamp, so the 64-bit clock can never overflow and every
// accepted stamp can be passed by the next local tick (docs/crdt.md, "Clock
// skew").
constexpr uint64_t kHlcMaxPhysicalMs = 253'402'300'799'999ull;
constexpr Hlc kHlcMax = MakeHlc(kHlcMaxPhysicalMs, 0xffff);

// The next local timestamp after `last`, given the wall clock: strictly
// greater than `last`, and at least now_ms with a zero counter. A counter
// overflow carries into the millisecond part, which keeps it monotonic.
Hlc HlcTick(Hlc last, uint64_t now_ms);

// The clock after seeing a remote timestamp: max(last, remote). The next
// HlcTick then exceeds everything seen.
Hlc HlcObserve(Hlc last, Hlc remote);

}  // namespace hearth::crdt
