// hearthd configuration file (TOML): docs/hearthd.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearthd {

struct PeerConfig {
  std::string endpoint;
  hearth::AuthorId key;
  std::string name;  // optional, for people (metrics label `name`)
};

struct Config {
  std::string path;  // the file read
  std::string replica;
  std::vector<std::string> listen;
  std::vector<PeerConfig> peers;
  std::string log_level = "info";
  std::string passphrase_env = "HEARTH_PASSPHRASE";
  bool unencrypted_identity = false;
  std::string metrics;  // "127.0.0.1:PORT" or empty
  bool ui = false;      // serve the read-only web page "/" and "/report" on the metrics listener
  // [sync]
  uint64_t max_message_bytes = uint64_t{4} << 20;
  uint64_t idle_timeout_ms = 30'000;
  uint64_t heartbeat_ms = 5'000;
  uint64_t tick_ms = 100;
  uint64_t heads_poll_ms = 200;
  uint64_t max_sessions_per_key = 4;  // NodeOptions::max_sessions_per_key
};

// Parses and validates `path`. kInvalidArgument "FILE:LINE: what" for bad
// syntax and bad values; kNotFound for a missing file.
hearth::Result<Config> LoadConfig(const std::string& path);

}  // namespace hearthd
