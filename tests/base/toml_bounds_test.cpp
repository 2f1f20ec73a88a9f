// CheckTomlBounds (src/base/toml_bounds.cpp) and its use by every TOML
// parser: a document nested 100,000 levels deep used to overflow the stack
// in toml11 (issue #12, "Trust: attacks from outside").
#include "hearth/toml_bounds.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "codec/codec.hpp"
#include "crypto/crypto.hpp"
#include "feed/delta.hpp"
#include "hearth/bundle.hpp"
#include "hearth/policy.hpp"
#include "hearth/replica.hpp"
#include "hearth/schema.hpp"
#include "store/store_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

constexpr size_t kBig = size_t{1} << 30;

std::string Nested(size_t n, char open = '[', char close = ']') {
  return "z = " + std::string(n, open) + std::string(n, close) + "\n";
}

std::string DeepInline(size_t n) {
  std::string s = "z = ";
  for (size_t i = 0; i < n; ++i) s += "{a=";
  s += "1";
  s += std::string(n, '}');
  return s + "\n";
}

std::string Dotted(size_t n, bool header) {
  std::string k = "a";
  for (size_t i = 1; i < n; ++i) k += ".a";
  return header ? "[" + k + "]\nx = 1\n" : k + " = 1\n";
}

bool Ok(std::string_view text, size_t depth = kTomlMaxDepth) { return CheckTomlBounds(text, kBig, depth).ok(); }

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_CASE("CheckTomlBounds: depth of arrays, inline tables and dotted keys") {
  CHECK(Ok(Nested(64)));
  CHECK_FALSE(Ok(Nested(65)));
  CHECK_FALSE(Ok(Nested(100000)));
  CHECK(Ok(DeepInline(64)));
  CHECK_FALSE(Ok(DeepInline(65)));
  CHECK(Ok(Dotted(65, false)));  // 64 dots
  CHECK_FALSE(Ok(Dotted(66, false)));
  CHECK_FALSE(Ok(Dotted(100000, false)));
  CHECK(Ok(Dotted(64, true)));  // the header's bracket counts too
  CHECK_FALSE(Ok(Dotted(65, true)));
  CHECK_FALSE(Ok(Dotted(100000, true)));
  std::string key = "a";
  for (int i = 0; i < 30; ++i) key += ".b";
  CHECK_FALSE(Ok("x = " + std::string(40, '[') + "{" + key + " = 1}" + std::string(40, ']')));
  CHECK(Ok("x = " + std::string(30, '[') + "{" + key + " = 1}" + std::string(30, ']')));
  // Many shallow arrays: depth is what counts, not their number.
  std::string many;
  for (int i = 0; i < 10000; ++i) many += "a" + std::to_string(i) + " = [[1], [2.5, 3.5], {x = 1}]\n";
  CHECK(Ok(many, 3));
  // Floats and dates in a value: one dot each, never accumulated.
  CHECK(Ok("a = [1.5, 2.5, 3.5, 4.5, 5.5, 1979-05-27T07:32:00.999]\n", 3));

  Status s = CheckTomlBounds("ok = 1\n\nz = " + std::string(100, '['), kBig, 64);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("deeper than 64 levels at line 3") != std::string::npos);
}

TEST_CASE("CheckTomlBounds: size") {
  CHECK(CheckTomlBounds(std::string(100, 'a'), 100).ok());
  Status s = CheckTomlBounds(std::string(101, 'a'), 100);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("101 bytes exceeds the limit of 100 bytes") != std::string::npos);
}

TEST_CASE("CheckTomlBounds: a TOML document is UTF-8") {
  CHECK(Ok("name = '城厢镇'\n"));
  // toml11 3.7.1 read past its buffer reporting this (fuzz_hearthd_config):
  // invalid UTF-8 inside a literal-string key.
  Status s = CheckTomlBounds("a = 1\n'peers\xff\xff' = 2\n", kBig);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message() == "TOML document is not valid UTF-8 (line 2)");
  CHECK_FALSE(Ok("a = \"\xe5\x9f\"\n"));   // truncated sequence
  CHECK_FALSE(Ok("a = \"\xc0\xaf\"\n"));   // overlong
  CHECK_FALSE(Ok("# \xed\xa0\x80\n"));      // surrogate, even in a comment
  auto p = Policy::Parse("format = 1\n'x\xff' = 1\n", "bad.toml");
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().message() == "bad.toml: TOML document is not valid UTF-8 (line 2)");
  auto sc = Schema::Parse("'x\xff' = 1\n", "bad.toml");
  REQUIRE_FALSE(sc.ok());
  CHECK(sc.status().message() == "bad.toml: TOML document is not valid UTF-8 (line 1)");
}

TEST_CASE("CheckTomlBounds: brackets inside strings and comments do not count") {
  const std::string deep(200, '[');
  CHECK(Ok("a = \"" + deep + "\"\n", 2));
  CHECK(Ok("a = '" + deep + "'\n", 2));
  CHECK(Ok("a = \"\"\"\n" + deep + "\n\"\"\"\n", 2));
  CHECK(Ok("a = '''\n" + deep + "\n'''\n", 2));
  CHECK(Ok("# " + deep + "\na = 1\n", 2));
  CHECK(Ok("a = 1 # " + deep + "\n", 2));
  CHECK(Ok("\"" + deep + "\" = 1\n", 2));       // quoted key
  CHECK(Ok("['" + deep + "']\nx = 1\n", 2));     // quoted table header
  CHECK(Ok("a = \"a.b.c.d.e.f.g.h\"\n", 2));    // dots in a string
  // Escaped quotes do not end a basic string; a literal string has no escapes.
  CHECK(Ok("a = \"x\\\"" + deep + "\"\n", 2));
  CHECK(Ok("a = 'x\\'\nb = 1\n", 2));
  CHECK(Ok("a = \"\"\"x\\\"\"\"" + deep + "\"\"\"\n", 2));
  // Up to two quotes right before the closing delimiter are content.
  CHECK(Ok("a = \"\"\"x\"\"\"\"\"\nb = [1]\n", 2));
  CHECK(Ok("a = '''x'''''\nb = [1]\n", 2));
  CHECK(Ok("a = \"\"\nb = '' \nc = [1]\n", 2));  // empty strings are not """
  CHECK(Ok("a = \"\"\"\"\"\"\nb = [1]\n", 2));   // empty multi-line
  // A # inside a string is not a comment: the bracket after it counts.
  CHECK_FALSE(Ok("a = \"#\" ; b = [[[\n", 2));
  // A line-ending backslash continues a multi-line basic string.
  CHECK(Ok("a = \"\"\"x \\\n  " + deep + "\"\"\"\n", 2));
  // Unterminated strings end at the newline / end: no crash, no over-read.
  CHECK(Ok("a = \"abc\nb = 1\n", 2));
  CHECK(Ok("a = \"\"\"abc", 2));
  CHECK(Ok("a = \"abc\\", 2));
  CHECK(Ok("a = '", 2));
  CHECK(Ok("]]]]}}}}", 2));
}

TEST_CASE("CheckTomlBounds accepts every TOML document of the repository") {
  int n = 0;
  for (const char* dir : {"schemas", "policies", "examples", "tests/data", "tests/fuzz/corpus"}) {
    std::filesystem::path root = std::filesystem::path(HEARTH_SOURCE_DIR) / dir;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
      if (e.path().extension() != ".toml") continue;
      CAPTURE(e.path().string());
      Status s = CheckTomlBounds(ReadFile(e.path()), kConfigMaxBytes, 8);
      CHECK_MESSAGE(s.ok(), s.ToString());
      ++n;
    }
  }
  CHECK(n >= 8);
}

TEST_CASE("Schema::Parse and Policy::Parse refuse deep and large documents before parsing") {
  for (const std::string& doc : {Nested(100000), DeepInline(100000), Dotted(100000, false), Dotted(100000, true)}) {
    auto s = Schema::Parse(doc, "deep.toml");
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == Code::kInvalidArgument);
    CHECK(s.status().message().find("deep.toml: TOML nested deeper than 64 levels") == 0);
    auto p = Policy::Parse(doc, "deep.toml");
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == Code::kInvalidArgument);
    CHECK(p.status().message().find("deep.toml: TOML nested deeper than 64 levels") == 0);
  }
  std::string big = "format = 1\n# " + std::string(kPolicyMaxBytes, 'x') + "\n";
  CHECK(Schema::Parse(big).status().message().find("exceeds the limit of 1048576 bytes") != std::string::npos);
  CHECK(Policy::Parse(big).status().message().find("exceeds the limit of 4194304 bytes") != std::string::npos);

  testing::TempDir dir;
  std::string path = dir.Sub("deep.toml");
  std::ofstream(path) << Nested(100000);
  CHECK(Schema::LoadFile(path).status().code() == Code::kInvalidArgument);
  CHECK(Policy::LoadFile(path).status().code() == Code::kInvalidArgument);
}

// A $policy delta holding a deep document, signed by a key nobody knows: a
// replica without a county root parses it while validating the delta.
Bytes ForgePolicyDelta(const crypto::SigningKeyPair& kp, const std::string& doc, crypto::Hash* hash) {
  crdt::Op op;
  op.field = "doc";
  op.kind = crdt::OpKind::kLwwSet;
  op.hlc = crdt::MakeHlc(1'700'000'000'000, 0);
  op.value = Value(Bytes(doc.begin(), doc.end()));
  RecordId rid{};
  Bytes payload = codec::EncodePayload({crdt::RecordOps{kPolicyScope, rid, {op}}});
  feed::DeltaHeader h;
  h.author = kp.public_key;
  h.seq = 1;
  h.scope = kPolicyScope;
  h.epoch = 0;
  h.hlc_min = h.hlc_max = op.hlc;
  h.op_count = 1;
  auto d = feed::SealDelta(h, payload, crypto::SecretBytes(crypto::kAeadKeyBytes), kp);
  REQUIRE_MESSAGE(d.ok(), d.status().ToString());
  auto parsed = feed::ParseDelta(*d);
  REQUIRE(parsed.ok());
  *hash = parsed->hash;
  return *d;
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out += static_cast<char>(v >> (8 * i));
}

TEST_CASE("a deep $policy delta from an unknown key is refused, not a crash (Apply, ImportBundle)") {
  testing::TempDir dir;
  auto kp = crypto::SigningKeyPair::Generate();
  crypto::Hash hash{};
  const Bytes delta = ForgePolicyDelta(kp, Nested(100000), &hash);

  auto r = testing::OpenReplica(dir.Sub("r"));
  auto res = r->Apply(delta);
  if (res.ok()) {
    CHECK(res->outcome != ApplyOutcome::kApplied);
  } else {
    CHECK(res.status().code() == Code::kInvalidArgument);
  }

  // The same delta in a bundle (docs/bundle-format.md), as `hearth import` reads it.
  std::string b = "HRTHBNDL";
  b += '\x01';
  PutU32(b, 0);
  PutU32(b, 1);
  b.append(reinterpret_cast<const char*>(kp.public_key.bytes.data()), 32);
  for (int i = 7; i >= 0; --i) b += static_cast<char>(i == 0 ? 1 : 0);
  b.append(reinterpret_cast<const char*>(hash.data()), 32);
  PutU32(b, static_cast<uint32_t>(delta.size()));
  b.append(reinterpret_cast<const char*>(delta.data()), delta.size());
  auto sum = crypto::HashBytes(std::span(reinterpret_cast<const uint8_t*>(b.data()), b.size()));
  PutU32(b, 0xFFFFFFFF);
  for (int i = 7; i >= 0; --i) b += static_cast<char>(i == 0 ? 1 : 0);
  b.append(reinterpret_cast<const char*>(sum.data()), 32);
  std::string path = dir.Sub("deep.bundle");
  std::ofstream(path, std::ios::binary) << b;
  auto r2 = testing::OpenReplica(dir.Sub("r2"));
  auto imp = ImportBundle(*r2, path);
  if (imp.ok()) {
    CHECK(imp->applied == 0);
  } else {
    CHECK(imp.status().code() != Code::kInternal);
  }
}

}  // namespace
}  // namespace hearth
