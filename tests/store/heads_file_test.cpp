// Heads files (include/hearth/heads.hpp, docs/bundle-format.md "Heads file"):
// round trip, hostile text refused with a message naming the problem, the
// library USB flow, and the same format as `hearth heads --json` /
// `hearth export --since-heads`.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hearth/bundle.hpp"
#include "hearth/heads.hpp"
#include "store/store_support.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using testing::OpenReplica;
using testing::TempDir;

const std::string kA(64, 'a');
const std::string kB = std::string(63, '0') + "b";
const std::string kH(64, 'c');

Heads Sample() {
  Heads h;
  AuthorId a, b;
  a.bytes.fill(0xaa);
  b.bytes.fill(0x01);
  FeedHead fa, fb;
  fa.seq = 12;
  fa.hash.fill(0x5c);
  fb.seq = static_cast<uint64_t>(INT64_MAX);
  fb.hash.fill(0xff);
  h[a] = fa;
  h[b] = fb;
  return h;
}

std::string Entry(const std::string& author, const std::string& seq, const std::string& hash) {
  return "{\"author\":\"" + author + "\",\"seq\":" + seq + ",\"hash\":\"" + hash + "\"}";
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

TEST_CASE("heads file: HeadsToJson / HeadsFromJson and SaveHeads / LoadHeads round trip") {
  const Heads h = Sample();
  const std::string text = HeadsToJson(h);
  // The documented form: sorted by author, lowercase hex, no whitespace.
  std::string hash_a;
  for (int i = 0; i < 32; ++i) hash_a += "5c";
  CHECK(text == "{\"heads\":[" +
                    Entry("0101010101010101010101010101010101010101010101010101010101010101",
                          "9223372036854775807", std::string(64, 'f')) +
                    "," + Entry(kA, "12", hash_a) + "]}");
  auto back = HeadsFromJson(text);
  REQUIRE_MESSAGE(back.ok(), back.status().ToString());
  CHECK(*back == h);
  CHECK(HeadsToJson(Heads{}) == "{\"heads\":[]}");
  CHECK(HeadsFromJson("{\"heads\":[]}").value().empty());

  TempDir dir;
  const std::string path = dir.Sub("b.heads");
  REQUIRE(SaveHeads(h, path).ok());
  CHECK(Slurp(path) == text + "\n");
  auto loaded = LoadHeads(path);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().ToString());
  CHECK(*loaded == h);
  // Replaces an existing file; leaves no temporary behind.
  REQUIRE(SaveHeads(Heads{}, path).ok());
  CHECK(LoadHeads(path).value().empty());
  struct stat st;
  CHECK(::stat(path.c_str(), &st) == 0);

  // Also accepted: `hearth heads --json` (with "author", any whitespace) and a bare array.
  auto cli = HeadsFromJson("{\n  \"author\": \"" + kB + "\",\n  \"heads\": [ " + Entry(kA, "3", kH) + " ]\n}\n");
  REQUIRE_MESSAGE(cli.ok(), cli.status().ToString());
  CHECK(cli->size() == 1);
  CHECK(cli->begin()->second.seq == 3);
  auto bare = HeadsFromJson("[" + Entry(kA, "3", kH) + "]");
  REQUIRE_MESSAGE(bare.ok(), bare.status().ToString());
  CHECK(*bare == *cli);

  CHECK(LoadHeads(dir.Sub("missing.heads")).status().code() == Code::kNotFound);
  CHECK(SaveHeads(h, dir.Sub("no/such/dir/x.heads")).code() == Code::kIOError);
}

TEST_CASE("heads file: every malformed text is kInvalidArgument naming what is wrong") {
  struct Case {
    std::string text;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"", "not JSON"},
      {"{\"heads\":[", "not JSON"},
      {"{\"heads\":[]} trailing", "not JSON"},
      {"{\"heads\":[]}\x01", "not JSON"},
      {"{\"heads\":[" + Entry("\xff" + kA.substr(1), "1", kH) + "]}", "not JSON"},  // invalid UTF-8
      {"3", "expected an object"},
      {"\"heads\"", "expected an object"},
      {"{}", "no \"heads\""},
      {"{\"heads\":3}", "\"heads\" must be an array"},
      {"{\"heads\":{}}", "\"heads\" must be an array"},
      {"{\"heads\":[],\"extra\":1}", "unknown key \"extra\""},
      {"{\"heads\":[],\"heads\":[]}", "key \"heads\" appears twice"},
      {"{\"heads\":[],\"author\":\"00\"}", "author must be 64 hex digits"},
      {"{\"heads\":[],\"author\":7}", "author must be a string"},
      {"{\"heads\":[3]}", "heads[0] must be an object"},
      {"{\"heads\":[[\"x\"]]}", "heads[0] must be an object {\"author\", \"seq\", \"hash\"}, not array"},
      {"{\"heads\":[{\"author\":\"" + kA + "\",\"seq\":1}]}", "heads[0] lacks \"hash\""},
      {"{\"heads\":[{\"seq\":1,\"hash\":\"" + kH + "\"}]}", "heads[0] lacks \"author\""},
      {"{\"heads\":[{\"author\":\"" + kA + "\",\"hash\":\"" + kH + "\"}]}", "heads[0] lacks \"seq\""},
      {"{\"heads\":[{\"author\":\"" + kA + "\",\"seq\":1,\"hash\":\"" + kH + "\",\"x\":0}]}",
       "heads[0] has an unknown key \"x\""},
      {"{\"heads\":[{\"author\":\"" + kA + "\",\"author\":\"" + kA + "\",\"seq\":1,\"hash\":\"" + kH + "\"}]}",
       "key \"author\" appears twice"},
      {"{\"heads\":[" + Entry(kA.substr(2), "1", kH) + "]}", "heads[0].author must be 64 hex digits, not 62"},
      {"{\"heads\":[" + Entry(kA + "aa", "1", kH) + "]}", "heads[0].author must be 64 hex digits, not 66"},
      {"{\"heads\":[" + Entry("g" + kA.substr(1), "1", kH) + "]}", "heads[0].author holds a character that is not a hex digit"},
      {"{\"heads\":[{\"author\":5,\"seq\":1,\"hash\":\"" + kH + "\"}]}", "heads[0].author must be a string"},
      {"{\"heads\":[" + Entry(kA, "1", kH.substr(1)) + "]}", "heads[0].hash must be 64 hex digits, not 63"},
      {"{\"heads\":[" + Entry(kA, "1", "z" + kH.substr(1)) + "]}", "heads[0].hash holds a character"},
      {"{\"heads\":[{\"author\":\"" + kA + "\",\"seq\":1,\"hash\":null}]}", "heads[0].hash must be a string"},
      {"{\"heads\":[" + Entry(kA, "0", kH) + "]}", "heads[0].seq must be an integer from 1 to 9223372036854775807, not number 0"},
      {"{\"heads\":[" + Entry(kA, "-1", kH) + "]}", "heads[0].seq must be an integer from 1"},
      {"{\"heads\":[" + Entry(kA, "1.5", kH) + "]}", "heads[0].seq must be an integer from 1"},
      {"{\"heads\":[" + Entry(kA, "1e3", kH) + "]}", "heads[0].seq must be an integer from 1"},
      {"{\"heads\":[" + Entry(kA, "9223372036854775808", kH) + "]}", "heads[0].seq must be an integer from 1"},
      {"{\"heads\":[" + Entry(kA, "1e999", kH) + "]}", "not JSON"},
      {"{\"heads\":[" + Entry(kA, "\"5\"", kH) + "]}", "heads[0].seq must be an integer from 1 to 9223372036854775807, not string"},
      {"{\"heads\":[" + Entry(kA, "true", kH) + "]}", "heads[0].seq must be an integer"},
      {"{\"heads\":[" + Entry(kA, "1", kH) + "," + Entry(kB, "2", kH) + "," + Entry(kA, "3", kH) + "]}",
       "heads[2]: author " + kA + " is listed twice"},
      {"{\"heads\":[" + Entry(kA, "1", kH) + "," + Entry(std::string(64, 'A'), "3", kH) + "]}",
       "heads[1]: author " + kA + " is listed twice"},  // hex of either case: the same author
      {std::string(100000, '[') + std::string(100000, ']'), "nested deeper"},
      {"{\"heads\":[{\"author\":{\"a\":{\"b\":1}}}]}", "nested deeper"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text.substr(0, 200));
    auto r = HeadsFromJson(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find(c.says) != std::string::npos, r.status().message());
    CHECK(r.status().message().rfind("heads: ", 0) == 0);
  }
  // Size limit: refused before parsing.
  std::string big = "{\"heads\":[]}" + std::string(kMaxHeadsFileSize, ' ');
  auto r = HeadsFromJson(big);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(r.status().message().find("over the limit") != std::string::npos);

  // LoadHeads names the file; refuses what is not a regular file.
  TempDir dir;
  Write(dir.Sub("bad.heads"), "{\"heads\": 3}");
  auto l = LoadHeads(dir.Sub("bad.heads"));
  CHECK(l.status().code() == Code::kInvalidArgument);
  CHECK(l.status().message().find(dir.Sub("bad.heads") + ": heads: \"heads\" must be an array") != std::string::npos);
  CHECK(LoadHeads(dir.path()).status().code() == Code::kInvalidArgument);
  Write(dir.Sub("big.heads"), big);
  CHECK(LoadHeads(dir.Sub("big.heads")).status().message().find("over the limit") != std::string::npos);
}

// Writes a record on `r`.
void Put(Replica& r, const std::string& title) {
  RecordId id = RecordId::Generate();
  auto c = r.Write([&](WriteBatch& b) { b.Set("item", id, "title", title); });
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
}

TEST_CASE("heads file: the USB flow through the library (SaveHeads on B, ExportBundle on A, ImportBundle on B)") {
  TempDir dir;
  auto a = OpenReplica(dir.Sub("a"));
  auto b = OpenReplica(dir.Sub("b"));
  for (int i = 0; i < 3; ++i) Put(*a, "a" + std::to_string(i));
  Put(*b, "b0");
  testing::Sync(*a, *b);  // B holds A's first three deltas
  for (int i = 3; i < 5; ++i) Put(*a, "a" + std::to_string(i));

  const std::string heads_path = dir.Sub("usb-b.heads");
  REQUIRE(SaveHeads(b->GetHeads().value(), heads_path).ok());
  auto since = LoadHeads(heads_path);
  REQUIRE_MESSAGE(since.ok(), since.status().ToString());
  CHECK(*since == b->GetHeads().value());
  auto rep = ExportBundle(*a, *since, dir.Sub("a.bundle"));
  REQUIRE_MESSAGE(rep.ok(), rep.status().ToString());
  CHECK(rep->entries == 2);  // only what B lacks
  auto imp = ImportBundle(*b, dir.Sub("a.bundle"));
  REQUIRE_MESSAGE(imp.ok(), imp.status().ToString());
  CHECK(imp->applied == 2);
  CHECK(imp->rejected.empty());
  CHECK(b->GetHeads().value().at(a->author()) == a->GetHeads().value().at(a->author()));
}

#ifdef HEARTH_CLI
// Runs the hearth CLI; returns its exit status, stdout in `out`.
int RunCli(const std::string& args, std::string& out) {
  const std::string cmd = std::string(HEARTH_CLI) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  out.clear();
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST_CASE("heads file: `hearth heads --json` is parsed by the library; a saved file feeds `hearth export --since-heads`") {
  TempDir dir;
  const std::string ad = dir.Sub("a"), bd = dir.Sub("b");
  Heads b_heads;
  {
    auto a = OpenReplica(ad);
    auto b = OpenReplica(bd);
    for (int i = 0; i < 3; ++i) Put(*a, "a" + std::to_string(i));
    Put(*b, "b0");
    testing::Sync(*a, *b);
    for (int i = 3; i < 7; ++i) Put(*a, "a" + std::to_string(i));
    b_heads = b->GetHeads().value();
  }  // closed: the CLI opens them next
  std::string out;
  REQUIRE_MESSAGE(RunCli("-C '" + bd + "' heads --json", out) == 0, out);
  auto parsed = HeadsFromJson(out);
  REQUIRE_MESSAGE(parsed.ok(), (parsed.status().ToString() + "\n" + out));
  CHECK(*parsed == b_heads);

  const std::string hf = dir.Sub("b.heads"), bundle = dir.Sub("a.bundle");
  REQUIRE(SaveHeads(b_heads, hf).ok());
  REQUIRE_MESSAGE(RunCli("-C '" + ad + "' export '" + bundle + "' --since-heads '" + hf + "'", out) == 0, out);
  auto b = OpenReplica(bd);
  auto imp = ImportBundle(*b, bundle);
  REQUIRE_MESSAGE(imp.ok(), imp.status().ToString());
  CHECK(imp->info.since == b_heads);
  CHECK(imp->applied == 4);

  // A hostile heads file: the CLI reports the library's message, exit 2.
  Write(hf, "{\"heads\":[" + Entry(kA, "0", kH) + "]}");
  CHECK(RunCli("-C '" + ad + "' export '" + dir.Sub("x.bundle") + "' --since-heads '" + hf + "'", out) == 2);
  CHECK_MESSAGE(out.find("heads[0].seq must be an integer from 1") != std::string::npos, out);
}
#endif

}  // namespace
}  // namespace hearth
