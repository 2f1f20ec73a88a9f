// Writes the seed corpus of every fuzz target (tests/fuzz/corpus/<target>/)
// from objects built with the library itself: valid payloads, values,
// record states, sealed deltas, sync messages, session scripts, bundles,
// schemas, policies and hearthd configs. Deterministic except where the
// library draws random ids/keys (deltas, bundles). Run from a build dir:
//
//   ninja fuzz_seeds && ./tests/fuzz/fuzz_seeds ../tests/fuzz/corpus
//
// Existing files of the same name are replaced; other files are kept.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "codec/codec.hpp"
#include "crypto/crypto.hpp"
#include "feed/compress.hpp"
#include "feed/delta.hpp"
#include "fuzz_support.hpp"
#include "hearth/bundle.hpp"
#include "hearth/policy.hpp"
#include "sync/wire.hpp"

using namespace hearth;
namespace fs = std::filesystem;

namespace {

std::string g_root;
int g_written = 0;

void Put(const std::string& target, const std::string& name, std::span<const uint8_t> bytes) {
  fs::create_directories(g_root + "/" + target);
  fuzz::WriteFile(g_root + "/" + target + "/" + name, bytes);
  ++g_written;
}
void PutText(const std::string& target, const std::string& name, const std::string& text) {
  Put(target, name, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}
Bytes Prefixed(uint8_t first, std::span<const uint8_t> rest) {
  Bytes b{first};
  b.insert(b.end(), rest.begin(), rest.end());
  return b;
}

AuthorId Author(uint8_t x) {
  AuthorId a;
  a.bytes.fill(x);
  return a;
}

std::vector<crdt::Op> SampleOps() {
  std::vector<crdt::Op> ops;
  crdt::VersionVector ctx;
  ctx.Raise(Author(1), 5);
  ctx.Raise(Author(2), 300);
  auto op = [&](const char* f, crdt::OpKind k, crdt::Hlc h, Value v) {
    crdt::Op o;
    o.field = f;
    o.kind = k;
    o.hlc = h;
    o.value = std::move(v);
    return o;
  };
  ops.push_back(op("title", crdt::OpKind::kLwwSet, 1, Value("Amina Yusuf")));
  crdt::Op mv = op("owner", crdt::OpKind::kMvSet, 70000, Value(int64_t{-33}));
  mv.context = ctx;
  ops.push_back(mv);
  ops.push_back(op("tags", crdt::OpKind::kSetAdd, 3, Value(Bytes{1, 2, 3})));
  crdt::Op rm = op("tags", crdt::OpKind::kSetRemove, 4, Value(Bytes{1, 2, 3}));
  rm.context = ctx;
  ops.push_back(rm);
  crdt::Op cnt = op("count", crdt::OpKind::kCounter, 5, Value());
  cnt.p = 3'000'000;
  cnt.n = 7;
  ops.push_back(cnt);
  crdt::Op st = op("stage", crdt::OpKind::kStatus, 6, Value("open"));
  st.rank = 1;
  ops.push_back(st);
  ops.push_back(op("notes", crdt::OpKind::kLogAppend, uint64_t{1} << 40, Value(1.5)));
  ops.push_back(op("when", crdt::OpKind::kLwwSet, 8, Value(Timestamp{1'700'000'000'000})));
  RecordId ref;
  ref.bytes.fill(0xab);
  ops.push_back(op("ref", crdt::OpKind::kLwwSet, 9, Value(ref)));
  ops.push_back(op(crdt::kDeletedField, crdt::OpKind::kLwwSet, 10, Value(true)));
  return ops;
}

std::vector<Value> SampleValues() {
  RecordId ref;
  ref.bytes.fill(0x42);
  return {Value(),          Value(true),        Value(int64_t{5}),     Value(int64_t{-33}),
          Value(int64_t{300}), Value(int64_t{INT64_MIN}), Value(1.5),  Value("hi"),
          Value(std::string(40, 'x')), Value(Bytes{1, 2}), Value(Timestamp{-1}), Value(ref)};
}

void Codec() {
  const auto ops = SampleOps();
  RecordId id;
  id.bytes.fill(0x11);
  for (size_t i = 0; i < ops.size(); ++i) {
    std::vector<crdt::RecordOps> recs(1);
    recs[0].collection = "item";
    recs[0].id = id;
    recs[0].ops = {ops[i]};
    Put("codec_payload", "op" + std::to_string(i), codec::EncodePayload(recs));
    Put("codec_payload", "v2op" + std::to_string(i), codec::EncodePayloadV2(recs));
  }
  std::vector<crdt::RecordOps> all(2);
  all[0].collection = "item";
  all[0].id = id;
  all[0].ops = ops;
  all[1].collection = "other";
  all[1].id = RecordId{};
  all[1].ops = {ops[0]};
  Put("codec_payload", "all", codec::EncodePayload(all));
  Put("codec_payload", "empty", codec::EncodePayload({}));
  Put("codec_payload", "v2all", codec::EncodePayloadV2(all));
  Put("codec_payload", "v2empty", codec::EncodePayloadV2({}));
  const auto values = SampleValues();
  for (size_t i = 0; i < values.size(); ++i) {
    Put("codec_payload", "value" + std::to_string(i), codec::EncodeValue(values[i]));
  }

  // Record states: every field kind, built by the merge itself.
  crdt::RecordState s;
  s.collection = "item";
  s.id = id;
  for (size_t i = 0; i < ops.size(); ++i) s.Apply(ops[i], Author(static_cast<uint8_t>(1 + i % 3)));
  Put("codec_state", "all_kinds", codec::EncodeRecordState(s));
  for (size_t i = 0; i < ops.size(); ++i) {
    crdt::RecordState one;
    one.collection = "item";
    one.id = id;
    one.Apply(ops[i], Author(1));
    one.Apply(ops[i], Author(2));
    Put("codec_state", "field" + std::to_string(i), codec::EncodeRecordState(one));
  }
  crdt::RecordState empty;
  empty.collection = "c";
  Put("codec_state", "empty", codec::EncodeRecordState(empty));
}

void Crdt() {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 24; ++i) {
    Bytes b(16 + i * 6);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    Put("crdt_merge", "random" + std::to_string(i), b);
  }
}

void Delta() {
  uint8_t seed[32];
  for (int i = 0; i < 32; ++i) seed[i] = static_cast<uint8_t>(i);
  auto a = crypto::SigningKeyPair::FromSeed(seed).value();
  auto north = crypto::SecretBytes(32);
  std::memset(north.data(), 0x4b, 32);
  RecordId id;
  id.bytes.fill(0x11);
  crypto::Hash prev{};
  const auto ops = SampleOps();
  for (int i = 0; i < 4; ++i) {
    feed::DeltaHeader h;
    h.author = a.public_key;
    h.seq = static_cast<uint64_t>(i + 1);
    h.prev = prev;
    h.scope = i % 2 ? "agency/north" : std::string(40, 's');
    h.epoch = static_cast<uint32_t>(i);
    h.hlc_min = 1;
    h.hlc_max = uint64_t{1} << (8 * i);
    h.op_count = 1;
    std::vector<crdt::RecordOps> recs(1);
    recs[0].collection = "item";
    recs[0].id = id;
    recs[0].ops = {ops[static_cast<size_t>(i) % ops.size()]};
    crypto::Nonce nonce{};
    nonce[23] = static_cast<uint8_t>(i + 1);
    auto d = feed::SealDelta(h, codec::EncodePayload(recs), north, a, &nonce).value();
    prev = feed::ParseDelta(d).value().hash;
    Put("delta", "parse" + std::to_string(i), Prefixed(0, d));
  }
  // A version-2 (zstd) delta, and zstd frames of payloads (zstd mode).
  {
    std::vector<crdt::RecordOps> recs(1);
    recs[0].collection = "item";
    recs[0].id = id;
    recs[0].ops = ops;
    const Bytes payload = codec::EncodePayload(recs);
    feed::DeltaHeader h;
    h.author = a.public_key;
    h.seq = 1;
    h.scope = "agency/north";
    h.hlc_min = 1;
    h.hlc_max = uint64_t{1} << 40;
    h.op_count = static_cast<uint32_t>(ops.size());
    crypto::Nonce nonce{};
    auto d = feed::SealDelta(h, payload, north, a, &nonce, feed::Compression::kZstd).value();
    Put("delta", "parse_zstd", Prefixed(0, d));
    Put("delta", "zstd_payload", Prefixed(2, feed::CompressPayload(payload).value()));
    Put("delta", "zstd_small", Prefixed(2, feed::CompressPayload(Bytes{0x90}).value()));
    Put("delta", "zstd_repeat", Prefixed(2, feed::CompressPayload(Bytes(5000, 'x')).value()));
    // Versions 3 and 4 (detachable), and their stubs.
    auto v3 = feed::SealDelta(h, payload, north, a, &nonce, feed::Compression::kNone, feed::Layout::kDetachable).value();
    auto v4 = feed::SealDelta(h, payload, north, a, &nonce, feed::Compression::kZstd, feed::Layout::kDetachable).value();
    Put("delta", "parse_v3", Prefixed(0, v3));
    Put("delta", "parse_v4", Prefixed(0, v4));
    Put("delta", "parse_stub_v3", Prefixed(0, feed::MakeStub(feed::ParseDelta(v3).value()).value()));
    Put("delta", "parse_stub_v4", Prefixed(0, feed::MakeStub(feed::ParseDelta(v4).value()).value()));
    // Versions 5 and 6 (lanes), and their stubs: seq 2 of a lane, other scope.
    h.seq = 2;
    h.prev = feed::ParseDelta(v3).value().hash;
    h.scope = "child_care/城厢镇";
    auto v5 = feed::SealDelta(h, payload, north, a, &nonce, feed::Compression::kNone, feed::Layout::kLane).value();
    auto v6 = feed::SealDelta(h, payload, north, a, &nonce, feed::Compression::kZstd, feed::Layout::kLane).value();
    Put("delta", "parse_v5", Prefixed(0, v5));
    Put("delta", "parse_v6", Prefixed(0, v6));
    Put("delta", "parse_stub_v5", Prefixed(0, feed::MakeStub(feed::ParseDelta(v5).value()).value()));
    Put("delta", "parse_stub_v6", Prefixed(0, feed::MakeStub(feed::ParseDelta(v6).value()).value()));
    // Seal mode asking for the lane layout (delta.cpp, SealMode: the mode
    // byte's bits 7 and 6), compression auto / none / zstd, this payload.
    for (uint8_t c = 0; c < 3; ++c) {
      Bytes b = {1,  0, 2,  0,  1,  0, 0, 0, 1,  0, 0, 1, 0, 0, 0, 0, 0,  1, 5,  1};  // seq 2, hlc +5, 1 op
      b.insert(b.end(), 24, static_cast<uint8_t>(0x50 + c));                      // nonce
      const uint8_t tail[] = {0, 0, 0, 9, 0x21, 0, 0, 0, 50, static_cast<uint8_t>(0xc0 | c)};
      b.insert(b.end(), std::begin(tail), std::end(tail));  // mutate_at, xor, cut, mode
      b.insert(b.end(), payload.begin(), payload.end());
      const char* names[] = {"seal_lane_auto", "seal_lane_none", "seal_lane_zstd"};
      Put("delta", names[c], b);
    }
  }
  std::mt19937_64 rng(11);
  for (int i = 0; i < 8; ++i) {
    Bytes b(40 + i * 20);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    b[0] = 1;  // seal mode
    Put("delta", "seal" + std::to_string(i), b);
  }
  for (int i = 0; i < 4; ++i) {  // seal mode, detachable layout (mode byte at offset 1+..)
    Bytes b(60 + i * 20);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    b[0] = 1;
    Put("delta", "seal_v3_" + std::to_string(i), b);
  }

}

void Wire() {
  using namespace hearth::sync;
  std::vector<uint8_t> k32(32, 0xaa), n32(32, 0x4e), r32(32, 0x70), s64(64, 0x51);
  auto put = [&](const char* name, Writer& w) {
    Bytes b = w.Take();
    Put("sync_wire", name, b);
  };
  {
    Writer w(kHello);
    w.Array(8).Uint(1).Bin(k32).Bin(r32).Uint(3).Bin(n32).Uint(16 << 20).Uint(4 << 20).Nil();
    put("hello_initiator", w);
  }
  {
    Writer w(kHello);
    w.Array(8).Uint(1).Bin(k32).Nil().Uint(0).Bin(n32).Uint(16 << 20).Uint(4 << 20).Bin(s64);
    put("hello_responder", w);
  }
  { Writer w(kProof); w.Array(1).Bin(s64); put("proof", w); }
  { Writer w(kSummary); w.Array(2).Bin(k32).Uint(1000); put("summary", w); }
  {
    Writer w(kRanges);
    w.Array(16);
    for (int i = 0; i < 16; ++i) w.Array(2).Bin(k32).Uint(static_cast<uint64_t>(i) * 40);
    put("ranges", w);
  }
  {  // first RECON round 1: 8 child fingerprints of 8 bytes; round 4: item hashes
    Writer w(kRecon);
    w.Array(3).Uint(1).Uint(0).Bin(Bytes(64, 0xf1));
    put("recon_fps", w);
    Writer w2(kRecon);
    w2.Array(3).Uint(4).Uint(1).Bin(Bytes(24, 0x1e));
    put("recon_items", w2);
    Writer w3(kRecon);  // compact RECON: 6-byte fingerprints (mode 3) and items (mode 4)
    w3.Array(3).Uint(1).Uint(3).Bin(Bytes(48, 0xf1));
    put("recon_fps_compact", w3);
    Writer w4(kRecon);
    w4.Array(3).Uint(4).Uint(4).Bin(Bytes(18, 0x1e));
    put("recon_items_compact", w4);
  }
  { Writer w(kHeads); w.Array(3).Uint(0).Bool(true).Array(2).Array(2).Bin(k32).Uint(42).Array(2).Bin(n32).Uint(70000); put("heads", w); }
  { Writer w(kDeltas); Bytes d{1, 0x98, 0, 0}; w.Array(2).Uint(7).Array(2).Bin(d).Bin(Bytes(300, 7)); put("deltas", w); }
  { Writer w(kCredit); w.Array(1).Uint(70000); put("credit", w); }
  { Writer w(kHeartbeat); w.Array(3).Uint(7).Uint(70000).Bool(true); put("heartbeat", w); }
  { Writer w(kError); w.Array(2).Uint(6).Str("bad proof"); put("error", w); }
  { Writer w(kBye); w.Array(0); put("bye", w); }
  { Writer w(0x1f); w.Array(3).Nil().Str(std::string(40, 'z')).Array(1).Uint(uint64_t{1} << 40); put("unknown_type", w); }
}

void Session() {
  // Scripts: flags, then steps (0 relay, 1 raw, 2 mutate, 3 drop, 4 tick, 5 inject).
  Put("sync_session", "relay_initiator", Bytes{0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  Put("sync_session", "relay_responder", Bytes{0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  // 0x08: the pair sharing 80 more authors (RECON rounds); 0x04: A without RECON
  // (0x10: max_faults 1, so that it tolerates the RECON it does not know).
  Put("sync_session", "recon_initiator", Bytes{0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  Put("sync_session", "recon_responder", Bytes{0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  Put("sync_session", "recon_old_peer", Bytes{0x1d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  Put("sync_session", "small_window", Bytes{0x03, 0, 0, 0, 0, 0, 0, 4, 0x10, 0, 0, 0, 0, 0});
  Put("sync_session", "mutate", Bytes{0x01, 0, 2, 0, 9, 0x40, 0, 0, 0, 0});
  Put("sync_session", "drop", Bytes{0x21, 0, 0, 3, 0, 0, 4, 0x80, 0, 0, 0, 4, 0xff, 0xff, 1});
  Put("sync_session", "inject", Bytes{0x01, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 5, 2, 1, 1, 0, 30, 0x08, 5, 9, 2, 0});
  Bytes raw{0x11, 0, 0, 0, 1, 0, 4, 0x17, 0x90, 0x14, 0x91};
  Put("sync_session", "raw", raw);
}

void BundleSeeds() {
  auto src = fuzz::OpenReplica("seed_src");
  // No key is made implicitly without a root.
  for (const char* s : {"test.a", "test.b"}) FUZZ_CHECK(src->CreateScopeKey(s).ok());
  for (int i = 0; i < 3; ++i) {
    auto c = src->Write([&](WriteBatch& w) {
      w.Set("item", RecordId::Generate(), "title", "b" + std::to_string(i));
      w.Set("other", RecordId::Generate(), "name", "o");
    });
    if (!c.ok()) std::abort();
  }
  const std::string p1 = fuzz::TempDir().Sub("full.bundle");
  if (!ExportBundle(*src, {}, p1).ok()) std::abort();
  const std::string full = fuzz::ReadFile(p1);
  Bytes fb(full.begin(), full.end());
  Put("bundle", "full", Prefixed(0, fb));
  // Mode 1: without the trailer (44 bytes), the harness adds it.
  Put("bundle", "full_notrailer", Prefixed(1, std::span<const uint8_t>(fb).first(fb.size() - 44)));
  // Since the first delta of each author: a partial bundle.
  Heads since = src->GetHeads().value();
  for (auto& [a, h] : since) h.seq = 1;
  const std::string p2 = fuzz::TempDir().Sub("part.bundle");
  if (!ExportBundle(*src, since, p2).ok()) std::abort();
  const std::string part = fuzz::ReadFile(p2);
  Put("bundle", "partial", Prefixed(0, Bytes(part.begin(), part.end())));
  // Mode 3: empty preamble, real deltas appended by the harness.
  Bytes pre{'H', 'R', 'T', 'H', 'B', 'N', 'D', 'L', 1, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes m3{3, 0x05};
  m3.insert(m3.end(), pre.begin(), pre.end());
  Put("bundle", "harness_deltas", m3);
  Bytes m3b{3, 0x86};
  m3b.insert(m3b.end(), pre.begin(), pre.end());
  Put("bundle", "harness_deltas_changed", m3b);
}

void Toml() {
  const std::string src = HEARTH_SOURCE_DIR;
  PutText("schema_toml", "test_schema.toml", fuzz::ReadFile(src + "/tests/data/test_schema.toml"));
  PutText("schema_toml", "demo_schema.toml", fuzz::ReadFile(src + "/examples/demo_schema.toml"));
  PutText("schema_toml", "canonical.toml", fuzz::TestSchema().ToToml());
  PutText("policy_toml", "county.toml", fuzz::ReadFile(src + "/policies/county.toml"));
  auto pol = Policy::Parse(fuzz::ReadFile(src + "/policies/county.toml"));
  if (pol.ok()) PutText("policy_toml", "canonical.toml", pol->ToToml());
  PutText("hearthd_config", "township_relay.toml", fuzz::ReadFile(src + "/examples/township_relay.toml"));
  PutText("hearthd_config", "full.toml",
          "replica = \"/var/lib/hearth/town\"\n"
          "listen = \"tcp://127.0.0.1:7400\"\n"
          "log_level = \"info\"\n"
          "passphrase_env = \"HEARTH_PASSPHRASE\"\n"
          "unencrypted_identity = false\n"
          "metrics = \"127.0.0.1:9400\"\n\n"
          "[[peers]]\n"
          "endpoint = \"tcp://127.0.0.1:7401\"\n"
          "key = \"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\"\n"  // a valid Ed25519 public key (RFC 8032, test 1)
          "name = \"county office\"\n\n"
          "[sync]\n"
          "max_message_bytes = 4194304\nidle_timeout_ms = 30000\nheartbeat_ms = 5000\n"
          "tick_ms = 100\nheads_poll_ms = 200\n");
  PutText("hearthd_config", "minimal.toml", "replica = \"r\"\nlisten = [\"ipc:///tmp/h\", \"tcp://*:7400\"]\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  if (!crypto::Init().ok()) return 1;
  Codec();
  Crdt();
  Delta();
  Wire();
  Session();
  BundleSeeds();
  Toml();
  std::printf("wrote %d seed files under %s\n", g_written, g_root.c_str());
  return 0;
}
