// Fuzz target: the C API (include/hearth/hearth.h, src/capi) driven by a
// script of calls on one real replica (LMDB in a temp dir made once per
// process; docs/c-api.md).
//
// The input is up to 64 steps. Each step takes its arguments from the
// input — record ids (valid, short, non-hex, NULL), names (valid, unknown,
// invalid UTF-8, NULL), hearth_value structs with any type number, size and
// NULL data, JSON text (values, queries, heads) and raw delta bytes — then
// one byte picks the call: a batch operation, commit, get, find,
// deltas-since, apply, the change feed, conflicts or history. Oracles: every
// call returns a hearth_code in [0, 11] and never HEARTH_INTERNAL (no
// exception escaped, no bug reached); a failed call leaves a non-empty
// message and its out pointers NULL, and changes nothing (the replica's
// digest is unchanged).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "byte_reader.hpp"
#include "fuzz_support.hpp"
#include "hearth/hearth.h"

namespace {

struct World {
  hearth_replica* r = nullptr;
  std::string good_id;
  World() {
    hearth_options* o = nullptr;
    FUZZ_CHECK(hearth_options_new(&o) == HEARTH_OK);
    FUZZ_CHECK(hearth_options_set_unencrypted_identity(o, 1) == HEARTH_OK);
    FUZZ_CHECK(hearth_options_set_durability(o, HEARTH_DURABILITY_NOSYNC) == HEARTH_OK);
    FUZZ_CHECK_MSG(hearth_options_set_schema_toml(
                       o, "format = 1\n[collections.w]\nscope = \"s\"\n[collections.w.fields]\n"
                          "name = { type = \"lww\", value = \"string\", index = true }\n"
                          "tags = { type = \"set\", value = \"any\" }\nn = { type = \"counter\" }\n"
                          "st = { type = \"status\", order = [\"a\", \"b\"] }\n"
                          "log = { type = \"log\", value = \"any\" }\nmv = { type = \"mv\", value = \"any\" }\n") ==
                       HEARTH_OK,
                   hearth_last_error());
    FUZZ_CHECK_MSG(hearth_replica_open(hearth::fuzz::TempDir().Sub("capi").c_str(), o, &r) == HEARTH_OK,
                   hearth_last_error());
    hearth_options_free(o);
    FUZZ_CHECK(hearth_replica_create_scope_key(r, "s") == HEARTH_OK);
    char id[33];
    FUZZ_CHECK(hearth_record_id_generate(id, sizeof id) == HEARTH_OK);
    good_id = id;
  }
};

World& W() {
  static World* w = new World();
  return *w;
}

std::string Digest() {
  uint8_t d[32];
  FUZZ_CHECK(hearth_replica_digest(W().r, d, sizeof d) == HEARTH_OK);
  return std::string(reinterpret_cast<char*>(d), 32);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = W();
  hearth::fuzz::ByteReader in(data, size);
  hearth_batch* batch = nullptr;
  FUZZ_CHECK(hearth_batch_new(&batch) == HEARTH_OK);
  static const char* const kNames[] = {"w", "name", "tags", "n", "st", "log", "mv", "a", "b", "s", "",
                                       "\xc0\xaf", "\xed\xa0\x80", "x\xff", nullptr};
  constexpr size_t kNameCount = sizeof kNames / sizeof *kNames;
  for (int step = 0; step < 64 && !in.empty(); ++step) {
    // Arguments first (owned here, so pointers stay valid during the call).
    auto name = [&] { return kNames[in.U8() % kNameCount]; };
    std::string id_text;
    const char* id = nullptr;
    switch (in.U8() % 4) {
      case 0: id = w.good_id.c_str(); break;
      case 1: id_text = in.String(40); id = id_text.c_str(); break;
      case 2: id = "00000000000000000000000000000001"; break;
      default: id = nullptr; break;
    }
    std::vector<uint8_t> payload = in.Bytes(48);
    // The buffer always holds what `size` says (size 16 below): a caller that
    // lies about a buffer's length is undefined behaviour in any C API; wrong
    // sizes for a type (a 5-byte ref) are what the API must refuse.
    if (payload.size() < 16) payload.resize(16);
    hearth_value v{static_cast<int>(in.U8() % 10) - 1, static_cast<int64_t>(in.U64()), 0.0, nullptr, 0};
    std::memcpy(&v.d, &v.i, sizeof v.d);
    const uint8_t shape = in.U8();
    if (shape & 1) v.data = payload.data();
    v.size = shape & 2 ? payload.size() : (shape & 4 ? 16 : 0);
    std::string text = in.String(64);  // JSON or hex text, NUL-terminated by std::string
    const char* text_arg = (shape & 8) ? nullptr : text.c_str();
    const std::string before = Digest();

    int rc = HEARTH_OK;
    char* out = nullptr;
    bool out_checked = false;
    switch (in.U8() % 16) {
      case 0: rc = hearth_batch_set(batch, name(), id, name(), (shape & 16) ? nullptr : &v); break;
      case 1: rc = hearth_batch_add(batch, name(), id, name(), &v); break;
      case 2: rc = hearth_batch_remove(batch, name(), id, name(), &v); break;
      case 3: rc = hearth_batch_append(batch, name(), id, name(), &v); break;
      case 4: rc = hearth_batch_increment(batch, name(), id, name(), v.i); break;
      case 5: rc = hearth_batch_advance(batch, name(), id, name(), name()); break;
      case 6: rc = hearth_batch_delete(batch, name(), id); break;
      case 7: rc = hearth_batch_op_json(batch, (shape & 16) ? "set" : name(), name(), id, name(), text_arg); break;
      case 8: rc = hearth_replica_get_json(w.r, name(), id, &out), out_checked = true; break;
      case 9: rc = hearth_replica_find_json(w.r, text_arg, &out), out_checked = true; break;
      case 10: {
        hearth_deltas* d = nullptr;
        rc = hearth_replica_deltas_since(w.r, text_arg, in.U32(), &d);
        if (rc != HEARTH_OK) FUZZ_CHECK(d == nullptr);
        hearth_deltas_free(d);
        break;
      }
      case 11: rc = hearth_replica_apply(w.r, (shape & 16) ? nullptr : payload.data(), payload.size(), &out),
               out_checked = true;
        break;
      case 12: rc = hearth_replica_changes_json(w.r, in.U64() % 64, in.U8(), &out), out_checked = true; break;
      case 13: rc = hearth_replica_conflicts_json(w.r, name(), &out), out_checked = true; break;
      case 14: rc = hearth_replica_history_json(w.r, name(), id, &out), out_checked = true; break;
      default: rc = hearth_replica_commit(w.r, batch, nullptr); break;
    }
    const std::string message = hearth_last_error();
    FUZZ_CHECK_MSG(rc >= HEARTH_OK && rc < HEARTH_INTERNAL, std::to_string(rc) + ": " + message);
    if (rc != HEARTH_OK) {
      FUZZ_CHECK(!message.empty());
      if (out_checked) FUZZ_CHECK(out == nullptr);
      FUZZ_CHECK(Digest() == before);
    }
    hearth_free(out);
    if (rc != HEARTH_OK || in.U8() % 4 == 0) hearth_batch_clear(batch);
  }
  hearth_batch_free(batch);
  return 0;
}
