// The connector conformance kit: loads a connector library through the real plugin host and checks
// that it keeps the ABI's promises (descriptor, config schema, pulls, cursors, replay, mapping,
// cancellation, failures), printing one PASS/FAIL line per check and a summary.
// Ownership: the kit owns the loaded plugin and its one instance for the duration of RunChecks.
// Thread-safety: RunChecks is meant to run once per process. It starts one watchdog thread that
// ends the process (exit 1) when a plugin call ignores should_stop past its bound, because an
// in-process kit cannot take back control from a plugin that never returns.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace reglo::connector_check {

struct Options {
  std::filesystem::path plugin;       // the connector library (.so)
  std::filesystem::path config_path;  // the connector's own configuration (JSON object)
  std::vector<std::string> streams;   // --stream; empty: every stream the instance lists
  // A pull that runs longer than this is asked to stop (should_stop), as the engine's watchdog
  // does.
  uint32_t timeout_ms = 60'000;
  // How long a plugin may take to return after should_stop turned true.
  uint32_t cancel_bound_ms = 2'000;
  // At most this many intermediate checkpoints are replayed per stream (evenly sampled).
  size_t max_replays = 16;
  // Origins ("allievi.csv:28") of source rows known to be defective in the test data. Problems of
  // these records (no externalId, rejected by validation) are listed as expected instead of
  // failing; every other check still covers them.
  std::vector<std::string> known_bad;
  // --isolation process: the plugin runs in a reglo-connector-runner child (as a source with
  // isolation "process"), so a crash fails a check instead of ending the kit.
  bool process_isolation = false;
  std::filesystem::path
      runner;  // the runner binary; empty: next to the kit, or $REGLO_CONNECTOR_RUNNER
};

// Exit codes of the reglo-connector-check command.
inline constexpr int kExitPass = 0;
inline constexpr int kExitFail = 1;
inline constexpr int kExitUsage = 2;

// Runs every check, printing to `out`. Returns kExitPass when all checks pass, kExitFail otherwise
// (kExitUsage when the configuration file cannot be read).
int RunChecks(const Options& options, std::FILE* out);

}  // namespace reglo::connector_check
