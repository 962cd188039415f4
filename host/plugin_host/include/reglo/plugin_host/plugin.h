// The plugin host: loads connector libraries through the C ABI (Boost.DLL), checks them, and wraps
// their instances in C++ objects that speak Status. ConnectorInstance is the interface the pipeline
// and engine use; LoadedPlugin makes in-process ones (reglo/isolation makes ones that run in a
// connector runner child). A LoadedPlugin is shared by every instance made from it (the library
// stays loaded while any instance lives). LoadedPlugin is thread-safe; a ConnectorInstance must be
// used by one thread at a time (the ABI's threading contract).
#pragma once

#include <reglo/connector.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/core/status.h"

namespace reglo::plugin_host {

struct PluginInfo {
  std::string name;
  std::string version;
  std::string vendor;
  std::string description;
  std::vector<std::string> entities;
  std::string config_schema_json;
  std::filesystem::path path;
  int abi_major = 0;
  int abi_minor = 0;
  bool has_push_changes = false;  // the descriptor's reserved push_changes slot is set
};

// What a connector hands to the host during a pull. Implemented by the pipeline.
class PullHandler {
 public:
  virtual ~PullHandler() = default;
  // A non-OK status stops the pull (the plugin is told through the emitter's return value).
  virtual Status OnRecord(const reglo_record& record) = 0;
  virtual Status OnCheckpoint(std::string_view cursor, uint64_t record_count) = 0;
  virtual void OnWarning(std::string_view origin, std::string_view message) = 0;
  virtual bool ShouldStop() = 0;
};

// Receives the canonical records one source record maps to.
using CanonicalCallback = std::function<Status(const reglo_record& canonical)>;
// Receives the plugin's log lines (unmasked: the receiver masks before storing).
using PluginLogCallback = std::function<void(reglo_log_level level, std::string_view message)>;

// One instance of a connector (one configured source), in this process or in a connector runner
// child: the pipeline and the engine do not care which. Destroys the plugin's instance when it
// dies.
class ConnectorInstance {
 public:
  virtual ~ConnectorInstance() = default;
  ConnectorInstance(const ConnectorInstance&) = delete;
  ConnectorInstance& operator=(const ConnectorInstance&) = delete;

  virtual const PluginInfo& plugin_info() const = 0;
  void SetLogCallback(PluginLogCallback callback) { log_ = std::move(callback); }

  virtual Status Authenticate() = 0;
  virtual Status HealthCheck() = 0;
  virtual Result<std::vector<std::string>> ListStreams() = 0;
  virtual Status Pull(const std::string& stream, const std::optional<std::string>& since_cursor,
                      PullHandler& handler) = 0;
  // May be called from inside Pull's handler for the record being delivered (the pipeline maps
  // each record as it arrives), or outside a pull for any record.
  virtual Status MapToCanonical(const reglo_record& source, const CanonicalCallback& callback) = 0;
  // The delay a RATE_LIMITED answer asked for (0 if none).
  uint32_t last_retry_after_ms() const { return retry_after_ms_; }

 protected:
  ConnectorInstance() = default;
  PluginLogCallback log_;
  uint32_t retry_after_ms_ = 0;
};

class LoadedPlugin : public std::enable_shared_from_this<LoadedPlugin> {
 public:
  // Loads the library at `path`, negotiates the ABI and checks the descriptor. The error names
  // the file and the reason.
  static Result<std::shared_ptr<LoadedPlugin>> Load(const std::filesystem::path& path);
  ~LoadedPlugin();

  const PluginInfo& info() const { return info_; }
  const reglo_connector_descriptor& descriptor() const { return *descriptor_; }
  // Creates an instance from its JSON configuration. The error names the file and the reason:
  // CreateInstanceContext(info()) + ": " + the plugin's own message.
  Result<std::unique_ptr<ConnectorInstance>> CreateInstance(const std::string& config_json,
                                                            PluginLogCallback log = {}) const;

 private:
  struct Library;
  LoadedPlugin(std::unique_ptr<Library> library, const reglo_connector_descriptor* descriptor,
               PluginInfo info);
  std::unique_ptr<Library> library_;
  const reglo_connector_descriptor* descriptor_;
  PluginInfo info_;
};

// What CreateInstance puts before the plugin's message ("plugin /p/x.so (csv) could not create an
// instance"), so that a caller can report the plugin's message against its own configuration.
std::string CreateInstanceContext(const PluginInfo& info);

// The failure of the host's own code (a callback that threw `what`) while it served a plugin's
// call: that call's result, in-process and in a connector process alike.
Status HostFailure(std::string_view what);

// Checks a descriptor against ABI 1 rules; returns the reason it is invalid, or nullopt.
std::optional<std::string> CheckDescriptor(const reglo_connector_descriptor* descriptor);

struct PluginLoadError {
  std::filesystem::path path;
  std::string reason;
};

// Every plugin found in a folder, by name, plus the libraries that were refused and why.
struct PluginSet {
  std::map<std::string, std::shared_ptr<LoadedPlugin>> plugins;
  std::vector<PluginLoadError> errors;
};

// Checks a library before it is loaded into this process (e.g. a probe in a child process); a
// non-OK answer refuses it with that message.
using PluginProbe = std::function<Status(const std::filesystem::path& library)>;

// Loads every `*.so` in `directory` (not recursive), each after `probe` (when given) accepted it.
// One bad library never stops the others.
PluginSet LoadPluginDirectory(const std::filesystem::path& directory,
                              const PluginProbe& probe = {});

}  // namespace reglo::plugin_host
