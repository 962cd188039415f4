#include "source_registry.h"

namespace reglo::engine {

std::vector<std::string> SourceRegistry::SourcesOf(const std::string& connector) const {
  std::vector<std::string> ids;
  for (const auto& [id, source] : sources) {
    if (source.config.row.connector == connector) ids.push_back(id);
  }
  return ids;
}

std::string SourceRegistry::ShownStatus(const std::string& id) const {
  const SourceSchedule* schedule = scheduler.Find(id);
  if (schedule == nullptr) return "";
  return schedule->state == SourceState::kPaused ? "paused" : schedule->status;
}

SourceSnapshot SourceRegistry::Snapshot(const std::string& id, TimePoint now,
                                        int64_t current_run_id) const {
  SourceSnapshot snapshot;
  snapshot.id = id;
  const Entry& source = sources.at(id);
  snapshot.connector = source.config.row.connector;
  if (const SourceSchedule* schedule = scheduler.Find(id)) {
    snapshot.state = schedule->state;
    snapshot.status = ShownStatus(id);
    snapshot.reason = schedule->reason;
    snapshot.cause = schedule->cause;
    snapshot.consecutive_failures = schedule->consecutive_failures;
    snapshot.next_run_in = std::chrono::duration_cast<Duration>(schedule->next_run - now);
  }
  snapshot.current_run_id = current_run_id;
  snapshot.runs_finished = source.counts.runs_finished;
  snapshot.last_run_id = source.counts.last_run_id;
  snapshot.last_plugin_version = source.counts.last_plugin_version;
  return snapshot;
}

}  // namespace reglo::engine
