#include "source_lease.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "reglo/core/masking.h"

namespace reglo::app {

SourceLease::SourceLease(storage::SyncStore& store, std::string source_id, std::string owner,
                         std::chrono::milliseconds ttl, const Clock& clock)
    : store_(store),
      source_id_(std::move(source_id)),
      owner_(std::move(owner)),
      ttl_(ttl),
      clock_(clock) {}

Result<std::unique_ptr<SourceLease>> SourceLease::Take(storage::SyncStore& store,
                                                       StoreFactory open_store,
                                                       std::string source_id, std::string owner,
                                                       std::chrono::milliseconds ttl,
                                                       const Clock& clock) {
  Result<bool> taken = store.TryAcquireLease(source_id, owner, ttl, FormatUtc(clock.Now()));
  if (!taken.ok()) return taken.status();
  if (!*taken) return std::unique_ptr<SourceLease>();
  std::unique_ptr<SourceLease> lease(
      new SourceLease(store, std::move(source_id), std::move(owner), ttl, clock));
  Result<std::unique_ptr<storage::Store>> renewing = open_store();
  if (!renewing.ok()) {
    // Without a store to renew with, the lease could expire under the pull: give it back.
    return renewing.status().WithContext("opening a store to renew the lease");
  }
  lease->renewer_ = std::thread(&SourceLease::Renew, lease.get(), std::move(*renewing));
  return lease;
}

SourceLease::~SourceLease() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  // Released only when still ours (ReleaseLease ignores a lease another owner holds).
  (void)store_.ReleaseLease(source_id_, owner_);
}

std::string SourceLease::lost_reason() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lost_reason_;
}

void SourceLease::Renew(std::unique_ptr<storage::Store> store) {
  auto confirmed = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    // Real time on purpose: this keeps a lease alive while the pull runs; it decides nothing the
    // tests fake (they pass a ManualClock for the lease's timestamps).
    if (wake_.wait_for(lock, ttl_ / 3, [this] { return done_; })) return;
    lock.unlock();
    Result<bool> held = store->TryAcquireLease(source_id_, owner_, ttl_, FormatUtc(clock_.Now()));
    const auto now = std::chrono::steady_clock::now();
    std::string lost;
    if (held.ok() && *held) {
      confirmed = now;
    } else if (held.ok()) {
      lost = "another hub instance took over the source's lease";
    } else if (now - confirmed >= ttl_ * 2 / 3) {
      lost = fmt::format("the lease could not be renewed in time ({})",
                         MaskPersonalData(held.status().message()));
    } else {
      spdlog::warn("source {}: cannot renew its lease ({}); trying again", source_id_,
                   MaskPersonalData(held.status().message()));
    }
    lock.lock();
    if (!lost.empty()) {
      lost_reason_ = lost;
      stop_ = true;
      return;
    }
  }
}

}  // namespace reglo::app
