// Fuzz target: the hearthd configuration file (tools/hearthd/config.cpp,
// docs/hearthd.md), read from a file in a temp dir made once per process.
//
// Oracles: LoadConfig never throws or crashes and fails only with
// kInvalidArgument (bad syntax or values, "FILE:LINE: what"); an accepted
// config obeys the documented bounds: a replica path, tcp:// or ipc://
// endpoints, a tick and heads poll > 0.
#include <cstdint>
#include <span>

#include "config.hpp"
#include "fuzz_support.hpp"

using namespace hearth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = fuzz::TempDir().Sub("hearthd.toml");
  fuzz::WriteFile(path, std::span<const uint8_t>(data, size));
  auto c = hearthd::LoadConfig(path);
  if (!c.ok()) {
    FUZZ_CHECK_MSG(c.status().code() == Code::kInvalidArgument, c.status().ToString());
    return 0;
  }
  FUZZ_CHECK(!c->replica.empty());
  for (const auto& ep : c->listen) FUZZ_CHECK(ep.rfind("tcp://", 0) == 0 || ep.rfind("ipc://", 0) == 0);
  for (const auto& p : c->peers) {
    FUZZ_CHECK(p.endpoint.rfind("tcp://", 0) == 0 || p.endpoint.rfind("ipc://", 0) == 0);
  }
  return 0;
}
