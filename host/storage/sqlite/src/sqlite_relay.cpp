// SqliteStore: subscriptions, relay positions and deliveries (RelayStore).
#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/row_codec.h"
#include "sqlite_store_impl.h"

namespace reglo::storage::sqlite {

Status SqliteStore::UpsertSubscription(const SubscriptionRow& row, bool set_enabled) {
  const std::string sql = fmt::format(
      "INSERT INTO integration_subscriptions ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, url = excluded.url, "
      "event_types = excluded.event_types, company_ids = excluded.company_ids, "
      "secret_protected = excluded.secret_protected, origin = excluded.origin, "
      "updated_at = excluded.updated_at{}",
      kSubscriptionColumns,
      set_enabled ? ", enabled = excluded.enabled, disabled_reason = excluded.disabled_reason"
                  : "");
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql, "saving a subscription"));
  return Stmt(*db_, stmt, "saving a subscription")
      .BindAll(row.id, row.kind, row.url, row.event_types, row.company_ids, row.secret_protected,
               int64_t{row.enabled ? 1 : 0}, row.disabled_reason, row.origin, row.created_at,
               row.updated_at)
      .Run();
}

Result<std::vector<SubscriptionRow>> SqliteStore::ListSubscriptions() {
  return SelectRows<SubscriptionRow>(
      fmt::format("SELECT {} FROM integration_subscriptions ORDER BY id", kSubscriptionColumns),
      "listing subscriptions");
}

Result<std::optional<SubscriptionRow>> SqliteStore::FindSubscription(const std::string& id) {
  return SelectRow<SubscriptionRow>(
      fmt::format("SELECT {} FROM integration_subscriptions WHERE id = ?", kSubscriptionColumns),
      "reading a subscription", id);
}

Result<bool> SqliteStore::SetSubscriptionEnabled(const std::string& id, bool enabled,
                                                 const std::string& reason,
                                                 const std::string& now) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("UPDATE integration_subscriptions SET enabled = ?, "
                                       "disabled_reason = ?, updated_at = ? WHERE id = ?",
                                       "enabling or disabling a subscription"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "enabling or disabling a subscription")
                            .Bind(1, int64_t{enabled ? 1 : 0})
                            .Bind(2, enabled ? std::string() : reason)
                            .Bind(3, now)
                            .Bind(4, id)
                            .Run());
  return db_->Changes() == 1;
}

Result<bool> SqliteStore::DeleteSubscription(const std::string& id) {
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("deleting a subscription"));
  int64_t deleted = 0;
  for (const char* sql : {"DELETE FROM integration_deliveries WHERE subscription_id = ?",
                          "DELETE FROM integration_relay_positions WHERE subscription_id = ?",
                          "DELETE FROM integration_subscriptions WHERE id = ?"}) {
    REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql, "deleting a subscription"));
    REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "deleting a subscription").Bind(1, id).Run());
    deleted = db_->Changes();
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return deleted == 1;
}

Result<int64_t> SqliteStore::GetRelayPosition(const std::string& subscription_id) {
  return QueryInt("SELECT position FROM integration_relay_positions WHERE subscription_id = ?",
                  "reading a relay position", subscription_id);
}

Status SqliteStore::SaveRelayProgress(const std::string& subscription_id,
                                      std::optional<int64_t> position,
                                      const std::vector<DeliveryRow>& deliveries) {
  const std::string now = Now();
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("saving relay progress"));
  if (!deliveries.empty()) {
    REGLO_ASSIGN_OR_RETURN(
        stmt, Prepare(fmt::format("INSERT INTO integration_deliveries ({}) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                                  "ON CONFLICT (subscription_id, sequence) DO UPDATE SET "
                                  "status = excluded.status, attempts = excluded.attempts, "
                                  "next_attempt_at = excluded.next_attempt_at, "
                                  "last_error = excluded.last_error, "
                                  "last_status_code = excluded.last_status_code, "
                                  "updated_at = excluded.updated_at",
                                  kDeliveryColumns),
                      "saving a delivery"));
    for (const DeliveryRow& row : deliveries) {
      REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "saving a delivery")
                                .Bind(1, subscription_id)
                                .Bind(2, row.sequence)
                                .Bind(3, row.event_id)
                                .Bind(4, row.event_type)
                                .Bind(5, row.entity_key)
                                .Bind(6, row.status)
                                .Bind(7, int64_t{row.attempts})
                                .Bind(8, row.next_attempt_at)
                                .Bind(9, row.last_error)
                                .Bind(10, int64_t{row.last_status_code})
                                .Bind(11, row.created_at.empty() ? now : row.created_at)
                                .Bind(12, now)
                                .Run());
    }
  }
  if (position) {
    REGLO_ASSIGN_OR_RETURN(stmt,
                           Prepare("INSERT INTO integration_relay_positions (subscription_id, "
                                   "position, updated_at) VALUES (?, ?, ?) "
                                   "ON CONFLICT (subscription_id) DO UPDATE SET "
                                   "position = excluded.position, "
                                   "updated_at = excluded.updated_at",
                                   "saving a relay position"));
    REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "saving a relay position")
                              .Bind(1, subscription_id)
                              .Bind(2, *position)
                              .Bind(3, now)
                              .Run());
  }
  return tx.Commit();
}

Result<std::vector<DeliveryRow>> SqliteStore::ListDeliveries(const DeliveryQuery& q) {
  if (q.limit <= 0) return Status::InvalidArgument("delivery list limit must be positive");
  // Every filter is always bound; an empty one matches everything.
  const std::string sql = fmt::format(
      "SELECT {} FROM integration_deliveries AS d WHERE (? = '' OR d.subscription_id = ?) "
      "AND (? = '' OR d.status = ?) AND (? = 0 OR d.next_attempt_at <= ?) "
      "AND d.sequence > ? AND (? = 0 OR NOT EXISTS (SELECT 1 FROM integration_deliveries AS e "
      "WHERE e.subscription_id = d.subscription_id AND e.status = 'pending' "
      "AND e.entity_key = d.entity_key AND e.sequence < d.sequence)) "
      "ORDER BY d.subscription_id, d.sequence LIMIT ?",
      kDeliveryColumns);
  const std::string due = q.due_at.value_or("");
  return SelectRows<DeliveryRow>(sql, "listing deliveries", q.subscription_id, q.subscription_id,
                                 q.status, q.status, int64_t{q.due_at ? 1 : 0}, due,
                                 q.after_sequence, int64_t{q.head_of_entity_only ? 1 : 0},
                                 int64_t{q.limit});
}

Result<std::vector<std::string>> SqliteStore::PendingDeliveryKeys(
    const std::string& subscription_id) {
  return SelectRows<std::string>(
      "SELECT DISTINCT entity_key FROM integration_deliveries "
      "WHERE subscription_id = ? AND status = 'pending'",
      "reading pending deliveries", subscription_id);
}

}  // namespace reglo::storage::sqlite
