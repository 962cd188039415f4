// The engine end to end in-process: real sida_stub plugins (built by this project), a real SQLite
// store in a temp folder, and a ManualClock that the tests advance: scheduling, backoff, watchdog
// and plugin folder decisions never wait for time to pass. The only waits are for work finishing
// on the plugins' threads (WaitForRuns, bounded).
#include "reglo/engine/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "files.h"
#include "poll.h"
#include "reglo/model/schema.h"
#include "reglo/storage/sqlite_store.h"
#include "sqlite_test_support.h"
#include "temp_dir.h"

namespace reglo::engine {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr milliseconds kWait{20'000};  // bound on waiting for plugin threads; never reached

class MaxRandom final : public RandomSource {
 public:
  uint64_t UpTo(uint64_t bound) override { return bound; }
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = reglo::testing::MakeTempDir("reglo_engine_");
    ASSERT_FALSE(dir_.empty());
    fs::create_directories(dir_ / "plugins");
    release_ = (dir_ / "release").string();
    options_.plugins_dir = dir_ / "plugins";
    options_.plugin_cache_dir = dir_ / "cache";
    options_.default_interval = seconds(60);
    options_.stall_timeout = seconds(30);
    options_.cancel_grace = seconds(5);
    options_.threads_per_plugin = 1;
    options_.plugin_settle = seconds(1);
    options_.watch_interval = seconds(1);
    options_.runner.runner = REGLO_RUNNER_BINARY;  // probes every plugin before it is loaded
  }
  void TearDown() override {
    Release();  // let any hung test plugin call return before the engine goes
    engine_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void Install(const char* library, const std::string& as) {
    // Copy-then-rename, as a careful operator (or a package manager) does.
    const fs::path temp = dir_ / "plugins" / ("." + as + ".tmp");
    fs::copy_file(library, temp, fs::copy_options::overwrite_existing);
    fs::rename(temp, dir_ / "plugins" / as);
  }
  void Release() { std::ofstream(release_) << "go"; }

  // A sida_stub source; `options` are merged into the connector options.
  SourceConfig Source(const std::string& id, const std::string& connector,
                      nlohmann::json options = nlohmann::json::object()) {
    options["system"] = id;  // fault counters of its own
    if (!options.contains("changes")) options["changes"] = 30;
    SourceConfig source;
    source.row.id = id;
    source.row.company_id = "autoscuola-test";
    source.row.source_system = "sida";
    source.row.connector = connector;
    source.row.config_json = options.dump();
    return source;
  }
  nlohmann::json Hang() const {
    return {{"faults", {{"hang_every", 1}, {"hang_release_file", release_}}}};
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
  std::string StoredStatus(const std::string& id) {
    auto sources = OpenStore()->ListSources();
    for (const storage::SourceRow& row : *sources) {
      if (row.id == id) return row.status;
    }
    return "(none)";
  }
  SourceSnapshot Snap(const std::string& id) { return *engine_->Source(id); }
  // Waits (bounded) for the pull of `id` to be under way on its plugin's thread: its lease
  // taken. (Its run row comes later, with the first thing worth recording.)
  void WaitForPullToStart(const std::string& id) {
    auto leased = [&] {
      return storage::testing::SqliteRawConnection((dir_ / "hub.db").string())
                 .QueryText("SELECT count(*) FROM integration_leases WHERE source_id = '" + id +
                            "'")
                 .value() == "1";
    };
    reglo::testing::WaitUntil(leased, kWait, milliseconds(1));
    EXPECT_TRUE(leased()) << id << "'s pull never started";
  }
  // The source's newest run, if it has one.
  std::optional<storage::RunInfo> LatestRun(const std::string& id) {
    auto runs = OpenStore()->ListRuns(id, 1);
    if (!runs.ok() || runs->empty()) return std::nullopt;
    return runs->front();
  }
  void Advance(milliseconds by) { clock_.Advance(by); }
  // Moves the clock a second at a time, ticking, until the source's newest run has failed (the
  // watchdog ended the pull); returns that run's id, 0 if that never happens within kWait.
  int64_t StepUntilPullFails(const std::string& id) {
    int64_t failed = 0;
    reglo::testing::WaitUntil(
        [&] {
          Advance(seconds(1));
          engine_->Tick();
          std::optional<storage::RunInfo> run = LatestRun(id);
          if (run && run->status == storage::RunStatus::kFailed) failed = run->id;
          return failed != 0;
        },
        kWait, milliseconds(1));
    return failed;
  }

  fs::path dir_;
  std::string release_;
  EngineOptions options_;
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::hours(490'000))};
  MaxRandom random_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, RunsEachSourceAndSchedulesTheNextRunAfterItsInterval) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  SourceConfig fast = Source("fast", "sida_stub");
  fast.interval = seconds(10);
  StartEngine({fast, Source("slow", "sida_stub")});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("fast", 1, kWait));
  ASSERT_TRUE(engine_->WaitForRuns("slow", 1, kWait));
  EXPECT_EQ(Snap("fast").status, "ok");
  EXPECT_EQ(StoredStatus("fast"), "ok");
  auto cursors = [&] {
    return storage::testing::SqliteRawConnection((dir_ / "hub.db").string())
        .QueryText(
            "SELECT group_concat(stream || '=' || cursor || '@' || updated_at, ',') FROM "
            "(SELECT * FROM integration_cursors WHERE source_id = 'fast' ORDER BY stream)")
        .value();
  };
  const std::string first_cursors = cursors();
  EXPECT_EQ(std::count(first_cursors.begin(), first_cursors.end(), '@'), 3) << first_cursors;
  // The next pull is at the source's phase slot, within two intervals of the first.
  Advance(seconds(20));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("fast", 2, kWait));
  EXPECT_EQ(Snap("slow").runs_finished, 1);
  // 30 changes per stream, 3 streams; the second run of "fast" finds nothing new.
  auto store = OpenStore();
  auto runs = store->ListRuns("fast", 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ(runs->back().counters.seen, 90);
  EXPECT_EQ(runs->front().counters.seen, 0);
  // The idle run committed no checkpoint: nothing in it, its cursors the ones it read.
  EXPECT_EQ(cursors(), first_cursors);
}

TEST_F(EngineTest, HungConnectorDoesNotDelayAnotherConnectorsSources) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  Install(REGLO_SIDA_OTHER_PLUGIN, "sida_other.so");
  SourceConfig other = Source("other", "sida_other");
  other.interval = seconds(5);
  StartEngine({Source("hung", "sida_stub", Hang()), other});
  engine_->Tick();
  for (int run = 1; run <= 4; ++run) {
    ASSERT_TRUE(engine_->WaitForRuns("other", run, kWait)) << "run " << run;
    // To its next phase slot; all four rounds stay within the hung pull's stall timeout.
    Advance(Snap("other").next_run_in);
    engine_->Tick();
  }
  EXPECT_EQ(Snap("hung").state, SourceState::kRunning);
  EXPECT_EQ(Snap("hung").runs_finished, 0);
  EXPECT_EQ(Snap("other").status, "ok");
  Release();
  ASSERT_TRUE(engine_->WaitForRuns("hung", 1, kWait));
  EXPECT_EQ(Snap("hung").status, "ok");
}

// A plugin is handed two pulls per thread at a time (one running, one waiting for the thread);
// its other due sources wait in the scheduler, holding nothing, and start as pulls end. Its full
// lane holds up no other plugin's sources.
TEST_F(EngineTest, APluginIsHandedTwoPullsPerThreadAndTheRestWaitWithoutHoldingOthersUp) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  Install(REGLO_SIDA_OTHER_PLUGIN, "sida_other.so");
  SourceConfig other = Source("other", "sida_other");
  other.interval = seconds(5);
  StartEngine({Source("hung-1", "sida_stub", Hang()), Source("hung-2", "sida_stub", Hang()),
               Source("hung-3", "sida_stub", Hang()), Source("hung-4", "sida_stub", Hang()),
               other});
  engine_->Tick();
  WaitForPullToStart("hung-1");
  for (int run = 1; run <= 3; ++run) {
    ASSERT_TRUE(engine_->WaitForRuns("other", run, kWait)) << "run " << run;
    Advance(Snap("other").next_run_in);
    engine_->Tick();
    // Of sida_stub's (one thread): hung-1 on it, hung-2 queued behind it, the others not handed
    // to the pool at all.
    EXPECT_EQ(Snap("hung-1").state, SourceState::kRunning);
    EXPECT_EQ(Snap("hung-2").state, SourceState::kRunning);
    EXPECT_EQ(Snap("hung-3").state, SourceState::kIdle);
    EXPECT_EQ(Snap("hung-4").state, SourceState::kIdle);
    EXPECT_LE(engine_->Running(), 3);
  }
  Release();
  ASSERT_TRUE(engine_->WaitForRuns("hung-2", 1, kWait));
  engine_->Tick();  // the lane has room again: the waiting sources are handed over
  ASSERT_TRUE(engine_->WaitForRuns("hung-3", 1, kWait));
  ASSERT_TRUE(engine_->WaitForRuns("hung-4", 1, kWait));
  for (const char* id : {"hung-1", "hung-2", "hung-3", "hung-4"}) {
    EXPECT_EQ(Snap(id).status, "ok") << id;
  }
}

TEST_F(EngineTest, WatchdogCancelsAStalledPullThatHonoursStop) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  // Each call takes 10 minutes but polls should_stop: no progress the hub can see.
  StartEngine({Source("slow", "sida_stub", {{"faults", {{"slow_ms", 600'000}}}})});
  engine_->Tick();
  WaitForPullToStart("slow");
  engine_->Tick();  // sees the pull start: progress
  Advance(seconds(29));
  engine_->Tick();
  EXPECT_EQ(Snap("slow").state, SourceState::kRunning);  // 29 s without progress: not yet
  // The run marked failed once 30 s pass without progress. Its cursor read and log lines before
  // the slow call are progress, at moments the test cannot see, so the clock moves on a second
  // at a time until the watchdog acts (asking should_stop all along is no progress).
  const int64_t run_id = StepUntilPullFails("slow");
  ASSERT_NE(run_id, 0);
  auto run = OpenStore()->GetRun(run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->status, storage::RunStatus::kFailed);
  EXPECT_THAT(run->error_message, HasSubstr("watchdog: no progress for 30 s"));
  ASSERT_TRUE(engine_->WaitForRuns("slow", 1, kWait));
  const SourceSnapshot snap = Snap("slow");
  EXPECT_EQ(snap.state, SourceState::kBackoff);  // a failure like any other: retried
  EXPECT_EQ(snap.status, "warning");
  EXPECT_EQ(snap.consecutive_failures, 1);
  EXPECT_EQ(StoredStatus("slow"), "warning");
  EXPECT_FALSE(engine_->Plugins().front().quarantined);
  // The pipeline's own end of the run did not overwrite the watchdog's verdict.
  EXPECT_THAT(OpenStore()->GetRun(run_id)->error_message, HasSubstr("watchdog"));
}

TEST_F(EngineTest, PluginIgnoringCancellationIsQuarantinedAndTheRestCarriesOn) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  Install(REGLO_SIDA_OTHER_PLUGIN, "sida_other.so");
  SourceConfig other = Source("other", "sida_other");
  other.interval = seconds(10);
  StartEngine({Source("hung", "sida_stub", Hang()), Source("sibling", "sida_stub"), other});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("other", 1, kWait));
  WaitForPullToStart("hung");
  engine_->Tick();
  // Cancelled: the stop flag is ignored by the hung call.
  const int64_t run_id = StepUntilPullFails("hung");
  ASSERT_NE(run_id, 0);
  EXPECT_EQ(OpenStore()->GetRun(run_id)->status, storage::RunStatus::kFailed);
  ASSERT_TRUE(engine_->WaitForRuns("other", 2, kWait));
  Advance(seconds(5));
  engine_->Tick();  // the grace period is over: quarantine
  for (const char* id : {"hung", "sibling"}) {
    const SourceSnapshot snap = Snap(id);
    EXPECT_EQ(snap.state, SourceState::kFailed) << id;
    EXPECT_THAT(snap.reason, HasSubstr("plugin sida_stub quarantined")) << id;
    EXPECT_THAT(snap.reason, HasSubstr("ignored cancellation")) << id;
    EXPECT_EQ(StoredStatus(id), "failed") << id;
  }
  EXPECT_FALSE(engine_->Retry("hung", nullptr).ok());  // only a fixed plugin lifts a quarantine
  auto runs = OpenStore()->ListRuns("hung", 10);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->front().status, storage::RunStatus::kFailed);
  // The other plugin's sources keep running on their own pool.
  Advance(seconds(10));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("other", 3, kWait));
  EXPECT_EQ(Snap("other").status, "ok");
  // When the hung call finally returns, nothing it does changes the verdict.
  Release();
  ASSERT_TRUE(engine_->WaitForRuns("hung", 1, kWait));
  EXPECT_EQ(Snap("hung").state, SourceState::kFailed);
  EXPECT_EQ(StoredStatus("hung"), "failed");
  EXPECT_EQ(OpenStore()->GetRun(runs->front().id)->status, storage::RunStatus::kFailed);
  EXPECT_EQ(OpenStore()->GetRun(runs->front().id)->counters.seen, 0);
}

TEST_F(EngineTest, AuthErrorFailsAtOnceAndNothingRetriesUntilAManualRetry) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  StartEngine({Source("auth", "sida_stub", {{"faults", {{"auth_error", true}}}})});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("auth", 1, kWait));
  EXPECT_EQ(Snap("auth").state, SourceState::kFailed);
  EXPECT_THAT(Snap("auth").reason, HasSubstr("authentication error"));
  EXPECT_EQ(StoredStatus("auth"), "failed");
  for (int i = 0; i < 20; ++i) {  // a day passes: no retry
    Advance(std::chrono::hours(1) + std::chrono::minutes(13));
    engine_->Tick();
  }
  EXPECT_EQ(engine_->Running(), 0);
  EXPECT_EQ(Snap("auth").runs_finished, 1);
  EXPECT_EQ(OpenStore()->ListRuns("auth", 10)->size(), 1u);
  EXPECT_FALSE(engine_->RunNow("auth", nullptr).ok());
  ASSERT_TRUE(engine_->Retry("auth", nullptr).ok());
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("auth", 2, kWait));
  EXPECT_EQ(Snap("auth").state, SourceState::kFailed);  // still refused: Failed again at once
  EXPECT_EQ(OpenStore()->ListRuns("auth", 10)->size(), 2u);
}

TEST_F(EngineTest, TransientFailuresBackOffThenFailAtTheLimit) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  options_.backoff.base = seconds(5);
  options_.backoff.cap = seconds(15);
  options_.backoff.failure_limit = 4;
  StartEngine({Source("flaky", "sida_stub", {{"faults", {{"transient_every", 1}}}})});
  engine_->Tick();
  const milliseconds delays[] = {seconds(5), seconds(10), seconds(15)};  // MaxRandom: the ceiling
  int runs = 0;
  for (milliseconds delay : delays) {
    ASSERT_TRUE(engine_->WaitForRuns("flaky", ++runs, kWait));
    EXPECT_EQ(Snap("flaky").state, SourceState::kBackoff);
    EXPECT_EQ(Snap("flaky").next_run_in, delay);
    EXPECT_EQ(StoredStatus("flaky"), "warning");
    Advance(delay - milliseconds(1));
    engine_->Tick();
    EXPECT_EQ(engine_->Running(), 0);
    Advance(milliseconds(1));
    engine_->Tick();
  }
  ASSERT_TRUE(engine_->WaitForRuns("flaky", ++runs, kWait));
  EXPECT_EQ(Snap("flaky").state, SourceState::kFailed);
  EXPECT_THAT(Snap("flaky").reason, HasSubstr("4 consecutive failures"));
  EXPECT_EQ(StoredStatus("flaky"), "failed");
}

TEST_F(EngineTest, RateLimitedSourceWaitsForTheConnectorsRetryAfter) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  StartEngine({Source("limited", "sida_stub",
                      {{"faults", {{"rate_limit_every", 1}, {"retry_after_ms", 7000}}}})});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("limited", 1, kWait));
  EXPECT_EQ(Snap("limited").next_run_in, milliseconds(7000));
  EXPECT_EQ(Snap("limited").consecutive_failures, 0);
  EXPECT_EQ(StoredStatus("limited"), "warning");
  Advance(milliseconds(6999));
  engine_->Tick();
  EXPECT_EQ(engine_->Running(), 0);
  Advance(milliseconds(1));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("limited", 2, kWait));
}

// A new source is pulled at once; after a restart one pulled before waits for its phase slot (the
// one every restart and instance computes from its id and the wall clock), so a restarted hub does
// not pull all its sources in the same second.
TEST_F(EngineTest, AfterARestartAPulledSourceWaitsForItsPhaseSlot) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  StartEngine({Source("a", "sida_stub")});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 1, kWait));
  engine_.reset();
  Advance(milliseconds(7'321));
  StartEngine({Source("a", "sida_stub")});
  const milliseconds next = Snap("a").next_run_in;
  EXPECT_EQ(Snap("a").state, SourceState::kIdle);
  const int64_t wall_ms =
      std::chrono::duration_cast<milliseconds>(clock_.Now().time_since_epoch()).count();
  const int64_t phase = static_cast<int64_t>(PhaseHash("a") % 60'000);
  EXPECT_EQ((wall_ms + next.count()) % 60'000, phase);
  ASSERT_GT(next, milliseconds(0));  // (the phase of "a" is not this instant)
  Advance(next - milliseconds(1));
  engine_->Tick();
  EXPECT_EQ(engine_->Running(), 0);
  EXPECT_EQ(Snap("a").runs_finished, 0);
  Advance(milliseconds(1));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 1, kWait));
}

TEST_F(EngineTest, RunNowPauseAndResume) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  StartEngine({Source("a", "sida_stub")});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 1, kWait));
  ASSERT_TRUE(engine_->RunNow("a", nullptr).ok());
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 2, kWait));
  ASSERT_TRUE(engine_->Pause("a", nullptr).ok());
  EXPECT_EQ(StoredStatus("a"), "paused");
  Advance(std::chrono::hours(2));
  engine_->Tick();
  EXPECT_EQ(engine_->Running(), 0);
  EXPECT_EQ(Snap("a").runs_finished, 2);
  EXPECT_FALSE(engine_->RunNow("a", nullptr).ok());
  ASSERT_TRUE(engine_->Resume("a", nullptr).ok());
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 3, kWait));
  EXPECT_FALSE(engine_->Pause("missing", nullptr).ok());
}

TEST_F(EngineTest, ReplacedPluginFinishesTheRunningPullOnTheOldVersionAndTheNextUsesTheNew) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  StartEngine({Source("a", "sida_stub", Hang())});
  engine_->Tick();  // the pull starts on 1.0.0 and blocks
  EXPECT_EQ(Snap("a").state, SourceState::kRunning);
  Install(REGLO_SIDA_V2_PLUGIN, "sida_stub.so");  // copy-then-rename over the old file
  Advance(seconds(1));
  engine_->Tick();  // seen, not settled yet
  ASSERT_EQ(engine_->Plugins().size(), 1u);
  EXPECT_EQ(engine_->Plugins().front().version, "1.0.0");
  Advance(seconds(1));
  engine_->Tick();  // settled: swapped in
  EXPECT_EQ(engine_->Plugins().front().version, "2.0.0");
  EXPECT_EQ(Snap("a").state, SourceState::kRunning);
  Release();
  ASSERT_TRUE(engine_->WaitForRuns("a", 1, kWait));
  EXPECT_EQ(Snap("a").last_plugin_version, "1.0.0");
  auto log = OpenStore()->GetRunLog(Snap("a").last_run_id);
  ASSERT_TRUE(log.ok());
  ASSERT_FALSE(log->empty());
  EXPECT_THAT(log->front().message, HasSubstr("sida_stub 1.0.0"));
  EXPECT_EQ(Snap("a").status, "ok");
  ASSERT_TRUE(engine_->RunNow("a", nullptr).ok());
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 2, kWait));
  EXPECT_EQ(Snap("a").last_plugin_version, "2.0.0");
  // Nothing new to pull: an idle run, recorded with its plugin version and no log lines.
  EXPECT_EQ(OpenStore()->GetRun(Snap("a").last_run_id)->plugin_version, "2.0.0");
  EXPECT_EQ(OpenStore()->GetRun(Snap("a").last_run_id)->runs, 1);
}

TEST_F(EngineTest, HalfWrittenLibraryIsNeverLoadedAndAddedPluginResumesItsSources) {
  StartEngine({Source("a", "sida_stub")});
  EXPECT_EQ(Snap("a").state, SourceState::kFailed);
  EXPECT_THAT(Snap("a").reason, HasSubstr("no plugin named 'sida_stub' is loaded; loaded: none"));
  EXPECT_EQ(StoredStatus("a"), "failed");
  // An in-place copy in progress: the file grows between polls.
  const std::string bytes = reglo::testing::ReadFile(REGLO_SIDA_PLUGIN);
  const fs::path target = dir_ / "plugins" / "sida_stub.so";
  for (size_t written = 4096; written < bytes.size(); written += bytes.size() / 4) {
    std::ofstream(target, std::ios::binary | std::ios::trunc).write(bytes.data(), written);
    Advance(milliseconds(900));
    engine_->Tick();
    EXPECT_TRUE(engine_->Plugins().empty()) << "loaded at " << written << " bytes";
  }
  // A copy that stalls part-way (every loadable segment already written, only the tail missing)
  // for longer than the settle time is still never loaded; completing the file loads it.
  std::ofstream(target, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size() - 64);
  Advance(seconds(2));
  engine_->Tick();
  Advance(seconds(2));
  engine_->Tick();
  auto plugins = engine_->Plugins();
  ASSERT_EQ(plugins.size(), 1u);
  EXPECT_FALSE(plugins.front().loaded);
  EXPECT_THAT(plugins.front().reason, HasSubstr(target.string()));
  EXPECT_THAT(plugins.front().reason, HasSubstr("incomplete library"));
  std::ofstream(target, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
  Advance(seconds(1));
  engine_->Tick();
  Advance(seconds(1));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 1, kWait));
  EXPECT_EQ(Snap("a").status, "ok");
}

// A misspelled connector: Failed with what it asked for and what it could use, and fixing the
// name through UpdateSource lifts it at once.
TEST_F(EngineTest, MisspelledConnectorFailsNamingTheLoadedOnesAndAFixedNameRuns) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  StartEngine({Source("a", "sida_stubb")});
  EXPECT_EQ(Snap("a").state, SourceState::kFailed);
  EXPECT_EQ(Snap("a").cause, HoldCause::kPluginMissing);
  EXPECT_THAT(Snap("a").reason,
              HasSubstr("no plugin named 'sida_stubb' is loaded; loaded: sida_stub"));
  EXPECT_EQ(StoredStatus("a"), "failed");
  EXPECT_FALSE(engine_->Retry("a", nullptr).ok());
  SourceConfig fixed = Source("a", "sida_stub");
  ASSERT_TRUE(engine_->UpdateSource(fixed).ok());
  EXPECT_EQ(Snap("a").state, SourceState::kIdle);
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 1, kWait));
  EXPECT_EQ(Snap("a").status, "ok");
}

TEST_F(EngineTest, RemovedPluginFailsItsSourcesWithTheReasonAndComesBack) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  StartEngine({Source("a", "sida_stub")});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 1, kWait));
  fs::remove(dir_ / "plugins" / "sida_stub.so");
  Advance(seconds(1));
  engine_->Tick();
  EXPECT_EQ(Snap("a").state, SourceState::kFailed);
  EXPECT_THAT(Snap("a").reason, HasSubstr("plugin 'sida_stub' was removed"));
  EXPECT_EQ(StoredStatus("a"), "failed");
  EXPECT_FALSE(engine_->Resume("a", nullptr).ok());  // nothing to run it with
  EXPECT_FALSE(engine_->Retry("a", nullptr).ok());
  Advance(seconds(120));
  engine_->Tick();
  EXPECT_EQ(Snap("a").runs_finished, 1);
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  Advance(seconds(1));
  engine_->Tick();
  Advance(seconds(1));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 2, kWait));
}

TEST_F(EngineTest, StopEndsPullsAtTheirNextCheckpointAndARestartResumesFromTheCursors) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  // 20 ms per page of 5 changes: a pull of 3 x 200 changes takes ~2.4 s.
  nlohmann::json slow = {{"changes", 200}, {"page_size", 5}, {"faults", {{"slow_ms", 20}}}};
  StartEngine({Source("a", "sida_stub", slow)});
  engine_->Tick();
  auto store = OpenStore();
  // Wait (bounded, for the plugin's thread) until a few pages are committed.
  reglo::testing::WaitUntil(
      [&] { return store->CountRecords(*model::FindEntity("student")).value() >= 20; },
      milliseconds(10'000), milliseconds(5));
  ASSERT_TRUE(engine_->Stop(seconds(5)));
  EXPECT_EQ(engine_->Running(), 0);
  auto first = store->ListRuns("a", 10);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_LT(first->front().counters.seen, 600);  // it did stop early
  EXPECT_NE(Snap("a").status, "failed");
  engine_.reset();

  StartEngine({Source("a", "sida_stub", slow)});
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("a", 1, kWait));
  EXPECT_EQ(Snap("a").status, "ok");
  // Same outcome as one uninterrupted pull: every change once, no event twice.
  int64_t seen = 0;
  auto runs = store->ListRuns("a", 10);
  ASSERT_TRUE(runs.ok());
  for (const auto& run : *runs) seen += run.counters.seen;
  auto events = store->ReadEvents(0, 100000);
  std::set<std::string> ids;
  for (const auto& event : *events) ids.insert(event.event.event_id);
  EXPECT_EQ(ids.size(), events->size());
  EXPECT_EQ(store->CountRecords(*model::FindEntity("student")).value(), 40);
  EXPECT_EQ(store->CountRecords(*model::FindEntity("appointment")).value(), 80);
  EXPECT_GE(seen, 600);  // the stopped page (uncommitted) is pulled again, nothing is skipped
}

// Leases (several instances, DESIGN §6): a pull holds its source's lease and the engine renews
// only leases that pulls hold, never one of a pull still queued on its plugin's pool; every lease
// is released when its pull ends, so no row outlives the pulls.
TEST_F(EngineTest, OnlyRunningPullsHoldAndRenewLeasesAndEveryLeaseIsReleased) {
  Install(REGLO_SIDA_PLUGIN, "sida_stub.so");
  options_.lease_ttl = seconds(15);
  // One thread: "a-hung" (first in id order) takes it and hangs; "b-queued" waits behind it.
  StartEngine({Source("a-hung", "sida_stub", Hang()), Source("b-queued", "sida_stub")});
  engine_->Tick();
  WaitForPullToStart("a-hung");
  auto leases = [this] {
    return storage::testing::SqliteRawConnection((dir_ / "hub.db").string())
        .QueryText("SELECT group_concat(source_id, ',') FROM integration_leases")
        .value();
  };
  EXPECT_EQ(leases(), "a-hung");
  Advance(seconds(6));  // past a third of the lease: the engine renews what pulls hold
  engine_->Tick();
  EXPECT_EQ(leases(), "a-hung");
  Release();
  ASSERT_TRUE(engine_->WaitForRuns("a-hung", 1, kWait));
  ASSERT_TRUE(engine_->WaitForRuns("b-queued", 1, kWait));
  for (int i = 0; i < 3; ++i) {  // a few more rounds of both sources
    Advance(seconds(120));       // past each one's next phase slot
    engine_->Tick();
    ASSERT_TRUE(engine_->WaitForRuns("a-hung", 2 + i, kWait));
    ASSERT_TRUE(engine_->WaitForRuns("b-queued", 2 + i, kWait));
  }
  engine_->Tick();
  EXPECT_EQ(storage::testing::SqliteRawConnection((dir_ / "hub.db").string())
                .QueryInt("SELECT count(*) FROM integration_leases")
                .value(),
            0);
}

// Sources in process isolation (isolation "process"): real broken plugins (tests/plugins/broken)
// in real runner children. Each takes down only its runner: its run fails with a clear reason,
// the source backs off (or goes Failed at the limit), the other sources keep syncing, and the
// store holds exactly what was committed before the failure. New libraries are probed in a child
// before the hub loads them.
class EngineIsolationTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    options_.backoff.base = seconds(5);
    options_.backoff.cap = seconds(5);
    options_.backoff.failure_limit = 2;
    options_.threads_per_plugin = 2;
    for (const char* plugin : {"counter", "segfault_in_pull", "abort_in_create", "huge_record",
                               "leak", "ignore_stop", "invalid_utf8", "record_struct_size"}) {
      InstallTestPlugin(plugin);
    }
  }
  void TearDown() override {
    EngineTest::TearDown();
    // Every runner child was reaped: none is left, not even a zombie.
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
  }

  void InstallTestPlugin(const std::string& plugin) {
    Install((fs::path(REGLO_TEST_PLUGIN_DIR) / (plugin + ".so")).c_str(), plugin + ".so");
  }

  // A source of its own source system (so its events are told apart), in a runner by default.
  static SourceConfig IsolatedSource(
      const std::string& id, const std::string& connector,
      nlohmann::json config = nlohmann::json::object(),
      isolation::Isolation isolation = isolation::Isolation::kProcess) {
    SourceConfig source;
    source.row.id = id;
    source.row.company_id = "autoscuola-test";
    source.row.source_system = id;
    source.row.connector = connector;
    source.row.config_json = config.dump();
    source.isolation = isolation;
    return source;
  }
  // Starts the engine with `broken` and a healthy counter source "other" beside it and runs both
  // once; `broken`'s run into `run` (the test checks how it failed, and that "other" did not).
  void RunBesideAHealthySource(const SourceConfig& broken, storage::RunInfo* run) {
    StartEngine({broken, IsolatedSource("other", "counter", {{"records", 2}})});
    engine_->Tick();
    ASSERT_TRUE(engine_->WaitForRuns(broken.row.id, 1, kWait));
    ASSERT_TRUE(engine_->WaitForRuns("other", 1, kWait));
    *run = LastRun(broken.row.id);
  }
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
};

TEST_F(EngineIsolationTest, SegfaultInPullFailsOnlyItsRunAndKeepsExactlyWhatWasCommitted) {
  StartEngine(
      {IsolatedSource("crashy", "segfault_in_pull",
                      {{"records", 10}, {"checkpoint_every", 4}, {"crash_at", 6}}),
       IsolatedSource("local", "counter", {{"records", 5}}, isolation::Isolation::kInProcess),
       IsolatedSource("isolated", "counter", {{"records", 3}})});
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
  Advance(seconds(5));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("crashy", 2, kWait));
  EXPECT_EQ(Snap("crashy").state, SourceState::kFailed);
  EXPECT_THAT(Snap("crashy").reason, HasSubstr("connector process crashed: signal 11 (SIGSEGV)"));
  EXPECT_EQ(Events("crashy"), Created(0, 4));
  EXPECT_EQ(Cursor("crashy"), "4");
  Advance(seconds(120));  // past the others' next phase slots
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("local", 2, kWait));
  ASSERT_TRUE(engine_->WaitForRuns("isolated", 2, kWait));
  EXPECT_EQ(Snap("local").status, "ok");
  EXPECT_EQ(Snap("isolated").status, "ok");
}

TEST_F(EngineIsolationTest, AbortInCreateFailsTheRunWithTheReason) {
  storage::RunInfo run;
  ASSERT_NO_FATAL_FAILURE(
      RunBesideAHealthySource(IsolatedSource("aborts", "abort_in_create"), &run));
  EXPECT_EQ(run.status, storage::RunStatus::kFailed);
  EXPECT_EQ(run.error_message,
            "abort_in_create: connector process crashed: signal 6 (SIGABRT) during create");
  EXPECT_EQ(Snap("aborts").state, SourceState::kBackoff);
  EXPECT_TRUE(Events("aborts").empty());
  EXPECT_EQ(Snap("other").status, "ok");
}

TEST_F(EngineIsolationTest, APluginThatCrashesInTheProbeIsRefusedAndTheHubCarriesOn) {
  // abort_in_create serves a source in the hub's own process: its create is tried in the probe,
  // where it aborts, so the library is never loaded here.
  StartEngine(
      {IsolatedSource("in-hub", "abort_in_create", {}, isolation::Isolation::kInProcess),
       IsolatedSource("other", "counter", {{"records", 2}}, isolation::Isolation::kInProcess)});
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
  EXPECT_EQ(Snap("in-hub").state, SourceState::kFailed);
  EXPECT_THAT(Snap("in-hub").reason, HasSubstr("no plugin named 'abort_in_create' is loaded"));

  // Hot add: a library that crashes as soon as it is loaded is probed and refused too.
  InstallTestPlugin("crash_on_load");
  for (int i = 0; i < 3; ++i) {
    Advance(seconds(1));
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

TEST_F(EngineIsolationTest, EndlessLoopIgnoringStopIsKilledAndOnlyItsSourceBacksOff) {
  StartEngine(
      {IsolatedSource("hung", "ignore_stop", {{"records", 10}}),
       IsolatedSource("sibling", "counter", {{"records", 3}}, isolation::Isolation::kInProcess)});
  engine_->Tick();
  WaitForPullToStart("hung");
  ASSERT_TRUE(engine_->WaitForRuns("sibling", 1, kWait));
  engine_->Tick();
  Advance(seconds(30));
  engine_->Tick();  // no progress for the stall timeout: cancelled, its run failed
  auto failed = [&] {
    std::optional<storage::RunInfo> run = LatestRun("hung");
    return run && run->status == storage::RunStatus::kFailed;
  };
  if (!failed()) {
    Advance(seconds(30));  // the pull showed progress after the first look
    engine_->Tick();
  }
  ASSERT_TRUE(failed());
  const int64_t run_id = LatestRun("hung")->id;
  Advance(seconds(5));
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
  ASSERT_TRUE(engine_->Pause("hung", nullptr).ok());
  Advance(seconds(60));
  engine_->Tick();
  ASSERT_TRUE(engine_->WaitForRuns("sibling", 2, kWait));
  EXPECT_EQ(Snap("sibling").status, "ok");
}

TEST_F(EngineIsolationTest, AHundredMegabyteRecordFailsTheRunAfterTheLastCheckpoint) {
  storage::RunInfo run;
  ASSERT_NO_FATAL_FAILURE(RunBesideAHealthySource(
      IsolatedSource("huge", "huge_record",
                     {{"records", 10}, {"checkpoint_every", 2}, {"huge_at", 3}}),
      &run));
  EXPECT_EQ(run.status, storage::RunStatus::kFailed);
  EXPECT_THAT(run.error_message,
              HasSubstr("the plugin emitted a record of 100.0 MiB ('S000003'), over the 64 MiB a "
                        "record may have in a connector process"));
  EXPECT_EQ(Events("huge"), Created(0, 2));
  EXPECT_EQ(Cursor("huge"), "2");
  EXPECT_EQ(Snap("other").status, "ok");
}

TEST_F(EngineIsolationTest, AnUnboundedLeakEndsAtTheMemoryLimit) {
  options_.runner.memory_limit_mb = 256;
  storage::RunInfo run;
  ASSERT_NO_FATAL_FAILURE(RunBesideAHealthySource(IsolatedSource("leaky", "leak"), &run));
  const std::string& message = run.error_message;
  EXPECT_THAT(message, HasSubstr("leak: connector process crashed: signal 11 (SIGSEGV) during "
                                 "pull of stream 'student'; it had used"));
  EXPECT_THAT(message, HasSubstr("MiB of its 256 MiB memory limit"));
  EXPECT_EQ(Snap("leaky").state, SourceState::kBackoff);
  EXPECT_TRUE(Events("leaky").empty());
  EXPECT_EQ(Snap("other").status, "ok");
}

// Plugins that break the contract without crashing are handled in a runner exactly as in the
// hub's process: the same run outcome, the same stored events.
TEST_F(EngineIsolationTest, InvalidUtf8AndWrongStructSizeAreHandledAsInProcess) {
  for (const std::string plugin : {"invalid_utf8", "record_struct_size"}) {
    const nlohmann::json config = {{"records", 6}, {"checkpoint_every", 2}};
    const std::string local = plugin + "-local";
    const std::string isolated = plugin + "-isolated";
    StartEngine({IsolatedSource(local, plugin, config, isolation::Isolation::kInProcess),
                 IsolatedSource(isolated, plugin, config)});
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
