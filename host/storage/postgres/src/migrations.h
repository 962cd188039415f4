// The versioned schema migrations of the PostgreSQL backend, in order (DESIGN §6), numbered as the
// SQLite backend's: migration N creates the same tables in both. Immutable static data;
// thread-safe.
#pragma once

#include <string_view>
#include <vector>

namespace reglo::storage::postgres {

struct Migration {
  int version;  // 1, 2, 3, ... without gaps
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& Migrations();

}  // namespace reglo::storage::postgres
