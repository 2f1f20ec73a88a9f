// Property tests: the same SET of ops (any order, any duplicates, any
// batching across replicas) gives equal states and byte-identical encodings,
// equal to an independent reference model of the merge rules.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "codec/codec.hpp"
#include "crdt/crdt_testgen.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using crdt::Dot;
using crdt::FieldState;
using crdt::OpKind;
using crdt::RecordState;
using testgen::AuthoredOp;
using testgen::Rng;

// ------------------------------------------------------------ reference model
// Written from the spec, as functions of the op set, without Apply.

using ModelVv = std::map<AuthorId, crdt::Hlc>;

void Join(ModelVv& vv, const crdt::VersionVector& c) {
  for (const auto& [a, h] : c.entries) vv[a] = std::max(vv[a], h);
}
bool Covered(const ModelVv& vv, const Dot& d) {
  auto it = vv.find(d.author);
  return (it == vv.end() ? 0 : it->second) >= d.hlc;
}
crdt::VersionVector ToVv(const ModelVv& m) {
  crdt::VersionVector vv;
  for (const auto& [a, h] : m) {
    if (h != 0) vv.entries.emplace_back(a, h);
  }
  return vv;
}

FieldState ModelField(const std::vector<const AuthoredOp*>& all) {
  uint8_t top = 0;
  for (const auto* o : all) top = std::max(top, static_cast<uint8_t>(crdt::KindOfOp(o->op.kind)));
  const FieldKind kind = static_cast<FieldKind>(top);
  std::vector<const AuthoredOp*> ops;
  for (const auto* o : all) {
    if (crdt::KindOfOp(o->op.kind) == kind) ops.push_back(o);
  }
  FieldState f(kind);
  switch (kind) {
    case FieldKind::kLww: {
      auto& s = f.as<crdt::LwwState>();
      for (const auto* o : ops) {
        Dot d{o->op.hlc, o->author};
        if (std::tie(d, o->op.value) > std::tie(s.dot, s.value)) {
          s.dot = d;
          s.value = o->op.value;
        }
      }
      break;
    }
    case FieldKind::kMv: {
      auto& s = f.as<crdt::MvState>();
      ModelVv seen;
      for (const auto* o : ops) Join(seen, o->op.context);
      std::set<std::pair<Dot, Value>> entries;
      for (const auto* o : ops) {
        Dot d{o->op.hlc, o->author};
        if (!Covered(seen, d)) entries.insert({d, o->op.value});
      }
      for (const auto& [d, v] : entries) s.entries.push_back({d, v});
      s.seen = ToVv(seen);
      break;
    }
    case FieldKind::kSet: {
      auto& s = f.as<crdt::SetState>();
      std::map<Value, ModelVv> removed;
      std::map<Value, std::set<Dot>> adds;
      for (const auto* o : ops) {
        if (o->op.kind == OpKind::kSetRemove) {
          Join(removed[o->op.value], o->op.context);
        } else {
          adds[o->op.value].insert({o->op.hlc, o->author});
        }
      }
      std::set<Value> values;
      for (const auto& [v, _] : removed) values.insert(v);
      for (const auto& [v, _] : adds) values.insert(v);
      for (const auto& v : values) {
        crdt::SetElement e;
        e.value = v;
        e.removed = ToVv(removed[v]);
        for (const auto& d : adds[v]) {
          if (!Covered(removed[v], d)) e.tags.push_back(d);
        }
        if (e.tags.empty() && e.removed.entries.empty()) continue;
        s.elements.push_back(std::move(e));
      }
      break;
    }
    case FieldKind::kCounter: {
      auto& s = f.as<crdt::CounterState>();
      std::map<AuthorId, std::pair<int64_t, int64_t>> m;
      for (const auto* o : ops) {
        auto& [p, n] = m[o->author];
        p = std::max(p, o->op.p);
        n = std::max(n, o->op.n);
      }
      for (const auto& [a, pn] : m) {
        if (pn.first != 0 || pn.second != 0) s.entries.push_back({a, pn.first, pn.second});
      }
      break;
    }
    case FieldKind::kStatus: {
      auto& s = f.as<crdt::StatusState>();
      for (const auto* o : ops) {
        const std::string& name = o->op.value.as_string();
        if (!s.set || std::tie(o->op.rank, name) > std::tie(s.rank, s.name)) {
          s.set = true;
          s.rank = o->op.rank;
          s.name = name;
        }
      }
      break;
    }
    case FieldKind::kLog: {
      std::set<std::pair<Dot, Value>> items;
      for (const auto* o : ops) items.insert({{o->op.hlc, o->author}, o->op.value});
      for (const auto& [d, v] : items) f.as<crdt::LogState>().items.push_back({d, v});
      break;
    }
  }
  return f;
}

RecordState Model(const RecordState& base, const std::vector<AuthoredOp>& ops) {
  RecordState st = base;
  std::map<std::string, std::vector<const AuthoredOp*>> by_field;
  for (const auto& o : ops) by_field[o.op.field].push_back(&o);
  for (const auto& [name, fops] : by_field) st.fields.emplace(name, ModelField(fops));
  return st;
}

// ------------------------------------------------------------ routes

RecordState Fresh() {
  RecordState st;
  st.collection = "tasks";
  st.id.bytes[0] = 0x42;
  return st;
}

void ApplyIdx(RecordState& st, const std::vector<AuthoredOp>& ops, const std::vector<size_t>& order) {
  for (size_t i : order) st.Apply(ops[i].op, ops[i].author);
}

std::vector<size_t> Shuffled(Rng& rng, size_t n, double dup_rate) {
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  for (size_t i = 0; i < n; ++i) {
    if (testgen::Chance(rng, dup_rate)) idx.push_back(i);
  }
  std::shuffle(idx.begin(), idx.end(), rng);
  return idx;
}

struct Checker {
  const RecordState& want;
  const Bytes& want_bytes;
  const std::vector<AuthoredOp>& ops;

  void Check(const RecordState& got, const char* route) const {
    if (!(got == want)) {
      std::string all;
      for (const auto& o : ops) all += "  " + testgen::OpStr(o) + "\n";
      FAIL("route ", std::string(route), " differs from the model\nops:\n", all, "want:\n", testgen::Dump(want),
           "got:\n", testgen::Dump(got));
    }
    const Bytes got_bytes = codec::EncodeRecordState(got);
    if (got_bytes != want_bytes) {
      FAIL("route ", std::string(route), " encodes differently: ", base::ToHex(got_bytes), " vs ",
           base::ToHex(want_bytes));
    }
  }
};

void RunRoutes(Rng& rng, const std::vector<AuthoredOp>& ops) {
  const RecordState want = Model(Fresh(), ops);
  const Bytes want_bytes = codec::EncodeRecordState(want);
  {
    auto back = codec::DecodeRecordState(want_bytes);
    REQUIRE_MESSAGE(back.ok(), back.status().ToString());
    REQUIRE(back.value() == want);
  }
  const Checker c{want, want_bytes, ops};
  const size_t n = ops.size();

  {  // in order of creation
    RecordState st = Fresh();
    for (const auto& o : ops) st.Apply(o.op, o.author);
    c.Check(st, "creation order");
  }
  {  // reversed, every op twice
    RecordState st = Fresh();
    for (size_t i = n; i-- > 0;) st.Apply(ops[i].op, ops[i].author);
    for (size_t i = n; i-- > 0;) st.Apply(ops[i].op, ops[i].author);
    c.Check(st, "reversed twice");
  }
  for (int k = 0; k < 2; ++k) {  // random permutations with duplicates
    RecordState st = Fresh();
    ApplyIdx(st, ops, Shuffled(rng, n, 0.3));
    c.Check(st, "random permutation with duplicates");
  }
  {  // batches on separate replicas, then everything else
    const size_t batches = 2 + rng() % 3;
    std::vector<size_t> perm = Shuffled(rng, n, 0.0);
    std::vector<RecordState> reps(batches, Fresh());
    for (size_t i = 0; i < perm.size(); ++i) {
      const auto& o = ops[perm[i]];
      reps[rng() % batches].Apply(o.op, o.author);
    }
    for (auto& r : reps) {
      // The rest arrives grouped by batch in any order; re-sending some of
      // what the replica already has.
      ApplyIdx(r, ops, Shuffled(rng, n, 0.2));
      c.Check(r, "batched replicas");
    }
  }
  {  // a decoded copy of a partial state keeps merging
    const size_t cut = n == 0 ? 0 : rng() % (n + 1);
    std::vector<size_t> perm = Shuffled(rng, n, 0.0);
    RecordState st = Fresh();
    for (size_t i = 0; i < cut; ++i) st.Apply(ops[perm[i]].op, ops[perm[i]].author);
    auto mid = codec::DecodeRecordState(codec::EncodeRecordState(st));
    REQUIRE(mid.ok());
    REQUIRE(mid.value() == st);
    RecordState resumed = std::move(mid.value());
    for (size_t i = cut; i < n; ++i) resumed.Apply(ops[perm[i]].op, ops[perm[i]].author);
    c.Check(resumed, "encode/decode midway");
  }
}

void RunFieldKind(FieldKind kind, uint64_t tag) {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(10000);
  for (int i = 0; i < cases; ++i) {
    if (!testgen::RunCase(i)) continue;
    const uint64_t seed = testgen::CaseSeed(base, tag, static_cast<uint64_t>(i));
    CAPTURE(base);
    CAPTURE(i);
    Rng rng(seed);
    const bool adversarial = testgen::Chance(rng, 0.25);
    const bool forked = testgen::Chance(rng, 0.15);
    const int authors = static_cast<int>(testgen::Uniform(rng, 2, 5));
    const int n_ops = static_cast<int>(testgen::Uniform(rng, 1, 24));
    std::vector<testgen::FieldSpec> fields{{"f", testgen::KindsOf(kind)}};
    auto ops = testgen::GenerateOps(rng, fields, authors, n_ops, adversarial, forked);
    RunRoutes(rng, ops);
  }
}

TEST_CASE("property: lww converges") { RunFieldKind(FieldKind::kLww, 1); }
TEST_CASE("property: mv converges") { RunFieldKind(FieldKind::kMv, 2); }
TEST_CASE("property: set converges") { RunFieldKind(FieldKind::kSet, 3); }
TEST_CASE("property: counter converges") { RunFieldKind(FieldKind::kCounter, 5); }
TEST_CASE("property: status converges") { RunFieldKind(FieldKind::kStatus, 6); }
TEST_CASE("property: log converges") { RunFieldKind(FieldKind::kLog, 7); }

TEST_CASE("property: records with mixed field kinds converge") {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(10000);
  static const FieldKind kKinds[] = {FieldKind::kLww,     FieldKind::kMv,     FieldKind::kSet,
                                     FieldKind::kCounter, FieldKind::kStatus, FieldKind::kLog};
  static const char* kNames[] = {"title", "tags", "n", "$deleted", "notes", "state"};
  static const OpKind kAllOps[] = {OpKind::kLwwSet, OpKind::kMvSet,  OpKind::kSetAdd,
                                   OpKind::kSetRemove, OpKind::kCounter, OpKind::kStatus,
                                   OpKind::kLogAppend};
  for (int i = 0; i < cases; ++i) {
    if (!testgen::RunCase(i)) continue;
    const uint64_t seed = testgen::CaseSeed(base, 100, static_cast<uint64_t>(i));
    CAPTURE(base);
    CAPTURE(i);
    Rng rng(seed);
    const int n_fields = static_cast<int>(testgen::Uniform(rng, 2, 5));
    std::vector<std::string> names(std::begin(kNames), std::end(kNames));
    std::shuffle(names.begin(), names.end(), rng);
    std::vector<testgen::FieldSpec> fields;
    for (int f = 0; f < n_fields; ++f) {
      testgen::FieldSpec fs{names[f], testgen::KindsOf(kKinds[rng() % 6])};
      if (names[f] == "$deleted") fs.kinds = {OpKind::kLwwSet};
      // Some fields also get ops of another kind (schema change, bad peer).
      if (testgen::Chance(rng, 0.2)) fs.kinds.push_back(kAllOps[rng() % 7]);
      fields.push_back(std::move(fs));
    }
    const bool adversarial = testgen::Chance(rng, 0.2);
    const int authors = static_cast<int>(testgen::Uniform(rng, 2, 5));
    const int n_ops = static_cast<int>(testgen::Uniform(rng, 1, 40));
    auto ops = testgen::GenerateOps(rng, fields, authors, n_ops, adversarial, testgen::Chance(rng, 0.1));
    RunRoutes(rng, ops);
  }
}

}  // namespace
}  // namespace hearth
