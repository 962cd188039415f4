// Test support: runs a shell command (a binary under test, as an operator would) and captures its
// exit code and combined stdout/stderr. Header-only; each call is independent.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace reglo::testing {

struct CommandOutput {
  int exit_code = -1;  // -1 when the command did not exit normally (or could not start)
  std::string text;    // stdout and stderr, interleaved
};

inline CommandOutput RunCommand(const std::string& command_line) {
  CommandOutput out;
  std::FILE* pipe = ::popen((command_line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    out.text.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Runs the program at `binary` (quoted: build paths may hold spaces) with `arguments`, which the
// shell reads as they are.
inline CommandOutput RunTool(const std::string& binary, const std::string& arguments) {
  return RunCommand("'" + binary + "' " + arguments);
}

}  // namespace reglo::testing
