// Policy documents: TOML parsing, canonical form, and the access rules.
#include "hearth/policy.hpp"
#include "hearth/toml_bounds.hpp"

#include "base/text.hpp"
#include "crypto/crypto.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <toml.hpp>

namespace hearth {
namespace {

constexpr size_t kMaxName = 128;
// Partitions (docs/policy.md, "Partitioned scopes"): names are 1..64 bytes
// of UTF-8 without '/', '"', '\\' or control characters; at most 1024 per
// scope; "scope/partition" fits a delta header's 128-byte scope.
constexpr size_t kMaxPartitionName = 64;
constexpr size_t kMaxPartitions = 1024;
constexpr size_t kMaxHeaderScope = 128;  // feed::kMaxScopeBytes

bool ValidPartition(std::string_view s) {
  if (s.empty() || s.size() > kMaxPartitionName || !ValidUtf8(s)) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '/' || c == '"' || c == '\\') return false;
  }
  return true;
}

bool ValidToken(std::string_view s, bool allow_dot) {
  if (s.empty() || s.size() > kMaxName) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              (allow_dot && c == '.');
    if (!ok) return false;
  }
  return true;
}

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Status Error(const toml::value& at, const std::string& path, const std::string& msg) const {
    std::string m = source_;
    if (auto line = at.location().line(); line > 0) m += ":" + std::to_string(line);
    m += ": ";
    if (!path.empty()) m += path + ": ";
    return Status::InvalidArgument(m + msg);
  }

  Status Keys(const toml::value& t, const std::string& path, std::initializer_list<std::string_view> allowed) const {
    if (!t.is_table()) return Error(t, path, "must be a table");
    for (const auto& [k, v] : t.as_table()) {
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        return Error(v, path, "unknown key '" + k + "'");
      }
    }
    return Status::Ok();
  }

  static const toml::value* Get(const toml::value& t, const std::string& k) {
    auto it = t.as_table().find(k);
    return it == t.as_table().end() ? nullptr : &it->second;
  }

  Status Str(const toml::value& t, const std::string& k, const std::string& path, std::string* out) const {
    const toml::value* v = Get(t, k);
    if (v == nullptr) return Status::Ok();
    if (!v->is_string()) return Error(*v, path, "'" + k + "' must be a string");
    *out = v->as_string().str;
    return Status::Ok();
  }

  Status Uint(const toml::value& t, const std::string& k, const std::string& path, std::optional<uint64_t>* out) const {
    const toml::value* v = Get(t, k);
    if (v == nullptr) return Status::Ok();
    if (!v->is_integer() || v->as_integer() < 0) return Error(*v, path, "'" + k + "' must be a non-negative integer");
    *out = static_cast<uint64_t>(v->as_integer());
    return Status::Ok();
  }

  Status StrList(const toml::value& t, const std::string& k, const std::string& path, std::vector<std::string>* out) const {
    const toml::value* v = Get(t, k);
    if (v == nullptr) return Status::Ok();
    if (!v->is_array()) return Error(*v, path, "'" + k + "' must be an array of strings");
    for (const auto& e : v->as_array()) {
      if (!e.is_string()) return Error(e, path, "'" + k + "' must be an array of strings");
      out->push_back(e.as_string().str);
    }
    return Status::Ok();
  }

  Status Run(const toml::value& root, Policy* p) {
    HEARTH_RETURN_IF_ERROR(Keys(root, "", {"format", "version", "county", "scopes", "members", "grants"}));
    std::optional<uint64_t> format, version;
    HEARTH_RETURN_IF_ERROR(Uint(root, "format", "", &format));
    if (format != 1u) return Error(root, "", "'format' must be 1");
    HEARTH_RETURN_IF_ERROR(Uint(root, "version", "", &version));
    if (!version || *version == 0) return Error(root, "", "'version' (a positive integer) is required");
    p->set_version(*version);
    std::string county;
    HEARTH_RETURN_IF_ERROR(Str(root, "county", "", &county));
    p->set_county(county);
    if (const toml::value* scopes = Get(root, "scopes")) {
      if (!scopes->is_table()) return Error(*scopes, "scopes", "must be a table");
      for (const auto& [name, v] : scopes->as_table()) {
        std::string path = "scopes." + name;
        HEARTH_RETURN_IF_ERROR(Keys(v, path, {"epoch", "description", "partitioned_by", "partitions"}));
        ScopeSpec s;
        s.name = name;
        std::optional<uint64_t> epoch;
        HEARTH_RETURN_IF_ERROR(Uint(v, "epoch", path, &epoch));
        if (epoch) {
          if (*epoch == 0 || *epoch > UINT32_MAX) return Error(v, path, "'epoch' must be 1..2^32-1");
          s.epoch = static_cast<uint32_t>(*epoch);
        }
        HEARTH_RETURN_IF_ERROR(Str(v, "description", path, &s.description));
        HEARTH_RETURN_IF_ERROR(Str(v, "partitioned_by", path, &s.partitioned_by));
        HEARTH_RETURN_IF_ERROR(StrList(v, "partitions", path, &s.partitions));
        Status st = p->AddScope(std::move(s));
        if (!st.ok()) return Error(v, path, st.message());
      }
    }
    if (const toml::value* members = Get(root, "members")) {
      if (!members->is_table()) return Error(*members, "members", "must be a table keyed by public key (hex)");
      for (const auto& [hex, v] : members->as_table()) {
        std::string path = "members." + hex.substr(0, 16);
        HEARTH_RETURN_IF_ERROR(Keys(v, path, {"name", "agency", "township", "roles", "revoked_after"}));
        auto key = AuthorId::FromHex(hex);
        if (!key.ok()) return Error(v, path, "member key: " + key.status().message());
        Member m;
        m.key = *key;
        HEARTH_RETURN_IF_ERROR(Str(v, "name", path, &m.name));
        HEARTH_RETURN_IF_ERROR(Str(v, "agency", path, &m.agency));
        HEARTH_RETURN_IF_ERROR(Str(v, "township", path, &m.township));
        HEARTH_RETURN_IF_ERROR(StrList(v, "roles", path, &m.roles));
        HEARTH_RETURN_IF_ERROR(Uint(v, "revoked_after", path, &m.revoked_after));
        Status st = p->AddMember(std::move(m));
        if (!st.ok()) return Error(v, path, st.message());
      }
    }
    if (const toml::value* grants = Get(root, "grants")) {
      if (!grants->is_array()) return Error(*grants, "grants", "must be an array of tables ([[grants]])");
      size_t i = 0;
      for (const auto& v : grants->as_array()) {
        std::string path = "grants[" + std::to_string(i++) + "]";
        HEARTH_RETURN_IF_ERROR(Keys(v, path, {"agency", "role", "scope", "rights", "partition", "partitions"}));
        Grant g;
        HEARTH_RETURN_IF_ERROR(Str(v, "agency", path, &g.agency));
        HEARTH_RETURN_IF_ERROR(Str(v, "role", path, &g.role));
        HEARTH_RETURN_IF_ERROR(Str(v, "scope", path, &g.scope));
        std::string own;
        HEARTH_RETURN_IF_ERROR(Str(v, "partition", path, &own));
        if (Get(v, "partition") != nullptr) {
          if (own != "own") return Error(v, path, "'partition' must be \"own\" (or use 'partitions' = [...])");
          g.own_partition = true;
        }
        HEARTH_RETURN_IF_ERROR(StrList(v, "partitions", path, &g.partitions));
        std::vector<std::string> rights;
        HEARTH_RETURN_IF_ERROR(StrList(v, "rights", path, &rights));
        for (const auto& r : rights) {
          if (r == "read") g.rights |= Right::kRead;
          else if (r == "write") g.rights |= Right::kWrite;
          else if (r == "relay") g.rights |= Right::kRelay;
          else return Error(v, path, "unknown right '" + r + "' (read, write, relay)");
        }
        Status st = p->AddGrant(std::move(g));
        if (!st.ok()) return Error(v, path, st.message());
      }
    }
    return Status::Ok();
  }

 private:
  std::string source_;
};

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string QuoteList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + Quote(v[i]);
  return out + "]";
}

}  // namespace

std::string RightsToString(Rights rights) {
  std::string out;
  if (rights & Right::kRead) out += "read";
  if (rights & Right::kWrite) out += out.empty() ? "write" : ",write";
  if (rights & Right::kRelay) out += out.empty() ? "relay" : ",relay";
  return out;
}

Result<Policy> Policy::Parse(std::string_view text, std::string_view source_name) {
  std::string source(source_name.empty() ? "<policy>" : source_name);
  // Before toml11, which recurses once per nesting level: a policy arrives
  // in deltas from anyone (docs/policy.md, "Limits").
  if (Status b = CheckTomlBounds(text, kPolicyMaxBytes); !b.ok()) return b.WithContext(source);
  try {
    std::istringstream in{std::string(text)};
    toml::value root = toml::parse(in, source);
    Policy p;
    HEARTH_RETURN_IF_ERROR(Parser(source).Run(root, &p));
    HEARTH_RETURN_IF_ERROR(p.Validate());
    return p;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(source + ": invalid TOML: " + e.what());
  }
}

Result<Policy> Policy::LoadFile(const std::string& path) {
  // Only regular files: a FIFO would block the reader, a device never end.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) return Status::IOError("policy file " + path + " is not a regular file");
    if (static_cast<uint64_t>(st.st_size) > kPolicyMaxBytes) {
      return Status::InvalidArgument(path + ": TOML document of " + std::to_string(st.st_size) +
                                     " bytes exceeds the limit of " + std::to_string(kPolicyMaxBytes) + " bytes");
    }
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    if (errno == ENOENT) return Status::NotFound("policy file " + path + " does not exist");
    return Status::IOError("cannot read policy file " + path + ": " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return Parse(ss.str(), path);
}

std::string Policy::ToToml() const {
  std::string out = "format = 1\nversion = " + std::to_string(version_) + "\n";
  if (!county_.empty()) out += "county = " + Quote(county_) + "\n";
  for (const ScopeSpec& s : scopes_) {
    out += "\n[scopes." + Quote(s.name) + "]\nepoch = " + std::to_string(s.epoch) + "\n";
    if (!s.description.empty()) out += "description = " + Quote(s.description) + "\n";
    if (!s.partitioned_by.empty()) out += "partitioned_by = " + Quote(s.partitioned_by) + "\n";
    if (!s.partitions.empty()) out += "partitions = " + QuoteList(s.partitions) + "\n";
  }
  for (const Member& m : members_) {
    out += "\n[members." + m.key.ToHex() + "]\n";
    out += "name = " + Quote(m.name) + "\nagency = " + Quote(m.agency) + "\n";
    if (!m.township.empty()) out += "township = " + Quote(m.township) + "\n";
    if (!m.roles.empty()) out += "roles = " + QuoteList(m.roles) + "\n";
    if (m.revoked_after) out += "revoked_after = " + std::to_string(*m.revoked_after) + "\n";
  }
  for (const Grant& g : grants_) {
    out += "\n[[grants]]\n";
    if (!g.agency.empty()) out += "agency = " + Quote(g.agency) + "\n";
    if (!g.role.empty()) out += "role = " + Quote(g.role) + "\n";
    out += "scope = " + Quote(g.scope) + "\n";
    if (g.own_partition) out += "partition = \"own\"\n";
    if (!g.partitions.empty()) out += "partitions = " + QuoteList(g.partitions) + "\n";
    std::vector<std::string> r;
    if (g.rights & Right::kRead) r.push_back("read");
    if (g.rights & Right::kWrite) r.push_back("write");
    if (g.rights & Right::kRelay) r.push_back("relay");
    out += "rights = " + QuoteList(r) + "\n";
  }
  return out;
}

Status Policy::AddMember(Member m) {
  if (m.agency.empty() || !ValidToken(m.agency, false)) {
    return Status::InvalidArgument("member " + m.key.ToHex().substr(0, 16) +
                                   ": 'agency' is required (a-z, 0-9, _ and -)");
  }
  for (const auto& r : m.roles) {
    if (!ValidToken(r, false)) return Status::InvalidArgument("bad role name '" + r + "'");
  }
  std::sort(m.roles.begin(), m.roles.end());
  m.roles.erase(std::unique(m.roles.begin(), m.roles.end()), m.roles.end());
  auto it = std::lower_bound(members_.begin(), members_.end(), m.key,
                             [](const Member& a, const AuthorId& k) { return a.key < k; });
  if (it != members_.end() && it->key == m.key) return Status::InvalidArgument("duplicate member");
  members_.insert(it, std::move(m));
  return Status::Ok();
}

Status Policy::AddScope(ScopeSpec s) {
  if (!ValidToken(s.name, true)) {
    return Status::InvalidArgument("bad scope name '" + s.name + "' (a-z, 0-9, '.', '_', '-')");
  }
  auto it = std::lower_bound(scopes_.begin(), scopes_.end(), s.name,
                             [](const ScopeSpec& a, const std::string& n) { return a.name < n; });
  if (it != scopes_.end() && it->name == s.name) return Status::InvalidArgument("duplicate scope");
  if (!s.partitioned_by.empty() && !ValidToken(s.partitioned_by, false)) {
    return Status::InvalidArgument("bad 'partitioned_by' field name '" + s.partitioned_by + "'");
  }
  if (!s.partitioned_by.empty() && s.partitions.empty()) {
    return Status::InvalidArgument("scope " + s.name + " is partitioned_by " + s.partitioned_by +
                                   " but lists no 'partitions'");
  }
  if (s.partitions.size() > kMaxPartitions) {
    return Status::InvalidArgument("scope " + s.name + " has " + std::to_string(s.partitions.size()) +
                                   " partitions, more than " + std::to_string(kMaxPartitions));
  }
  std::sort(s.partitions.begin(), s.partitions.end());
  for (size_t i = 0; i < s.partitions.size(); ++i) {
    const std::string& p = s.partitions[i];
    if (!ValidPartition(p)) {
      return Status::InvalidArgument("bad partition name '" + p.substr(0, kMaxPartitionName) + "' of scope " + s.name +
                                     " (1..64 bytes of UTF-8, no '/', quote, backslash or control character)");
    }
    if (s.name.size() + 1 + p.size() > kMaxHeaderScope) {
      return Status::InvalidArgument("scope/partition " + s.name + "/" + p + " is longer than 128 bytes");
    }
    if (i > 0 && s.partitions[i - 1] == p) {
      return Status::InvalidArgument("partition '" + p + "' listed twice in scope " + s.name);
    }
  }
  // Record ids carry 4 bytes of their partition's hash: two partitions of
  // one scope with the same prefix could not be told apart by id.
  std::vector<std::pair<std::array<uint8_t, 4>, const std::string*>> prefixes;
  for (const std::string& p : s.partitions) prefixes.emplace_back(PartitionPrefix(p), &p);
  std::sort(prefixes.begin(), prefixes.end());
  for (size_t i = 1; i < prefixes.size(); ++i) {
    if (prefixes[i].first == prefixes[i - 1].first) {
      return Status::InvalidArgument("partitions '" + *prefixes[i - 1].second + "' and '" + *prefixes[i].second +
                                     "' of scope " + s.name + " have the same id prefix; rename one");
    }
  }
  scopes_.insert(it, std::move(s));
  return Status::Ok();
}

Status Policy::AddGrant(Grant g) {
  if (g.agency.empty() == g.role.empty()) {
    return Status::InvalidArgument("a grant names exactly one of 'agency' or 'role'");
  }
  if (g.scope.empty()) return Status::InvalidArgument("a grant needs a 'scope'");
  if (g.rights.empty()) return Status::InvalidArgument("a grant needs 'rights'");
  if (g.own_partition && !g.partitions.empty()) {
    return Status::InvalidArgument("a grant names 'partition = \"own\"' or 'partitions', not both");
  }
  if (g.partitions.size() > kMaxPartitions) return Status::InvalidArgument("a grant lists too many partitions");
  std::sort(g.partitions.begin(), g.partitions.end());
  g.partitions.erase(std::unique(g.partitions.begin(), g.partitions.end()), g.partitions.end());
  grants_.push_back(std::move(g));
  return Status::Ok();
}

Status Policy::Validate() const {
  for (const Grant& g : grants_) {
    if (g.scope != "*" && FindScope(g.scope) == nullptr) {
      return Status::InvalidArgument("grant names unknown scope '" + g.scope + "' (declare it under [scopes])");
    }
    if (!g.own_partition && g.partitions.empty()) continue;
    const ScopeSpec* s = g.scope == "*" ? nullptr : FindScope(g.scope);
    if (s == nullptr || !s->partitioned()) {
      return Status::InvalidArgument("grant on '" + g.scope + "' is limited to partitions, but '" + g.scope +
                                     "' is not a partitioned scope");
    }
    for (const std::string& p : g.partitions) {
      if (!std::binary_search(s->partitions.begin(), s->partitions.end(), p)) {
        return Status::InvalidArgument("grant on '" + g.scope + "' names unknown partition '" +
                                       p.substr(0, kMaxPartitionName) + "'");
      }
    }
  }
  return Status::Ok();
}

const Member* Policy::FindMember(const AuthorId& key) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), key,
                             [](const Member& a, const AuthorId& k) { return a.key < k; });
  return it != members_.end() && it->key == key ? &*it : nullptr;
}

const ScopeSpec* Policy::FindScope(std::string_view header_scope) const {
  auto [scope, partition] = SplitScope(header_scope);
  if (header_scope.find('/') != std::string_view::npos) {
    const ScopeSpec* s = FindScope(scope);
    if (s == nullptr || !std::binary_search(s->partitions.begin(), s->partitions.end(), partition)) return nullptr;
    return s;
  }
  auto it = std::lower_bound(scopes_.begin(), scopes_.end(), scope,
                             [](const ScopeSpec& a, std::string_view n) { return a.name < n; });
  return it != scopes_.end() && it->name == scope ? &*it : nullptr;
}

Rights Policy::RightsOf(const AuthorId& key, std::string_view scope) const {
  const Member* m = FindMember(key);
  if (m == nullptr) return {};
  auto [base, partition] = SplitScope(scope);
  Rights rights;
  for (const Grant& g : grants_) {
    if (g.scope != "*" && g.scope != base) continue;
    // A grant limited to partitions gives nothing on the plain scope name.
    if (g.own_partition && (partition.empty() || m->township != partition)) continue;
    if (!g.partitions.empty() &&
        !std::binary_search(g.partitions.begin(), g.partitions.end(), partition, std::less<>())) {
      continue;
    }
    bool applies = !g.agency.empty() ? g.agency == m->agency
                                     : std::binary_search(m->roles.begin(), m->roles.end(), g.role);
    if (applies) rights |= g.rights;
  }
  return rights;
}

Status Policy::CheckWrite(const AuthorId& author, uint64_t seq, std::string_view scope, uint32_t epoch,
                          bool lane) const {
  const Member* m = FindMember(author);
  if (m == nullptr) {
    return Status::PermissionDenied("unknown member " + author.ToHex().substr(0, 16) + " (not in policy v" +
                                    std::to_string(version_) + ")");
  }
  if (m->revoked_after && lane) {
    // revoked_after counts the legacy lane's seqs; a lane's seqs start at 1
    // again, so no lane of a revoked member is admitted.
    return Status::PermissionDenied("member " + m->name + " revoked after seq " + std::to_string(*m->revoked_after) +
                                    ": no lane (delta version 5/6) of a revoked member is admitted (lane seq " +
                                    std::to_string(seq) + " in " + std::string(scope) + ")");
  }
  if (m->revoked_after && seq > *m->revoked_after) {
    return Status::PermissionDenied("member " + m->name + " revoked after seq " +
                                    std::to_string(*m->revoked_after) + " (delta seq " + std::to_string(seq) + ")");
  }
  const ScopeSpec* s = FindScope(scope);
  if (s == nullptr) return Status::PermissionDenied("unknown scope " + std::string(scope));
  const bool has_partition = scope.find('/') != std::string_view::npos;
  if (s->partitioned() && !has_partition) {
    return Status::PermissionDenied("scope " + std::string(scope) + " is partitioned" +
                                    (s->partitioned_by.empty() ? "" : " by " + s->partitioned_by) +
                                    ": its deltas name " + std::string(scope) + "/<partition>");
  }
  if (!(RightsOf(author, scope) & Right::kWrite)) {
    return Status::PermissionDenied("no write grant for scope " + std::string(scope) + " (member " + m->name +
                                    ", agency " + m->agency + ")");
  }
  if (epoch == 0 || epoch > s->epoch) {
    return Status::PermissionDenied("unknown key epoch " + std::to_string(epoch) + " for scope " +
                                    std::string(scope) + " (current " + std::to_string(s->epoch) + ")");
  }
  return Status::Ok();
}

bool Policy::MayRead(const AuthorId& key, std::string_view scope) const {
  const Member* m = FindMember(key);
  return m != nullptr && !m->revoked_after && (RightsOf(key, scope) & Right::kRead);
}

bool Policy::MayReceive(const AuthorId& key, std::string_view scope) const {
  const Member* m = FindMember(key);
  return m != nullptr && !m->revoked_after && (RightsOf(key, scope) & (Right::kRead | Right::kRelay));
}

std::vector<AuthorId> Policy::Readers(std::string_view scope) const {
  std::vector<AuthorId> out;
  for (const Member& m : members_) {
    if (MayRead(m.key, scope)) out.push_back(m.key);
  }
  return out;
}

Status Policy::Revoke(const AuthorId& key, uint64_t after_seq) {
  auto it = std::lower_bound(members_.begin(), members_.end(), key,
                             [](const Member& a, const AuthorId& k) { return a.key < k; });
  if (it == members_.end() || it->key != key) return Status::InvalidArgument("no such member");
  for (ScopeSpec& s : scopes_) {
    bool reads = !s.partitioned() && (RightsOf(key, s.name) & Right::kRead);
    for (const std::string& p : s.partitions) reads = reads || (RightsOf(key, PartitionScope(s.name, p)) & Right::kRead);
    if (reads) ++s.epoch;
  }
  it->revoked_after = after_seq;
  return Status::Ok();
}

std::vector<std::string> Policy::KeyScopes() const {
  std::vector<std::string> out;
  for (const ScopeSpec& s : scopes_) {
    if (!s.partitioned()) out.push_back(s.name);
    for (const std::string& p : s.partitions) out.push_back(PartitionScope(s.name, p));
  }
  return out;
}

std::optional<std::string> Policy::PartitionOf(std::string_view scope, const RecordId& id) const {
  const ScopeSpec* s = FindScope(scope);
  if (s == nullptr) return std::nullopt;
  for (const std::string& p : s->partitions) {
    if (RecordInPartition(id, p)) return p;  // prefixes are unique per scope (AddScope)
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- partitions

std::array<uint8_t, 4> PartitionPrefix(std::string_view partition) {
  std::string m = "hearth/partition/v1";
  m.push_back('\0');
  m.append(partition);
  crypto::Hash h = crypto::HashBytes({reinterpret_cast<const uint8_t*>(m.data()), m.size()});
  return {h[0], h[1], h[2], h[3]};
}

RecordId NewRecordIdIn(std::string_view partition) {
  RecordId id = RecordId::Generate();
  auto p = PartitionPrefix(partition);
  std::copy(p.begin(), p.end(), id.bytes.begin());
  return id;
}

bool RecordInPartition(const RecordId& id, std::string_view partition) {
  auto p = PartitionPrefix(partition);
  return std::equal(p.begin(), p.end(), id.bytes.begin());
}

std::string PartitionScope(std::string_view scope, std::string_view partition) {
  std::string out(scope);
  out.push_back('/');
  out.append(partition);
  return out;
}

std::pair<std::string_view, std::string_view> SplitScope(std::string_view header_scope) {
  size_t slash = header_scope.find('/');
  if (slash == std::string_view::npos) return {header_scope, {}};
  return {header_scope.substr(0, slash), header_scope.substr(slash + 1)};
}

}  // namespace hearth
