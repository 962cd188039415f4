// SqliteStore: named admin tokens and the audit log (AuditStore, issue #18 §3).
#include <fmt/format.h>

#include "reglo/storage/row_codec.h"
#include "sqlite_store_impl.h"

namespace reglo::storage::sqlite {

Status SqliteStore::Audited(AuditRow row, const AuditedChange& change) {
  return RunAudited(
      std::move(row), change,
      [&](const std::function<Status()>& body) -> Status {
        Transaction tx(*db_);
        REGLO_RETURN_IF_ERROR(tx.Begin("an audited change"));
        REGLO_RETURN_IF_ERROR(body());
        return tx.Commit();
      },
      [&](const AuditRow& audit) { return AppendAudit(audit); });
}

Status SqliteStore::AppendAudit(const AuditRow& row) {
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare(SqliteParameters(kInsertAuditSql), "appending an audit row"));
  return Stmt(*db_, stmt, "appending an audit row")
      .BindAll(row.at, row.actor, row.role, row.action, row.target, row.outcome, row.before,
               row.after, row.detail)
      .Run();
}

Result<std::vector<AuditRow>> SqliteStore::ListAudit(const AuditQuery& query) {
  if (query.limit <= 0) return Status::InvalidArgument("audit page limit must be positive");
  const AuditSql sql = MakeAuditSql(query, [](int n) { return fmt::format("?{}", n); });
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql.select, "listing the audit log"));
  Stmt select(*db_, stmt, "listing the audit log");
  int p = 1;
  for (const std::string& param : sql.params) select.Bind(p++, param);
  select.Bind(p, int64_t{query.limit});
  return ReadRows<AuditRow>(select);
}

Result<int64_t> SqliteStore::CreateAdminToken(const AdminTokenRow& token) {
  REGLO_ASSIGN_OR_RETURN(
      stmt, Prepare("INSERT INTO integration_admin_tokens (name, role, token_sha256, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    "creating an admin token"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "creating an admin token")
                            .BindAll(token.name, token.role, token.token_sha256, token.created_at)
                            .Run());
  if (db_->Changes() == 0) {
    return Status::AlreadyExists(fmt::format("an active admin token is named '{}'", token.name));
  }
  return db_->LastInsertRowId();
}

Result<std::vector<AdminTokenRow>> SqliteStore::ListAdminTokens() {
  return SelectRows<AdminTokenRow>(
      fmt::format("SELECT {} FROM integration_admin_tokens ORDER BY id", kAdminTokenColumns),
      "listing admin tokens");
}

Result<std::optional<AdminTokenRow>> SqliteStore::FindAdminToken(const std::string& token_sha256) {
  return SelectRow<AdminTokenRow>(
      fmt::format("SELECT {} FROM integration_admin_tokens WHERE token_sha256 = ? AND "
                  "revoked_at IS NULL",
                  kAdminTokenColumns),
      "reading an admin token", token_sha256);
}

Result<bool> SqliteStore::RevokeAdminToken(const std::string& name, const std::string& now) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("UPDATE integration_admin_tokens SET revoked_at = ? "
                                       "WHERE name = ? AND revoked_at IS NULL",
                                       "revoking an admin token"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "revoking an admin token").BindAll(now, name).Run());
  return db_->Changes() > 0;
}

}  // namespace reglo::storage::sqlite
