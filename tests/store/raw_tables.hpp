// Every table of a closed replica's data.mdb, read with LMDB directly (no
// Hearth code, so no fault injection point): for the storage-format tests
// (migrate_v2_test.cpp, the migration kill test). REQUIRES: the replica is
// not open in this process.
#pragma once

#include <lmdb.h>

#include <map>
#include <string>

#include "store/storage_check.hpp"

namespace hearth::testing {

// table -> key -> value; a table the file lacks is absent. Empty on error,
// with the error in *error.
using RawTables = std::map<std::string, std::map<std::string, std::string>>;

inline RawTables ReadRawTables(const std::string& dir, std::string* error) {
  RawTables out;
  MDB_env* env = nullptr;
  auto fail = [&](const char* what, int rc) {
    *error = std::string(what) + ": " + mdb_strerror(rc);
    if (env != nullptr) mdb_env_close(env);
    return RawTables{};
  };
  int rc = mdb_env_create(&env);
  if (rc != 0) return fail("create", rc);
  mdb_env_set_maxdbs(env, 32);
  if ((rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0600)) != 0) return fail("open", rc);
  MDB_txn* t = nullptr;
  if ((rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &t)) != 0) return fail("begin", rc);
  for (const std::string& name : store::kTableNames) {
    MDB_dbi dbi;
    rc = mdb_dbi_open(t, name.c_str(), 0, &dbi);
    if (rc == MDB_NOTFOUND) continue;
    if (rc != 0) {
      mdb_txn_abort(t);
      return fail("dbi", rc);
    }
    auto& table = out[name];
    MDB_cursor* c = nullptr;
    if ((rc = mdb_cursor_open(t, dbi, &c)) != 0) {
      mdb_txn_abort(t);
      return fail("cursor", rc);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      table.emplace(std::string(static_cast<const char*>(k.mv_data), k.mv_size),
                    std::string(static_cast<const char*>(v.mv_data), v.mv_size));
    }
    mdb_cursor_close(c);
  }
  mdb_txn_abort(t);
  mdb_env_close(env);
  error->clear();
  return out;
}

// The storage format recorded in meta, 0 when absent or malformed.
inline uint32_t RawFormat(const RawTables& tables) {
  auto meta = tables.find("meta");
  if (meta == tables.end()) return 0;
  auto f = meta->second.find("format");
  if (f == meta->second.end() || f->second.size() != 4) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(f->second.data());
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// The format-2 tables a format-1 replica's tables migrate to
// (docs/storage-format.md, "Migration from format 1"): 8 zero bytes
// inserted before the seq of every feed position, after the author in
// heads and frozen; meta format = 2; everything else as it was.
inline RawTables MigratedRawTables(const RawTables& v1) {
  RawTables out = v1;
  const std::string zeros(8, '\0');
  for (const char* name : {"feeds", "pending", "opaque", "forks", "denied", "history"}) {
    auto it = v1.find(name);
    if (it == v1.end()) continue;
    auto& table = out[name];
    table.clear();
    for (const auto& [k, v] : it->second) {
      table.emplace(k.size() < 8 ? k : k.substr(0, k.size() - 8) + zeros + k.substr(k.size() - 8), v);
    }
  }
  for (const char* name : {"heads", "frozen"}) {
    auto it = v1.find(name);
    if (it == v1.end()) continue;
    auto& table = out[name];
    table.clear();
    for (const auto& [k, v] : it->second) table.emplace(k + zeros, v);
  }
  out["meta"]["format"] = std::string("\0\0\0\x02", 4);
  return out;
}

}  // namespace hearth::testing
