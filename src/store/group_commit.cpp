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
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <thread>

#include <unistd.h>

#include "store/replica_impl.hpp"

namespace hearth {
namespace {

// Bounds of one group: its transaction's size and the time the last
// follower waits for the leader's work on the others.
constexpr size_t kMaxGroupBatches = 64;
constexpr uint64_t kMaxGroupBytes = uint64_t{4} << 20;
// The longest a leader waits for more batches (commit delay).
constexpr uint64_t kMaxCommitDelayNs = 500'000;

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

// Signs a group's deltas on two cores: the leader and one helper thread
// take deltas from the list in turn. Signing is a third of a batch's work
// and depends on nothing in the transaction (a delta's successor names its
// hash, which the signature does not change), so it can run after every
// batch of the group was written.
class Replica::Impl::SignHelper {
 public:
  SignHelper() : pid_(::getpid()), thread_(std::make_unique<std::thread>([this] { Loop(); })) {}
  ~SignHelper() {
    if (::getpid() != pid_) {
      // A forked child closing its parent's replica: the thread does not
      // exist here, and its mutex may have been copied locked. Leave both.
      (void)thread_.release();
      return;
    }
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    work_cv_.notify_one();
    thread_->join();
  }
  SignHelper(const SignHelper&) = delete;
  SignHelper& operator=(const SignHelper&) = delete;

  // Signs every delta of `list`; returns when all are signed.
  void SignAll(std::vector<UnsignedDelta>& list, const crypto::SigningKeyPair& signer) {
    if (list.size() < 2 || ::getpid() != pid_) {  // a forked child has no helper thread
      for (UnsignedDelta& d : list) feed::SignSealedDelta(d.bytes, d.to_sign, signer);
      return;
    }
    {
      std::lock_guard lk(mu_);
      list_ = &list;
      signer_ = &signer;
      next_ = 0;
      done_ = 0;
    }
    work_cv_.notify_one();
    Work();
    std::unique_lock lk(mu_);
    done_cv_.wait(lk, [&] { return done_ == list.size(); });
    list_ = nullptr;  // no claim can follow: next_ >= size
    signer_ = nullptr;
  }

 private:
  // Claims and signs deltas until none is left.
  void Work() {
    for (;;) {
      UnsignedDelta* d = nullptr;
      const crypto::SigningKeyPair* signer = nullptr;
      {
        std::lock_guard lk(mu_);
        if (list_ == nullptr || next_ >= list_->size()) return;
        d = &(*list_)[next_++];
        signer = signer_;
      }
      feed::SignSealedDelta(d->bytes, d->to_sign, *signer);
      std::lock_guard lk(mu_);
      if (++done_ == list_->size()) done_cv_.notify_one();
    }
  }
  void Loop() {
    std::unique_lock lk(mu_);
    for (;;) {
      work_cv_.wait(lk, [&] { return stop_ || (list_ != nullptr && next_ < list_->size()); });
      if (stop_) return;
      lk.unlock();
      Work();
      lk.lock();
    }
  }

  const pid_t pid_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<UnsignedDelta>* list_ = nullptr;  // guarded by mu_, as are the three below
  const crypto::SigningKeyPair* signer_ = nullptr;
  size_t next_ = 0, done_ = 0;
  bool stop_ = false;
  std::unique_ptr<std::thread> thread_;  // last: starts once the members above exist
};

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
  if (group_target > 0 && commit_queue.size() >= group_target) commit_queue.front()->cv.notify_one();
  // Waits until a leader committed this batch, or this one leads. A leader
  // always wakes the next front before it returns, so this wait ends.
  me.cv.wait(lk, [&] { return me.done || commit_queue.front() == &me; });
  if (me.done) return std::move(me.result);

  // Commit delay: when the last group was larger than what is queued now,
  // its writers are likely on their way back; a short wait lets them join
  // this group instead of forming the next one (a group costs one fsync
  // whatever its size). Bounded by a fraction of the last group's time, so
  // a lone writer never waits (its last group was itself).
  if (commit_queue.size() < last_group_size) {
    const uint64_t wait_ns = std::min<uint64_t>(last_group_ns / 4, kMaxCommitDelayNs);
    group_target = std::min(last_group_size, kMaxGroupBatches);
    me.cv.wait_for(lk, std::chrono::nanoseconds(wait_ns), [&] { return commit_queue.size() >= group_target; });
    group_target = 0;
  }

  std::vector<CommitWaiter*> group;
  uint64_t bytes = 0;
  for (CommitWaiter* w : commit_queue) {
    if (!group.empty() && (group.size() >= kMaxGroupBatches || bytes + w->bytes > kMaxGroupBytes)) break;
    group.push_back(w);
    bytes += w->bytes;
  }
  lk.unlock();
  const auto started = std::chrono::steady_clock::now();
  // Followers block until their result is set: nothing may leave them
  // waiting, not even an exception (std::bad_alloc) from the leader's work.
  try {
    CommitGroup(group);
  } catch (const std::exception& e) {
    for (CommitWaiter* w : group) w->result = Status::Internal(std::string("group commit: ") + e.what());
  }
  const auto took = std::chrono::steady_clock::now() - started;
  lk.lock();
  last_group_size = group.size();
  last_group_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
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
  std::vector<UnsignedDelta> unsigned_deltas;
  const bool parallel_sign = std::thread::hardware_concurrency() > 1;
  auto all = WithWrite<bool>([&](store::Txn& t) -> Result<bool> {
    results.clear();  // WithWrite runs this again after growing the map
    unsigned_deltas.clear();
    struct Reset {
      std::vector<UnsignedDelta>*& p;
      ~Reset() { p = nullptr; }
    } reset{sign_later};
    if (parallel_sign) sign_later = &unsigned_deltas;
    for (CommitWaiter* w : group) {
      const size_t unsigned_before = unsigned_deltas.size();
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
        unsigned_deltas.resize(unsigned_before);  // gone with the nested transaction
      }
      results.push_back(std::move(r));
    }
    sign_later = nullptr;
    if (!unsigned_deltas.empty()) {
      if (!sign_helper) sign_helper = std::make_shared<SignHelper>();
      sign_helper->SignAll(unsigned_deltas, identity);
      for (const UnsignedDelta& d : unsigned_deltas) {
        HEARTH_RETURN_IF_ERROR(t.Put(feeds, store::AsBytes(d.key), d.bytes));
      }
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
