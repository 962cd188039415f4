// A scripted connector runner for process_connector_fuzz: writes the bytes of the file named by
// $REGLO_FUZZ_RUNNER_SCRIPT to the hub (stdout), ends its side of the stream, then reads the hub's
// frames (stdin) until a kShutdown frame or end of file. Staying alive until then keeps the
// hub's writes succeeding, so a given script is always read the same way (no EPIPE races).
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

namespace {

constexpr uint8_t kShutdown = 74;  // protocol::Type::kShutdown

bool WriteAll(int fd, const std::string& bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main() {
  const char* script_path = std::getenv("REGLO_FUZZ_RUNNER_SCRIPT");
  if (script_path == nullptr) {
    std::fprintf(stderr, "fuzz_runner: $REGLO_FUZZ_RUNNER_SCRIPT is not set\n");
    return 2;
  }
  std::ifstream file(script_path, std::ios::binary);
  const std::string script((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
  (void)WriteAll(STDOUT_FILENO, script);
  ::shutdown(STDOUT_FILENO, SHUT_WR);  // the hub sees the end of the stream after the script

  // Frames from the hub: [u32 length LE][u8 type][body]; only the type matters here.
  std::string pending;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n <= 0) return 0;
    pending.append(buffer, static_cast<size_t>(n));
    while (pending.size() >= 5) {
      uint32_t length = 0;
      for (int i = 3; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(pending[i]);
      if (static_cast<uint8_t>(pending[4]) == kShutdown) return 0;
      if (pending.size() < 4 + static_cast<size_t>(length)) break;
      pending.erase(0, 4 + static_cast<size_t>(length));
    }
  }
}
