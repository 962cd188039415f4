// SqlSession: a backend's connection inside a transaction it opened, as the SQL both backends
// share uses it (subject_sql.h, run_sql.h). The SQL is portable with PostgreSQL's numbered
// parameters ($1, $2); the SQLite backend spells them ?N. Each backend implements it over the
// store's own connection; a session belongs to the one thread that uses that store.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/row_codec.h"

namespace reglo::storage {

// A backend's connection as the shared code uses it.
class SqlSession {
 public:
  // Binary bytes (a BLOB, a bytea): an event's stored data (EncodeEventData).
  struct Bytes {
    std::string value;
  };
  using Param = std::variant<std::monostate, std::string, int64_t, Bytes>;  // monostate: NULL
  // Runs one statement and hands its rows to `read` (rows it does not read are dropped).
  virtual Status Query(const std::string& sql, const std::vector<Param>& params,
                       const std::function<Status(RowCursor&)>& read) = 0;
  // Runs one statement without rows; returns the rows it changed.
  virtual Result<int64_t> Execute(const std::string& sql, const std::vector<Param>& params) = 0;

 protected:
  ~SqlSession() = default;
};

}  // namespace reglo::storage
