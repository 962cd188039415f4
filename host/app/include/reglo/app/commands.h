// The reglo-hub commands (sync --once, preview, plugins list, migrate) as functions of a loaded
// config, so tests drive them without a shell. This is the one place that wires concrete types
// (SQLite store, plugin host, pipeline) together. Each call is independent; not for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "reglo/app/config.h"
#include "reglo/core/clock.h"
#include "reglo/plugin_host/plugin.h"
#include "reglo/storage/store.h"

namespace reglo::app {

// Process exit codes, documented in the README.
enum ExitCode : int {
  kExitOk = 0,        // success
  kExitFailure = 1,   // a run (or the command) failed
  kExitUsage = 2,     // bad command line or bad configuration
  kExitWarnings = 3,  // success, but with warnings or rejected records
};

// Opens the store the config names and applies pending migrations, logging them (info).
Result<std::unique_ptr<storage::Store>> OpenStore(const HubConfig& config);

// What OpenStore logs of a migration step of `store` (as shown, without a password): one line
// for a new store's whole schema, at its first step; one per step of an upgrade, since one that
// rebuilds a table takes seconds per million records; nothing for a new store's later steps.
std::optional<std::string> MigrationLogLine(const storage::MigrationStep& step,
                                            std::string_view store);

// A config error unless the plugins folder can be read: it names plugins_dir and the folder.
Status CheckPluginsDir(const std::filesystem::path& config_path,
                       const std::filesystem::path& plugins_dir);

// Finds the source's plugin in `plugins_dir`'s loaded set and creates its instance, or explains
// why not. What the configuration got wrong is a kConfigError against the config file's key: an
// unknown connector names "sources[N].connector" with the plugins loaded, options the plugin
// refused "sources[N].options.<the key it named>" with its message. `index` is the source's
// position in the file's "sources". Shared by sync, preview and the agent.
Result<std::unique_ptr<plugin_host::ConnectorInstance>> CreateConnector(
    const std::filesystem::path& config_path, size_t index,
    const std::filesystem::path& plugins_dir, const plugin_host::PluginSet& plugins,
    const storage::SourceRow& source);

int SyncOnce(const HubConfig& config, const std::optional<std::string>& source_id,
             const Clock& clock, std::ostream& out, std::ostream& err);
// Prints a source's mapped records from the beginning, or from the stored cursors when
// `from_cursor` is set; never writes anything.
int PreviewSource(const HubConfig& config, const std::string& source_id, int64_t limit,
                  bool from_cursor, std::ostream& out, std::ostream& err);
int ListPlugins(const HubConfig& config, std::ostream& out, std::ostream& err);
int Migrate(const HubConfig& config, std::ostream& out, std::ostream& err);
// `admin-token reset`: a new admin token, printed once; the store keeps its hash. A token set in
// the config file or $REGLO_ADMIN_TOKEN takes precedence (then this says so and fails).
int ResetAdminToken(const HubConfig& config, const Clock& clock, std::ostream& out,
                    std::ostream& err);
// `admin-tokens create|list|revoke` (issue #18 §3): named admin tokens with a role. create prints
// the token once (the store keeps its hash); create and revoke write an audit row with the
// change, in one transaction.
int CreateAdminTokenCommand(const HubConfig& config, const std::string& name,
                            const std::string& role, const Clock& clock, std::ostream& out,
                            std::ostream& err);
int ListAdminTokensCommand(const HubConfig& config, std::ostream& out, std::ostream& err);
int RevokeAdminTokenCommand(const HubConfig& config, const std::string& name, const Clock& clock,
                            std::ostream& out, std::ostream& err);

}  // namespace reglo::app
