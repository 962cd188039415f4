#include "reglo/ingest/ingest_stats.h"

namespace reglo::ingest {

KeyStats& IngestStats::Entry(const std::string& prefix, const std::string& company_id,
                             const std::string& source_system) {
  KeyStats& stats = keys_[prefix];
  stats.prefix = prefix;
  if (!company_id.empty()) stats.company_id = company_id;
  if (!source_system.empty()) stats.source_system = source_system;
  return stats;
}

void IngestStats::Accepted(const std::string& prefix, const std::string& company_id,
                           const std::string& source_system, int64_t accepted, int64_t rejected,
                           const std::string& at) {
  std::lock_guard<std::mutex> lock(mutex_);
  KeyStats& stats = Entry(prefix, company_id, source_system);
  ++stats.requests_by_status[200];
  stats.records_accepted += accepted;
  stats.records_rejected += rejected;
  stats.last_push_at = at;
}

void IngestStats::Refused(const std::string& prefix, const std::string& company_id,
                          const std::string& source_system, int status, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  KeyStats& stats = Entry(prefix, company_id, source_system);
  ++stats.requests_by_status[status];
  ++stats.refused_by_reason[reason];
}

void IngestStats::Replayed(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(mutex_);
  KeyStats& stats = Entry(prefix, "", "");
  ++stats.requests_by_status[200];
  ++stats.refused_by_reason["replayed"];
}

std::vector<KeyStats> IngestStats::Snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<KeyStats> out;
  out.reserve(keys_.size());
  for (const auto& [prefix, stats] : keys_) out.push_back(stats);
  return out;
}

}  // namespace reglo::ingest
