// PostgresStore: the PostgreSQL backend's class, shared by the files that implement it by role
// (postgres_store.cpp: open, migrate, factory; pg_checkpoint.cpp; pg_runs.cpp; pg_outbox.cpp;
// pg_ingest.cpp; pg_relay.cpp; pg_admin.cpp; pg_housekeeping.cpp; pg_audit.cpp). Private to the
// backend.
// Thread-safety: one thread at a time per store object, like every Store.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "migrations.h"
#include "pg_conn.h"
#include "reglo/core/clock.h"
#include "reglo/storage/event_kinds.h"
#include "reglo/storage/postgres_store.h"
#include "reglo/storage/row_codec.h"
#include "reglo/storage/store.h"
#include "reglo/storage/subject_sql.h"

namespace reglo::storage::postgres {

// Advisory lock keys (per database): one migrator at a time, and event appends in commit order.
constexpr int64_t kMigrationLock = 0x5245474c4f0001;   // "REGLO" 1
constexpr int64_t kEventOrderLock = 0x5245474c4f0002;  // "REGLO" 2
constexpr int64_t kAgentKeyLock = 0x5245474c4f0003;    // "REGLO" 3
// GENERATED ... AS IDENTITY, ON CONFLICT, to_regclass and the libpq features used need 12.
constexpr int kMinServerVersion = 120000;
// A checkpoint that lost a race (another writer inserted or changed one of its records between
// its read and its write) is rolled back and decided again on what the winner wrote.
constexpr int kMaxCommitAttempts = 8;
constexpr std::string_view kUniqueViolation = "23505";
constexpr char kCopyEvents[] =
    "COPY integration_events (kind, external_id, version, time, data) FROM STDIN (FORMAT binary)";
// The settings of a checkpoint transaction:
//  - synchronous_commit as the URL says, "off" by default (see PostgresUrl): COMMIT does not
//    wait for its WAL flush, which costs a disk flush per checkpoint otherwise;
//  - no sequential scans, hash or merge joins: every statement of a checkpoint reaches a few
//    thousand rows by primary key, and a table filled since its last ANALYZE (a cold load) would
//    otherwise be planned as if empty and scanned whole once per batch.
//  - lock_timeout: a writer waits for another one's rows (a race on the same records) for at
//    most a minute, then fails retryably, rather than hanging behind a stuck transaction.
inline std::string CheckpointSettings(const std::string& synchronous_commit) {
  return fmt::format(
      "SET LOCAL synchronous_commit = {}; SET LOCAL enable_seqscan = off; "
      "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
      "SET LOCAL lock_timeout = '60s'",
      synchronous_commit);
}

// Column positions of the checkpoint lookup.
enum LookupColumn : int {
  kLookSlot = 0,  // 1-based position in the lookup arrays
  kLookVersion,
  kLookContentHash,
  kLookSourceUpdatedAt,
  kLookDiffers,  // the stored hash differs from the incoming one: values follow
  kLookExtra,
  kLookFirstField,
};

// "first_name, last_name, ..." with `prefix` before and `suffix` after each column.
inline std::string Columns(const model::EntitySpec& entity, std::string_view prefix,
                           std::string_view suffix) {
  std::string out;
  for (const model::FieldSpec& field : entity.fields) {
    out += ", ";
    out += prefix;
    out += field.column;
    out += suffix;
  }
  return out;
}

// "unnest($1::text[]) AS a, unnest($2::int8[]) AS b, ...": a batch's columns, one array
// parameter each, unnested in the select list. Several set-returning functions there advance in
// lockstep and stream their rows, where unnest(a, b, ...) in FROM would first materialise them
// (measured: half the time of an INSERT of 5000 events).
class UnnestList {
 public:
  explicit UnnestList(int first_param = 1) : next_(first_param) {}
  UnnestList& Add(std::string_view name, std::string_view type = "text") {
    out_ += fmt::format("{}unnest(${}::{}[]) AS {}", out_.empty() ? "" : ", ", next_++, type, name);
    return *this;
  }
  UnnestList& AddFields(const model::EntitySpec& entity) {
    for (const model::FieldSpec& field : entity.fields) Add(field.column);
    return *this;
  }
  // The record's bookkeeping columns, in the order WriteRecords binds them.
  UnnestList& AddBookkeeping() {
    return Add("version", "int8")
        .Add("content_hash", "bytea")
        .Add("source_updated_at", "int8")
        .Add("extra")
        .Add("warnings")
        .Add("source_hash", "int8");
  }
  const std::string& str() const { return out_; }
  int next_param() const { return next_; }

 private:
  std::string out_;
  int next_;
};

// The statements of one canonical table, generated from the schema (so a new field needs no code
// here; the DDL is not generated, see migrations.cpp).
struct EntitySql {
  std::string select;  // one row by identity, RecordColumn layout
  std::string count;
  // The stored rows of a batch's identities, LookupColumn layout. $1..$4: company, source,
  // external id and incoming content hash (bytea) arrays (hash NULL: always return the values).
  std::string lookup;
  // Multi-row insert of new records, ON CONFLICT DO NOTHING: the affected count says whether
  // another writer got there first. $1..$3 identity arrays, one array per field, version,
  // content hash, source updated at, extra, warnings and source hash arrays, then the commit time
  // (EncodeStoredTime: int8, as created_at and updated_at are stored since migration 15).
  std::string insert;
  // COPY of records expected to be new (no ON CONFLICT): a unique violation says one was not
  // (and rolls the attempt back). A quarter faster on a cold load than `insert`, whose
  // speculative insertion probes the identity index twice per row, and COPY spares the
  // arrays' unnesting. Columns as `insert`, with created_at and updated_at in every row.
  std::string copy_new;
  // Multi-row update of changed records, guarded by the version read: the affected count says
  // whether another writer changed one in between. $1..$3 identity arrays, $4 expected versions,
  // then as insert.
  std::string update;
  // The source hashes of records found unchanged, where they differ from the stored ones (rows
  // stored before the hashes existed, or by another plugin version): $1..$3 identity arrays, $4
  // source hashes.
  std::string refresh_source_hash;
};

inline EntitySql MakeEntitySql(const model::EntitySpec& entity) {
  const std::string table(entity.table);
  EntitySql sql;
  sql.select = fmt::format(
      "SELECT version, content_hash, source_updated_at, extra, warnings, created_at, "
      "updated_at{} FROM {} WHERE company_id = $1 AND source_system = $2 AND external_id = $3",
      Columns(entity, "", ""), table);
  sql.count = fmt::format("SELECT COUNT(*) FROM {}", table);

  std::string values;
  for (const model::FieldSpec& field : entity.fields) {
    values +=
        fmt::format(", CASE WHEN s.content_hash IS DISTINCT FROM b.h THEN s.{} END", field.column);
  }
  sql.lookup = fmt::format(
      "SELECT b.i, s.version, s.content_hash, s.source_updated_at, "
      "s.content_hash IS DISTINCT FROM b.h, "
      "CASE WHEN s.content_hash IS DISTINCT FROM b.h THEN s.extra END{} "
      "FROM (SELECT {}, generate_subscripts($1::text[], 1) AS i) AS b "
      "JOIN {} AS s ON s.company_id = b.company_id AND s.source_system = b.source_system "
      "AND s.external_id = b.external_id",
      values,
      UnnestList()
          .Add("company_id")
          .Add("source_system")
          .Add("external_id")
          .Add("h", "bytea")
          .str(),
      table);

  UnnestList inserted;
  inserted.Add("company_id").Add("source_system").Add("external_id").AddFields(entity);
  inserted.AddBookkeeping();
  const std::string columns = fmt::format(
      "{} (company_id, source_system, external_id{}, version, content_hash, source_updated_at, "
      "extra, warnings, source_hash, created_at, updated_at)",
      table, Columns(entity, "", ""));
  sql.insert = fmt::format(
      "INSERT INTO {} SELECT {}, ${}::int8, ${}::int8 "
      "ON CONFLICT (company_id, source_system, external_id) DO NOTHING",
      columns, inserted.str(), inserted.next_param(), inserted.next_param());
  sql.copy_new = fmt::format("COPY {} FROM STDIN (FORMAT binary)", columns);

  std::string set;
  for (const model::FieldSpec& field : entity.fields) {
    set += fmt::format("{} = u.{}, ", field.column, field.column);
  }
  UnnestList updated;
  updated.Add("company_id").Add("source_system").Add("external_id");
  updated.Add("expected_version", "int8").AddFields(entity).AddBookkeeping();
  sql.update = fmt::format(
      "UPDATE {0} AS s SET {1}version = u.version, content_hash = u.content_hash, "
      "source_updated_at = u.source_updated_at, extra = u.extra, warnings = u.warnings, "
      "source_hash = u.source_hash, "
      "updated_at = ${2}::int8 FROM (SELECT {3}) AS u "
      "WHERE s.company_id = u.company_id AND s.source_system = u.source_system "
      "AND s.external_id = u.external_id AND s.version = u.expected_version",
      table, set, updated.next_param(), updated.str());
  sql.refresh_source_hash = fmt::format(
      "UPDATE {} AS s SET source_hash = u.source_hash FROM (SELECT {}) AS u "
      "WHERE s.company_id = u.company_id AND s.source_system = u.source_system "
      "AND s.external_id = u.external_id AND s.source_hash IS DISTINCT FROM u.source_hash",
      table,
      UnnestList()
          .Add("company_id")
          .Add("source_system")
          .Add("external_id")
          .Add("source_hash", "int8")
          .str());
  return sql;
}

class PostgresStore final : public Store {
 public:
  PostgresStore(std::unique_ptr<Conn> conn, const PostgresUrl& url, const Clock& clock)
      : conn_(std::move(conn)),
        clock_(clock),
        checkpoint_settings_(CheckpointSettings(url.synchronous_commit)) {
    for (const model::EntitySpec& entity : model::CanonicalEntities()) {
      entity_sql_.emplace(&entity, MakeEntitySql(entity));
    }
  }

  // Checks the server, migrates (telling `on_migration`, kept for later Migrate calls, of each
  // step) and checks the schema.
  Status Open(MigrationObserver on_migration);

  Status Migrate() override;
  Result<int> SchemaVersion() override;
  int LatestSchemaVersion() const override { return postgres::Migrations().back().version; }

  Status UpsertSource(const SourceRow& source) override;
  Status UpsertSources(const std::vector<SourceRow>& sources) override;
  Result<std::vector<SourceRow>> ListSources() override;
  Status SetSourceStatus(const std::string& source_id, const std::string& status) override;

  Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) override;
  Result<IdlePullResult> RecordIdlePull(const IdlePull& pull) override;
  Status FinishRun(int64_t run_id, RunStatus status, const std::string& finished_at,
                   const std::string& error_category, const std::string& error_message) override;
  Result<int64_t> CloseAbandonedRuns(const std::string& source_id, const std::string& finished_at,
                                     const std::string& reason) override;
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
  // The time the store writes where the caller gives none (source rows, relay progress,
  // migrations): from the Clock it was opened with, so a ManualClock governs it in tests.
  std::string Now() const { return FormatUtc(clock_.Now()); }
  // One distinct identity of a checkpoint batch, and what is decided for it.
  struct Slot {
    const model::CanonicalRecord* first = nullptr;  // its first record: entity and key
    bool repeated = false;                          // several records of the batch share it
    bool inserted = false;                          // written as new by InsertFirst in this attempt
    bool stored = false;                            // a row existed before this attempt
    int64_t stored_version = 0;
    std::optional<model::StoredState> state;       // as of the records decided so far
    const model::CanonicalRecord* last = nullptr;  // the last record that changed it
    int64_t last_version = 0;
    // The last record found unchanged that brings a source hash (written when `last` is not).
    const model::CanonicalRecord* unchanged = nullptr;
  };
  // The slots of one canonical table, in first-occurrence order.
  struct Group {
    size_t entity_index = 0;  // in CanonicalEntities()
    const model::EntitySpec* entity = nullptr;
    const EntitySql* sql = nullptr;
    std::vector<size_t> slots;
  };
  // The outcome of one attempt at a checkpoint: done, or lost a race and must start over.
  // kReplayed: an ingest commit found its request id stored already (nothing written).
  enum class Attempt { kDone, kLostRace, kReplayed };
  // The idempotency row an ingest commit writes in the checkpoint's transaction.
  struct IngestHook {
    const IngestRequestRow* request = nullptr;
    const std::function<std::string(const CheckpointResult&)>* respond = nullptr;
    std::string response;  // what respond made, once committed
  };

  // Re-opens the connection when it was lost, during the previous call or since (a server
  // restart while idle is noticed here without a round trip). Every public call starts here.
  Status Ready() { return conn_->Poll() ? Status::Ok() : conn_->Reconnect(); }
  // `sql` with `params`, run once the connection is ready; then its rows read as Row (every
  // one, or the first), or as the integer it returns (a count, a maximum, a position; 0 when
  // there is no row).
  Result<Rows> Select(const std::string& sql, const Params& params, std::string_view what) {
    REGLO_RETURN_IF_ERROR(Ready());
    return conn_->Query(sql, params, what);
  }
  template <typename Row>
  Result<std::vector<Row>> SelectRows(const std::string& sql, const Params& params,
                                      std::string_view what) {
    REGLO_ASSIGN_OR_RETURN(rows, Select(sql, params, what));
    return ReadRows<Row>(RowsCursor(rows));
  }
  template <typename Row>
  Result<std::optional<Row>> SelectRow(const std::string& sql, const Params& params,
                                       std::string_view what) {
    REGLO_ASSIGN_OR_RETURN(rows, Select(sql, params, what));
    return ReadRow<Row>(RowsCursor(rows));
  }
  Result<int64_t> QueryInt(const std::string& sql, const Params& params, std::string_view what) {
    REGLO_ASSIGN_OR_RETURN(rows, Select(sql, params, what));
    return ReadInt(RowsCursor(rows));
  }
  Status VerifyColumns();
  Result<const EntitySql*> SqlFor(const model::EntitySpec& entity);
  static void SlotKey(const model::EntitySpec& entity, const std::string& company_id,
                      const std::string& source_system, const std::string& external_id,
                      std::string& key);
  Status PlanBatch(const CheckpointBatch& batch);
  // TryCommit (in its transaction: the erasure rule, PlanBatch, the writes) until it is done or
  // replayed; a lost race, a serialization failure or a deadlock starts over (kMaxCommitAttempts
  // at most).
  Result<Attempt> CommitWithRetries(const CheckpointBatch& batch, CheckpointResult& result,
                                    IngestHook* ingest = nullptr);
  Result<Attempt> TryCommit(const CheckpointBatch& batch, bool first_attempt,
                            CheckpointResult& result, IngestHook* ingest = nullptr);
  // Sends the insert of every identity of `group` that occurs once, without waiting for it;
  // returns how many rows it should insert.
  Result<int64_t> SendInsertFirst(const Group& group, int64_t committed_time);
  // Reads the stored rows of the group's identities (only the repeated ones when
  // `repeated_only`: the others are inserted first).
  Status Lookup(const Group& group, bool repeated_only);
  Result<bool> WriteRecords(const Group& group, int64_t committed_time);
  // Stores the source hashes that records found unchanged bring (EntitySql::refresh_source_hash).
  Status RefreshSourceHashes(const Group& group);
  static Params RecordParams(const Group& group, const std::vector<const Slot*>& rows,
                             bool with_expected_version, int64_t committed_time);
  Status WriteBookkeeping(const CheckpointBatch& batch, const CheckpointResult& result);

  std::unique_ptr<Conn> conn_;
  const Clock& clock_;
  MigrationObserver on_migration_;
  const std::string checkpoint_settings_;  // SET LOCAL statements of a checkpoint transaction
  std::unordered_map<const model::EntitySpec*, EntitySql> entity_sql_;
  // Per canonical table: whether its last batch was all new. Then the next one is inserted
  // first and only the records already there are looked up (a cold load looks up nothing).
  std::vector<bool> insert_first_ = std::vector<bool>(model::CanonicalEntities().size(), false);
  // The plan of the batch being committed; pointers into it are not used after it.
  std::vector<Slot> slots_;
  std::vector<size_t> record_slot_;  // per batch record
  // Inside a transaction: waits for the outbox's append lock (kEventOrderLock) and holds it
  // until the transaction ends.
  Result<ErasureResult> LockEventOrder();
  // The indexes of the records the erasure rule left out of the batch being committed.
  std::vector<size_t> erased_skipped_;
  EventKinds event_kinds_;
  std::vector<Group> groups_;  // in CanonicalEntities() order
};

}  // namespace reglo::storage::postgres
