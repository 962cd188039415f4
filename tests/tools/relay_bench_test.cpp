// Tests of reglo-relay-bench's command line: it answers --help, refuses bad numbers, and never
// takes an existing folder as its scratch folder (it removes that folder when done).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_command.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

using reglo::testing::TempDir;

reglo::testing::CommandOutput Tool(const std::string& arguments) {
  return reglo::testing::RunTool(REGLO_RELAY_BENCH_BINARY, arguments);
}

TEST(RelayBenchTool, HelpSaysWhatItMeasuresAndRunsNothing) {
  const reglo::testing::CommandOutput run = Tool("--help");
  EXPECT_EQ(run.exit_code, 0) << run.text;
  EXPECT_NE(run.text.find("--events"), std::string::npos) << run.text;
  EXPECT_EQ(run.text.find("seeding"), std::string::npos) << run.text;
}

TEST(RelayBenchTool, BadUsageIsExitTwo) {
  EXPECT_EQ(Tool("--events 0").exit_code, 2);
  EXPECT_EQ(Tool("--events lots").exit_code, 2);
  EXPECT_EQ(Tool("--concurrency 0").exit_code, 2);
  EXPECT_EQ(Tool("--no-such-flag").exit_code, 2);
}

TEST(RelayBenchTool, AnExistingFolderIsRefusedAndKept) {
  TempDir dir;
  const fs::path kept = dir.path() / "notes.txt";
  std::ofstream(kept) << "someone's file";
  const reglo::testing::CommandOutput run = Tool("--events 1 --dir '" + dir.path().string() + "'");
  EXPECT_EQ(run.exit_code, 2) << run.text;
  EXPECT_NE(run.text.find("already exists"), std::string::npos) << run.text;
  EXPECT_TRUE(fs::exists(kept));
}

TEST(RelayBenchTool, AFolderThatCannotBeMadeIsExitTwoSayingWhy) {
  TempDir dir;
  const fs::path file = dir.path() / "a-file";
  std::ofstream(file) << "not a folder";
  const reglo::testing::CommandOutput run =
      Tool("--events 1 --dir '" + (file / "scratch").string() + "'");
  EXPECT_EQ(run.exit_code, 2) << run.text;
  EXPECT_NE(run.text.find("cannot create --dir"), std::string::npos) << run.text;
}

}  // namespace
