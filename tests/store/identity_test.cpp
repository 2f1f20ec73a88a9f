// The identity module (src/identity) by path, and <hearth/identity.hpp>:
// the file format, passphrases, never overwriting, sync-proof signatures.
#include "identity/identity.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "hearth/identity.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST_CASE("identity files: plain and protected, read back by path") {
  TempDir tmp;
  auto plain = identity::CreateFile(tmp.Sub("plain.key"), std::nullopt);
  REQUIRE_MESSAGE(plain.ok(), plain.status().ToString());
  std::string bytes = Slurp(tmp.Sub("plain.key"));
  CHECK(bytes.size() == 72);
  CHECK(bytes.substr(0, 8) == std::string("HRTHID\x01\x00", 8));
  struct stat st {};
  REQUIRE(::stat(tmp.Sub("plain.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto again = identity::ReadFile(tmp.Sub("plain.key"), std::nullopt);
  REQUIRE(again.ok());
  CHECK(again->public_key == plain->public_key);
  // A passphrase given for a plain file is not needed and does not hurt.
  CHECK(identity::ReadFile(tmp.Sub("plain.key"), std::string("x")).ok());

  auto prot = identity::CreateFile(tmp.Sub("prot.key"), std::string("pw"));
  REQUIRE(prot.ok());
  bytes = Slurp(tmp.Sub("prot.key"));
  CHECK(bytes.size() == 144);
  CHECK(bytes.substr(0, 8) == std::string("HRTHID\x01\x01", 8));
  auto open = identity::ReadFile(tmp.Sub("prot.key"), std::string("pw"));
  REQUIRE(open.ok());
  CHECK(open->public_key == prot->public_key);
  auto locked = identity::ReadFile(tmp.Sub("prot.key"), std::nullopt);
  CHECK(locked.status().code() == Code::kFailedPrecondition);
  CHECK(locked.status().message().find("pass a passphrase") != std::string::npos);
  CHECK(identity::ReadFile(tmp.Sub("prot.key"), std::string("wrong")).status().code() == Code::kUnauthenticated);

  // The public API gives the same author ids.
  auto a = ReadIdentityFile(tmp.Sub("prot.key"), std::string("pw"));
  REQUIRE(a.ok());
  CHECK(*a == prot->public_key);
  CHECK(ReadIdentityFile(tmp.Sub("prot.key")).status().code() == Code::kFailedPrecondition);
  CHECK(ReadIdentityFile(tmp.Sub("missing.key")).status().code() == Code::kNotFound);
  CHECK(ReadIdentityFile(tmp.path()).status().code() == Code::kInvalidArgument);
}

TEST_CASE("identity files are never overwritten; damaged ones are refused") {
  TempDir tmp;
  auto made = CreateIdentityFile(tmp.Sub("a.key"));
  REQUIRE(made.ok());
  const std::string before = Slurp(tmp.Sub("a.key"));
  CHECK(CreateIdentityFile(tmp.Sub("a.key")).status().code() == Code::kAlreadyExists);
  auto kp = crypto::SigningKeyPair::Generate();
  CHECK(identity::WriteFile(tmp.Sub("a.key"), kp, std::nullopt).code() == Code::kAlreadyExists);
  CHECK(Slurp(tmp.Sub("a.key")) == before);
  // No temporary file is left behind.
  int others = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) others += e.path().filename() != "a.key";
  CHECK(others == 0);

  std::ofstream(tmp.Sub("junk.key"), std::ios::binary) << "not a key";
  CHECK(identity::ReadFile(tmp.Sub("junk.key"), std::nullopt).status().code() == Code::kCorruption);
  std::ofstream(tmp.Sub("short.key"), std::ios::binary) << before.substr(0, 40);
  CHECK(identity::ReadFile(tmp.Sub("short.key"), std::nullopt).status().code() == Code::kCorruption);
  std::string v2 = before;
  v2[6] = 0x02;
  std::ofstream(tmp.Sub("v2.key"), std::ios::binary) << v2;
  CHECK(identity::ReadFile(tmp.Sub("v2.key"), std::nullopt).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("stale temporaries of a creator that died are removed, fresh ones kept") {
  TempDir tmp;
  const std::string path = tmp.Sub("identity.key");
  std::ofstream(tmp.Sub(".identity.key.old123")) << "secret";
  std::ofstream(tmp.Sub(".identity.key.new456")) << "secret";
  std::ofstream(tmp.Sub(".other.key.old789")) << "secret";
  struct utimbuf old {};
  old.actime = old.modtime = ::time(nullptr) - 3600;
  REQUIRE(::utime(tmp.Sub(".identity.key.old123").c_str(), &old) == 0);
  REQUIRE(::utime(tmp.Sub(".other.key.old789").c_str(), &old) == 0);
  identity::RemoveStaleTemporaries(path);
  CHECK_FALSE(std::filesystem::exists(tmp.Sub(".identity.key.old123")));
  CHECK(std::filesystem::exists(tmp.Sub(".identity.key.new456")));
  CHECK(std::filesystem::exists(tmp.Sub(".other.key.old789")));  // another file's
}

TEST_CASE("sync-proof signatures: the context separates them") {
  auto kp = crypto::SigningKeyPair::Generate();
  const Bytes msg = {'R', 1, 2, 3};
  crypto::Signature sig = identity::Sign(kp, identity::kSyncProofContext, msg);
  CHECK(VerifyIdentitySignature(kp.public_key, msg, sig));
  CHECK(identity::Verify(kp.public_key, identity::kSyncProofContext, msg, sig));
  CHECK_FALSE(identity::Verify(kp.public_key, "hearth/delta/v1", msg, sig));
  const Bytes other = {'I', 1, 2, 3};
  CHECK_FALSE(VerifyIdentitySignature(kp.public_key, other, sig));
  auto stranger = crypto::SigningKeyPair::Generate();
  CHECK_FALSE(VerifyIdentitySignature(stranger.public_key, msg, sig));
  // The same bytes signed under another context do not pass as a proof.
  CHECK_FALSE(VerifyIdentitySignature(kp.public_key, msg, identity::Sign(kp, "hearth/other/v1", msg)));
}

}  // namespace
}  // namespace hearth
