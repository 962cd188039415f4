#include "pg_session.h"

namespace reglo::storage::postgres {

Status PgSession::Query(const std::string& sql, const std::vector<Param>& params,
                        const std::function<Status(RowCursor&)>& read) {
  REGLO_ASSIGN_OR_RETURN(rows, conn_.Query(sql, ToParams(params), what_));
  RowsCursor cursor(rows);
  return read(cursor);
}

Result<int64_t> PgSession::Execute(const std::string& sql, const std::vector<Param>& params) {
  REGLO_ASSIGN_OR_RETURN(rows, conn_.Query(sql, ToParams(params), what_));
  return rows.Affected();
}

Params PgSession::ToParams(const std::vector<Param>& params) {
  Params out;
  for (const Param& param : params) {
    if (const auto* text = std::get_if<std::string>(&param)) {
      out.Text(*text);
    } else if (const auto* number = std::get_if<int64_t>(&param)) {
      out.Int(*number);
    } else if (const auto* bytes = std::get_if<Bytes>(&param)) {
      out.Bytes(bytes->value);
    } else {
      out.Null();
    }
  }
  return out;
}

}  // namespace reglo::storage::postgres
