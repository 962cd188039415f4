// PostgresStore: reading what checkpoints wrote: records, the event outbox, dead letters.
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

Result<std::optional<StoredRecord>> PostgresStore::GetRecord(const model::EntitySpec& entity,
                                                             const model::RecordKey& key) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(sql, SqlFor(entity));
  REGLO_ASSIGN_OR_RETURN(
      rows,
      conn_->Query(sql->select,
                   Params().Text(key.company_id).Text(key.source_system).Text(key.external_id),
                   "reading a record"));
  if (rows.size() == 0) return std::optional<StoredRecord>();
  StoredRecord record;
  record.state.version = rows.Int(0, kColVersion);
  record.state.content_hash = rows.String(0, kColContentHash);
  record.state.source_updated_at = rows.OptString(0, kColSourceUpdatedAt);
  record.state.extra = model::ExtraFromJson(rows.String(0, kColExtra));
  record.warnings = WarningsFromJson(rows.Text(0, kColWarnings));
  record.created_at = rows.String(0, kColCreatedAt);
  record.updated_at = rows.String(0, kColUpdatedAt);
  record.state.values.reserve(entity.fields.size());
  for (size_t i = 0; i < entity.fields.size(); ++i) {
    record.state.values.push_back(rows.OptString(0, kColFirstField + static_cast<int>(i)));
  }
  return std::optional<StoredRecord>(std::move(record));
}

Result<int64_t> PostgresStore::CountRecords(const model::EntitySpec& entity) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(sql, SqlFor(entity));
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query(sql->count, "counting records"));
  return rows.size() == 1 ? rows.Int(0, 0) : int64_t{0};
}

Result<std::vector<StoredEvent>> PostgresStore::ReadEvents(int64_t after_sequence, int limit) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query("SELECT sequence, event_id, type, company_id, "
                                      "source_system, entity, external_id, version, time, data "
                                      "FROM integration_events WHERE sequence > $1 "
                                      "ORDER BY sequence LIMIT $2",
                                      Params().Int(after_sequence).Int(limit), "reading events"));
  return ReadEventRows(rows);
}

std::vector<StoredEvent> PostgresStore::ReadEventRows(const Rows& rows) {
  std::vector<StoredEvent> events;
  events.reserve(static_cast<size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) {
    StoredEvent& stored = events.emplace_back();
    stored.sequence = rows.Int(r, 0);
    stored.event.event_id = rows.String(r, 1);
    stored.event.type = rows.String(r, 2);
    stored.event.company_id = rows.String(r, 3);
    stored.event.source_system = rows.String(r, 4);
    stored.event.entity = rows.String(r, 5);
    stored.event.external_id = rows.String(r, 6);
    stored.event.version = rows.Int(r, 7);
    stored.event.time = rows.String(r, 8);
    stored.event.data = rows.String(r, 9);
  }
  return events;
}

Result<int64_t> PostgresStore::CountEvents() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(
      rows, conn_->Query("SELECT COUNT(*) FROM integration_events", "counting events"));
  return rows.size() == 1 ? rows.Int(0, 0) : int64_t{0};
}

Result<std::vector<DeadLetter>> PostgresStore::ReadDeadLetters(int64_t after_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("dead letter read limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query("SELECT id, run_id, source_id, stage, entity, external_id, "
                                      "origin, reason, created_at FROM integration_dead_letters "
                                      "WHERE id > $1 ORDER BY id LIMIT $2",
                                      Params().Int(after_id).Int(limit), "reading dead letters"));
  std::vector<DeadLetter> letters;
  for (int r = 0; r < rows.size(); ++r) {
    DeadLetter& letter = letters.emplace_back();
    letter.id = rows.Int(r, 0);
    letter.run_id = rows.Int(r, 1);
    letter.source_id = rows.String(r, 2);
    letter.stage = rows.String(r, 3);
    letter.entity = rows.String(r, 4);
    letter.external_id = rows.String(r, 5);
    letter.origin = rows.String(r, 6);
    letter.reason = rows.String(r, 7);
    letter.created_at = rows.String(r, 8);
  }
  return letters;
}

// ---------------------------------------------------------------------------------------------
// Sources, runs, cursors

Result<int64_t> PostgresStore::LatestEventSequence() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query("SELECT COALESCE(MAX(sequence), 0) FROM integration_events",
                                      "reading the latest event sequence"));
  return rows.size() == 1 ? rows.Int(0, 0) : int64_t{0};
}

// ---------------------------------------------------------------------------------------------
// Admin API (issue #5): settings, API-created sources, cursors, browsing, run totals

Result<std::vector<StoredEvent>> PostgresStore::ReadEventsFiltered(int64_t after_sequence,
                                                                   int limit,
                                                                   const EventFilter& filter) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(
      rows, conn_->Query(
                "SELECT sequence, event_id, type, company_id, source_system, "
                "entity, external_id, version, time, data "
                "FROM integration_events WHERE sequence > $1 "
                "AND ($2 = '' OR type = $2) AND ($3 = '' OR company_id = $3) "
                "ORDER BY sequence LIMIT $4",
                Params().Int(after_sequence).Text(filter.type).Text(filter.company_id).Int(limit),
                "reading events"));
  return ReadEventRows(rows);
}

}  // namespace reglo::storage::postgres
