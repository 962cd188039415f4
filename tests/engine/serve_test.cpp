// `reglo-hub serve` as operators run it: a real process, a real SIGTERM, a restart. Plus the
// config keys serve adds. Waits are bounded polls of the store (the process runs in real time).
#include <Poco/Net/HTTPRequest.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "files.h"
#include "http_client.h"
#include "poll.h"
#include "process.h"
#include "reglo/app/config.h"
#include "reglo/model/schema.h"
#include "reglo/storage/sqlite_store.h"
#include "temp_dir.h"

namespace reglo {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::WaitUntil;

class ServeTest : public ::testing::Test {
 protected:
  void TearDown() override { testing::KillAndReap(pid_); }

  // 3 streams x 300 changes in pages of 10, each page call taking 15 ms: a pull of ~1.5 s.
  void WriteConfig(const std::string& name, const std::string& db, int slow_ms,
                   const std::string& isolation = "in_process") {
    nlohmann::json config = {
        {"store", "sqlite:" + db},
        {"plugins_dir", REGLO_PLUGIN_DIR},
        {"engine", {{"default_interval_seconds", 60}, {"shutdown_timeout_seconds", 10}}},
        {"admin", {{"listen", "127.0.0.1:0"}}},  // several hubs may run at once
        {"sources",
         {{{"id", "sida"},
           {"company_id", "autoscuola-test"},
           {"source_system", "sida"},
           {"connector", "sida_stub"},
           {"isolation", isolation},
           {"options",
            {{"changes", 300},
             {"students", 60},
             {"page_size", 10},
             {"faults", {{"slow_ms", slow_ms}}}}}}}}};
    std::ofstream(dir_ / name) << config.dump(2);
  }

  void StartServe(const std::string& config) {
    pid_ = testing::SpawnLogged(REGLO_HUB_BINARY, {"--config", (dir_ / config).string(), "serve"},
                                (dir_ / "serve.log").string());
    ASSERT_GE(pid_, 0);
  }

  // Sends SIGTERM and returns the exit code, or -1 if the process did not exit within `bound`.
  int Terminate(milliseconds bound) {
    ::kill(pid_, SIGTERM);
    const std::optional<int> status = testing::WaitForExit(pid_, bound);
    return status ? testing::ExitCode(*status) : -1;
  }

  std::unique_ptr<storage::Store> Open(const std::string& db) {
    auto store = storage::OpenSqliteStore((dir_ / db).string());
    EXPECT_TRUE(store.ok());
    return std::move(*store);
  }

  std::string Log() { return testing::ReadFile(dir_ / "serve.log"); }

  // The folder outlives TearDown: the hub is reaped before its files go.
  testing::TempDir temp_{"reglo_serve_"};
  const fs::path dir_ = temp_.path();
  pid_t pid_ = -1;
};

int64_t Count(storage::Store& store, const char* entity) {
  return store.CountRecords(*model::FindEntity(entity)).value();
}

std::set<std::string> EventIds(storage::Store& store) {
  std::set<std::string> ids;
  auto events = store.ReadEvents(0, 1'000'000);
  for (const auto& event : *events) ids.insert(event.event.event_id);
  EXPECT_EQ(ids.size(), events->size());
  return ids;
}

// The same with the source in-process and in process isolation (its plugin in a connector
// runner, which hears of the stop and ends at its next checkpoint too).
class ServeSigtermTest : public ServeTest, public ::testing::WithParamInterface<const char*> {};

INSTANTIATE_TEST_SUITE_P(Isolation, ServeSigtermTest, ::testing::Values("in_process", "process"));

TEST_P(ServeSigtermTest, SigtermDuringALongPullThenARestartLosesNothingAndDuplicatesNothing) {
  WriteConfig("hub.json", "hub.db", 15, GetParam());
  StartServe("hub.json");
  auto store = Open("hub.db");
  // Some pages are committed, the pull is far from done.
  ASSERT_TRUE(WaitUntil([&] { return Count(*store, "student") >= 30; })) << Log();
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(Terminate(milliseconds(10'000)), 0) << Log();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, milliseconds(5'000));
  EXPECT_THAT(Log(), HasSubstr("received SIGTERM"));
  auto first = store->ListRuns("sida", 10);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_NE(first->front().status, storage::RunStatus::kSucceeded);  // stopped part-way
  EXPECT_TRUE(first->front().finished_at.has_value());               // and closed properly
  EXPECT_LT(first->front().counters.seen, 900);

  StartServe("hub.json");
  ASSERT_TRUE(WaitUntil([&] {
    auto runs = store->ListRuns("sida", 10);
    return runs.ok() && !runs->empty() && runs->front().status == storage::RunStatus::kSucceeded;
  })) << Log();
  ASSERT_EQ(Terminate(milliseconds(10'000)), 0) << Log();

  // The same data synced in one go, without interruption, into another store.
  WriteConfig("reference.json", "reference.db", 0);
  const std::string command = std::string(REGLO_HUB_BINARY) + " --config " +
                              (dir_ / "reference.json").string() + " sync --once > " +
                              (dir_ / "reference.log").string() + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto reference = Open("reference.db");
  for (const char* entity : {"student", "case", "appointment"}) {
    EXPECT_EQ(Count(*store, entity), Count(*reference, entity)) << entity;
  }
  EXPECT_EQ(EventIds(*store), EventIds(*reference));  // no event lost, none twice
  EXPECT_EQ(store->CountEvents().value(), reference->CountEvents().value());
}

// GET `path` on the admin listener at `url` (loopback, the default) with `token`; returns the
// status and body.
std::pair<int, std::string> AdminGet(const std::string& url, const std::string& path,
                                     const std::string& token) {
  const std::regex loopback("http://127\\.0\\.0\\.1:([0-9]+)/");
  std::smatch m;
  if (!std::regex_search(url, m, loopback)) return {0, ""};
  Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!token.empty()) request.set("Authorization", "Bearer " + token);
  const reglo::testing::HttpReply reply =
      reglo::testing::SendHttp(static_cast<uint16_t>(std::stoi(m[1].str())), request);
  return {reply.status, reply.body};
}

TEST_F(ServeTest, AdminListenerStartsWithTheEngineAndItsTokenIsShownOnlyOnce) {
  WriteConfig("hub.json", "hub.db", 0);
  StartServe("hub.json");
  const std::regex console("Integration Console: (http://[0-9.]+:[0-9]+/)");
  const std::regex token_line("Admin token \\(shown once[^:]*: ([A-Za-z0-9_-]{43})");
  ASSERT_TRUE(WaitUntil([&] { return std::regex_search(Log(), token_line); })) << Log();
  std::smatch url;
  std::smatch token;
  std::string log = Log();
  ASSERT_TRUE(std::regex_search(log, url, console));
  ASSERT_TRUE(std::regex_search(log, token, token_line));
  const std::string first_url = url[1];
  const std::string first_token = token[1];
  EXPECT_EQ(AdminGet(first_url, "/healthz", "").first, 200);
  EXPECT_EQ(AdminGet(first_url, "/api/admin/sources", "").first, 401);
  auto sources = AdminGet(first_url, "/api/admin/sources", first_token);
  EXPECT_EQ(sources.first, 200);
  EXPECT_THAT(sources.second, HasSubstr("\"id\":\"sida\""));
  // The listener counts its refusals (the 401 above) in /metrics.
  const std::string metrics = AdminGet(first_url, "/metrics", first_token).second;
  EXPECT_THAT(metrics, HasSubstr("reglo_http_refusals_total{listener=\"admin\",status=\"401\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("reglo_http_connections_open{listener=\"admin\"} "));
  EXPECT_EQ(Terminate(milliseconds(20'000)), 0);

  // A restart reuses the stored token and does not print it again.
  fs::remove(dir_ / "serve.log");
  StartServe("hub.json");
  ASSERT_TRUE(WaitUntil([&] { return std::regex_search(Log(), console); })) << Log();
  log = Log();
  ASSERT_TRUE(std::regex_search(log, url, console));
  EXPECT_FALSE(std::regex_search(log, token_line));
  EXPECT_THAT(log, Not(HasSubstr(first_token)));
  EXPECT_EQ(AdminGet(url[1], "/api/admin/sources", first_token).first, 200);
  EXPECT_EQ(Terminate(milliseconds(20'000)), 0);
}

// Under systemd (the reglo-hub package), stdout is the journal, which JOURNAL_STREAM names by
// device and inode: the first token is not written there; `admin-token reset` on a terminal
// gives one that works in the running hub.
TEST_F(ServeTest, TheFirstTokenIsNotWrittenToTheJournal) {
  WriteConfig("hub.json", "hub.db", 0);
  const fs::path log = dir_ / "serve.log";
  std::ofstream(log).close();  // SpawnLogged appends: the inode stays the one named below
  struct stat status {};
  ASSERT_EQ(::stat(log.c_str(), &status), 0);
  const std::string journal_stream =
      std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino);
  pid_ = testing::SpawnLogged(REGLO_HUB_BINARY, {"--config", (dir_ / "hub.json").string(), "serve"},
                              log.string(), {{"JOURNAL_STREAM", journal_stream}});
  ASSERT_GE(pid_, 0);
  ASSERT_TRUE(WaitUntil([&] {
    return Log().find("not shown in the journal") != std::string::npos;
  })) << Log();
  const std::string text = Log();
  EXPECT_THAT(text, Not(HasSubstr("shown once"))) << text;
  std::smatch url;
  ASSERT_TRUE(std::regex_search(text, url, std::regex("Integration Console: (http://[0-9.:]+/)")));

  const std::string reset = std::string(REGLO_HUB_BINARY) + " --config " +
                            (dir_ / "hub.json").string() + " admin-token reset > " +
                            (dir_ / "reset.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(reset.c_str()), 0);
  const std::string printed = testing::ReadFile(dir_ / "reset.txt");
  std::smatch token;
  ASSERT_TRUE(std::regex_search(printed, token, std::regex(": ([A-Za-z0-9_-]{43})"))) << printed;
  EXPECT_EQ(AdminGet(url[1], "/api/admin/sources", token[1]).first, 200);
  EXPECT_EQ(Terminate(milliseconds(20'000)), 0);
}

TEST_F(ServeTest, ServeAnswersHelp) {
  const std::string command =
      std::string(REGLO_HUB_BINARY) + " serve --help > " + (dir_ / "help.txt").string() + " 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0);
  const std::string text = testing::ReadFile(dir_ / "help.txt");
  EXPECT_THAT(text, HasSubstr("SIGTERM"));
}

TEST(ServeConfigTest, EngineSettingsAndIntervalsAreReadWithErrorsNamingTheKey) {
  const std::string base = R"("store": "sqlite:x.db", "plugins_dir": "p")";
  auto config = app::ParseConfig(
      "{" + base + R"(, "engine": {"default_interval_seconds": 30, "backoff_base_seconds": 1,
        "backoff_cap_seconds": 60, "failure_limit": 4, "stall_timeout_seconds": 90,
        "watch_plugins": false, "lease_seconds": 2.5},
        "sources": [{"id": "a", "company_id": "c", "source_system": "s", "connector": "x",
                     "interval_seconds": 0.5}]})",
      "/tmp");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->engine.default_interval_ms, 30'000);
  EXPECT_EQ(config->engine.backoff_base_ms, 1'000);
  EXPECT_EQ(config->engine.backoff_cap_ms, 60'000);
  EXPECT_EQ(config->engine.failure_limit, 4);
  EXPECT_EQ(config->engine.stall_timeout_ms, 90'000);
  EXPECT_FALSE(config->engine.watch_plugins);
  EXPECT_EQ(config->engine.lease_ms, 2'500);
  EXPECT_EQ(config->interval_ms.at("a"), 500);

  struct Case {
    std::string json;
    std::string error;
  };
  const std::string source = R"("sources": [{"id": "a", "company_id": "c", "source_system": "s",
                                               "connector": "x")";
  const Case cases[] = {
      {"{" + base + R"(, "engine": {"failure_limit": 0}, "sources": []})",
       "engine.failure_limit: expected a whole number from 1 to 100000"},
      {"{" + base + R"(, "engine": {"stall_timeout_seconds": "x"}, "sources": []})",
       "engine.stall_timeout_seconds: expected a number of seconds"},
      {"{" + base + R"(, "engine": {"lease_seconds": 0.5}, "sources": []})",
       "engine.lease_seconds: must be at least 1 seconds"},
      {"{" + base + R"(, "engine": {"retries": 3}, "sources": []})", "engine.retries: unknown key"},
      {"{" + base + R"(, "engine": {"backoff_base_seconds": 10, "backoff_cap_seconds": 5},
           "sources": []})",
       "engine.backoff_cap_seconds: must not be less than backoff_base_seconds"},
      {"{" + base + ", " + source + R"(, "interval_seconds": -1}]})",
       "sources[0].interval_seconds: must be at least"},
      {"{" + base + ", " + source + R"(, "interval_seconds": "1m"}]})",
       "sources[0].interval_seconds: expected a number of seconds"},
  };
  for (const Case& c : cases) {
    auto parsed = app::ParseConfig(c.json, "/tmp");
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.error)) << c.json;
  }
}

}  // namespace
}  // namespace reglo
