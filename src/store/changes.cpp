// The change feed, its cross-process wake-up, conflicts and record history
// (include/hearth/changes.hpp, docs/storage-format.md "changes", "history").
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "store/change_codec.hpp"
#include "store/keys.hpp"
#include "store/replica_impl.hpp"

namespace hearth {

using store::AsBytes;
using store::ByteView;
using store::Txn;

namespace {

constexpr const char* kNotifyFile = "changes.notify";
constexpr uint8_t kChangeVersion = 1;
constexpr uint8_t kFlagRemote = 1;
constexpr uint8_t kFlagRederived = 2;
constexpr const char* kMetaHistoryIndex = "history_index";

std::string NumberKey(uint64_t n) {
  std::string k;
  store::AppendU64(k, n);
  return k;
}

void AppendBlob(std::string& out, std::string_view s) {
  store::AppendU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// changes value: version(1) flags(1) author(32) hlc(8) collection(u32 len +
// bytes) id(16) field count(u32) then each field (u32 len + bytes).
}  // namespace

namespace store {

std::string EncodeChange(const Change& c) {
  std::string v;
  v.push_back(static_cast<char>(kChangeVersion));
  v.push_back(static_cast<char>((c.remote ? kFlagRemote : 0) | (c.rederived ? kFlagRederived : 0)));
  v.append(reinterpret_cast<const char*>(c.author.bytes.data()), c.author.bytes.size());
  store::AppendU64(v, c.hlc);
  AppendBlob(v, c.collection);
  v.append(reinterpret_cast<const char*>(c.id.bytes.data()), c.id.bytes.size());
  store::AppendU32(v, static_cast<uint32_t>(c.fields.size()));
  for (const std::string& f : c.fields) AppendBlob(v, f);
  return v;
}

Result<Change> DecodeChange(uint64_t number, ByteView v) {
  auto bad = [&](const char* what) {
    return Status::Corruption("change " + std::to_string(number) + ": " + what);
  };
  size_t pos = 0;
  auto need = [&](size_t n) { return v.size() - pos >= n; };
  auto blob = [&](std::string* out) -> bool {
    if (!need(4)) return false;
    uint32_t len = store::ReadU32(v.data() + pos);
    pos += 4;
    if (!need(len)) return false;
    out->assign(reinterpret_cast<const char*>(v.data() + pos), len);
    pos += len;
    return true;
  };
  Change c;
  c.number = number;
  if (!need(2 + 32 + 8)) return bad("truncated");
  if (v[0] != kChangeVersion) return bad("unknown version");
  c.remote = (v[1] & kFlagRemote) != 0;
  c.rederived = (v[1] & kFlagRederived) != 0;
  pos = 2;
  std::copy(v.begin() + pos, v.begin() + pos + 32, c.author.bytes.begin());
  pos += 32;
  c.hlc = store::ReadU64(v.data() + pos);
  pos += 8;
  if (!blob(&c.collection)) return bad("truncated collection");
  if (!need(c.id.bytes.size())) return bad("truncated id");
  std::copy(v.begin() + pos, v.begin() + pos + c.id.bytes.size(), c.id.bytes.begin());
  pos += c.id.bytes.size();
  if (!need(4)) return bad("truncated field count");
  uint32_t count = store::ReadU32(v.data() + pos);
  pos += 4;
  // Each field takes at least 4 bytes: bound the count before allocating.
  if (count > (v.size() - pos) / 4) return bad("field count exceeds the entry");
  c.fields.resize(count);
  for (std::string& f : c.fields) {
    if (!blob(&f)) return bad("truncated field");
  }
  if (pos != v.size()) return bad("trailing bytes");
  return c;
}

}  // namespace store

namespace {

// Byte comparison (a std::string's chars are signed).
bool HasPrefix(ByteView k, std::string_view prefix) {
  return k.size() >= prefix.size() && std::memcmp(k.data(), prefix.data(), prefix.size()) == 0;
}

Result<uint64_t> LastNumber(const Txn& t, MDB_dbi changes) {
  store::Cursor c(t, changes);
  if (!c.Last()) {
    HEARTH_RETURN_IF_ERROR(c.status());
    return uint64_t{0};
  }
  if (c.key().size() != 8) return Status::Corruption("changes: a key is not 8 bytes");
  return store::ReadU64(c.key().data());
}

std::string_view OperationName(crdt::OpKind k) {
  switch (k) {
    case crdt::OpKind::kLwwSet: return "set";
    case crdt::OpKind::kMvSet: return "mv_set";
    case crdt::OpKind::kSetAdd: return "add";
    case crdt::OpKind::kSetRemove: return "remove";
    case crdt::OpKind::kCounter: return "counter";
    case crdt::OpKind::kStatus: return "status";
    case crdt::OpKind::kLogAppend: return "append";
  }
  return "unknown";
}

}  // namespace

// ---------------------------------------------------------------- writing

Status Replica::Impl::RecordChange(Txn& t, const CachedRecord& rec) const {
  static const crdt::RecordState kEmpty;
  const crdt::RecordState& base = rec.feed_base ? *rec.feed_base : rec.before ? *rec.before : kEmpty;
  Change c;
  // Both maps are sorted by name: one merge pass.
  auto a = base.fields.begin();
  auto b = rec.now.fields.begin();
  while (a != base.fields.end() || b != rec.now.fields.end()) {
    if (b == rec.now.fields.end() || (a != base.fields.end() && a->first < b->first)) {
      c.fields.push_back(a->first);
      ++a;
    } else if (a == base.fields.end() || b->first < a->first) {
      c.fields.push_back(b->first);
      ++b;
    } else {
      if (!(a->second == b->second)) c.fields.push_back(a->first);
      ++a;
      ++b;
    }
  }
  if (c.fields.empty()) return Status::Ok();
  auto last = LastNumber(t, changes);
  if (!last.ok()) return last.status();
  c.number = *last + 1;
  c.collection = rec.now.collection;
  c.id = rec.now.id;
  if (rec.cause.rederived || !rec.cause.set) {
    c.rederived = rec.cause.rederived;
    c.author = root_key ? *root_key : identity.public_key;
    c.remote = c.author != identity.public_key;
  } else {
    c.author = rec.cause.author;
    c.hlc = rec.cause.hlc;
    c.remote = rec.cause.remote;
  }
  HEARTH_RETURN_IF_ERROR(t.Put(changes, AsBytes(NumberKey(c.number)), AsBytes(store::EncodeChange(c))));
  notify_pending = true;
  notify_number = c.number;
  return Status::Ok();
}

Status Replica::Impl::IndexHistory(Txn& t, std::string_view collection, const RecordId& id,
                                   const AuthorId& author, const store::LaneId& lane, uint64_t seq) const {
  return t.Put(history, AsBytes(store::HistoryKey(collection, id, author, lane, seq)), {});
}

Status Replica::Impl::MigrateHistory(Txn& t) {
  auto done = t.Get(meta, AsBytes(kMetaHistoryIndex));
  if (!done.ok()) return done.status();
  if (done->has_value()) return Status::Ok();
  // A replica made before the index existed: every delta applied so far,
  // as the derivation rule decides (docs/storage-format.md, "history").
  auto feeds_held = t.Entries(feeds);
  if (!feeds_held.ok()) return feeds_held.status();
  if (*feeds_held > 0) {
    Derived d;
    HEARTH_RETURN_IF_ERROR(Derive(t, &d).WithContext("building the history index"));
    for (const std::string& hk : d.history) HEARTH_RETURN_IF_ERROR(t.Put(history, AsBytes(hk), {}));
  }
  std::string v;
  store::AppendU32(v, 1);
  return t.Put(meta, AsBytes(kMetaHistoryIndex), AsBytes(v));
}

void Replica::Impl::NotifyChanges() const {
  // Best effort: a watcher that misses a wake-up still sees the change on
  // its next Wait (it reads the change table first).
  std::string path = dir + "/" + kNotifyFile;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string v;
  store::AppendU64(v, notify_number);
  ssize_t n = ::pwrite(fd, v.data(), v.size(), 0);
  (void)n;
  ::close(fd);
}

// ---------------------------------------------------------------- reading

Result<std::vector<Change>> Replica::Changes(uint64_t since, size_t limit) const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<std::vector<Change>> {
    std::vector<Change> out;
    if (limit == 0 || since == UINT64_MAX) return out;
    store::Cursor c(t, m.changes);
    std::string start = NumberKey(since + 1);
    for (bool ok = c.Seek(AsBytes(start)); ok && out.size() < limit; ok = c.Next()) {
      if (c.key().size() != 8) return Status::Corruption("changes: a key is not 8 bytes");
      auto ch = store::DecodeChange(store::ReadU64(c.key().data()), c.value());
      if (!ch.ok()) return ch.status();
      out.push_back(std::move(ch).value());
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    return out;
  });
}

Result<uint64_t> Replica::LastChangeNumber() const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<uint64_t> { return LastNumber(t, m.changes); });
}

struct ChangeWatcher::Impl {
  const Replica* replica = nullptr;
  int fd = -1;
  ~Impl() {
    if (fd >= 0) ::close(fd);
  }
};

ChangeWatcher::ChangeWatcher() = default;
ChangeWatcher::~ChangeWatcher() = default;
ChangeWatcher::ChangeWatcher(ChangeWatcher&&) noexcept = default;
ChangeWatcher& ChangeWatcher::operator=(ChangeWatcher&&) noexcept = default;

Result<ChangeWatcher> Replica::Watch() const {
  auto impl = std::make_unique<ChangeWatcher::Impl>();
  impl->replica = this;
  impl->fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (impl->fd < 0) return Status::IOError(std::string("inotify_init1: ") + std::strerror(errno));
  // The directory, not the file: the file may not exist yet, or be replaced.
  if (::inotify_add_watch(impl->fd, impl_->dir.c_str(), IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO) <
      0) {
    return Status::IOError("inotify_add_watch " + impl_->dir + ": " + std::strerror(errno));
  }
  ChangeWatcher w;
  w.impl_ = std::move(impl);
  return w;
}

Result<bool> ChangeWatcher::Wait(uint64_t after, std::chrono::milliseconds timeout) {
  if (!impl_) return Status::FailedPrecondition("ChangeWatcher: not made by Replica::Watch (or moved from)");
  using Clock = std::chrono::steady_clock;
  // Clamped so that the deadline cannot overflow the clock's range.
  const auto bounded = std::clamp(timeout, std::chrono::milliseconds(0),
                                  std::chrono::milliseconds(std::chrono::hours(24 * 366)));
  const auto deadline = Clock::now() + bounded;
  alignas(inotify_event) char buf[4096];
  // Bounded by the deadline: each pass either returns or waits on poll.
  for (;;) {
    auto last = impl_->replica->LastChangeNumber();
    if (!last.ok()) return last.status();
    if (*last > after) return true;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{impl_->fd, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
      if (rc < 0 && errno != EINTR) return Status::IOError(std::string("poll: ") + std::strerror(errno));
      if (rc <= 0) continue;
      // Drain the queue; wake only for the notify file (LMDB's own writes
      // to data.mdb land in the same directory) or a lost-event overflow.
      bool wake = false;
      for (;;) {
        ssize_t n = ::read(impl_->fd, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
          const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
          if ((ev->mask & IN_Q_OVERFLOW) || (ev->len > 0 && std::strcmp(ev->name, kNotifyFile) == 0)) wake = true;
          off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        }
      }
      if (wake) break;
    }
  }
}

// ---------------------------------------------------------------- conflicts

Result<std::vector<Conflict>> Replica::Conflicts(std::string_view collection) const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<std::vector<Conflict>> {
    std::vector<Conflict> out;
    store::Cursor c(t, m.state);
    std::string prefix = collection.empty() ? std::string() : store::StatePrefix(collection);
    for (bool ok = prefix.empty() ? c.First() : c.Seek(AsBytes(prefix)); ok; ok = c.Next()) {
      ByteView k = c.key();
      if (!HasPrefix(k, prefix)) break;
      auto rec = codec::DecodeRecordState(c.value());
      if (!rec.ok()) return rec.status().WithContext("stored record");
      if (!rec->collection.empty() && rec->collection[0] == '$') continue;  // reserved scopes
      for (const auto& [name, fs] : rec->fields) {
        if (fs.kind() != FieldKind::kMv) continue;
        const auto& mv = fs.as<crdt::MvState>();
        if (mv.entries.size() < 2) continue;
        Conflict cf;
        cf.collection = rec->collection;
        cf.id = rec->id;
        cf.field = name;
        for (const auto& e : mv.entries) cf.values.push_back(ConflictValue{e.value, e.dot.author, e.dot.hlc});
        out.push_back(std::move(cf));
      }
    }
    HEARTH_RETURN_IF_ERROR(c.status());
    return out;
  });
}

// ---------------------------------------------------------------- history

Result<std::vector<HistoryEntry>> Replica::History(std::string_view collection, const RecordId& id) const {
  const Impl& m = *impl_;
  return m.WithRead([&](const Txn& t) -> Result<std::vector<HistoryEntry>> {
    std::vector<HistoryEntry> out;
    auto schema = m.SchemaIn(t, nullptr);
    if (!schema.ok()) return schema.status();
    auto policy = m.PolicyIn(t, nullptr);
    if (!policy.ok()) return policy.status();
    const std::string prefix = store::StateKey(collection, id);
    std::vector<store::FeedPos> deltas;
    {
      store::Cursor c(t, m.history);
      for (bool ok = c.Seek(AsBytes(prefix)); ok; ok = c.Next()) {
        ByteView k = c.key();
        if (k.size() != prefix.size() + store::kFeedKeySize || !HasPrefix(k, prefix)) break;
        deltas.push_back(*store::ParseFeedKey(k.subspan(prefix.size())));
      }
      HEARTH_RETURN_IF_ERROR(c.status());
    }
    Impl::KeyCache keys;
    for (const auto& [author, lane, seq] : deltas) {
      auto got = t.Get(m.feeds, AsBytes(store::FeedKey(author, lane, seq)));
      if (!got.ok()) return got.status();
      if (!got->has_value()) continue;
      auto d = feed::ParseDelta(**got, UINT64_MAX);
      if (!d.ok()) return d.status().WithContext("stored delta");
      const bool reserved = !d->header.scope.empty() && d->header.scope[0] == '$';
      auto p = m.Prepare(t, *d, reserved ? *m.local_schema : **schema, &keys);
      if (!p.ok()) return p.status().WithContext("reading history");
      // Only what this replica may read and apply.
      if (p->unreadable || !p->invalid.empty()) continue;
      std::string name;
      if (*policy) {
        if (const Member* mem = (*policy)->FindMember(author)) name = mem->name;
      }
      for (const crdt::RecordOps& r : p->records) {
        if (r.collection != collection || r.id != id) continue;
        for (const crdt::Op& op : r.ops) {
          HistoryEntry e;
          e.hlc = op.hlc;
          e.author = author;
          e.author_name = name;
          e.seq = seq;
          e.field = op.field;
          e.operation = std::string(OperationName(op.kind));
          e.value = op.value;
          e.p = op.p;
          e.n = op.n;
          out.push_back(std::move(e));
        }
      }
    }
    std::stable_sort(out.begin(), out.end(), [](const HistoryEntry& a, const HistoryEntry& b) {
      if (a.hlc != b.hlc) return a.hlc < b.hlc;
      if (a.author != b.author) return a.author < b.author;
      return a.seq < b.seq;
    });
    return out;
  });
}

}  // namespace hearth
