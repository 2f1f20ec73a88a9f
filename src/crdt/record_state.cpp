#include "crdt/record_state.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

namespace hearth::crdt {

namespace {

// Order of (dot, value) pairs: mv entries and log items.
template <typename T>
std::strong_ordering CompareDotValue(const T& e, const Dot& dot, const Value& value) {
  if (auto c = e.dot <=> dot; c != 0) return c;
  return e.value <=> value;
}

// Inserts {dot, value} into a vector sorted by (dot, value) unless present.
template <typename T>
void InsertDotValue(std::vector<T>& v, const Dot& dot, const Value& value) {
  auto it = std::lower_bound(v.begin(), v.end(), 0, [&](const T& e, int) {
    return CompareDotValue(e, dot, value) < 0;
  });
  if (it != v.end() && CompareDotValue(*it, dot, value) == 0) return;
  v.insert(it, T{dot, value});
}

bool IsValidKind(FieldKind k) {
  switch (k) {
    case FieldKind::kLww:
    case FieldKind::kMv:
    case FieldKind::kSet:
    case FieldKind::kCounter:
    case FieldKind::kStatus:
    case FieldKind::kLog: return true;
  }
  return false;
}

FieldState::Storage FreshStorage(FieldKind kind) {
  switch (kind) {
    case FieldKind::kLww: return LwwState{};
    case FieldKind::kMv: return MvState{};
    case FieldKind::kSet: return SetState{};
    case FieldKind::kCounter: return CounterState{};
    case FieldKind::kStatus: return StatusState{};
    case FieldKind::kLog: return LogState{};
  }
  return LwwState{};  // invalid kind: caller bug; never produced by Apply or the codec
}

std::vector<SetElement>::const_iterator FindElement(const std::vector<SetElement>& els,
                                                    const Value& v) {
  auto it = std::lower_bound(els.begin(), els.end(), v,
                             [](const SetElement& e, const Value& x) { return e.value < x; });
  return (it != els.end() && it->value == v) ? it : els.end();
}

void ApplyLww(LwwState& s, const Dot& dot, const Value& value) {
  auto c = dot <=> s.dot;
  if (c > 0 || (c == 0 && value > s.value)) {
    s.dot = dot;
    s.value = value;
  }
}

void ApplyMv(MvState& s, const Dot& dot, const Op& op) {
  const bool context_grew = !op.context.entries.empty();
  if (context_grew) s.seen.MergeFrom(op.context);
  if (!s.seen.Covers(dot)) InsertDotValue(s.entries, dot, op.value);
  if (context_grew) {
    std::erase_if(s.entries, [&](const MvEntry& e) { return s.seen.Covers(e.dot); });
  }
}

void ApplySetAdd(SetState& s, const Dot& dot, const Value& value) {
  auto it = std::lower_bound(s.elements.begin(), s.elements.end(), value,
                             [](const SetElement& e, const Value& x) { return e.value < x; });
  if (it == s.elements.end() || it->value != value) {
    if (dot.hlc == 0) return;  // covered by any vector, even an empty one
    SetElement e;
    e.value = value;
    e.tags.push_back(dot);
    s.elements.insert(it, std::move(e));
    return;
  }
  if (it->removed.Covers(dot)) return;
  auto t = std::lower_bound(it->tags.begin(), it->tags.end(), dot);
  if (t != it->tags.end() && *t == dot) return;
  it->tags.insert(t, dot);
}

void ApplySetRemove(SetState& s, const Value& value, const VersionVector& context) {
  auto it = std::lower_bound(s.elements.begin(), s.elements.end(), value,
                             [](const SetElement& e, const Value& x) { return e.value < x; });
  if (it == s.elements.end() || it->value != value) {
    // Keep the removal so that adds it saw, arriving later, stay removed.
    SetElement e;
    e.value = value;
    e.removed.MergeFrom(context);
    if (e.removed.entries.empty()) return;  // removes nothing
    s.elements.insert(it, std::move(e));
    return;
  }
  it->removed.MergeFrom(context);
  std::erase_if(it->tags, [&](const Dot& d) { return it->removed.Covers(d); });
}

void ApplyCounter(CounterState& s, const AuthorId& author, int64_t p, int64_t n) {
  p = std::max<int64_t>(p, 0);
  n = std::max<int64_t>(n, 0);
  auto it = std::lower_bound(s.entries.begin(), s.entries.end(), author,
                             [](const CounterEntry& e, const AuthorId& a) { return e.author < a; });
  if (it == s.entries.end() || it->author != author) {
    if (p == 0 && n == 0) return;  // same as no entry
    s.entries.insert(it, CounterEntry{author, p, n});
    return;
  }
  it->p = std::max(it->p, p);
  it->n = std::max(it->n, n);
}

void ApplyStatus(StatusState& s, uint32_t rank, const Value& value) {
  static const std::string kEmpty;
  const std::string& name = value.type() == ValueType::kString ? value.as_string() : kEmpty;
  if (!s.set || rank > s.rank || (rank == s.rank && name > s.name)) {
    s.set = true;
    s.rank = rank;
    s.name = name;
  }
}

}  // namespace

VersionVector MvState::WriteContext() const {
  VersionVector vv = seen;
  for (const auto& e : entries) vv.Raise(e.dot.author, e.dot.hlc);
  return vv;
}

VersionVector SetState::RemoveContext(const Value& v) const {
  auto it = FindElement(elements, v);
  if (it == elements.end()) return {};
  VersionVector vv = it->removed;
  for (const auto& t : it->tags) vv.Raise(t.author, t.hlc);
  return vv;
}

std::vector<Value> SetState::Members() const {
  std::vector<Value> out;
  out.reserve(elements.size());
  for (const auto& e : elements) {
    if (!e.tags.empty()) out.push_back(e.value);
  }
  return out;
}

std::pair<int64_t, int64_t> CounterState::TotalsOf(const AuthorId& a) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), a,
                             [](const CounterEntry& e, const AuthorId& x) { return e.author < x; });
  if (it == entries.end() || it->author != a) return {0, 0};
  return {it->p, it->n};
}

int64_t CounterState::Value() const {
  // Exact in 128 bits (at most 2^63 terms of magnitude < 2^63 cannot
  // overflow in practice), then clamped: independent of summation order.
  __int128 sum = 0;
  for (const auto& e : entries) sum += static_cast<__int128>(e.p) - e.n;
  if (sum > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (sum < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(sum);
}

FieldState::FieldState(FieldKind kind) : kind_(kind), s_(FreshStorage(kind)) {}

void FieldState::Apply(const Op& op, const AuthorId& author) {
  const FieldKind k = KindOfOp(op.kind);
  if (!IsValidKind(k)) return;
  if (k != kind_) {
    // The higher kind number wins; lower-kind ops are ignored.
    if (static_cast<uint8_t>(k) < static_cast<uint8_t>(kind_)) return;
    kind_ = k;
    s_ = FreshStorage(k);
  }
  const Dot dot{op.hlc, author};
  switch (op.kind) {
    case OpKind::kLwwSet: ApplyLww(std::get<LwwState>(s_), dot, op.value); break;
    case OpKind::kMvSet: ApplyMv(std::get<MvState>(s_), dot, op); break;
    case OpKind::kSetAdd: ApplySetAdd(std::get<SetState>(s_), dot, op.value); break;
    case OpKind::kSetRemove: ApplySetRemove(std::get<SetState>(s_), op.value, op.context); break;
    case OpKind::kCounter: ApplyCounter(std::get<CounterState>(s_), author, op.p, op.n); break;
    case OpKind::kStatus: ApplyStatus(std::get<StatusState>(s_), op.rank, op.value); break;
    case OpKind::kLogAppend: InsertDotValue(std::get<LogState>(s_).items, dot, op.value); break;
  }
}

void RecordState::Apply(const Op& op, const AuthorId& author) {
  const FieldKind k = KindOfOp(op.kind);
  if (!IsValidKind(k)) return;
  auto it = fields.find(std::string_view(op.field));
  if (it == fields.end()) it = fields.emplace(op.field, FieldState(k)).first;
  it->second.Apply(op, author);
}

bool RecordState::deleted() const {
  const FieldState* f = Find(kDeletedField);
  if (f == nullptr || f->kind() != FieldKind::kLww) return false;
  const Value& v = f->as<LwwState>().value;
  return v.type() == ValueType::kBool && v.as_bool();
}

const FieldState* RecordState::Find(std::string_view field) const {
  auto it = fields.find(field);
  return it == fields.end() ? nullptr : &it->second;
}

}  // namespace hearth::crdt
