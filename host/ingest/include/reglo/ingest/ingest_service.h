// IngestService: the ingestion API's handlers (DESIGN §8), mounted on an http::Router:
//   POST /api/hub/ingest  a signed batch from a remote agent -> the pipeline (push.h), 200 with
//                         per-record outcomes; every refusal is problem+json and writes nothing.
//   GET  /api/hub/cursor  (signed alike) where the hub has the key's source, per stream.
// Checks, in order: content type (415), API key (401: missing, unknown, revoked), IP allowlist
// (403), rate limit (429 + Retry-After), body size (413, before reading, by the server), then on
// the body: Standard Webhooks signature and timestamp (401), request-id replay (stored response,
// or 422 for another body), body syntax and limits (400), scope (403).
// Logs never carry bodies, secrets or whole keys (rgk_<prefix>_...<last4>).
// Request ids are kept IngestOptions::request_retention, then purged by a later request.
// Ownership: owns its store pool, limiter and stats; borrows the clock. Thread-safe: the server
// calls the handlers from several threads; each takes a store from the pool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/http/router.h"
#include "reglo/ingest/ingest_stats.h"
#include "reglo/ingest/push_body.h"
#include "reglo/ingest/rate_limiter.h"
#include "reglo/security/master_key.h"
#include "reglo/storage/store.h"
#include "reglo/storage/store_pool.h"

namespace reglo::ingest {

struct IngestOptions {
  size_t max_body_bytes = 8 << 20;  // larger bodies get 413 before they are read
  PushLimits limits;
  std::chrono::seconds signature_tolerance{5 * 60};  // webhook-timestamp window, both ways
  RateLimit default_rate;        // for keys without their own (keys create --rate/--burst)
  size_t store_connections = 1;  // stores opened at most (SQLite: 1 writer anyway)
  // How long a request id is kept for replays (at least twice signature_tolerance: as long as a
  // replay can pass the timestamp check). Older ones are purged every ten minutes or so.
  std::chrono::hours request_retention{24};
};

// The id of the source row an agent's pushes run under: "agent:<company>:<source system>".
std::string AgentSourceId(const std::string& company_id, const std::string& source_system);

class IngestService {
 public:
  using StoreFactory = std::function<Result<std::unique_ptr<storage::Store>>()>;

  IngestService(IngestOptions options, StoreFactory open_store, security::MasterKey master,
                const Clock& clock);
  ~IngestService();
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;

  // Adds the routes; the service must outlive the router's use.
  void AddRoutes(http::Router& router);
  const IngestStats& stats() const { return stats_; }

 private:
  struct Caller;
  std::optional<http::Response> Authenticate(http::Request& request, bool needs_json);
  http::Response Ingest(const http::Request& request);
  http::Response Cursor(const http::Request& request);
  http::Response Refuse(const http::Request& request, const Caller* caller, int status,
                        std::string_view title, std::string_view detail, std::string_view slug);
  Status EnsureSource(storage::SyncStore& store, const storage::SourceRow& source);
  // Deletes request ids past their retention, at most once per kPurgeEvery (the first request
  // that finds the last purge that old does it).
  void PurgeOldRequests(storage::IngestStore& store);

  IngestOptions options_;
  security::MasterKey master_;
  const Clock& clock_;
  std::unique_ptr<storage::StorePool<>> pool_;
  RateLimiter limiter_;
  IngestStats stats_;
  std::mutex sources_mutex_;
  std::set<std::string> sources_known_;  // agent sources upserted by this process
  std::mutex purge_mutex_;
  std::optional<std::chrono::system_clock::time_point> last_purge_;
};

}  // namespace reglo::ingest
