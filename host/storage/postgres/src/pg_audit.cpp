// PostgresStore: named admin tokens and the audit log (AuditStore, issue #18 §3).
#include <fmt/format.h>

#include "postgres_store_impl.h"
#include "reglo/storage/row_codec.h"

namespace reglo::storage::postgres {

Status PostgresStore::Audited(AuditRow row, const AuditedChange& change) {
  REGLO_RETURN_IF_ERROR(Ready());
  return RunAudited(
      std::move(row), change,
      [&](const std::function<Status()>& body) -> Status {
        Transaction tx(*conn_);
        REGLO_RETURN_IF_ERROR(tx.Begin("an audited change"));
        REGLO_RETURN_IF_ERROR(body());
        return tx.Commit();
      },
      [&](const AuditRow& audit) { return AppendAudit(audit); });
}

Status PostgresStore::AppendAudit(const AuditRow& row) {
  return Select(kInsertAuditSql,
                Params()
                    .Text(row.at)
                    .Text(row.actor)
                    .Text(row.role)
                    .Text(row.action)
                    .Text(row.target)
                    .Text(row.outcome)
                    .Text(row.before)
                    .Text(row.after)
                    .Text(row.detail),
                "appending an audit row")
      .status();
}

Result<std::vector<AuditRow>> PostgresStore::ListAudit(const AuditQuery& query) {
  if (query.limit <= 0) return Status::InvalidArgument("audit page limit must be positive");
  const AuditSql sql = MakeAuditSql(query, [](int n) { return fmt::format("${}", n); });
  Params params;
  for (const std::string& param : sql.params) params.Text(param);
  params.Int(query.limit);
  return SelectRows<AuditRow>(sql.select, params, "listing the audit log");
}

Result<int64_t> PostgresStore::CreateAdminToken(const AdminTokenRow& token) {
  REGLO_ASSIGN_OR_RETURN(
      id, SelectRow<std::string>(
              "INSERT INTO integration_admin_tokens (name, role, token_sha256, created_at) "
              "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id::text",
              Params()
                  .Text(token.name)
                  .Text(token.role)
                  .Text(token.token_sha256)
                  .Text(token.created_at),
              "creating an admin token"));
  if (!id) {
    return Status::AlreadyExists(fmt::format("an active admin token is named '{}'", token.name));
  }
  return std::stoll(*id);
}

Result<std::vector<AdminTokenRow>> PostgresStore::ListAdminTokens() {
  return SelectRows<AdminTokenRow>(
      fmt::format("SELECT {} FROM integration_admin_tokens ORDER BY id", kAdminTokenColumns),
      Params(), "listing admin tokens");
}

Result<std::optional<AdminTokenRow>> PostgresStore::FindAdminToken(
    const std::string& token_sha256) {
  return SelectRow<AdminTokenRow>(
      fmt::format("SELECT {} FROM integration_admin_tokens WHERE token_sha256 = $1 AND "
                  "revoked_at IS NULL",
                  kAdminTokenColumns),
      Params().Text(token_sha256), "reading an admin token");
}

Result<bool> PostgresStore::RevokeAdminToken(const std::string& name, const std::string& now) {
  REGLO_ASSIGN_OR_RETURN(rows, Select("UPDATE integration_admin_tokens SET revoked_at = $1 "
                                      "WHERE name = $2 AND revoked_at IS NULL",
                                      Params().Text(now).Text(name), "revoking an admin token"));
  return rows.Affected() > 0;
}

}  // namespace reglo::storage::postgres
