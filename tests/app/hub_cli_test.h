// Fixture for running `reglo-hub` subcommands as an operator would: a fresh temp folder holding a
// hub.json of the test's own (no sources), and the binary (REGLO_HUB_BINARY) run on it. Test-only:
// each test owns its fixture and folder, removed with everything in it when the test ends.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "run_command.h"
#include "temp_dir.h"

namespace reglo::testing {

class HubCliTest : public ::testing::Test {
 protected:
  // `store`: hub.json's "store" (a relative SQLite path is under the folder).
  HubCliTest(const std::string& prefix, std::string store)
      : temp_(prefix), store_(std::move(store)) {}

  void SetUp() override {
    ASSERT_FALSE(dir_.empty());
    WriteConfig("");
  }

  // Writes hub.json; `extra` is more top-level keys, each followed by a comma.
  void WriteConfig(const std::string& extra) {
    std::ofstream(dir_ / "hub.json") << R"({"store": ")" << store_ << R"(", "plugins_dir": "p", )"
                                     << extra << R"( "sources": []})";
  }

  // `reglo-hub --config <hub.json> <args>`, with `env` (NAME=value ...) set for it.
  CommandOutput Hub(const std::string& args, const std::string& env = "") {
    return RunCommand(env + " " + REGLO_HUB_BINARY + " --config " + (dir_ / "hub.json").string() +
                      " " + args);
  }

  TempDir temp_;
  const std::filesystem::path dir_ = temp_.path();

 private:
  const std::string store_;
};

}  // namespace reglo::testing
