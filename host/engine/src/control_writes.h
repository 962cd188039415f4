// ControlWrites: the engine's own writes to its control store (source statuses, runs it ends),
// queued where they are decided and written later in decision order by Flush(), so that no lock a
// reader needs is held across database I/O.
// Ownership: owns the control store once Open() gave it one. Thread-safety: Enqueue() may be
// called under any engine lock (its queue lock is the last in the engine's lock order); Flush()
// and LockWriting() must not be called under the sources, plugins or runs locks.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guarded_store.h"
#include "reglo/core/clock.h"
#include "reglo/storage/store.h"

namespace reglo::engine {

class ControlWrites {
 public:
  using Write = std::function<void(storage::SyncStore&)>;

  explicit ControlWrites(const Clock& clock) : clock_(clock) {}

  void Enqueue(Write write);
  // Queues the source's status. Failures are logged, never fatal.
  void SetStatus(const std::string& id, const std::string& status);
  // Queues the end of the pull's run as failed with `message`. A pull begins its run only when it
  // has something to record: one that has not (its run id still 0 when the write happens) gets a
  // failed run of its own, and its id, unless `source_exists` is false.
  void FailRun(std::shared_ptr<RunControl> control, const std::string& message,
               bool source_exists = true);

  // Writes what was queued, in order.
  void Flush();

  // The writing lock, held by whoever writes to the control store (so writes keep the order in
  // which they were decided). Taken before any other engine lock.
  [[nodiscard]] std::unique_lock<std::mutex> LockWriting() {
    return std::unique_lock<std::mutex>(writing_);
  }
  // Under LockWriting(): the control store (null before Open() and after Close()), and the queue
  // written out.
  storage::ControlStore* StoreLocked() { return store_.get(); }
  void FlushLocked();

  // Under LockWriting().
  void Open(std::unique_ptr<storage::ControlStore> store) { store_ = std::move(store); }
  void Close() { store_.reset(); }

 private:
  const Clock& clock_;
  std::mutex writing_;  // guards store_, held across the writes; before every engine lock
  std::unique_ptr<storage::ControlStore> store_;
  std::mutex queue_mutex_;  // guards queue_; the last lock in the engine's order
  std::vector<Write> queue_;
};

}  // namespace reglo::engine
