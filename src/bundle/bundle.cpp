// Bundles: export and import of deltas as one file (docs/bundle-format.md).
#include "hearth/bundle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "base/bytes.hpp"
#include "crypto/crypto.hpp"
#include "feed/delta.hpp"
#include "hearth/inspect.hpp"
#include "hearth/policy.hpp"

namespace hearth {
namespace {

constexpr size_t kHeadEntryBytes = 32 + 8 + 32;
constexpr size_t kIoBuffer = size_t{1} << 20;
// Import applies deltas in chunks of at most this many bytes / entries.
constexpr size_t kChunkBytes = size_t{8} << 20;
constexpr size_t kChunkEntries = 1024;

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

// Buffered writer that hashes everything it writes.
class Writer {
 public:
  Writer(FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  Status Write(const void* p, size_t n, bool hash = true) {
    if (n == 0) return Status::Ok();
    if (std::fwrite(p, 1, n, f_) != n) return Status::IOError(Errno("writing", path_));
    if (hash) hasher_.Update({static_cast<const uint8_t*>(p), n});
    bytes_ += n;
    return Status::Ok();
  }
  Status WriteU32(uint32_t v, bool hash = true) {
    uint8_t b[4];
    base::StoreBE32(b, v);
    return Write(b, 4, hash);
  }
  Status WriteHeads(const Heads& heads) {
    HEARTH_RETURN_IF_ERROR(WriteU32(static_cast<uint32_t>(heads.size())));
    for (const auto& [author, head] : heads) {
      uint8_t b[kHeadEntryBytes];
      std::memcpy(b, author.bytes.data(), 32);
      base::StoreBE64(b + 32, head.seq);
      std::memcpy(b + 40, head.hash.data(), 32);
      HEARTH_RETURN_IF_ERROR(Write(b, sizeof b));
    }
    return Status::Ok();
  }
  crypto::Hash Final() { return hasher_.Final(); }
  uint64_t bytes() const { return bytes_; }

 private:
  FILE* f_;
  std::string path_;
  crypto::Hasher hasher_;
  uint64_t bytes_ = 0;
};

// Buffered reader that tracks the offset and hashes what it reads.
class Reader {
 public:
  Reader(FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  // Reads exactly n bytes; kCorruption naming the offset at end of file.
  Status Read(void* p, size_t n, std::string_view what, bool hash = true) {
    size_t got = std::fread(p, 1, n, f_);
    if (got != n) {
      if (std::ferror(f_)) return Status::IOError(Errno("reading", path_));
      return Status::Corruption(path_ + ": truncated at offset " + std::to_string(offset_ + got) +
                                " while reading " + std::string(what) + " (" + std::to_string(n) +
                                " bytes needed, " + std::to_string(got) + " left)");
    }
    if (hash) hasher_.Update({static_cast<const uint8_t*>(p), n});
    offset_ += n;
    return Status::Ok();
  }
  Result<uint32_t> ReadU32(std::string_view what, bool hash = true) {
    uint8_t b[4];
    HEARTH_RETURN_IF_ERROR(Read(b, 4, what, hash));
    return base::LoadBE32(b);
  }
  Status ReadHeads(Heads& out, std::string_view what, uint64_t file_size) {
    uint64_t at = offset_;
    auto count = ReadU32(std::string(what) + " count");
    if (!count.ok()) return count.status();
    if (uint64_t{*count} * kHeadEntryBytes > file_size - offset_) {
      return Status::Corruption(path_ + ": " + std::string(what) + " count " +
                                std::to_string(*count) + " at offset " + std::to_string(at) +
                                " is larger than the file");
    }
    for (uint32_t i = 0; i < *count; ++i) {
      uint8_t b[kHeadEntryBytes];
      uint64_t entry_at = offset_;
      HEARTH_RETURN_IF_ERROR(Read(b, sizeof b, what));
      AuthorId a;
      std::memcpy(a.bytes.data(), b, 32);
      FeedHead h;
      h.seq = base::LoadBE64(b + 32);
      std::memcpy(h.hash.data(), b + 40, 32);
      if (h.seq == 0 || !out.emplace(a, h).second) {
        return Status::Corruption(path_ + ": bad " + std::string(what) + " entry at offset " +
                                  std::to_string(entry_at) +
                                  (h.seq == 0 ? " (seq 0)" : " (author listed twice)"));
      }
    }
    return Status::Ok();
  }
  void Hash(const uint8_t* p, size_t n) { hasher_.Update({p, n}); }
  uint64_t offset() const { return offset_; }
  crypto::Hash Final() { return hasher_.Final(); }

 private:
  FILE* f_;
  std::string path_;
  crypto::Hasher hasher_;
  uint64_t offset_ = 0;
};

Result<File> OpenForRead(const std::string& path, uint64_t* size) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    if (errno == ENOENT) return Status::NotFound("bundle " + path + " does not exist");
    return Status::IOError(Errno("opening", path));
  }
  File file(f);
  std::setvbuf(f, nullptr, _IOFBF, kIoBuffer);
  struct stat st;
  if (fstat(fileno(f), &st) != 0) return Status::IOError(Errno("stat", path));
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + " is not a regular file");
  *size = static_cast<uint64_t>(st.st_size);
  return file;
}

// Reads the preamble (magic, version, since, covers).
Status ReadPreamble(Reader& r, const std::string& path, uint64_t size, BundleInfo& info) {
  char magic[8];
  HEARTH_RETURN_IF_ERROR(r.Read(magic, 8, "the magic"));
  if (std::memcmp(magic, kBundleMagic, 8) != 0) {
    return Status::Corruption(path + ": not a Hearth bundle (bad magic at offset 0)");
  }
  HEARTH_RETURN_IF_ERROR(r.Read(&info.version, 1, "the version"));
  if (info.version != kBundleVersion) {
    return Status::Corruption(path + ": unsupported bundle version " +
                              std::to_string(info.version) + " at offset 8 (this Hearth reads 1)");
  }
  HEARTH_RETURN_IF_ERROR(r.ReadHeads(info.since, "since heads", size));
  HEARTH_RETURN_IF_ERROR(r.ReadHeads(info.covers, "covers heads", size));
  return Status::Ok();
}

Status CheckBundleFile(FILE* f, const std::string& path, uint64_t size, BundleInfo& info,
                       const BundleProgress& progress) {
  Reader r(f, path);
  info.bytes = size;
  HEARTH_RETURN_IF_ERROR(ReadPreamble(r, path, size, info));
  Bytes buf;
  uint64_t entries = 0;
  uint64_t last_report = 0;
  for (;;) {
    uint64_t at = r.offset();
    uint8_t lb[4];
    HEARTH_RETURN_IF_ERROR(r.Read(lb, 4, "an entry length or the end marker", /*hash=*/false));
    uint32_t len = base::LoadBE32(lb);
    if (len == kBundleEndMarker) break;
    r.Hash(lb, 4);  // an entry length: part of the checksummed bytes
    if (len == 0 || len > kBundleMaxEntryBytes) {
      return Status::Corruption(path + ": entry " + std::to_string(entries) + " at offset " +
                                std::to_string(at) + " has length " + std::to_string(len) +
                                " (must be 1.." + std::to_string(kBundleMaxEntryBytes) + ")");
    }
    if (len > size - r.offset()) {
      return Status::Corruption(path + ": entry " + std::to_string(entries) + " at offset " +
                                std::to_string(at) + " (length " + std::to_string(len) +
                                ") runs past the end of the file (truncated?)");
    }
    buf.resize(len);
    HEARTH_RETURN_IF_ERROR(r.Read(buf.data(), len, "an entry"));
    ++entries;
    if (progress && r.offset() - last_report >= (uint64_t{4} << 20)) {
      last_report = r.offset();
      progress("check", r.offset(), size);
    }
  }
  uint64_t trailer_at = r.offset() - 4;
  crypto::Hash computed = r.Final();
  uint8_t tail[8 + 32];
  HEARTH_RETURN_IF_ERROR(r.Read(tail, sizeof tail, "the trailer", false));
  info.entries = base::LoadBE64(tail);
  std::memcpy(info.checksum.data(), tail + 8, 32);
  if (info.entries != entries) {
    return Status::Corruption(path + ": trailer at offset " + std::to_string(trailer_at) +
                              " counts " + std::to_string(info.entries) + " entries but the file holds " +
                              std::to_string(entries));
  }
  if (!crypto::ConstantTimeEqual(computed, info.checksum)) {
    return Status::Corruption(path + ": the checksum at offset " + std::to_string(trailer_at + 12) +
                              " does not match bytes 0.." + std::to_string(trailer_at) +
                              ": the bundle was damaged after it was written");
  }
  if (r.offset() != size) {
    return Status::Corruption(path + ": " + std::to_string(size - r.offset()) +
                              " unexpected bytes after the trailer at offset " +
                              std::to_string(r.offset()));
  }
  if (progress) progress("check", size, size);
  return Status::Ok();
}

void Count(BundleImportReport& rep, const ApplyResult& a) {
  rep.unblocked += a.unblocked;
  switch (a.outcome) {
    case ApplyOutcome::kApplied: ++rep.applied; break;
    case ApplyOutcome::kDuplicate: ++rep.duplicate; break;
    case ApplyOutcome::kPending: ++rep.pending; break;
    case ApplyOutcome::kUnreadable: ++rep.unreadable; break;
    case ApplyOutcome::kFork: ++rep.fork; break;
    case ApplyOutcome::kHeld: ++rep.held; break;
    case ApplyOutcome::kDenied: ++rep.denied; break;
    case ApplyOutcome::kWaitingSchema: ++rep.waiting_schema; break;
    case ApplyOutcome::kWithheld: ++rep.withheld; break;
    case ApplyOutcome::kBodyArrived: ++rep.bodies; break;
  }
}

void Reject(Replica& replica, const Bytes& d, uint64_t index, std::string reason,
            BundleImportReport& rep) {
  BundleRejection rj;
  rj.index = index;
  rj.reason = std::move(reason);
  if (auto info = inspect::Describe(replica, d); info.ok()) {
    rj.author = info->author;
    rj.seq = info->seq;
  }
  rep.rejected.push_back(std::move(rj));
}

// Applies one chunk of deltas through Replica::ApplyBatch: the same checks
// as network sync, one write transaction per chunk.
Status ApplyChunk(Replica& replica, std::vector<Bytes>& chunk, uint64_t first_index,
                  BundleImportReport& rep, const BundleProgress& progress) {
  const uint64_t end_index = first_index + chunk.size();
  size_t start = 0;
  while (start < chunk.size()) {
    std::span<const Bytes> rest(chunk.data() + start, chunk.size() - start);
    BatchApplyResult res = replica.ApplyBatch(rest);
    for (const ApplyResult& a : res.results) Count(rep, a);
    if (res.ok()) break;
    const size_t failed = res.failed_index();
    // The replica's own trouble (disk, map full, a bug) stops the import; a
    // delta the replica refuses is reported and the import goes on.
    if (!res.refused) {
      return res.error.WithContext("applying bundle entries from " + std::to_string(first_index + start + failed) +
                                   " (entries before them are applied; run the import again to resume)");
    }
    Reject(replica, rest[failed], first_index + start + failed, res.error.ToString(), rep);
    start += failed + 1;
  }
  chunk.clear();
  if (progress) progress("apply", end_index, rep.info.entries);
  return Status::Ok();
}

}  // namespace

Status ApplyDeltas(Replica& replica, std::vector<Bytes>& deltas, uint64_t first_index,
                   BundleImportReport& report) {
  return ApplyChunk(replica, deltas, first_index, report, {});
}

namespace {

// What the receiver may hold of a stored delta: the bytes to write (empty =
// nothing: the author's entries end here).
struct ForReceiver {
  Bytes bytes;
  bool stub = false;
};

Result<ForReceiver> ShapeFor(Bytes stored, const std::optional<Policy>& policy, const AuthorId& receiver) {
  ForReceiver out;
  auto p = feed::ParseDelta(stored, UINT64_MAX);
  if (!p.ok()) return p.status().WithContext("stored delta");
  const std::string& scope = p->header.scope;
  const bool reserved = scope == kPolicyScope || scope == kKeysScope || scope == kSchemaScope;
  const bool may = reserved || (policy && policy->MayReceive(receiver, scope));
  if (may || p->stub) {
    out.stub = p->stub;
    out.bytes = std::move(stored);
    return out;
  }
  if (!feed::Detachable(p->version)) return out;
  auto stub = feed::MakeStub(*p);
  if (!stub.ok()) return stub.status();
  out.bytes = std::move(stub).value();
  out.stub = true;
  return out;
}

Result<BundleExportReport> ExportImpl(const Replica& replica, const Heads& since, const std::string& path,
                                      const std::optional<BundleTarget>& target,
                                           BundleTargetReport* target_report, const BundleProgress& progress) {
  BundleTargetReport trep;
  std::optional<Policy> policy;
  // The root holds every scope key (it made them): nothing is withheld from it.
  const bool filter = target.has_value() && replica.root().has_value() && target->receiver != *replica.root();
  if (filter) {
    auto cur = replica.CurrentPolicy();
    if (!cur.ok()) return cur.status();
    policy = std::move(cur).value();
  }
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    return Status::AlreadyExists(path + " already exists; remove it or choose another name");
  }
  BundleExportReport rep;
  auto covers = replica.GetHeads();
  if (!covers.ok()) return covers.status();
  rep.covers = std::move(covers).value();
  // What to write: per author, the seqs the receiver lacks.
  struct Range {
    AuthorId author;
    uint64_t from, to;
  };
  std::vector<Range> ranges;
  uint64_t total = 0;
  for (const auto& [author, head] : rep.covers) {
    auto it = since.find(author);
    uint64_t have = it == since.end() ? 0 : it->second.seq;
    if (have < head.seq) {
      ranges.push_back({author, have + 1, head.seq});
      total += head.seq - have;
    }
  }

  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(Errno("creating", tmp));
  FILE* raw = ::fdopen(fd, "wb");
  if (!raw) {
    ::close(fd);
    return Status::IOError(Errno("opening", tmp));
  }
  File file(raw);
  std::setvbuf(raw, nullptr, _IOFBF, kIoBuffer);
  auto fail = [&](Status s) -> Result<BundleExportReport> {
    file.reset();
    ::unlink(tmp.c_str());
    return s;
  };

  Writer w(raw, tmp);
  Status s = w.Write(kBundleMagic, 8);
  if (s.ok()) s = w.Write(&kBundleVersion, 1);
  if (s.ok()) s = w.WriteHeads(since);
  if (s.ok()) s = w.WriteHeads(rep.covers);
  if (!s.ok()) return fail(s);
  uint64_t last_report = 0;
  for (const Range& rg : ranges) {
    for (uint64_t seq = rg.from; seq <= rg.to; ++seq) {
      auto d = replica.GetDelta(rg.author, seq);
      if (!d.ok()) {
        return fail(d.status().WithContext("reading delta " + rg.author.ToHex() + "/" +
                                           std::to_string(seq)));
      }
      if (filter) {
        auto shaped = ShapeFor(std::move(d).value(), policy, target->receiver);
        if (!shaped.ok()) return fail(shaped.status());
        if (shaped->bytes.empty()) {
          ++trep.stopped_feeds;
          break;
        }
        trep.stubs += shaped->stub;
        *d = std::move(shaped->bytes);
      }
      if (d->empty() || d->size() > kBundleMaxEntryBytes) {
        return fail(Status::ResourceExhausted("delta " + rg.author.ToHex() + "/" +
                                              std::to_string(seq) + " has size " +
                                              std::to_string(d->size()) + ", outside 1..16 MiB"));
      }
      s = w.WriteU32(static_cast<uint32_t>(d->size()));
      if (s.ok()) s = w.Write(d->data(), d->size());
      if (!s.ok()) return fail(s);
      ++rep.entries;
      if (progress && (rep.entries - last_report >= 256 || rep.entries == total)) {
        last_report = rep.entries;
        progress("export", rep.entries, total);
      }
    }
  }
  // The bodies of the receiver's withheld stubs it may receive now.
  if (filter) {
    for (const auto& [author, seq] : target->withheld) {
      auto d = replica.GetDelta(author, seq);
      if (!d.ok() && d.status().code() == Code::kNotFound) continue;
      if (!d.ok()) return fail(d.status());
      auto p = feed::ParseDelta(*d, UINT64_MAX);
      if (!p.ok()) return fail(p.status().WithContext("stored delta"));
      if (p->stub || !feed::Detachable(p->version)) continue;
      if (!policy || !policy->MayReceive(target->receiver, p->header.scope)) continue;
      if (d->size() > kBundleMaxEntryBytes) continue;
      s = w.WriteU32(static_cast<uint32_t>(d->size()));
      if (s.ok()) s = w.Write(d->data(), d->size());
      if (!s.ok()) return fail(s);
      ++rep.entries;
      ++trep.bodies;
    }
  }
  if (target_report != nullptr) *target_report = trep;
  crypto::Hash h = w.Final();
  uint8_t tail[4 + 8 + 32];
  base::StoreBE32(tail, kBundleEndMarker);
  base::StoreBE64(tail + 4, rep.entries);
  std::memcpy(tail + 12, h.data(), 32);
  s = w.Write(tail, sizeof tail, /*hash=*/false);
  if (!s.ok()) return fail(s);
  rep.bytes = w.bytes();
  if (std::fflush(raw) != 0) return fail(Status::IOError(Errno("writing", tmp)));
  if (::fsync(fileno(raw)) != 0) return fail(Status::IOError(Errno("fsync", tmp)));
  if (std::fclose(file.release()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError(Errno("closing", tmp));
  }
  // link() refuses to replace an existing file, unlike rename().
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    Status err = errno == EEXIST
                     ? Status::AlreadyExists(path + " already exists; remove it or choose another name")
                     : Status::IOError(Errno("linking " + tmp + " to", path));
    ::unlink(tmp.c_str());
    return err;
  }
  ::unlink(tmp.c_str());
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0) return Status::IOError(Errno("fsync directory", dir));
  }
  return rep;
}

}  // namespace

Result<BundleExportReport> ExportBundle(const Replica& replica, const Heads& since,
                                        const std::string& path, const BundleProgress& progress) {
  return ExportImpl(replica, since, path, std::nullopt, nullptr, progress);
}

Result<BundleExportReport> ExportBundleFor(const Replica& replica, const Heads& since,
                                           const std::string& path, const BundleTarget& target,
                                           BundleTargetReport* target_report, const BundleProgress& progress) {
  return ExportImpl(replica, since, path, target, target_report, progress);
}


Result<BundleInfo> CheckBundle(const std::string& path, const BundleProgress& progress) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  uint64_t size = 0;
  auto f = OpenForRead(path, &size);
  if (!f.ok()) return f.status();
  BundleInfo info;
  HEARTH_RETURN_IF_ERROR(CheckBundleFile(f->get(), path, size, info, progress));
  return info;
}

Result<BundleImportReport> ImportBundle(Replica& replica, const std::string& path,
                                        const BundleProgress& progress) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  uint64_t size = 0;
  auto f = OpenForRead(path, &size);
  if (!f.ok()) return f.status();
  BundleImportReport rep;
  // Pass 1: the whole file must check out before anything is applied.
  HEARTH_RETURN_IF_ERROR(CheckBundleFile(f->get(), path, size, rep.info, progress));

  // Pass 2: same open file, from the start; apply in chunks.
  if (std::fseek(f->get(), 0, SEEK_SET) != 0) return Status::IOError(Errno("seeking", path));
  Reader r(f->get(), path);
  BundleInfo again;
  HEARTH_RETURN_IF_ERROR(ReadPreamble(r, path, size, again));
  std::vector<Bytes> chunk;
  size_t chunk_bytes = 0;
  uint64_t index = 0, chunk_first = 0;
  for (;;) {
    auto len = r.ReadU32("an entry length", false);
    if (!len.ok()) return len.status();
    if (*len == kBundleEndMarker) break;
    if (*len == 0 || *len > kBundleMaxEntryBytes || index >= rep.info.entries) {
      return Status::Corruption(path + ": the file changed while it was being imported");
    }
    Bytes d(*len);
    HEARTH_RETURN_IF_ERROR(r.Read(d.data(), d.size(), "an entry", false));
    chunk_bytes += d.size();
    chunk.push_back(std::move(d));
    ++index;
    if (chunk.size() >= kChunkEntries || chunk_bytes >= kChunkBytes) {
      HEARTH_RETURN_IF_ERROR(ApplyChunk(replica, chunk, chunk_first, rep, progress));
      chunk_first = index;
      chunk_bytes = 0;
      if (progress) progress("apply", index, rep.info.entries);
    }
  }
  HEARTH_RETURN_IF_ERROR(ApplyChunk(replica, chunk, chunk_first, rep, progress));
  if (progress) progress("apply", index, rep.info.entries);
  return rep;
}

}  // namespace hearth
