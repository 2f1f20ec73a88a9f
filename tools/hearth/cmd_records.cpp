// put, get, query, delete, conflicts, history, resolve.
#include <algorithm>

#include "common.hpp"
#include "hearth/inspect.hpp"
#include "values.hpp"

namespace hcli {

using namespace hearth;

namespace {

void CheckCollection(const Replica& r, const std::string& c) {
  Status s = r.schema().CheckCollection(c);
  if (s.ok()) return;
  std::string known;
  for (const auto& col : r.schema().collections()) known += (known.empty() ? "" : ", ") + col.name;
  Fail(kExitUsage, s.message() + (known.empty() ? "\n  this replica has no schema; set one with `hearth schema set FILE`"
                                                : "\n  collections: " + known));
}

// A status assignment that would not move the field forward: statuses only
// advance, so the op would change nothing (docs/cli.md, "put").
struct Unchanged {
  std::string field, current, requested;
};

json UnchangedJson(const std::vector<Unchanged>& u) {
  json a = json::array();
  for (const auto& x : u) {
    a.push_back({{"field", x.field}, {"current", x.current}, {"requested", x.requested},
                 {"reason", "statuses only move forward"}});
  }
  return a;
}

void SayUnchanged(const Globals& g, const std::string& c, const std::vector<Unchanged>& u) {
  if (g.json || g.quiet) return;
  for (const auto& x : u) {
    std::cerr << "unchanged: " << Printable(c + "." + x.field) << " is '" << Printable(x.current) << "'; '"
              << Printable(x.requested) << "' "
              << (x.current == x.requested ? "is the same state" : "comes before it")
              << " (statuses only move forward)\n";
  }
}

void PrintCommit(const Globals& g, const std::string& c, const RecordId& id, const CommitInfo& ci,
                 const std::vector<Unchanged>& unchanged = {}) {
  if (g.json) {
    json j = {{"collection", c}, {"id", id.ToHex()}, {"changed", true}, {"author", ci.author.ToHex()},
              {"first_seq", ci.first_seq}, {"last_seq", ci.last_seq}, {"ops", ci.op_count}};
    if (!unchanged.empty()) j["unchanged"] = UnchangedJson(unchanged);
    PrintJson(j);
    return;
  }
  SayUnchanged(g, c, unchanged);
  if (g.quiet) {
    std::cout << id.ToHex() << "\n";  // scripts capture the id even with -q
    return;
  }
  std::string seqs = ci.first_seq == ci.last_seq ? std::to_string(ci.first_seq)
                                                  : std::to_string(ci.first_seq) + ".." + std::to_string(ci.last_seq);
  std::cout << id.ToHex() << "\n";
  std::cerr << "committed " << ci.op_count << " op(s) as delta seq " << seqs << " of "
            << ci.author.ToHex().substr(0, 16) << "\n";
}

CommitInfo MustCommit(Replica& r, const WriteBatch& b) {
  auto ci = r.Commit(b);
  if (!ci.ok()) {
    FailStatus(ci.status(), "not written",
               ci.status().code() == Code::kInvalidArgument ? "see `hearth schema show` for the fields and their types" : "");
  }
  return *ci;
}

int Put(Globals& g, const std::string& c, const std::string& id_hex, const std::string& set_json,
        const std::vector<std::string>& assigns) {
  if (assigns.empty() && set_json.empty()) {
    Fail(kExitUsage, "nothing to write: give field=value arguments or --set-json '{...}'");
  }
  std::vector<Assignment> parsed;
  for (const auto& a : assigns) parsed.push_back(ParseAssignment(a));
  json sj;
  if (!set_json.empty()) {
    try {
      sj = json::parse(set_json);
    } catch (const json::exception& e) {
      // parse_error, and out_of_range for numbers no double holds (1e999).
      Fail(kExitUsage, std::string("--set-json is not valid JSON: ") + e.what());
    }
    if (!sj.is_object()) Fail(kExitUsage, "--set-json must be a JSON object {\"field\": value, ...}");
  }
  RecordId id = id_hex.empty() ? RecordId::Generate() : ParseRecordId(id_hex);
  auto r = OpenGlobal(g);
  CheckCollection(*r, c);
  // Status fields only advance: an assignment to a state that does not rank
  // above the current one is left out and reported, never "committed".
  std::vector<Unchanged> unchanged;
  std::optional<Record> current;
  if (!id_hex.empty()) {
    auto rec = r->Get(c, id);
    if (rec.ok()) current = std::move(rec).value();
    else if (rec.status().code() != Code::kNotFound) FailStatus(rec.status(), "reading " + c + "/" + id.ToHex());
  }
  auto moves_back = [&](const std::string& field, const std::string& state) {
    const FieldSpec* spec = FindField(r->schema(), c, field);
    if (!current || !spec || spec->type != FieldType::kStatus) return false;
    const FieldValue* f = current->Find(field);
    if (!f || f->value.type() != ValueType::kString) return false;
    auto now = spec->RankOf(f->value.as_string()), want = spec->RankOf(state);
    if (!now || !want || *want > *now) return false;  // unknown states: the library decides
    unchanged.push_back({field, f->value.as_string(), state});
    return true;
  };
  WriteBatch b;
  size_t writes = 0;
  for (const auto& a : parsed) {
    if (a.op == Assignment::kSet && moves_back(a.field, a.text)) continue;
    AddAssignment(b, r->schema(), c, id, a);
    ++writes;
  }
  for (const auto& [field, v] : sj.items()) {
    if (v.is_string() && moves_back(field, v.get<std::string>())) continue;
    AddJsonField(b, r->schema(), c, id, field, v);
    ++writes;
  }
  if (writes == 0) {
    if (g.json) {
      PrintJson({{"collection", c}, {"id", id.ToHex()}, {"changed", false}, {"unchanged", UnchangedJson(unchanged)}});
    } else {
      std::cout << id.ToHex() << "\n";  // as after a commit: scripts capture the id
      SayUnchanged(g, c, unchanged);
      if (!g.quiet) std::cerr << "nothing changed: no delta written\n";
    }
    return kExitOk;
  }
  PrintCommit(g, c, id, MustCommit(*r, b), unchanged);
  return kExitOk;
}

int Get(Globals& g, const std::string& c, const std::string& id_hex) {
  RecordId id = ParseRecordId(id_hex);
  auto r = OpenGlobal(g);
  CheckCollection(*r, c);
  auto rec = r->Get(c, id);
  if (!rec.ok()) {
    if (rec.status().code() == Code::kNotFound) {
      // Deltas of the collection's scope held without a key may contain it.
      const CollectionSpec* spec = r->schema().Find(c);
      uint64_t held = 0;
      std::string scope = spec ? spec->scope : "";
      json without = json::array();
      if (!scope.empty()) {
        for (const auto& u : Must(inspect::Unreadable(*r, scope), "listing the unreadable deltas")) {
          held += u.deltas;
          without.push_back({{"scope", u.key.scope}, {"epoch", u.key.epoch}, {"deltas", u.deltas},
                             {"other_key_held", u.other_key_held}});
        }
      }
      if (g.json) {
        PrintJson({{"collection", c}, {"id", id.ToHex()}, {"found", false}, {"without_key", without}});
      } else if (held > 0) {
        std::cerr << "hearth: no record " << id.ToHex() << " in " << c << ": not found here; " << held
                  << " delta(s) of scope " << scope
                  << " are held without a key and may contain it: import the key (`hearth keys import FILE`; "
                     "`hearth keys list` shows the keys held)\n";
      } else {
        std::cerr << "hearth: no record " << id.ToHex() << " in " << c << "\n";
      }
      return kExitProblem;
    }
    FailStatus(rec.status(), "reading " + c + "/" + id.ToHex());
  }
  if (g.json) {
    json j = RecordToJson(*rec);
    j["found"] = true;
    PrintJson(j);
    return kExitOk;
  }
  std::cout << c << " " << id.ToHex() << (rec->deleted ? "  (deleted)" : "") << "\n";
  Table t({"FIELD", "TYPE", "VALUE"});
  for (const auto& [name, f] : rec->fields) {
    const FieldSpec* spec = FindField(r->schema(), c, name);
    std::string type = spec ? std::string(FieldTypeName(spec->type)) : std::string(FieldKindName(f.kind)) + "?";
    t.Add({name, type, FieldText(f)});
  }
  t.Print();
  return kExitOk;
}

struct QueryArgs {
  std::string collection, where, min, max;
  size_t limit = SIZE_MAX;
  bool deleted = false;
};

int DoQuery(Globals& g, const QueryArgs& a) {
  auto r = OpenGlobal(g);
  CheckCollection(*r, a.collection);
  Query q;
  q.collection = a.collection;
  q.limit = a.limit;
  q.include_deleted = a.deleted;
  auto take = [&](const std::string& arg, const char* opt) -> std::optional<Value> {
    if (arg.empty()) return std::nullopt;
    Assignment as = ParseAssignment(arg);
    if (as.op != Assignment::kSet) Fail(kExitUsage, std::string(opt) + " takes field=value");
    if (!q.field.empty() && q.field != as.field) {
      Fail(kExitUsage, "--where/--min/--max must name the same field (one index per query)");
    }
    q.field = as.field;
    return ParseValue(as.text, FindField(r->schema(), a.collection, as.field));
  };
  q.equals = take(a.where, "--where");
  q.lower = take(a.min, "--min");
  q.upper = take(a.max, "--max");
  if (q.equals && (q.lower || q.upper)) Fail(kExitUsage, "use either --where or --min/--max, not both");
  auto recs = r->Find(q);
  if (!recs.ok()) FailStatus(recs.status(), "query");
  if (g.json) {
    json arr = json::array();
    for (const auto& rec : *recs) arr.push_back(RecordToJson(rec));
    PrintJson({{"collection", a.collection}, {"count", recs->size()}, {"records", arr}});
    return kExitOk;
  }
  std::vector<std::string> headers = {"ID"};
  const CollectionSpec* cs = r->schema().Find(a.collection);
  for (const auto& f : cs->fields) headers.push_back(f.name);
  Table t(headers);
  for (const auto& rec : *recs) {
    std::vector<std::string> row = {rec.id.ToHex() + (rec.deleted ? " (deleted)" : "")};
    for (const auto& f : cs->fields) {
      const FieldValue* fv = rec.Find(f.name);
      std::string s = fv ? FieldText(*fv) : "-";
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      row.push_back(s);
    }
    t.Add(row);
  }
  t.Print();
  if (!g.quiet) std::cerr << recs->size() << " record(s)\n";
  return kExitOk;
}

int Delete(Globals& g, const std::string& c, const std::string& id_hex) {
  RecordId id = ParseRecordId(id_hex);
  auto r = OpenGlobal(g);
  CheckCollection(*r, c);
  if (auto rec = r->Get(c, id); !rec.ok() && rec.status().code() == Code::kNotFound) {
    Fail(kExitProblem, "no record " + id.ToHex() + " in " + c + "; nothing deleted");
  }
  WriteBatch b;
  b.Delete(c, id);
  PrintCommit(g, c, id, MustCommit(*r, b));
  return kExitOk;
}

int Conflicts(Globals& g, const std::string& only) {
  auto r = OpenGlobal(g);
  if (!only.empty()) CheckCollection(*r, only);
  auto found = Must(r->Conflicts(only), "listing conflicts");
  json arr = json::array();
  Table t({"COLLECTION", "ID", "FIELD", "VALUES"});
  for (const Conflict& c : found) {
    // "values": sorted and unique, as Record's FieldValue::values;
    // "sources": each concurrent write with its author and HLC.
    std::vector<Value> sorted;
    json sources = json::array();
    std::string text;
    for (const ConflictValue& v : c.values) {
      sorted.push_back(v.value);
      sources.push_back({{"value", ValueToJson(v.value)}, {"author", v.author.ToHex()}, {"hlc", HlcText(v.hlc)}});
      text += (text.empty() ? "" : " | ") + v.value.ToString() + " (" + v.author.ToHex().substr(0, 16) + " " +
              HlcText(v.hlc) + ")";
    }
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    json vals = json::array();
    for (const Value& v : sorted) vals.push_back(ValueToJson(v));
    arr.push_back({{"collection", c.collection},
                   {"id", c.id.ToHex()},
                   {"field", c.field},
                   {"values", vals},
                   {"sources", sources}});
    t.Add({c.collection, c.id.ToHex(), c.field, text});
  }
  if (g.json) PrintJson({{"count", arr.size()}, {"conflicts", arr}});
  else if (t.size() == 0) Say(g, "no conflicts");
  else {
    t.Print();
    if (!g.quiet) std::cerr << t.size() << " conflict(s); settle one with `hearth resolve COLLECTION ID FIELD VALUE`\n";
  }
  return kExitOk;
}

// Every operation this replica applied to one record, oldest first
// (Replica::History; docs/cli.md "history").
int History(Globals& g, const std::string& c, const std::string& id_hex) {
  RecordId id = ParseRecordId(id_hex);
  auto r = OpenGlobal(g);
  CheckCollection(*r, c);
  auto entries = Must(r->History(c, id), "reading the history of " + c + "/" + id.ToHex());
  json arr = json::array();
  Table t({"HLC", "AUTHOR", "NAME", "SEQ", "FIELD", "OPERATION", "VALUE"});
  for (const HistoryEntry& e : entries) {
    json v = e.operation == "counter" ? json{{"p", e.p}, {"n", e.n}} : ValueToJson(e.value);
    arr.push_back({{"hlc", HlcText(e.hlc)},
                   {"author", e.author.ToHex()},
                   {"name", e.author_name},
                   {"seq", e.seq},
                   {"field", e.field},
                   {"operation", e.operation},
                   {"value", v}});
    std::string text = e.operation == "counter" ? "+" + std::to_string(e.p) + " -" + std::to_string(e.n)
                                                : e.value.ToString();
    t.Add({HlcText(e.hlc), e.author.ToHex().substr(0, 16), Printable(e.author_name), std::to_string(e.seq),
           Printable(e.field), e.operation, Printable(text)});
  }
  if (g.json) {
    PrintJson({{"collection", c}, {"id", id.ToHex()}, {"count", arr.size()}, {"history", arr}});
  } else if (t.size() == 0) {
    Say(g, "no history for " + c + "/" + id.ToHex() + " (never written, or in a scope this replica cannot read)");
  } else {
    t.Print();
  }
  return kExitOk;
}

int Resolve(Globals& g, const std::string& c, const std::string& id_hex, const std::string& field,
            const std::string& value) {
  RecordId id = ParseRecordId(id_hex);
  auto r = OpenGlobal(g);
  CheckCollection(*r, c);
  const FieldSpec* spec = FindField(r->schema(), c, field);
  if (spec && spec->type != FieldType::kMv) {
    Fail(kExitUsage, c + "." + field + " is a " + std::string(FieldTypeName(spec->type)) +
                         " field; only mv fields hold conflicts (use `hearth put`)");
  }
  WriteBatch b;
  b.Set(c, id, field, ParseValue(value, spec));
  PrintCommit(g, c, id, MustCommit(*r, b));
  return kExitOk;
}

}  // namespace

void AddRecordCommands(CLI::App& app, Globals& g) {
  {
    auto* put = app.add_subcommand("put", "Write fields of a record (creates it when new)");
    struct A { std::string c, id, set_json; std::vector<std::string> assigns; };
    auto a = std::make_shared<A>();
    put->add_option("COLLECTION", a->c, "Collection")->required();
    put->add_option("ASSIGNMENTS", a->assigns,
                    "field=value (lww/mv/ref; status: =state), field+=v / field-=v (set add/remove, "
                    "counter +N/-N, log append)");
    put->add_option("--id", a->id, "Record id (32 hex digits); default: a new record");
    put->add_option("--set-json", a->set_json, "Fields as a JSON object, e.g. '{\"name\":\"x\",\"tags\":[\"a\"]}'");
    put->footer("Values: text, 42, 3.5, true/false/null, @<ms> timestamp, ref:<hex>, 0x<hex> bytes, \"quoted\" string.");
    put->callback([&g, a] { g.action = [&g, a] { return Put(g, a->c, a->id, a->set_json, a->assigns); }; });
  }
  {
    auto* get = app.add_subcommand("get", "Show one record (exit 1 if it does not exist)");
    auto a = std::make_shared<std::pair<std::string, std::string>>();
    get->add_option("COLLECTION", a->first, "Collection")->required();
    get->add_option("ID", a->second, "Record id (32 hex digits)")->required();
    get->callback([&g, a] { g.action = [&g, a] { return Get(g, a->first, a->second); }; });
  }
  {
    auto* query = app.add_subcommand("query", "List records of a collection, optionally by an indexed field");
    auto a = std::make_shared<QueryArgs>();
    query->add_option("COLLECTION", a->collection, "Collection")->required();
    query->add_option("--where", a->where, "field=value: equality on an indexed field");
    query->add_option("--min", a->min, "field=value: lower bound (inclusive)");
    query->add_option("--max", a->max, "field=value: upper bound (inclusive)");
    query->add_option("--limit", a->limit, "At most N records")->check(CLI::NonNegativeNumber);
    query->add_flag("--deleted", a->deleted, "Include deleted records");
    query->callback([&g, a] { g.action = [&g, a] { return DoQuery(g, *a); }; });
  }
  {
    auto* del = app.add_subcommand("delete", "Delete a record (a tombstone that syncs)");
    auto a = std::make_shared<std::pair<std::string, std::string>>();
    del->add_option("COLLECTION", a->first, "Collection")->required();
    del->add_option("ID", a->second, "Record id")->required();
    del->callback([&g, a] { g.action = [&g, a] { return Delete(g, a->first, a->second); }; });
  }
  {
    auto* conf = app.add_subcommand("conflicts", "List mv fields holding more than one concurrent value");
    auto only = std::make_shared<std::string>();
    conf->add_option("COLLECTION", *only, "Only this collection");
    conf->callback([&g, only] { g.action = [&g, only] { return Conflicts(g, *only); }; });
  }
  {
    auto* hist = app.add_subcommand("history", "Every operation applied to one record, oldest first");
    auto a = std::make_shared<std::pair<std::string, std::string>>();
    hist->add_option("COLLECTION", a->first, "Collection")->required();
    hist->add_option("ID", a->second, "Record id (32 hex digits)")->required();
    hist->callback([&g, a] { g.action = [&g, a] { return History(g, a->first, a->second); }; });
  }
  {
    auto* res = app.add_subcommand("resolve", "Settle an mv conflict by writing the chosen value");
    auto a = std::make_shared<std::array<std::string, 4>>();
    res->add_option("COLLECTION", (*a)[0], "Collection")->required();
    res->add_option("ID", (*a)[1], "Record id")->required();
    res->add_option("FIELD", (*a)[2], "mv field")->required();
    res->add_option("VALUE", (*a)[3], "The value to keep (value syntax as for put)")->required();
    res->callback([&g, a] { g.action = [&g, a] { return Resolve(g, (*a)[0], (*a)[1], (*a)[2], (*a)[3]); }; });
  }
}

}  // namespace hcli
