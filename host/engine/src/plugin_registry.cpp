#include "plugin_registry.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "duration_text.h"

namespace reglo::engine {

PluginRegistry::Change PluginRegistry::Apply(
    const PluginFileEvent& event, Result<std::shared_ptr<plugin_host::LoadedPlugin>> loaded,
    const std::filesystem::path& plugins_dir) {
  Change change;
  const std::string file = event.file.string();
  if (event.kind == PluginFileEvent::Kind::kIncomplete) {
    refused[event.file] =
        fmt::format("plugin {} not loaded: {}; waiting for it to change", file, event.problem);
    spdlog::warn("{}", refused[event.file]);
    return change;
  }
  if (event.kind == PluginFileEvent::Kind::kRemoved) {
    auto named = file_names.find(event.file);
    if (named == file_names.end()) {
      refused.erase(event.file);
      return change;
    }
    const std::string name = named->second;
    file_names.erase(named);
    Unload(name, fmt::format("plugin '{}' was removed from {}", name, plugins_dir.string()),
           change);
    return change;
  }
  if (!loaded.ok()) {
    std::string reason = loaded.status().message();
    // The operator knows the file in the folder, not our private copy of it.
    for (size_t at = reason.find(event.private_copy.string()); at != std::string::npos;
         at = reason.find(event.private_copy.string())) {
      reason.replace(at, event.private_copy.string().size(), file);
    }
    spdlog::warn("{}", reason);
    refused[event.file] = reason;
    std::error_code ignored;
    std::filesystem::remove(event.private_copy, ignored);
    return change;
  }
  refused.erase(event.file);
  const std::string name = (*loaded)->info().name;
  const std::string version = (*loaded)->info().version;
  Slot& slot = plugins[name];
  if (slot.plugin && slot.file != event.file) {
    const std::string reason =
        fmt::format("plugin {} refused: the name '{}' is already provided by {}", file, name,
                    slot.file.string());
    spdlog::warn("{}", reason);
    refused[event.file] = reason;
    return change;
  }
  auto previous = file_names.find(event.file);
  if (previous != file_names.end() && previous->second != name) {
    const std::string old = previous->second;
    Unload(old, fmt::format("plugin '{}' was replaced in {} by '{}'", old, file, name), change);
  }
  file_names[event.file] = name;
  const std::string old_version = slot.plugin ? slot.plugin->info().version : "";
  slot.plugin = *loaded;
  slot.file = event.file;
  if (old_version.empty()) {
    spdlog::info("plugin {} {} loaded from {}", name, version, file);
  } else {
    spdlog::info(
        "plugin {} replaced: {} -> {} from {}; running pulls finish on {}, the next use {}", name,
        old_version, version, file, old_version, version);
  }
  if (slot.quarantined) {
    spdlog::info("plugin {}: quarantine lifted by the new version {}", name, version);
    slot.quarantined = false;
    slot.reason.clear();
    change.quarantine_lifted = true;
  }
  change.loaded = name;
  change.version = version;
  return change;
}

void PluginRegistry::Unload(const std::string& name, const std::string& reason, Change& change) {
  auto it = plugins.find(name);
  if (it == plugins.end()) return;
  it->second.plugin.reset();
  spdlog::warn("{}; its sources are paused", reason);
  change.unloaded.emplace_back(name, reason);
}

PluginRegistry::Slot* PluginRegistry::Loaded(const std::string& name) {
  auto it = plugins.find(name);
  return it == plugins.end() || !it->second.plugin ? nullptr : &it->second;
}

boost::asio::thread_pool& PluginRegistry::PoolOf(Slot& slot, int threads) {
  if (!slot.pool) {
    slot.pool =
        std::make_unique<boost::asio::thread_pool>(static_cast<size_t>(std::max(1, threads)));
  }
  return *slot.pool;
}

std::optional<std::string> PluginRegistry::Quarantine(const std::string& name,
                                                      const std::string& stuck_source,
                                                      Duration cancel_grace,
                                                      Duration stall_timeout) {
  Slot& slot = plugins[name];
  if (slot.quarantined) return std::nullopt;
  slot.quarantined = true;
  slot.reason = fmt::format(
      "plugin {} quarantined: a pull of source {} ignored cancellation for {} after {} without "
      "progress",
      name, stuck_source, DurationText(cancel_grace), DurationText(stall_timeout));
  spdlog::error("{}; its sources are marked failed, the rest of the hub carries on", slot.reason);
  if (slot.pool) abandoned_pools.push_back(std::move(slot.pool));
  return slot.reason;
}

std::vector<PluginSnapshot> PluginRegistry::Snapshots() const {
  std::vector<PluginSnapshot> snapshots;
  for (const auto& [name, slot] : plugins) {
    PluginSnapshot snapshot;
    snapshot.name = name;
    snapshot.file = slot.file;
    snapshot.loaded = slot.plugin != nullptr;
    if (slot.plugin) {
      const plugin_host::PluginInfo& info = slot.plugin->info();
      snapshot.version = info.version;
      snapshot.abi_version = fmt::format("{}.{}", info.abi_major, info.abi_minor);
      snapshot.config_schema_json = info.config_schema_json;
    }
    snapshot.quarantined = slot.quarantined;
    snapshot.reason = slot.quarantined ? slot.reason : (slot.plugin ? "" : "removed");
    snapshots.push_back(std::move(snapshot));
  }
  for (const auto& [file, reason] : refused) {
    PluginSnapshot snapshot;
    snapshot.file = file;
    snapshot.reason = reason;
    snapshots.push_back(std::move(snapshot));
  }
  return snapshots;
}

}  // namespace reglo::engine
