// EngineControl: what an operator surface (the admin API, its metrics) may do with the running
// engine - its commands, live source changes and snapshots - without the engine's lifecycle
// (Start, Tick, Stop), so such a surface depends on this narrow interface, not on engine.h.
// Ownership: an implementation (engine::Engine) owns its state; a caller borrows it and must not
// outlive it. Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/engine/scheduler.h"
#include "reglo/isolation/process_connector.h"
#include "reglo/storage/store.h"

namespace reglo::engine {

// One configured source and its schedule.
struct SourceConfig {
  storage::SourceRow row;
  Duration interval{0};  // 0: EngineOptions::default_interval
  isolation::Isolation isolation = isolation::Isolation::kInProcess;
};

// Opens a whole store (the hub's factory); the engine and the admin listener each open their own.
using StoreFactory = std::function<Result<std::unique_ptr<storage::Store>>()>;

// What the engine knows about one source right now (for the CLI, the admin API and tests).
struct SourceSnapshot {
  std::string id;
  std::string connector;
  SourceState state = SourceState::kIdle;
  std::string status;                  // as stored: new / ok / warning / failed / paused
  std::string reason;                  // why paused, failed or retrying
  HoldCause cause = HoldCause::kNone;  // what holds it when paused or failed
  int consecutive_failures = 0;
  int64_t runs_finished = 0;
  int64_t last_run_id = 0;
  int64_t current_run_id = 0;       // the run in progress (0: none, or not begun yet)
  std::string last_plugin_version;  // the plugin version the last finished run used
  Duration next_run_in{0};
};

struct PluginSnapshot {
  std::string name;
  std::string version;
  std::string abi_version;         // "1.0": the ABI major.minor the plugin was built against
  std::string config_schema_json;  // its config's JSON Schema (secrets: "x-reglo-secret")
  std::filesystem::path file;
  bool loaded = false;
  bool quarantined = false;
  std::string reason;  // why quarantined or not loaded
};

// The audit of one operator command (issue #18 §3). The engine writes `row` in the control-store
// transaction that stores the command's effect (outcome "ok"), or alone as "failed" with the error
// when that transaction fails, and then sets `written`. A refusal writes nothing: the caller
// records it.
struct CommandAudit {
  storage::AuditRow row;
  bool written = false;
};

class EngineControl {
 public:
  virtual ~EngineControl() = default;

  // Operator commands; a refusal (an unknown source, a command its state does not allow) is the
  // returned Status. `audit` (null: not audited) is written with the command's effect. When that
  // write fails the command still holds in the running engine and the store's error is returned.
  virtual Status RunNow(const std::string& source_id, CommandAudit* audit) = 0;
  virtual Status Pause(const std::string& source_id, CommandAudit* audit) = 0;
  virtual Status Resume(const std::string& source_id, CommandAudit* audit) = 0;
  virtual Status Retry(const std::string& source_id, CommandAudit* audit) = 0;

  // Sources added, changed and removed while the engine runs (the caller persists them).
  // AddSource: kAlreadyExists when the id is taken, or while a pull of a removed source of that
  // id is still stopping; the source is due at once (paused when disabled, failed with the reason
  // when its connector is not loaded). UpdateSource: kNotFound for an unknown id; the new
  // definition is used from the next run (a pull in progress finishes on the old one), its status
  // and failures are kept, enabling/disabling resumes/pauses it. RemoveSource: kNotFound for an
  // unknown id; a pull in progress is told to stop and can no longer commit; what it did before
  // stays, and nothing is scheduled for the id any more.
  virtual Status AddSource(SourceConfig source) = 0;
  virtual Status UpdateSource(SourceConfig source) = 0;
  virtual Status RemoveSource(const std::string& source_id) = 0;
  // The definition the engine uses for `source_id` (interval resolved), if it has the source.
  virtual std::optional<SourceConfig> SourceDefinition(const std::string& source_id) const = 0;

  virtual std::vector<SourceSnapshot> Sources() const = 0;
  virtual std::optional<SourceSnapshot> Source(const std::string& source_id) const = 0;
  virtual std::vector<PluginSnapshot> Plugins() const = 0;
};

}  // namespace reglo::engine
