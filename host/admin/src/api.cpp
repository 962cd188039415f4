// The admin router: the auth guard, /healthz, /readyz, /metrics and the console's static files;
// the JSON admin API's areas (docs/admin-api.md) add their routes from api_sources.cpp,
// api_runs.cpp, api_relay.cpp, api_agents.cpp and api_schema.cpp.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "api_common.h"
#include "reglo/admin/token.h"
#include "reglo/core/masking.h"

namespace reglo::admin {
namespace api {
namespace {

using http::Problem;

std::string ContentType(const std::string& path) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  const size_t dot = path.rfind('.');
  if (dot != std::string::npos) {
    auto it = kTypes.find(path.substr(dot));
    if (it != kTypes.end()) return it->second;
  }
  return "application/octet-stream";
}

// Refuses every request without a valid admin token, but /healthz, /readyz (which shows its
// detail only with a token) and the console's files; leaves the caller in request.context for
// the route's role check (ApiRoutes::Add).
class TokenGuard {
 public:
  explicit TokenGuard(std::shared_ptr<ApiContext> api) : api_(std::move(api)) {}

  std::optional<Response> operator()(Request& request) {
    if (request.path == "/healthz" || request.path == "/readyz" || request.path == "/" ||
        request.path.rfind("/console/", 0) == 0) {
      return std::nullopt;
    }
    if (std::optional<Caller> caller = api_->Authenticate(request)) {
      auto state = std::make_shared<RequestState>();
      state->caller = std::move(*caller);
      request.context = std::move(state);
      return std::nullopt;
    }
    Response refused =
        Problem(401, "Unauthorized",
                "a valid admin token is required: Authorization: Bearer <token>", "unauthorized");
    refused.WithHeader("WWW-Authenticate", "Bearer realm=\"reglo-admin\"");
    return refused;
  }

 private:
  std::shared_ptr<ApiContext> api_;
};

Response Healthz(ApiContext&, const Request&) {
  return Json(200, {{"status", "ok"}});
}

Response Readyz(ApiContext& api, const Request& request) {
  const std::string store = api.stores.With(
      [](storage::Store& s) -> std::string {
        Result<int> version = s.SchemaVersion();
        return version.ok() ? "ok" : MaskPersonalData(version.status().message());
      },
      [](const Status& status) { return MaskPersonalData(status.message()); });
  std::map<std::string, bool> usable;  // connector -> loaded and not quarantined
  for (const engine::PluginSnapshot& plugin : api.deps.engine.Plugins()) {
    if (!plugin.name.empty()) usable[plugin.name] = plugin.loaded && !plugin.quarantined;
  }
  std::vector<std::string> missing;
  for (const engine::SourceSnapshot& source : api.deps.engine.Sources()) {
    // Held on purpose (paused by an operator, or disabled): not a reason to be unready.
    if (source.state == engine::SourceState::kPaused &&
        source.cause == engine::HoldCause::kManual) {
      continue;
    }
    auto it = usable.find(source.connector);
    if ((it == usable.end() || !it->second) &&
        std::find(missing.begin(), missing.end(), source.connector) == missing.end()) {
      missing.push_back(source.connector);
    }
  }
  const std::string plugins =
      missing.empty()
          ? "ok"
          : fmt::format("connector(s) not loaded or quarantined: {}", fmt::join(missing, ", "));
  const bool ready = store == "ok" && plugins == "ok";
  // A load balancer's probe has no token: it gets the verdict only, since the detail names
  // connectors, paths and store errors.
  if (!api.Authenticate(request)) {
    return Json(ready ? 200 : 503, {{"status", ready ? "ready" : "not ready"}});
  }
  return Json(ready ? 200 : 503,
              {{"status", ready ? "ready" : "not ready"}, {"store", store}, {"plugins", plugins}});
}

Response Metrics(ApiContext& api, const Request&) {
  return Response::Text(200, "text/plain; version=0.0.4; charset=utf-8", api.deps.metrics.Render());
}

Response ServeAsset(ApiContext& api, const std::string& path) {
  if (path.empty() || path.find("..") != std::string::npos || path.front() == '/' ||
      path.find('\\') != std::string::npos) {
    return NotFound("no such console file");
  }
  if (!api.options.console_dir.empty()) {
    std::ifstream in(api.options.console_dir / path, std::ios::binary);
    if (!in) return NotFound("no such console file");
    std::ostringstream content;
    content << in.rdbuf();
    return Response::Text(200, ContentType(path), content.str());
  }
  for (const ConsoleAsset& asset : EmbeddedConsoleAssets()) {
    if (asset.path == path) {
      return Response::Text(200, ContentType(path), std::string(asset.content));
    }
  }
  return NotFound(path == "index.html" ? "the console is not part of this build"
                                       : "no such console file");
}

Response ConsoleIndex(ApiContext& api, const Request&) {
  return ServeAsset(api, "index.html");
}

Response ConsoleFile(ApiContext& api, const Request& request) {
  return ServeAsset(api, request.Param("file").value_or(""));
}

}  // namespace

std::optional<Caller> ApiContext::Authenticate(const Request& request) {
  const std::optional<std::string> header = request.Header("authorization");
  std::string_view presented;
  if (header && header->size() > 7 && header->compare(0, 7, "Bearer ") == 0) {
    presented = std::string_view(*header).substr(7);
  }
  if (presented.empty()) return std::nullopt;
  if (TokenMatches(presented, CurrentTokenHash())) {
    return Caller{std::string(kSharedTokenName), Role::kAdmin};
  }
  // A named token is looked up by its hash (the index finds it; the hash of a 256-bit random
  // token leaks nothing through timing).
  const std::string hash = TokenHash(presented);
  return stores.With(
      [&](storage::Store& store) -> std::optional<Caller> {
        Result<std::optional<storage::AdminTokenRow>> found = store.FindAdminToken(hash);
        if (!found.ok() || !found->has_value()) return std::nullopt;
        std::optional<Role> role = ParseRole((*found)->role);
        if (!role) return std::nullopt;
        return Caller{(*found)->name, *role};
      },
      [](const Status&) -> std::optional<Caller> { return std::nullopt; });
}

std::string ApiContext::CurrentTokenHash() {
  if (!options.token_in_store) return options.token_hash;
  // Read at each request, so a reset takes effect at once; the last known hash when the store
  // cannot be read.
  std::optional<std::string> stored = stores.With(
      [](storage::Store& store) -> std::optional<std::string> {
        Result<std::optional<std::string>> hash = store.GetSetting(std::string(kTokenSetting));
        return hash.ok() ? *hash : std::nullopt;
      },
      [](const Status&) -> std::optional<std::string> { return std::nullopt; });
  std::lock_guard<std::mutex> lock(token_mutex_);
  if (stored) last_token_hash_ = *stored;
  return last_token_hash_.empty() ? options.token_hash : last_token_hash_;
}

}  // namespace api

std::shared_ptr<http::Router> BuildAdminRouter(AdminOptions options, AdminDeps deps,
                                               std::vector<RouteInfo>* routes) {
  auto router = std::make_shared<http::Router>();
  api::ApiRoutes table{*router, routes,
                       std::make_shared<api::ApiContext>(std::move(options), deps)};
  using api::Access;
  // Reads need a viewer, unless marked; a state-changing route names the least role and its
  // audit action (the route table test refuses one without them).
  const Role kOperator = Role::kOperator;
  const Role kAdmin = Role::kAdmin;
  table.Add("GET", "/healthz", api::Healthz, Access::Public());
  table.Add("GET", "/readyz", api::Readyz, Access::Public());
  table.Add("GET", "/metrics", api::Metrics);
  table.Add("GET", "/", api::ConsoleIndex, Access::Public());
  table.Add("GET", "/console/{*file}", api::ConsoleFile, Access::Public());
  table.Add("GET", "/api/admin/whoami", api::WhoAmI);
  table.Add("GET", "/api/admin/sources", api::ListSources);
  table.Add("POST", "/api/admin/sources", api::CreateSource, Access(kOperator, "source.create"));
  table.Add("GET", "/api/admin/sources/{id}", api::GetSource);
  table.Add("PUT", "/api/admin/sources/{id}", api::UpdateSource,
            Access(kOperator, "source.update"));
  table.Add("DELETE", "/api/admin/sources/{id}", api::DeleteSource,
            Access(kOperator, "source.delete"));
  table.Add("POST", "/api/admin/sources/{id}/run", api::RunSource, Access(kOperator, "source.run"));
  table.Add("POST", "/api/admin/sources/{id}/retry", api::RetrySource,
            Access(kOperator, "source.retry"));
  table.Add("POST", "/api/admin/sources/{id}/pause", api::PauseSource,
            Access(kOperator, "source.pause"));
  table.Add("POST", "/api/admin/sources/{id}/resume", api::ResumeSource,
            Access(kOperator, "source.resume"));
  table.Add("POST", "/api/admin/sources/{id}/acknowledge", api::AcknowledgeWarnings,
            Access(kOperator, "source.acknowledge"));
  table.Add("GET", "/api/admin/sources/{id}/cursor", api::GetCursor);
  table.Add("DELETE", "/api/admin/sources/{id}/cursor", api::ResetCursor,
            Access(kOperator, "source.cursor-reset"));
  table.Add("GET", "/api/admin/sources/{id}/runs", api::ListRuns);
  table.Add("GET", "/api/admin/runs/{runId}", api::GetRun);
  table.Add("GET", "/api/admin/plugins", api::ListPlugins);
  table.Add("GET", "/api/admin/events", api::ListEvents);
  table.Add("GET", "/api/admin/dead-letters", api::ListDeadLetters);
  table.Add("GET", "/api/admin/entities", api::ListEntities);
  table.Add("GET", "/api/admin/entities/{entity}", api::BrowseEntity);
  table.Add("GET", "/api/admin/subscriptions", api::ListSubscriptions);
  table.Add("POST", "/api/admin/subscriptions", api::CreateSubscription,
            Access(kAdmin, "subscription.create"));
  table.Add("GET", "/api/admin/subscriptions/{id}", api::GetSubscription);
  table.Add("DELETE", "/api/admin/subscriptions/{id}", api::DeleteSubscription,
            Access(kAdmin, "subscription.delete"));
  table.Add("POST", "/api/admin/subscriptions/{id}/enable", api::EnableSubscription,
            Access(kAdmin, "subscription.enable"));
  table.Add("POST", "/api/admin/subscriptions/{id}/disable", api::DisableSubscription,
            Access(kAdmin, "subscription.disable"));
  table.Add("GET", "/api/admin/subscriptions/{id}/deliveries", api::ListDeliveries);
  table.Add("POST", "/api/admin/subscriptions/{id}/deliveries/{sequence}/redeliver", api::Redeliver,
            Access(kOperator, "delivery.redeliver"));
  table.Add("POST", "/api/admin/subscriptions/{id}/redeliver-dead", api::RedeliverDead,
            Access(kOperator, "delivery.redeliver-dead"));
  table.Add("GET", "/api/admin/agents", api::ListAgents);
  table.Add("GET", "/api/admin/schema", api::ListSchemas);
  table.Add("GET", "/api/admin/schema/{entity}", api::GetSchema);
  table.Add("GET", "/api/admin/audit", api::ListAudit, Access(kAdmin));
  table.Add("GET", "/api/admin/tokens", api::ListTokens, Access(kAdmin));
  table.Add("POST", "/api/admin/tokens", api::CreateToken, Access(kAdmin, "token.create"));
  table.Add("DELETE", "/api/admin/tokens/{name}", api::RevokeToken, Access(kAdmin, "token.revoke"));
  table.Add("GET", "/api/admin/subjects/inactive", api::ListInactiveStudents, Access(kAdmin));
  table.Add("GET", "/api/admin/subjects/{entity}/{externalId}", api::GetSubject, Access(kAdmin));
  // A POST so the codice fiscale travels in the body, not the URL; audited as an access.
  table.Add("POST", "/api/admin/subjects/export", api::ExportSubject,
            Access(kAdmin, "subject.export"));
  table.Add("POST", "/api/admin/subjects/erase", api::EraseSubject,
            Access(kAdmin, "subject.erase"));
  table.Add("POST", "/api/admin/subjects/{entity}/{externalId}/erase", api::EraseSubjectById,
            Access(kAdmin, "subject.erase"));
  auto guard = std::make_shared<api::TokenGuard>(table.api);
  router->SetGuard([guard](http::Request& request) { return (*guard)(request); });
  return router;
}

}  // namespace reglo::admin
