// Leases fail closed (issue #15): two real engines ("hub-a", "hub-b") in this process share one
// PostgreSQL database (the pg_cluster fixture's throwaway cluster), each with its own fake clock,
// plugin cache and stores, as two hub instances do. A lease that cannot be taken means no pull; a
// lease another instance took over fences the pull (nothing more committed, the cursor never
// moves back); a lease that cannot be renewed fences the pull before it could expire under it.
// Assertions read the database behind the engines' backs; waits are bounded polls for work on
// the plugins' threads.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "poll.h"
#include "postgres_test_support.h"
#include "reglo/engine/engine.h"
#include "reglo/storage/forwarding_store.h"
#include "temp_dir.h"

namespace reglo::engine {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr milliseconds kWait{20'000};  // bound on waiting for plugin threads; never reached
constexpr seconds kLease{30};

class MaxRandom final : public RandomSource {
 public:
  uint64_t UpTo(uint64_t bound) override { return bound; }
};

// A store whose lease calls fail while `failing` is set, as when the database is unreachable
// for them; everything else is the real store.
class FlakyLeaseStore final : public storage::ForwardingControlStore {
 public:
  FlakyLeaseStore(std::unique_ptr<storage::Store> inner, const std::atomic<bool>& failing)
      : ForwardingControlStore(*inner), owned_(std::move(inner)), failing_(failing) {}
  Result<bool> TryAcquireLease(const std::string& source_id, const std::string& owner,
                               std::chrono::milliseconds ttl, const std::string& now) override {
    if (failing_) return Status::IoError("postgres: connection lost (injected)");
    return ForwardingControlStore::TryAcquireLease(source_id, owner, ttl, now);
  }

 private:
  std::unique_ptr<storage::Store> owned_;
  const std::atomic<bool>& failing_;
};

// One hub instance: an engine, its clock and its folders.
struct Instance {
  std::string id;
  fs::path dir;
  ManualClock clock{std::chrono::system_clock::time_point(std::chrono::hours(490'000))};
  MaxRandom random;
  std::unique_ptr<Engine> engine;
};

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = reglo::testing::MakeTempDir("reglo_lease_");
    ASSERT_FALSE(dir_.empty());
    release_ = (dir_ / "release").string();
    auto store = db_.Open();  // migrates once, before the instances start
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  void TearDown() override {
    std::ofstream(release_) << "go";  // let any hung pull return before its engine goes
    for (auto& [name, instance] : instances_) instance.engine.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // sida_stub source "s": 3 streams of 30 changes in pages of 10; with `hang_every`, every
  // hang_every-th call of the delta API hangs until the release file exists.
  SourceConfig Source(int hang_every) const {
    nlohmann::json options = {{"system", "lease-test"}, {"changes", 30}, {"page_size", 10}};
    if (hang_every > 0) {
      options["faults"] = {{"hang_every", hang_every}, {"hang_release_file", release_}};
    }
    SourceConfig source;
    source.row.id = "s";
    source.row.company_id = "autoscuola-test";
    source.row.source_system = "sida";
    source.row.connector = "sida_stub";
    source.row.config_json = options.dump();
    return source;
  }

  Instance& Start(const std::string& id, SourceConfig source,
                  ControlStoreFactory factory = nullptr) {
    Instance& instance = instances_[id];
    instance.id = id;
    instance.dir = dir_ / id;
    fs::create_directories(instance.dir / "plugins");
    fs::copy_file(REGLO_SIDA_PLUGIN, instance.dir / "plugins" / "sida_stub.so");
    EngineOptions options;
    options.plugins_dir = instance.dir / "plugins";
    options.plugin_cache_dir = instance.dir / "cache";
    options.default_interval = seconds(600);
    options.stall_timeout = seconds(300);
    options.cancel_grace = seconds(5);
    options.threads_per_plugin = 1;
    options.watch_plugins = false;
    options.instance_id = id;
    options.lease_ttl = kLease;
    options.backoff.base = seconds(5);
    options.backoff.cap = seconds(5);
    options.runner.runner = REGLO_RUNNER_BINARY;
    if (factory) {
      instance.engine = std::make_unique<Engine>(options, std::vector<SourceConfig>{source},
                                                 factory, instance.clock, instance.random);
    } else {
      instance.engine = std::make_unique<Engine>(options, std::vector<SourceConfig>{source},
                                                 StoreFactory([this] { return db_.Open(); }),
                                                 instance.clock, instance.random);
    }
    Status started = instance.engine->Start();
    EXPECT_TRUE(started.ok()) << started.ToString();
    return instance;
  }

  int64_t Int(const std::string& sql) {
    Result<int64_t> value = db_.QueryInt(sql);
    EXPECT_TRUE(value.ok()) << sql << ": " << value.status().ToString();
    return value.ok() ? *value : -1;
  }
  std::string Text(const std::string& sql) {
    Result<std::string> value = db_.QueryText(sql);
    EXPECT_TRUE(value.ok()) << sql << ": " << value.status().ToString();
    return value.ok() ? *value : "";
  }
  // The stored cursor position of each stream ("sida:v1:<n>" -> n).
  std::map<std::string, int64_t> Cursors() {
    std::map<std::string, int64_t> cursors;
    for (const char* stream : {"students", "cases", "appointments"}) {
      cursors[stream] = Int(fmt::format(
          "SELECT COALESCE(MAX(CAST(substr(cursor, 9) AS bigint)), 0) FROM integration_cursors "
          "WHERE source_id = 's' AND stream = '{}'",
          stream));
    }
    return cursors;
  }
  // Every stream's cursor is where it was or further on.
  void ExpectCursorsNeverMovedBack(const std::map<std::string, int64_t>& now) {
    for (const auto& [stream, position] : now) {
      EXPECT_GE(position, seen_cursors_[stream]) << stream << " moved back";
      seen_cursors_[stream] = std::max(seen_cursors_[stream], position);
    }
  }
  std::string LeaseHolder() {
    return Text("SELECT COALESCE(MAX(owner), '') FROM integration_leases WHERE source_id = 's'");
  }
  int64_t WaitForRunToBegin(Instance& instance) {
    int64_t run = 0;
    reglo::testing::WaitUntil(
        [&] {
          run = instance.engine->Source("s")->current_run_id;
          return run != 0;
        },
        kWait, milliseconds(1));
    EXPECT_NE(run, 0) << instance.id << "'s pull never began its run";
    return run;
  }
  std::string RunStatus(int64_t run) {
    return Text(fmt::format(
        "SELECT status || ': ' || COALESCE(error_message, '') FROM integration_runs WHERE id = {}",
        run));
  }

  storage::testing::PostgresBackend db_;
  fs::path dir_;
  std::string release_;
  std::map<std::string, Instance> instances_;
  std::map<std::string, int64_t> seen_cursors_;
};

TEST_F(LeaseTest, ALeaseTakenOverMidPullFencesThePullAndTheCursorNeverMovesBack) {
  // Every second call hangs: each instance commits one page, then blocks in its next call.
  Instance& a = Start("hub-a", Source(/*hang_every=*/2));
  a.engine->Tick();
  const int64_t run_a = WaitForRunToBegin(a);
  ASSERT_TRUE(reglo::testing::WaitUntil([&] { return Cursors()["students"] == 10; }, kWait,
                                        milliseconds(5)));
  ExpectCursorsNeverMovedBack(Cursors());
  EXPECT_EQ(LeaseHolder(), "hub-a");

  // hub-b's clock is past hub-a's lease (hub-a stalled, say): it takes the lease over and pulls
  // from hub-a's cursor.
  Instance& b = Start("hub-b", Source(/*hang_every=*/2));
  b.clock.Advance(kLease + seconds(1));
  b.engine->Tick();
  const int64_t run_b = WaitForRunToBegin(b);
  ASSERT_TRUE(reglo::testing::WaitUntil([&] { return Cursors()["students"] == 20; }, kWait,
                                        milliseconds(5)));
  EXPECT_EQ(LeaseHolder(), "hub-b");
  ExpectCursorsNeverMovedBack(Cursors());

  // hub-a's renewal finds the lease taken: its pull is fenced at once.
  a.clock.Advance(kLease / 3);
  a.engine->Tick();
  EXPECT_THAT(RunStatus(run_a), HasSubstr("lease lost"));

  // Both pulls wake up: hub-a's page is refused (its run ends, nothing committed), hub-b's goes on.
  std::ofstream(release_) << "go";
  ASSERT_TRUE(a.engine->WaitForRuns("s", 1, kWait));
  ASSERT_TRUE(b.engine->WaitForRuns("s", 1, kWait));
  ExpectCursorsNeverMovedBack(Cursors());
  EXPECT_EQ(Cursors(), (std::map<std::string, int64_t>{
                           {"students", 30}, {"cases", 30}, {"appointments", 30}}));
  EXPECT_THAT(RunStatus(run_a), HasSubstr("lease lost"));
  EXPECT_THAT(RunStatus(run_b), HasSubstr("succeeded"));
  EXPECT_EQ(a.engine->Source("s")->state, SourceState::kBackoff);
  // hub-a committed its first page only; hub-b everything after it.
  EXPECT_EQ(Int(fmt::format("SELECT seen FROM integration_runs WHERE id = {}", run_a)), 10);
  EXPECT_EQ(Int(fmt::format("SELECT seen FROM integration_runs WHERE id = {}", run_b)), 80);
  EXPECT_EQ(LeaseHolder(), "");  // hub-b released it; hub-a never took it back
}

TEST_F(LeaseTest, NoLeaseMeansNoPullAndARenewalThatKeepsFailingFencesThePullInTime) {
  std::atomic<bool> failing{true};
  Instance& a = Start("hub-a", Source(/*hang_every=*/4),
                      [this, &failing]() -> Result<std::unique_ptr<storage::ControlStore>> {
                        Result<std::unique_ptr<storage::Store>> store = db_.Open();
                        if (!store.ok()) return store.status();
                        return std::unique_ptr<storage::ControlStore>(
                            std::make_unique<FlakyLeaseStore>(std::move(*store), failing));
                      });

  // The lease cannot be taken: nothing is pulled, no run is begun, the source backs off.
  a.engine->Tick();
  ASSERT_TRUE(a.engine->WaitForRuns("s", 1, kWait));
  EXPECT_EQ(Int("SELECT count(*) FROM integration_runs"), 0);
  EXPECT_EQ(Int("SELECT count(*) FROM integration_cursors"), 0);
  EXPECT_EQ(a.engine->Source("s")->state, SourceState::kBackoff);
  EXPECT_THAT(a.engine->Source("s")->reason, HasSubstr("lease could not be taken"));

  // The database answers again: after the backoff the pull runs (and hangs in its 4th call).
  failing = false;
  a.clock.Advance(seconds(5));
  a.engine->Tick();
  const int64_t run = WaitForRunToBegin(a);
  ASSERT_TRUE(reglo::testing::WaitUntil([&] { return Cursors()["students"] == 30; }, kWait,
                                        milliseconds(5)));
  EXPECT_EQ(LeaseHolder(), "hub-a");

  // Renewals fail: the first failure is tolerated, the one at two thirds of the lease fences.
  failing = true;
  a.clock.Advance(kLease / 3);
  a.engine->Tick();
  EXPECT_THAT(RunStatus(run), HasSubstr("running"));
  a.clock.Advance(kLease / 3);
  a.engine->Tick();
  EXPECT_THAT(RunStatus(run), HasSubstr("lease not renewed"));
  const std::map<std::string, int64_t> fenced_at = Cursors();
  std::ofstream(release_) << "go";
  ASSERT_TRUE(a.engine->WaitForRuns("s", 2, kWait));
  EXPECT_EQ(Cursors(), fenced_at);  // the fenced pull committed nothing more
  EXPECT_THAT(RunStatus(run), HasSubstr("lease not renewed"));
}

}  // namespace
}  // namespace reglo::engine
