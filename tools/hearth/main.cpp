// hearth: look inside Hearth replicas, fix problems, and move data by bundle
// file where no network reaches. Sub-commands in the style of git; see
// docs/cli.md.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>
#include <iostream>

#include "common.hpp"

namespace hcli {
void AddCountyCommands(CLI::App& app, Globals& g);  // seed-county report (cmd_county.cpp)
void AddStatusCommands(CLI::App& app, Globals& g);  // status (cmd_status.cpp)
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

// Optimal string alignment distance (a transposition counts 1: gte -> get).
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The command word of argv (the first argument that is not an option or
// the value of -C/--replica), or empty.
std::string CommandWord(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-C" || a == "--replica") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    return a;
  }
  return "";
}

// An unknown command: names the nearest ones (edit distance <= 2, or at
// most a third of the word) or points to --help. Empty when `word` is a
// command.
std::string UnknownCommand(CLI::App& app, const std::string& word) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  if (word.empty() || std::find(names.begin(), names.end(), word) != names.end()) return "";
  size_t best = std::max<size_t>(2, word.size() / 3) + 1;
  std::vector<std::string> nearest;
  for (const auto& n : names) {
    size_t dist = EditDistance(word, n);
    if (dist < best) {
      best = dist;
      nearest = {n};
    } else if (dist == best) {
      nearest.push_back(n);
    }
  }
  std::string msg = "unknown command '" + word + "'";
  if (nearest.empty()) return msg + "; run `hearth --help` for the commands";
  std::sort(nearest.begin(), nearest.end());
  msg += "; did you mean ";
  for (size_t i = 0; i < nearest.size(); ++i) msg += (i ? i + 1 == nearest.size() ? " or " : ", " : "") + nearest[i];
  return msg + "?";
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
  hcli::AddStatusCommands(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (std::string why = UnknownCommand(app, CommandWord(argc, argv)); !why.empty()) {
      std::cerr << "hearth: " << why << "\n";
      return hcli::kExitUsage;
    }
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
