// A few stores opened from the engine's factory, lent to one request at a time (a Store serves
// one thread at a time). Private to host/admin. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "reglo/engine/engine_control.h"

namespace reglo::admin {

class StorePool {
 public:
  explicit StorePool(engine::StoreFactory open) : open_(std::move(open)) {}

  // Runs `use(store)` with a store of the pool (opened when none is idle) and returns its result;
  // when no store can be opened, returns `on_error(status)`.
  template <typename Use, typename OnError>
  auto With(Use use, OnError on_error) -> decltype(on_error(Status::Ok())) {
    std::unique_ptr<storage::Store> store;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        store = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!store) {
      Result<std::unique_ptr<storage::Store>> opened = open_();
      if (!opened.ok()) return on_error(opened.status());
      store = std::move(*opened);
    }
    auto result = use(*store);
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(store));
    return result;
  }

 private:
  static constexpr size_t kMaxIdle = 4;
  engine::StoreFactory open_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<storage::Store>> idle_;
};

}  // namespace reglo::admin
