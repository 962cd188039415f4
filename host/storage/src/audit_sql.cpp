// The audit log's SQL and the Audited() flow both backends share (row_codec.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "reglo/core/masking.h"
#include "reglo/storage/row_codec.h"

namespace reglo::storage {

const std::string kInsertAuditSql =
    "INSERT INTO integration_audit (at, actor, role, action, target, outcome, before_value, "
    "after_value, detail) VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), NULLIF($8, ''), "
    "NULLIF($9, ''))";

AuditSql MakeAuditSql(const AuditQuery& query, std::string (*placeholder)(int)) {
  AuditSql sql;
  std::vector<std::string> conditions;
  // Every parameter is text (PostgreSQL's are typed): the id is cast where it is compared.
  const auto add = [&](const std::string& value, std::string_view column, std::string_view test,
                       std::string_view cast = "") {
    if (value.empty()) return;
    sql.params.push_back(value);
    const std::string parameter = placeholder(static_cast<int>(sql.params.size()));
    conditions.push_back(cast.empty()
                             ? fmt::format("{} {} {}", column, test, parameter)
                             : fmt::format("{} {} CAST({} AS {})", column, test, parameter, cast));
  };
  add(query.actor, "actor", "=");
  add(query.action, "action", "=");
  add(query.target, "target", "=");
  add(query.outcome, "outcome", "=");
  add(query.from, "at", ">=");
  add(query.to, "at", "<=");
  if (query.before_id > 0) add(std::to_string(query.before_id), "id", "<", "BIGINT");
  const std::string where =
      conditions.empty() ? "" : " WHERE " + fmt::format("{}", fmt::join(conditions, " AND "));
  sql.select =
      fmt::format("SELECT {} FROM integration_audit{} ORDER BY id DESC LIMIT {}", kAuditColumns,
                  where, placeholder(static_cast<int>(sql.params.size()) + 1));
  return sql;
}

Status RunAudited(AuditRow row, const AuditedChange& change,
                  const std::function<Status(const std::function<Status()>&)>& in_transaction,
                  const std::function<Status(const AuditRow&)>& append) {
  row.outcome = std::string(kAuditOk);
  const Status done = in_transaction([&]() -> Status {
    REGLO_RETURN_IF_ERROR(change(row));
    return append(row);
  });
  if (done.ok()) return done;
  // The change rolled back: the attempt is still accounted for, in its own transaction.
  row.outcome = std::string(kAuditFailed);
  row.after.clear();
  row.detail = MaskPersonalData(done.message());
  (void)append(row);  // the change's error is what the caller needs; a second failure adds nothing
  return done;
}

}  // namespace reglo::storage
