// Shared pieces of the hearth command-line tool: global options, errors and
// exit codes, opening replicas, tables, JSON forms and progress bars.
#pragma once

#include <chrono>
#include <cstdint>
#include <array>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/bytes.hpp"
#include "hearth/identity.hpp"
#include "hearth/replica.hpp"

namespace hcli {

using hearth::Result;
using hearth::Status;
using json = nlohmann::json;

// Exit codes (docs/cli.md).
enum Exit : int {
  kExitOk = 0,       // success
  kExitProblem = 1,  // a problem was found: verify failed, diff not empty, import rejected deltas
  kExitUsage = 2,    // bad command line, unknown collection/field, bad value syntax
  kExitRuntime = 3,  // not a replica, I/O error, corrupt bundle, ...
};

// Thrown by command code; main() prints the message and exits with `code`.
struct CliError {
  int code;
  std::string message;
};

[[noreturn]] void Fail(int code, std::string message);
// Exit code for a library error: kInvalidArgument is the user's input (2),
// everything else a runtime error (3).
int ExitFor(const Status& s);
// Fails with "<context>: <status message>" (plus a hint line when given).
[[noreturn]] void FailStatus(const Status& s, const std::string& context, const std::string& hint = "");

template <typename T>
T Must(Result<T> r, const std::string& context, const std::string& hint = "") {
  if (!r.ok()) FailStatus(r.status(), context, hint);
  return std::move(r).value();
}
inline void Must(const Status& s, const std::string& context, const std::string& hint = "") {
  if (!s.ok()) FailStatus(s, context, hint);
}

// Global options and the command chosen by the parser.
struct Globals {
  std::string replica;  // -C/--replica (default $HEARTH_REPLICA, else ".")
  bool json = false;
  bool quiet = false;
  std::function<int()> action;
};

// The passphrase of identities: $HEARTH_PASSPHRASE when set and not empty
// (docs/cli.md). The library reads no environment: every ReplicaOptions and
// identity file call of the tool gets it from here.
std::optional<std::string> EnvPassphrase();
// Creating an identity: --unencrypted-identity and $HEARTH_PASSPHRASE
// contradict each other; exit 2 naming both rather than pick one.
void CheckIdentityChoice(bool unencrypted);

// Opens an existing replica (never creates anything). Exit 3 with a helpful
// message when `dir` is not a replica directory.
std::unique_ptr<hearth::Replica> OpenReplica(const std::string& dir);
// The replica named by -C.
std::unique_ptr<hearth::Replica> OpenGlobal(const Globals& g);
bool IsReplicaDir(const std::string& dir);

// Output.
void PrintJson(const json& j);
// Every JSON text the tool writes goes through Dump: a string from a
// replica that is not valid UTF-8 (an older or hostile writer) becomes
// U+FFFD instead of a type_error.316 exception (docs/cli.md, "Output").
std::string Dump(const json& j, int indent = -1);
// Text for a terminal: invalid UTF-8 bytes and control characters (except
// none) as \xNN, so a hostile value cannot break or drive the terminal.
std::string Printable(std::string_view s);
// Prints to stdout unless quiet.
void Say(const Globals& g, const std::string& line);

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size(); }
  void Print() const;  // aligned columns, header first; last column not padded

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Lowercase hex of bytes or of a hash (base/bytes.hpp).
inline std::string Hex(std::span<const uint8_t> b) { return hearth::base::ToHex(b); }
hearth::AuthorId ParseAuthor(std::string_view hex);     // exit 2 on bad input
hearth::RecordId ParseRecordId(std::string_view hex);   // exit 2 on bad input
std::string HumanBytes(uint64_t n);
std::string HlcText(uint64_t hlc);  // "ms.counter"

// JSON forms (stable; documented in docs/cli.md).
json ValueToJson(const hearth::Value& v);
json FieldToJson(const hearth::FieldValue& f);
json RecordToJson(const hearth::Record& r);
std::string FieldText(const hearth::FieldValue& f);  // one-line human form
// The "heads" array of a heads file (hearth/heads.hpp, docs/bundle-format.md).
json HeadsJson(const hearth::Heads& h);

// Progress on stderr, only when stderr is a terminal and not -q.
class Progress {
 public:
  Progress(const Globals& g, std::string label);
  ~Progress();
  void Update(uint64_t done, uint64_t total, std::string_view unit = "");
  void Done();

 private:
  bool enabled_;
  bool shown_ = false;
  std::string label_;
  std::chrono::steady_clock::time_point start_, last_;
};

// Reads a whole small file (keyrings, heads JSON); exit 3 when unreadable,
// exit 2 when not a regular file.
std::string ReadSmallFile(const std::string& path, const std::string& what);
// Exit 2 unless `path` is a regular file (a FIFO would block the reader, a
// device never end); a missing file is left to the caller to report.
void RequireRegularFile(const std::string& path, const std::string& what);
// Creates `path` with `mode` (never overwriting) and writes `data`; exit 3.
void WriteNewFile(const std::string& path, std::string_view data, int mode, const std::string& what);

// Sub-command groups.
void AddSetupCommands(CLI::App& app, Globals& g);    // init keygen whoami keys schema
void AddRecordCommands(CLI::App& app, Globals& g);   // put get query delete conflicts resolve
void AddInspectCommands(CLI::App& app, Globals& g);  // log heads inspect verify digest forks pending backup
void AddSyncCommands(CLI::App& app, Globals& g);     // export import bundle-info merge diff
void AddPolicyCommands(CLI::App& app, Globals& g);   // policy show/template/sign/add-member/add-scope/grant/revoke, denied

}  // namespace hcli
