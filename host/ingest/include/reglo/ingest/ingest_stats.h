// IngestStats: per-agent-key counters of the ingestion API — requests by HTTP status and by
// refusal reason, records accepted and rejected, last push — kept in memory for the admin port's
// /metrics and console (issue #5 reads Snapshot()). Keys are named by their public prefix only.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace reglo::ingest {

struct KeyStats {
  std::string prefix;      // "" for requests that named no known key
  std::string company_id;  // the key's scope ("" when unknown)
  std::string source_system;
  std::map<int, int64_t> requests_by_status;         // 200, 401, 429, ...
  std::map<std::string, int64_t> refused_by_reason;  // problem slug -> count
  int64_t records_accepted = 0;  // stored (created, updated, unchanged, stale or duplicate)
  int64_t records_rejected = 0;  // dead letters
  std::string last_push_at;      // FormatUtc of the last accepted push, "" if none
};

class IngestStats {
 public:
  // An accepted (200) push of `accepted` + `rejected` records.
  void Accepted(const std::string& prefix, const std::string& company_id,
                const std::string& source_system, int64_t accepted, int64_t rejected,
                const std::string& at);
  // Any other answer: its status and problem slug.
  void Refused(const std::string& prefix, const std::string& company_id,
               const std::string& source_system, int status, const std::string& reason);
  // A replayed request answered with its stored response.
  void Replayed(const std::string& prefix);

  // Every key's counters, by prefix.
  std::vector<KeyStats> Snapshot() const;

 private:
  KeyStats& Entry(const std::string& prefix, const std::string& company_id,
                  const std::string& source_system);
  mutable std::mutex mutex_;
  std::map<std::string, KeyStats> keys_;
};

}  // namespace reglo::ingest
