// Several `reglo-hub serve` processes on one PostgreSQL database (DESIGN §6): they share the
// configured sources through the store's leases, each source is synced by one instance at a time,
// and when an instance is killed (SIGKILL, in the middle of a pull) another one takes its sources
// over once their leases expire. Real processes on the throwaway cluster of the pg_cluster fixture
// (tests/storage); every assertion is on the stored rows and events, compared with a reference
// `sync --once` of the same sources into SQLite. Waits are bounded polls of the database.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "files.h"
#include "poll.h"
#include "postgres_test_support.h"
#include "process.h"
#include "reglo/model/schema.h"
#include "reglo/storage/sqlite_store.h"
#include "temp_dir.h"

namespace reglo {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kInstances = 3;
constexpr int kSources = 4;
constexpr int kLeaseSeconds = 2;
constexpr int kIntervalSeconds = 1;
const char* const kEntities[] = {"student", "case", "appointment"};

// One integration_runs row, as the test reads it behind the store's back.
struct RunRow {
  int64_t id = 0;
  std::string source_id;
  std::string started_at;
  std::string finished_at;  // empty while running
  std::string status;
};

class MultiInstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = reglo::testing::MakeTempDir("reglo_multi_");
    ASSERT_FALSE(dir_.empty());
    db_ = std::make_unique<storage::testing::PostgresBackend>();
    // Migrated once here, so the instances start on an up-to-date schema.
    auto store = db_->Open();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }

  void TearDown() override {
    for (pid_t& pid : pids_) testing::KillAndReap(pid);
    if (HasFailure()) {
      for (int i = 0; i < kInstances; ++i) std::cerr << "--- instance " << i << "\n" << Log(i);
    }
    db_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string StoreUrl() const {
    const storage::PostgresUrl& url = db_->url();
    return fmt::format("postgres://{}{}:{}/{}", url.user.empty() ? "" : url.user + "@", url.host,
                       url.port, url.database);
  }

  // kSources sida_stub sources, each its own source system (so their records never meet), with
  // pulls of about 2 s: 3 streams x 18 pages of 10 changes, 40 ms per page call.
  void WriteConfig(const std::string& name, const std::string& store, int slow_ms) {
    nlohmann::json sources = nlohmann::json::array();
    for (int i = 0; i < kSources; ++i) {
      sources.push_back({{"id", fmt::format("sida-{}", i)},
                         {"company_id", "autoscuola-test"},
                         {"source_system", fmt::format("sida-{}", i)},
                         {"connector", "sida_stub"},
                         {"options",
                          {{"system", fmt::format("sida-multi-{}", i)},
                           {"seed", i + 1},
                           {"changes", 180},
                           {"students", 40},
                           {"page_size", 10},
                           {"faults", {{"slow_ms", slow_ms}}}}}});
    }
    nlohmann::json config = {
        {"store", store},
        {"plugins_dir", REGLO_PLUGIN_DIR},
        // Shared by every instance, as a PostgreSQL hub needs (it keys masking).
        {"secrets_file", (dir_ / "hub.key").string()},
        {"admin", {{"listen", "127.0.0.1:0"}}},
        {"engine",
         {{"default_interval_seconds", kIntervalSeconds},
          {"lease_seconds", kLeaseSeconds},
          {"backoff_base_seconds", 0.2},
          {"backoff_cap_seconds", 1},
          {"threads_per_plugin", 2},
          {"watch_plugins", false},
          {"shutdown_timeout_seconds", 5}}},
        {"sources", sources}};
    std::ofstream(dir_ / name) << config.dump(2);
  }

  pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::pair<std::string, std::string>> env;
    if (!db_->url().password.empty()) env.emplace_back("REGLO_PG_PASSWORD", db_->url().password);
    return testing::SpawnLogged(REGLO_HUB_BINARY, args, (dir_ / log).string(), env);
  }

  void StartInstances() {
    const std::string config = (dir_ / "hub.json").string();
    for (int i = 0; i < kInstances; ++i) {
      pids_.push_back(Spawn({"--config", config, "serve"}, fmt::format("serve-{}.log", i)));
      ASSERT_GT(pids_.back(), 0);
    }
  }

  // Waits (bounded) for `pid` to exit; its exit code, 128 + signal, or -1 on timeout.
  static int Reap(pid_t& pid, milliseconds bound) {
    const std::optional<int> status = testing::WaitForExit(pid, bound);
    return status ? testing::ExitCode(*status) : -1;
  }

  // Polls (bounded) until `done` holds.
  template <typename Predicate>
  static bool WaitUntil(Predicate done, milliseconds bound) {
    return testing::WaitUntil(done, bound, milliseconds(50));
  }

  std::string Text(const std::string& sql) {
    auto text = db_->QueryText(sql);
    EXPECT_TRUE(text.ok()) << sql << ": " << text.status().ToString();
    return text.ok() ? *text : std::string();
  }

  int64_t Int(const std::string& sql) {
    auto value = db_->QueryInt(sql);
    EXPECT_TRUE(value.ok()) << sql << ": " << value.status().ToString();
    return value.ok() ? *value : -1;
  }

  // Every run, in id order (one row per line; fields separated by '|').
  std::vector<RunRow> Runs() {
    const std::string text = Text(
        "SELECT string_agg(concat_ws('|', id, source_id, started_at, coalesce(finished_at, ''), "
        "status), E'\\n' ORDER BY id) FROM integration_runs");
    std::vector<RunRow> runs;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      std::vector<std::string> fields;
      std::istringstream parts(line);
      for (std::string field; std::getline(parts, field, '|');) fields.push_back(field);
      fields.resize(5);
      runs.push_back({std::stoll(fields[0]), fields[1], fields[2], fields[3], fields[4]});
    }
    return runs;
  }

  std::string Log(int instance) {
    return testing::ReadFile(dir_ / fmt::format("serve-{}.log", instance));
  }

  fs::path dir_;
  std::unique_ptr<storage::testing::PostgresBackend> db_;
  std::vector<pid_t> pids_;
};

bool Succeeded(const RunRow& run) {
  return run.status == "succeeded" || run.status == "succeeded_with_warnings";
}

TEST_F(MultiInstanceTest, InstancesShareSourcesOneAtATimeAndTakeOverAKilledInstancesSources) {
  // The reference: the same sources synced once, by one process, into SQLite.
  WriteConfig("reference.json", "sqlite:reference.db", 0);
  pid_t reference =
      Spawn({"--config", (dir_ / "reference.json").string(), "sync", "--once"}, "reference.log");
  ASSERT_EQ(Reap(reference, milliseconds(20'000)), 0);
  auto ref_store = storage::OpenSqliteStore((dir_ / "reference.db").string());
  ASSERT_TRUE(ref_store.ok()) << ref_store.status().ToString();
  std::map<std::string, int64_t> expected_records;
  for (const char* entity : kEntities) {
    expected_records[entity] = (*ref_store)->CountRecords(*model::FindEntity(entity)).value();
  }
  std::multiset<std::string> expected_events;
  auto ref_events = (*ref_store)->ReadEvents(0, 1'000'000);
  ASSERT_TRUE(ref_events.ok()) << ref_events.status().ToString();
  for (const auto& event : *ref_events) expected_events.insert(event.event.event_id);
  ASSERT_GT(expected_records["student"], 0);

  WriteConfig("hub.json", StoreUrl(), 40);
  StartInstances();
  // Empty, or "<source> <lease owner> <lease expiry>" of the oldest pull in the middle: started,
  // some pages committed, not finished.
  const std::string running_with_progress =
      "SELECT coalesce((SELECT r.source_id || ' ' || l.owner || ' ' || l.expires_at "
      "FROM integration_runs r JOIN integration_leases l ON l.source_id = r.source_id "
      "WHERE r.finished_at IS NULL AND r.seen > 0 ORDER BY r.id LIMIT 1), '')";

  // The instances share the sources: with two pulls at most per instance (threads_per_plugin),
  // several instances hold leases at once. Then one of them is killed in the middle of a pull.
  std::string victim;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Int("SELECT count(DISTINCT owner) FROM integration_leases") >= 2 &&
               !(victim = Text(running_with_progress)).empty();
      },
      milliseconds(15'000)));
  std::istringstream fields(victim);
  std::string victim_source, owner, expires_at;
  fields >> victim_source >> owner >> expires_at;
  const pid_t victim_pid = std::stoi(owner.substr(owner.rfind(':') + 1));
  auto victim_it = std::find(pids_.begin(), pids_.end(), victim_pid);
  ASSERT_NE(victim_it, pids_.end()) << owner;

  // kill -9: the run stays "running" and its lease stays until the lease expires.
  ASSERT_EQ(::kill(victim_pid, SIGKILL), 0);
  const auto killed = Clock::now();
  EXPECT_EQ(Reap(*victim_it, milliseconds(5'000)), 128 + SIGKILL);
  const int64_t last_run_before_kill = Int("SELECT max(id) FROM integration_runs");
  std::map<std::string, std::string> held;  // source -> lease expiry, the dead instance's leases
  {
    std::istringstream rows(Text(fmt::format(
        "SELECT string_agg(source_id || ' ' || expires_at, E'\\n') FROM integration_leases "
        "WHERE owner = '{}'",
        owner)));
    for (std::string source, expiry; rows >> source >> expiry;) held[source] = expiry;
  }
  ASSERT_TRUE(held.count(victim_source)) << victim_source;

  // Another instance takes each of them over, once the lease has expired, within the lease time
  // (plus the interval after which a skipped source is tried again, plus slack for a busy host).
  std::map<std::string, RunRow> takeover;
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const RunRow& run : Runs()) {
          if (run.id > last_run_before_kill && held.count(run.source_id) &&
              !takeover.count(run.source_id)) {
            takeover[run.source_id] = run;
          }
        }
        return takeover.size() == held.size();
      },
      milliseconds((kLeaseSeconds + kIntervalSeconds + 4) * 1000)))
      << "taken over: " << takeover.size() << " of " << held.size();
  const auto takeover_time = std::chrono::duration_cast<milliseconds>(Clock::now() - killed);
  EXPECT_LT(takeover_time, milliseconds((kLeaseSeconds + kIntervalSeconds + 3) * 1000));
  std::cout << fmt::format("killed {} holding {} lease(s); taken over after {} ms\n", owner,
                           held.size(), takeover_time.count());
  for (const auto& [source, run] : takeover) {
    EXPECT_GE(run.started_at, held.at(source)) << source << ": started before the lease expired";
  }

  // Everything completes: every source has succeeded after the kill and nothing is left to pull.
  const int64_t expected_total = static_cast<int64_t>(expected_events.size());
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::set<std::string> done;
        for (const RunRow& run : Runs()) {
          if (run.id > last_run_before_kill && Succeeded(run)) done.insert(run.source_id);
        }
        return done.size() == static_cast<size_t>(kSources) &&
               Int("SELECT count(*) FROM integration_events") >= expected_total;
      },
      milliseconds(15'000)));

  // The survivors stop cleanly.
  for (pid_t& pid : pids_) {
    if (pid <= 0) continue;
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    EXPECT_EQ(Reap(pid, milliseconds(10'000)), 0);
  }

  // One instance at a time per source: a run begins only after the previous run of its source
  // ended. The killed instance's runs were closed as failed ("abandoned") by the instance that
  // took their leases over, before it began its own run of the source.
  const std::vector<RunRow> runs = Runs();
  std::map<std::string, const RunRow*> previous;
  for (const RunRow& run : runs) {
    EXPECT_FALSE(run.finished_at.empty()) << "run " << run.id << " was never closed";
    const RunRow* before = previous[run.source_id];
    if (before != nullptr && !before->finished_at.empty()) {
      EXPECT_LE(before->finished_at, run.started_at)
          << run.source_id << ": run " << run.id << " overlaps run " << before->id;
    } else if (before != nullptr) {
      EXPECT_GT(run.id, last_run_before_kill)
          << run.source_id << ": run " << run.id << " began while the killed run held the lease";
    }
    previous[run.source_id] = &run;
  }
  const int64_t abandoned =
      Int("SELECT count(*) FROM integration_runs WHERE status = 'failed' AND error_message LIKE "
          "'abandoned:%'");
  EXPECT_GE(abandoned, 1);
  EXPECT_LE(abandoned, static_cast<int64_t>(held.size()));
  for (int i = 0; i < kSources; ++i) {
    EXPECT_TRUE(previous.count(fmt::format("sida-{}", i))) << "sida-" << i << " never ran";
  }

  // Every record and event exactly once: the same as the single-process reference.
  auto store = db_->Open();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (const char* entity : kEntities) {
    EXPECT_EQ((*store)->CountRecords(*model::FindEntity(entity)).value(), expected_records[entity])
        << entity;
  }
  std::multiset<std::string> events;
  auto stored_events = (*store)->ReadEvents(0, 1'000'000);
  ASSERT_TRUE(stored_events.ok()) << stored_events.status().ToString();
  for (const auto& event : *stored_events) events.insert(event.event.event_id);
  EXPECT_EQ(events.size(), expected_events.size());
  EXPECT_TRUE(events == expected_events) << "the events differ from the reference's";
  // The dead instance's leases were taken over, and every survivor released what it held.
  EXPECT_EQ(Int("SELECT count(*) FROM integration_leases"), 0);
}

}  // namespace
}  // namespace reglo
