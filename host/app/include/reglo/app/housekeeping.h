// Retention in the hub process (issue #16): `reglo-hub housekeep` (one full pass, printed) and
// BackgroundHousekeeper, `serve`'s thread that runs a pass at start and then every
// retention.interval_seconds on its own store connection, off the sync path. The background
// housekeeper owns its thread; Start/Stop from one thread, totals() from any.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "reglo/app/config.h"
#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/storage/housekeeper.h"
#include "reglo/storage/store.h"

namespace reglo::app {

// One full pass with the config's retention policy; prints rows pruned per table, space given
// back and the table sizes. `vacuum`: also the one-time VACUUM that turns incremental
// auto-vacuum on for a SQLite store created before it existed (rewrites the file).
int HousekeepCommand(const HubConfig& config, bool vacuum, const Clock& clock, std::ostream& out,
                     std::ostream& err);

// `policy` with every age zero and nothing reclaimed: a pass that only measures the tables.
storage::RetentionPolicy NothingPruned(storage::RetentionPolicy policy);

class BackgroundHousekeeper {
 public:
  using StoreFactory = std::function<Result<std::unique_ptr<storage::Store>>()>;
  BackgroundHousekeeper(RetentionSettings settings, StoreFactory open_store, const Clock& clock);
  ~BackgroundHousekeeper();  // stops
  BackgroundHousekeeper(const BackgroundHousekeeper&) = delete;
  BackgroundHousekeeper& operator=(const BackgroundHousekeeper&) = delete;

  void Start();
  // Ends the current pass at its next batch and joins the thread.
  void Stop();
  const storage::HousekeepingTotals& totals() const { return totals_; }

 private:
  void Loop();
  void RunPass(const std::function<bool()>& stopping);

  const RetentionSettings settings_;
  const StoreFactory open_store_;
  const Clock& clock_;
  storage::HousekeepingTotals totals_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // under mutex_
  std::thread thread_;
};

}  // namespace reglo::app
