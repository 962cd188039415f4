// Engine: the long-running sync engine behind `reglo-hub serve` (DESIGN §7). It schedules every
// configured source (Scheduler), runs each pull through pipeline::SyncRunner on a thread pool of
// the source's connector (one boost::asio::thread_pool per plugin, so a slow or stuck connector
// never delays another's sources), supervises pulls with a watchdog (no progress for the stall
// timeout -> cancelled and the run marked failed; a plugin that ignores the cancellation is
// quarantined and its sources Failed; a source with isolation "process" runs its plugin in a
// reglo-connector-runner child, which the watchdog kills instead), probes every new library in a
// child before loading it, hot-adds, swaps and removes plugins found in the watched plugins folder
// (PluginWatcher), holds a lease per source while pulling it (fails closed: no lease, no pull; a
// lease lost or not renewed in time fences the pull, and every commit is checked against it), and
// stops gracefully (stop flags -> pulls end at their next checkpoint -> bounded wait).
//
// Ownership: the Engine owns its pools, plugins and a "control" Store (opened from the factory)
// for its own writes; every pull takes a Store of its own from a pool of stores opened from the
// factory (a Store serves one thread at a time). The Clock and RandomSource must outlive it.
// Driving: StartLoop() runs a control thread that calls Tick() when something is due; tests do not
// start it and call Tick() themselves with a ManualClock, so time never passes by sleeping.
// Thread-safety: every public method may be called from any thread. Inside, three registries
// each have their own lock: the sources (with their schedules), the plugins (with their pools
// and quarantines) and the runs in progress (with the watchdog and leases); see engine.cpp for
// their order. Probes, plugin loads, lease renewals and store writes happen outside all three, so
// snapshots and commands never wait for them.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/engine/engine_control.h"
#include "reglo/engine/scheduler.h"
#include "reglo/isolation/process_connector.h"
#include "reglo/pipeline/sync.h"
#include "reglo/storage/store.h"

namespace reglo::engine {

struct EngineOptions {
  Duration default_interval{defaults::kDefaultIntervalMs};
  BackoffPolicy backoff;
  // A pull with no progress (no record, checkpoint or warning; polling should_stop is not
  // progress) for this long is cancelled and its run marked failed.
  Duration stall_timeout{defaults::kStallTimeoutMs};
  // How long a cancelled pull may take to return before its plugin is quarantined.
  Duration cancel_grace{defaults::kCancelGraceMs};
  int threads_per_plugin = defaults::kThreadsPerPlugin;
  // At most this many stores are open for pulls at once; a pull that finds none free fails as
  // retryable (backs off) rather than wait on its connector's thread.
  size_t store_connections = 64;
  std::filesystem::path plugins_dir;
  // Where private copies of plugin libraries go (default: <plugins_dir>/../.reglo-plugin-cache).
  std::filesystem::path plugin_cache_dir;
  bool watch_plugins = true;
  Duration watch_interval{defaults::kWatchIntervalMs};  // how often the plugins folder is polled
  Duration plugin_settle{1'000};  // a library must be unchanged this long before it is loaded
  std::string instance_id = "reglo-hub";  // lease owner
  Duration lease_ttl{0};                  // 0: stall_timeout + cancel_grace + 60 s
  pipeline::SyncOptions sync;
  // Runner children: isolated sources' plugins, and the probe every new library passes before it
  // is loaded into this process.
  isolation::RunnerOptions runner;
};

// What the engine itself needs of a store: the sync role (its pulls, runs and leases) and, on its
// control connection, the audit log of operator commands.
using ControlStoreFactory = std::function<Result<std::unique_ptr<storage::ControlStore>>()>;

class Engine final : public EngineControl {
 public:
  Engine(EngineOptions options, std::vector<SourceConfig> sources, ControlStoreFactory open_store,
         const Clock& clock, RandomSource& random);
  // The same with the hub's factory of whole stores (the engine uses their control roles only).
  Engine(EngineOptions options, std::vector<SourceConfig> sources, StoreFactory open_store,
         const Clock& clock, RandomSource& random);
  // Stops (bounded by EngineOptions::cancel_grace) if Stop() was not called.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Opens the control store, registers the sources in it and loads the plugins folder.
  Status Start();
  // Runs Tick() on a control thread whenever something is due (runs, watchdog, folder poll).
  void StartLoop();
  // One round of decisions at clock.Monotonic(): watchdog, plugin folder, due runs.
  void Tick();
  // Graceful stop: no new runs, every pull told to stop, then waits up to `timeout` for them.
  // Returns true when every pull has ended; false when some (hung) are left behind.
  bool Stop(Duration timeout);

  // EngineControl: the operator commands, live source changes and snapshots (the admin API and
  // the CLI call these).
  Status RunNow(const std::string& source_id, CommandAudit* audit) override;
  Status Pause(const std::string& source_id, CommandAudit* audit) override;
  Status Resume(const std::string& source_id, CommandAudit* audit) override;
  Status Retry(const std::string& source_id, CommandAudit* audit) override;
  Status AddSource(SourceConfig source) override;
  Status UpdateSource(SourceConfig source) override;
  Status RemoveSource(const std::string& source_id) override;
  std::optional<SourceConfig> SourceDefinition(const std::string& source_id) const override;
  std::vector<SourceSnapshot> Sources() const override;
  std::optional<SourceSnapshot> Source(const std::string& source_id) const override;
  std::vector<PluginSnapshot> Plugins() const override;

  // Pulls in progress right now.
  int Running() const;
  // Blocks until `source_id` has finished at least `runs` runs, or `timeout` passes (real time:
  // waits for work on other threads, never to let time pass). Returns whether it got there.
  bool WaitForRuns(const std::string& source_id, int64_t runs, Duration timeout) const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace reglo::engine
