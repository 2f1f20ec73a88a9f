// hearthd's view of its node for people: the /status JSON, the lag series of
// /metrics and the read-only web page (docs/hearthd.md, "Status" and "Web
// page"). Everything here reads; nothing writes the replica.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config.hpp"
#include "hearth/node.hpp"
#include "hearth/replica.hpp"

namespace hearthd {

// One peer key: every connection of the key (outbound, inbound, closed)
// folded together, so that what a person sees does not change on reconnect.
struct PeerView {
  hearth::AuthorId key;
  std::string name;      // the config's [[peers]] name, else the member's name in the policy
  std::string endpoint;  // configured endpoint, or "inbound"
  bool configured = false;
  bool connected = false;
  uint64_t last_seen_ms = 0;  // Unix ms of the last message from the peer (0: never)
  uint64_t last_sync_ms = 0;  // Unix ms both sides were last caught up (0: never)
  bool lag_known = false;     // a session's handshake compared heads
  uint64_t behind_out = 0;    // deltas the peer lacks from this node
  uint64_t behind_in = 0;     // deltas this node lacks from the peer
  uint64_t sessions = 0, session_failures = 0;
  uint64_t bytes_in = 0, bytes_out = 0, deltas_sent = 0, deltas_received = 0;
  std::string last_error;
};

// Names by key: the policy's member names, overridden by the config's.
std::map<hearth::AuthorId, std::string> PeerNames(const hearth::Replica& replica, const Config& cfg);

// Sorted by key; configured peers always present.
std::vector<PeerView> PeerViews(const hearth::NodeStats& ns, const hearth::Replica& replica, const Config& cfg);

// Mean bytes per delta for the lag estimate in bytes: what moved over the
// wire so far (messages included), else the replica's map use per delta.
uint64_t MeanDeltaBytes(const hearth::NodeStats& ns, const hearth::Replica& replica);

// The /status document (docs/hearthd.md, "Status"), one line of JSON.
std::string StatusJson(const hearth::Replica& replica, const hearth::SyncNode& node, const Config& cfg);

// The web page "/" and the county report "/report" (HTML, self-contained).
std::string StatusPage(const hearth::Replica& replica, const hearth::SyncNode& node, const Config& cfg);
std::string ReportPage(const hearth::Replica& replica);

}  // namespace hearthd
