// Heads files (include/hearth/heads.hpp, docs/bundle-format.md "Heads file").
// nlohmann-json is a private dependency: its exceptions stay in this file.
#include "hearth/heads.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/bytes.hpp"

namespace hearth {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxSeq = static_cast<uint64_t>(INT64_MAX);

std::string Errno(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

// Thrown by the parser callback; caught in HeadsFromJson.
struct Refused {
  std::string message;
};

std::string Quote(const std::string& s) {
  std::string shown = s.size() > 80 ? s.substr(0, 80) + "..." : s;
  return json(shown).dump(-1, ' ', true, json::error_handler_t::replace);
}

std::string Kind(const json& v) {
  if (v.is_number_unsigned()) return "number " + v.dump();
  if (v.is_number_integer()) return "negative number " + v.dump();
  if (v.is_number_float()) return "non-integer number " + v.dump();
  if (v.is_string()) return "string " + Quote(v.get<std::string>());
  return v.type_name();
}

Status Bad(const std::string& what) { return Status::InvalidArgument("heads: " + what); }

// Decodes 64 hex digits into 32 bytes, or names the problem.
Status Hex32(const json& v, const std::string& where, std::array<uint8_t, 32>& out) {
  if (!v.is_string()) return Bad(where + " must be a string of 64 hex digits, not " + Kind(v));
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() != 64) {
    return Bad(where + " must be 64 hex digits, not " + std::to_string(s.size()) + " characters: " + Quote(s));
  }
  if (!base::FromHexInto(s, out)) return Bad(where + " holds a character that is not a hex digit: " + Quote(s));
  return Status::Ok();
}

Status ParseEntries(const json& arr, Heads& out) {
  size_t i = 0;
  for (const json& e : arr) {
    const std::string at = "heads[" + std::to_string(i++) + "]";
    if (!e.is_object()) return Bad(at + " must be an object {\"author\", \"seq\", \"hash\"}, not " + Kind(e));
    for (const auto& [k, v] : e.items()) {
      (void)v;
      if (k != "author" && k != "seq" && k != "hash") {
        return Bad(at + " has an unknown key " + Quote(k) + " (expected \"author\", \"seq\", \"hash\")");
      }
    }
    for (const char* k : {"author", "seq", "hash"}) {
      if (!e.contains(k)) return Bad(at + " lacks \"" + k + "\"");
    }
    AuthorId author;
    HEARTH_RETURN_IF_ERROR(Hex32(e["author"], at + ".author", author.bytes));
    const json& seq = e["seq"];
    if (!seq.is_number_unsigned() || seq.get<uint64_t>() < 1 || seq.get<uint64_t>() > kMaxSeq) {
      return Bad(at + ".seq must be an integer from 1 to " + std::to_string(kMaxSeq) + ", not " + Kind(seq));
    }
    FeedHead h;
    h.seq = seq.get<uint64_t>();
    HEARTH_RETURN_IF_ERROR(Hex32(e["hash"], at + ".hash", h.hash));
    if (!out.emplace(author, h).second) {
      return Bad(at + ": author " + author.ToHex() + " is listed twice");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string HeadsToJson(const Heads& heads) {
  std::string s = "{\"heads\":[";
  bool first = true;
  for (const auto& [author, head] : heads) {
    if (!first) s += ',';
    first = false;
    s += "{\"author\":\"" + author.ToHex() + "\",\"seq\":" + std::to_string(head.seq) + ",\"hash\":\"" +
         base::ToHex(head.hash) + "\"}";
  }
  s += "]}";
  return s;
}

Result<Heads> HeadsFromJson(std::string_view text) {
  if (text.size() > kMaxHeadsFileSize) {
    return Bad("text of " + std::to_string(text.size()) + " bytes is over the limit of " +
               std::to_string(kMaxHeadsFileSize) + " bytes");
  }
  json j;
  try {
    // Refuses repeated keys (nlohmann keeps the last one silently) and
    // nesting deeper than the format has.
    std::vector<std::set<std::string>> keys;
    auto cb = [&keys](int depth, json::parse_event_t ev, json& parsed) -> bool {
      if (depth > 3) throw Refused{"nested deeper than the format allows"};
      if (ev == json::parse_event_t::object_start) {
        keys.emplace_back();
      } else if (ev == json::parse_event_t::object_end) {
        if (!keys.empty()) keys.pop_back();
      } else if (ev == json::parse_event_t::key && !keys.empty()) {
        const auto& k = parsed.get_ref<const std::string&>();
        if (!keys.back().insert(k).second) throw Refused{"key " + Quote(k) + " appears twice in one object"};
      }
      return true;
    };
    j = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Refused& r) {
    return Bad(r.message);
  } catch (const json::exception& e) {
    return Bad(std::string("not JSON: ") + e.what());
  } catch (const std::exception& e) {
    return Bad(std::string("unreadable: ") + e.what());
  }
  Heads out;
  if (j.is_array()) {
    HEARTH_RETURN_IF_ERROR(ParseEntries(j, out));
    return out;
  }
  if (!j.is_object()) {
    return Bad("expected an object {\"heads\": [...]} (the output of `hearth heads --json`), not " + Kind(j));
  }
  for (const auto& [k, v] : j.items()) {
    (void)v;
    if (k != "heads" && k != "author") {
      return Bad("unknown key " + Quote(k) + " (expected \"heads\" and optionally \"author\")");
    }
  }
  if (!j.contains("heads")) return Bad("no \"heads\" key (expected the output of `hearth heads --json`)");
  if (j.contains("author")) {
    std::array<uint8_t, 32> ignored;
    HEARTH_RETURN_IF_ERROR(Hex32(j["author"], "author", ignored));
  }
  const json& arr = j["heads"];
  if (!arr.is_array()) return Bad("\"heads\" must be an array, not " + Kind(arr));
  HEARTH_RETURN_IF_ERROR(ParseEntries(arr, out));
  return out;
}

Status SaveHeads(const Heads& heads, const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("SaveHeads: empty path");
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) return Status::InvalidArgument("SaveHeads: " + path + " names a directory, not a file");
  const std::string text = HeadsToJson(heads) + "\n";
  std::string tmp = dir + "/." + base + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::IOError(Errno("creating a temporary file in", dir));
  ::fchmod(fd, 0644);
  bool ok = true;
  for (size_t off = 0; ok && off < text.size();) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else off += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int e = errno;
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    e = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return Status::IOError("writing " + path + ": " + std::strerror(e));
  }
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<Heads> LoadHeads(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no heads file " + path);
    return Status::IOError(Errno("opening", path));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + " is not a regular file");
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Status::IOError(Errno("reading", path));
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxHeadsFileSize) {
      ::close(fd);
      return Status::InvalidArgument(path + ": heads file over the limit of " +
                                     std::to_string(kMaxHeadsFileSize) + " bytes");
    }
  }
  ::close(fd);
  auto h = HeadsFromJson(text);
  if (!h.ok()) return h.status().WithContext(path);
  return h;
}

}  // namespace hearth
