// hearth: look inside Hearth replicas, fix problems, and move data by bundle
// file where no network reaches. Sub-commands in the style of git; see
// docs/cli.md.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "common.hpp"

namespace hcli {
void AddCountyCommands(CLI::App& app, Globals& g);  // seed-county report (cmd_county.cpp)
}  // namespace hcli

namespace {

constexpr const char* kFooter = R"(
Replica: -C DIR (or $HEARTH_REPLICA, else the current directory) names the
replica a command works on; commands that take two replicas (merge, diff)
name them as arguments.

Exit codes:
  0  success
  1  a problem was found (verify failed, diff not empty, import/merge
     rejected deltas, get: no such record)
  2  usage error (bad arguments, unknown collection or field, bad value)
  3  runtime error (not a replica directory, I/O error, corrupt bundle, ...)

See docs/cli.md for every command with examples.)";

// LMDB reads data.mdb through a memory map: a file truncated under a
// running command (after Replica::Open checked its size) raises SIGBUS.
// Report the damage with the runtime exit code instead of dying of it.
void OnSigbus(int) {
  static const char msg[] =
      "hearth: the replica's data.mdb ended while it was being read (truncated or damaged); "
      "run `hearth verify`, and restore it from a backup\n";
  ssize_t n = ::write(2, msg, sizeof msg - 1);
  (void)n;
  _exit(hcli::kExitRuntime);
}

}  // namespace

int main(int argc, char** argv) {
  struct sigaction sa {};
  sa.sa_handler = OnSigbus;
  sigaction(SIGBUS, &sa, nullptr);
  hcli::Globals g;
  if (const char* env = std::getenv("HEARTH_REPLICA"); env && *env) g.replica = env;
  else g.replica = ".";

  CLI::App app{"hearth: inspect, repair and move data between Hearth replicas", "hearth"};
  app.footer(kFooter);
  app.fallthrough();  // global options may follow the sub-command
  app.require_subcommand(1);
  app.set_version_flag("--version", "hearth " HEARTH_VERSION_STRING);
  app.add_option("-C,--replica", g.replica, "Replica directory (default $HEARTH_REPLICA or .)");
  app.add_flag("--json", g.json, "Print stable JSON instead of tables");
  app.add_flag("-q,--quiet", g.quiet, "Print nothing but errors (exit code tells the result)");

  hcli::AddSetupCommands(app, g);
  hcli::AddRecordCommands(app, g);
  hcli::AddInspectCommands(app, g);
  hcli::AddSyncCommands(app, g);
  hcli::AddPolicyCommands(app, g);
  hcli::AddCountyCommands(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "hearth: " << e.what() << "\n";
    std::cerr << "Run `hearth --help` or `hearth COMMAND --help` for usage.\n";
    return hcli::kExitUsage;
  } catch (const hcli::CliError& e) {
    std::cerr << "hearth: " << e.message << "\n";
    return e.code;
  }
  if (!g.action) {
    std::cerr << "hearth: no command given; run `hearth --help`\n";
    return hcli::kExitUsage;
  }
  try {
    return g.action();
  } catch (const hcli::CliError& e) {
    std::cerr << "hearth: " << e.message << "\n";
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "hearth: internal error: " << e.what() << "\n";
    return hcli::kExitRuntime;
  }
}
