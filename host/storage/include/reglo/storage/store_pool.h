// StorePool<Role>: stores (or one role of them) opened from a factory and lent to one user at a
// time, since a store serves one thread at a time. Bounded: at most `limit` are open at once, and
// Acquire() waits for one to come back beyond that, so a burst of requests or pulls cannot open
// connections without end. The one pool of the hub: the engine's pulls, the admin API and the
// ingestion API each lend from one. Ownership: owns the idle stores; a Lease owns its store until
// it returns it. Thread-safety: Acquire() and With() may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/store.h"

namespace reglo::storage {

template <typename Role = Store>
class StorePool {
 public:
  using Factory = std::function<Result<std::unique_ptr<Role>>()>;

  // Opens stores with `open`, at most `limit` (at least 1) at once.
  StorePool(Factory open, size_t limit) : open_(std::move(open)), limit_(limit < 1 ? 1 : limit) {}
  StorePool(const StorePool&) = delete;
  StorePool& operator=(const StorePool&) = delete;
  // Every Lease must have come back.
  ~StorePool() = default;

  // A store lent to one user; back to the pool when the Lease goes.
  class Lease {
   public:
    Lease(StorePool* pool, std::unique_ptr<Role> store) : pool_(pool), store_(std::move(store)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (store_) pool_->Return(std::move(store_));
    }
    Role& operator*() { return *store_; }
    Role* operator->() { return store_.get(); }

   private:
    StorePool* pool_;
    std::unique_ptr<Role> store_;
  };

  // An idle store, or a new one while fewer than `limit` are open; else waits for one to return.
  // An error when a store cannot be opened (nothing is counted for it).
  Result<Lease> Acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    returned_.wait(lock, [this] { return !idle_.empty() || open_count_ < limit_; });
    return Lend(lock);
  }

  // The same without waiting: kRetryable when `limit` stores are lent already, for a user that
  // must not block (a pull on a connector's thread, which the watchdog would take for a hang).
  Result<Lease> TryAcquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (idle_.empty() && open_count_ >= limit_) {
      return Status::Retryable("all " + std::to_string(limit_) +
                               " store connections of the pool are in use");
    }
    return Lend(lock);
  }

  // Runs `use(store)` with a lent store and returns its result; when no store can be opened,
  // returns `on_error(status)`.
  template <typename Use, typename OnError>
  auto With(Use use, OnError on_error) -> decltype(on_error(Status::Ok())) {
    Result<Lease> lease = Acquire();
    if (!lease.ok()) return on_error(lease.status());
    return use(**lease);
  }

  // How many stores are open now (lent or idle), for tests and metrics.
  size_t open_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return open_count_;
  }

 private:
  // Under `lock`, with an idle store or room for one more: lends it (opening it unlocked).
  Result<Lease> Lend(std::unique_lock<std::mutex>& lock) {
    if (!idle_.empty()) {
      std::unique_ptr<Role> store = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(store));
    }
    ++open_count_;
    lock.unlock();
    Result<std::unique_ptr<Role>> opened = open_();
    if (!opened.ok()) {
      {
        std::lock_guard<std::mutex> relock(mutex_);
        --open_count_;
      }
      returned_.notify_one();
      return opened.status();
    }
    return Lease(this, std::move(*opened));
  }

  void Return(std::unique_ptr<Role> store) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      idle_.push_back(std::move(store));
    }
    returned_.notify_one();
  }

  Factory open_;
  const size_t limit_;
  mutable std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Role>> idle_;
  size_t open_count_ = 0;
};

}  // namespace reglo::storage
