// Test harness: `reglo-hub sync --once` killed with SIGKILL in the middle of a pull of one source,
// then run again to the end; then every record must be stored once and no event minted twice.
// Header-only; one call per test, on the test's thread. The hub and the plugins are the built ones.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "process.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo::testing {

// One integer from the hub's SQLite store (read-only, waiting for the writer), or -1.
inline int64_t StoreCount(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t count = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      count = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return count;
}

// Runs the scenario for a source of `connector` with `options` that holds `expected` students.
inline void KillMidPullThenResume(const std::string& connector, const nlohmann::json& options,
                                  int64_t expected) {
  TempDir dir("reglo_kill_resume_");
  const std::string db = (dir.path() / "hub.db").string();
  // The killed process keeps the source's lease until it expires: a short one, so the second
  // sync does not wait long for it.
  nlohmann::json hub = {{"store", "sqlite:" + db},
                        {"plugins_dir", REGLO_BUNDLED_PLUGIN_DIR},
                        {"engine", {{"lease_seconds", 1}}},
                        {"sources",
                         {{{"id", "school"},
                           {"company_id", "autoscuola"},
                           {"source_system", connector},
                           {"connector", connector},
                           {"options", options}}}}};
  const std::string config = dir.Write("hub.json", hub.dump(2));
  const std::string hub_binary = REGLO_HUB_BINARY;
  CommandOutput migrate = RunCommand(hub_binary + " --config " + config + " migrate");
  ASSERT_EQ(migrate.exit_code, 0) << migrate.text;

  pid_t pid = SpawnLogged(hub_binary, {"--config", config, "sync", "--once"},
                          (dir.path() / "first.log").string());
  ASSERT_GT(pid, 0);
  // Killed as soon as some pages are committed (bounded wait, real time: another process).
  int64_t committed = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (committed <= 0 && std::chrono::steady_clock::now() < give_up) {
    committed = StoreCount(db, "SELECT count(*) FROM students");
    if (committed <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  KillAndReap(pid, SIGKILL);
  committed = StoreCount(db, "SELECT count(*) FROM students");
  ASSERT_GT(committed, 0) << "nothing was committed before the kill";
  ASSERT_LT(committed, expected) << "the pull ended before the kill: make it longer";

  // Refused while the killed process's lease lasts (bounded wait, real time), then it resumes.
  CommandOutput second;
  const auto lease_gone = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    second = RunCommand(hub_binary + " --config " + config + " sync --once");
    const bool refused =
        second.exit_code == 1 && second.text.find("holds the source's lease") != std::string::npos;
    if (!refused || std::chrono::steady_clock::now() >= lease_gone) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(second.exit_code == 0 || second.exit_code == 3) << second.text;
  EXPECT_NE(second.text.find("closed 1 run(s) left open"), std::string::npos) << second.text;
  EXPECT_EQ(StoreCount(db, "SELECT count(*) FROM students"), expected);
  EXPECT_EQ(StoreCount(db,
                       "SELECT count(*) FROM integration_events e JOIN integration_event_kinds k "
                       "ON k.id = e.kind WHERE k.type = 'student.created'"),
            expected);
  // An event's id is derived from its kind, externalId and version: no two events share them.
  EXPECT_EQ(StoreCount(db,
                       "SELECT count(*) FROM (SELECT DISTINCT kind, external_id, version "
                       "FROM integration_events)"),
            StoreCount(db, "SELECT count(*) FROM integration_events"));
  EXPECT_EQ(StoreCount(db,
                       "SELECT count(*) FROM integration_events e JOIN integration_event_kinds k "
                       "ON k.id = e.kind WHERE k.type <> 'student.created'"),
            0);
}

}  // namespace reglo::testing
