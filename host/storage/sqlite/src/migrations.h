// The versioned schema migrations of the SQLite backend, in order (DESIGN §6). Each is written out
// as SQL text, never generated from the model at run time, so the history of the schema is fixed:
// adding a canonical field is one line in schema.cpp plus a new migration here (ALTER TABLE ... ADD
// COLUMN). Immutable static data; thread-safe.
#pragma once

#include <vector>

#include "reglo/storage/migration.h"

namespace reglo::storage::sqlite {

const std::vector<Migration>& Migrations();

}  // namespace reglo::storage::sqlite
