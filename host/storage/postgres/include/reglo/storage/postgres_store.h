// The PostgreSQL backend of Store (DESIGN §6): what an operator runs in production and what lets
// several hub instances share one database. Same versioned migrations and the same semantics as
// the SQLite backend (the shared StoreTest suite runs against both); checkpoints are written with
// a few set-based statements per batch, and races between writers are settled by the unique
// identity constraints (INSERT ... ON CONFLICT), never by a unique-violation error.
//
// Each PostgresStore owns one libpq connection and is used by one thread at a time (see store.h);
// open one per thread. A lost connection fails the call with kRetryable and is re-opened at the
// next call. Messages name host, port, database and user, never the password.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reglo/core/clock.h"
#include "reglo/storage/store.h"

namespace reglo::storage {

// A parsed store URL: postgres://[user[:password]@]host[:port]/database[?param=value&...].
// `postgresql://` is accepted too; user, password, database and values are percent-decoded; an
// IPv6 host is written in brackets. The query parameters go to libpq as connection keywords
// (sslmode, connect_timeout, application_name, options, ...), except the hub's own
// `synchronous_commit`. Plain value; thread-safe.
struct PostgresUrl {
  std::string user;      // empty: libpq's default (the OS user, or PGUSER)
  std::string password;  // empty: REGLO_PG_PASSWORD, then libpq's PGPASSWORD / ~/.pgpass
  std::string host;
  int port = 5432;
  std::string database;
  std::vector<std::pair<std::string, std::string>> params;
  // PostgreSQL's synchronous_commit for checkpoint transactions. "off" (the default) is the
  // SQLite backend's synchronous=NORMAL: a crash of the server or the machine may lose the last
  // checkpoints committed (about half a second; whole checkpoints with their cursor, which the
  // next run pulls again), never a part of one, and the database is never corrupted. "on"
  // waits for the disk at every checkpoint; with replicas, "remote_apply" etc.
  std::string synchronous_commit = "off";

  // "host 127.0.0.1 port 5432 database hub user reglo": for messages; never the password.
  std::string Describe() const;
  // The URL with the password replaced by "***" (for display and logs).
  std::string Redacted() const;
};

// True when `url` names a PostgreSQL store (postgres:// or postgresql://).
bool IsPostgresUrl(std::string_view url);

// Parses a store URL; kConfigError naming what is wrong (never echoing the password).
Result<PostgresUrl> ParsePostgresUrl(std::string_view url);

// Connects (connect_timeout 5 s unless the URL says otherwise), applies pending migrations and
// checks the schema. The password is the URL's, else $REGLO_PG_PASSWORD, else libpq's own
// ($PGPASSWORD, ~/.pgpass). kIoError naming host, port and database when the server cannot be
// reached or refuses; kIncompatible for a schema newer than this build or a server older than 12.
// `clock` (which must outlive the store) stamps what the store dates itself: source rows, relay
// progress, applied migrations. `on_migration` (when set) is told of each migration before it
// starts.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                 const Clock& clock = SystemClock::Instance(),
                                                 const MigrationObserver& on_migration = {});
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresUrl& url,
                                                 const Clock& clock = SystemClock::Instance(),
                                                 const MigrationObserver& on_migration = {});

}  // namespace reglo::storage
