// Helpers shared by the libFuzzer harnesses of tests/fuzz: fuzz bytes as an anonymous in-memory
// file (for parsers that read a path or a descriptor), and the one way a harness reports a broken
// property (a finding with a message, like a sanitizer's). Single-threaded, like libFuzzer.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace reglo::fuzz {

// The bytes as a memfd: fd() for readers of descriptors, path() for readers of paths (each open of
// /proc/self/fd/N starts at offset 0). Closed on destruction.
class MemFile {
 public:
  explicit MemFile(std::string_view bytes) : fd_(::memfd_create("reglo-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) Fail("memfd_create failed");
    size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + written, bytes.size() - written);
      if (n <= 0) Fail("writing the memfd failed");
      written += static_cast<size_t>(n);
    }
    ::lseek(fd_, 0, SEEK_SET);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  int fd() const { return fd_; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

  [[noreturn]] static void Fail(const char* what) {
    std::fprintf(stderr, "fuzz harness: %s\n", what);
    std::abort();
  }

 private:
  int fd_;
};

// The line at the start of `rest` (without its '\n'), which moves past it: harnesses whose input
// is a few lines of parts, then the rest.
inline std::string_view NextLine(std::string_view& rest) {
  const size_t newline = rest.find('\n');
  const std::string_view line = rest.substr(0, newline);
  rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  return line;
}

// A property the parser promises does not hold: abort, so libFuzzer saves the input.
inline void Check(bool holds, const char* property) {
  if (!holds) {
    std::fprintf(stderr, "fuzz finding: %s\n", property);
    std::abort();
  }
}

}  // namespace reglo::fuzz
