// The hub's configuration file: store, plugins folder and sources. JSON with // comments allowed.
// Relative paths are resolved against the config file's folder. Errors name the key and what is
// wrong ("sources[1].connector: missing"). Plain values; thread-safe once loaded.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/store.h"

namespace reglo::app {

struct HubConfig {
  std::filesystem::path path;         // the config file itself
  std::string store_url;              // as written, e.g. "sqlite:var/hub.db"
  std::filesystem::path sqlite_path;  // resolved, for "sqlite:" stores
  std::filesystem::path plugins_dir;  // resolved
  std::vector<storage::SourceRow> sources;
};

// Reads and checks the config file at `path`.
Result<HubConfig> LoadConfig(const std::filesystem::path& path);
// Checks config text; `base_dir` resolves relative paths. Exposed for tests.
Result<HubConfig> ParseConfig(const std::string& text, const std::filesystem::path& base_dir);

}  // namespace reglo::app
