// PostgresStore: subscriptions, relay positions and deliveries (RelayStore).
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "postgres_store_impl.h"
#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/row_codec.h"

namespace reglo::storage::postgres {

Status PostgresStore::UpsertSubscription(const SubscriptionRow& row, bool set_enabled) {
  REGLO_RETURN_IF_ERROR(Ready());
  const std::string sql = fmt::format(
      "INSERT INTO integration_subscriptions AS s ({}) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
      "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, url = excluded.url, "
      "event_types = excluded.event_types, company_ids = excluded.company_ids, "
      "secret_protected = excluded.secret_protected, origin = excluded.origin, "
      "updated_at = excluded.updated_at{}",
      kSubscriptionColumns,
      set_enabled ? ", enabled = excluded.enabled, disabled_reason = excluded.disabled_reason"
                  : "");
  return conn_
      ->Query(sql,
              Params()
                  .Text(row.id)
                  .Text(row.kind)
                  .Text(row.url)
                  .Text(row.event_types)
                  .Text(row.company_ids)
                  .Text(row.secret_protected)
                  .Int(row.enabled ? 1 : 0)
                  .Text(row.disabled_reason)
                  .Text(row.origin)
                  .Text(row.created_at)
                  .Text(row.updated_at),
              "saving a subscription")
      .status();
}

Result<std::vector<SubscriptionRow>> PostgresStore::ListSubscriptions() {
  return SelectRows<SubscriptionRow>(
      fmt::format("SELECT {} FROM integration_subscriptions ORDER BY id", kSubscriptionColumns),
      Params(), "listing subscriptions");
}

Result<std::optional<SubscriptionRow>> PostgresStore::FindSubscription(const std::string& id) {
  return SelectRow<SubscriptionRow>(
      fmt::format("SELECT {} FROM integration_subscriptions WHERE id = $1", kSubscriptionColumns),
      Params().Text(id), "reading a subscription");
}

Result<bool> PostgresStore::SetSubscriptionEnabled(const std::string& id, bool enabled,
                                                   const std::string& reason,
                                                   const std::string& now) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(
      rows,
      conn_->Query(
          "UPDATE integration_subscriptions SET enabled = $1, "
          "disabled_reason = $2, updated_at = $3 WHERE id = $4",
          Params().Int(enabled ? 1 : 0).Text(enabled ? std::string() : reason).Text(now).Text(id),
          "enabling or disabling a subscription"));
  return rows.Affected() == 1;
}

Result<bool> PostgresStore::DeleteSubscription(const std::string& id) {
  REGLO_RETURN_IF_ERROR(Ready());
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("deleting a subscription"));
  int64_t deleted = 0;
  for (const char* sql : {"DELETE FROM integration_deliveries WHERE subscription_id = $1",
                          "DELETE FROM integration_relay_positions WHERE subscription_id = $1",
                          "DELETE FROM integration_subscriptions WHERE id = $1"}) {
    REGLO_ASSIGN_OR_RETURN(rows, conn_->Query(sql, Params().Text(id), "deleting a subscription"));
    deleted = rows.Affected();
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return deleted == 1;
}

Result<int64_t> PostgresStore::GetRelayPosition(const std::string& subscription_id) {
  return QueryInt("SELECT position FROM integration_relay_positions WHERE subscription_id = $1",
                  Params().Text(subscription_id), "reading a relay position");
}

Status PostgresStore::SaveRelayProgress(const std::string& subscription_id,
                                        std::optional<int64_t> position,
                                        const std::vector<DeliveryRow>& deliveries) {
  REGLO_RETURN_IF_ERROR(Ready());
  const std::string now = Now();
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("saving relay progress"));
  const std::string upsert = fmt::format(
      "INSERT INTO integration_deliveries ({}) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
      "ON CONFLICT (subscription_id, sequence) DO UPDATE SET status = excluded.status, "
      "attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, "
      "last_error = excluded.last_error, last_status_code = excluded.last_status_code, "
      "updated_at = excluded.updated_at",
      kDeliveryColumns);
  for (const DeliveryRow& row : deliveries) {
    REGLO_RETURN_IF_ERROR(conn_
                              ->Query(upsert,
                                      Params()
                                          .Text(subscription_id)
                                          .Int(row.sequence)
                                          .Text(row.event_id)
                                          .Text(row.event_type)
                                          .Text(row.entity_key)
                                          .Text(row.status)
                                          .Int(row.attempts)
                                          .Text(row.next_attempt_at)
                                          .Text(row.last_error)
                                          .Int(row.last_status_code)
                                          .Text(row.created_at.empty() ? now : row.created_at)
                                          .Text(now),
                                      "saving a delivery")
                              .status());
  }
  if (position) {
    REGLO_RETURN_IF_ERROR(conn_
                              ->Query("INSERT INTO integration_relay_positions (subscription_id, "
                                      "position, updated_at) VALUES ($1, $2, $3) "
                                      "ON CONFLICT (subscription_id) DO UPDATE SET "
                                      "position = excluded.position, "
                                      "updated_at = excluded.updated_at",
                                      Params().Text(subscription_id).Int(*position).Text(now),
                                      "saving a relay position")
                              .status());
  }
  return tx.Commit();
}

Result<std::vector<DeliveryRow>> PostgresStore::ListDeliveries(const DeliveryQuery& q) {
  if (q.limit <= 0) return Status::InvalidArgument("delivery list limit must be positive");
  // Every filter is always bound; an empty one matches everything.
  const std::string sql = fmt::format(
      "SELECT {} FROM integration_deliveries AS d WHERE ($1 = '' OR d.subscription_id = $1) "
      "AND ($2 = '' OR d.status = $2) AND ($3 = 0 OR d.next_attempt_at <= $4) "
      "AND d.sequence > $5 AND ($6 = 0 OR NOT EXISTS (SELECT 1 FROM integration_deliveries AS e "
      "WHERE e.subscription_id = d.subscription_id AND e.status = 'pending' "
      "AND e.entity_key = d.entity_key AND e.sequence < d.sequence)) "
      "ORDER BY d.subscription_id, d.sequence LIMIT $7",
      kDeliveryColumns);
  return SelectRows<DeliveryRow>(sql,
                                 Params()
                                     .Text(q.subscription_id)
                                     .Text(q.status)
                                     .Int(q.due_at ? 1 : 0)
                                     .Text(q.due_at.value_or(""))
                                     .Int(q.after_sequence)
                                     .Int(q.head_of_entity_only ? 1 : 0)
                                     .Int(q.limit),
                                 "listing deliveries");
}

Result<std::vector<std::string>> PostgresStore::PendingDeliveryKeys(
    const std::string& subscription_id) {
  return SelectRows<std::string>(
      "SELECT DISTINCT entity_key FROM integration_deliveries "
      "WHERE subscription_id = $1 AND status = 'pending'",
      Params().Text(subscription_id), "reading pending deliveries");
}

}  // namespace reglo::storage::postgres
