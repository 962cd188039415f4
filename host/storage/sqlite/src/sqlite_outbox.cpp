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
  return ReadRow<StoredRecord>(query, entity);
}

Result<int64_t> SqliteStore::CountRecords(const model::EntitySpec& entity) {
  REGLO_ASSIGN_OR_RETURN(statements, StatementsFor(entity));
  return ReadInt(Stmt(*db_, statements->count, "counting records"));
}

Result<std::vector<StoredEvent>> SqliteStore::ReadEvents(int64_t after_sequence, int limit) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  return SelectRows<StoredEvent>(
      fmt::format("SELECT {} FROM {} WHERE e.sequence > ? ORDER BY e.sequence LIMIT ?",
                  kEventColumns, kEventTables),
      "reading events", after_sequence, int64_t{limit});
}

Result<int64_t> SqliteStore::CountEvents() {
  return QueryInt("SELECT COUNT(*) FROM integration_events", "counting events");
}

Result<std::vector<DeadLetter>> SqliteStore::ReadDeadLetters(int64_t after_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("dead letter read limit must be positive");
  return SelectRows<DeadLetter>(
      fmt::format("SELECT {} FROM integration_dead_letters WHERE id > ? ORDER BY id LIMIT ?",
                  kDeadLetterColumns),
      "reading dead letters", after_id, int64_t{limit});
}

// ---------------------------------------------------------------------------------------------
// Sources, runs, cursors

Result<int64_t> SqliteStore::LatestEventSequence() {
  return QueryInt("SELECT COALESCE(MAX(sequence), 0) FROM integration_events",
                  "reading the latest event sequence");
}

// ---------------------------------------------------------------------------------------------
// Admin API (issue #5): settings, API-created sources, cursors, browsing, run totals

Result<std::vector<StoredEvent>> SqliteStore::ReadEventsFiltered(int64_t after_sequence, int limit,
                                                                 const EventFilter& filter) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  return SelectRows<StoredEvent>(
      fmt::format("SELECT {} FROM {} WHERE e.sequence > ?1 AND {} ORDER BY e.sequence LIMIT ?4",
                  kEventColumns, kEventTables, KindFilter("?2", "?3")),
      "reading events", after_sequence, filter.type, filter.company_id, int64_t{limit});
}

Result<std::vector<StoredEvent>> SqliteStore::ReadEventsBefore(int64_t before_sequence, int limit,
                                                               const EventFilter& filter) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  return SelectRows<StoredEvent>(
      fmt::format("SELECT {} FROM {} WHERE (?1 = 0 OR e.sequence < ?1) AND {} "
                  "ORDER BY e.sequence DESC LIMIT ?4",
                  kEventColumns, kEventTables, KindFilter("?2", "?3")),
      "reading events", before_sequence, filter.type, filter.company_id, int64_t{limit});
}

Result<int64_t> SqliteStore::CountEventsFiltered(const EventFilter& filter) {
  return QueryInt(
      fmt::format("SELECT COUNT(*) FROM integration_events e WHERE {}", KindFilter("?1", "?2")),
      "counting events", filter.type, filter.company_id);
}

}  // namespace reglo::storage::sqlite
