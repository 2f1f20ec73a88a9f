// hearth_bench: throughput of local commits and remote apply, with raw
// baselines (LMDB put loop, Ed25519 verify, AEAD, BLAKE2b) measured in the
// same run so that ratios stay meaningful on a noisy machine.
//
//   hearth_bench [--quick] [--records N] [--json] [--dir D] [--only LIST]
//
// --quick      small sizes and short time caps (CI smoke test, < 15 s)
// --records N  records of the apply benchmark (default 100000; 8 ops each)
// --batch N    deltas per Replica::ApplyBatch call (default 8)
// --json       print JSON instead of the human table
// --dir D      where to create the temporary replicas (default $TMPDIR or /tmp)
// --only LIST  comma-separated subset of: commit,apply,raw,crypto
//
// What each figure means: docs/benchmarks.md. Exit status 1 when a result is
// wrong (a delta not applied, digests differ), never because of speed.
#include <lmdb.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "codec/codec.hpp"
#include "crypto/crypto.hpp"
#include "feed/delta.hpp"
#include "bench_common.hpp"
#include "hearth/replica.hpp"
#include "hearth/inspect.hpp"
#include "hearth/schema.hpp"

#ifndef HEARTH_BENCH_SCHEMA
#define HEARTH_BENCH_SCHEMA "bench/bench_schema.toml"
#endif
#ifndef HEARTH_BENCH_BUILD_TYPE
#define HEARTH_BENCH_BUILD_TYPE "unknown"
#endif

namespace {

using namespace hearth;
using namespace hearth::bench;




// ------------------------------------------------------------------ options

struct Options {
  bool quick = false;
  bool json = false;
  uint64_t records = 100000;
  bool records_set = false;
  uint64_t batch = 8;  // deltas per ApplyBatch call
  std::string dir;
  bool commit = true, apply = true, raw = true, crypto = true;
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--quick") {
      o.quick = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--records") {
      o.records = std::strtoull(next().c_str(), nullptr, 10);
      o.records_set = true;
      if (o.records == 0) Die("--records must be > 0");
    } else if (a == "--batch") {
      o.batch = std::strtoull(next().c_str(), nullptr, 10);
      if (o.batch == 0) Die("--batch must be > 0");
    } else if (a == "--dir") {
      o.dir = next();
    } else if (a == "--only") {
      std::string list = next();
      o.commit = list.find("commit") != std::string::npos;
      o.apply = list.find("apply") != std::string::npos;
      o.raw = list.find("raw") != std::string::npos;
      o.crypto = list.find("crypto") != std::string::npos;
    } else if (a == "-h" || a == "--help") {
      std::puts(
          "usage: hearth_bench [--quick] [--records N] [--batch N] [--json] [--dir D] "
          "[--only commit,apply,raw,crypto]");
      std::exit(0);
    } else {
      Die("unknown option " + a + " (try --help)");
    }
  }
  if (o.quick && !o.records_set) o.records = 2000;
  if (o.dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    o.dir = t && *t ? t : "/tmp";
  }
  return o;
}

// ------------------------------------------------------------------ machine



// kB from a "Key:   123 kB" line of /proc/self/status; -1 if unavailable.

long MaxRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Measures the peak RSS of one phase: VmHWM after resetting it at the start
// (method "VmHWM"), or, when the reset is not allowed, the process-wide
// ru_maxrss (method "ru_maxrss", an upper bound that includes earlier phases).
struct RssProbe {
  long start_kb = 0;
  bool reset = false;
  void Start() {
    reset = ResetPeakRss();
    start_kb = StatusKb(0, "VmRSS:");
  }
  long PeakKb() const { return reset ? StatusKb(0, "VmHWM:") : MaxRssKb(); }
  const char* Method() const { return reset ? "VmHWM (reset per phase)" : "ru_maxrss (whole process)"; }
};

// ------------------------------------------------------------------ temp dirs


struct TempDir {
  std::string path;
  TempDir(const std::string& base, const char* tag) : path(MakeTempDir(base, tag)) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

uint64_t DirBytes(const std::string& dir) {
  std::error_code ec;
  uint64_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  }
  return n;
}

// ------------------------------------------------------------------ workload





// ------------------------------------------------------------------ results

struct CommitFig {
  std::string mode;
  uint64_t ops_per_txn = 0;
  uint64_t txns = 0;
  double seconds = 0;
  double ops_per_s() const { return seconds > 0 ? double(txns * ops_per_txn) / seconds : 0; }
  double txn_per_s() const { return seconds > 0 ? double(txns) / seconds : 0; }
};

struct ApplyFig {
  std::string mode;
  std::string api;  // "Apply" (one write txn per delta) or "Batch/N" (ApplyBatch, N deltas per txn)
  uint64_t deltas = 0, ops = 0;
  uint64_t records_per_txn = 0;  // records written per write transaction
  double seconds = 0;
  long rss_start_kb = 0, rss_peak_kb = 0;
  double ops_per_s() const { return seconds > 0 ? double(ops) / seconds : 0; }
};

struct RawFig {
  std::string mode;
  uint64_t records = 0, txns = 0, value_bytes = 0, per_txn = 0;
  double seconds = 0;
  double puts_per_s() const { return seconds > 0 ? double(records) / seconds : 0; }
};

struct RateFig {
  std::string name;
  std::string unit;
  double value = 0;
};

struct Report {
  Options opts;
  std::string date, cpu, build_type, compiler, rss_method;
  unsigned nproc = 0;
  std::vector<CommitFig> commits;
  double gen_seconds = 0;  // building the apply data set on A (1000-op commits, no sync)
  uint64_t gen_deltas = 0, gen_ops = 0, delta_bytes = 0;
  uint64_t payload_bytes = 0, v2_deltas = 0;  // decompressed payloads; deltas of version 2 (zstd)
  std::vector<ApplyFig> applies;
  std::vector<RateFig> breakdown;  // seconds per stage over all deltas
  uint64_t state_bytes = 0, state_records = 0, replica_bytes = 0;
  std::vector<RawFig> raws;
  std::vector<RateFig> crypto;
  std::vector<std::string> notes;
};

// ------------------------------------------------------------------ 1. commits

CommitFig BenchCommit(const Options& o, Durability d, uint64_t ops_per_txn) {
  TempDir td(o.dir, "commit");
  auto r = OpenReplica(td.path, d);
  const double cap_s = o.quick ? 0.25 : 2.0;
  uint64_t max_txns = 0;
  if (ops_per_txn == 1) max_txns = o.quick ? 500 : 50000;
  else if (ops_per_txn == 100) max_txns = o.quick ? 50 : 5000;
  else max_txns = o.quick ? 2 : 200;
  if (o.quick && ops_per_txn >= 10000) ops_per_txn = 2000;  // keep the smoke run short

  std::mt19937_64 rng(42);
  CommitFig f;
  f.mode = d == Durability::kSync ? "sync" : "nosync";
  f.ops_per_txn = ops_per_txn;
  uint64_t rec = 0;
  int k = 0;
  RecordId id = RecordId::Generate();
  WriteBatch b;
  auto t0 = Clock::now();
  while (f.txns < max_txns && (f.txns == 0 || Since(t0) < cap_s)) {
    b.Clear();
    for (uint64_t j = 0; j < ops_per_txn; ++j) {
      AddOp(b, id, rec, k, rng);
      if (++k == kFieldsPerRecord) {
        k = 0;
        ++rec;
        id = RecordId::Generate();
      }
    }
    auto info = Check(r->Commit(b), "commit");
    if (info.op_count != ops_per_txn) Die("commit wrote fewer ops than asked");
    ++f.txns;
  }
  f.seconds = Since(t0);
  return f;
}

// ------------------------------------------------------------------ 2. apply

struct ApplyData {
  std::vector<Bytes> deltas;
  Bytes keyring;
  Hash32 digest{};
  uint64_t ops = 0;
};

ApplyData BuildApplyData(const Options& o, Report& rep) {
  TempDir td(o.dir, "source");
  auto a = OpenReplica(td.path, Durability::kNoSync);
  std::mt19937_64 rng(7);
  const uint64_t per_txn = 1000 / kFieldsPerRecord;  // 125 records = 1000 ops = one delta
  WriteBatch b;
  auto t0 = Clock::now();
  uint64_t ops = 0;
  for (uint64_t i = 0; i < o.records;) {
    b.Clear();
    for (uint64_t j = 0; j < per_txn && i < o.records; ++j, ++i) {
      RecordId id = RecordId::Generate();
      for (int k = 0; k < kFieldsPerRecord; ++k) AddOp(b, id, i, k, rng);
    }
    ops += Check(a->Commit(b), "building apply data").op_count;
  }
  rep.gen_seconds = Since(t0);
  ApplyData out;
  out.deltas = Check(a->DeltasSince({}), "DeltasSince");
  out.keyring = Check(a->ExportKeyring(), "ExportKeyring");
  out.digest = Check(a->Digest(), "digest of A");
  out.ops = ops;
  rep.gen_ops = ops;
  rep.gen_deltas = out.deltas.size();
  for (const Bytes& d : out.deltas) rep.delta_bytes += d.size();
  return out;
}

ApplyFig BenchApply(const Options& o, const ApplyData& data, Durability d, uint64_t batch,
                    Report& rep, bool measure_state) {
  TempDir td(o.dir, "apply");
  ApplyFig f;
  f.mode = d == Durability::kSync ? "sync" : "nosync";
  f.api = batch == 0 ? "Apply" : "Batch/" + std::to_string(batch);
  f.records_per_txn = (1000 / kFieldsPerRecord) * std::max<uint64_t>(batch, 1);
  {
    auto b = OpenReplica(td.path, d);
    Check(b->ImportKeyring(data.keyring), "ImportKeyring");
    RssProbe rss;
    rss.Start();
    rep.rss_method = rss.Method();
    auto t0 = Clock::now();
    auto check = [](const ApplyResult& r) {
      if (r.outcome != ApplyOutcome::kApplied) {
        Die("delta not applied: " + std::string(ApplyOutcomeName(r.outcome)));
      }
    };
    if (batch == 0) {
      for (const Bytes& delta : data.deltas) check(Check(b->Apply(delta), "Apply"));
    } else {
      std::span<const Bytes> all(data.deltas);
      for (size_t i = 0; i < all.size(); i += batch) {
        auto part = all.subspan(i, std::min<size_t>(batch, all.size() - i));
        auto batch = b->ApplyBatch(part);
        Check(batch.error, "ApplyBatch");
        const auto& rs = batch.results;
        if (rs.size() != part.size()) Die("ApplyBatch returned the wrong number of results");
        for (const ApplyResult& r : rs) check(r);
      }
    }
    f.seconds = Since(t0);
    f.rss_start_kb = rss.start_kb;
    f.rss_peak_kb = rss.PeakKb();
    f.deltas = data.deltas.size();
    f.ops = data.ops;
    if (Check(b->Digest(), "digest of B") != data.digest) Die("B's digest differs from A's after apply");
    if (measure_state) {
      rep.state_records = inspect::Stats(*b).value().records;
    }
  }
  if (measure_state) {
    rep.replica_bytes = DirBytes(td.path);
    // Average stored record size, read with LMDB directly once B is closed.
    MDB_env* env = nullptr;
    if (mdb_env_create(&env) == 0) {
      mdb_env_set_maxdbs(env, 16);
      if (mdb_env_open(env, td.path.c_str(), MDB_RDONLY | MDB_NOTLS, 0600) == 0) {
        MDB_txn* txn = nullptr;
        MDB_dbi dbi;
        if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0) {
          if (mdb_dbi_open(txn, "state", 0, &dbi) == 0) {
            MDB_cursor* c = nullptr;
            mdb_cursor_open(txn, dbi, &c);
            MDB_val k, v;
            for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
                 rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
              rep.state_bytes += v.mv_size;
            }
            mdb_cursor_close(c);
          }
          mdb_txn_abort(txn);
        }
      }
      mdb_env_close(env);
    }
  }
  return f;
}

// Time of each stage of Apply that does not touch storage, over all deltas:
// shows how much of the apply time is crypto and decoding.
void BenchBreakdown(const ApplyData& data, Report& rep) {
  // Keyring: 0x01 | count u32 | { scope_len u8 | scope | epoch u32 | key[32] }*
  const Bytes& kr = data.keyring;
  if (kr.size() < 5 + 1 + 4 + 32) return;
  size_t n = kr[5];
  if (kr.size() < 6 + n + 4 + 32) return;
  auto key = crypto::SecretBytes::Copy(std::span<const uint8_t>(kr.data() + 6 + n + 4, 32));

  double parse_s = 0, verify_s = 0, open_s = 0, decode_s = 0, state_s = 0;
  double unzstd_s = 0, zstd_s = 0;
  rep.payload_bytes = rep.v2_deltas = 0;
  std::vector<std::vector<crdt::RecordOps>> decoded;
  for (const Bytes& d : data.deltas) {
    auto t0 = Clock::now();
    auto p = Check(feed::ParseDelta(d, UINT64_MAX), "ParseDelta");
    parse_s += Since(t0);
    t0 = Clock::now();
    Check(feed::VerifyDelta(p), "VerifyDelta");
    verify_s += Since(t0);
    t0 = Clock::now();
    auto plain = Check(feed::OpenDelta(p, key), "OpenDelta");
    open_s += Since(t0);
    rep.payload_bytes += plain.size();
    // The zstd share of OpenDelta (version 2), and what compressing the
    // payload costs the writer (part of each commit).
    if (p.version == feed::kDeltaFormatV2) {
      ++rep.v2_deltas;
      auto frame = Check(crypto::AeadDecrypt(key, p.nonce, p.ciphertext, p.associated_data), "AeadDecrypt");
      t0 = Clock::now();
      Check(feed::DecompressPayload(frame, feed::kMaxCompressedPayloadBytes), "DecompressPayload");
      unzstd_s += Since(t0);
    }
    t0 = Clock::now();
    Check(feed::CompressPayload(plain), "CompressPayload");
    zstd_s += Since(t0);
    t0 = Clock::now();
    auto recs = Check(codec::DecodePayload(plain), "DecodePayload");
    decode_s += Since(t0);
    // Materialising and encoding each record's state once (what Flush does
    // for a new record), plus decoding it back (what Load does when it is
    // touched again).
    t0 = Clock::now();
    for (const crdt::RecordOps& r : recs) {
      crdt::RecordState st;
      st.collection = r.collection;
      st.id = r.id;
      for (const crdt::Op& op : r.ops) st.Apply(op, p.header.author);
      Bytes enc = codec::EncodeRecordState(st);
      auto back = codec::DecodeRecordState(enc);
      if (!back.ok()) Die("DecodeRecordState: " + back.status().ToString());
    }
    state_s += Since(t0);
  }
  rep.breakdown = {{"parse+hash (ParseDelta)", "s", parse_s},
                   {"verify (Ed25519)", "s", verify_s},
                   {"decrypt + decompress (OpenDelta)", "s", open_s},
                   {"zstd decompress (part of OpenDelta)", "s", unzstd_s},
                   {"decode payload", "s", decode_s},
                   {"crdt apply + encode + decode state", "s", state_s},
                   {"zstd compress (writer, in Commit)", "s", zstd_s}};
}

// ------------------------------------------------------------------ 3. raw LMDB

RawFig BenchRawLmdb(const Options& o, bool sync, uint64_t records, uint64_t per_txn) {
  TempDir td(o.dir, "raw");
  RawFig f;
  f.mode = sync ? "sync" : "nosync";
  f.records = records;
  f.value_bytes = 200;
  f.per_txn = per_txn;

  // Keys like state keys: collection || 0x00 || time-ordered 16-byte id.
  std::vector<std::string> keys(records);
  std::vector<std::string> vals(records);
  std::mt19937_64 rng(3);
  for (uint64_t i = 0; i < records; ++i) {
    RecordId id = RecordId::Generate();
    keys[i] = std::string(kColl) + '\0' + std::string(reinterpret_cast<const char*>(id.bytes.data()), 16);
    vals[i].resize(f.value_bytes);
    for (char& c : vals[i]) c = static_cast<char>(rng());
  }

  MDB_env* env = nullptr;
  auto ck = [](int rc, const char* what) {
    if (rc != 0) Die(std::string("raw lmdb ") + what + ": " + mdb_strerror(rc));
  };
  ck(mdb_env_create(&env), "env_create");
  ck(mdb_env_set_mapsize(env, uint64_t{1} << 30), "set_mapsize");
  ck(mdb_env_set_maxdbs(env, 4), "set_maxdbs");
  ck(mdb_env_open(env, td.path.c_str(), MDB_NOTLS | (sync ? 0 : MDB_NOSYNC), 0600), "env_open");
  MDB_dbi dbi;
  {
    MDB_txn* t;
    ck(mdb_txn_begin(env, nullptr, 0, &t), "txn_begin");
    ck(mdb_dbi_open(t, "state", MDB_CREATE, &dbi), "dbi_open");
    ck(mdb_txn_commit(t), "commit");
  }
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < records;) {
    MDB_txn* t;
    ck(mdb_txn_begin(env, nullptr, 0, &t), "txn_begin");
    for (uint64_t j = 0; j < per_txn && i < records; ++j, ++i) {
      MDB_val k{keys[i].size(), keys[i].data()}, v{vals[i].size(), vals[i].data()};
      ck(mdb_put(t, dbi, &k, &v, 0), "put");
    }
    ck(mdb_txn_commit(t), "commit");
    ++f.txns;
  }
  f.seconds = Since(t0);
  mdb_env_close(env);
  return f;
}

// ------------------------------------------------------------------ crypto

template <typename F>
double RatePerSecond(double cap_s, uint64_t max_iter, F&& fn) {
  uint64_t n = 0;
  auto t0 = Clock::now();
  while (n < max_iter && (n == 0 || Since(t0) < cap_s)) {
    for (int i = 0; i < 16; ++i) fn();
    n += 16;
  }
  return double(n) / Since(t0);
}

void BenchCrypto(const Options& o, Report& rep) {
  const double cap = o.quick ? 0.1 : 1.0;
  auto kp = crypto::SigningKeyPair::Generate();
  Bytes msg(1024);
  crypto::RandomBytes(msg);
  auto sig = crypto::Sign(kp.secret_key, msg);
  double verify = RatePerSecond(cap, 1u << 30, [&] {
    if (!crypto::Verify(kp.public_key, msg, sig)) Die("Verify failed");
  });
  double sign = RatePerSecond(cap, 1u << 30, [&] { sig = crypto::Sign(kp.secret_key, msg); });

  Bytes big(64 * 1024);
  crypto::RandomBytes(big);
  auto key = crypto::RandomAeadKey();
  auto nonce = crypto::RandomNonce();
  Bytes ad(64, 1);
  Bytes ct = crypto::AeadEncrypt(key, nonce, big, ad);
  double dec = RatePerSecond(cap, 1u << 30, [&] {
    auto p = crypto::AeadDecrypt(key, nonce, ct, ad);
    if (!p.ok()) Die("AeadDecrypt failed");
  });
  double hash = RatePerSecond(cap, 1u << 30, [&] {
    auto h = crypto::HashBytes(big);
    (void)h;
  });
  const double mb = double(big.size()) / 1e6;
  rep.crypto = {{"Ed25519 verify, 1 KiB", "verify/s", verify},
                {"Ed25519 sign, 1 KiB", "sign/s", sign},
                {"XChaCha20-Poly1305 decrypt, 64 KiB", "MB/s", dec * mb},
                {"BLAKE2b-256, 64 KiB", "MB/s", hash * mb}};
}

// ------------------------------------------------------------------ output

std::string Fmt(double v, int prec = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  // thousands separators for the integer part
  std::string_view s = buf;
  size_t start = s[0] == '-' ? 1 : 0;
  size_t end = std::min(s.find('.'), s.size());
  std::string out(s.substr(0, start));
  for (size_t i = start; i < end; ++i) {
    out += s[i];
    size_t left = end - i - 1;
    if (left > 0 && left % 3 == 0) out += ',';
  }
  out += s.substr(end);
  return out;
}

// The raw LMDB run matching an apply run: same durability, same records per txn.
const RawFig* FindRaw(const Report& r, const ApplyFig& a) {
  for (const auto& f : r.raws)
    if (f.mode == a.mode && f.per_txn == a.records_per_txn) return &f;
  return nullptr;
}

void PrintHuman(const Report& r) {
  std::printf("Hearth benchmark (%s)\n", r.opts.quick ? "--quick: smoke sizes, figures not meaningful" : "full");
  std::printf("  date        %s\n", r.date.c_str());
  std::printf("  machine     %u CPUs, %s\n", r.nproc, r.cpu.c_str());
  std::printf("  build       %s, %s\n", r.build_type.c_str(), r.compiler.c_str());
  std::printf("  replica dir %s\n\n", r.opts.dir.c_str());

  if (!r.commits.empty()) {
    std::printf("1. Local commit (Replica::Commit; schema bench/bench_schema.toml)\n");
    std::printf("   %-8s %10s %8s %9s %12s %12s\n", "mode", "ops/txn", "txns", "seconds", "txn/s",
                "field-ops/s");
    for (const auto& f : r.commits) {
      std::printf("   %-8s %10s %8s %9.3f %12s %12s\n", f.mode.c_str(), Fmt(double(f.ops_per_txn)).c_str(),
                  Fmt(double(f.txns)).c_str(), f.seconds, Fmt(f.txn_per_s(), 1).c_str(),
                  Fmt(f.ops_per_s()).c_str());
    }
    std::printf("\n");
  }
  if (!r.applies.empty()) {
    std::printf("2. Remote apply: %s records x 8 fields = %s ops in %s deltas (%.1f MB, %.0f B/delta)\n",
                Fmt(double(r.opts.records)).c_str(), Fmt(double(r.gen_ops)).c_str(),
                Fmt(double(r.gen_deltas)).c_str(), double(r.delta_bytes) / 1e6,
                r.gen_deltas ? double(r.delta_bytes) / double(r.gen_deltas) : 0.0);
    if (r.payload_bytes) {
      std::printf("   payloads %.1f MB (%.1f B/op) before compression; %s of %s deltas are version 2 (zstd)\n",
                  double(r.payload_bytes) / 1e6, r.gen_ops ? double(r.payload_bytes) / double(r.gen_ops) : 0.0,
                  Fmt(double(r.v2_deltas)).c_str(), Fmt(double(r.gen_deltas)).c_str());
    }
    std::printf("   building them on A (1000-op commits, nosync): %.3f s = %s ops/s\n", r.gen_seconds,
                Fmt(r.gen_seconds > 0 ? double(r.gen_ops) / r.gen_seconds : 0).c_str());
    std::printf("   %-8s %-9s %9s %12s %10s %12s %12s %10s\n", "B mode", "api", "seconds", "ops/s", "deltas/s",
                "RSS start", "RSS peak", "target");
    for (const auto& f : r.applies) {
      double target = f.mode == "sync" ? 150000 : 400000;
      std::printf("   %-8s %-9s %9.3f %12s %10s %9.1f MB %9.1f MB %10s\n", f.mode.c_str(), f.api.c_str(),
                  f.seconds, Fmt(f.ops_per_s()).c_str(), Fmt(double(f.deltas) / f.seconds, 1).c_str(),
                  f.rss_start_kb / 1024.0, f.rss_peak_kb / 1024.0,
                  (f.ops_per_s() >= target ? "met" : "MISSED"));
    }
    std::printf("   targets: nosync >= 400,000 ops/s, sync >= 150,000 ops/s; RSS: %s\n", r.rss_method.c_str());
    if (r.state_records) {
      std::printf("   B holds %s records, avg stored state %.0f B; replica dir %.1f MB\n",
                  Fmt(double(r.state_records)).c_str(), double(r.state_bytes) / double(r.state_records),
                  double(r.replica_bytes) / 1e6);
    }
    if (!r.breakdown.empty()) {
      std::printf("   CPU-only stages over all %s deltas (outside any transaction):\n",
                  Fmt(double(r.gen_deltas)).c_str());
      for (const auto& b : r.breakdown) std::printf("     %-38s %8.3f s\n", b.name.c_str(), b.value);
    }
    std::printf("\n");
  }
  if (!r.raws.empty()) {
    std::printf("3. Raw baselines\n");
    std::printf("   LMDB put loop: %s records, %s-byte values, keys like state keys (16-byte time-ordered ids)\n",
                Fmt(double(r.raws[0].records)).c_str(), Fmt(double(r.raws[0].value_bytes)).c_str());
    std::printf("   %-8s %8s %8s %9s %12s\n", "mode", "puts/txn", "txns", "seconds", "puts/s");
    for (const auto& f : r.raws) {
      std::printf("   %-8s %8s %8s %9.3f %12s\n", f.mode.c_str(), Fmt(double(f.per_txn)).c_str(),
                  Fmt(double(f.txns)).c_str(), f.seconds, Fmt(f.puts_per_s()).c_str());
    }
    std::printf("   ratio = apply time / raw LMDB time with the same durability and records per txn:\n");
    for (const auto& a : r.applies) {
      const RawFig* raw = FindRaw(r, a);
      if (raw == nullptr || raw->seconds <= 0) continue;
      std::printf("   apply %-6s %-9s vs raw %-6s %5s/txn: %5.1fx  (apply %s records/s = %s ops/s; raw %s puts/s)\n",
                  a.mode.c_str(), a.api.c_str(), raw->mode.c_str(), Fmt(double(raw->per_txn)).c_str(),
                  a.seconds / raw->seconds, Fmt(double(r.opts.records) / a.seconds).c_str(),
                  Fmt(a.ops_per_s()).c_str(), Fmt(raw->puts_per_s()).c_str());
    }
  }
  if (!r.crypto.empty()) {
    std::printf("   crypto (libsodium, one thread):\n");
    for (const auto& c : r.crypto) std::printf("   %-38s %12s %s\n", c.name.c_str(), Fmt(c.value, 1).c_str(), c.unit.c_str());
  }
  std::printf("\n");
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
}

std::string JStr(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else o += c;
  }
  return o + "\"";
}

std::string JNum(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

void PrintJson(const Report& r) {
  std::ostringstream o;
  o << "{\n  \"quick\": " << (r.opts.quick ? "true" : "false") << ",\n";
  o << "  \"date\": " << JStr(r.date) << ",\n  \"nproc\": " << r.nproc << ",\n  \"cpu\": " << JStr(r.cpu)
    << ",\n  \"build_type\": " << JStr(r.build_type) << ",\n  \"compiler\": " << JStr(r.compiler) << ",\n";
  o << "  \"commit\": [";
  for (size_t i = 0; i < r.commits.size(); ++i) {
    const auto& f = r.commits[i];
    o << (i ? ",\n" : "\n") << "    {\"mode\": " << JStr(f.mode) << ", \"ops_per_txn\": " << f.ops_per_txn
      << ", \"txns\": " << f.txns << ", \"seconds\": " << JNum(f.seconds) << ", \"txn_per_s\": " << JNum(f.txn_per_s())
      << ", \"ops_per_s\": " << JNum(f.ops_per_s()) << "}";
  }
  o << "\n  ],\n  \"apply\": {\n    \"records\": " << r.opts.records << ", \"ops\": " << r.gen_ops
    << ", \"deltas\": " << r.gen_deltas << ", \"delta_bytes\": " << r.delta_bytes
    << ", \"payload_bytes\": " << r.payload_bytes << ", \"v2_deltas\": " << r.v2_deltas
    << ", \"build_seconds\": " << JNum(r.gen_seconds) << ", \"rss_method\": " << JStr(r.rss_method)
    << ", \"state_records\": " << r.state_records << ", \"state_bytes\": " << r.state_bytes
    << ", \"replica_bytes\": " << r.replica_bytes << ",\n    \"runs\": [";
  for (size_t i = 0; i < r.applies.size(); ++i) {
    const auto& f = r.applies[i];
    const RawFig* raw = FindRaw(r, f);
    o << (i ? ",\n" : "\n") << "      {\"mode\": " << JStr(f.mode) << ", \"api\": " << JStr(f.api)
      << ", \"records_per_txn\": " << f.records_per_txn
      << ", \"seconds\": " << JNum(f.seconds) << ", \"ops_per_s\": " << JNum(f.ops_per_s())
      << ", \"target_ops_per_s\": " << (f.mode == "sync" ? 150000 : 400000)
      << ", \"rss_start_kb\": " << f.rss_start_kb << ", \"rss_peak_kb\": " << f.rss_peak_kb
      << ", \"ratio_to_raw_lmdb\": " << (raw && raw->seconds > 0 ? JNum(f.seconds / raw->seconds) : "null") << "}";
  }
  o << "\n    ],\n    \"breakdown_seconds\": {";
  for (size_t i = 0; i < r.breakdown.size(); ++i) {
    o << (i ? ", " : "") << JStr(r.breakdown[i].name) << ": " << JNum(r.breakdown[i].value);
  }
  o << "}\n  },\n  \"raw_lmdb\": [";
  for (size_t i = 0; i < r.raws.size(); ++i) {
    const auto& f = r.raws[i];
    o << (i ? ",\n" : "\n") << "    {\"mode\": " << JStr(f.mode) << ", \"records\": " << f.records
      << ", \"txns\": " << f.txns << ", \"puts_per_txn\": " << f.per_txn << ", \"value_bytes\": " << f.value_bytes << ", \"seconds\": " << JNum(f.seconds)
      << ", \"puts_per_s\": " << JNum(f.puts_per_s()) << "}";
  }
  o << "\n  ],\n  \"crypto\": [";
  for (size_t i = 0; i < r.crypto.size(); ++i) {
    o << (i ? ",\n" : "\n") << "    {\"name\": " << JStr(r.crypto[i].name) << ", \"unit\": " << JStr(r.crypto[i].unit)
      << ", \"value\": " << JNum(r.crypto[i].value) << "}";
  }
  o << "\n  ]\n}\n";
  std::fputs(o.str().c_str(), stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Report rep;
  rep.opts = ParseArgs(argc, argv);
  const Options& o = rep.opts;
  Check(crypto::Init(), "crypto init");
  rep.date = NowUtc();
  rep.cpu = CpuModel();
  rep.nproc = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  rep.build_type = HEARTH_BENCH_BUILD_TYPE;
#ifdef NDEBUG
  rep.build_type += " (NDEBUG)";
#else
  rep.build_type += " (assertions on)";
#endif
  rep.compiler = std::string("g++ ") + __VERSION__;
  const auto start = Clock::now();
  auto progress = [&](const char* what) {
    if (!o.json) std::fprintf(stderr, "[%6.1f s] %s\n", Since(start), what);
  };

  if (o.commit) {
    for (Durability d : {Durability::kNoSync, Durability::kSync}) {
      for (uint64_t n : {uint64_t{1}, uint64_t{100}, uint64_t{10000}}) {
        progress("commit");
        rep.commits.push_back(BenchCommit(o, d, n));
      }
    }
  }
  if (o.apply) {
    progress("building apply data on A");
    ApplyData data = BuildApplyData(o, rep);
    progress("apply nosync");
    rep.applies.push_back(BenchApply(o, data, Durability::kNoSync, 0, rep, /*measure_state=*/true));
    progress("apply sync");
    rep.applies.push_back(BenchApply(o, data, Durability::kSync, 0, rep, false));
    progress("apply batch nosync");
    rep.applies.push_back(BenchApply(o, data, Durability::kNoSync, o.batch, rep, false));
    progress("apply batch sync");
    rep.applies.push_back(BenchApply(o, data, Durability::kSync, o.batch, rep, false));
    progress("breakdown");
    BenchBreakdown(data, rep);
  }
  if (o.raw) {
    progress("raw lmdb");
    const uint64_t per_delta = 1000 / kFieldsPerRecord;
    for (bool sync : {false, true}) {
      rep.raws.push_back(BenchRawLmdb(o, sync, o.records, per_delta));
      rep.raws.push_back(BenchRawLmdb(o, sync, o.records, per_delta * o.batch));
    }
  }
  if (o.crypto) {
    progress("crypto");
    BenchCrypto(o, rep);
  }
  if (o.json) PrintJson(rep);
  else PrintHuman(rep);
  return 0;
}
