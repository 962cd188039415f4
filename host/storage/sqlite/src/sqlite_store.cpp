#include "reglo/storage/sqlite_store.h"

#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "migrations.h"
#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/row_codec.h"
#include "sqlite_db.h"

namespace reglo::storage {
namespace {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::Transaction;

// Column positions of the canonical SELECT: bookkeeping first, then one column per field, so the
// field columns start at a fixed offset whatever the entity.
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

// The statements of one canonical table. The DML is built from the schema (so a new field needs
// no code here); the DDL is not (see migrations.cpp).
struct EntityStatements {
  sqlite3_stmt* any_in_range = nullptr;  // any row of (company, source) in an external id range?
  sqlite3_stmt* select = nullptr;        // one row by identity, RecordColumn layout
  sqlite3_stmt* insert = nullptr;        // ON CONFLICT DO NOTHING: Changes() says if it landed
  sqlite3_stmt* update = nullptr;
  sqlite3_stmt* count = nullptr;
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

std::string Now() {
  return FormatUtc(SystemClock::Instance().Now());
}

std::string ColumnList(const model::EntitySpec& entity, std::string_view suffix) {
  std::string out;
  for (const model::FieldSpec& field : entity.fields) {
    out += ", ";
    out += field.column;
    out += suffix;
  }
  return out;
}

std::string Placeholders(size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// Assigns a result's value to `var`, or returns its status from the enclosing function.
#define REGLO_SQLITE_ASSIGN(var, expr)                  \
  auto var##_result = (expr);                           \
  if (!var##_result.ok()) return var##_result.status(); \
  auto var = std::move(*var##_result)

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Status Open();

  Status Migrate() override;
  Result<int> SchemaVersion() override;
  int LatestSchemaVersion() const override { return sqlite::Migrations().back().version; }

  Status UpsertSource(const SourceRow& source) override;
  Result<std::vector<SourceRow>> ListSources() override;
  Status SetSourceStatus(const std::string& source_id, const std::string& status) override;

  Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) override;
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
  Result<CheckpointResult> CommitCheckpoint(const CheckpointBatch& batch) override;

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
  Result<RecordPage> BrowseRecords(const model::EntitySpec& entity,
                                   const RecordQuery& query) override;
  Result<std::vector<RunTotals>> ListRunTotals() override;
  Status SetRunPluginVersion(int64_t run_id, const std::string& version) override;

  Result<IngestCommit> CommitIngest(
      const CheckpointBatch& batch, const IngestRequestRow& request,
      const std::function<std::string(const CheckpointResult&)>& respond) override;
  Result<bool> SetAgentKeyRateLimit(const std::string& prefix,
                                    std::optional<double> rate_per_second,
                                    std::optional<int64_t> burst) override;

 private:
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
  Status PrepareCheckpointStatements();
  // The body of CommitCheckpoint, inside the caller's transaction; NoteCommitted after COMMIT.
  Status ApplyCheckpoint(const CheckpointBatch& batch, CheckpointResult& result);
  void NoteCommitted();
  Result<EntityStatements*> StatementsFor(const model::EntitySpec& entity);
  Status GroupBatch(const CheckpointBatch& batch);
  Result<model::Outcome> ApplyRecord(const model::CanonicalRecord& record, bool known_new,
                                     const std::string& committed_at, int64_t& events);
  Result<bool> InsertRecord(const EntityStatements& statements,
                            const model::CanonicalRecord& record, int64_t version,
                            const std::string& committed_at);
  Status UpdateRecord(const EntityStatements& statements, const model::CanonicalRecord& record,
                      int64_t version, const std::string& committed_at);
  // Queues the record's events; FlushEvents() inserts them, in order, before the commit.
  Status AppendEvents(const model::CanonicalRecord& record, const model::Decision& decision,
                      const std::string& committed_at, int64_t& events);
  Status FlushEvents();
  Status WriteBatchBookkeeping(const CheckpointBatch& batch, const RunCounters& counters);
  Result<std::vector<RunInfo>> ReadRuns(Stmt& stmt);
  // The rows of an integration_events SELECT (sequence, event_id, type, company_id,
  // source_system, entity, external_id, version, time, data).
  static Result<std::vector<StoredEvent>> ReadEventRows(Stmt& query);

  Result<sqlite3_stmt*> Prepare(const std::string& sql, std::string_view what) {
    return db_->Prepare(sql, what);
  }

  std::unique_ptr<Db> db_;
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
  std::string extra_json_;
  std::string warnings_json_;
};

Status SqliteStore::Open() {
  REGLO_RETURN_IF_ERROR(Migrate());
  REGLO_RETURN_IF_ERROR(VerifyColumns());
  return PrepareCheckpointStatements();
}

Result<int> SqliteStore::SchemaVersion() {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                                    "reading the schema version"));
  Stmt query(*db_, stmt, "reading the schema version");
  REGLO_SQLITE_ASSIGN(row, query.Step());
  return row ? static_cast<int>(query.Int(0)) : 0;
}

Status SqliteStore::Migrate() {
  // The bookkeeping table itself is not a migration: it must exist before any can be counted.
  REGLO_RETURN_IF_ERROR(
      db_->Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                "creating schema_migrations"));
  const int latest = LatestSchemaVersion();
  const auto refuse_newer = [latest](int current) {
    return Status::Incompatible(
        fmt::format("database schema version {} is newer than the newest this build knows ({}); "
                    "upgrade reglo-hub or use a matching database",
                    current, latest));
  };
  // Checked before taking the write lock so that an up-to-date database opens without one.
  REGLO_SQLITE_ASSIGN(current, SchemaVersion());
  if (current > latest) return refuse_newer(current);
  for (const sqlite::Migration& migration : sqlite::Migrations()) {
    if (migration.version <= current) continue;
    const std::string what =
        fmt::format("applying migration {} ({})", migration.version, migration.name);
    Transaction tx(*db_);
    REGLO_RETURN_IF_ERROR(tx.Begin("applying a migration"));
    // Read again under the write lock: another process may have migrated while this one waited.
    REGLO_SQLITE_ASSIGN(locked_current, SchemaVersion());
    if (locked_current > latest) return refuse_newer(locked_current);
    if (migration.version <= locked_current) continue;
    REGLO_RETURN_IF_ERROR(db_->Exec(migration.sql, what));
    REGLO_SQLITE_ASSIGN(record, Prepare("INSERT INTO schema_migrations (version, name, applied_at) "
                                        "VALUES (?, ?, ?)",
                                        what));
    const std::string applied_at = Now();
    REGLO_RETURN_IF_ERROR(Stmt(*db_, record, what)
                              .Bind(1, int64_t{migration.version})
                              .Bind(2, migration.name)
                              .Bind(3, applied_at)
                              .Run());
    REGLO_RETURN_IF_ERROR(tx.Commit());
  }
  return Status::Ok();
}

Status SqliteStore::VerifyColumns() {
  // A field added to schema.cpp without its migration would otherwise surface later as a failed
  // prepare in the middle of a sync; say what is wrong at start instead.
  for (const model::EntitySpec& entity : model::CanonicalEntities()) {
    REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT name FROM pragma_table_info(?)",
                                      "reading the columns of a canonical table"));
    Stmt query(*db_, stmt, "reading the columns of a canonical table");
    query.Bind(1, entity.table);
    std::unordered_set<std::string> columns;
    while (true) {
      REGLO_SQLITE_ASSIGN(row, query.Step());
      if (!row) break;
      columns.insert(query.String(0));
    }
    for (const model::FieldSpec& field : entity.fields) {
      if (!columns.contains(std::string(field.column))) {
        return Status::Internal(fmt::format(
            "table {} has no column {} for field {}.{}: schema.cpp and the storage migrations "
            "disagree (add a migration)",
            entity.table, field.column, entity.name, field.name));
      }
    }
  }
  return Status::Ok();
}

Status SqliteStore::PrepareCheckpointStatements() {
  const std::string_view what = "preparing checkpoint statements";
  const std::string insert_event_sql =
      "INSERT INTO integration_events (event_id, type, company_id, source_system, entity, "
      "external_id, version, time, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
  REGLO_SQLITE_ASSIGN(insert_event, Prepare(insert_event_sql, what));
  std::string insert_events_sql = insert_event_sql;
  for (int i = 1; i < kEventsPerInsert; ++i) insert_events_sql += ", (?, ?, ?, ?, ?, ?, ?, ?, ?)";
  REGLO_SQLITE_ASSIGN(insert_events, Prepare(insert_events_sql, what));
  REGLO_SQLITE_ASSIGN(insert_dead_letter,
                      Prepare("INSERT INTO integration_dead_letters (run_id, source_id, stage, "
                              "entity, external_id, origin, reason, created_at) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              what));
  REGLO_SQLITE_ASSIGN(insert_log, Prepare("INSERT INTO integration_run_logs (run_id, at, level, "
                                          "message) VALUES (?, ?, ?, ?)",
                                          what));
  REGLO_SQLITE_ASSIGN(add_counters,
                      Prepare("UPDATE integration_runs SET seen = seen + ?, created = created + ?, "
                              "updated = updated + ?, unchanged = unchanged + ?, "
                              "stale = stale + ?, warnings = warnings + ?, "
                              "rejected = rejected + ? WHERE id = ?",
                              what));
  REGLO_SQLITE_ASSIGN(upsert_cursor,
                      Prepare("INSERT INTO integration_cursors (source_id, stream, cursor, "
                              "updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (source_id, stream) "
                              "DO UPDATE SET cursor = excluded.cursor, "
                              "updated_at = excluded.updated_at",
                              what));
  checkpoint_ = {insert_event, insert_events, insert_dead_letter,
                 insert_log,   add_counters,  upsert_cursor};
  return Status::Ok();
}

Result<EntityStatements*> SqliteStore::StatementsFor(const model::EntitySpec& entity) {
  if (auto it = entity_statements_.find(&entity); it != entity_statements_.end()) {
    return &it->second;
  }
  const std::string what = fmt::format("preparing statements for table {}", entity.table);
  const std::string identity = "company_id = ? AND source_system = ? AND external_id = ?";
  const size_t n = entity.fields.size();
  EntityStatements statements;

  REGLO_SQLITE_ASSIGN(any, Prepare(fmt::format("SELECT 1 FROM {} WHERE company_id = ? AND "
                                               "source_system = ? AND external_id >= ? AND "
                                               "external_id <= ? LIMIT 1",
                                               entity.table),
                                   what));
  statements.any_in_range = any;

  REGLO_SQLITE_ASSIGN(
      select,
      Prepare(fmt::format("SELECT version, content_hash, source_updated_at, extra, warnings, "
                          "created_at, updated_at{} FROM {} WHERE {}",
                          ColumnList(entity, ""), entity.table, identity),
              what));
  statements.select = select;

  REGLO_SQLITE_ASSIGN(
      insert,
      Prepare(fmt::format("INSERT INTO {} (company_id, source_system, external_id{}, version, "
                          "content_hash, source_updated_at, extra, warnings, created_at, "
                          "updated_at) VALUES ({}) ON CONFLICT (company_id, source_system, "
                          "external_id) DO NOTHING",
                          entity.table, ColumnList(entity, ""), Placeholders(n + 10)),
              what));
  statements.insert = insert;

  REGLO_SQLITE_ASSIGN(
      update,
      Prepare(fmt::format("UPDATE {} SET {}version = ?, content_hash = ?, source_updated_at = ?, "
                          "extra = ?, warnings = ?, updated_at = ? WHERE {}",
                          entity.table, ColumnList(entity, " = ?").substr(2) + ", ", identity),
              what));
  statements.update = update;

  REGLO_SQLITE_ASSIGN(count, Prepare(fmt::format("SELECT COUNT(*) FROM {}", entity.table), what));
  statements.count = count;

  return &entity_statements_.emplace(&entity, statements).first->second;
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

Status CheckCheckpointRecords(const CheckpointBatch& batch) {
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const model::CanonicalRecord& record = batch.records[i];
    if (record.entity == nullptr || record.values.size() != record.entity->fields.size()) {
      return Status::InvalidArgument(fmt::format(
          "checkpoint record {} ({}) is not a validated canonical record", i, record.origin));
    }
  }
  return Status::Ok();
}

Result<CheckpointResult> SqliteStore::CommitCheckpoint(const CheckpointBatch& batch) {
  REGLO_RETURN_IF_ERROR(CheckCheckpointRecords(batch));
  CheckpointResult result;
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("committing a checkpoint"));
  // BEGIN IMMEDIATE holds the write lock: no one can take the lease between this check and COMMIT.
  REGLO_RETURN_IF_ERROR(CheckLeaseHeld(batch));
  REGLO_RETURN_IF_ERROR(ApplyCheckpoint(batch, result));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  NoteCommitted();
  return result;
}

Status SqliteStore::ApplyCheckpoint(const CheckpointBatch& batch, CheckpointResult& result) {
  result.outcomes.reserve(batch.records.size());
  pending_events_.clear();
  REGLO_RETURN_IF_ERROR(GroupBatch(batch));
  for (size_t i = 0; i < batch.records.size(); ++i) {
    REGLO_SQLITE_ASSIGN(outcome, ApplyRecord(batch.records[i], groups_[record_group_[i]].all_new,
                                             batch.committed_at, result.events));
    result.outcomes.push_back(outcome);
    KeyGroup& group = groups_[record_group_[i]];
    ++group.records;
    if (outcome == model::Outcome::kCreated) ++group.created;
    switch (outcome) {
      case model::Outcome::kCreated: ++result.counters.created; break;
      case model::Outcome::kUpdated: ++result.counters.updated; break;
      case model::Outcome::kUnchanged: ++result.counters.unchanged; break;
      case model::Outcome::kStale: ++result.counters.stale; break;
    }
  }
  REGLO_RETURN_IF_ERROR(FlushEvents());
  return WriteBatchBookkeeping(batch, result.counters);
}

void SqliteStore::NoteCommitted() {
  for (const KeyGroup& group : groups_) {
    last_batch_all_new_[group.entity] = group.records > 0 && group.created == group.records;
  }
}

Status SqliteStore::GroupBatch(const CheckpointBatch& batch) {
  groups_.clear();
  record_group_.clear();
  for (const model::CanonicalRecord& record : batch.records) {
    const std::string& id = record.key.external_id;
    size_t g = 0;
    // A batch normally holds one group, a handful at most: a linear search is the fastest.
    while (g < groups_.size() && !(groups_[g].entity == record.entity &&
                                   *groups_[g].company_id == record.key.company_id &&
                                   *groups_[g].source_system == record.key.source_system)) {
      ++g;
    }
    if (g == groups_.size()) {
      groups_.push_back(
          {record.entity, &record.key.company_id, &record.key.source_system, &id, &id, false});
    } else {
      if (id < *groups_[g].min_external_id) groups_[g].min_external_id = &id;
      if (*groups_[g].max_external_id < id) groups_[g].max_external_id = &id;
    }
    record_group_.push_back(g);
  }
  for (KeyGroup& group : groups_) {
    REGLO_SQLITE_ASSIGN(statements, StatementsFor(*group.entity));
    Stmt query(*db_, statements->any_in_range, "looking up stored records");
    query.Bind(1, *group.company_id)
        .Bind(2, *group.source_system)
        .Bind(3, *group.min_external_id)
        .Bind(4, *group.max_external_id);
    REGLO_SQLITE_ASSIGN(row, query.Step());
    auto last = last_batch_all_new_.find(group.entity);
    group.all_new = !row || (last != last_batch_all_new_.end() && last->second);
  }
  return Status::Ok();
}

Result<model::Outcome> SqliteStore::ApplyRecord(const model::CanonicalRecord& record,
                                                bool known_new, const std::string& committed_at,
                                                int64_t& events) {
  REGLO_SQLITE_ASSIGN(statements, StatementsFor(*record.entity));
  if (known_new) {
    // Nothing was stored in this record's id range before the batch: insert straight away. A
    // conflict can only come from a duplicate inside the batch, which takes the general path.
    const model::Decision decision = model::Reconcile(record, nullptr);
    REGLO_SQLITE_ASSIGN(inserted,
                        InsertRecord(*statements, record, decision.version, committed_at));
    if (inserted) {
      REGLO_RETURN_IF_ERROR(AppendEvents(record, decision, committed_at, events));
      return decision.outcome;
    }
  }

  const model::StoredState* stored = nullptr;
  {
    Stmt query(*db_, statements->select, "looking up a stored record");
    query.Bind(1, record.key.company_id)
        .Bind(2, record.key.source_system)
        .Bind(3, record.key.external_id);
    REGLO_SQLITE_ASSIGN(found, query.Step());
    if (found) {
      stored_.version = query.Int(kColVersion);
      stored_.content_hash.assign(query.Text(kColContentHash));
      query.ReadInto(kColSourceUpdatedAt, stored_.source_updated_at);
      // The stored values only matter when the content differs (to name the changed fields);
      // skipping them keeps a no-change re-sync cheap.
      if (stored_.content_hash == record.content_hash) {
        stored_.values.clear();
        stored_.extra.clear();
      } else {
        const size_t n = record.entity->fields.size();
        stored_.values.resize(n);
        for (size_t i = 0; i < n; ++i) {
          query.ReadInto(kColFirstField + static_cast<int>(i), stored_.values[i]);
        }
        stored_.extra = model::ExtraFromJson(std::string(query.Text(kColExtra)));
      }
      stored = &stored_;
    }
  }

  const model::Decision decision = model::Reconcile(record, stored);
  switch (decision.outcome) {
    case model::Outcome::kCreated: {
      REGLO_SQLITE_ASSIGN(inserted,
                          InsertRecord(*statements, record, decision.version, committed_at));
      if (!inserted) {
        return Status::Internal(
            fmt::format("a {} record was absent and then present within one "
                        "transaction ({})",
                        record.entity->name, record.origin));
      }
      break;
    }
    case model::Outcome::kUpdated:
      REGLO_RETURN_IF_ERROR(UpdateRecord(*statements, record, decision.version, committed_at));
      break;
    case model::Outcome::kUnchanged:
    case model::Outcome::kStale: return decision.outcome;
  }
  REGLO_RETURN_IF_ERROR(AppendEvents(record, decision, committed_at, events));
  return decision.outcome;
}

Result<bool> SqliteStore::InsertRecord(const EntityStatements& statements,
                                       const model::CanonicalRecord& record, int64_t version,
                                       const std::string& committed_at) {
  extra_json_ = record.extra.empty() ? std::string() : model::ExtraToJson(record.extra);
  WarningsToJson(record.warnings, warnings_json_);
  Stmt insert(*db_, statements.insert, "inserting a record");
  insert.Bind(1, record.key.company_id)
      .Bind(2, record.key.source_system)
      .Bind(3, record.key.external_id);
  int p = 4;
  for (const std::optional<std::string>& value : record.values) insert.BindOpt(p++, value);
  insert.Bind(p, version)
      .Bind(p + 1, record.content_hash)
      .BindOpt(p + 2, record.source_updated_at)
      .BindTextOrNull(p + 3, extra_json_)
      .BindTextOrNull(p + 4, warnings_json_)
      .Bind(p + 5, committed_at)
      .Bind(p + 6, committed_at);
  REGLO_RETURN_IF_ERROR(insert.Run());
  return db_->Changes() == 1;
}

Status SqliteStore::UpdateRecord(const EntityStatements& statements,
                                 const model::CanonicalRecord& record, int64_t version,
                                 const std::string& committed_at) {
  extra_json_ = record.extra.empty() ? std::string() : model::ExtraToJson(record.extra);
  WarningsToJson(record.warnings, warnings_json_);
  Stmt update(*db_, statements.update, "updating a record");
  int p = 1;
  for (const std::optional<std::string>& value : record.values) update.BindOpt(p++, value);
  update.Bind(p, version)
      .Bind(p + 1, record.content_hash)
      .BindOpt(p + 2, record.source_updated_at)
      .BindTextOrNull(p + 3, extra_json_)
      .BindTextOrNull(p + 4, warnings_json_)
      .Bind(p + 5, committed_at)
      .Bind(p + 6, record.key.company_id)
      .Bind(p + 7, record.key.source_system)
      .Bind(p + 8, record.key.external_id);
  return update.Run();
}

Status SqliteStore::AppendEvents(const model::CanonicalRecord& record,
                                 const model::Decision& decision, const std::string& committed_at,
                                 int64_t& events) {
  for (model::EventRecord& event : model::BuildEvents(record, decision, committed_at)) {
    pending_events_.push_back(std::move(event));
    ++events;
  }
  return Status::Ok();
}

Status SqliteStore::FlushEvents() {
  const auto bind = [](Stmt& insert, int first, const model::EventRecord& event) {
    insert.Bind(first, event.event_id)
        .Bind(first + 1, event.type)
        .Bind(first + 2, event.company_id)
        .Bind(first + 3, event.source_system)
        .Bind(first + 4, event.entity)
        .Bind(first + 5, event.external_id)
        .Bind(first + 6, event.version)
        .Bind(first + 7, event.time)
        .Bind(first + 8, event.data);
  };
  constexpr int kColumns = 9;
  const size_t count = pending_events_.size();
  size_t next = 0;
  for (; next + kEventsPerInsert <= count; next += kEventsPerInsert) {
    Stmt insert(*db_, checkpoint_.insert_events, "appending events");
    for (int row = 0; row < kEventsPerInsert; ++row) {
      bind(insert, 1 + row * kColumns, pending_events_[next + static_cast<size_t>(row)]);
    }
    REGLO_RETURN_IF_ERROR(insert.Run());
  }
  for (; next < count; ++next) {
    Stmt insert(*db_, checkpoint_.insert_event, "appending an event");
    bind(insert, 1, pending_events_[next]);
    REGLO_RETURN_IF_ERROR(insert.Run());
  }
  pending_events_.clear();
  return Status::Ok();
}

Status SqliteStore::WriteBatchBookkeeping(const CheckpointBatch& batch,
                                          const RunCounters& counters) {
  for (const model::Rejection& rejection : batch.rejections) {
    Stmt insert(*db_, checkpoint_.insert_dead_letter, "storing a dead letter");
    insert.Bind(1, batch.run_id)
        .Bind(2, batch.source_id)
        .Bind(3, rejection.stage)
        .Bind(4, rejection.entity)
        .Bind(5, rejection.key.external_id)
        .Bind(6, rejection.origin)
        .Bind(7, rejection.reason)
        .Bind(8, batch.committed_at);
    REGLO_RETURN_IF_ERROR(insert.Run());
  }
  for (const RunLogLine& line : batch.log_lines) {
    Stmt insert(*db_, checkpoint_.insert_log, "appending a run log line");
    insert.Bind(1, batch.run_id)
        .Bind(2, line.at)
        .Bind(3, LogLevelName(line.level))
        .Bind(4, line.message);
    REGLO_RETURN_IF_ERROR(insert.Run());
  }
  {
    Stmt update(*db_, checkpoint_.add_counters, "adding run counters");
    update.Bind(1, batch.seen)
        .Bind(2, counters.created)
        .Bind(3, counters.updated)
        .Bind(4, counters.unchanged)
        .Bind(5, counters.stale)
        .Bind(6, batch.warnings)
        .Bind(7, static_cast<int64_t>(batch.rejections.size()))
        .Bind(8, batch.run_id);
    REGLO_RETURN_IF_ERROR(update.Run());
    if (db_->Changes() != 1) {
      // Committing records without their run would leave counters nobody can account for.
      return Status::NotFound(fmt::format("run {} does not exist", batch.run_id));
    }
  }
  if (batch.cursor) {
    Stmt upsert(*db_, checkpoint_.upsert_cursor, "advancing the cursor");
    upsert.Bind(1, batch.source_id)
        .Bind(2, batch.stream)
        .Bind(3, *batch.cursor)
        .Bind(4, batch.committed_at);
    REGLO_RETURN_IF_ERROR(upsert.Run());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Records, events, dead letters

Result<std::optional<StoredRecord>> SqliteStore::GetRecord(const model::EntitySpec& entity,
                                                           const model::RecordKey& key) {
  REGLO_SQLITE_ASSIGN(statements, StatementsFor(entity));
  Stmt query(*db_, statements->select, "reading a record");
  query.Bind(1, key.company_id).Bind(2, key.source_system).Bind(3, key.external_id);
  REGLO_SQLITE_ASSIGN(found, query.Step());
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
  REGLO_SQLITE_ASSIGN(statements, StatementsFor(entity));
  Stmt query(*db_, statements->count, "counting records");
  REGLO_SQLITE_ASSIGN(row, query.Step());
  return row ? query.Int(0) : int64_t{0};
}

Result<std::vector<StoredEvent>> SqliteStore::ReadEvents(int64_t after_sequence, int limit) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT sequence, event_id, type, company_id, source_system, "
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
    REGLO_SQLITE_ASSIGN(row, query.Step());
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
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT COUNT(*) FROM integration_events", "counting events"));
  Stmt query(*db_, stmt, "counting events");
  REGLO_SQLITE_ASSIGN(row, query.Step());
  return row ? query.Int(0) : int64_t{0};
}

Result<std::vector<DeadLetter>> SqliteStore::ReadDeadLetters(int64_t after_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("dead letter read limit must be positive");
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT id, run_id, source_id, stage, entity, external_id, "
                                    "origin, reason, created_at FROM integration_dead_letters "
                                    "WHERE id > ? ORDER BY id LIMIT ?",
                                    "reading dead letters"));
  Stmt query(*db_, stmt, "reading dead letters");
  query.Bind(1, after_id).Bind(2, int64_t{limit});
  std::vector<DeadLetter> letters;
  while (true) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
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

Status SqliteStore::UpsertSource(const SourceRow& source) {
  REGLO_SQLITE_ASSIGN(stmt,
                      Prepare("INSERT INTO integration_sources (id, company_id, source_system, "
                              "connector, config, enabled, status, created_at, updated_at) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                              "company_id = excluded.company_id, "
                              "source_system = excluded.source_system, "
                              "connector = excluded.connector, config = excluded.config, "
                              "enabled = excluded.enabled, status = excluded.status, "
                              "updated_at = excluded.updated_at",
                              "saving a source"));
  const std::string now = Now();
  return Stmt(*db_, stmt, "saving a source")
      .Bind(1, source.id)
      .Bind(2, source.company_id)
      .Bind(3, source.source_system)
      .Bind(4, source.connector)
      .Bind(5, source.config_json)
      .Bind(6, int64_t{source.enabled ? 1 : 0})
      .Bind(7, source.status)
      .Bind(8, now)
      .Bind(9, now)
      .Run();
}

Result<std::vector<SourceRow>> SqliteStore::ListSources() {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT id, company_id, source_system, connector, config, "
                                    "enabled, status FROM integration_sources ORDER BY id",
                                    "listing sources"));
  Stmt query(*db_, stmt, "listing sources");
  std::vector<SourceRow> sources;
  while (true) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (!row) break;
    SourceRow& source = sources.emplace_back();
    source.id = query.String(0);
    source.company_id = query.String(1);
    source.source_system = query.String(2);
    source.connector = query.String(3);
    source.config_json = query.String(4);
    source.enabled = query.Int(5) != 0;
    source.status = query.String(6);
  }
  return sources;
}

Status SqliteStore::SetSourceStatus(const std::string& source_id, const std::string& status) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("UPDATE integration_sources SET status = ?, updated_at = ? "
                                    "WHERE id = ?",
                                    "setting a source status"));
  const std::string now = Now();
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "setting a source status")
                            .Bind(1, status)
                            .Bind(2, now)
                            .Bind(3, source_id)
                            .Run());
  if (db_->Changes() == 0) {
    return Status::NotFound(fmt::format("source '{}' does not exist", source_id));
  }
  return Status::Ok();
}

Result<int64_t> SqliteStore::BeginRun(const std::string& source_id, const std::string& started_at) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("INSERT INTO integration_runs (source_id, started_at, status) "
                                    "VALUES (?, ?, ?)",
                                    "starting a run"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "starting a run")
                            .Bind(1, source_id)
                            .Bind(2, started_at)
                            .Bind(3, RunStatusName(RunStatus::kRunning))
                            .Run());
  return db_->LastInsertRowId();
}

Status SqliteStore::FinishRun(int64_t run_id, RunStatus status, const std::string& finished_at,
                              const std::string& error_category, const std::string& error_message) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("UPDATE integration_runs SET status = ?, finished_at = ?, "
                                    "error_category = ?, error_message = ? WHERE id = ?",
                                    "finishing a run"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "finishing a run")
                            .Bind(1, RunStatusName(status))
                            .Bind(2, finished_at)
                            .Bind(3, error_category)
                            .Bind(4, error_message)
                            .Bind(5, run_id)
                            .Run());
  if (db_->Changes() == 0) return Status::NotFound(fmt::format("run {} does not exist", run_id));
  return Status::Ok();
}

Result<int64_t> SqliteStore::CloseAbandonedRuns(const std::string& source_id,
                                                const std::string& finished_at,
                                                const std::string& reason) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("UPDATE integration_runs SET status = ?, finished_at = ?, "
                                    "error_category = ?, error_message = ? "
                                    "WHERE source_id = ? AND status = ?",
                                    "closing abandoned runs"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "closing abandoned runs")
                            .Bind(1, RunStatusName(RunStatus::kFailed))
                            .Bind(2, finished_at)
                            .Bind(3, StatusCodeName(StatusCode::kCancelled))
                            .Bind(4, reason)
                            .Bind(5, source_id)
                            .Bind(6, RunStatusName(RunStatus::kRunning))
                            .Run());
  return static_cast<int64_t>(db_->Changes());
}

Status SqliteStore::AppendRunLog(int64_t run_id, const RunLogLine& line) {
  Stmt insert(*db_, checkpoint_.insert_log, "appending a run log line");
  return insert.Bind(1, run_id)
      .Bind(2, line.at)
      .Bind(3, LogLevelName(line.level))
      .Bind(4, line.message)
      .Run();
}

constexpr std::string_view kRunColumns =
    "id, source_id, started_at, finished_at, status, seen, created, updated, unchanged, stale, "
    "warnings, rejected, error_category, error_message, COALESCE(plugin_version, '')";

Result<std::vector<RunInfo>> SqliteStore::ReadRuns(Stmt& query) {
  std::vector<RunInfo> runs;
  while (true) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (!row) break;
    RunInfo& run = runs.emplace_back();
    run.id = query.Int(0);
    run.source_id = query.String(1);
    run.started_at = query.String(2);
    run.finished_at = query.OptString(3);
    run.status = ParseRunStatus(query.Text(4));
    run.counters.seen = query.Int(5);
    run.counters.created = query.Int(6);
    run.counters.updated = query.Int(7);
    run.counters.unchanged = query.Int(8);
    run.counters.stale = query.Int(9);
    run.counters.warnings = query.Int(10);
    run.counters.rejected = query.Int(11);
    run.error_category = query.String(12);
    run.error_message = query.String(13);
    run.plugin_version = query.String(14);
  }
  return runs;
}

Result<RunInfo> SqliteStore::GetRun(int64_t run_id) {
  REGLO_SQLITE_ASSIGN(
      stmt, Prepare(fmt::format("SELECT {} FROM integration_runs WHERE id = ?", kRunColumns),
                    "reading a run"));
  Stmt query(*db_, stmt, "reading a run");
  query.Bind(1, run_id);
  REGLO_SQLITE_ASSIGN(runs, ReadRuns(query));
  if (runs.empty()) return Status::NotFound(fmt::format("run {} does not exist", run_id));
  return std::move(runs.front());
}

Result<std::vector<RunInfo>> SqliteStore::ListRuns(const std::string& source_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("run list limit must be positive");
  // Newest first; an empty source id lists the runs of every source.
  const bool all = source_id.empty();
  REGLO_SQLITE_ASSIGN(
      stmt, Prepare(fmt::format("SELECT {} FROM integration_runs {} ORDER BY id DESC LIMIT ?",
                                kRunColumns, all ? "" : "WHERE source_id = ?"),
                    "listing runs"));
  Stmt query(*db_, stmt, "listing runs");
  int p = 1;
  if (!all) query.Bind(p++, source_id);
  query.Bind(p, int64_t{limit});
  return ReadRuns(query);
}

Result<std::vector<RunLogLine>> SqliteStore::GetRunLog(int64_t run_id) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT at, level, message FROM integration_run_logs "
                                    "WHERE run_id = ? ORDER BY id",
                                    "reading a run log"));
  Stmt query(*db_, stmt, "reading a run log");
  query.Bind(1, run_id);
  std::vector<RunLogLine> lines;
  while (true) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (!row) break;
    RunLogLine& line = lines.emplace_back();
    line.at = query.String(0);
    line.level = ParseLogLevel(query.Text(1));
    line.message = query.String(2);
  }
  return lines;
}

Result<std::optional<std::string>> SqliteStore::GetCursor(const std::string& source_id,
                                                          const std::string& stream) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT cursor FROM integration_cursors "
                                    "WHERE source_id = ? AND stream = ?",
                                    "reading a cursor"));
  Stmt query(*db_, stmt, "reading a cursor");
  query.Bind(1, source_id).Bind(2, stream);
  REGLO_SQLITE_ASSIGN(row, query.Step());
  if (!row) return std::optional<std::string>();
  return query.OptString(0);
}

// ---------------------------------------------------------------------------------------------
// Leases

Result<bool> SqliteStore::TryAcquireLease(const std::string& source_id, const std::string& owner,
                                          std::chrono::milliseconds ttl, const std::string& now) {
  REGLO_SQLITE_ASSIGN(expires_at, LeaseExpiry(now, ttl));
  // One statement, so atomic: inserted when free, updated when expired or held by `owner`, left
  // alone (no change) while someone else holds it.
  REGLO_SQLITE_ASSIGN(stmt, Prepare("INSERT INTO integration_leases (source_id, owner, expires_at) "
                                    "VALUES (?, ?, ?) ON CONFLICT (source_id) DO UPDATE SET "
                                    "owner = excluded.owner, expires_at = excluded.expires_at "
                                    "WHERE integration_leases.owner = excluded.owner "
                                    "OR integration_leases.expires_at <= ?",
                                    "taking a lease"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "taking a lease")
                            .Bind(1, source_id)
                            .Bind(2, owner)
                            .Bind(3, expires_at)
                            .Bind(4, now)
                            .Run());
  return db_->Changes() == 1;
}

Status SqliteStore::CheckLeaseHeld(const CheckpointBatch& batch) {
  if (batch.lease_owner.empty()) return Status::Ok();
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT owner FROM integration_leases WHERE source_id = ?",
                                    "checking a lease"));
  Stmt query(*db_, stmt, "checking a lease");
  query.Bind(1, batch.source_id);
  REGLO_SQLITE_ASSIGN(row, query.Step());
  return CheckLeaseHolder(batch, row ? std::optional<std::string>(query.String(0)) : std::nullopt);
}

Status SqliteStore::ReleaseLease(const std::string& source_id, const std::string& owner) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("DELETE FROM integration_leases WHERE source_id = ? AND "
                                    "owner = ?",
                                    "releasing a lease"));
  return Stmt(*db_, stmt, "releasing a lease").Bind(1, source_id).Bind(2, owner).Run();
}

// ---------------------------------------------------------------------------------------------
// Agent keys and ingest requests

constexpr std::string_view kAgentKeyColumns =
    "id, prefix, key_hash, secret_protected, company_id, source_system, allowed_cidrs, last4, "
    "status, created_at, last_used_at, revoked_at, rate_per_second, rate_burst";

AgentKeyRow ReadAgentKey(const Stmt& query) {
  AgentKeyRow key;
  key.id = query.Int(0);
  key.prefix = query.String(1);
  key.key_hash = query.String(2);
  key.secret_protected = query.String(3);
  key.company_id = query.String(4);
  key.source_system = query.String(5);
  key.allowed_cidrs = query.String(6);
  key.last4 = query.String(7);
  key.status = query.String(8);
  key.created_at = query.String(9);
  key.last_used_at = query.OptString(10);
  key.revoked_at = query.OptString(11);
  if (!query.IsNull(12)) key.rate_per_second = query.Double(12);
  if (!query.IsNull(13)) key.rate_burst = query.Int(13);
  return key;
}

Result<int64_t> SqliteStore::CreateAgentKey(const AgentKeyRow& key, int max_active) {
  // BEGIN IMMEDIATE takes the write lock first: the count and the insert see no other writer.
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("creating an agent key"));
  REGLO_SQLITE_ASSIGN(count, Prepare("SELECT COUNT(*) FROM integration_agent_keys WHERE "
                                     "company_id = ? AND source_system = ? AND status = 'active'",
                                     "counting agent keys"));
  int64_t active = 0;
  {
    Stmt query(*db_, count, "counting agent keys");
    query.Bind(1, key.company_id).Bind(2, key.source_system);
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (row) active = query.Int(0);
  }
  if (active >= max_active) {
    return Status::AlreadyExists(fmt::format(
        "company '{}', source '{}' already has {} active agent keys (the most allowed); revoke "
        "one first",
        key.company_id, key.source_system, active));
  }
  REGLO_SQLITE_ASSIGN(
      insert, Prepare("INSERT INTO integration_agent_keys (prefix, key_hash, secret_protected, "
                      "company_id, source_system, allowed_cidrs, last4, status, created_at, "
                      "rate_per_second, rate_burst) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
                      "creating an agent key"));
  {
    Stmt stmt(*db_, insert, "creating an agent key");
    stmt.Bind(1, key.prefix)
        .Bind(2, key.key_hash)
        .Bind(3, key.secret_protected)
        .Bind(4, key.company_id)
        .Bind(5, key.source_system)
        .Bind(6, key.allowed_cidrs)
        .Bind(7, key.last4)
        .Bind(8, key.created_at);
    key.rate_per_second ? stmt.BindDouble(9, *key.rate_per_second) : stmt.BindNull(9);
    key.rate_burst ? stmt.Bind(10, *key.rate_burst) : stmt.BindNull(10);
    REGLO_RETURN_IF_ERROR(stmt.Run());
  }
  const int64_t id = db_->LastInsertRowId();
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return id;
}

Result<std::optional<AgentKeyRow>> SqliteStore::FindAgentKey(const std::string& prefix) {
  REGLO_SQLITE_ASSIGN(stmt,
                      Prepare(fmt::format("SELECT {} FROM integration_agent_keys WHERE prefix = ?",
                                          kAgentKeyColumns),
                              "reading an agent key"));
  Stmt query(*db_, stmt, "reading an agent key");
  query.Bind(1, prefix);
  REGLO_SQLITE_ASSIGN(row, query.Step());
  if (!row) return std::optional<AgentKeyRow>();
  return std::optional<AgentKeyRow>(ReadAgentKey(query));
}

Result<std::vector<AgentKeyRow>> SqliteStore::ListAgentKeys() {
  REGLO_SQLITE_ASSIGN(stmt, Prepare(fmt::format("SELECT {} FROM integration_agent_keys ORDER BY id",
                                                kAgentKeyColumns),
                                    "listing agent keys"));
  Stmt query(*db_, stmt, "listing agent keys");
  std::vector<AgentKeyRow> keys;
  for (;;) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (!row) break;
    keys.push_back(ReadAgentKey(query));
  }
  return keys;
}

Result<bool> SqliteStore::RevokeAgentKey(const std::string& prefix, const std::string& now) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("UPDATE integration_agent_keys SET status = 'revoked', "
                                    "revoked_at = ? WHERE prefix = ? AND status = 'active'",
                                    "revoking an agent key"));
  REGLO_RETURN_IF_ERROR(
      Stmt(*db_, stmt, "revoking an agent key").Bind(1, now).Bind(2, prefix).Run());
  return db_->Changes() == 1;
}

Status SqliteStore::TouchAgentKey(int64_t id, const std::string& now) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("UPDATE integration_agent_keys SET last_used_at = ? "
                                    "WHERE id = ?",
                                    "marking an agent key used"));
  return Stmt(*db_, stmt, "marking an agent key used").Bind(1, now).Bind(2, id).Run();
}

Result<bool> SqliteStore::RecordIngestRequest(const IngestRequestRow& row) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("INSERT INTO integration_ingest_requests (key_id, request_id, "
                                    "body_hash, response, created_at) VALUES (?, ?, ?, ?, ?) "
                                    "ON CONFLICT (key_id, request_id) DO NOTHING",
                                    "recording an ingest request"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "recording an ingest request")
                            .Bind(1, row.key_id)
                            .Bind(2, row.request_id)
                            .Bind(3, row.body_hash)
                            .Bind(4, row.response)
                            .Bind(5, row.created_at)
                            .Run());
  return db_->Changes() == 1;
}

Result<std::optional<IngestRequestRow>> SqliteStore::FindIngestRequest(
    int64_t key_id, const std::string& request_id) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT body_hash, response, created_at FROM "
                                    "integration_ingest_requests WHERE key_id = ? AND "
                                    "request_id = ?",
                                    "reading an ingest request"));
  Stmt query(*db_, stmt, "reading an ingest request");
  query.Bind(1, key_id).Bind(2, request_id);
  REGLO_SQLITE_ASSIGN(found, query.Step());
  if (!found) return std::optional<IngestRequestRow>();
  IngestRequestRow row;
  row.key_id = key_id;
  row.request_id = request_id;
  row.body_hash = query.String(0);
  row.response = query.String(1);
  row.created_at = query.String(2);
  return std::optional<IngestRequestRow>(std::move(row));
}

Result<int64_t> SqliteStore::PurgeIngestRequests(const std::string& before) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("DELETE FROM integration_ingest_requests WHERE created_at < ?",
                                    "purging ingest requests"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "purging ingest requests").Bind(1, before).Run());
  return db_->Changes();
}

// ---------------------------------------------------------------------------------------------
// Event delivery (issue #7)

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
  REGLO_SQLITE_ASSIGN(stmt, Prepare(sql, "saving a subscription"));
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
  REGLO_SQLITE_ASSIGN(stmt, Prepare(fmt::format("SELECT {} FROM integration_subscriptions "
                                                "ORDER BY id",
                                                kSubscriptionColumns),
                                    "listing subscriptions"));
  Stmt query(*db_, stmt, "listing subscriptions");
  std::vector<SubscriptionRow> rows;
  for (;;) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (!row) break;
    rows.push_back(ReadSubscription(query));
  }
  return rows;
}

Result<std::optional<SubscriptionRow>> SqliteStore::FindSubscription(const std::string& id) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare(fmt::format("SELECT {} FROM integration_subscriptions "
                                                "WHERE id = ?",
                                                kSubscriptionColumns),
                                    "reading a subscription"));
  Stmt query(*db_, stmt, "reading a subscription");
  query.Bind(1, id);
  REGLO_SQLITE_ASSIGN(row, query.Step());
  if (!row) return std::optional<SubscriptionRow>();
  return std::optional<SubscriptionRow>(ReadSubscription(query));
}

Result<bool> SqliteStore::SetSubscriptionEnabled(const std::string& id, bool enabled,
                                                 const std::string& reason,
                                                 const std::string& now) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("UPDATE integration_subscriptions SET enabled = ?, "
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
    REGLO_SQLITE_ASSIGN(stmt, Prepare(sql, "deleting a subscription"));
    REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "deleting a subscription").Bind(1, id).Run());
    deleted = db_->Changes();
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return deleted == 1;
}

Result<int64_t> SqliteStore::GetRelayPosition(const std::string& subscription_id) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT position FROM integration_relay_positions "
                                    "WHERE subscription_id = ?",
                                    "reading a relay position"));
  Stmt query(*db_, stmt, "reading a relay position");
  query.Bind(1, subscription_id);
  REGLO_SQLITE_ASSIGN(row, query.Step());
  return row ? query.Int(0) : int64_t{0};
}

Status SqliteStore::SaveRelayProgress(const std::string& subscription_id,
                                      std::optional<int64_t> position,
                                      const std::vector<DeliveryRow>& deliveries) {
  const std::string now = Now();
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("saving relay progress"));
  if (!deliveries.empty()) {
    REGLO_SQLITE_ASSIGN(
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
    REGLO_SQLITE_ASSIGN(stmt, Prepare("INSERT INTO integration_relay_positions (subscription_id, "
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
  REGLO_SQLITE_ASSIGN(stmt, Prepare(sql, "listing deliveries"));
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
    REGLO_SQLITE_ASSIGN(found, query.Step());
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
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT DISTINCT entity_key FROM integration_deliveries "
                                    "WHERE subscription_id = ? AND status = 'pending'",
                                    "reading pending deliveries"));
  Stmt query(*db_, stmt, "reading pending deliveries");
  query.Bind(1, subscription_id);
  std::vector<std::string> keys;
  for (;;) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (!row) break;
    keys.push_back(query.String(0));
  }
  return keys;
}

Result<int64_t> SqliteStore::LatestEventSequence() {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT COALESCE(MAX(sequence), 0) FROM integration_events",
                                    "reading the latest event sequence"));
  Stmt query(*db_, stmt, "reading the latest event sequence");
  REGLO_SQLITE_ASSIGN(row, query.Step());
  return row ? query.Int(0) : int64_t{0};
}

// ---------------------------------------------------------------------------------------------
// Admin API (issue #5): settings, API-created sources, cursors, browsing, run totals

Result<std::optional<std::string>> SqliteStore::GetSetting(const std::string& key) {
  REGLO_SQLITE_ASSIGN(
      stmt, Prepare("SELECT value FROM integration_settings WHERE key = ?", "reading a setting"));
  Stmt query(*db_, stmt, "reading a setting");
  query.Bind(1, key);
  REGLO_SQLITE_ASSIGN(row, query.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(query.String(0));
}

Status SqliteStore::PutSetting(const std::string& key, const std::string& value,
                               const std::string& now) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("INSERT INTO integration_settings (key, value, updated_at) "
                                    "VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                                    "value = excluded.value, updated_at = excluded.updated_at",
                                    "saving a setting"));
  return Stmt(*db_, stmt, "saving a setting").Bind(1, key).Bind(2, value).Bind(3, now).Run();
}

Result<std::vector<ApiSourceRow>> SqliteStore::ListApiSources() {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT id, company_id, source_system, connector, config, "
                                    "enabled, interval_ms, created_at, updated_at "
                                    "FROM integration_api_sources ORDER BY id",
                                    "listing API-created sources"));
  Stmt query(*db_, stmt, "listing API-created sources");
  std::vector<ApiSourceRow> sources;
  while (true) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (!row) break;
    ApiSourceRow& source = sources.emplace_back();
    source.source.id = query.String(0);
    source.source.company_id = query.String(1);
    source.source.source_system = query.String(2);
    source.source.connector = query.String(3);
    source.source.config_json = query.String(4);
    source.source.enabled = query.Int(5) != 0;
    source.interval_ms = query.Int(6);
    source.created_at = query.String(7);
    source.updated_at = query.String(8);
  }
  return sources;
}

Status SqliteStore::PutApiSource(const ApiSourceRow& source) {
  REGLO_SQLITE_ASSIGN(
      stmt, Prepare("INSERT INTO integration_api_sources (id, company_id, source_system, "
                    "connector, config, enabled, interval_ms, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "company_id = excluded.company_id, source_system = excluded.source_system, "
                    "connector = excluded.connector, config = excluded.config, "
                    "enabled = excluded.enabled, interval_ms = excluded.interval_ms, "
                    "updated_at = excluded.updated_at",
                    "saving an API-created source"));
  return Stmt(*db_, stmt, "saving an API-created source")
      .Bind(1, source.source.id)
      .Bind(2, source.source.company_id)
      .Bind(3, source.source.source_system)
      .Bind(4, source.source.connector)
      .Bind(5, source.source.config_json)
      .Bind(6, int64_t{source.source.enabled ? 1 : 0})
      .Bind(7, source.interval_ms)
      .Bind(8, source.created_at)
      .Bind(9, source.updated_at)
      .Run();
}

Result<bool> SqliteStore::DeleteApiSource(const std::string& id) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("DELETE FROM integration_api_sources WHERE id = ?",
                                    "deleting an API-created source"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "deleting an API-created source").Bind(1, id).Run());
  return db_->Changes() > 0;
}

Result<bool> SqliteStore::DeleteSource(const std::string& id) {
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("deleting a source"));
  bool existed = false;
  for (const char* sql : {"DELETE FROM integration_cursors WHERE source_id = ?",
                          "DELETE FROM integration_leases WHERE source_id = ?",
                          "DELETE FROM integration_sources WHERE id = ?"}) {
    REGLO_SQLITE_ASSIGN(stmt, Prepare(sql, "deleting a source"));
    REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "deleting a source").Bind(1, id).Run());
    existed = db_->Changes() > 0;  // the last statement's: the source row
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return existed;
}

Result<std::vector<CursorRow>> SqliteStore::ListCursors(const std::string& source_id) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT stream, cursor, updated_at FROM integration_cursors "
                                    "WHERE source_id = ? ORDER BY stream",
                                    "listing cursors"));
  Stmt query(*db_, stmt, "listing cursors");
  query.Bind(1, source_id);
  std::vector<CursorRow> cursors;
  while (true) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (!row) break;
    CursorRow& cursor = cursors.emplace_back();
    cursor.stream = query.String(0);
    cursor.cursor = query.OptString(1);
    cursor.updated_at = query.String(2);
  }
  return cursors;
}

Result<int64_t> SqliteStore::ResetCursors(const std::string& source_id) {
  REGLO_SQLITE_ASSIGN(
      stmt, Prepare("DELETE FROM integration_cursors WHERE source_id = ?", "resetting cursors"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "resetting cursors").Bind(1, source_id).Run());
  return db_->Changes();
}

Result<std::vector<RunInfo>> SqliteStore::ListRunsBefore(const std::string& source_id,
                                                         int64_t before_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("run list limit must be positive");
  REGLO_SQLITE_ASSIGN(
      stmt, Prepare(fmt::format("SELECT {} FROM integration_runs WHERE source_id = ? AND id < ? "
                                "ORDER BY id DESC LIMIT ?",
                                kRunColumns),
                    "listing runs"));
  Stmt query(*db_, stmt, "listing runs");
  query.Bind(1, source_id)
      .Bind(2, before_id > 0 ? before_id : std::numeric_limits<int64_t>::max())
      .Bind(3, int64_t{limit});
  return ReadRuns(query);
}

Result<std::vector<StoredEvent>> SqliteStore::ReadEventsFiltered(int64_t after_sequence, int limit,
                                                                 const EventFilter& filter) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT sequence, event_id, type, company_id, source_system, "
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

Result<RecordPage> SqliteStore::BrowseRecords(const model::EntitySpec& entity,
                                              const RecordQuery& query) {
  if (query.limit <= 0 || query.offset < 0) {
    return Status::InvalidArgument("record page limit must be positive and offset not negative");
  }
  const BrowseSql sql = MakeBrowseSql(entity, query, [](int) { return std::string("?"); });
  const std::string pattern = ContainsPattern(query.search);
  // Binds the filter parameters shared by both statements; returns the next index.
  const auto bind_filters = [&](Stmt& stmt) {
    int p = 1;
    if (!query.company_id.empty()) stmt.Bind(p++, query.company_id);
    if (!query.search.empty()) {
      for (int i = 0; i < sql.search_columns; ++i) stmt.Bind(p++, pattern);
    }
    return p;
  };
  RecordPage page;
  {
    REGLO_SQLITE_ASSIGN(stmt, Prepare(sql.count, "counting records"));
    Stmt count(*db_, stmt, "counting records");
    bind_filters(count);
    REGLO_SQLITE_ASSIGN(row, count.Step());
    page.total = row ? count.Int(0) : 0;
  }
  REGLO_SQLITE_ASSIGN(stmt, Prepare(sql.select, "browsing records"));
  Stmt select(*db_, stmt, "browsing records");
  const int p = bind_filters(select);
  select.Bind(p, int64_t{query.limit}).Bind(p + 1, query.offset);
  while (true) {
    REGLO_SQLITE_ASSIGN(row, select.Step());
    if (!row) break;
    BrowsedRecord& record = page.items.emplace_back();
    record.key.company_id = select.String(0);
    record.key.source_system = select.String(1);
    record.key.external_id = select.String(2);
    record.version = select.Int(3);
    record.updated_at = select.String(4);
    for (size_t i = 0; i < entity.fields.size(); ++i) {
      record.values.push_back(select.OptString(5 + static_cast<int>(i)));
    }
  }
  return page;
}

Result<std::vector<RunTotals>> SqliteStore::ListRunTotals() {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("SELECT source_id, status, COUNT(*), SUM(seen), SUM(created), "
                                    "SUM(updated), SUM(unchanged), SUM(stale), SUM(warnings), "
                                    "SUM(rejected), MAX(finished_at) FROM integration_runs "
                                    "GROUP BY source_id, status ORDER BY source_id, status",
                                    "summing runs"));
  Stmt query(*db_, stmt, "summing runs");
  std::vector<RunTotals> totals;
  while (true) {
    REGLO_SQLITE_ASSIGN(row, query.Step());
    if (!row) break;
    RunTotals& total = totals.emplace_back();
    total.source_id = query.String(0);
    total.status = ParseRunStatus(query.Text(1));
    total.runs = query.Int(2);
    total.counters.seen = query.Int(3);
    total.counters.created = query.Int(4);
    total.counters.updated = query.Int(5);
    total.counters.unchanged = query.Int(6);
    total.counters.stale = query.Int(7);
    total.counters.warnings = query.Int(8);
    total.counters.rejected = query.Int(9);
    total.last_finished_at = query.OptString(10);
  }
  return totals;
}

Status SqliteStore::SetRunPluginVersion(int64_t run_id, const std::string& version) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("UPDATE integration_runs SET plugin_version = ? WHERE id = ?",
                                    "recording a run's plugin version"));
  return Stmt(*db_, stmt, "recording a run's plugin version")
      .Bind(1, version)
      .Bind(2, run_id)
      .Run();
}

// ---------------------------------------------------------------------------------------------
// Ingestion API (issue #6)

Result<IngestCommit> SqliteStore::CommitIngest(
    const CheckpointBatch& batch, const IngestRequestRow& request,
    const std::function<std::string(const CheckpointResult&)>& respond) {
  REGLO_RETURN_IF_ERROR(CheckCheckpointRecords(batch));
  IngestCommit commit;
  // BEGIN IMMEDIATE: the lookup, the checkpoint and the request row see no other writer, so two
  // requests racing with one id commit once.
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("committing an ingest request"));
  REGLO_SQLITE_ASSIGN(existing, FindIngestRequest(request.key_id, request.request_id));
  if (existing) {
    commit.replayed = true;
    commit.stored = std::move(*existing);
    return commit;  // rolls back: nothing was written
  }
  REGLO_RETURN_IF_ERROR(ApplyCheckpoint(batch, commit.result));
  commit.stored = request;
  commit.stored.response = respond(commit.result);
  REGLO_SQLITE_ASSIGN(recorded, RecordIngestRequest(commit.stored));
  if (!recorded) return Status::Internal("ingest request recorded twice in one transaction");
  REGLO_RETURN_IF_ERROR(tx.Commit());
  NoteCommitted();
  return commit;
}

Result<bool> SqliteStore::SetAgentKeyRateLimit(const std::string& prefix,
                                               std::optional<double> rate_per_second,
                                               std::optional<int64_t> burst) {
  REGLO_SQLITE_ASSIGN(stmt, Prepare("UPDATE integration_agent_keys SET rate_per_second = ?, "
                                    "rate_burst = ? WHERE prefix = ?",
                                    "setting an agent key's rate limit"));
  Stmt update(*db_, stmt, "setting an agent key's rate limit");
  rate_per_second ? update.BindDouble(1, *rate_per_second) : update.BindNull(1);
  burst ? update.Bind(2, *burst) : update.BindNull(2);
  update.Bind(3, prefix);
  REGLO_RETURN_IF_ERROR(update.Run());
  return db_->Changes() == 1;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  Result<std::unique_ptr<Db>> db = Db::Open(path);
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqliteStore>(std::move(*db));
  REGLO_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace reglo::storage

#undef REGLO_SQLITE_ASSIGN
