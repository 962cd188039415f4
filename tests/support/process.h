// Test support: starting a binary under test as a background process with its output in a log
// file, and finding a free loopback port for it. Header-only; each call is independent.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace reglo::testing {

// Starts `binary` with `args` (argv[1..]); stdout and stderr are appended to `log`. Returns the
// child's pid, or -1 if it could not be forked (the caller kills and waits for it).
inline pid_t SpawnLogged(const std::string& binary, const std::vector<std::string>& args,
                         const std::string& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  FILE* out = std::freopen(log.c_str(), "a", stdout);
  if (out == nullptr || ::dup2(STDOUT_FILENO, STDERR_FILENO) < 0) ::_exit(127);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execv(binary.c_str(), argv.data());
  ::_exit(127);
}

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), or -1.
inline int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace reglo::testing
