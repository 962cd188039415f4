// SourceLease: one source's lease (DESIGN §6) held by a command that pulls outside the engine
// (`sync --once`), so it never overlaps a `serve` instance's pull of the same source. Renewed on
// a thread of its own (with a store of its own) every third of its time; fails closed: a renewal
// refused, or one that errs past two thirds of the lease, sets stop(), and the pull's commits
// carry the owner so the store refuses them once the lease is someone else's.
// Ownership: owns its renewal thread and store; released (and the thread joined) on destruction.
// Thread-safety: stop() may be read from any thread; the rest from the owning thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/storage/store.h"

namespace reglo::app {

class SourceLease {
 public:
  using StoreFactory = std::function<Result<std::unique_ptr<storage::Store>>()>;

  // Takes the lease of `source_id` for `owner` (through `store`, which the caller keeps using).
  // nullptr when another owner holds it; an error when the store cannot say.
  static Result<std::unique_ptr<SourceLease>> Take(storage::SyncStore& store,
                                                   StoreFactory open_store, std::string source_id,
                                                   std::string owner, std::chrono::milliseconds ttl,
                                                   const Clock& clock);
  ~SourceLease();
  SourceLease(const SourceLease&) = delete;
  SourceLease& operator=(const SourceLease&) = delete;

  // Set once the lease is lost (or cannot be renewed in time): the pull should stop.
  const std::atomic<bool>& stop() const { return stop_; }
  // Why the lease was lost; empty while it is held.
  std::string lost_reason() const;

 private:
  SourceLease(storage::SyncStore& store, std::string source_id, std::string owner,
              std::chrono::milliseconds ttl, const Clock& clock);
  void Renew(std::unique_ptr<storage::Store> store);

  storage::SyncStore& store_;
  const std::string source_id_;
  const std::string owner_;
  const std::chrono::milliseconds ttl_;
  const Clock& clock_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::string lost_reason_;
  std::thread renewer_;
};

}  // namespace reglo::app
