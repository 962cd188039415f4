#include "reglo/app/commands.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <chrono>

#include "reglo/app/relay.h"
#include "reglo/core/masking.h"
#include "reglo/core/text.h"
#include "reglo/isolation/process_connector.h"
#include "reglo/pipeline/sync.h"
#include "reglo/plugin_host/plugin.h"
#include "reglo/storage/postgres_store.h"
#include "reglo/storage/sqlite_store.h"
#include "source_lease.h"

namespace reglo::app {
namespace {

const storage::SourceRow* FindSource(const HubConfig& config, const std::string& id) {
  for (const storage::SourceRow& source : config.sources) {
    if (source.id == id) return &source;
  }
  return nullptr;
}

std::string KnownSources(const HubConfig& config) {
  std::string ids;
  for (const storage::SourceRow& source : config.sources)
    ids += (ids.empty() ? "" : ", ") + source.id;
  return ids.empty() ? "(none configured)" : ids;
}

void PrintLoadErrors(const plugin_host::PluginSet& plugins, std::ostream& err) {
  for (const plugin_host::PluginLoadError& error : plugins.errors) {
    fmt::print(err, "warning: {}\n", MaskPersonalData(error.reason));
  }
}

isolation::RunnerOptions RunnerOptionsOf(const HubConfig& config) {
  isolation::RunnerOptions options;
  options.memory_limit_mb = static_cast<uint64_t>(config.engine.runner_memory_limit_mb);
  return options;
}

// Loads the plugins folder, each library probed in a runner child first (with the configurations
// of the sources that run it in this process), so a crashing library is refused, not fatal.
plugin_host::PluginSet LoadPlugins(const HubConfig& config) {
  const isolation::RunnerOptions runner = RunnerOptionsOf(config);
  return plugin_host::LoadPluginDirectory(
      config.plugins_dir, [&](const std::filesystem::path& library) {
        auto configs = [&](const plugin_host::PluginInfo& described) {
          std::vector<std::pair<std::string, std::string>> tried;
          for (const storage::SourceRow& source : config.sources) {
            if (source.connector == described.name && !config.process_isolated.count(source.id)) {
              tried.emplace_back("source " + source.id, source.config_json);
            }
          }
          return tried;
        };
        Result<plugin_host::PluginInfo> probed = isolation::ProbePlugin(runner, library, configs);
        return probed.ok() ? Status::Ok() : probed.status();
      });
}

}  // namespace

Result<std::unique_ptr<plugin_host::ConnectorInstance>> CreateConnector(
    const std::filesystem::path& plugins_dir, const plugin_host::PluginSet& plugins,
    const storage::SourceRow& source) {
  auto plugin = plugins.plugins.find(source.connector);
  if (plugin == plugins.plugins.end()) {
    std::string loaded;
    for (const auto& [name, _] : plugins.plugins) loaded += (loaded.empty() ? "" : ", ") + name;
    return Status::ConfigError(
        fmt::format("source {}: connector '{}' is not loaded from {} (loaded: {})", source.id,
                    source.connector, plugins_dir.string(), loaded.empty() ? "none" : loaded));
  }
  return plugin->second->CreateInstance(source.config_json);
}

namespace {

// CreateConnector, in a runner child for a source with isolation "process".
Result<std::unique_ptr<plugin_host::ConnectorInstance>> CreateSourceConnector(
    const HubConfig& config, const plugin_host::PluginSet& plugins,
    const storage::SourceRow& source) {
  auto plugin = plugins.plugins.find(source.connector);
  if (plugin == plugins.plugins.end() || !config.process_isolated.count(source.id)) {
    return CreateConnector(config.plugins_dir, plugins, source);
  }
  Result<std::unique_ptr<isolation::ProcessConnector>> started =
      isolation::ProcessConnector::Start(RunnerOptionsOf(config), plugin->second->info().path);
  if (!started.ok()) return started.status();
  REGLO_RETURN_IF_ERROR((*started)->Create(source.config_json));
  return std::unique_ptr<plugin_host::ConnectorInstance>(std::move(*started));
}

void PrintReport(const storage::SourceRow& source, const pipeline::SyncReport& report,
                 std::ostream& out) {
  fmt::print(out, "Source {} ({}, company {}) - run {}: {}\n", source.id, source.connector,
             source.company_id, report.run_id, storage::RunStatusName(report.status));
  fmt::print(out, "  {:<12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9}\n", "entity", "records",
             "created", "updated", "unchanged", "stale", "warnings", "rejected");
  for (const auto& [entity, c] : report.by_entity) {
    fmt::print(out, "  {:<12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9}\n", Excerpt(entity, 40),
               c.seen + c.rejected, c.created, c.updated, c.unchanged, c.stale, c.warnings,
               c.rejected);
  }
  const storage::RunCounters& t = report.counters;
  fmt::print(out, "  {:<12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9}\n", "total", t.seen,
             t.created, t.updated, t.unchanged, t.stale, t.warnings, t.rejected);
  fmt::print(out, "  events emitted: {}\n", report.events);
  if (!report.error.ok())
    fmt::print(out, "  error: {}\n", MaskPersonalData(report.error.ToString()));
}

// The store URL as it may be shown: a PostgreSQL password is replaced by "***".
std::string StoreForDisplay(const HubConfig& config) {
  if (!storage::IsPostgresUrl(config.store_url)) return config.store_url;
  Result<storage::PostgresUrl> url = storage::ParsePostgresUrl(config.store_url);
  return url.ok() ? url->Redacted() : "postgres://(malformed)";
}

}  // namespace

Result<std::unique_ptr<storage::Store>> OpenStore(const HubConfig& config) {
  if (storage::IsPostgresUrl(config.store_url)) return storage::OpenPostgresStore(config.store_url);
  if (config.sqlite_path.empty())
    return Status::ConfigError("store: expected sqlite:PATH or postgres://user@host:port/database");
  if (config.sqlite_path != ":memory:" && config.sqlite_path.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(config.sqlite_path.parent_path(), error);
    if (error) {
      return Status::IoError(fmt::format("cannot create the folder of {}: {}",
                                         config.sqlite_path.string(), error.message()));
    }
  }
  return storage::OpenSqliteStore(config.sqlite_path.string());
}

int SyncOnce(const HubConfig& config, const std::optional<std::string>& source_id,
             const Clock& clock, std::ostream& out, std::ostream& err) {
  std::vector<const storage::SourceRow*> selected;
  if (source_id) {
    const storage::SourceRow* source = FindSource(config, *source_id);
    if (source == nullptr) {
      fmt::print(err, "error: no source '{}' in {} (configured: {})\n", *source_id,
                 config.path.string(), KnownSources(config));
      return kExitUsage;
    }
    selected.push_back(source);
  } else {
    for (const storage::SourceRow& source : config.sources) {
      if (source.enabled) selected.push_back(&source);
    }
  }
  if (selected.empty()) {
    fmt::print(err, "error: no enabled source to sync in {}\n", config.path.string());
    return kExitUsage;
  }
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) {
    fmt::print(err, "error: {}\n", store.status().ToString());
    return kExitFailure;
  }
  plugin_host::PluginSet plugins = LoadPlugins(config);
  PrintLoadErrors(plugins, err);

  int exit_code = kExitOk;
  const std::string owner = InstanceId();
  const std::chrono::milliseconds lease_ttl(engine::defaults::LeaseTtlMs(
      config.engine.lease_ms, config.engine.stall_timeout_ms, config.engine.cancel_grace_ms));
  for (const storage::SourceRow* source : selected) {
    Status registered = (*store)->UpsertSource(*source);
    if (!registered.ok()) {
      fmt::print(err, "error: source {}: {}\n", source->id, registered.ToString());
      exit_code = kExitFailure;
      continue;
    }
    // The source's lease, as `serve` takes it: never a pull overlapping another instance's.
    Result<std::unique_ptr<SourceLease>> lease = SourceLease::Take(
        **store, [&config] { return OpenStore(config); }, source->id, owner, lease_ttl, clock);
    if (!lease.ok()) {
      fmt::print(err, "error: source {}: its lease could not be taken, so it was not synced: {}\n",
                 source->id, MaskPersonalData(lease.status().ToString()));
      exit_code = kExitFailure;
      continue;
    }
    if (*lease == nullptr) {
      fmt::print(err,
                 "error: source {}: not synced: another hub instance holds the source's lease (it "
                 "is syncing it, or it was killed and its lease lasts until it expires, at most "
                 "{} s)\n",
                 source->id, lease_ttl.count() / 1000);
      exit_code = kExitFailure;
      continue;
    }
    // With the lease held, a run still marked running was left by a process that was killed.
    Result<int64_t> closed = (*store)->CloseAbandonedRuns(
        source->id, FormatUtc(clock.Now()),
        "abandoned: the hub process running it stopped before it finished");
    if (closed.ok() && *closed > 0) {
      fmt::print(err, "note: source {}: closed {} run(s) left open by a stopped hub process\n",
                 source->id, *closed);
    }
    Result<std::unique_ptr<plugin_host::ConnectorInstance>> connector =
        CreateSourceConnector(config, plugins, *source);
    if (!connector.ok()) {
      // Recorded as a failed run, so the failure is visible where runs are looked at.
      const std::string message = MaskPersonalData(connector.status().message());
      Result<int64_t> run = (*store)->BeginRun(source->id, FormatUtc(clock.Now()));
      if (run.ok()) {
        (void)(*store)->AppendRunLog(*run,
                                     {FormatUtc(clock.Now()), storage::LogLevel::kError, message});
        (void)(*store)->FinishRun(*run, storage::RunStatus::kFailed, FormatUtc(clock.Now()),
                                  std::string(StatusCodeName(connector.status().code())), message);
      }
      (void)(*store)->SetSourceStatus(source->id, "failed");
      fmt::print(err, "error: {}\n", MaskPersonalData(connector.status().ToString()));
      exit_code = kExitFailure;
      continue;
    }
    pipeline::SyncOptions options;
    options.lease_owner = owner;  // every commit is fenced by the lease
    pipeline::SyncRunner runner(**store, clock, options);
    pipeline::SyncReport report = runner.RunOnce(*source, **connector, &(*lease)->stop());
    if (const std::string lost = (*lease)->lost_reason(); !lost.empty()) {
      fmt::print(err, "error: source {}: {}; the pull stopped\n", source->id, lost);
      exit_code = kExitFailure;
    }
    PrintReport(*source, report, out);
    if (report.status == storage::RunStatus::kFailed) {
      exit_code = kExitFailure;
    } else if (report.status == storage::RunStatus::kSucceededWithWarnings &&
               exit_code == kExitOk) {
      exit_code = kExitWarnings;
    }
  }
  return exit_code;
}

int PreviewSource(const HubConfig& config, const std::string& source_id, int64_t limit,
                  bool from_cursor, std::ostream& out, std::ostream& err) {
  const storage::SourceRow* source = FindSource(config, source_id);
  if (source == nullptr) {
    fmt::print(err, "error: no source '{}' in {} (configured: {})\n", source_id,
               config.path.string(), KnownSources(config));
    return kExitUsage;
  }
  plugin_host::PluginSet plugins = LoadPlugins(config);
  PrintLoadErrors(plugins, err);
  Result<std::unique_ptr<plugin_host::ConnectorInstance>> connector =
      CreateSourceConnector(config, plugins, *source);
  if (!connector.ok()) {
    fmt::print(err, "error: {}\n", MaskPersonalData(connector.status().ToString()));
    return kExitFailure;
  }
  // With --from-cursor, preview reads the stored cursors; it never creates a SQLite file (a
  // PostgreSQL database exists already; opening it applies pending migrations).
  std::unique_ptr<storage::Store> store;
  if (from_cursor &&
      (storage::IsPostgresUrl(config.store_url) ||
       (config.sqlite_path != ":memory:" && std::filesystem::exists(config.sqlite_path)))) {
    Result<std::unique_ptr<storage::Store>> opened = OpenStore(config);
    if (!opened.ok()) {
      fmt::print(err, "error: {}\n", opened.status().ToString());
      return kExitFailure;
    }
    store = std::move(*opened);
  }
  pipeline::PreviewOptions options;
  options.limit = limit;
  pipeline::PreviewCounts counts;
  Status previewed = pipeline::Preview(*source, **connector, store.get(), options, out, &counts);
  if (!previewed.ok()) {
    fmt::print(err, "error: {}\n", MaskPersonalData(previewed.ToString()));
    return kExitFailure;
  }
  // The exit codes of `sync`: what would be a run with warnings is not a clean preview.
  return counts.warnings > 0 || counts.rejected > 0 ? kExitWarnings : kExitOk;
}

int ListPlugins(const HubConfig& config, std::ostream& out, std::ostream& err) {
  plugin_host::PluginSet plugins = LoadPlugins(config);
  fmt::print(out, "Plugins in {}:\n", config.plugins_dir.string());
  for (const auto& [name, plugin] : plugins.plugins) {
    const plugin_host::PluginInfo& info = plugin->info();
    // A descriptor's strings are the plugin's: escaped like any other input.
    fmt::print(out, "  {} {} (ABI {}.{}, vendor {}) entities: {}\n    {}\n",
               EscapeControlCharacters(info.name), EscapeControlCharacters(info.version),
               info.abi_major, info.abi_minor,
               info.vendor.empty() ? "-" : EscapeControlCharacters(info.vendor),
               EscapeControlCharacters(fmt::format("{}", fmt::join(info.entities, ", "))),
               EscapeControlCharacters(info.path.string()));
  }
  if (plugins.plugins.empty()) fmt::print(out, "  (none loaded)\n");
  for (const plugin_host::PluginLoadError& error : plugins.errors) {
    fmt::print(err, "refused: {}\n", MaskPersonalData(error.reason));
  }
  return plugins.errors.empty() ? kExitOk : kExitWarnings;
}

int Migrate(const HubConfig& config, std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) {
    fmt::print(err, "error: {}\n", store.status().ToString());
    return kExitFailure;
  }
  Result<int> version = (*store)->SchemaVersion();
  if (!version.ok()) {
    fmt::print(err, "error: {}\n", version.status().ToString());
    return kExitFailure;
  }
  fmt::print(out, "Store {} is at schema version {} (latest {}).\n", StoreForDisplay(config),
             *version, (*store)->LatestSchemaVersion());
  return kExitOk;
}

}  // namespace reglo::app
