// SqliteStore: the SQLite backend's class, shared by the files that implement it by role
// (sqlite_store.cpp: open, migrate, factory; sqlite_checkpoint.cpp; sqlite_runs.cpp;
// sqlite_outbox.cpp; sqlite_ingest.cpp; sqlite_relay.cpp; sqlite_admin.cpp;
// sqlite_housekeeping.cpp; sqlite_audit.cpp). Private to the
// backend. Thread-safety: one thread at a time per store object, like every Store.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "migrations.h"
#include "reglo/core/clock.h"
#include "reglo/storage/event_kinds.h"
#include "reglo/storage/store.h"
#include "reglo/storage/subject_sql.h"
#include "sqlite_db.h"

namespace reglo::storage::sqlite {

// The statements of one canonical table. The DML is built from the schema (so a new field needs
// no code here); the DDL is not (see migrations.cpp).
struct EntityStatements {
  sqlite3_stmt* any_in_range = nullptr;  // any row of (company, source) in an external id range?
  sqlite3_stmt* select = nullptr;        // one row by identity, RecordColumn layout
  sqlite3_stmt* insert = nullptr;        // ON CONFLICT DO NOTHING: Changes() says if it landed
  sqlite3_stmt* update = nullptr;
  sqlite3_stmt* count = nullptr;
  // Stores the source hash a record found unchanged brings, where the stored one differs (rows
  // stored before the hashes existed, or by another plugin version).
  sqlite3_stmt* refresh_source_hash = nullptr;
};

// Statements used by every checkpoint, prepared once at open.
// Events are inserted this many rows per statement: a statement's fixed cost (and the
// AUTOINCREMENT bookkeeping SQLite does at its end) dominated a one-row insert (measured).
constexpr int kEventsPerInsert = 32;

struct CheckpointStatements {
  sqlite3_stmt* insert_event = nullptr;
  sqlite3_stmt* insert_events = nullptr;  // kEventsPerInsert rows
  sqlite3_stmt* insert_dead_letter = nullptr;
  sqlite3_stmt* insert_log = nullptr;
  sqlite3_stmt* add_counters = nullptr;
  sqlite3_stmt* upsert_cursor = nullptr;
};

inline std::string ColumnList(const model::EntitySpec& entity, std::string_view suffix) {
  std::string out;
  for (const model::FieldSpec& field : entity.fields) {
    out += ", ";
    out += field.column;
    out += suffix;
  }
  return out;
}

inline std::string Placeholders(size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<Db> db, const Clock& clock) : db_(std::move(db)), clock_(clock) {}

  // Migrates (telling `on_migration`, kept for later Migrate calls, of each step), checks the
  // schema and prepares the checkpoint statements.
  Status Open(MigrationObserver on_migration);

  Status Migrate() override;
  Result<int> SchemaVersion() override;
  int LatestSchemaVersion() const override { return sqlite::Migrations().back().version; }

  Status UpsertSource(const SourceRow& source) override;
  Status UpsertSources(const std::vector<SourceRow>& sources) override;
  Result<std::vector<SourceRow>> ListSources() override;
  Status SetSourceStatus(const std::string& source_id, const std::string& status) override;

  Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) override;
  Result<IdlePullResult> RecordIdlePull(const IdlePull& pull) override;
  Result<int64_t> CloseAbandonedRuns(const std::string& source_id, const std::string& finished_at,
                                     const std::string& reason) override;
  Status FinishRun(int64_t run_id, RunStatus status, const std::string& finished_at,
                   const std::string& error_category, const std::string& error_message) override;
  Status AppendRunLog(int64_t run_id, const RunLogLine& line) override;
  Result<RunInfo> GetRun(int64_t run_id) override;
  Result<std::vector<RunInfo>> ListRuns(const std::string& source_id, int limit) override;
  Result<std::vector<RunLogLine>> GetRunLog(int64_t run_id) override;

  Result<std::optional<std::string>> GetCursor(const std::string& source_id,
                                               const std::string& stream) override;
  Result<std::map<std::string, std::string>> GetCursors(const std::string& source_id) override;
  Result<CheckpointResult> CommitCheckpoint(const CheckpointBatch& batch) override;
  Status ScanSourceHashes(const model::EntitySpec& entity, const std::string& company_id,
                          const std::string& source_system, const SourceHashRow& row) override;

  Result<std::optional<StoredRecord>> GetRecord(const model::EntitySpec& entity,
                                                const model::RecordKey& key) override;
  Result<int64_t> CountRecords(const model::EntitySpec& entity) override;
  Result<std::vector<StoredEvent>> ReadEvents(int64_t after_sequence, int limit) override;
  Result<int64_t> CountEvents() override;
  Result<std::vector<DeadLetter>> ReadDeadLetters(int64_t after_id, int limit) override;

  Result<bool> TryAcquireLease(const std::string& source_id, const std::string& owner,
                               std::chrono::milliseconds ttl, const std::string& now) override;
  Status ReleaseLease(const std::string& source_id, const std::string& owner) override;
  // Inside the commit's transaction: the batch's lease_owner still holds the source's lease.
  Status CheckLeaseHeld(const CheckpointBatch& batch);

  Result<int64_t> CreateAgentKey(const AgentKeyRow& key, int max_active) override;
  Result<std::optional<AgentKeyRow>> FindAgentKey(const std::string& prefix) override;
  Result<std::vector<AgentKeyRow>> ListAgentKeys() override;
  Result<bool> RevokeAgentKey(const std::string& prefix, const std::string& now) override;
  Status TouchAgentKey(int64_t id, const std::string& now) override;
  Result<bool> RecordIngestRequest(const IngestRequestRow& row) override;
  Result<std::optional<IngestRequestRow>> FindIngestRequest(int64_t key_id,
                                                            const std::string& request_id) override;
  Result<int64_t> PurgeIngestRequests(const std::string& before) override;

  Status UpsertSubscription(const SubscriptionRow& row, bool set_enabled) override;
  Result<std::vector<SubscriptionRow>> ListSubscriptions() override;
  Result<std::optional<SubscriptionRow>> FindSubscription(const std::string& id) override;
  Result<bool> SetSubscriptionEnabled(const std::string& id, bool enabled,
                                      const std::string& reason, const std::string& now) override;
  Result<bool> DeleteSubscription(const std::string& id) override;
  Result<int64_t> GetRelayPosition(const std::string& subscription_id) override;
  Status SaveRelayProgress(const std::string& subscription_id, std::optional<int64_t> position,
                           const std::vector<DeliveryRow>& deliveries) override;
  Result<std::vector<DeliveryRow>> ListDeliveries(const DeliveryQuery& query) override;
  Result<std::vector<std::string>> PendingDeliveryKeys(const std::string& subscription_id) override;
  Result<int64_t> LatestEventSequence() override;

  // ---- Admin API (issue #5) ----
  Result<std::optional<std::string>> GetSetting(const std::string& key) override;
  Status PutSetting(const std::string& key, const std::string& value,
                    const std::string& now) override;
  Result<std::vector<ApiSourceRow>> ListApiSources() override;
  Status PutApiSource(const ApiSourceRow& source) override;
  Result<bool> DeleteApiSource(const std::string& id) override;
  Result<bool> DeleteSource(const std::string& id) override;
  Result<std::vector<CursorRow>> ListCursors(const std::string& source_id) override;
  Result<int64_t> ResetCursors(const std::string& source_id) override;
  Result<std::vector<RunInfo>> ListRunsBefore(const std::string& source_id, int64_t before_id,
                                              int limit) override;
  Result<std::vector<StoredEvent>> ReadEventsFiltered(int64_t after_sequence, int limit,
                                                      const EventFilter& filter) override;
  Result<std::vector<StoredEvent>> ReadEventsBefore(int64_t before_sequence, int limit,
                                                    const EventFilter& filter) override;
  Result<int64_t> CountEventsFiltered(const EventFilter& filter) override;
  Result<RecordPage> BrowseRecords(const model::EntitySpec& entity,
                                   const RecordQuery& query) override;
  Result<std::vector<RunTotals>> ListRunTotals() override;
  Status SetRunPluginVersion(int64_t run_id, const std::string& version) override;

  // ---- Retention (issue #16) ----
  Result<int64_t> Prune(PruneTarget target, const std::string& before, int limit) override;
  Result<StoreStats> ReadStoreStats() override;
  Result<int64_t> ReclaimSpace(int64_t max_pages, bool full) override;

  // ---- Personal data (issue #18): subject_sql.h over this backend's connection ----
  Result<SubjectExport> ExportSubject(const SubjectQuery& query) override;
  Result<ErasureResult> EraseSubject(const SubjectQuery& query, const std::string& now) override;
  Result<int64_t> PrunePersonalData(const std::string& source_id, PersonalPrune target,
                                    const std::string& before, int limit) override;
  Result<int64_t> HandleInactiveStudents(const std::string& source_id, const std::string& before,
                                         InactiveAction action, const std::string& now,
                                         int limit) override;
  Result<std::vector<InactiveStudent>> ListInactiveStudents(int limit) override;

  // ---- Roles and the audit log (issue #18 §3) ----
  Status Audited(AuditRow row, const AuditedChange& change) override;
  Status AppendAudit(const AuditRow& row) override;
  Result<std::vector<AuditRow>> ListAudit(const AuditQuery& query) override;
  Result<int64_t> CreateAdminToken(const AdminTokenRow& token) override;
  Result<std::vector<AdminTokenRow>> ListAdminTokens() override;
  Result<std::optional<AdminTokenRow>> FindAdminToken(const std::string& token_sha256) override;
  Result<bool> RevokeAdminToken(const std::string& name, const std::string& now) override;

  Result<IngestCommit> CommitIngest(
      const CheckpointBatch& batch, const IngestRequestRow& request,
      const std::function<std::string(const CheckpointResult&)>& respond) override;
  Result<bool> SetAgentKeyRateLimit(const std::string& prefix,
                                    std::optional<double> rate_per_second,
                                    std::optional<int64_t> burst) override;

 private:
  // Migrate()'s work: the migrations after `current`, each in its own write transaction.
  Status ApplyMigrations(int current, int latest);
  // The time the store writes where the caller gives none (source rows, relay progress,
  // migrations): from the Clock it was opened with, so a ManualClock governs it in tests.
  std::string Now() const { return FormatUtc(clock_.Now()); }
  // The records of one batch that share a table, company and source, with the smallest and
  // largest external id among them. When the table holds no row of that company and source in
  // the range, every record of the group is new and needs no lookup: that is a cold load, or any
  // batch of ids beyond those already stored (sources usually export in id order). Only a shortcut:
  // a wrong "all new" would still be caught by the insert's ON CONFLICT and take the general path.
  // The pointers point into the batch being committed and are not used after it.
  struct KeyGroup {
    const model::EntitySpec* entity;
    const std::string* company_id;
    const std::string* source_system;
    const std::string* min_external_id;
    const std::string* max_external_id;
    bool all_new;
    size_t records = 0;
    size_t created = 0;
  };

  Status VerifyColumns();
  // Inside a checkpoint's transaction: the erasure rule (subject_sql.h ApplyErasureRule).
  Result<std::optional<CheckpointBatch>> ErasureRule(const CheckpointBatch& batch,
                                                     std::vector<size_t>& skipped);
  Status PrepareCheckpointStatements();
  // The body of CommitCheckpoint, inside the caller's transaction; NoteCommitted after COMMIT.
  // Before a checkpoint's transaction (EventKinds::Prepare): the batch's event kinds have ids.
  Status PrepareEventKinds(const CheckpointBatch& batch);
  Status ApplyCheckpoint(const CheckpointBatch& batch, CheckpointResult& result);
  void NoteCommitted();
  Result<EntityStatements*> StatementsFor(const model::EntitySpec& entity);
  Status GroupBatch(const CheckpointBatch& batch);
  // `committed_at` is the batch's commit time, `committed_time` the same as stored
  // (EncodeStoredTime).
  Result<model::Outcome> ApplyRecord(const model::CanonicalRecord& record, bool known_new,
                                     const std::string& committed_at, int64_t committed_time,
                                     int64_t& events);
  // Binds the record's fields, then version, content hash, source updated at, extra, warnings,
  // source hash and `committed_time` from parameter `first` on (the order of both
  // EntityStatements::insert and ::update); returns the next parameter.
  int BindRecordState(Stmt& stmt, int first, const model::CanonicalRecord& record, int64_t version,
                      int64_t committed_time);
  Result<bool> InsertRecord(const EntityStatements& statements,
                            const model::CanonicalRecord& record, int64_t version,
                            int64_t committed_time);
  Status UpdateRecord(const EntityStatements& statements, const model::CanonicalRecord& record,
                      int64_t version, int64_t committed_time);
  // Queues the record's events; FlushEvents() inserts them, in order, before the commit.
  Status AppendEvents(const model::CanonicalRecord& record, const model::Decision& decision,
                      const std::string& committed_at, int64_t& events);
  Status FlushEvents(int64_t committed_time);
  Status WriteBatchBookkeeping(const CheckpointBatch& batch, const CheckpointResult& result);
  // Inside FinishRun's transaction: folds an idle `run_id` into its source's previous run.
  Status FoldIdleRun(int64_t run_id);

  Result<sqlite3_stmt*> Prepare(const std::string& sql, std::string_view what) {
    return db_->Prepare(sql, what);
  }
  // `sql` (prepared once) with `params` bound to its parameters 1, 2, ... in order: every row
  // as Row, the first row as Row, or the integer it returns (a count, a maximum, a position; 0
  // when there is no row).
  template <typename Row, typename... Param>
  Result<std::vector<Row>> SelectRows(const std::string& sql, std::string_view what,
                                      const Param&... params) {
    REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql, what));
    return ReadRows<Row>(Stmt(*db_, stmt, what).BindAll(params...));
  }
  template <typename Row, typename... Param>
  Result<std::optional<Row>> SelectRow(const std::string& sql, std::string_view what,
                                       const Param&... params) {
    REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql, what));
    return ReadRow<Row>(Stmt(*db_, stmt, what).BindAll(params...));
  }
  template <typename... Param>
  Result<int64_t> QueryInt(const std::string& sql, std::string_view what, const Param&... params) {
    REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql, what));
    return ReadInt(Stmt(*db_, stmt, what).BindAll(params...));
  }

  std::unique_ptr<Db> db_;
  const Clock& clock_;
  MigrationObserver on_migration_;
  CheckpointStatements checkpoint_;
  std::unordered_map<const model::EntitySpec*, EntityStatements> entity_statements_;
  // Reused across records and batches so the hot path does not allocate per row.
  std::vector<KeyGroup> groups_;
  std::vector<size_t> record_group_;  // index into groups_, per batch record
  // Per table: whether the last batch's records were all new. Text ids rarely arrive in text
  // order ("9" > "10"), so the id-range check misses most batches of a long cold load; a table
  // whose last batch was all new tries inserting first again (a clash still falls back to the
  // lookup, so a wrong guess only costs time).
  std::unordered_map<const model::EntitySpec*, bool> last_batch_all_new_;
  model::StoredState stored_;
  std::vector<model::EventRecord> pending_events_;
  EventKinds event_kinds_;
  std::string content_hash_bytes_;  // the bound BLOB (ContentHashToBytes) of the record at hand
  std::string extra_json_;
  std::string warnings_json_;
};

}  // namespace reglo::storage::sqlite
