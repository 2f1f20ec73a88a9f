// The canary test (issue #15 item 6): under the county template policy
// (policies/county.toml), known unique strings are planted in 城厢镇's child
// records and in a wage case; everything is synced (real SyncSessions
// between real LMDB replicas, every pair, twice) and bundles are exported.
// Then every raw file of every replica that may NOT read those records --
// data.mdb, lock.mdb, anything else in its directory, and the bundles it
// exports or is sent -- is searched for the plaintext strings and, where
// the replica may not even receive the scope, for 32 bytes of each
// delta's ciphertext taken from the author's replica. Nothing may be found
// (stubs -- header and body hash -- are allowed). Positive controls: the
// replicas that may read do have the plaintext in their files, and a relay
// does have the ciphertext, so the searches can fail.
//
// Who is who under policies/county.toml:
//   城厢镇, 始阳镇  township offices, role child_care: read/write their own
//                  township's children and every wage case;
//   hr             labour bureau, role labour_inspector: writes wage cases,
//                  relays every child record (holds ciphertext, no key);
//   civil          civil affairs: reads and writes every child record,
//                  relays wage cases (ciphertext, no key);
//   union          no right on children at all (stubs only), relays wages.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "feed/delta.hpp"
#include "hearth/bundle.hpp"
#include "hearth/policy.hpp"
#include "sync/sync_support.hpp"

namespace hearth {
namespace {

using testing::TempDir;

constexpr const char* kA = "城厢镇";
constexpr const char* kB = "始阳镇";

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A string no replica holds by chance: a tag and 24 random hex digits.
std::string Canary(const std::string& tag) {
  std::random_device rd;
  std::string s = "CANARY-" + tag + "-";
  static const char* kHex = "0123456789abcdef";
  for (int i = 0; i < 24; ++i) s.push_back(kHex[rd() % 16]);
  return s;
}

// Every regular file under `dir` (recursively), or `dir` itself if a file.
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  if (std::filesystem::is_regular_file(dir)) return {dir};
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The first file under `paths` that contains `needle`, or "".
std::string FindIn(const std::vector<std::string>& paths, std::string_view needle) {
  REQUIRE(!needle.empty());
  for (const std::string& p : paths) {
    for (const std::string& f : FilesUnder(p)) {
      const std::string data = ReadAll(f);
      if (std::search(data.begin(), data.end(), std::boyer_moore_horspool_searcher(needle.begin(), needle.end())) !=
          data.end()) {
        return f;
      }
    }
  }
  return "";
}

struct Node {
  std::string name, dir;
  std::unique_ptr<Replica> r;
};

TEST_CASE("canary: no plaintext or ciphertext of a record reaches a replica that may not read it") {
  TempDir tmp;
  auto schema = Schema::LoadFile(std::string(HEARTH_SOURCE_DIR) + "/examples/demo_schema.toml");
  REQUIRE_MESSAGE(schema.ok(), schema.status().ToString());
  auto open = [&](const std::string& name, std::optional<AuthorId> root, bool is_root) {
    ReplicaOptions o;
    o.schema = *schema;
    o.durability = Durability::kNoSync;
    o.unencrypted_identity = true;
    o.root = root;
    o.is_root = is_root;
    auto r = Replica::Open(tmp.Sub(name), o);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    return Node{name, tmp.Sub(name), std::move(r).value()};
  };
  Node root = open("root", std::nullopt, true);
  const AuthorId rk = root.r->author();
  Node town_a = open("town_a", rk, false), town_b = open("town_b", rk, false), hr = open("hr", rk, false),
       civil = open("civil", rk, false), uni = open("union", rk, false);
  std::vector<Node*> nodes = {&town_a, &town_b, &hr, &civil, &uni};

  // The template policy, unchanged, plus the members.
  auto policy = Policy::Parse(ReadAll(std::string(HEARTH_SOURCE_DIR) + "/policies/county.toml"));
  REQUIRE_MESSAGE(policy.ok(), policy.status().ToString());
  REQUIRE(policy->AddMember({town_a.r->author(), "城厢镇 office", "township", kA, {"child_care"}, std::nullopt}).ok());
  REQUIRE(policy->AddMember({town_b.r->author(), "始阳镇 office", "township", kB, {"child_care"}, std::nullopt}).ok());
  REQUIRE(policy->AddMember({hr.r->author(), "labour bureau", "hr", "", {"labour_inspector"}, std::nullopt}).ok());
  REQUIRE(policy->AddMember({civil.r->author(), "civil affairs", "civil", "", {}, std::nullopt}).ok());
  REQUIRE(policy->AddMember({uni.r->author(), "trade union", "union", "", {}, std::nullopt}).ok());
  auto pub = root.r->PublishPolicy(*policy);
  REQUIRE_MESSAGE(pub.ok(), pub.status().ToString());
  for (Node* n : nodes) {
    testing::Pipe p(*root.r, *n->r);
    p.Run();
    REQUIRE(p.caught_up());
  }

  // The plants. Each write is one delta (one scope/partition per batch).
  struct Plant {
    std::string text;
    Node* author;
    uint64_t seq;
    std::string collection;
    RecordId id;
  };
  std::vector<Plant> kids_a, kids_b, wages;
  auto plant = [&](std::vector<Plant>& into, Node& author, const std::string& coll, const RecordId& id,
                   const std::string& field, const std::string& tag) {
    const std::string text = Canary(tag);
    auto c = author.r->Write([&](WriteBatch& w) { w.Set(coll, id, field, Value(text)); });
    REQUIRE_MESSAGE(c.ok(), (author.name + ": " + c.status().ToString()));
    REQUIRE(c->first_seq == c->last_seq);
    into.push_back({text, &author, c->first_seq, coll, id});
  };
  plant(kids_a, town_a, "child", NewRecordIdIn(kA), "name", "child-by-chengxiang");
  plant(kids_a, civil, "child", NewRecordIdIn(kA), "name", "child-by-civil-in-chengxiang");
  plant(kids_b, civil, "child", NewRecordIdIn(kB), "name", "child-by-civil-in-shiyang");
  plant(wages, hr, "wage_case", RecordId::Generate(), "title", "wage-case");
  // Something every node reads, written after the plants: proves the feeds
  // went on past the withheld deltas.
  const RecordId after = NewRecordIdIn(kA);
  REQUIRE(civil.r->Write([&](WriteBatch& w) { w.Set("child", after, "village", Value("after")); }).ok());
  const RecordId station = RecordId::Generate();
  REQUIRE(uni.r->Write([&](WriteBatch& w) { w.Set("station", station, "name", Value("station after")); }).ok());
  const RecordId wage_after = RecordId::Generate();
  REQUIRE(hr.r->Write([&](WriteBatch& w) { w.Set("wage_case", wage_after, "title", Value("after")); }).ok());

  // Everyone syncs with everyone (whatever path a delta takes), twice.
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      for (size_t j = i + 1; j < nodes.size(); ++j) {
        testing::Pipe p(*nodes[i]->r, *nodes[j]->r);
        p.Run();
        REQUIRE_MESSAGE(p.caught_up(), (nodes[i]->name + " <-> " + nodes[j]->name));
      }
    }
  }
  // Every node holds every feed to its head (stubs included): nothing stopped.
  const Heads want = civil.r->GetHeads().value();
  for (Node* n : nodes) CHECK_MESSAGE(n->r->GetHeads().value() == want, n->name);
  for (Node* n : {&town_a, &town_b, &hr, &uni}) {
    CHECK_MESSAGE(n->r->Get("station", station).ok(), n->name);
  }

  // Bundles: each non-reader's full export, and what a reader exports for it.
  auto bundle_of = [&](Node& from, Node* to) {
    const std::string path = tmp.Sub(from.name + "_for_" + (to ? to->name : std::string("all")) + ".bundle");
    Result<BundleExportReport> ex = to == nullptr ? ExportBundle(*from.r, Heads{}, path)
                                                  : ExportBundleFor(*from.r, Heads{}, path, {to->r->author(), {}});
    REQUIRE_MESSAGE(ex.ok(), ex.status().ToString());
    return path;
  };

  // Who may read / may receive what (policies/county.toml):
  struct Expect {
    const std::vector<Plant>* plants;
    std::vector<Node*> readers;      // hold the plaintext
    std::vector<Node*> relays;       // hold the ciphertext, not the plaintext
    std::vector<Node*> stubs_only;   // hold neither
  };
  const std::vector<Expect> expects = {
      {&kids_a, {&town_a, &civil}, {&hr}, {&town_b, &uni}},
      {&kids_b, {&town_b, &civil}, {&hr}, {&town_a, &uni}},
      {&wages, {&town_a, &town_b, &hr}, {&civil, &uni}, {}},
  };

  // Through the API first.
  for (const Expect& e : expects) {
    for (const Plant& p : *e.plants) {
      for (Node* n : e.readers) {
        auto rec = n->r->Get(p.collection, p.id);
        CHECK_MESSAGE(rec.ok(), (n->name + " reads " + p.text));
      }
      for (Node* n : e.relays) CHECK_MESSAGE(!n->r->Get(p.collection, p.id).ok(), (n->name + " " + p.text));
      for (Node* n : e.stubs_only) {
        CHECK_MESSAGE(!n->r->Get(p.collection, p.id).ok(), (n->name + " " + p.text));
        auto held = n->r->GetDelta(p.author->r->author(), p.seq);
        REQUIRE(held.ok());
        auto parsed = feed::ParseDelta(*held);
        REQUIRE(parsed.ok());
        CHECK_MESSAGE(parsed->stub, (n->name + " holds a stub of " + p.text));
      }
    }
  }

  // The needles: plaintext, and 32 bytes of ciphertext from the author.
  struct Needle {
    std::string what, bytes;
  };
  auto needles_of = [&](const Plant& p) {
    auto d = p.author->r->GetDelta(p.author->r->author(), p.seq);
    REQUIRE(d.ok());
    auto parsed = feed::ParseDelta(*d);
    REQUIRE(parsed.ok());
    REQUIRE_FALSE(parsed->stub);
    REQUIRE(parsed->ciphertext.size() >= 32);
    const size_t off = (parsed->ciphertext.size() - 32) / 2;
    std::string ct(reinterpret_cast<const char*>(parsed->ciphertext.data()) + off, 32);
    return std::pair<Needle, Needle>{{"plaintext " + p.text, p.text}, {"ciphertext of " + p.text, ct}};
  };

  // Bundles to search, per node: its own full export and one from civil
  // (which holds everything, keys for children) targeted at it.
  std::map<Node*, std::vector<std::string>> files;
  for (Node* n : nodes) {
    files[n] = {n->dir, bundle_of(*n, nullptr)};
    if (n != &civil) files[n].push_back(bundle_of(civil, n));
  }
  std::vector<std::vector<std::pair<Needle, Needle>>> needles;
  for (const Expect& e : expects) {
    needles.emplace_back();
    for (const Plant& p : *e.plants) needles.back().push_back(needles_of(p));
  }
  // Close every replica: the search reads the files as they are on disk.
  for (Node* n : nodes) n->r.reset();
  root.r.reset();

  for (size_t i = 0; i < expects.size(); ++i) {
    const Expect& e = expects[i];
    for (const auto& [plain, cipher] : needles[i]) {
      // Positive controls: the search finds what is there.
      for (Node* n : e.readers) {
        CHECK_MESSAGE(FindIn({n->dir}, plain.bytes) != "", (n->name + " has " + plain.what));
      }
      for (Node* n : e.relays) {
        CHECK_MESSAGE(FindIn({n->dir}, cipher.bytes) != "", (n->name + " relays " + cipher.what));
        CHECK_MESSAGE(FindIn({files[n][1]}, cipher.bytes) != "", (n->name + "'s bundle carries " + cipher.what));
        const std::string f = FindIn(files[n], plain.bytes);
        CHECK_MESSAGE(f == "", (n->name + ": " + plain.what + " found in " + f));
      }
      for (Node* n : e.stubs_only) {
        for (const Needle* nd : {&plain, &cipher}) {
          const std::string f = FindIn(files[n], nd->bytes);
          CHECK_MESSAGE(f == "", (n->name + ": " + nd->what + " found in " + f));
        }
      }
    }
  }
}

}  // namespace
}  // namespace hearth
