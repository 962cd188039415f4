#include "reglo/engine/engine.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "guarded_store.h"
#include "reglo/core/masking.h"
#include "reglo/engine/plugin_watcher.h"
#include "reglo/plugin_host/plugin.h"

namespace reglo::engine {
namespace {

std::string DurationText(Duration d) {
  return d.count() % 1000 == 0 ? fmt::format("{} s", d.count() / 1000)
                               : fmt::format("{} ms", d.count());
}

}  // namespace

struct Engine::Impl : std::enable_shared_from_this<Impl> {
  struct Slot {
    std::shared_ptr<plugin_host::LoadedPlugin> plugin;  // null: not loaded (removed)
    std::filesystem::path file;
    std::unique_ptr<boost::asio::thread_pool> pool;
    bool quarantined = false;
    std::string reason;
  };
  struct Supervised {
    std::shared_ptr<RunControl> control;
    uint64_t seen_progress = 0;
    TimePoint last_progress{};
    // Leases: when the engine last tried to renew the pull's lease, and last knew it held
    // (from the start: the pull takes the lease just after, so the estimate errs on the safe side).
    TimePoint lease_tried{};
    TimePoint lease_confirmed{};
    std::optional<TimePoint> cancelled_at;
    std::string cancel_reason;
    bool killed = false;  // an isolated pull's runner was killed
  };
  struct Stats {
    int64_t runs_finished = 0;
    int64_t last_run_id = 0;
    std::string last_plugin_version;
  };

  Impl(EngineOptions o, std::vector<SourceConfig> configured, SyncStoreFactory factory,
       const Clock& c, RandomSource& r)
      : options(std::move(o)),
        clock(c),
        open_store(std::move(factory)),
        scheduler(options.backoff, r) {
    for (SourceConfig& source : configured) {
      if (source.interval.count() <= 0) source.interval = options.default_interval;
      const std::string id = source.row.id;
      sources.emplace(id, std::move(source));
    }
    if (options.lease_ttl.count() <= 0) {
      options.lease_ttl = options.stall_timeout + options.cancel_grace + Duration(60'000);
    }
    if (options.plugin_cache_dir.empty()) {
      options.plugin_cache_dir =
          options.plugins_dir.parent_path() / (".reglo-plugin-cache-" + options.instance_id);
    }
    watcher = std::make_unique<PluginWatcher>(options.plugins_dir, options.plugin_cache_dir,
                                              options.plugin_settle, clock);
  }

  // --- stores -------------------------------------------------------------------------------

  Result<std::unique_ptr<storage::SyncStore>> TakeStore() {
    {
      std::lock_guard<std::mutex> lock(stores_mutex);
      if (!idle_stores.empty()) {
        std::unique_ptr<storage::SyncStore> store = std::move(idle_stores.back());
        idle_stores.pop_back();
        return store;
      }
    }
    return open_store();
  }
  void ReturnStore(std::unique_ptr<storage::SyncStore> store) {
    std::lock_guard<std::mutex> lock(stores_mutex);
    idle_stores.push_back(std::move(store));
  }

  // --- the control store ----------------------------------------------------------------------
  // Decisions are taken under `mutex`; what they write to the control store is queued there and
  // written by FlushWrites, outside `mutex` (readers never wait for the database), in the order
  // it was decided. Lock order: tick_mutex, then a run's lease_mutex, then control_mutex, then
  // mutex.

  // Under `mutex`. Failures are logged, never fatal.
  void Enqueue(std::function<void(storage::SyncStore&)> write) {
    pending_writes.push_back(std::move(write));
  }
  void SetStatus(const std::string& id, const std::string& status) {
    Enqueue([id, status](storage::SyncStore& store) {
      Status set = store.SetSourceStatus(id, status);
      if (!set.ok()) spdlog::error("source {}: cannot store its status: {}", id, set.message());
    });
  }
  void FailRun(int64_t run_id, const std::string& message) {
    if (run_id <= 0) return;
    const std::string at = FormatUtc(clock.Now());
    Enqueue([run_id, at, message](storage::SyncStore& store) {
      (void)store.AppendRunLog(run_id, {at, storage::LogLevel::kError, message});
      Status finished =
          store.FinishRun(run_id, storage::RunStatus::kFailed, at,
                          std::string(StatusCodeName(StatusCode::kCancelled)), message);
      if (!finished.ok())
        spdlog::error("run {}: cannot record its end: {}", run_id, finished.message());
    });
  }
  // Not under `mutex`: writes what was queued, in order.
  void FlushWrites() {
    std::lock_guard<std::mutex> writing(control_mutex);
    FlushWritesLocked();
  }
  // Under control_mutex (not `mutex`).
  void FlushWritesLocked() {
    std::vector<std::function<void(storage::SyncStore&)>> writes;
    {
      std::lock_guard<std::mutex> lock(mutex);
      writes.swap(pending_writes);
    }
    if (!control) return;
    for (auto& write : writes) write(*control);
  }

  // --- plugins ------------------------------------------------------------------------------

  std::vector<std::string> SourcesOf(const std::string& connector) const {
    std::vector<std::string> ids;
    for (const auto& [id, source] : sources) {
      if (source.row.connector == connector) ids.push_back(id);
    }
    return ids;
  }

  // Not under `mutex`: a new library is probed in a child and loaded (dlopen, which runs its
  // static constructors) with the lock free, so snapshots and commands never wait for either.
  void ApplyPluginEvent(const PluginFileEvent& event) {
    Result<std::shared_ptr<plugin_host::LoadedPlugin>> loaded = Status::NotFound("not loaded");
    if (event.kind == PluginFileEvent::Kind::kReady) {
      Status probed = Probe(event.private_copy);
      loaded = probed.ok() ? plugin_host::LoadedPlugin::Load(event.private_copy)
                           : Result<std::shared_ptr<plugin_host::LoadedPlugin>>(probed);
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      ApplyPluginEventLocked(event, std::move(loaded), clock.Monotonic());
    }
    FlushWrites();
  }

  void ApplyPluginEventLocked(const PluginFileEvent& event,
                              Result<std::shared_ptr<plugin_host::LoadedPlugin>> loaded,
                              TimePoint now) {
    const std::string file = event.file.string();
    if (event.kind == PluginFileEvent::Kind::kIncomplete) {
      refused[event.file] =
          fmt::format("plugin {} not loaded: {}; waiting for it to change", file, event.problem);
      spdlog::warn("{}", refused[event.file]);
      return;
    }
    if (event.kind == PluginFileEvent::Kind::kRemoved) {
      auto named = file_names.find(event.file);
      if (named == file_names.end()) {
        refused.erase(event.file);
        return;
      }
      const std::string name = named->second;
      file_names.erase(named);
      Unload(name,
             fmt::format("plugin '{}' was removed from {}", name, options.plugins_dir.string()));
      return;
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
      return;
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
      return;
    }
    auto previous = file_names.find(event.file);
    if (previous != file_names.end() && previous->second != name) {
      const std::string old = previous->second;
      Unload(old, fmt::format("plugin '{}' was replaced in {} by '{}'", old, file, name));
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
      for (const std::string& id : SourcesOf(name)) scheduler.LiftQuarantine(id, now);
    }
    for (const std::string& id : SourcesOf(name)) {
      const SourceSchedule* schedule = scheduler.Find(id);
      if (schedule && schedule->state == SourceState::kPaused &&
          schedule->cause == HoldCause::kPluginMissing) {
        (void)scheduler.Resume(id, HoldCause::kPluginMissing, now);
        SetStatus(id, "new");
        spdlog::info("source {}: resumed, plugin {} {} is available", id, name, version);
      }
    }
  }

  // Vetted in a child first: a library that crashes when loaded, described or given the
  // configuration of a source that runs in this process is refused, and the hub carries on.
  // Not under `mutex` (it waits for the child); takes it only to read the sources.
  Status Probe(const std::filesystem::path& library) {
    auto configs = [this](const plugin_host::PluginInfo& described) {
      std::lock_guard<std::mutex> lock(mutex);
      std::vector<std::pair<std::string, std::string>> tried;
      for (const auto& [id, source] : sources) {
        if (source.row.connector == described.name &&
            source.isolation == isolation::Isolation::kInProcess) {
          tried.emplace_back("source " + id, source.row.config_json);
        }
      }
      return tried;
    };
    Result<plugin_host::PluginInfo> probed =
        isolation::ProbePlugin(options.runner, library, configs);
    return probed.ok() ? Status::Ok() : probed.status();
  }

  // The plugin is gone: its sources pause with the reason; running pulls finish on their copy.
  void Unload(const std::string& name, const std::string& reason) {
    auto it = plugins.find(name);
    if (it == plugins.end()) return;
    it->second.plugin.reset();
    spdlog::warn("{}; its sources are paused", reason);
    for (const std::string& id : SourcesOf(name)) {
      (void)scheduler.Pause(id, HoldCause::kPluginMissing, "paused: " + reason);
      SetStatus(id, "paused");
    }
  }

  // A pull ignored its cancellation: the plugin's pool is abandoned (never joined: its threads
  // end when the plugin returns, if ever) and every source of the plugin fails with the reason.
  void Quarantine(const std::string& name, const std::string& stuck_source) {
    Slot& slot = plugins[name];
    if (slot.quarantined) return;
    slot.quarantined = true;
    slot.reason = fmt::format(
        "plugin {} quarantined: a pull of source {} ignored cancellation for {} after {} without "
        "progress",
        name, stuck_source, DurationText(options.cancel_grace),
        DurationText(options.stall_timeout));
    spdlog::error("{}; its sources are marked failed, the rest of the hub carries on", slot.reason);
    if (slot.pool) abandoned_pools.push_back(std::move(slot.pool));
    for (auto it = running.begin(); it != running.end();) {
      Supervised& supervised = it->second;
      if (supervised.control->connector != name) {
        ++it;
        continue;
      }
      supervised.control->fenced = true;
      supervised.control->stop = true;
      // Its lease stays until it expires: a newer pull of the source (same owner) may hold it
      // by the time this one returns, if ever.
      supervised.control->leased = false;
      if (!supervised.cancelled_at) FailRun(supervised.control->run_id, slot.reason);
      abandoned.push_back(supervised.control);
      it = running.erase(it);
    }
    for (const std::string& id : SourcesOf(name)) {
      (void)scheduler.Fail(id, HoldCause::kQuarantine, slot.reason);
      SetStatus(id, "failed");
    }
  }

  // --- supervision --------------------------------------------------------------------------

  void Watchdog(TimePoint now) {
    std::vector<std::pair<std::string, std::string>> to_quarantine;  // plugin, source
    for (auto& [id, supervised] : running) {
      RunControl& control = *supervised.control;
      const uint64_t progress = control.progress.load();
      if (progress != supervised.seen_progress) {
        supervised.seen_progress = progress;
        supervised.last_progress = now;
      }
      if (!supervised.cancelled_at) {
        if (now - supervised.last_progress < options.stall_timeout) continue;
        Fence(id, supervised, now,
              fmt::format("watchdog: no progress for {} (no record, checkpoint or warning); the "
                          "pull was cancelled",
                          DurationText(options.stall_timeout)));
      } else if (now - *supervised.cancelled_at >= options.cancel_grace) {
        if (control.isolated) {
          // Only its runner is stuck: end it (SIGTERM, then SIGKILL), nothing else is affected.
          const std::string reason = fmt::format("the pull ignored its cancellation for {}",
                                                 DurationText(options.cancel_grace));
          control.KillProcess(reason);
          if (!supervised.killed) {
            supervised.killed = true;
            spdlog::warn("source {}: killing its connector process: {}", id, reason);
            if (const int64_t run_id = control.run_id; run_id > 0) {
              const storage::RunLogLine line{FormatUtc(clock.Now()), storage::LogLevel::kError,
                                             "connector process killed: " + reason};
              Enqueue([run_id, line](storage::SyncStore& store) {
                (void)store.AppendRunLog(run_id, line);
              });
            }
          }
        } else {
          to_quarantine.emplace_back(control.connector, id);
        }
      }
    }
    for (const auto& [plugin, source] : to_quarantine) Quarantine(plugin, source);
  }

  // Under `mutex`: cancels a pull and fences it (it commits nothing more, GuardedStore), marks its
  // run failed with `reason`; the watchdog then treats it like any cancelled pull.
  void Fence(const std::string& id, Supervised& supervised, TimePoint now, std::string reason) {
    if (supervised.cancelled_at) return;
    RunControl& control = *supervised.control;
    supervised.cancelled_at = now;
    supervised.cancel_reason = std::move(reason);
    control.fenced = true;
    control.stop = true;
    FailRun(control.run_id, supervised.cancel_reason);
    spdlog::warn("source {}: {}", id, supervised.cancel_reason);
  }

  // Under `mutex`: the pulls whose lease is due for renewal (a third of its time since the last
  // try). Only leases a pull holds: not a pull still queued on its pool (it takes the lease when
  // it starts), nor one that has released it.
  std::vector<std::pair<std::string, std::shared_ptr<RunControl>>> DueRenewals(TimePoint now) {
    std::vector<std::pair<std::string, std::shared_ptr<RunControl>>> due;
    for (auto& [id, supervised] : running) {
      if (!supervised.control->leased || supervised.cancelled_at) continue;
      if (now - supervised.lease_tried < options.lease_ttl / 3) continue;
      supervised.lease_tried = now;
      due.emplace_back(id, supervised.control);
    }
    return due;
  }

  // Not under `mutex`. Fails closed: a renewal refused (another instance took the lease) fences
  // the pull at once; one that errs fences it once two thirds of the lease have passed since it
  // was last known held, before it can expire under a pull that still commits.
  void RenewLeases(const std::vector<std::pair<std::string, std::shared_ptr<RunControl>>>& due,
                   TimePoint now) {
    for (const auto& [id, run] : due) {
      Result<bool> held = false;
      {
        // The pull's lease_mutex: its end cannot release the lease between the check and the
        // renewal (which would take it again, for nobody).
        std::lock_guard<std::mutex> lease_lock(run->lease_mutex);
        if (!run->leased) continue;
        std::lock_guard<std::mutex> writing(control_mutex);
        if (!control) continue;
        held = control->TryAcquireLease(id, options.instance_id, options.lease_ttl,
                                        FormatUtc(clock.Now()));
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        auto it = running.find(id);
        if (it == running.end() || it->second.control != run) continue;
        Supervised& supervised = it->second;
        if (held.ok() && *held) {
          supervised.lease_confirmed = now;
        } else if (held.ok()) {
          Fence(id, supervised, now,
                "lease lost: another hub instance holds this source's lease now; the pull was "
                "cancelled and commits nothing more");
        } else if (now - supervised.lease_confirmed >= options.lease_ttl * 2 / 3) {
          Fence(id, supervised, now,
                fmt::format("lease not renewed for {} ({}); the pull was cancelled before the "
                            "lease could expire under it",
                            DurationText(std::chrono::duration_cast<Duration>(
                                now - supervised.lease_confirmed)),
                            MaskPersonalData(held.status().message())));
        } else {
          spdlog::warn("source {}: cannot renew its lease ({}); trying again", id,
                       MaskPersonalData(held.status().message()));
        }
      }
      FlushWrites();
    }
  }

  void StartDue(TimePoint now) {
    if (stopping) return;
    for (const std::string& id : scheduler.Due(now)) {
      const SourceConfig& source = sources.at(id);
      auto slot_it = plugins.find(source.row.connector);
      if (slot_it == plugins.end() || !slot_it->second.plugin) {
        (void)scheduler.Pause(id, HoldCause::kPluginMissing,
                              fmt::format("paused: connector '{}' is not loaded from {}",
                                          source.row.connector, options.plugins_dir.string()));
        SetStatus(id, "paused");
        continue;
      }
      Slot& slot = slot_it->second;
      if (slot.quarantined) continue;
      if (!slot.pool) {
        slot.pool = std::make_unique<boost::asio::thread_pool>(
            static_cast<size_t>(std::max(1, options.threads_per_plugin)));
      }
      auto control = std::make_shared<RunControl>();
      control->source_id = id;
      control->connector = source.row.connector;
      control->plugin_version = slot.plugin->info().version;
      control->isolated = source.isolation == isolation::Isolation::kProcess;
      Supervised& supervised = running[id];
      supervised = Supervised{};
      supervised.control = control;
      supervised.last_progress = now;
      supervised.lease_tried = now;
      supervised.lease_confirmed = now;
      scheduler.MarkStarted(id);
      boost::asio::post(
          *slot.pool, [self = shared_from_this(), row = source.row, plugin = slot.plugin, control] {
            self->RunJob(row, plugin, control);
          });
    }
  }

  // --- one run, on the plugin's pool ----------------------------------------------------------

  void RunJob(const storage::SourceRow& row, std::shared_ptr<plugin_host::LoadedPlugin> plugin,
              std::shared_ptr<RunControl> control) {
    RunOutcome outcome;
    storage::RunCounters counters;
    bool skipped = false;
    Result<std::unique_ptr<storage::SyncStore>> store = TakeStore();
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
        control->leased = true;
        // With the lease held no other run of this source can be in progress: a run still
        // marked running was left by a process that crashed or was killed.
        Result<int64_t> closed = (*store)->CloseAbandonedRuns(
            row.id, FormatUtc(clock.Now()),
            "abandoned: the hub process running it stopped before it finished");
        if (closed.ok() && *closed > 0) {
          spdlog::warn("source {}: closed {} run(s) left open by a stopped hub process", row.id,
                       *closed);
        }
        Run(**store, row, *plugin, control, outcome, counters);
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
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = running.find(row.id);
      const bool supervised = it != running.end() && it->second.control == control;
      // A source removed while its pull ran: nothing to schedule or store for it any more.
      const bool removed = sources.find(row.id) == sources.end();
      if (supervised && removed) {
        running.erase(it);
      } else if (supervised) {
        if (it->second.cancelled_at) {
          outcome.code = StatusCode::kRetryable;
          outcome.message = it->second.cancel_reason;
        }
        running.erase(it);
        const TimePoint now = clock.Monotonic();
        if (skipped) {
          scheduler.MarkSkipped(row.id, sources.at(row.id).interval, now);
        } else {
          if (stopping && control->stop && outcome.code != StatusCode::kOk) {
            outcome.code = StatusCode::kCancelled;  // stopped by the shutdown: not a failure
          }
          const Decision decision = scheduler.MarkFinished(row.id, outcome, now);
          LogRun(row.id, control->run_id, outcome, counters, decision);
          // The pipeline stored ok/warning/failed from the run alone; the engine's verdict
          // (retrying is a warning; paused) is what the source shows. Queued with the engine's
          // own writes (in decision order) and written before the run counts as finished, so
          // whoever waits for it sees the final status.
          SetStatus(row.id, decision.state == SourceState::kPaused ? "paused" : decision.status);
        }
      }
    }
    FlushWrites();
    {
      std::lock_guard<std::mutex> lock(mutex);
      const bool removed = sources.find(row.id) == sources.end();
      Stats& stat = removed ? removed_stats : stats[row.id];
      ++stat.runs_finished;
      if (control->run_id > 0) stat.last_run_id = control->run_id;
      stat.last_plugin_version = control->plugin_version;
      poked = true;
    }
    changed.notify_all();
    if (store.ok()) ReturnStore(std::move(*store));
  }

  void Run(storage::SyncStore& store, const storage::SourceRow& row,
           const plugin_host::LoadedPlugin& plugin, const std::shared_ptr<RunControl>& control,
           RunOutcome& outcome, storage::RunCounters& counters) {
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
    GuardedStore guarded(store, control);
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

  // Decides under `mutex`, does the blocking work (folder poll, probes, loads, lease renewals,
  // control-store writes) outside it. One tick at a time (tick_mutex).
  void Tick() {
    std::lock_guard<std::mutex> ticking(tick_mutex);
    bool poll = false;
    std::vector<std::pair<std::string, std::shared_ptr<RunControl>>> renewals;
    TimePoint now;
    {
      std::lock_guard<std::mutex> lock(mutex);
      now = clock.Monotonic();
      Watchdog(now);
      if (options.watch_plugins && now >= next_watch) {
        next_watch = now + options.watch_interval;
        poll = true;
      }
      renewals = DueRenewals(now);
    }
    FlushWrites();
    if (poll) {
      for (const PluginFileEvent& event : watcher->Poll()) ApplyPluginEvent(event);
    }
    RenewLeases(renewals, now);
    {
      std::lock_guard<std::mutex> lock(mutex);
      StartDue(clock.Monotonic());
    }
    FlushWrites();
  }

  // How long the control thread may sleep: until the next due run, the next folder poll, or the
  // next watchdog look (a quarter of the stall timeout, at most a second).
  Duration NextWake() {
    const TimePoint now = clock.Monotonic();
    Duration wait = std::min<Duration>(Duration(1'000), options.stall_timeout / 4);
    if (!running.empty()) wait = std::min(wait, options.cancel_grace / 4);
    if (std::optional<TimePoint> due = scheduler.NextDue()) {
      wait = std::min(wait, std::chrono::duration_cast<Duration>(*due - now));
    }
    if (options.watch_plugins) {
      wait = std::min(wait, std::chrono::duration_cast<Duration>(next_watch - now));
    }
    return std::max(wait, Duration(5));
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!quit) {
      lock.unlock();
      Tick();
      lock.lock();
      if (quit) break;
      poked = false;
      const Duration wait = NextWake();
      changed.wait_for(lock, wait, [this] { return quit || poked; });
    }
  }

  SourceSnapshot Snapshot(const std::string& id, TimePoint now) const {
    SourceSnapshot snapshot;
    snapshot.id = id;
    snapshot.connector = sources.at(id).row.connector;
    if (const SourceSchedule* schedule = scheduler.Find(id)) {
      snapshot.state = schedule->state;
      snapshot.status = schedule->state == SourceState::kPaused ? "paused" : schedule->status;
      snapshot.reason = schedule->reason;
      snapshot.cause = schedule->cause;
      snapshot.consecutive_failures = schedule->consecutive_failures;
      snapshot.next_run_in = std::chrono::duration_cast<Duration>(schedule->next_run - now);
    }
    if (auto run = running.find(id); run != running.end()) {
      snapshot.current_run_id = run->second.control->run_id;
    }
    if (auto stat = stats.find(id); stat != stats.end()) {
      snapshot.runs_finished = stat->second.runs_finished;
      snapshot.last_run_id = stat->second.last_run_id;
      snapshot.last_plugin_version = stat->second.last_plugin_version;
    }
    return snapshot;
  }

  EngineOptions options;
  const Clock& clock;
  SyncStoreFactory open_store;
  std::map<std::string, SourceConfig> sources;

  std::mutex tick_mutex;  // one Tick (or Start) at a time; guards `watcher`
  // Guards the control store: the engine's own writes, queued under `mutex` (pending_writes).
  std::mutex control_mutex;
  std::unique_ptr<storage::SyncStore> control;
  // Guards everything below; never held across I/O, a probe or a load.
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<std::function<void(storage::SyncStore&)>> pending_writes;
  Scheduler scheduler;
  std::unique_ptr<PluginWatcher> watcher;
  TimePoint next_watch{};
  std::map<std::string, Slot> plugins;  // by plugin name
  std::map<std::filesystem::path, std::string> file_names;
  std::map<std::filesystem::path, std::string> refused;
  std::map<std::string, Supervised> running;  // by source id
  std::vector<std::shared_ptr<RunControl>> abandoned;
  std::vector<std::unique_ptr<boost::asio::thread_pool>> abandoned_pools;
  std::map<std::string, Stats> stats;
  Stats removed_stats;  // runs of removed sources that finished afterwards (not shown anywhere)
  bool stopping = false;
  bool quit = false;
  bool poked = false;
  std::thread loop;

  std::mutex stores_mutex;
  std::vector<std::unique_ptr<storage::SyncStore>> idle_stores;
};

Engine::Engine(EngineOptions options, std::vector<SourceConfig> sources,
               SyncStoreFactory open_store, const Clock& clock, RandomSource& random)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(sources), std::move(open_store),
                                   clock, random)) {}

Engine::Engine(EngineOptions options, std::vector<SourceConfig> sources, StoreFactory open_store,
               const Clock& clock, RandomSource& random)
    : Engine(
          std::move(options), std::move(sources),
          [open = std::move(open_store)]() -> Result<std::unique_ptr<storage::SyncStore>> {
            Result<std::unique_ptr<storage::Store>> store = open();
            if (!store.ok()) return store.status();
            return std::unique_ptr<storage::SyncStore>(std::move(*store));
          },
          clock, random) {}

Engine::~Engine() {
  Stop(impl_->options.cancel_grace);
  std::vector<std::unique_ptr<boost::asio::thread_pool>> finished;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    // Pools whose pulls have ended are joined; one still running a pull that ignored every stop is
    // left behind (never joined), so a hung plugin cannot hang the hub's exit.
    for (auto& [name, slot] : impl_->plugins) {
      if (!slot.pool) continue;
      bool busy = false;
      for (const auto& [id, supervised] : impl_->running)
        busy |= supervised.control->connector == name;
      if (busy) {
        (void)slot.pool.release();
      } else {
        finished.push_back(std::move(slot.pool));
      }
    }
    for (auto& pool : impl_->abandoned_pools) (void)pool.release();
    impl_->abandoned_pools.clear();
  }
  // Joined without the lock: a pull that has just ended still takes it to record its end.
  for (auto& pool : finished) pool->join();
  finished.clear();
  // A pull left behind writes nothing more through the engine (its own store is its own).
  std::lock_guard<std::mutex> writing(impl_->control_mutex);
  impl_->control.reset();
}

Status Engine::Start() {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> ticking(impl.tick_mutex);
  Result<std::unique_ptr<storage::SyncStore>> control = impl.open_store();
  if (!control.ok()) return control.status().WithContext("opening the store");
  {
    std::lock_guard<std::mutex> writing(impl.control_mutex);
    impl.control = std::move(*control);
    // The configured sources are fixed until Start returns: no lock needed to read them.
    for (const auto& [id, source] : impl.sources) {
      REGLO_RETURN_IF_ERROR(impl.control->UpsertSource(source.row).WithContext("source " + id));
    }
  }
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    const TimePoint now = impl.clock.Monotonic();
    for (const auto& [id, source] : impl.sources) {
      impl.scheduler.Add(id, source.interval, now);
      if (!source.row.enabled) {
        (void)impl.scheduler.Pause(id, HoldCause::kManual, "paused: disabled in the configuration");
        impl.SetStatus(id, "paused");
      }
    }
  }
  // Libraries present at start are complete: no settle wait for them.
  for (const PluginFileEvent& event : impl.watcher->Poll(/*initial=*/true)) {
    impl.ApplyPluginEvent(event);
  }
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    impl.next_watch = impl.clock.Monotonic() + impl.options.watch_interval;
    for (const auto& [id, source] : impl.sources) {
      auto slot = impl.plugins.find(source.row.connector);
      if (source.row.enabled && (slot == impl.plugins.end() || !slot->second.plugin)) {
        const std::string reason =
            fmt::format("paused: connector '{}' is not loaded from {}", source.row.connector,
                        impl.options.plugins_dir.string());
        (void)impl.scheduler.Pause(id, HoldCause::kPluginMissing, reason);
        impl.SetStatus(id, "paused");
        spdlog::warn("source {}: {}", id, reason);
      }
    }
  }
  impl.FlushWrites();
  return Status::Ok();
}

void Engine::StartLoop() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->loop.joinable()) return;
  impl_->loop = std::thread([impl = impl_] { impl->Loop(); });
}

void Engine::Tick() {
  impl_->Tick();
}

bool Engine::Stop(Duration timeout) {
  Impl& impl = *impl_;
  std::unique_lock<std::mutex> lock(impl.mutex);
  if (!impl.stopping) {
    impl.stopping = true;
    if (!impl.running.empty()) {
      spdlog::info("stopping: {} pull(s) told to stop at their next checkpoint",
                   impl.running.size());
    }
  }
  for (auto& [id, supervised] : impl.running) supervised.control->stop = true;
  // Real time on purpose: this waits for other threads, it does not decide anything.
  bool done = impl.changed.wait_for(lock, timeout, [&] { return impl.running.empty(); });
  if (!done) {
    // Isolated pulls that did not stop are ended with their runner; in-process ones cannot be.
    bool killed = false;
    for (auto& [id, supervised] : impl.running) {
      if (!supervised.control->isolated) continue;
      supervised.control->KillProcess("the hub is stopping and the pull did not stop in time");
      killed = true;
    }
    if (killed) {
      done = impl.changed.wait_for(lock, impl.options.runner.term_grace + Duration(1'000),
                                   [&] { return impl.running.empty(); });
    }
  }
  if (!done) {
    std::string ids;
    for (const auto& [id, supervised] : impl.running) ids += (ids.empty() ? "" : ", ") + id;
    spdlog::error("stopping: pull(s) of {} did not stop within {}; leaving them behind", ids,
                  DurationText(timeout));
  }
  impl.quit = true;
  impl.changed.notify_all();
  std::thread loop = std::move(impl.loop);
  lock.unlock();
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

// Runs `change` on the scheduler under the engine's lock, stores the resulting status (before
// returning) and wakes the control loop.
template <typename Change>
Status Command(Engine::Impl& impl, const std::string& id, OperatorCommand command, Change change) {
  Status status;
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    status = change(impl.clock.Monotonic());
    if (status.ok()) {
      spdlog::info("source {}: {}", id, Describe(command));
      if (const SourceSchedule* schedule = impl.scheduler.Find(id)) {
        if (schedule->state == SourceState::kPaused) impl.SetStatus(id, "paused");
        // Back from a hold: the status it had before (a failed one starts over).
        if (command == OperatorCommand::kResume || command == OperatorCommand::kRetry) {
          impl.SetStatus(id, schedule->status == "failed" ? "new" : schedule->status);
        }
      }
    }
    impl.poked = true;
  }
  impl.FlushWrites();
  impl.changed.notify_all();
  return status;
}

}  // namespace

Status Engine::RunNow(const std::string& id) {
  return Command(*impl_, id, OperatorCommand::kRunNow,
                 [&](TimePoint now) { return impl_->scheduler.RunNow(id, now); });
}

Status Engine::Pause(const std::string& id) {
  return Command(*impl_, id, OperatorCommand::kPause, [&](TimePoint) {
    return impl_->scheduler.Pause(id, HoldCause::kManual, "paused by an operator");
  });
}

Status Engine::Resume(const std::string& id) {
  return Command(*impl_, id, OperatorCommand::kResume, [&](TimePoint now) {
    return impl_->scheduler.Resume(id, HoldCause::kManual, now);
  });
}

Status Engine::Retry(const std::string& id) {
  return Command(*impl_, id, OperatorCommand::kRetry,
                 [&](TimePoint now) { return impl_->scheduler.Retry(id, now); });
}

// Add and update write the source's row themselves (the caller needs the error): under
// control_mutex, which keeps them in order with the engine's queued writes, and outside `mutex`.

Status Engine::AddSource(SourceConfig source) {
  Impl& impl = *impl_;
  const std::string id = source.row.id;
  std::lock_guard<std::mutex> writing(impl.control_mutex);
  auto refused = [&]() -> Status {  // under `mutex`
    if (impl.sources.count(id)) {
      return Status::AlreadyExists(fmt::format("source '{}' already exists", id));
    }
    if (impl.running.count(id)) {
      return Status::AlreadyExists(fmt::format(
          "a pull of the removed source '{}' is still stopping; try again shortly", id));
    }
    return Status::Ok();
  };
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    REGLO_RETURN_IF_ERROR(refused());
    if (source.interval.count() <= 0) source.interval = impl.options.default_interval;
    source.row.status = "new";
  }
  if (impl.control) {
    REGLO_RETURN_IF_ERROR(impl.control->UpsertSource(source.row).WithContext("source " + id));
  }
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    REGLO_RETURN_IF_ERROR(refused());  // adds are serialised (control_mutex): still free
    const TimePoint now = impl.clock.Monotonic();
    impl.scheduler.Add(id, source.interval, now);
    impl.sources.emplace(id, source);
    if (!source.row.enabled) {
      (void)impl.scheduler.Pause(id, HoldCause::kManual, "paused: disabled");
      impl.SetStatus(id, "paused");
    } else if (auto slot = impl.plugins.find(source.row.connector);
               slot == impl.plugins.end() || !slot->second.plugin) {
      (void)impl.scheduler.Pause(
          id, HoldCause::kPluginMissing,
          fmt::format("paused: connector '{}' is not loaded from {}", source.row.connector,
                      impl.options.plugins_dir.string()));
      impl.SetStatus(id, "paused");
    }
    spdlog::info("source {}: added (connector {})", id, source.row.connector);
    impl.poked = true;
  }
  impl.FlushWritesLocked();
  impl.changed.notify_all();
  return Status::Ok();
}

Status Engine::UpdateSource(SourceConfig source) {
  Impl& impl = *impl_;
  const std::string id = source.row.id;
  std::lock_guard<std::mutex> writing(impl.control_mutex);
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    const SourceSchedule* schedule = impl.scheduler.Find(id);
    if (!impl.sources.count(id) || schedule == nullptr) {
      return Status::NotFound(fmt::format("no source '{}'", id));
    }
    if (source.interval.count() <= 0) source.interval = impl.options.default_interval;
    source.row.status = schedule->state == SourceState::kPaused ? "paused" : schedule->status;
  }
  if (impl.control) {
    REGLO_RETURN_IF_ERROR(impl.control->UpsertSource(source.row).WithContext("source " + id));
  }
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    auto it = impl.sources.find(id);
    // Removed meanwhile (removals do not wait for control_mutex): the row written stays, as a
    // removed source's row always does, and nothing is scheduled.
    if (it == impl.sources.end()) return Status::NotFound(fmt::format("no source '{}'", id));
    const TimePoint now = impl.clock.Monotonic();
    const bool was_enabled = it->second.row.enabled;
    it->second = source;
    impl.scheduler.Add(id, source.interval, now);  // keeps its state, takes the new interval
    auto slot = impl.plugins.find(source.row.connector);
    const bool loaded = slot != impl.plugins.end() && slot->second.plugin != nullptr;
    if (was_enabled && !source.row.enabled) {
      (void)impl.scheduler.Pause(id, HoldCause::kManual, "paused: disabled");
      impl.SetStatus(id, "paused");
    } else if (!was_enabled && source.row.enabled) {
      (void)impl.scheduler.Resume(id, HoldCause::kManual, now);
    }
    const SourceSchedule* schedule = impl.scheduler.Find(id);
    if (source.row.enabled && schedule != nullptr) {
      if (!loaded && schedule->state != SourceState::kPaused) {
        (void)impl.scheduler.Pause(
            id, HoldCause::kPluginMissing,
            fmt::format("paused: connector '{}' is not loaded from {}", source.row.connector,
                        impl.options.plugins_dir.string()));
      } else if (loaded && schedule->state == SourceState::kPaused &&
                 schedule->cause == HoldCause::kPluginMissing) {
        (void)impl.scheduler.Resume(id, HoldCause::kPluginMissing, now);
      }
      schedule = impl.scheduler.Find(id);
      impl.SetStatus(id, schedule->state == SourceState::kPaused ? "paused"
                         : schedule->status == "failed"          ? "failed"
                                                                 : schedule->status);
    }
    spdlog::info("source {}: updated; the next run uses the new definition", id);
    impl.poked = true;
  }
  impl.FlushWritesLocked();
  impl.changed.notify_all();
  return Status::Ok();
}

Status Engine::RemoveSource(const std::string& id) {
  Impl& impl = *impl_;
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    if (!impl.sources.erase(id)) return Status::NotFound(fmt::format("no source '{}'", id));
    impl.scheduler.Remove(id);
    impl.stats.erase(id);
    if (auto run = impl.running.find(id); run != impl.running.end()) {
      // Fenced: whatever the pull does from now on is not committed.
      RunControl& control = *run->second.control;
      control.fenced = true;
      control.stop = true;
      impl.FailRun(control.run_id, "cancelled: the source was removed while this run was pulling");
    }
    spdlog::info("source {}: removed", id);
    impl.poked = true;
  }
  impl.FlushWrites();
  impl.changed.notify_all();
  return Status::Ok();
}

std::optional<SourceConfig> Engine::SourceDefinition(const std::string& id) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->sources.find(id);
  if (it == impl_->sources.end()) return std::nullopt;
  return it->second;
}

std::vector<SourceSnapshot> Engine::Sources() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<SourceSnapshot> snapshots;
  const TimePoint now = impl_->clock.Monotonic();
  for (const auto& [id, source] : impl_->sources) snapshots.push_back(impl_->Snapshot(id, now));
  return snapshots;
}

std::optional<SourceSnapshot> Engine::Source(const std::string& id) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (!impl_->sources.count(id)) return std::nullopt;
  return impl_->Snapshot(id, impl_->clock.Monotonic());
}

std::vector<PluginSnapshot> Engine::Plugins() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<PluginSnapshot> snapshots;
  for (const auto& [name, slot] : impl_->plugins) {
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
  for (const auto& [file, reason] : impl_->refused) {
    PluginSnapshot snapshot;
    snapshot.file = file;
    snapshot.reason = reason;
    snapshots.push_back(std::move(snapshot));
  }
  return snapshots;
}

int Engine::Running() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return static_cast<int>(impl_->running.size());
}

bool Engine::WaitForRuns(const std::string& id, int64_t runs, Duration timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] {
    auto it = impl_->stats.find(id);
    return it != impl_->stats.end() && it->second.runs_finished >= runs;
  });
}

}  // namespace reglo::engine
