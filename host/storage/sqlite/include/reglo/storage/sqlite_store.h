// The SQLite backend of Store: the hub's zero-setup default (one file, WAL mode).
// Each SqliteStore owns one connection and is used by one thread at a time (see store.h);
// several stores may open the same file (SQLite serialises writers; busy waits are bounded).
#pragma once

#include <memory>
#include <string>

#include "reglo/core/clock.h"
#include "reglo/storage/store.h"

namespace reglo::storage {

// Opens (creating if needed) the database at `path` and applies pending migrations, telling
// `on_migration` (when set) of each before it starts. ":memory:" gives a private in-memory
// database (tests). `clock` (which must outlive the store) stamps what the store dates itself:
// source rows, relay progress, applied migrations.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const Clock& clock = SystemClock::Instance(),
                                               const MigrationObserver& on_migration = {});

}  // namespace reglo::storage
