// The relay's and the ingestion API's metrics families (issues #7 and #6): relay lag, deliveries
// by outcome, subscriptions by state; ingest requests, refusals, records, rate limiting.
#include <map>

#include "reglo/admin/admin.h"
#include "reglo/ingest/ingest_stats.h"
#include "reglo/relay/relay.h"
#include "reglo/relay/subscriptions.h"
#include "relay_state.h"
#include "store_pool.h"

namespace reglo::admin {
namespace {

using Type = MetricsWriter::Type;

class RelayMetrics final : public MetricsProvider {
 public:
  RelayMetrics(const relay::Relay* relay, engine::StoreFactory open_store)
      : relay_(relay), stores_(std::move(open_store)) {}

  void WriteMetrics(MetricsWriter& out) override {
    std::vector<relay::SubscriptionStatus> subscriptions = stores_.With(
        [](storage::Store& store) {
          Result<std::vector<relay::SubscriptionStatus>> read =
              relay::ListSubscriptionStatus(store);
          return read.ok() ? std::move(*read) : std::vector<relay::SubscriptionStatus>{};
        },
        [](const Status&) { return std::vector<relay::SubscriptionStatus>{}; });
    const RelayStateMap live = RelayStates(relay_);

    out.Family("reglo_relay_lag_events",
               "Outbox events after the subscription's relay position (events behind).",
               Type::kGauge);
    for (const relay::SubscriptionStatus& s : subscriptions) {
      out.Sample({{"subscription", s.row.id}}, static_cast<double>(s.lag));
    }
    out.Family("reglo_relay_position", "The last outbox sequence the subscription's relay handled.",
               Type::kGauge);
    for (const relay::SubscriptionStatus& s : subscriptions) {
      out.Sample({{"subscription", s.row.id}}, static_cast<double>(s.position));
    }
    out.Family("reglo_relay_deliveries",
               "Deliveries by status now: pending (retrying or waiting behind their entity) and "
               "dead (dead-lettered).",
               Type::kGauge);
    for (const relay::SubscriptionStatus& s : subscriptions) {
      out.Sample({{"subscription", s.row.id}, {"status", "pending"}},
                 static_cast<double>(s.pending));
      out.Sample({{"subscription", s.row.id}, {"status", "dead"}}, static_cast<double>(s.dead));
    }
    out.Family("reglo_relay_deliveries_total",
               "Delivery outcomes since the subscription's worker started in this process: "
               "delivered, failed (each failed attempt), dead_lettered, gone (410).",
               Type::kCounter);
    for (const auto& [id, state] : live) {
      const relay::DeliveryCounters& c = state.counters;
      for (const auto& [outcome, value] :
           std::vector<std::pair<const char*, int64_t>>{{"delivered", c.delivered},
                                                        {"failed", c.failed},
                                                        {"dead_lettered", c.dead_lettered},
                                                        {"gone", c.gone}}) {
        out.Sample({{"subscription", id}, {"outcome", outcome}}, static_cast<double>(value));
      }
    }
    out.Family("reglo_relay_subscriptions",
               "Subscriptions by state (active: delivered by this hub; standby: another instance "
               "holds it; starting; disabled; enabled: no relay in this process).",
               Type::kGauge);
    std::map<std::string, int> by_state = {
        {"active", 0}, {"standby", 0}, {"starting", 0}, {"disabled", 0}};
    for (const relay::SubscriptionStatus& s : subscriptions) {
      ++by_state[SubscriptionStateName(s.row, live, relay_ != nullptr)];
    }
    for (const auto& [state, count] : by_state) out.Sample({{"state", state}}, count);
  }

 private:
  const relay::Relay* relay_;
  StorePool stores_;
};

class IngestMetrics final : public MetricsProvider {
 public:
  explicit IngestMetrics(const ingest::IngestStats& stats) : stats_(stats) {}

  void WriteMetrics(MetricsWriter& out) override {
    const std::vector<ingest::KeyStats> keys = stats_.Snapshot();
    // Requests that named no known key are counted under key="unknown".
    const auto key_of = [](const ingest::KeyStats& k) {
      return k.prefix.empty() ? std::string("unknown") : k.prefix;
    };
    out.Family("reglo_ingest_requests_total",
               "Ingestion API requests by agent key prefix and HTTP status.", Type::kCounter);
    int64_t rate_limited = 0;
    for (const ingest::KeyStats& k : keys) {
      for (const auto& [status, count] : k.requests_by_status) {
        out.Sample({{"key", key_of(k)}, {"status", std::to_string(status)}},
                   static_cast<double>(count));
        if (status == 429) rate_limited += count;
      }
    }
    out.Family("reglo_ingest_refusals_total",
               "Refused ingestion API requests by agent key prefix and reason (problem type).",
               Type::kCounter);
    for (const ingest::KeyStats& k : keys) {
      for (const auto& [reason, count] : k.refused_by_reason) {
        out.Sample({{"key", key_of(k)}, {"reason", reason}}, static_cast<double>(count));
      }
    }
    out.Family("reglo_ingest_records_total",
               "Pushed records by agent key prefix and outcome (accepted: stored; rejected: dead "
               "letters).",
               Type::kCounter);
    for (const ingest::KeyStats& k : keys) {
      if (k.prefix.empty()) continue;
      out.Sample({{"key", k.prefix}, {"outcome", "accepted"}},
                 static_cast<double>(k.records_accepted));
      out.Sample({{"key", k.prefix}, {"outcome", "rejected"}},
                 static_cast<double>(k.records_rejected));
    }
    out.Family("reglo_ingest_rate_limited_total",
               "Ingestion API requests refused by the per-key rate limit (429).", Type::kCounter);
    out.Sample(static_cast<double>(rate_limited));
    out.Family("reglo_ingest_last_push_timestamp_seconds",
               "Unix time of the agent key's last accepted push.", Type::kGauge);
    for (const ingest::KeyStats& k : keys) {
      std::chrono::system_clock::time_point at;
      if (k.prefix.empty() || k.last_push_at.empty() || !ParseUtc(k.last_push_at, at)) continue;
      out.Sample(
          {{"key", k.prefix}},
          std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() /
              1000.0);
    }
  }

 private:
  const ingest::IngestStats& stats_;
};

}  // namespace

std::shared_ptr<MetricsProvider> MakeRelayMetrics(const relay::Relay* relay,
                                                  engine::StoreFactory open_store) {
  return std::make_shared<RelayMetrics>(relay, std::move(open_store));
}

std::shared_ptr<MetricsProvider> MakeIngestMetrics(const ingest::IngestStats& stats) {
  return std::make_shared<IngestMetrics>(stats);
}

}  // namespace reglo::admin
