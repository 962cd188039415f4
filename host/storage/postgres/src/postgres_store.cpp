#include "reglo/storage/postgres_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "migrations.h"
#include "pg_conn.h"
#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/row_codec.h"

namespace reglo::storage {
namespace {

using postgres::ArrayBuilder;
using postgres::Conn;
using postgres::CopyRows;
using postgres::kInt8Oid;
using postgres::kTextOid;
using postgres::Params;
using postgres::Rows;
using postgres::Transaction;

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
    "COPY integration_events (event_id, type, company_id, source_system, entity, external_id, "
    "version, time, data) FROM STDIN (FORMAT binary)";
// The settings of a checkpoint transaction:
//  - synchronous_commit as the URL says, "off" by default (see PostgresUrl): COMMIT does not
//    wait for its WAL flush, which costs a disk flush per checkpoint otherwise;
//  - no sequential scans, hash or merge joins: every statement of a checkpoint reaches a few
//    thousand rows by primary key, and a table filled since its last ANALYZE (a cold load) would
//    otherwise be planned as if empty and scanned whole once per batch.
//  - lock_timeout: a writer waits for another one's rows (a race on the same records) for at
//    most a minute, then fails retryably, rather than hanging behind a stuck transaction.
std::string CheckpointSettings(const std::string& synchronous_commit) {
  return fmt::format(
      "SET LOCAL synchronous_commit = {}; SET LOCAL enable_seqscan = off; "
      "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
      "SET LOCAL lock_timeout = '60s'",
      synchronous_commit);
}

// Column positions of the canonical SELECT (GetRecord): bookkeeping first, then the fields.
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

std::string Now() {
  return FormatUtc(SystemClock::Instance().Now());
}

// "first_name, last_name, ..." with `prefix` before and `suffix` after each column.
std::string Columns(const model::EntitySpec& entity, std::string_view prefix,
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
        .Add("content_hash")
        .Add("source_updated_at")
        .Add("extra")
        .Add("warnings");
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
  // external id and incoming content hash arrays (hash NULL: always return the values).
  std::string lookup;
  // Multi-row insert of new records, ON CONFLICT DO NOTHING: the affected count says whether
  // another writer got there first. $1..$3 identity arrays, one array per field, version,
  // content hash, source updated at, extra and warnings arrays, then the commit time.
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
};

EntitySql MakeEntitySql(const model::EntitySpec& entity) {
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
      values, UnnestList().Add("company_id").Add("source_system").Add("external_id").Add("h").str(),
      table);

  UnnestList inserted;
  inserted.Add("company_id").Add("source_system").Add("external_id").AddFields(entity);
  inserted.AddBookkeeping();
  const std::string columns = fmt::format(
      "{} (company_id, source_system, external_id{}, version, content_hash, source_updated_at, "
      "extra, warnings, created_at, updated_at)",
      table, Columns(entity, "", ""));
  sql.insert = fmt::format(
      "INSERT INTO {} SELECT {}, ${}::text, ${}::text "
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
      "updated_at = ${2}::text FROM (SELECT {3}) AS u "
      "WHERE s.company_id = u.company_id AND s.source_system = u.source_system "
      "AND s.external_id = u.external_id AND s.version = u.expected_version",
      table, set, updated.next_param(), updated.str());
  return sql;
}

// Assigns a result's value to `var`, or returns its status from the enclosing function.
#define REGLO_PG_ASSIGN(var, expr)                      \
  auto var##_result = (expr);                           \
  if (!var##_result.ok()) return var##_result.status(); \
  auto var = std::move(*var##_result)

class PostgresStore final : public Store {
 public:
  PostgresStore(std::unique_ptr<Conn> conn, const PostgresUrl& url)
      : conn_(std::move(conn)), checkpoint_settings_(CheckpointSettings(url.synchronous_commit)) {
    for (const model::EntitySpec& entity : model::CanonicalEntities()) {
      entity_sql_.emplace(&entity, MakeEntitySql(entity));
    }
  }

  Status Open();

  Status Migrate() override;
  Result<int> SchemaVersion() override;
  int LatestSchemaVersion() const override { return postgres::Migrations().back().version; }

  Status UpsertSource(const SourceRow& source) override;
  Result<std::vector<SourceRow>> ListSources() override;
  Status SetSourceStatus(const std::string& source_id, const std::string& status) override;

  Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) override;
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
  Status VerifyColumns();
  Result<const EntitySql*> SqlFor(const model::EntitySpec& entity);
  static void SlotKey(const model::EntitySpec& entity, const std::string& company_id,
                      const std::string& source_system, const std::string& external_id,
                      std::string& key);
  Status PlanBatch(const CheckpointBatch& batch);
  Result<Attempt> TryCommit(const CheckpointBatch& batch, bool first_attempt,
                            CheckpointResult& result, IngestHook* ingest = nullptr);
  // Sends the insert of every identity of `group` that occurs once, without waiting for it;
  // returns how many rows it should insert.
  Result<int64_t> SendInsertFirst(const Group& group, const std::string& committed_at);
  // Reads the stored rows of the group's identities (only the repeated ones when
  // `repeated_only`: the others are inserted first).
  Status Lookup(const Group& group, bool repeated_only);
  Result<bool> WriteRecords(const Group& group, const std::string& committed_at);
  static Params RecordParams(const Group& group, const std::vector<const Slot*>& rows,
                             bool with_expected_version, const std::string& committed_at);
  Status WriteBookkeeping(const CheckpointBatch& batch, const RunCounters& counters);
  Result<std::vector<RunInfo>> ReadRuns(const Rows& rows);
  // The rows of an integration_events SELECT (sequence, event_id, type, company_id,
  // source_system, entity, external_id, version, time, data).
  static std::vector<StoredEvent> ReadEventRows(const Rows& rows);

  std::unique_ptr<Conn> conn_;
  const std::string checkpoint_settings_;  // SET LOCAL statements of a checkpoint transaction
  std::unordered_map<const model::EntitySpec*, EntitySql> entity_sql_;
  // Per canonical table: whether its last batch was all new. Then the next one is inserted
  // first and only the records already there are looked up (a cold load looks up nothing).
  std::vector<bool> insert_first_ = std::vector<bool>(model::CanonicalEntities().size(), false);
  // The plan of the batch being committed; pointers into it are not used after it.
  std::vector<Slot> slots_;
  std::vector<size_t> record_slot_;  // per batch record
  std::vector<Group> groups_;        // in CanonicalEntities() order
};

// ---------------------------------------------------------------------------------------------
// Schema

Status PostgresStore::Open() {
  if (conn_->ServerVersion() < kMinServerVersion) {
    return Status::Incompatible(
        fmt::format("PostgreSQL ({}) is version {}; reglo-hub needs 12 or newer",
                    conn_->description(), conn_->ServerVersion() / 10000));
  }
  REGLO_RETURN_IF_ERROR(Migrate());
  return VerifyColumns();
}

Result<int> PostgresStore::SchemaVersion() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(exists, conn_->Query("SELECT to_regclass('schema_migrations') IS NOT NULL",
                                       "reading the schema version"));
  if (exists.size() != 1 || exists.Text(0, 0) != "t") return 0;
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                                     "reading the schema version"));
  return rows.size() == 1 ? static_cast<int>(rows.Int(0, 0)) : 0;
}

Status PostgresStore::Migrate() {
  const int latest = LatestSchemaVersion();
  const auto refuse_newer = [latest](int current) {
    return Status::Incompatible(
        fmt::format("database schema version {} is newer than the newest this build knows ({}); "
                    "upgrade reglo-hub or use a matching database",
                    current, latest));
  };
  // Checked before taking the lock so that an up-to-date database opens without one.
  REGLO_PG_ASSIGN(current, SchemaVersion());
  if (current > latest) return refuse_newer(current);
  if (current == latest) return Status::Ok();

  // DDL is transactional in PostgreSQL: every pending migration commits together, or none.
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("applying migrations"));
  // Several instances may start at once: one migrates, the others wait and then find it done.
  REGLO_RETURN_IF_ERROR(conn_
                            ->Query("SELECT pg_advisory_xact_lock($1)",
                                    Params().Int(kMigrationLock), "waiting for the migration lock")
                            .status());
  // The bookkeeping table itself is not a migration: it must exist before any can be counted.
  REGLO_RETURN_IF_ERROR(
      conn_->Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                  "name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                  "creating schema_migrations"));
  REGLO_PG_ASSIGN(locked_current, SchemaVersion());
  if (locked_current > latest) return refuse_newer(locked_current);
  for (const postgres::Migration& migration : postgres::Migrations()) {
    if (migration.version <= locked_current) continue;
    const std::string what =
        fmt::format("applying migration {} ({})", migration.version, migration.name);
    REGLO_RETURN_IF_ERROR(conn_->Exec(migration.sql, what));
    REGLO_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO schema_migrations (version, name, applied_at) "
                    "VALUES ($1::int8, $2, $3)",
                    Params().Int(migration.version).Text(migration.name).Text(Now()), what)
            .status());
  }
  return tx.Commit();
}

Status PostgresStore::VerifyColumns() {
  // A field added to schema.cpp without its migration would otherwise surface later as a failed
  // statement in the middle of a sync; say what is wrong at start instead.
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT table_name || '.' || column_name FROM "
                                     "information_schema.columns "
                                     "WHERE table_schema = current_schema()",
                                     "reading the columns of the canonical tables"));
  std::set<std::string, std::less<>> columns;
  for (int r = 0; r < rows.size(); ++r) columns.insert(rows.String(r, 0));
  for (const model::EntitySpec& entity : model::CanonicalEntities()) {
    for (const model::FieldSpec& field : entity.fields) {
      if (!columns.contains(fmt::format("{}.{}", entity.table, field.column))) {
        return Status::Internal(fmt::format(
            "table {} has no column {} for field {}.{}: schema.cpp and the storage migrations "
            "disagree (add a migration)",
            entity.table, field.column, entity.name, field.name));
      }
    }
  }
  return Status::Ok();
}

Result<const EntitySql*> PostgresStore::SqlFor(const model::EntitySpec& entity) {
  if (auto it = entity_sql_.find(&entity); it != entity_sql_.end()) return &it->second;
  // A spec that is not one of CanonicalEntities() (a copy): use the canonical one of that name.
  if (const model::EntitySpec* canonical = model::FindEntity(entity.name)) {
    if (auto it = entity_sql_.find(canonical); it != entity_sql_.end()) return &it->second;
  }
  return Status::InvalidArgument(fmt::format("'{}' is not a canonical entity", entity.name));
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
//
// One transaction per attempt, a handful of statements per batch whatever its size:
//   1. per table, one SELECT of the stored rows of the batch's identities (values only where the
//      content hash differs, so a no-op re-sync reads little). When the table's previous batch
//      was all new (a cold load), its records are instead inserted first with one binary COPY,
//      sent without waiting while 2 runs; when one of them exists already, the unique
//      identity index refuses it and the attempt starts over with the SELECT (the violation is
//      the expected answer there, never passed on);
//   2. decisions in C++, record by record in batch order, with model::Reconcile and
//      model::BuildEvents (exactly the SQLite backend's semantics, duplicates included);
//   3. per table, one multi-row INSERT ... ON CONFLICT DO NOTHING of the new records and one
//      multi-row UPDATE of the changed ones guarded by the version read in 1;
//   4. one binary COPY of the events, then the dead letters, log lines, run counters and
//      cursor; COMMIT.
// Rows travel as binary arrays, one parameter per column, or as binary COPY data (measured: on a
// cold load, COPY spares the server a fifth of an unnested INSERT's work). No row is locked for
// reading: when another writer inserted or changed one of the batch's records between 1 and 3,
// the affected counts show it, and the attempt is rolled back and decided again on what the winner
// committed (READ COMMITTED: the next statement sees it). So two writers racing on a new record
// yield one row and one `created` event, and no unique-violation error ever reaches the caller.
// Deadlocks and serialization failures roll back and start over as well (bounded:
// kMaxCommitAttempts).

// The columns of a record's row that follow its identity, in EntitySql::insert's order: the
// fields, then kColumnsAfterFields more (version, content hash, source updated at, extra,
// warnings), each handed to `column(i)`, the BinaryFields (an ArrayBuilder, or one CopyRows for
// all) of column i. `scratch` holds the JSON columns while they are added.
constexpr size_t kColumnsAfterFields = 5;
template <typename ColumnOf>
void AddRecordColumns(const model::CanonicalRecord& record, int64_t version, ColumnOf&& column,
                      std::string& scratch) {
  size_t c = 0;
  for (const std::optional<std::string>& value : record.values) column(c++).AddOpt(value);
  column(c++).AddInt(version);
  column(c++).Add(record.content_hash);
  column(c++).AddOpt(record.source_updated_at);
  scratch = record.extra.empty() ? std::string() : model::ExtraToJson(record.extra);
  column(c++).AddTextOrNull(scratch);
  WarningsToJson(record.warnings, scratch);
  column(c++).AddTextOrNull(scratch);
}

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

Result<CheckpointResult> PostgresStore::CommitCheckpoint(const CheckpointBatch& batch) {
  REGLO_RETURN_IF_ERROR(CheckCheckpointRecords(batch));
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_RETURN_IF_ERROR(PlanBatch(batch));
  for (int attempt = 1;; ++attempt) {
    CheckpointResult result;
    Result<Attempt> done = TryCommit(batch, attempt == 1, result);
    if (done.ok() && *done == Attempt::kDone) return result;
    // A lost race, a serialization failure or a deadlock rolled everything back: start over.
    const bool conflict = done.ok() || (done.status().code() == StatusCode::kRetryable &&
                                        conn_->LastFailureIsConflict());
    if (!conflict) return done.status();
    if (attempt == kMaxCommitAttempts) {
      return Status::Retryable(fmt::format(
          "postgres: the checkpoint kept conflicting with other writers ({} attempts)", attempt));
    }
  }
}

void PostgresStore::SlotKey(const model::EntitySpec& entity, const std::string& company_id,
                            const std::string& source_system, const std::string& external_id,
                            std::string& key) {
  key.assign(entity.name);
  key += '\0';
  key += company_id;
  key += '\0';
  key += source_system;
  key += '\0';
  key += external_id;
}

Status PostgresStore::PlanBatch(const CheckpointBatch& batch) {
  slots_.clear();
  record_slot_.clear();
  groups_.clear();
  std::unordered_map<std::string, size_t> slot_of;
  slot_of.reserve(batch.records.size());
  const std::vector<model::EntitySpec>& entities = model::CanonicalEntities();
  std::vector<std::vector<size_t>> slots_by_entity(entities.size());
  std::string key;
  for (const model::CanonicalRecord& record : batch.records) {
    const model::EntitySpec* entity = model::FindEntity(record.entity->name);
    if (entity == nullptr) {
      return Status::InvalidArgument(
          fmt::format("'{}' is not a canonical entity ({})", record.entity->name, record.origin));
    }
    SlotKey(*entity, record.key.company_id, record.key.source_system, record.key.external_id, key);
    auto [it, inserted] = slot_of.try_emplace(key, slots_.size());
    if (inserted) {
      slots_.push_back({});
      slots_.back().first = &record;
      slots_by_entity[static_cast<size_t>(entity - entities.data())].push_back(it->second);
    } else {
      slots_[it->second].repeated = true;
    }
    record_slot_.push_back(it->second);
  }
  // Groups in a fixed table order, so concurrent writers take row locks in the same order.
  for (size_t e = 0; e < entities.size(); ++e) {
    if (slots_by_entity[e].empty()) continue;
    REGLO_PG_ASSIGN(sql, SqlFor(entities[e]));
    groups_.push_back({e, &entities[e], sql, std::move(slots_by_entity[e])});
  }
  return Status::Ok();
}

Result<PostgresStore::Attempt> PostgresStore::TryCommit(const CheckpointBatch& batch,
                                                        bool first_attempt,
                                                        CheckpointResult& result,
                                                        IngestHook* ingest) {
  for (Slot& slot : slots_) {
    slot.inserted = false;
    slot.stored = false;
    slot.stored_version = 0;
    slot.state.reset();
    slot.last = nullptr;
    slot.last_version = 0;
  }
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("committing a checkpoint", checkpoint_settings_));
  if (!batch.lease_owner.empty()) {
    // FOR SHARE: the lease row stays locked until COMMIT, so another instance taking the lease
    // over waits for this commit and then reads the cursor it wrote, never an older one.
    REGLO_PG_ASSIGN(lease, conn_->Query("SELECT owner FROM integration_leases WHERE source_id = $1 "
                                        "FOR SHARE",
                                        Params().Text(batch.source_id), "checking a lease"));
    REGLO_RETURN_IF_ERROR(CheckLeaseHolder(
        batch, lease.size() == 0 ? std::nullopt : std::optional<std::string>(lease.String(0, 0))));
  }
  if (ingest != nullptr) {
    // The request id first: a concurrent transaction inserting the same id makes this one wait
    // for its end, then find the row (a replay) or take its place (it rolled back).
    const IngestRequestRow& request = *ingest->request;
    REGLO_PG_ASSIGN(claimed, conn_->Query("INSERT INTO integration_ingest_requests (key_id, "
                                          "request_id, body_hash, response, created_at) "
                                          "VALUES ($1, $2, $3, '', $4) "
                                          "ON CONFLICT (key_id, request_id) DO NOTHING",
                                          Params()
                                              .Int(request.key_id)
                                              .Text(request.request_id)
                                              .Text(request.body_hash)
                                              .Text(request.created_at),
                                          "recording an ingest request"));
    if (claimed.Affected() != 1) return Attempt::kReplayed;  // the transaction rolls back
  }
  // After an all-new batch, expect another: insert its records first and look up only the
  // identities that occur more than once. When one of them exists (a re-sync begins, or another
  // writer was first) the identity's unique index refuses the insert, and the attempt starts over
  // with lookups.
  for (const Group& group : groups_) {
    const bool insert_first = first_attempt && insert_first_[group.entity_index];
    REGLO_RETURN_IF_ERROR(Lookup(group, insert_first));
  }
  // The last insert stays in flight while the records are decided and the events built.
  const Group* in_flight = nullptr;
  int64_t in_flight_rows = 0;
  const auto land = [&]() -> Result<bool> {
    if (in_flight == nullptr) return true;
    const size_t entity_index = in_flight->entity_index;
    in_flight = nullptr;
    Result<Rows> inserted = conn_->Receive("inserting records");
    if (!inserted.ok() && conn_->last_sqlstate() != kUniqueViolation) return inserted.status();
    if (inserted.ok() && inserted->Affected() == in_flight_rows) return true;
    insert_first_[entity_index] = false;
    return false;
  };
  for (const Group& group : groups_) {
    if (!first_attempt || !insert_first_[group.entity_index]) continue;
    REGLO_PG_ASSIGN(landed, land());
    if (!landed) return Attempt::kLostRace;
    REGLO_PG_ASSIGN(sent, SendInsertFirst(group, batch.committed_at));
    if (sent > 0) {
      in_flight = &group;
      in_flight_rows = sent;
    }
  }

  // Decide record by record, in batch order: a later duplicate sees what an earlier one did.
  CopyRows events(9);  // integration_events, as kCopyEvents lists the columns
  result.outcomes.reserve(batch.records.size());
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const model::CanonicalRecord& record = batch.records[i];
    Slot& slot = slots_[record_slot_[i]];
    const model::Decision decision = model::Reconcile(record, slot.state ? &*slot.state : nullptr);
    result.outcomes.push_back(decision.outcome);
    switch (decision.outcome) {
      case model::Outcome::kCreated: ++result.counters.created; break;
      case model::Outcome::kUpdated: ++result.counters.updated; break;
      case model::Outcome::kUnchanged: ++result.counters.unchanged; continue;
      case model::Outcome::kStale: ++result.counters.stale; continue;
    }
    for (model::EventRecord& event : model::BuildEvents(record, decision, batch.committed_at)) {
      events.StartRow();
      events.Add(event.event_id);
      events.Add(event.type);
      events.Add(event.company_id);
      events.Add(event.source_system);
      events.Add(event.entity);
      events.Add(event.external_id);
      events.AddInt(event.version);
      events.Add(event.time);
      events.Add(event.data);
    }
    slot.last = &record;
    slot.last_version = decision.version;
    if (slot.repeated) {
      // Only a later record of the same identity reads this state.
      model::StoredState& state = slot.state.emplace();
      state.version = decision.version;
      state.content_hash = record.content_hash;
      state.source_updated_at = record.source_updated_at;
      state.values = record.values;
      state.extra = record.extra;
    }
  }

  REGLO_PG_ASSIGN(landed, land());
  if (!landed) return Attempt::kLostRace;  // the transaction rolls back
  for (const Group& group : groups_) {
    REGLO_PG_ASSIGN(written, WriteRecords(group, batch.committed_at));
    if (!written) return Attempt::kLostRace;
  }

  if (events.rows() > 0) {
    // Sequences are drawn in commit order: a reader that has seen sequence N never later finds a
    // smaller one committed. The lock is held until COMMIT, for the short rest of the transaction.
    REGLO_RETURN_IF_ERROR(conn_
                              ->Query("SELECT pg_advisory_xact_lock($1)",
                                      Params().Int(kEventOrderLock), "ordering the outbox")
                              .status());
    // Exactly once without a unique index (as in the SQLite backend): an event is appended in the
    // transaction that moves its record to that version, and a record moves once per version.
    REGLO_RETURN_IF_ERROR(conn_->SendCopy(kCopyEvents, events, "appending events"));
    REGLO_PG_ASSIGN(appended, conn_->Receive("appending events"));
    result.events = appended.Affected();
  }
  REGLO_RETURN_IF_ERROR(WriteBookkeeping(batch, result.counters));
  if (ingest != nullptr) {
    ingest->response = (*ingest->respond)(result);
    REGLO_RETURN_IF_ERROR(conn_
                              ->Query("UPDATE integration_ingest_requests SET response = $3 "
                                      "WHERE key_id = $1 AND request_id = $2",
                                      Params()
                                          .Int(ingest->request->key_id)
                                          .Text(ingest->request->request_id)
                                          .Text(ingest->response),
                                      "recording an ingest response")
                              .status());
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  for (const Group& group : groups_) {
    insert_first_[group.entity_index] = std::none_of(group.slots.begin(), group.slots.end(),
                                                     [this](size_t s) { return slots_[s].stored; });
  }
  return Attempt::kDone;
}

Result<int64_t> PostgresStore::SendInsertFirst(const Group& group,
                                               const std::string& committed_at) {
  // Candidates: identities that occur once (a repeated one is decided record by record), as
  // version 1 of their record, in key order (see WriteRecords).
  std::vector<Slot*> rows;
  for (size_t s : group.slots) {
    Slot& slot = slots_[s];
    if (slot.repeated) continue;
    slot.last = slot.first;
    slot.last_version = 1;
    rows.push_back(&slot);
  }
  if (rows.empty()) return int64_t{0};
  std::sort(rows.begin(), rows.end(), [](const Slot* a, const Slot* b) {
    const model::RecordKey& x = a->first->key;
    const model::RecordKey& y = b->first->key;
    return std::tie(x.company_id, x.source_system, x.external_id) <
           std::tie(y.company_id, y.source_system, y.external_id);
  });
  const size_t n = group.entity->fields.size();
  // The identity, AddRecordColumns' columns, created_at and updated_at.
  CopyRows copy(static_cast<int>(3 + n + kColumnsAfterFields + 2));
  std::string scratch;
  for (const Slot* slot : rows) {
    const model::CanonicalRecord& record = *slot->first;
    copy.StartRow();
    copy.Add(record.key.company_id);
    copy.Add(record.key.source_system);
    copy.Add(record.key.external_id);
    AddRecordColumns(
        record, 1, [&copy](size_t) -> CopyRows& { return copy; }, scratch);
    copy.Add(committed_at);  // created_at
    copy.Add(committed_at);  // updated_at
  }
  REGLO_RETURN_IF_ERROR(conn_->SendCopy(group.sql->copy_new, copy, "inserting records"));
  // Decided as created, written already (once the statement lands in full).
  for (Slot* slot : rows) {
    slot->inserted = true;
    slot->last = nullptr;
    slot->last_version = 0;
  }
  return static_cast<int64_t>(rows.size());
}

Status PostgresStore::Lookup(const Group& group, bool repeated_only) {
  ArrayBuilder company(kTextOid), source(kTextOid), external_id(kTextOid), hash(kTextOid);
  std::vector<size_t> looked_up;
  looked_up.reserve(group.slots.size());
  for (size_t s : group.slots) {
    const Slot& slot = slots_[s];
    if (repeated_only && !slot.repeated) continue;
    looked_up.push_back(s);
    company.Add(slot.first->key.company_id);
    source.Add(slot.first->key.source_system);
    external_id.Add(slot.first->key.external_id);
    // A repeated identity always needs the stored values: a later record may differ from them
    // even when the first one does not.
    if (slot.repeated) {
      hash.AddNull();
    } else {
      hash.Add(slot.first->content_hash);
    }
  }
  if (looked_up.empty()) return Status::Ok();
  Params params;
  params.Array(company).Array(source).Array(external_id).Array(hash);
  REGLO_PG_ASSIGN(rows, conn_->Query(group.sql->lookup, params, "looking up stored records"));
  const size_t n = group.entity->fields.size();
  for (int r = 0; r < rows.size(); ++r) {
    const int64_t position = rows.Int(r, kLookSlot);
    if (position < 1 || static_cast<size_t>(position) > looked_up.size()) {
      return Status::Internal("postgres: the record lookup returned an unknown position");
    }
    Slot& slot = slots_[looked_up[static_cast<size_t>(position - 1)]];
    slot.stored = true;
    slot.stored_version = rows.Int(r, kLookVersion);
    model::StoredState& state = slot.state.emplace();
    state.version = slot.stored_version;
    state.content_hash = rows.String(r, kLookContentHash);
    state.source_updated_at = rows.OptString(r, kLookSourceUpdatedAt);
    // The stored values only matter when the content differs (to name the changed fields).
    if (rows.Text(r, kLookDiffers) == "t") {
      state.values.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        state.values.push_back(rows.OptString(r, kLookFirstField + static_cast<int>(i)));
      }
      state.extra = model::ExtraFromJson(rows.String(r, kLookExtra));
    }
  }
  return Status::Ok();
}

Params PostgresStore::RecordParams(const Group& group, const std::vector<const Slot*>& rows,
                                   bool with_expected_version, const std::string& committed_at) {
  const size_t n = group.entity->fields.size();
  ArrayBuilder company(kTextOid), source(kTextOid), external_id(kTextOid), expected(kInt8Oid);
  // AddRecordColumns' columns: the fields, then version (int8), content hash, source updated at,
  // extra and warnings.
  std::vector<ArrayBuilder> columns(n + kColumnsAfterFields, ArrayBuilder(kTextOid));
  columns[n] = ArrayBuilder(kInt8Oid);
  std::string scratch;
  for (const Slot* slot : rows) {
    const model::CanonicalRecord& record = *slot->last;
    company.Add(record.key.company_id);
    source.Add(record.key.source_system);
    external_id.Add(record.key.external_id);
    expected.AddInt(slot->stored_version);
    AddRecordColumns(
        record, slot->last_version, [&columns](size_t c) -> ArrayBuilder& { return columns[c]; },
        scratch);
  }
  Params params;
  params.Array(company).Array(source).Array(external_id);
  if (with_expected_version) params.Array(expected);
  for (ArrayBuilder& column : columns) params.Array(column);
  params.Text(committed_at);
  return params;
}

Result<bool> PostgresStore::WriteRecords(const Group& group, const std::string& committed_at) {
  std::vector<const Slot*> inserts;
  std::vector<const Slot*> updates;
  for (size_t s : group.slots) {
    const Slot& slot = slots_[s];
    if (slot.last == nullptr || slot.inserted) continue;
    (slot.stored ? updates : inserts).push_back(&slot);
  }
  // Key order: concurrent writers then wait for each other's rows in one order (no deadlock).
  const auto by_key = [](const Slot* a, const Slot* b) {
    const model::RecordKey& x = a->last->key;
    const model::RecordKey& y = b->last->key;
    return std::tie(x.company_id, x.source_system, x.external_id) <
           std::tie(y.company_id, y.source_system, y.external_id);
  };
  if (!inserts.empty()) {
    std::sort(inserts.begin(), inserts.end(), by_key);
    REGLO_PG_ASSIGN(
        written, conn_->Query(group.sql->insert, RecordParams(group, inserts, false, committed_at),
                              "inserting records"));
    if (written.Affected() != static_cast<int64_t>(inserts.size())) return false;
  }
  if (!updates.empty()) {
    std::sort(updates.begin(), updates.end(), by_key);
    REGLO_PG_ASSIGN(
        written, conn_->Query(group.sql->update, RecordParams(group, updates, true, committed_at),
                              "updating records"));
    if (written.Affected() != static_cast<int64_t>(updates.size())) return false;
  }
  return true;
}

Status PostgresStore::WriteBookkeeping(const CheckpointBatch& batch, const RunCounters& counters) {
  if (!batch.rejections.empty()) {
    ArrayBuilder stage(kTextOid), entity(kTextOid), external_id(kTextOid), origin(kTextOid),
        reason(kTextOid);
    for (const model::Rejection& rejection : batch.rejections) {
      stage.Add(rejection.stage);
      entity.Add(rejection.entity);
      external_id.Add(rejection.key.external_id);
      origin.Add(rejection.origin);
      reason.Add(rejection.reason);
    }
    Params params;
    params.Int(batch.run_id)
        .Text(batch.source_id)
        .Text(batch.committed_at)
        .Array(stage)
        .Array(entity)
        .Array(external_id)
        .Array(origin)
        .Array(reason);
    REGLO_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO integration_dead_letters (run_id, source_id, stage, entity, "
                    "external_id, origin, reason, created_at) "
                    "SELECT $1, $2, d.stage, d.entity, d.external_id, d.origin, d.reason, $3 "
                    "FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) "
                    "AS d(stage, entity, external_id, origin, reason)",
                    params, "storing dead letters")
            .status());
  }
  if (!batch.log_lines.empty()) {
    ArrayBuilder at(kTextOid), level(kTextOid), message(kTextOid);
    for (const RunLogLine& line : batch.log_lines) {
      at.Add(line.at);
      level.Add(LogLevelName(line.level));
      message.Add(line.message);
    }
    Params params;
    params.Int(batch.run_id).Array(at).Array(level).Array(message);
    REGLO_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO integration_run_logs (run_id, at, level, message) "
                    "SELECT $1, l.at, l.level, l.message "
                    "FROM unnest($2::text[], $3::text[], $4::text[]) AS l(at, level, message)",
                    params, "appending run log lines")
            .status());
  }
  {
    Params params;
    params.Int(batch.seen)
        .Int(counters.created)
        .Int(counters.updated)
        .Int(counters.unchanged)
        .Int(counters.stale)
        .Int(batch.warnings)
        .Int(static_cast<int64_t>(batch.rejections.size()))
        .Int(batch.run_id);
    REGLO_PG_ASSIGN(updated, conn_->Query("UPDATE integration_runs SET seen = seen + $1, "
                                          "created = created + $2, updated = updated + $3, "
                                          "unchanged = unchanged + $4, stale = stale + $5, "
                                          "warnings = warnings + $6, rejected = rejected + $7 "
                                          "WHERE id = $8",
                                          params, "adding run counters"));
    if (updated.Affected() != 1) {
      // Committing records without their run would leave counters nobody can account for.
      return Status::NotFound(fmt::format("run {} does not exist", batch.run_id));
    }
  }
  if (batch.cursor) {
    Params params;
    params.Text(batch.source_id).Text(batch.stream).Text(*batch.cursor).Text(batch.committed_at);
    REGLO_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO integration_cursors (source_id, stream, cursor, updated_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (source_id, stream) DO UPDATE SET "
                    "cursor = excluded.cursor, updated_at = excluded.updated_at",
                    params, "advancing the cursor")
            .status());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Records, events, dead letters

Result<std::optional<StoredRecord>> PostgresStore::GetRecord(const model::EntitySpec& entity,
                                                             const model::RecordKey& key) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(sql, SqlFor(entity));
  REGLO_PG_ASSIGN(
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
  REGLO_PG_ASSIGN(sql, SqlFor(entity));
  REGLO_PG_ASSIGN(rows, conn_->Query(sql->count, "counting records"));
  return rows.size() == 1 ? rows.Int(0, 0) : int64_t{0};
}

Result<std::vector<StoredEvent>> PostgresStore::ReadEvents(int64_t after_sequence, int limit) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT sequence, event_id, type, company_id, "
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
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT COUNT(*) FROM integration_events", "counting events"));
  return rows.size() == 1 ? rows.Int(0, 0) : int64_t{0};
}

Result<std::vector<DeadLetter>> PostgresStore::ReadDeadLetters(int64_t after_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("dead letter read limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT id, run_id, source_id, stage, entity, external_id, "
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

Status PostgresStore::UpsertSource(const SourceRow& source) {
  REGLO_RETURN_IF_ERROR(Ready());
  const std::string now = Now();
  return conn_
      ->Query(
          "INSERT INTO integration_sources (id, company_id, source_system, connector, config, "
          "enabled, status, created_at, updated_at) "
          "VALUES ($1, $2, $3, $4, $5, $6::int8, $7, $8, $8) ON CONFLICT (id) DO UPDATE SET "
          "company_id = excluded.company_id, source_system = excluded.source_system, "
          "connector = excluded.connector, config = excluded.config, "
          "enabled = excluded.enabled, status = excluded.status, "
          "updated_at = excluded.updated_at",
          Params()
              .Text(source.id)
              .Text(source.company_id)
              .Text(source.source_system)
              .Text(source.connector)
              .Text(source.config_json)
              .Int(source.enabled ? 1 : 0)
              .Text(source.status)
              .Text(now),
          "saving a source")
      .status();
}

Result<std::vector<SourceRow>> PostgresStore::ListSources() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT id, company_id, source_system, connector, config, "
                                     "enabled, status FROM integration_sources ORDER BY id",
                                     "listing sources"));
  std::vector<SourceRow> sources;
  for (int r = 0; r < rows.size(); ++r) {
    SourceRow& source = sources.emplace_back();
    source.id = rows.String(r, 0);
    source.company_id = rows.String(r, 1);
    source.source_system = rows.String(r, 2);
    source.connector = rows.String(r, 3);
    source.config_json = rows.String(r, 4);
    source.enabled = rows.Int(r, 5) != 0;
    source.status = rows.String(r, 6);
  }
  return sources;
}

Status PostgresStore::SetSourceStatus(const std::string& source_id, const std::string& status) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("UPDATE integration_sources SET status = $1, updated_at = $2 "
                                     "WHERE id = $3",
                                     Params().Text(status).Text(Now()).Text(source_id),
                                     "setting a source status"));
  if (rows.Affected() == 0) {
    return Status::NotFound(fmt::format("source '{}' does not exist", source_id));
  }
  return Status::Ok();
}

Result<int64_t> PostgresStore::BeginRun(const std::string& source_id,
                                        const std::string& started_at) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(
      rows, conn_->Query(
                "INSERT INTO integration_runs (source_id, started_at, status) "
                "VALUES ($1, $2, $3) RETURNING id",
                Params().Text(source_id).Text(started_at).Text(RunStatusName(RunStatus::kRunning)),
                "starting a run"));
  if (rows.size() != 1) return Status::Internal("postgres: starting a run returned no id");
  return rows.Int(0, 0);
}

Status PostgresStore::FinishRun(int64_t run_id, RunStatus status, const std::string& finished_at,
                                const std::string& error_category,
                                const std::string& error_message) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("UPDATE integration_runs SET status = $1, finished_at = $2, "
                                     "error_category = $3, error_message = $4 WHERE id = $5",
                                     Params()
                                         .Text(RunStatusName(status))
                                         .Text(finished_at)
                                         .Text(error_category)
                                         .Text(error_message)
                                         .Int(run_id),
                                     "finishing a run"));
  if (rows.Affected() == 0) return Status::NotFound(fmt::format("run {} does not exist", run_id));
  return Status::Ok();
}

Result<int64_t> PostgresStore::CloseAbandonedRuns(const std::string& source_id,
                                                  const std::string& finished_at,
                                                  const std::string& reason) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("UPDATE integration_runs SET status = $1, finished_at = $2, "
                                     "error_category = $3, error_message = $4 "
                                     "WHERE source_id = $5 AND status = $6",
                                     Params()
                                         .Text(RunStatusName(RunStatus::kFailed))
                                         .Text(finished_at)
                                         .Text(StatusCodeName(StatusCode::kCancelled))
                                         .Text(reason)
                                         .Text(source_id)
                                         .Text(RunStatusName(RunStatus::kRunning)),
                                     "closing abandoned runs"));
  return static_cast<int64_t>(rows.Affected());
}

Status PostgresStore::AppendRunLog(int64_t run_id, const RunLogLine& line) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query(
          "INSERT INTO integration_run_logs (run_id, at, level, message) "
          "VALUES ($1, $2, $3, $4)",
          Params().Int(run_id).Text(line.at).Text(LogLevelName(line.level)).Text(line.message),
          "appending a run log line")
      .status();
}

constexpr std::string_view kRunColumns =
    "id, source_id, started_at, finished_at, status, seen, created, updated, unchanged, stale, "
    "warnings, rejected, error_category, error_message, COALESCE(plugin_version, '')";

Result<std::vector<RunInfo>> PostgresStore::ReadRuns(const Rows& rows) {
  std::vector<RunInfo> runs;
  for (int r = 0; r < rows.size(); ++r) {
    RunInfo& run = runs.emplace_back();
    run.id = rows.Int(r, 0);
    run.source_id = rows.String(r, 1);
    run.started_at = rows.String(r, 2);
    run.finished_at = rows.OptString(r, 3);
    run.status = ParseRunStatus(rows.Text(r, 4));
    run.counters.seen = rows.Int(r, 5);
    run.counters.created = rows.Int(r, 6);
    run.counters.updated = rows.Int(r, 7);
    run.counters.unchanged = rows.Int(r, 8);
    run.counters.stale = rows.Int(r, 9);
    run.counters.warnings = rows.Int(r, 10);
    run.counters.rejected = rows.Int(r, 11);
    run.error_category = rows.String(r, 12);
    run.error_message = rows.String(r, 13);
    run.plugin_version = rows.String(r, 14);
  }
  return runs;
}

Result<RunInfo> PostgresStore::GetRun(int64_t run_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(
      rows, conn_->Query(fmt::format("SELECT {} FROM integration_runs WHERE id = $1", kRunColumns),
                         Params().Int(run_id), "reading a run"));
  REGLO_PG_ASSIGN(runs, ReadRuns(rows));
  if (runs.empty()) return Status::NotFound(fmt::format("run {} does not exist", run_id));
  return std::move(runs.front());
}

Result<std::vector<RunInfo>> PostgresStore::ListRuns(const std::string& source_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("run list limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  // Newest first; an empty source id lists the runs of every source.
  const bool all = source_id.empty();
  Params params;
  if (!all) params.Text(source_id);
  params.Int(limit);
  REGLO_PG_ASSIGN(
      rows, conn_->Query(fmt::format("SELECT {} FROM integration_runs {} ORDER BY id DESC "
                                     "LIMIT ${}",
                                     kRunColumns, all ? "" : "WHERE source_id = $1", all ? 1 : 2),
                         params, "listing runs"));
  return ReadRuns(rows);
}

Result<std::vector<RunLogLine>> PostgresStore::GetRunLog(int64_t run_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT at, level, message FROM integration_run_logs "
                                     "WHERE run_id = $1 ORDER BY id",
                                     Params().Int(run_id), "reading a run log"));
  std::vector<RunLogLine> lines;
  for (int r = 0; r < rows.size(); ++r) {
    RunLogLine& line = lines.emplace_back();
    line.at = rows.String(r, 0);
    line.level = ParseLogLevel(rows.Text(r, 1));
    line.message = rows.String(r, 2);
  }
  return lines;
}

Result<std::optional<std::string>> PostgresStore::GetCursor(const std::string& source_id,
                                                            const std::string& stream) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT cursor FROM integration_cursors "
                                     "WHERE source_id = $1 AND stream = $2",
                                     Params().Text(source_id).Text(stream), "reading a cursor"));
  if (rows.size() == 0) return std::optional<std::string>();
  return rows.OptString(0, 0);
}

// ---------------------------------------------------------------------------------------------
// Leases

Result<bool> PostgresStore::TryAcquireLease(const std::string& source_id, const std::string& owner,
                                            std::chrono::milliseconds ttl, const std::string& now) {
  REGLO_PG_ASSIGN(expires_at, LeaseExpiry(now, ttl));
  REGLO_RETURN_IF_ERROR(Ready());
  // One statement, so atomic: inserted when free, updated when expired or held by `owner`, left
  // alone while someone else holds it. Of two instances racing for a free lease, the second waits
  // for the first's row and then finds it held.
  REGLO_PG_ASSIGN(rows,
                  conn_->Query("INSERT INTO integration_leases AS l (source_id, owner, expires_at) "
                               "VALUES ($1, $2, $3) ON CONFLICT (source_id) DO UPDATE SET "
                               "owner = excluded.owner, expires_at = excluded.expires_at "
                               "WHERE l.owner = excluded.owner OR l.expires_at <= $4",
                               Params().Text(source_id).Text(owner).Text(expires_at).Text(now),
                               "taking a lease"));
  return rows.Affected() == 1;
}

Status PostgresStore::ReleaseLease(const std::string& source_id, const std::string& owner) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query("DELETE FROM integration_leases WHERE source_id = $1 AND owner = $2",
              Params().Text(source_id).Text(owner), "releasing a lease")
      .status();
}

// ---------------------------------------------------------------------------------------------
// Agent keys and ingest requests

constexpr std::string_view kAgentKeyColumns =
    "id, prefix, key_hash, secret_protected, company_id, source_system, allowed_cidrs, last4, "
    "status, created_at, last_used_at, revoked_at, rate_per_second, rate_burst";

AgentKeyRow ReadAgentKey(const Rows& rows, int row) {
  AgentKeyRow key;
  key.id = rows.Int(row, 0);
  key.prefix = rows.String(row, 1);
  key.key_hash = rows.String(row, 2);
  key.secret_protected = rows.String(row, 3);
  key.company_id = rows.String(row, 4);
  key.source_system = rows.String(row, 5);
  key.allowed_cidrs = rows.String(row, 6);
  key.last4 = rows.String(row, 7);
  key.status = rows.String(row, 8);
  key.created_at = rows.String(row, 9);
  key.last_used_at = rows.OptString(row, 10);
  key.revoked_at = rows.OptString(row, 11);
  if (!rows.IsNull(row, 12))
    key.rate_per_second = std::strtod(rows.String(row, 12).c_str(), nullptr);
  if (!rows.IsNull(row, 13)) key.rate_burst = rows.Int(row, 13);
  return key;
}

// Appends a rate limit's two parameters (NULL when absent).
Params& RateParams(Params& params, std::optional<double> rate, std::optional<int64_t> burst) {
  rate ? params.Text(fmt::format("{}", *rate)) : params.Null();
  burst ? params.Int(*burst) : params.Null();
  return params;
}

Result<int64_t> PostgresStore::CreateAgentKey(const AgentKeyRow& key, int max_active) {
  REGLO_RETURN_IF_ERROR(Ready());
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("creating an agent key"));
  // Serialises creations, so that the count and the insert see no other creation in between.
  REGLO_RETURN_IF_ERROR(conn_
                            ->Query("SELECT pg_advisory_xact_lock($1)", Params().Int(kAgentKeyLock),
                                    "waiting for the agent key lock")
                            .status());
  REGLO_PG_ASSIGN(count, conn_->Query("SELECT COUNT(*) FROM integration_agent_keys WHERE "
                                      "company_id = $1 AND source_system = $2 AND "
                                      "status = 'active'",
                                      Params().Text(key.company_id).Text(key.source_system),
                                      "counting agent keys"));
  const int64_t active = count.size() > 0 ? count.Int(0, 0) : 0;
  if (active >= max_active) {
    return Status::AlreadyExists(fmt::format(
        "company '{}', source '{}' already has {} active agent keys (the most allowed); revoke "
        "one first",
        key.company_id, key.source_system, active));
  }
  REGLO_PG_ASSIGN(inserted,
                  conn_->Query("INSERT INTO integration_agent_keys (prefix, key_hash, "
                               "secret_protected, company_id, source_system, allowed_cidrs, "
                               "last4, status, created_at, rate_per_second, rate_burst) "
                               "VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9::float8, "
                               "$10::int8) RETURNING id",
                               RateParams(Params()
                                              .Text(key.prefix)
                                              .Text(key.key_hash)
                                              .Text(key.secret_protected)
                                              .Text(key.company_id)
                                              .Text(key.source_system)
                                              .Text(key.allowed_cidrs)
                                              .Text(key.last4)
                                              .Text(key.created_at),
                                          key.rate_per_second, key.rate_burst),
                               "creating an agent key"));
  const int64_t id = inserted.Int(0, 0);
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return id;
}

Result<std::optional<AgentKeyRow>> PostgresStore::FindAgentKey(const std::string& prefix) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query(fmt::format("SELECT {} FROM integration_agent_keys WHERE "
                                                 "prefix = $1",
                                                 kAgentKeyColumns),
                                     Params().Text(prefix), "reading an agent key"));
  if (rows.size() == 0) return std::optional<AgentKeyRow>();
  return std::optional<AgentKeyRow>(ReadAgentKey(rows, 0));
}

Result<std::vector<AgentKeyRow>> PostgresStore::ListAgentKeys() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query(fmt::format("SELECT {} FROM integration_agent_keys "
                                                 "ORDER BY id",
                                                 kAgentKeyColumns),
                                     Params(), "listing agent keys"));
  std::vector<AgentKeyRow> keys;
  keys.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) keys.push_back(ReadAgentKey(rows, row));
  return keys;
}

Result<bool> PostgresStore::RevokeAgentKey(const std::string& prefix, const std::string& now) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("UPDATE integration_agent_keys SET status = 'revoked', "
                                     "revoked_at = $1 WHERE prefix = $2 AND status = 'active'",
                                     Params().Text(now).Text(prefix), "revoking an agent key"));
  return rows.Affected() == 1;
}

Status PostgresStore::TouchAgentKey(int64_t id, const std::string& now) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query("UPDATE integration_agent_keys SET last_used_at = $1 WHERE id = $2",
              Params().Text(now).Int(id), "marking an agent key used")
      .status();
}

Result<bool> PostgresStore::RecordIngestRequest(const IngestRequestRow& row) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("INSERT INTO integration_ingest_requests (key_id, "
                                     "request_id, body_hash, response, created_at) "
                                     "VALUES ($1, $2, $3, $4, $5) "
                                     "ON CONFLICT (key_id, request_id) DO NOTHING",
                                     Params()
                                         .Int(row.key_id)
                                         .Text(row.request_id)
                                         .Text(row.body_hash)
                                         .Text(row.response)
                                         .Text(row.created_at),
                                     "recording an ingest request"));
  return rows.Affected() == 1;
}

Result<std::optional<IngestRequestRow>> PostgresStore::FindIngestRequest(
    int64_t key_id, const std::string& request_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows,
                  conn_->Query("SELECT body_hash, response, created_at FROM "
                               "integration_ingest_requests WHERE key_id = $1 AND "
                               "request_id = $2",
                               Params().Int(key_id).Text(request_id), "reading an ingest request"));
  if (rows.size() == 0) return std::optional<IngestRequestRow>();
  IngestRequestRow row;
  row.key_id = key_id;
  row.request_id = request_id;
  row.body_hash = rows.String(0, 0);
  row.response = rows.String(0, 1);
  row.created_at = rows.String(0, 2);
  return std::optional<IngestRequestRow>(std::move(row));
}

Result<int64_t> PostgresStore::PurgeIngestRequests(const std::string& before) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("DELETE FROM integration_ingest_requests WHERE "
                                     "created_at < $1",
                                     Params().Text(before), "purging ingest requests"));
  return rows.Affected();
}

// ---------------------------------------------------------------------------------------------
// Event delivery (issue #7)

constexpr std::string_view kSubscriptionColumns =
    "id, kind, url, event_types, company_ids, secret_protected, enabled, disabled_reason, origin, "
    "created_at, updated_at";

SubscriptionRow ReadSubscription(const Rows& rows, int r) {
  SubscriptionRow row;
  row.id = rows.String(r, 0);
  row.kind = rows.String(r, 1);
  row.url = rows.String(r, 2);
  row.event_types = rows.String(r, 3);
  row.company_ids = rows.String(r, 4);
  row.secret_protected = rows.String(r, 5);
  row.enabled = rows.Int(r, 6) != 0;
  row.disabled_reason = rows.String(r, 7);
  row.origin = rows.String(r, 8);
  row.created_at = rows.String(r, 9);
  row.updated_at = rows.String(r, 10);
  return row;
}

constexpr std::string_view kDeliveryColumns =
    "subscription_id, sequence, event_id, event_type, entity_key, status, attempts, "
    "next_attempt_at, last_error, last_status_code, created_at, updated_at";

Status PostgresStore::UpsertSubscription(const SubscriptionRow& row, bool set_enabled) {
  REGLO_RETURN_IF_ERROR(Ready());
  const std::string sql = fmt::format(
      "INSERT INTO integration_subscriptions AS s ({}) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
      "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, url = excluded.url, "
      "event_types = excluded.event_types, company_ids = excluded.company_ids, "
      "secret_protected = excluded.secret_protected, origin = excluded.origin, "
      "updated_at = excluded.updated_at{}",
      kSubscriptionColumns,
      set_enabled ? ", enabled = excluded.enabled, disabled_reason = excluded.disabled_reason"
                  : "");
  return conn_
      ->Query(sql,
              Params()
                  .Text(row.id)
                  .Text(row.kind)
                  .Text(row.url)
                  .Text(row.event_types)
                  .Text(row.company_ids)
                  .Text(row.secret_protected)
                  .Int(row.enabled ? 1 : 0)
                  .Text(row.disabled_reason)
                  .Text(row.origin)
                  .Text(row.created_at)
                  .Text(row.updated_at),
              "saving a subscription")
      .status();
}

Result<std::vector<SubscriptionRow>> PostgresStore::ListSubscriptions() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query(fmt::format("SELECT {} FROM integration_subscriptions "
                                                 "ORDER BY id",
                                                 kSubscriptionColumns),
                                     Params(), "listing subscriptions"));
  std::vector<SubscriptionRow> out;
  for (int r = 0; r < rows.size(); ++r) out.push_back(ReadSubscription(rows, r));
  return out;
}

Result<std::optional<SubscriptionRow>> PostgresStore::FindSubscription(const std::string& id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query(fmt::format("SELECT {} FROM integration_subscriptions "
                                                 "WHERE id = $1",
                                                 kSubscriptionColumns),
                                     Params().Text(id), "reading a subscription"));
  if (rows.size() == 0) return std::optional<SubscriptionRow>();
  return std::optional<SubscriptionRow>(ReadSubscription(rows, 0));
}

Result<bool> PostgresStore::SetSubscriptionEnabled(const std::string& id, bool enabled,
                                                   const std::string& reason,
                                                   const std::string& now) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(
      rows,
      conn_->Query(
          "UPDATE integration_subscriptions SET enabled = $1, "
          "disabled_reason = $2, updated_at = $3 WHERE id = $4",
          Params().Int(enabled ? 1 : 0).Text(enabled ? std::string() : reason).Text(now).Text(id),
          "enabling or disabling a subscription"));
  return rows.Affected() == 1;
}

Result<bool> PostgresStore::DeleteSubscription(const std::string& id) {
  REGLO_RETURN_IF_ERROR(Ready());
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("deleting a subscription"));
  int64_t deleted = 0;
  for (const char* sql : {"DELETE FROM integration_deliveries WHERE subscription_id = $1",
                          "DELETE FROM integration_relay_positions WHERE subscription_id = $1",
                          "DELETE FROM integration_subscriptions WHERE id = $1"}) {
    REGLO_PG_ASSIGN(rows, conn_->Query(sql, Params().Text(id), "deleting a subscription"));
    deleted = rows.Affected();
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return deleted == 1;
}

Result<int64_t> PostgresStore::GetRelayPosition(const std::string& subscription_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT position FROM integration_relay_positions "
                                     "WHERE subscription_id = $1",
                                     Params().Text(subscription_id), "reading a relay position"));
  return rows.size() == 1 ? rows.Int(0, 0) : int64_t{0};
}

Status PostgresStore::SaveRelayProgress(const std::string& subscription_id,
                                        std::optional<int64_t> position,
                                        const std::vector<DeliveryRow>& deliveries) {
  REGLO_RETURN_IF_ERROR(Ready());
  const std::string now = Now();
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("saving relay progress"));
  const std::string upsert = fmt::format(
      "INSERT INTO integration_deliveries ({}) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
      "ON CONFLICT (subscription_id, sequence) DO UPDATE SET status = excluded.status, "
      "attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, "
      "last_error = excluded.last_error, last_status_code = excluded.last_status_code, "
      "updated_at = excluded.updated_at",
      kDeliveryColumns);
  for (const DeliveryRow& row : deliveries) {
    REGLO_RETURN_IF_ERROR(conn_
                              ->Query(upsert,
                                      Params()
                                          .Text(subscription_id)
                                          .Int(row.sequence)
                                          .Text(row.event_id)
                                          .Text(row.event_type)
                                          .Text(row.entity_key)
                                          .Text(row.status)
                                          .Int(row.attempts)
                                          .Text(row.next_attempt_at)
                                          .Text(row.last_error)
                                          .Int(row.last_status_code)
                                          .Text(row.created_at.empty() ? now : row.created_at)
                                          .Text(now),
                                      "saving a delivery")
                              .status());
  }
  if (position) {
    REGLO_RETURN_IF_ERROR(conn_
                              ->Query("INSERT INTO integration_relay_positions (subscription_id, "
                                      "position, updated_at) VALUES ($1, $2, $3) "
                                      "ON CONFLICT (subscription_id) DO UPDATE SET "
                                      "position = excluded.position, "
                                      "updated_at = excluded.updated_at",
                                      Params().Text(subscription_id).Int(*position).Text(now),
                                      "saving a relay position")
                              .status());
  }
  return tx.Commit();
}

Result<std::vector<DeliveryRow>> PostgresStore::ListDeliveries(const DeliveryQuery& q) {
  if (q.limit <= 0) return Status::InvalidArgument("delivery list limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  // Every filter is always bound; an empty one matches everything.
  const std::string sql = fmt::format(
      "SELECT {} FROM integration_deliveries AS d WHERE ($1 = '' OR d.subscription_id = $1) "
      "AND ($2 = '' OR d.status = $2) AND ($3 = 0 OR d.next_attempt_at <= $4) "
      "AND d.sequence > $5 AND ($6 = 0 OR NOT EXISTS (SELECT 1 FROM integration_deliveries AS e "
      "WHERE e.subscription_id = d.subscription_id AND e.status = 'pending' "
      "AND e.entity_key = d.entity_key AND e.sequence < d.sequence)) "
      "ORDER BY d.subscription_id, d.sequence LIMIT $7",
      kDeliveryColumns);
  REGLO_PG_ASSIGN(rows, conn_->Query(sql,
                                     Params()
                                         .Text(q.subscription_id)
                                         .Text(q.status)
                                         .Int(q.due_at ? 1 : 0)
                                         .Text(q.due_at.value_or(""))
                                         .Int(q.after_sequence)
                                         .Int(q.head_of_entity_only ? 1 : 0)
                                         .Int(q.limit),
                                     "listing deliveries"));
  std::vector<DeliveryRow> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) {
    DeliveryRow& row = out.emplace_back();
    row.subscription_id = rows.String(r, 0);
    row.sequence = rows.Int(r, 1);
    row.event_id = rows.String(r, 2);
    row.event_type = rows.String(r, 3);
    row.entity_key = rows.String(r, 4);
    row.status = rows.String(r, 5);
    row.attempts = static_cast<int>(rows.Int(r, 6));
    row.next_attempt_at = rows.String(r, 7);
    row.last_error = rows.String(r, 8);
    row.last_status_code = static_cast<int>(rows.Int(r, 9));
    row.created_at = rows.String(r, 10);
    row.updated_at = rows.String(r, 11);
  }
  return out;
}

Result<std::vector<std::string>> PostgresStore::PendingDeliveryKeys(
    const std::string& subscription_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT DISTINCT entity_key FROM integration_deliveries "
                                     "WHERE subscription_id = $1 AND status = 'pending'",
                                     Params().Text(subscription_id), "reading pending deliveries"));
  std::vector<std::string> keys;
  for (int r = 0; r < rows.size(); ++r) keys.push_back(rows.String(r, 0));
  return keys;
}

Result<int64_t> PostgresStore::LatestEventSequence() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT COALESCE(MAX(sequence), 0) FROM integration_events",
                                     "reading the latest event sequence"));
  return rows.size() == 1 ? rows.Int(0, 0) : int64_t{0};
}

// ---------------------------------------------------------------------------------------------
// Admin API (issue #5): settings, API-created sources, cursors, browsing, run totals

Result<std::optional<std::string>> PostgresStore::GetSetting(const std::string& key) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT value FROM integration_settings WHERE key = $1",
                                     Params().Text(key), "reading a setting"));
  if (rows.size() == 0) return std::optional<std::string>();
  return std::optional<std::string>(rows.String(0, 0));
}

Status PostgresStore::PutSetting(const std::string& key, const std::string& value,
                                 const std::string& now) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query(
          "INSERT INTO integration_settings (key, value, updated_at) VALUES ($1, $2, $3) "
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
          "updated_at = excluded.updated_at",
          Params().Text(key).Text(value).Text(now), "saving a setting")
      .status();
}

Result<std::vector<ApiSourceRow>> PostgresStore::ListApiSources() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT id, company_id, source_system, connector, config, "
                                     "enabled, interval_ms, created_at, updated_at "
                                     "FROM integration_api_sources ORDER BY id",
                                     "listing API-created sources"));
  std::vector<ApiSourceRow> sources;
  for (int r = 0; r < rows.size(); ++r) {
    ApiSourceRow& source = sources.emplace_back();
    source.source.id = rows.String(r, 0);
    source.source.company_id = rows.String(r, 1);
    source.source.source_system = rows.String(r, 2);
    source.source.connector = rows.String(r, 3);
    source.source.config_json = rows.String(r, 4);
    source.source.enabled = rows.Int(r, 5) != 0;
    source.interval_ms = rows.Int(r, 6);
    source.created_at = rows.String(r, 7);
    source.updated_at = rows.String(r, 8);
  }
  return sources;
}

Status PostgresStore::PutApiSource(const ApiSourceRow& source) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query(
          "INSERT INTO integration_api_sources (id, company_id, source_system, connector, "
          "config, enabled, interval_ms, created_at, updated_at) "
          "VALUES ($1, $2, $3, $4, $5, $6::int8, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET "
          "company_id = excluded.company_id, source_system = excluded.source_system, "
          "connector = excluded.connector, config = excluded.config, "
          "enabled = excluded.enabled, interval_ms = excluded.interval_ms, "
          "updated_at = excluded.updated_at",
          Params()
              .Text(source.source.id)
              .Text(source.source.company_id)
              .Text(source.source.source_system)
              .Text(source.source.connector)
              .Text(source.source.config_json)
              .Int(source.source.enabled ? 1 : 0)
              .Int(source.interval_ms)
              .Text(source.created_at)
              .Text(source.updated_at),
          "saving an API-created source")
      .status();
}

Result<bool> PostgresStore::DeleteApiSource(const std::string& id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("DELETE FROM integration_api_sources WHERE id = $1",
                                     Params().Text(id), "deleting an API-created source"));
  return rows.Affected() > 0;
}

Result<bool> PostgresStore::DeleteSource(const std::string& id) {
  REGLO_RETURN_IF_ERROR(Ready());
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("deleting a source"));
  bool existed = false;
  for (const char* sql : {"DELETE FROM integration_cursors WHERE source_id = $1",
                          "DELETE FROM integration_leases WHERE source_id = $1",
                          "DELETE FROM integration_sources WHERE id = $1"}) {
    REGLO_PG_ASSIGN(rows, conn_->Query(sql, Params().Text(id), "deleting a source"));
    existed = rows.Affected() > 0;  // the last statement's: the source row
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return existed;
}

Result<std::vector<CursorRow>> PostgresStore::ListCursors(const std::string& source_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT stream, cursor, updated_at FROM integration_cursors "
                                     "WHERE source_id = $1 ORDER BY stream",
                                     Params().Text(source_id), "listing cursors"));
  std::vector<CursorRow> cursors;
  for (int r = 0; r < rows.size(); ++r) {
    CursorRow& cursor = cursors.emplace_back();
    cursor.stream = rows.String(r, 0);
    cursor.cursor = rows.OptString(r, 1);
    cursor.updated_at = rows.String(r, 2);
  }
  return cursors;
}

Result<int64_t> PostgresStore::ResetCursors(const std::string& source_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("DELETE FROM integration_cursors WHERE source_id = $1",
                                     Params().Text(source_id), "resetting cursors"));
  return rows.Affected();
}

Result<std::vector<RunInfo>> PostgresStore::ListRunsBefore(const std::string& source_id,
                                                           int64_t before_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("run list limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(
      rows, conn_->Query(fmt::format("SELECT {} FROM integration_runs WHERE source_id = $1 "
                                     "AND id < $2 ORDER BY id DESC LIMIT $3",
                                     kRunColumns),
                         Params()
                             .Text(source_id)
                             .Int(before_id > 0 ? before_id : std::numeric_limits<int64_t>::max())
                             .Int(limit),
                         "listing runs"));
  return ReadRuns(rows);
}

Result<std::vector<StoredEvent>> PostgresStore::ReadEventsFiltered(int64_t after_sequence,
                                                                   int limit,
                                                                   const EventFilter& filter) {
  if (limit <= 0) return Status::InvalidArgument("event read limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(
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

Result<RecordPage> PostgresStore::BrowseRecords(const model::EntitySpec& entity,
                                                const RecordQuery& query) {
  if (query.limit <= 0 || query.offset < 0) {
    return Status::InvalidArgument("record page limit must be positive and offset not negative");
  }
  REGLO_RETURN_IF_ERROR(Ready());
  const BrowseSql sql = MakeBrowseSql(entity, query, [](int n) { return fmt::format("${}", n); });
  const std::string pattern = ContainsPattern(query.search);
  Params filters;
  Params select_params;
  for (Params* params : {&filters, &select_params}) {
    if (!query.company_id.empty()) params->Text(query.company_id);
    if (!query.search.empty()) {
      for (int i = 0; i < sql.search_columns; ++i) params->Text(pattern);
    }
  }
  select_params.Int(query.limit).Int(query.offset);
  RecordPage page;
  REGLO_PG_ASSIGN(count, conn_->Query(sql.count, filters, "counting records"));
  page.total = count.size() == 1 ? count.Int(0, 0) : 0;
  REGLO_PG_ASSIGN(rows, conn_->Query(sql.select, select_params, "browsing records"));
  for (int r = 0; r < rows.size(); ++r) {
    BrowsedRecord& record = page.items.emplace_back();
    record.key.company_id = rows.String(r, 0);
    record.key.source_system = rows.String(r, 1);
    record.key.external_id = rows.String(r, 2);
    record.version = rows.Int(r, 3);
    record.updated_at = rows.String(r, 4);
    for (size_t i = 0; i < entity.fields.size(); ++i) {
      record.values.push_back(rows.OptString(r, 5 + static_cast<int>(i)));
    }
  }
  return page;
}

Result<std::vector<RunTotals>> PostgresStore::ListRunTotals() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_PG_ASSIGN(rows, conn_->Query("SELECT source_id, status, COUNT(*), SUM(seen), "
                                     "SUM(created), SUM(updated), SUM(unchanged), SUM(stale), "
                                     "SUM(warnings), SUM(rejected), MAX(finished_at) "
                                     "FROM integration_runs GROUP BY source_id, status "
                                     "ORDER BY source_id, status",
                                     "summing runs"));
  std::vector<RunTotals> totals;
  for (int r = 0; r < rows.size(); ++r) {
    RunTotals& total = totals.emplace_back();
    total.source_id = rows.String(r, 0);
    total.status = ParseRunStatus(rows.Text(r, 1));
    total.runs = rows.Int(r, 2);
    total.counters.seen = rows.Int(r, 3);
    total.counters.created = rows.Int(r, 4);
    total.counters.updated = rows.Int(r, 5);
    total.counters.unchanged = rows.Int(r, 6);
    total.counters.stale = rows.Int(r, 7);
    total.counters.warnings = rows.Int(r, 8);
    total.counters.rejected = rows.Int(r, 9);
    total.last_finished_at = rows.OptString(r, 10);
  }
  return totals;
}

Status PostgresStore::SetRunPluginVersion(int64_t run_id, const std::string& version) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query("UPDATE integration_runs SET plugin_version = $1 WHERE id = $2",
              Params().Text(version).Int(run_id), "recording a run's plugin version")
      .status();
}

// ---------------------------------------------------------------------------------------------
// Ingestion API (issue #6)

Result<IngestCommit> PostgresStore::CommitIngest(
    const CheckpointBatch& batch, const IngestRequestRow& request,
    const std::function<std::string(const CheckpointResult&)>& respond) {
  REGLO_RETURN_IF_ERROR(CheckCheckpointRecords(batch));
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_RETURN_IF_ERROR(PlanBatch(batch));
  IngestCommit commit;
  IngestHook hook{&request, &respond, {}};
  for (int attempt = 1;; ++attempt) {
    commit.result = CheckpointResult{};
    Result<Attempt> done = TryCommit(batch, attempt == 1, commit.result, &hook);
    if (done.ok() && *done == Attempt::kDone) {
      commit.stored = request;
      commit.stored.response = std::move(hook.response);
      return commit;
    }
    if (done.ok() && *done == Attempt::kReplayed) {
      REGLO_PG_ASSIGN(stored, FindIngestRequest(request.key_id, request.request_id));
      if (!stored) {
        // Purged in between: rare enough to let the caller try again.
        return Status::Retryable("the ingest request id was purged while it was replayed");
      }
      commit.replayed = true;
      commit.result = CheckpointResult{};
      commit.stored = std::move(*stored);
      return commit;
    }
    const bool conflict = done.ok() || (done.status().code() == StatusCode::kRetryable &&
                                        conn_->LastFailureIsConflict());
    if (!conflict) return done.status();
    if (attempt == kMaxCommitAttempts) {
      return Status::Retryable(fmt::format(
          "postgres: the checkpoint kept conflicting with other writers ({} attempts)", attempt));
    }
  }
}

Result<bool> PostgresStore::SetAgentKeyRateLimit(const std::string& prefix,
                                                 std::optional<double> rate_per_second,
                                                 std::optional<int64_t> burst) {
  REGLO_RETURN_IF_ERROR(Ready());
  Params params;
  RateParams(params, rate_per_second, burst).Text(prefix);
  REGLO_PG_ASSIGN(rows, conn_->Query("UPDATE integration_agent_keys SET rate_per_second = "
                                     "$1::float8, rate_burst = $2::int8 WHERE prefix = $3",
                                     params, "setting an agent key's rate limit"));
  return rows.Affected() == 1;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresUrl& url) {
  REGLO_PG_ASSIGN(conn, Conn::Connect(url));
  auto store = std::make_unique<PostgresStore>(std::move(conn), url);
  REGLO_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url) {
  REGLO_PG_ASSIGN(parsed, ParsePostgresUrl(url));
  return OpenPostgresStore(parsed);
}

}  // namespace reglo::storage

#undef REGLO_PG_ASSIGN
