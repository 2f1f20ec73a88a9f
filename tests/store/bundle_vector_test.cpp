// The bundle example of docs/bundle-format.md, complete: its bytes are in
// docs/vectors/bundle-example.xxd (xxd format) and, identically, in the doc.
// The test recomputes what an implementer would from the bytes alone, with
// libsodium directly: the checksum, the delta's hash (covers[0].hash) and its
// signature; and checks that Hearth's reader accepts the file.
//
// The vector was made by the skipped case below (fixed-seed randomness,
// fixed clock, fixed record id): `test_store -tc='bundle example vector:
// regenerate' --no-skip` prints it. Its bytes depend on the library's use
// of randomness and on libzstd, so a regenerated vector may differ; the
// published one must keep checking out.
#include <doctest/doctest.h>
#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hearth/bundle.hpp"
#include "store/store_support.hpp"
#include "support/seeded_random.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

const std::string kVectorPath = std::string(HEARTH_SOURCE_DIR) + "/docs/vectors/bundle-example.xxd";
const std::string kDocPath = std::string(HEARTH_SOURCE_DIR) + "/docs/bundle-format.md";

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot read ", path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// The lines of an xxd dump ("00000010: 010c 0c3d ...  text") in `text`, in order.
std::vector<std::string> DumpLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > 10 && line[8] == ':' && line[9] == ' ' &&
        std::all_of(line.begin(), line.begin() + 8, IsHex)) {
      out.push_back(line);
    }
  }
  return out;
}

// The bytes of xxd lines: the 8 groups of 4 hex digits after the offset.
Bytes DumpBytes(const std::vector<std::string>& lines) {
  Bytes out;
  for (const std::string& l : lines) {
    REQUIRE_MESSAGE(std::stoul(l.substr(0, 8), nullptr, 16) == out.size(), "offset out of order: ", l);
    const std::string hex = l.substr(10, 40);  // "xxxx xxxx ... " up to 16 bytes
    std::string digits;
    for (char c : hex) {
      if (c == ' ') continue;
      REQUIRE_MESSAGE(IsHex(c), "bad hex digit in: ", l);
      digits += c;
    }
    REQUIRE(digits.size() % 2 == 0);
    for (size_t i = 0; i < digits.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string Dump(const Bytes& b) {
  std::string out;
  char buf[16];
  for (size_t off = 0; off < b.size(); off += 16) {
    std::snprintf(buf, sizeof buf, "%08zx: ", off);
    out += buf;
    std::string text;
    for (size_t i = 0; i < 16; ++i) {
      if (off + i < b.size()) {
        std::snprintf(buf, sizeof buf, "%02x", b[off + i]);
        out += buf;
        const uint8_t c = b[off + i];
        text += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
      } else {
        out += "  ";
      }
      if (i % 2 == 1) out += ' ';
    }
    out += ' ' + text + "\n";
  }
  return out;
}

uint64_t BigEndian(const Bytes& b, size_t at, int n) {
  REQUIRE(at + static_cast<size_t>(n) <= b.size());
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | b[at + static_cast<size_t>(i)];
  return v;
}

TEST_CASE("bundle example vector: the documented bytes check out") {
  const std::vector<std::string> lines = DumpLines(Slurp(kVectorPath));
  REQUIRE(!lines.empty());
  // The doc shows the same dump, line for line.
  CHECK(DumpLines(Slurp(kDocPath)) == lines);
  const Bytes b = DumpBytes(lines);
  REQUIRE(sodium_init() >= 0);

  // Layout (all big-endian): magic, version, since (0 heads), covers (1 head).
  REQUIRE(b.size() > 8 + 1 + 4 + 4 + 72 + 4 + 4 + 8 + 32);
  CHECK(std::string(b.begin(), b.begin() + 8) == "HRTHBNDL");
  CHECK(b[8] == 0x01);
  CHECK(BigEndian(b, 9, 4) == 0);  // since: from scratch
  REQUIRE(BigEndian(b, 13, 4) == 1);
  const Bytes author(b.begin() + 17, b.begin() + 49);
  CHECK(BigEndian(b, 49, 8) == 1);  // covers[0].seq
  const Bytes head_hash(b.begin() + 57, b.begin() + 89);
  const size_t len = BigEndian(b, 89, 4);
  REQUIRE(93 + len + 4 + 8 + 32 == b.size());
  const Bytes delta(b.begin() + 93, b.begin() + 93 + static_cast<long>(len));
  CHECK(BigEndian(b, 93 + len, 4) == 0xffffffffu);  // end marker
  CHECK(BigEndian(b, 97 + len, 8) == 1);            // entry_count

  // Checksum: BLAKE2b-256, unkeyed, of every byte before the end marker.
  uint8_t sum[32];
  crypto_generichash(sum, sizeof sum, b.data(), 93 + len, nullptr, 0);
  CHECK(Bytes(sum, sum + 32) == Bytes(b.end() - 32, b.end()));

  // The delta (docs/delta-format.md): version 1 or 2, header array starting
  // with the author; hash = BLAKE2b-256 of all but the 64 signature bytes;
  // signature = Ed25519 over "hearth/delta/v1" || hash.
  REQUIRE(len > 64 + 36);
  CHECK((delta[0] == 0x01 || delta[0] == 0x02));
  CHECK(delta[1] == 0x98);                                  // array of 8
  CHECK((delta[2] == 0xc4 && delta[3] == 0x20));           // bin 32: author
  CHECK(Bytes(delta.begin() + 4, delta.begin() + 36) == author);
  uint8_t hash[32];
  crypto_generichash(hash, sizeof hash, delta.data(), len - 64, nullptr, 0);
  CHECK(Bytes(hash, hash + 32) == head_hash);
  std::string msg = "hearth/delta/v1";
  msg.append(reinterpret_cast<const char*>(hash), 32);
  CHECK(crypto_sign_verify_detached(delta.data() + len - 64, reinterpret_cast<const uint8_t*>(msg.data()),
                                    msg.size(), author.data()) == 0);

  // Hearth's reader agrees.
  testing::TempDir tmp;
  const std::string path = tmp.Sub("example.bundle");
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  auto info = CheckBundle(path);
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  CHECK(info->entries == 1);
  CHECK(info->since.empty());
  REQUIRE(info->covers.size() == 1);
  CHECK(Bytes(info->covers.begin()->first.bytes.begin(), info->covers.begin()->first.bytes.end()) == author);
  CHECK(Bytes(info->covers.begin()->second.hash.begin(), info->covers.begin()->second.hash.end()) == head_hash);
  CHECK(Bytes(info->checksum.begin(), info->checksum.end()) == Bytes(b.end() - 32, b.end()));
}

TEST_CASE("bundle example vector: regenerate" * doctest::skip()) {
  testing::SeededRandomness randomness(20240601);
  testing::TempDir tmp;
  ReplicaOptions o;
  o.clock_ms = [] { return uint64_t{1'717'200'000'000}; };  // 2024-06-01
  auto r = testing::OpenReplica(tmp.Sub("r"), nullptr, o);
  RecordId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(0x10 + i);
  auto c = r->Write([&](WriteBatch& w) { w.Set("item", id, "title", "hello"); });
  REQUIRE(c.ok());
  const std::string path = tmp.Sub("full.bundle");
  auto rep = ExportBundle(*r, {}, path);
  REQUIRE_MESSAGE(rep.ok(), rep.status().ToString());
  std::ifstream f(path, std::ios::binary);
  const std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::printf("%zu bytes, author %s\n%s", s.size(), r->author().ToHex().c_str(), Dump(Bytes(s.begin(), s.end())).c_str());
}

}  // namespace
}  // namespace hearth
