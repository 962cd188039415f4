// The reglo-hub binary as an operator runs it: help, exit codes, plugins list, sync and preview.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_output.h"
#include "reglo/app/commands.h"
#include "reglo/core/clock.h"
#include "reglo/core/crypto.h"
#include "reglo/storage/sqlite_store.h"
#include "run_command.h"
#include "temp_dir.h"

namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

using Output = reglo::testing::CommandOutput;

Output RunHub(const std::string& args) {
  return reglo::testing::RunCommand(std::string(REGLO_HUB_BINARY) + " " + args);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = reglo::testing::MakeTempDir("reglo-cli-");
    ASSERT_FALSE(dir_.empty());
    std::filesystem::create_directories(dir_ / "plugins");
    std::filesystem::copy_file(std::filesystem::path(REGLO_TEST_PLUGIN_DIR) / "counter.so",
                               dir_ / "plugins" / "counter.so");
    WriteConfig(R"({"records": 6, "checkpoint_every": 2})");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteConfig(const std::string& options) {
    std::ofstream(dir_ / "hub.json") << R"({"store": "sqlite:data/hub.db", "plugins_dir": "plugins",
      "sources": [{"id": "counter-1", "company_id": "autoscuola-rossi", "source_system": "db",
                   "connector": "counter", "options": )"
                                     << options << "}]}";
  }
  std::string Config() const { return "--config " + (dir_ / "hub.json").string(); }

  std::filesystem::path dir_;
};

TEST_F(CliTest, HelpAnswersForEveryCommand) {
  for (const char* command :
       {"", "sync", "preview", "plugins", "plugins list", "migrate", "housekeep"}) {
    Output out = RunHub(std::string(command) + " --help");
    EXPECT_EQ(out.exit_code, 0) << command;
    EXPECT_THAT(out.text, HasSubstr("Usage")) << command;
  }
  EXPECT_THAT(RunHub("--help").text, HasSubstr("Exit codes"));
}

TEST_F(CliTest, BadUsageAndBadConfigExitWithTwo) {
  EXPECT_EQ(RunHub("frobnicate").exit_code, 2);
  EXPECT_EQ(RunHub(Config() + " sync").exit_code, 2);  // --once is required
  Output missing = RunHub("--config /nonexistent.json migrate");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.text, HasSubstr("cannot read config file /nonexistent.json"));
  std::ofstream(dir_ / "hub.json")
      << R"({"store": "sqlite:x.db", "plugins_dir": "p", "sources": [{"id": 1}]})";
  Output bad = RunHub(Config() + " migrate");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.text, HasSubstr("sources[0].id: expected a string"));
  // A number out of double's range is a config error too, for the hub and for the agent.
  std::ofstream(dir_ / "hub.json")
      << R"({"store": "sqlite:x.db", "plugins_dir": "p", "engine": {"lease_seconds": 1e400}})";
  Output huge = RunHub(Config() + " migrate");
  EXPECT_EQ(huge.exit_code, 2) << huge.text;
  EXPECT_THAT(huge.text, HasSubstr("engine.lease_seconds: the number 1e400 is out of range"));
  std::ofstream(dir_ / "agent.json") << R"({"interval_seconds": 1e400})";
  Output agent = RunHub("agent --config " + (dir_ / "agent.json").string());
  EXPECT_EQ(agent.exit_code, 2) << agent.text;
  EXPECT_THAT(agent.text, HasSubstr("interval_seconds: the number 1e400 is out of range"));
}

TEST_F(CliTest, SyncOncePrintsASummaryAndIsIdempotent) {
  Output first = RunHub(Config() + " sync --once");
  EXPECT_EQ(first.exit_code, 0) << first.text;
  EXPECT_THAT(first.text, HasSubstr("succeeded"));
  EXPECT_THAT(first.text, HasSubstr("events emitted: 6"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "data" / "hub.db"));
  Output second = RunHub(Config() + " sync --once --source counter-1");
  EXPECT_EQ(second.exit_code, 0) << second.text;
  EXPECT_THAT(second.text, HasSubstr("events emitted: 0"));
  Output unknown = RunHub(Config() + " sync --once --source nope");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.text, HasSubstr("no source 'nope'"));
  EXPECT_THAT(unknown.text, Not(HasSubstr("did you mean")));
  Output typo = RunHub(Config() + " preview --source counter1");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.text, HasSubstr("no source 'counter1' in " + (dir_ / "hub.json").string() +
                                   " (configured: counter-1); did you mean 'counter-1'?"));
}

// `sync --once` takes the source's lease as `serve` does (issue #15): it never pulls a source
// another instance holds, and with the lease it closes a run a killed process left open.
TEST_F(CliTest, SyncOnceTakesTheLeaseAndClosesARunAKilledProcessLeftOpen) {
  ASSERT_EQ(RunHub(Config() + " migrate").exit_code, 0);
  const std::string db = (dir_ / "data" / "hub.db").string();
  {
    auto store = reglo::storage::OpenSqliteStore(db);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    reglo::storage::SourceRow row;
    row.id = "counter-1";
    row.company_id = "autoscuola-rossi";
    row.source_system = "db";
    row.connector = "counter";
    ASSERT_TRUE((*store)->UpsertSource(row).ok());
    // What a `sync --once` killed with SIGKILL leaves: its run "running", its lease expired.
    ASSERT_TRUE((*store)->BeginRun("counter-1", "2026-01-01T00:00:00.000Z").ok());
    // Another instance holds the lease now.
    ASSERT_TRUE(*(*store)->TryAcquireLease("counter-1", "reglo-hub@elsewhere:1",
                                           std::chrono::hours(24),
                                           reglo::FormatUtc(reglo::SystemClock::Instance().Now())));
  }
  Output busy = RunHub(Config() + " sync --once");
  EXPECT_EQ(busy.exit_code, 1) << busy.text;
  EXPECT_THAT(busy.text, HasSubstr("another hub instance holds the source's lease"));
  {
    auto store = reglo::storage::OpenSqliteStore(db);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ((*store)->ListRuns("counter-1", 10)->size(), 1u);  // nothing was pulled
    ASSERT_TRUE((*store)->ReleaseLease("counter-1", "reglo-hub@elsewhere:1").ok());
  }
  Output synced = RunHub(Config() + " sync --once");
  EXPECT_EQ(synced.exit_code, 0) << synced.text;
  EXPECT_THAT(synced.text, HasSubstr("closed 1 run(s) left open by a stopped hub process"));
  auto store = reglo::storage::OpenSqliteStore(db);
  ASSERT_TRUE(store.ok());
  auto runs = (*store)->ListRuns("counter-1", 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ(runs->back().status, reglo::storage::RunStatus::kFailed);  // the abandoned one
  EXPECT_THAT(runs->back().error_message, HasSubstr("abandoned"));
  EXPECT_EQ(runs->front().status, reglo::storage::RunStatus::kSucceeded);
  // Released at the end: nobody holds it.
  EXPECT_TRUE(*(*store)->TryAcquireLease("counter-1", "reglo-hub@elsewhere:1",
                                         std::chrono::seconds(1),
                                         reglo::FormatUtc(reglo::SystemClock::Instance().Now())));
}

TEST_F(CliTest, HousekeepPrunesOldHistoryAndSaysWhatInItsOutputAndTheAuditLog) {
  ASSERT_EQ(RunHub(Config() + " sync --once").exit_code, 0);
  const std::string db = (dir_ / "data" / "hub.db").string();
  {
    auto store = reglo::storage::OpenSqliteStore(db);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    // A run from long ago (older than the default 30 days), with a log line.
    auto old = (*store)->BeginRun("counter-1", "2020-01-01T00:00:00.000Z");
    ASSERT_TRUE(old.ok());
    ASSERT_TRUE((*store)
                    ->AppendRunLog(*old, {"2020-01-01T00:00:00.000Z",
                                          reglo::storage::LogLevel::kError, "refused"})
                    .ok());
    ASSERT_TRUE((*store)
                    ->FinishRun(*old, reglo::storage::RunStatus::kFailed,
                                "2020-01-01T00:01:00.000Z", "internal", "refused")
                    .ok());
  }
  Output out = RunHub(Config() + " housekeep");
  EXPECT_EQ(out.exit_code, 0) << out.text;
  EXPECT_THAT(out.text, ContainsRegex("runs +1 +1\n"));      // pruned one, the sync's run stays
  EXPECT_THAT(out.text, ContainsRegex("run_logs +0 +0\n"));  // gone with their run
  EXPECT_THAT(out.text, ContainsRegex("events +0 +6\n"));    // young: kept
  EXPECT_THAT(out.text, HasSubstr("Store: "));
  auto store = reglo::storage::OpenSqliteStore(db);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->ListRuns("counter-1", 10)->size(), 1u);
  // Audited: one row saying what went.
  reglo::storage::AuditQuery query;
  query.action = "store.housekeep";
  auto audit = (*store)->ListAudit(query);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ(audit->front().actor, "cli");
  EXPECT_EQ(audit->front().outcome, "ok");
  EXPECT_THAT(audit->front().after, HasSubstr("\"runs\":1"));
  EXPECT_THAT(audit->front().after, HasSubstr("\"deadLetters\":0"));
  store->reset();
  Output vacuum = RunHub(Config() + " housekeep --vacuum");
  EXPECT_EQ(vacuum.exit_code, 0) << vacuum.text;
  EXPECT_THAT(vacuum.text, ContainsRegex("runs +0 +1\n"));
}

TEST_F(CliTest, FailedRunExitsWithOne) {
  WriteConfig(R"({"records": 6, "checkpoint_every": 2, "fail_after_checkpoint": 1})");
  Output failed = RunHub(Config() + " sync --once");
  EXPECT_EQ(failed.exit_code, 1) << failed.text;
  EXPECT_THAT(failed.text, HasSubstr("injected failure"));
}

// A source naming a connector that is not loaded is a configuration error of sync and preview
// (serve still starts, showing it Failed): exit 2, naming the key, the name and the loaded ones.
TEST_F(CliTest, MissingConnectorIsAConfigErrorNamingTheKey) {
  std::filesystem::remove(dir_ / "plugins" / "counter.so");
  for (const char* command : {" sync --once", " preview --source counter-1"}) {
    Output out = RunHub(Config() + command);
    EXPECT_EQ(out.exit_code, 2) << command << ": " << out.text;
    EXPECT_THAT(out.text, HasSubstr("config error: " + (dir_ / "hub.json").string() +
                                    ": sources[0].connector: 'counter' is not loaded from " +
                                    (dir_ / "plugins").string() + " (loaded: none)"));
  }
}

TEST_F(CliTest, MisspelledConnectorSuggestsTheLoadedOne) {
  std::ofstream(dir_ / "hub.json") << R"({"store": "sqlite:data/hub.db", "plugins_dir": "plugins",
    "sources": [{"id": "counter-1", "company_id": "c", "source_system": "db", "connector": "countr"}]})";
  Output out = RunHub(Config() + " sync --once");
  EXPECT_EQ(out.exit_code, 2) << out.text;
  EXPECT_THAT(out.text, HasSubstr("sources[0].connector: 'countr' is not loaded"));
  EXPECT_THAT(out.text, HasSubstr("(loaded: counter); did you mean 'counter'?"));
}

// One source's configuration error does not stop the others, and it sets the exit code: 2 over
// a failed run (1), which is over warnings (3).
TEST_F(CliTest, AConfigErrorOutweighsAFailedRunAndTheOtherSourcesStillSync) {
  std::ofstream(dir_ / "hub.json") << R"({"store": "sqlite:data/hub.db", "plugins_dir": "plugins",
    "sources": [
      {"id": "bad", "company_id": "c", "source_system": "x", "connector": "nope"},
      {"id": "failing", "company_id": "c", "source_system": "f", "connector": "counter",
       "options": {"records": 4, "checkpoint_every": 2, "fail_after_checkpoint": 1}},
      {"id": "fine", "company_id": "c", "source_system": "db", "connector": "counter",
       "options": {"records": 6}}]})";
  Output out = RunHub(Config() + " sync --once");
  EXPECT_EQ(out.exit_code, 2) << out.text;
  EXPECT_THAT(out.text, HasSubstr("sources[0].connector: 'nope' is not loaded"));
  EXPECT_THAT(out.text, HasSubstr("injected failure"));
  EXPECT_THAT(out.text, HasSubstr("Source fine (counter, company c) - run 3: succeeded"));
}

// A missing plugins folder is a configuration error naming plugins_dir and the folder.
TEST_F(CliTest, MissingPluginsFolderIsAConfigErrorNamingIt) {
  std::filesystem::remove_all(dir_ / "plugins");
  for (const char* command : {" plugins list", " sync --once", " preview --source counter-1"}) {
    Output out = RunHub(Config() + command);
    EXPECT_EQ(out.exit_code, 2) << command << ": " << out.text;
    EXPECT_THAT(out.text, HasSubstr("plugins_dir: cannot read the plugins folder " +
                                    (dir_ / "plugins").string() + ": No such file or directory"));
  }
}

// hub.json with a disabled source first and a csv source "csv" second (sources[1]), its options
// valid but for `options` ("key": value, pairs); `isolation` "in_process" or "process".
void WriteCsvConfig(const std::filesystem::path& dir, const std::string& options,
                    const std::string& isolation = "in_process") {
  std::ofstream(dir / "allievi.csv") << "id,nome\n1,Anna\n";
  std::ofstream(dir / "hub.json")
      << R"({"store": "sqlite:data/hub.db", "plugins_dir": ")" << REGLO_PLUGIN_DIR
      << R"(", "sources": [
      {"id": "off", "company_id": "c", "source_system": "x", "connector": "csv", "enabled": false},
      {"id": "csv", "company_id": "c", "source_system": "csv", "connector": "csv",
       "isolation": ")"
      << isolation << R"(", "options": {)" << options
      << R"( "entities": {"student": {"path": "allievi.csv", "id_column": "id",
         "columns": {"nome": "firstName"}}}}}]})";
}

// The agent reports a connector's refusal of its options as sync does: exit 2, the key named.
TEST_F(CliTest, AgentConnectorOptionErrorNamesTheConfigKey) {
  const Output created = RunHub(Config() + " keys create --company c --source csv");
  ASSERT_EQ(created.exit_code, 0) << created.text;
  const reglo::testing::CreatedKey key = reglo::testing::ParseCreatedKey(created.text);
  std::ofstream(dir_ / "allievi.csv") << "id,nome\n1,Anna\n";
  std::ofstream(dir_ / "agent.json")
      << nlohmann::json{{"hub",
                         {{"url", "http://127.0.0.1:9"},
                          {"api_key", key.api_key},
                          {"signing_secret", key.signing_secret}}},
                        {"plugins_dir", REGLO_PLUGIN_DIR},
                        {"sources",
                         {{{"id", "csv"},
                           {"company_id", "c"},
                           {"source_system", "csv"},
                           {"connector", "csv"},
                           {"options",
                            {{"delimeter", ";"},
                             {"entities",
                              {{"student",
                                {{"path", "allievi.csv"},
                                 {"id_column", "id"},
                                 {"columns", {{"nome", "firstName"}}}}}}}}}}}}}
             .dump();
  const Output out = RunHub("agent --once --config " + (dir_ / "agent.json").string());
  EXPECT_EQ(out.exit_code, 2) << out.text;
  EXPECT_THAT(out.text, HasSubstr((dir_ / "agent.json").string() +
                                  ": sources[0].options.delimeter: unknown key"));
}

// A connector's refusal of its options is reported against the config file's key, with the
// plugin's message (not its file), as a configuration error: in process and in a runner child.
TEST_F(CliTest, ConnectorOptionErrorNamesTheConfigKey) {
  for (const char* isolation : {"in_process", "process"}) {
    WriteCsvConfig(dir_, R"("delimeter": ";",)", isolation);
    for (const char* command : {" sync --once --source csv", " preview --source csv"}) {
      Output out = RunHub(Config() + command);
      EXPECT_EQ(out.exit_code, 2) << isolation << command << ": " << out.text;
      EXPECT_THAT(out.text, HasSubstr("config error: " + (dir_ / "hub.json").string() +
                                      ": sources[1].options.delimeter: unknown key (expected "
                                      "base_dir, delimiter,"))
          << isolation;
      EXPECT_THAT(out.text, HasSubstr("(connector 'csv')"));
      EXPECT_THAT(out.text, Not(HasSubstr(".so")));
    }
  }
}

// A wrong option type or range is a configuration error too, and the plugin's numbers reach the
// operator whole (a phone masker once printed "from 0 to ***07").
TEST_F(CliTest, WrongOptionTypeIsAConfigErrorWithItsNumbersWhole) {
  WriteCsvConfig(dir_, R"("checkpoint_every": -1,)");
  Output out = RunHub(Config() + " sync --once --source csv");
  EXPECT_EQ(out.exit_code, 2) << out.text;
  EXPECT_THAT(out.text, HasSubstr("sources[1].options.checkpoint_every: expected a whole number "
                                  "from 0 to 9223372036854775807, got -1 (connector 'csv')"));
  WriteCsvConfig(dir_, R"("encoding": 8,)");
  Output typed = RunHub(Config() + " preview --source csv");
  EXPECT_EQ(typed.exit_code, 2) << typed.text;
  EXPECT_THAT(typed.text, HasSubstr("sources[1].options.encoding: expected"));
}

// A temporary failure in `sync --once` says that nothing retries it, not "retrying later".
TEST_F(CliTest, SyncOnceSaysATemporaryFailureIsNotRetried) {
  WriteCsvConfig(dir_, "");
  std::filesystem::remove(dir_ / "allievi.csv");
  Output out = RunHub(Config() + " sync --once --source csv");
  EXPECT_EQ(out.exit_code, 1) << out.text;
  EXPECT_THAT(out.text, HasSubstr("allievi.csv does not exist (yet)"));
  EXPECT_THAT(out.text, HasSubstr("not retried: `sync --once` runs each source once; run it "
                                  "again, or let `reglo-hub serve` retry it"));
  EXPECT_THAT(out.text, Not(HasSubstr("retrying later")));
}

// A mistyped command names the nearest one; a word far from every command lists them.
TEST_F(CliTest, MistypedCommandSuggestsTheNearest) {
  Output sync = RunHub(Config() + " snyc --once");
  EXPECT_EQ(sync.exit_code, 2);
  EXPECT_THAT(sync.text, HasSubstr("error: unknown command 'snyc': did you mean 'sync'?"));
  Output list = RunHub(Config() + " --log-level warn keys lst");
  EXPECT_EQ(list.exit_code, 2);
  EXPECT_THAT(list.text, HasSubstr("error: unknown command 'lst': did you mean 'list'?"));
  Output far = RunHub("frobnicate");
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_THAT(far.text, HasSubstr("error: unknown command 'frobnicate' (expected one of: sync, "
                                  "preview, plugins"));
  EXPECT_THAT(far.text, Not(HasSubstr("did you mean")));
}

// --config and --log-level work after the command too, also two commands deep.
TEST_F(CliTest, GlobalOptionsWorkAfterTheCommand) {
  Output sync = RunHub("sync --once " + Config() + " --log-level warn");
  EXPECT_EQ(sync.exit_code, 0) << sync.text;
  EXPECT_THAT(sync.text, HasSubstr("events emitted: 6"));
  Output keys = RunHub("keys list " + Config());
  EXPECT_EQ(keys.exit_code, 0) << keys.text;
  EXPECT_THAT(keys.text, HasSubstr("No agent keys"));
  Output typo = RunHub("keys " + Config() + " lst");  // the option's value is no command word
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.text, HasSubstr("error: unknown command 'lst': did you mean 'list'?"));
}

// The help says what matters and nothing odd: no "REQUIRED" against --once, where the agent's
// config comes from, and what serve opens.
TEST_F(CliTest, HelpTextsSayWhatServeAndTheAgentUse) {
  Output sync = RunHub("sync --help");
  EXPECT_EQ(sync.exit_code, 0);
  EXPECT_THAT(sync.text, Not(HasSubstr("REQUIRED")));
  EXPECT_THAT(sync.text, HasSubstr("--once"));
  Output no_once = RunHub(Config() + " sync");
  EXPECT_EQ(no_once.exit_code, 2);
  EXPECT_THAT(no_once.text, HasSubstr("sync: --once is required"));
  Output agent = RunHub("agent --help");
  EXPECT_THAT(agent.text, Not(HasSubstr("(default: --config)")));
  EXPECT_THAT(agent.text, HasSubstr("$REGLO_CONFIG or reglo-hub.json"));
  Output serve = RunHub("serve --help");
  EXPECT_EQ(serve.exit_code, 0);
  for (const char* topic : {"admin.listen", "127.0.0.1:8470", "admin-token reset",
                            "$REGLO_ADMIN_TOKEN", "--config", "ingest.listen"}) {
    EXPECT_THAT(serve.text, HasSubstr(topic)) << topic;
  }
}

// A listener whose port is taken names the config key that set it.
TEST_F(CliTest, PortInUseNamesTheListenKey) {
  const int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(taken, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string port = std::to_string(ntohs(address.sin_port));
  std::ofstream(dir_ / "hub.json") << R"({"store": "sqlite:data/hub.db", "plugins_dir": "plugins",
    "admin": {"listen": "127.0.0.1:)"
                                   << port << R"("}, "sources": []})";
  Output admin = RunHub(Config() + " serve");
  EXPECT_EQ(admin.exit_code, 1) << admin.text;
  EXPECT_THAT(admin.text, HasSubstr("cannot listen on 127.0.0.1:" + port));
  EXPECT_THAT(admin.text,
              HasSubstr("(set by admin.listen in " + (dir_ / "hub.json").string() + ")"));
  std::ofstream(dir_ / "hub.json") << R"({"store": "sqlite:data/hub.db", "plugins_dir": "plugins",
    "admin": {"enabled": false}, "ingest": {"listen": "127.0.0.1:)"
                                   << port << R"("}, "sources": []})";
  Output ingest = RunHub(Config() + " serve");
  EXPECT_EQ(ingest.exit_code, 1) << ingest.text;
  EXPECT_THAT(ingest.text,
              HasSubstr("(set by ingest.listen in " + (dir_ / "hub.json").string() + ")"));
  ::close(taken);
}

TEST_F(CliTest, PreviewPrintsJsonLinesAndCreatesNoStore) {
  Output out = RunHub(Config() + " preview --source counter-1 --limit 2");
  EXPECT_EQ(out.exit_code, 0) << out.text;
  std::istringstream lines(out.text);
  std::string line;
  int records = 0;
  while (std::getline(lines, line)) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << line;
    EXPECT_EQ(json["entity"], "student");
    ++records;
  }
  EXPECT_EQ(records, 2);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data" / "hub.db"));
}

TEST_F(CliTest, PreviewStartsFromTheBeginningUnlessAskedForTheCursor) {
  ASSERT_EQ(RunHub(Config() + " sync --once").exit_code, 0);
  Output all = RunHub(Config() + " preview --source counter-1 --limit 0");
  EXPECT_EQ(std::count(all.text.begin(), all.text.end(), '\n'), 6) << all.text;
  Output pending = RunHub(Config() + " preview --source counter-1 --from-cursor");
  EXPECT_EQ(pending.exit_code, 0);
  EXPECT_EQ(pending.text, "");
}

TEST_F(CliTest, PluginsListShowsLoadedAndRefusedLibraries) {
  std::filesystem::copy_file(std::filesystem::path(REGLO_TEST_PLUGIN_DIR) / "abi_v2.so",
                             dir_ / "plugins" / "abi_v2.so");
  Output out = RunHub(Config() + " plugins list");
  EXPECT_EQ(out.exit_code, 3);
  EXPECT_THAT(out.text, HasSubstr("counter 1.0.0 (ABI 1.0"));
  EXPECT_THAT(out.text, HasSubstr("abi_v2.so refused: plugin speaks ABI 2.0"));
}

TEST_F(CliTest, IsolatedSourceThatCrashesFailsItsRunAndTheOthersSync) {
  std::filesystem::copy_file(std::filesystem::path(REGLO_TEST_PLUGIN_DIR) / "segfault_in_pull.so",
                             dir_ / "plugins" / "segfault_in_pull.so");
  std::ofstream(dir_ / "hub.json") << R"({"store": "sqlite:data/hub.db", "plugins_dir": "plugins",
    "sources": [
      {"id": "crashy", "company_id": "c", "source_system": "crashy", "connector": "segfault_in_pull",
       "isolation": "process", "options": {"records": 10, "checkpoint_every": 4, "crash_at": 6}},
      {"id": "fine", "company_id": "c", "source_system": "fine", "connector": "counter",
       "isolation": "process", "options": {"records": 3}}]})";
  Output out = RunHub(Config() + " sync --once");
  EXPECT_EQ(out.exit_code, 1) << out.text;
  EXPECT_THAT(out.text, HasSubstr("segfault_in_pull: connector process crashed: signal 11 "
                                  "(SIGSEGV) during pull of stream 'student'"));
  EXPECT_THAT(out.text, HasSubstr("Source fine (counter, company c) - run 2: succeeded"));
  EXPECT_THAT(out.text, HasSubstr("events emitted: 4"));  // crashy: the first checkpoint's
  EXPECT_THAT(out.text, HasSubstr("events emitted: 3"));
}

TEST_F(CliTest, PluginsThatCrashOnLoadAreRefusedNotFatal) {
  std::filesystem::copy_file(std::filesystem::path(REGLO_TEST_PLUGIN_DIR) / "crash_on_load.so",
                             dir_ / "plugins" / "crash_on_load.so");
  Output out = RunHub(Config() + " plugins list");
  EXPECT_EQ(out.exit_code, 3) << out.text;
  EXPECT_THAT(out.text, HasSubstr("counter 1.0.0 (ABI 1.0"));
  EXPECT_THAT(out.text, HasSubstr("crash_on_load.so refused: connector process crashed: signal "
                                  "11 (SIGSEGV) during load (probed in a connector process)"));
  Output sync = RunHub(Config() + " sync --once");
  EXPECT_EQ(sync.exit_code, 0) << sync.text;
  EXPECT_THAT(sync.text, HasSubstr("crash_on_load.so refused: connector process crashed"));
  EXPECT_THAT(sync.text, HasSubstr("events emitted: 6"));
}

// True when `text` holds a byte that could forge a log line or drive a terminal.
bool HasRawControlCharacters(const std::string& text) {
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
  }
  return false;
}

// The runs of the hub store in `dir` (newest first) with their log lines.
struct StoredRun {
  reglo::storage::RunInfo info;
  std::vector<reglo::storage::RunLogLine> log;
};
std::vector<StoredRun> StoredRuns(const std::filesystem::path& db, const std::string& source) {
  std::vector<StoredRun> runs;
  auto store = reglo::storage::OpenSqliteStore(db.string());
  if (!store.ok()) return runs;
  auto listed = (*store)->ListRuns(source, 10);
  if (!listed.ok()) return runs;
  for (const auto& info : *listed) {
    auto log = (*store)->GetRunLog(info.id);
    runs.push_back({info, log.ok() ? *log : std::vector<reglo::storage::RunLogLine>{}});
  }
  return runs;
}

// A plugin whose log line, warning and error are 1 MiB of letters ending in a forged log line and
// terminal escapes (the std::regex masking overflowed the stack on such text: SIGSEGV). In
// process and in a runner child, every sink gets it cut, masked and escaped: the terminal, the
// run's error message and its log lines.
TEST_F(CliTest, HostilePluginTextIsCutAndEscapedInEverySink) {
  for (const char* isolation : {"in_process", "process"}) {
    std::filesystem::remove_all(dir_ / "data");
    std::ofstream(dir_ / "hub.json") << R"({"store": "sqlite:data/hub.db", "plugins_dir": "plugins",
      "sources": [{"id": "noisy", "company_id": "c", "source_system": "db", "connector": "counter",
                   "isolation": ")" << isolation
                                     << R"(", "options": {"noise_bytes": 1048576}}]})";
    Output out = RunHub(Config() + " sync --once");
    EXPECT_EQ(out.exit_code, 1) << isolation << ": " << out.text.substr(0, 2000);
    EXPECT_THAT(out.text, HasSubstr("…(1048"));  // cut, and says how long it was
    EXPECT_LT(out.text.size(), 64u * 1024) << isolation;
    EXPECT_FALSE(HasRawControlCharacters(out.text)) << isolation;
    EXPECT_THAT(out.text, Not(HasSubstr("\nFORGED")));
    const std::vector<StoredRun> runs = StoredRuns(dir_ / "data" / "hub.db", "noisy");
    ASSERT_EQ(runs.size(), 1u) << isolation;
    EXPECT_FALSE(runs[0].info.error_message.empty());
    EXPECT_LT(runs[0].info.error_message.size(), 8u * 1024);
    EXPECT_FALSE(HasRawControlCharacters(runs[0].info.error_message));
    EXPECT_FALSE(runs[0].log.empty());
    for (const auto& line : runs[0].log) {
      EXPECT_LT(line.message.size(), 8u * 1024);
      EXPECT_FALSE(HasRawControlCharacters(line.message)) << line.message.substr(0, 300);
    }
  }
}

// A CSV export as a careless source writes it: a header holding terminal escapes and a birth date
// of 40,000 digits that validation echoes in its warning (that echo crashed sync with SIGSEGV).
TEST_F(CliTest, HostileCsvValuesAndHeadersNeitherCrashNorReachTheTerminalRaw) {
  std::ofstream(dir_ / "allievi.csv") << "id,nome,data_nascita,\x1b]0;owned\x07\x1b[2Jnote\r\n"
                                      << "1,Anna," << std::string(40'000, '7') << ",x\r\n";
  std::ofstream(dir_ / "hub.json")
      << R"({"store": "sqlite:data/hub.db", "plugins_dir": ")" << REGLO_PLUGIN_DIR
      << R"(", "sources": [{"id": "csv", "company_id": "c",
      "source_system": "csv", "connector": "csv", "options": {"entities": {"student": {
        "path": "allievi.csv", "id_column": "id",
        "columns": {"nome": "firstName", "data_nascita": "birthDate"},
        "formats": {"birthDate": "dd/mm/yyyy"}}}}}]})";
  Output out = RunHub(Config() + " sync --once");
  EXPECT_NE(out.exit_code, -1);
  EXPECT_LT(out.exit_code, 128) << "killed by a signal";
  EXPECT_FALSE(HasRawControlCharacters(out.text)) << out.text.substr(0, 2000);
  EXPECT_LT(out.text.size(), 64u * 1024);
  for (const StoredRun& run : StoredRuns(dir_ / "data" / "hub.db", "csv")) {
    EXPECT_FALSE(HasRawControlCharacters(run.info.error_message));
    for (const auto& line : run.log) {
      EXPECT_LT(line.message.size(), 8u * 1024);
      EXPECT_FALSE(HasRawControlCharacters(line.message)) << line.message.substr(0, 300);
    }
  }
}

// The fiscal-code hash is keyed by the hub's master key file: the same file (two stores, or a
// restart) gives the same hash, another file another, and never the hash of a public constant.
// Without a key file, sync creates one (mode 0600) as `keys create` does.
TEST_F(CliTest, FiscalCodeHashesAreKeyedByTheMasterKeyFile) {
  std::ofstream(dir_ / "allievi.csv") << "id,nome,data_nascita\n1,Anna,RSSMRA85T10A562S\n";
  auto hash_seen = [&](const std::string& store, const std::string& secrets) {
    std::ofstream(dir_ / "hub.json")
        << R"({"store": "sqlite:)" << store << R"(", "plugins_dir": ")" << REGLO_PLUGIN_DIR
        << R"(", )" << secrets << R"( "sources": [{"id": "csv",
        "company_id": "c", "source_system": "csv", "connector": "csv", "options": {"entities": {
        "student": {"path": "allievi.csv", "id_column": "id",
        "columns": {"nome": "firstName", "data_nascita": "birthDate"}}}}}]})";
    Output out = RunHub(Config() + " sync --once");
    EXPECT_LT(out.exit_code, 128) << out.text;
    std::string hash;
    for (const StoredRun& run : StoredRuns(dir_ / store, "csv")) {
      for (const auto& line : run.log) {
        const size_t at = line.message.find("cf#");
        if (at != std::string::npos) hash = line.message.substr(at, 3 + 16);
      }
    }
    EXPECT_THAT(out.text, Not(HasSubstr("RSSMRA85T10A562S")));
    return hash;
  };
  const std::string first = hash_seen("a/hub.db", "");
  ASSERT_EQ(first.size(), 19u) << "a 64-bit hash in the run log";
  const auto key_file = dir_ / "a" / "reglo-hub.key";
  ASSERT_TRUE(std::filesystem::exists(key_file));
  EXPECT_EQ(std::filesystem::status(key_file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(hash_seen("a/hub.db", ""), first);                                       // a restart
  EXPECT_EQ(hash_seen("b/hub.db", R"("secrets_file": "a/reglo-hub.key",)"), first);  // shared
  EXPECT_NE(hash_seen("c/hub.db", ""), first);  // its own key file
  const std::string constant =
      "cf#" + reglo::HexEncode(
                  reglo::HmacSha256("reglo-hub-default-masking-key", "RSSMRA85T10A562S").data(), 8);
  EXPECT_NE(first, constant);
}

TEST_F(CliTest, MigrateReportsTheSchemaVersion) {
  Output out = RunHub(Config() + " migrate");
  EXPECT_EQ(out.exit_code, 0) << out.text;
  EXPECT_THAT(out.text, HasSubstr("schema version"));
}

// Migrations are logged as they start: a new store's schema in one line, then nothing once the
// store is up to date (every command opens the store, so every command would repeat them).
TEST_F(CliTest, MigrationsAreLoggedOnceAsTheyStart) {
  Output created = RunHub(Config() + " migrate");
  EXPECT_EQ(created.exit_code, 0) << created.text;
  EXPECT_THAT(created.text, ContainsRegex("info store sqlite:data/hub.db: creating its schema "
                                          "\\(version [0-9]+\\)"));
  EXPECT_THAT(created.text, Not(HasSubstr("applying migration")));
  Output again = RunHub(Config() + " sync --once");
  EXPECT_EQ(again.exit_code, 0) << again.text;
  EXPECT_THAT(again.text, Not(HasSubstr("schema")));
  EXPECT_THAT(again.text, Not(HasSubstr("migration")));
}

// An upgrade says each migration as it starts, with the hint that some take a while.
TEST(MigrationLogLineTest, ANewStoreIsOneLineAndAnUpgradeOneLinePerMigration) {
  using reglo::app::MigrationLogLine;
  using reglo::storage::MigrationStep;
  EXPECT_EQ(MigrationLogLine(MigrationStep{1, "initial", 0, 14}, "sqlite:hub.db"),
            "store sqlite:hub.db: creating its schema (version 14)");
  EXPECT_EQ(MigrationLogLine(MigrationStep{2, "second", 0, 14}, "sqlite:hub.db"), std::nullopt);
  EXPECT_EQ(MigrationLogLine(MigrationStep{13, "narrow events", 12, 14}, "postgres://hub@db/x"),
            "store postgres://hub@db/x: applying migration 13 of 14 (narrow events); one that "
            "rebuilds a table takes seconds per million records");
}

}  // namespace
