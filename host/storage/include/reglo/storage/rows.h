// The rows, queries and results the storage roles exchange (sources, runs, checkpoints, events,
// agent keys, subscriptions, admin pages), and the helpers every backend shares. Plain values:
// whoever holds one owns it; the free functions are thread-safe.
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
  int64_t events = 0;          // events the run appended to the outbox (0 before migration 7)
  // How many runs this row stands for: 1, or N consecutive idle runs of the source folded into
  // one row (SyncStore::FinishRun). Then started_at is the first one's start, finished_at the
  // last one's end, and the counters are their sums.
  int64_t runs = 1;
};

// A pull that found nothing (SyncStore::RecordIdlePull).
struct IdlePull {
  std::string source_id;
  std::string started_at;
  std::string finished_at;
  std::string plugin_version;  // "" when not known
  // When set, the source's lease is released in the same transaction if this owner holds it
  // (SyncStore::ReleaseLease): the pull's last write.
  std::string release_lease_of;
  // When set, the source's runs still "running" are first closed as failed with this reason
  // (SyncStore::CloseAbandonedRuns, under the same condition: the lease held).
  std::string close_abandoned_as;
  // When set, the source's status (SyncStore::SetSourceStatus), written in the same transaction
  // where it differs.
  std::string source_status;
};

struct IdlePullResult {
  int64_t run_id = 0;            // the run that stands for the pull
  int64_t abandoned_closed = 0;  // runs closed by IdlePull::close_abandoned_as
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
  // Records of `seen` the pipeline found unchanged without mapping them (their source rows hash
  // as the stored ones do): the commit counts them unchanged (also in by_entity) and writes none.
  int64_t unchanged = 0;
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
  int64_t runs = 0;  // runs, not rows: a row of folded idle runs counts each of them
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

// The FormatUtc timestamp `ttl` after `now` (a FormatUtc timestamp): a lease's expiry.
// InvalidArgument when `now` is malformed or ttl <= 0. Thread-safe.
Result<std::string> LeaseExpiry(const std::string& now, std::chrono::milliseconds ttl);

// For backends, inside a checkpoint's transaction: OK when the batch asks for no lease or when
// `holder` (the lease row's owner, nullopt when there is no row) is its lease_owner; else
// kRetryable naming the source, so a fenced pull commits nothing.
Status CheckLeaseHolder(const CheckpointBatch& batch, const std::optional<std::string>& holder);

}  // namespace reglo::storage
