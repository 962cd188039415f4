#include "reglo/app/serve.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>

#include "freed_memory.h"
#include "listener_metrics.h"
#include "reglo/admin/admin.h"
#include "reglo/admin/token.h"
#include "reglo/app/commands.h"
#include "reglo/app/housekeeping.h"
#include "reglo/app/ingest.h"
#include "reglo/app/keys.h"
#include "reglo/app/relay.h"
#include "reglo/app/subject.h"
#include "reglo/core/masking.h"
#include "reglo/engine/engine.h"
#include "reglo/http/server.h"
#include "reglo/ingest/ingest_service.h"
#include "reglo/relay/relay.h"
#include "reglo/security/master_key.h"

namespace reglo::app {
namespace {

// True when systemd connected this process's stdout to the journal: it then sets JOURNAL_STREAM
// to that stream's "<device>:<inode>" (systemd.exec(5)). A packaged hub's stdout is the journal.
bool StdoutIsTheJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat status {};
  if (stream == nullptr || ::fstat(STDOUT_FILENO, &status) != 0) return false;
  return fmt::format("{}:{}", status.st_dev, status.st_ino) == stream;
}

}  // namespace

int Serve(HubConfig config, std::ostream& out, std::ostream& err) {
  ReturnFreedMemory();  // the parsed config file's tree: many times its sources' rows
  engine::EngineOptions options;
  const EngineSettings& s = config.engine;
  options.default_interval = engine::Duration(s.default_interval_ms);
  options.backoff.base = engine::Duration(s.backoff_base_ms);
  options.backoff.cap = engine::Duration(s.backoff_cap_ms);
  options.backoff.failure_limit = s.failure_limit;
  options.stall_timeout = engine::Duration(s.stall_timeout_ms);
  options.cancel_grace = engine::Duration(s.cancel_grace_ms);
  options.threads_per_plugin = s.threads_per_plugin;
  options.lease_ttl = engine::Duration(s.lease_ms);
  options.watch_plugins = s.watch_plugins;
  options.watch_interval = engine::Duration(s.watch_interval_ms);
  options.plugin_settle = std::max(engine::Duration(s.watch_interval_ms), engine::Duration(500));
  options.plugins_dir = config.plugins_dir;
  // Private copies of the plugins, one folder per process, in plugin_cache_dir (default: next to
  // the config); folders of processes that have ended are removed.
  const std::filesystem::path cache = config.plugin_cache_dir.empty()
                                          ? config.path.parent_path() / ".reglo-plugin-cache"
                                          : config.plugin_cache_dir;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(cache, ignored)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry.path().filename().c_str()));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }
  options.plugin_cache_dir = cache / std::to_string(::getpid());
  options.runner.memory_limit_mb = static_cast<uint64_t>(s.runner_memory_limit_mb);
  options.instance_id = InstanceId();

  std::vector<engine::SourceConfig> sources;
  sources.reserve(config.sources.size());
  for (storage::SourceRow& row : config.sources) {
    engine::SourceConfig source;
    if (auto it = config.interval_ms.find(row.id); it != config.interval_ms.end()) {
      source.interval = engine::Duration(it->second);
    }
    if (config.process_isolated.count(row.id)) source.isolation = isolation::Isolation::kProcess;
    source.row = std::move(row);
    sources.push_back(std::move(source));
  }
  // Moved into `sources`; nothing below reads them. A new vector, not `= {}`, which would clear
  // them but keep the buffer: 28 MB for 100,000 sources, for as long as the hub runs.
  config.sources = std::vector<storage::SourceRow>();
  // Sources created through the admin API are kept in the store and served alongside the config
  // file's; an id in both is the config file's (its definition wins at every start). Without
  // the admin listener there are no others, and nothing needs the config's ids.
  std::set<std::string> config_ids;
  if (config.admin.enabled) {
    for (const engine::SourceConfig& source : sources) config_ids.insert(source.row.id);
    Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
    if (!store.ok()) {
      fmt::print(err, "error: {}\n", store.status().ToString());
      return kExitFailure;
    }
    Result<std::vector<storage::ApiSourceRow>> api_sources = (*store)->ListApiSources();
    if (!api_sources.ok()) {
      fmt::print(err, "error: {}\n", api_sources.status().ToString());
      return kExitFailure;
    }
    for (const storage::ApiSourceRow& row : *api_sources) {
      if (config_ids.count(row.source.id)) {
        spdlog::warn(
            "source {}: defined in {} and created through the admin API; the config "
            "file's definition is used",
            row.source.id, config.path.filename().string());
        continue;
      }
      engine::SourceConfig source;
      source.row = row.source;
      source.interval = engine::Duration(row.interval_ms);
      sources.push_back(std::move(source));
    }
  }
  if (sources.empty() && !config.admin.enabled && !config.ingest) {
    fmt::print(err, "error: no source to serve, and no admin or \"ingest\" listener, in {}\n",
               config.path.string());
    return kExitUsage;
  }
  const size_t source_count = sources.size();
  {
    // What a pull does with an erased record (issue #18): the config's rules, read by checkpoints.
    Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
    Status rules =
        store.ok() ? ApplyErasureRules(**store, config, SystemClock::Instance()) : store.status();
    if (!rules.ok()) {
      fmt::print(err, "error: {}\n", rules.ToString());
      return kExitFailure;
    }
  }

  // Signals first, so a SIGTERM that arrives while the engine starts is not lost.
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (!error) received = signal;
  });

  engine::StdRandomSource random;
  engine::Engine hub(
      options, std::move(sources), [&config] { return OpenStore(config); }, SystemClock::Instance(),
      random);
  Status started = hub.Start();
  if (!started.ok()) {
    fmt::print(err, "error: {}\n", started.ToString());
    return kExitFailure;
  }
  // Seals the signing secrets of subscriptions created through the admin API; without a key file
  // (PostgreSQL with no secrets_file) that one route answers 503 and says why.
  std::optional<security::MasterKey> master_key;
  if (Result<std::filesystem::path> secrets = SecretsFilePath(config); secrets.ok()) {
    Result<security::MasterKey> loaded = security::MasterKey::LoadOrCreate(secrets->string());
    if (loaded.ok()) master_key = std::move(*loaded);
  }
  // The relay runs next to the engine; with no subscription it only looks for new ones.
  Result<std::unique_ptr<relay::Relay>> relay =
      StartRelay(config, SystemClock::Instance(), options.instance_id);
  if (!relay.ok()) {
    fmt::print(err, "error: event relay: {}\n", relay.status().ToString());
    hub.Stop(engine::Duration(s.shutdown_timeout_ms));
    return relay.status().code() == StatusCode::kConfigError ? kExitUsage : kExitFailure;
  }
  // The ingestion API (config "ingest"): agents' pushes go through the same pipeline.
  std::optional<IngestListener> ingest;
  if (config.ingest) {
    Result<IngestListener> listening = StartIngestListener(config);
    if (!listening.ok()) {
      fmt::print(err, "error: {}\n", MaskPersonalData(listening.status().ToString()));
      hub.Stop(engine::Duration(s.shutdown_timeout_ms));
      return listening.status().code() == StatusCode::kConfigError ? kExitUsage : kExitFailure;
    }
    ingest = std::move(*listening);
  }
  // Retention (issue #16) in the background, on its own store connection. Disabled, it prunes
  // nothing but still measures the tables for /metrics.
  RetentionSettings retention = std::move(config.retention);  // the erasure rules are stored
  if (!retention.enabled) {
    retention.policy = NothingPruned(retention.policy);
    retention.source_ids.clear();  // nor personal data expires (issue #18)
  }
  BackgroundHousekeeper housekeeper(
      std::move(retention), [&config] { return OpenStore(config); }, SystemClock::Instance());
  housekeeper.Start();
  // The admin listener: JSON admin API, /metrics, health and the console (DESIGN §10).
  admin::MetricsRegistry metrics;
  std::unique_ptr<http::Server> admin_server;
  std::string new_token;
  if (config.admin.enabled) {
    const engine::StoreFactory factory = [&config] { return OpenStore(config); };
    std::optional<std::string> configured;
    if (!config.admin.token.empty()) {
      configured = config.admin.token;
    } else if (const char* env = std::getenv("REGLO_ADMIN_TOKEN"); env && *env) {
      configured = std::string(env);
    }
    Result<admin::TokenSetup> token = [&]() -> Result<admin::TokenSetup> {
      Result<std::unique_ptr<storage::Store>> store = factory();
      if (!store.ok()) return store.status().WithContext("admin listener");
      Result<admin::TokenSetup> setup =
          admin::EnsureAdminToken(**store, configured, SystemClock::Instance());
      if (!setup.ok()) return setup.status().WithContext("admin listener");
      return setup;
    }();
    if (token.ok()) {
      metrics.Add(admin::MakeHubMetrics(hub, factory, SystemClock::Instance()));
      metrics.Add(admin::MakeRelayMetrics(relay->get(), factory));
      if (ingest) metrics.Add(admin::MakeIngestMetrics(ingest->service->stats()));
      metrics.Add(admin::MakeHousekeepingMetrics(housekeeper.totals()));
      admin::AdminOptions admin_options;
      admin_options.address = config.admin.address;
      admin_options.port = config.admin.port;
      admin_options.connections = ToConnectionLimits(config.admin.caps);
      admin_options.token_hash = token->hash;
      admin_options.token_in_store = token->from_store;
      admin_options.config_source_ids = std::move(config_ids);
      admin_options.config_file = config.path;
      admin_options.base_dir = config.path.parent_path().string();
      admin_options.plugins_dir = config.plugins_dir;
      if (const char* dir = std::getenv("REGLO_CONSOLE_DIR"); dir && *dir) {
        admin_options.console_dir = dir;
      }
      admin::AdminDeps deps{hub, factory, SystemClock::Instance(), metrics};
      deps.relay = relay->get();
      if (ingest) deps.ingest_stats = &ingest->service->stats();
      if (master_key) deps.master_key = &*master_key;
      Result<std::unique_ptr<http::Server>> started_admin =
          admin::StartAdminServer(std::move(admin_options), deps);
      if (started_admin.ok()) {
        admin_server = std::move(*started_admin);
        std::vector<const http::Server*> listeners{admin_server.get()};
        if (ingest) listeners.push_back(ingest->server.get());
        metrics.Add(MakeListenerMetrics(std::move(listeners)));
        new_token = token->new_token;
      } else {
        fmt::print(
            err, "error: {}\n",
            MaskPersonalData(ListenerFailure(config, "admin", started_admin.status()).ToString()));
        hub.Stop(engine::Duration(s.shutdown_timeout_ms));
        return kExitFailure;
      }
    }
    if (!token.ok()) {
      fmt::print(err, "error: {}\n", MaskPersonalData(token.status().message()));
      hub.Stop(engine::Duration(s.shutdown_timeout_ms));
      return kExitFailure;
    }
  }
  // What reading the config and saving its sources freed goes back before the pulls begin: with
  // 100,000 sources it is tens of megabytes the pull threads' arenas could not reuse.
  ReturnFreedMemory();
  hub.StartLoop();
  fmt::print(
      out,
      "reglo-hub serve: {} source(s), plugins from {}{}; store {}.\n"
      "Stop with Ctrl-C or `kill -TERM {}`: pulls stop at their next checkpoint.\n",
      source_count, config.plugins_dir.string(), s.watch_plugins ? " (watched)" : "",
      config.store_url.rfind("sqlite:", 0) == 0 ? config.store_url : std::string("(PostgreSQL)"),
      ::getpid());
  if (ingest)
    fmt::print(out, "reglo-hub serve: ingestion API on {}/api/hub/ingest\n", ingest->server->url());
  if (admin_server) {
    fmt::print(out, "Integration Console: {}/\n", admin_server->url());
    if (!new_token.empty() && StdoutIsTheJournal()) {
      // The journal is a log, kept and readable by more than the operator: no token goes there.
      fmt::print(out,
                 "Admin token: one was made, but is not shown in the journal; run `reglo-hub "
                 "admin-token reset` on a terminal for one you can use.\n");
    } else if (!new_token.empty()) {
      // Shown this once (stdout only, never logged): the store keeps only its hash.
      fmt::print(out,
                 "Admin token (shown once; `reglo-hub admin-token reset` makes a new one): {}\n",
                 new_token);
    }
  }
  out.flush();
  io.run();  // returns once a signal has been handled
  spdlog::info("received {}; stopping (at most {} s)", received == SIGINT ? "SIGINT" : "SIGTERM",
               s.shutdown_timeout_ms / 1000.0);
  if (admin_server) admin_server->Stop();  // first: it reads the relay and the ingest counters
  housekeeper.Stop();                      // at its next batch
  (*relay)->Stop();
  if (ingest) ingest->server->Stop();  // requests in flight finish first
  const bool clean = hub.Stop(engine::Duration(s.shutdown_timeout_ms));
  for (const engine::SourceSnapshot& source : hub.Sources()) {
    fmt::print(out, "  {:<24} {:<8} runs {:>4}  {}\n", source.id, source.status,
               source.runs_finished, source.reason);
  }
  if (!clean) {
    // A pull ignored the stop: leave without waiting for it (its run was not committed past the
    // last checkpoint, so nothing is lost) and without running destructors that would join it.
    fmt::print(err, "error: some pulls did not stop within {} s; exiting anyway\n",
               s.shutdown_timeout_ms / 1000.0);
    out.flush();
    err.flush();
    spdlog::shutdown();
    std::_Exit(kExitFailure);
  }
  fmt::print(out, "reglo-hub serve: stopped.\n");
  return kExitOk;
}

int ResetAdminToken(const HubConfig& config, const Clock& clock, std::ostream& out,
                    std::ostream& err) {
  const char* env = std::getenv("REGLO_ADMIN_TOKEN");
  if (!config.admin.token.empty() || (env && *env)) {
    fmt::print(err,
               "error: the admin token is set in {}; change it there (a stored "
               "token would not be used)\n",
               config.admin.token.empty() ? "$REGLO_ADMIN_TOKEN" : "the config file (admin.token)");
    return kExitUsage;
  }
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) {
    fmt::print(err, "error: {}\n", store.status().ToString());
    return kExitFailure;
  }
  Result<std::string> token = Status::Internal("not reset");
  const Status reset =
      admin::AuditCommand(**store, clock, "admin-token.reset", std::string(admin::kSharedTokenName),
                          [&](storage::AuditRow&) {
                            token = admin::ResetAdminToken(**store, clock);
                            return token.status();
                          });
  if (!reset.ok()) {
    fmt::print(err, "error: {}\n", reset.ToString());
    return kExitFailure;
  }
  fmt::print(out, "New admin token (shown once; the old one no longer works): {}\n", *token);
  return kExitOk;
}

int CreateAdminTokenCommand(const HubConfig& config, const std::string& name,
                            const std::string& role, const Clock& clock, std::ostream& out,
                            std::ostream& err) {
  const std::optional<admin::Role> parsed = admin::ParseRole(role);
  if (!parsed) {
    fmt::print(err, "error: --role: expected viewer, operator or admin\n");
    return kExitUsage;
  }
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) {
    fmt::print(err, "error: {}\n", store.status().ToString());
    return kExitFailure;
  }
  Result<std::string> token = Status::Internal("not created");
  const Status created =
      admin::AuditCommand(**store, clock, "token.create", name, [&](storage::AuditRow& row) {
        token = admin::CreateNamedToken(**store, name, *parsed, clock);
        row.after = fmt::format(R"({{"name":"{}","role":"{}"}})", name, role);
        return token.status();
      });
  if (!created.ok()) {
    fmt::print(err, "error: {}\n", created.ToString());
    return created.code() == StatusCode::kInvalidArgument ||
                   created.code() == StatusCode::kAlreadyExists
               ? kExitUsage
               : kExitFailure;
  }
  fmt::print(out, "Admin token '{}' ({}), shown once: {}\n", name, role, *token);
  return kExitOk;
}

int ListAdminTokensCommand(const HubConfig& config, std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) {
    fmt::print(err, "error: {}\n", store.status().ToString());
    return kExitFailure;
  }
  Result<std::vector<storage::AdminTokenRow>> tokens = (*store)->ListAdminTokens();
  if (!tokens.ok()) {
    fmt::print(err, "error: {}\n", tokens.status().ToString());
    return kExitFailure;
  }
  if (tokens->empty()) {
    fmt::print(out,
               "No named admin tokens. Create one with: reglo-hub admin-tokens create --name N "
               "--role viewer|operator|admin\n");
    return kExitOk;
  }
  constexpr std::string_view kRow = "{:<24} {:<9} {:<26} {}\n";
  fmt::print(out, kRow, "NAME", "ROLE", "CREATED", "REVOKED");
  for (const storage::AdminTokenRow& token : *tokens) {
    fmt::print(out, kRow, token.name, token.role, token.created_at, token.revoked_at.value_or("-"));
  }
  return kExitOk;
}

int RevokeAdminTokenCommand(const HubConfig& config, const std::string& name, const Clock& clock,
                            std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) {
    fmt::print(err, "error: {}\n", store.status().ToString());
    return kExitFailure;
  }
  const Status revoked =
      admin::AuditCommand(**store, clock, "token.revoke", name, [&](storage::AuditRow&) -> Status {
        Result<bool> done = (*store)->RevokeAdminToken(name, FormatUtc(clock.Now()));
        if (!done.ok()) return done.status();
        if (!*done) return Status::NotFound(fmt::format("no active admin token '{}'", name));
        return Status::Ok();
      });
  if (revoked.code() == StatusCode::kNotFound) {
    fmt::print(err, "error: {} (see `reglo-hub admin-tokens list`)\n", revoked.message());
    return kExitUsage;
  }
  if (!revoked.ok()) {
    fmt::print(err, "error: {}\n", revoked.ToString());
    return kExitFailure;
  }
  fmt::print(out, "Revoked admin token '{}': requests with it are refused from now on.\n", name);
  return kExitOk;
}

}  // namespace reglo::app
