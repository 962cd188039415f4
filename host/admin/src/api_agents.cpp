// The admin API's agents area: the ingestion API's agent keys with their per-key counters.
#include <map>

#include "api_common.h"
#include "reglo/ingest/agent_keys.h"
#include "reglo/ingest/ingest_stats.h"

namespace reglo::admin::api {
namespace {

json KeyCountersJson(const ingest::KeyStats* stats) {
  json by_status = json::object();
  json by_reason = json::object();
  if (stats) {
    for (const auto& [status, count] : stats->requests_by_status) {
      by_status[std::to_string(status)] = count;
    }
    for (const auto& [reason, count] : stats->refused_by_reason) by_reason[reason] = count;
  }
  return json{{"requestsByStatus", by_status},
              {"refusalsByReason", by_reason},
              {"recordsAccepted", stats ? stats->records_accepted : 0},
              {"recordsRejected", stats ? stats->records_rejected : 0},
              {"lastPushAt",
               stats && !stats->last_push_at.empty() ? json(stats->last_push_at) : json(nullptr)}};
}

}  // namespace

Response ListAgents(ApiContext& api, const Request&) {
  std::map<std::string, ingest::KeyStats> stats;
  if (api.deps.ingest_stats) {
    for (ingest::KeyStats& key : api.deps.ingest_stats->Snapshot()) {
      stats[key.prefix] = std::move(key);
    }
  }
  return api.WithStore([&](storage::Store& store) {
    Result<std::vector<storage::AgentKeyRow>> keys = store.ListAgentKeys();
    if (!keys.ok()) return ServerError(keys.status());
    json items = json::array();
    for (const storage::AgentKeyRow& key : *keys) {
      auto counters = stats.find(key.prefix);
      json rate = nullptr;
      if (key.rate_per_second || key.rate_burst) {
        rate = {
            {"requestsPerSecond", key.rate_per_second ? json(*key.rate_per_second) : json(nullptr)},
            {"burst", key.rate_burst ? json(*key.rate_burst) : json(nullptr)}};
      }
      items.push_back({
          {"prefix", key.prefix},
          {"key", ingest::DisplayKey(key.prefix, key.last4)},
          {"companyId", key.company_id},
          {"sourceSystem", key.source_system},
          {"allowedCidrs", JsonArrayText(key.allowed_cidrs)},
          {"status", key.status},
          {"createdAt", TextOrNull(key.created_at)},
          {"lastUsedAt", OptionalText(key.last_used_at)},
          {"revokedAt", OptionalText(key.revoked_at)},
          {"rateLimit", rate},
          {"counters", KeyCountersJson(counters == stats.end() ? nullptr : &counters->second)},
      });
    }
    // Requests that named no known key.
    auto unknown = stats.find("");
    return Json(200, {{"items", items},
                      {"ingest", api.deps.ingest_stats != nullptr},
                      {"unknownKey", unknown == stats.end() ? json(nullptr)
                                                            : KeyCountersJson(&unknown->second)}});
  });
}

}  // namespace reglo::admin::api
