// PgSession: a PostgreSQL connection as the shared data-subject code (subject_sql.h) uses it.
// Private to the backend; it borrows the store's connection and is used by the store's thread.
#pragma once

#include <string>
#include <vector>

#include "pg_conn.h"
#include "reglo/storage/subject_sql.h"

namespace reglo::storage::postgres {

class PgSession final : public SqlSession {
 public:
  explicit PgSession(Conn& conn) : conn_(conn) {}

  Status Query(const std::string& sql, const std::vector<Param>& params,
               const std::function<Status(RowCursor&)>& read) override;
  Result<int64_t> Execute(const std::string& sql, const std::vector<Param>& params) override;

 private:
  static Params ToParams(const std::vector<Param>& params);

  Conn& conn_;
};

}  // namespace reglo::storage::postgres
