// Result<T>: value(), operator* and operator-> on an error abort with the
// Status's message on stderr (include/hearth/status.hpp); no exception.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>

#include "hearth/status.hpp"

namespace hearth {
namespace {

struct Died {
  bool signaled = false;
  int signal = 0;
  std::string stderr_text;
};

// Runs `body` in a forked child whose stderr is a pipe; returns how it ended.
Died RunChild(const std::function<void()>& body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], STDERR_FILENO);
    struct rlimit no_core = {0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    try {
      body();
    } catch (const std::exception& e) {  // what value() did before: the message is lost
      std::fprintf(stderr, "exception: %s\n", e.what());
      std::_Exit(3);
    }
    std::_Exit(0);  // value() returned: the test sees exit status 0
  }
  ::close(fds[1]);
  Died d;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) d.stderr_text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  d.signaled = WIFSIGNALED(st);
  d.signal = d.signaled ? WTERMSIG(st) : 0;
  return d;
}

Result<std::string> Fails() { return Status::NotFound("scope hr.wages has no key on this replica"); }

void CheckAborted(const Died& d) {
  CHECK(d.signaled);
  CHECK(d.signal == SIGABRT);
  CHECK(d.stderr_text.find("hearth: Result::value() on an error: not found: scope hr.wages has no key "
                           "on this replica") != std::string::npos);
  CHECK(d.stderr_text.find("bad_variant_access") == std::string::npos);
}

TEST_CASE("Result::value() on an error aborts with the Status's message, every accessor") {
  SUBCASE("value() &") {
    CheckAborted(RunChild([] {
      auto r = Fails();
      std::string& v = r.value();
      (void)v;
    }));
  }
  SUBCASE("value() const&") {
    CheckAborted(RunChild([] {
      const auto r = Fails();
      const std::string& v = r.value();
      (void)v;
    }));
  }
  SUBCASE("value() &&") {
    CheckAborted(RunChild([] { std::string v = Fails().value(); }));
  }
  SUBCASE("operator*") {
    CheckAborted(RunChild([] {
      auto r = Fails();
      std::string v = *r;
    }));
  }
  SUBCASE("operator->") {
    CheckAborted(RunChild([] {
      auto r = Fails();
      size_t n = r->size();
      (void)n;
    }));
  }
}

TEST_CASE("Result::value() on a value returns it; the child exits normally") {
  Died d = RunChild([] {
    Result<std::string> r(std::string("ok"));
    if (r.value() != "ok" || *r != "ok" || r->size() != 2) std::abort();
  });
  CHECK_FALSE(d.signaled);
  CHECK(d.stderr_text.empty());
}

}  // namespace
}  // namespace hearth
