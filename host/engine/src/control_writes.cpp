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

void ControlWrites::FailRun(int64_t run_id, const std::string& message) {
  if (run_id <= 0) return;
  const std::string at = FormatUtc(clock_.Now());
  Enqueue([run_id, at, message](storage::SyncStore& store) {
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
