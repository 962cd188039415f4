#include "control_writes.h"

#include <spdlog/spdlog.h>

namespace reglo::engine {

void ControlWrites::Enqueue(Write write) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  queue_.push_back(std::move(write));
}

void ControlWrites::SetStatus(const std::string& id, const std::string& status) {
  Enqueue([id, status](storage::SyncStore& store) {
    Status set = store.SetSourceStatus(id, status);
    if (!set.ok()) spdlog::error("source {}: cannot store its status: {}", id, set.message());
  });
}

void ControlWrites::FailRun(std::shared_ptr<RunControl> control, const std::string& message,
                            bool source_exists) {
  const std::string at = FormatUtc(clock_.Now());
  Enqueue([control = std::move(control), at, message, source_exists](storage::SyncStore& store) {
    // Read now, not when queued: the pull may have begun its run in between.
    int64_t run_id = control->run_id;
    if (run_id <= 0) {
      if (!source_exists) return;
      Result<int64_t> begun = store.BeginRun(control->source_id, at);
      if (!begun.ok()) {
        spdlog::error("source {}: cannot record a failed run: {}", control->source_id,
                      begun.status().message());
        return;
      }
      run_id = *begun;
      control->run_id = run_id;
      (void)store.SetRunPluginVersion(run_id, control->plugin_version);
    }
    (void)store.AppendRunLog(run_id, {at, storage::LogLevel::kError, message});
    Status finished = store.FinishRun(run_id, storage::RunStatus::kFailed, at,
                                      std::string(StatusCodeName(StatusCode::kCancelled)), message);
    if (!finished.ok()) {
      spdlog::error("run {}: cannot record its end: {}", run_id, finished.message());
    }
  });
}

void ControlWrites::Flush() {
  std::unique_lock<std::mutex> writing = LockWriting();
  FlushLocked();
}

void ControlWrites::FlushLocked() {
  std::vector<Write> writes;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    writes.swap(queue_);
  }
  if (!store_) return;
  for (Write& write : writes) write(*store_);
}

}  // namespace reglo::engine
