// The admin API's relay area: webhook subscriptions (list, create, read, delete, enable,
// disable) with the relay's live state, and their deliveries (list, redeliver).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "api_common.h"
#include "reglo/core/clock.h"
#include "reglo/core/masking.h"
#include "reglo/relay/relay.h"
#include "reglo/relay/subscriptions.h"
#include "relay_state.h"

namespace reglo::admin::api {
namespace {

// A subscription's target as shown: a webhook URL without user info, query string or fragment
// (they may carry tokens); "nats" for the JetStream sink.
std::string SubscriptionTarget(const storage::SubscriptionRow& row) {
  if (row.kind != "webhook") return row.kind;
  std::string url = row.url.substr(0, row.url.find_first_of("?#"));
  const size_t scheme = url.find("://");
  if (scheme != std::string::npos) {
    const size_t host = scheme + 3;
    const size_t at = url.find('@', host);
    const size_t slash = url.find('/', host);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      url.erase(host, at + 1 - host);
    }
  }
  return url;
}

json MaskedDelivery(const storage::DeliveryRow& row) {
  return DeliveryJson(row, Values::kMasked);
}

// Whether the receiver takes what it is sent, so a subscription whose every delivery is refused
// does not look healthy: "failing" (since when, the last error), "ok", or "unknown" when no relay
// runs in this process and nothing stored says it fails; with the oldest pending delivery's age.
json SubscriptionHealth(ApiContext& api, storage::Store& store, const std::string& id,
                        const RelayStateMap& states) {
  json health = {{"state", "unknown"},
                 {"failingSince", nullptr},
                 {"lastError", nullptr},
                 {"oldestPendingAt", nullptr},
                 {"oldestPendingAgeSeconds", nullptr}};
  storage::DeliveryQuery oldest;
  oldest.subscription_id = id;
  oldest.status = "pending";
  oldest.limit = 1;
  Result<std::vector<storage::DeliveryRow>> pending = store.ListDeliveries(oldest);
  const storage::DeliveryRow* head =
      pending.ok() && !pending->empty() ? &pending->front() : nullptr;
  if (head != nullptr) {
    health["oldestPendingAt"] = TextOrNull(head->created_at);
    std::chrono::system_clock::time_point created;
    if (ParseUtc(head->created_at, created)) {
      const auto age =
          std::chrono::duration_cast<std::chrono::seconds>(api.deps.clock.Now() - created);
      health["oldestPendingAgeSeconds"] = std::max<int64_t>(0, age.count());
    }
  }
  auto live = states.find(id);
  if (live != states.end() && live->second.running) {
    const relay::DeliveryCounters& c = live->second.counters;
    health["state"] = c.failing_since.empty() ? "ok" : "failing";
    health["failingSince"] = TextOrNull(c.failing_since);
    health["lastError"] = MaskedTextOrNull(c.last_failure);
  } else if (head != nullptr && head->attempts > 0 && !head->last_error.empty()) {
    // Not delivered here (another instance, or stopped): the stored retries still tell.
    health["state"] = "failing";
    health["failingSince"] = TextOrNull(head->created_at);
    health["lastError"] = MaskedTextOrNull(head->last_error);
  }
  return health;
}

json SubscriptionJson(ApiContext& api, storage::Store& store,
                      const relay::SubscriptionStatus& status, const RelayStateMap& states) {
  const storage::SubscriptionRow& row = status.row;
  auto live = states.find(row.id);
  const std::string state = SubscriptionStateName(row, states, api.deps.relay != nullptr);
  json counters = nullptr;
  json last_error = nullptr;
  if (live != states.end()) {
    const relay::DeliveryCounters& c = live->second.counters;
    counters = {{"delivered", c.delivered},
                {"failed", c.failed},
                {"deadLettered", c.dead_lettered},
                {"gone", c.gone}};
    if (!live->second.last_error.empty()) {
      last_error = MaskPersonalData(live->second.last_error);
    }
  }
  return json{
      {"id", row.id},
      {"kind", row.kind},
      {"target", SubscriptionTarget(row)},
      {"eventTypes", JsonArrayText(row.event_types)},
      {"companyIds", JsonArrayText(row.company_ids)},
      {"enabled", row.enabled},
      {"state", state},
      {"disabledReason", MaskedTextOrNull(row.disabled_reason)},
      {"origin", row.origin},
      {"position", status.position},
      {"lag", status.lag},
      {"pending", status.pending},
      {"dead", status.dead},
      {"counters", counters},
      {"lastError", last_error},
      {"health", SubscriptionHealth(api, store, row.id, states)},
      {"createdAt", TextOrNull(row.created_at)},
      {"updatedAt", TextOrNull(row.updated_at)},
  };
}

// Answers `answer(store, subscriptions, live states)` with the subscriptions as stored and the
// relay's live state of each.
template <typename Answer>
Response WithSubscriptions(ApiContext& api, Answer answer) {
  const RelayStateMap states = RelayStates(api.deps.relay);
  return api.WithStore([&](storage::Store& store) {
    Result<std::vector<relay::SubscriptionStatus>> list = relay::ListSubscriptionStatus(store);
    if (!list.ok()) return ServerError(list.status());
    return answer(store, *list, states);
  });
}

// One subscription as JSON (status 200 unless given), or 404.
Response OneSubscription(ApiContext& api, const std::string& id, int code = 200,
                         const std::optional<std::string>& secret = std::nullopt) {
  return WithSubscriptions(
      api, [&](storage::Store& store, const std::vector<relay::SubscriptionStatus>& list,
               const RelayStateMap& states) {
        for (const relay::SubscriptionStatus& status : list) {
          if (status.row.id != id) continue;
          json body = SubscriptionJson(api, store, status, states);
          if (secret) body["secret"] = *secret;
          return Json(code, body);
        }
        return NotFound(fmt::format("no subscription '{}'", id));
      });
}

// Runs a change of one subscription (kNotFound: 404) and answers the subscription.
// Audited: the change and its audit row in one transaction.
template <typename Change>
Response ChangeSubscription(ApiContext& api, const Request& request, const std::string& id,
                            Change change) {
  std::optional<Response> failed = api.StoreStep([&](storage::Store& store) {
    return ProblemIfFailed(
        AuditedStoreChange(request, store, [&](storage::AuditRow&) { return change(store); }));
  });
  if (failed) return *failed;
  return OneSubscription(api, id);
}

}  // namespace

Response ListSubscriptions(ApiContext& api, const Request&) {
  return WithSubscriptions(
      api, [&](storage::Store& store, const std::vector<relay::SubscriptionStatus>& list,
               const RelayStateMap& states) {
        json items = json::array();
        for (const relay::SubscriptionStatus& status : list) {
          items.push_back(SubscriptionJson(api, store, status, states));
        }
        return Json(200, {{"items", items}});
      });
}

Response GetSubscription(ApiContext& api, const Request& request) {
  return OneSubscription(api, *request.Param("id"));
}

Response CreateSubscription(ApiContext& api, const Request& request) {
  BodyReader in(request.body, {"id", "url", "eventTypes", "companyIds", "secret", "enabled"});
  relay::SubscriptionSpec spec;
  spec.kind = "webhook";
  spec.origin = "api";
  in.Text("id", spec.id);
  in.Text("url", spec.url);
  in.Strings("eventTypes", spec.event_types, Need::kOptionalOrNull);
  in.Strings("companyIds", spec.company_ids, Need::kOptionalOrNull);
  // "whsec_..."; absent, null or "": the hub generates one.
  in.Text("secret", spec.secret, Need::kOptionalOrNull, /*max_size=*/0, /*empty_ok=*/true);
  in.Bool("enabled", spec.enabled, Need::kOptional);
  if (in.Refusal()) return *in.Refusal();
  Status checked = relay::CheckSubscriptionSpec(spec);
  if (!checked.ok()) return BadRequest(MaskPersonalData(checked.message()));
  if (!api.deps.master_key) {
    return http::Problem(503, "Service Unavailable",
                         "no hub master key is loaded (secrets_file): subscriptions cannot be "
                         "created through the API",
                         "no-master-key");
  }
  std::string secret;
  std::optional<Response> failed =
      api.StoreStep([&](storage::Store& store) -> std::optional<Response> {
        Result<std::string> created = std::string();
        Status done = AuditedStoreChange(request, store, [&](storage::AuditRow& row) {
          created = relay::CreateSubscription(store, *api.deps.master_key, spec, api.deps.clock);
          row.after = MaskAuditValue(Dump({{"url", spec.url},
                                           {"eventTypes", spec.event_types},
                                           {"companyIds", spec.company_ids},
                                           {"enabled", spec.enabled}}));
          return created.status();
        });
        if (!done.ok()) {
          return done.code() == StatusCode::kInvalidArgument
                     ? BadRequest(MaskPersonalData(done.message()))
                     : FromStatus(done);
        }
        secret = std::move(*created);
        return std::nullopt;
      });
  if (failed) return *failed;
  spdlog::info("subscription {} created through the admin API", spec.id);
  // The signing secret in clear, this once (the store keeps it sealed).
  return OneSubscription(api, spec.id, 201, secret);
}

Response DeleteSubscription(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  return api.WithStore([&](storage::Store& store) {
    Status deleted = AuditedStoreChange(
        request, store, [&](storage::AuditRow&) { return relay::DeleteSubscription(store, id); });
    if (!deleted.ok()) return FromStatus(deleted);
    spdlog::info("subscription {} deleted through the admin API", id);
    return Response::NoContent();
  });
}

Response EnableSubscription(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  return ChangeSubscription(api, request, id, [&](storage::Store& store) {
    return relay::EnableSubscription(store, id, api.deps.clock);
  });
}

Response DisableSubscription(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  std::string reason = "disabled through the admin API";
  BodyReader in(request.body, {"reason"}, {}, /*empty_ok=*/true);
  in.Text("reason", reason, Need::kOptional, /*max_size=*/500);
  if (in.Refusal()) return *in.Refusal();
  return ChangeSubscription(api, request, id, [&](storage::Store& store) {
    return relay::DisableSubscription(store, id, reason, api.deps.clock);
  });
}

Response ListDeliveries(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  PageQuery page;
  if (std::optional<Response> refused = ReadPage(request, "after", page)) return *refused;
  const std::string status = request.Query("status").value_or("");
  if (status != "" && status != "pending" && status != "delivered" && status != "dead") {
    return BadRequest("status: expected pending, delivered or dead");
  }
  return api.WithStore([&](storage::Store& store) {
    Result<std::optional<storage::SubscriptionRow>> found = store.FindSubscription(id);
    if (!found.ok()) return ServerError(found.status());
    if (!*found) return NotFound(fmt::format("no subscription '{}'", id));
    storage::DeliveryQuery query;
    query.subscription_id = id;
    query.status = status;
    query.after_sequence = page.position;
    query.limit = page.limit + 1;
    Result<std::vector<storage::DeliveryRow>> rows = store.ListDeliveries(query);
    if (!rows.ok()) return ServerError(rows.status());
    return PageJson(*rows, page.limit, MaskedDelivery,
                    [](const storage::DeliveryRow& row) { return row.sequence; });
  });
}

Response Redeliver(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  std::optional<int64_t> sequence = ParseInteger(*request.Param("sequence"));
  if (!sequence || *sequence <= 0) return BadRequest("sequence: must be a positive whole number");
  return api.WithStore([&](storage::Store& store) {
    Status done = AuditedStoreChange(request, store, [&](storage::AuditRow&) {
      return relay::Redeliver(store, id, *sequence, api.deps.clock);
    });
    if (!done.ok()) return FromStatus(done);
    spdlog::info("subscription {}: event {} queued for redelivery through the admin API", id,
                 *sequence);
    return Json(202, {{"accepted", true}, {"redelivered", 1}});
  });
}

Response RedeliverDead(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  return api.WithStore([&](storage::Store& store) {
    Result<int64_t> count = int64_t{0};
    Status done = AuditedStoreChange(request, store, [&](storage::AuditRow& row) {
      count = relay::RedeliverDead(store, id, api.deps.clock);
      if (count.ok()) row.after = Dump({{"redelivered", *count}});
      return count.status();
    });
    if (!done.ok()) return FromStatus(done);
    spdlog::info("subscription {}: {} dead delivery(ies) queued again through the admin API", id,
                 *count);
    return Json(202, {{"accepted", true}, {"redelivered", *count}});
  });
}

}  // namespace reglo::admin::api
