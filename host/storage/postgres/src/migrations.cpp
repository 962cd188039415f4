// The versioned schema migrations of the PostgreSQL backend: the same numbering and the same
// tables as the SQLite backend's (host/storage/sqlite/src/migrations.cpp), in PostgreSQL's DDL:
//   - sequences are BIGINT GENERATED ALWAYS AS IDENTITY (the outbox sequence grows monotonically);
//   - identity and key columns are TEXT COLLATE "C": byte-wise comparison, as SQLite's, whatever
//     the database's locale, and the cheapest for the unique indexes every checkpoint probes;
//   - everything else is TEXT or BIGINT, as in SQLite (timestamps are FormatUtc text).
// integration_events has no unique index besides its sequence, as in the SQLite backend: an event
// is appended in the transaction that moves its record to that version, and the record's unique
// identity (INSERT ... ON CONFLICT) with a version check on update lets only one writer do that.
// Append only: a released migration is never edited. Immutable static data; thread-safe.
#include "migrations.h"

namespace reglo::storage::postgres {
namespace {

constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE students (
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  external_id TEXT COLLATE "C" NOT NULL,
  first_name TEXT,
  last_name TEXT,
  fiscal_code TEXT,
  birth_date TEXT,
  email TEXT,
  phone TEXT,
  version BIGINT NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE cases (
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  external_id TEXT COLLATE "C" NOT NULL,
  student_external_id TEXT,
  license_category TEXT,
  status TEXT,
  opened_at TEXT,
  version BIGINT NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE appointments (
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  external_id TEXT COLLATE "C" NOT NULL,
  kind TEXT,
  starts_at TEXT,
  ends_at TEXT,
  student_external_id TEXT,
  case_external_id TEXT,
  instructor_external_id TEXT,
  vehicle_external_id TEXT,
  status TEXT,
  version BIGINT NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE documents (
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  external_id TEXT COLLATE "C" NOT NULL,
  owner_entity TEXT,
  owner_external_id TEXT,
  kind TEXT,
  number TEXT,
  issued_at TEXT,
  expires_at TEXT,
  version BIGINT NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE payments (
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  external_id TEXT COLLATE "C" NOT NULL,
  student_external_id TEXT,
  case_external_id TEXT,
  amount_cents TEXT,
  currency TEXT,
  paid_at TEXT,
  method TEXT,
  status TEXT,
  version BIGINT NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE instructors (
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  external_id TEXT COLLATE "C" NOT NULL,
  first_name TEXT,
  last_name TEXT,
  fiscal_code TEXT,
  license_categories TEXT,
  email TEXT,
  phone TEXT,
  active TEXT,
  version BIGINT NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE vehicles (
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  external_id TEXT COLLATE "C" NOT NULL,
  plate TEXT,
  make TEXT,
  model TEXT,
  license_category TEXT,
  transmission TEXT,
  active TEXT,
  version BIGINT NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE integration_sources (
  id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  connector TEXT NOT NULL,
  config TEXT,
  enabled INTEGER NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT,
  updated_at TEXT
);

CREATE TABLE integration_runs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source_id TEXT COLLATE "C" NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL,
  seen BIGINT NOT NULL DEFAULT 0,
  created BIGINT NOT NULL DEFAULT 0,
  updated BIGINT NOT NULL DEFAULT 0,
  unchanged BIGINT NOT NULL DEFAULT 0,
  stale BIGINT NOT NULL DEFAULT 0,
  warnings BIGINT NOT NULL DEFAULT 0,
  rejected BIGINT NOT NULL DEFAULT 0,
  error_category TEXT,
  error_message TEXT
);
CREATE INDEX integration_runs_by_source ON integration_runs (source_id, id);

CREATE TABLE integration_run_logs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id BIGINT NOT NULL,
  at TEXT NOT NULL,
  level TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX integration_run_logs_by_run ON integration_run_logs (run_id, id);

CREATE TABLE integration_cursors (
  source_id TEXT COLLATE "C" NOT NULL,
  stream TEXT COLLATE "C" NOT NULL,
  cursor TEXT,
  updated_at TEXT,
  PRIMARY KEY (source_id, stream)
);

CREATE TABLE integration_events (
  sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id TEXT NOT NULL,
  type TEXT COLLATE "C" NOT NULL,
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  entity TEXT COLLATE "C" NOT NULL,
  external_id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  time TEXT NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE integration_dead_letters (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id BIGINT NOT NULL,
  source_id TEXT COLLATE "C" NOT NULL,
  stage TEXT NOT NULL,
  entity TEXT,
  external_id TEXT,
  origin TEXT,
  reason TEXT NOT NULL,
  created_at TEXT NOT NULL
);
)sql";

// integration_leases: one row per source an instance has taken (DESIGN §6); expires_at is a
// FormatUtc timestamp compared as text (fixed-width UTC, "C" collation).
constexpr std::string_view kLeases = R"sql(
CREATE TABLE integration_leases (
  source_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  owner TEXT COLLATE "C" NOT NULL,
  expires_at TEXT COLLATE "C" NOT NULL
);
)sql";

// integration_agent_keys: remote agents' API keys (DESIGN §8). key_hash is the hex SHA-256 of the
// whole key (never the key); secret_protected is the signing secret sealed with the hub master key
// kept outside the database (AES-256-GCM, host/ingest), so a dump of the database alone cannot
// forge a signed request. integration_ingest_requests: accepted requests by (key, webhook-id),
// kept 24 h so that a repeat returns the stored response. Same DDL in the SQLite backend.
constexpr std::string_view kAgentKeys = R"sql(
CREATE TABLE integration_agent_keys (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  prefix TEXT COLLATE "C" NOT NULL UNIQUE,
  key_hash TEXT COLLATE "C" NOT NULL,
  secret_protected TEXT NOT NULL,
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  allowed_cidrs TEXT NOT NULL,
  last4 TEXT NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  created_at TEXT COLLATE "C" NOT NULL,
  last_used_at TEXT COLLATE "C",
  revoked_at TEXT COLLATE "C"
);
CREATE INDEX integration_agent_keys_by_scope
  ON integration_agent_keys (company_id, source_system, status);

CREATE TABLE integration_ingest_requests (
  key_id BIGINT NOT NULL,
  request_id TEXT COLLATE "C" NOT NULL,
  body_hash TEXT COLLATE "C" NOT NULL,
  response TEXT NOT NULL,
  created_at TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (key_id, request_id)
);
CREATE INDEX integration_ingest_requests_by_time ON integration_ingest_requests (created_at);
)sql";

// Event delivery (issue #7, DESIGN §9). integration_subscriptions: where events go and which;
// the signing secret only sealed with the hub master key (secret_protected). integration_relay_
// positions: per subscription, the last outbox sequence it has handled. integration_deliveries:
// the deliveries that needed more than one attempt, waited behind an earlier event of their
// entity, or were redelivered (a first-attempt success has no row: the position covers it);
// entity_key orders deliveries per entity. Timestamps are FormatUtc text. Same DDL in the
// SQLite backend.
constexpr std::string_view kRelay = R"sql(
CREATE TABLE integration_subscriptions (
  id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  kind TEXT NOT NULL,
  url TEXT NOT NULL,
  event_types TEXT NOT NULL,
  company_ids TEXT NOT NULL,
  secret_protected TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  disabled_reason TEXT NOT NULL,
  origin TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE integration_relay_positions (
  subscription_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  position BIGINT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE integration_deliveries (
  subscription_id TEXT COLLATE "C" NOT NULL,
  sequence BIGINT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  entity_key TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at TEXT COLLATE "C" NOT NULL,
  last_error TEXT NOT NULL,
  last_status_code INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (subscription_id, sequence)
);
CREATE INDEX integration_deliveries_by_status
  ON integration_deliveries (subscription_id, status, entity_key, sequence);
)sql";

// Migration 5 (admin API, issue #5). integration_settings: small hub settings by key (the admin
// token's SHA-256, never the token). integration_api_sources: the sources created through the
// admin API, loaded at every start alongside the config file's (integration_sources keeps the
// runtime status of both). integration_runs.plugin_version: the plugin version a run used
// (set by the sync engine). Same DDL in the SQLite backend.
constexpr std::string_view kAdmin = R"sql(
CREATE TABLE integration_settings (
  key TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE integration_api_sources (
  id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  connector TEXT NOT NULL,
  config TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  interval_ms BIGINT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

ALTER TABLE integration_runs ADD COLUMN plugin_version TEXT;
)sql";

// Per-key rate limits of the ingestion API (issue #6): NULL means the hub's configured default.
// Same columns in the SQLite backend.
constexpr std::string_view kAgentKeyRateLimits = R"sql(
ALTER TABLE integration_agent_keys ADD COLUMN rate_per_second DOUBLE PRECISION;
ALTER TABLE integration_agent_keys ADD COLUMN rate_burst BIGINT;
)sql";

// Migration 7, retention (issue #16). integration_runs.events: the events a run appended.
// integration_runs.run_count: how many consecutive idle runs the row stands for (FinishRun folds
// them). The indexes serve the pruning batches (HousekeepingStore::Prune): old runs by end time,
// and an event's deliveries by sequence (an event with a pending or dead delivery is kept).
// Same DDL in the SQLite backend.
constexpr std::string_view kRetention = R"sql(
ALTER TABLE integration_runs ADD COLUMN events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE integration_runs ADD COLUMN run_count BIGINT NOT NULL DEFAULT 1;
CREATE INDEX integration_runs_by_finished_at ON integration_runs (finished_at);
CREATE INDEX integration_deliveries_by_sequence ON integration_deliveries (sequence);
)sql";

// Migration 8, compressed event data (issue #19 §3): integration_events.data holds what
// EncodeEventData writes (zstd against a fixed dictionary: binary, so bytea) for new events.
// Rows written before keep their JSON text as its UTF-8 bytes, which DecodeEventData reads as
// such. The type change rewrites the table once, under its lock (on a large outbox, minutes).
constexpr std::string_view kCompressedEventData = R"sql(
ALTER TABLE integration_events ALTER COLUMN data TYPE BYTEA USING convert_to(data, 'UTF8');
)sql";

// Migration 9, personal data (issue #18). integration_erasures: the records whose personal data
// was erased (the row stays as a tombstone), so a later pull of the same externalId is recognised
// and the source's rule applies (stay erased or re-created). integration_inactive_students: the
// students flagged by the inactivity policy, for a person to review. Ids only, no personal value.
// Same DDL in the SQLite backend.
constexpr std::string_view kPersonalData = R"sql(
CREATE TABLE integration_erasures (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  entity TEXT NOT NULL,
  external_id TEXT NOT NULL,
  erased_at TEXT NOT NULL,
  PRIMARY KEY (company_id, source_system, entity, external_id)
);

CREATE TABLE integration_inactive_students (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  last_activity_at TEXT NOT NULL,
  flagged_at TEXT NOT NULL,
  PRIMARY KEY (company_id, source_system, external_id)
);
)sql";

// Migration 10, roles and the audit log (issue #18 §3): named admin tokens (only their SHA-256;
// a name is unique among active tokens, so a revoked name can be given again) and the audit
// log, pruned by time (HousekeepingStore::Prune, "audit"). Same DDL in the SQLite backend.
constexpr std::string_view kRolesAudit = R"sql(
CREATE TABLE integration_admin_tokens (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  token_sha256 TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE UNIQUE INDEX integration_admin_tokens_active_name ON integration_admin_tokens (name)
  WHERE revoked_at IS NULL;

CREATE TABLE integration_audit (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  before_value TEXT,
  after_value TEXT,
  detail TEXT
);
CREATE INDEX integration_audit_by_at ON integration_audit (at);
)sql";

// Migration 11 (issue #19 §2): source_hash, the 64-bit hash of the source row a record was mapped
// from together with the mapping's fingerprint (CanonicalRecord::source_hash), NULL when the
// record must be mapped again whatever its source row. Same DDL in the SQLite backend.
constexpr std::string_view kSourceHashes = R"sql(
ALTER TABLE students ADD COLUMN source_hash BIGINT;
ALTER TABLE cases ADD COLUMN source_hash BIGINT;
ALTER TABLE appointments ADD COLUMN source_hash BIGINT;
ALTER TABLE documents ADD COLUMN source_hash BIGINT;
ALTER TABLE payments ADD COLUMN source_hash BIGINT;
ALTER TABLE instructors ADD COLUMN source_hash BIGINT;
ALTER TABLE vehicles ADD COLUMN source_hash BIGINT;
)sql";

// Migration 13 (issue #19 §3; 12 is the SQLite backend's alone): narrower outbox rows. An
// event's type, company, source and entity become one id (kind) into integration_event_kinds
// (EventKinds), its time milliseconds since the epoch (EncodeStoredTime), and its id, derived from
// the other columns (model::EventId), is no longer stored. The table is rebuilt rather than
// altered (a dropped column would still take its null bit in every new row), sequences kept and
// the identity continued from where the old one stopped. Same tables in the SQLite backend.
constexpr std::string_view kNarrowEvents = R"sql(
CREATE TABLE integration_event_kinds (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type TEXT COLLATE "C" NOT NULL,
  company_id TEXT COLLATE "C" NOT NULL,
  source_system TEXT COLLATE "C" NOT NULL,
  entity TEXT COLLATE "C" NOT NULL,
  UNIQUE (company_id, source_system, type)
);
INSERT INTO integration_event_kinds (type, company_id, source_system, entity)
  SELECT DISTINCT type, company_id, source_system, entity FROM integration_events;
CREATE TABLE integration_events_new (
  sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind BIGINT NOT NULL,
  external_id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  time BIGINT NOT NULL,
  data BYTEA NOT NULL
);
INSERT INTO integration_events_new (sequence, kind, external_id, version, time, data)
  OVERRIDING SYSTEM VALUE
  SELECT e.sequence, k.id, e.external_id, e.version,
         (EXTRACT(EPOCH FROM e.time::timestamptz) * 1000)::bigint, e.data
  FROM integration_events e JOIN integration_event_kinds k
    ON k.company_id = e.company_id AND k.source_system = e.source_system AND k.type = e.type
  ORDER BY e.sequence;
SELECT setval(pg_get_serial_sequence('integration_events_new', 'sequence'),
              COALESCE(pg_sequence_last_value(pg_get_serial_sequence('integration_events',
                                                                     'sequence')), 1),
              pg_sequence_last_value(pg_get_serial_sequence('integration_events', 'sequence'))
                IS NOT NULL);
DROP TABLE integration_events;
ALTER TABLE integration_events_new RENAME TO integration_events;
ALTER INDEX integration_events_new_pkey RENAME TO integration_events_pkey;
)sql";

// Migration 15 (issue #19 §3): narrower record rows. A record's created_at and updated_at become
// milliseconds since the epoch (EncodeStoredTime, as an event's time since 13: 8 bytes where the
// text took 25) and its content hash its 16 bytes (a bytea, 17 bytes where the hex took 33; what
// SQLite stores since 14). Each table is altered in one statement, so rewritten once. A stored
// hash that is not 32 hex digits is kept as its text's bytes, which reads back as that text; a
// time that is not FormatUtc text becomes NULL (as in SQLite), where a cast would fail the upgrade.
constexpr std::string_view kNarrowRecords = R"sql(
ALTER TABLE students
  ALTER COLUMN content_hash TYPE BYTEA USING CASE WHEN content_hash ~ '^[0-9a-f]{32}$'
    THEN decode(content_hash, 'hex') ELSE convert_to(content_hash, 'UTF8') END,
  ALTER COLUMN created_at TYPE BIGINT USING CASE
    WHEN created_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM created_at::timestamptz) * 1000)::bigint END,
  ALTER COLUMN updated_at TYPE BIGINT USING CASE
    WHEN updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE cases
  ALTER COLUMN content_hash TYPE BYTEA USING CASE WHEN content_hash ~ '^[0-9a-f]{32}$'
    THEN decode(content_hash, 'hex') ELSE convert_to(content_hash, 'UTF8') END,
  ALTER COLUMN created_at TYPE BIGINT USING CASE
    WHEN created_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM created_at::timestamptz) * 1000)::bigint END,
  ALTER COLUMN updated_at TYPE BIGINT USING CASE
    WHEN updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE appointments
  ALTER COLUMN content_hash TYPE BYTEA USING CASE WHEN content_hash ~ '^[0-9a-f]{32}$'
    THEN decode(content_hash, 'hex') ELSE convert_to(content_hash, 'UTF8') END,
  ALTER COLUMN created_at TYPE BIGINT USING CASE
    WHEN created_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM created_at::timestamptz) * 1000)::bigint END,
  ALTER COLUMN updated_at TYPE BIGINT USING CASE
    WHEN updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE documents
  ALTER COLUMN content_hash TYPE BYTEA USING CASE WHEN content_hash ~ '^[0-9a-f]{32}$'
    THEN decode(content_hash, 'hex') ELSE convert_to(content_hash, 'UTF8') END,
  ALTER COLUMN created_at TYPE BIGINT USING CASE
    WHEN created_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM created_at::timestamptz) * 1000)::bigint END,
  ALTER COLUMN updated_at TYPE BIGINT USING CASE
    WHEN updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE payments
  ALTER COLUMN content_hash TYPE BYTEA USING CASE WHEN content_hash ~ '^[0-9a-f]{32}$'
    THEN decode(content_hash, 'hex') ELSE convert_to(content_hash, 'UTF8') END,
  ALTER COLUMN created_at TYPE BIGINT USING CASE
    WHEN created_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM created_at::timestamptz) * 1000)::bigint END,
  ALTER COLUMN updated_at TYPE BIGINT USING CASE
    WHEN updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE instructors
  ALTER COLUMN content_hash TYPE BYTEA USING CASE WHEN content_hash ~ '^[0-9a-f]{32}$'
    THEN decode(content_hash, 'hex') ELSE convert_to(content_hash, 'UTF8') END,
  ALTER COLUMN created_at TYPE BIGINT USING CASE
    WHEN created_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM created_at::timestamptz) * 1000)::bigint END,
  ALTER COLUMN updated_at TYPE BIGINT USING CASE
    WHEN updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE vehicles
  ALTER COLUMN content_hash TYPE BYTEA USING CASE WHEN content_hash ~ '^[0-9a-f]{32}$'
    THEN decode(content_hash, 'hex') ELSE convert_to(content_hash, 'UTF8') END,
  ALTER COLUMN created_at TYPE BIGINT USING CASE
    WHEN created_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM created_at::timestamptz) * 1000)::bigint END,
  ALTER COLUMN updated_at TYPE BIGINT USING CASE
    WHEN updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    THEN (EXTRACT(EPOCH FROM updated_at::timestamptz) * 1000)::bigint END;
)sql";

// Migration 16 (issue #19 §3): a record's source_updated_at becomes milliseconds since the epoch
// (EncodeSourceUpdatedAt), as its created_at and updated_at did in 15: 8 bytes where the text took
// 25. The hub always wrote it as FormatUtc text (validation normalises it); any other text becomes
// NULL, which reads as "no time", as in the SQLite backend, and so does a year 0000, which
// FormatUtc can hold and PostgreSQL's timestamps cannot (the cast would fail the upgrade). Each
// table is rewritten once.
constexpr std::string_view kIntegerSourceTimes = R"sql(
ALTER TABLE students ALTER COLUMN source_updated_at TYPE BIGINT USING CASE
  WHEN source_updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    AND left(source_updated_at, 4) <> '0000'
  THEN (EXTRACT(EPOCH FROM source_updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE cases ALTER COLUMN source_updated_at TYPE BIGINT USING CASE
  WHEN source_updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    AND left(source_updated_at, 4) <> '0000'
  THEN (EXTRACT(EPOCH FROM source_updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE appointments ALTER COLUMN source_updated_at TYPE BIGINT USING CASE
  WHEN source_updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    AND left(source_updated_at, 4) <> '0000'
  THEN (EXTRACT(EPOCH FROM source_updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE documents ALTER COLUMN source_updated_at TYPE BIGINT USING CASE
  WHEN source_updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    AND left(source_updated_at, 4) <> '0000'
  THEN (EXTRACT(EPOCH FROM source_updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE payments ALTER COLUMN source_updated_at TYPE BIGINT USING CASE
  WHEN source_updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    AND left(source_updated_at, 4) <> '0000'
  THEN (EXTRACT(EPOCH FROM source_updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE instructors ALTER COLUMN source_updated_at TYPE BIGINT USING CASE
  WHEN source_updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    AND left(source_updated_at, 4) <> '0000'
  THEN (EXTRACT(EPOCH FROM source_updated_at::timestamptz) * 1000)::bigint END;
ALTER TABLE vehicles ALTER COLUMN source_updated_at TYPE BIGINT USING CASE
  WHEN source_updated_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    AND left(source_updated_at, 4) <> '0000'
  THEN (EXTRACT(EPOCH FROM source_updated_at::timestamptz) * 1000)::bigint END;
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1, "initial schema", kInitialSchema},
      {2, "source leases", kLeases},
      {3, "agent keys and ingest requests", kAgentKeys},
      {4, "event delivery: subscriptions, relay positions, deliveries", kRelay},
      {5, "admin settings and API-created sources", kAdmin},
      {6, "agent key rate limits", kAgentKeyRateLimits},
      {7, "retention: run events and folded idle runs", kRetention},
      {8, "compressed event data", kCompressedEventData},
      {9, "personal data: erasures and inactive students", kPersonalData},
      {10, "roles and the audit log: named admin tokens, audit rows", kRolesAudit},
      {11, "source row hashes", kSourceHashes},
      {13, "narrower outbox rows: event kinds, integer times, ids recomputed", kNarrowEvents},
      {15, "narrower record rows: integer times, content hash as bytes", kNarrowRecords},
      {16, "narrower record rows: the source's update time as an integer", kIntegerSourceTimes},
  };
  return migrations;
}

}  // namespace reglo::storage::postgres
