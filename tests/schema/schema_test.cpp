#include "hearth/schema.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <initializer_list>
#include <string>

#include "support/support.hpp"

namespace hearth {
namespace {

const char* kBriefExample = R"(format = 1
[collections.worker]
scope = "hr.workers"
description = "A rural migrant worker"
[collections.worker.fields]
name     = { type = "lww", value = "string", index = true }
phone    = { type = "lww", value = "string" }
skills   = { type = "set", value = "string" }
visits   = { type = "counter" }
guardian = { type = "mv", value = "string" }
employer = { type = "ref", collection = "employer", index = true }
notes    = { type = "log", value = "string" }
[collections.employer]
scope = "hr.workers"
[collections.employer.fields]
name = { type = "lww", value = "string" }
[collections.wage_case]
scope = "hr.wages"
[collections.wage_case.fields]
stage = { type = "status", order = ["reported","verifying","mediating","arbitration","filed","resolved","closed"], index = true }
)";

std::string TestDataPath() { return std::string(HEARTH_TEST_DATA_DIR) + "/data/test_schema.toml"; }
std::string DemoPath() { return std::string(HEARTH_SOURCE_DIR) + "/examples/demo_schema.toml"; }

Schema MustParse(const std::string& text) {
  auto r = Schema::Parse(text, "t.toml");
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return std::move(r).value();
}

// Parses `text` expecting kInvalidArgument whose message contains every
// needle.
void ExpectError(const std::string& text, std::initializer_list<std::string> needles) {
  auto r = Schema::Parse(text, "t.toml");
  INFO("input:\n" << text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  for (const auto& n : needles) {
    INFO("message: " << r.status().message() << "\nexpected to contain: " << n);
    CHECK(r.status().message().find(n) != std::string::npos);
  }
}

// A one-field schema: collection c (scope s), field f = { <spec> }.
std::string OneField(const std::string& spec) {
  return "format = 1\n[collections.c]\nscope = \"s\"\n[collections.c.fields]\nf = { " + spec +
         " }\n";
}

}  // namespace

TEST_CASE("parse the example from the brief") {
  Schema s = MustParse(kBriefExample);
  REQUIRE(s.collections().size() == 3);
  // Sorted by name.
  CHECK(s.collections()[0].name == "employer");
  CHECK(s.collections()[1].name == "wage_case");
  CHECK(s.collections()[2].name == "worker");

  const CollectionSpec* w = s.Find("worker");
  REQUIRE(w != nullptr);
  CHECK(w->scope == "hr.workers");
  CHECK(w->description == "A rural migrant worker");
  REQUIRE(w->fields.size() == 7);
  for (size_t i = 1; i < w->fields.size(); ++i) CHECK(w->fields[i - 1].name < w->fields[i].name);

  const FieldSpec* name = w->Find("name");
  REQUIRE(name != nullptr);
  CHECK(name->type == FieldType::kLww);
  CHECK(name->value_type == ValueType::kString);
  CHECK(name->indexed);
  CHECK_FALSE(w->Find("phone")->indexed);
  CHECK(w->Find("skills")->type == FieldType::kSet);
  CHECK(w->Find("visits")->type == FieldType::kCounter);
  CHECK_FALSE(w->Find("visits")->value_type.has_value());
  CHECK(w->Find("guardian")->type == FieldType::kMv);
  CHECK(w->Find("notes")->type == FieldType::kLog);
  const FieldSpec* emp = w->Find("employer");
  REQUIRE(emp != nullptr);
  CHECK(emp->type == FieldType::kRef);
  CHECK(emp->value_type == ValueType::kRef);
  CHECK(emp->ref_collection == "employer");
  CHECK(emp->indexed);
  CHECK(w->Find("nope") == nullptr);
  CHECK(s.Find("nope") == nullptr);

  const FieldSpec* stage = s.Find("wage_case")->Find("stage");
  REQUIRE(stage != nullptr);
  CHECK(stage->type == FieldType::kStatus);
  REQUIRE(stage->order.size() == 7);
  CHECK(stage->order.front() == "reported");
  CHECK(stage->RankOf("reported") == 0u);
  CHECK(stage->RankOf("closed") == 6u);
  CHECK_FALSE(stage->RankOf("lost").has_value());
}

TEST_CASE("FieldTypeName and KindOf") {
  CHECK(FieldTypeName(FieldType::kLww) == "lww");
  CHECK(FieldTypeName(FieldType::kMv) == "mv");
  CHECK(FieldTypeName(FieldType::kSet) == "set");
  CHECK(FieldTypeName(FieldType::kCounter) == "counter");
  CHECK(FieldTypeName(FieldType::kStatus) == "status");
  CHECK(FieldTypeName(FieldType::kLog) == "log");
  CHECK(FieldTypeName(FieldType::kRef) == "ref");
  CHECK(KindOf(FieldType::kLww) == FieldKind::kLww);
  CHECK(KindOf(FieldType::kRef) == FieldKind::kLww);
  CHECK(KindOf(FieldType::kMv) == FieldKind::kMv);
  CHECK(KindOf(FieldType::kSet) == FieldKind::kSet);
  CHECK(KindOf(FieldType::kCounter) == FieldKind::kCounter);
  CHECK(KindOf(FieldType::kStatus) == FieldKind::kStatus);
  CHECK(KindOf(FieldType::kLog) == FieldKind::kLog);
}

TEST_CASE("value types") {
  const char* names[] = {"null", "bool", "int", "double", "string", "bytes", "timestamp", "ref"};
  for (int i = 0; i < 8; ++i) {
    Schema s = MustParse(OneField(std::string("type = \"lww\", value = \"") + names[i] + "\""));
    CHECK(s.Find("c")->Find("f")->value_type == static_cast<ValueType>(i));
  }
  Schema any = MustParse(OneField("type = \"set\", value = \"any\""));
  CHECK_FALSE(any.Find("c")->Find("f")->value_type.has_value());
  Schema none = MustParse(OneField("type = \"log\""));
  CHECK_FALSE(none.Find("c")->Find("f")->value_type.has_value());
  CHECK(any.Find("c")->Find("f")->type == FieldType::kSet);
}

TEST_CASE("test and demo schema files load") {
  auto t = Schema::LoadFile(TestDataPath());
  INFO(t.status().ToString());
  REQUIRE(t.ok());
  const CollectionSpec* item = t->Find("item");
  REQUIRE(item != nullptr);
  CHECK(item->scope == "test.a");
  CHECK(item->fields.size() == 10);
  CHECK(item->Find("title")->indexed);
  CHECK(item->Find("stage")->order == std::vector<std::string>{"new", "open", "done"});
  CHECK(item->Find("ref")->type == FieldType::kRef);
  CHECK(item->Find("ref")->ref_collection.empty());
  CHECK(item->Find("score")->value_type == ValueType::kInt);
  CHECK(item->Find("price")->value_type == ValueType::kDouble);
  CHECK_FALSE(item->Find("any")->value_type.has_value());
  REQUIRE(t->Find("other") != nullptr);
  CHECK(t->Find("other")->scope == "test.b");
  CHECK(t->Find("other")->fields.size() == 2);

  auto d = Schema::LoadFile(DemoPath());
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  for (const char* c :
       {"worker", "job_posting", "wage_case", "child", "care_activity", "station"}) {
    CHECK_MESSAGE(d->Find(c) != nullptr, c);
  }
  const FieldSpec* stage = d->Find("wage_case")->Find("stage");
  REQUIRE(stage != nullptr);
  CHECK(stage->order == std::vector<std::string>{"reported", "verifying", "mediating",
                                                 "arbitration", "filed", "resolved", "closed"});
  CHECK(d->Find("wage_case")->scope == "hr.wages");
  CHECK(d->Find("child")->scope == "civil.children");
  CHECK(d->Find("station")->scope == "union.stations");
}

TEST_CASE("round trip through ToToml") {
  for (const std::string& text :
       {std::string(kBriefExample), OneField("type = \"lww\", value = \"any\""),
        std::string("format = 1\n"),
        OneField("type = \"mv\", description = \"quote \\\" backslash \\\\ newline \\n tab \\t "
                 "\\u0001 \u4e2d\u6587\"")}) {
    Schema a = MustParse(text);
    std::string canon = a.ToToml();
    auto b = Schema::Parse(canon, "canon");
    INFO(canon);
    REQUIRE(b.ok());
    CHECK(*b == a);
    CHECK(b->ToToml() == canon);  // stable
  }
  for (const std::string& path : {TestDataPath(), DemoPath()}) {
    auto a = Schema::LoadFile(path);
    REQUIRE(a.ok());
    std::string canon = a->ToToml();
    auto b = Schema::Parse(canon);
    INFO(canon);
    REQUIRE(b.ok());
    CHECK(*b == *a);
    CHECK(b->ToToml() == canon);
  }
  // Different schemas compare unequal.
  CHECK_FALSE(MustParse(OneField("type = \"lww\"")) == MustParse(OneField("type = \"mv\"")));
  CHECK_FALSE(MustParse(OneField("type = \"lww\"")) ==
              MustParse(OneField("type = \"lww\", index = true")));
  CHECK(Schema() == MustParse("format = 1\n"));
}

TEST_CASE("ToToml is canonical") {
  Schema s = MustParse(
      OneField("order = [\"a\", \"b\"], index = true, type = \"status\", description = \"d\""));
  CHECK(s.ToToml() ==
        "format = 1\nversion = 1\n\n[collections.c]\nscope = \"s\"\n\n[collections.c.fields]\n"
        "f = { type = \"status\", order = [\"a\", \"b\"], index = true, description = \"d\" }\n");
  // Sub-table field syntax means the same thing.
  Schema t = MustParse(
      "format = 1\n[collections.c]\nscope = \"s\"\n[collections.c.fields.f]\ntype = \"status\"\n"
      "order = [\"a\", \"b\"]\nindex = true\ndescription = \"d\"\n");
  CHECK(s == t);
}

TEST_CASE("errors: TOML syntax and format") {
  ExpectError("format = 1\nformat = 2\n", {"t.toml", "invalid TOML"});
  ExpectError("format = [1,\n", {"t.toml", "invalid TOML"});
  ExpectError("this is not toml", {"t.toml", "invalid TOML"});
  ExpectError("", {"missing 'format = 1'"});
  ExpectError("[collections.c]\nscope = \"s\"\n", {"missing 'format = 1'"});
  ExpectError("format = 2\n", {"t.toml:1:", "unsupported schema format 2"});
  ExpectError("format = \"1\"\n", {"t.toml:1:", "unsupported schema format"});
  ExpectError("format = 1\nrevision = 3\n", {"t.toml:2:", "unknown key 'revision'"});
  ExpectError("format = 1\nversion = 0\n", {"t.toml:2:", "version", "positive integer"});
  ExpectError("format = 1\nversion = -1\n", {"t.toml:2:", "version", "positive integer"});
  ExpectError("format = 1\nversion = \"2\"\n", {"t.toml:2:", "version", "positive integer"});
  ExpectError("format = 1\nversion = 4294967296\n", {"t.toml:2:", "version", "positive integer"});
  ExpectError("format = 1\ncollections = 3\n", {"t.toml:2:", "collections", "must be a table"});
}

TEST_CASE("errors: unknown keys name the key and the line") {
  ExpectError("format = 1\n[collections.c]\nscope = \"s\"\nowner = \"x\"\n",
              {"t.toml:4:", "collections.c", "unknown key 'owner'"});
  ExpectError(
      "format = 1\n[collections.c]\nscope = \"s\"\n[collections.c.fields]\n"
      "a = { type = \"lww\" }\nb = { type = \"lww\", indx = true }\n",
      {"t.toml:6:", "collections.c.fields.b", "unknown key 'indx'", "allowed:"});
}

TEST_CASE("errors: names and scopes") {
  auto col = [](const std::string& name) {
    return "format = 1\n[collections." + name + "]\nscope = \"s\"\n";
  };
  ExpectError(col("Worker"), {"collection name 'Worker'", "a-z, 0-9 and _"});
  ExpectError(col("9lives"), {"must not start with a digit"});
  ExpectError(col("\"$meta\""), {"reserved"});
  ExpectError(col("\"\""), {"1-64 characters"});
  ExpectError(col(std::string(65, 'a')), {"1-64 characters"});
  MustParse(col(std::string(64, 'a')));
  MustParse(col("_x9"));
  ExpectError(
      "format = 1\n[collections.c]\nscope = \"s\"\n[collections.c.fields]\n"
      "\"$deleted\" = { type = \"lww\" }\n",
      {"t.toml:5:", "field name '$deleted' is reserved"});
  ExpectError(
      "format = 1\n[collections.c]\nscope = \"s\"\n[collections.c.fields]\n"
      "\"first-name\" = { type = \"lww\" }\n",
      {"field name 'first-name'"});

  auto scope = [](const std::string& s) {
    return "format = 1\n[collections.c]\nscope = " + s + "\n";
  };
  ExpectError("format = 1\n[collections.c]\ndescription = \"x\"\n",
              {"t.toml:2:", "collections.c", "missing 'scope'"});
  ExpectError(scope("\"\""), {"t.toml:3:", "1-128 characters"});
  ExpectError(scope("\"" + std::string(129, 'a') + "\""), {"1-128 characters"});
  ExpectError(scope("\"HR\""), {"scope 'HR'", "a-z, 0-9, _, . and -"});
  ExpectError(scope("\"hr/workers\""), {"scope 'hr/workers'"});
  ExpectError(scope("7"), {"'scope' must be a string"});
  MustParse(scope("\"" + std::string(128, 'a') + "\""));
  MustParse(scope("\"county-1.hr_workers\""));
  ExpectError("format = 1\n[collections.c]\nscope = \"s\"\ndescription = 5\n",
              {"'description' must be a string"});
  ExpectError("format = 1\ncollections.c = 5\n", {"collections.c", "must be a table"});
  ExpectError("format = 1\n[collections.c]\nscope = \"s\"\nfields = [1]\n",
              {"collections.c.fields", "must be a table"});
}

TEST_CASE("errors: field specs") {
  ExpectError("format = 1\n[collections.c]\nscope = \"s\"\n[collections.c.fields]\nf = \"lww\"\n",
              {"t.toml:5:", "collections.c.fields.f", "a field must be a table"});
  ExpectError(OneField("value = \"string\""), {"t.toml:5:", "missing 'type'"});
  ExpectError(OneField("type = \"register\""), {"unknown field type 'register'"});
  ExpectError(OneField("type = 1"), {"'type' must be a string"});
  ExpectError(OneField("type = \"lww\", value = \"text\""), {"unknown value type 'text'"});
  ExpectError(OneField("type = \"lww\", value = 3"), {"'value' must be a string"});
  // value only for lww/mv/set/log
  ExpectError(OneField("type = \"counter\", value = \"int\""),
              {"'value' is only allowed for lww, mv, set and log fields, not counter"});
  ExpectError(OneField("type = \"status\", order = [\"a\"], value = \"string\""), {"not status"});
  ExpectError(OneField("type = \"ref\", value = \"ref\""), {"ref fields always hold refs"});
  // index only for lww/ref/status
  for (const char* t : {"mv", "set", "counter", "log"}) {
    ExpectError(OneField(std::string("type = \"") + t + "\", index = true"),
                {"t.toml:5:", "'index = true' is only allowed for lww, ref and status fields",
                 std::string("not ") + t});
    MustParse(OneField(std::string("type = \"") + t + "\", index = false"));
  }
  ExpectError(OneField("type = \"lww\", index = \"yes\""), {"'index' must be true or false"});
  // collection only for ref
  ExpectError(OneField("type = \"lww\", collection = \"c\""),
              {"'collection' is only allowed for ref fields, not lww"});
  ExpectError(OneField("type = \"ref\", collection = \"nope\""),
              {"t.toml:5:", "refers to unknown collection 'nope'"});
  ExpectError(OneField("type = \"ref\", collection = \"Bad\""), {"referenced collection name"});
  MustParse(OneField("type = \"ref\", collection = \"c\""));  // self reference
  // order only for status; non-empty, unique
  ExpectError(OneField("type = \"lww\", order = [\"a\"]"),
              {"'order' is only allowed for status fields, not lww"});
  ExpectError(OneField("type = \"status\""), {"t.toml:5:", "status fields need an 'order'"});
  ExpectError(OneField("type = \"status\", order = []"), {"at least one state"});
  ExpectError(OneField("type = \"status\", order = [\"a\", \"b\", \"a\"]"),
              {"state 'a' appears twice"});
  ExpectError(OneField("type = \"status\", order = [\"a\", 2]"), {"entries must be strings"});
  ExpectError(OneField("type = \"status\", order = \"a\""), {"'order' must be an array"});
  ExpectError(OneField("type = \"status\", order = [\"a\", \"\"]"), {"state ''"});
  ExpectError(OneField("type = \"status\", order = [\"In Progress\"]"), {"state 'In Progress'"});
  ExpectError(OneField("type = \"lww\", description = 1"), {"'description' must be a string"});
}

TEST_CASE("errors from a multi-line document report the right line") {
  std::string text = std::string(kBriefExample) +
                     "[collections.station]\nscope = \"union.stations\"\n"
                     "[collections.station.fields]\n"
                     "amenities = { type = \"set\", value = \"string\" }\n"
                     "visits = { type = \"counter\", index = true }\n";
  // kBriefExample has 20 lines; visits is on line 25.
  ExpectError(text, {"t.toml:25:", "collections.station.fields.visits"});
}

TEST_CASE("CheckCollection") {
  auto s = Schema::LoadFile(TestDataPath());
  REQUIRE(s.ok());
  CHECK(s->CheckCollection("item").ok());
  CHECK(s->CheckCollection("other").ok());
  Status st = s->CheckCollection("items");
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("unknown collection 'items'") != std::string::npos);
  CHECK(Schema().CheckCollection("item").code() == Code::kInvalidArgument);
}

TEST_CASE("CheckValue accept/reject matrix") {
  auto loaded = Schema::LoadFile(TestDataPath());
  REQUIRE(loaded.ok());
  const Schema& s = *loaded;
  RecordId rid = RecordId::Generate();
  Value null_v, str("x"), i(int64_t{7}), d(1.5), b(true), bytes(Bytes{1, 2}),
      ts(Timestamp{1700000000000}), ref(rid);

  auto ok = [&](std::string_view f, FieldKind k, const Value* v) {
    Status st = s.CheckValue("item", f, k, v);
    INFO(f << " " << FieldKindName(k) << " " << (v ? v->ToString() : "nullptr") << ": "
           << st.ToString());
    CHECK(st.ok());
  };
  auto bad = [&](std::string_view f, FieldKind k, const Value* v,
                 std::initializer_list<std::string> needles) {
    Status st = s.CheckValue("item", f, k, v);
    INFO(f << " " << FieldKindName(k) << " " << (v ? v->ToString() : "nullptr"));
    REQUIRE_FALSE(st.ok());
    CHECK(st.code() == Code::kInvalidArgument);
    for (const auto& n : needles) {
      INFO("message: " << st.message() << "\nexpected: " << n);
      CHECK(st.message().find(n) != std::string::npos);
    }
  };

  // lww string: strings and null (clearing) only.
  ok("title", FieldKind::kLww, &str);
  ok("title", FieldKind::kLww, &null_v);
  bad("title", FieldKind::kLww, &i, {"item.title", "string", "got int"});
  bad("title", FieldKind::kLww, nullptr, {"item.title", "value is required"});
  bad("title", FieldKind::kMv, &str, {"item.title", "lww field", "kind mv"});
  // lww int / double
  ok("score", FieldKind::kLww, &i);
  bad("score", FieldKind::kLww, &d, {"item.score", "int", "got double"});
  ok("price", FieldKind::kLww, &d);
  bad("price", FieldKind::kLww, &i, {"item.price", "double", "got int"});
  // lww any
  for (const Value* v : {&null_v, &str, &i, &d, &b, &bytes, &ts, &ref})
    ok("any", FieldKind::kLww, v);
  bad("any", FieldKind::kLww, nullptr, {"item.any"});
  // ref: an lww of refs
  ok("ref", FieldKind::kLww, &ref);
  ok("ref", FieldKind::kLww, &null_v);
  bad("ref", FieldKind::kLww, &str, {"item.ref", "ref", "got string"});
  bad("ref", FieldKind::kSet, &ref, {"item.ref", "ref field", "kind lww", "kind set"});
  // set of strings
  ok("tags", FieldKind::kSet, &str);
  bad("tags", FieldKind::kSet, &null_v, {"item.tags", "got null"});
  bad("tags", FieldKind::kSet, &b, {"item.tags", "got bool"});
  bad("tags", FieldKind::kLww, &str, {"item.tags", "set field"});
  bad("tags", FieldKind::kSet, nullptr, {"item.tags"});
  // counter: no value
  ok("count", FieldKind::kCounter, nullptr);
  ok("count", FieldKind::kCounter, &null_v);
  ok("count", FieldKind::kCounter, &i);
  bad("count", FieldKind::kCounter, &str, {"item.count", "counter"});
  bad("count", FieldKind::kLww, &i, {"item.count", "counter field"});
  // status: a string from the order
  Value open("open"), lost("lost");
  ok("stage", FieldKind::kStatus, &open);
  bad("stage", FieldKind::kStatus, &lost, {"item.stage", "'lost'", "new, open, done"});
  bad("stage", FieldKind::kStatus, &i, {"item.stage", "state name", "got int"});
  bad("stage", FieldKind::kStatus, &null_v, {"item.stage", "got null"});
  bad("stage", FieldKind::kStatus, nullptr, {"item.stage"});
  bad("stage", FieldKind::kLww, &open, {"item.stage", "status field"});
  // mv string
  ok("owner", FieldKind::kMv, &str);
  ok("owner", FieldKind::kMv, &null_v);
  bad("owner", FieldKind::kMv, &ts, {"item.owner", "got timestamp"});
  bad("owner", FieldKind::kLww, &str, {"item.owner", "mv field"});
  // log of strings
  ok("notes", FieldKind::kLog, &str);
  bad("notes", FieldKind::kLog, &null_v, {"item.notes"});
  bad("notes", FieldKind::kLog, &bytes, {"item.notes", "got bytes"});
  bad("notes", FieldKind::kSet, &str, {"item.notes", "log field"});

  // unknown / reserved
  bad("nope", FieldKind::kLww, &str, {"unknown field 'item.nope'"});
  bad("$deleted", FieldKind::kLww, &b, {"item.$deleted", "reserved"});
  Status st = s.CheckValue("nope", "title", FieldKind::kLww, &str);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("unknown collection 'nope'") != std::string::npos);
  // Field names are per collection.
  CHECK(s.CheckValue("other", "name", FieldKind::kLww, &str).ok());
  CHECK(s.CheckValue("other", "title", FieldKind::kLww, &str).code() == Code::kInvalidArgument);
}

TEST_CASE("CheckValue: set/log of any and null element types") {
  Schema any_set = MustParse(OneField("type = \"set\""));
  Value s("x"), n;
  CHECK(any_set.CheckValue("c", "f", FieldKind::kSet, &s).ok());
  CHECK_FALSE(any_set.CheckValue("c", "f", FieldKind::kSet, &n).ok());
  Schema null_set = MustParse(OneField("type = \"set\", value = \"null\""));
  CHECK(null_set.CheckValue("c", "f", FieldKind::kSet, &n).ok());
  CHECK_FALSE(null_set.CheckValue("c", "f", FieldKind::kSet, &s).ok());
}

TEST_CASE("LoadFile errors") {
  testing::TempDir dir;
  auto missing = Schema::LoadFile(dir.Sub("nope.toml"));
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message().find("nope.toml") != std::string::npos);
  CHECK(Schema::LoadFile(dir.Sub("no/such/dir.toml")).status().code() == Code::kNotFound);

  CHECK(Schema::LoadFile(dir.path()).status().code() == Code::kIOError);

  std::string bad = dir.Sub("bad.toml");
  {
    std::ofstream out(bad);
    out << "format = 1\n[collections.c]\nscope = \"s\"\nbogus = 1\n";
  }
  auto r = Schema::LoadFile(bad);
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(r.status().message().find(bad + ":4:") != std::string::npos);

  std::string unreadable = dir.Sub("unreadable.toml");
  {
    std::ofstream out(unreadable);
    out << "format = 1\n";
  }
  REQUIRE(::chmod(unreadable.c_str(), 0) == 0);
  if (::geteuid() != 0) {  // root reads anything
    CHECK(Schema::LoadFile(unreadable).status().code() == Code::kIOError);
  }
}

}  // namespace hearth

namespace hearth {
namespace {

// Collection c (scope s) with the given fields, plus collection d; version v.
std::string Doc(const std::string& c_fields, const std::string& extra = "", uint32_t v = 1,
                const std::string& c_scope = "s") {
  return "format = 1\nversion = " + std::to_string(v) + "\n[collections.c]\nscope = \"" + c_scope +
         "\"\ndescription = \"old\"\n[collections.c.fields]\n" + c_fields +
         "[collections.d]\nscope = \"s\"\n[collections.d.fields]\nx = { type = \"lww\" }\n" + extra;
}

const char* kBase =
    "f = { type = \"lww\", value = \"int\" }\n"
    "st = { type = \"status\", order = [\"a\", \"b\"] }\n"
    "r = { type = \"ref\", collection = \"d\" }\n"
    "m = { type = \"mv\" }\n";

}  // namespace

TEST_CASE("CheckSchemaChange: every allowed and refused change") {
  const Schema from = MustParse(Doc(kBase));
  CHECK(from.version() == 1);
  struct Case {
    const char* what;
    std::string to;
    const char* error;  // nullptr: allowed
  };
  const std::string f = "f = { type = \"lww\", value = \"int\" }\n";
  const std::string st = "st = { type = \"status\", order = [\"a\", \"b\"] }\n";
  const std::string r = "r = { type = \"ref\", collection = \"d\" }\n";
  const std::string m = "m = { type = \"mv\" }\n";
  const Case cases[] = {
      {"identical", Doc(kBase), nullptr},
      {"higher version", Doc(kBase, "", 2), nullptr},
      {"add a collection", Doc(kBase, "[collections.e]\nscope = \"t\"\n"), nullptr},
      {"add a field", Doc(std::string(kBase) + "g = { type = \"counter\" }\n"), nullptr},
      {"add an index", Doc("f = { type = \"lww\", value = \"int\", index = true }\n" + st + r + m), nullptr},
      {"append a status state", Doc(f + "st = { type = \"status\", order = [\"a\", \"b\", \"c\"] }\n" + r + m),
       nullptr},
      {"change descriptions",
       Doc("f = { type = \"lww\", value = \"int\", description = \"new\" }\n" + st + r + m), nullptr},
      {"lower version", Doc(kBase, "", 1), nullptr},  // same version: allowed (checked below with from v2)
      {"change a type", Doc("f = { type = \"counter\" }\n" + st + r + m),
       "field c.f: type lww -> counter is not allowed (a field's type never changes; add a new field"},
      {"change lww to mv", Doc("f = { type = \"mv\", value = \"int\" }\n" + st + r + m),
       "field c.f: type lww -> mv is not allowed"},
      {"change a value type", Doc("f = { type = \"lww\", value = \"string\" }\n" + st + r + m),
       "field c.f: value type int -> string is not allowed"},
      {"value type to any", Doc("f = { type = \"lww\" }\n" + st + r + m),
       "field c.f: value type int -> any is not allowed"},
      {"change a ref target", Doc(f + st + "r = { type = \"ref\", collection = \"c\" }\n" + m),
       "field c.r: ref target d -> c is not allowed"},
      {"ref target to any", Doc(f + st + "r = { type = \"ref\" }\n" + m), "field c.r: ref target d -> any"},
      {"remove a field", Doc(f + st + r), "field c.m is removed"},
      {"rename a field", Doc(f + st + r + "m2 = { type = \"mv\" }\n"), "field c.m is removed"},
      {"reorder states", Doc(f + "st = { type = \"status\", order = [\"b\", \"a\"] }\n" + r + m),
       "field c.st: status order [a, b] -> [b, a] is not allowed"},
      {"remove a state", Doc(f + "st = { type = \"status\", order = [\"a\"] }\n" + r + m),
       "field c.st: status order [a, b] -> [a] is not allowed"},
      {"insert a state", Doc(f + "st = { type = \"status\", order = [\"a\", \"x\", \"b\"] }\n" + r + m),
       "field c.st: status order [a, b] -> [a, x, b]"},
      {"move to another scope", Doc(kBase, "", 1, "t"),
       "collection c: scope s -> t is not allowed (a collection never moves to another scope"},
      {"remove a collection",
       "format = 1\n[collections.d]\nscope = \"s\"\n[collections.d.fields]\nx = { type = \"lww\" }\n",
       "collection c is removed"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Schema to = MustParse(c.to);
    Status s = CheckSchemaChange(from, to);
    if (c.error == nullptr) {
      CHECK_MESSAGE(s.ok(), s.ToString());
    } else {
      REQUIRE_FALSE(s.ok());
      CHECK(s.code() == Code::kInvalidArgument);
      INFO(s.message());
      CHECK(s.message().find(c.error) != std::string::npos);
      CHECK(s.message().find("docs/schema.md \"Changing a schema\"") != std::string::npos);
    }
  }
  // A newer schema keeps or raises the version.
  Status older = CheckSchemaChange(MustParse(Doc(kBase, "", 3)), MustParse(Doc(kBase, "", 2)));
  CHECK(older.code() == Code::kInvalidArgument);
  CHECK(older.message().find("schema version 2 is older than version 3") != std::string::npos);
}

TEST_CASE("version: default 1, canonical, part of equality") {
  CHECK(MustParse("format = 1\n").version() == 1);
  Schema v7 = MustParse("format = 1\nversion = 7\n");
  CHECK(v7.version() == 7);
  CHECK(v7.ToToml() == "format = 1\nversion = 7\n");
  CHECK(MustParse(v7.ToToml()) == v7);
  CHECK_FALSE(v7 == MustParse("format = 1\n"));
}

}  // namespace hearth
