// export, import, bundle-info, merge, diff.
#include <cstdio>

#include "common.hpp"
#include "hearth/inspect.hpp"
#include "hearth/bundle.hpp"
#include "hearth/heads.hpp"

namespace hcli {

using namespace hearth;

namespace {

json ReportJson(const BundleImportReport& rep) {
  json rej = json::array();
  for (const auto& r : rep.rejected) {
    rej.push_back({{"index", r.index}, {"author", r.author.ToHex()}, {"seq", r.seq}, {"reason", r.reason}});
  }
  return {{"applied", rep.applied}, {"duplicate", rep.duplicate}, {"pending", rep.pending},
          {"unreadable", rep.unreadable}, {"fork", rep.fork},           {"held", rep.held},           {"denied", rep.denied},
          {"waiting_schema", rep.waiting_schema}, {"unblocked", rep.unblocked}, {"rejected", rej},
          {"withheld", rep.withheld}, {"bodies", rep.bodies}};
}

// Deltas the policy refuses now that it did not refuse before (import/merge
// report them with reasons; BundleImportReport only counts them).
std::vector<DeniedDelta> NewlyDenied(const std::vector<DeniedDelta>& before, const Replica& r) {
  std::set<std::pair<AuthorId, uint64_t>> seen;
  for (const auto& d : before) seen.insert({d.author, d.seq});
  std::vector<DeniedDelta> out;
  for (auto& d : Must(inspect::Denied(r), "listing the denied deltas"))
    if (!seen.count({d.author, d.seq})) out.push_back(std::move(d));
  return out;
}

// Prints an import/merge report; exit 1 when something was rejected.
int PrintReport(const Globals& g, const std::string& what, const BundleImportReport& rep, json extra,
                const std::vector<DeniedDelta>& denied, const Replica& r) {
  // The scopes held without a key (whole replica), when this run stored some.
  std::vector<UnreadableKey> missing;
  if (rep.unreadable > 0) missing = Must(inspect::Unreadable(r), "listing the unreadable deltas");
  if (g.json) {
    json j = ReportJson(rep);
    json dj = json::array();
    for (const auto& d : denied) {
      dj.push_back({{"author", d.author.ToHex()}, {"seq", d.seq}, {"scope", d.scope}, {"reason", d.reason}});
    }
    j["denied_deltas"] = dj;
    json mj = json::array();
    for (const auto& u : missing) {
      mj.push_back({{"scope", u.key.scope}, {"epoch", u.key.epoch}, {"deltas", u.deltas},
                    {"other_key_held", u.other_key_held}});
    }
    j["without_key"] = mj;
    for (auto& [k, v] : extra.items()) j[k] = v;
    PrintJson(j);
  } else if (!g.quiet) {
    uint64_t total = rep.applied + rep.duplicate + rep.pending + rep.unreadable + rep.fork + rep.held + rep.denied +
                     rep.waiting_schema + rep.withheld + rep.bodies + rep.rejected.size();
    std::cout << what << ": " << total << " delta(s)\n";
    Table t({"OUTCOME", "COUNT", "MEANING"});
    t.Add({"applied", std::to_string(rep.applied), "new, applied to the records"});
    t.Add({"duplicate", std::to_string(rep.duplicate), "already held (no change)"});
    t.Add({"unreadable", std::to_string(rep.unreadable), "kept and forwarded, no key to read its scope"});
    t.Add({"pending", std::to_string(rep.pending), "waiting for an earlier delta (see `hearth pending`)"});
    t.Add({"fork", std::to_string(rep.fork), "author signed two versions (see `hearth forks`)"});
    t.Add({"held", std::to_string(rep.held), "author is frozen by a fork"});
    t.Add({"denied", std::to_string(rep.denied), "kept, but the access policy refuses it"});
    t.Add({"waiting_schema", std::to_string(rep.waiting_schema),
           "kept, waits for a newer schema (see `hearth pending`)"});
    t.Add({"withheld", std::to_string(rep.withheld), "stub only: chained, body not sent to this node"});
    t.Add({"bodies", std::to_string(rep.bodies), "body of a withheld delta: stored, applied if allowed"});
    t.Add({"rejected", std::to_string(rep.rejected.size()), "failed validation, not applied"});
    t.Print();
    if (rep.unblocked) std::cout << rep.unblocked << " earlier pending delta(s) applied as gaps filled\n";
    for (const auto& r : rep.rejected) {
      std::cout << "  rejected #" << r.index << " " << r.author.ToHex().substr(0, 16) << "/" << r.seq << ": "
                << r.reason << "\n";
    }
    for (const auto& d : denied) {
      std::cout << "  denied " << d.author.ToHex().substr(0, 16) << "/" << d.seq << " (" << d.scope << "): " << d.reason
                << "\n";
    }
    if (rep.denied) std::cout << "see `hearth denied` for every refused delta\n";
    for (const auto& u : missing) {
      std::cout << u.deltas << " delta(s) of scope " << u.key.scope << " epoch " << u.key.epoch;
      if (u.other_key_held) {
        std::cout << " are held unreadable: the key held here for it is a different one, created elsewhere; way "
                     "out: `hearth keys rotate "
                  << u.key.scope << "` on one replica, then export/import the new epoch\n";
      } else {
        std::cout << " are held without its key: import it with `hearth keys import`\n";
      }
    }
  }
  return rep.rejected.empty() ? kExitOk : kExitProblem;
}

// Two replicas holding different deltas at one (author, seq): the author
// forked (docs/durability.md, "Restoring a backup").
struct ForkSeen {
  AuthorId author;
  uint64_t seq = 0;
  Hash32 a{}, b{};  // the two deltas' hashes
};

Hash32 DeltaHash(const Replica& r, const std::string& dir, const AuthorId& au, uint64_t seq) {
  Bytes d = Must(r.GetDelta(au, seq), "reading " + dir + " delta " + au.ToHex() + "/" + std::to_string(seq));
  return Must(inspect::Describe(r, d), "reading " + dir + " delta " + au.ToHex() + "/" + std::to_string(seq)).hash;
}

// The first seq where `a` and `b` hold different deltas of `au`, both
// holding 1..upto. Feeds chain by hash (each delta names its
// predecessor's), so equal deltas at k mean equal deltas below k: a binary
// search over the positions.
std::optional<ForkSeen> FindFork(const Replica& a, const std::string& a_dir, const Replica& b,
                                 const std::string& b_dir, const AuthorId& au, uint64_t upto) {
  if (upto == 0) return std::nullopt;
  auto differ = [&](uint64_t seq) { return DeltaHash(a, a_dir, au, seq) != DeltaHash(b, b_dir, au, seq); };
  if (!differ(upto)) return std::nullopt;
  uint64_t lo = 1, hi = upto;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (differ(mid)) hi = mid;
    else lo = mid + 1;
  }
  return ForkSeen{au, lo, DeltaHash(a, a_dir, au, lo), DeltaHash(b, b_dir, au, lo)};
}

// Every author both replicas hold, forked.
std::vector<ForkSeen> FindForks(const Replica& a, const std::string& a_dir, const Heads& ha, const Replica& b,
                                const std::string& b_dir, const Heads& hb) {
  std::vector<ForkSeen> out;
  for (const auto& [au, h] : ha) {
    auto it = hb.find(au);
    if (it == hb.end()) continue;
    if (auto f = FindFork(a, a_dir, b, b_dir, au, std::min(h.seq, it->second.seq))) out.push_back(*f);
  }
  return out;
}

const char* kForkAdvice =
    "the author forked: two copies of one identity wrote (a backup or copied directory written to without "
    "`hearth restore`). Merging cannot mend it. Run `hearth restore DIR` on the copy that is not the live one "
    "(docs/durability.md, \"Restoring a backup\"); peers keep both versions as proof (`hearth forks`)";

struct ExportArgs {
  std::string out, since_file, for_dir;
};

int Export(Globals& g, const ExportArgs& a) {
  Heads since;
  std::string basis = "from scratch";
  // --for DIR: a bundle for that receiver (docs/bundle-format.md, "Bundles
  // for one receiver"): stubs where it may not receive a body, and the
  // bodies of its withheld deltas it may receive now.
  std::optional<BundleTarget> target;
  if (!a.for_dir.empty()) {
    auto other = OpenReplica(a.for_dir);  // closed before the source is opened
    since = Must(other->GetHeads(), "reading the heads of " + a.for_dir);
    target.emplace();
    target->receiver = other->author();
    for (const auto& w : Must(other->Withheld(), "listing the withheld deltas of " + a.for_dir)) {
      target->withheld.emplace_back(w.author, w.seq);
    }
    basis = "for " + a.for_dir;
  } else if (!a.since_file.empty()) {
    std::string text = a.since_file == "-" ? std::string(std::istreambuf_iterator<char>(std::cin), {})
                                           : ReadSmallFile(a.since_file, "heads file");
    auto parsed = hearth::HeadsFromJson(text);  // the library's heads format
    if (!parsed.ok()) FailStatus(parsed.status(), a.since_file);
    since = std::move(parsed).value();
    basis = "since the heads in " + a.since_file;
  }
  auto r = OpenGlobal(g);
  Progress p(g, "export");
  auto progress = [&](std::string_view, uint64_t done, uint64_t total) { p.Update(done, total, "deltas"); };
  BundleTargetReport tr;
  auto rep = target ? ExportBundleFor(*r, since, a.out, *target, &tr, progress)
                    : ExportBundle(*r, since, a.out, progress);
  p.Done();
  if (!rep.ok()) FailStatus(rep.status(), "export to " + a.out);
  if (g.json) {
    json j = {{"file", a.out}, {"entries", rep->entries}, {"bytes", rep->bytes},
              {"since", HeadsJson(since)}, {"covers", HeadsJson(rep->covers)}};
    if (target) {
      j["stubs"] = tr.stubs;
      j["bodies"] = tr.bodies;
      j["stopped_feeds"] = tr.stopped_feeds;
    }
    PrintJson(j);
  } else {
    Say(g, "Wrote " + std::to_string(rep->entries) + " delta(s), " + HumanBytes(rep->bytes) + ", to " + a.out +
               " (" + basis + "; covers " + std::to_string(rep->covers.size()) + " feed(s))");
    if (target && (tr.stubs || tr.bodies || tr.stopped_feeds)) {
      Say(g, "  " + std::to_string(tr.stubs) + " as stubs (bodies the receiver may not receive), " +
                 std::to_string(tr.bodies) + " bodies of its withheld deltas, " +
                 std::to_string(tr.stopped_feeds) + " feed(s) stopped at a version 1/2 delta it may not receive");
    }
  }
  return kExitOk;
}

int Import(Globals& g, const std::string& file) {
  RequireRegularFile(file, "bundle");
  auto r = OpenGlobal(g);
  const auto denied_before = Must(inspect::Denied(*r), "listing the denied deltas");
  Progress check(g, "check");
  Progress apply(g, "import");
  auto rep = ImportBundle(*r, file, [&](std::string_view phase, uint64_t done, uint64_t total) {
    if (phase == "check") check.Update(done, total, "bytes");
    else {
      check.Done();
      apply.Update(done, total, "deltas");
    }
  });
  check.Done();
  apply.Done();
  if (!rep.ok()) {
    std::string hint = rep.status().code() == Code::kCorruption
                           ? "nothing was applied; copy the bundle again from its source (or export a new one)"
                           : rep.status().code() == Code::kNotFound ? "" : "deltas applied before the error stay; run the import again to resume";
    FailStatus(rep.status(), "import " + file, hint);
  }
  return PrintReport(g, "Imported " + file, *rep,
                     {{"file", file}, {"entries", rep->info.entries}, {"bytes", rep->info.bytes}},
                     NewlyDenied(denied_before, *r), *r);
}

int BundleInfoCmd(Globals& g, const std::string& file) {
  RequireRegularFile(file, "bundle");
  auto info = CheckBundle(file);
  if (!info.ok()) FailStatus(info.status(), "bundle " + file);
  if (g.json) {
    PrintJson({{"file", file}, {"version", info->version}, {"entries", info->entries}, {"bytes", info->bytes},
               {"checksum", Hex(info->checksum)}, {"since", HeadsJson(info->since)},
               {"covers", HeadsJson(info->covers)}});
    return kExitOk;
  }
  std::cout << "bundle    " << file << " (version " << int(info->version) << ", " << HumanBytes(info->bytes) << ")\n"
            << "entries   " << info->entries << "\n"
            << "checksum  " << Hex(info->checksum) << " (ok)\n";
  Table t({"AUTHOR", "SINCE", "COVERS"});
  for (const auto& [au, h] : info->covers) {
    auto it = info->since.find(au);
    t.Add({au.ToHex(), it == info->since.end() ? "0" : std::to_string(it->second.seq), std::to_string(h.seq)});
  }
  t.Print();
  return kExitOk;
}

int Merge(Globals& g, const std::string& src_dir, const std::string& dst_dir) {
  auto src = OpenReplica(src_dir);
  auto dst = OpenReplica(dst_dir);
  const auto denied_before = Must(inspect::Denied(*dst), "listing the denied deltas");
  Heads want = Must(src->GetHeads(), "reading the heads");
  Heads have = Must(dst->GetHeads(), "reading the heads");
  // Forks: SRC and DST differ at one (author, seq), or applying stores a
  // fork proof in DST.
  std::vector<ForkSeen> forks = FindForks(*src, src_dir, want, *dst, dst_dir, have);
  std::set<std::pair<AuthorId, uint64_t>> proofs_before;
  for (const auto& f : Must(inspect::Forks(*dst), "listing the fork proofs")) proofs_before.insert({f.author, f.seq});
  uint64_t total = 0;
  for (const auto& [au, h] : want) {
    auto it = have.find(au);
    uint64_t s = it == have.end() ? 0 : it->second.seq;
    if (h.seq > s) total += h.seq - s;
  }
  BundleImportReport rep;
  Progress p(g, "merge");
  std::vector<Bytes> chunk;
  uint64_t done = 0, chunk_bytes = 0;
  auto flush = [&] {
    uint64_t first = done - chunk.size();
    Status s = ApplyDeltas(*dst, chunk, first, rep);  // the same path as network sync
    if (!s.ok()) {
      p.Done();
      FailStatus(s, "merge into " + dst_dir, "deltas applied so far stay; run the merge again to resume");
    }
    chunk_bytes = 0;
    p.Update(done, total, "deltas");
  };
  for (const auto& [au, h] : want) {
    auto it = have.find(au);
    for (uint64_t seq = (it == have.end() ? 0 : it->second.seq) + 1; seq <= h.seq; ++seq) {
      chunk.push_back(Must(src->GetDelta(au, seq), "reading " + src_dir + " delta " + au.ToHex() + "/" + std::to_string(seq)));
      chunk_bytes += chunk.back().size();
      ++done;
      if (chunk.size() >= 1024 || chunk_bytes >= (8u << 20)) flush();
    }
  }
  if (!chunk.empty()) flush();
  p.Done();
  for (const auto& f : Must(inspect::Forks(*dst), "listing the fork proofs")) {
    if (proofs_before.count({f.author, f.seq})) continue;
    bool known = false;
    for (const auto& k : forks) known = known || (k.author == f.author && k.seq == f.seq);
    if (known) continue;
    forks.push_back({f.author, f.seq, Must(inspect::Describe(*dst, f.first), "reading a fork proof").hash,
                     Must(inspect::Describe(*dst, f.second), "reading a fork proof").hash});
  }
  json fj = json::array();
  for (const auto& f : forks) {
    fj.push_back({{"author", f.author.ToHex()}, {"seq", f.seq}, {"hash_a", Hex(f.a)}, {"hash_b", Hex(f.b)}});
  }
  int rc = PrintReport(g, "Merged " + src_dir + " into " + dst_dir, rep,
                       {{"src", src_dir}, {"dst", dst_dir}, {"forks", fj}}, NewlyDenied(denied_before, *dst), *dst);
  if (forks.empty()) return rc;
  if (!g.json && !g.quiet) {
    std::cout << "\n" << forks.size() << " forked feed(s):\n";
    Table t({"AUTHOR", "SEQ", "HASH (SRC)", "HASH (DST)"});
    for (const auto& f : forks) t.Add({f.author.ToHex(), std::to_string(f.seq), Hex(f.a), Hex(f.b)});
    t.Print();
    std::cout << kForkAdvice << "\n";
  }
  return kExitProblem;
}

// Each record as MessagePack of its JSON form: exact bytes, so strings that
// are not valid UTF-8 neither throw nor compare equal to each other.
std::map<RecordId, std::vector<uint8_t>> Collect(const Replica& r, const std::string& c) {
  std::map<RecordId, std::vector<uint8_t>> out;
  Status s = r.Scan(c, [&](const Record& rec) {
    out[rec.id] = json::to_msgpack(RecordToJson(rec));
    return true;
  });
  (void)s;  // a collection unknown to this replica's schema: nothing
  return out;
}

int Diff(Globals& g, const std::string& a_dir, const std::string& b_dir, size_t limit) {
  auto a = OpenReplica(a_dir);
  auto b = OpenReplica(b_dir);
  Heads ha = Must(a->GetHeads(), "reading the heads"), hb = Must(b->GetHeads(), "reading the heads");
  std::set<AuthorId> authors;
  for (const auto& [au, h] : ha) authors.insert(au);
  for (const auto& [au, h] : hb) authors.insert(au);
  json feeds = json::array();
  uint64_t forked = 0;
  Table tf({"AUTHOR", "A_SEQ", "B_SEQ", "STATE"});
  for (const auto& au : authors) {
    auto ia = ha.find(au), ib = hb.find(au);
    uint64_t sa = ia == ha.end() ? 0 : ia->second.seq, sb = ib == hb.end() ? 0 : ib->second.seq;
    std::string state;
    std::optional<ForkSeen> fork;
    if (sa && sb && !(sa == sb && ia->second.hash == ib->second.hash)) fork = FindFork(*a, a_dir, *b, b_dir, au, std::min(sa, sb));
    if (sa == sb && !fork) continue;
    if (fork) {
      state = "forked at seq " + std::to_string(fork->seq) + " (different deltas)";
      ++forked;
    } else {
      state = sa > sb ? "A ahead by " + std::to_string(sa - sb) : "B ahead by " + std::to_string(sb - sa);
    }
    feeds.push_back({{"author", au.ToHex()}, {"a_seq", sa}, {"b_seq", sb}, {"state", state}});
    tf.Add({au.ToHex().substr(0, 16), std::to_string(sa), std::to_string(sb), state});
  }
  std::set<std::string> collections;
  for (const auto& c : a->schema().collections()) collections.insert(c.name);
  for (const auto& c : b->schema().collections()) collections.insert(c.name);
  json records = json::array();
  Table tr({"COLLECTION", "ID", "DIFFERENCE"});
  uint64_t record_diffs = 0;
  for (const auto& c : collections) {
    auto ra = Collect(*a, c), rb = Collect(*b, c);
    auto add = [&](const RecordId& id, const std::string& what) {
      ++record_diffs;
      if (records.size() < limit) {
        records.push_back({{"collection", c}, {"id", id.ToHex()}, {"difference", what}});
        tr.Add({c, id.ToHex(), what});
      }
    };
    for (const auto& [id, js] : ra) {
      auto it = rb.find(id);
      if (it == rb.end()) add(id, "only in A");
      else if (it->second != js) {
        json fa = json::from_msgpack(js)["fields"], fb = json::from_msgpack(it->second)["fields"];
        std::string fields;
        for (auto& [k, v] : fa.items())
          if (!fb.contains(k) || fb[k] != v) fields += (fields.empty() ? "" : ",") + k;
        for (auto& [k, v] : fb.items())
          if (!fa.contains(k)) fields += (fields.empty() ? "" : ",") + k;
        add(id, fields.empty() ? "deleted in one" : "fields differ: " + fields);
      }
    }
    for (const auto& [id, js] : rb)
      if (!ra.count(id)) add(id, "only in B");
  }
  std::string da = Hex(Must(a->Digest(), "digest of " + a_dir)), db = Hex(Must(b->Digest(), "digest of " + b_dir));
  bool same = feeds.empty() && record_diffs == 0;
  if (g.json) {
    PrintJson({{"same", same}, {"a", a_dir}, {"b", b_dir}, {"a_digest", da}, {"b_digest", db},
               {"feeds", feeds}, {"forked", forked}, {"record_differences", record_diffs}, {"records", records}});
  } else if (same) {
    Say(g, "no differences (digest " + da + ")");
  } else if (!g.quiet) {
    std::cout << "A = " << a_dir << "  digest " << da << "\nB = " << b_dir << "  digest " << db << "\n\n";
    if (!feeds.empty()) {
      tf.Print();
      std::cout << "\n";
    }
    if (record_diffs) {
      tr.Print();
      if (record_diffs > records.size()) std::cout << "... and " << record_diffs - records.size() << " more\n";
    }
    std::cout << feeds.size() << " feed(s) and " << record_diffs << " record(s) differ";
    if (forked) {
      std::cout << "; " << forked << " feed(s) forked: " << kForkAdvice << "\n";
    } else {
      std::cout << "; `hearth merge A B` and `hearth merge B A` bring both up to date\n";
    }
  }
  return same ? kExitOk : kExitProblem;
}

}  // namespace

void AddSyncCommands(CLI::App& app, Globals& g) {
  {
    auto* e = app.add_subcommand("export", "Write the deltas another replica lacks to a bundle file");
    auto a = std::make_shared<ExportArgs>();
    e->add_option("OUT", a->out, "Bundle file to create (never overwritten)")->required();
    auto* s = e->add_option("--since-heads", a->since_file, "Receiver's heads: a file of `hearth heads --json` output (- = stdin)");
    auto* f = e->add_option("--for", a->for_dir, "Receiver's replica directory: read its heads directly");
    s->excludes(f);
    e->callback([&g, a] { g.action = [&g, a] { return Export(g, *a); }; });
  }
  {
    auto* i = app.add_subcommand("import", "Check a bundle file completely, then apply its deltas");
    auto file = std::make_shared<std::string>();
    i->add_option("FILE", *file, "Bundle file")->required();
    i->callback([&g, file] { g.action = [&g, file] { return Import(g, *file); }; });
  }
  {
    auto* i = app.add_subcommand("bundle-info", "Check a bundle file and show what it covers (no replica needed)");
    auto file = std::make_shared<std::string>();
    i->add_option("FILE", *file, "Bundle file")->required();
    i->callback([&g, file] { g.action = [&g, file] { return BundleInfoCmd(g, *file); }; });
  }
  {
    auto* m = app.add_subcommand("merge", "Apply every delta of SRC that DST lacks (same checks as sync)");
    auto a = std::make_shared<std::pair<std::string, std::string>>();
    m->add_option("SRC_DIR", a->first, "Source replica (read only)")->required();
    m->add_option("DST_DIR", a->second, "Destination replica")->required();
    m->callback([&g, a] { g.action = [&g, a] { return Merge(g, a->first, a->second); }; });
  }
  {
    auto* d = app.add_subcommand("diff", "Compare two replicas: feeds and records (exit 1 if they differ)");
    auto a = std::make_shared<std::pair<std::string, std::string>>();
    auto limit = std::make_shared<size_t>(50);
    d->add_option("A", a->first, "First replica")->required();
    d->add_option("B", a->second, "Second replica")->required();
    d->add_option("--limit", *limit, "List at most N differing records (default 50)");
    d->callback([&g, a, limit] { g.action = [&g, a, limit] { return Diff(g, a->first, a->second, *limit); }; });
  }
}

}  // namespace hcli
