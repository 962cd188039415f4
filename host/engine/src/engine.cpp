#include "reglo/engine/engine.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "control_writes.h"
#include "duration_text.h"
#include "guarded_store.h"
#include "plugin_registry.h"
#include "reglo/core/masking.h"
#include "reglo/core/synchronized.h"
#include "reglo/engine/plugin_watcher.h"
#include "reglo/plugin_host/plugin.h"
#include "reglo/storage/store_pool.h"
#include "run_supervisor.h"
#include "source_registry.h"

namespace reglo::engine {
namespace {

EngineOptions Resolved(EngineOptions options) {
  options.lease_ttl = Duration(defaults::LeaseTtlMs(
      options.lease_ttl.count(), options.stall_timeout.count(), options.cancel_grace.count()));
  if (options.plugin_cache_dir.empty()) {
    options.plugin_cache_dir =
        options.plugins_dir.parent_path() / (".reglo-plugin-cache-" + options.instance_id);
  }
  return options;
}

}  // namespace

// The engine is three registries, each behind its own lock, and the decisions that span them.
// Lock order (a thread holding one may take only those after it):
//   tick_mutex -> a run's lease_mutex -> the control store's writing lock -> sources -> plugins
//   -> runs -> the control writes' queue.
// Readers (snapshots, /metrics, the admin API) take sources, plugins or runs for a copy, and none
// of these is ever held across a probe, a plugin load, a lease renewal or a store write.
struct Engine::Impl : std::enable_shared_from_this<Impl> {
  Impl(EngineOptions o, std::vector<SourceConfig> configured, ControlStoreFactory factory,
       const Clock& c, RandomSource& r)
      : options(Resolved(std::move(o))),
        clock(c),
        open_store(std::move(factory)),
        writes(clock),
        sources(options.backoff, r),
        runs(RunSupervisor::Limits{options.stall_timeout, options.cancel_grace, options.lease_ttl},
             writes, clock),
        stores(open_store, options.store_connections) {
    auto registry = sources.Lock();
    for (SourceConfig& source : configured) {
      if (source.interval.count() <= 0) source.interval = options.default_interval;
      const std::string id = source.row.id;
      registry->sources.emplace(id, SourceRegistry::Entry{std::move(source), {}});
    }
    watcher = std::make_unique<PluginWatcher>(options.plugins_dir, options.plugin_cache_dir,
                                              options.plugin_settle, clock);
  }

  // Wakes the control loop: something may be due sooner than it planned.
  void Poke() {
    {
      std::lock_guard<std::mutex> lock(wake_mutex);
      poked = true;
    }
    wake.notify_all();
  }

  // Why a source of `connector` cannot run, the fix first: the name it asks for and the names it
  // could use (a misspelled connector), then where plugins are loaded from (a missing one).
  std::string NotLoadedReason(const std::string& connector, const PluginRegistry& loaded) const {
    std::vector<std::string> names;
    for (const auto& [name, slot] : loaded.plugins) {
      if (slot.plugin) names.push_back(name);
    }
    return fmt::format("no plugin named '{}' is loaded; loaded: {} (plugins folder {})", connector,
                       names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")),
                       options.plugins_dir.string());
  }

  // --- plugins ------------------------------------------------------------------------------

  // A new library is probed in a child and loaded (dlopen, which runs its static constructors)
  // with no engine lock held, so snapshots and commands never wait for either.
  void ApplyPluginEvent(const PluginFileEvent& event) {
    Result<std::shared_ptr<plugin_host::LoadedPlugin>> loaded = Status::NotFound("not loaded");
    if (event.kind == PluginFileEvent::Kind::kReady) {
      Status probed = Probe(event.private_copy);
      loaded = probed.ok() ? plugin_host::LoadedPlugin::Load(event.private_copy)
                           : Result<std::shared_ptr<plugin_host::LoadedPlugin>>(probed);
    }
    {
      auto registry = sources.Lock();
      const PluginRegistry::Change change =
          plugins.Lock()->Apply(event, std::move(loaded), options.plugins_dir);
      ApplyPluginChange(*registry, change, clock.Monotonic());
    }
    writes.Flush();
  }

  // Under the sources lock: what a plugin's arrival or departure means for its sources.
  void ApplyPluginChange(SourceRegistry& registry, const PluginRegistry::Change& change,
                         TimePoint now) {
    for (const auto& [name, reason] : change.unloaded) {
      for (const std::string& id : registry.SourcesOf(name)) {
        registry.scheduler.PluginMissing(id, reason);
        writes.SetStatus(id, registry.ShownStatus(id));
      }
    }
    if (change.loaded.empty()) return;
    for (const std::string& id : registry.SourcesOf(change.loaded)) {
      const bool lifted =
          (change.quarantine_lifted && registry.scheduler.Lift(id, HoldCause::kQuarantine, now)) ||
          registry.scheduler.Lift(id, HoldCause::kPluginMissing, now);
      if (lifted) {
        writes.SetStatus(id, "new");
        spdlog::info("source {}: resumed, plugin {} {} is available", id, change.loaded,
                     change.version);
      }
    }
  }

  // Vetted in a child first: a library that crashes when loaded, described or given the
  // configuration of a source that runs in this process is refused, and the hub carries on.
  // Holds no lock while it waits for the child; takes the sources' only to read them.
  Status Probe(const std::filesystem::path& library) {
    // Each distinct configuration once (under the first source's name): sources that share one
    // (a hub of many alike) are not tried, nor copied, once each.
    auto configs = [this](const plugin_host::PluginInfo& described) {
      std::vector<std::pair<std::string, std::string>> tried;
      std::unordered_set<std::string_view> distinct;
      auto registry = sources.Lock();
      for (const auto& [id, entry] : registry->sources) {
        const SourceConfig& source = entry.config;
        if (source.row.connector == described.name &&
            source.isolation == isolation::Isolation::kInProcess &&
            distinct.insert(source.row.config_json).second) {
          tried.emplace_back("source " + id, source.row.config_json);
        }
      }
      return tried;
    };
    Result<plugin_host::PluginInfo> probed =
        isolation::ProbePlugin(options.runner, library, configs);
    return probed.ok() ? Status::Ok() : probed.status();
  }

  // A pull ignored its cancellation: the plugin's pool is abandoned (never joined: its threads
  // end when the plugin returns, if ever) and every source of the plugin fails with the reason.
  void Quarantine(const std::string& name, const std::string& stuck_source) {
    auto registry = sources.Lock();
    const std::optional<std::string> reason =
        plugins.Lock()->Quarantine(name, stuck_source, options.cancel_grace, options.stall_timeout);
    if (!reason) return;
    runs.Lock()->AbandonRunsOf(name, *reason);
    for (const std::string& id : registry->SourcesOf(name)) {
      (void)registry->scheduler.Fail(id, HoldCause::kQuarantine, *reason);
      writes.SetStatus(id, "failed");
    }
  }

  // --- leases -------------------------------------------------------------------------------

  void RenewLeases(const RunSupervisor::Renewals& due, TimePoint now) {
    for (const auto& [id, run] : due) {
      Result<bool> held = false;
      {
        // The pull's lease_mutex: its end cannot release the lease between the check and the
        // renewal (which would take it again, for nobody).
        std::lock_guard<std::mutex> lease_lock(run->lease_mutex);
        if (!run->leased) continue;
        std::unique_lock<std::mutex> writing = writes.LockWriting();
        storage::ControlStore* control = writes.StoreLocked();
        if (control == nullptr) continue;
        held = control->TryAcquireLease(id, options.instance_id, options.lease_ttl,
                                        FormatUtc(clock.Now()));
      }
      runs.Lock()->RenewalResult(id, run, held, now);
      writes.Flush();
    }
  }

  // --- starting runs ------------------------------------------------------------------------

  // Pulls handed to a plugin's pool at a time: one per thread and as many waiting, so a thread
  // that finishes finds its next pull at once. The other due sources wait in the scheduler, where
  // they hold no copy of their row and no run control (100,000 sources due at once queued them
  // all), and the watchdog does not count a wait for a thread as a stall.
  size_t PullsInFlightCap() const {
    return 2 * static_cast<size_t>(std::max(1, options.threads_per_plugin));
  }

  // How many more pulls the lane of `connector` takes. Unlimited for a connector not loaded (each
  // of its sources is failed at once), none for a quarantined one.
  size_t LaneRoom(const std::string& connector, PluginRegistry& loaded,
                  const RunSupervisor& supervised) const {
    const PluginRegistry::Slot* slot = loaded.Loaded(connector);
    if (slot == nullptr) return SIZE_MAX;
    if (slot->quarantined) return 0;
    const auto in_flight = static_cast<size_t>(std::max(0, supervised.InFlight(connector)));
    return in_flight < PullsInFlightCap() ? PullsInFlightCap() - in_flight : 0;
  }

  void StartDue(TimePoint now) {
    if (stopping) return;
    auto registry = sources.Lock();
    auto loaded = plugins.Lock();
    auto supervised = runs.Lock();
    const std::vector<std::string> due = registry->scheduler.Due(
        now,
        [&](const std::string& connector) { return LaneRoom(connector, *loaded, *supervised); });
    for (const std::string& id : due) {
      const SourceConfig& source = registry->sources.at(id).config;
      PluginRegistry::Slot* slot = loaded->Loaded(source.row.connector);
      if (slot == nullptr) {
        registry->scheduler.PluginMissing(id, NotLoadedReason(source.row.connector, *loaded));
        writes.SetStatus(id, registry->ShownStatus(id));
        continue;
      }
      if (slot->quarantined) continue;
      auto control = std::make_shared<RunControl>();
      control->source_id = id;
      control->connector = source.row.connector;
      control->plugin_version = slot->plugin->info().version;
      control->isolated = source.isolation == isolation::Isolation::kProcess;
      supervised->Start(id, control, now);
      registry->scheduler.MarkStarted(id);
      boost::asio::post(loaded->PoolOf(*slot, options.threads_per_plugin),
                        [self = shared_from_this(), row = source.row, plugin = slot->plugin,
                         control] { self->RunJob(row, plugin, control); });
    }
  }

  // --- one run, on the plugin's pool ----------------------------------------------------------

  void RunJob(const storage::SourceRow& row, std::shared_ptr<plugin_host::LoadedPlugin> plugin,
              std::shared_ptr<RunControl> control) {
    RunOutcome outcome;
    storage::RunCounters counters;
    bool skipped = false;
    std::string stored_status;  // what the pull stored, so the engine need not write it again
    // Not Acquire(): a pull waiting for a store would look hung to the watchdog.
    Result<storage::StorePool<storage::ControlStore>::Lease> store = stores.TryAcquire();
    if (!store.ok()) {
      outcome.code = store.status().code();
      outcome.message = MaskPersonalData(store.status().message());
    } else {
      Result<bool> lease = (*store)->TryAcquireLease(row.id, options.instance_id, options.lease_ttl,
                                                     FormatUtc(clock.Now()));
      if (!lease.ok()) {
        // Fails closed: without knowing who holds the lease, pulling could overlap another
        // instance's pull. Retried with backoff, like any transient failure.
        outcome.code = StatusCode::kRetryable;
        outcome.message =
            MaskPersonalData("the source's lease could not be taken, so it was not pulled: " +
                             lease.status().message());
      } else if (!*lease) {
        skipped = true;  // another hub instance is syncing this source
      } else {
        control->leased = true;  // GuardedStore closes the runs a stopped process left open
        Run(**store, row, *plugin, control, outcome, counters, stored_status);
      }
    }
    {
      // Released before the pull counts as finished (no newer pull of the source can start and
      // take it under our name first), under the pull's lease_mutex so a renewal cannot take it
      // again afterwards. A quarantined pull's flag was cleared: it releases nothing.
      std::lock_guard<std::mutex> lease_lock(control->lease_mutex);
      if (control->leased.exchange(false)) {
        (void)(*store)->ReleaseLease(row.id, options.instance_id);
      }
    }
    RecordEnd(row.id, control, outcome, counters, skipped, stored_status);
  }

  // The pull of `id` has returned: it is no longer supervised, the scheduler decides what comes
  // next and the source's status is written before the run counts as finished, so whoever waits
  // for the run sees the final status.
  void RecordEnd(const std::string& id, const std::shared_ptr<RunControl>& control,
                 RunOutcome outcome, const storage::RunCounters& counters, bool skipped,
                 const std::string& stored_status) {
    {
      auto registry = sources.Lock();
      std::optional<RunSupervisor::Supervised> ended = runs.Lock()->Finish(id, control);
      // Not supervised any more (quarantined), or its source removed while it ran: nothing to
      // schedule or store for it.
      if (ended && !control->source_removed) {
        if (ended->cancelled_at) {
          outcome.code = StatusCode::kRetryable;
          outcome.message = ended->cancel_reason;
        }
        const TimePoint now = clock.Monotonic();
        if (skipped) {
          registry->scheduler.MarkSkipped(id, now);
        } else {
          if (stopping && control->stop && outcome.code != StatusCode::kOk) {
            outcome.code = StatusCode::kCancelled;  // stopped by the shutdown: not a failure
          }
          const Decision decision = registry->scheduler.MarkFinished(id, outcome, now);
          LogRun(id, control->run_id, outcome, counters, decision);
          // The pipeline stored ok/warning/failed from the run alone; the engine's verdict
          // (retrying is a warning; paused) is what the source shows.
          const std::string shown =
              decision.state == SourceState::kPaused ? "paused" : decision.status;
          if (shown != stored_status) writes.SetStatus(id, shown);
        }
      }
    }
    runs_ended.notify_all();
    writes.Flush();
    bool wake_loop = false;
    {
      auto registry = sources.Lock();
      if (auto it = registry->sources.find(id);
          !control->source_removed && it != registry->sources.end()) {
        SourceRegistry::RunCounts& count = it->second.counts;
        ++count.runs_finished;
        if (control->run_id > 0) count.last_run_id = control->run_id;
        count.last_plugin_version = control->plugin_version;
      }
      // The loop sleeps until the earliest due time it knew of, a second at most: it is woken
      // when this end brings a sooner one, or frees room for sources due already. (Not after
      // every pull: 100,000 sources a minute would wake it a thousand times a second for nothing.)
      const TimePoint now = clock.Monotonic();
      const SourceSchedule* schedule = registry->scheduler.Find(id);
      const std::optional<TimePoint> due = registry->scheduler.NextDue();
      wake_loop = (schedule != nullptr && schedule->next_run <= now + kLongestSleep) ||
                  (due && *due <= now);
    }
    runs_counted.notify_all();
    if (wake_loop) Poke();
  }
  void Run(storage::SyncStore& store, const storage::SourceRow& row,
           const plugin_host::LoadedPlugin& plugin, const std::shared_ptr<RunControl>& control,
           RunOutcome& outcome, storage::RunCounters& counters, std::string& stored_status) {
    Result<std::unique_ptr<plugin_host::ConnectorInstance>> instance =
        control->isolated ? StartIsolated(row, plugin, *control)
                          : plugin.CreateInstance(row.config_json);
    // The runner (if any) can be killed by the watchdog until the instance is gone.
    struct Unregister {
      RunControl& control;
      ~Unregister() { control.SetProcess(nullptr); }
    } unregister{*control};
    if (!instance.ok()) {
      // Recorded as a failed run, so the failure is visible where runs are looked at.
      outcome.code = instance.status().code();
      outcome.message = MaskPersonalData(instance.status().message());
      Result<int64_t> run = store.BeginRun(row.id, FormatUtc(clock.Now()));
      if (run.ok()) {
        control->run_id = *run;
        (void)store.SetRunPluginVersion(*run, control->plugin_version);
        const std::string at = FormatUtc(clock.Now());
        (void)store.AppendRunLog(*run, {at, storage::LogLevel::kError, outcome.message});
        (void)store.FinishRun(*run, storage::RunStatus::kFailed, at,
                              std::string(StatusCodeName(outcome.code)), outcome.message);
      }
      return;
    }
    GuardedStore guarded(store, control, options.instance_id);
    pipeline::SyncOptions sync = options.sync;
    if (control->leased) sync.lease_owner = options.instance_id;  // every commit is fenced
    pipeline::SyncRunner runner(guarded, clock, sync);
    pipeline::SyncReport report =
        runner.RunOnce(row, **instance, &control->stop, &control->progress);
    outcome.code = report.error.code();
    outcome.message = MaskPersonalData(report.error.message());
    outcome.warnings = report.status == storage::RunStatus::kSucceededWithWarnings;
    outcome.retry_after = Duration(report.retry_after_ms);
    counters = report.counters;
    stored_status = report.stored_status;
  }

  // An instance of `plugin` in its own runner child, registered with the run's control so the
  // watchdog can end it (also while it is still being created).
  Result<std::unique_ptr<plugin_host::ConnectorInstance>> StartIsolated(
      const storage::SourceRow& row, const plugin_host::LoadedPlugin& plugin, RunControl& control) {
    Result<std::unique_ptr<isolation::ProcessConnector>> started =
        isolation::ProcessConnector::Start(options.runner, plugin.info().path);
    if (!started.ok()) return started.status();
    control.SetProcess(started->get());
    Status created = (*started)->Create(row.config_json);
    if (!created.ok()) {
      control.SetProcess(nullptr);
      return created;
    }
    return std::unique_ptr<plugin_host::ConnectorInstance>(std::move(*started));
  }

  void LogRun(const std::string& id, int64_t run_id, const RunOutcome& outcome,
              const storage::RunCounters& c, const Decision& decision) {
    if (outcome.code == StatusCode::kOk) {
      const bool changed_anything = c.created + c.updated + c.rejected + c.warnings > 0;
      const auto level = changed_anything ? spdlog::level::info : spdlog::level::debug;
      spdlog::log(level,
                  "source {}: run {} {} - seen {}, created {}, updated {}, unchanged {}, stale {}, "
                  "warnings {}, rejected {}; next in {}",
                  id, run_id, decision.status, c.seen, c.created, c.updated, c.unchanged, c.stale,
                  c.warnings, c.rejected, DurationText(decision.delay));
    } else if (decision.state == SourceState::kFailed) {
      spdlog::error("source {}: run {} failed; source Failed: {}", id, run_id, decision.reason);
    } else {
      spdlog::warn("source {}: run {} did not complete: {}", id, run_id,
                   decision.reason.empty() ? outcome.message : decision.reason);
    }
  }

  // --- the loop ------------------------------------------------------------------------------

  // Decides under the registries' locks, does the blocking work (folder poll, probes, loads,
  // lease renewals, control-store writes) outside them. One tick at a time (tick_mutex).
  void Tick() {
    std::lock_guard<std::mutex> ticking(tick_mutex);
    const TimePoint now = clock.Monotonic();
    const std::vector<std::pair<std::string, std::string>> stuck = runs.Lock()->Watchdog(now);
    for (const auto& [plugin, source] : stuck) Quarantine(plugin, source);
    const bool poll = options.watch_plugins && now >= next_watch;
    if (poll) next_watch = now + options.watch_interval;
    const RunSupervisor::Renewals renewals = runs.Lock()->DueRenewals(now);
    writes.Flush();
    if (poll) {
      for (const PluginFileEvent& event : watcher->Poll()) ApplyPluginEvent(event);
    }
    RenewLeases(renewals, now);
    StartDue(clock.Monotonic());
    writes.Flush();
  }

  // How long the control thread may sleep: until the next due run, the next folder poll, or the
  // next watchdog look (a quarter of the stall timeout, at most a second).
  Duration NextWake() {
    const TimePoint now = clock.Monotonic();
    Duration wait = std::min<Duration>(kLongestSleep, options.stall_timeout / 4);
    if (!runs.Lock()->running.empty()) wait = std::min(wait, options.cancel_grace / 4);
    {
      // A due source whose plugin has no room is not a reason to wake: the end of one of the
      // plugin's pulls wakes the loop (RecordEnd).
      auto registry = sources.Lock();
      auto loaded = plugins.Lock();
      auto supervised = runs.Lock();
      const std::optional<TimePoint> due = registry->scheduler.NextDue(
          [&](const std::string& connector) { return LaneRoom(connector, *loaded, *supervised); });
      if (due) wait = std::min(wait, std::chrono::duration_cast<Duration>(*due - now));
    }
    if (options.watch_plugins) {
      std::lock_guard<std::mutex> ticking(tick_mutex);
      wait = std::min(wait, std::chrono::duration_cast<Duration>(next_watch - now));
    }
    return std::max(wait, kShortestSleep);
  }

  void Loop() {
    for (;;) {
      {
        // Cleared before the tick: a poke while it runs wakes the wait below at once.
        std::lock_guard<std::mutex> lock(wake_mutex);
        if (quit) return;
        poked = false;
      }
      Tick();
      const Duration wait = NextWake();
      std::unique_lock<std::mutex> lock(wake_mutex);
      wake.wait_for(lock, wait, [this] { return quit || poked; });
    }
  }

  // The control loop's longest sleep: it looks at the watchdog and the plugins folder this often.
  static constexpr Duration kLongestSleep{1'000};
  // Its shortest (but when poked): the sources due within it start in one wake, up to this late.
  // Waking for each due source cost 10,000 idle sources a third of their CPU (measured).
  static constexpr Duration kShortestSleep{50};

  EngineOptions options;
  const Clock& clock;
  ControlStoreFactory open_store;
  ControlWrites writes;

  std::mutex tick_mutex;  // one Tick (or Start) at a time; guards `watcher` and `next_watch`
  std::unique_ptr<PluginWatcher> watcher;
  TimePoint next_watch{};

  Synchronized<SourceRegistry> sources;
  std::condition_variable runs_counted;  // with the sources' lock: a run was counted
  Synchronized<PluginRegistry> plugins;
  Synchronized<RunSupervisor> runs;
  std::condition_variable runs_ended;  // with the runs' lock: a pull is no longer supervised
  std::atomic<bool> stopping{false};

  // The control loop's sleep.
  std::mutex wake_mutex;
  std::condition_variable wake;
  bool quit = false;
  bool poked = false;
  std::thread loop;

  storage::StorePool<storage::ControlStore> stores;  // the pulls' (not the control store)
};

Engine::Engine(EngineOptions options, std::vector<SourceConfig> sources,
               ControlStoreFactory open_store, const Clock& clock, RandomSource& random)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(sources), std::move(open_store),
                                   clock, random)) {}

Engine::Engine(EngineOptions options, std::vector<SourceConfig> sources, StoreFactory open_store,
               const Clock& clock, RandomSource& random)
    : Engine(
          std::move(options), std::move(sources),
          [open = std::move(open_store)]() -> Result<std::unique_ptr<storage::ControlStore>> {
            Result<std::unique_ptr<storage::Store>> store = open();
            if (!store.ok()) return store.status();
            return std::unique_ptr<storage::ControlStore>(std::move(*store));
          },
          clock, random) {}

Engine::~Engine() {
  Stop(impl_->options.cancel_grace);
  std::vector<std::unique_ptr<boost::asio::thread_pool>> finished;
  {
    auto plugins = impl_->plugins.Lock();
    // Pools whose pulls have ended are joined; one still running a pull that ignored every stop is
    // left behind (never joined), so a hung plugin cannot hang the hub's exit.
    for (auto& [name, slot] : plugins->plugins) {
      if (!slot.pool) continue;
      if (impl_->runs.Lock()->InFlight(name) > 0) {
        (void)slot.pool.release();
      } else {
        finished.push_back(std::move(slot.pool));
      }
    }
    for (auto& pool : plugins->abandoned_pools) (void)pool.release();
    plugins->abandoned_pools.clear();
  }
  // Joined without the locks: a pull that has just ended still takes them to record its end.
  for (auto& pool : finished) pool->join();
  finished.clear();
  // A pull left behind writes nothing more through the engine (its own store is its own).
  std::unique_lock<std::mutex> writing = impl_->writes.LockWriting();
  impl_->writes.Close();
}

Status Engine::Start() {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> ticking(impl.tick_mutex);
  Result<std::unique_ptr<storage::ControlStore>> control = impl.open_store();
  if (!control.ok()) return control.status().WithContext("opening the store");
  std::set<std::string> pulled_before;
  {
    std::unique_lock<std::mutex> writing = impl.writes.LockWriting();
    impl.writes.Open(std::move(*control));
    // A source pulled before (by this hub, an earlier process or another instance) waits for its
    // phase slot; one never pulled runs at once. Read before the rows below reset the status.
    {
      REGLO_ASSIGN_OR_RETURN(stored, impl.writes.StoreLocked()->ListSources());
      for (const storage::SourceRow& row : stored) {
        if (row.status != "new") pulled_before.insert(row.id);
      }
    }  // not alive with the copies below: 100,000 rows each
    // The configured sources are fixed until Start returns: a copy of their rows is current. Saved
    // 10,000 at a time, a transaction each (an upsert is safe to repeat), so the copy stays small.
    constexpr size_t kRowsPerUpsert = 10'000;
    std::vector<storage::SourceRow> rows;
    std::optional<std::string> from;  // the first id of the next batch
    do {
      rows.clear();
      {
        auto registry = impl.sources.Lock();  // not held across the write
        auto it = from ? registry->sources.find(*from) : registry->sources.begin();
        for (; it != registry->sources.end() && rows.size() < kRowsPerUpsert; ++it) {
          rows.push_back(it->second.config.row);
        }
        from = it == registry->sources.end() ? std::nullopt : std::optional(it->first);
      }
      REGLO_RETURN_IF_ERROR(impl.writes.StoreLocked()->UpsertSources(rows));
    } while (from);
  }
  {
    auto registry = impl.sources.Lock();
    const TimePoint now = impl.clock.Monotonic();
    registry->scheduler.SetWallClock(now, impl.clock.Now());
    for (const auto& [id, entry] : registry->sources) {
      const SourceConfig& source = entry.config;
      registry->scheduler.Add(id, source.interval, now,
                              pulled_before.count(id) ? FirstRun::kPhase : FirstRun::kNow,
                              source.row.connector);
      if (!source.row.enabled) {
        (void)registry->scheduler.Pause(id, HoldCause::kManual,
                                        "paused: disabled in the configuration");
        impl.writes.SetStatus(id, "paused");
      }
    }
  }
  // Libraries present at start are complete: no settle wait for them.
  for (const PluginFileEvent& event : impl.watcher->Poll(/*initial=*/true)) {
    impl.ApplyPluginEvent(event);
  }
  impl.next_watch = impl.clock.Monotonic() + impl.options.watch_interval;
  {
    auto registry = impl.sources.Lock();
    auto plugins = impl.plugins.Lock();
    for (const auto& [id, entry] : registry->sources) {
      const storage::SourceRow& row = entry.config.row;
      if (row.enabled && plugins->Loaded(row.connector) == nullptr) {
        const std::string reason = impl.NotLoadedReason(row.connector, *plugins);
        registry->scheduler.PluginMissing(id, reason);
        impl.writes.SetStatus(id, registry->ShownStatus(id));
        spdlog::warn("source {}: failed: {}", id, reason);
      }
    }
  }
  impl.writes.Flush();
  return Status::Ok();
}

void Engine::StartLoop() {
  std::lock_guard<std::mutex> lock(impl_->wake_mutex);
  if (impl_->loop.joinable()) return;
  impl_->loop = std::thread([impl = impl_] { impl->Loop(); });
}

void Engine::Tick() {
  impl_->Tick();
}

bool Engine::Stop(Duration timeout) {
  Impl& impl = *impl_;
  bool done = false;
  {
    auto runs = impl.runs.Lock();
    if (!impl.stopping.exchange(true) && !runs->running.empty()) {
      spdlog::info("stopping: {} pull(s) told to stop at their next checkpoint",
                   runs->running.size());
    }
    for (auto& [id, supervised] : runs->running) supervised.control->stop = true;
    // Real time on purpose: this waits for other threads, it does not decide anything.
    auto none_left = [&] { return runs->running.empty(); };
    done = runs.WaitFor(impl.runs_ended, timeout, none_left);
    if (!done) {
      // Isolated pulls that did not stop are ended with their runner; in-process ones cannot be.
      bool killed = false;
      for (auto& [id, supervised] : runs->running) {
        if (!supervised.control->isolated) continue;
        supervised.control->KillProcess("the hub is stopping and the pull did not stop in time");
        killed = true;
      }
      if (killed) {
        done = runs.WaitFor(impl.runs_ended, impl.options.runner.term_grace + Duration(1'000),
                            none_left);
      }
    }
    if (!done) {
      std::string ids;
      for (const auto& [id, supervised] : runs->running) ids += (ids.empty() ? "" : ", ") + id;
      spdlog::error("stopping: pull(s) of {} did not stop within {}; leaving them behind", ids,
                    DurationText(timeout));
    }
  }
  std::thread loop;
  {
    std::lock_guard<std::mutex> lock(impl.wake_mutex);
    impl.quit = true;
    loop = std::move(impl.loop);
  }
  impl.wake.notify_all();
  if (loop.joinable()) loop.join();
  return done;
}

namespace {

enum class OperatorCommand { kRunNow, kPause, kResume, kRetry };

std::string_view Describe(OperatorCommand command) {
  switch (command) {
    case OperatorCommand::kRunNow: return "run requested";
    case OperatorCommand::kPause: return "paused";
    case OperatorCommand::kResume: return "resumed";
    case OperatorCommand::kRetry: return "retry requested";
  }
  return "?";
}

// Runs `change` on the scheduler under the sources' lock and stores the resulting status (before
// returning), with `audit`'s row in the same transaction when there is one, then wakes the control
// loop. Under the writing lock: what was decided before the command is written before it.
template <typename Change>
Status Command(Engine::Impl& impl, const std::string& id, OperatorCommand command,
               CommandAudit* audit, Change change) {
  std::unique_lock<std::mutex> writing = impl.writes.LockWriting();
  impl.writes.FlushLocked();
  std::optional<std::string> stored_status;  // the status the command gives the source
  {
    auto registry = impl.sources.Lock();
    REGLO_RETURN_IF_ERROR(change(registry->scheduler, impl.clock.Monotonic()));
    spdlog::info("source {}: {}", id, Describe(command));
    if (const SourceSchedule* schedule = registry->scheduler.Find(id)) {
      if (schedule->state == SourceState::kPaused) stored_status = "paused";
      // Back from a hold: the status it had before (a failed one starts over).
      if (command == OperatorCommand::kResume || command == OperatorCommand::kRetry) {
        stored_status = schedule->status == "failed" ? "new" : schedule->status;
      }
    }
  }
  impl.Poke();
  storage::ControlStore* control = impl.writes.StoreLocked();
  if (control == nullptr) return Status::Ok();  // not started: nothing is stored yet
  const auto store_status = [&]() -> Status {
    return stored_status ? control->SetSourceStatus(id, *stored_status) : Status::Ok();
  };
  Status stored;
  if (audit != nullptr) {
    stored = control->Audited(audit->row, [&](storage::AuditRow&) { return store_status(); });
    audit->written = true;  // with the status, or alone as failed
  } else {
    stored = store_status();
  }
  if (stored.ok()) return stored;
  stored = stored.WithContext(
      fmt::format("source {}: {}, but its status could not be stored", id, Describe(command)));
  spdlog::error("{}", stored.message());
  return stored;
}

}  // namespace

Status Engine::RunNow(const std::string& id, CommandAudit* audit) {
  return Command(*impl_, id, OperatorCommand::kRunNow, audit,
                 [&](Scheduler& scheduler, TimePoint now) { return scheduler.RunNow(id, now); });
}

Status Engine::Pause(const std::string& id, CommandAudit* audit) {
  return Command(*impl_, id, OperatorCommand::kPause, audit, [&](Scheduler& scheduler, TimePoint) {
    return scheduler.Pause(id, HoldCause::kManual, "paused by an operator");
  });
}

Status Engine::Resume(const std::string& id, CommandAudit* audit) {
  return Command(*impl_, id, OperatorCommand::kResume, audit,
                 [&](Scheduler& scheduler, TimePoint now) {
                   return scheduler.Resume(id, HoldCause::kManual, now);
                 });
}

Status Engine::Retry(const std::string& id, CommandAudit* audit) {
  return Command(*impl_, id, OperatorCommand::kRetry, audit,
                 [&](Scheduler& scheduler, TimePoint now) { return scheduler.Retry(id, now); });
}

// Add and update write the source's row themselves (the caller needs the error): under the
// control store's writing lock, which keeps them in order with the engine's queued writes, and
// with no registry lock held while they write.

Status Engine::AddSource(SourceConfig source) {
  Impl& impl = *impl_;
  const std::string id = source.row.id;
  std::unique_lock<std::mutex> writing = impl.writes.LockWriting();
  auto refused = [&](const SourceRegistry& registry) -> Status {
    if (registry.sources.count(id)) {
      return Status::AlreadyExists(fmt::format("source '{}' already exists", id));
    }
    if (impl.runs.Lock()->running.count(id)) {
      return Status::AlreadyExists(fmt::format(
          "a pull of the removed source '{}' is still stopping; try again shortly", id));
    }
    return Status::Ok();
  };
  REGLO_RETURN_IF_ERROR(refused(*impl.sources.Lock()));
  if (source.interval.count() <= 0) source.interval = impl.options.default_interval;
  source.row.status = "new";
  if (storage::ControlStore* control = impl.writes.StoreLocked()) {
    REGLO_RETURN_IF_ERROR(control->UpsertSource(source.row).WithContext("source " + id));
  }
  {
    auto registry = impl.sources.Lock();
    REGLO_RETURN_IF_ERROR(refused(*registry));  // adds are serialised (writing lock): still free
    const TimePoint now = impl.clock.Monotonic();
    registry->scheduler.Add(id, source.interval, now, FirstRun::kNow, source.row.connector);
    registry->sources.emplace(id, SourceRegistry::Entry{source, {}});
    if (!source.row.enabled) {
      (void)registry->scheduler.Pause(id, HoldCause::kManual, "paused: disabled");
      impl.writes.SetStatus(id, "paused");
    } else if (auto plugins = impl.plugins.Lock();
               plugins->Loaded(source.row.connector) == nullptr) {
      registry->scheduler.PluginMissing(id, impl.NotLoadedReason(source.row.connector, *plugins));
      impl.writes.SetStatus(id, registry->ShownStatus(id));
    }
    spdlog::info("source {}: added (connector {})", id, source.row.connector);
  }
  impl.writes.FlushLocked();
  impl.Poke();
  return Status::Ok();
}

Status Engine::UpdateSource(SourceConfig source) {
  Impl& impl = *impl_;
  const std::string id = source.row.id;
  std::unique_lock<std::mutex> writing = impl.writes.LockWriting();
  {
    auto registry = impl.sources.Lock();
    if (!registry->sources.count(id) || registry->scheduler.Find(id) == nullptr) {
      return Status::NotFound(fmt::format("no source '{}'", id));
    }
    if (source.interval.count() <= 0) source.interval = impl.options.default_interval;
    source.row.status = registry->ShownStatus(id);
  }
  if (storage::ControlStore* control = impl.writes.StoreLocked()) {
    REGLO_RETURN_IF_ERROR(control->UpsertSource(source.row).WithContext("source " + id));
  }
  {
    auto registry = impl.sources.Lock();
    auto it = registry->sources.find(id);
    // Removed meanwhile (removals do not wait for the writing lock): the row written stays, as a
    // removed source's row always does, and nothing is scheduled.
    if (it == registry->sources.end()) return Status::NotFound(fmt::format("no source '{}'", id));
    const TimePoint now = impl.clock.Monotonic();
    const bool was_enabled = it->second.config.row.enabled;
    it->second.config = source;
    Scheduler& scheduler = registry->scheduler;
    // Keeps its state, takes the new interval and connector.
    scheduler.Add(id, source.interval, now, FirstRun::kNow, source.row.connector);
    std::string not_loaded;  // why the connector cannot run; "" when it is loaded
    if (auto plugins = impl.plugins.Lock(); plugins->Loaded(source.row.connector) == nullptr) {
      not_loaded = impl.NotLoadedReason(source.row.connector, *plugins);
    }
    if (was_enabled && !source.row.enabled) {
      (void)scheduler.Pause(id, HoldCause::kManual, "paused: disabled");
      impl.writes.SetStatus(id, "paused");
    } else if (!was_enabled && source.row.enabled) {
      (void)scheduler.Resume(id, HoldCause::kManual, now);
    }
    const SourceSchedule* schedule = scheduler.Find(id);
    if (source.row.enabled && schedule != nullptr) {
      if (!not_loaded.empty()) {
        scheduler.PluginMissing(id, not_loaded);
      } else {
        (void)scheduler.Lift(id, HoldCause::kPluginMissing, now);  // the connector name fixed
      }
      impl.writes.SetStatus(id, registry->ShownStatus(id));
    }
    spdlog::info("source {}: updated; the next run uses the new definition", id);
  }
  impl.writes.FlushLocked();
  impl.Poke();
  return Status::Ok();
}

Status Engine::RemoveSource(const std::string& id) {
  Impl& impl = *impl_;
  {
    auto registry = impl.sources.Lock();
    if (!registry->sources.erase(id)) return Status::NotFound(fmt::format("no source '{}'", id));
    registry->scheduler.Remove(id);
    auto runs = impl.runs.Lock();
    if (auto run = runs->running.find(id); run != runs->running.end()) {
      // Fenced: whatever the pull does from now on is not committed.
      RunControl& control = *run->second.control;
      control.source_removed = true;
      control.fenced = true;
      control.stop = true;
      impl.writes.FailRun(run->second.control,
                          "cancelled: the source was removed while this run was pulling",
                          /*source_exists=*/false);
    }
    spdlog::info("source {}: removed", id);
  }
  impl.writes.Flush();
  impl.Poke();
  return Status::Ok();
}

std::optional<SourceConfig> Engine::SourceDefinition(const std::string& id) const {
  auto registry = impl_->sources.Lock();
  auto it = registry->sources.find(id);
  if (it == registry->sources.end()) return std::nullopt;
  return it->second.config;
}

std::vector<SourceSnapshot> Engine::Sources() const {
  std::vector<SourceSnapshot> snapshots;
  const TimePoint now = impl_->clock.Monotonic();
  auto registry = impl_->sources.Lock();
  auto runs = impl_->runs.Lock();
  for (const auto& [id, source] : registry->sources) {
    snapshots.push_back(registry->Snapshot(id, now, runs->CurrentRunId(id)));
  }
  return snapshots;
}

std::optional<SourceSnapshot> Engine::Source(const std::string& id) const {
  auto registry = impl_->sources.Lock();
  if (!registry->sources.count(id)) return std::nullopt;
  return registry->Snapshot(id, impl_->clock.Monotonic(), impl_->runs.Lock()->CurrentRunId(id));
}

std::vector<PluginSnapshot> Engine::Plugins() const {
  return impl_->plugins.Lock()->Snapshots();
}

int Engine::Running() const {
  return static_cast<int>(impl_->runs.Lock()->running.size());
}

bool Engine::WaitForRuns(const std::string& id, int64_t runs, Duration timeout) const {
  auto registry = impl_->sources.Lock();
  return registry.WaitFor(impl_->runs_counted, timeout, [&] {
    auto it = registry->sources.find(id);
    return it != registry->sources.end() && it->second.counts.runs_finished >= runs;
  });
}

}  // namespace reglo::engine
