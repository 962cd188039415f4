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

namespace {

constexpr std::string_view kSubscriptionColumns =
    "id, kind, url, event_types, company_ids, secret_protected, enabled, disabled_reason, origin, "
    "created_at, updated_at";

SubscriptionRow ReadSubscription(const Stmt& query) {
  SubscriptionRow row;
  row.id = query.String(0);
  row.kind = query.String(1);
  row.url = query.String(2);
  row.event_types = query.String(3);
  row.company_ids = query.String(4);
  row.secret_protected = query.String(5);
  row.enabled = query.Int(6) != 0;
  row.disabled_reason = query.String(7);
  row.origin = query.String(8);
  row.created_at = query.String(9);
  row.updated_at = query.String(10);
  return row;
}

constexpr std::string_view kDeliveryColumns =
    "subscription_id, sequence, event_id, event_type, entity_key, status, attempts, "
    "next_attempt_at, last_error, last_status_code, created_at, updated_at";

}  // namespace

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
      .Bind(1, row.id)
      .Bind(2, row.kind)
      .Bind(3, row.url)
      .Bind(4, row.event_types)
      .Bind(5, row.company_ids)
      .Bind(6, row.secret_protected)
      .Bind(7, int64_t{row.enabled ? 1 : 0})
      .Bind(8, row.disabled_reason)
      .Bind(9, row.origin)
      .Bind(10, row.created_at)
      .Bind(11, row.updated_at)
      .Run();
}

Result<std::vector<SubscriptionRow>> SqliteStore::ListSubscriptions() {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare(fmt::format("SELECT {} FROM integration_subscriptions "
                                                   "ORDER BY id",
                                                   kSubscriptionColumns),
                                       "listing subscriptions"));
  Stmt query(*db_, stmt, "listing subscriptions");
  std::vector<SubscriptionRow> rows;
  for (;;) {
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (!row) break;
    rows.push_back(ReadSubscription(query));
  }
  return rows;
}

Result<std::optional<SubscriptionRow>> SqliteStore::FindSubscription(const std::string& id) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare(fmt::format("SELECT {} FROM integration_subscriptions "
                                                   "WHERE id = ?",
                                                   kSubscriptionColumns),
                                       "reading a subscription"));
  Stmt query(*db_, stmt, "reading a subscription");
  query.Bind(1, id);
  REGLO_ASSIGN_OR_RETURN(row, query.Step());
  if (!row) return std::optional<SubscriptionRow>();
  return std::optional<SubscriptionRow>(ReadSubscription(query));
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
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT position FROM integration_relay_positions "
                                       "WHERE subscription_id = ?",
                                       "reading a relay position"));
  Stmt query(*db_, stmt, "reading a relay position");
  query.Bind(1, subscription_id);
  REGLO_ASSIGN_OR_RETURN(row, query.Step());
  return row ? query.Int(0) : int64_t{0};
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
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql, "listing deliveries"));
  Stmt query(*db_, stmt, "listing deliveries");
  const std::string due = q.due_at.value_or("");
  query.Bind(1, q.subscription_id)
      .Bind(2, q.subscription_id)
      .Bind(3, q.status)
      .Bind(4, q.status)
      .Bind(5, int64_t{q.due_at ? 1 : 0})
      .Bind(6, due)
      .Bind(7, q.after_sequence)
      .Bind(8, int64_t{q.head_of_entity_only ? 1 : 0})
      .Bind(9, int64_t{q.limit});
  std::vector<DeliveryRow> rows;
  for (;;) {
    REGLO_ASSIGN_OR_RETURN(found, query.Step());
    if (!found) break;
    DeliveryRow& row = rows.emplace_back();
    row.subscription_id = query.String(0);
    row.sequence = query.Int(1);
    row.event_id = query.String(2);
    row.event_type = query.String(3);
    row.entity_key = query.String(4);
    row.status = query.String(5);
    row.attempts = static_cast<int>(query.Int(6));
    row.next_attempt_at = query.String(7);
    row.last_error = query.String(8);
    row.last_status_code = static_cast<int>(query.Int(9));
    row.created_at = query.String(10);
    row.updated_at = query.String(11);
  }
  return rows;
}

Result<std::vector<std::string>> SqliteStore::PendingDeliveryKeys(
    const std::string& subscription_id) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT DISTINCT entity_key FROM integration_deliveries "
                                       "WHERE subscription_id = ? AND status = 'pending'",
                                       "reading pending deliveries"));
  Stmt query(*db_, stmt, "reading pending deliveries");
  query.Bind(1, subscription_id);
  std::vector<std::string> keys;
  for (;;) {
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (!row) break;
    keys.push_back(query.String(0));
  }
  return keys;
}

}  // namespace reglo::storage::sqlite
