// The versioned schema migrations of the SQLite backend, in order (DESIGN §6). Each is written out
// as SQL text, never generated from the model at run time, so the history of the schema is fixed:
// adding a canonical field is one line in schema.cpp plus a new migration here (ALTER TABLE ... ADD
// COLUMN). Immutable static data; thread-safe.
#pragma once

#include <string_view>
#include <vector>

namespace reglo::storage::sqlite {

struct Migration {
  int version;  // 1, 2, 3, ... without gaps
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& Migrations();

}  // namespace reglo::storage::sqlite
