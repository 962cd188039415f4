// Test support: a fresh private folder under the system temp dir for one test (MakeTempDir), and
// TempDir, which owns one and removes it with everything in it when it dies. Header-only;
// MakeTempDir is safe from any thread, a TempDir belongs to one test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace reglo::testing {

// Creates a new folder <temp dir>/<prefix>XXXXXX (mkdtemp: a unique name, mode 0700). Its path, or
// an empty path when it could not be created. The caller removes it.
inline std::filesystem::path MakeTempDir(const std::string& prefix = "reglo_test_") {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "reglo_test_") : path_(MakeTempDir(prefix)) {
    if (path_.empty()) ADD_FAILURE() << "could not create a temp folder " << prefix << "XXXXXX";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `bytes` exactly (binary) to a file under the folder and returns its absolute path.
  std::string Write(const std::string& relative, std::string_view bytes) const {
    const std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace reglo::testing
