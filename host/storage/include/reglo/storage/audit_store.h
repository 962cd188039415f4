// AuditStore: the storage role of accountability (issue #18 §3): named admin tokens (only their
// hashes) and the audit log of every state-changing admin request and CLI command. Audited()
// writes a change and its audit row in ONE transaction. Implemented by every backend; callers
// hold a reference to a store they or a factory own. Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reglo/core/status.h"

namespace reglo::storage {

// A named admin token; the token itself is never stored.
struct AdminTokenRow {
  int64_t id = 0;            // assigned by CreateAdminToken
  std::string name;          // unique among active tokens
  std::string role;          // viewer / operator / admin
  std::string token_sha256;  // hex SHA-256 of the token (admin/token.h TokenHash)
  std::string created_at;
  std::optional<std::string> revoked_at;
};

// One audit row. before/after are masked JSON text of the settings changed ("" when none);
// detail is a masked error or refusal ("" when it went through).
struct AuditRow {
  int64_t id = 0;  // assigned on append: rows are listed newest (highest) first
  std::string at;
  std::string actor;  // the token's name ("admin-token": the shared token; "cli": a local command)
  std::string role;
  std::string action;   // e.g. "source.pause", "token.create"
  std::string target;   // e.g. the source's id; "" when none
  std::string outcome;  // "ok", "failed" (the change was tried and failed), "refused", "rejected"
  std::string before;
  std::string after;
  std::string detail;
};

inline constexpr std::string_view kAuditOk = "ok";
inline constexpr std::string_view kAuditFailed = "failed";

// Filters of ListAudit: empty strings filter nothing; from/to bound `at` (FormatUtc text,
// inclusive); rows with an id below before_id (0: from the newest), newest first.
struct AuditQuery {
  std::string actor, action, target, outcome, from, to;
  int64_t before_id = 0;
  int limit = 50;
};

// What an audited change does inside the transaction: it may fill the row's before/after.
using AuditedChange = std::function<Status(AuditRow& row)>;

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Runs `change` and appends `row` with outcome "ok" in one transaction (store methods that
  // `change` calls on this store join it). When the change or the commit fails, nothing of it
  // stays: the row is appended alone with outcome "failed" and the masked error as detail, and
  // the change's error is returned.
  virtual Status Audited(AuditRow row, const AuditedChange& change) = 0;
  // Appends `row` as it is (a refusal, or an action whose effect is not in this store).
  virtual Status AppendAudit(const AuditRow& row) = 0;
  virtual Result<std::vector<AuditRow>> ListAudit(const AuditQuery& query) = 0;

  // Inserts an active token and returns its id; kAlreadyExists when an active token has the name.
  virtual Result<int64_t> CreateAdminToken(const AdminTokenRow& token) = 0;
  // Every token, revoked ones too, oldest first.
  virtual Result<std::vector<AdminTokenRow>> ListAdminTokens() = 0;
  // The active token with this hash; nullopt when there is none.
  virtual Result<std::optional<AdminTokenRow>> FindAdminToken(const std::string& token_sha256) = 0;
  // Revokes the active token named `name`; false when there is none.
  virtual Result<bool> RevokeAdminToken(const std::string& name, const std::string& now) = 0;
};

}  // namespace reglo::storage
