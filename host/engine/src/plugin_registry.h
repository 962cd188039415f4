// PluginRegistry: the plugins the engine has loaded from its folder (by name), the files it
// refused and why, each plugin's thread pool and its quarantine. Plain state with no lock of its
// own: the engine keeps it in a Synchronized<> whose lock comes after the sources' and before the
// runs'. Its changes that concern sources are returned to the engine, which applies them.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/engine/engine.h"
#include "reglo/engine/plugin_watcher.h"
#include "reglo/plugin_host/plugin.h"

namespace reglo::engine {

struct PluginRegistry {
  struct Slot {
    std::shared_ptr<plugin_host::LoadedPlugin> plugin;  // null: not loaded (removed)
    std::filesystem::path file;
    std::unique_ptr<boost::asio::thread_pool> pool;
    bool quarantined = false;
    std::string reason;
  };

  // What a folder event changed, for the engine to apply to the plugins' sources.
  struct Change {
    std::vector<std::pair<std::string, std::string>> unloaded;  // plugin name, why
    std::string loaded;                                         // the plugin (re)loaded, if any
    std::string version;                                        // its version
    bool quarantine_lifted = false;  // a new version of a quarantined plugin
  };

  // Applies one event of the plugins folder; `loaded` is the library it made ready, probed and
  // loaded outside any lock (an error: refused, with the reason).
  Change Apply(const PluginFileEvent& event,
               Result<std::shared_ptr<plugin_host::LoadedPlugin>> loaded,
               const std::filesystem::path& plugins_dir);

  // The slot of the loaded plugin `name`, or null when it is not loaded.
  Slot* Loaded(const std::string& name);
  // Its thread pool, created with `threads` threads at first use.
  boost::asio::thread_pool& PoolOf(Slot& slot, int threads);

  // Quarantines `name` (its pool is abandoned, never joined); returns why, or nullopt when it
  // already was.
  std::optional<std::string> Quarantine(const std::string& name, const std::string& stuck_source,
                                        Duration cancel_grace, Duration stall_timeout);

  std::vector<PluginSnapshot> Snapshots() const;

  std::map<std::string, Slot> plugins;                      // by plugin name
  std::map<std::filesystem::path, std::string> file_names;  // folder file -> plugin name
  std::map<std::filesystem::path, std::string> refused;     // folder file -> why
  std::vector<std::unique_ptr<boost::asio::thread_pool>> abandoned_pools;

 private:
  // The plugin is gone (its running pulls finish on their copy); adds it to `change`.
  void Unload(const std::string& name, const std::string& reason, Change& change);
};

}  // namespace reglo::engine
