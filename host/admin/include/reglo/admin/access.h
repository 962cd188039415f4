// Roles and accountability of the admin API and the CLI (issue #18 §3): the three roles a named
// admin token carries, who a request or a local command acts as, and the one call that audits a
// CLI command (its store change and its audit row in one transaction). Pure functions and values;
// AuditCommand uses the store it is given from the calling thread only.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/storage/audit_store.h"

namespace reglo::admin {

// Ordered: each role may do everything the ones before it may. Viewers read; operators also
// run, retry, pause, resume, acknowledge, redeliver and edit sources; admins also manage
// subscriptions, agent keys, admin tokens, subject requests, and read the audit log.
enum class Role { kViewer = 0, kOperator = 1, kAdmin = 2 };

std::string_view RoleName(Role role);  // "viewer", "operator", "admin"
std::optional<Role> ParseRole(std::string_view name);
inline bool Allows(Role held, Role needed) {
  return static_cast<int>(held) >= static_cast<int>(needed);
}

// Who acts: a named token's name and role. The shared token (first start, `admin-token reset`,
// config admin.token / REGLO_ADMIN_TOKEN) acts as kSharedTokenName with the admin role.
struct Caller {
  std::string name;
  Role role = Role::kViewer;
};
inline constexpr std::string_view kSharedTokenName = "admin-token";
// Local commands run by whoever can read the hub's config and store: admin, named "cli".
inline constexpr std::string_view kCliActor = "cli";

// Masks an audit row's before/after value: secret-looking keys replaced, then personal data
// masked (core/masking.h). `json_text` is JSON text; anything else is masked as text.
std::string MaskAuditValue(std::string_view json_text);

// Runs a CLI command's store change with its audit row (actor "cli", role admin, now) in one
// transaction (storage::AuditStore::Audited); the change may fill the row's before/after.
Status AuditCommand(storage::AuditStore& store, const Clock& clock, std::string action,
                    std::string target, const storage::AuditedChange& change);

}  // namespace reglo::admin
