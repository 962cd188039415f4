// The ingestion API listener of `reglo-hub serve` (config "ingest"): wires the concrete store,
// the hub master key and the system clock into an ingest::IngestService on an http::Server.
// Owns both; destroying it stops the listener (requests in flight finish first). Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "reglo/app/config.h"
#include "reglo/core/status.h"

namespace reglo::ingest {
class IngestStats;
}
namespace reglo::http {
class Server;
struct ConnectionLimits;
}  // namespace reglo::http

namespace reglo::app {

// A listener's caps from the config, for http::ServerOptions (the ingest and admin listeners).
http::ConnectionLimits ToConnectionLimits(const ListenerCaps& caps);

class IngestListener {
 public:
  // Starts listening as configured; kConfigError without an "ingest" object or master key file.
  static Result<std::unique_ptr<IngestListener>> Start(const HubConfig& config);
  ~IngestListener();
  IngestListener(const IngestListener&) = delete;
  IngestListener& operator=(const IngestListener&) = delete;

  std::string url() const;
  // The service's per-key counters (for the admin listener's /metrics and agents list).
  const ingest::IngestStats& stats() const;
  // The listener itself (its connection and refusal counters, for /metrics).
  const http::Server& server() const;
  void Stop();

  struct Parts;

 private:
  explicit IngestListener(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace reglo::app
