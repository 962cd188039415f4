// Process isolation, the hub's side: a ConnectorInstance whose plugin runs in its own
// reglo-connector-runner child (runner.h), spoken to over a socketpair with the framed protocol of
// protocol.h, and the probe that vets a library in a child before the hub loads it in-process.
// A plugin that crashes, aborts, runs out of its memory limit or hangs ends only its runner: the
// call in progress returns an error saying what happened and when ("connector process crashed:
// signal 11 (SIGSEGV) during pull of stream 'student'"). Every child is reaped; the hub's
// descriptors never leak into it. Ownership: a ProcessConnector owns its child and its socket.
// Thread-safety: like any ConnectorInstance, one thread at a time — except Kill(), which any
// thread may call at any time (the engine's watchdog does).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/isolation/protocol.h"
#include "reglo/plugin_host/plugin.h"

namespace reglo::isolation {

// Where a source's plugin runs: in the hub's process (default) or in a runner child.
enum class Isolation { kInProcess, kProcess };
// "in_process" | "process"; nullopt for anything else.
std::optional<Isolation> ParseIsolation(std::string_view text);
std::string_view IsolationName(Isolation isolation);

struct RunnerOptions {
  std::filesystem::path runner;     // the reglo-connector-runner binary; empty: DefaultRunnerPath()
  uint64_t memory_limit_mb = 1024;  // the child's data limit (setrlimit RLIMIT_DATA); 0: none
  // Starting a runner (load and describe the library) and each step of a probe must answer
  // within this; a child that does not is killed.
  std::chrono::milliseconds start_timeout{30'000};
  std::chrono::milliseconds term_grace{2'000};        // Kill(): SIGTERM, then SIGKILL after this
  std::chrono::milliseconds shutdown_timeout{5'000};  // destroying the instance and exiting
};

// $REGLO_CONNECTOR_RUNNER when set, else reglo-connector-runner next to the running executable.
std::filesystem::path DefaultRunnerPath();

class ProcessConnector final : public plugin_host::ConnectorInstance {
 public:
  // Starts a runner and loads `library` in it (ABI negotiation and descriptor checks happen
  // there). The error names the file and the reason, or says how the child ended.
  static Result<std::unique_ptr<ProcessConnector>> Start(const RunnerOptions& options,
                                                         const std::filesystem::path& library);
  // Destroys the instance, lets the runner exit (SIGKILL past shutdown_timeout) and reaps it.
  ~ProcessConnector() override;

  // Creates the plugin's instance in the runner from its JSON configuration; `deadline` bounds
  // the wait (nullopt: none, a hung create is for the engine's watchdog to Kill()).
  Status Create(const std::string& config_json,
                std::optional<std::chrono::milliseconds> deadline = std::nullopt);
  // Destroys the instance; the runner stays for another Create().
  Status Destroy(std::optional<std::chrono::milliseconds> deadline = std::nullopt);

  const plugin_host::PluginInfo& plugin_info() const override { return info_; }
  Status Authenticate() override;
  Status HealthCheck() override;
  Result<std::vector<std::string>> ListStreams() override;
  Status Pull(const std::string& stream, const std::optional<std::string>& since_cursor,
              plugin_host::PullHandler& handler) override;
  Status MapToCanonical(const reglo_record& source,
                        const plugin_host::CanonicalCallback& callback) override;

  // By default the runner answers should_stop from the last stop the hub sent it, so a stop is
  // seen a few milliseconds late but a pull never waits for the hub. Synchronous: every
  // should_stop waits for the handler's answer, exactly as in-process (slower; the conformance
  // kit uses it).
  void set_synchronous_stop(bool synchronous) { synchronous_stop_ = synchronous; }

  // Thread-safe. Ends the runner: SIGTERM now, SIGKILL when it is still there term_grace later.
  // The call in progress returns an error naming `reason`.
  void Kill(const std::string& reason);
  // While the runner lives: its process id.
  pid_t pid() const { return pid_; }
  // How the runner ended ("connector process crashed: signal 11 (SIGSEGV) during pull of stream
  // 'x'"), or nullopt while it runs.
  const std::optional<std::string>& ended() const { return ended_; }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  ProcessConnector(const RunnerOptions& options, std::filesystem::path library);

  Status Spawn();
  // Sends one request; the reply is read by Await().
  Status Send(protocol::Type type, std::string_view body = {});
  // Reads the next frame that is not a log line (logs go to the log callback). An error when the
  // runner ended, with how it ended.
  Result<protocol::Frame> Next();
  // Reads the reply of a simple request: its status (kResult) or `expected`.
  Result<protocol::Frame> Await(protocol::Type expected);
  Status ResultOf(const protocol::Frame& frame);
  // The child broke the protocol (`cause`): kills it, reaps it, and explains it.
  Status Ended(const Status& cause);
  // The child closed its end or cannot be written to: reaps it and explains why it went.
  Status EndedByRunner();
  bool WaitForExit(std::chrono::milliseconds timeout, bool drain);
  void Reap();
  void Signal(int signal);
  Status Gone() const;
  Status Call(protocol::Type type, const char* phase);
  std::string Who() const;

  RunnerOptions options_;
  std::filesystem::path library_;
  plugin_host::PluginInfo info_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int socket_ = -1;
  protocol::FrameReader reader_{-1};
  protocol::FrameWriter writer_{-1};
  std::string phase_ = "start";
  std::optional<SteadyTime> deadline_;
  std::optional<std::string> ended_;
  // During a pull: the record being delivered and what it maps to (the runner maps as it emits).
  const reglo_record* premapped_ = nullptr;
  std::vector<protocol::OwnedRecord> canonical_;
  size_t canonical_count_ = 0;
  Status premap_status_;
  bool in_pull_ = false;
  bool synchronous_stop_ = false;
  // The log callback threw (the hub's side failed): the current call's result, as in-process.
  Status host_failure_;

  std::mutex kill_mutex_;  // guards the kill state below (Kill() runs on other threads)
  bool reaped_ = false;
  std::string kill_reason_;
  int kill_signal_ = 0;  // the last signal Kill() sent
  SteadyTime term_sent_at_{};
};

// A library's configurations to try in the probe: (label, config JSON) pairs, e.g. one per source
// that will run the plugin in the hub's process.
using ProbeConfigs = std::function<std::vector<std::pair<std::string, std::string>>(
    const plugin_host::PluginInfo& described)>;

// Vets `library` in a runner child before the hub loads it into its own process: load, ABI
// negotiation, descriptor checks, then create + destroy with each configuration `configs` gives.
// A create that fails cleanly is fine (the runs will report it); a crash, a hang (start_timeout)
// or a refused descriptor refuses the library, with a reason naming the file.
Result<plugin_host::PluginInfo> ProbePlugin(const RunnerOptions& options,
                                            const std::filesystem::path& library,
                                            const ProbeConfigs& configs = {});

}  // namespace reglo::isolation
