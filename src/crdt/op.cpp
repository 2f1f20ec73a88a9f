#include "crdt/op.hpp"

#include <algorithm>

namespace hearth::crdt {

namespace {

bool AuthorLess(const std::pair<AuthorId, Hlc>& e, const AuthorId& a) { return e.first < a; }

bool SortedUnique(const std::vector<std::pair<AuthorId, Hlc>>& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (!(v[i - 1].first < v[i].first)) return false;
  }
  return true;
}

}  // namespace

Hlc VersionVector::Get(const AuthorId& a) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), a, AuthorLess);
  return (it != entries.end() && it->first == a) ? it->second : 0;
}

void VersionVector::Raise(const AuthorId& a, Hlc h) {
  // An entry of 0 means the same as no entry; keep none so that equal
  // vectors are equal member for member.
  if (h == 0) return;
  auto it = std::lower_bound(entries.begin(), entries.end(), a, AuthorLess);
  if (it != entries.end() && it->first == a) {
    if (it->second < h) it->second = h;
  } else {
    entries.insert(it, {a, h});
  }
}

void VersionVector::MergeFrom(const VersionVector& other) {
  if (other.entries.empty()) return;
  if (!SortedUnique(other.entries)) {
    // Not built through Raise/MergeFrom: merge entry by entry.
    for (const auto& [a, h] : other.entries) Raise(a, h);
    return;
  }
  if (entries.empty()) {
    entries.reserve(other.entries.size());
    for (const auto& e : other.entries) {
      if (e.second != 0) entries.push_back(e);
    }
    return;
  }
  // In place when every author of `other` is already here (the common
  // case once a field has been written a few times): no allocation.
  size_t missing = 0;
  {
    auto a = entries.begin();
    for (const auto& e : other.entries) {
      while (a != entries.end() && a->first < e.first) ++a;
      if (a != entries.end() && a->first == e.first) {
        if (a->second < e.second) a->second = e.second;
      } else if (e.second != 0) {
        ++missing;
      }
    }
  }
  if (missing == 0) return;
  std::vector<std::pair<AuthorId, Hlc>> merged;
  merged.reserve(entries.size() + missing);
  auto a = entries.begin();
  auto b = other.entries.begin();
  while (a != entries.end() || b != other.entries.end()) {
    if (b == other.entries.end() || (a != entries.end() && a->first < b->first)) {
      merged.push_back(*a++);
    } else if (a == entries.end() || b->first < a->first) {
      if (b->second != 0) merged.push_back(*b);
      ++b;
    } else {
      merged.emplace_back(a->first, std::max(a->second, b->second));
      ++a;
      ++b;
    }
  }
  entries = std::move(merged);
}

FieldKind KindOfOp(OpKind k) {
  switch (k) {
    case OpKind::kLwwSet: return FieldKind::kLww;
    case OpKind::kMvSet: return FieldKind::kMv;
    case OpKind::kSetAdd:
    case OpKind::kSetRemove: return FieldKind::kSet;
    case OpKind::kCounter: return FieldKind::kCounter;
    case OpKind::kStatus: return FieldKind::kStatus;
    case OpKind::kLogAppend: return FieldKind::kLog;
  }
  // Not a valid op kind: a value below every FieldKind, so such ops are
  // ignored by FieldState::Apply and RecordState::Apply.
  return static_cast<FieldKind>(0);
}

}  // namespace hearth::crdt
