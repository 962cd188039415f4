// The hub's configuration file: store, plugins folder and sources. JSON with // comments allowed.
// Relative paths are resolved against the config file's folder. Errors name the key and what is
// wrong ("sources[1].connector: missing"). Plain values; thread-safe once loaded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/store.h"

namespace reglo::app {

// The "engine" object: how `serve` schedules and supervises (DESIGN §7 defaults). Milliseconds.
struct EngineSettings {
  int64_t default_interval_ms = 60'000;  // default_interval_seconds
  int64_t backoff_base_ms = 5'000;       // backoff_base_seconds
  int64_t backoff_cap_ms = 600'000;      // backoff_cap_seconds
  int failure_limit = 10;                // failure_limit
  int64_t stall_timeout_ms = 300'000;    // stall_timeout_seconds
  int64_t cancel_grace_ms = 10'000;      // cancel_grace_seconds
  int threads_per_plugin = 4;            // threads_per_plugin
  bool watch_plugins = true;             // watch_plugins
  int64_t watch_interval_ms = 2'000;     // watch_interval_seconds
  int64_t shutdown_timeout_ms = 30'000;  // shutdown_timeout_seconds
  int64_t lease_ms = 0;  // lease_seconds; 0: stall_timeout + cancel_grace + 60 s (the engine's)
  int64_t runner_memory_limit_mb = 1024;  // runner_memory_limit_mb: each runner child's; 0: none
};

// The "relay" object: event delivery (DESIGN §9). Milliseconds.
struct RelaySettings {
  int64_t timeout_ms = 10'000;             // timeout_seconds: send a request and get its response
  int64_t connect_timeout_ms = 5'000;      // connect_timeout_seconds
  int concurrency = 4;                     // requests in flight per subscription
  int batch_size = 500;                    // outbox events read at a time
  int64_t poll_interval_ms = 1'000;        // poll_interval_seconds: idle look for new events
  int64_t lease_ms = 60'000;               // lease_seconds: one instance per subscription
  std::vector<int64_t> retry_schedule_ms;  // retry_schedule_seconds; empty: DESIGN §9
  // relay.nats (present: the NATS JetStream sink is on, as subscription "nats").
  bool nats = false;
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string nats_stream = "REGLO_EVENTS";
  std::string nats_subject_prefix = "reglo.events";
  std::vector<std::string> nats_event_types;
  std::vector<std::string> nats_company_ids;
};

// One entry of "subscriptions": a webhook managed by the config.
struct ConfiguredSubscription {
  std::string id;
  std::string url;
  std::vector<std::string> event_types;
  std::vector<std::string> company_ids;
  std::string secret;  // whsec_...: from "secret", or the variable "secret_env" names
  bool enabled = true;
};

// The "admin" object: the admin listener of `serve` (DESIGN §10).
struct AdminSettings {
  bool enabled = true;                // enabled
  std::string address = "127.0.0.1";  // listen, before the last ':'
  uint16_t port = 8470;               // listen, after it (0: any free port)
  std::string token;  // token; else $REGLO_ADMIN_TOKEN; else generated once and stored hashed
};

struct HubConfig {
  std::filesystem::path path;         // the config file itself
  std::string store_url;              // as written, e.g. "sqlite:var/hub.db"
  std::filesystem::path sqlite_path;  // resolved, for "sqlite:" stores
  std::filesystem::path plugins_dir;  // resolved
  std::vector<storage::SourceRow> sources;
  EngineSettings engine;
  std::map<std::string, int64_t> interval_ms;  // by source id, from sources[i].interval_seconds
  // Ids of the sources whose plugin runs in its own runner child (sources[i].isolation "process").
  std::set<std::string> process_isolated;
  // secrets_file, resolved; empty when not set (keys.h: then $REGLO_SECRETS_FILE or the default).
  std::filesystem::path secrets_file;
  RelaySettings relay;
  std::vector<ConfiguredSubscription> subscriptions;
  AdminSettings admin;
};

// Reads and checks the config file at `path`.
Result<HubConfig> LoadConfig(const std::filesystem::path& path);
// Checks config text; `base_dir` resolves relative paths. Exposed for tests.
Result<HubConfig> ParseConfig(const std::string& text, const std::filesystem::path& base_dir);

}  // namespace reglo::app
