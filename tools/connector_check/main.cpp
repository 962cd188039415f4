// reglo-connector-check: the conformance kit's command line. Parses options and runs the checks.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "conformance.h"

int main(int argc, char** argv) {
  reglo::connector_check::Options options;
  std::string plugin;
  std::string config;
  CLI::App app{
      "Checks that a Reglo connector plugin keeps the ABI's promises: descriptor and config "
      "schema, health check, full pull, second pull, replay from every checkpoint, foreign "
      "cursors, external ids, mapping to valid canonical records, cancellation, and failed "
      "pulls. Prints one PASS/FAIL line per check. Exit 0: all passed; 1: a check failed; 2: "
      "bad usage.",
      "reglo-connector-check"};
  app.add_option("plugin", plugin, "the connector library (.so)")->required();
  app.add_option("--config", config,
                 "the connector's configuration: a JSON object (// comments allowed); "
                 "\"base_dir\" defaults to the file's folder, as in the hub")
      ->required();
  app.add_option("--stream", options.streams, "check only this stream (repeatable)");
  app.add_option("--timeout-ms", options.timeout_ms,
                 "ask a pull to stop (should_stop) after this long")
      ->default_val(options.timeout_ms);
  app.add_option("--cancel-bound-ms", options.cancel_bound_ms,
                 "how long a pull may take to return after should_stop turned true")
      ->default_val(options.cancel_bound_ms);
  app.add_option("--max-replays", options.max_replays,
                 "at most this many intermediate checkpoints replayed per stream")
      ->default_val(options.max_replays);
  app.add_option("--known-bad", options.known_bad,
                 "origin (\"file.csv:28\") of a source row known to be defective in the test data: "
                 "its missing id or rejection is listed as expected, not failed (repeatable)");
  std::string isolation = "in_process";
  app.add_option("--isolation", isolation,
                 "where the plugin runs: in_process (the kit's own process) or process (a "
                 "reglo-connector-runner child, as a source with \"isolation\": \"process\")")
      ->check(CLI::IsMember({"in_process", "process"}))
      ->default_val(isolation);
  std::string runner;
  app.add_option("--runner", runner,
                 "with --isolation process: the reglo-connector-runner binary (default: next to "
                 "this program, or $REGLO_CONNECTOR_RUNNER)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : reglo::connector_check::kExitUsage;
  }
  options.plugin = plugin;
  options.config_path = config;
  options.process_isolation = isolation == "process";
  options.runner = runner;
  return reglo::connector_check::RunChecks(options, stdout);
}
