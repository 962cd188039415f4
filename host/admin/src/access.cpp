// Roles, audit values and the CLI's audited commands (access.h).
#include "reglo/admin/access.h"

#include "api_common.h"
#include "reglo/core/masking.h"

namespace reglo::admin {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kOperator: return "operator";
    case Role::kAdmin: return "admin";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

std::string MaskAuditValue(std::string_view json_text) {
  if (json_text.empty()) return "";
  api::json value = api::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return MaskPersonalData(json_text);
  api::MaskSecrets(value, nullptr);
  return MaskPersonalData(api::Dump(value));
}

Status AuditCommand(storage::AuditStore& store, const Clock& clock, std::string action,
                    std::string target, const storage::AuditedChange& change) {
  storage::AuditRow row;
  row.at = FormatUtc(clock.Now());
  row.actor = std::string(kCliActor);
  row.role = std::string(RoleName(Role::kAdmin));
  row.action = std::move(action);
  row.target = MaskPersonalData(target);
  return store.Audited(std::move(row), [&](storage::AuditRow& audited) -> Status {
    REGLO_RETURN_IF_ERROR(change(audited));
    audited.before = MaskAuditValue(audited.before);
    audited.after = MaskAuditValue(audited.after);
    return Status::Ok();
  });
}

}  // namespace reglo::admin
