// Helpers for tests that run a county of replicas over real sockets
// (tests/net, tests/hostile): the shared test schema, a replica under an
// optional county root, delta copying and bounded waits. Header-only; needs
// HEARTH_TEST_DATA_DIR (the tests/ directory) defined by the test target.
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "base/bytes.hpp"
#include "hearth/replica.hpp"
#include "identity/identity.hpp"
#include "support/test_keys.hpp"

namespace hearth::testing {

inline Schema NodeTestSchema() {
  auto s = Schema::LoadFile(std::string(HEARTH_TEST_DATA_DIR) + "/data/test_schema.toml");
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return s.value();
}

// A replica with the test schema, no fsync, an unencrypted identity, obeying
// `root` (or being it).
inline std::unique_ptr<Replica> OpenMember(const std::string& dir, std::optional<AuthorId> root,
                                           bool is_root = false) {
  ReplicaOptions o;
  o.schema = NodeTestSchema();
  o.durability = Durability::kNoSync;
  o.unencrypted_identity = true;
  o.root = root;
  o.is_root = is_root;
  auto r = Replica::Open(dir, o);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  // Without a root: the shared test keyring (no key is made implicitly).
  Status k = GiveTestKeys(**r);
  REQUIRE_MESSAGE(k.ok(), k.ToString());
  return std::move(r).value();
}

// Applies to `to` every delta of `from` that `to` lacks.
inline void CopyDeltas(Replica& from, Replica& to) {
  auto d = from.DeltasSince(to.GetHeads().value());
  REQUIRE(d.ok());
  for (const Bytes& b : *d) REQUIRE(to.Apply(b).ok());
}

// Polls `pred` every 50 ms for at most `timeout_ms`.
template <typename F>
bool WaitFor(F pred, int timeout_ms = 30'000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// A TCP port on 127.0.0.1 that was free a moment ago.
inline int FreePort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A process's anonymous resident memory in bytes (/proc/PID/status), 0 if gone.
inline uint64_t RssAnon(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8)) * 1024;
  }
  return 0;
}

// The replica's signing identity (for CURVE keys of hand-made clients).
inline crypto::SigningKeyPair MemberIdentity(const Replica& r) {
  auto id = identity::ReadFile(r.dir() + "/" + identity::kReplicaFileName, std::nullopt);
  REQUIRE_MESSAGE(id.ok(), id.status().ToString());
  return std::move(id).value();
}

// The key `r` holds for (scope, epoch), read from its exported keyring
// (docs/storage-format.md, "Keyring"); nullopt when it holds none. For
// tests that forge deltas a member could sign.
inline std::optional<crypto::SecretBytes> HeldScopeKey(const Replica& r, const std::string& scope,
                                                       uint32_t epoch) {
  auto kr = r.ExportKeyring({scope});
  REQUIRE(kr.ok());
  const Bytes& k = *kr;  // 0x01 | count u32 | { len u8 | scope | epoch u32 | key[32] }*
  for (size_t off = 5; off < k.size();) {
    const size_t n = k[off++];
    REQUIRE(off + n + 4 + 32 <= k.size());
    const std::string sc(reinterpret_cast<const char*>(k.data() + off), n);
    const uint32_t ep = base::LoadBE32(&k[off + n]);
    if (sc == scope && ep == epoch) {
      return crypto::SecretBytes::Copy(std::span<const uint8_t>(k.data() + off + n + 4, 32));
    }
    off += n + 4 + 32;
  }
  return std::nullopt;
}

}  // namespace hearth::testing
