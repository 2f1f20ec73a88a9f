// hearth_county_bytes_bench: what each node of the county holds under
// policies/county.toml (partitioned scopes, withheld-delta stubs), how long an
// empty township office takes to catch up from the county relay, and the
// handshake bytes (docs/benchmarks.md, "County: bytes held per node").
//
//   hearth_county_bytes_bench [--scale X] [--seed N] [--dir D] [--keep] [--json] [--help]
//
// 1. The county root signs policies/county.toml with six members: hr (the
//    bureau, labour_inspector; the county relay: it may receive every scope
//    and partition), union, civil, the 城厢镇 and 始阳镇 offices (child_care)
//    and an empty 小河镇 office. Every node imports the policy bundle.
// 2. The county generator (tools/county, as hearth_demo) writes the county at
//    --scale through hr, union, civil and the 城厢镇 office.
// 3. The deltas spread over a star around hr with the real sync protocol
//    (SyncSession pairs in this process, no sockets: each office syncs with
//    hr, then again, so every office has what every other wrote): each node
//    ends with the bodies it may receive and stubs of the rest.
// 4. Per node: bytes held as bodies, as stubs (the stored stub records),
//    stubs' share, and the LMDB file (data.mdb size, and the map's used
//    pages). Targets printed beside them: a township office holds at most 15%
//    of civil affairs' bytes; stubs are at most 5% of any node's bytes.
// 5. The empty 小河镇 office catches up from hr over a real sync: two
//    SyncNodes, ZeroMQ + CURVE on 127.0.0.1, timed from Start() until its
//    heads equal hr's with nothing pending.
// 6. Handshake bytes (SyncStats::handshake_bytes of a SyncSession pair, as
//    hearth_sync_bench prints them) between hr and the 小河镇 office: in sync,
//    and with one author behind (hr commits one delta first).
//
// Exit status 1 when a result is wrong (sync did not finish, a node holds a
// stub it may receive), never because a target is missed.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "county.hpp"
#include "hearth/bundle.hpp"
#include "hearth/inspect.hpp"
#include "hearth/node.hpp"
#include "hearth/policy.hpp"
#include "hearth/replica.hpp"
#include "hearth/sync.hpp"

#ifndef HEARTH_POLICY_TEMPLATE
#define HEARTH_POLICY_TEMPLATE "policies/county.toml"
#endif
#ifndef HEARTH_SCHEMAS_DIR
#define HEARTH_SCHEMAS_DIR ""
#endif

using namespace hearth;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "hearth_county_bytes_bench: %s\n", what.c_str());
  std::exit(1);
}
template <typename T>
T Check(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().ToString());
  return std::move(r).value();
}
void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}

std::string Mb(uint64_t b) {
  char buf[32];
  if (b < 1'000'000)
    std::snprintf(buf, sizeof buf, "%.1f KB", b / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
  return buf;
}

struct Node {
  std::string name, label, township;
  std::vector<std::string> roles;
  std::string agency;
  std::string dir;
  std::unique_ptr<Replica> replica;
};

struct Held {
  uint64_t bodies = 0, body_bytes = 0, stubs = 0, stub_bytes = 0;
  uint64_t file_bytes = 0, map_used = 0;
  uint64_t entitled_stubs = 0;  // stubs of deltas the node may receive: a wrong result
  std::map<std::string, std::pair<uint64_t, uint64_t>> stubs_by_scope;  // scope -> stubs, bytes
  double stub_share_of_lmdb() const {
    return map_used ? 100.0 * static_cast<double>(stub_bytes) / static_cast<double>(map_used) : 0;
  }
  double stub_share() const {
    uint64_t t = body_bytes + stub_bytes;
    return t ? 100.0 * static_cast<double>(stub_bytes) / static_cast<double>(t) : 0;
  }
};

Held Measure(const Node& n, const Policy& policy) {
  Held h;
  std::map<std::pair<AuthorId, uint64_t>, std::string> withheld;  // -> scope
  for (const auto& w : Check(n.replica->Withheld(), "Withheld " + n.name)) {
    withheld.emplace(std::make_pair(w.author, w.seq), std::string(SplitScope(w.scope).first));
    if (policy.MayReceive(n.replica->author(), w.scope)) ++h.entitled_stubs;
  }
  for (const auto& [a, head] : Check(n.replica->GetHeads(), "heads " + n.name)) {
    for (uint64_t seq = 1; seq <= head.seq; ++seq) {
      Bytes d = Check(n.replica->GetDelta(a, seq), "GetDelta at " + n.name);
      if (auto w = withheld.find({a, seq}); w != withheld.end()) {
        ++h.stubs;
        h.stub_bytes += d.size();
        ++h.stubs_by_scope[w->second].first;
        h.stubs_by_scope[w->second].second += d.size();
      } else {
        ++h.bodies;
        h.body_bytes += d.size();
      }
    }
  }
  std::error_code ec;
  h.file_bytes = fs::file_size(n.dir + "/data.mdb", ec);
  if (ec) h.file_bytes = 0;
  h.map_used = Check(inspect::Stats(*n.replica), "Stats " + n.name).map_used;
  return h;
}

// Runs a SyncSession pair between a (initiator) and b until both are caught
// up and nothing moves. Returns a's stats.
SyncStats Pump(Replica& a, Replica& b, const std::string& what) {
  SyncSession sa(a, true), sb(b, false);
  uint64_t now = 1'000;
  Check(sa.Start(now), what + ": start");
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < 10'000'000; ++i) {
    now += 1;
    bool moved = false;
    for (Bytes& m : sa.TakeOutgoing()) {
      moved = true;
      Check(sb.OnMessage(m, now), what + ": OnMessage");
    }
    for (Bytes& m : sb.TakeOutgoing()) {
      moved = true;
      Check(sa.OnMessage(m, now), what + ": OnMessage");
    }
    Check(sa.OnTick(now), what + ": tick");
    Check(sb.OnTick(now), what + ": tick");
    if (!moved && sa.stats().caught_up && sb.stats().caught_up && sa.stats().in_flight_bytes == 0 &&
        sb.stats().in_flight_bytes == 0) {
      return sa.stats();
    }
    if (Since(t0) > 900) break;
  }
  Die(what + ": the session pair did not catch up");
}

void Usage(FILE* to) {
  std::fprintf(
      to,
      "usage: hearth_county_bytes_bench [--scale X] [--seed N] [--dir D] [--keep] [--json] "
      "[--help]\n"
      "\n"
      "Builds the synthetic county (tools/county) under policies/county.toml on six nodes\n"
      "(hr = county relay, union, civil, the 城厢镇 and 始阳镇 township offices, an empty\n"
      "小河镇 office), spreads it over a star around hr with the sync protocol, and prints\n"
      "per node the bytes held as bodies and as stubs, stubs' share and the LMDB file\n"
      "size, with the targets (township <= 15%% of civil's bytes; stubs <= 5%% of any\n"
      "node's bytes); then the time for the empty 小河镇 office to catch up from hr over\n"
      "ZeroMQ + CURVE on 127.0.0.1, and the handshake bytes in sync and one author behind.\n"
      "\n"
      "  --scale X   county size, 1.0 (default) = the seed article's county\n"
      "  --seed N    generator seed\n"
      "  --dir D     where the replicas go (default: a new directory under /tmp; removed\n"
      "              at the end unless --keep)\n"
      "  --json      one JSON object on stdout instead of the table\n"
      "  --help      this text\n"
      "\n"
      "Exit status 1 when a result is wrong, never because a target is missed.\n");
}

}  // namespace

int main(int argc, char** argv) {
  double scale = 1.0;
  uint64_t seed = county::CountyOptions{}.seed;
  std::string dir;
  bool keep = false, json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      Usage(stdout);
      return 0;
    } else if (a == "--scale") {
      std::string v = next();
      char* end = nullptr;
      scale = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != 0 || !(scale > 0) || scale > 4)
        Die("--scale: a number in (0, 4]");
    } else if (a == "--seed") {
      seed = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--dir") {
      dir = next();
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "--json") {
      json = true;
    } else {
      Usage(stderr);
      return 2;
    }
  }
  if (dir.empty()) {
    char tmpl[] = "/tmp/hearth_county_bytes_XXXXXX";
    if (!mkdtemp(tmpl)) Die("mkdtemp failed");
    dir = tmpl;
  } else {
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir);
  }
  FILE* out = json ? stderr : stdout;  // progress goes to stderr under --json
  std::fprintf(out, "hearth_county_bytes_bench: scale %.3g, seed %" PRIu64 ", in %s\n", scale, seed,
               dir.c_str());
  std::fflush(out);

  // 1. Root, nodes, policy.
  Schema schema = Check(county::LoadSchemaPack(HEARTH_SCHEMAS_DIR), "schema pack");
  ReplicaOptions base;
  base.schema = schema;
  base.unencrypted_identity = true;  // a benchmark: no Argon2id per open
  base.durability = Durability::kNoSync;
  ReplicaOptions root_opts = base;
  root_opts.is_root = true;
  auto root = Check(Replica::Open(dir + "/county-root", root_opts), "root");
  struct Spec {
    const char *name, *label, *township, *role, *agency;
  };
  const Spec specs[] = {
      {"hr", "县人社局 labour bureau (county relay)", "", "labour_inspector", "hr"},
      {"union", "县总工会 trade union", "", "", "union"},
      {"civil", "县民政局 civil affairs", "", "", "civil"},
      {"township", "城厢镇 township office", "城厢镇", "child_care", "township"},
      {"shiyang", "始阳镇 township office", "始阳镇", "child_care", "township"},
      {"xiaohe", "小河镇 township office (empty)", "小河镇", "child_care", "township"},
  };
  std::vector<Node> nodes(std::size(specs));
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].name = specs[i].name;
    nodes[i].label = specs[i].label;
    nodes[i].township = specs[i].township;
    if (*specs[i].role) nodes[i].roles.push_back(specs[i].role);
    nodes[i].agency = specs[i].agency;
  }
  Policy policy = Check(Policy::LoadFile(HEARTH_POLICY_TEMPLATE), "policy template");
  for (Node& n : nodes) {
    n.dir = dir + "/" + n.name;
    ReplicaOptions o = base;
    o.root = root->author();
    n.replica = Check(Replica::Open(n.dir, o), "open " + n.name);
    Check(policy.AddMember(
              {n.replica->author(), n.label, n.agency, n.township, n.roles, std::nullopt}),
          "member " + n.name);
  }
  Check(root->PublishPolicy(policy), "publish policy");
  const std::string bundle = dir + "/policy.bundle";
  Check(ExportBundle(*root, {}, bundle), "export policy bundle");
  for (Node& n : nodes) Check(ImportBundle(*n.replica, bundle), "import policy at " + n.name);
  Node& hr = nodes[0];
  Node& civil = nodes[2];
  Node& fresh = nodes[5];

  // 2. The county.
  county::CountyOptions co;
  co.seed = seed;
  co.scale = scale;
  county::AgencyReplicas ar;
  ar.hr = hr.replica.get();
  ar.union_ = nodes[1].replica.get();
  ar.civil = civil.replica.get();
  ar.township = nodes[3].replica.get();
  auto t_gen = Clock::now();
  county::CountySummary summary = Check(county::GenerateCounty(co, ar), "generating the county");
  const double gen_s = Since(t_gen);
  uint64_t records = 0;
  for (const auto& [c, k] : summary.records) records += k;
  std::fprintf(out, "   county written: %" PRIu64 " records, %" PRIu64 " deltas in %.1f s\n",
               records, summary.deltas, gen_s);
  std::fflush(out);

  // 3. Spread over the star around hr (the 小河镇 office stays empty).
  auto t_spread = Clock::now();
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 1; i < 5; ++i)
      Pump(*nodes[i].replica, *hr.replica, "sync " + nodes[i].name + " <-> hr");
  }
  const double spread_s = Since(t_spread);
  std::fprintf(out, "   spread over the star in %.1f s\n", spread_s);
  std::fflush(out);

  // 4. Bytes held per node.
  std::vector<Held> held;
  int rc = 0;
  for (size_t i = 0; i < 5; ++i) {
    held.push_back(Measure(nodes[i], policy));
    if (held.back().entitled_stubs) {
      std::fprintf(stderr, "WRONG: %s holds %" PRIu64 " stubs of deltas it may receive\n",
                   nodes[i].name.c_str(), held.back().entitled_stubs);
      rc = 1;
    }
  }

  // 5. The empty 小河镇 office catches up from hr over ZeroMQ + CURVE.
  NodeOptions no;
  no.tick_ms = 10;
  no.heads_poll_ms = 20;
  no.sync.idle_timeout_ms = 60'000;
  const Heads hr_heads = Check(hr.replica->GetHeads(), "hr heads");
  double catchup_s = 0;
  uint64_t catchup_in = 0, catchup_out = 0;
  {
    auto server = Check(SyncNode::Create(*hr.replica, no), "SyncNode hr");
    Check(server->Listen("tcp://127.0.0.1:*"), "listen");
    const std::string ep = server->ListenEndpoints().at(0);
    Check(server->Start(), "start hr");
    auto client = Check(SyncNode::Create(*fresh.replica, no), "SyncNode xiaohe");
    Check(client->Connect(ep, hr.replica->author()), "connect");
    auto t0 = Clock::now();
    Check(client->Start(), "start xiaohe");
    bool done = false;
    while (Since(t0) < 600) {
      if (fresh.replica->GetHeads().value() == hr_heads &&
          Check(inspect::Stats(*fresh.replica), "stats").pending == 0) {
        done = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    catchup_s = Since(t0);
    if (!done) Die("the empty township office did not catch up in 600 s");
    // The node publishes its stats once per loop: wait until the session
    // says caught up and the byte counters stop moving (at most 10 s).
    for (int i = 0; i < 100; ++i) {
      uint64_t in = 0, out_b = 0;
      bool caught_up = false;
      for (const PeerStats& p : client->Stats().peers) {
        in += p.bytes_in, out_b += p.bytes_out;
        caught_up = caught_up || p.caught_up;
      }
      if (caught_up && in == catchup_in && out_b == catchup_out && in != 0) break;
      catchup_in = in, catchup_out = out_b;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    client->Stop();
    server->Stop();
  }
  Held fresh_held = Measure(fresh, policy);
  if (fresh_held.entitled_stubs) {
    std::fprintf(stderr, "WRONG: xiaohe holds %" PRIu64 " stubs of deltas it may receive\n",
                 fresh_held.entitled_stubs);
    rc = 1;
  }

  // 6. Handshake bytes between hr and the 小河镇 office: in sync, then one
  // author (hr) one delta ahead.
  const uint64_t hs_sync = Pump(*fresh.replica, *hr.replica, "handshake in sync").handshake_bytes;
  Check(hr.replica->Write([&](WriteBatch& b) {
    RecordId w = NewRecordIdIn("小河镇");
    b.Set("worker", w, "name", "bench").Set("worker", w, "township", "小河镇");
  }),
        "one more delta at hr");
  const uint64_t hs_behind =
      Pump(*fresh.replica, *hr.replica, "handshake one author behind").handshake_bytes;
  const size_t authors = Check(hr.replica->GetHeads(), "heads").size();

  // Output.
  const Held& civ = held[2];
  const uint64_t civ_total = civ.body_bytes + civ.stub_bytes;
  auto pct_of_civil = [&](const Held& h) {
    return civ_total ? 100.0 * static_cast<double>(h.body_bytes + h.stub_bytes) /
                           static_cast<double>(civ_total)
                     : 0;
  };
  auto lmdb_pct_of_civil = [&](const Held& h) {
    return civ.map_used
               ? 100.0 * static_cast<double>(h.map_used) / static_cast<double>(civ.map_used)
               : 0;
  };
  std::vector<std::pair<const Node*, const Held*>> rows;
  for (size_t i = 0; i < 5; ++i) rows.emplace_back(&nodes[i], &held[i]);
  rows.emplace_back(&fresh, &fresh_held);
  if (json) {
    std::printf("{\"scale\": %.4g, \"seed\": %" PRIu64 ", \"records\": %" PRIu64
                ", \"deltas_written\": %" PRIu64
                ", \"generate_seconds\": %.2f, \"spread_seconds\": %.2f, \"nodes\": [",
                scale, seed, records, summary.deltas, gen_s, spread_s);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Held& h = *rows[i].second;
      std::printf("%s{\"node\": \"%s\", \"bodies\": %" PRIu64 ", \"body_bytes\": %" PRIu64
                  ", \"stubs\": %" PRIu64 ", \"stub_bytes\": %" PRIu64
                  ", \"stub_share_pct\": %.3f, \"lmdb_file_bytes\": %" PRIu64
                  ", \"lmdb_used_bytes\": %" PRIu64 ", \"pct_of_civil\": %.2f}",
                  i ? ", " : "", rows[i].first->name.c_str(), h.bodies, h.body_bytes, h.stubs,
                  h.stub_bytes, h.stub_share(), h.file_bytes, h.map_used, pct_of_civil(h));
    }
    std::printf("], \"catchup_seconds\": %.3f, \"catchup_bytes_in\": %" PRIu64
                ", \"catchup_bytes_out\": %" PRIu64
                ", \"authors\": %zu, \"handshake_in_sync_bytes\": %" PRIu64
                ", \"handshake_one_author_behind_bytes\": %" PRIu64 "}\n",
                catchup_s, catchup_in, catchup_out, authors, hs_sync, hs_behind);
  } else {
    std::printf(
        "\nBytes held per node (delta bytes: bodies = full deltas, stubs = stored stubs; LMDB = "
        "data.mdb\n"
        "file size and the map's used pages). Targets: township <= 15%% of civil's bytes; stubs <= "
        "5%%.\n");
    std::printf("%-40s %8s %12s %7s %11s %12s %12s %12s %14s\n", "node", "bodies", "body bytes",
                "stubs", "stub bytes", "stub share", "LMDB file", "LMDB used", "of civil's");
    for (const auto& [n, hp] : rows) {
      const Held& h = *hp;
      const bool township = !n->township.empty();
      char share[32], ofc[48];
      std::snprintf(share, sizeof share, "%.2f%% %s", h.stub_share(),
                    h.stub_share() <= 5.0 ? "ok" : "MISS");
      std::snprintf(ofc, sizeof ofc, "%.1f%%%s", pct_of_civil(h),
                    township ? (pct_of_civil(h) <= 15.0 ? " ok" : " MISS") : "");
      std::printf("%-40s %8" PRIu64 " %12s %7" PRIu64 " %11s %12s %12s %12s %14s\n",
                  n->label.c_str(), h.bodies, Mb(h.body_bytes).c_str(), h.stubs,
                  Mb(h.stub_bytes).c_str(), share, Mb(h.file_bytes).c_str(), Mb(h.map_used).c_str(),
                  ofc);
    }
    std::printf(
        "(LMDB used pages of a township office vs civil's: 城厢镇 %.1f%%, 始阳镇 %.1f%%, 小河镇 "
        "%.1f%%)\n",
        lmdb_pct_of_civil(held[3]), lmdb_pct_of_civil(held[4]), lmdb_pct_of_civil(fresh_held));
    std::printf("Stub bytes as a share of the node's LMDB used pages:");
    for (const auto& [n, hp] : rows)
      std::printf(" %s %.2f%%;", n->name.c_str(), hp->stub_share_of_lmdb());
    std::printf("\nStubs by scope (count, bytes, bytes per stub):\n");
    for (const auto& [n, hp] : rows) {
      if (hp->stubs_by_scope.empty()) continue;
      std::printf("  %-9s", n->name.c_str());
      for (const auto& [sc, cb] : hp->stubs_by_scope) {
        std::printf(" %s %" PRIu64 " (%s, %" PRIu64 " B);", sc.c_str(), cb.first,
                    Mb(cb.second).c_str(), cb.first ? cb.second / cb.first : 0);
      }
      std::printf("\n");
    }
    std::printf(
        "\nEmpty 小河镇 office catching up from hr (SyncNode pair, ZeroMQ + CURVE, 127.0.0.1): "
        "%.2f s, "
        "%s in + %s out\n",
        catchup_s, Mb(catchup_in).c_str(), Mb(catchup_out).c_str());
    std::printf(
        "Handshake hr <-> 小河镇 office (SyncStats::handshake_bytes, %zu authors): in sync %" PRIu64
        " B; one author behind %" PRIu64 " B\n",
        authors, hs_sync, hs_behind);
    std::printf("Scale %.3g: %" PRIu64 " records, %" PRIu64
                " deltas written in %.1f s; spread in %.1f s\n",
                scale, records, summary.deltas, gen_s, spread_s);
  }
  if (!keep) {
    nodes.clear();
    root.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return rc;
}
