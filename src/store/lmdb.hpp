// Thin RAII layer over LMDB: the only place outside store/*.cpp that sees
// <lmdb.h> is this header, and only src/store includes it.
//
// Rules kept here: a write transaction aborts in its destructor unless
// committed; cursors are closed before their transaction ends (Cursor is
// scoped inside the Txn's lifetime by construction); every return code
// becomes a Status with context. Values read (MDB_val) point into the map
// and live until the transaction ends: callers copy them before returning
// them from the store module.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hearth/status.hpp"

namespace hearth::store {

using ByteView = std::span<const uint8_t>;

inline MDB_val ToVal(ByteView b) { return MDB_val{b.size(), const_cast<uint8_t*>(b.data())}; }
inline ByteView FromVal(const MDB_val& v) { return {static_cast<const uint8_t*>(v.mv_data), v.mv_size}; }
inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Maps an LMDB return code to a Status. MDB_MAP_FULL -> kResourceExhausted,
// MDB_NOTFOUND -> kNotFound, corruption codes -> kCorruption, errno -> kIOError.
Status MdbStatus(int rc, std::string_view what);

// The LMDB failures the store reacts to, as a type (a Status's code alone
// does not tell a full map from a full disk). A Txn remembers the kind of
// the first operation of it that failed: the caller of a write asks the
// transaction, not the error message, whether to grow the map and retry.
enum class MdbError : uint8_t {
  kNone,         // no operation failed
  kMapFull,      // MDB_MAP_FULL: grow the map and run the transaction again
  kMapResized,   // MDB_MAP_RESIZED: another process grew the map; adopt it and retry
  kOther,        // anything else: report it
};
MdbError MdbErrorOf(int rc);

class Env {
 public:
  Env() = default;
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  Status Open(const std::string& dir, unsigned flags, uint64_t map_size, unsigned max_dbs);
  MDB_env* get() const { return env_; }
  Status SetMapSize(uint64_t size);  // REQUIRES: no transaction active in this process
  // Adopts a map size another process set (MDB_MAP_RESIZED). REQUIRES: no
  // transaction active in this process.
  Status AdoptMapSize() const;
  // A consistent copy of the environment into the directory `dest` (which
  // must exist); `compact` leaves out free pages.
  Status CopyTo(const std::string& dest, bool compact) const;
  uint64_t MapSize() const;
  uint64_t UsedBytes() const;
  // Id of the newest committed write transaction, by any process (read
  // from the shared lock file: no system call, no transaction). It changes
  // on every commit, so a cheap "did anything change" probe.
  uint64_t LastTxnId() const;
  // Id of the transaction a read transaction begun now would see. It can
  // lag LastTxnId() for a moment: a writer publishes its id to readers
  // just after writing the meta page that LastTxnId() reads. 0 on error.
  uint64_t ReadableTxnId() const;
  // Drops this process's mappings of the whole map (madvise MADV_DONTNEED).
  // Nothing is lost: the mapping is shared and read-only (no MDB_WRITEMAP),
  // so the data stays in the file and the page cache and the next access
  // maps the page again (a minor fault). Safe while transactions of any
  // thread are live. REQUIRES: the map is not being resized (Replica:
  // resize_mu shared): madvise on an address range that another mapping
  // took since would destroy that mapping's contents.
  Status ReleaseMap() const;

 private:
  Status AdviseMap(int advice, const char* what) const;
  MDB_env* env_ = nullptr;
};

class Txn {
 public:
  Txn() = default;
  ~Txn() { Abort(); }
  Txn(Txn&& o) noexcept : txn_(o.txn_) { o.txn_ = nullptr; }
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      Abort();
      txn_ = o.txn_;
      o.txn_ = nullptr;
    }
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // Errors: kUnavailable on MDB_MAP_RESIZED, with error() == kMapResized
  // (the caller adopts the new size and retries).
  Status Begin(const Env& env, bool read_only);
  // Begins a write transaction nested in `parent` (mdb_txn_begin with a
  // parent): its changes become part of `parent` on Commit and vanish on
  // Abort, leaving `parent` as it was. `parent` must not be used until this
  // one ends. Group commit runs each batch in one (group_commit.cpp).
  Status BeginNested(Txn& parent);
  Status Commit();
  void Abort();
  MDB_txn* get() const { return txn_; }
  bool active() const { return txn_ != nullptr; }
  // Kind of the first failed operation since Begin (kept after Commit or
  // Abort, until the next Begin).
  MdbError error() const { return error_; }
  // Records `e` as this transaction's failure kind unless one is recorded:
  // a failure of a nested transaction the caller reports as this one's (so
  // that the caller of the outer one grows the map when the inner one
  // found it full).
  void NoteError(MdbError e) const {
    if (error_ == MdbError::kNone) error_ = e;
  }

  // Returns the value or nullopt; errors other than not-found as Status.
  Result<std::optional<ByteView>> Get(MDB_dbi dbi, ByteView key) const;
  Status Put(MDB_dbi dbi, ByteView key, ByteView value, unsigned flags = 0);
  // Deleting a missing key is ok.
  Status Del(MDB_dbi dbi, ByteView key);

  // Named tables: opens (MDB_CREATE in `flags` creates) the table `name`.
  Result<MDB_dbi> OpenTable(const std::string& name, unsigned flags);
  // Empties a table (keeps it open).
  Status Drop(MDB_dbi dbi);
  // Number of entries in a table.
  Result<uint64_t> Entries(MDB_dbi dbi) const;

  // The Status of LMDB code `rc` for operation `what`; records its kind in
  // error(). Cursors report through their transaction with it.
  Status Fail(int rc, std::string_view what) const;

 private:
  MDB_txn* txn_ = nullptr;
  mutable MdbError error_ = MdbError::kNone;
};

class Cursor {
 public:
  Cursor(const Txn& txn, MDB_dbi dbi);
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  const Status& status() const { return status_; }
  // Positions at the first key >= key. False at the end (or on error: check status()).
  bool Seek(ByteView key);
  bool First();
  bool Last();
  bool Next();
  bool Prev();
  ByteView key() const { return FromVal(k_); }
  ByteView value() const { return FromVal(v_); }

 private:
  bool Op(MDB_cursor_op op);
  const Txn& txn_;
  MDB_cursor* c_ = nullptr;
  MDB_val k_{}, v_{};
  Status status_;
};

}  // namespace hearth::store
