// The SQLite backend of Store: the hub's zero-setup default (one file, WAL mode).
// Each SqliteStore owns one connection and is used by one thread at a time (see store.h);
// several stores may open the same file (SQLite serialises writers; busy waits are bounded).
#pragma once

#include <memory>
#include <string>

#include "reglo/storage/store.h"

namespace reglo::storage {

// Opens (creating if needed) the database at `path` and applies pending migrations.
// ":memory:" gives a private in-memory database (tests).
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace reglo::storage
