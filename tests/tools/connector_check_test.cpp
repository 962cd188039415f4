// Tests of reglo-connector-check: runs the real binary on the bundled plugins (which must pass)
// and on test connectors that each break one promise (which must fail, naming the check).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "files.h"
#include "run_command.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

using CommandRun = reglo::testing::CommandOutput;
using reglo::testing::ReadFile;
using reglo::testing::TempDir;

// Runs a shell command, capturing stdout and stderr.
CommandRun Shell(const std::string& command) {
  return reglo::testing::RunCommand(command);
}

std::string Quote(const fs::path& path) {
  return "'" + path.string() + "'";
}

CommandRun Check(const fs::path& plugin, const fs::path& config, const std::string& extra = "") {
  return Shell(Quote(REGLO_CONNECTOR_CHECK_BINARY) + " " + Quote(plugin) + " --config " +
               Quote(config) + " " + extra);
}

fs::path WriteJson(const fs::path& path, const nlohmann::json& json) {
  std::ofstream(path) << json.dump(2);
  return path;
}

fs::path TestPlugin(const std::string& name) {
  return fs::path(REGLO_TEST_PLUGIN_DIR) / (name + ".so");
}

// The counter connector: 23 records, a checkpoint every 5.
fs::path CounterConfig(const TempDir& dir) {
  return WriteJson(dir.path() / "counter.json", {{"records", 23}, {"checkpoint_every", 5}});
}

// Runs the kit on the test connector `name` with a counter config (CounterConfig) and `extra`.
CommandRun CheckCounter(const std::string& name, const std::string& extra = "") {
  TempDir dir;
  return Check(TestPlugin(name), CounterConfig(dir), extra);
}

// Whether the kit printed `text`; the whole output when it did not.
::testing::AssertionResult Says(const CommandRun& run, const std::string& text) {
  if (run.text.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no \"" << text << "\" in:\n" << run.text;
}

// Whether the kit failed (exit code 1) and printed `text`.
::testing::AssertionResult FailsSaying(const CommandRun& run, const std::string& text) {
  if (run.exit_code != 1) {
    return ::testing::AssertionFailure() << "exit code " << run.exit_code << ", not 1:\n"
                                         << run.text;
  }
  return Says(run, text);
}

// Both bundled plugins pass in the kit's own process and in a connector process (the CSV one
// here; sida_stub in the connector_check_sida_stub* CTest tests).
class CsvConnectorCheck : public ::testing::TestWithParam<const char*> {};

// "asan": the sanitized copy of the plugin, in the kit's process with the ASan runtime preloaded.
INSTANTIATE_TEST_SUITE_P(Isolation, CsvConnectorCheck,
                         ::testing::Values("in_process", "process"
#ifdef REGLO_CSV_ASAN_PLUGIN
                                           ,
                                           "asan"
#endif
                                           ));

TEST_P(CsvConnectorCheck, CsvPluginPassesOnACopyOfTheSampleData) {
  TempDir dir;
  fs::copy(fs::path(REGLO_EXAMPLES_DIR) / "autoscuola-rossi" / "data", dir.path() / "data",
           fs::copy_options::recursive);
  const auto hub = nlohmann::json::parse(
      ReadFile(fs::path(REGLO_EXAMPLES_DIR) / "autoscuola-rossi" / "hub.json"), nullptr, true,
      /*ignore_comments=*/true);
  nlohmann::json options = hub.at("sources").at(0).at("options");
  options["base_dir"] = dir.path().string();
  // Small enough for several intermediate checkpoints per file, so replays are exercised.
  options["checkpoint_every"] = 7;
  const fs::path config = WriteJson(dir.path() / "csv.json", options);
  // allievi.csv:28 is the sample's deliberately id-less row (it demonstrates dead letters).
  const std::string mode = GetParam();
  std::string extra = "--known-bad allievi.csv:28 --isolation ";
  fs::path plugin = REGLO_CSV_PLUGIN;
  std::string environment;
#ifdef REGLO_CSV_ASAN_PLUGIN
  if (mode == "asan") {
    plugin = REGLO_CSV_ASAN_PLUGIN;
    environment = "LD_PRELOAD=" + Quote(REGLO_LIBASAN) +
                  " ASAN_OPTIONS=detect_leaks=1:exitcode=86 UBSAN_OPTIONS=halt_on_error=1 ";
  }
#endif
  extra += mode == "process" ? "process" : "in_process";
  CommandRun run = Shell(environment + Quote(REGLO_CONNECTOR_CHECK_BINARY) + " " + Quote(plugin) +
                         " --config " + Quote(config) + " " + extra);
  EXPECT_EQ(run.exit_code, 0) << run.text;
  EXPECT_TRUE(Says(run, "PASS [student] replay: 3 of 3"));
  EXPECT_EQ(run.text.find("FAIL"), std::string::npos) << run.text;
}

TEST(ConnectorCheck, CsvPluginFailsOnTheSampleDataWithoutKnownBadRows) {
  TempDir dir;
  fs::copy(fs::path(REGLO_EXAMPLES_DIR) / "autoscuola-rossi" / "data", dir.path() / "data",
           fs::copy_options::recursive);
  nlohmann::json options = {
      {"base_dir", dir.path().string()},
      {"delimiter", ";"},
      {"entities", {{"student", {{"path", "data/allievi.csv"}, {"id_column", "id"}}}}}};
  CommandRun run = Check(REGLO_CSV_PLUGIN, WriteJson(dir.path() / "csv.json", options));
  EXPECT_TRUE(FailsSaying(run,
                          "FAIL [student] external-ids: record #26 (allievi.csv:28) has no "
                          "externalId"));
}

// The connector template as vendors copy it, with its own check-config.json: every record maps to
// a canonical record that validation takes without a single warning.
TEST(ConnectorCheck, TheTemplatePassesWithNoValidationWarning) {
  const fs::path config = fs::path(REGLO_EXAMPLES_DIR) / "connector-template" / "check-config.json";
  CommandRun run = Check(REGLO_TEMPLATE_PLUGIN, config);
  EXPECT_EQ(run.exit_code, 0) << run.text;
  EXPECT_TRUE(Says(run,
                   "25 records -> 25 canonical records, all accepted by validation; 0 with "
                   "warnings"));
  EXPECT_TRUE(Says(run, "0 warnings in"));
  EXPECT_EQ(run.text.find("validation warning"), std::string::npos) << run.text;
}

// Its configuration is parsed, not searched: a wrong key, type or range is an error naming the key.
TEST(ConnectorCheck, TheTemplateRefusesABadConfigurationNamingTheKey) {
  TempDir dir;
  const std::vector<std::pair<nlohmann::json, std::string>> cases = {
      {{{"students", "25"}}, "students: expected a whole number from 0 to 1000000, got \"25\""},
      {{{"students", -1}}, "students: expected a whole number from 0 to 1000000, got -1"},
      {{{"checkpoint_every", 0}}, "checkpoint_every: expected a whole number from 1 to 1000000"},
      {{{"checkpoint_every", 2.5}}, "checkpoint_every: expected a whole number"},
      {{{"studnets", 25}}, "unknown key 'studnets' (known: students, checkpoint_every, api_key)"},
      {{{"api_key", ""}}, "api_key: expected a non-empty string"},
      {{{"api_key", 7}}, "api_key: expected a non-empty string"},
  };
  for (const auto& [config, message] : cases) {
    CommandRun run = Check(REGLO_TEMPLATE_PLUGIN, WriteJson(dir.path() / "bad.json", config));
    EXPECT_TRUE(FailsSaying(run, "FAIL create: ")) << config.dump();
    EXPECT_TRUE(Says(run, message)) << config.dump();
  }
  // A secret given well is accepted (and the schema marks it for masking).
  CommandRun run = Check(REGLO_TEMPLATE_PLUGIN,
                         WriteJson(dir.path() / "good.json", {{"students", 3}, {"api_key", "k"}}));
  EXPECT_EQ(run.exit_code, 0) << run.text;
  EXPECT_TRUE(Says(run, "secrets (x-reglo-secret): api_key"));
}

TEST(ConnectorCheck, CounterConnectorPasses) {
  CommandRun run = CheckCounter("counter");
  EXPECT_EQ(run.exit_code, 0) << run.text;
  // A numeric cursor gets a cursor from the future, which must give nothing.
  EXPECT_TRUE(Says(run, "future cursor '999999999999999999': nothing"));
  EXPECT_TRUE(Says(run, "PASSED: "));
}

TEST(ConnectorCheck, CounterConnectorPassesInAConnectorProcess) {
  CommandRun run = CheckCounter("counter", "--isolation process");
  EXPECT_EQ(run.exit_code, 0) << run.text;
  EXPECT_TRUE(Says(run, "host in a connector process (pid "));
  EXPECT_TRUE(Says(run, "PASS [student] cancellation"));
}

TEST(ConnectorCheck, ACrashInAConnectorProcessFailsTheCheckNotTheKit) {
  TempDir dir;
  const fs::path config = WriteJson(dir.path() / "crash.json",
                                    {{"records", 23}, {"checkpoint_every", 5}, {"crash_at", 7}});
  CommandRun run = Check(TestPlugin("segfault_in_pull"), config, "--isolation process");
  EXPECT_TRUE(FailsSaying(run,
                          "FAIL [student] full-pull: internal error: segfault_in_pull: connector "
                          "process crashed: signal 11 (SIGSEGV) during pull of stream 'student'"));
  EXPECT_TRUE(Says(run, "FAILED: "));  // the summary is there
}

TEST(ConnectorCheck, RecordWithWrongStructSizeFails) {
  CommandRun run = CheckCounter("record_struct_size");
  EXPECT_TRUE(FailsSaying(run,
                          "FAIL [student] full-pull: internal error: the plugin emitted a "
                          "record with an invalid struct_size"));
}

TEST(ConnectorCheck, InvalidUtf8InARecordFails) {
  CommandRun run = CheckCounter("invalid_utf8");
  EXPECT_TRUE(FailsSaying(run,
                          "FAIL [student] record-shape: record #3 (id 'S000002'): value of "
                          "field 'firstName' is not UTF-8"));
  // The value itself is personal data and never printed.
  EXPECT_EQ(run.text.find("Nam\xff"), std::string::npos);
}

TEST(ConnectorCheck, ConnectorIgnoringItsCursorFailsSecondPullAndReplay) {
  CommandRun run = CheckCounter("no_resume");
  EXPECT_EQ(run.exit_code, 1) << run.text;
  for (const char* check : {"FAIL [student] second-pull: 23 records re-emitted",
                            "FAIL [student] replay: from checkpoint #1 (after 5 records)",
                            "FAIL [student] foreign-cursor: future cursor",
                            "FAIL [student] cancellation:", "FAIL [student] failed-pull-record:"}) {
    EXPECT_TRUE(Says(run, check));
  }
}

TEST(ConnectorCheck, PullIgnoringShouldStopIsEndedByTheWatchdog) {
  CommandRun run = CheckCounter("ignore_stop", "--timeout-ms 300 --cancel-bound-ms 300");
  EXPECT_TRUE(
      FailsSaying(run, "FAIL [student] full-pull: the plugin did not return within 600 ms"));
}

TEST(ConnectorCheck, RefusedLibrariesFailTheLoadCheck) {
  CommandRun run = CheckCounter("abi_v2");
  EXPECT_TRUE(FailsSaying(run, "FAIL load: plugin"));
  run = CheckCounter("create_fails");
  EXPECT_TRUE(FailsSaying(run, "FAIL create: config error"));
}

TEST(ConnectorCheck, UsageErrorsExitWithTwo) {
  EXPECT_EQ(Shell(Quote(REGLO_CONNECTOR_CHECK_BINARY)).exit_code, 2);
  CommandRun help = Shell(Quote(REGLO_CONNECTOR_CHECK_BINARY) + " --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.text.find("--timeout-ms"), std::string::npos);
  CommandRun missing = Check(TestPlugin("counter"), "/nonexistent/reglo/config.json");
  EXPECT_EQ(missing.exit_code, 2) << missing.text;
  EXPECT_NE(missing.text.find("cannot read"), std::string::npos);
}

}  // namespace
