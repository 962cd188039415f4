// The admin API's roles and audit log (issue #18 §3): the route adder that checks a caller's role
// before the body is read and writes the audit row of every state-changing route, the helpers a
// handler uses to write its store change and that row in one transaction, and the routes of
// /api/admin/whoami, /api/admin/audit and /api/admin/tokens.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <any>

#include "api_common.h"
#include "reglo/admin/token.h"
#include "reglo/core/masking.h"

namespace reglo::admin::api {
namespace {

std::shared_ptr<RequestState> StateOf(const Request& request) {
  const auto* state = std::any_cast<std::shared_ptr<RequestState>>(&request.context);
  return state ? *state : nullptr;
}

// What the audit log names as the target: the path's parameters ("sub-1/42"), else the "id" or
// "name" of a JSON body (a creation), masked.
std::string TargetOf(const Request& request) {
  std::string target;
  for (const auto& [name, value] : request.params) {
    if (!target.empty()) target += '/';
    target += value;
  }
  if (target.empty() && !request.body.empty()) {
    const json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    for (const char* key : {"id", "name"}) {
      if (body.is_object() && body.contains(key) && body[key].is_string()) {
        target = body[key].get<std::string>();
        break;
      }
    }
  }
  return MaskPersonalData(target.substr(0, 200));
}

// The outcome of an audited request its handler did not write with a change.
std::string_view OutcomeOf(int status) {
  if (status < 400) return storage::kAuditOk;
  if (status == 403) return "refused";
  if (status < 500) return "rejected";
  return storage::kAuditFailed;
}

std::string ProblemDetail(const Response& response) {
  const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object() && body.contains("detail") && body["detail"].is_string()) {
    return MaskPersonalData(body["detail"].get<std::string>());
  }
  return "";
}

void WriteAudit(ApiContext& api, const storage::AuditRow& row) {
  const Status written =
      api.stores.With([&](storage::Store& store) { return store.AppendAudit(row); },
                      [](const Status& status) { return status; });
  if (!written.ok()) {
    // The request's effect stands; what is lost is its record, which an operator must know.
    spdlog::error("admin: the audit row of {} on '{}' by {} could not be written: {}", row.action,
                  row.target, row.actor, MaskPersonalData(written.message()));
  }
}

storage::AuditRow NewRow(ApiContext& api, const Caller& caller, const Access& access,
                         const Request& request) {
  storage::AuditRow row;
  row.at = FormatUtc(api.deps.clock.Now());
  row.actor = caller.name;
  row.role = std::string(RoleName(caller.role));
  row.action = std::string(access.action);
  row.target = TargetOf(request);
  return row;
}

// Runs before the body is read: the caller's role against the route's.
std::optional<Response> CheckRole(ApiContext& api, Request& request, const Access& access) {
  const std::shared_ptr<RequestState> state = StateOf(request);
  if (!state) {
    return http::Problem(401, "Unauthorized", "a valid admin token is required", "unauthorized");
  }
  if (!Allows(state->caller.role, access.role)) {
    const std::string detail =
        fmt::format("this needs the {} role; the token '{}' has the {} role", RoleName(access.role),
                    state->caller.name, RoleName(state->caller.role));
    if (!access.action.empty()) {
      storage::AuditRow row = NewRow(api, state->caller, access, request);
      row.outcome = "refused";
      row.detail = detail;
      WriteAudit(api, row);
    }
    return http::Problem(403, "Forbidden", detail, "forbidden");
  }
  if (!access.action.empty()) state->audit = NewRow(api, state->caller, access, request);
  return std::nullopt;
}

Response ServeAudited(ApiContext& api, const Request& request, ApiHandler handler) {
  const std::shared_ptr<RequestState> state = StateOf(request);
  // A creation's target is in its body, read only now.
  if (state && state->audit && state->audit->target.empty()) {
    state->audit->target = TargetOf(request);
  }
  Response response = handler(api, request);
  if (state && state->audit && !state->audit_written) {
    storage::AuditRow row = *state->audit;
    row.outcome = std::string(OutcomeOf(response.status));
    if (response.status >= 400) {
      row.detail = ProblemDetail(response);
      row.after.clear();
    }
    WriteAudit(api, row);
  }
  return response;
}

json TokenJson(const storage::AdminTokenRow& token) {
  return {{"name", token.name},
          {"role", token.role},
          {"createdAt", token.created_at},
          {"revokedAt", OptionalText(token.revoked_at)}};
}

json AuditJson(const storage::AuditRow& row) {
  const auto value = [](const std::string& text) -> json {
    if (text.empty()) return nullptr;
    json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    return parsed.is_discarded() ? json(text) : parsed;
  };
  return {{"id", row.id},
          {"at", row.at},
          {"actor", row.actor},
          {"role", row.role},
          {"action", row.action},
          {"target", TextOrNull(row.target)},
          {"outcome", row.outcome},
          {"before", value(row.before)},
          {"after", value(row.after)},
          {"detail", TextOrNull(row.detail)}};
}

}  // namespace

void ApiRoutes::Add(const char* method, const char* pattern, ApiHandler handler, Access access) {
  http::RouteOptions options;
  if (access.needs_token) {
    options.before_body = [api = api, access](Request& request) {
      return CheckRole(*api, request, access);
    };
  }
  router.Add(
      method, pattern,
      [api = api, handler, audited = !access.action.empty()](const Request& request) {
        return audited ? ServeAudited(*api, request, handler) : handler(*api, request);
      },
      std::move(options));
  if (listed) {
    listed->push_back({method, pattern, access.needs_token,
                       access.needs_token ? std::string(RoleName(access.role)) : "",
                       std::string(access.action)});
  }
}

Status AuditedStoreChange(const Request& request, storage::Store& store,
                          const storage::AuditedChange& change) {
  const std::shared_ptr<RequestState> state = StateOf(request);
  if (!state || !state->audit) {
    storage::AuditRow unused;
    return change(unused);
  }
  state->audit_written = true;
  return store.Audited(*state->audit, change);
}

void SetAudit(const Request& request, const json& before, const json& after,
              const std::string& target) {
  const std::shared_ptr<RequestState> state = StateOf(request);
  if (!state || !state->audit) return;
  state->audit->before = before.is_null() ? "" : MaskAuditValue(Dump(before));
  state->audit->after = after.is_null() ? "" : MaskAuditValue(Dump(after));
  if (!target.empty()) state->audit->target = MaskPersonalData(target);
}

Caller CallerOf(const Request& request) {
  const std::shared_ptr<RequestState> state = StateOf(request);
  return state ? state->caller : Caller{};
}

Response WhoAmI(ApiContext&, const Request& request) {
  const Caller caller = CallerOf(request);
  return Json(200, {{"name", caller.name}, {"role", std::string(RoleName(caller.role))}});
}

Response ListAudit(ApiContext& api, const Request& request) {
  PageQuery page;
  if (std::optional<Response> refused = ReadPage(request, "before", page)) return *refused;
  storage::AuditQuery query;
  query.actor = request.Query("actor").value_or("");
  query.action = request.Query("action").value_or("");
  query.target = request.Query("target").value_or("");
  query.outcome = request.Query("outcome").value_or("");
  query.from = request.Query("from").value_or("");
  query.to = request.Query("to").value_or("");
  query.before_id = page.position;
  query.limit = page.limit + 1;
  return api.WithStore([&](storage::Store& store) {
    Result<std::vector<storage::AuditRow>> rows = store.ListAudit(query);
    if (!rows.ok()) return ServerError(rows.status());
    return PageJson(*rows, page.limit, AuditJson,
                    [](const storage::AuditRow& row) { return row.id; });
  });
}

Response ListTokens(ApiContext& api, const Request&) {
  return api.WithStore([&](storage::Store& store) {
    Result<std::vector<storage::AdminTokenRow>> tokens = store.ListAdminTokens();
    if (!tokens.ok()) return ServerError(tokens.status());
    json items = json::array();
    for (const storage::AdminTokenRow& token : *tokens) items.push_back(TokenJson(token));
    return Json(200, {{"items", items}});
  });
}

Response CreateToken(ApiContext& api, const Request& request) {
  BodyReader in(request.body, {"name", "role"});
  std::string name;
  std::string role_name;
  in.Text("name", name);
  in.Text("role", role_name);
  const std::optional<Role> role = ParseRole(role_name);
  if (!in.Refusal() && !role) in.Refuse("role: expected viewer, operator or admin");
  if (!in.Refusal() && !IsValidTokenName(name)) {
    in.Refuse("name: use 1 to 64 of a-z, 0-9, '.', '_' or '-'");
  }
  if (in.Refusal()) return *in.Refusal();
  std::string token;
  std::optional<Response> failed =
      api.StoreStep([&](storage::Store& store) -> std::optional<Response> {
        return ProblemIfFailed(AuditedStoreChange(request, store, [&](storage::AuditRow& row) {
          Result<std::string> created = CreateNamedToken(store, name, *role, api.deps.clock);
          if (!created.ok()) return created.status();
          token = std::move(*created);
          row.after = MaskAuditValue(Dump({{"name", name}, {"role", role_name}}));
          return Status::Ok();
        }));
      });
  if (failed) return *failed;
  spdlog::info("admin token '{}' ({}) created through the admin API", name, role_name);
  // The token in clear, this once (the store keeps its hash).
  return Json(201, {{"name", name}, {"role", role_name}, {"token", token}});
}

Response RevokeToken(ApiContext& api, const Request& request) {
  const std::string name = *request.Param("name");
  std::optional<Response> failed =
      api.StoreStep([&](storage::Store& store) -> std::optional<Response> {
        return ProblemIfFailed(AuditedStoreChange(request, store, [&](storage::AuditRow&) {
          Result<bool> revoked = store.RevokeAdminToken(name, FormatUtc(api.deps.clock.Now()));
          if (!revoked.ok()) return revoked.status();
          if (!*revoked) {
            return Status::NotFound(fmt::format("no active admin token '{}'", name));
          }
          return Status::Ok();
        }));
      });
  if (failed) return *failed;
  spdlog::info("admin token '{}' revoked through the admin API", name);
  return Response::NoContent();
}

}  // namespace reglo::admin::api
