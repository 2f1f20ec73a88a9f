// Random op generation for the CRDT property tests (tests/crdt) and the
// codec round-trip tests (tests/codec). Ops come from simulated replicas:
// each author keeps its own partial state, receives random subsets of the
// ops made so far, and builds contexts (WriteContext / RemoveContext) and
// cumulative counter totals from what it has seen, as the real replica does.
// Some cases are "adversarial" instead: arbitrary contexts and totals, which
// the merge must still handle deterministically.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "crdt/hlc.hpp"
#include "crdt/op.hpp"
#include "crdt/record_state.hpp"
#include "hearth/value.hpp"

namespace hearth::testgen {

using Rng = std::mt19937_64;

inline uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Seed of case `i` of test `tag`, from the process base seed.
inline uint64_t CaseSeed(uint64_t base, uint64_t tag, uint64_t i) {
  return SplitMix(SplitMix(base ^ (tag * 0x100000001b3ull)) + i);
}

inline uint64_t Uniform(Rng& rng, uint64_t lo, uint64_t hi) {  // inclusive
  return lo + rng() % (hi - lo + 1);
}
inline bool Chance(Rng& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

inline AuthorId MakeAuthor(uint8_t tag, Rng& rng) {
  AuthorId a;
  for (auto& b : a.bytes) b = static_cast<uint8_t>(rng());
  a.bytes[0] = tag;  // distinct authors, random order otherwise
  return a;
}

inline std::vector<AuthorId> Authors(Rng& rng, int n) {
  std::vector<AuthorId> out;
  std::vector<uint8_t> tags(256);
  for (int i = 0; i < 256; ++i) tags[i] = static_cast<uint8_t>(i);
  std::shuffle(tags.begin(), tags.end(), rng);
  for (int i = 0; i < n; ++i) out.push_back(MakeAuthor(tags[i], rng));
  return out;
}

// Values from a small domain, so that equal values and ties happen.
inline Value SmallValue(Rng& rng) {
  switch (rng() % 12) {
    case 0: return Value();
    case 1: return Value(static_cast<bool>(rng() & 1));
    case 2: return Value(static_cast<int64_t>(rng() % 3) - 1);
    case 3: return Value(std::numeric_limits<int64_t>::min());
    case 4: return Value(rng() & 1 ? 0.0 : -0.0);
    case 5: return Value(std::numeric_limits<double>::quiet_NaN());
    case 6: return Value(std::string(1, static_cast<char>('a' + rng() % 3)));
    case 7: return Value(std::string(""));
    case 8: return Value(Bytes{static_cast<uint8_t>(rng() % 2)});
    case 9: return Value(Timestamp{static_cast<int64_t>(rng() % 2)});
    case 10: {
      RecordId r;
      r.bytes[15] = static_cast<uint8_t>(rng() % 2);
      return Value(r);
    }
    default: return Value(std::string(40, static_cast<char>('x' + rng() % 2)));
  }
}

// A valid UTF-8 string of exactly n bytes (strings are UTF-8 by the format,
// docs/delta-format.md "Names and strings"): ASCII (NUL included) mixed with
// 2-, 3- and 4-byte sequences over the whole range, surrogates excluded.
inline std::string Utf8String(Rng& rng, size_t n) {
  std::string s;
  s.reserve(n);
  while (s.size() < n) {
    const size_t room = n - s.size();
    const size_t len = 1 + rng() % std::min<size_t>(room, 4);
    uint32_t cp;
    if (len == 1) cp = static_cast<uint32_t>(rng() % 0x80);
    else if (len == 2) cp = 0x80 + static_cast<uint32_t>(rng() % (0x800 - 0x80));
    else if (len == 3) {
      do cp = 0x800 + static_cast<uint32_t>(rng() % (0x10000 - 0x800));
      while (cp >= 0xd800 && cp <= 0xdfff);
    } else cp = 0x10000 + static_cast<uint32_t>(rng() % (0x110000 - 0x10000));
    if (len == 1) {
      s.push_back(static_cast<char>(cp));
    } else if (len == 2) {
      s.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (len == 3) {
      s.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      s.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  return s;
}

// Values over the whole domain, with the encoding boundaries.
inline Value AnyValue(Rng& rng) {
  static const int64_t kInts[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295ll,
                                  4294967296ll, std::numeric_limits<int64_t>::max(), -1, -32, -33,
                                  -128, -129, -32768, -32769, -2147483648ll, -2147483649ll,
                                  std::numeric_limits<int64_t>::min()};
  static const size_t kLens[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
  switch (rng() % 10) {
    case 0: return Value();
    case 1: return Value(static_cast<bool>(rng() & 1));
    case 2:
      if (rng() & 1) return Value(kInts[rng() % std::size(kInts)]);
      return Value(static_cast<int64_t>(rng()) >> (rng() % 64));
    case 3: {
      uint64_t bits = rng();
      if (rng() & 1) bits &= 0xfff0000000000000ull;  // 0, -0, inf, some NaNs
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return Value(d);
    }
    case 4:
    case 5: {
      size_t n = (rng() % 8 == 0) ? kLens[rng() % std::size(kLens)] : rng() % 40;
      return Value(Utf8String(rng, n));
    }
    case 6: {
      size_t n = (rng() % 8 == 0) ? kLens[rng() % std::size(kLens)] : rng() % 40;
      Bytes b(n);
      for (auto& c : b) c = static_cast<uint8_t>(rng());
      return Value(std::move(b));
    }
    case 7: return Value(Timestamp{static_cast<int64_t>(rng())});
    case 8: {
      RecordId r;
      for (auto& b : r.bytes) b = static_cast<uint8_t>(rng());
      return Value(r);
    }
    default: return SmallValue(rng);
  }
}

struct AuthoredOp {
  crdt::Op op;
  AuthorId author;
};

// Which op kinds a field receives.
struct FieldSpec {
  std::string name;
  std::vector<crdt::OpKind> kinds;  // picked uniformly per op
};

inline std::vector<crdt::OpKind> KindsOf(FieldKind k) {
  using crdt::OpKind;
  switch (k) {
    case FieldKind::kLww: return {OpKind::kLwwSet};
    case FieldKind::kMv: return {OpKind::kMvSet};
    case FieldKind::kSet: return {OpKind::kSetAdd, OpKind::kSetAdd, OpKind::kSetRemove};
    case FieldKind::kCounter: return {OpKind::kCounter};
    case FieldKind::kStatus: return {OpKind::kStatus};
    case FieldKind::kLog: return {OpKind::kLogAppend};
  }
  return {};
}

inline crdt::VersionVector RandomVv(Rng& rng, const std::vector<AuthorId>& authors, crdt::Hlc max_hlc) {
  crdt::VersionVector vv;
  for (const auto& a : authors) {
    if (Chance(rng, 0.5)) vv.Raise(a, Uniform(rng, 0, max_hlc));
  }
  return vv;
}

// Generates ops by simulating replicas. `adversarial`: contexts and hlcs
// drawn at random instead of from replica state.
inline std::vector<AuthoredOp> GenerateOps(Rng& rng, const std::vector<FieldSpec>& fields,
                                           int n_authors, int n_ops, bool adversarial,
                                           bool forked = false) {
  std::vector<AuthorId> ids = Authors(rng, n_authors);
  struct Replica {
    AuthorId id;
    crdt::RecordState state;
    crdt::Hlc clock = 0;
  };
  std::vector<Replica> reps;
  for (const auto& id : ids) reps.push_back({id, {}, 0});
  if (forked && !reps.empty()) {
    // A second replica with the same author id (restored from a backup):
    // the same dots can carry different values.
    reps.push_back({ids[0], {}, 0});
  }
  std::vector<AuthoredOp> ops;
  uint64_t now = 1;
  for (int i = 0; i < n_ops; ++i) {
    Replica& r = reps[rng() % reps.size()];
    // Receive a random subset of what exists.
    if (!ops.empty() && Chance(rng, 0.6)) {
      const double q = std::uniform_real_distribution<double>(0, 1)(rng);
      for (const auto& ao : ops) {
        if (Chance(rng, q)) {
          r.state.Apply(ao.op, ao.author);
          r.clock = crdt::HlcObserve(r.clock, ao.op.hlc);
        }
      }
    }
    now += rng() % 3;
    const FieldSpec& fs = fields[rng() % fields.size()];
    crdt::Op op;
    op.field = fs.name;
    op.kind = fs.kinds[rng() % fs.kinds.size()];
    if (adversarial) {
      op.hlc = Uniform(rng, 0, 6);
    } else {
      r.clock = crdt::HlcTick(r.clock, now);
      op.hlc = r.clock;
    }
    const crdt::FieldState* cur = r.state.Find(fs.name);
    const FieldKind want = crdt::KindOfOp(op.kind);
    const bool same_kind = cur != nullptr && cur->kind() == want;
    crdt::Hlc max_hlc = adversarial ? 6 : r.clock;
    switch (op.kind) {
      case crdt::OpKind::kLwwSet:
      case crdt::OpKind::kSetAdd:
      case crdt::OpKind::kLogAppend: op.value = SmallValue(rng); break;
      case crdt::OpKind::kMvSet:
        op.value = SmallValue(rng);
        if (adversarial) {
          op.context = RandomVv(rng, ids, max_hlc);
        } else if (same_kind) {
          op.context = cur->as<crdt::MvState>().WriteContext();
        }
        break;
      case crdt::OpKind::kSetRemove:
        op.value = SmallValue(rng);
        if (!adversarial && same_kind) {
          // Usually remove something present.
          auto members = cur->as<crdt::SetState>().Members();
          if (!members.empty() && Chance(rng, 0.8)) op.value = members[rng() % members.size()];
        }
        if (adversarial) {
          op.context = RandomVv(rng, ids, max_hlc);
        } else if (same_kind) {
          op.context = cur->as<crdt::SetState>().RemoveContext(op.value);
        }
        break;
      case crdt::OpKind::kCounter: {
        if (adversarial) {
          op.p = static_cast<int64_t>(rng() % 5);
          op.n = static_cast<int64_t>(rng() % 5);
          if (Chance(rng, 0.05)) op.p = std::numeric_limits<int64_t>::max();
        } else {
          auto [p, n] = same_kind ? cur->as<crdt::CounterState>().TotalsOf(r.id)
                                  : std::pair<int64_t, int64_t>{0, 0};
          op.p = p + static_cast<int64_t>(rng() % 4);
          op.n = n + static_cast<int64_t>(rng() % 3);
        }
        break;
      }
      case crdt::OpKind::kStatus:
        op.rank = static_cast<uint32_t>(rng() % 4);
        op.value = Value(std::string(1, static_cast<char>('a' + rng() % 3)));
        break;
    }
    r.state.Apply(op, r.id);
    ops.push_back({std::move(op), r.id});
  }
  return ops;
}

}  // namespace hearth::testgen

namespace hearth::testgen {

// HEARTH_CASE=<i>: run only case i of each randomized test (with the
// HEARTH_SEED printed by the failing run).
inline bool RunCase(int i) {
  static const int only = [] {
    const char* e = std::getenv("HEARTH_CASE");
    return (e && *e) ? std::atoi(e) : -1;
  }();
  return only < 0 || only == i;
}

inline std::string DotStr(const crdt::Dot& d) {
  return "(" + std::to_string(d.hlc) + "," + std::to_string(d.author.bytes[0]) + ")";
}
inline std::string VvStr(const crdt::VersionVector& vv) {
  std::string s = "{";
  for (const auto& [a, h] : vv.entries) s += std::to_string(a.bytes[0]) + ":" + std::to_string(h) + " ";
  return s + "}";
}

// Human-readable dump for failure messages (authors by their first byte).
inline std::string Dump(const crdt::RecordState& st) {
  std::string s;
  for (const auto& [name, f] : st.fields) {
    s += name + " kind=" + std::to_string(static_cast<int>(f.kind())) + ": ";
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, crdt::LwwState>) {
            s += DotStr(x.dot) + "=" + x.value.ToString();
          } else if constexpr (std::is_same_v<T, crdt::MvState>) {
            for (const auto& e : x.entries) s += DotStr(e.dot) + "=" + e.value.ToString() + " ";
            s += "seen=" + VvStr(x.seen);
          } else if constexpr (std::is_same_v<T, crdt::SetState>) {
            for (const auto& e : x.elements) {
              s += e.value.ToString() + "[";
              for (const auto& t : e.tags) s += DotStr(t);
              s += " rm=" + VvStr(e.removed) + "] ";
            }
          } else if constexpr (std::is_same_v<T, crdt::CounterState>) {
            for (const auto& e : x.entries) {
              s += std::to_string(e.author.bytes[0]) + ":+" + std::to_string(e.p) + "-" +
                   std::to_string(e.n) + " ";
            }
          } else if constexpr (std::is_same_v<T, crdt::StatusState>) {
            s += x.set ? std::to_string(x.rank) + "/" + x.name : "unset";
          } else {
            for (const auto& e : x.items) s += DotStr(e.dot) + "=" + e.value.ToString() + " ";
          }
        },
        f.storage());
    s += "\n";
  }
  return s;
}

inline std::string OpStr(const AuthoredOp& ao) {
  const auto& op = ao.op;
  std::string s = op.field + " k" + std::to_string(static_cast<int>(op.kind)) + " " +
                  DotStr({op.hlc, ao.author}) + " v=" + op.value.ToString();
  if (!op.context.entries.empty()) s += " ctx=" + VvStr(op.context);
  if (op.kind == crdt::OpKind::kCounter) s += " p=" + std::to_string(op.p) + " n=" + std::to_string(op.n);
  if (op.kind == crdt::OpKind::kStatus) s += " rank=" + std::to_string(op.rank);
  return s;
}

}  // namespace hearth::testgen
