// How every Store backend writes Store values as text columns and reads them back (run status,
// log level, a record's warnings, and each row type through a RowCursor), so all backends agree,
// and the SQL text and checks they share. Pure functions, thread-safe; a RowCursor belongs to
// the one thread that runs its statement.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "reglo/storage/audit_store.h"
#include "reglo/storage/housekeeping_store.h"
#include "reglo/storage/rows.h"

namespace reglo::storage {

// A JSON array of strings, or "" for none (stored as NULL).
void WarningsToJson(const std::vector<std::string>& warnings, std::string& out);
std::vector<std::string> WarningsFromJson(std::string_view json);

// A record's content hash (model::ContentHash: 32 lowercase hex digits) as the backends store
// it: its 16 bytes, a BLOB (SQLite, migration 14) or a bytea (PostgreSQL, migration 15; issue
// #19 §3). Any other text is kept as it is. Both write into `out`, reusing its capacity: they run
// once per record written or looked up.
void ContentHashToBytes(std::string_view hex, std::string& out);
// The inverse, for every backend's reads (of RowCursor::Bytes): 16 bytes become their hex digits;
// anything else (a hash stored as text, as older SQLite rows hold it) is read as it is.
void ContentHashFromStored(std::string_view stored, std::string& out);

// A time (FormatUtc text) as stored in an integer column: milliseconds since the Unix epoch
// (8 bytes at most where the text took 24). An event's time (migration 13), a record's
// created_at and updated_at (migration 15) and its source_updated_at (migration 16).
// InvalidArgument for any other text.
Result<int64_t> EncodeStoredTime(std::string_view time);
// The inverse: the FormatUtc text of a stored time. A number no FormatUtc text gives (outside
// the years 0000-9999: a damaged row) reads as its decimal digits.
std::string DecodeStoredTime(int64_t stored);
// A record's source_updated_at as stored: nullopt (NULL) for none. Only for the records of a
// batch CheckCheckpointRecords accepted, whose times always encode (validation normalises them).
std::optional<int64_t> EncodeSourceUpdatedAt(const std::optional<std::string>& time);

// The inverse of RunStatusName; an unknown name reads as kFailed (it is not a success).
RunStatus ParseRunStatus(std::string_view name);
// The inverse of LogLevelName; an unknown name reads as kInfo.
LogLevel ParseLogLevel(std::string_view name);

// One row at a time of a statement's result, read column by column (columns numbered from 0):
// what each backend's statement or result implements, so that every row type below is decoded
// once for all backends. Values read are valid until the next Step.
class RowCursor {
 public:
  // Moves to the next row (the first, on the first call): true when there is one.
  virtual Result<bool> Step() = 0;
  virtual bool IsNull(int column) const = 0;
  virtual int64_t Int(int column) const = 0;  // 0 for NULL
  virtual double Double(int column) const = 0;
  virtual std::string_view Text(int column) const = 0;  // "" for NULL
  // The bytes of a binary column (a BLOB, a bytea), as they were stored.
  virtual std::string Bytes(int column) const { return String(column); }

  std::string String(int column) const { return std::string(Text(column)); }
  std::optional<std::string> OptString(int column) const {
    if (IsNull(column)) return std::nullopt;
    return String(column);
  }

 protected:
  ~RowCursor() = default;
};

// A time stored as an integer (EncodeStoredTime) read back as its text; "" for NULL.
std::string ReadStoredTime(const RowCursor& row, int column);
// The same for a time that may be absent (a record's source_updated_at): nullopt for NULL.
std::optional<std::string> ReadOptionalStoredTime(const RowCursor& row, int column);

// The columns each row type is decoded from (DecodeRow), in its order. Backends SELECT them by
// these names, so a column added to a row type is added here and in its decoder only.
inline constexpr std::string_view kSourceColumns =
    "id, company_id, source_system, connector, config, enabled, status";
inline constexpr std::string_view kRunColumns =
    "id, source_id, started_at, finished_at, status, seen, created, updated, unchanged, stale, "
    "warnings, rejected, error_category, error_message, COALESCE(plugin_version, ''), events, "
    "run_count";
inline constexpr std::string_view kRunLogColumns = "at, level, message";
// The outbox (issue #19 §3): an event row holds its kind (event_kinds.h), externalId, version,
// time (EncodeStoredTime) and data (EncodeEventData); its id is recomputed from them
// (model::EventId). Read FROM kEventTables, whose aliases are e (the event) and k (its kind).
inline constexpr std::string_view kEventColumns =
    "e.sequence, k.type, k.company_id, k.source_system, k.entity, e.external_id, e.version, "
    "e.time, e.data";
inline constexpr std::string_view kEventTables =
    "integration_events e JOIN integration_event_kinds k ON k.id = e.kind";
// The condition an EventFilter puts on an event row `e`: its kind has the type and company
// given as `type` and `company` (parameters spelled as the backend spells them), each unless
// empty. A set of kind ids, so no row is joined to test it.
std::string KindFilter(std::string_view type, std::string_view company);
inline constexpr std::string_view kDeadLetterColumns =
    "id, run_id, source_id, stage, entity, external_id, origin, reason, created_at";
inline constexpr std::string_view kAgentKeyColumns =
    "id, prefix, key_hash, secret_protected, company_id, source_system, allowed_cidrs, last4, "
    "status, created_at, last_used_at, revoked_at, rate_per_second, rate_burst";
// Without the key (key_id, request_id) a request is looked up by: DecodeRow is given it.
inline constexpr std::string_view kIngestRequestColumns = "body_hash, response, created_at";
inline constexpr std::string_view kSubscriptionColumns =
    "id, kind, url, event_types, company_ids, secret_protected, enabled, disabled_reason, origin, "
    "created_at, updated_at";
inline constexpr std::string_view kDeliveryColumns =
    "subscription_id, sequence, event_id, event_type, entity_key, status, attempts, "
    "next_attempt_at, last_error, last_status_code, created_at, updated_at";
inline constexpr std::string_view kApiSourceColumns =
    "id, company_id, source_system, connector, config, enabled, interval_ms, created_at, "
    "updated_at";
inline constexpr std::string_view kCursorColumns = "stream, cursor, updated_at";
inline constexpr std::string_view kAdminTokenColumns =
    "id, name, role, token_sha256, created_at, revoked_at";
inline constexpr std::string_view kAuditColumns =
    "id, at, actor, role, action, target, outcome, before_value, after_value, detail";
// Over integration_runs GROUP BY source_id, status.
inline constexpr std::string_view kRunTotalsColumns =
    "source_id, status, SUM(run_count), SUM(seen), SUM(created), SUM(updated), SUM(unchanged), "
    "SUM(stale), SUM(warnings), SUM(rejected), MAX(finished_at)";

// ---- Retention (issue #16): SQL both backends run, written with PostgreSQL's numbered
// parameters ($1, $2); the SQLite backend runs it with ?1, ?2 (SqliteParameters).

// Folding an idle run into its source's previous one (SyncStore::FinishRun). kFoldableRunSql,
// $1 = the run just finished: the id of the previous run of its source when both are idle runs
// alike, no row otherwise. An idle run: succeeded, no error, nothing created, updated, stale,
// warned or rejected, no event, no warn/error log line. Alike: the same plugin version and as
// many records seen per run.
extern const std::string kFoldableRunSql;
// Then, in the same transaction: kFoldRunSql ($1 = the run just finished, $2 = the previous
// one) makes the run's row stand for both; kDeleteFoldedRunSql ($1 = the previous one) deletes
// its log lines and its row, one statement each.
extern const std::string kFoldRunSql;
extern const std::vector<std::string> kDeleteFoldedRunSql;
// `sql` with $N parameters spelled ?N (SQLite's numbered parameters).
std::string SqliteParameters(std::string_view sql);

// Column positions of a canonical table's SELECT of one record: bookkeeping first, then one
// column per field, so the field columns start at a fixed offset whatever the entity.
enum RecordColumn : int {
  kColVersion = 0,
  kColContentHash,
  kColSourceUpdatedAt,
  kColExtra,
  kColWarnings,
  kColCreatedAt,
  kColUpdatedAt,
  kColFirstField,
};

// The current row of `row` as each row type; a lone std::string is the first column.
void DecodeRow(const RowCursor& row, SourceRow& source);
void DecodeRow(const RowCursor& row, RunInfo& run);
void DecodeRow(const RowCursor& row, RunLogLine& line);
// Internal when the event's stored data is damaged (DecodeEventData).
Status DecodeRow(const RowCursor& row, StoredEvent& stored);
void DecodeRow(const RowCursor& row, DeadLetter& letter);
void DecodeRow(const RowCursor& row, AgentKeyRow& key);
void DecodeRow(const RowCursor& row, SubscriptionRow& subscription);
void DecodeRow(const RowCursor& row, DeliveryRow& delivery);
void DecodeRow(const RowCursor& row, ApiSourceRow& source);
void DecodeRow(const RowCursor& row, CursorRow& cursor);
void DecodeRow(const RowCursor& row, RunTotals& totals);
void DecodeRow(const RowCursor& row, AdminTokenRow& token);
void DecodeRow(const RowCursor& row, AuditRow& audit);
void DecodeRow(const RowCursor& row, std::string& value);
void DecodeRow(const RowCursor& row, IngestRequestRow& request, int64_t key_id,
               const std::string& request_id);
// RecordColumn layout.
void DecodeRow(const RowCursor& row, StoredRecord& record, const model::EntitySpec& entity);
// The entity browser's layout (BrowseSql::select).
void DecodeRow(const RowCursor& row, BrowsedRecord& record, const model::EntitySpec& entity);

// DecodeRow(row, out, context...), passing on the Status of the decoders that can fail.
template <typename Row, typename... Context>
Status DecodeRowStatus(const RowCursor& row, Row& out, const Context&... context) {
  if constexpr (std::is_same_v<decltype(DecodeRow(row, out, context...)), Status>) {
    return DecodeRow(row, out, context...);
  } else {
    DecodeRow(row, out, context...);
    return Status::Ok();
  }
}

// Every remaining row of `cursor`, decoded as Row (`context` is passed on to DecodeRow).
template <typename Row, typename... Context>
Result<std::vector<Row>> ReadRows(RowCursor& cursor, const Context&... context) {
  std::vector<Row> rows;
  while (true) {
    REGLO_ASSIGN_OR_RETURN(more, cursor.Step());
    if (!more) return rows;
    REGLO_RETURN_IF_ERROR(DecodeRowStatus(cursor, rows.emplace_back(), context...));
  }
}
template <typename Row, typename... Context>
Result<std::vector<Row>> ReadRows(RowCursor&& cursor, const Context&... context) {
  return ReadRows<Row>(cursor, context...);
}

// The next row of `cursor` decoded as Row; nullopt when there is none.
template <typename Row, typename... Context>
Result<std::optional<Row>> ReadRow(RowCursor& cursor, const Context&... context) {
  REGLO_ASSIGN_OR_RETURN(found, cursor.Step());
  if (!found) return std::optional<Row>();
  std::optional<Row> row(std::in_place);
  REGLO_RETURN_IF_ERROR(DecodeRowStatus(cursor, *row, context...));
  return row;
}
template <typename Row, typename... Context>
Result<std::optional<Row>> ReadRow(RowCursor&& cursor, const Context&... context) {
  return ReadRow<Row>(cursor, context...);
}

// The first column of the next row as an integer (a COUNT, a MAX, a position); 0 when there is
// no row.
Result<int64_t> ReadInt(RowCursor& cursor);
inline Result<int64_t> ReadInt(RowCursor&& cursor) {
  return ReadInt(cursor);
}

// The entity browser's SQL (admin API), the same text for every backend but for placeholders:
// `placeholder(n)` spells the n-th parameter (1-based: "?" or "$n"). Parameters, in order: the
// company (when query.company_id is set), the LIKE pattern once per searched column (when
// query.search is set), then for `select` only the limit and the offset. Columns of `select`:
// company_id, source_system, external_id, version, updated_at, then one per field.
struct BrowseSql {
  std::string select;
  std::string count;
  int search_columns = 0;  // how many times the pattern is bound
};
BrowseSql MakeBrowseSql(const model::EntitySpec& entity, const RecordQuery& query,
                        std::string (*placeholder)(int));
// "%mario%" from "Mario": lower case (ASCII), with \, % and _ escaped for LIKE ... ESCAPE '\'.
std::string ContainsPattern(std::string_view search);

// ---- Audit (issue #18 §3), SQL both backends run with PostgreSQL's numbered parameters.

// Appends one audit row: $1..$9 = at, actor, role, action, target, outcome, before, after,
// detail (empty before/after/detail are stored as NULL).
extern const std::string kInsertAuditSql;
// ListAudit's SELECT: `params` are bound first, in order, then the limit (the last parameter).
struct AuditSql {
  std::string select;
  std::vector<std::string> params;
};
AuditSql MakeAuditSql(const AuditQuery& query, std::string (*placeholder)(int));
// Both backends' AuditStore::Audited. `in_transaction(body)` begins a transaction, runs body and
// commits (rolling back when body or the commit fails); `append` writes one row. Appends `row` as
// "ok" inside that transaction after `change`, or, when anything failed, alone as "failed" with
// the masked error, and returns that error.
Status RunAudited(AuditRow row, const AuditedChange& change,
                  const std::function<Status(const std::function<Status()>&)>& in_transaction,
                  const std::function<Status(const AuditRow&)>& append);

// For backends, inside CreateAgentKey's transaction: AlreadyExists when the key's company and
// source already have `active` keys and at most `max_active` are allowed.
Status CheckAgentKeyLimit(const AgentKeyRow& key, int64_t active, int max_active);

// For backends, before a checkpoint's transaction (CommitCheckpoint, CommitIngest):
// InvalidArgument when a record of `batch` is not a validated canonical record (its values do not
// match its entity's fields, or its source_updated_at is not FormatUtc text), so nothing of the
// batch is written.
Status CheckCheckpointRecords(const CheckpointBatch& batch);

}  // namespace reglo::storage
