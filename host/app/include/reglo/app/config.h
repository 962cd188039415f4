// The hub's configuration file: store, plugins folder and sources. JSON with // comments allowed.
// Relative paths are resolved against the config file's folder. Errors name the key and what is
// wrong ("sources[1].connector: missing"). Plain values; thread-safe once loaded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/engine/defaults.h"
#include "reglo/storage/housekeeper.h"
#include "reglo/storage/store.h"
#include "reglo/storage/subject_sql.h"

namespace reglo::app {

// The "engine" object: how `serve` schedules and supervises (DESIGN §7 defaults). Milliseconds.
struct EngineSettings {
  int64_t default_interval_ms = engine::defaults::kDefaultIntervalMs;  // default_interval_seconds
  int64_t backoff_base_ms = engine::defaults::kBackoffBaseMs;          // backoff_base_seconds
  int64_t backoff_cap_ms = engine::defaults::kBackoffCapMs;            // backoff_cap_seconds
  int failure_limit = engine::defaults::kFailureLimit;                 // failure_limit
  int64_t stall_timeout_ms = engine::defaults::kStallTimeoutMs;        // stall_timeout_seconds
  int64_t cancel_grace_ms = engine::defaults::kCancelGraceMs;          // cancel_grace_seconds
  int threads_per_plugin = engine::defaults::kThreadsPerPlugin;        // threads_per_plugin
  bool watch_plugins = true;                                           // watch_plugins
  int64_t watch_interval_ms = engine::defaults::kWatchIntervalMs;      // watch_interval_seconds
  int64_t shutdown_timeout_ms = 30'000;                                // shutdown_timeout_seconds
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

// A listener's connection caps (the "ingest" and "admin" objects): beyond them a new connection
// first closes an idle one, else it is refused (429 per address, 503 in total). The defaults are
// http::ConnectionLimits' (host/http/include/reglo/http/server.h; static_assert in ingest.cpp).
struct ListenerCaps {
  int max_connections = 1024;            // max_connections
  int max_connections_per_address = 64;  // max_connections_per_address
};

// The "admin" object: the admin listener of `serve` (DESIGN §10).
struct AdminSettings {
  bool enabled = true;                // enabled
  std::string address = "127.0.0.1";  // listen, before the last ':'
  uint16_t port = 8470;               // listen, after it (0: any free port)
  std::string token;  // token; else $REGLO_ADMIN_TOKEN; else generated once and stored hashed
  ListenerCaps caps;
};

// The "ingest" object: the ingestion API's listener and limits (DESIGN §8). Present -> `serve`
// starts the listener.
struct IngestSettings {
  std::string address = "127.0.0.1";  // from "listen": "host:port" ("[::1]:8471" for IPv6)
  uint16_t port = 8471;
  std::filesystem::path tls_certificate_file;  // both set -> HTTPS only
  std::filesystem::path tls_private_key_file;
  int64_t max_body_bytes = 8 << 20;
  int64_t max_records = 1000;
  int64_t max_json_depth = 8;
  int64_t max_string_bytes = 64 * 1024;
  int64_t max_fields_per_record = 1000;  // fields of one pushed record (reserved members aside)
  int64_t header_timeout_ms = 10'000;    // request line + headers within this long -> else 408
  int64_t body_timeout_ms = 30'000;      // the whole body within this long -> else 408
  int64_t signature_tolerance_ms = 300'000;
  double rate_per_second = 10;  // rate_limit.requests_per_second: keys without their own
  int64_t rate_burst = 20;      // rate_limit.burst
  int threads = 8;
  int store_connections = 0;  // 0: 1 for SQLite, 4 for PostgreSQL
  ListenerCaps caps;
};

// The "retention" object (issue #16): how long history is kept (policy: runs_days,
// run_logs_days, events_days, deliveries_days, dead_letters_days, audit_days, 0 keeping forever;
// batch_rows)
// and how often `serve` prunes in the background. `reglo-hub housekeep` uses the same policy.
// The personal data of one source (issue #18): "retention.personal_data" (the hub default) and
// a source's own "personal_data" (each key it sets overrides the default's).
struct PersonalDataSettings {
  // dead_letters_days, run_logs_days (0: only the hub's general retention), inactive_years (0:
  // off) and inactive_students ("flag" or "erase").
  storage::PersonalDataPolicy policy;
  // after_erasure: what a pull of an erased record does, "stay_erased" or "recreate".
  std::string after_erasure = "stay_erased";
};

struct RetentionSettings {
  bool enabled = true;            // enabled: serve's background passes
  int64_t interval_ms = 600'000;  // interval_seconds: between two passes (the first at start)
  storage::RetentionPolicy policy;
  PersonalDataSettings personal_data;  // personal_data: the hub default
  // The settings of the sources that have their own "personal_data", the hub default merged with
  // it (by source id); every other source has the hub default (PersonalDataOf). Not one entry
  // per source: a hub of 100,000 sources would hold 100,000 copies of the default.
  std::map<std::string, PersonalDataSettings> personal_data_by_source;
  std::vector<std::string> source_ids;  // every config source's, in the file's order
};

// The personal-data settings of config source `source_id`: its own merged with the hub
// default, or the default.
const PersonalDataSettings& PersonalDataOf(const RetentionSettings& retention,
                                           const std::string& source_id);

struct HubConfig {
  std::filesystem::path path;         // the config file itself
  std::string store_url;              // as written, e.g. "sqlite:var/hub.db"
  std::filesystem::path sqlite_path;  // resolved, for "sqlite:" stores
  std::filesystem::path plugins_dir;  // resolved
  // plugin_cache_dir, resolved: where serve keeps its private copies of the plugins. Empty when
  // not set: then .reglo-plugin-cache next to the config file (a packaged hub's /etc is read-only,
  // so its config sets a folder under /var/lib/reglo).
  std::filesystem::path plugin_cache_dir;
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
  std::optional<IngestSettings> ingest;  // the "ingest" object, when present
  RetentionSettings retention;
};

// `reglo-hub agent`'s config file (issue #6): the same plugins folder and sources as the hub's,
// plus where to push (a hub URL and an agent key), the spool and the pacing. Milliseconds.
struct AgentConfig {
  std::filesystem::path path;
  std::filesystem::path plugins_dir;
  std::vector<storage::SourceRow> sources;
  std::map<std::string, int64_t> interval_ms;  // by source id
  std::string hub_url;                  // hub.url: http(s)://host:port of the hub's ingest listener
  std::string api_key;                  // hub.api_key, else $REGLO_AGENT_API_KEY
  std::string signing_secret;           // hub.signing_secret, else $REGLO_AGENT_SIGNING_SECRET
  std::filesystem::path ca_file;        // hub.ca_file: extra CA for https (default: the system's)
  bool tls_verify = true;               // hub.tls_verify
  int64_t request_timeout_ms = 30'000;  // hub.timeout_seconds
  std::filesystem::path spool_dir;      // spool.dir (default "spool" next to the config)
  // secrets_file (default "reglo-agent.key" next to the config): the key file the agent derives
  // its masking key from (created on first use, like the hub's).
  std::filesystem::path secrets_file;
  int64_t spool_max_bytes = 256 << 20;   // spool.max_bytes
  int64_t batch_records = 500;           // records per push
  int64_t default_interval_ms = 60'000;  // interval_seconds
  int64_t backoff_base_ms = 1'000;       // backoff_base_seconds
  int64_t backoff_cap_ms = 300'000;      // backoff_cap_seconds
};

Result<AgentConfig> LoadAgentConfig(const std::filesystem::path& path);
// Checks agent config text; `base_dir` resolves relative paths; reads the environment for the
// key and secret when the file has none. Exposed for tests.
Result<AgentConfig> ParseAgentConfig(const std::string& text,
                                     const std::filesystem::path& base_dir);

// Reads and checks the config file at `path`.
Result<HubConfig> LoadConfig(const std::filesystem::path& path);
// Checks config text; `base_dir` resolves relative paths. Exposed for tests.
Result<HubConfig> ParseConfig(const std::string& text, const std::filesystem::path& base_dir);

}  // namespace reglo::app
