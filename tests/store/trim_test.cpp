// Replica::TrimMappedMemory: dropping the process's mappings of the LMDB map
// bounds the resident set and loses nothing, also while other threads read,
// write and grow the map (docs/benchmarks.md, "Sync": memory at scale).
#include <atomic>
#include <cstdio>
#include <cctype>
#include <cstring>
#include <string_view>
#include <string>
#include <thread>

#include "hearth/inspect.hpp"
#include "store/store_support.hpp"

namespace hearth {
namespace {

using testing::OpenReplica;
using testing::TempDir;

// Resident kB of this process's mapping of DIR/data.mdb (/proc/self/smaps).
uint64_t MapRssKb(const std::string& dir) {
  std::FILE* f = std::fopen("/proc/self/smaps", "r");
  REQUIRE(f != nullptr);
  const std::string name = dir + "/data.mdb";
  char line[4096];
  bool in = false;
  uint64_t kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    std::string_view l(line);
    if (l.find(" r") != std::string_view::npos && l.find('-') < l.find(' ') && std::isxdigit(l[0])) {
      in = l.find(name) != std::string_view::npos;  // a mapping's first line
      continue;
    }
    unsigned long long v = 0;
    if (in && std::sscanf(line, "Rss: %llu kB", &v) == 1) kb += v;
  }
  std::fclose(f);
  return kb;
}

uint64_t CountTitles(const Replica& r, const std::string& want, bool* all_equal) {
  uint64_t n = 0;
  REQUIRE(r.Scan("item", [&](const Record& rec) {
               const FieldValue* f = rec.Find("title");
               if (f == nullptr || f->value != Value(want)) *all_equal = false;
               ++n;
               return true;
             }).ok());
  return n;
}

TEST_CASE("TrimMappedMemory drops the map's resident pages; reads after it see the same data") {
  TempDir tmp;
  auto r = OpenReplica(tmp.path());
  const std::string big(2000, 'x');
  for (int i = 0; i < 100; ++i) {
    REQUIRE(r->Write([&](WriteBatch& b) {
               for (int j = 0; j < 20; ++j) b.Set("item", RecordId::Generate(), "title", big);
             }).ok());
  }
  const auto digest = r->Digest().value();
  bool equal = true;
  REQUIRE(CountTitles(*r, big, &equal) == 2000);  // maps every page of ~4 MB of records
  REQUIRE(equal);
  const uint64_t read = MapRssKb(tmp.path());
  CHECK(read > 3 * 1024);  // ~4 MB of records were read through the map
  // An unbounded trim only measures: the process's resident file pages, the
  // map's among them.
  CHECK(r->TrimMappedMemory(UINT64_MAX).value() >= read * 1024);
  CHECK(MapRssKb(tmp.path()) >= read);
  // A trim to 0 drops this process's mappings of the map.
  CHECK(r->TrimMappedMemory(0).value() >= read * 1024);
  CHECK(MapRssKb(tmp.path()) < 64);
  // Nothing is lost: the pages come back from the file.
  equal = true;
  CHECK(CountTitles(*r, big, &equal) == 2000);
  CHECK(equal);
  CHECK(r->Digest().value() == digest);
  CHECK(inspect::CheckConsistency(*r).ok());
}

TEST_CASE("TrimMappedMemory while other threads read, write and grow the map") {
  TempDir tmp;
  ReplicaOptions o;
  o.initial_map_size = 256 << 10;  // grows many times under the writer
  o.max_map_size = uint64_t{256} << 20;
  auto r = OpenReplica(tmp.path(), nullptr, o);
  const std::string big(1500, 'y');
  std::atomic<bool> done{false};
  std::atomic<int> committed{0};
  std::atomic<bool> reader_ok{true};
  std::thread writer([&] {
    for (int i = 0; i < 150; ++i) {
      auto c = r->Write([&](WriteBatch& b) {
        for (int j = 0; j < 10; ++j) b.Set("item", RecordId::Generate(), "title", big);
      });
      if (!c.ok()) break;
      committed.fetch_add(1);
    }
    done.store(true);
  });
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done.load()) {
      uint64_t n = 0;
      bool equal = true;
      Status s = r->Scan("item", [&](const Record& rec) {
        const FieldValue* f = rec.Find("title");
        if (f == nullptr || f->value != Value(big)) equal = false;
        ++n;
        return true;
      });
      // A scan sees a committed state: whole batches, never fewer than before.
      if (!s.ok() || !equal || n % 10 != 0 || n < last) reader_ok.store(false);
      last = n;
    }
  });
  int trims = 0;
  while (!done.load()) {
    CHECK(r->TrimMappedMemory(0).ok());
    ++trims;
    std::this_thread::yield();
  }
  writer.join();
  reader.join();
  CHECK(reader_ok.load());
  CHECK(committed.load() == 150);
  CHECK(trims > 0);
  bool equal = true;
  CHECK(CountTitles(*r, big, &equal) == 1500);
  CHECK(equal);
  CHECK(inspect::CheckConsistency(*r).ok());
}

}  // namespace
}  // namespace hearth
