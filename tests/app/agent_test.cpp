// `reglo-hub agent` against `reglo-hub serve`, both real processes on a real SQLite store: a hub
// outage in the middle of a pull, and the agent killed with SIGKILL in the middle of its batches.
// Each run is compared with a reference `sync --once` of the same simulated system: the same
// records and exactly the same event ids (deterministic per record version), none twice.
// Waits are bounded polls (the processes run in real time).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_output.h"
#include "files.h"
#include "poll.h"
#include "ports.h"
#include "process.h"
#include "reglo/model/schema.h"
#include "reglo/storage/sqlite_store.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

json SidaSource(int slow_ms) {
  return {{"id", "sida"},
          {"company_id", "autoscuola-test"},
          {"source_system", "sida"},
          {"connector", "sida_stub"},
          {"options",
           {{"system", "sida-agent-test"},
            {"changes", 200},
            {"students", 50},
            {"page_size", 10},
            {"faults", {{"slow_ms", slow_ms}}}}}};
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = reglo::testing::MakeTempDir("reglo_agent_");
    ASSERT_FALSE(dir_.empty());
    port_ = testing::FreeLoopbackPort();
    ASSERT_GT(port_, 0);
    std::ofstream(dir_ / "hub.json")
        << json{{"store", "sqlite:hub.db"},
                {"plugins_dir", REGLO_PLUGIN_DIR},
                {"sources", json::array()},
                // No admin listener: its default port would collide between tests run at once.
                {"admin", {{"enabled", false}}},
                {"ingest",
                 {{"listen", fmt("127.0.0.1:", port_)},
                  {"rate_limit", {{"requests_per_second", 1000}, {"burst", 1000}}}}}}
               .dump(2);
    // The reference: the same simulated system synced directly.
    std::ofstream(dir_ / "ref.json") << json{
        {"store", "sqlite:ref.db"},
        {"plugins_dir", REGLO_PLUGIN_DIR},
        {"sources", {SidaSource(0)}}}.dump(2);
    const auto ref = testing::RunCommand(Hub("ref.json") + " sync --once");
    ASSERT_TRUE(ref.exit_code == 0 || ref.exit_code == 3) << ref.text;
    const auto created = testing::RunCommand(
        Hub("hub.json") + " keys create --company autoscuola-test --source sida");
    ASSERT_EQ(created.exit_code, 0) << created.text;
    const testing::CreatedKey key = testing::ParseCreatedKey(created.text);
    api_key_ = key.api_key;
    secret_ = key.signing_secret;
    ASSERT_FALSE(api_key_.empty());
    ASSERT_FALSE(secret_.empty());
  }

  void TearDown() override {
    testing::KillAndReap(agent_);
    testing::KillAndReap(hub_);
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static std::string fmt(const char* text, int value) { return text + std::to_string(value); }
  std::string Hub(const std::string& config) const {
    return std::string(REGLO_HUB_BINARY) + " --config " + (dir_ / config).string();
  }

  void WriteAgent(int slow_ms) {
    std::ofstream(dir_ / "agent.json") << json{
        {"plugins_dir", REGLO_PLUGIN_DIR},
        {"hub",
         {{"url", fmt("http://127.0.0.1:", port_)},
          {"api_key", api_key_},
          {"signing_secret", secret_},
          {"timeout_seconds", 5}}},
        {"batch_records", 50},  // >= page_size: batches are the pages, as in the reference
        {"interval_seconds", 3600},
        {"backoff_base_seconds", 0.05},
        {"backoff_cap_seconds", 0.3},
        {"sources", {SidaSource(slow_ms)}}}.dump(2);
  }

  pid_t Start(const std::vector<std::string>& args, const std::string& log) {
    return testing::SpawnLogged(REGLO_HUB_BINARY, args, (dir_ / log).string());
  }
  void StartHub() { hub_ = Start({"--config", (dir_ / "hub.json").string(), "serve"}, "hub.log"); }
  void StartAgent() {
    agent_ = Start({"agent", "--config", (dir_ / "agent.json").string()}, "agent.log");
  }
  // Polls (bounded: a minute) until `done` holds.
  template <typename Predicate>
  static bool WaitUntil(Predicate done) {
    return testing::WaitUntil(done, milliseconds(60'000));
  }

  size_t SpooledBatches() const {
    size_t count = 0;
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(dir_ / "spool", ignored)) {
      if (entry.path().extension() == ".batch") ++count;
    }
    return count;
  }
  std::string Log(const std::string& name) const { return testing::ReadFile(dir_ / name); }

  // Records per entity and the event ids of a store.
  struct Contents {
    std::map<std::string, int64_t> records;
    std::multiset<std::string> events;
    bool operator==(const Contents&) const = default;
  };
  Contents Read(const std::string& db) const {
    Contents contents;
    auto store = storage::OpenSqliteStore((dir_ / db).string());
    if (!store.ok()) return contents;
    for (const char* entity : {"student", "case", "appointment"}) {
      auto count = (*store)->CountRecords(*model::FindEntity(entity));
      contents.records[entity] = count.ok() ? *count : -1;
    }
    auto events = (*store)->ReadEvents(0, 1'000'000);
    if (events.ok()) {
      for (const auto& event : *events) contents.events.insert(event.event.event_id);
    }
    return contents;
  }

  // Everything delivered: the spool is empty and the hub holds what the reference holds.
  bool Complete() { return SpooledBatches() == 0 && Read("hub.db") == Read("ref.db"); }

  fs::path dir_;
  int port_ = 0;
  std::string api_key_, secret_;
  pid_t hub_ = -1, agent_ = -1;
};

TEST_F(AgentTest, HubDownForAWhileThenUpEverythingArrivesOnce) {
  WriteAgent(/*slow_ms=*/20);
  StartHub();
  StartAgent();
  // The pull is under way: batches are being spooled (and delivered).
  ASSERT_TRUE(WaitUntil([&] { return Read("hub.db").records["student"] > 0; })) << Log("agent.log");
  testing::KillAndReap(hub_, SIGKILL);  // the hub goes away in the middle of the pull
  ASSERT_TRUE(WaitUntil([&] { return Log("agent.log").find("unreachable") != std::string::npos; }))
      << Log("agent.log");
  ASSERT_TRUE(WaitUntil([&] { return SpooledBatches() >= 3; })) << Log("agent.log");
  StartHub();
  ASSERT_TRUE(WaitUntil([&] { return Complete(); })) << Log("agent.log") << Log("hub.log");
  const Contents hub = Read("hub.db");
  EXPECT_EQ(hub, Read("ref.db"));
  EXPECT_EQ(std::set<std::string>(hub.events.begin(), hub.events.end()).size(),
            hub.events.size());  // no event twice
  testing::KillAndReap(agent_, SIGTERM);
  EXPECT_EQ(Log("agent.log").find(api_key_), std::string::npos);  // never the whole key
  EXPECT_EQ(Log("hub.log").find(api_key_), std::string::npos);
}

TEST_F(AgentTest, AgentKilledMidBatchLosesNothingAndDuplicatesNothing) {
  WriteAgent(/*slow_ms=*/20);
  StartHub();
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return Read("hub.db").records["student"] >= 10; }))
      << Log("agent.log");
  testing::KillAndReap(agent_, SIGKILL);
  const Contents partial = Read("hub.db");
  EXPECT_NE(partial, Read("ref.db"));  // killed before the end
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return Complete(); })) << Log("agent.log") << Log("hub.log");
  const Contents hub = Read("hub.db");
  EXPECT_EQ(hub, Read("ref.db"));
  EXPECT_EQ(std::set<std::string>(hub.events.begin(), hub.events.end()).size(), hub.events.size());
  testing::KillAndReap(agent_, SIGTERM);
  testing::KillAndReap(hub_, SIGTERM);
}

}  // namespace
}  // namespace reglo
