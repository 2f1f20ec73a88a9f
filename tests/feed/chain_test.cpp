// feed::ClassifyDelta: where a verified delta goes in its author's feed
// (docs/storage-format.md, "The apply path"), every verdict and its edges.
#include "feed/chain.hpp"

#include <doctest/doctest.h>

namespace hearth::feed {
namespace {

crypto::Hash H(uint8_t b) {
  crypto::Hash h{};
  h.fill(b);
  return h;
}

DeltaHeader At(uint64_t seq, const crypto::Hash& prev) {
  DeltaHeader h;
  h.seq = seq;
  h.prev = prev;
  h.scope = "s";
  return h;
}

FeedPosition Head(uint64_t seq, const crypto::Hash& hash) {
  FeedPosition at;
  at.head_seq = seq;
  at.head_hash = hash;
  return at;
}

ChainVerdict V(const DeltaHeader& h, const crypto::Hash& hash, const FeedPosition& at) {
  return ClassifyDelta(h, hash, at).verdict;
}

TEST_CASE("a new author's seq 1 chains only onto the all-zero hash") {
  FeedPosition none;  // nothing held of this author
  auto d = ClassifyDelta(At(1, crypto::Hash{}), H(1), none);
  CHECK(d.verdict == ChainVerdict::kChains);
  CHECK_FALSE(d.waiting_copy);
  CHECK_FALSE(d.fork_in_feed);
  CHECK(V(At(1, H(9)), H(1), none) == ChainVerdict::kBrokenChain);
}

TEST_CASE("seq = head + 1 chains when prev is the head's hash, else the chain is broken") {
  FeedPosition at = Head(4, H(4));
  CHECK(V(At(5, H(4)), H(5), at) == ChainVerdict::kChains);
  CHECK(V(At(5, H(3)), H(5), at) == ChainVerdict::kBrokenChain);
  CHECK(V(At(5, crypto::Hash{}), H(5), at) == ChainVerdict::kBrokenChain);
}

TEST_CASE("seq past head + 1 is a gap, whatever its prev") {
  FeedPosition none;
  CHECK(V(At(2, H(1)), H(2), none) == ChainVerdict::kPending);
  FeedPosition at = Head(4, H(4));
  CHECK(V(At(6, H(5)), H(6), at) == ChainVerdict::kPending);
  CHECK(V(At(600, H(7)), H(6), at) == ChainVerdict::kPending);
}

TEST_CASE("at or below the head: duplicate when the hash matches the feed's, fork otherwise") {
  FeedPosition at = Head(4, H(4));
  at.held = H(2);
  auto dup = ClassifyDelta(At(2, H(1)), H(2), at);
  CHECK(dup.verdict == ChainVerdict::kDuplicate);
  auto fork = ClassifyDelta(At(2, H(1)), H(22), at);
  CHECK(fork.verdict == ChainVerdict::kFork);
  CHECK(fork.fork_in_feed);
  // The head itself and seq 1 are old positions too.
  at.held = H(4);
  CHECK(V(At(4, H(3)), H(4), at) == ChainVerdict::kDuplicate);
  CHECK(V(At(4, H(3)), H(44), at) == ChainVerdict::kFork);
  at.held = H(1);
  CHECK(V(At(1, crypto::Hash{}), H(1), at) == ChainVerdict::kDuplicate);
  CHECK(V(At(1, crypto::Hash{}), H(11), at) == ChainVerdict::kFork);
  // A fork is decided by the hash alone: prev does not matter.
  CHECK(V(At(1, H(9)), H(11), at) == ChainVerdict::kFork);
}

TEST_CASE("at or below the head with nothing in the feed there: a hole") {
  FeedPosition at = Head(4, H(4));
  CHECK(V(At(3, H(2)), H(3), at) == ChainVerdict::kHole);
}

TEST_CASE("old positions ignore the fork point and pending deltas") {
  FeedPosition at = Head(4, H(4));
  at.held = H(2);
  at.frozen_from = 1;
  at.waiting = H(77);  // not read for seq <= head
  CHECK(V(At(2, H(1)), H(2), at) == ChainVerdict::kDuplicate);
  auto fork = ClassifyDelta(At(2, H(1)), H(3), at);
  CHECK(fork.verdict == ChainVerdict::kFork);
  CHECK(fork.fork_in_feed);
}

TEST_CASE("a delta waiting in pending at the same seq: duplicate or fork") {
  FeedPosition at = Head(4, H(4));
  at.waiting = H(6);
  CHECK(V(At(6, H(5)), H(6), at) == ChainVerdict::kDuplicate);
  auto fork = ClassifyDelta(At(6, H(5)), H(66), at);
  CHECK(fork.verdict == ChainVerdict::kFork);
  CHECK_FALSE(fork.fork_in_feed);
  // Next seq: another delta is a fork; the same one goes on and may chain.
  at.waiting = H(5);
  CHECK(V(At(5, H(4)), H(55), at) == ChainVerdict::kFork);
  auto again = ClassifyDelta(At(5, H(4)), H(5), at);
  CHECK(again.verdict == ChainVerdict::kChains);
  CHECK(again.waiting_copy);
  auto broken = ClassifyDelta(At(5, H(3)), H(5), at);
  CHECK(broken.verdict == ChainVerdict::kBrokenChain);
  CHECK(broken.waiting_copy);
}

TEST_CASE("a frozen author: held from the fork point on, earlier seqs as usual") {
  FeedPosition at = Head(4, H(4));
  at.frozen_from = 5;
  CHECK(V(At(5, H(4)), H(5), at) == ChainVerdict::kHeld);  // would chain
  CHECK(V(At(5, H(0)), H(5), at) == ChainVerdict::kHeld);  // would be broken
  CHECK(V(At(9, H(8)), H(9), at) == ChainVerdict::kHeld);  // would be a gap
  at.frozen_from = 7;
  CHECK(V(At(5, H(4)), H(5), at) == ChainVerdict::kChains);
  CHECK(V(At(6, H(5)), H(6), at) == ChainVerdict::kPending);
  CHECK(V(At(7, H(6)), H(7), at) == ChainVerdict::kHeld);
  // A held copy waiting in pending: the same delta again is a duplicate past
  // the next seq, held again at the next seq; another one is a fork.
  at.frozen_from = 5;
  at.waiting = H(5);
  auto held = ClassifyDelta(At(5, H(4)), H(5), at);
  CHECK(held.verdict == ChainVerdict::kHeld);
  CHECK(held.waiting_copy);
  CHECK(V(At(5, H(4)), H(50), at) == ChainVerdict::kFork);
  at.waiting = H(8);
  CHECK(V(At(8, H(7)), H(8), at) == ChainVerdict::kDuplicate);
  CHECK(V(At(8, H(7)), H(80), at) == ChainVerdict::kFork);
}

TEST_CASE("a new author frozen from seq 1 holds everything") {
  FeedPosition none;
  none.frozen_from = 1;
  CHECK(V(At(1, crypto::Hash{}), H(1), none) == ChainVerdict::kHeld);
  CHECK(V(At(3, H(2)), H(3), none) == ChainVerdict::kHeld);
}

}  // namespace
}  // namespace hearth::feed
