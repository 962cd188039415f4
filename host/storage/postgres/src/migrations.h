// The versioned schema migrations of the PostgreSQL backend, in order (DESIGN §6), numbered as the
// SQLite backend's: migration N creates the same tables in both. Immutable static data;
// thread-safe.
#pragma once

#include <vector>

#include "reglo/storage/migration.h"

namespace reglo::storage::postgres {

const std::vector<Migration>& Migrations();

}  // namespace reglo::storage::postgres
