// Store: the storage interface the pipeline, the CLI and (later) the engine talk to. One backend
// per database (SQLite now, PostgreSQL next) implements it; no backend-specific SQL lives outside
// it. Thread-safety: a Store object is used by one thread at a time; open one per thread that needs
// it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/model/events.h"
#include "reglo/model/record.h"

namespace reglo::storage {

// Whether `id` may name a source or a subscription: 1 to 100 letters, digits, '-', '_' or '.'
// (ids appear in URLs, file names, lease keys and log lines unescaped).
bool IsValidId(std::string_view id);

// A configured source (one connector instance for one company).
struct SourceRow {
  std::string id;
  std::string company_id;
  std::string source_system;
  std::string connector;    // plugin name
  std::string config_json;  // the connector's options, secrets included: never log it
  bool enabled = true;
  std::string status = "new";  // new / ok / warning / failed
};

struct RunCounters {
  int64_t seen = 0;
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
  int64_t stale = 0;
  int64_t warnings = 0;
  int64_t rejected = 0;
  RunCounters& operator+=(const RunCounters& other);
};

enum class RunStatus { kRunning, kSucceeded, kSucceededWithWarnings, kFailed };
std::string_view RunStatusName(RunStatus status);

struct RunInfo {
  int64_t id = 0;
  std::string source_id;
  std::string started_at;
  std::optional<std::string> finished_at;
  RunStatus status = RunStatus::kRunning;
  RunCounters counters;
  std::string error_category;  // "" on success; a StatusCodeName otherwise
  std::string error_message;   // masked
  std::string plugin_version;  // "" when not recorded (one-shot syncs, runs before migration 5)
};

enum class LogLevel { kDebug, kInfo, kWarn, kError };
std::string_view LogLevelName(LogLevel level);

struct RunLogLine {
  std::string at;
  LogLevel level = LogLevel::kInfo;
  std::string message;  // masked before it gets here
};

// Everything one checkpoint commits, in ONE transaction (DESIGN §5).
struct CheckpointBatch {
  int64_t run_id = 0;
  std::string source_id;
  std::string stream;
  std::optional<std::string> cursor;  // nullopt: commit records, leave the cursor as it is
  std::vector<model::CanonicalRecord> records;  // validated and deduplicated within the batch
  std::vector<model::Rejection> rejections;     // go to dead letters
  std::vector<RunLogLine> log_lines;            // masked warnings of this batch
  int64_t seen = 0;      // records delivered by the source in this batch, duplicates included
  int64_t warnings = 0;  // warnings raised in this batch
  // seen (duplicates included), warnings and rejected of this batch per canonical entity, so the
  // per-entity lines of a run report add up to its totals; created..stale come from the commit.
  std::map<std::string, RunCounters, std::less<>> by_entity;
  std::string committed_at;  // FormatUtc of now: record timestamps and event time
  // Fencing: when set, the commit happens only while `lease_owner` holds the source's lease
  // (checked inside the transaction, the lease row locked until the commit ends); otherwise it
  // fails with kRetryable and writes nothing. Empty: no check (a store used by one process).
  std::string lease_owner;
};

struct CheckpointResult {
  RunCounters counters;                  // created / updated / unchanged / stale of this batch
  std::vector<model::Outcome> outcomes;  // one per CheckpointBatch::records, same order
  int64_t events = 0;                    // events appended to the outbox
};

struct StoredRecord {
  model::StoredState state;
  std::string created_at;
  std::string updated_at;
  std::vector<std::string> warnings;
};

struct StoredEvent {
  int64_t sequence = 0;
  model::EventRecord event;
};

struct DeadLetter {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string source_id;
  std::string stage;  // "validate"
  std::string entity;
  std::string external_id;
  std::string origin;
  std::string reason;  // masked
  std::string created_at;
};

// An agent API key (DESIGN §8): one row of integration_agent_keys. The store keeps what it is
// given; host/ingest derives the hash and seals the secret, the store never sees either in clear.
struct AgentKeyRow {
  int64_t id = 0;                // assigned by CreateAgentKey
  std::string prefix;            // public, unique: how the key is named in lists and logs
  std::string key_hash;          // hex SHA-256 of the whole API key
  std::string secret_protected;  // the signing secret sealed with the hub master key
  std::string company_id;
  std::string source_system;
  std::string allowed_cidrs;      // JSON array of CIDR strings; "[]" allows every address
  std::string last4;              // the API key's last four characters, for display
  std::string status = "active";  // active / revoked
  std::string created_at;
  std::optional<std::string> last_used_at;
  std::optional<std::string> revoked_at;
  // Per-key rate limit of the ingestion API (migration 6); nullopt: the hub's configured default.
  std::optional<double> rate_per_second;
  std::optional<int64_t> rate_burst;
};

// One accepted ingest request, kept for idempotency (a repeat returns `response`).
struct IngestRequestRow {
  int64_t key_id = 0;
  std::string request_id;  // the webhook-id header
  std::string body_hash;   // hex SHA-256 of the raw body
  std::string response;    // the response body sent the first time
  std::string created_at;
};

// ---- Event delivery (issue #7: the outbox relay) -------------------------------------------
// A subscription (DESIGN §9): where events go (a webhook URL, or the NATS JetStream sink) and
// which (event types, companies; empty lists match everything). The signing secret is stored
// only sealed with the hub master key (host/ingest MasterKey, context "subscription:<id>").
struct SubscriptionRow {
  std::string id;                  // letters, digits, - _ . (as source ids)
  std::string kind = "webhook";    // webhook / nats
  std::string url;                 // webhook: the endpoint; nats: "" (relay.nats has the server)
  std::string event_types = "[]";  // JSON array of event types ("student.created"); [] = all
  std::string company_ids = "[]";  // JSON array of company ids; [] = all
  std::string secret_protected;    // the signing secret sealed with the master key ("" for nats)
  bool enabled = true;
  std::string disabled_reason;  // why disabled ("" while enabled)
  std::string origin = "cli";   // config / cli / api: who manages it
  std::string created_at;
  std::string updated_at;
};

// ---- Admin API (issue #5) -------------------------------------------------------------------

// A source created through the admin API (integration_api_sources): loaded at every start
// alongside the config file's sources (the config wins on an id in both).
struct ApiSourceRow {
  SourceRow source;         // status is not kept here (integration_sources has it)
  int64_t interval_ms = 0;  // 0: the engine's default
  std::string created_at;
  std::string updated_at;
};

// One event's delivery to one subscription that needed more than one attempt, was queued behind
// an earlier event of its entity, or was redelivered. Events delivered at the first attempt have
// no row: the subscription's position says they are done.
struct DeliveryRow {
  std::string subscription_id;
  int64_t sequence = 0;  // the event's outbox sequence
  std::string event_id;
  std::string event_type;
  std::string entity_key;          // company, source system, entity, external id (ordering key)
  std::string status = "pending";  // pending / delivered / dead
  int attempts = 0;
  std::string next_attempt_at;  // FormatUtc; meaningful while pending
  std::string last_error;       // masked, no payload; "" when none
  int last_status_code = 0;     // HTTP status of the last attempt (0: none, or not HTTP)
  std::string created_at;
  std::string updated_at;
};

// Which deliveries ListDeliveries returns (ordered by subscription, then sequence).
struct DeliveryQuery {
  std::string subscription_id;        // "" = every subscription
  std::string status;                 // "" = any status
  std::optional<std::string> due_at;  // pending rows due at this FormatUtc time only
  // Only the oldest pending delivery of each entity (the one ordering allows to be sent).
  bool head_of_entity_only = false;
  int64_t after_sequence = 0;
  int limit = 100;
};

struct CursorRow {
  std::string stream;
  std::optional<std::string> cursor;
  std::string updated_at;
};

// Events filter of the admin API; empty members match everything.
struct EventFilter {
  std::string type;
  std::string company_id;
};

// One page of the entity browser: rows of one canonical table.
struct RecordQuery {
  std::string company_id;  // "" = every company
  std::string search;      // "" = all; else case-insensitive substring of externalId or a name
  int limit = 50;
  int64_t offset = 0;
};
struct BrowsedRecord {
  model::RecordKey key;
  int64_t version = 0;
  std::string updated_at;
  std::vector<std::optional<std::string>> values;  // one per FieldSpec, schema order
};
struct RecordPage {
  std::vector<BrowsedRecord> items;
  int64_t total = 0;  // rows matching the query, all pages
};

// Runs of one source with one status, summed (metrics, last sync).
struct RunTotals {
  std::string source_id;
  RunStatus status = RunStatus::kRunning;
  int64_t runs = 0;
  RunCounters counters;
  std::optional<std::string> last_finished_at;
};

// What Store::CommitIngest did.
struct IngestCommit {
  // True when (key_id, request_id) was stored already: nothing was written and `stored` is the
  // first request's row (its body hash and response).
  bool replayed = false;
  IngestRequestRow stored;  // the row as stored (also when not replayed)
  CheckpointResult result;  // when not replayed
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies every migration not yet applied; safe to call at every start.
  virtual Status Migrate() = 0;
  // The number of the last applied migration (0 for an empty database).
  virtual Result<int> SchemaVersion() = 0;
  // The number of the newest migration this build knows.
  virtual int LatestSchemaVersion() const = 0;

  virtual Status UpsertSource(const SourceRow& source) = 0;
  virtual Result<std::vector<SourceRow>> ListSources() = 0;
  virtual Status SetSourceStatus(const std::string& source_id, const std::string& status) = 0;

  virtual Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) = 0;
  // Closes a run: status, end time and error; the counters were added by the checkpoints.
  virtual Status FinishRun(int64_t run_id, RunStatus status, const std::string& finished_at,
                           const std::string& error_category, const std::string& error_message) = 0;
  virtual Status AppendRunLog(int64_t run_id, const RunLogLine& line) = 0;
  // Marks every run of `source_id` still "running" as failed (category "cancelled", `reason`):
  // runs a crashed or killed process left open. Call it only while holding the source's lease
  // (or being the only instance), when no run of the source can really be in progress. Returns
  // how many runs were closed. The default (test doubles) closes nothing.
  virtual Result<int64_t> CloseAbandonedRuns(const std::string& source_id,
                                             const std::string& finished_at,
                                             const std::string& reason) {
    (void)source_id;
    (void)finished_at;
    (void)reason;
    return int64_t{0};
  }
  virtual Result<RunInfo> GetRun(int64_t run_id) = 0;
  virtual Result<std::vector<RunInfo>> ListRuns(const std::string& source_id, int limit) = 0;
  virtual Result<std::vector<RunLogLine>> GetRunLog(int64_t run_id) = 0;

  virtual Result<std::optional<std::string>> GetCursor(const std::string& source_id,
                                                       const std::string& stream) = 0;
  // Decides created / updated / unchanged / stale for every record against what is stored, writes
  // the records, their events, dead letters, log lines, run counters and the cursor, atomically.
  virtual Result<CheckpointResult> CommitCheckpoint(const CheckpointBatch& batch) = 0;

  virtual Result<std::optional<StoredRecord>> GetRecord(const model::EntitySpec& entity,
                                                        const model::RecordKey& key) = 0;
  virtual Result<int64_t> CountRecords(const model::EntitySpec& entity) = 0;
  virtual Result<std::vector<StoredEvent>> ReadEvents(int64_t after_sequence, int limit) = 0;
  virtual Result<int64_t> CountEvents() = 0;
  virtual Result<std::vector<DeadLetter>> ReadDeadLetters(int64_t after_id, int limit) = 0;

  // Leases (DESIGN §6): which one of several hub instances sharing a database syncs a source.
  // `now` is a FormatUtc timestamp of the caller's clock; a lease held until `expires_at` is free
  // from the instant now >= expires_at (text comparison: the format is fixed-width UTC).
  //
  // Takes the lease on `source_id` for `owner` until `now` + `ttl` and returns true when it is
  // free, expired, or already held by `owner` (a renewal); returns false and changes nothing while
  // another owner holds it. One atomic statement: of several instances racing for a free lease,
  // exactly one gets it. InvalidArgument when `now` is not a FormatUtc timestamp or ttl <= 0.
  // Every backend has leases; an error here means the lease state is unknown, and whoever asked
  // must act as if another instance held it (fail closed).
  virtual Result<bool> TryAcquireLease(const std::string& source_id, const std::string& owner,
                                       std::chrono::milliseconds ttl, const std::string& now) = 0;
  // Gives the lease up when `owner` holds it, so another instance may take it at once; does
  // nothing when `owner` does not hold it (expired and taken over, or never taken).
  virtual Status ReleaseLease(const std::string& source_id, const std::string& owner) = 0;

  // Agent keys (DESIGN §8). The defaults (for stores without them, e.g. test doubles) refuse with
  // kInternal.
  //
  // Inserts `key` as active and returns its id, unless its (company, source) scope already has
  // `max_active` active keys: then kAlreadyExists naming the scope, and nothing is
  // written. Atomic: two racing creations cannot both pass the limit. A prefix already in use is
  // an error (prefixes are random: host/ingest draws them).
  virtual Result<int64_t> CreateAgentKey(const AgentKeyRow& key, int max_active);
  // The key with `prefix`, whatever its status; nullopt when there is none.
  virtual Result<std::optional<AgentKeyRow>> FindAgentKey(const std::string& prefix);
  // Every key, oldest first.
  virtual Result<std::vector<AgentKeyRow>> ListAgentKeys();
  // Revokes the active key with `prefix` at `now`; false when there is no such active key.
  virtual Result<bool> RevokeAgentKey(const std::string& prefix, const std::string& now);
  // Sets last_used_at of key `id` to `now`.
  virtual Status TouchAgentKey(int64_t id, const std::string& now);

  // Ingest idempotency: stores `row` and returns true, or returns false and changes nothing when
  // (key_id, request_id) is already stored.
  virtual Result<bool> RecordIngestRequest(const IngestRequestRow& row);
  virtual Result<std::optional<IngestRequestRow>> FindIngestRequest(int64_t key_id,
                                                                    const std::string& request_id);
  // Deletes requests created before `before` (a FormatUtc timestamp); returns how many.
  virtual Result<int64_t> PurgeIngestRequests(const std::string& before);

  // ---- Event delivery (issue #7: the outbox relay) ----------------------------------------
  // Subscriptions, per-subscription positions in the outbox and delivery state (migration 4).
  // The defaults (stores without them, e.g. test doubles) refuse with kInternal.
  //
  // Inserts `row`, or updates an existing one's kind, url, filters and secret (enabled,
  // disabled_reason and created_at are kept on update unless `set_enabled`).
  virtual Status UpsertSubscription(const SubscriptionRow& row, bool set_enabled);
  virtual Result<std::vector<SubscriptionRow>> ListSubscriptions();
  virtual Result<std::optional<SubscriptionRow>> FindSubscription(const std::string& id);
  // Enables or disables; `reason` says why ("" when enabling). False when there is no such id.
  virtual Result<bool> SetSubscriptionEnabled(const std::string& id, bool enabled,
                                              const std::string& reason, const std::string& now);
  // Deletes the subscription with its position and deliveries; false when there is no such id.
  virtual Result<bool> DeleteSubscription(const std::string& id);
  // The last outbox sequence the subscription has handled (0: none yet).
  virtual Result<int64_t> GetRelayPosition(const std::string& subscription_id);
  // Atomically: upserts `deliveries` (by subscription and sequence) and, when given, moves the
  // subscription's position to `position`.
  virtual Status SaveRelayProgress(const std::string& subscription_id,
                                   std::optional<int64_t> position,
                                   const std::vector<DeliveryRow>& deliveries);
  virtual Result<std::vector<DeliveryRow>> ListDeliveries(const DeliveryQuery& query);
  // The entity keys of the subscription's pending deliveries (later events of these wait).
  virtual Result<std::vector<std::string>> PendingDeliveryKeys(const std::string& subscription_id);
  // The highest outbox sequence (0 when the outbox is empty).
  virtual Result<int64_t> LatestEventSequence();

  // ---- Admin API (issue #5): settings, API-managed sources, cursors, browsing, totals --------
  // The defaults (stores without them, e.g. test doubles) refuse with kInternal.
  //
  // A hub setting (integration_settings); nullopt when never set.
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key);
  virtual Status PutSetting(const std::string& key, const std::string& value,
                            const std::string& now);
  // Sources created through the admin API, by id.
  virtual Result<std::vector<ApiSourceRow>> ListApiSources();
  // Inserts or replaces (by id) an API-created source; created_at is kept on a replace.
  virtual Status PutApiSource(const ApiSourceRow& source);
  // False when there was no such API-created source.
  virtual Result<bool> DeleteApiSource(const std::string& id);
  // Forgets a source's runtime state: its integration_sources row, cursors and lease. Runs,
  // records, events and dead letters stay (history). False when there was no such source row.
  virtual Result<bool> DeleteSource(const std::string& id);
  // Every stream's cursor of `source_id`, by stream.
  virtual Result<std::vector<CursorRow>> ListCursors(const std::string& source_id);
  // Deletes every cursor of `source_id` (its next run is a full pull); returns how many.
  virtual Result<int64_t> ResetCursors(const std::string& source_id);
  // Runs of `source_id` with an id below `before_id` (0: from the newest), newest first.
  virtual Result<std::vector<RunInfo>> ListRunsBefore(const std::string& source_id,
                                                      int64_t before_id, int limit);
  // Events after `after_sequence` matching `filter`, in sequence order.
  virtual Result<std::vector<StoredEvent>> ReadEventsFiltered(int64_t after_sequence, int limit,
                                                              const EventFilter& filter);
  // A page of `entity`'s records ordered by (company, source system, externalId).
  virtual Result<RecordPage> BrowseRecords(const model::EntitySpec& entity,
                                           const RecordQuery& query);
  // Per source and run status: how many runs, their counters summed, the last finish time.
  virtual Result<std::vector<RunTotals>> ListRunTotals();
  // Records which plugin version run `run_id` uses (RunInfo::plugin_version).
  virtual Status SetRunPluginVersion(int64_t run_id, const std::string& version);

  // ---- Ingestion API (issue #6) --------------------------------------------------------------
  // Commits an agent's pushed batch and its idempotency row in ONE transaction: when
  // (request.key_id, request.request_id) is already stored, returns it as replayed and writes
  // nothing; otherwise commits `batch` exactly like CommitCheckpoint, then stores `request` with
  // the response `respond` makes from the checkpoint's result. Two racing requests with the same
  // id yield one commit and one replay. The default (stores without ingest) refuses with
  // kInternal.
  virtual Result<IngestCommit> CommitIngest(
      const CheckpointBatch& batch, const IngestRequestRow& request,
      const std::function<std::string(const CheckpointResult&)>& respond);
  // Sets (or with nullopt clears) the per-key rate limit of the key with `prefix`; false when
  // there is no such key.
  virtual Result<bool> SetAgentKeyRateLimit(const std::string& prefix,
                                            std::optional<double> rate_per_second,
                                            std::optional<int64_t> burst);
};

// The FormatUtc timestamp `ttl` after `now` (a FormatUtc timestamp): a lease's expiry.
// InvalidArgument when `now` is malformed or ttl <= 0. Thread-safe.
Result<std::string> LeaseExpiry(const std::string& now, std::chrono::milliseconds ttl);

// For backends, inside a checkpoint's transaction: OK when the batch asks for no lease or when
// `holder` (the lease row's owner, nullopt when there is no row) is its lease_owner; else
// kRetryable naming the source, so a fenced pull commits nothing.
Status CheckLeaseHolder(const CheckpointBatch& batch, const std::optional<std::string>& holder);

}  // namespace reglo::storage
