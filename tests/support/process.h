// Test support: a binary under test as a background process with its output in a log file, and
// waiting (bounded) for it to exit. Header-only and stateless; the caller owns the child (kills
// and reaps it, e.g. with KillAndReap in TearDown).
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace reglo::testing {

// Starts `binary` with `args` (argv[1..]) and the variables `env` added to its environment;
// stdout and stderr are appended to `log`. Returns the child's pid, or -1 if it could not be
// forked.
inline pid_t SpawnLogged(const std::string& binary, const std::vector<std::string>& args,
                         const std::string& log,
                         const std::vector<std::pair<std::string, std::string>>& env = {}) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  FILE* out = std::freopen(log.c_str(), "a", stdout);
  if (out == nullptr || ::dup2(STDOUT_FILENO, STDERR_FILENO) < 0) ::_exit(127);
  for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execv(binary.c_str(), argv.data());
  ::_exit(127);
}

// Waits (bounded, polling in real time) for the child `pid` to exit. Its wait status (for
// WIFEXITED and friends), or nullopt if it still runs after `bound`. Sets `pid` to -1 once reaped.
inline std::optional<int> WaitForExit(
    pid_t& pid, std::chrono::milliseconds bound,
    std::chrono::milliseconds interval = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  int status = 0;
  while (true) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(interval);
  }
}

// A wait status as a shell shows it: the exit code, or 128 + the signal that ended the process.
inline int ExitCode(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Sends `signal` to the child `pid` (when there is one, pid > 0), waits for it to end and sets
// `pid` to -1.
inline void KillAndReap(pid_t& pid, int signal = SIGKILL) {
  if (pid <= 0) return;
  ::kill(pid, signal);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

}  // namespace reglo::testing
