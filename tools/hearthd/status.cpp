// /status, the lag figures and the web page (status.hpp; docs/hearthd.md).
#include "status.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attention.hpp"
#include "county.hpp"
#include "hearth/inspect.hpp"
#include "hearth/policy.hpp"

namespace hearthd {
namespace {

using json = nlohmann::json;

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::string HlcText(uint64_t hlc) { return std::to_string(hlc >> 16) + "." + std::to_string(hlc & 0xffff); }

// "2026-12-07 11:20:55 UTC" (0: "never").
std::string UtcText(uint64_t ms) {
  if (ms == 0) return "never";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string Esc(std::string_view s) {
  std::string o;
  for (char ch : s) {
    switch (ch) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += ch;
    }
  }
  return o;
}

// The node's own facts: key, member name, root, policy and schema versions.
struct NodeFacts {
  std::string key, name, root;
  bool has_policy = false;
  uint64_t policy_version = 0;
  uint32_t schema_version = 0;
  std::string schema_name;
};

NodeFacts Facts(const hearth::Replica& r) {
  NodeFacts f;
  f.key = r.author().ToHex();
  if (auto root = r.root()) {
    f.root = root->ToHex();
    if (auto pol = r.CurrentPolicy(); pol.ok() && *pol) {
      f.has_policy = true;
      f.policy_version = (*pol)->version();
      for (const auto& m : (*pol)->members()) {
        if (m.key == r.author()) f.name = m.name;
      }
    }
  }
  f.schema_version = r.schema().version();
  return f;
}

// A value for people: strings as they are (not quoted), others as ToString.
std::string ValueText(const hearth::Value& v) {
  return v.type() == hearth::ValueType::kString ? std::string(v.as_string()) : v.ToString();
}

}  // namespace

std::map<hearth::AuthorId, std::string> PeerNames(const hearth::Replica& replica, const Config& cfg) {
  std::map<hearth::AuthorId, std::string> names;
  if (replica.root()) {
    if (auto pol = replica.CurrentPolicy(); pol.ok() && *pol) {
      for (const auto& m : (*pol)->members()) names[m.key] = m.name;
    }
  }
  for (const auto& p : cfg.peers) {
    if (!p.name.empty()) names[p.key] = p.name;
  }
  return names;
}

std::vector<PeerView> PeerViews(const hearth::NodeStats& ns, const hearth::Replica& replica, const Config& cfg) {
  auto names = PeerNames(replica, cfg);
  std::map<hearth::AuthorId, PeerView> by_key;
  std::map<hearth::AuthorId, bool> lag_from_live;  // the key's lag comes from a running session
  for (const auto& p : cfg.peers) {
    PeerView& v = by_key[p.key];
    v.key = p.key;
    v.configured = true;
    v.endpoint = p.endpoint;
  }
  auto add = [&](const hearth::PeerStats& p) {
    if (p.peer == hearth::AuthorId{}) return;  // an inbound connection before its hello
    PeerView& v = by_key[p.peer];
    v.key = p.peer;
    if (v.endpoint.empty()) v.endpoint = p.outbound ? p.endpoint : "inbound";
    v.connected = v.connected || p.connected;
    v.last_seen_ms = std::max(v.last_seen_ms, p.last_seen_unix_ms);
    v.last_sync_ms = std::max(v.last_sync_ms, p.last_sync_unix_ms);
    // The lag of a running session wins; else the last known one.
    if (p.lag_known && (p.connected || !lag_from_live[p.peer])) {
      if (p.connected || !v.lag_known) {
        v.behind_out = p.behind_out;
        v.behind_in = p.behind_in;
      }
      v.lag_known = true;
      if (p.connected) lag_from_live[p.peer] = true;
    }
    v.sessions += p.sessions;
    v.session_failures += p.session_failures;
    v.bytes_in += p.bytes_in;
    v.bytes_out += p.bytes_out;
    v.deltas_sent += p.deltas_sent;
    v.deltas_received += p.deltas_received;
    if (!p.last_error.empty()) v.last_error = p.last_error;
  };
  for (const auto& p : ns.peers) add(p);
  for (const auto& p : ns.closed) add(p);
  std::vector<PeerView> out;
  for (auto& [k, v] : by_key) {
    if (auto n = names.find(k); n != names.end()) v.name = n->second;
    out.push_back(std::move(v));
  }
  return out;
}

uint64_t MeanDeltaBytes(const hearth::NodeStats& ns, const hearth::Replica& replica) {
  uint64_t bytes = 0, deltas = 0;
  for (const auto* list : {&ns.peers, &ns.closed}) {
    for (const auto& p : *list) {
      bytes += p.bytes_in + p.bytes_out;
      deltas += p.deltas_received + p.deltas_sent;
    }
  }
  if (deltas > 0) return bytes / deltas;
  auto st = hearth::inspect::Stats(replica);
  if (st.ok() && st->deltas > 0) return st->map_used / st->deltas;
  return 0;
}

std::string StatusJson(const hearth::Replica& replica, const hearth::SyncNode& node, const Config& cfg) {
  const hearth::NodeStats ns = node.Stats();
  const NodeFacts f = Facts(replica);
  const uint64_t mean = MeanDeltaBytes(ns, replica);
  json j;
  j["source"] = "hearthd";
  j["version"] = HEARTH_VERSION_STRING;
  j["generated_ms"] = NowMs();
  j["node"] = {{"key", f.key},
               {"name", f.name},
               {"replica", cfg.replica},
               {"root", f.root.empty() ? json(nullptr) : json(f.root)},
               {"policy_version", f.has_policy ? json(f.policy_version) : json(nullptr)},
               {"schema_version", f.schema_version},
               {"listen", node.ListenEndpoints()}};
  json peers = json::array();
  for (const PeerView& v : PeerViews(ns, replica, cfg)) {
    auto lag = [&](uint64_t d) {
      return v.lag_known ? json{{"deltas", d}, {"bytes_estimate", d * mean}} : json(nullptr);
    };
    peers.push_back({{"key", v.key.ToHex()},
                     {"name", v.name},
                     {"endpoint", v.endpoint},
                     {"configured", v.configured},
                     {"connected", v.connected},
                     {"last_seen_ms", v.last_seen_ms ? json(v.last_seen_ms) : json(nullptr)},
                     {"last_sync_ms", v.last_sync_ms ? json(v.last_sync_ms) : json(nullptr)},
                     {"behind_out", lag(v.behind_out)},
                     {"behind_in", lag(v.behind_in)},
                     {"sessions", v.sessions},
                     {"session_failures", v.session_failures},
                     {"last_error", v.last_error}});
  }
  j["peers"] = peers;
  j["peers_known"] = true;
  auto c = hearth_status::CountAttention(replica);
  if (c.ok()) {
    j["counts"] = {{"conflicts", c->conflicts},   {"denied", c->denied},
                   {"forked_authors", c->forked_authors}, {"pending", c->pending},
                   {"waiting_schema", c->waiting_schema}, {"unreadable", c->unreadable}};
  } else {
    j["counts"] = nullptr;
    j["error"] = c.status().ToString();
  }
  j["handshake_failures"] = ns.handshake_failures;
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string StatusPage(const hearth::Replica& replica, const hearth::SyncNode& node, const Config& cfg) {
  const hearth::NodeStats ns = node.Stats();
  const NodeFacts f = Facts(replica);
  const auto names = PeerNames(replica, cfg);
  auto who = [&](const hearth::AuthorId& a) {
    if (a == hearth::AuthorId{}) return std::string("(not found)");
    std::string hex = a.ToHex().substr(0, 16);
    auto n = names.find(a);
    if (a == replica.author()) return (f.name.empty() ? std::string("this node") : f.name) + " (" + hex + ")";
    return n == names.end() || n->second.empty() ? hex : n->second + " (" + hex + ")";
  };
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"zh-Hans\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>Hearth node " << Esc(f.name.empty() ? f.key.substr(0, 16) : f.name) << "</title>\n<style>\n"
    // CJK text needs a CJK font: Debian's fonts-noto-cjk ("Noto Sans CJK SC").
    << "body{font-family:\"Noto Sans CJK SC\",\"Noto Sans CJK\",\"WenQuanYi Micro Hei\",\"Source Han Sans SC\","
       "\"Microsoft YaHei\",system-ui,sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;color:#1d2731;"
       "background:#fbfaf7}\n"
    << "h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.1em;margin-top:1.8em;border-bottom:2px solid #c0392b;"
       "padding-bottom:.2em}\n"
    << "table{border-collapse:collapse;width:100%;font-size:.92em}th,td{text-align:left;padding:.35em .6em;"
       "border-bottom:1px solid #ddd;vertical-align:top}th{background:#f0ece4}\n"
    << "td.n{text-align:right;font-variant-numeric:tabular-nums}td.t,td.p{white-space:nowrap}code{font-size:.9em}\n"
    << ".ok{color:#1e7d32;font-weight:600}.bad{color:#b3261e;font-weight:600}.muted{color:#777}\n"
    << ".cards{display:flex;gap:.8em;flex-wrap:wrap}.card{background:#fff;border:1px solid #ddd;border-radius:6px;"
       "padding:.6em 1em;min-width:8em}.card b{display:block;font-size:1.5em}.card.warn b{color:#b3261e}\n"
    << "footer{margin-top:2.5em;color:#777;font-size:.85em}\n</style>\n</head>\n<body>\n";
  o << "<h1>Hearth node " << Esc(f.name.empty() ? "(no member name)" : f.name) << "</h1>\n";
  o << "<p id=\"node\">Key <code>" << Esc(f.key) << "</code><br>Policy "
    << (f.has_policy ? "v" + std::to_string(f.policy_version) : std::string(f.root.empty() ? "none (no root)" : "not held yet"))
    << " · schema v" << f.schema_version << " · hearthd " << HEARTH_VERSION_STRING << " · <a href=\"/report\">county report</a>"
    << " · <a href=\"/status\">status JSON</a></p>\n";

  // Peers.
  o << "<h2>Peers</h2>\n<table id=\"peers\">\n<tr><th>Peer</th><th>Key</th><th>Endpoint</th><th>Connected</th>"
       "<th>Last seen</th><th>Last sync</th><th>They lack (deltas)</th><th>We lack (deltas)</th></tr>\n";
  const auto views = PeerViews(ns, replica, cfg);
  for (const PeerView& v : views) {
    o << "<tr class=\"peer\" data-key=\"" << v.key.ToHex() << "\"><td class=\"p\">" << Esc(v.name.empty() ? "-" : v.name)
      << "</td><td><code>" << v.key.ToHex().substr(0, 16) << "</code></td><td>" << Esc(v.endpoint) << "</td><td>"
      << (v.connected ? "<span class=\"ok\">yes</span>" : "<span class=\"bad\">no</span>") << "</td><td class=\"t\">"
      << UtcText(v.last_seen_ms) << "</td><td class=\"t\">" << UtcText(v.last_sync_ms) << "</td><td class=\"n\">"
      << (v.lag_known ? std::to_string(v.behind_out) : "?") << "</td><td class=\"n\">"
      << (v.lag_known ? std::to_string(v.behind_in) : "?") << "</td></tr>\n";
  }
  if (views.empty()) o << "<tr><td colspan=\"8\" class=\"muted\">no peers configured or seen</td></tr>\n";
  o << "</table>\n";

  // Counts.
  auto c = hearth_status::CountAttention(replica);
  o << "<h2>Needs a person</h2>\n";
  if (!c.ok()) {
    o << "<p class=\"bad\">Reading the replica: " << Esc(c.status().ToString()) << "</p>\n";
  } else {
    auto card = [&](const char* id, const char* label, uint64_t n) {
      o << "<div class=\"card" << (n ? " warn" : "") << "\" id=\"" << id << "\"><b>" << n << "</b>" << label << "</div>";
    };
    o << "<div class=\"cards\">";
    card("n-conflicts", "conflicts", c->conflicts);
    card("n-denied", "denied deltas", c->denied);
    card("n-forked", "forked authors", c->forked_authors);
    card("n-pending", "pending", c->pending);
    card("n-waiting", "waiting for a schema", c->waiting_schema);
    card("n-unreadable", "held without a key", c->unreadable);
    o << "</div>\n";
  }

  // Conflicts.
  constexpr size_t kMaxConflicts = 200;
  o << "<h2>Conflicts</h2>\n";
  auto list = hearth_status::ListConflicts(replica, kMaxConflicts);
  if (!list.ok()) {
    o << "<p class=\"bad\">" << Esc(list.status().ToString()) << "</p>\n";
  } else if (list->empty()) {
    o << "<p class=\"muted\">No conflicts.</p>\n";
  } else {
    o << "<table id=\"conflicts\">\n<tr><th>Record</th><th>Field</th><th>Value</th><th>Author</th><th>Written "
         "(HLC)</th></tr>\n";
    for (const auto& cf : *list) {
      bool first = true;
      for (const auto& v : cf.values) {
        o << "<tr class=\"conflict\">";
        if (first) {
          o << "<td rowspan=\"" << cf.values.size() << "\">" << Esc(cf.collection) << " <code>"
            << cf.id.ToHex().substr(0, 16) << "</code></td><td rowspan=\"" << cf.values.size() << "\">"
            << Esc(cf.field) << "</td>";
          first = false;
        }
        o << "<td class=\"value\">" << Esc(ValueText(v.value)) << "</td><td>" << Esc(who(v.author)) << "</td><td>"
          << (v.hlc ? UtcText(v.hlc >> 16) + " <span class=\"muted\">" + HlcText(v.hlc) + "</span>" : "?")
          << "</td></tr>\n";
      }
    }
    o << "</table>\n";
    if (list->size() >= kMaxConflicts) o << "<p class=\"muted\">First " << kMaxConflicts << " shown: `hearth conflicts` lists all.</p>\n";
    o << "<p class=\"muted\">Settle one with <code>hearth resolve COLLECTION ID FIELD VALUE</code>.</p>\n";
  }

  // Denied and forked authors.
  o << "<h2>Denied deltas</h2>\n";
  if (auto denied = hearth::inspect::Denied(replica); !denied.ok()) {
    o << "<p class=\"bad\">" << Esc(denied.status().ToString()) << "</p>\n";
  } else if (denied->empty()) {
    o << "<p class=\"muted\">None.</p>\n";
  } else {
    o << "<table id=\"denied\"><tr><th>Author</th><th>Seq</th><th>Scope</th><th>Why</th></tr>\n";
    size_t n = 0;
    for (const auto& d : *denied) {
      if (++n > 200) break;
      o << "<tr><td>" << Esc(who(d.author)) << "</td><td class=\"n\">" << d.seq << "</td><td>" << Esc(d.scope)
        << "</td><td>" << Esc(d.reason) << "</td></tr>\n";
    }
    o << "</table>\n";
  }
  o << "<h2>Forked authors</h2>\n";
  if (auto forks = hearth::inspect::Forks(replica); !forks.ok()) {
    o << "<p class=\"bad\">" << Esc(forks.status().ToString()) << "</p>\n";
  } else if (forks->empty()) {
    o << "<p class=\"muted\">None.</p>\n";
  } else {
    std::map<hearth::AuthorId, uint64_t> by;
    for (const auto& fp : *forks) by[fp.author]++;
    o << "<table id=\"forks\"><tr><th>Author</th><th>Fork proofs</th></tr>\n";
    for (const auto& [a, n] : by) o << "<tr><td>" << Esc(who(a)) << "</td><td class=\"n\">" << n << "</td></tr>\n";
    o << "</table>\n";
  }
  o << "<footer>Read-only page of hearthd " << HEARTH_VERSION_STRING << " on " << Esc(f.key.substr(0, 16))
    << ", generated " << UtcText(NowMs()) << ". Reload for fresh figures.</footer>\n</body>\n</html>\n";
  return o.str();
}

std::string ReportPage(const hearth::Replica& replica) {
  auto rep = hearth::county::ComputeReport(replica);
  if (!rep.ok()) {
    return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Report</title></head><body><p>Computing the "
           "county report: " +
           Esc(rep.status().ToString()) + "</p></body></html>\n";
  }
  return hearth::county::ReportHtml(*rep);
}

}  // namespace hearthd
