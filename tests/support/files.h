// Test support: reading a whole file (a log, a database file, a command's output) into a string.
// Header-only and stateless: safe from any thread.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace reglo::testing {

// The bytes of the file at `path`; "" when it cannot be read (e.g. not created yet).
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace reglo::testing
