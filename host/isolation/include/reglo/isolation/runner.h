// The child side of process isolation: the main of reglo-connector-runner. It loads ONE connector
// library through the plugin host and serves the hub's requests (protocol.h) on the pipes it was
// started with (stdin/stdout), so a plugin that crashes, leaks or hangs takes only this process
// down. Runs single-threaded, plus one thread that ends the process when the hub goes away.
#pragma once

namespace reglo::isolation {

// `reglo-connector-runner [--memory-limit-mb N]`: serves requests on stdin/stdout until the hub
// closes stdin or sends kShutdown. Returns the process exit code (protocol.h kExit*).
int RunnerMain(int argc, char** argv);

}  // namespace reglo::isolation
