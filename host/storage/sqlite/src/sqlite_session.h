// SqliteSession: the store's connection as the SQL both backends share uses it (sql_session.h):
// $N parameters spelled ?N, statements from the connection's cache. A statement is done with
// before the next one starts (no nesting). Private to the backend; it borrows the store's Db and
// is used by the store's thread.
#pragma once

#include <string_view>
#include <vector>

#include "reglo/storage/sql_session.h"
#include "sqlite_db.h"

namespace reglo::storage::sqlite {

class SqliteSession final : public SqlSession {
 public:
  // `what`: the context of its errors.
  explicit SqliteSession(Db& db, std::string_view what = "handling personal data")
      : db_(db), what_(what) {}

  Status Query(const std::string& sql, const std::vector<Param>& params,
               const std::function<Status(RowCursor&)>& read) override {
    REGLO_ASSIGN_OR_RETURN(stmt, db_.Prepare(SqliteParameters(sql), what_));
    Stmt bound(db_, stmt, what_);
    Bind(bound, params);
    return read(bound);
  }
  Result<int64_t> Execute(const std::string& sql, const std::vector<Param>& params) override {
    REGLO_ASSIGN_OR_RETURN(stmt, db_.Prepare(SqliteParameters(sql), what_));
    Stmt bound(db_, stmt, what_);
    Bind(bound, params);
    REGLO_RETURN_IF_ERROR(bound.Run());
    return db_.Changes();
  }

 private:
  // Text is bound without copying: `params` outlives the statement's use.
  static void Bind(Stmt& stmt, const std::vector<Param>& params) {
    for (size_t i = 0; i < params.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      if (const auto* text = std::get_if<std::string>(&params[i])) {
        stmt.Bind(index, *text);
      } else if (const auto* number = std::get_if<int64_t>(&params[i])) {
        stmt.Bind(index, *number);
      } else if (const auto* bytes = std::get_if<Bytes>(&params[i])) {
        stmt.BindBlob(index, bytes->value);
      } else {
        stmt.BindNull(index);
      }
    }
  }

  Db& db_;
  std::string_view what_;
};

}  // namespace reglo::storage::sqlite
