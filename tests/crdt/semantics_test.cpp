// Hand-written cases for the merge rule of every field kind.
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "codec/codec.hpp"
#include "crdt/hlc.hpp"
#include "crdt/op.hpp"
#include "crdt/record_state.hpp"

namespace hearth::crdt {
namespace {

AuthorId A(uint8_t b) {
  AuthorId a;
  a.bytes.fill(b);
  return a;
}
const AuthorId kA = A(1), kB = A(2), kC = A(3);

Op Lww(Hlc h, Value v, std::string field = "f") {
  Op op;
  op.field = std::move(field);
  op.kind = OpKind::kLwwSet;
  op.hlc = h;
  op.value = std::move(v);
  return op;
}
Op Mv(Hlc h, Value v, VersionVector ctx) {
  Op op;
  op.field = "f";
  op.kind = OpKind::kMvSet;
  op.hlc = h;
  op.value = std::move(v);
  op.context = std::move(ctx);
  return op;
}
Op Add(Hlc h, Value v) {
  Op op;
  op.field = "f";
  op.kind = OpKind::kSetAdd;
  op.hlc = h;
  op.value = std::move(v);
  return op;
}
Op Remove(Hlc h, Value v, VersionVector ctx) {
  Op op;
  op.field = "f";
  op.kind = OpKind::kSetRemove;
  op.hlc = h;
  op.value = std::move(v);
  op.context = std::move(ctx);
  return op;
}
Op Counter(Hlc h, int64_t p, int64_t n) {
  Op op;
  op.field = "f";
  op.kind = OpKind::kCounter;
  op.hlc = h;
  op.p = p;
  op.n = n;
  return op;
}
Op Status(Hlc h, uint32_t rank, std::string name) {
  Op op;
  op.field = "f";
  op.kind = OpKind::kStatus;
  op.hlc = h;
  op.rank = rank;
  op.value = Value(std::move(name));
  return op;
}
Op Log(Hlc h, Value v) {
  Op op;
  op.field = "f";
  op.kind = OpKind::kLogAppend;
  op.hlc = h;
  op.value = std::move(v);
  return op;
}

VersionVector Vv(std::initializer_list<std::pair<AuthorId, Hlc>> es) {
  VersionVector vv;
  for (const auto& [a, h] : es) vv.Raise(a, h);
  return vv;
}

std::vector<Value> MvValues(const FieldState& f) {
  std::vector<Value> out;
  for (const auto& e : f.as<MvState>().entries) out.push_back(e.value);
  return out;
}

TEST_CASE("hlc: tick is monotonic and observes remote clocks") {
  Hlc h = HlcTick(0, 5);
  CHECK(h == MakeHlc(5, 0));
  CHECK(HlcTick(h, 5) == MakeHlc(5, 1));
  CHECK(HlcTick(h, 4) == MakeHlc(5, 1));  // clock went back
  CHECK(HlcTick(MakeHlc(5, 0xffff), 5) == MakeHlc(6, 0));
  CHECK(HlcObserve(MakeHlc(7, 3), MakeHlc(9, 0)) == MakeHlc(9, 0));
  CHECK(HlcTick(HlcObserve(MakeHlc(7, 3), MakeHlc(9, 0)), 8) == MakeHlc(9, 1));
  CHECK(HlcPhysicalMs(MakeHlc(1234, 5)) == 1234);
  CHECK(HlcLogical(MakeHlc(1234, 5)) == 5);
}

TEST_CASE("version vector: sorted, pointwise max, no zero entries") {
  VersionVector vv;
  vv.Raise(kC, 5);
  vv.Raise(kA, 2);
  vv.Raise(kB, 0);
  vv.Raise(kA, 1);
  REQUIRE(vv.entries.size() == 2);
  CHECK(vv.entries[0] == std::pair{kA, Hlc{2}});
  CHECK(vv.entries[1] == std::pair{kC, Hlc{5}});
  CHECK(vv.Get(kB) == 0);
  CHECK(vv.Covers({0, kB}));
  CHECK(vv.Covers({2, kA}));
  CHECK_FALSE(vv.Covers({3, kA}));

  VersionVector other;
  other.entries = {{kB, 7}, {kC, 1}, {kA, 4}};  // unsorted: still merged correctly
  vv.MergeFrom(other);
  CHECK(vv == Vv({{kA, 4}, {kB, 7}, {kC, 5}}));
  VersionVector z;
  z.entries = {{kA, 0}, {kB, 0}};
  VersionVector empty;
  empty.MergeFrom(z);
  CHECK(empty.entries.empty());
  vv.MergeFrom(Vv({{kA, 9}}));  // in-place path
  CHECK(vv == Vv({{kA, 9}, {kB, 7}, {kC, 5}}));
}

TEST_CASE("KindOfOp maps every op kind") {
  CHECK(KindOfOp(OpKind::kLwwSet) == FieldKind::kLww);
  CHECK(KindOfOp(OpKind::kMvSet) == FieldKind::kMv);
  CHECK(KindOfOp(OpKind::kSetAdd) == FieldKind::kSet);
  CHECK(KindOfOp(OpKind::kSetRemove) == FieldKind::kSet);
  CHECK(KindOfOp(OpKind::kCounter) == FieldKind::kCounter);
  CHECK(KindOfOp(OpKind::kStatus) == FieldKind::kStatus);
  CHECK(KindOfOp(OpKind::kLogAppend) == FieldKind::kLog);
  CHECK(static_cast<int>(KindOfOp(static_cast<OpKind>(9))) == 0);
}

TEST_CASE("lww: later write wins; ties by author, then by value") {
  FieldState f(FieldKind::kLww);
  f.Apply(Lww(10, "old"), kB);
  f.Apply(Lww(20, "new"), kA);
  CHECK(f.as<LwwState>().value == Value("new"));
  f.Apply(Lww(15, "stale"), kC);
  CHECK(f.as<LwwState>().value == Value("new"));
  CHECK(f.as<LwwState>().dot == Dot{20, kA});
  f.Apply(Lww(20, "by-b"), kB);  // same hlc, greater author
  CHECK(f.as<LwwState>().value == Value("by-b"));
  f.Apply(Lww(20, "a-forked"), kB);  // same dot: greater value wins
  CHECK(f.as<LwwState>().value == Value("by-b"));
  f.Apply(Lww(20, "c-forked"), kB);
  CHECK(f.as<LwwState>().value == Value("c-forked"));

  // ref fields are lww with ref values
  RecordId r;
  r.bytes[3] = 9;
  f.Apply(Lww(30, Value(r)), kA);
  CHECK(f.as<LwwState>().value.as_ref() == r);
}

TEST_CASE("mv: concurrent writes are kept until a write that saw them") {
  FieldState f(FieldKind::kMv);
  f.Apply(Mv(10, "x", {}), kA);
  const VersionVector seen_x = f.as<MvState>().WriteContext();
  CHECK(seen_x == Vv({{kA, 10}}));
  // A and B both write having seen x.
  f.Apply(Mv(20, "from-a", seen_x), kA);
  f.Apply(Mv(21, "from-b", seen_x), kB);
  CHECK(MvValues(f) == std::vector<Value>{"from-a", "from-b"});
  CHECK(f.as<MvState>().WriteContext() == Vv({{kA, 20}, {kB, 21}}));
  // C saw both and resolves.
  f.Apply(Mv(30, "merged", f.as<MvState>().WriteContext()), kC);
  CHECK(MvValues(f) == std::vector<Value>{"merged"});
  // A write that saw only the old state stays concurrent.
  f.Apply(Mv(25, "late", seen_x), kB);
  CHECK(MvValues(f) == std::vector<Value>{"late", "merged"});  // sorted by dot (25 < 30)

  // An old write arriving after the resolution stays suppressed.
  FieldState g(FieldKind::kMv);
  g.Apply(Mv(30, "merged", Vv({{kA, 20}, {kB, 21}})), kC);
  g.Apply(Mv(20, "from-a", Vv({{kA, 10}})), kA);
  g.Apply(Mv(21, "from-b", Vv({{kA, 10}})), kB);
  CHECK(MvValues(g) == std::vector<Value>{"merged"});
}

TEST_CASE("set: add wins over a concurrent remove; observed adds are removed") {
  FieldState f(FieldKind::kSet);
  auto& s = f.as<SetState>();
  f.Apply(Add(10, "x"), kA);
  f.Apply(Add(11, "y"), kB);
  CHECK(s.Members() == std::vector<Value>{"x", "y"});
  const VersionVector rm_x = s.RemoveContext("x");
  CHECK(rm_x == Vv({{kA, 10}}));
  // B re-adds x concurrently with C's remove (which did not see it).
  f.Apply(Add(12, "x"), kB);
  f.Apply(Remove(13, "x", rm_x), kC);
  CHECK(s.Members() == std::vector<Value>{"x", "y"});  // add wins
  // A remove that saw every add removes it.
  f.Apply(Remove(14, "x", s.RemoveContext("x")), kA);
  CHECK(s.Members() == std::vector<Value>{"y"});
  // The tombstone stays: the element is kept with its removed context.
  REQUIRE(s.elements.size() == 2);
  CHECK(s.elements[0].tags.empty());
  CHECK(s.elements[0].removed == Vv({{kA, 10}, {kB, 12}}));
  // Adds the remove saw, delivered late, stay removed.
  FieldState g(FieldKind::kSet);
  g.Apply(Remove(14, "x", Vv({{kA, 10}, {kB, 12}})), kA);
  g.Apply(Add(12, "x"), kB);
  g.Apply(Add(10, "x"), kA);
  CHECK(g.as<SetState>().Members().empty());
  CHECK(g.as<SetState>().RemoveContext("x") == Vv({{kA, 10}, {kB, 12}}));
  // A remove with nothing to remove leaves no trace.
  FieldState h(FieldKind::kSet);
  h.Apply(Remove(5, "z", {}), kA);
  CHECK(h.as<SetState>().elements.empty());
  CHECK(h.as<SetState>().RemoveContext("nope").entries.empty());
}

TEST_CASE("counter: per-author cumulative totals, duplicates and reordering harmless") {
  FieldState f(FieldKind::kCounter);
  auto& c = f.as<CounterState>();
  f.Apply(Counter(1, 3, 0), kA);
  f.Apply(Counter(2, 5, 1), kA);
  f.Apply(Counter(1, 3, 0), kA);  // duplicate, and older
  f.Apply(Counter(3, 2, 4), kB);
  CHECK(c.Value() == (5 - 1) + (2 - 4));
  CHECK(c.TotalsOf(kA) == std::pair<int64_t, int64_t>{5, 1});
  CHECK(c.TotalsOf(kC) == std::pair<int64_t, int64_t>{0, 0});
  f.Apply(Counter(4, 0, 0), kC);  // a zero total adds no entry
  CHECK(c.entries.size() == 2);
  // saturating sum
  FieldState big(FieldKind::kCounter);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  big.Apply(Counter(1, kMax, 0), kA);
  big.Apply(Counter(1, kMax, 0), kB);
  CHECK(big.as<CounterState>().Value() == kMax);
  FieldState neg(FieldKind::kCounter);
  neg.Apply(Counter(1, 0, kMax), kA);
  neg.Apply(Counter(1, 0, kMax), kB);
  CHECK(neg.as<CounterState>().Value() == std::numeric_limits<int64_t>::min());
  neg.Apply(Counter(1, kMax, 0), kC);
  CHECK(neg.as<CounterState>().Value() == -kMax);
}

TEST_CASE("status: never goes backwards; ties by name") {
  FieldState f(FieldKind::kStatus);
  CHECK_FALSE(f.as<StatusState>().set);
  f.Apply(Status(5, 0, "open"), kA);
  CHECK(f.as<StatusState>().set);
  f.Apply(Status(6, 2, "done"), kA);
  f.Apply(Status(9, 1, "working"), kB);  // later but lower rank
  CHECK(f.as<StatusState>().rank == 2);
  CHECK(f.as<StatusState>().name == "done");
  f.Apply(Status(1, 2, "dropped"), kC);
  CHECK(f.as<StatusState>().name == "dropped");  // same rank, greater name
  // A first op with rank 0 and an empty name still sets it.
  FieldState g(FieldKind::kStatus);
  g.Apply(Status(1, 0, ""), kA);
  CHECK(g.as<StatusState>().set);
}

TEST_CASE("log: union ordered by (hlc, author), then value") {
  FieldState f(FieldKind::kLog);
  f.Apply(Log(20, "second"), kA);
  f.Apply(Log(10, "first"), kB);
  f.Apply(Log(20, "second-b"), kB);
  f.Apply(Log(20, "second"), kA);  // duplicate
  f.Apply(Log(20, "a-forked"), kA);
  const auto& items = f.as<LogState>().items;
  REQUIRE(items.size() == 4);
  CHECK(items[0].value == Value("first"));
  CHECK(items[1].value == Value("a-forked"));
  CHECK(items[2].value == Value("second"));
  CHECK(items[3].value == Value("second-b"));
}

TEST_CASE("kind mismatch: the higher kind number wins, in any order") {
  const Op lww = Lww(10, "text");
  const Op add = Add(5, "tag");
  const Op log = Log(1, "entry");
  const Op ctr = Counter(3, 1, 0);
  std::vector<Op> ops{lww, add, log, ctr};
  std::sort(ops.begin(), ops.end(), [](const Op& a, const Op& b) { return a.kind < b.kind; });
  std::optional<RecordState> first;
  do {
    RecordState st;
    for (const auto& op : ops) st.Apply(op, kA);
    const FieldState* f = st.Find("f");
    REQUIRE(f != nullptr);
    CHECK(f->kind() == FieldKind::kLog);
    REQUIRE(f->as<LogState>().items.size() == 1);
    if (!first) first = st;
    CHECK(st == *first);
    CHECK(codec::EncodeRecordState(st) == codec::EncodeRecordState(*first));
  } while (std::next_permutation(ops.begin(), ops.end(),
                                 [](const Op& a, const Op& b) { return a.kind < b.kind; }));

  FieldState f(FieldKind::kCounter);
  f.Apply(Lww(10, "ignored"), kA);  // lower: ignored
  CHECK(f.kind() == FieldKind::kCounter);
  CHECK(f.as<CounterState>().entries.empty());
  f.Apply(Status(1, 1, "up"), kA);  // higher: restarts as status
  CHECK(f.kind() == FieldKind::kStatus);
  CHECK(f.as<StatusState>().name == "up");
  // Invalid op kinds are ignored.
  Op bad = Lww(1, "x");
  bad.kind = static_cast<OpKind>(42);
  f.Apply(bad, kA);
  CHECK(f.kind() == FieldKind::kStatus);
  RecordState st;
  st.Apply(bad, kA);
  CHECK(st.fields.empty());
}

TEST_CASE("record: fields created on first op; tombstone") {
  RecordState st;
  st.collection = "tasks";
  CHECK_FALSE(st.deleted());
  st.Apply(Lww(1, "hello", "title"), kA);
  REQUIRE(st.Find("title") != nullptr);
  CHECK(st.Find("title")->kind() == FieldKind::kLww);
  CHECK(st.Find("missing") == nullptr);
  st.Apply(Lww(2, true, kDeletedField), kB);
  CHECK(st.deleted());
  st.Apply(Lww(3, false, kDeletedField), kA);  // restored by a later write
  CHECK_FALSE(st.deleted());
  st.Apply(Lww(4, "yes", kDeletedField), kA);  // not a bool: not deleted
  CHECK_FALSE(st.deleted());
  st.Apply(Lww(5, true, kDeletedField), kA);
  CHECK(st.deleted());
  CHECK(st.Find("title")->as<LwwState>().value == Value("hello"));  // fields survive
}

}  // namespace
}  // namespace hearth::crdt
