// The admin API's shared parts, private to host/admin: the context every handler reads (options,
// deps, a store pool), the route adder, the handlers of each area (api_sources.cpp, api_runs.cpp,
// api_relay.cpp, api_agents.cpp; api.cpp's route table maps the routes to them), the request body
// reader, the paging and problem helpers and the JSON views more than one area answers with.
// Thread-safety: one ApiContext serves the listener's threads (its parts are thread-safe); a
// BodyReader belongs to one request.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "reglo/admin/access.h"
#include "reglo/admin/admin.h"
#include "reglo/core/status.h"
#include "reglo/http/message.h"
#include "reglo/http/router.h"
#include "reglo/model/schema.h"
#include "reglo/storage/store.h"
#include "store_pool.h"

namespace reglo::admin::api {

using http::Request;
using http::Response;
using nlohmann::json;

// ---- answers ---------------------------------------------------------------------------------

std::string Dump(const json& value);
Response Json(int status, const json& value);
Response BadRequest(const std::string& detail);
Response NotFound(const std::string& detail);
Response Conflict(const std::string& detail);
Response NoSource(const std::string& id);  // 404 "no source 'ID'"
// A store or engine failure: the message is masked, and says what failed.
Response ServerError(const Status& status);
// Maps an engine or store refusal to its problem.
Response FromStatus(const Status& status);
// FromStatus of a failed step; nullopt when it went through.
std::optional<Response> ProblemIfFailed(const Status& status);

// ---- the context and the routes ----------------------------------------------------------------

struct ApiContext {
  ApiContext(AdminOptions admin_options, AdminDeps admin_deps)
      : options(std::move(admin_options)), deps(admin_deps), stores(admin_deps.open_store) {}

  // Runs `use(store)` with a store of the pool and answers what it returns (a 500 when no store
  // can be opened).
  template <typename Use>
  Response WithStore(Use use) {
    return stores.With(use, ServerError);
  }

  // Runs a step that comes before the answer: nullopt when it went through, else the response to
  // answer (its refusal, or a 500 when no store can be opened).
  template <typename Step>
  std::optional<Response> StoreStep(Step step) {
    return stores.With(
        [&](storage::Store& store) -> std::optional<Response> { return step(store); },
        [](const Status& status) -> std::optional<Response> { return ServerError(status); });
  }

  // Who the request's token (Authorization: Bearer) stands for: the shared token (admin), or an
  // active named token; nullopt without a valid token. The token guard asks it for every guarded
  // route; /readyz asks it to decide whether to show its detail.
  std::optional<Caller> Authenticate(const Request& request);

  const AdminOptions options;
  const AdminDeps deps;
  StorePool stores;

 private:
  std::string CurrentTokenHash();

  std::mutex token_mutex_;
  std::string last_token_hash_;  // the stored hash last read (token_in_store)
};

using ApiHandler = Response (*)(ApiContext& api, const Request& request);

// Who may call a route, and what the audit log calls it. A read: Access() (viewers and up) or
// Access(Role::kAdmin). A state-changing route names its action, and is audited:
// Access(Role::kOperator, "source.pause"). Public routes (no token): Access::Public().
struct Access {
  Access() = default;
  explicit Access(Role least, const char* audited_action = "")
      : role(least), action(audited_action) {}
  static Access Public() {
    Access access;
    access.needs_token = false;
    return access;
  }

  bool needs_token = true;
  Role role = Role::kViewer;
  std::string_view action;  // "" for a read
};

// What the guard learnt about a request (request.context), and the audit row of an audited one.
struct RequestState {
  Caller caller;
  std::optional<storage::AuditRow> audit;  // set for an audited route before its handler runs
  bool audit_written = false;              // AuditedStoreChange or AuditedEngineCommand wrote it
};

// Adds routes to the router (checking the caller's role before the body is read, and writing the
// audit row of an audited route), and lists them as RouteInfo when asked to.
struct ApiRoutes {
  http::Router& router;
  std::vector<RouteInfo>* listed;
  std::shared_ptr<ApiContext> api;

  void Add(const char* method, const char* pattern, ApiHandler handler, Access access = {});
};

// ---- the audit log (api_audit.cpp) -------------------------------------------------------------

// In the handler of an audited route: runs `change` on `store` in ONE transaction with the
// request's audit row (storage::AuditStore::Audited: "ok" with the change, or "failed" alone).
// For changes the handler makes in its own store.
Status AuditedStoreChange(const Request& request, storage::Store& store,
                          const storage::AuditedChange& change);
// The same for an operator command the engine stores: `command` gets the request's audit row (null
// when the route is not audited), which the engine writes with the command's effect. The problem
// to answer when it failed: the engine's refusal, or a ServerError when storing it failed.
std::optional<Response> AuditedEngineCommand(
    const Request& request, const std::function<Status(engine::CommandAudit*)>& command);
// A refusal, or a request that changed nothing, is audited by the route itself once the handler
// has answered.
// Sets the audit row's before/after (JSON, masked here: MaskAuditValue) and, when not empty, its
// target; does nothing for a request that is not audited.
void SetAudit(const Request& request, const json& before, const json& after,
              const std::string& target = "");
// The request's caller (set by the guard); a viewer with no name when there is none.
Caller CallerOf(const Request& request);

// The handlers of each area, defined in the file of that name; api.cpp's route table maps the
// routes to them.
// api_sources.cpp: sources, their commands and cursors, plugins.
Response ListSources(ApiContext& api, const Request& request);
Response CreateSource(ApiContext& api, const Request& request);
Response GetSource(ApiContext& api, const Request& request);
Response UpdateSource(ApiContext& api, const Request& request);
Response DeleteSource(ApiContext& api, const Request& request);
Response RunSource(ApiContext& api, const Request& request);
Response RetrySource(ApiContext& api, const Request& request);
Response PauseSource(ApiContext& api, const Request& request);
Response ResumeSource(ApiContext& api, const Request& request);
Response AcknowledgeWarnings(ApiContext& api, const Request& request);
Response GetCursor(ApiContext& api, const Request& request);
Response ResetCursor(ApiContext& api, const Request& request);
Response ListPlugins(ApiContext& api, const Request& request);
// api_runs.cpp: runs and their logs, events, dead letters, entities.
Response ListRuns(ApiContext& api, const Request& request);
Response GetRun(ApiContext& api, const Request& request);
Response ListEvents(ApiContext& api, const Request& request);
Response ListDeadLetters(ApiContext& api, const Request& request);
Response ListEntities(ApiContext& api, const Request& request);
Response BrowseEntity(ApiContext& api, const Request& request);
// api_relay.cpp: subscriptions and deliveries.
Response ListSubscriptions(ApiContext& api, const Request& request);
Response CreateSubscription(ApiContext& api, const Request& request);
Response GetSubscription(ApiContext& api, const Request& request);
Response DeleteSubscription(ApiContext& api, const Request& request);
Response EnableSubscription(ApiContext& api, const Request& request);
Response DisableSubscription(ApiContext& api, const Request& request);
Response ListDeliveries(ApiContext& api, const Request& request);
Response Redeliver(ApiContext& api, const Request& request);
Response RedeliverDead(ApiContext& api, const Request& request);
// api_agents.cpp: agent keys and their counters.
Response ListAgents(ApiContext& api, const Request& request);
// api_audit.cpp: who am I, the audit log, named admin tokens.
Response WhoAmI(ApiContext& api, const Request& request);
Response ListAudit(ApiContext& api, const Request& request);
Response ListTokens(ApiContext& api, const Request& request);
Response CreateToken(ApiContext& api, const Request& request);
Response RevokeToken(ApiContext& api, const Request& request);
// api_schema.cpp: the canonical model's JSON Schemas.
Response ListSchemas(ApiContext& api, const Request& request);
Response GetSchema(ApiContext& api, const Request& request);

// api_subjects.cpp: data subjects' access and erasure requests (issue #18).
Response GetSubject(ApiContext& api, const Request& request);
Response ExportSubject(ApiContext& api, const Request& request);
Response EraseSubjectById(ApiContext& api, const Request& request);
Response EraseSubject(ApiContext& api, const Request& request);
Response ListInactiveStudents(ApiContext& api, const Request& request);

// ---- queries -----------------------------------------------------------------------------------

std::optional<int64_t> ParseInteger(std::string_view text);

// A page of a list: `limit` (default 50, 1..500) and where it starts, the non-negative integer
// query parameter `position` names ("after", "before", "offset"; default 0).
struct PageQuery {
  int limit = 50;
  int64_t position = 0;
};
// Reads the page the request asks for into `page`; the 400 that names a bad parameter otherwise.
std::optional<Response> ReadPage(const Request& request, const char* position, PageQuery& page);

// A page's body from `rows`, read with limit + 1 to know whether more follow: the first `limit`
// rows as items, and "next", the position of the last one shown (null when none follow).
template <typename Row, typename ToJson, typename PositionOf>
json PageBody(const std::vector<Row>& rows, int limit, ToJson to_json, PositionOf position_of) {
  json items = json::array();
  const size_t shown = std::min(rows.size(), static_cast<size_t>(limit));
  for (size_t i = 0; i < shown; ++i) items.push_back(to_json(rows[i]));
  const bool more = rows.size() > shown;
  return {{"items", items}, {"next", more ? json(position_of(rows[shown - 1])) : json(nullptr)}};
}

// The 200 answer of PageBody.
template <typename Row, typename ToJson, typename PositionOf>
Response PageJson(const std::vector<Row>& rows, int limit, ToJson to_json, PositionOf position_of) {
  return Json(200, PageBody(rows, limit, to_json, position_of));
}

// ---- request bodies ----------------------------------------------------------------------------

// How a request body member is expected.
enum class Need {
  kRequired,        // absent: "NAME: missing"
  kOptional,        // absent: left as it is; null is refused like any other wrong type
  kOptionalOrNull,  // absent or null: left as it is
};

// Reads a JSON object request body member by member, so a handler states only what it expects.
// Each read checks one member; the first refusal (a 400 problem naming the member) is kept and
// later reads and Refuse() calls do nothing: the handler asks Refusal() once, before it acts.
class BodyReader {
 public:
  // `fields`: the members the handler reads; `ignored`: members accepted and not read (what a GET
  // answers, so a client may send it back); any other member is refused. `empty_ok`: an empty
  // body reads as {}.
  BodyReader(const std::string& text, const std::set<std::string>& fields,
             const std::set<std::string>& ignored = {}, bool empty_ok = false);

  // The first refusal, if any.
  const std::optional<Response>& Refusal() const { return refusal_; }

  // Refuses the body with `detail` (which names the member), unless it is refused already.
  void Refuse(const std::string& detail);

  // The member `name`, or nullptr when absent.
  const json* Find(const char* name) const;

  // A string: non-empty unless `empty_ok`, and at most `max_size` bytes when `max_size` is not 0.
  void Text(const char* name, std::string& out, Need need = Need::kRequired, size_t max_size = 0,
            bool empty_ok = false);
  void Bool(const char* name, bool& out, Need need);
  void Object(const char* name, json& out, Need need);
  // An array of non-empty strings, appended to `out`.
  void Strings(const char* name, std::vector<std::string>& out, Need need);
  // A number of seconds (fractions allowed) from `minimum` to 1e9, as milliseconds.
  void Seconds(const char* name, double minimum, std::chrono::milliseconds& out, Need need);

 private:
  // The member to check, or nullptr when there is nothing to read (refused already, absent, or
  // null where `need` allows it); a required member that is absent refuses the body.
  const json* Member(const char* name, Need need);

  json body_ = json::object();
  std::optional<Response> refusal_;
};

// ---- JSON views shared by the areas ------------------------------------------------------------

// Secret option values shown as this (a PUT sending it back keeps the stored value).
inline constexpr std::string_view kSecretMask = "********";
// Replaces secret values by kSecretMask: properties marked "x-reglo-secret" in `schema` (a
// connector's config schema, or null), and keys that look like secrets whatever the schema says.
void MaskSecrets(json& options, const json* schema);

json OptionalText(const std::optional<std::string>& text);
// Empty -> null. Also for times: the store's FormatUtc text is RFC 3339 UTC already.
json TextOrNull(const std::string& text);
// The same, with personal data masked (errors and reasons may quote a record).
json MaskedTextOrNull(const std::string& text);
// A JSON array kept as text in the store, or [] when it is not one.
json JsonArrayText(const std::string& text);
json RunJson(const storage::RunInfo& run);

// Whether a rendered row shows personal data masked (every listing of the API) or in clear (a
// subject's own export: that is its point).
enum class Values { kMasked, kInClear };
// A canonical field's value as the API shows it: codici fiscali, e-mails and phones masked (names
// are what support looks people up by), or in clear.
json FieldValue(const model::FieldSpec& field, const std::string& value, Values values);
// An outbox event as its CloudEvent with its `sequence`.
json EventJson(const storage::StoredEvent& stored, Values values);
json DeadLetterJson(const storage::DeadLetter& letter, Values values);
json DeliveryJson(const storage::DeliveryRow& row, Values values);

}  // namespace reglo::admin::api
