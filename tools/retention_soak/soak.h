// The retention soak (issue #16): N sources polled for D simulated days against a real store on a
// ManualClock, mostly idle with a few changes a day, a relay subscription that keeps up and one
// that lags, and housekeeping every simulated hour (or none). Shared by the soak test
// (tests/storage/retention_soak_test.cpp) and `make bench` (reglo-retention-soak). One thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/storage/housekeeper.h"
#include "reglo/storage/store.h"

namespace reglo::soak {

struct SoakOptions {
  int sources = 100;
  int days = 30;
  // Every source is polled this often. Idle polls fold into one row, so row counts depend on
  // how often sources change, not on the poll interval.
  std::chrono::minutes interval{60};
  int changes_per_day = 2;  // busy runs per source and day: one record updated, one event
  // Subscription "lagging" stays at position 0 until this day (then keeps up); nullopt: it
  // keeps up from the start. Subscription "live" always keeps up.
  std::optional<int> lagging_until_day;
  bool retention = true;  // housekeeping passes (with `policy`) or none at all
  storage::RetentionPolicy policy;
  std::chrono::minutes housekeeping_every{60};
};

struct SoakDay {
  int day = 0;  // 1-based: the day that has just ended
  storage::StoreStats stats;
  int64_t lagging_position = 0;
  int64_t first_sequence = 0;   // the oldest event still stored (0: none)
  int64_t events_appended = 0;  // since the start
};

// Runs the soak on `store` (opened with `clock`), calling `on_day` after each simulated day.
// `store` must be fresh. Stops at the first store error.
Status RunSoak(storage::Store& store, ManualClock& clock, const SoakOptions& options,
               const std::function<void(const SoakDay&)>& on_day);

}  // namespace reglo::soak
