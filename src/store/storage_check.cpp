// Checks of data.mdb that read the file with pread and never trust it
// (storage_check.hpp). The page layout is LMDB 0.9's on a 64-bit
// little-endian host (mdb.c: MDB_page, MDB_node, MDB_meta, MDB_db); the
// build pins liblmdb 0.9 (the data version checked below is 1).
#include "store/storage_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "base/bytes.hpp"


namespace hearth::store {
namespace {

static_assert(sizeof(void*) == 8, "the page layout below is LMDB's on 64-bit hosts");

constexpr uint32_t kMagic = 0xBEEFC0DE;
constexpr uint32_t kDataVersion = 1;
constexpr uint64_t kInvalidPage = ~uint64_t{0};
constexpr size_t kPageHeader = 16;  // pgno u64, pad u16, flags u16, lower u16, upper u16
constexpr size_t kNodeHeader = 8;   // lo u16, hi u16, flags u16, ksize u16
constexpr size_t kDbSize = 48;      // MDB_db
// MDB_meta, after the page header.
constexpr size_t kMetaMagic = 0, kMetaVersion = 4, kMetaDbs = 24, kMetaLastPg = 24 + 2 * kDbSize,
                 kMetaTxnid = kMetaLastPg + 8, kMetaEnd = kMetaTxnid + 8;
constexpr uint16_t kPBranch = 0x01, kPLeaf = 0x02, kPOverflow = 0x04, kPMeta = 0x08, kPLeaf2 = 0x20,
                   kPSubp = 0x40;
constexpr uint16_t kPKinds = kPBranch | kPLeaf | kPOverflow | kPMeta | kPLeaf2 | kPSubp;
constexpr uint16_t kFBigData = 0x01, kFSubData = 0x02, kFDupData = 0x04;
constexpr uint16_t kIntegerKey = 0x08;  // MDB_INTEGERKEY (the free list)
// MDB_REVERSEKEY, MDB_DUPSORT, MDB_INTEGERKEY, MDB_DUPFIXED, MDB_INTEGERDUP, MDB_REVERSEDUP.
constexpr uint16_t kKeyFlags = 0x7e;

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

struct Db {
  uint32_t pad = 0;
  uint16_t flags = 0, depth = 0;
  uint64_t branch_pages = 0, leaf_pages = 0, overflow_pages = 0, entries = 0, root = kInvalidPage;
};

Db LoadDb(const uint8_t* p) {
  Db d;
  d.pad = Load<uint32_t>(p);
  d.flags = Load<uint16_t>(p + 4);
  d.depth = Load<uint16_t>(p + 6);
  d.branch_pages = Load<uint64_t>(p + 8);
  d.leaf_pages = Load<uint64_t>(p + 16);
  d.overflow_pages = Load<uint64_t>(p + 24);
  d.entries = Load<uint64_t>(p + 32);
  d.root = Load<uint64_t>(p + 40);
  return d;
}

struct Meta {
  bool valid = false;
  std::string problem;
  uint32_t psize = 0;
  uint64_t last_pg = 0, txnid = 0;
  Db free_db, main_db;
};

class File {
 public:
  explicit File(const std::string& path) : path_(path) { fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  Status OpenStatus() const {
    if (fd_ >= 0) return Status::Ok();
    std::string msg = "opening " + path_ + ": " + std::strerror(errno);
    return errno == ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
  }
  Result<uint64_t> Size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return Status::IOError("stat " + path_ + ": " + std::strerror(errno));
    return static_cast<uint64_t>(st.st_size);
  }
  // Reads exactly n bytes at off; false when the file is shorter.
  Result<bool> Read(uint64_t off, uint8_t* buf, size_t n) const {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, buf + got, n - got, static_cast<off_t>(off + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Status::IOError("reading " + path_ + ": " + std::strerror(errno));
      if (r == 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

Meta ParseMeta(const uint8_t* page, uint64_t pgno, uint32_t expect_psize) {
  Meta m;
  const uint8_t* b = page + kPageHeader;
  if (Load<uint64_t>(page) != pgno || (Load<uint16_t>(page + 10) & kPMeta) == 0) {
    m.problem = "meta page " + std::to_string(pgno) + " is not a meta page";
    return m;
  }
  if (Load<uint32_t>(b + kMetaMagic) != kMagic) {
    m.problem = "meta page " + std::to_string(pgno) + " has no LMDB magic";
    return m;
  }
  if (Load<uint32_t>(b + kMetaVersion) != kDataVersion) {
    m.problem = "meta page " + std::to_string(pgno) + " has LMDB data version " +
                std::to_string(Load<uint32_t>(b + kMetaVersion));
    return m;
  }
  m.free_db = LoadDb(b + kMetaDbs);
  m.main_db = LoadDb(b + kMetaDbs + kDbSize);
  m.psize = m.free_db.pad;
  m.last_pg = Load<uint64_t>(b + kMetaLastPg);
  m.txnid = Load<uint64_t>(b + kMetaTxnid);
  if (m.psize < 512 || m.psize > 65536 || (m.psize & (m.psize - 1)) != 0 ||
      (expect_psize != 0 && m.psize != expect_psize)) {
    m.problem = "meta page " + std::to_string(pgno) + " records page size " + std::to_string(m.psize);
    return m;
  }
  if (m.last_pg < 1) {
    m.problem = "meta page " + std::to_string(pgno) + " records last page " + std::to_string(m.last_pg);
    return m;
  }
  m.valid = true;
  return m;
}

struct Metas {
  uint64_t file_size = 0;
  Meta m[2];
};

Result<Metas> ReadMetas(const File& f, const std::string& path) {
  Metas out;
  auto size = f.Size();
  if (!size.ok()) return size.status();
  out.file_size = *size;
  // The first meta page tells the page size; LMDB reads it the same way.
  std::vector<uint8_t> first(kPageHeader + kMetaEnd);
  auto ok = f.Read(0, first.data(), first.size());
  if (!ok.ok()) return ok.status();
  if (!*ok) {
    return Status::Corruption(path + " is truncated: " + std::to_string(out.file_size) +
                              " bytes, too short for LMDB's two meta pages");
  }
  out.m[0] = ParseMeta(first.data(), 0, 0);
  uint32_t psize = out.m[0].valid ? out.m[0].psize : 4096;
  std::vector<uint8_t> second(kPageHeader + kMetaEnd);
  ok = f.Read(psize, second.data(), second.size());
  if (!ok.ok()) return ok.status();
  if (!*ok) {
    return Status::Corruption(path + " is truncated: " + std::to_string(out.file_size) +
                              " bytes, too short for LMDB's two meta pages");
  }
  out.m[1] = ParseMeta(second.data(), 1, out.m[0].valid ? psize : 0);
  return out;
}

// ---------------------------------------------------------------- tree walk

// A key in a message: its first 24 bytes in hex.
std::string Hex(const uint8_t* p, size_t n) { return base::ToHex(p, std::min<size_t>(n, 24)); }

bool KeyLess(const std::string& a, const std::string& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return static_cast<uint8_t>(x) < static_cast<uint8_t>(y);
  });
}

class Walker {
 public:
  Walker(const File& f, const std::string& path, uint32_t psize, uint64_t last_pg)
      : f_(f), path_(path), psize_(psize), last_pg_(last_pg), seen_(last_pg + 1, false) {}

  // Walks one tree; `table` names it in messages. Leaf entries of the main
  // table (named tables) are returned through `subdbs`.
  Status Tree(const std::string& table, const Db& db, bool integer_keys,
              std::vector<std::pair<std::string, Db>>* subdbs) {
    table_ = table;
    integer_keys_ = integer_keys;
    subdbs_ = subdbs;
    counts_ = Db{};
    if (db.root == kInvalidPage) {
      if (db.depth != 0 || db.entries != 0 || db.branch_pages + db.leaf_pages + db.overflow_pages != 0) {
        return Fail("empty tree with depth " + std::to_string(db.depth) + " and " + std::to_string(db.entries) +
                    " entries recorded");
      }
      return Status::Ok();
    }
    if (db.depth == 0 || db.depth > 64) return Fail("recorded depth " + std::to_string(db.depth));
    depth_ = db.depth;
    HEARTH_RETURN_IF_ERROR(Page(db.root, 1, nullptr, nullptr));
    if (counts_.entries != db.entries || counts_.branch_pages != db.branch_pages ||
        counts_.leaf_pages != db.leaf_pages || counts_.overflow_pages != db.overflow_pages) {
      return Fail("holds " + std::to_string(counts_.entries) + " entries in " +
                  std::to_string(counts_.branch_pages) + "/" + std::to_string(counts_.leaf_pages) + "/" +
                  std::to_string(counts_.overflow_pages) + " branch/leaf/overflow pages; its record says " +
                  std::to_string(db.entries) + " in " + std::to_string(db.branch_pages) + "/" +
                  std::to_string(db.leaf_pages) + "/" + std::to_string(db.overflow_pages));
    }
    return Status::Ok();
  }

  // Pages the free list names must be in the file and in no tree.
  Status FreePages(const std::vector<uint64_t>& pages) {
    table_ = "(free list)";
    for (uint64_t p : pages) {
      if (p < 2 || p > last_pg_) return Fail("names page " + std::to_string(p) + " outside the file's pages");
      if (seen_[p]) return Fail("names page " + std::to_string(p) + ", which a table uses");
    }
    return Status::Ok();
  }
  std::vector<uint64_t> free_pages;

 private:
  Status Fail(const std::string& what) const {
    return Status::Corruption(path_ + ": table " + table_ + ": " + what);
  }
  Status FailPage(uint64_t pg, const std::string& what) const {
    return Fail("page " + std::to_string(pg) + ": " + what);
  }

  Status Claim(uint64_t pg, uint64_t count) {
    if (pg < 2 || pg > last_pg_ || count > last_pg_ + 1 - pg) {
      return FailPage(pg, "outside the pages in use (last page " + std::to_string(last_pg_) + ")");
    }
    for (uint64_t i = pg; i < pg + count; ++i) {
      if (seen_[i]) return FailPage(i, "reached twice");
      seen_[i] = true;
    }
    return Status::Ok();
  }

  Status Read(uint64_t pg, std::vector<uint8_t>& buf) const {
    buf.resize(psize_);
    auto ok = f_.Read(pg * psize_, buf.data(), psize_);
    if (!ok.ok()) return ok.status();
    if (!*ok) return FailPage(pg, "beyond the end of the file");
    return Status::Ok();
  }

  // lo/hi: the key range of this page (nullptr = unbounded).
  Status Page(uint64_t pg, unsigned level, const std::string* lo, const std::string* hi) {
    HEARTH_RETURN_IF_ERROR(Claim(pg, 1));
    std::vector<uint8_t> buf;
    HEARTH_RETURN_IF_ERROR(Read(pg, buf));
    const uint8_t* p = buf.data();
    if (Load<uint64_t>(p) != pg) return FailPage(pg, "carries page number " + std::to_string(Load<uint64_t>(p)));
    const uint16_t kind = Load<uint16_t>(p + 10) & kPKinds;
    const bool branch = kind == kPBranch;
    if (kind != kPBranch && kind != kPLeaf) return FailPage(pg, "is neither a branch nor a leaf page (flags " + std::to_string(kind) + ")");
    if (branch ? level >= depth_ : level != depth_) {
      return FailPage(pg, std::string(branch ? "branch" : "leaf") + " page at level " + std::to_string(level) +
                              " of a tree of depth " + std::to_string(depth_));
    }
    const uint16_t lower = Load<uint16_t>(p + 12), upper = Load<uint16_t>(p + 14);
    if (lower < kPageHeader || upper > psize_ || lower > upper || (lower - kPageHeader) % 2 != 0) {
      return FailPage(pg, "bad free-space bounds " + std::to_string(lower) + "/" + std::to_string(upper));
    }
    const size_t n = (lower - kPageHeader) / 2;
    if (n == 0 || (branch && n < 2 && level > 1)) return FailPage(pg, "holds " + std::to_string(n) + " entries");
    if (branch) ++counts_.branch_pages;
    else ++counts_.leaf_pages;
    std::string prev;
    std::vector<std::pair<uint64_t, std::pair<std::string, bool>>> children;  // pgno, (key, has key)
    for (size_t i = 0; i < n; ++i) {
      const size_t off = Load<uint16_t>(p + kPageHeader + 2 * i);
      if (off < upper || off + kNodeHeader > psize_) return FailPage(pg, "entry " + std::to_string(i) + " outside the page");
      const uint8_t* node = p + off;
      const uint64_t lohi = Load<uint16_t>(node) | (uint64_t{Load<uint16_t>(node + 2)} << 16);
      const uint16_t nflags = Load<uint16_t>(node + 4), ksize = Load<uint16_t>(node + 6);
      if (off + kNodeHeader + ksize > psize_) return FailPage(pg, "key of entry " + std::to_string(i) + " overruns the page");
      std::string key(reinterpret_cast<const char*>(node + kNodeHeader), ksize);
      const bool check_order = !(branch && i == 0);  // a branch's first key is implicit
      if (check_order) {
        if (integer_keys_) {
          if (ksize != 8) return FailPage(pg, "free-list key of " + std::to_string(ksize) + " bytes");
        } else {
          if ((i > (branch ? 1u : 0u)) && !KeyLess(prev, key)) {
            return FailPage(pg, "keys out of order at entry " + std::to_string(i) + " (" +
                                    Hex(node + kNodeHeader, ksize) + ")");
          }
          if ((lo && KeyLess(key, *lo)) || (hi && !KeyLess(key, *hi))) {
            return FailPage(pg, "key " + Hex(node + kNodeHeader, ksize) + " outside the range of its parent");
          }
        }
        prev = key;
      }
      if (branch) {
        const uint64_t child = lohi | (uint64_t{nflags} << 32);
        children.push_back({child, {key, check_order}});
        continue;
      }
      ++counts_.entries;
      const uint8_t* data = node + kNodeHeader + ksize;
      const uint64_t dsize = lohi;
      if (nflags & ~(kFBigData | kFSubData)) return FailPage(pg, "entry " + std::to_string(i) + " has flags " + std::to_string(nflags));
      if (nflags & kFDupData) return FailPage(pg, "entry with duplicate data in a table without them");
      if (nflags & kFBigData) {
        if (off + kNodeHeader + ksize + 8 > psize_) return FailPage(pg, "entry " + std::to_string(i) + " overruns the page");
        HEARTH_RETURN_IF_ERROR(Overflow(Load<uint64_t>(data), dsize));
        continue;
      }
      if (off + kNodeHeader + ksize + dsize > psize_) return FailPage(pg, "value of entry " + std::to_string(i) + " overruns the page");
      if (nflags & kFSubData) {
        if (subdbs_ == nullptr || dsize != kDbSize) return FailPage(pg, "unexpected named-table entry");
        subdbs_->push_back({key, LoadDb(data)});
      } else if (subdbs_ != nullptr) {
        return FailPage(pg, "main table holds a plain entry " + Hex(node + kNodeHeader, ksize));
      } else if (integer_keys_) {
        // Free list: count:u64 then the page numbers.
        if (dsize < 8 || (dsize - 8) % 8 != 0 || Load<uint64_t>(data) != (dsize - 8) / 8) {
          return FailPage(pg, "malformed free-list entry");
        }
        for (uint64_t j = 0; j < (dsize - 8) / 8; ++j) free_pages.push_back(Load<uint64_t>(data + 8 + 8 * j));
      }
    }
    for (size_t i = 0; i < children.size(); ++i) {
      const std::string* clo = (i == 0) ? lo : &children[i].second.first;
      const std::string* chi = (i + 1 < children.size()) ? &children[i + 1].second.first : hi;
      HEARTH_RETURN_IF_ERROR(Page(children[i].first, level + 1, integer_keys_ ? nullptr : clo,
                                  integer_keys_ ? nullptr : chi));
    }
    return Status::Ok();
  }

  Status Overflow(uint64_t pg, uint64_t dsize) {
    std::vector<uint8_t> buf;
    if (pg < 2 || pg > last_pg_) return FailPage(pg, "overflow page outside the pages in use");
    HEARTH_RETURN_IF_ERROR(Read(pg, buf));
    const uint8_t* p = buf.data();
    if (Load<uint64_t>(p) != pg) return FailPage(pg, "carries page number " + std::to_string(Load<uint64_t>(p)));
    if ((Load<uint16_t>(p + 10) & kPKinds) != kPOverflow) return FailPage(pg, "is not an overflow page");
    const uint32_t pages = Load<uint32_t>(p + 12);
    // LMDB's OVPAGES: (PAGEHDRSZ - 1 + size) / psize + 1.
    if (pages != (kPageHeader - 1 + dsize) / psize_ + 1) {
      return FailPage(pg, "overflow run of " + std::to_string(pages) + " pages for a value of " +
                              std::to_string(dsize) + " bytes");
    }
    HEARTH_RETURN_IF_ERROR(Claim(pg, pages));
    // The run must be inside the file, not only inside the recorded pages.
    std::vector<uint8_t> last;
    HEARTH_RETURN_IF_ERROR(Read(pg + pages - 1, last));
    counts_.overflow_pages += pages;
    return Status::Ok();
  }

  const File& f_;
  std::string path_;
  uint32_t psize_;
  uint64_t last_pg_;
  std::vector<bool> seen_;
  std::string table_;
  bool integer_keys_ = false;
  unsigned depth_ = 0;
  std::vector<std::pair<std::string, Db>>* subdbs_ = nullptr;
  Db counts_;
};

}  // namespace

Result<DataFileInfo> CheckDataFile(const std::string& path) {
  File f(path);
  HEARTH_RETURN_IF_ERROR(f.OpenStatus());
  auto metas = ReadMetas(f, path);
  if (!metas.ok()) return metas.status();
  // LMDB refuses a file with a damaged meta page itself (MDB_INVALID), but
  // say which one; both are needed (each commit writes the other).
  for (const Meta& m : metas->m) {
    if (!m.valid) return Status::Corruption(path + ": " + m.problem);
  }
  const Meta& m = metas->m[metas->m[1].txnid > metas->m[0].txnid ? 1 : 0];
  const uint64_t need = (m.last_pg + 1) * uint64_t{m.psize};
  if (metas->file_size < need) {
    return Status::Corruption(path + " is truncated: " + std::to_string(metas->file_size) +
                              " bytes, but its meta page (transaction " + std::to_string(m.txnid) +
                              ") uses pages up to " + std::to_string(m.last_pg) + " (" + std::to_string(need) +
                              " bytes)");
  }
  for (const Db* db : {&m.free_db, &m.main_db}) {
    if (db->root != kInvalidPage && (db->root < 2 || db->root > m.last_pg)) {
      return Status::Corruption(path + ": meta page names root page " + std::to_string(db->root) +
                                " outside the pages in use");
    }
  }
  DataFileInfo info;
  info.file_size = metas->file_size;
  info.page_size = m.psize;
  info.last_page = m.last_pg;
  info.txnid = m.txnid;
  return info;
}

Status CheckDataTrees(const std::string& path, uint64_t txnid, const std::vector<std::string>& tables) {
  File f(path);
  HEARTH_RETURN_IF_ERROR(f.OpenStatus());
  auto metas = ReadMetas(f, path);
  if (!metas.ok()) return metas.status();
  const Meta* m = nullptr;
  for (const Meta& x : metas->m) {
    if (x.valid && x.txnid == txnid) m = &x;
  }
  if (m == nullptr) {
    return Status::Unavailable(path + ": the meta page of transaction " + std::to_string(txnid) +
                               " was overwritten by newer commits");
  }
  if (metas->file_size < (m->last_pg + 1) * uint64_t{m->psize}) {
    return Status::Corruption(path + " is truncated: " + std::to_string(metas->file_size) +
                              " bytes, but it uses pages up to " + std::to_string(m->last_pg));
  }
  // Only the key-order flags matter to a reader (LMDB keeps others there too).
  if ((m->free_db.flags & kKeyFlags) != kIntegerKey || (m->main_db.flags & kKeyFlags) != 0) {
    return Status::Corruption(path + ": meta page records unexpected table flags");
  }
  Walker w(f, path, m->psize, m->last_pg);
  std::vector<std::pair<std::string, Db>> subdbs;
  HEARTH_RETURN_IF_ERROR(w.Tree("(free list)", m->free_db, /*integer_keys=*/true, nullptr));
  HEARTH_RETURN_IF_ERROR(w.Tree("(main)", m->main_db, false, &subdbs));
  std::set<std::string> expected(tables.begin(), tables.end());
  for (const auto& [name, db] : subdbs) {
    if (!expected.erase(name)) {
      return Status::Corruption(path + ": holds an unknown table '" + Hex(reinterpret_cast<const uint8_t*>(name.data()), name.size()) + "'");
    }
    if ((db.flags & kKeyFlags) != 0) return Status::Corruption(path + ": table " + name + " has unexpected flags " + std::to_string(db.flags));
    HEARTH_RETURN_IF_ERROR(w.Tree(name, db, false, nullptr));
  }
  for (const std::string& later : kLaterTableNames) expected.erase(later);
  if (!expected.empty() && !subdbs.empty()) {
    return Status::Corruption(path + ": table " + *expected.begin() + " is missing");
  }
  return w.FreePages(w.free_pages);
}

Status CheckEnvTrees(const Env& env, const std::string& dir, const std::vector<std::string>& tables) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    Txn t;
    Status s = t.Begin(env, /*read_only=*/true);
    if (s.code() == Code::kUnavailable) {  // MDB_MAP_RESIZED: adopt the size another process set
      HEARTH_RETURN_IF_ERROR(MdbStatus(mdb_env_set_mapsize(env.get(), 0), "adopting grown map size"));
      continue;
    }
    HEARTH_RETURN_IF_ERROR(s);
    s = CheckDataTrees(dir + "/data.mdb", mdb_txn_id(t.get()), tables);
    if (s.code() != Code::kUnavailable) return s;
  }
  return Status::Unavailable(dir + "/data.mdb changed too often to be checked; try again");
}

// ---------------------------------------------------------------- marker

namespace {
constexpr char kMarkMagic[6] = {'H', 'R', 'T', 'H', 'M', 'K'};
constexpr size_t kMarkSize = 6 + 1 + 1 + 32;
}  // namespace

Result<std::optional<AuthorId>> ReadMarker(const std::string& dir) {
  const std::string path = dir + "/" + kMarkerFile;
  File f(path);
  Status s = f.OpenStatus();
  if (s.code() == Code::kNotFound) return std::optional<AuthorId>();
  HEARTH_RETURN_IF_ERROR(s);
  uint8_t buf[kMarkSize + 1];
  auto size = f.Size();
  if (!size.ok()) return size.status();
  auto ok = f.Read(0, buf, kMarkSize);
  if (!ok.ok()) return ok.status();
  if (!*ok || *size != kMarkSize || std::memcmp(buf, kMarkMagic, 6) != 0 || buf[6] != 1) {
    return Status::Corruption(path + " is not a Hearth replica marker");
  }
  AuthorId a;
  std::memcpy(a.bytes.data(), buf + 8, 32);
  return std::optional<AuthorId>(a);
}

Status WriteMarker(const std::string& dir, const AuthorId& author) {
  uint8_t buf[kMarkSize] = {};
  std::memcpy(buf, kMarkMagic, 6);
  buf[6] = 1;
  std::memcpy(buf + 8, author.bytes.data(), 32);
  std::string tmp = dir + "/.replica.mark.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::IOError("creating " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, buf, sizeof buf) == static_cast<ssize_t>(sizeof buf) && ::fsync(fd) == 0;
  int e = errno;
  ::close(fd);
  // link(): never replaces a marker another process wrote meanwhile.
  if (ok && ::link(tmp.c_str(), (dir + "/" + kMarkerFile).c_str()) != 0 && errno != EEXIST) {
    ok = false;
    e = errno;
  }
  ::unlink(tmp.c_str());
  if (!ok) return Status::IOError("writing " + dir + "/" + kMarkerFile + ": " + std::strerror(e));
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}


namespace {

void SyncDir(const std::string& dir) {
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// Writes `data` to a temporary file in `dir` (mode 0600, fsynced) and
// renames it to `name` (replacing it), then fsyncs the directory.
Status ReplaceFile(const std::string& dir, const std::string& name, const uint8_t* data, size_t n) {
  std::string tmp = dir + "/." + name + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::IOError("creating " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, data, n) == static_cast<ssize_t>(n) && ::fsync(fd) == 0;
  int e = errno;
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) {
    ok = false;
    e = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return Status::IOError("writing " + dir + "/" + name + ": " + std::strerror(e));
  }
  SyncDir(dir);
  return Status::Ok();
}

void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

constexpr char kJournalMagic[6] = {'H', 'R', 'T', 'H', 'R', 'J'};
constexpr size_t kJournalSize = 6 + 1 + 1 + 32 + 32;

}  // namespace

Status ReplaceMarker(const std::string& dir, const AuthorId& author) {
  uint8_t buf[kMarkSize] = {};
  std::memcpy(buf, kMarkMagic, 6);
  buf[6] = 1;
  std::memcpy(buf + 8, author.bytes.data(), 32);
  return ReplaceFile(dir, kMarkerFile, buf, sizeof buf);
}

Result<std::string> DataFileIdentity(const std::string& path) {
  uint8_t buf[kFileIdentitySize] = {};
  struct statx sx {};
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_INO | STATX_BTIME, &sx) == 0 && (sx.stx_mask & STATX_INO) &&
      (sx.stx_mask & STATX_BTIME)) {
    buf[0] = 1;
    PutU64(buf + 1, sx.stx_ino);
    PutU64(buf + 9, static_cast<uint64_t>(sx.stx_btime.tv_sec));
    uint32_t ns = sx.stx_btime.tv_nsec;
    for (int i = 3; i >= 0; --i, ns >>= 8) buf[17 + i] = static_cast<uint8_t>(ns);
  } else {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return Status::IOError("stat " + path + ": " + std::strerror(errno));
    buf[0] = 2;
    PutU64(buf + 1, static_cast<uint64_t>(st.st_dev));
    PutU64(buf + 9, static_cast<uint64_t>(st.st_ino));
  }
  return std::string(reinterpret_cast<const char*>(buf), sizeof buf);
}

Result<std::optional<RestoreJournal>> ReadRestoreJournal(const std::string& dir) {
  const std::string path = dir + "/" + kRestoreJournalFile;
  File f(path);
  Status s = f.OpenStatus();
  if (s.code() == Code::kNotFound) return std::optional<RestoreJournal>();
  HEARTH_RETURN_IF_ERROR(s);
  uint8_t buf[kJournalSize];
  auto size = f.Size();
  if (!size.ok()) return size.status();
  auto ok = f.Read(0, buf, kJournalSize);
  if (!ok.ok()) return ok.status();
  if (!*ok || *size != kJournalSize || std::memcmp(buf, kJournalMagic, 6) != 0 || buf[6] != 1) {
    return Status::Corruption(path + " is not a Hearth restore journal");
  }
  RestoreJournal j;
  std::memcpy(j.new_author.bytes.data(), buf + 8, 32);
  std::memcpy(j.old_author.bytes.data(), buf + 40, 32);
  return std::optional<RestoreJournal>(j);
}

Status WriteRestoreJournal(const std::string& dir, const RestoreJournal& j) {
  uint8_t buf[kJournalSize] = {};
  std::memcpy(buf, kJournalMagic, 6);
  buf[6] = 1;
  std::memcpy(buf + 8, j.new_author.bytes.data(), 32);
  std::memcpy(buf + 40, j.old_author.bytes.data(), 32);
  return ReplaceFile(dir, kRestoreJournalFile, buf, sizeof buf);
}

Status RemoveRestoreJournal(const std::string& dir) {
  const std::string path = dir + "/" + kRestoreJournalFile;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::IOError("removing " + path + ": " + std::strerror(errno));
  }
  SyncDir(dir);
  return Status::Ok();
}

}  // namespace hearth::store
