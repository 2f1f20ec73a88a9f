#include "crdt/hlc.hpp"

#include <algorithm>

namespace hearth::crdt {

Hlc HlcTick(Hlc last, uint64_t now_ms) {
  // Keep the physical part within 48 bits; a clock that far off is a bug.
  const Hlc wall = MakeHlc(now_ms & ((uint64_t{1} << 48) - 1), 0);
  return std::max(last + 1, wall);
}

Hlc HlcObserve(Hlc last, Hlc remote) { return std::max(last, remote); }

}  // namespace hearth::crdt
