// The Store defaults for stores without agent keys or ingest requests (e.g. test doubles).
#include "reglo/storage/store.h"

namespace reglo::storage {
namespace {

Status Unsupported() {
  return Status::Internal("this store does not support agent keys");
}

}  // namespace

Result<int64_t> Store::CreateAgentKey(const AgentKeyRow& /*key*/, int /*max_active*/) {
  return Unsupported();
}

Result<std::optional<AgentKeyRow>> Store::FindAgentKey(const std::string& /*prefix*/) {
  return Unsupported();
}

Result<std::vector<AgentKeyRow>> Store::ListAgentKeys() {
  return Unsupported();
}

Result<bool> Store::RevokeAgentKey(const std::string& /*prefix*/, const std::string& /*now*/) {
  return Unsupported();
}

Status Store::TouchAgentKey(int64_t /*id*/, const std::string& /*now*/) {
  return Unsupported();
}

Result<bool> Store::RecordIngestRequest(const IngestRequestRow& /*row*/) {
  return Unsupported();
}

Result<std::optional<IngestRequestRow>> Store::FindIngestRequest(
    int64_t /*key_id*/, const std::string& /*request_id*/) {
  return Unsupported();
}

Result<int64_t> Store::PurgeIngestRequests(const std::string& /*before*/) {
  return Unsupported();
}

Result<IngestCommit> Store::CommitIngest(
    const CheckpointBatch& /*batch*/, const IngestRequestRow& /*request*/,
    const std::function<std::string(const CheckpointResult&)>& /*respond*/) {
  return Status::Internal("this store does not support the ingestion API");
}

Result<bool> Store::SetAgentKeyRateLimit(const std::string& /*prefix*/,
                                         std::optional<double> /*rate_per_second*/,
                                         std::optional<int64_t> /*burst*/) {
  return Unsupported();
}

}  // namespace reglo::storage
