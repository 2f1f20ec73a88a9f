// Where a verified delta goes in its author's feed (docs/storage-format.md,
// "The apply path", step 2): duplicate, fork, held, gap, or the next link of
// the chain. A pure function of the delta's header and hash and of what the
// replica holds of that author's feed; the store looks those up and acts on
// the verdict.
#pragma once

#include <cstdint>
#include <optional>

#include "crypto/crypto.hpp"
#include "feed/delta.hpp"

namespace hearth::feed {

// What a replica holds of one author's feed, as far as placing a delta at
// `seq` needs. `held` is read only when seq <= head_seq; `waiting` and
// `frozen_from` only when seq > head_seq: a caller may leave the others
// unset.
struct FeedPosition {
  uint64_t head_seq = 0;               // newest contiguous delta held; 0 = none
  crypto::Hash head_hash{};            // its hash; all zero when head_seq is 0
  std::optional<crypto::Hash> held;    // hash of the feed's delta at seq (seq <= head_seq)
  std::optional<crypto::Hash> waiting; // hash of the pending delta at seq (seq > head_seq)
  std::optional<uint64_t> frozen_from; // the author forked at this seq: frozen from it on
};

enum class ChainVerdict : uint8_t {
  kDuplicate,    // the same delta is held, in the feed or pending: nothing to do
  kFork,         // another delta is held at (author, seq): keep both as proof, freeze the author
  kHeld,         // the author is frozen from an earlier or equal seq: keep in pending, never apply
  kPending,      // seq > head + 1: keep in pending until the gap fills
  kChains,       // seq = head + 1 and prev = the head's hash: apply it
  kBrokenChain,  // seq = head + 1 but prev is not the head's hash: refuse (history rewritten)
  kHole,         // seq <= head but the feed holds nothing there: the store is damaged
};

struct ChainDecision {
  ChainVerdict verdict = ChainVerdict::kDuplicate;
  // kFork: the delta held first is in the feed (applied, so the author's
  // state from seq on must be re-derived), not waiting in pending.
  bool fork_in_feed = false;
  // kChains, kHeld, kBrokenChain: the same delta already waits in pending
  // (kChains: remove it there once applied).
  bool waiting_copy = false;
  bool operator==(const ChainDecision&) const = default;
};

ChainDecision ClassifyDelta(const DeltaHeader& header, const crypto::Hash& hash, const FeedPosition& at);

}  // namespace hearth::feed
