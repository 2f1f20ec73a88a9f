#include "feed/chain.hpp"

namespace hearth::feed {

ChainDecision ClassifyDelta(const DeltaHeader& header, const crypto::Hash& hash, const FeedPosition& at) {
  ChainDecision out;
  const uint64_t seq = header.seq;

  // Already in the feed at this position: duplicate or fork, frozen or not.
  if (seq <= at.head_seq) {
    if (!at.held) {
      out.verdict = ChainVerdict::kHole;
    } else if (*at.held == hash) {
      out.verdict = ChainVerdict::kDuplicate;
    } else {
      out.verdict = ChainVerdict::kFork;
      out.fork_in_feed = true;
    }
    return out;
  }

  // A delta already waiting at this position: another one is a fork; the
  // same one past the next seq changes nothing. The same one at the next
  // seq goes on (it may chain now).
  if (at.waiting) {
    if (*at.waiting != hash) {
      out.verdict = ChainVerdict::kFork;
      return out;
    }
    if (seq > at.head_seq + 1) {
      out.verdict = ChainVerdict::kDuplicate;
      return out;
    }
    out.waiting_copy = true;
  }

  // A frozen author's deltas from the fork point on are kept, not applied.
  if (at.frozen_from && seq >= *at.frozen_from) {
    out.verdict = ChainVerdict::kHeld;
    return out;
  }
  if (seq > at.head_seq + 1) {
    out.verdict = ChainVerdict::kPending;
    return out;
  }
  // seq = head + 1 (seq 1 of a new author must name the all-zero hash).
  out.verdict = header.prev == at.head_hash ? ChainVerdict::kChains : ChainVerdict::kBrokenChain;
  return out;
}

}  // namespace hearth::feed
