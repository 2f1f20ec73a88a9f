// hearthd under a service manager (docs/hearthd.md, "Running under
// systemd"): readiness notifications and the identity passphrase from a
// systemd credential. Everything here also works without systemd: with no
// NOTIFY_SOCKET, Notify does nothing; with no CREDENTIALS_DIRECTORY, the
// passphrase comes from the config's passphrase_env variable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "hearth/status.hpp"

namespace hearthd {

// Sends STATE (e.g. "READY=1", "STOPPING=1") to the service manager when
// hearthd runs as a Type=notify unit (NOTIFY_SOCKET set); otherwise, or when
// built without libsystemd, a no-op. Never fails the caller: a manager that
// cannot be told is logged at debug level only.
void Notify(const std::string& state);

// Whether this hearthd was built with libsystemd (sd_notify).
bool HaveSystemd();

// The name of the credential holding the identity passphrase
// (LoadCredential=passphrase:/etc/hearth/passphrase in the unit).
inline constexpr const char* kPassphraseCredential = "passphrase";

// Largest passphrase file accepted (a passphrase, not a document).
inline constexpr size_t kMaxPassphraseBytes = 4096;

// The identity passphrase, from the first source that has one:
//   1. $CREDENTIALS_DIRECTORY/passphrase (systemd credentials), when that
//      variable is set and the file exists: its bytes, less one trailing
//      "\n" (or "\r\n");
//   2. the environment variable cfg.passphrase_env names.
// nullopt when neither has one (an unencrypted identity needs none). An
// error when the credential exists but cannot be read, is not a regular
// file, is over kMaxPassphraseBytes, is empty or holds a NUL byte.
// `source` (optional) receives where it came from, for the log.
hearth::Result<std::optional<std::string>> ReadPassphrase(const Config& cfg, std::string* source);

// SIGHUP (systemctl reload): re-reads running.path. What can change while
// running is applied: log_level. Every other setting (replica, listen,
// peers, metrics, passphrase_env, [sync]) is fixed when the node starts
// (SyncNode takes its sockets before Start); a change to one is logged as a
// warning naming the keys that need `systemctl restart`. A file that no
// longer parses is logged as an error and changes nothing. Returns the
// names of the changed keys that need a restart (empty: none).
std::vector<std::string> Reload(const Config& running);

}  // namespace hearthd
