// Renderings of a CountyReport: an aligned text table, JSON, and one
// self-contained HTML page (inline CSS and SVG, no external resources).
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/text.hpp"
#include "county_internal.hpp"

namespace hearth::county {

namespace {

std::string Num(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string Pad(std::string s, size_t width, bool right) {
  size_t w = DisplayWidth(s);
  if (w >= width) return s;
  std::string fill(width - w, ' ');
  return right ? fill + s : s + fill;
}

std::string FilterText(const ReportFilter& f) {
  std::string s;
  if (f.township) s += "township " + *f.township;
  if (f.from_ms || f.to_ms) {
    if (!s.empty()) s += ", ";
    s += "dated ";
    s += f.from_ms ? "from " + FormatDate(*f.from_ms) : std::string("up");
    s += f.to_ms ? " to " + FormatDate(*f.to_ms) + " (exclusive)" : std::string(" onwards");
  }
  return s.empty() ? "whole county, all dates" : s;
}

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

struct Group {
  const char* scope;
  const char* title;
};
const Group kGroups[] = {
    {"hr.workers", "Worker services — labour bureau and townships (hr.workers)"},
    {"hr.wages", "Wage arrears — labour inspection (hr.wages)"},
    {"civil.children", "Left-behind children — civil affairs (civil.children)"},
    {"union.stations", "Trade union (union.stations)"},
    {"township.services", "Township and village service stations (township.services)"},
};

// A horizontal bar chart as inline SVG.
std::string BarChart(const std::string& title, const std::vector<std::pair<std::string, int64_t>>& bars,
                     const std::string& unit) {
  const int row = 24, label_w = 210, bar_w = 380, value_w = 120, top = 8;
  const int height = top * 2 + row * static_cast<int>(bars.size());
  int64_t max = 1;
  for (const auto& [_, v] : bars) max = std::max(max, v);
  std::ostringstream o;
  o << "<figure><figcaption>" << Escape(title) << "</figcaption>\n";
  o << "<svg role=\"img\" width=\"" << label_w + bar_w + value_w
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << label_w + bar_w + value_w << " " << height
    << "\"><title>" << Escape(title) << "</title>\n";
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& [label, v] = bars[i];
    int y = top + row * static_cast<int>(i);
    int w = static_cast<int>(static_cast<double>(bar_w) * static_cast<double>(std::max<int64_t>(v, 0)) /
                             static_cast<double>(max));
    o << "<text x=\"" << label_w - 8 << "\" y=\"" << y + 16 << "\" text-anchor=\"end\">" << Escape(label)
      << "</text>";
    o << "<rect x=\"" << label_w << "\" y=\"" << y + 4 << "\" width=\"" << std::max(w, 1) << "\" height=\""
      << row - 8 << "\" class=\"bar\"/>";
    o << "<text x=\"" << label_w + std::max(w, 1) + 6 << "\" y=\"" << y + 16 << "\">" << Escape(Num(v))
      << (unit.empty() ? "" : " " + Escape(unit)) << "</text>\n";
  }
  o << "</svg></figure>\n";
  return o.str();
}

}  // namespace

// "generated 2026-12-07 11:20:55 UTC on node 4c17a0e2d3b1f9a8 (城厢镇)".
static std::string GeneratedText(const CountyReport& r) {
  std::time_t t = static_cast<std::time_t>(r.generated_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  std::string s = std::string("generated ") + buf + " on node " + r.node.substr(0, 16);
  if (!r.node_name.empty()) s += " (" + r.node_name + ")";
  return s;
}

std::string ReportText(const CountyReport& report) {
  std::ostringstream o;
  o << report.county << " county report: " << FilterText(report.filter) << "\n";
  o << GeneratedText(report) << "\n";
  if (!report.unreadable_scopes.empty()) {
    o << "not readable on this replica (no key):";
    for (const auto& s : report.unreadable_scopes) o << " " << s;
    o << "\n";
  }
  o << "\n";
  size_t lw = DisplayWidth("FIGURE"), vw = DisplayWidth("VALUE");
  auto label = [](const Figure& f) { return std::string(2 * static_cast<size_t>(f.level), ' ') + f.label; };
  auto value = [](const Figure& f) { return f.available ? Num(f.value) : std::string("n/a"); };
  for (const Figure& f : report.figures) {
    lw = std::max(lw, DisplayWidth(label(f)));
    vw = std::max(vw, DisplayWidth(value(f)));
  }
  o << Pad("FIGURE", lw, false) << "  " << Pad("VALUE", vw, true) << "  UNIT\n";
  std::string scope;
  for (const Figure& f : report.figures) {
    if (f.scope != scope && !scope.empty()) o << "\n";
    scope = f.scope;
    std::string line = Pad(label(f), lw, false) + "  " + Pad(value(f), vw, true);
    if (!f.available) line += "  (" + f.scope + " not readable)";
    else if (!f.unit.empty()) line += "  " + f.unit;
    o << line << "\n";
  }
  return o.str();
}

std::string ReportJson(const CountyReport& report) {
  using nlohmann::json;
  json j;
  j["county"] = report.county;
  j["generated_ms"] = report.generated_ms;
  j["node"] = report.node;
  j["node_name"] = report.node_name;
  json f = json::object();
  f["township"] = report.filter.township ? json(*report.filter.township) : json(nullptr);
  f["from"] = report.filter.from_ms ? json(FormatDate(*report.filter.from_ms)) : json(nullptr);
  f["to"] = report.filter.to_ms ? json(FormatDate(*report.filter.to_ms)) : json(nullptr);
  f["from_ms"] = report.filter.from_ms ? json(*report.filter.from_ms) : json(nullptr);
  f["to_ms"] = report.filter.to_ms ? json(*report.filter.to_ms) : json(nullptr);
  j["filter"] = f;
  j["unreadable_scopes"] = report.unreadable_scopes;
  json figs = json::array();
  for (const Figure& x : report.figures) {
    figs.push_back({{"key", x.key},
                    {"label", x.label},
                    {"unit", x.unit},
                    {"scope", x.scope},
                    {"available", x.available},
                    {"value", x.available ? json(x.value) : json(nullptr)}});
  }
  j["figures"] = figs;
  json by = json::object();
  for (const auto& [t, m] : report.by_township) by[t] = m;
  j["by_township"] = by;
  // replace: a name that is not valid UTF-8 must not throw (type_error.316).
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string ReportHtml(const CountyReport& report) {
  std::ostringstream o;
  const std::string title = report.county + " county report";
  o << "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>" << Escape(title) << "</title>\n<style>\n"
    << "body{font-family:system-ui,-apple-system,\"Segoe UI\",\"Noto Sans CJK SC\",\"Microsoft YaHei\",sans-serif;"
       "margin:2em auto;max-width:60em;padding:0 1em;color:#1d2731;background:#fff}\n"
    << "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:2em;border-bottom:2px solid #c0392b;"
       "padding-bottom:.2em}\n"
    << ".filter{color:#555}.warn{background:#fff4e5;border-left:4px solid #e67e22;padding:.5em 1em}\n"
    << "table{border-collapse:collapse;width:100%}td{padding:.25em .5em;border-bottom:1px solid #eee}"
       "td.v{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
       "tr.l1 td:first-child{padding-left:2em}tr.l2 td:first-child{padding-left:3.5em}"
       "tr.na td{color:#999}\n"
    << "figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}svg{max-width:100%;height:auto;"
       "font-size:12px;font-family:inherit}svg text{fill:#1d2731}.bar{fill:#c0392b}\n"
    << "footer{margin-top:3em;color:#777;font-size:.85em}\n"
    << "</style>\n</head>\n<body>\n";
  o << "<h1>" << Escape(title) << "</h1>\n";
  o << "<p class=\"filter\">" << Escape(FilterText(report.filter)) << "</p>\n";
  o << "<p class=\"generated\" id=\"generated\">" << Escape(GeneratedText(report)) << "</p>\n";
  if (!report.unreadable_scopes.empty()) {
    o << "<p class=\"warn\">This replica holds no key for:";
    for (const auto& s : report.unreadable_scopes) o << " <code>" << Escape(s) << "</code>";
    o << ". Figures from those scopes are not available here.</p>\n";
  }
  auto by_township = [&](const std::string& key) {
    std::vector<std::pair<std::string, int64_t>> bars;
    for (const std::string& t : Townships()) {
      auto it = report.by_township.find(t);
      int64_t v = 0;
      if (it != report.by_township.end()) {
        auto jt = it->second.find(key);
        if (jt != it->second.end()) v = jt->second;
      }
      if (!report.filter.township || *report.filter.township == t) bars.emplace_back(t, v);
    }
    return bars;
  };
  for (const Group& g : kGroups) {
    o << "<section>\n<h2>" << Escape(g.title) << "</h2>\n<table>\n";
    bool available = true;
    for (const Figure& f : report.figures) {
      if (f.scope != g.scope) continue;
      available = f.available;
      o << "<tr class=\"l" << f.level << (f.available ? "" : " na") << "\"><td>" << Escape(f.label)
        << "</td><td class=\"v\">" << (f.available ? Escape(Num(f.value)) : "n/a")
        << (f.available && !f.unit.empty() ? " " + Escape(f.unit) : "") << "</td></tr>\n";
    }
    o << "</table>\n";
    if (!available) {
      o << "<p class=\"warn\">Not readable on this replica (no key for <code>" << Escape(g.scope)
        << "</code>).</p>\n</section>\n";
      continue;
    }
    std::string scope = g.scope;
    if (scope == "hr.workers") {
      std::vector<std::pair<std::string, int64_t>> areas;
      const std::pair<const char*, const char*> kAreas[] = {{"workers.out_of_province", "out of the province 省外"},
                                                            {"workers.province", "in the province 省内市外"},
                                                            {"workers.city", "elsewhere in the city"},
                                                            {"workers.local", "in the county"}};
      for (const auto& [k, label] : kAreas) {
        const Figure* f = report.Find(k);
        if (f) areas.emplace_back(label, f->value);
      }
      o << BarChart("Where the workers work", areas, "");
      o << BarChart("Workers by home township", by_township("workers.total"), "");
      o << BarChart("Job postings by township", by_township("postings.count"), "");
    } else if (scope == "hr.wages") {
      o << BarChart("Wages recovered by township", by_township("wages.recovered_yuan"), "yuan");
      o << BarChart("Wage-arrears incidents by township", by_township("wages.cases"), "");
    } else if (scope == "civil.children") {
      o << BarChart("Children by township", by_township("children.count"), "");
    } else if (scope == "union.stations") {
      o << BarChart("Outdoor stations by township", by_township("union.stations"), "");
    } else if (scope == "township.services") {
      o << BarChart("Village stations by township", by_township("township.stations"), "");
    }
    o << "</section>\n";
  }
  o << "<footer>Computed by Hearth from the records this replica holds (docs/domain.md, \"Report\"). "
       "Money in yuan; counts are records unless stated.</footer>\n</body>\n</html>\n";
  return o.str();
}

}  // namespace hearth::county
