#include "reglo/app/commands.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "reglo/app/relay.h"
#include "reglo/app/subject.h"
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

// "no source 'x' in hub.json (configured: a, b)", and the nearest id when `id` looks like a typo.
void PrintUnknownSource(const HubConfig& config, const std::string& id, std::ostream& err) {
  std::vector<std::string> ids;
  for (const storage::SourceRow& source : config.sources) ids.push_back(source.id);
  const std::string nearest = NearestName(id, ids);
  fmt::print(err, "error: no source '{}' in {} (configured: {}){}\n", Excerpt(id, 100),
             config.path.string(),
             ids.empty() ? "(none configured)" : fmt::format("{}", fmt::join(ids, ", ")),
             nearest.empty() ? "" : fmt::format("; did you mean '{}'?", nearest));
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

Status CheckPluginsDir(const std::filesystem::path& config_path,
                       const std::filesystem::path& plugins_dir) {
  std::error_code error;
  std::filesystem::directory_iterator listing(plugins_dir, error);
  if (!error) return Status::Ok();
  return Status::ConfigError(
      fmt::format("{}: plugins_dir: cannot read the plugins folder {}: {}", config_path.string(),
                  EscapeControlCharacters(plugins_dir.string()), error.message()));
}

namespace {

// A plugin's refusal of its options, reported against the config file: "delimeter: unknown key"
// from the csv plugin of sources[0] is "<file>: sources[0].options.delimeter: unknown key". The
// plugin's message is input-derived (masked and escaped); a message that does not start with a
// key (no blank before its first ": ") is reported against the options as a whole.
Status OptionsError(const std::filesystem::path& config_path, size_t index,
                    const plugin_host::PluginInfo& plugin, const Status& status) {
  if (status.code() != StatusCode::kConfigError) return status;
  std::string message = status.message();
  const std::string context = plugin_host::CreateInstanceContext(plugin) + ": ";
  if (message.rfind(context, 0) == 0) message.erase(0, context.size());
  std::string key = fmt::format("sources[{}].options", index);
  const size_t colon = message.find(": ");
  if (colon != std::string::npos && colon > 0 && message.find_first_of(" \t'\"", 0) > colon) {
    const std::string named = message.substr(0, colon);
    if (named != "config") key += "." + named;  // "config": the options as a whole
    message.erase(0, colon + 2);
  }
  return Status::ConfigError(fmt::format("{}: {}: {} (connector '{}')", config_path.string(),
                                         MaskPersonalData(key), MaskPersonalData(message),
                                         EscapeControlCharacters(plugin.name)));
}

}  // namespace

Result<std::unique_ptr<plugin_host::ConnectorInstance>> CreateConnector(
    const std::filesystem::path& config_path, size_t index,
    const std::filesystem::path& plugins_dir, const plugin_host::PluginSet& plugins,
    const storage::SourceRow& source) {
  auto plugin = plugins.plugins.find(source.connector);
  if (plugin == plugins.plugins.end()) {
    std::vector<std::string> names;
    for (const auto& [name, _] : plugins.plugins) names.push_back(name);
    const std::string nearest = NearestName(source.connector, names);
    return Status::ConfigError(fmt::format(
        "{}: sources[{}].connector: '{}' is not loaded from {} (loaded: {}){}",
        config_path.string(), index, Excerpt(source.connector, 100),
        EscapeControlCharacters(plugins_dir.string()),
        names.empty() ? "none" : EscapeControlCharacters(fmt::format("{}", fmt::join(names, ", "))),
        nearest.empty() ? "" : fmt::format("; did you mean '{}'?", nearest)));
  }
  Result<std::unique_ptr<plugin_host::ConnectorInstance>> created =
      plugin->second->CreateInstance(source.config_json);
  if (!created.ok())
    return OptionsError(config_path, index, plugin->second->info(), created.status());
  return created;
}

namespace {

// The position of `source` (one of config.sources) in the config file's "sources".
size_t IndexOf(const HubConfig& config, const storage::SourceRow& source) {
  return static_cast<size_t>(&source - config.sources.data());
}

// CreateConnector, in a runner child for a source with isolation "process".
Result<std::unique_ptr<plugin_host::ConnectorInstance>> CreateSourceConnector(
    const HubConfig& config, const plugin_host::PluginSet& plugins,
    const storage::SourceRow& source) {
  auto plugin = plugins.plugins.find(source.connector);
  if (plugin == plugins.plugins.end() || !config.process_isolated.count(source.id)) {
    return CreateConnector(config.path, IndexOf(config, source), config.plugins_dir, plugins,
                           source);
  }
  Result<std::unique_ptr<isolation::ProcessConnector>> started =
      isolation::ProcessConnector::Start(RunnerOptionsOf(config), plugin->second->info().path);
  if (!started.ok()) return started.status();
  if (Status created = (*started)->Create(source.config_json); !created.ok()) {
    return OptionsError(config.path, IndexOf(config, source), plugin->second->info(), created);
  }
  return std::unique_ptr<plugin_host::ConnectorInstance>(std::move(*started));
}

// The exit code of two outcomes together: a configuration error outweighs a failure, which
// outweighs warnings.
int Worse(int a, int b) {
  const auto rank = [](int code) {
    switch (code) {
      case kExitUsage: return 3;
      case kExitFailure: return 2;
      case kExitWarnings: return 1;
      default: return 0;
    }
  };
  return rank(a) >= rank(b) ? a : b;
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
  if (!report.error.ok()) {
    fmt::print(out, "  error: {}\n", MaskPersonalData(report.error.ToString()));
    // The plugin calls it temporary, but nothing here runs the source again.
    if (report.error.code() == StatusCode::kRetryable ||
        report.error.code() == StatusCode::kRateLimited) {
      fmt::print(out,
                 "  not retried: `sync --once` runs each source once; run it again, or let "
                 "`reglo-hub serve` retry it\n");
    }
  }
}

// The store URL as it may be shown: a PostgreSQL password is replaced by "***".
std::string StoreForDisplay(const HubConfig& config) {
  if (!storage::IsPostgresUrl(config.store_url)) return config.store_url;
  Result<storage::PostgresUrl> url = storage::ParsePostgresUrl(config.store_url);
  return url.ok() ? url->Redacted() : "postgres://(malformed)";
}

}  // namespace

std::optional<std::string> MigrationLogLine(const storage::MigrationStep& step,
                                            std::string_view store) {
  if (step.from == 0) {
    if (step.version != 1) return std::nullopt;
    return fmt::format("store {}: creating its schema (version {})", store, step.latest);
  }
  return fmt::format(
      "store {}: applying migration {} of {} ({}); one that rebuilds a table takes "
      "seconds per million records",
      store, step.version, step.latest, step.name);
}

Result<std::unique_ptr<storage::Store>> OpenStore(const HubConfig& config) {
  // By value: the store keeps its observer for later Migrate calls.
  const storage::MigrationObserver log_migration =
      [store = StoreForDisplay(config)](const storage::MigrationStep& step) {
        if (std::optional<std::string> line = MigrationLogLine(step, store))
          spdlog::info("{}", *line);
      };
  if (storage::IsPostgresUrl(config.store_url)) {
    return storage::OpenPostgresStore(config.store_url, SystemClock::Instance(), log_migration);
  }
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
  return storage::OpenSqliteStore(config.sqlite_path.string(), SystemClock::Instance(),
                                  log_migration);
}

int SyncOnce(const HubConfig& config, const std::optional<std::string>& source_id,
             const Clock& clock, std::ostream& out, std::ostream& err) {
  std::vector<const storage::SourceRow*> selected;
  if (source_id) {
    const storage::SourceRow* source = FindSource(config, *source_id);
    if (source == nullptr) {
      PrintUnknownSource(config, *source_id, err);
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
  if (Status readable = CheckPluginsDir(config.path, config.plugins_dir); !readable.ok()) {
    fmt::print(err, "error: {}\n", readable.ToString());
    return kExitUsage;
  }
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) {
    fmt::print(err, "error: {}\n", store.status().ToString());
    return kExitFailure;
  }
  // What a pull does with an erased record (issue #18): the config's rules, read by checkpoints.
  if (Status rules = ApplyErasureRules(**store, config, clock); !rules.ok()) {
    fmt::print(err, "error: {}\n", rules.ToString());
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
      exit_code = Worse(exit_code, kExitFailure);
      continue;
    }
    // The source's lease, as `serve` takes it: never a pull overlapping another instance's.
    Result<std::unique_ptr<SourceLease>> lease = SourceLease::Take(
        **store, [&config] { return OpenStore(config); }, source->id, owner, lease_ttl, clock);
    if (!lease.ok()) {
      fmt::print(err, "error: source {}: its lease could not be taken, so it was not synced: {}\n",
                 source->id, MaskPersonalData(lease.status().ToString()));
      exit_code = Worse(exit_code, kExitFailure);
      continue;
    }
    if (*lease == nullptr) {
      fmt::print(err,
                 "error: source {}: not synced: another hub instance holds the source's lease (it "
                 "is syncing it, or it was killed and its lease lasts until it expires, at most "
                 "{} s)\n",
                 source->id, lease_ttl.count() / 1000);
      exit_code = Worse(exit_code, kExitFailure);
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
      exit_code =
          Worse(exit_code,
                connector.status().code() == StatusCode::kConfigError ? kExitUsage : kExitFailure);
      continue;
    }
    pipeline::SyncOptions options;
    options.lease_owner = owner;  // every commit is fenced by the lease
    pipeline::SyncRunner runner(**store, clock, options);
    pipeline::SyncReport report = runner.RunOnce(*source, **connector, &(*lease)->stop());
    if (const std::string lost = (*lease)->lost_reason(); !lost.empty()) {
      fmt::print(err, "error: source {}: {}; the pull stopped\n", source->id, lost);
      exit_code = Worse(exit_code, kExitFailure);
    }
    PrintReport(*source, report, out);
    if (report.status == storage::RunStatus::kFailed) {
      exit_code = Worse(exit_code, kExitFailure);
    } else if (report.status == storage::RunStatus::kSucceededWithWarnings) {
      exit_code = Worse(exit_code, kExitWarnings);
    }
  }
  return exit_code;
}

int PreviewSource(const HubConfig& config, const std::string& source_id, int64_t limit,
                  bool from_cursor, std::ostream& out, std::ostream& err) {
  const storage::SourceRow* source = FindSource(config, source_id);
  if (source == nullptr) {
    PrintUnknownSource(config, source_id, err);
    return kExitUsage;
  }
  if (Status readable = CheckPluginsDir(config.path, config.plugins_dir); !readable.ok()) {
    fmt::print(err, "error: {}\n", readable.ToString());
    return kExitUsage;
  }
  plugin_host::PluginSet plugins = LoadPlugins(config);
  PrintLoadErrors(plugins, err);
  Result<std::unique_ptr<plugin_host::ConnectorInstance>> connector =
      CreateSourceConnector(config, plugins, *source);
  if (!connector.ok()) {
    fmt::print(err, "error: {}\n", MaskPersonalData(connector.status().ToString()));
    return connector.status().code() == StatusCode::kConfigError ? kExitUsage : kExitFailure;
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
  if (Status readable = CheckPluginsDir(config.path, config.plugins_dir); !readable.ok()) {
    fmt::print(err, "error: {}\n", readable.ToString());
    return kExitUsage;
  }
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
