#include "reglo/relay/subscriptions.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "reglo/relay/webhook_sink.h"
#include "reglo/security/signature.h"

namespace reglo::relay {
namespace {

using nlohmann::json;

Result<std::set<std::string>> ReadList(const std::string& text, const char* what) {
  const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) {
    return Status::InvalidArgument(fmt::format("{}: expected a JSON array of strings", what));
  }
  std::set<std::string> out;
  for (const json& item : parsed) {
    if (!item.is_string() || item.get<std::string>().empty()) {
      return Status::InvalidArgument(fmt::format("{}: expected non-empty strings", what));
    }
    out.insert(item.get<std::string>());
  }
  return out;
}

std::string Now(const Clock& clock) {
  return FormatUtc(clock.Now());
}

std::string JsonList(const std::vector<std::string>& items) {
  return json(items).dump();
}

storage::SubscriptionRow RowOf(const SubscriptionSpec& spec) {
  storage::SubscriptionRow row;
  row.id = spec.id;
  row.kind = spec.kind;
  row.url = spec.url;
  row.event_types = JsonList(spec.event_types);
  row.company_ids = JsonList(spec.company_ids);
  row.enabled = spec.enabled;
  row.disabled_reason = spec.enabled ? "" : "created disabled";
  row.origin = spec.origin;
  return row;
}

Result<storage::SubscriptionRow> Existing(storage::RelayStore& store, const std::string& id) {
  Result<std::optional<storage::SubscriptionRow>> found = store.FindSubscription(id);
  if (!found.ok()) return found.status();
  if (!*found) return Status::NotFound(fmt::format("no subscription '{}'", id));
  return std::move(**found);
}

}  // namespace

Result<EventFilter> EventFilter::FromRow(const storage::SubscriptionRow& row) {
  Result<std::set<std::string>> types = ReadList(row.event_types, "event_types");
  if (!types.ok()) return types.status();
  Result<std::set<std::string>> companies = ReadList(row.company_ids, "company_ids");
  if (!companies.ok()) return companies.status();
  EventFilter filter;
  for (const std::string& type : *types) {
    if (type.size() > 2 && type.ends_with(".*")) {
      filter.entity_prefixes_.insert(type.substr(0, type.size() - 1));
    } else {
      filter.types_.insert(type);
    }
  }
  filter.companies_ = std::move(*companies);
  return filter;
}

bool EventFilter::Matches(const model::EventRecord& event) const {
  if (!companies_.empty() && !companies_.count(event.company_id)) return false;
  if (types_.empty() && entity_prefixes_.empty()) return true;
  if (types_.count(event.type)) return true;
  const size_t dot = event.type.find('.');
  return dot != std::string::npos && entity_prefixes_.count(event.type.substr(0, dot + 1)) > 0;
}

std::string EntityKey(const model::EventRecord& event) {
  return json::array({event.company_id, event.source_system, event.entity, event.external_id})
      .dump();
}

Status CheckSubscriptionSpec(const SubscriptionSpec& spec) {
  if (!storage::IsValidId(spec.id)) {
    return Status::InvalidArgument(
        "id: use letters, digits, '-', '_' or '.' (at most 100 characters)");
  }
  if (spec.kind == "webhook") {
    REGLO_RETURN_IF_ERROR(CheckWebhookUrl(spec.url));
    if (!spec.secret.empty()) {
      Result<std::string> key = security::ParseWebhookSecret(spec.secret);
      if (!spec.secret.starts_with("whsec_") || !key.ok() || key->size() < 16 || key->size() > 64) {
        return Status::InvalidArgument(
            "secret: expected whsec_ followed by the base64 of 16 to 64 random bytes");
      }
    }
  } else if (spec.kind == "nats") {
    if (!spec.url.empty()) return Status::InvalidArgument("url: a NATS subscription has no url");
  } else {
    return Status::InvalidArgument("kind: expected webhook or nats");
  }
  for (const std::string& type : spec.event_types) {
    if (type.empty() || type.find(' ') != std::string::npos) {
      return Status::InvalidArgument(fmt::format(
          "event_types: '{}' is not an event type (e.g. student.created, student.*)", type));
    }
  }
  for (const std::string& company : spec.company_ids) {
    if (company.empty()) return Status::InvalidArgument("company_ids: empty company id");
  }
  return Status::Ok();
}

Result<std::string> NewSigningSecret() {
  return security::NewWebhookSecret();
}

Result<std::string> SealSigningSecret(const security::MasterKey& master, const std::string& id,
                                      const std::string& secret) {
  Result<std::string> key = security::ParseWebhookSecret(secret);
  if (!key.ok()) return key.status();
  return master.Seal(*key, "subscription:" + id);
}

Result<std::string> OpenSigningKey(const security::MasterKey& master,
                                   const storage::SubscriptionRow& row) {
  Result<std::string> key = master.Open(row.secret_protected, "subscription:" + row.id);
  if (!key.ok()) {
    return Status::AuthError(fmt::format(
        "subscription '{}': its signing secret cannot be opened with this master key file "
        "(created with another one?): {}",
        row.id, key.status().message()));
  }
  return key;
}

Result<std::string> CreateSubscription(storage::RelayStore& store,
                                       const security::MasterKey& master, SubscriptionSpec spec,
                                       const Clock& clock) {
  REGLO_RETURN_IF_ERROR(CheckSubscriptionSpec(spec));
  Result<std::optional<storage::SubscriptionRow>> found = store.FindSubscription(spec.id);
  if (!found.ok()) return found.status();
  if (*found) {
    return Status::AlreadyExists(fmt::format("subscription '{}' already exists", spec.id));
  }
  storage::SubscriptionRow row = RowOf(spec);
  if (spec.kind == "webhook") {
    if (spec.secret.empty()) {
      Result<std::string> secret = NewSigningSecret();
      if (!secret.ok()) return secret.status();
      spec.secret = std::move(*secret);
    }
    Result<std::string> sealed = SealSigningSecret(master, spec.id, spec.secret);
    if (!sealed.ok()) return sealed.status();
    row.secret_protected = std::move(*sealed);
  }
  row.created_at = row.updated_at = Now(clock);
  REGLO_RETURN_IF_ERROR(store.UpsertSubscription(row, /*set_enabled=*/true));
  return spec.secret;
}

Status ApplyConfiguredSubscription(storage::RelayStore& store, const security::MasterKey* master,
                                   const SubscriptionSpec& spec, const Clock& clock) {
  REGLO_RETURN_IF_ERROR(CheckSubscriptionSpec(spec));
  Result<std::optional<storage::SubscriptionRow>> found = store.FindSubscription(spec.id);
  if (!found.ok()) return found.status();
  storage::SubscriptionRow row = RowOf(spec);
  if (spec.kind == "webhook") {
    if (spec.secret.empty()) {
      return Status::ConfigError(
          fmt::format("subscriptions: '{}' needs a secret or secret_env", spec.id));
    }
    if (master == nullptr) return Status::ConfigError("no master key to seal secrets with");
    // Re-sealed only when it changed: sealing draws a new nonce, which would rewrite the row.
    bool same = false;
    if (*found && (*found)->kind == "webhook") {
      Result<std::string> stored =
          master->Open((*found)->secret_protected, "subscription:" + spec.id);
      Result<std::string> given = security::ParseWebhookSecret(spec.secret);
      same = stored.ok() && given.ok() && *stored == *given;
    }
    if (same) {
      row.secret_protected = (*found)->secret_protected;
    } else {
      Result<std::string> sealed = SealSigningSecret(*master, spec.id, spec.secret);
      if (!sealed.ok()) return sealed.status();
      row.secret_protected = std::move(*sealed);
    }
  }
  const std::string now = Now(clock);
  row.updated_at = now;
  if (!*found) {
    row.created_at = now;
    row.disabled_reason = spec.enabled ? "" : "disabled in the config";
    return store.UpsertSubscription(row, /*set_enabled=*/true);
  }
  const storage::SubscriptionRow& old = **found;
  row.created_at = old.created_at;
  const bool unchanged = old.kind == row.kind && old.url == row.url &&
                         old.event_types == row.event_types && old.company_ids == row.company_ids &&
                         old.secret_protected == row.secret_protected && old.origin == row.origin;
  if (!unchanged) REGLO_RETURN_IF_ERROR(store.UpsertSubscription(row, /*set_enabled=*/false));
  // "enabled": false in the config disables; true re-enables only what the config disabled, so
  // a disable by an operator or by a 410 holds until `subscriptions enable`.
  if (!spec.enabled && old.enabled) {
    return store.SetSubscriptionEnabled(spec.id, false, "disabled in the config", now).status();
  }
  if (spec.enabled && !old.enabled && old.disabled_reason == "disabled in the config") {
    return store.SetSubscriptionEnabled(spec.id, true, "", now).status();
  }
  return Status::Ok();
}

Status EnableSubscription(storage::RelayStore& store, const std::string& id, const Clock& clock) {
  Result<bool> changed = store.SetSubscriptionEnabled(id, true, "", Now(clock));
  if (!changed.ok()) return changed.status();
  if (!*changed) return Status::NotFound(fmt::format("no subscription '{}'", id));
  return Status::Ok();
}

Status DisableSubscription(storage::RelayStore& store, const std::string& id,
                           const std::string& reason, const Clock& clock) {
  Result<bool> changed = store.SetSubscriptionEnabled(id, false, reason, Now(clock));
  if (!changed.ok()) return changed.status();
  if (!*changed) return Status::NotFound(fmt::format("no subscription '{}'", id));
  return Status::Ok();
}

Status DeleteSubscription(storage::RelayStore& store, const std::string& id) {
  Result<bool> deleted = store.DeleteSubscription(id);
  if (!deleted.ok()) return deleted.status();
  if (!*deleted) return Status::NotFound(fmt::format("no subscription '{}'", id));
  return Status::Ok();
}

namespace {

Result<int64_t> CountDeliveries(storage::RelayStore& store, const std::string& id,
                                const std::string& status) {
  int64_t count = 0;
  storage::DeliveryQuery query;
  query.subscription_id = id;
  query.status = status;
  query.limit = 10'000;
  for (;;) {
    Result<std::vector<storage::DeliveryRow>> rows = store.ListDeliveries(query);
    if (!rows.ok()) return rows.status();
    count += static_cast<int64_t>(rows->size());
    if (rows->size() < static_cast<size_t>(query.limit)) return count;
    query.after_sequence = rows->back().sequence;
  }
}

}  // namespace

Result<std::vector<SubscriptionStatus>> ListSubscriptionStatus(storage::Store& store) {
  Result<std::vector<storage::SubscriptionRow>> rows = store.ListSubscriptions();
  if (!rows.ok()) return rows.status();
  Result<int64_t> latest = store.LatestEventSequence();
  if (!latest.ok()) return latest.status();
  std::vector<SubscriptionStatus> out;
  for (storage::SubscriptionRow& row : *rows) {
    SubscriptionStatus& status = out.emplace_back();
    Result<int64_t> position = store.GetRelayPosition(row.id);
    if (!position.ok()) return position.status();
    status.position = *position;
    status.lag = std::max<int64_t>(0, *latest - *position);
    Result<int64_t> pending = CountDeliveries(store, row.id, "pending");
    if (!pending.ok()) return pending.status();
    status.pending = *pending;
    Result<int64_t> dead = CountDeliveries(store, row.id, "dead");
    if (!dead.ok()) return dead.status();
    status.dead = *dead;
    row.secret_protected.clear();
    status.row = std::move(row);
  }
  return out;
}

Result<std::vector<storage::DeliveryRow>> ListDeliveries(storage::RelayStore& store,
                                                         const std::string& subscription_id,
                                                         const std::string& status, int limit) {
  static const std::set<std::string> kStatuses = {"", "pending", "delivered", "dead"};
  if (!kStatuses.count(status)) {
    return Status::InvalidArgument("status: expected pending, delivered or dead");
  }
  if (!subscription_id.empty()) {
    Result<storage::SubscriptionRow> found = Existing(store, subscription_id);
    if (!found.ok()) return found.status();
  }
  storage::DeliveryQuery query;
  query.subscription_id = subscription_id;
  query.status = status;
  query.limit = limit;
  return store.ListDeliveries(query);
}

Status Redeliver(storage::Store& store, const std::string& subscription_id, int64_t sequence,
                 const Clock& clock) {
  Result<storage::SubscriptionRow> row = Existing(store, subscription_id);
  if (!row.ok()) return row.status();
  Result<EventFilter> filter = EventFilter::FromRow(*row);
  if (!filter.ok()) return filter.status();
  if (sequence <= 0) return Status::InvalidArgument("an event sequence is a positive number");
  Result<std::vector<storage::StoredEvent>> events = store.ReadEvents(sequence - 1, 1);
  if (!events.ok()) return events.status();
  if (events->empty() || events->front().sequence != sequence) {
    return Status::NotFound(fmt::format("no event with sequence {}", sequence));
  }
  const model::EventRecord& event = events->front().event;
  if (!filter->Matches(event)) {
    return Status::InvalidArgument(fmt::format("subscription '{}' does not take event {} ({})",
                                               subscription_id, sequence, event.type));
  }
  Result<int64_t> position = store.GetRelayPosition(subscription_id);
  if (!position.ok()) return position.status();
  if (sequence > *position) {
    return Status::InvalidArgument(fmt::format(
        "event {} has not been relayed to '{}' yet (position {}): it will be delivered anyway",
        sequence, subscription_id, *position));
  }
  storage::DeliveryQuery query;
  query.subscription_id = subscription_id;
  query.after_sequence = sequence - 1;
  query.limit = 1;
  Result<std::vector<storage::DeliveryRow>> existing = store.ListDeliveries(query);
  if (!existing.ok()) return existing.status();
  storage::DeliveryRow delivery;
  if (!existing->empty() && existing->front().sequence == sequence) delivery = existing->front();
  delivery.subscription_id = subscription_id;
  delivery.sequence = sequence;
  delivery.event_id = event.event_id;
  delivery.event_type = event.type;
  delivery.entity_key = EntityKey(event);
  delivery.status = "pending";
  delivery.attempts = 0;
  delivery.next_attempt_at = Now(clock);
  return store.SaveRelayProgress(subscription_id, std::nullopt, {delivery});
}

Result<int64_t> RedeliverDead(storage::RelayStore& store, const std::string& subscription_id,
                              const Clock& clock) {
  Result<storage::SubscriptionRow> row = Existing(store, subscription_id);
  if (!row.ok()) return row.status();
  int64_t count = 0;
  storage::DeliveryQuery query;
  query.subscription_id = subscription_id;
  query.status = "dead";
  query.limit = 1'000;
  for (;;) {
    Result<std::vector<storage::DeliveryRow>> dead = store.ListDeliveries(query);
    if (!dead.ok()) return dead.status();
    if (dead->empty()) return count;
    const std::string now = Now(clock);
    for (storage::DeliveryRow& delivery : *dead) {
      delivery.status = "pending";
      delivery.attempts = 0;
      delivery.next_attempt_at = now;
    }
    REGLO_RETURN_IF_ERROR(store.SaveRelayProgress(subscription_id, std::nullopt, *dead));
    count += static_cast<int64_t>(dead->size());
    query.after_sequence = dead->back().sequence;
  }
}

}  // namespace reglo::relay
