// The C API (include/hearth/hearth.h) through its C entry points only:
// argument checks, every field operation, bundles, heads, deltas, a conflict,
// a sync node pair on 127.0.0.1, and random call sequences (property test).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "capi/capi_schema.h"
#include "hearth/hearth.h"
#include "support/support.hpp"

namespace {

using json = nlohmann::json;
using hearth::testing::TempDir;

// Owns a returned buffer.
struct Buf {
  char* p = nullptr;
  ~Buf() { hearth_free(p); }
  json Json() const { return json::parse(p); }
};

hearth_replica* Open(const std::string& dir) {
  hearth_options* o = nullptr;
  REQUIRE(hearth_options_new(&o) == HEARTH_OK);
  REQUIRE(hearth_options_set_unencrypted_identity(o, 1) == HEARTH_OK);
  REQUIRE(hearth_options_set_durability(o, HEARTH_DURABILITY_NOSYNC) == HEARTH_OK);
  REQUIRE(hearth_options_set_schema_toml(o, HEARTH_CAPI_TEST_SCHEMA) == HEARTH_OK);
  // Every replica of these tests drops its map pages past 1 MiB resident.
  REQUIRE(hearth_options_set_max_resident_map_bytes(o, uint64_t{1} << 20) == HEARTH_OK);
  hearth_replica* r = nullptr;
  int rc = hearth_replica_open(dir.c_str(), o, &r);
  hearth_options_free(o);
  INFO(hearth_last_error());
  REQUIRE(rc == HEARTH_OK);
  return r;
}

std::string NewId() {
  char id[33];
  REQUIRE(hearth_record_id_generate(id, sizeof id) == HEARTH_OK);
  return id;
}

hearth_value Str(const char* s) { return hearth_value{HEARTH_VALUE_STRING, 0, 0.0, s, std::strlen(s)}; }
hearth_value Int(int64_t i) { return hearth_value{HEARTH_VALUE_INT, i, 0.0, nullptr, 0}; }

void Commit(hearth_replica* r, hearth_batch* b) {
  int rc = hearth_replica_commit(r, b, nullptr);
  INFO(hearth_last_error());
  REQUIRE(rc == HEARTH_OK);
  hearth_batch_clear(b);
}

// Copies `from`'s keyring into `to`.
void ShareKeys(hearth_replica* from, hearth_replica* to) {
  uint8_t* ring = nullptr;
  size_t len = 0;
  REQUIRE(hearth_replica_export_keyring(from, nullptr, &ring, &len) == HEARTH_OK);
  CHECK(hearth_replica_import_keyring(to, ring, len) == HEARTH_OK);
  hearth_free(ring);
}

std::string Digest(hearth_replica* r) {
  uint8_t d[32];
  REQUIRE(hearth_replica_digest(r, d, sizeof d) == HEARTH_OK);
  return std::string(reinterpret_cast<char*>(d), 32);
}

}  // namespace

TEST_CASE("capi: library calls and argument checks") {
  CHECK(hearth_abi_version() == HEARTH_ABI_VERSION);
  CHECK(std::string(hearth_code_name(HEARTH_NOT_FOUND)) == "not_found");
  CHECK(std::string(hearth_code_name(99)) == "unknown");
  char small[8];
  CHECK(hearth_record_id_generate(small, sizeof small) == HEARTH_INVALID_ARGUMENT);
  CHECK(std::string(hearth_last_error()).find("needs 33") != std::string::npos);

  hearth_replica* r = reinterpret_cast<hearth_replica*>(0x1);  // must be overwritten with NULL
  CHECK(hearth_replica_open(nullptr, nullptr, &r) == HEARTH_INVALID_ARGUMENT);
  CHECK(r == nullptr);
  CHECK(std::string(hearth_last_error()) == "dir is NULL");
  CHECK(hearth_last_error_code() == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_replica_open("\xff\xfe", nullptr, &r) == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_replica_close(nullptr) == HEARTH_OK);
  CHECK(std::string(hearth_last_error()).empty());

  hearth_batch* b = nullptr;
  REQUIRE(hearth_batch_new(&b) == HEARTH_OK);
  std::string id = NewId();
  hearth_value v = Str("x");
  CHECK(hearth_batch_set(nullptr, "worker", id.c_str(), "name", &v) == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_batch_set(b, nullptr, id.c_str(), "name", &v) == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_batch_set(b, "worker", "nothex", "name", &v) == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_batch_set(b, "worker", id.c_str(), "name", nullptr) == HEARTH_INVALID_ARGUMENT);
  hearth_value bad_utf8 = Str("\xc0\x80");
  CHECK(hearth_batch_set(b, "worker", id.c_str(), "name", &bad_utf8) == HEARTH_INVALID_ARGUMENT);
  hearth_value bad_type{42, 0, 0.0, nullptr, 0};
  CHECK(hearth_batch_set(b, "worker", id.c_str(), "name", &bad_type) == HEARTH_INVALID_ARGUMENT);
  hearth_value bad_ref{HEARTH_VALUE_REF, 0, 0.0, "abc", 3};
  CHECK(hearth_batch_set(b, "worker", id.c_str(), "employer", &bad_ref) == HEARTH_INVALID_ARGUMENT);
  hearth_value null_data{HEARTH_VALUE_BYTES, 0, 0.0, nullptr, 5};
  CHECK(hearth_batch_set(b, "worker", id.c_str(), "photo", &null_data) == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_batch_op_json(b, "set", "worker", id.c_str(), "name", "{not json") == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_batch_op_json(b, "frob", "worker", id.c_str(), "name", "1") == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_batch_op_json(b, "set", "worker", id.c_str(), "name", "{\"$x\": 1}") == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_batch_op_json(b, "set", "worker", id.c_str(), "name", "18446744073709551615") ==
        HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_batch_size(b) == 0);  // nothing was added by a failed call
  hearth_batch_free(b);

  hearth_options* o = nullptr;
  REQUIRE(hearth_options_new(&o) == HEARTH_OK);
  CHECK(hearth_options_set_schema_toml(o, "format = 1\n[collections.x]\n") == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_options_set_root(o, "abcd") == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_options_set_durability(o, 7) == HEARTH_INVALID_ARGUMENT);
  CHECK(hearth_options_set_max_resident_map_bytes(o, 0) == HEARTH_OK);  // 0: never trim
  CHECK(hearth_options_set_max_resident_map_bytes(nullptr, 0) == HEARTH_INVALID_ARGUMENT);
  hearth_options_free(o);
}

TEST_CASE("capi: every field operation, get, find, scan") {
  TempDir tmp;
  hearth_replica* r = Open(tmp.Sub("a"));
  REQUIRE(hearth_replica_create_scope_key(r, "hr.workers") == HEARTH_OK);
  hearth_batch* b = nullptr;
  REQUIRE(hearth_batch_new(&b) == HEARTH_OK);
  std::string id = NewId(), boss = NewId();
  uint8_t ref[16];
  for (int i = 0; i < 16; ++i) ref[i] = static_cast<uint8_t>(std::stoi(boss.substr(2 * i, 2), nullptr, 16));
  const uint8_t photo[3] = {0, 1, 255};
  hearth_value name = Str("王小明"), age = Int(34), score{HEARTH_VALUE_DOUBLE, 0, 2.5, nullptr, 0},
               active{HEARTH_VALUE_BOOL, 1, 0.0, nullptr, 0}, pic{HEARTH_VALUE_BYTES, 0, 0.0, photo, 3},
               born{HEARTH_VALUE_TIMESTAMP, 631152000000, 0.0, nullptr, 0},
               emp{HEARTH_VALUE_REF, 0, 0.0, ref, 16}, area = Str("city"), weld = Str("welding"),
               cook = Str("cooking"), note = Str("registered at the desk");
  const char* w = "worker";
  const char* i = id.c_str();
  CHECK(hearth_batch_set(b, w, i, "name", &name) == HEARTH_OK);
  CHECK(hearth_batch_set(b, w, i, "age", &age) == HEARTH_OK);
  CHECK(hearth_batch_set(b, w, i, "score", &score) == HEARTH_OK);
  CHECK(hearth_batch_set(b, w, i, "active", &active) == HEARTH_OK);
  CHECK(hearth_batch_set(b, w, i, "photo", &pic) == HEARTH_OK);
  CHECK(hearth_batch_set(b, w, i, "born", &born) == HEARTH_OK);
  CHECK(hearth_batch_set(b, w, i, "employer", &emp) == HEARTH_OK);
  CHECK(hearth_batch_set(b, w, i, "work_area", &area) == HEARTH_OK);
  CHECK(hearth_batch_add(b, w, i, "skills", &weld) == HEARTH_OK);
  CHECK(hearth_batch_add(b, w, i, "skills", &cook) == HEARTH_OK);
  CHECK(hearth_batch_increment(b, w, i, "visits", 3) == HEARTH_OK);
  CHECK(hearth_batch_advance(b, w, i, "stage", "verified") == HEARTH_OK);
  CHECK(hearth_batch_append(b, w, i, "notes", &note) == HEARTH_OK);
  CHECK(hearth_batch_size(b) == 13);
  hearth_commit_info info;
  REQUIRE(hearth_replica_commit(r, b, &info) == HEARTH_OK);
  CHECK(info.last_seq >= 1);
  CHECK(info.op_count == 13);
  hearth_batch_clear(b);
  CHECK(hearth_batch_remove(b, w, i, "skills", &cook) == HEARTH_OK);
  CHECK(hearth_batch_increment(b, w, i, "visits", -1) == HEARTH_OK);
  CHECK(hearth_batch_op_json(b, "append", w, i, "notes", "\"second note\"") == HEARTH_OK);
  Commit(r, b);

  Buf got;
  REQUIRE(hearth_replica_get_json(r, w, i, &got.p) == HEARTH_OK);
  json rec = got.Json();
  CHECK(rec["id"] == id);
  const json& f = rec["fields"];
  CHECK(f["name"]["value"] == "王小明");
  CHECK(f["age"]["value"] == 34);
  CHECK(f["score"]["value"] == 2.5);
  CHECK(f["active"]["value"] == true);
  CHECK(f["photo"]["value"]["$bytes"] == "0001ff");
  CHECK(f["born"]["value"]["$ts"] == 631152000000);
  CHECK(f["employer"]["value"]["$ref"] == boss);
  CHECK(f["work_area"]["values"] == json::array({"city"}));
  CHECK(f["skills"]["values"] == json::array({"welding"}));
  CHECK(f["visits"]["value"] == 2);
  CHECK(f["stage"]["value"] == "verified");
  CHECK(f["notes"]["entries"].size() == 2);

  // A schema error at commit: nothing written, message names the field.
  hearth_value wrong = Int(5);
  CHECK(hearth_batch_set(b, w, i, "name", &wrong) == HEARTH_OK);
  CHECK(hearth_replica_commit(r, b, nullptr) == HEARTH_INVALID_ARGUMENT);
  CHECK(std::string(hearth_last_error()).find("name") != std::string::npos);
  hearth_batch_clear(b);

  Buf missing;
  CHECK(hearth_replica_get_json(r, w, NewId().c_str(), &missing.p) == HEARTH_NOT_FOUND);
  CHECK(missing.p == nullptr);

  // A second worker; find by index, scan, stop a scan early.
  std::string id2 = NewId();
  hearth_value age2 = Int(51);
  CHECK(hearth_batch_set(b, w, id2.c_str(), "age", &age2) == HEARTH_OK);
  Commit(r, b);
  Buf found;
  REQUIRE(hearth_replica_find_json(r, R"({"collection":"worker","field":"age","lower":40})", &found.p) == HEARTH_OK);
  CHECK(found.Json().size() == 1);
  CHECK(found.Json()[0]["id"] == id2);
  Buf bad;
  CHECK(hearth_replica_find_json(r, R"({"collection":"worker","frob":1})", &bad.p) == HEARTH_INVALID_ARGUMENT);
  struct Count {
    int n = 0, stop_at = 0;
  } all, one{0, 1};
  auto fn = [](void* ctx, const char* text, size_t len) -> int {
    auto* c = static_cast<Count*>(ctx);
    CHECK(std::strlen(text) == len);
    return ++c->n == c->stop_at ? 1 : 0;
  };
  CHECK(hearth_replica_scan(r, w, fn, &all) == HEARTH_OK);
  CHECK(all.n == 2);
  CHECK(hearth_replica_scan(r, w, fn, &one) == HEARTH_OK);
  CHECK(one.n == 1);
  CHECK(hearth_replica_scan(r, w, nullptr, &one) == HEARTH_INVALID_ARGUMENT);

  hearth_batch_free(b);
  CHECK(hearth_replica_close(r) == HEARTH_OK);
}

TEST_CASE("capi: heads, bundles, deltas and a conflict between two replicas") {
  TempDir tmp;
  hearth_replica* a = Open(tmp.Sub("a"));
  hearth_replica* b = Open(tmp.Sub("b"));
  REQUIRE(hearth_replica_create_scope_key(a, "hr.workers") == HEARTH_OK);
  ShareKeys(a, b);
  hearth_batch* batch = nullptr;
  REQUIRE(hearth_batch_new(&batch) == HEARTH_OK);
  std::string id = NewId();
  hearth_value city = Str("city"), far = Str("out_of_province");
  REQUIRE(hearth_batch_set(batch, "worker", id.c_str(), "work_area", &city) == HEARTH_OK);
  Commit(a, batch);

  // USB flow: b saves its heads, a exports what b lacks, b imports.
  Buf heads_b;
  REQUIRE(hearth_replica_heads_json(b, &heads_b.p) == HEARTH_OK);
  std::string heads_file = tmp.Sub("b.heads"), bundle_file = tmp.Sub("a.bundle");
  REQUIRE(hearth_heads_save(heads_b.p, heads_file.c_str()) == HEARTH_OK);
  Buf loaded;
  REQUIRE(hearth_heads_load(heads_file.c_str(), &loaded.p) == HEARTH_OK);
  CHECK(std::string(loaded.p) == heads_b.p);
  CHECK(hearth_heads_save("{\"heads\": 5}", heads_file.c_str()) == HEARTH_INVALID_ARGUMENT);
  Buf exported, imported;
  REQUIRE(hearth_bundle_export(a, loaded.p, bundle_file.c_str(), &exported.p) == HEARTH_OK);
  CHECK(exported.Json()["entries"] == 1);
  REQUIRE(hearth_bundle_import(b, bundle_file.c_str(), &imported.p) == HEARTH_OK);
  CHECK(imported.Json()["applied"] == 1);
  CHECK(hearth_bundle_import(b, tmp.Sub("missing.bundle").c_str(), nullptr) == HEARTH_NOT_FOUND);
  CHECK(Digest(a) == Digest(b));

  // Concurrent edits of the mv field: both values kept after the exchange.
  REQUIRE(hearth_batch_set(batch, "worker", id.c_str(), "work_area", &far) == HEARTH_OK);
  Commit(b, batch);
  REQUIRE(hearth_batch_set(batch, "worker", id.c_str(), "work_area", &city) == HEARTH_OK);
  REQUIRE(hearth_batch_op_json(batch, "set", "worker", id.c_str(), "age", "40") == HEARTH_OK);
  Commit(a, batch);
  Buf ha, hb;
  REQUIRE(hearth_replica_heads_json(a, &ha.p) == HEARTH_OK);
  REQUIRE(hearth_replica_heads_json(b, &hb.p) == HEARTH_OK);
  hearth_deltas *to_a = nullptr, *to_b = nullptr;
  REQUIRE(hearth_replica_deltas_since(b, ha.p, UINT64_MAX, &to_a) == HEARTH_OK);
  REQUIRE(hearth_replica_deltas_since(a, hb.p, UINT64_MAX, &to_b) == HEARTH_OK);
  CHECK(hearth_deltas_count(to_a) == 1);
  const uint8_t* data = nullptr;
  size_t len = 0;
  REQUIRE(hearth_deltas_get(to_a, 0, &data, &len) == HEARTH_OK);
  CHECK(hearth_deltas_get(to_a, 1, &data, &len) == HEARTH_INVALID_ARGUMENT);
  CHECK(data == nullptr);
  REQUIRE(hearth_deltas_get(to_a, 0, &data, &len) == HEARTH_OK);
  Buf applied;
  REQUIRE(hearth_replica_apply(a, data, len, &applied.p) == HEARTH_OK);
  CHECK(applied.Json()["outcome"] == "applied");
  Buf report;
  REQUIRE(hearth_replica_apply_deltas(b, to_b, &report.p) == HEARTH_OK);
  CHECK(report.Json()["applied"] == 1);
  hearth_deltas_free(to_a);
  hearth_deltas_free(to_b);
  CHECK(Digest(a) == Digest(b));
  Buf rec;
  REQUIRE(hearth_replica_get_json(a, "worker", id.c_str(), &rec.p) == HEARTH_OK);
  CHECK(rec.Json()["fields"]["work_area"]["conflict"] == true);
  CHECK(rec.Json()["fields"]["work_area"]["values"].size() == 2);

  // Garbage bytes are a clear error that changes nothing.
  const uint8_t junk[4] = {1, 2, 3, 4};
  std::string before = Digest(a);
  CHECK(hearth_replica_apply(a, junk, sizeof junk, nullptr) != HEARTH_OK);
  CHECK(std::strlen(hearth_last_error()) > 0);
  CHECK(Digest(a) == before);

  hearth_batch_free(batch);
  CHECK(hearth_replica_close(a) == HEARTH_OK);
  CHECK(hearth_replica_close(b) == HEARTH_OK);
}

TEST_CASE("capi: a sync node pair on 127.0.0.1") {
  TempDir tmp;
  hearth_replica* a = Open(tmp.Sub("a"));
  hearth_replica* b = Open(tmp.Sub("b"));
  REQUIRE(hearth_replica_create_scope_key(a, "hr.workers") == HEARTH_OK);
  ShareKeys(a, b);
  hearth_batch* batch = nullptr;
  REQUIRE(hearth_batch_new(&batch) == HEARTH_OK);
  std::string id = NewId();
  REQUIRE(hearth_batch_op_json(batch, "set", "worker", id.c_str(), "name", "\"Li Na\"") == HEARTH_OK);
  Commit(a, batch);

  hearth_node *na = nullptr, *nb = nullptr;
  CHECK(hearth_node_create(a, "{\"tick_ms\": 0}", &na) == HEARTH_INVALID_ARGUMENT);
  REQUIRE(hearth_node_create(a, "{\"tick_ms\": 20, \"heads_poll_ms\": 50}", &na) == HEARTH_OK);
  REQUIRE(hearth_node_create(b, nullptr, &nb) == HEARTH_OK);
  CHECK(hearth_replica_close(a) == HEARTH_FAILED_PRECONDITION);  // node still made on it
  REQUIRE(hearth_node_listen(na, "tcp://127.0.0.1:*") == HEARTH_OK);
  Buf eps;
  REQUIRE(hearth_node_listen_endpoints_json(na, &eps.p) == HEARTH_OK);
  std::string ep = eps.Json()[0];
  char author_a[65];
  REQUIRE(hearth_replica_author(a, author_a, sizeof author_a) == HEARTH_OK);
  CHECK(hearth_node_connect(nb, ep.c_str(), "zz") == HEARTH_INVALID_ARGUMENT);
  REQUIRE(hearth_node_connect(nb, ep.c_str(), author_a) == HEARTH_OK);
  REQUIRE(hearth_node_start(na) == HEARTH_OK);
  REQUIRE(hearth_node_start(nb) == HEARTH_OK);
  CHECK(hearth_node_running(na) == 1);

  bool synced = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!synced && std::chrono::steady_clock::now() < deadline) {
    Buf rec;
    synced = hearth_replica_get_json(b, "worker", id.c_str(), &rec.p) == HEARTH_OK;
    if (!synced) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(synced);
  Buf stats;
  REQUIRE(hearth_node_stats_json(nb, &stats.p) == HEARTH_OK);
  CHECK(stats.Json()["peers"].size() == 1);
  CHECK(stats.Json()["peers"][0]["deltas_applied"] >= 1);
  CHECK(hearth_node_stop(na) == HEARTH_OK);
  CHECK(hearth_node_stop(na) == HEARTH_OK);  // idempotent
  CHECK(hearth_node_running(na) == 0);
  hearth_node_free(na);
  hearth_node_free(nb);
  hearth_batch_free(batch);
  CHECK(hearth_replica_close(a) == HEARTH_OK);
  CHECK(hearth_replica_close(b) == HEARTH_OK);
}

// Random call sequences with random (often invalid) arguments: every call
// returns a code (no crash, no exception), a failed call leaves a message,
// and a failed call changes nothing (the digest stays).
TEST_CASE("capi: property: random call sequences never crash") {
  const uint64_t seed = hearth::testing::BaseSeed();
  std::mt19937_64 rng(seed);
  MESSAGE("capi property seed " << seed << " (rerun with HEARTH_SEED)");
  TempDir tmp;
  hearth_replica* r = Open(tmp.Sub("p"));
  REQUIRE(hearth_replica_create_scope_key(r, "hr.workers") == HEARTH_OK);
  hearth_batch* b = nullptr;
  REQUIRE(hearth_batch_new(&b) == HEARTH_OK);
  std::vector<std::string> ids = {NewId(), NewId(), "", "0123", "\xff", std::string(32, 'g')};
  const char* texts[] = {"worker", "name", "age", "skills", "visits", "stage", "notes", "verified", "nope", "",
                         "\xc3\x28", "\xed\xa0\x80", nullptr};
  const char* jsons[] = {"1", "\"s\"", "null", "{\"$ts\": 5}", "{\"$bytes\": \"0g\"}", "[1]", "{", "1e999", nullptr};
  auto pick_text = [&]() { return texts[rng() % (sizeof texts / sizeof *texts)]; };
  auto pick_id = [&]() -> const char* {
    if (rng() % 10 == 0) return nullptr;
    return ids[rng() % ids.size()].c_str();
  };
  const int steps = hearth::testing::Cases(3000);
  int ok = 0;
  for (int step = 0; step < steps; ++step) {
    hearth_value v{static_cast<int>(rng() % 10) - 1, static_cast<int64_t>(rng() % 3), 1.5, nullptr, 0};
    const char* s = pick_text();
    if (s != nullptr && rng() % 2) {
      v.data = s;
      v.size = std::strlen(s) + (rng() % 4 == 0 ? 1 : 0);  // sometimes a NUL inside
    } else if (rng() % 3 == 0) {
      v.size = 16;  // NULL data with a size
    }
    hearth_value* vp = rng() % 8 ? &v : nullptr;
    hearth_batch* bp = rng() % 12 ? b : nullptr;
    const std::string before = Digest(r);
    bool mutates = false;
    int rc = HEARTH_OK;
    const int call = static_cast<int>(rng() % 12);
    switch (call) {
      case 0: rc = hearth_batch_set(bp, pick_text(), pick_id(), pick_text(), vp); break;
      case 1: rc = hearth_batch_add(bp, pick_text(), pick_id(), pick_text(), vp); break;
      case 2: rc = hearth_batch_append(bp, pick_text(), pick_id(), pick_text(), vp); break;
      case 3: rc = hearth_batch_increment(bp, pick_text(), pick_id(), pick_text(), static_cast<int64_t>(rng())); break;
      case 4: rc = hearth_batch_advance(bp, pick_text(), pick_id(), pick_text(), pick_text()); break;
      case 5: rc = hearth_batch_delete(bp, pick_text(), pick_id()); break;
      case 6:
        rc = hearth_batch_op_json(bp, rng() % 2 ? "set" : pick_text(), pick_text(), pick_id(), pick_text(),
                                  jsons[rng() % (sizeof jsons / sizeof *jsons)]);
        break;
      case 7: {
        Buf out;
        rc = hearth_replica_get_json(rng() % 10 ? r : nullptr, pick_text(), pick_id(), rng() % 10 ? &out.p : nullptr);
        if (rc != HEARTH_OK) CHECK(out.p == nullptr);
        break;
      }
      case 8: {
        Buf out;
        rc = hearth_replica_find_json(r, jsons[rng() % (sizeof jsons / sizeof *jsons)], &out.p);
        break;
      }
      case 9: {
        hearth_deltas* d = nullptr;
        rc = hearth_replica_deltas_since(r, jsons[rng() % (sizeof jsons / sizeof *jsons)], rng() % 1000, &d);
        if (rc != HEARTH_OK) CHECK(d == nullptr);
        hearth_deltas_free(d);
        break;
      }
      case 10: {
        const uint8_t junk[8] = {static_cast<uint8_t>(rng()), 1, 2, 3, 4, 5, 6, 7};
        rc = hearth_replica_apply(r, rng() % 5 ? junk : nullptr, rng() % 9, nullptr);
        break;
      }
      default:
        mutates = true;
        rc = hearth_replica_commit(r, bp, nullptr);
        break;
    }
    const std::string message = hearth_last_error();  // before Digest() resets it
    if (mutates) hearth_batch_clear(b);
    CHECK(rc >= HEARTH_OK);
    CHECK(rc <= HEARTH_INTERNAL);
    CHECK(rc != HEARTH_INTERNAL);
    if (rc == HEARTH_OK) {
      ++ok;
    } else {
      INFO("call " << call << " rc " << rc);
      CHECK(!message.empty());
      CHECK(Digest(r) == before);
    }
  }
  MESSAGE(ok << " of " << steps << " calls succeeded");
  hearth_batch_free(b);
  CHECK(hearth_replica_close(r) == HEARTH_OK);
}

TEST_CASE("capi: change feed, watcher, conflicts with authors, history") {
  TempDir tmp;
  hearth_replica* a = Open(tmp.Sub("a"));
  hearth_replica* b = Open(tmp.Sub("b"));
  REQUIRE(hearth_replica_create_scope_key(a, "hr.workers") == HEARTH_OK);
  ShareKeys(a, b);
  char author_a[65], author_b[65];
  REQUIRE(hearth_replica_author(a, author_a, sizeof author_a) == HEARTH_OK);
  REQUIRE(hearth_replica_author(b, author_b, sizeof author_b) == HEARTH_OK);
  uint64_t start = 99;
  REQUIRE(hearth_replica_last_change(b, &start) == HEARTH_OK);
  hearth_watch* w = nullptr;
  REQUIRE(hearth_watch_new(b, &w) == HEARTH_OK);
  CHECK(hearth_replica_close(b) == HEARTH_FAILED_PRECONDITION);  // the watcher is still there
  int changed = 7;
  REQUIRE(hearth_watch_wait(w, start, 10, &changed) == HEARTH_OK);
  CHECK(changed == 0);
  CHECK(hearth_watch_wait(w, start, 10, nullptr) == HEARTH_INVALID_ARGUMENT);

  hearth_batch* batch = nullptr;
  REQUIRE(hearth_batch_new(&batch) == HEARTH_OK);
  std::string id = NewId();
  REQUIRE(hearth_batch_op_json(batch, "set", "worker", id.c_str(), "work_area", "\"city\"") == HEARTH_OK);
  Commit(a, batch);
  REQUIRE(hearth_batch_op_json(batch, "set", "worker", id.c_str(), "work_area", "\"out_of_province\"") == HEARTH_OK);
  Commit(b, batch);
  REQUIRE(hearth_watch_wait(w, start, 5000, &changed) == HEARTH_OK);
  CHECK(changed == 1);
  Buf hb;
  REQUIRE(hearth_replica_heads_json(b, &hb.p) == HEARTH_OK);
  hearth_deltas* d = nullptr;
  REQUIRE(hearth_replica_deltas_since(a, hb.p, UINT64_MAX, &d) == HEARTH_OK);
  REQUIRE(hearth_replica_apply_deltas(b, d, nullptr) == HEARTH_OK);
  hearth_deltas_free(d);

  Buf changes;
  REQUIRE(hearth_replica_changes_json(b, start, 0, &changes.p) == HEARTH_OK);
  json cs = changes.Json();
  REQUIRE(cs.size() == 2);
  CHECK(cs[0]["remote"] == false);
  CHECK(cs[1]["remote"] == true);
  CHECK(cs[1]["author"] == author_a);
  CHECK(cs[1]["id"] == id);
  CHECK(cs[1]["number"].get<uint64_t>() > cs[0]["number"].get<uint64_t>());
  Buf one;
  REQUIRE(hearth_replica_changes_json(b, start, 1, &one.p) == HEARTH_OK);
  CHECK(one.Json().size() == 1);

  Buf conflicts;
  REQUIRE(hearth_replica_conflicts_json(b, nullptr, &conflicts.p) == HEARTH_OK);
  json cf = conflicts.Json();
  REQUIRE(cf.size() == 1);
  CHECK(cf[0]["field"] == "work_area");
  std::map<std::string, std::string> who;
  for (const auto& v : cf[0]["values"]) who[v["value"]] = v["author"];
  CHECK(who["city"] == author_a);
  CHECK(who["out_of_province"] == author_b);
  Buf bad;
  CHECK(hearth_replica_conflicts_json(b, "\xff", &bad.p) == HEARTH_INVALID_ARGUMENT);

  Buf hist;
  REQUIRE(hearth_replica_history_json(b, "worker", id.c_str(), &hist.p) == HEARTH_OK);
  json h = hist.Json();
  REQUIRE(h.size() == 2);
  CHECK(h[0]["hlc"].get<uint64_t>() <= h[1]["hlc"].get<uint64_t>());
  CHECK(h[0]["field"] == "work_area");
  CHECK(hearth_replica_history_json(b, "worker", "xyz", &bad.p) == HEARTH_INVALID_ARGUMENT);

  hearth_watch_free(w);
  hearth_batch_free(batch);
  CHECK(hearth_replica_close(a) == HEARTH_OK);
  CHECK(hearth_replica_close(b) == HEARTH_OK);
}
