// SqliteStore: reading what checkpoints wrote: records, the event outbox, dead letters.
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

Result<std::optional<StoredRecord>> SqliteStore::GetRecord(const model::EntitySpec& entity,
                                                           const model::RecordKey& key) {
  REGLO_ASSIGN_OR_RETURN(statements, StatementsFor(entity));
  Stmt query(*db_, statements->select, "reading a record");
  query.Bind(1, key.company_id).Bind(2, key.source_system).Bind(3, key.external_id);
  REGLO_ASSIGN_OR_RETURN(found, query.Step());
  if (!found) return std::optional<StoredRecord>();
  StoredRecord record;
  record.state.version = query.Int(kColVersion);
  record.state.content_hash = query.String(kColContentHash);
  record.state.source_updated_at = query.OptString(kColSourceUpdatedAt);
  record.state.extra = model::ExtraFromJson(query.String(kColExtra));
  record.warnings = WarningsFromJson(query.Text(kColWarnings));
  record.created_at = query.String(kColCreatedAt);
  record.updated_at = query.String(kColUpdatedAt);
  record.state.values.reserve(entity.fields.size());
  for (size_t i = 0; i < entity.fields.size(); ++i) {
    record.state.values.push_back(query.OptString(kColFirstField + static_cast<int>(i)));
  }
  return std::optional<StoredRecord>(std::move(record));
}

Result<int64_t> SqliteStore::CountRecords(const model::EntitySpec& entity) {
  REGLO_ASSIGN_OR_RETURN(statements, StatementsFor(entity));
  Stmt query(*db_, statements->count, "counting records");
  REGLO_ASSIGN_OR_RETURN(row, query.Step());
  return row ? query.Int(0) : int64_t{0};
}

Result<std::vector<StoredEvent>> SqliteStore::ReadEvents(int64_t after_sequence, int limit) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare("SELECT sequence, event_id, type, company_id, source_system, "
                                 "entity, external_id, version, time, data "
                                 "FROM integration_events WHERE sequence > ? "
                                 "ORDER BY sequence LIMIT ?",
                                 "reading events"));
  Stmt query(*db_, stmt, "reading events");
  query.Bind(1, after_sequence).Bind(2, int64_t{limit});
  return ReadEventRows(query);
}

Result<std::vector<StoredEvent>> SqliteStore::ReadEventRows(Stmt& query) {
  std::vector<StoredEvent> events;
  while (true) {
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (!row) break;
    StoredEvent& stored = events.emplace_back();
    stored.sequence = query.Int(0);
    stored.event.event_id = query.String(1);
    stored.event.type = query.String(2);
    stored.event.company_id = query.String(3);
    stored.event.source_system = query.String(4);
    stored.event.entity = query.String(5);
    stored.event.external_id = query.String(6);
    stored.event.version = query.Int(7);
    stored.event.time = query.String(8);
    stored.event.data = query.String(9);
  }
  return events;
}

Result<int64_t> SqliteStore::CountEvents() {
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare("SELECT COUNT(*) FROM integration_events", "counting events"));
  Stmt query(*db_, stmt, "counting events");
  REGLO_ASSIGN_OR_RETURN(row, query.Step());
  return row ? query.Int(0) : int64_t{0};
}

Result<std::vector<DeadLetter>> SqliteStore::ReadDeadLetters(int64_t after_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("dead letter read limit must be positive");
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT id, run_id, source_id, stage, entity, external_id, "
                                       "origin, reason, created_at FROM integration_dead_letters "
                                       "WHERE id > ? ORDER BY id LIMIT ?",
                                       "reading dead letters"));
  Stmt query(*db_, stmt, "reading dead letters");
  query.Bind(1, after_id).Bind(2, int64_t{limit});
  std::vector<DeadLetter> letters;
  while (true) {
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (!row) break;
    DeadLetter& letter = letters.emplace_back();
    letter.id = query.Int(0);
    letter.run_id = query.Int(1);
    letter.source_id = query.String(2);
    letter.stage = query.String(3);
    letter.entity = query.String(4);
    letter.external_id = query.String(5);
    letter.origin = query.String(6);
    letter.reason = query.String(7);
    letter.created_at = query.String(8);
  }
  return letters;
}

// ---------------------------------------------------------------------------------------------
// Sources, runs, cursors

Result<int64_t> SqliteStore::LatestEventSequence() {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT COALESCE(MAX(sequence), 0) FROM integration_events",
                                       "reading the latest event sequence"));
  Stmt query(*db_, stmt, "reading the latest event sequence");
  REGLO_ASSIGN_OR_RETURN(row, query.Step());
  return row ? query.Int(0) : int64_t{0};
}

// ---------------------------------------------------------------------------------------------
// Admin API (issue #5): settings, API-created sources, cursors, browsing, run totals

Result<std::vector<StoredEvent>> SqliteStore::ReadEventsFiltered(int64_t after_sequence, int limit,
                                                                 const EventFilter& filter) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare("SELECT sequence, event_id, type, company_id, source_system, "
                                 "entity, external_id, version, time, data "
                                 "FROM integration_events WHERE sequence > ? "
                                 "AND (? = '' OR type = ?) AND (? = '' OR company_id = ?) "
                                 "ORDER BY sequence LIMIT ?",
                                 "reading events"));
  Stmt query(*db_, stmt, "reading events");
  query.Bind(1, after_sequence)
      .Bind(2, filter.type)
      .Bind(3, filter.type)
      .Bind(4, filter.company_id)
      .Bind(5, filter.company_id)
      .Bind(6, int64_t{limit});
  return ReadEventRows(query);
}

}  // namespace reglo::storage::sqlite
