#include "reglo/app/housekeeping.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "reglo/admin/access.h"
#include "reglo/app/commands.h"
#include "reglo/app/subject.h"

namespace reglo::app {
namespace {

std::string Mebibytes(int64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace

storage::RetentionPolicy NothingPruned(storage::RetentionPolicy policy) {
  const storage::RetentionPolicy::Age forever = storage::RetentionPolicy::Age::zero();
  policy.runs = policy.run_logs = policy.events = policy.deliveries = policy.dead_letters =
      policy.audit = forever;
  policy.reclaim_pages = 0;
  return policy;
}

// Housekeeping is many short transactions (batched deletes), so its audit row follows them: what
// was pruned, or the error that stopped it (what went before that error stays gone).
int HousekeepCommand(const HubConfig& config, bool vacuum, const Clock& clock, std::ostream& out,
                     std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) {
    fmt::print(err, "error: {}\n", store.status().ToString());
    return kExitFailure;
  }
  const auto audit = [&](const Status& outcome, const nlohmann::json& after) {
    const Status audited = admin::AuditCommand(**store, clock, "store.housekeep", "",
                                               [&](storage::AuditRow& row) -> Status {
                                                 if (!after.is_null()) row.after = after.dump();
                                                 return outcome;
                                               });
    if (!audited.ok() && outcome.ok()) {
      fmt::print(err, "warning: the audit row could not be written: {}\n", audited.ToString());
    }
  };
  Result<storage::HousekeepingReport> report =
      storage::Housekeep(**store, config.retention.policy, clock.Now(), vacuum);
  if (!report.ok()) {
    audit(report.status(), nullptr);
    fmt::print(err, "error: {}\n", report.status().ToString());
    return kExitFailure;
  }
  fmt::print(out, "{:<14} {:>10} {:>12}\n", "table", "pruned", "rows left");
  nlohmann::json pruned = nlohmann::json::object();  // for the audit row
  for (size_t i = 0; i < storage::kPruneTargets.size(); ++i) {
    const std::string_view table = storage::PruneTargetName(storage::kPruneTargets[i]);
    fmt::print(out, "{:<14} {:>10} {:>12}\n", table, report->pruned[i],
               report->stats.table_rows[i].second);
    pruned[std::string(table)] = report->pruned[i];
  }
  fmt::print(out, "Store: {}, {} given back, {} free inside.\n",
             Mebibytes(report->stats.size_bytes), Mebibytes(report->reclaimed_bytes),
             Mebibytes(report->stats.free_bytes));
  Result<storage::PersonalDataReport> personal =
      storage::HousekeepPersonalData(**store, PersonalDataPolicies(config.retention), clock.Now(),
                                     config.retention.policy.batch_rows);
  if (!personal.ok()) {
    audit(personal.status(), nullptr);
    fmt::print(err, "error: {}\n", personal.status().ToString());
    return kExitFailure;
  }
  fmt::print(out,
             "Personal data: {} dead letters and {} run log lines expired, {} inactive students "
             "flagged, {} erased.\n",
             personal->dead_letters, personal->run_log_lines, personal->inactive_flagged,
             personal->inactive_erased);
  audit(Status::Ok(), {{"pruned", pruned},
                       {"personalData",
                        {{"deadLetters", personal->dead_letters},
                         {"runLogLines", personal->run_log_lines},
                         {"inactiveFlagged", personal->inactive_flagged},
                         {"inactiveErased", personal->inactive_erased}}}});
  return kExitOk;
}

BackgroundHousekeeper::BackgroundHousekeeper(RetentionSettings settings, StoreFactory open_store,
                                             const Clock& clock)
    : settings_(std::move(settings)), open_store_(std::move(open_store)), clock_(clock) {}

BackgroundHousekeeper::~BackgroundHousekeeper() {
  Stop();
}

void BackgroundHousekeeper::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void BackgroundHousekeeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundHousekeeper::Loop() {
  auto stopping = [this] {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
  };
  while (!stopping()) {
    RunPass(stopping);
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(settings_.interval_ms),
                   [this] { return stopping_; });
  }
}

void BackgroundHousekeeper::RunPass(const std::function<bool()>& stopping) {
  // A connection of its own, only for the pass: each batch is a short transaction, so syncs and
  // the relay wait for the write lock a few milliseconds at most.
  Result<std::unique_ptr<storage::Store>> store = open_store_();
  if (!store.ok()) {
    spdlog::warn("housekeeping: {}", store.status().ToString());
    return;
  }
  Result<storage::HousekeepingReport> report =
      storage::Housekeep(**store, settings_.policy, clock_.Now(), false, stopping);
  if (!report.ok()) {
    spdlog::warn("housekeeping: {}", report.status().ToString());
    return;
  }
  if (!stopping()) {
    Result<storage::PersonalDataReport> personal = storage::HousekeepPersonalData(
        **store, PersonalDataPolicies(settings_), clock_.Now(), settings_.policy.batch_rows);
    if (!personal.ok()) {
      spdlog::warn("housekeeping: personal data: {}", personal.status().ToString());
    } else if (personal->dead_letters + personal->run_log_lines + personal->inactive_flagged +
                   personal->inactive_erased >
               0) {
      spdlog::info(
          "housekeeping: personal data: {} dead letters and {} run log lines expired, {} "
          "inactive students flagged, {} erased",
          personal->dead_letters, personal->run_log_lines, personal->inactive_flagged,
          personal->inactive_erased);
    }
  }
  // Counted once the whole pass is done, personal data included: a pass is what /metrics and
  // the tests wait for.
  totals_.Add(*report);
  int64_t pruned = 0;
  for (int64_t rows : report->pruned) pruned += rows;
  if (pruned > 0) {
    spdlog::info("housekeeping: pruned {} rows, gave back {} bytes", pruned,
                 report->reclaimed_bytes);
  }
}

}  // namespace reglo::app
