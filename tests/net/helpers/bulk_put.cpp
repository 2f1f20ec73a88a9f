// hearth_bulk_put: writes many records into an existing replica quickly, for
// the multi-process sync tests (tests/net/test_county_nodes.py). The `hearth`
// CLI writes one record per process; a backlog of thousands of deltas, or
// 500 MB of them, needs a loop in one process. Uses only the public API and
// opens the replica like the CLI does (it may be shared with a running
// hearthd).
//
//   hearth_bulk_put DIR COLLECTION FIELD COUNT [--per-commit K]
//                   [--min-bytes A] [--max-bytes B] [--text] [--nosync]
//                   [--seed S] [--ids]
//
// Each commit sets FIELD of K new records (one delta, since a collection has
// one scope). Values: random bytes of A..B bytes (incompressible), or with
// --text random lowercase hex text of that length. --ids prints each record
// id after its commit returned (an acknowledged write). Last line on stdout:
// one JSON object {"author","first_seq","last_seq","records","commits",
// "value_bytes","delta_bytes","seconds"} (delta_bytes: the deltas written,
// as stored). Exit 0, or 1 with the error on stderr.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "hearth/replica.hpp"
#include "../../support/test_keys.hpp"

namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "hearth_bulk_put: %s\n", why.c_str());
  std::exit(1);
}

uint64_t ArgU64(int& i, int argc, char** argv) {
  if (i + 1 >= argc) Die(std::string("missing value after ") + argv[i]);
  return std::strtoull(argv[++i], nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: hearth_bulk_put DIR COLLECTION FIELD COUNT [--per-commit K] [--min-bytes A] "
                 "[--max-bytes B] [--text] [--nosync] [--seed S] [--ids]\n");
    return 2;
  }
  const std::string dir = argv[1], collection = argv[2], field = argv[3];
  const uint64_t count = std::strtoull(argv[4], nullptr, 10);
  uint64_t per_commit = 1, min_bytes = 16, max_bytes = 16, seed = std::random_device{}();
  bool text = false, nosync = false, ids = false;
  for (int i = 5; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--per-commit") per_commit = std::max<uint64_t>(1, ArgU64(i, argc, argv));
    else if (a == "--min-bytes") min_bytes = ArgU64(i, argc, argv);
    else if (a == "--max-bytes") max_bytes = ArgU64(i, argc, argv);
    else if (a == "--seed") seed = ArgU64(i, argc, argv);
    else if (a == "--text") text = true;
    else if (a == "--nosync") nosync = true;
    else if (a == "--ids") ids = true;
    else Die("unknown option " + a);
  }
  if (max_bytes < min_bytes) max_bytes = min_bytes;

  hearth::ReplicaOptions o;
  o.create_if_missing = false;
  o.durability = nosync ? hearth::Durability::kNoSync : hearth::Durability::kSync;
  // As the hearth tool: a protected identity is unlocked with $HEARTH_PASSPHRASE.
  if (const char* p = std::getenv("HEARTH_PASSPHRASE"); p != nullptr && *p != '\0') o.passphrase = p;
  auto r = hearth::Replica::Open(dir, std::move(o));
  if (!r.ok()) Die("cannot open " + dir + ": " + r.status().ToString());
  hearth::Replica& rep = **r;
  // Without a root no key is made implicitly: hold the shared test keyring
  // (tests/support/test_keys.hpp; a key already held for a scope is kept).
  if (hearth::Status k = hearth::testing::GiveTestKeys(rep); !k.ok() && k.code() != hearth::Code::kAlreadyExists) {
    Die("scope keys: " + k.ToString());
  }

  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> len(min_bytes, max_bytes);
  static const char* kHex = "0123456789abcdef";
  auto value = [&]() -> hearth::Value {
    const uint64_t n = len(rng);
    if (text) {
      std::string s(n, '0');
      for (uint64_t i = 0; i < n; i += 16) {
        uint64_t x = rng();
        for (uint64_t j = i; j < std::min(n, i + 16); ++j, x >>= 4) s[j] = kHex[x & 15];
      }
      return hearth::Value(std::move(s));
    }
    hearth::Bytes b(n);
    for (uint64_t i = 0; i < n; i += 8) {
      uint64_t x = rng();
      std::memcpy(b.data() + i, &x, std::min<uint64_t>(8, n - i));
    }
    return hearth::Value(std::move(b));
  };

  const auto t0 = std::chrono::steady_clock::now();
  uint64_t first_seq = 0, last_seq = 0, commits = 0, value_bytes = 0, done = 0;
  std::vector<hearth::RecordId> batch_ids;
  while (done < count) {
    hearth::WriteBatch b;
    batch_ids.clear();
    for (uint64_t k = 0; k < per_commit && done + k < count; ++k) {
      hearth::RecordId id = hearth::RecordId::Generate();
      hearth::Value v = value();
      value_bytes += v.type() == hearth::ValueType::kBytes ? v.as_bytes().size() : v.as_string().size();
      b.Set(collection, id, field, std::move(v));
      batch_ids.push_back(id);
    }
    auto c = rep.Commit(b);
    if (!c.ok()) Die("commit " + std::to_string(commits + 1) + ": " + c.status().ToString());
    if (first_seq == 0) first_seq = c->first_seq;
    last_seq = c->last_seq;
    ++commits;
    done += batch_ids.size();
    if (ids) {
      for (const auto& id : batch_ids) std::printf("%s\n", id.ToHex().c_str());
      std::fflush(stdout);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Bytes of the deltas written, as stored (what sync has to move).
  uint64_t delta_bytes = 0;
  for (uint64_t seq = first_seq; seq != 0 && seq <= last_seq; ++seq) {
    auto d = rep.GetDelta(rep.author(), seq);
    if (!d.ok()) Die("reading back delta " + std::to_string(seq) + ": " + d.status().ToString());
    delta_bytes += d->size();
  }
  std::printf("{\"author\": \"%s\", \"first_seq\": %llu, \"last_seq\": %llu, \"records\": %llu, \"commits\": %llu, "
              "\"value_bytes\": %llu, \"delta_bytes\": %llu, \"seconds\": %.3f}\n",
              rep.author().ToHex().c_str(), static_cast<unsigned long long>(first_seq),
              static_cast<unsigned long long>(last_seq), static_cast<unsigned long long>(done),
              static_cast<unsigned long long>(commits), static_cast<unsigned long long>(value_bytes),
              static_cast<unsigned long long>(delta_bytes), secs);
  return 0;
}
