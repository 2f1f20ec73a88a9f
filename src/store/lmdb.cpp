#include "store/lmdb.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "store/fault.hpp"

namespace hearth::store {
namespace {

// What a fault injected by FaultInjector (store/fault.hpp) is called: as if
// LMDB had returned its code, marked as injected.
std::string Injected(std::string_view what) { return std::string(what) + " (injected fault)"; }

}  // namespace

MdbError MdbErrorOf(int rc) {
  switch (rc) {
    case MDB_SUCCESS: return MdbError::kNone;
    case MDB_MAP_FULL: return MdbError::kMapFull;
    case MDB_MAP_RESIZED: return MdbError::kMapResized;
    default: return MdbError::kOther;
  }
}

Status MdbStatus(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND: return Status::NotFound(std::move(msg));
    case MDB_MAP_FULL: return Status::ResourceExhausted(std::move(msg));
    case MDB_MAP_RESIZED: return Status::Unavailable(std::move(msg));
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_DBS_FULL:
      return Status::ResourceExhausted(std::move(msg));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_BAD_TXN:
    case MDB_BAD_VALSIZE:
    case MDB_BAD_DBI:
    case MDB_PANIC:
      return Status::Corruption(std::move(msg));
    case ENOSPC:
      return Status::ResourceExhausted(std::move(msg) + " (disk full)");
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(std::move(msg));
    case ENOENT:
      return Status::NotFound(std::move(msg));
    default:
      return Status::IOError(std::move(msg));
  }
}

Env::~Env() {
  if (env_ != nullptr) mdb_env_close(env_);
}

Status Env::Open(const std::string& dir, unsigned flags, uint64_t map_size, unsigned max_dbs) {
  int rc = mdb_env_create(&env_);
  if (rc != 0) return MdbStatus(rc, "mdb_env_create");
  mdb_env_set_maxdbs(env_, max_dbs);
  mdb_env_set_maxreaders(env_, 256);
  rc = mdb_env_set_mapsize(env_, map_size);
  if (rc != 0) return MdbStatus(rc, "mdb_env_set_mapsize");
  rc = mdb_env_open(env_, dir.c_str(), flags, 0600);
  if (rc != 0) {
    mdb_env_close(env_);
    env_ = nullptr;
    return MdbStatus(rc, "opening LMDB environment in " + dir);
  }
  return Status::Ok();
}

Status Env::SetMapSize(uint64_t size) {
  if (int f = FaultInjector::Check(FaultOp::kGrow)) return MdbStatus(f, Injected("LMDB growing the map"));
  return MdbStatus(mdb_env_set_mapsize(env_, size), "LMDB growing the map");
}

Status Env::AdoptMapSize() const { return MdbStatus(mdb_env_set_mapsize(env_, 0), "adopting grown map size"); }

Status Env::CopyTo(const std::string& dest, bool compact) const {
  return MdbStatus(mdb_env_copy2(env_, dest.c_str(), compact ? MDB_CP_COMPACT : 0), "copying replica to " + dest);
}

uint64_t Env::MapSize() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

uint64_t Env::LastTxnId() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_last_txnid;
}

uint64_t Env::ReadableTxnId() const {
  MDB_txn* t = nullptr;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t) != 0) return 0;
  const uint64_t id = mdb_txn_id(t);
  mdb_txn_abort(t);
  return id;
}

uint64_t Env::UsedBytes() const {
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &st);
  return (info.me_last_pgno + 1) * uint64_t{st.ms_psize};
}

// madvise(advice) on this process's shared mappings of data.mdb. LMDB does
// not say where it mapped the file (MDB_envinfo::me_mapaddr is only set
// with MDB_FIXEDMAP): the mappings are found, by device and inode, in
// /proc/self/maps.
Status Env::AdviseMap(int advice, const char* what) const {
  const char* path = nullptr;
  if (mdb_env_get_path(env_, &path) != 0 || path == nullptr) return Status::Internal("LMDB environment has no path");
  const std::string data = std::string(path) + "/data.mdb";
  struct stat st {};
  if (::stat(data.c_str(), &st) != 0) return Status::IOError(data + ": " + std::strerror(errno));
  std::FILE* maps = std::fopen("/proc/self/maps", "r");
  if (maps == nullptr) return Status::IOError(std::string("/proc/self/maps: ") + std::strerror(errno));
  Status result;
  char line[4096];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long long start = 0, end = 0, offset = 0, inode = 0;
    unsigned dev_major = 0, dev_minor = 0;
    char perms[8] = {};
    if (std::sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &offset, &dev_major, &dev_minor,
                    &inode) != 7) {
      continue;
    }
    if (inode != st.st_ino || dev_major != major(st.st_dev) || dev_minor != minor(st.st_dev)) continue;
    if (perms[3] != 's') continue;  // only LMDB's shared map
    if (::madvise(reinterpret_cast<void*>(start), end - start, advice) != 0) {
      result = Status::IOError(std::string(what) + " on the LMDB map: " + std::strerror(errno));
      break;
    }
  }
  std::fclose(maps);
  return result;
}

Status Env::ReleaseMap() const { return AdviseMap(MADV_DONTNEED, "madvise(MADV_DONTNEED)"); }

Status Txn::Fail(int rc, std::string_view what) const {
  if (error_ == MdbError::kNone) error_ = MdbErrorOf(rc);
  return MdbStatus(rc, what);
}

Status Txn::Begin(const Env& env, bool read_only) {
  Abort();
  error_ = MdbError::kNone;
  const char* what = read_only ? "LMDB begin read transaction" : "LMDB begin write transaction";
  if (int f = FaultInjector::Check(FaultOp::kBegin)) return Fail(f, Injected(what));
  int rc = mdb_txn_begin(env.get(), nullptr, read_only ? MDB_RDONLY : 0, &txn_);
  if (rc != 0) {
    txn_ = nullptr;
    return Fail(rc, what);
  }
  return Status::Ok();
}

Status Txn::BeginNested(Txn& parent) {
  Abort();
  error_ = MdbError::kNone;
  if (!parent.active()) return Status::Internal("nested transaction without a parent");
  constexpr const char* what = "LMDB begin nested write transaction";
  if (int f = FaultInjector::Check(FaultOp::kBegin)) return Fail(f, Injected(what));
  int rc = mdb_txn_begin(mdb_txn_env(parent.get()), parent.get(), 0, &txn_);
  if (rc != 0) {
    txn_ = nullptr;
    return Fail(rc, what);
  }
  return Status::Ok();
}

Status Txn::Commit() {
  if (txn_ == nullptr) return Status::Internal("commit without transaction");
  if (int f = FaultInjector::Check(FaultOp::kCommit)) {
    Abort();  // a failed mdb_txn_commit frees the transaction too
    return Fail(f, Injected("LMDB commit"));
  }
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;  // mdb_txn_commit frees the txn even on failure
  if (rc != 0) return Fail(rc, "LMDB commit");
  return Status::Ok();
}

void Txn::Abort() {
  if (txn_ != nullptr) {
    mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
}

Result<std::optional<ByteView>> Txn::Get(MDB_dbi dbi, ByteView key) const {
  if (int f = FaultInjector::Check(FaultOp::kGet)) return Fail(f, Injected("LMDB get"));
  MDB_val k = ToVal(key), v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<ByteView>();
  if (rc != 0) return Fail(rc, "LMDB get");
  return std::optional<ByteView>(FromVal(v));
}

Status Txn::Put(MDB_dbi dbi, ByteView key, ByteView value, unsigned flags) {
  if (int f = FaultInjector::Check(FaultOp::kPut)) return Fail(f, Injected("LMDB put"));
  MDB_val k = ToVal(key), v = ToVal(value);
  int rc = mdb_put(txn_, dbi, &k, &v, flags);
  if (rc != 0) return Fail(rc, "LMDB put");
  return Status::Ok();
}

Status Txn::Del(MDB_dbi dbi, ByteView key) {
  if (int f = FaultInjector::Check(FaultOp::kDel)) return Fail(f, Injected("LMDB delete"));
  MDB_val k = ToVal(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return Status::Ok();
  if (rc != 0) return Fail(rc, "LMDB delete");
  return Status::Ok();
}

Result<MDB_dbi> Txn::OpenTable(const std::string& name, unsigned flags) {
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn_, name.c_str(), flags, &dbi);
  if (rc != 0) return Fail(rc, "LMDB opening table " + name);
  return dbi;
}

Status Txn::Drop(MDB_dbi dbi) {
  if (int f = FaultInjector::Check(FaultOp::kDrop)) return Fail(f, Injected("LMDB emptying a table"));
  int rc = mdb_drop(txn_, dbi, 0);
  if (rc != 0) return Fail(rc, "LMDB emptying a table");
  return Status::Ok();
}

Result<uint64_t> Txn::Entries(MDB_dbi dbi) const {
  MDB_stat st;
  int rc = mdb_stat(txn_, dbi, &st);
  if (rc != 0) return Fail(rc, "LMDB table statistics");
  return uint64_t{st.ms_entries};
}

Cursor::Cursor(const Txn& txn, MDB_dbi dbi) : txn_(txn) {
  if (int f = FaultInjector::Check(FaultOp::kCursor)) {
    status_ = txn_.Fail(f, Injected("LMDB open cursor"));
    return;
  }
  int rc = mdb_cursor_open(txn.get(), dbi, &c_);
  if (rc != 0) {
    c_ = nullptr;
    status_ = txn_.Fail(rc, "LMDB open cursor");
  }
}

Cursor::~Cursor() {
  if (c_ != nullptr) mdb_cursor_close(c_);
}

bool Cursor::Op(MDB_cursor_op op) {
  if (c_ == nullptr) return false;
  if (int f = FaultInjector::Check(FaultOp::kCursor)) {
    status_ = txn_.Fail(f, Injected("LMDB cursor read"));
    return false;
  }
  int rc = mdb_cursor_get(c_, &k_, &v_, op);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) {
    status_ = txn_.Fail(rc, "LMDB cursor read");
    return false;
  }
  return true;
}

bool Cursor::Seek(ByteView key) {
  k_ = ToVal(key);
  return Op(MDB_SET_RANGE);
}
bool Cursor::First() { return Op(MDB_FIRST); }
bool Cursor::Last() { return Op(MDB_LAST); }
bool Cursor::Next() { return Op(MDB_NEXT); }
bool Cursor::Prev() { return Op(MDB_PREV); }

}  // namespace hearth::store
