#include "common.hpp"

#include "hearth/heads.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "base/text.hpp"

namespace hcli {

using namespace hearth;

void Fail(int code, std::string message) { throw CliError{code, std::move(message)}; }

int ExitFor(const Status& s) {
  return s.code() == Code::kInvalidArgument ? kExitUsage : kExitRuntime;
}

void FailStatus(const Status& s, const std::string& context, const std::string& hint) {
  std::string msg = context.empty() ? s.message() : context + ": " + s.message();
  if (s.message().empty()) msg += std::string(CodeName(s.code()));
  if (!hint.empty()) msg += "\n  " + hint;
  if (s.code() == Code::kCorruption) {
    msg += "\n  the replica may be damaged: run `hearth verify` (docs/reliability.md, \"Damaged storage\")";
  }
  Fail(ExitFor(s), msg);
}

std::optional<std::string> EnvPassphrase() {
  if (const char* env = std::getenv("HEARTH_PASSPHRASE"); env != nullptr && *env != '\0') return std::string(env);
  return std::nullopt;
}

void CheckIdentityChoice(bool unencrypted) {
  if (unencrypted && EnvPassphrase()) {
    Fail(kExitUsage,
         "--unencrypted-identity and HEARTH_PASSPHRASE are both set: choose one\n"
         "  unset HEARTH_PASSPHRASE to store the new identity in the clear, or drop --unencrypted-identity to "
         "protect it with the passphrase");
  }
}

bool IsReplicaDir(const std::string& dir) {
  struct stat st;
  // replica.mark: a replica was created here, even if its data.mdb is gone
  // (Replica::Open then says so; docs/storage-format.md, "Replica marker").
  return (::stat((dir + "/data.mdb").c_str(), &st) == 0 && S_ISREG(st.st_mode)) ||
         ::stat((dir + "/replica.mark").c_str(), &st) == 0;
}

std::unique_ptr<Replica> OpenReplica(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    Fail(kExitRuntime, dir + " does not exist; create a replica there with `hearth init " + dir +
                           "`, or name one with -C DIR");
  }
  if (!S_ISDIR(st.st_mode)) Fail(kExitRuntime, dir + " is not a directory (a replica is a directory)");
  if (!IsReplicaDir(dir)) {
    Fail(kExitRuntime, dir + " is not a Hearth replica directory (no data.mdb); create one with "
                             "`hearth init " + dir + "`, or name one with -C DIR");
  }
  ReplicaOptions o;
  o.create_if_missing = false;  // reading commands create nothing
  o.check_storage = true;       // a damaged data.mdb is reported, never crashes the tool
  o.passphrase = EnvPassphrase();
  auto r = Replica::Open(dir, std::move(o));
  if (!r.ok()) {
    std::string hint;
    if (r.status().code() == Code::kFailedPrecondition) hint = "is another command of this process using it, or is it from a newer Hearth?";
    if (r.status().code() == Code::kFailedPrecondition && r.status().message().find("hearth restore") != std::string::npos) {
      hint = "";  // an interrupted restore: the message says what to run
    }
    if (r.status().code() == Code::kFailedPrecondition && r.status().message().find("passphrase") != std::string::npos) {
      hint = "set HEARTH_PASSPHRASE to the identity's passphrase";
    }
    if (r.status().code() == Code::kNotFound) hint = "is the identity file (identity.key) missing?";
    if (r.status().code() == Code::kPermissionDenied) hint = "check the directory's owner and permissions";
    if (r.status().code() == Code::kCorruption) {
      hint = "the replica is damaged: restore it from a backup (`hearth backup`, then `hearth restore DIR`) or rebuild it by syncing a new "
             "replica from a healthy one (docs/reliability.md, \"Damaged storage\")";
    }
    Fail(kExitRuntime, "cannot open replica " + dir + ": " + r.status().ToString() +
                           (hint.empty() ? "" : "\n  " + hint));
  }
  return std::move(r).value();
}

std::unique_ptr<Replica> OpenGlobal(const Globals& g) { return OpenReplica(g.replica); }

std::string Dump(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

void PrintJson(const json& j) { std::cout << Dump(j, 2) << "\n"; }

std::string Printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto esc = [&](unsigned char c) {
    static const char* k = "0123456789abcdef";
    out += "\\x";
    out += k[c >> 4];
    out += k[c & 15];
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) esc(c);
      else out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlongs, surrogates or > U+10FFFF)
    // is kept; any other byte is escaped on its own.
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) ok = false;
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      esc(c);
      ++i;
    }
  }
  return out;
}

void Say(const Globals& g, const std::string& line) {
  if (!g.quiet) std::cout << line << "\n";
}

void Table::Print() const {
  // Cells hold replica data: printed through Printable (docs/cli.md, "Output").
  std::vector<std::vector<std::string>> rows;
  rows.reserve(rows_.size());
  for (const auto& r : rows_) {
    std::vector<std::string> row;
    for (const auto& cell : r) row.push_back(Printable(cell));
    rows.push_back(std::move(row));
  }
  std::vector<size_t> widths(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  };
  measure(headers_);
  for (const auto& r : rows) measure(r);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  print(headers_);
  for (const auto& r : rows) print(r);
}

AuthorId ParseAuthor(std::string_view hex) {
  auto a = AuthorId::FromHex(hex);
  if (!a.ok()) Fail(kExitUsage, "'" + std::string(hex) + "' is not an author id (64 hex digits, see `hearth heads`)");
  return *a;
}

RecordId ParseRecordId(std::string_view hex) {
  auto r = RecordId::FromHex(hex);
  if (!r.ok()) Fail(kExitUsage, "'" + std::string(hex) + "' is not a record id (32 hex digits)");
  return *r;
}

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string HlcText(uint64_t hlc) {
  return std::to_string(hlc >> 16) + "." + std::to_string(hlc & 0xffff);
}

json ValueToJson(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull: return nullptr;
    case ValueType::kBool: return v.as_bool();
    case ValueType::kInt: return v.as_int();
    case ValueType::kDouble: return v.as_double();
    case ValueType::kString: return v.as_string();
    case ValueType::kBytes: return json{{"$bytes", Hex(v.as_bytes())}};
    case ValueType::kTimestamp: return json{{"$ts", v.as_timestamp().ms}};
    case ValueType::kRef: return json{{"$ref", v.as_ref().ToHex()}};
  }
  return nullptr;
}

json FieldToJson(const FieldValue& f) {
  json j;
  j["kind"] = std::string(FieldKindName(f.kind));
  switch (f.kind) {
    case FieldKind::kLww:
      j["value"] = ValueToJson(f.value);
      j["hlc"] = std::to_string(f.hlc);  // a string: 64 bits lose precision in JavaScript and jq
      j["author"] = f.author.ToHex();
      break;
    case FieldKind::kMv:
    case FieldKind::kSet: {
      json a = json::array();
      for (const auto& v : f.values) a.push_back(ValueToJson(v));
      j["values"] = a;
      if (f.kind == FieldKind::kMv) j["conflict"] = f.conflict();
      break;
    }
    case FieldKind::kCounter: j["value"] = f.count; break;
    case FieldKind::kStatus: j["value"] = ValueToJson(f.value); break;
    case FieldKind::kLog: {
      json a = json::array();
      for (const auto& e : f.log) {
        a.push_back({{"hlc", std::to_string(e.hlc)}, {"author", e.author.ToHex()}, {"value", ValueToJson(e.value)}});
      }
      j["entries"] = a;
      break;
    }
  }
  return j;
}

json RecordToJson(const Record& r) {
  json fields = json::object();
  for (const auto& [name, f] : r.fields) fields[name] = FieldToJson(f);
  return {{"collection", r.collection}, {"id", r.id.ToHex()}, {"deleted", r.deleted}, {"fields", fields}};
}

std::string FieldText(const FieldValue& f) {
  auto list = [](const std::vector<Value>& vs, const char* open, const char* close) {
    std::string s = open;
    for (size_t i = 0; i < vs.size(); ++i) s += (i ? ", " : "") + vs[i].ToString();
    return s + close;
  };
  switch (f.kind) {
    case FieldKind::kLww: return f.value.ToString();
    case FieldKind::kMv:
      return f.values.size() == 1 ? f.values[0].ToString()
                                  : list(f.values, "CONFLICT [", "]");
    case FieldKind::kSet: return list(f.values, "{", "}");
    case FieldKind::kCounter: return std::to_string(f.count);
    case FieldKind::kStatus: return f.value.is_null() ? "null" : f.value.type() == ValueType::kString ? f.value.as_string() : f.value.ToString();
    case FieldKind::kLog: {
      std::string s;
      for (size_t i = 0; i < f.log.size(); ++i) s += (i ? " | " : "") + f.log[i].value.ToString();
      return "[" + std::to_string(f.log.size()) + "] " + s;
    }
  }
  return "?";
}

json HeadsJson(const Heads& h) {
  // One format: the library's (include/hearth/heads.hpp), as a JSON array.
  return json::parse(hearth::HeadsToJson(h))["heads"];
}

Progress::Progress(const Globals& g, std::string label)
    : enabled_(!g.quiet && ::isatty(STDERR_FILENO)), label_(std::move(label)),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { Done(); }

// "12.3 MB/s" for bytes, else "1,234 deltas/s"; "" before a rate is known.
static std::string ProgressRate(double per_sec, const std::string& unit) {
  char buf[64];
  if (unit == "bytes") {
    std::snprintf(buf, sizeof buf, "%.1f MB/s", per_sec / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f %s/s", per_sec, unit.empty() ? "items" : unit.c_str());
  }
  return buf;
}

// "1h02m", "3m05s", "42s".
static std::string ProgressEta(double secs) {
  if (!(secs >= 0) || secs > 360'000) return "?";
  auto s = static_cast<uint64_t>(secs + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                               static_cast<unsigned long long>(s / 60 % 60));
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                                  static_cast<unsigned long long>(s % 60));
  else std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
  return buf;
}

void Progress::Update(uint64_t done, uint64_t total, std::string_view unit) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (shown_ && now - last_ < std::chrono::milliseconds(100) && done != total) return;
  last_ = now;
  shown_ = true;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  char buf[320];
  std::string u(unit);
  const std::string r = ProgressRate(rate, u);
  if (total > 0) {
    int pct = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
    int bars = pct / 5;
    // Time left at the rate so far (shown once there is a rate).
    std::string eta = done >= total ? "done" : rate > 0 ? ProgressEta(static_cast<double>(total - done) / rate) + " left" : "";
    std::snprintf(buf, sizeof buf, "\r%s [%-20s] %3d%% %s/%s%s%s  %s  %s ", label_.c_str(),
                  std::string(bars, '#').c_str(), pct,
                  u == "bytes" ? HumanBytes(done).c_str() : std::to_string(done).c_str(),
                  u == "bytes" ? HumanBytes(total).c_str() : std::to_string(total).c_str(),
                  u.empty() || u == "bytes" ? "" : " ", u == "bytes" ? "" : u.c_str(), r.c_str(), eta.c_str());
  } else {
    std::snprintf(buf, sizeof buf, "\r%s %s%s%s  %s ", label_.c_str(),
                  u == "bytes" ? HumanBytes(done).c_str() : std::to_string(done).c_str(),
                  u.empty() || u == "bytes" ? "" : " ", u == "bytes" ? "" : u.c_str(), r.c_str());
  }
  std::fputs(buf, stderr);
  std::fflush(stderr);
}

void Progress::Done() {
  if (enabled_ && shown_) {
    std::fputs("\n", stderr);
    shown_ = false;
  }
}

}  // namespace hcli

namespace hcli {

void RequireRegularFile(const std::string& path, const std::string& what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;  // missing or unreadable: the caller's open says so
  struct stat st {};
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) {
    Fail(kExitUsage, what + " " + path + " is not a regular file (a FIFO, device or directory cannot be read as one)");
  }
}

std::string ReadSmallFile(const std::string& path, const std::string& what) {
  RequireRegularFile(path, what);  // a FIFO would block, /dev/zero never end
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) Fail(kExitRuntime, "cannot read " + what + " " + path + ": " + std::strerror(errno));
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  bool err = std::ferror(f);
  std::fclose(f);
  if (err) Fail(kExitRuntime, "error reading " + what + " " + path);
  return s;
}

void WriteNewFile(const std::string& path, std::string_view data, int mode, const std::string& what) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) Fail(kExitRuntime, path + " already exists; refusing to overwrite it (remove it or choose another name)");
    Fail(kExitRuntime, "cannot create " + what + " " + path + ": " + std::strerror(errno));
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      ::unlink(path.c_str());
      Fail(kExitRuntime, "writing " + path + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) Fail(kExitRuntime, "syncing " + path + ": " + std::strerror(errno));
}

}  // namespace hcli
