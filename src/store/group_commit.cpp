// Group commit: concurrent Replica::Commit calls of one process share one
// durable LMDB write transaction (docs/durability.md, "Group commit").
//
// A committing thread queues its batch and waits. The thread at the front
// of the queue is the leader: it takes the queued batches (at most
// kMaxGroupBatches and about kMaxGroupBytes, always at least its own),
// writes them in queue order in ONE write transaction, each batch in a
// nested transaction of its own, commits once (one fsync under
// Durability::kSync), and hands every waiter its own result. Threads that
// queue while the leader works form the next group: the fsync of one group
// overlaps the queueing of the next, which is where the gain comes from.
//
// Each batch becomes exactly the deltas a lone Commit would have written
// (own seqs, chained in queue order, own HLCs and signatures): the body is
// the same function, CommitInTxn, run in a nested transaction that sees the
// batches before it. A batch that fails (invalid, refused by the policy, no
// key) aborts only its nested transaction and fails only its caller. A
// failure of the store itself (a full map, I/O) aborts the whole group;
// a full map is grown and the group run again (WithWrite), anything else
// falls back to one transaction per batch, so that every caller gets the
// result a lone Commit would have given.
#include <condition_variable>
#include <exception>

#include "store/replica_impl.hpp"

namespace hearth {
namespace {

// Bounds of one group: its transaction's size and the time the last
// follower waits for the leader's work on the others.
constexpr size_t kMaxGroupBatches = 64;
constexpr uint64_t kMaxGroupBytes = uint64_t{4} << 20;

// About what a batch adds to the transaction (its values dominate).
uint64_t EstimateBytes(const std::vector<BatchIntent>& intents) {
  uint64_t n = 0;
  for (const BatchIntent& in : intents) {
    n += 48 + in.collection.size() + in.field.size();
    if (in.value.type() == ValueType::kString) n += in.value.as_string().size();
    if (in.value.type() == ValueType::kBytes) n += in.value.as_bytes().size();
  }
  return n;
}

}  // namespace

struct Replica::Impl::CommitWaiter {
  explicit CommitWaiter(const std::vector<BatchIntent>& in) : intents(in), bytes(EstimateBytes(in)) {}
  const std::vector<BatchIntent>& intents;
  const uint64_t bytes;
  // Set by the leader, read by the waiter once `done` (both under
  // commit_queue_mu, which orders them).
  Result<CommitInfo> result = Status::Internal("group commit: batch not run");
  bool done = false;
  std::condition_variable cv;
};

Result<CommitInfo> Replica::Impl::GroupCommit(const std::vector<BatchIntent>& intents) {
  CommitWaiter me(intents);
  std::unique_lock lk(commit_queue_mu);
  commit_queue.push_back(&me);
  // Waits until a leader committed this batch, or this one leads. A leader
  // always wakes the next front before it returns, so this wait ends.
  me.cv.wait(lk, [&] { return me.done || commit_queue.front() == &me; });
  if (me.done) return std::move(me.result);

  std::vector<CommitWaiter*> group;
  uint64_t bytes = 0;
  for (CommitWaiter* w : commit_queue) {
    if (!group.empty() && (group.size() >= kMaxGroupBatches || bytes + w->bytes > kMaxGroupBytes)) break;
    group.push_back(w);
    bytes += w->bytes;
  }
  lk.unlock();
  // Followers block until their result is set: nothing may leave them
  // waiting, not even an exception (std::bad_alloc) from the leader's work.
  try {
    CommitGroup(group);
  } catch (const std::exception& e) {
    for (CommitWaiter* w : group) w->result = Status::Internal(std::string("group commit: ") + e.what());
  }
  lk.lock();
  for (CommitWaiter* w : group) {
    commit_queue.pop_front();  // the group is the queue's front, in order
    if (w != &me) {
      w->done = true;
      w->cv.notify_one();
    }
  }
  if (!commit_queue.empty()) commit_queue.front()->cv.notify_one();  // the next leader
  return std::move(me.result);
}

void Replica::Impl::CommitGroup(const std::vector<CommitWaiter*>& group) {
  groups_committed.fetch_add(1, std::memory_order_relaxed);
  batches_grouped.fetch_add(group.size(), std::memory_order_relaxed);
  if (group.size() == 1) {
    // Alone: exactly the transaction of an ungrouped commit.
    CommitWaiter& w = *group.front();
    w.result = WithWrite<CommitInfo>([&](store::Txn& t) { return CommitInTxn(t, w.intents, false); });
    return;
  }
  std::vector<Result<CommitInfo>> results;
  auto all = WithWrite<bool>([&](store::Txn& t) -> Result<bool> {
    results.clear();  // WithWrite runs this again after growing the map
    for (CommitWaiter* w : group) {
      // A failing batch may have recorded a change before it failed: that
      // change is gone with its nested transaction, so is its wake-up.
      const bool notify_before = notify_pending;
      const uint64_t number_before = notify_number;
      store::Txn nested;
      if (Status s = nested.BeginNested(t); !s.ok()) {
        t.NoteError(nested.error());
        return s;
      }
      Result<CommitInfo> r = CommitInTxn(nested, w->intents, false);
      if (r.ok()) {
        Status s = nested.Commit();
        if (!s.ok()) {
          t.NoteError(nested.error());
          return s;
        }
      } else {
        if (nested.error() != store::MdbError::kNone) {
          // The store failed, not the batch: the whole group stops.
          t.NoteError(nested.error());
          return r.status();
        }
        nested.Abort();
        notify_pending = notify_before;
        notify_number = number_before;
      }
      results.push_back(std::move(r));
    }
    return true;
  });
  if (all.ok()) {
    for (size_t i = 0; i < group.size(); ++i) group[i]->result = std::move(results[i]);
    return;
  }
  // The store failed (not a full map: WithWrite grew it and retried): one
  // transaction per batch, as if each had committed alone.
  group_fallbacks.fetch_add(1, std::memory_order_relaxed);
  for (CommitWaiter* w : group) {
    w->result = WithWrite<CommitInfo>([&](store::Txn& t) { return CommitInTxn(t, w->intents, false); });
  }
}

}  // namespace hearth
