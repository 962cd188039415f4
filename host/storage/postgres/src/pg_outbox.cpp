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
  return ReadRow<StoredRecord>(RowsCursor(rows), entity);
}

Result<int64_t> PostgresStore::CountRecords(const model::EntitySpec& entity) {
  REGLO_ASSIGN_OR_RETURN(sql, SqlFor(entity));
  return QueryInt(sql->count, Params(), "counting records");
}

Result<std::vector<StoredEvent>> PostgresStore::ReadEvents(int64_t after_sequence, int limit) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  return SelectRows<StoredEvent>(
      fmt::format("SELECT {} FROM {} WHERE e.sequence > $1 ORDER BY e.sequence LIMIT $2",
                  kEventColumns, kEventTables),
      Params().Int(after_sequence).Int(limit), "reading events");
}

Result<int64_t> PostgresStore::CountEvents() {
  return QueryInt("SELECT COUNT(*) FROM integration_events", Params(), "counting events");
}

Result<std::vector<DeadLetter>> PostgresStore::ReadDeadLetters(int64_t after_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("dead letter read limit must be positive");
  return SelectRows<DeadLetter>(
      fmt::format("SELECT {} FROM integration_dead_letters WHERE id > $1 ORDER BY id LIMIT $2",
                  kDeadLetterColumns),
      Params().Int(after_id).Int(limit), "reading dead letters");
}

// ---------------------------------------------------------------------------------------------
// Sources, runs, cursors

Result<int64_t> PostgresStore::LatestEventSequence() {
  return QueryInt("SELECT COALESCE(MAX(sequence), 0) FROM integration_events", Params(),
                  "reading the latest event sequence");
}

// ---------------------------------------------------------------------------------------------
// Admin API (issue #5): settings, API-created sources, cursors, browsing, run totals

Result<std::vector<StoredEvent>> PostgresStore::ReadEventsFiltered(int64_t after_sequence,
                                                                   int limit,
                                                                   const EventFilter& filter) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  return SelectRows<StoredEvent>(
      fmt::format("SELECT {} FROM {} WHERE e.sequence > $1 AND {} ORDER BY e.sequence LIMIT $4",
                  kEventColumns, kEventTables, KindFilter("$2", "$3")),
      Params().Int(after_sequence).Text(filter.type).Text(filter.company_id).Int(limit),
      "reading events");
}

Result<std::vector<StoredEvent>> PostgresStore::ReadEventsBefore(int64_t before_sequence, int limit,
                                                                 const EventFilter& filter) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  return SelectRows<StoredEvent>(
      fmt::format("SELECT {} FROM {} WHERE ($1 = 0 OR e.sequence < $1) AND {} "
                  "ORDER BY e.sequence DESC LIMIT $4",
                  kEventColumns, kEventTables, KindFilter("$2", "$3")),
      Params().Int(before_sequence).Text(filter.type).Text(filter.company_id).Int(limit),
      "reading events");
}

Result<int64_t> PostgresStore::CountEventsFiltered(const EventFilter& filter) {
  return QueryInt(
      fmt::format("SELECT COUNT(*) FROM integration_events e WHERE {}", KindFilter("$1", "$2")),
      Params().Text(filter.type).Text(filter.company_id), "counting events");
}

}  // namespace reglo::storage::postgres
