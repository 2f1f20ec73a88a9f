// Fuzz target: bundle files (src/store/bundle.cpp) read into a real replica
// (LMDB in a temp dir made once per process).
//
// First input byte = mode. Bit 0 clear: the rest is the file, as is. Bit 0
// set: the rest is the file up to its last entry and the harness appends
// the trailer a writer would (end marker, the number of entries it can walk,
// BLAKE2b-256), so the fuzzer gets past the checksum. Bit 1 set: the harness
// first appends, as further entries, real deltas of a source replica (the
// byte after the mode picks which and whether one byte is changed), so the
// apply path — signature, chain, gaps, duplicates, keys, schema — runs.
//
// Oracles: CheckBundle fails only with kCorruption; ImportBundle fails
// exactly when CheckBundle does (same code) and then changes nothing (heads
// unchanged); when it succeeds its info equals CheckBundle's and every entry
// has exactly one outcome (applied, duplicate, pending, stored, fork, held,
// denied or rejected).
#include <cstdint>
#include <cstring>
#include <vector>

#include "byte_reader.hpp"
#include "base/bytes.hpp"
#include "crypto/crypto.hpp"
#include "fuzz_support.hpp"
#include "hearth/bundle.hpp"

using namespace hearth;

namespace {

struct World {
  std::unique_ptr<Replica> target, source;
  std::vector<Bytes> deltas;
  std::string path;
  World() {
    target = fuzz::OpenReplica("target");
    source = fuzz::OpenReplica("source");
    for (const char* s : {"test.a", "test.b"}) FUZZ_CHECK(source->CreateScopeKey(s).ok());
    for (int i = 0; i < 3; ++i) {
      auto c = source->Write([&](WriteBatch& w) {
        RecordId id = RecordId::Generate();
        w.Set("item", id, "title", "t" + std::to_string(i)).Increment("item", id, "count", 2);
        w.Set("other", RecordId::Generate(), "name", "o");
      });
      FUZZ_CHECK_MSG(c.ok(), c.status().ToString());
    }
    // The target can read one scope ("test.a") of the source.
    auto kr = source->ExportKeyring({"test.a"});
    FUZZ_CHECK_MSG(kr.ok(), kr.status().ToString());
    FUZZ_CHECK(target->ImportKeyring(*kr).ok());
    auto d = source->DeltasSince({});
    FUZZ_CHECK(d.ok() && !d->empty());
    deltas = std::move(d).value();
    path = fuzz::TempDir().Sub("in.bundle");
  }
};

World& W() {
  static World* w = new World();
  return *w;
}


// Entries a reader would find after the head lists of `body` (0 if the
// preamble does not fit).
uint64_t CountEntries(const Bytes& body) {
  size_t off = 9;
  for (int list = 0; list < 2; ++list) {
    if (body.size() < off + 4) return 0;
    const uint64_t n = base::LoadBE32(&body[off]);
    off += 4;
    if (n * 72 > body.size() - off) return 0;
    off += static_cast<size_t>(n * 72);
  }
  uint64_t count = 0;
  while (body.size() - off >= 4) {
    const uint32_t len = base::LoadBE32(&body[off]);
    off += 4;
    if (len > body.size() - off) break;
    off += len;
    ++count;
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = W();
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  fuzz::ByteReader r(data + 1, size - 1);
  Bytes file;
  uint8_t pick = 0;
  if (mode & 2) pick = r.U8();
  auto rest = r.Rest();
  file.assign(rest.begin(), rest.end());
  if (mode & 2) {
    // Up to three real deltas, in an order and with a change the input picks.
    const int n = 1 + pick % 3;
    for (int i = 0; i < n; ++i) {
      Bytes d = w.deltas[(pick >> (2 + i)) % w.deltas.size()];
      if ((pick & 0x80) && i == n - 1) d[(pick * 7u) % d.size()] ^= 0x20;
      base::AppendBE(file, d.size(), 4);
      file.insert(file.end(), d.begin(), d.end());
    }
  }
  if (mode & 1) {
    const uint64_t entries = CountEntries(file);
    const crypto::Hash h = crypto::HashBytes(file);
    base::AppendBE(file, 0xFFFFFFFFu, 4);
    base::AppendBE(file, entries, 8);
    file.insert(file.end(), h.begin(), h.end());
  }
  fuzz::WriteFile(w.path, file);

  auto check = CheckBundle(w.path);
  if (!check.ok()) {
    FUZZ_CHECK_MSG(check.status().code() == Code::kCorruption, check.status().ToString());
  }
  const Heads before = w.target->GetHeads().value();
  auto imp = ImportBundle(*w.target, w.path);
  if (!check.ok()) {
    FUZZ_CHECK(!imp.ok());
    FUZZ_CHECK_MSG(imp.status().code() == check.status().code(), imp.status().ToString());
    FUZZ_CHECK(w.target->GetHeads().value() == before);
    return 0;
  }
  FUZZ_CHECK_MSG(imp.ok(), imp.status().ToString());
  FUZZ_CHECK(imp->info.entries == check->entries && imp->info.bytes == check->bytes &&
             imp->info.checksum == check->checksum && imp->info.since == check->since &&
             imp->info.covers == check->covers);
  const uint64_t outcomes = imp->applied + imp->duplicate + imp->pending + imp->unreadable + imp->fork +
                            imp->held + imp->denied + imp->rejected.size();
  FUZZ_CHECK_MSG(outcomes == imp->info.entries,
                 std::to_string(outcomes) + " outcomes for " + std::to_string(imp->info.entries));
  return 0;
}
