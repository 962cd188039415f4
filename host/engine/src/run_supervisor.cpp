#include "run_supervisor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "duration_text.h"
#include "reglo/core/masking.h"

namespace reglo::engine {

void RunSupervisor::Start(const std::string& id, std::shared_ptr<RunControl> control,
                          TimePoint now) {
  Supervised& supervised = running[id];
  if (supervised.control) --in_flight[supervised.control->connector];
  ++in_flight[control->connector];
  supervised = Supervised{};
  supervised.control = std::move(control);
  supervised.last_progress = now;
  supervised.lease_tried = now;
  supervised.lease_confirmed = now;
}

std::optional<RunSupervisor::Supervised> RunSupervisor::Finish(
    const std::string& id, const std::shared_ptr<RunControl>& control) {
  auto it = running.find(id);
  if (it == running.end() || it->second.control != control) return std::nullopt;
  Supervised supervised = std::move(it->second);
  running.erase(it);
  --in_flight[supervised.control->connector];
  return supervised;
}

std::vector<std::pair<std::string, std::string>> RunSupervisor::Watchdog(TimePoint now) {
  std::vector<std::pair<std::string, std::string>> to_quarantine;  // plugin, source
  for (auto& [id, supervised] : running) {
    RunControl& control = *supervised.control;
    const uint64_t progress = control.progress.load();
    if (progress != supervised.seen_progress) {
      supervised.seen_progress = progress;
      supervised.last_progress = now;
    }
    if (!supervised.cancelled_at) {
      if (now - supervised.last_progress < limits.stall_timeout) continue;
      Fence(id, supervised, now,
            fmt::format("watchdog: no progress for {} (no record, checkpoint or warning); the "
                        "pull was cancelled",
                        DurationText(limits.stall_timeout)));
    } else if (now - *supervised.cancelled_at >= limits.cancel_grace) {
      if (!control.isolated) {
        to_quarantine.emplace_back(control.connector, id);
        continue;
      }
      // Only its runner is stuck: end it (SIGTERM, then SIGKILL), nothing else is affected.
      const std::string reason = fmt::format("the pull ignored its cancellation for {}",
                                             DurationText(limits.cancel_grace));
      control.KillProcess(reason);
      if (supervised.killed) continue;
      supervised.killed = true;
      spdlog::warn("source {}: killing its connector process: {}", id, reason);
      if (const int64_t run_id = control.run_id; run_id > 0) {
        const storage::RunLogLine line{FormatUtc(clock.Now()), storage::LogLevel::kError,
                                       "connector process killed: " + reason};
        writes.Enqueue(
            [run_id, line](storage::SyncStore& store) { (void)store.AppendRunLog(run_id, line); });
      }
    }
  }
  return to_quarantine;
}

void RunSupervisor::Fence(const std::string& id, Supervised& supervised, TimePoint now,
                          std::string reason) {
  if (supervised.cancelled_at) return;
  RunControl& control = *supervised.control;
  supervised.cancelled_at = now;
  supervised.cancel_reason = std::move(reason);
  control.fenced = true;
  control.stop = true;
  writes.FailRun(supervised.control, supervised.cancel_reason);
  spdlog::warn("source {}: {}", id, supervised.cancel_reason);
}

void RunSupervisor::AbandonRunsOf(const std::string& connector, const std::string& reason) {
  for (auto it = running.begin(); it != running.end();) {
    Supervised& supervised = it->second;
    if (supervised.control->connector != connector) {
      ++it;
      continue;
    }
    supervised.control->fenced = true;
    supervised.control->stop = true;
    // Its lease stays until it expires: a newer pull of the source (same owner) may hold it
    // by the time this one returns, if ever.
    supervised.control->leased = false;
    if (!supervised.cancelled_at) {
      writes.FailRun(supervised.control, reason);
    }
    abandoned.push_back(supervised.control);
    --in_flight[connector];
    it = running.erase(it);
  }
}

RunSupervisor::Renewals RunSupervisor::DueRenewals(TimePoint now) {
  Renewals due;
  for (auto& [id, supervised] : running) {
    if (!supervised.control->leased || supervised.cancelled_at) continue;
    if (now - supervised.lease_tried < limits.lease_ttl / 3) continue;
    supervised.lease_tried = now;
    due.emplace_back(id, supervised.control);
  }
  return due;
}

// Fails closed: a renewal refused (another instance took the lease) fences the pull at once; one
// that errs fences it once two thirds of the lease have passed since it was last known held,
// before it can expire under a pull that still commits.
void RunSupervisor::RenewalResult(const std::string& id, const std::shared_ptr<RunControl>& run,
                                  const Result<bool>& held, TimePoint now) {
  auto it = running.find(id);
  if (it == running.end() || it->second.control != run) return;
  Supervised& supervised = it->second;
  if (held.ok() && *held) {
    supervised.lease_confirmed = now;
  } else if (held.ok()) {
    Fence(id, supervised, now,
          "lease lost: another hub instance holds this source's lease now; the pull was "
          "cancelled and commits nothing more");
  } else if (now - supervised.lease_confirmed >= limits.lease_ttl * 2 / 3) {
    Fence(id, supervised, now,
          fmt::format(
              "lease not renewed for {} ({}); the pull was cancelled before the "
              "lease could expire under it",
              DurationText(std::chrono::duration_cast<Duration>(now - supervised.lease_confirmed)),
              MaskPersonalData(held.status().message())));
  } else {
    spdlog::warn("source {}: cannot renew its lease ({}); trying again", id,
                 MaskPersonalData(held.status().message()));
  }
}

int64_t RunSupervisor::CurrentRunId(const std::string& id) const {
  auto it = running.find(id);
  return it == running.end() ? 0 : it->second.control->run_id.load();
}

int RunSupervisor::InFlight(const std::string& connector) const {
  auto it = in_flight.find(connector);
  return it == in_flight.end() ? 0 : it->second;
}

}  // namespace reglo::engine
