// log, heads, inspect, verify, digest, forks, pending, backup.
#include "common.hpp"
#include "hearth/inspect.hpp"

namespace hcli {

using namespace hearth;

namespace {

struct LogArgs {
  std::string author;
  size_t limit = 20;
  bool ops = false;
  bool oldest_first = false;
};

json OpToJson(const OpInfo& op) {
  json j = {{"collection", op.collection}, {"id", op.id.ToHex()}, {"field", op.field},
            {"op", op.op}, {"hlc", std::to_string(op.hlc)}, {"value", ValueToJson(op.value)}};
  if (op.op == "counter") {
    j["p"] = op.p;
    j["n"] = op.n;
  }
  return j;
}

int Log(Globals& g, const LogArgs& a) {
  auto r = OpenGlobal(g);
  Heads heads = Must(r->GetHeads(), "reading the heads");
  std::vector<std::pair<AuthorId, uint64_t>> feeds;
  if (!a.author.empty()) {
    AuthorId au = ParseAuthor(a.author);
    auto it = heads.find(au);
    if (it == heads.end()) Fail(kExitProblem, "this replica holds no delta of author " + au.ToHex() + " (see `hearth heads`)");
    feeds.emplace_back(au, it->second.seq);
  } else {
    for (const auto& [au, h] : heads) feeds.emplace_back(au, h.seq);
  }
  json arr = json::array();
  Table t({"AUTHOR", "SEQ", "HLC", "SCOPE", "EPOCH", "OPS", "SIZE", "HASH"});
  size_t shown = 0;
  for (const auto& [au, top] : feeds) {
    size_t per_feed = 0;
    for (uint64_t i = 0; i < top && per_feed < a.limit; ++i, ++per_feed) {
      uint64_t seq = a.oldest_first ? i + 1 : top - i;
      Bytes d = Must(r->GetDelta(au, seq), "reading delta " + au.ToHex() + "/" + std::to_string(seq));
      DeltaInfo info = Must(inspect::Describe(*r, d), "decoding delta " + au.ToHex() + "/" + std::to_string(seq));
      ++shown;
      if (g.json) {
        json j = {{"author", au.ToHex()}, {"seq", seq}, {"hlc_min", std::to_string(info.hlc_min)}, {"hlc_max", std::to_string(info.hlc_max)},
                  {"scope", info.scope}, {"epoch", info.epoch}, {"op_count", info.op_count},
                  {"size", info.size}, {"hash", Hex(info.hash)}, {"prev", Hex(info.prev)},
                  {"signature_ok", info.signature_ok}, {"readable", info.readable},
                  {"withheld", info.withheld}};
        if (info.withheld) j["body_size"] = info.body_size;
        if (a.ops) {
          json ops = json::array();
          for (const auto& op : info.ops) ops.push_back(OpToJson(op));
          j["ops"] = ops;
        }
        arr.push_back(j);
        continue;
      }
      if (!a.ops) {
        t.Add({au.ToHex().substr(0, 16), std::to_string(seq), HlcText(info.hlc_max), info.scope,
               std::to_string(info.epoch), std::to_string(info.op_count), std::to_string(info.size),
               Hex(info.hash).substr(0, 16) + (info.signature_ok ? "" : " BAD-SIGNATURE") +
                   (info.withheld ? " WITHHELD" : "")});
        continue;
      }
      std::cout << "delta " << au.ToHex() << "/" << seq << "  scope " << info.scope << " epoch "
                << info.epoch << "  hlc " << HlcText(info.hlc_min) << ".." << HlcText(info.hlc_max) << "  "
                << info.op_count << " op(s), " << info.size << " bytes"
                << (info.signature_ok ? "" : "  BAD SIGNATURE") << "\n";
      if (info.withheld) {
        std::cout << "    (withheld: only the stub is held, body of " << info.body_size
                  << " bytes not sent to this node)\n";
      } else if (!info.readable) {
        std::cout << "    (no key for scope " << info.scope << " epoch " << info.epoch << ": ops not readable)\n";
      }
      for (const auto& op : info.ops) {
        std::cout << "    " << op.op << " " << Printable(op.collection) << "/" << op.id.ToHex() << "."
                  << Printable(op.field);
        if (op.op == "counter") std::cout << " p=" << op.p << " n=" << op.n;
        else std::cout << " " << Printable(op.value.ToString());
        std::cout << "\n";
      }
    }
  }
  if (g.json) PrintJson({{"deltas", arr}});
  else if (!a.ops) t.Print();
  if (!g.json && shown == 0) Say(g, "no deltas");
  return kExitOk;
}

int ShowHeads(Globals& g) {
  auto r = OpenGlobal(g);
  Heads h = Must(r->GetHeads(), "reading the heads");
  // Withheld deltas (stubs) per author: chained, counted in SEQ, not applied.
  auto withheld = Must(r->Withheld(), "listing the withheld deltas");
  std::map<AuthorId, uint64_t> held_back;
  for (const auto& w : withheld) held_back[w.author]++;
  if (g.json) {
    // The heads file format (docs/bundle-format.md): withheld deltas are
    // listed by `hearth log` / `inspect`, not here.
    PrintJson({{"author", r->author().ToHex()}, {"heads", HeadsJson(h)}});
    return kExitOk;
  }
  Table t({"AUTHOR", "SEQ", "WITHHELD", "HASH"});
  for (const auto& [au, fh] : h) {
    t.Add({au.ToHex() + (au == r->author() ? " (self)" : ""), std::to_string(fh.seq),
           std::to_string(held_back[au]), Hex(fh.hash)});
  }
  t.Print();
  return kExitOk;
}

int Inspect(Globals& g) {
  auto r = OpenGlobal(g);
  ReplicaStats st = Must(inspect::Stats(*r), "reading the replica's counts");
  Heads heads = Must(r->GetHeads(), "reading the heads");
  auto keys = Must(r->ListKeys(), "listing the scope keys");
  // Records per collection and per scope.
  struct Count { uint64_t live = 0, deleted = 0; };
  std::map<std::string, Count> per_coll;
  std::map<std::string, Count> per_scope;
  std::map<std::string, std::vector<uint32_t>> scope_keys;
  for (const auto& [scope, epoch] : keys) scope_keys[scope].push_back(epoch);
  for (const auto& cs : r->schema().collections()) {
    Count c;
    Must(r->Scan(cs.name, [&](const Record& rec) {
      (rec.deleted ? c.deleted : c.live)++;
      return true;
    }), "scanning " + cs.name);
    per_coll[cs.name] = c;
    per_scope[cs.scope].live += c.live;
    per_scope[cs.scope].deleted += c.deleted;
  }
  // Access control: the root obeyed, the policy in force, refused deltas.
  auto root = r->root();
  auto policy = Must(r->CurrentPolicy(), "reading the policy");
  const size_t denied = Must(inspect::Denied(*r), "listing the denied deltas").size();
  const size_t withheld = Must(r->Withheld(), "listing the withheld deltas").size();
  if (g.json) {
    json cols = json::object(), scopes = json::object(), feeds = json::array();
    for (const auto& cs : r->schema().collections()) {
      cols[cs.name] = {{"scope", cs.scope}, {"records", per_coll[cs.name].live}, {"deleted", per_coll[cs.name].deleted}};
    }
    for (const auto& [s, c] : per_scope) {
      scopes[s] = {{"records", c.live}, {"deleted", c.deleted}, {"key_epochs", scope_keys[s]}};
    }
    for (const auto& [s, e] : scope_keys) {
      if (!scopes.contains(s)) scopes[s] = {{"records", 0}, {"deleted", 0}, {"key_epochs", e}};
    }
    for (const auto& [au, fh] : heads) feeds.push_back({{"author", au.ToHex()}, {"seq", fh.seq}, {"self", au == r->author()}});
    PrintJson({{"dir", r->dir()}, {"author", r->author().ToHex()}, {"format_version", st.format_version},
               {"records", st.records}, {"deltas", st.deltas}, {"authors", st.authors},
               {"pending", st.pending}, {"forks", st.forks}, {"map_size", st.map_size},
               {"map_used", st.map_used}, {"collections", cols}, {"scopes", scopes}, {"feeds", feeds},
               {"root", root ? json(root->ToHex()) : json(nullptr)}, {"is_root", root && *root == r->author()},
               {"policy_version", policy ? policy->version() : 0}, {"denied", denied}, {"withheld", withheld},
               {"is_copy", st.is_copy}, {"backup_ms", st.backup_ms}});
    return kExitOk;
  }
  std::cout << "replica         " << r->dir() << "\n"
            << "author          " << r->author().ToHex() << "\n"
            << "format version  " << st.format_version << "\n"
            << "records         " << st.records << "\n"
            << "deltas          " << st.deltas << " from " << st.authors << " author(s)\n"
            << "pending         " << st.pending << (st.pending ? "  (see `hearth pending`)" : "") << "\n"
            << "forks           " << st.forks << (st.forks ? "  (see `hearth forks`)" : "") << "\n"
            << "withheld        " << withheld << (withheld ? "  (stubs: bodies not sent to this node; see `hearth log`)" : "") << "\n"
            << "map             " << HumanBytes(st.map_used) << " used of " << HumanBytes(st.map_size) << "\n";
  if (st.is_copy) {
    std::cout << "copy            yes: " << (st.backup_ms ? "a backup (`hearth backup`)" : "a copied directory")
              << "; it refuses local writes until `hearth restore " << r->dir() << "` (docs/durability.md)\n";
  }
  if (root) {
    std::cout << "root            " << root->ToHex() << (*root == r->author() ? " (this replica)" : "") << "\n"
              << "policy          " << (policy ? "version " + std::to_string(policy->version()) : "none received yet")
              << "  (see `hearth policy show`)\n"
              << "denied          " << denied << (denied ? "  (see `hearth denied`)" : "") << "\n";
  }
  std::cout << "\n";
  Table tc({"COLLECTION", "SCOPE", "RECORDS", "DELETED"});
  for (const auto& cs : r->schema().collections()) {
    tc.Add({cs.name, cs.scope, std::to_string(per_coll[cs.name].live), std::to_string(per_coll[cs.name].deleted)});
  }
  tc.Print();
  std::cout << "\n";
  Table ts({"SCOPE", "RECORDS", "KEY EPOCHS"});
  std::set<std::string> all_scopes;
  for (const auto& [s, c] : per_scope) all_scopes.insert(s);
  for (const auto& [s, e] : scope_keys) all_scopes.insert(s);
  for (const auto& s : all_scopes) {
    std::string ep;
    for (uint32_t e : scope_keys[s]) ep += (ep.empty() ? "" : ",") + std::to_string(e);
    ts.Add({s, std::to_string(per_scope[s].live), ep.empty() ? "none (cannot read)" : ep});
  }
  ts.Print();
  std::cout << "\n";
  Table tf({"FEED", "SEQ"});
  for (const auto& [au, fh] : heads) tf.Add({au.ToHex() + (au == r->author() ? " (self)" : ""), std::to_string(fh.seq)});
  tf.Print();
  return kExitOk;
}

int Verify(Globals& g) {
  auto r = OpenGlobal(g);
  Progress p(g, "verify");
  auto rep = inspect::Verify(*r, [&](uint64_t done, uint64_t total) { p.Update(done, total, "deltas"); });
  p.Done();
  if (!rep.ok()) FailStatus(rep.status(), "verify could not run");
  if (g.json) {
    PrintJson({{"ok", rep->ok()}, {"deltas", rep->deltas}, {"authors", rep->authors},
               {"records", rep->records}, {"unreadable", rep->unreadable}, {"denied", rep->denied},
               {"invalid", rep->invalid}, {"waiting_schema", rep->waiting}, {"problems", rep->problems}});
  } else if (rep->ok()) {
    Say(g, "ok: " + std::to_string(rep->deltas) + " deltas from " + std::to_string(rep->authors) +
               " author(s), " + std::to_string(rep->records) + " records" +
               (rep->unreadable ? ", " + std::to_string(rep->unreadable) + " unreadable (no key)" : ""));
    // Refused deltas are kept as evidence of what a peer sent: information.
    if (rep->denied > rep->invalid) {
      Say(g, "note: " + std::to_string(rep->denied - rep->invalid) +
                 " delta(s) refused by the access policy are kept as evidence (`hearth denied`)");
    }
    if (rep->invalid) {
      Say(g, "note: " + std::to_string(rep->invalid) +
                 " delta(s) with invalid content are kept as evidence, never applied (`hearth denied`)");
    }
    if (rep->waiting) {
      Say(g, "note: " + std::to_string(rep->waiting) +
                 " delta(s) wait for a newer schema and are applied when it arrives (`hearth pending`)");
    }
  } else {
    std::cout << "FAILED: " << rep->problems.size() << " problem(s) in " << r->dir() << "\n";
    for (const auto& pr : rep->problems) std::cout << "  - " << pr << "\n";
    std::cout << "Restore from a backup (`hearth backup`; run `hearth restore DIR` on the restored copy before writing) or rebuild the replica by syncing from a healthy one.\n";
  }
  return rep->ok() ? kExitOk : kExitProblem;
}

int Digest(Globals& g) {
  auto r = OpenGlobal(g);
  Hash32 d = Must(r->Digest(), "digest");
  if (g.json) PrintJson({{"digest", Hex(d)}});
  else std::cout << Hex(d) << "\n";
  return kExitOk;
}

int Forks(Globals& g) {
  auto r = OpenGlobal(g);
  auto forks = Must(inspect::Forks(*r), "listing the forks");
  json arr = json::array();
  Table t({"AUTHOR", "SEQ", "FIRST", "SECOND"});
  for (const auto& f : forks) {
    auto d1 = inspect::Describe(*r, f.first), d2 = inspect::Describe(*r, f.second);
    std::string h1 = d1.ok() ? Hex(d1->hash) : "?", h2 = d2.ok() ? Hex(d2->hash) : "?";
    arr.push_back({{"author", f.author.ToHex()}, {"seq", f.seq}, {"first_hash", h1}, {"second_hash", h2},
                   {"first_size", f.first.size()}, {"second_size", f.second.size()}});
    t.Add({f.author.ToHex(), std::to_string(f.seq), h1.substr(0, 16), h2.substr(0, 16)});
  }
  if (g.json) PrintJson({{"count", forks.size()}, {"forks", arr}});
  else if (forks.empty()) Say(g, "no forks");
  else {
    t.Print();
    std::cout << "An author that forked signed two different deltas at one position; its later deltas are held.\n";
  }
  return kExitOk;
}

int ShowPending(Globals& g) {
  auto r = OpenGlobal(g);
  auto pend = Must(inspect::Pending(*r), "listing the pending deltas");
  Heads heads = Must(r->GetHeads(), "reading the heads");
  json arr = json::array();
  Table t({"AUTHOR", "SEQ", "SIZE", "WHY"});
  for (const auto& p : pend) {
    auto it = heads.find(p.author);
    uint64_t have = it == heads.end() ? 0 : it->second.seq;
    std::string why = p.waiting_schema ? p.reason
                      : p.held         ? "held: author forked"
                                       : "gap: waiting for seq " + std::to_string(have + 1);
    json j = {{"author", p.author.ToHex()}, {"seq", p.seq},   {"size", p.size},
              {"held", p.held},            {"head_seq", have}, {"waiting_schema", p.waiting_schema}};
    if (p.waiting_schema) j["reason"] = p.reason;
    arr.push_back(j);
    t.Add({p.author.ToHex(), std::to_string(p.seq), std::to_string(p.size), why});
  }
  if (g.json) PrintJson({{"count", pend.size()}, {"pending", arr}});
  else if (pend.empty()) Say(g, "nothing pending");
  else t.Print();
  return kExitOk;
}

int Backup(Globals& g, const std::string& dest, bool no_compact) {
  auto r = OpenGlobal(g);
  Must(inspect::Backup(*r, dest, !no_compact), "backup to " + dest,
       "the destination must not already hold a replica");
  if (g.json) PrintJson({{"dest", dest}, {"compact", !no_compact}});
  else {
    Say(g, "Backed up " + r->dir() + " to " + dest + (no_compact ? "" : " (compacted)"));
    Say(g, "The copy is marked as a backup: it reads, verifies and syncs, but refuses local writes. To use it "
           "in place of this replica, run `hearth restore " + dest + "` first (docs/durability.md, \"Restoring a backup\")");
  }
  return kExitOk;
}

}  // namespace

void AddInspectCommands(CLI::App& app, Globals& g) {
  {
    auto* log = app.add_subcommand("log", "List deltas of the feeds, newest first");
    auto a = std::make_shared<LogArgs>();
    log->add_option("--author", a->author, "Only this author's feed (hex)");
    log->add_option("-n,--limit", a->limit, "At most N deltas per feed (default 20)")->check(CLI::NonNegativeNumber);
    log->add_flag("--ops", a->ops, "Decode the operations (when this replica holds the scope key)");
    log->add_flag("--reverse", a->oldest_first, "Oldest first");
    log->callback([&g, a] { g.action = [&g, a] { return Log(g, *a); }; });
  }
  app.add_subcommand("heads", "Print the version vector (feed heads); --json output feeds `export --since-heads`")
      ->callback([&g] { g.action = [&g] { return ShowHeads(g); }; });
  app.add_subcommand("inspect", "Summary: records per collection and scope, feeds, pending, forks, map use")
      ->callback([&g] { g.action = [&g] { return Inspect(g); }; });
  app.add_subcommand("verify", "Full check of signatures, chains and state (exit 1 on problems)")
      ->callback([&g] { g.action = [&g] { return Verify(g); }; });
  app.add_subcommand("digest", "Hash of the materialised records (equal on converged replicas)")
      ->callback([&g] { g.action = [&g] { return Digest(g); }; });
  app.add_subcommand("forks", "List proofs of authors that signed two deltas at one position")
      ->callback([&g] { g.action = [&g] { return Forks(g); }; });
  app.add_subcommand("pending", "List deltas waiting for a missing predecessor or a newer schema, or held")
      ->callback([&g] { g.action = [&g] { return ShowPending(g); }; });
  {
    auto* b = app.add_subcommand("backup", "Consistent copy of the replica (safe while others write)");
    auto dest = std::make_shared<std::string>();
    auto no_compact = std::make_shared<bool>(false);
    b->add_option("DEST_DIR", *dest, "Directory to create")->required();
    b->add_flag("--no-compact", *no_compact, "Copy pages as they are (faster, larger)");
    b->callback([&g, dest, no_compact] { g.action = [&g, dest, no_compact] { return Backup(g, *dest, *no_compact); }; });
  }
}

}  // namespace hcli
