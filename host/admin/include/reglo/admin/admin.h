// The admin listener (DESIGN §10, issue #5): the JSON admin API under /api/admin, /healthz,
// /readyz, /metrics and the Integration Console (embedded at build time), on host/http's Server.
// Every route but /healthz and the console's static files needs an admin token (a guard runs
// before the route lookup, so a refused request learns nothing), and a role (access.h): a token
// without it gets 403; every state-changing route writes an audit row (issue #18 §3). The API
// contract is docs/admin-api.md. Ownership: the router owns a small pool of stores opened from the
// factory, and the listener owns the router; the engine (EngineControl), Clock and MetricsRegistry
// must outlive the listener. Thread-safety: requests are served on the listener's threads; the
// engine and registry are thread-safe, each store is used by one request at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "reglo/admin/metrics.h"
#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/engine/engine_control.h"
#include "reglo/http/router.h"
#include "reglo/http/server.h"
#include "reglo/storage/housekeeper.h"

namespace reglo::relay {
class Relay;
}
namespace reglo::ingest {
class IngestStats;
}
namespace reglo::security {
class MasterKey;
}

namespace reglo::admin {

struct AdminOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8470;                // 0: any free port
  http::ConnectionLimits connections;  // the listener's caps (config admin.max_connections...)
  // Hex SHA-256 of the admin token (token.h). With `token_in_store`, the stored hash is read
  // again at each request, so `reglo-hub admin-token reset` takes effect at once.
  std::string token_hash;
  bool token_in_store = false;
  // Sources from the config file: read-only through the API (PUT and DELETE answer 409 naming
  // the file), since the next start would apply the file again and silently undo the change;
  // other sources are API-created and persisted.
  std::set<std::string> config_source_ids;
  std::filesystem::path config_file;  // named in those refusals ("" : "the configuration file")
  // Set as options.base_dir of API-created sources that do not give one (relative paths).
  std::string base_dir;
  std::filesystem::path plugins_dir;  // shown by /readyz when a connector is missing
  // Serve the console from this folder instead of the copy built into the binary (development).
  std::filesystem::path console_dir;
};

struct AdminDeps {
  engine::EngineControl& engine;
  engine::StoreFactory open_store;
  const Clock& clock;
  MetricsRegistry& metrics;
  // Optional parts, borrowed (they must outlive the listener); null when `serve` runs without
  // them. The relay's live state (subscription state, delivery counters); the ingestion API's
  // per-key counters (GET /api/admin/agents); the master key that seals the signing secrets of
  // subscriptions created through the API (without it, POST /api/admin/subscriptions is a 503).
  reglo::relay::Relay* relay = nullptr;
  const ingest::IngestStats* ingest_stats = nullptr;
  const security::MasterKey* master_key = nullptr;
};

// One route of the admin listener, for tests and docs.
struct RouteInfo {
  std::string method;
  std::string pattern;
  bool needs_token = true;
  std::string role;    // the least role allowed ("viewer", "operator", "admin"); "" when public
  std::string action;  // the audit log's action of a state-changing route; "" for a read
};

// The admin router (no listener): for tests that call it directly, and for StartAdminServer.
// Also returns the route table. The router keeps `options` (moved in: with 100,000 sources the
// config's source ids alone are megabytes).
std::shared_ptr<http::Router> BuildAdminRouter(AdminOptions options, AdminDeps deps,
                                               std::vector<RouteInfo>* routes = nullptr);

// The hub's own metrics (runs, records, lag, sources by status, backoff, plugins), reading the
// engine and the store; add it to the registry the admin listener renders.
std::shared_ptr<MetricsProvider> MakeHubMetrics(engine::EngineControl& engine,
                                                engine::StoreFactory open_store,
                                                const Clock& clock);

// The relay's metrics: lag (events behind) per subscription, deliveries by outcome since the
// worker started, pending and dead-lettered deliveries, subscriptions by state. `relay` may be
// null (then only what the store knows). The relay must outlive the provider.
std::shared_ptr<MetricsProvider> MakeRelayMetrics(const relay::Relay* relay,
                                                  engine::StoreFactory open_store);

// The ingestion API's metrics from its per-key counters: requests by key prefix and status,
// refusals by reason, records by outcome, rate-limited requests, last push. `stats` must outlive
// the provider.
std::shared_ptr<MetricsProvider> MakeIngestMetrics(const ingest::IngestStats& stats);

// Retention's metrics (issue #16): rows pruned per table, passes, bytes given back, and the
// table sizes of the last pass. `totals` must outlive the provider.
std::shared_ptr<MetricsProvider> MakeHousekeepingMetrics(const storage::HousekeepingTotals& totals);

// Binds and serves the admin router on an http::Server named "admin" (the console is at its
// url() + "/"); the error names the address (e.g. port in use).
Result<std::unique_ptr<http::Server>> StartAdminServer(AdminOptions options, AdminDeps deps);

// The console files built into this binary (host/admin/console/ at build time), by path
// relative to that folder ("index.html", "app.js"); empty when the folder was empty or missing.
struct ConsoleAsset {
  std::string_view path;
  std::string_view content;
};
const std::vector<ConsoleAsset>& EmbeddedConsoleAssets();

}  // namespace reglo::admin
