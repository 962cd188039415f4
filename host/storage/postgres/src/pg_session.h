// PgSession: a PostgreSQL connection as the SQL both backends share uses it (sql_session.h).
// Private to the backend; it borrows the store's connection and is used by the store's thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pg_conn.h"
#include "reglo/storage/sql_session.h"

namespace reglo::storage::postgres {

class PgSession final : public SqlSession {
 public:
  // `what`: the context of its errors.
  explicit PgSession(Conn& conn, std::string_view what = "handling personal data")
      : conn_(conn), what_(what) {}

  Status Query(const std::string& sql, const std::vector<Param>& params,
               const std::function<Status(RowCursor&)>& read) override;
  Result<int64_t> Execute(const std::string& sql, const std::vector<Param>& params) override;

 private:
  static Params ToParams(const std::vector<Param>& params);

  Conn& conn_;
  std::string_view what_;
};

}  // namespace reglo::storage::postgres
