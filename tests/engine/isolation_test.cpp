// The engine with sources in process isolation (isolation "process"): real broken plugins
// (tests/plugins/broken) in real runner children, a real SQLite store in a temp folder, and a
// ManualClock for every decision. Each broken plugin takes down only its runner: its run fails
// with a clear reason, the source backs off (or goes Failed at the limit), the other sources keep
// syncing, and the store holds exactly what was committed before the failure. New libraries are
// probed in a child before the hub loads them. The only waits are for work on other threads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "reglo/engine/engine.h"
#include "reglo/model/schema.h"
#include "reglo/storage/sqlite_store.h"

namespace reglo::engine {
namespace {

namespace fs = std::filesystem;
using isolation::Isolation;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr milliseconds kWait{60'000};  // bound on waiting for plugin threads; never reached

class MaxRandom final : public RandomSource {
 public:
  uint64_t UpTo(uint64_t bound) override { return bound; }
};

class IsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "reglo_isolation_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    fs::create_directories(dir_ / "plugins");
    options_.plugins_dir = dir_ / "plugins";
    options_.plugin_cache_dir = dir_ / "cache";
    options_.default_interval = seconds(60);
    options_.stall_timeout = seconds(30);
    options_.cancel_grace = seconds(5);
    options_.backoff.base = seconds(5);
    options_.backoff.cap = seconds(5);
    options_.backoff.failure_limit = 2;
    options_.threads_per_plugin = 2;
    options_.plugin_settle = seconds(1);
    options_.watch_interval = seconds(1);
    options_.runner.runner = REGLO_RUNNER_BINARY;
    for (const char* plugin : {"counter", "segfault_in_pull", "abort_in_create", "huge_record",
                               "leak", "ignore_stop", "invalid_utf8", "record_struct_size"}) {
      Install(plugin);
    }
  }
  void TearDown() override {
    engine_.reset();
    // Every runner child was reaped: none is left, not even a zombie.
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void Install(const std::string& plugin) {
    const fs::path temp = dir_ / "plugins" / ("." + plugin + ".tmp");
    fs::copy_file(fs::path(REGLO_TEST_PLUGIN_DIR) / (plugin + ".so"), temp,
                  fs::copy_options::overwrite_existing);
    fs::rename(temp, dir_ / "plugins" / (plugin + ".so"));
  }

  // A source of its own source system (so its events are told apart), in a runner by default.
  static SourceConfig Source(const std::string& id, const std::string& connector,
                             nlohmann::json config = nlohmann::json::object(),
                             Isolation isolation = Isolation::kProcess) {
    SourceConfig source;
    source.row.id = id;
    source.row.company_id = "autoscuola-test";
    source.row.source_system = id;
    source.row.connector = connector;
    source.row.config_json = config.dump();
    source.isolation = isolation;
    return source;
  }

  void StartEngine(std::vector<SourceConfig> sources) {
    const std::string db = (dir_ / "hub.db").string();
    engine_ = std::make_unique<Engine>(
        options_, std::move(sources), [db] { return storage::OpenSqliteStore(db); }, clock_,
        random_);
    ASSERT_TRUE(engine_->Start().ok());
  }
  std::unique_ptr<storage::Store> OpenStore() {
    auto store = storage::OpenSqliteStore((dir_ / "hub.db").string());
    EXPECT_TRUE(store.ok());
    return std::move(*store);
  }
  SourceSnapshot Snap(const std::string& id) { return *engine_->Source(id); }
  storage::RunInfo LastRun(const std::string& id) {
    auto runs = OpenStore()->ListRuns(id, 1);
    EXPECT_TRUE(runs.ok() && !runs->empty()) << id;
    return runs.ok() && !runs->empty() ? runs->front() : storage::RunInfo{};
  }
  // The events of one source: "S000001 student.created", in order.
  std::vector<std::string> Events(const std::string& id) {
    std::vector<std::string> events;
    auto read = OpenStore()->ReadEvents(0, 100'000);
    EXPECT_TRUE(read.ok());
    for (const storage::StoredEvent& stored : *read) {
      if (stored.event.source_system == id) {
        events.push_back(stored.event.external_id + " " + stored.event.type);
      }
    }
    return events;
  }
  std::optional<std::string> Cursor(const std::string& id) {
    return *OpenStore()->GetCursor(id, "student");
  }
  bool Stored(const std::string& id, const std::string& external_id) {
    auto record =
        OpenStore()->GetRecord(*model::FindEntity("student"), {"autoscuola-test", id, external_id});
    return record.ok() && record->has_value();
  }
  static std::vector<std::string> Created(int from, int to) {
    std::vector<std::string> events;
    for (int i = from; i < to; ++i) {
      char id[16];
      std::snprintf(id, sizeof id, "S%06d", i);
      events.push_back(std::string(id) + " student.created");
    }
    return events;
  }
  int64_t WaitForRunToBegin(const std::string& id) {
    for (int i = 0; i < 20'000 && Snap(id).current_run_id == 0; ++i) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    EXPECT_NE(Snap(id).current_run_id, 0);
    return Snap(id).current_run_id;
  }

  fs::path dir_;
  EngineOptions options_;
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::hours(490'000))};
  MaxRandom random_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(IsolationTest, SegfaultInPullFailsOnlyItsRunAndKeepsExactlyWhatWasCommitted) {
  StartEngine({Source("crashy", "segfault_in_pull",
                      {{"records", 10}, {"checkpoint_every", 4}, {"crash_at", 6}}),
               Source("local", "counter", {{"records", 5}}, Isolation::kInProcess),
               Source("isolated", "counter", {{"records", 3}})});
  engine_->Tick();
  for (const char* id : {"crashy", "local", "isolated"}) {
    ASSERT_TRUE(engine_->WaitForRuns(id, 1, kWait)) << id;
  }
  const storage::RunInfo run = LastRun("crashy");
  EXPECT_EQ(run.status, storage::RunStatus::kFailed);
  EXPECT_THAT(run.error_message, HasSubstr("segfault_in_pull: connector process crashed: signal "
                                           "11 (SIGSEGV) during pull of stream 'student'"));
  EXPECT_EQ(Snap("crashy").state, SourceState::kBackoff);
  EXPECT_EQ(Snap("crashy").status, "warning");
  // Records 0-3 and their checkpoint were committed; 4 and 5 were in flight and are not.
  EXPECT_EQ(Events("crashy"), Created(0, 4));
  EXPECT_EQ(Cursor("crashy"), "4");
  EXPECT_TRUE(Stored("crashy", "S000003"));
  EXPECT_FALSE(Stored("crashy", "S000004"));
  EXPECT_EQ(run.counters.created, 4);
  // The other sources, in-process and isolated, synced.
  EXPECT_EQ(Snap("local").status, "ok");
  EXPECT_EQ(Events("local"), Created(0, 5));
  EXPECT_EQ(Snap("isolated").status, "ok");
  EXPECT_EQ(Events("isolated"), Created(0, 3));

  // It crashes again from its cursor: at the failure limit the source goes Failed, with the
  // reason; nothing more was committed; the rest of the hub carries on.
  clock_.Advance(seconds(5));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("crashy", 2, kWait));
  EXPECT_EQ(Snap("crashy").state, SourceState::kFailed);
  EXPECT_THAT(Snap("crashy").reason, HasSubstr("connector process crashed: signal 11 (SIGSEGV)"));
  EXPECT_EQ(Events("crashy"), Created(0, 4));
  EXPECT_EQ(Cursor("crashy"), "4");
  clock_.Advance(seconds(60));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("local", 2, kWait));
  ASSERT_TRUE(engine_->WaitForRuns("isolated", 2, kWait));
  EXPECT_EQ(Snap("local").status, "ok");
  EXPECT_EQ(Snap("isolated").status, "ok");
}

TEST_F(IsolationTest, AbortInCreateFailsTheRunWithTheReason) {
  StartEngine({Source("aborts", "abort_in_create"), Source("other", "counter", {{"records", 2}})});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("aborts", 1, kWait));
  ASSERT_TRUE(engine_->WaitForRuns("other", 1, kWait));
  EXPECT_EQ(LastRun("aborts").status, storage::RunStatus::kFailed);
  EXPECT_EQ(LastRun("aborts").error_message,
            "abort_in_create: connector process crashed: signal 6 (SIGABRT) during create");
  EXPECT_EQ(Snap("aborts").state, SourceState::kBackoff);
  EXPECT_TRUE(Events("aborts").empty());
  EXPECT_EQ(Snap("other").status, "ok");
}

TEST_F(IsolationTest, APluginThatCrashesInTheProbeIsRefusedAndTheHubCarriesOn) {
  // abort_in_create serves a source in the hub's own process: its create is tried in the probe,
  // where it aborts, so the library is never loaded here.
  StartEngine({Source("in-hub", "abort_in_create", {}, Isolation::kInProcess),
               Source("other", "counter", {{"records", 2}}, Isolation::kInProcess)});
  const std::string file = (dir_ / "plugins" / "abort_in_create.so").string();
  bool refused = false;
  for (const PluginSnapshot& plugin : engine_->Plugins()) {
    if (plugin.file != file) continue;
    refused = !plugin.loaded;
    EXPECT_EQ(plugin.reason, "plugin " + file +
                                 " refused: connector process crashed: signal 6 (SIGABRT) during "
                                 "create with the configuration of source in-hub (probed in a "
                                 "connector process)");
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(Snap("in-hub").state, SourceState::kPaused);
  EXPECT_THAT(Snap("in-hub").reason, HasSubstr("connector 'abort_in_create' is not loaded"));

  // Hot add: a library that crashes as soon as it is loaded is probed and refused too.
  Install("crash_on_load");
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(seconds(1));
    engine_->Tick();
  }
  const std::string crashing = (dir_ / "plugins" / "crash_on_load.so").string();
  std::string reason;
  for (const PluginSnapshot& plugin : engine_->Plugins()) {
    if (plugin.file == crashing) reason = plugin.reason;
  }
  EXPECT_EQ(reason, "plugin " + crashing +
                        " refused: connector process crashed: signal 11 (SIGSEGV) during load "
                        "(probed in a connector process)");
  ASSERT_TRUE(engine_->WaitForRuns("other", 1, kWait));
  EXPECT_EQ(Snap("other").status, "ok");
  EXPECT_EQ(Events("other"), Created(0, 2));
}

TEST_F(IsolationTest, EndlessLoopIgnoringStopIsKilledAndOnlyItsSourceBacksOff) {
  StartEngine({Source("hung", "ignore_stop", {{"records", 10}}),
               Source("sibling", "counter", {{"records", 3}}, Isolation::kInProcess)});
  engine_->Tick();
  const int64_t run_id = WaitForRunToBegin("hung");
  ASSERT_TRUE(engine_->WaitForRuns("sibling", 1, kWait));
  engine_->Tick();
  clock_.Advance(seconds(30));
  engine_->Tick();  // no progress for the stall timeout: cancelled, its run failed
  if (OpenStore()->GetRun(run_id)->status == storage::RunStatus::kRunning) {
    clock_.Advance(seconds(30));  // the pull showed progress after the first look
    engine_->Tick();
  }
  EXPECT_EQ(OpenStore()->GetRun(run_id)->status, storage::RunStatus::kFailed);
  clock_.Advance(seconds(5));
  engine_->Tick();  // the grace is over: its runner is killed (not its plugin quarantined)
  ASSERT_TRUE(engine_->WaitForRuns("hung", 1, kWait));
  const storage::RunInfo run = *OpenStore()->GetRun(run_id);
  EXPECT_THAT(run.error_message, HasSubstr("watchdog: no progress for 30 s"));
  bool killed_logged = false;
  const auto log = OpenStore()->GetRunLog(run_id);
  ASSERT_TRUE(log.ok());
  for (const storage::RunLogLine& line : *log) {
    killed_logged |=
        line.message == "connector process killed: the pull ignored its cancellation for 5 s";
  }
  EXPECT_TRUE(killed_logged);
  EXPECT_EQ(Snap("hung").state, SourceState::kBackoff);
  for (const PluginSnapshot& plugin : engine_->Plugins()) EXPECT_FALSE(plugin.quarantined);
  EXPECT_TRUE(Events("hung").empty());  // one record emitted, never checkpointed
  EXPECT_EQ(Cursor("hung"), std::nullopt);
  // The sibling of another plugin keeps its schedule.
  ASSERT_TRUE(engine_->Pause("hung").ok());
  clock_.Advance(seconds(60));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("sibling", 2, kWait));
  EXPECT_EQ(Snap("sibling").status, "ok");
}

TEST_F(IsolationTest, AHundredMegabyteRecordFailsTheRunAfterTheLastCheckpoint) {
  StartEngine(
      {Source("huge", "huge_record", {{"records", 10}, {"checkpoint_every", 2}, {"huge_at", 3}}),
       Source("other", "counter", {{"records", 2}})});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("huge", 1, kWait));
  ASSERT_TRUE(engine_->WaitForRuns("other", 1, kWait));
  EXPECT_EQ(LastRun("huge").status, storage::RunStatus::kFailed);
  EXPECT_THAT(LastRun("huge").error_message,
              HasSubstr("the plugin emitted a record of 100.0 MiB ('S000003'), over the 64 MiB a "
                        "record may have in a connector process"));
  EXPECT_EQ(Events("huge"), Created(0, 2));
  EXPECT_EQ(Cursor("huge"), "2");
  EXPECT_EQ(Snap("other").status, "ok");
}

TEST_F(IsolationTest, AnUnboundedLeakEndsAtTheMemoryLimit) {
  options_.runner.memory_limit_mb = 256;
  StartEngine({Source("leaky", "leak"), Source("other", "counter", {{"records", 2}})});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("leaky", 1, kWait));
  ASSERT_TRUE(engine_->WaitForRuns("other", 1, kWait));
  const std::string message = LastRun("leaky").error_message;
  EXPECT_THAT(message, HasSubstr("leak: connector process crashed: signal 11 (SIGSEGV) during "
                                 "pull of stream 'student'; it had used"));
  EXPECT_THAT(message, HasSubstr("MiB of its 256 MiB memory limit"));
  EXPECT_EQ(Snap("leaky").state, SourceState::kBackoff);
  EXPECT_TRUE(Events("leaky").empty());
  EXPECT_EQ(Snap("other").status, "ok");
}

// Plugins that break the contract without crashing are handled in a runner exactly as in the
// hub's process: the same run outcome, the same stored events.
TEST_F(IsolationTest, InvalidUtf8AndWrongStructSizeAreHandledAsInProcess) {
  for (const std::string plugin : {"invalid_utf8", "record_struct_size"}) {
    const nlohmann::json config = {{"records", 6}, {"checkpoint_every", 2}};
    const std::string local = plugin + "-local";
    const std::string isolated = plugin + "-isolated";
    StartEngine(
        {Source(local, plugin, config, Isolation::kInProcess), Source(isolated, plugin, config)});
    engine_->Tick();
    ASSERT_TRUE(engine_->WaitForRuns(local, 1, kWait));
    ASSERT_TRUE(engine_->WaitForRuns(isolated, 1, kWait));
    const storage::RunInfo a = LastRun(local);
    const storage::RunInfo b = LastRun(isolated);
    EXPECT_EQ(a.status, b.status) << plugin;
    EXPECT_EQ(a.error_category, b.error_category) << plugin;
    EXPECT_EQ(a.error_message, b.error_message) << plugin;
    EXPECT_EQ(a.counters.seen, b.counters.seen) << plugin;
    EXPECT_EQ(a.counters.created, b.counters.created) << plugin;
    EXPECT_EQ(a.counters.warnings, b.counters.warnings) << plugin;
    EXPECT_EQ(a.counters.rejected, b.counters.rejected) << plugin;
    EXPECT_EQ(Events(local), Events(isolated)) << plugin;
    EXPECT_EQ(Cursor(local), Cursor(isolated)) << plugin;
    engine_.reset();
  }
}

}  // namespace
}  // namespace reglo::engine
