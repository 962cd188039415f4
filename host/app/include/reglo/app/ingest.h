// The ingestion API listener of `reglo-hub serve` (config "ingest"): the concrete store, the hub
// master key and the system clock wired into an ingest::IngestService on an http::Server.
// Ownership: an IngestListener owns both; destroying it (where both types are complete: include
// reglo/http/server.h and reglo/ingest/ingest_service.h) stops the server, requests in flight
// finishing first, then drops the service. Thread-safety: both parts are thread-safe.
#pragma once

#include <memory>
#include <string>

#include "reglo/app/config.h"
#include "reglo/core/status.h"

namespace reglo::ingest {
class IngestService;
}
namespace reglo::http {
class Server;
struct ConnectionLimits;
}  // namespace reglo::http

namespace reglo::app {

// A listener's caps from the config, for http::ServerOptions (the ingest and admin listeners).
http::ConnectionLimits ToConnectionLimits(const ListenerCaps& caps);

// A listener's (http::Server::Start) failure with the config key that set what it failed on, so
// the operator knows what to change: "... Address already in use (set by admin.listen in
// /etc/reglo/hub.json)"; a TLS file names its ingest.tls_* key. `listener`: "admin" or "ingest".
Status ListenerFailure(const HubConfig& config, const std::string& listener, const Status& status);

struct IngestListener {
  // Its per-key counters are what the admin listener's /metrics and agents list show.
  std::unique_ptr<ingest::IngestService> service;
  std::unique_ptr<http::Server> server;  // declared last: stopped before the service goes
};

// Starts listening as configured; kConfigError without an "ingest" object or master key file.
Result<IngestListener> StartIngestListener(const HubConfig& config);

}  // namespace reglo::app
