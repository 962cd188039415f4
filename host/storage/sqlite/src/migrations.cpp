#include "migrations.h"

namespace reglo::storage::sqlite {

namespace {

// Portable SQL on purpose (TEXT / INTEGER / BIGINT, composite keys, ON CONFLICT targets), so the
// PostgreSQL backend can start from the same text. The only SQLite-specific spelling is
// INTEGER PRIMARY KEY [AUTOINCREMENT] for sequences (PostgreSQL: BIGINT GENERATED ... AS IDENTITY).
//
// Canonical tables: identity first (the primary key, DESIGN §5), then one TEXT column per FieldSpec
// in schema order, then bookkeeping. `extra` is a JSON object of unknown fields and `warnings` a
// JSON array of strings; both are NULL when empty.
//
// integration_events: the outbox, one row per (record, version, type), holding the event's
// columns and its CloudEvents `data`; the envelope is rendered on read (model::CloudEventJson).
// No unique index: an event is only appended in the transaction that moves its record to that
// version, so a replay (which finds the version already there) appends nothing, and event_id is
// deterministic, so consumers deduplicate on it. A unique index here measured 13 % of a cold
// load, and one on the random event_id 3x.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE students (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  first_name TEXT,
  last_name TEXT,
  fiscal_code TEXT,
  birth_date TEXT,
  email TEXT,
  phone TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE cases (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  student_external_id TEXT,
  license_category TEXT,
  status TEXT,
  opened_at TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE appointments (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  kind TEXT,
  starts_at TEXT,
  ends_at TEXT,
  student_external_id TEXT,
  case_external_id TEXT,
  instructor_external_id TEXT,
  vehicle_external_id TEXT,
  status TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE documents (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  owner_entity TEXT,
  owner_external_id TEXT,
  kind TEXT,
  number TEXT,
  issued_at TEXT,
  expires_at TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE payments (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  student_external_id TEXT,
  case_external_id TEXT,
  amount_cents TEXT,
  currency TEXT,
  paid_at TEXT,
  method TEXT,
  status TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE instructors (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  first_name TEXT,
  last_name TEXT,
  fiscal_code TEXT,
  license_categories TEXT,
  email TEXT,
  phone TEXT,
  active TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE vehicles (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  plate TEXT,
  make TEXT,
  model TEXT,
  license_category TEXT,
  transmission TEXT,
  active TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  PRIMARY KEY (company_id, source_system, external_id)
);

CREATE TABLE integration_sources (
  id TEXT NOT NULL PRIMARY KEY,
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  connector TEXT NOT NULL,
  config TEXT,
  enabled INTEGER NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT,
  updated_at TEXT
);

CREATE TABLE integration_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source_id TEXT NOT NULL,
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
  id INTEGER PRIMARY KEY,
  run_id BIGINT NOT NULL,
  at TEXT NOT NULL,
  level TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX integration_run_logs_by_run ON integration_run_logs (run_id, id);

CREATE TABLE integration_cursors (
  source_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  cursor TEXT,
  updated_at TEXT,
  PRIMARY KEY (source_id, stream)
);

CREATE TABLE integration_events (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  entity TEXT NOT NULL,
  external_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  time TEXT NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE integration_dead_letters (
  id INTEGER PRIMARY KEY,
  run_id BIGINT NOT NULL,
  source_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  entity TEXT,
  external_id TEXT,
  origin TEXT,
  reason TEXT NOT NULL,
  created_at TEXT NOT NULL
);
)sql";

// integration_leases: one row per source an instance has taken (DESIGN §6). expires_at is a
// FormatUtc timestamp, compared as text (fixed-width UTC). Same DDL in the PostgreSQL backend.
constexpr std::string_view kLeases = R"sql(
CREATE TABLE integration_leases (
  source_id TEXT NOT NULL PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
)sql";

// integration_agent_keys: remote agents' API keys (DESIGN §8). key_hash is the hex SHA-256 of the
// whole key (never the key); secret_protected is the signing secret sealed with the hub master key
// kept outside the database (AES-256-GCM, host/ingest), so a dump of the database alone cannot
// forge a signed request. integration_ingest_requests: accepted requests by (key, webhook-id),
// kept 24 h so that a repeat returns the stored response. Same DDL in the PostgreSQL backend.
constexpr std::string_view kAgentKeys = R"sql(
CREATE TABLE integration_agent_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  prefix TEXT NOT NULL UNIQUE,
  key_hash TEXT NOT NULL,
  secret_protected TEXT NOT NULL,
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  allowed_cidrs TEXT NOT NULL,
  last4 TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at TEXT
);
CREATE INDEX integration_agent_keys_by_scope
  ON integration_agent_keys (company_id, source_system, status);

CREATE TABLE integration_ingest_requests (
  key_id BIGINT NOT NULL,
  request_id TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  response TEXT NOT NULL,
  created_at TEXT NOT NULL,
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
// PostgreSQL backend.
constexpr std::string_view kRelay = R"sql(
CREATE TABLE integration_subscriptions (
  id TEXT NOT NULL PRIMARY KEY,
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
  subscription_id TEXT NOT NULL PRIMARY KEY,
  position BIGINT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE integration_deliveries (
  subscription_id TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  entity_key TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at TEXT NOT NULL,
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
// (set by the sync engine). Same DDL in the PostgreSQL backend.
constexpr std::string_view kAdmin = R"sql(
CREATE TABLE integration_settings (
  key TEXT NOT NULL PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE integration_api_sources (
  id TEXT NOT NULL PRIMARY KEY,
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
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
// Same columns in the PostgreSQL backend.
constexpr std::string_view kAgentKeyRateLimits = R"sql(
ALTER TABLE integration_agent_keys ADD COLUMN rate_per_second REAL;
ALTER TABLE integration_agent_keys ADD COLUMN rate_burst BIGINT;
)sql";

// Migration 7, retention (issue #16). integration_runs.events: the events a run appended.
// integration_runs.run_count: how many consecutive idle runs the row stands for (FinishRun folds
// them). The indexes serve the pruning batches (HousekeepingStore::Prune): old runs by end time,
// and an event's deliveries by sequence (an event with a pending or dead delivery is kept).
// Same DDL in the PostgreSQL backend.
constexpr std::string_view kRetention = R"sql(
ALTER TABLE integration_runs ADD COLUMN events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE integration_runs ADD COLUMN run_count BIGINT NOT NULL DEFAULT 1;
CREATE INDEX integration_runs_by_finished_at ON integration_runs (finished_at);
CREATE INDEX integration_deliveries_by_sequence ON integration_deliveries (sequence);
)sql";

// Migration 8, compressed event data (issue #19 §3): integration_events.data now holds what
// EncodeEventData writes (a BLOB: zstd against a fixed dictionary) for new events; rows written
// before stay JSON text and DecodeEventData reads both, so nothing is rewritten (a TEXT column
// keeps a BLOB as it is). The version still moves: an older hub refuses the store instead of
// delivering compressed bytes as JSON.
constexpr std::string_view kCompressedEventData = R"sql(
SELECT 1;
)sql";

// Migration 9, personal data (issue #18). integration_erasures: the records whose personal data
// was erased (the row stays as a tombstone), so a later pull of the same externalId is recognised
// and the source's rule applies (stay erased or re-created). integration_inactive_students: the
// students flagged by the inactivity policy, for a person to review. Ids only, no personal value.
// Same DDL in the PostgreSQL backend.
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
// log, pruned by time (HousekeepingStore::Prune, "audit"). Same DDL in the PostgreSQL backend.
constexpr std::string_view kRolesAudit = R"sql(
CREATE TABLE integration_admin_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  token_sha256 TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE UNIQUE INDEX integration_admin_tokens_active_name ON integration_admin_tokens (name)
  WHERE revoked_at IS NULL;

CREATE TABLE integration_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
// record must be mapped again whatever its source row. Same DDL in the PostgreSQL backend.
constexpr std::string_view kSourceHashes = R"sql(
ALTER TABLE students ADD COLUMN source_hash BIGINT;
ALTER TABLE cases ADD COLUMN source_hash BIGINT;
ALTER TABLE appointments ADD COLUMN source_hash BIGINT;
ALTER TABLE documents ADD COLUMN source_hash BIGINT;
ALTER TABLE payments ADD COLUMN source_hash BIGINT;
ALTER TABLE instructors ADD COLUMN source_hash BIGINT;
ALTER TABLE vehicles ADD COLUMN source_hash BIGINT;
)sql";

// Migration 12 (issue #19 §1): integration_leases without a rowid. An idle pull takes its
// source's lease and releases it, two small write transactions; with a rowid table each touches
// the table's page and its primary key's index page, without one only the page that holds the
// row (a fifth of what an idle pull wrote to the WAL). SQLite only: PostgreSQL's
// heap and index are not the same trade.
constexpr std::string_view kLeasesWithoutRowid = R"sql(
CREATE TABLE integration_leases_new (
  source_id TEXT NOT NULL PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO integration_leases_new (source_id, owner, expires_at)
  SELECT source_id, owner, expires_at FROM integration_leases;
DROP TABLE integration_leases;
ALTER TABLE integration_leases_new RENAME TO integration_leases;
)sql";

// Migration 13 (issue #19 §3): narrower outbox rows. An event's type, company, source and entity,
// the same four strings for every event of a source's entity, become one small id (kind) into
// integration_event_kinds (EventKinds); its time (FormatUtc text, 24 bytes) becomes milliseconds
// since the epoch (EncodeStoredTime); its id, derived from the other columns (model::EventId), is
// no longer stored. 257 -> ~124 bytes per student event. The table is rebuilt, sequences kept,
// and sqlite_sequence carried over, so a sequence is never given twice even if the outbox was
// pruned empty. Same tables in the PostgreSQL backend.
constexpr std::string_view kNarrowEvents = R"sql(
CREATE TABLE integration_event_kinds (
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  entity TEXT NOT NULL,
  UNIQUE (company_id, source_system, type)
);
INSERT INTO integration_event_kinds (type, company_id, source_system, entity)
  SELECT DISTINCT type, company_id, source_system, entity FROM integration_events;
CREATE TABLE integration_events_new (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  kind INTEGER NOT NULL,
  external_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  time INTEGER NOT NULL,
  data BLOB NOT NULL
);
INSERT INTO integration_events_new (sequence, kind, external_id, version, time, data)
  SELECT e.sequence, k.id, e.external_id, e.version,
         CAST(strftime('%s', substr(e.time, 1, 19)) AS INTEGER) * 1000 +
           CAST(substr(e.time, 21, 3) AS INTEGER),
         e.data
  FROM integration_events e JOIN integration_event_kinds k
    ON k.company_id = e.company_id AND k.source_system = e.source_system AND k.type = e.type
  ORDER BY e.sequence;
DELETE FROM sqlite_sequence WHERE name = 'integration_events_new';
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'integration_events_new', seq FROM sqlite_sequence WHERE name = 'integration_events';
DROP TABLE integration_events;
ALTER TABLE integration_events_new RENAME TO integration_events;
)sql";

// Migration 14 (issue #19 §3): the canonical tables without a rowid. A rowid table keeps each
// record twice over its identity: the row, and its primary key's index (company, source,
// externalId and the rowid again, ~50 bytes per student). Without a rowid the row is stored in
// the primary key's own B-tree: one copy, and one B-tree to insert into. Nothing reads a record by
// its rowid. Each table is rebuilt with the same columns in the same order (SELECT * copies
// them); on a large store this rewrites every record once. SQLite only: a PostgreSQL table is
// a heap beside its indexes whatever it is declared.
constexpr std::string_view kRecordsWithoutRowid = R"sql(
CREATE TABLE students_new (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  first_name TEXT,
  last_name TEXT,
  fiscal_code TEXT,
  birth_date TEXT,
  email TEXT,
  phone TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  source_hash BIGINT,
  PRIMARY KEY (company_id, source_system, external_id)
) WITHOUT ROWID;
INSERT INTO students_new SELECT * FROM students;
DROP TABLE students;
ALTER TABLE students_new RENAME TO students;

CREATE TABLE cases_new (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  student_external_id TEXT,
  license_category TEXT,
  status TEXT,
  opened_at TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  source_hash BIGINT,
  PRIMARY KEY (company_id, source_system, external_id)
) WITHOUT ROWID;
INSERT INTO cases_new SELECT * FROM cases;
DROP TABLE cases;
ALTER TABLE cases_new RENAME TO cases;

CREATE TABLE appointments_new (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  kind TEXT,
  starts_at TEXT,
  ends_at TEXT,
  student_external_id TEXT,
  case_external_id TEXT,
  instructor_external_id TEXT,
  vehicle_external_id TEXT,
  status TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  source_hash BIGINT,
  PRIMARY KEY (company_id, source_system, external_id)
) WITHOUT ROWID;
INSERT INTO appointments_new SELECT * FROM appointments;
DROP TABLE appointments;
ALTER TABLE appointments_new RENAME TO appointments;

CREATE TABLE documents_new (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  owner_entity TEXT,
  owner_external_id TEXT,
  kind TEXT,
  number TEXT,
  issued_at TEXT,
  expires_at TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  source_hash BIGINT,
  PRIMARY KEY (company_id, source_system, external_id)
) WITHOUT ROWID;
INSERT INTO documents_new SELECT * FROM documents;
DROP TABLE documents;
ALTER TABLE documents_new RENAME TO documents;

CREATE TABLE payments_new (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  student_external_id TEXT,
  case_external_id TEXT,
  amount_cents TEXT,
  currency TEXT,
  paid_at TEXT,
  method TEXT,
  status TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  source_hash BIGINT,
  PRIMARY KEY (company_id, source_system, external_id)
) WITHOUT ROWID;
INSERT INTO payments_new SELECT * FROM payments;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;

CREATE TABLE instructors_new (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  first_name TEXT,
  last_name TEXT,
  fiscal_code TEXT,
  license_categories TEXT,
  email TEXT,
  phone TEXT,
  active TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  source_hash BIGINT,
  PRIMARY KEY (company_id, source_system, external_id)
) WITHOUT ROWID;
INSERT INTO instructors_new SELECT * FROM instructors;
DROP TABLE instructors;
ALTER TABLE instructors_new RENAME TO instructors;

CREATE TABLE vehicles_new (
  company_id TEXT NOT NULL,
  source_system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  plate TEXT,
  make TEXT,
  model TEXT,
  license_category TEXT,
  transmission TEXT,
  active TEXT,
  version INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  source_updated_at TEXT,
  extra TEXT,
  warnings TEXT,
  created_at TEXT,
  updated_at TEXT,
  source_hash BIGINT,
  PRIMARY KEY (company_id, source_system, external_id)
) WITHOUT ROWID;
INSERT INTO vehicles_new SELECT * FROM vehicles;
DROP TABLE vehicles;
ALTER TABLE vehicles_new RENAME TO vehicles;
)sql";

// Migration 15 (issue #19 §3): a record's created_at and updated_at become milliseconds since the
// epoch (EncodeStoredTime, as an event's time since 13): an integer of 6 bytes where the text
// took 25. A column's declared type decides how SQLite stores what is written to it, and cannot be
// altered: each time gets a new INTEGER column, filled from the text (NULL where it is not a
// FormatUtc time), and the text column is dropped. The new columns come last in the table, which
// nothing depends on (every statement names its columns). Each step rewrites the table; on a
// large store this takes a while, and the open logs the migration before it starts.
constexpr std::string_view kIntegerRecordTimes = R"sql(
ALTER TABLE students ADD COLUMN created_ms INTEGER;
ALTER TABLE students ADD COLUMN updated_ms INTEGER;
UPDATE students SET
  created_ms = CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(created_at, 21, 3) AS INTEGER),
  updated_ms = CAST(strftime('%s', substr(updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(updated_at, 21, 3) AS INTEGER);
ALTER TABLE students DROP COLUMN created_at;
ALTER TABLE students DROP COLUMN updated_at;
ALTER TABLE students RENAME COLUMN created_ms TO created_at;
ALTER TABLE students RENAME COLUMN updated_ms TO updated_at;

ALTER TABLE cases ADD COLUMN created_ms INTEGER;
ALTER TABLE cases ADD COLUMN updated_ms INTEGER;
UPDATE cases SET
  created_ms = CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(created_at, 21, 3) AS INTEGER),
  updated_ms = CAST(strftime('%s', substr(updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(updated_at, 21, 3) AS INTEGER);
ALTER TABLE cases DROP COLUMN created_at;
ALTER TABLE cases DROP COLUMN updated_at;
ALTER TABLE cases RENAME COLUMN created_ms TO created_at;
ALTER TABLE cases RENAME COLUMN updated_ms TO updated_at;

ALTER TABLE appointments ADD COLUMN created_ms INTEGER;
ALTER TABLE appointments ADD COLUMN updated_ms INTEGER;
UPDATE appointments SET
  created_ms = CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(created_at, 21, 3) AS INTEGER),
  updated_ms = CAST(strftime('%s', substr(updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(updated_at, 21, 3) AS INTEGER);
ALTER TABLE appointments DROP COLUMN created_at;
ALTER TABLE appointments DROP COLUMN updated_at;
ALTER TABLE appointments RENAME COLUMN created_ms TO created_at;
ALTER TABLE appointments RENAME COLUMN updated_ms TO updated_at;

ALTER TABLE documents ADD COLUMN created_ms INTEGER;
ALTER TABLE documents ADD COLUMN updated_ms INTEGER;
UPDATE documents SET
  created_ms = CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(created_at, 21, 3) AS INTEGER),
  updated_ms = CAST(strftime('%s', substr(updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(updated_at, 21, 3) AS INTEGER);
ALTER TABLE documents DROP COLUMN created_at;
ALTER TABLE documents DROP COLUMN updated_at;
ALTER TABLE documents RENAME COLUMN created_ms TO created_at;
ALTER TABLE documents RENAME COLUMN updated_ms TO updated_at;

ALTER TABLE payments ADD COLUMN created_ms INTEGER;
ALTER TABLE payments ADD COLUMN updated_ms INTEGER;
UPDATE payments SET
  created_ms = CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(created_at, 21, 3) AS INTEGER),
  updated_ms = CAST(strftime('%s', substr(updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(updated_at, 21, 3) AS INTEGER);
ALTER TABLE payments DROP COLUMN created_at;
ALTER TABLE payments DROP COLUMN updated_at;
ALTER TABLE payments RENAME COLUMN created_ms TO created_at;
ALTER TABLE payments RENAME COLUMN updated_ms TO updated_at;

ALTER TABLE instructors ADD COLUMN created_ms INTEGER;
ALTER TABLE instructors ADD COLUMN updated_ms INTEGER;
UPDATE instructors SET
  created_ms = CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(created_at, 21, 3) AS INTEGER),
  updated_ms = CAST(strftime('%s', substr(updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(updated_at, 21, 3) AS INTEGER);
ALTER TABLE instructors DROP COLUMN created_at;
ALTER TABLE instructors DROP COLUMN updated_at;
ALTER TABLE instructors RENAME COLUMN created_ms TO created_at;
ALTER TABLE instructors RENAME COLUMN updated_ms TO updated_at;

ALTER TABLE vehicles ADD COLUMN created_ms INTEGER;
ALTER TABLE vehicles ADD COLUMN updated_ms INTEGER;
UPDATE vehicles SET
  created_ms = CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(created_at, 21, 3) AS INTEGER),
  updated_ms = CAST(strftime('%s', substr(updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(updated_at, 21, 3) AS INTEGER);
ALTER TABLE vehicles DROP COLUMN created_at;
ALTER TABLE vehicles DROP COLUMN updated_at;
ALTER TABLE vehicles RENAME COLUMN created_ms TO created_at;
ALTER TABLE vehicles RENAME COLUMN updated_ms TO updated_at;
)sql";

// Migration 16 (issue #19 §3): a record's source_updated_at becomes milliseconds since the epoch
// as its created_at and updated_at did in 15 (EncodeSourceUpdatedAt: 6 bytes where the text took
// 24), by the same steps: a new INTEGER column filled from the text, the text column dropped. The
// hub always wrote it as FormatUtc text (validation normalises it); any other text becomes NULL,
// which reads as "no time", as a record without one.
constexpr std::string_view kIntegerSourceTimes = R"sql(
ALTER TABLE students ADD COLUMN source_updated_ms INTEGER;
UPDATE students SET source_updated_ms =
  CAST(strftime('%s', substr(source_updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(source_updated_at, 21, 3) AS INTEGER)
  WHERE source_updated_at GLOB
    '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
ALTER TABLE students DROP COLUMN source_updated_at;
ALTER TABLE students RENAME COLUMN source_updated_ms TO source_updated_at;

ALTER TABLE cases ADD COLUMN source_updated_ms INTEGER;
UPDATE cases SET source_updated_ms =
  CAST(strftime('%s', substr(source_updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(source_updated_at, 21, 3) AS INTEGER)
  WHERE source_updated_at GLOB
    '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
ALTER TABLE cases DROP COLUMN source_updated_at;
ALTER TABLE cases RENAME COLUMN source_updated_ms TO source_updated_at;

ALTER TABLE appointments ADD COLUMN source_updated_ms INTEGER;
UPDATE appointments SET source_updated_ms =
  CAST(strftime('%s', substr(source_updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(source_updated_at, 21, 3) AS INTEGER)
  WHERE source_updated_at GLOB
    '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
ALTER TABLE appointments DROP COLUMN source_updated_at;
ALTER TABLE appointments RENAME COLUMN source_updated_ms TO source_updated_at;

ALTER TABLE documents ADD COLUMN source_updated_ms INTEGER;
UPDATE documents SET source_updated_ms =
  CAST(strftime('%s', substr(source_updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(source_updated_at, 21, 3) AS INTEGER)
  WHERE source_updated_at GLOB
    '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
ALTER TABLE documents DROP COLUMN source_updated_at;
ALTER TABLE documents RENAME COLUMN source_updated_ms TO source_updated_at;

ALTER TABLE payments ADD COLUMN source_updated_ms INTEGER;
UPDATE payments SET source_updated_ms =
  CAST(strftime('%s', substr(source_updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(source_updated_at, 21, 3) AS INTEGER)
  WHERE source_updated_at GLOB
    '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
ALTER TABLE payments DROP COLUMN source_updated_at;
ALTER TABLE payments RENAME COLUMN source_updated_ms TO source_updated_at;

ALTER TABLE instructors ADD COLUMN source_updated_ms INTEGER;
UPDATE instructors SET source_updated_ms =
  CAST(strftime('%s', substr(source_updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(source_updated_at, 21, 3) AS INTEGER)
  WHERE source_updated_at GLOB
    '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
ALTER TABLE instructors DROP COLUMN source_updated_at;
ALTER TABLE instructors RENAME COLUMN source_updated_ms TO source_updated_at;

ALTER TABLE vehicles ADD COLUMN source_updated_ms INTEGER;
UPDATE vehicles SET source_updated_ms =
  CAST(strftime('%s', substr(source_updated_at, 1, 19)) AS INTEGER) * 1000 +
    CAST(substr(source_updated_at, 21, 3) AS INTEGER)
  WHERE source_updated_at GLOB
    '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
ALTER TABLE vehicles DROP COLUMN source_updated_at;
ALTER TABLE vehicles RENAME COLUMN source_updated_ms TO source_updated_at;
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  // Append only: a released migration is never edited, since databases in the field already ran it.
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
      {12, "source leases without a rowid", kLeasesWithoutRowid},
      {13, "narrower outbox rows: event kinds, integer times, ids recomputed", kNarrowEvents},
      {14, "canonical tables without a rowid", kRecordsWithoutRowid},
      {15, "narrower record rows: integer times", kIntegerRecordTimes},
      {16, "narrower record rows: the source's update time as an integer", kIntegerSourceTimes},
  };
  return migrations;
}

}  // namespace reglo::storage::sqlite
