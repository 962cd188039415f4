// reglo-retention-soak: `make bench`'s retention row (issue #16). Simulates N days of S mostly
// idle sources on a fresh SQLite store (ManualClock, see soak.h), with or without retention, and
// prints one Markdown table row: rows per table and the store's size after the last day.
// Usage: reglo-retention-soak --db PATH [--days N] [--sources S] [--interval-minutes M]
//        [--no-retention] [--header]
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "reglo/storage/sqlite_store.h"
#include "soak.h"

int main(int argc, char** argv) {
  reglo::soak::SoakOptions options;
  std::string db;
  bool header = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--db") {
      db = value();
    } else if (arg == "--days") {
      options.days = std::atoi(value().c_str());
    } else if (arg == "--sources") {
      options.sources = std::atoi(value().c_str());
    } else if (arg == "--interval-minutes") {
      options.interval = std::chrono::minutes(std::atoi(value().c_str()));
    } else if (arg == "--no-retention") {
      options.retention = false;
    } else if (arg == "--header") {
      header = true;
    } else {
      fmt::print(stderr, "reglo-retention-soak: unknown argument (see the usage in main.cpp)\n");
      return 2;
    }
  }
  if (db.empty()) {
    fmt::print(stderr, "reglo-retention-soak: --db PATH is required\n");
    return 2;
  }
  std::error_code ignored;
  std::filesystem::remove(db, ignored);
  reglo::ManualClock clock(std::chrono::sys_days(std::chrono::year(2025) / 1 / 1));
  reglo::Result<std::unique_ptr<reglo::storage::Store>> store =
      reglo::storage::OpenSqliteStore(db, clock);
  if (!store.ok()) {
    fmt::print(stderr, "reglo-retention-soak: {}\n", store.status().ToString());
    return 1;
  }
  reglo::soak::SoakDay last;
  const auto started = std::chrono::steady_clock::now();
  reglo::Status ran = reglo::soak::RunSoak(**store, clock, options,
                                           [&](const reglo::soak::SoakDay& day) { last = day; });
  if (!ran.ok()) {
    fmt::print(stderr, "reglo-retention-soak: {}\n", ran.ToString());
    return 1;
  }
  store->reset();  // closing checkpoints the WAL into the file: its size is the store's
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double mib = static_cast<double>(std::filesystem::file_size(db)) / (1024.0 * 1024.0);
  if (header) {
    fmt::print(
        "| Retention | Sources x days (polls every {} min) | runs | run log lines | events | "
        "deliveries | dead letters | store file | time |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
        options.interval.count());
  }
  auto rows = [&](reglo::storage::PruneTarget target) { return last.stats.RowsOf(target); };
  using reglo::storage::PruneTarget;
  fmt::print("| {} | {} x {} | {} | {} | {} | {} | {} | {:.1f} MiB | {:.0f} s |\n",
             options.retention ? "on (defaults)" : "off", options.sources, options.days,
             rows(PruneTarget::kRuns), rows(PruneTarget::kRunLogs), rows(PruneTarget::kEvents),
             rows(PruneTarget::kDeliveries), rows(PruneTarget::kDeadLetters), mib, seconds);
  return 0;
}
