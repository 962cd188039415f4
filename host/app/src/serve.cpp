#include "reglo/app/serve.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "reglo/app/commands.h"
#include "reglo/app/ingest.h"
#include "reglo/engine/engine.h"

namespace reglo::app {

int Serve(const HubConfig& config, std::ostream& out, std::ostream& err) {
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
  // Private copies of the plugins live next to the config, one folder per process; folders of
  // processes that have ended are removed.
  const std::filesystem::path cache = config.path.parent_path() / ".reglo-plugin-cache";
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(cache, ignored)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry.path().filename().c_str()));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }
  options.plugin_cache_dir = cache / std::to_string(::getpid());
  options.instance_id = fmt::format(
      "reglo-hub@{}:{}",
      [] {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        return std::string(host);
      }(),
      ::getpid());

  std::vector<engine::SourceConfig> sources;
  for (const storage::SourceRow& row : config.sources) {
    engine::SourceConfig source;
    source.row = row;
    if (auto it = config.interval_ms.find(row.id); it != config.interval_ms.end()) {
      source.interval = engine::Duration(it->second);
    }
    sources.push_back(std::move(source));
  }
  if (sources.empty() && !config.ingest) {
    fmt::print(err, "error: no source to serve and no \"ingest\" listener in {}\n",
               config.path.string());
    return kExitUsage;
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
  hub.StartLoop();
  // The ingestion API (config "ingest"): agents' pushes go through the same pipeline.
  std::unique_ptr<IngestListener> ingest;
  if (config.ingest) {
    Result<std::unique_ptr<IngestListener>> listening = IngestListener::Start(config);
    if (!listening.ok()) {
      fmt::print(err, "error: {}\n", listening.status().ToString());
      hub.Stop(engine::Duration(s.shutdown_timeout_ms));
      return listening.status().code() == StatusCode::kConfigError ? kExitUsage : kExitFailure;
    }
    ingest = std::move(*listening);
    fmt::print(out, "reglo-hub serve: ingestion API on {}/api/hub/ingest\n", ingest->url());
  }
  fmt::print(
      out,
      "reglo-hub serve: {} source(s), plugins from {}{}; store {}.\n"
      "Stop with Ctrl-C or `kill -TERM {}`: pulls stop at their next checkpoint.\n",
      config.sources.size(), config.plugins_dir.string(), s.watch_plugins ? " (watched)" : "",
      config.store_url.rfind("sqlite:", 0) == 0 ? config.store_url : std::string("(PostgreSQL)"),
      ::getpid());
  out.flush();
  io.run();  // returns once a signal has been handled
  spdlog::info("received {}; stopping (at most {} s)", received == SIGINT ? "SIGINT" : "SIGTERM",
               s.shutdown_timeout_ms / 1000.0);
  if (ingest) ingest->Stop();  // requests in flight finish first
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

}  // namespace reglo::app
