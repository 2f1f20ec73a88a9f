// Fuzz target: the sync session state machine (src/sync/session.cpp).
//
// Two real replicas (LMDB, in a temp dir made once per process): A, the
// session under test, and B, an honest peer that holds deltas A lacks (on
// the first run) and shares A's scope keys. Each run starts a fresh pair of
// sessions; the input is a script of steps, each one of: deliver B's next
// message to A; deliver an arbitrary message (bytes from the input); deliver
// B's next message with one byte changed; drop B's next message; advance the
// clock and tick both; send A a DELTAS message holding one of B's real
// deltas (possibly changed) under an arbitrary message number. A's own
// messages always reach B unchanged. With the honest steps the fuzzer gets
// past the signed handshake into the transfer states.
//
// Oracles: no crash, leak or sanitizer report; a session that is not done
// has an ok status and one that is done refuses further messages; A never
// queues a message larger than the peer's limit it was told (the HELLO
// max_message of B) nor than its own max_message_bytes; the faults it
// tolerates never exceed max_faults while it keeps running.
//
// Flag 0x08 runs the pair on a second pair of replicas that also share 80
// authors' feeds (more than 64 authors: the handshake takes the recursive
// reconciliation path, RECON rounds then HEADS, docs/protocol.md); flag
// 0x04 makes A behave as a peer from before RECON (RANGES only).
#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "byte_reader.hpp"
#include "feed/delta.hpp"
#include "fuzz_support.hpp"
#include "hearth/sync.hpp"
#include "sync/wire.hpp"

using namespace hearth;
using hearth::fuzz::ByteReader;

namespace {

struct World {
  std::unique_ptr<Replica> a, b;
  std::unique_ptr<Replica> am, bm;  // as a and b, plus 80 shared authors
  std::vector<Bytes> b_deltas;  // every delta B holds
  World() {
    a = fuzz::OpenReplica("a");
    b = fuzz::OpenReplica("b");
    auto seed = [](Replica& r, int n) {
      for (int i = 0; i < n; ++i) {
        auto c = r.Write([&](WriteBatch& w) {
          RecordId id = RecordId::Generate();
          w.Set("item", id, "title", "seed " + std::to_string(i));
          w.Increment("item", id, "count", i + 1);
          w.Set("other", RecordId::Generate(), "name", "seed");
        });
        FUZZ_CHECK_MSG(c.ok(), c.status().ToString());
      }
    };
    // B makes the scope keys and shares them; then both write.
    for (const char* s : {"test.a", "test.b"}) FUZZ_CHECK(b->CreateScopeKey(s).ok());
    seed(*b, 4);
    auto kr = b->ExportKeyring();
    FUZZ_CHECK(kr.ok());
    Status imported = a->ImportKeyring(*kr);
    FUZZ_CHECK_MSG(imported.ok(), imported.ToString());
    seed(*a, 1);
    auto d = b->DeltasSince({});
    FUZZ_CHECK(d.ok() && !d->empty());
    b_deltas = std::move(d).value();
    // The many-authors pair: B's deltas on bm, A's on am, and 80 authors'
    // seq-1 deltas (under a key epoch neither holds: stored, not applied) on
    // both, so that both hold more than 64 authors.
    am = fuzz::OpenReplica("am");
    bm = fuzz::OpenReplica("bm");
    FUZZ_CHECK(am->ImportKeyring(*kr).ok());
    FUZZ_CHECK(bm->ImportKeyring(*kr).ok());
    FUZZ_CHECK(bm->ApplyBatch(b_deltas).ok());
    auto ad = a->DeltasSince({});
    FUZZ_CHECK(ad.ok());
    FUZZ_CHECK(am->ApplyBatch(*ad).ok());
    const auto key = crypto::RandomAeadKey();
    const uint8_t payload[] = {0x90};
    std::vector<Bytes> many;
    for (int i = 0; i < 80; ++i) {
      auto kp = crypto::SigningKeyPair::Generate();
      feed::DeltaHeader h;
      h.author = kp.public_key;
      h.seq = 1;
      h.scope = "test.a";
      h.epoch = 9;
      h.hlc_min = h.hlc_max = 1;
      h.op_count = 1;
      auto sealed = feed::SealDelta(h, payload, key, kp);
      FUZZ_CHECK(sealed.ok());
      many.push_back(std::move(sealed).value());
    }
    FUZZ_CHECK(am->ApplyBatch(many).ok());
    FUZZ_CHECK(bm->ApplyBatch(many).ok());
  }
};

World& W() {
  static World* w = new World();
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = W();
  ByteReader r(data, size);
  const uint8_t flags = r.U8();
  const bool a_initiates = flags & 1;
  SyncOptions oa;
  SyncOptions ob;
  if (flags & 2) {
    oa.window_bytes = 4096;
    oa.max_message_bytes = 2048;
    ob.window_bytes = 2048;
    ob.max_message_bytes = 1024;
  }
  oa.max_faults = flags >> 4 & 3;
  oa.recursive_recon = !(flags & 4);
  oa.compact_recon = !(flags & 0x40);  // a peer that knows only the first RECON
  Replica& ra = (flags & 8) ? *w.am : *w.a;
  Replica& rb = (flags & 8) ? *w.bm : *w.b;
  SyncSession sa(ra, a_initiates, oa);
  SyncSession sb(rb, !a_initiates, ob);
  uint64_t now = 1'000;
  FUZZ_CHECK(sa.Start(now).ok());
  FUZZ_CHECK(sb.Start(now).ok());

  std::deque<Bytes> b_to_a;
  const uint64_t a_limit = std::max<uint64_t>(oa.max_message_bytes, 1024);
  const uint64_t b_limit = std::max<uint64_t>(ob.max_message_bytes, 1024);
  auto flush = [&] {
    // A -> B: honest, in order, until both are quiet.
    for (int round = 0; round < 64; ++round) {
      auto out = sa.TakeOutgoing();
      for (const Bytes& m : out) {
        FUZZ_CHECK(!m.empty());
        FUZZ_CHECK_MSG(m.size() <= std::max(a_limit, b_limit), std::to_string(m.size()));
        if (!sb.done()) (void)sb.OnMessage(m, now);
      }
      auto back = sb.TakeOutgoing();
      for (Bytes& m : back) b_to_a.push_back(std::move(m));
      if (out.empty()) return;
    }
  };
  auto to_a = [&](std::span<const uint8_t> m) {
    const bool was_done = sa.done();
    Status s = sa.OnMessage(m, now);
    if (was_done) FUZZ_CHECK(!s.ok());
    if (!sa.done()) {
      FUZZ_CHECK_MSG(s.ok(), s.ToString());
      FUZZ_CHECK(sa.status().ok());
      FUZZ_CHECK(sa.stats().faults <= oa.max_faults);
    }
  };

  flush();
  for (int step = 0; step < 64 && !r.empty(); ++step) {
    switch (r.U8() % 6) {
      case 0:
        if (!b_to_a.empty()) {
          Bytes m = std::move(b_to_a.front());
          b_to_a.pop_front();
          to_a(m);
        }
        break;
      case 1: {
        const size_t n = std::min<size_t>(r.U16() % 4096, r.left());
        std::vector<uint8_t> m(n);
        for (auto& x : m) x = r.U8();
        to_a(m);
        break;
      }
      case 2:
        if (!b_to_a.empty()) {
          Bytes m = std::move(b_to_a.front());
          b_to_a.pop_front();
          const uint16_t at = r.U16();
          if (!m.empty()) m[at % m.size()] ^= static_cast<uint8_t>(r.U8() | 1);
          to_a(m);
        }
        break;
      case 3:
        if (!b_to_a.empty()) b_to_a.pop_front();
        break;
      case 4: {
        now += uint64_t{r.U16()} * (r.Bool() ? 1u : 16u);
        Status s = sa.OnTick(now);
        if (!sa.done()) FUZZ_CHECK(s.ok());
        if (!sb.done()) (void)sb.OnTick(now);
        break;
      }
      default: {
        const uint8_t mseq = r.U8();
        Bytes d = w.b_deltas[r.U8() % w.b_deltas.size()];
        if (r.Bool()) d[r.U16() % d.size()] ^= static_cast<uint8_t>(r.U8() | 1);
        sync::Writer m(sync::kDeltas);
        m.Array(2).Uint(mseq).Array(1).Bin(d);
        to_a(m.Take());
        break;
      }
    }
    flush();
  }
  static const bool verbose = std::getenv("HEARTH_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    const SyncStats& st = sa.stats();
    std::fprintf(stderr, "session: authenticated=%d done=%d status=%s in=%llu out=%llu "
                 "deltas_received=%llu applied=%llu rejected=%llu caught_up=%d faults=%llu\n",
                 sa.peer() != AuthorId{}, sa.done(), sa.status().ToString().c_str(),
                 (unsigned long long)st.messages_in, (unsigned long long)st.messages_out,
                 (unsigned long long)st.deltas_received, (unsigned long long)st.deltas_applied,
                 (unsigned long long)st.deltas_rejected, st.caught_up, (unsigned long long)st.faults);
  }
  return 0;
}
