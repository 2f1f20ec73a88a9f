/* Hearth's C API: the stable interface other languages bind to.
 *
 * C99, no C++ type crosses it, no exception leaves it. Full reference:
 * docs/c-api.md. In short:
 *
 * Errors. Every call that can fail returns an int: HEARTH_OK (0) or one of
 * the hearth_code values (they mirror hearth::Code). The message of the
 * calling thread's last failed call is hearth_last_error() (thread-local;
 * valid until the thread's next hearth_ call). On failure every out
 * pointer is set to NULL / 0 and nothing changed.
 *
 * Ownership. Handles (hearth_replica, hearth_batch, hearth_node,
 * hearth_options, hearth_deltas) are created by hearth_*_new / _open /
 * _create and released by the matching _free / _close. Every char* or
 * uint8_t* a call hands out through an out parameter is the caller's:
 * release it with hearth_free(). Pointers passed in are only read during
 * the call (never kept).
 *
 * Text. Every const char* argument is a NUL-terminated UTF-8 string;
 * invalid UTF-8 is HEARTH_INVALID_ARGUMENT. Record ids and author keys are
 * lowercase or uppercase hex (32 and 64 digits). Records, heads, queries
 * and reports are JSON text (docs/c-api.md, "JSON shapes").
 *
 * Threading. A hearth_replica may be used from many threads at once (as
 * hearth::Replica). A hearth_batch or hearth_options belongs to one thread
 * at a time. hearth_node_stats/stop may be called from any thread.
 *
 * Undefined: using a handle after it was freed/closed, passing a pointer
 * that is not a handle of the right type (as with sqlite).
 */
#ifndef HEARTH_HEARTH_H_
#define HEARTH_HEARTH_H_

#include <stddef.h>
#include <stdint.h>

#if defined(HEARTH_STATIC)
#define HEARTH_C_EXPORT
#elif defined(_WIN32)
#ifdef HEARTH_BUILDING
#define HEARTH_C_EXPORT __declspec(dllexport)
#else
#define HEARTH_C_EXPORT __declspec(dllimport)
#endif
#else
#define HEARTH_C_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of this header (docs/c-api.md, "ABI
 * policy"); additions keep it. */
#define HEARTH_ABI_VERSION 1

typedef enum hearth_code {
  HEARTH_OK = 0,
  HEARTH_NOT_FOUND = 1,
  HEARTH_INVALID_ARGUMENT = 2,
  HEARTH_CORRUPTION = 3,
  HEARTH_IO_ERROR = 4,
  HEARTH_UNAVAILABLE = 5,
  HEARTH_UNAUTHENTICATED = 6,
  HEARTH_PERMISSION_DENIED = 7,
  HEARTH_RESOURCE_EXHAUSTED = 8,
  HEARTH_FAILED_PRECONDITION = 9,
  HEARTH_ALREADY_EXISTS = 10,
  HEARTH_INTERNAL = 11
} hearth_code;

typedef struct hearth_replica hearth_replica;
typedef struct hearth_options hearth_options;
typedef struct hearth_batch hearth_batch;
typedef struct hearth_deltas hearth_deltas;
typedef struct hearth_node hearth_node;
typedef struct hearth_watch hearth_watch;

/* ---- library ---------------------------------------------------------- */

/* HEARTH_ABI_VERSION of the loaded library: compare with the header's. */
HEARTH_C_EXPORT int hearth_abi_version(void);
/* "ok", "not_found", ...; "unknown" for a value outside hearth_code. Static. */
HEARTH_C_EXPORT const char* hearth_code_name(int code);
/* Message of this thread's last failed call ("" after a success). Owned by
 * the library, valid until this thread's next hearth_ call. Never NULL. */
HEARTH_C_EXPORT const char* hearth_last_error(void);
/* Code of this thread's last call. */
HEARTH_C_EXPORT int hearth_last_error_code(void);
/* Releases a buffer a hearth_ call returned. NULL is fine. */
HEARTH_C_EXPORT void hearth_free(void* p);
/* A new time-ordered record id as 32 hex digits + NUL into out[33]. */
HEARTH_C_EXPORT int hearth_record_id_generate(char* out, size_t out_size);

/* ---- values ----------------------------------------------------------- */

typedef enum hearth_value_type {
  HEARTH_VALUE_NULL = 0,
  HEARTH_VALUE_BOOL = 1,      /* i: 0 or 1 */
  HEARTH_VALUE_INT = 2,       /* i */
  HEARTH_VALUE_DOUBLE = 3,    /* d */
  HEARTH_VALUE_STRING = 4,    /* data/size: UTF-8, not NUL-terminated */
  HEARTH_VALUE_BYTES = 5,     /* data/size */
  HEARTH_VALUE_TIMESTAMP = 6, /* i: ms since the Unix epoch (UTC) */
  HEARTH_VALUE_REF = 7        /* data/size: 16 raw bytes of a record id */
} hearth_value_type;

/* A field value passed to a batch. Only the members of `type` are read. */
typedef struct hearth_value {
  int type; /* hearth_value_type */
  int64_t i;
  double d;
  const void* data;
  size_t size;
} hearth_value;

/* ---- options and replicas --------------------------------------------- */

typedef enum hearth_durability {
  HEARTH_DURABILITY_SYNC = 0,   /* fsync every commit (default) */
  HEARTH_DURABILITY_NOSYNC = 1  /* leave flushing to the OS */
} hearth_durability;

HEARTH_C_EXPORT int hearth_options_new(hearth_options** out);
HEARTH_C_EXPORT void hearth_options_free(hearth_options* o);
HEARTH_C_EXPORT int hearth_options_set_create_if_missing(hearth_options* o, int yes);
HEARTH_C_EXPORT int hearth_options_set_durability(hearth_options* o, int durability);
/* passphrase, root and schema: NULL unsets. */
HEARTH_C_EXPORT int hearth_options_set_passphrase(hearth_options* o, const char* passphrase);
HEARTH_C_EXPORT int hearth_options_set_unencrypted_identity(hearth_options* o, int yes);
/* The county root's author key (64 hex). */
HEARTH_C_EXPORT int hearth_options_set_root(hearth_options* o, const char* root_hex);
HEARTH_C_EXPORT int hearth_options_set_is_root(hearth_options* o, int yes);
/* Parses the TOML schema now (HEARTH_INVALID_ARGUMENT naming the line). */
HEARTH_C_EXPORT int hearth_options_set_schema_toml(hearth_options* o, const char* toml);
HEARTH_C_EXPORT int hearth_options_set_max_map_size(hearth_options* o, uint64_t bytes);
/* Resident pages of the LMDB map the replica keeps before it drops its
 * mappings after a transaction (the data stays in the file and the page
 * cache); default 32 MiB, 0 = never (ReplicaOptions::max_resident_map_bytes,
 * docs/storage-format.md "Map size"). */
HEARTH_C_EXPORT int hearth_options_set_max_resident_map_bytes(hearth_options* o, uint64_t bytes);

/* Opens (or creates) the replica in `dir`; `options` may be NULL (defaults)
 * and is only read. */
HEARTH_C_EXPORT int hearth_replica_open(const char* dir, const hearth_options* options, hearth_replica** out);
/* Closes the replica. HEARTH_FAILED_PRECONDITION (and nothing closed) while
 * a hearth_node or hearth_watch made on it exists. NULL is fine. */
HEARTH_C_EXPORT int hearth_replica_close(hearth_replica* r);
/* This replica's author key: 64 hex + NUL into out[65]. */
HEARTH_C_EXPORT int hearth_replica_author(const hearth_replica* r, char* out, size_t out_size);
/* Hash of the materialised records into out[32]: equal on replicas that
 * applied the same deltas, whatever the order. */
HEARTH_C_EXPORT int hearth_replica_digest(const hearth_replica* r, uint8_t* out, size_t out_size);

/* Scope keys (no county root): create once, copy with export/import. */
HEARTH_C_EXPORT int hearth_replica_create_scope_key(hearth_replica* r, const char* scope);
/* scopes_csv: comma-separated scope names, NULL or "" = every scope.
 * *out: secret key material, release with hearth_free. */
HEARTH_C_EXPORT int hearth_replica_export_keyring(const hearth_replica* r, const char* scopes_csv, uint8_t** out,
                                                  size_t* out_len);
HEARTH_C_EXPORT int hearth_replica_import_keyring(hearth_replica* r, const uint8_t* data, size_t len);

/* ---- write batches ------------------------------------------------------ */

HEARTH_C_EXPORT int hearth_batch_new(hearth_batch** out);
HEARTH_C_EXPORT void hearth_batch_free(hearth_batch* b);
HEARTH_C_EXPORT int hearth_batch_clear(hearth_batch* b);
HEARTH_C_EXPORT size_t hearth_batch_size(const hearth_batch* b);
/* lww, ref and mv fields (mv: resolves every value seen). */
HEARTH_C_EXPORT int hearth_batch_set(hearth_batch* b, const char* collection, const char* id_hex, const char* field,
                                     const hearth_value* v);
/* set fields. */
HEARTH_C_EXPORT int hearth_batch_add(hearth_batch* b, const char* collection, const char* id_hex, const char* field,
                                     const hearth_value* v);
HEARTH_C_EXPORT int hearth_batch_remove(hearth_batch* b, const char* collection, const char* id_hex,
                                        const char* field, const hearth_value* v);
/* log fields. */
HEARTH_C_EXPORT int hearth_batch_append(hearth_batch* b, const char* collection, const char* id_hex,
                                        const char* field, const hearth_value* v);
/* counter fields; negative decrements. */
HEARTH_C_EXPORT int hearth_batch_increment(hearth_batch* b, const char* collection, const char* id_hex,
                                           const char* field, int64_t by);
/* status fields. */
HEARTH_C_EXPORT int hearth_batch_advance(hearth_batch* b, const char* collection, const char* id_hex,
                                         const char* field, const char* state);
/* Record-level tombstone. */
HEARTH_C_EXPORT int hearth_batch_delete(hearth_batch* b, const char* collection, const char* id_hex);
/* Any value operation with the value as JSON text (docs/c-api.md): op is
 * "set", "add", "remove" or "append". */
HEARTH_C_EXPORT int hearth_batch_op_json(hearth_batch* b, const char* op, const char* collection,
                                         const char* id_hex, const char* field, const char* value_json);

typedef struct hearth_commit_info {
  uint64_t first_seq;
  uint64_t last_seq; /* 0 when the batch was empty */
  uint64_t op_count;
} hearth_commit_info;

/* Commits the batch atomically (schema checks here; on error nothing is
 * written). `info` may be NULL. The batch is left as it was. */
HEARTH_C_EXPORT int hearth_replica_commit(hearth_replica* r, const hearth_batch* b, hearth_commit_info* info);

/* ---- reads (records as JSON; docs/c-api.md) ----------------------------- */

/* One record; HEARTH_NOT_FOUND when no operation touched it. */
HEARTH_C_EXPORT int hearth_replica_get_json(const hearth_replica* r, const char* collection, const char* id_hex,
                                            char** out_json);
/* query_json: {"collection": C, "field": F?, "equals": V?, "lower": V?,
 * "upper": V?, "limit": N?, "include_deleted": B?}; *out_json: an array. */
HEARTH_C_EXPORT int hearth_replica_find_json(const hearth_replica* r, const char* query_json, char** out_json);

/* Called once per record in id order; `record_json` (len bytes, also
 * NUL-terminated) is valid during the call only. Return 0 to go on, any
 * other value to stop (hearth_replica_scan then returns HEARTH_OK). The
 * scan holds a read transaction: the callback may read the replica but must
 * not commit or apply on this thread (collect, then write after the scan). */
typedef int (*hearth_scan_fn)(void* ctx, const char* record_json, size_t len);
HEARTH_C_EXPORT int hearth_replica_scan(const hearth_replica* r, const char* collection, hearth_scan_fn fn,
                                        void* ctx);

/* ---- heads, deltas, bundles --------------------------------------------- */

/* Heads as JSON text, the heads-file format (docs/bundle-format.md). */
HEARTH_C_EXPORT int hearth_replica_heads_json(const hearth_replica* r, char** out_json);
/* Writes heads_json (checked) to `path` atomically. */
HEARTH_C_EXPORT int hearth_heads_save(const char* heads_json, const char* path);
/* Reads a heads file, returns its canonical JSON text. */
HEARTH_C_EXPORT int hearth_heads_load(const char* path, char** out_json);

/* Deltas held that since_heads_json lacks (NULL = all), at most max_bytes
 * in total (at least one if any is missing). */
HEARTH_C_EXPORT int hearth_replica_deltas_since(const hearth_replica* r, const char* since_heads_json,
                                                uint64_t max_bytes, hearth_deltas** out);
HEARTH_C_EXPORT size_t hearth_deltas_count(const hearth_deltas* d);
/* *data points into `d` (valid until hearth_deltas_free). */
HEARTH_C_EXPORT int hearth_deltas_get(const hearth_deltas* d, size_t index, const uint8_t** data, size_t* len);
HEARTH_C_EXPORT void hearth_deltas_free(hearth_deltas* d);

/* Verifies and applies one delta. *out_json (may be NULL):
 * {"outcome": "applied"|"duplicate"|..., "author", "seq", "unblocked", "reason"}. */
HEARTH_C_EXPORT int hearth_replica_apply(hearth_replica* r, const uint8_t* delta, size_t len, char** out_json);
/* Applies every delta of `d` in order (refused ones are listed, not fatal);
 * *out_json (may be NULL): the import report (as hearth_bundle_import). */
HEARTH_C_EXPORT int hearth_replica_apply_deltas(hearth_replica* r, const hearth_deltas* d, char** out_json);

/* Writes a bundle file of the deltas since_heads_json lacks (NULL = all).
 * *out_json (may be NULL): {"entries", "bytes", "covers"}. */
HEARTH_C_EXPORT int hearth_bundle_export(const hearth_replica* r, const char* since_heads_json, const char* path,
                                         char** out_json);
/* Checks then applies a bundle. *out_json (may be NULL): {"entries",
 * "applied", "duplicate", "pending", "unreadable", "fork", "held", "denied",
 * "waiting_schema", "unblocked", "rejected": [...]}. */
HEARTH_C_EXPORT int hearth_bundle_import(hearth_replica* r, const char* path, char** out_json);

/* ---- change feed, conflicts, history (include/hearth/changes.hpp) ------- */

/* Changes numbered above `since`, oldest first, at most `limit` (0 = no
 * limit). *out_json: [{"number", "collection", "id", "fields": [...],
 * "author", "remote", "rederived", "hlc"}, ...]. */
HEARTH_C_EXPORT int hearth_replica_changes_json(const hearth_replica* r, uint64_t since, uint64_t limit,
                                                char** out_json);
/* The newest change number (0 before the first change). */
HEARTH_C_EXPORT int hearth_replica_last_change(const hearth_replica* r, uint64_t* out);
/* A subscription that wakes on changes committed by this or another
 * process on the same directory. Free it before closing the replica
 * (close refuses before). One thread at a time. */
HEARTH_C_EXPORT int hearth_watch_new(hearth_replica* r, hearth_watch** out);
HEARTH_C_EXPORT void hearth_watch_free(hearth_watch* w);
/* Waits until the last change number exceeds `after` or timeout_ms passes
 * (at most 3,600,000): *changed = 1 (then read hearth_replica_changes_json
 * since `after`) or 0 on timeout. */
HEARTH_C_EXPORT int hearth_watch_wait(hearth_watch* w, uint64_t after, uint32_t timeout_ms, int* changed);
/* mv fields holding concurrent values; collection NULL or "" = all.
 * *out_json: [{"collection", "id", "field", "values": [{"value", "author",
 * "hlc"}, ...]}, ...]. */
HEARTH_C_EXPORT int hearth_replica_conflicts_json(const hearth_replica* r, const char* collection, char** out_json);
/* Every operation applied to the record, oldest first. *out_json: [{"hlc",
 * "author", "author_name", "seq", "field", "operation", "value", "p", "n"},
 * ...] (empty for a record never seen). */
HEARTH_C_EXPORT int hearth_replica_history_json(const hearth_replica* r, const char* collection, const char* id_hex,
                                                char** out_json);

/* ---- sync node (ZeroMQ, docs/hearthd.md) -------------------------------- */

/* options_json may be NULL: {"tick_ms": N, "heads_poll_ms": N}. The
 * replica must stay open until hearth_node_free (close refuses before). */
HEARTH_C_EXPORT int hearth_node_create(hearth_replica* r, const char* options_json, hearth_node** out);
/* Stops the node if running, then frees it. NULL is fine. */
HEARTH_C_EXPORT void hearth_node_free(hearth_node* n);
/* Before start. "tcp://127.0.0.1:*" picks a port: see listen_endpoints. */
HEARTH_C_EXPORT int hearth_node_listen(hearth_node* n, const char* endpoint);
/* JSON array of the bound endpoints. */
HEARTH_C_EXPORT int hearth_node_listen_endpoints_json(const hearth_node* n, char** out_json);
/* Before start: an outbound peer and its author key (64 hex). */
HEARTH_C_EXPORT int hearth_node_connect(hearth_node* n, const char* endpoint, const char* peer_hex);
HEARTH_C_EXPORT int hearth_node_start(hearth_node* n);
/* Idempotent. */
HEARTH_C_EXPORT int hearth_node_stop(hearth_node* n);
/* 1 running, 0 not (or NULL). */
HEARTH_C_EXPORT int hearth_node_running(const hearth_node* n);
/* {"peers": [...], "closed": [...], "zap_admitted", "zap_refused", ...}. */
HEARTH_C_EXPORT int hearth_node_stats_json(const hearth_node* n, char** out_json);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HEARTH_HEARTH_H_ */
