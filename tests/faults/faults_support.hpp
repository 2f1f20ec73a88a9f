// Helpers shared by the fault tests: running this test binary (or another
// program) as a child process and collecting its output.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace hearth::testing {

struct ChildResult {
  int wait_status = -1;
  std::string output;  // stdout and stderr, interleaved
  bool exited_ok() const { return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0; }
  int exit_code() const { return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1; }
};

inline std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  REQUIRE(n > 0);
  return std::string(buf, static_cast<size_t>(n));
}

inline bool HaveProgram(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs argv (PATH lookup) with extra environment entries "K=V"; waits.
inline ChildResult RunChild(const std::vector<std::string>& argv, const std::vector<std::string>& env_add,
                            const std::string& out_file) {
  std::vector<char*> av;
  for (const std::string& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  std::vector<std::string> env_copy = env_add;
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) ::_exit(126);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    for (std::string& kv : env_copy) ::putenv(kv.data());
    ::execvp(av[0], av.data());
    ::_exit(127);
  }
  ChildResult r;
  REQUIRE(::waitpid(pid, &r.wait_status, 0) == pid);
  std::ifstream in(out_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

// "KEY value" lines printed by a child: the value of the last line starting with key.
inline std::string ChildValue(const std::string& output, const std::string& key) {
  std::istringstream in(output);
  std::string line, found;
  while (std::getline(in, line)) {
    if (line.rfind(key + " ", 0) == 0) found = line.substr(key.size() + 1);
  }
  return found;
}

}  // namespace hearth::testing
