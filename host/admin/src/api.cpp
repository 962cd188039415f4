// The admin router: auth guard, JSON admin API (docs/admin-api.md), /healthz, /readyz, /metrics
// and the console's static files.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "reglo/admin/admin.h"
#include "reglo/admin/token.h"
#include "reglo/core/masking.h"
#include "reglo/ingest/agent_keys.h"
#include "reglo/ingest/ingest_stats.h"
#include "reglo/model/events.h"
#include "reglo/model/schema.h"
#include "reglo/relay/relay.h"
#include "reglo/relay/subscriptions.h"
#include "relay_state.h"
#include "store_pool.h"

namespace reglo::admin {
namespace {

using http::Problem;
using http::Request;
using http::Response;
using nlohmann::json;

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 500;
constexpr std::string_view kSecretMask = "********";

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Response Json(int status, const json& value) {
  return Response::Json(status, Dump(value));
}

Response BadRequest(const std::string& detail) {
  return Problem(400, "Bad Request", detail, "bad-request");
}

Response NotFound(const std::string& detail) {
  return Problem(404, "Not Found", detail, "not-found");
}

Response Conflict(const std::string& detail) {
  return Problem(409, "Conflict", detail, "conflict");
}

// A store or engine failure: the message is masked, and says what failed.
Response ServerError(const Status& status) {
  spdlog::error("admin: {}", MaskPersonalData(status.ToString()));
  return Problem(500, "Internal Server Error", MaskPersonalData(status.message()), "internal");
}

// Maps an engine or store refusal to its problem.
Response FromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound: return NotFound(MaskPersonalData(status.message()));
    case StatusCode::kAlreadyExists: return Conflict(MaskPersonalData(status.message()));
    case StatusCode::kInvalidArgument: return Conflict(MaskPersonalData(status.message()));
    default: return ServerError(status);
  }
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

// `limit` (default 50, 1..500); a bad value is a 400 naming it.
std::variant<int, Response> Limit(const Request& request) {
  std::optional<std::string> text = request.Query("limit");
  if (!text) return kDefaultLimit;
  std::optional<int64_t> value = ParseInteger(*text);
  if (!value || *value < 1 || *value > kMaxLimit) {
    return BadRequest(fmt::format("limit: must be a whole number from 1 to {}", kMaxLimit));
  }
  return static_cast<int>(*value);
}

// A non-negative integer query parameter (default 0).
std::variant<int64_t, Response> Position(const Request& request, const char* name) {
  std::optional<std::string> text = request.Query(name);
  if (!text || text->empty()) return int64_t{0};
  std::optional<int64_t> value = ParseInteger(*text);
  if (!value || *value < 0) {
    return BadRequest(fmt::format("{}: must be a whole number of at least 0", name));
  }
  return *value;
}

// How a request body member is expected.
enum class Need {
  kRequired,        // absent: "NAME: missing"
  kOptional,        // absent: left as it is; null is refused like any other wrong type
  kOptionalOrNull,  // absent or null: left as it is
};

// Reads a JSON object request body member by member, so a handler states only what it expects.
// Each read checks one member; the first refusal (a 400 problem naming the member) is kept and
// later reads and Refuse() calls do nothing: the handler asks Refusal() once, before it acts.
// Not thread-safe (one per request).
class BodyReader {
 public:
  // `fields`: the members the handler reads; `ignored`: members accepted and not read (what a GET
  // answers, so a client may send it back); any other member is refused. `empty_ok`: an empty
  // body reads as {}.
  BodyReader(const std::string& text, const std::set<std::string>& fields,
             const std::set<std::string>& ignored = {}, bool empty_ok = false) {
    if (empty_ok && text.empty()) return;
    body_ = json::parse(text, nullptr, false);
    if (body_.is_discarded() || !body_.is_object()) {
      body_ = json::object();
      Refuse(empty_ok ? "the body must be a JSON object (or empty)"
                      : "the body must be a JSON object");
      return;
    }
    for (const auto& [key, value] : body_.items()) {
      if (!fields.count(key) && !ignored.count(key)) {
        Refuse(fmt::format("{}: unknown field", key));
        return;
      }
    }
  }

  // The first refusal, if any.
  const std::optional<Response>& Refusal() const { return refusal_; }

  // Refuses the body with `detail` (which names the member), unless it is refused already.
  void Refuse(const std::string& detail) {
    if (!refusal_) refusal_ = BadRequest(detail);
  }

  // The member `name`, or nullptr when absent.
  const json* Find(const char* name) const {
    auto it = body_.find(name);
    return it == body_.end() ? nullptr : &*it;
  }

  // A string: non-empty unless `empty_ok`, and at most `max_size` bytes when `max_size` is not 0.
  void Text(const char* name, std::string& out, Need need = Need::kRequired, size_t max_size = 0,
            bool empty_ok = false) {
    const json* member = Member(name, need);
    if (member == nullptr) return;
    const std::string* text = member->get_ptr<const std::string*>();
    if (text == nullptr || (text->empty() && !empty_ok) ||
        (max_size != 0 && text->size() > max_size)) {
      std::string expected = empty_ok ? "a string" : "a non-empty string";
      if (max_size != 0) expected += fmt::format(" of at most {} characters", max_size);
      return Refuse(fmt::format("{}: must be {}", name, expected));
    }
    out = *text;
  }

  void Bool(const char* name, bool& out, Need need) {
    const json* member = Member(name, need);
    if (member == nullptr) return;
    if (!member->is_boolean()) return Refuse(fmt::format("{}: must be true or false", name));
    out = member->get<bool>();
  }

  void Object(const char* name, json& out, Need need) {
    const json* member = Member(name, need);
    if (member == nullptr) return;
    if (!member->is_object()) return Refuse(fmt::format("{}: must be an object", name));
    out = *member;
  }

  // An array of non-empty strings, appended to `out`.
  void Strings(const char* name, std::vector<std::string>& out, Need need) {
    const json* member = Member(name, need);
    if (member == nullptr) return;
    const auto text = [](const json& item) {
      return item.is_string() && !item.get_ref<const std::string&>().empty();
    };
    if (!member->is_array() || !std::all_of(member->begin(), member->end(), text)) {
      return Refuse(fmt::format("{}: must be an array of non-empty strings", name));
    }
    for (const json& item : *member) out.push_back(item.get<std::string>());
  }

  // A number of seconds (fractions allowed) from `minimum` to 1e9, as milliseconds.
  void Seconds(const char* name, double minimum, std::chrono::milliseconds& out, Need need) {
    const json* member = Member(name, need);
    if (member == nullptr) return;
    if (!member->is_number() || !(member->get<double>() >= minimum) ||
        member->get<double>() > 1e9) {
      return Refuse(fmt::format("{}: must be a number of seconds, at least {}", name, minimum));
    }
    out = std::chrono::milliseconds(static_cast<int64_t>(member->get<double>() * 1000.0 + 0.5));
  }

 private:
  // The member to check, or nullptr when there is nothing to read (refused already, absent, or
  // null where `need` allows it); a required member that is absent refuses the body.
  const json* Member(const char* name, Need need) {
    if (refusal_) return nullptr;
    const json* member = Find(name);
    if (member == nullptr) {
      if (need == Need::kRequired) Refuse(fmt::format("{}: missing", name));
      return nullptr;
    }
    if (member->is_null() && need == Need::kOptionalOrNull) return nullptr;
    return member;
  }

  json body_ = json::object();
  std::optional<Response> refusal_;
};

json OptionalText(const std::optional<std::string>& text) {
  return text ? json(*text) : json(nullptr);
}

// RFC 3339 from the store's FormatUtc text (already RFC 3339 UTC); empty -> null.
json Time(const std::string& text) {
  return text.empty() ? json(nullptr) : json(text);
}

bool LooksSecret(std::string_view key) {
  std::string lower;
  for (char c : key) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view word :
       {"password", "secret", "token", "apikey", "api_key", "credential", "private_key"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

// Replaces secret option values by kSecretMask: properties marked "x-reglo-secret" in the
// connector's config schema, and keys that look like secrets whatever the schema says.
void MaskSecrets(json& options, const json* schema) {
  if (!options.is_object()) return;
  const json* properties = nullptr;
  if (schema && schema->is_object()) {
    auto it = schema->find("properties");
    if (it != schema->end() && it->is_object()) properties = &*it;
  }
  for (auto& [key, value] : options.items()) {
    const json* property = nullptr;
    if (properties) {
      auto it = properties->find(key);
      if (it != properties->end()) property = &*it;
    }
    const bool marked =
        property && property->is_object() && property->value("x-reglo-secret", false) == true;
    if ((marked || LooksSecret(key)) && !value.is_null() && !value.is_object()) {
      value = kSecretMask;
    } else if (value.is_object()) {
      MaskSecrets(value, property);
    }
  }
}

// A PUT may send the masked value back for a secret it did not change: keep the stored one.
void RestoreSecrets(json& incoming, const json& stored) {
  if (!incoming.is_object() || !stored.is_object()) return;
  for (auto& [key, value] : incoming.items()) {
    auto old = stored.find(key);
    if (old == stored.end()) continue;
    if (value.is_string() && value.get<std::string>() == kSecretMask) {
      value = *old;
    } else if (value.is_object()) {
      RestoreSecrets(value, *old);
    }
  }
}

std::string_view RunStatusText(const storage::RunInfo& run) {
  switch (run.status) {
    case storage::RunStatus::kRunning: return "running";
    case storage::RunStatus::kSucceeded: return "ok";
    case storage::RunStatus::kSucceededWithWarnings: return "warning";
    case storage::RunStatus::kFailed:
      return run.error_category == StatusCodeName(StatusCode::kCancelled) ? "cancelled" : "failed";
  }
  return "failed";
}

json RunJson(const storage::RunInfo& run) {
  const storage::RunCounters& c = run.counters;
  return json{
      {"id", run.id},
      {"sourceId", run.source_id},
      {"status", RunStatusText(run)},
      {"startedAt", Time(run.started_at)},
      {"finishedAt", OptionalText(run.finished_at)},
      {"pluginVersion", run.plugin_version.empty() ? json(nullptr) : json(run.plugin_version)},
      {"counts",
       {{"pulled", c.seen},
        {"created", c.created},
        {"updated", c.updated},
        {"unchanged", c.unchanged},
        {"stale", c.stale},
        {"rejected", c.rejected},
        {"warnings", c.warnings},
        // Not recorded per run (the outbox is per record); null rather than a guess.
        {"events", nullptr}}},
      {"error",
       run.error_message.empty() ? json(nullptr) : json(MaskPersonalData(run.error_message))},
      {"errorCategory", run.error_category.empty() ? json(nullptr) : json(run.error_category)},
  };
}

// The masked display value of a canonical field: codici fiscali, e-mails and phones never leave
// the hub in clear through the admin API; names do (they are what support looks people up by).
json FieldValue(const model::FieldSpec& field, const std::string& value) {
  switch (field.personal) {
    case model::PersonalData::kFiscalCode: return HashFiscalCode(value);
    case model::PersonalData::kEmail: return MaskEmail(value);
    case model::PersonalData::kPhone: return MaskPhone(value);
    default: return value;
  }
}

void MaskRecordObject(const model::EntitySpec& entity, json& record) {
  if (!record.is_object()) return;
  for (const model::FieldSpec& field : entity.fields) {
    if (field.personal == model::PersonalData::kNone ||
        field.personal == model::PersonalData::kName) {
      continue;
    }
    auto it = record.find(std::string(field.name));
    if (it != record.end() && it->is_string()) *it = FieldValue(field, it->get<std::string>());
  }
}

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

// A subscription's target as shown: a webhook URL without user info, query string or fragment
// (they may carry tokens); "nats" for the JetStream sink.
std::string SubscriptionTarget(const storage::SubscriptionRow& row) {
  if (row.kind != "webhook") return row.kind;
  std::string url = row.url.substr(0, row.url.find_first_of("?#"));
  const size_t scheme = url.find("://");
  if (scheme != std::string::npos) {
    const size_t host = scheme + 3;
    const size_t at = url.find('@', host);
    const size_t slash = url.find('/', host);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      url.erase(host, at + 1 - host);
    }
  }
  return url;
}

json JsonArrayText(const std::string& text) {
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_array() ? parsed : json::array();
}

// "["c","s","student","42"]" (relay::EntityKey) -> "c/s/student/42"
std::string EntityKeyText(const std::string& key) {
  const json parsed = json::parse(key, nullptr, false);
  if (!parsed.is_array()) return key;
  std::string out;
  for (const json& part : parsed) {
    if (!out.empty()) out += '/';
    if (part.is_string()) out += part.get<std::string>();
  }
  return out;
}

json DeliveryJson(const storage::DeliveryRow& row) {
  return json{
      {"sequence", row.sequence},
      {"eventId", row.event_id},
      {"eventType", row.event_type},
      {"entity", MaskPersonalData(EntityKeyText(row.entity_key))},
      {"status", row.status},
      {"attempts", row.attempts},
      {"lastError",
       row.last_error.empty() ? json(nullptr) : json(MaskPersonalData(row.last_error))},
      {"lastStatusCode", row.last_status_code == 0 ? json(nullptr) : json(row.last_status_code)},
      {"nextAttemptAt", row.status == "pending" ? Time(row.next_attempt_at) : json(nullptr)},
      {"createdAt", Time(row.created_at)},
      {"updatedAt", Time(row.updated_at)},
  };
}

json KeyCountersJson(const ingest::KeyStats* stats) {
  json by_status = json::object();
  json by_reason = json::object();
  if (stats) {
    for (const auto& [status, count] : stats->requests_by_status) {
      by_status[std::to_string(status)] = count;
    }
    for (const auto& [reason, count] : stats->refused_by_reason) by_reason[reason] = count;
  }
  return json{{"requestsByStatus", by_status},
              {"refusalsByReason", by_reason},
              {"recordsAccepted", stats ? stats->records_accepted : 0},
              {"recordsRejected", stats ? stats->records_rejected : 0},
              {"lastPushAt",
               stats && !stats->last_push_at.empty() ? json(stats->last_push_at) : json(nullptr)}};
}

class AdminApi {
 public:
  AdminApi(const AdminOptions& options, AdminDeps deps)
      : options_(options), deps_(deps), stores_(deps.open_store) {}

  void Register(http::Router& router, std::vector<RouteInfo>* routes,
                const std::shared_ptr<AdminApi>& self) {
    const auto add = [&](const char* method, const char* pattern, bool needs_token,
                         Response (AdminApi::*handler)(const Request&)) {
      router.Add(method, pattern,
                 [self, handler](const Request& request) { return ((*self).*handler)(request); });
      if (routes) routes->push_back({method, pattern, needs_token});
    };
    add("GET", "/healthz", false, &AdminApi::Healthz);
    add("GET", "/readyz", true, &AdminApi::Readyz);
    add("GET", "/metrics", true, &AdminApi::Metrics);
    add("GET", "/", false, &AdminApi::ConsoleIndex);
    add("GET", "/console/{*file}", false, &AdminApi::ConsoleFile);
    add("GET", "/api/admin/sources", true, &AdminApi::ListSources);
    add("POST", "/api/admin/sources", true, &AdminApi::CreateSource);
    add("GET", "/api/admin/sources/{id}", true, &AdminApi::GetSource);
    add("PUT", "/api/admin/sources/{id}", true, &AdminApi::UpdateSource);
    add("DELETE", "/api/admin/sources/{id}", true, &AdminApi::DeleteSource);
    add("POST", "/api/admin/sources/{id}/run", true, &AdminApi::RunSource);
    add("POST", "/api/admin/sources/{id}/retry", true, &AdminApi::RetrySource);
    add("POST", "/api/admin/sources/{id}/pause", true, &AdminApi::PauseSource);
    add("POST", "/api/admin/sources/{id}/resume", true, &AdminApi::ResumeSource);
    add("GET", "/api/admin/sources/{id}/cursor", true, &AdminApi::GetCursor);
    add("DELETE", "/api/admin/sources/{id}/cursor", true, &AdminApi::ResetCursor);
    add("GET", "/api/admin/sources/{id}/runs", true, &AdminApi::ListRuns);
    add("GET", "/api/admin/runs/{runId}", true, &AdminApi::GetRun);
    add("GET", "/api/admin/plugins", true, &AdminApi::ListPlugins);
    add("GET", "/api/admin/events", true, &AdminApi::ListEvents);
    add("GET", "/api/admin/dead-letters", true, &AdminApi::ListDeadLetters);
    add("GET", "/api/admin/entities", true, &AdminApi::ListEntities);
    add("GET", "/api/admin/entities/{entity}", true, &AdminApi::BrowseEntity);
    add("GET", "/api/admin/subscriptions", true, &AdminApi::ListSubscriptions);
    add("POST", "/api/admin/subscriptions", true, &AdminApi::CreateSubscription);
    add("GET", "/api/admin/subscriptions/{id}", true, &AdminApi::GetSubscription);
    add("DELETE", "/api/admin/subscriptions/{id}", true, &AdminApi::DeleteSubscription);
    add("POST", "/api/admin/subscriptions/{id}/enable", true, &AdminApi::EnableSubscription);
    add("POST", "/api/admin/subscriptions/{id}/disable", true, &AdminApi::DisableSubscription);
    add("GET", "/api/admin/subscriptions/{id}/deliveries", true, &AdminApi::ListDeliveries);
    add("POST", "/api/admin/subscriptions/{id}/deliveries/{sequence}/redeliver", true,
        &AdminApi::Redeliver);
    add("POST", "/api/admin/subscriptions/{id}/redeliver-dead", true, &AdminApi::RedeliverDead);
    add("GET", "/api/admin/agents", true, &AdminApi::ListAgents);
    router.SetGuard([self](const Request& request) { return self->Guard(request); });
  }

 private:
  // ---- auth ----------------------------------------------------------------------------------

  std::optional<Response> Guard(const Request& request) {
    if (request.path == "/healthz" || request.path == "/" ||
        request.path.rfind("/console/", 0) == 0) {
      return std::nullopt;
    }
    const std::optional<std::string> header = request.Header("authorization");
    std::string_view presented;
    if (header && header->size() > 7 && header->compare(0, 7, "Bearer ") == 0) {
      presented = std::string_view(*header).substr(7);
    }
    if (!presented.empty() && TokenMatches(presented, CurrentTokenHash())) return std::nullopt;
    Response refused =
        Problem(401, "Unauthorized",
                "a valid admin token is required: Authorization: Bearer <token>", "unauthorized");
    refused.WithHeader("WWW-Authenticate", "Bearer realm=\"reglo-admin\"");
    return refused;
  }

  std::string CurrentTokenHash() {
    if (!options_.token_in_store) return options_.token_hash;
    // Read at each request, so a reset takes effect at once; the last known hash when the store
    // cannot be read.
    std::optional<std::string> stored = stores_.With(
        [](storage::Store& store) -> std::optional<std::string> {
          Result<std::optional<std::string>> hash = store.GetSetting(std::string(kTokenSetting));
          return hash.ok() ? *hash : std::nullopt;
        },
        [](const Status&) -> std::optional<std::string> { return std::nullopt; });
    std::lock_guard<std::mutex> lock(token_mutex_);
    if (stored) last_token_hash_ = *stored;
    return last_token_hash_.empty() ? options_.token_hash : last_token_hash_;
  }

  // ---- health, metrics, console ----------------------------------------------------------------

  Response Healthz(const Request&) { return Json(200, {{"status", "ok"}}); }

  Response Readyz(const Request&) {
    const std::string store = stores_.With(
        [](storage::Store& s) -> std::string {
          Result<int> version = s.SchemaVersion();
          return version.ok() ? "ok" : MaskPersonalData(version.status().message());
        },
        [](const Status& status) { return MaskPersonalData(status.message()); });
    std::map<std::string, bool> usable;  // connector -> loaded and not quarantined
    for (const engine::PluginSnapshot& plugin : deps_.engine.Plugins()) {
      if (!plugin.name.empty()) usable[plugin.name] = plugin.loaded && !plugin.quarantined;
    }
    std::vector<std::string> missing;
    for (const engine::SourceSnapshot& source : deps_.engine.Sources()) {
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
    return Json(store == "ok" && plugins == "ok" ? 200 : 503,
                {{"store", store}, {"plugins", plugins}});
  }

  Response Metrics(const Request&) {
    return Response::Text(200, "text/plain; version=0.0.4; charset=utf-8", deps_.metrics.Render());
  }

  Response ServeAsset(const std::string& path) {
    if (path.empty() || path.find("..") != std::string::npos || path.front() == '/' ||
        path.find('\\') != std::string::npos) {
      return NotFound("no such console file");
    }
    if (!options_.console_dir.empty()) {
      std::ifstream in(options_.console_dir / path, std::ios::binary);
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

  Response ConsoleIndex(const Request&) { return ServeAsset("index.html"); }
  Response ConsoleFile(const Request& request) {
    return ServeAsset(request.Param("file").value_or(""));
  }

  // ---- sources ---------------------------------------------------------------------------------

  // Last successful sync per source, from the run totals.
  std::map<std::string, std::string> LastSyncs(storage::Store& store) {
    std::map<std::string, std::string> last;
    Result<std::vector<storage::RunTotals>> totals = store.ListRunTotals();
    if (!totals.ok()) return last;
    for (const storage::RunTotals& total : *totals) {
      if (total.status != storage::RunStatus::kSucceeded &&
          total.status != storage::RunStatus::kSucceededWithWarnings) {
        continue;
      }
      if (!total.last_finished_at) continue;
      std::string& at = last[total.source_id];
      at = std::max(at, *total.last_finished_at);
    }
    return last;
  }

  std::map<std::string, json> PluginSchemas() {
    std::map<std::string, json> schemas;
    for (const engine::PluginSnapshot& plugin : deps_.engine.Plugins()) {
      if (plugin.name.empty() || plugin.config_schema_json.empty()) continue;
      schemas[plugin.name] = json::parse(plugin.config_schema_json, nullptr, false);
    }
    return schemas;
  }

  json SourceJson(storage::Store& store, const engine::SourceSnapshot& snapshot,
                  const engine::SourceConfig& definition,
                  const std::map<std::string, std::string>& last_syncs,
                  const std::map<std::string, json>& schemas) {
    json options = json::parse(definition.row.config_json, nullptr, false);
    if (!options.is_object()) options = json::object();
    auto schema = schemas.find(definition.row.connector);
    MaskSecrets(options, schema == schemas.end() ? nullptr : &schema->second);
    json last_run = nullptr;
    Result<std::vector<storage::RunInfo>> runs = store.ListRunsBefore(snapshot.id, 0, 1);
    if (runs.ok() && !runs->empty()) last_run = RunJson(runs->front());
    const bool scheduled = snapshot.state == engine::SourceState::kIdle ||
                           snapshot.state == engine::SourceState::kBackoff;
    auto last_sync = last_syncs.find(snapshot.id);
    return json{
        {"id", snapshot.id},
        {"connector", definition.row.connector},
        {"companyId", definition.row.company_id},
        {"sourceSystem", definition.row.source_system},
        {"status", snapshot.status.empty() ? "new" : snapshot.status},
        {"state", engine::SourceStateName(snapshot.state)},
        {"reason", MaskPersonalData(snapshot.reason)},
        {"consecutiveFailures", snapshot.consecutive_failures},
        {"lastSyncAt", last_sync == last_syncs.end() ? json(nullptr) : json(last_sync->second)},
        {"nextRunInSeconds", scheduled
                                 ? json(std::max<int64_t>(0, snapshot.next_run_in.count()) / 1000.0)
                                 : json(nullptr)},
        {"intervalSeconds", definition.interval.count() / 1000.0},
        {"enabled", definition.row.enabled},
        {"origin", options_.config_source_ids.count(snapshot.id) ? "config" : "api"},
        {"lastRun", last_run},
        {"options", options},
    };
  }

  Response OneSource(const std::string& id, int status = 200) {
    std::optional<engine::SourceSnapshot> snapshot = deps_.engine.Source(id);
    std::optional<engine::SourceConfig> definition = deps_.engine.SourceDefinition(id);
    if (!snapshot || !definition) return NotFound(fmt::format("no source '{}'", id));
    const auto schemas = PluginSchemas();
    return stores_.With(
        [&](storage::Store& store) {
          return Json(status, SourceJson(store, *snapshot, *definition, LastSyncs(store), schemas));
        },
        ServerError);
  }

  Response ListSources(const Request&) {
    const auto schemas = PluginSchemas();
    return stores_.With(
        [&](storage::Store& store) {
          const auto last_syncs = LastSyncs(store);
          json items = json::array();
          for (const engine::SourceSnapshot& snapshot : deps_.engine.Sources()) {
            std::optional<engine::SourceConfig> definition =
                deps_.engine.SourceDefinition(snapshot.id);
            if (!definition) continue;  // removed meanwhile
            items.push_back(SourceJson(store, snapshot, *definition, last_syncs, schemas));
          }
          return Json(200, {{"items", items}});
        },
        ServerError);
  }

  Response GetSource(const Request& request) { return OneSource(*request.Param("id")); }

  // Reads a source definition from a POST/PUT body; `path_id` is set for PUT.
  std::variant<engine::SourceConfig, Response> ParseSourceBody(
      const Request& request, const std::optional<std::string>& path_id) {
    static const std::set<std::string> kFields = {
        "id", "connector", "companyId", "sourceSystem", "options", "intervalSeconds", "enabled"};
    // What GET returns, so a client may send a Source back; ignored.
    static const std::set<std::string> kReadOnly = {
        "status",           "state",   "reason", "consecutiveFailures", "lastSyncAt",
        "nextRunInSeconds", "lastRun", "origin"};
    BodyReader in(request.body, kFields, kReadOnly);
    engine::SourceConfig source;
    if (path_id) {
      source.row.id = *path_id;
      if (const json* id = in.Find("id"); id != nullptr && *id != json(*path_id)) {
        in.Refuse("id: must be the id in the URL (a source cannot be renamed)");
      }
    } else {
      in.Text("id", source.row.id);
    }
    if (!storage::IsValidId(source.row.id)) {
      in.Refuse("id: use letters, digits, '-', '_' or '.' (at most 100)");
    }
    in.Text("connector", source.row.connector);
    in.Text("companyId", source.row.company_id);
    in.Text("sourceSystem", source.row.source_system);
    json options = json::object();
    in.Object("options", options, Need::kOptionalOrNull);
    in.Seconds("intervalSeconds", 0.01, source.interval, Need::kOptionalOrNull);
    in.Bool("enabled", source.row.enabled, Need::kOptional);
    if (in.Refusal()) return *in.Refusal();
    if (path_id) {
      if (std::optional<engine::SourceConfig> old = deps_.engine.SourceDefinition(*path_id)) {
        RestoreSecrets(options, json::parse(old->row.config_json, nullptr, false));
      }
    }
    if (!options.contains("base_dir") && !options_.base_dir.empty()) {
      options["base_dir"] = options_.base_dir;
    }
    source.row.config_json = Dump(options);
    return source;
  }

  // The row of an API-created source as of now (a replace keeps the stored created_at).
  storage::ApiSourceRow ApiRow(const engine::SourceConfig& source) {
    storage::ApiSourceRow row;
    row.source = source.row;
    row.interval_ms = source.interval.count();
    row.updated_at = FormatUtc(deps_.clock.Now());
    row.created_at = row.updated_at;
    return row;
  }

  Response CreateSource(const Request& request) {
    auto parsed = ParseSourceBody(request, std::nullopt);
    if (auto* refused = std::get_if<Response>(&parsed)) return *refused;
    engine::SourceConfig source = std::get<engine::SourceConfig>(std::move(parsed));
    const std::string id = source.row.id;
    if (deps_.engine.Source(id)) return Conflict(fmt::format("source '{}' already exists", id));
    std::optional<Response> failed = stores_.With(
        [&](storage::Store& store) -> std::optional<Response> {
          Status saved = store.PutApiSource(ApiRow(source));
          if (!saved.ok()) return ServerError(saved);
          Status added = deps_.engine.AddSource(source);
          if (!added.ok()) {
            (void)store.DeleteApiSource(id);
            return FromStatus(added);
          }
          return std::nullopt;
        },
        [](const Status& status) -> std::optional<Response> { return ServerError(status); });
    if (failed) return *failed;
    return OneSource(id, 201);
  }

  Response UpdateSource(const Request& request) {
    const std::string id = *request.Param("id");
    if (!deps_.engine.Source(id)) return NotFound(fmt::format("no source '{}'", id));
    auto parsed = ParseSourceBody(request, id);
    if (auto* refused = std::get_if<Response>(&parsed)) return *refused;
    engine::SourceConfig source = std::get<engine::SourceConfig>(std::move(parsed));
    const bool from_config = options_.config_source_ids.count(id) > 0;
    std::optional<Response> failed = stores_.With(
        [&](storage::Store& store) -> std::optional<Response> {
          if (!from_config) {
            Status saved = store.PutApiSource(ApiRow(source));  // keeps its created_at
            if (!saved.ok()) return ServerError(saved);
          }
          Status updated = deps_.engine.UpdateSource(source);
          if (!updated.ok()) return FromStatus(updated);
          return std::nullopt;
        },
        [](const Status& status) -> std::optional<Response> { return ServerError(status); });
    if (failed) return *failed;
    return OneSource(id);
  }

  Response DeleteSource(const Request& request) {
    const std::string id = *request.Param("id");
    Status removed = deps_.engine.RemoveSource(id);
    if (!removed.ok()) return FromStatus(removed);
    return stores_.With(
        [&](storage::Store& store) {
          Result<bool> api = store.DeleteApiSource(id);
          if (!api.ok()) return ServerError(api.status());
          Result<bool> row = store.DeleteSource(id);
          if (!row.ok()) return ServerError(row.status());
          return Response::NoContent();
        },
        ServerError);
  }

  template <typename Command>
  Response SourceCommand(const Request& request, Command command, bool answer_source) {
    const std::string id = *request.Param("id");
    Status done = command(id);
    if (!done.ok()) return FromStatus(done);
    if (answer_source) return OneSource(id);
    return Json(202, {{"accepted", true}});
  }

  Response RunSource(const Request& request) {
    return SourceCommand(
        request, [this](const std::string& id) { return deps_.engine.RunNow(id); }, false);
  }
  Response RetrySource(const Request& request) {
    return SourceCommand(
        request, [this](const std::string& id) { return deps_.engine.Retry(id); }, false);
  }
  Response PauseSource(const Request& request) {
    return SourceCommand(
        request, [this](const std::string& id) { return deps_.engine.Pause(id); }, true);
  }
  Response ResumeSource(const Request& request) {
    return SourceCommand(
        request, [this](const std::string& id) { return deps_.engine.Resume(id); }, true);
  }

  Response GetCursor(const Request& request) {
    const std::string id = *request.Param("id");
    if (!deps_.engine.Source(id)) return NotFound(fmt::format("no source '{}'", id));
    return stores_.With(
        [&](storage::Store& store) {
          Result<std::vector<storage::CursorRow>> cursors = store.ListCursors(id);
          if (!cursors.ok()) return ServerError(cursors.status());
          json items = json::array();
          for (const storage::CursorRow& cursor : *cursors) {
            items.push_back({{"stream", cursor.stream},
                             {"cursor", OptionalText(cursor.cursor)},
                             {"updatedAt", Time(cursor.updated_at)}});
          }
          return Json(200, {{"cursors", items}});
        },
        ServerError);
  }

  Response ResetCursor(const Request& request) {
    const std::string id = *request.Param("id");
    std::optional<engine::SourceSnapshot> snapshot = deps_.engine.Source(id);
    if (!snapshot) return NotFound(fmt::format("no source '{}'", id));
    if (snapshot->state == engine::SourceState::kRunning) {
      return Conflict(fmt::format(
          "source '{}' is running: pause it (or wait for the run to end) before resetting its "
          "cursor",
          id));
    }
    return stores_.With(
        [&](storage::Store& store) {
          Result<int64_t> reset = store.ResetCursors(id);
          if (!reset.ok()) return ServerError(reset.status());
          spdlog::info(
              "source {}: cursors reset through the admin API; the next run is a full "
              "pull",
              id);
          return Response::NoContent();
        },
        ServerError);
  }

  // ---- runs
  // --------------------------------------------------------------------------------------

  Response ListRuns(const Request& request) {
    const std::string id = *request.Param("id");
    auto limit = Limit(request);
    if (auto* refused = std::get_if<Response>(&limit)) return *refused;
    auto before = Position(request, "before");
    if (auto* refused = std::get_if<Response>(&before)) return *refused;
    if (!deps_.engine.Source(id)) return NotFound(fmt::format("no source '{}'", id));
    const int n = std::get<int>(limit);
    return stores_.With(
        [&](storage::Store& store) {
          Result<std::vector<storage::RunInfo>> runs =
              store.ListRunsBefore(id, std::get<int64_t>(before), n + 1);
          if (!runs.ok()) return ServerError(runs.status());
          json items = json::array();
          for (int i = 0; i < std::min<int>(n, static_cast<int>(runs->size())); ++i) {
            items.push_back(RunJson((*runs)[static_cast<size_t>(i)]));
          }
          const bool more = static_cast<int>(runs->size()) > n;
          return Json(
              200, {{"items", items},
                    {"next", more ? json((*runs)[static_cast<size_t>(n - 1)].id) : json(nullptr)}});
        },
        ServerError);
  }

  Response GetRun(const Request& request) {
    std::optional<int64_t> run_id = ParseInteger(*request.Param("runId"));
    if (!run_id || *run_id <= 0) return BadRequest("runId: must be a positive whole number");
    return stores_.With(
        [&](storage::Store& store) {
          Result<storage::RunInfo> run = store.GetRun(*run_id);
          if (!run.ok()) {
            return run.status().code() == StatusCode::kNotFound
                       ? NotFound(fmt::format("no run {}", *run_id))
                       : ServerError(run.status());
          }
          Result<std::vector<storage::RunLogLine>> lines = store.GetRunLog(*run_id);
          if (!lines.ok()) return ServerError(lines.status());
          json body = RunJson(*run);
          json log = json::array();
          json warnings = json::array();
          for (const storage::RunLogLine& line : *lines) {
            // Masked when stored; masked again in case a line predates a masking rule.
            const std::string message = MaskPersonalData(line.message);
            log.push_back({{"at", Time(line.at)},
                           {"level", storage::LogLevelName(line.level)},
                           {"message", message}});
            if (line.level == storage::LogLevel::kWarn) warnings.push_back(message);
          }
          body["log"] = std::move(log);
          body["warnings"] = std::move(warnings);
          return Json(200, body);
        },
        ServerError);
  }

  // ---- plugins, events, dead letters, entities --------------------------------------------------

  Response ListPlugins(const Request&) {
    json items = json::array();
    for (const engine::PluginSnapshot& plugin : deps_.engine.Plugins()) {
      items.push_back({
          {"name", plugin.name.empty() ? plugin.file.stem().string() : plugin.name},
          {"version", plugin.version.empty() ? json(nullptr) : json(plugin.version)},
          {"abiVersion", plugin.abi_version.empty() ? json(nullptr) : json(plugin.abi_version)},
          {"file", plugin.file.string()},
          {"loaded", plugin.loaded},
          {"quarantined", plugin.quarantined},
          {"error", plugin.reason.empty() ? json(nullptr) : json(MaskPersonalData(plugin.reason))},
      });
    }
    return Json(200, {{"items", items}});
  }

  Response ListEvents(const Request& request) {
    auto limit = Limit(request);
    if (auto* refused = std::get_if<Response>(&limit)) return *refused;
    auto after = Position(request, "after");
    if (auto* refused = std::get_if<Response>(&after)) return *refused;
    storage::EventFilter filter;
    filter.type = request.Query("type").value_or("");
    filter.company_id = request.Query("company").value_or("");
    const int n = std::get<int>(limit);
    return stores_.With(
        [&](storage::Store& store) {
          Result<std::vector<storage::StoredEvent>> events =
              store.ReadEventsFiltered(std::get<int64_t>(after), n + 1, filter);
          if (!events.ok()) return ServerError(events.status());
          json items = json::array();
          for (int i = 0; i < std::min<int>(n, static_cast<int>(events->size())); ++i) {
            const storage::StoredEvent& stored = (*events)[static_cast<size_t>(i)];
            json envelope = json::parse(model::CloudEventJson(stored.event), nullptr, false);
            if (!envelope.is_object()) envelope = json::object();
            const model::EntitySpec* entity = model::FindEntity(stored.event.entity);
            if (entity && envelope.contains("data") && envelope["data"].is_object() &&
                envelope["data"].contains("record")) {
              MaskRecordObject(*entity, envelope["data"]["record"]);
            }
            envelope["sequence"] = stored.sequence;
            items.push_back(std::move(envelope));
          }
          const bool more = static_cast<int>(events->size()) > n;
          return Json(200, {{"items", items},
                            {"next", more ? json((*events)[static_cast<size_t>(n - 1)].sequence)
                                          : json(nullptr)}});
        },
        ServerError);
  }

  Response ListDeadLetters(const Request& request) {
    auto limit = Limit(request);
    if (auto* refused = std::get_if<Response>(&limit)) return *refused;
    auto after = Position(request, "after");
    if (auto* refused = std::get_if<Response>(&after)) return *refused;
    const int n = std::get<int>(limit);
    return stores_.With(
        [&](storage::Store& store) {
          Result<std::vector<storage::DeadLetter>> letters =
              store.ReadDeadLetters(std::get<int64_t>(after), n + 1);
          if (!letters.ok()) return ServerError(letters.status());
          json items = json::array();
          for (int i = 0; i < std::min<int>(n, static_cast<int>(letters->size())); ++i) {
            const storage::DeadLetter& letter = (*letters)[static_cast<size_t>(i)];
            items.push_back({{"id", letter.id},
                             {"sourceId", letter.source_id},
                             {"runId", letter.run_id},
                             {"entity", letter.entity},
                             {"externalId", letter.external_id},
                             {"stage", letter.stage},
                             {"origin", MaskPersonalData(letter.origin)},
                             {"reason", MaskPersonalData(letter.reason)},
                             {"at", Time(letter.created_at)}});
          }
          const bool more = static_cast<int>(letters->size()) > n;
          return Json(200, {{"items", items},
                            {"next", more ? json((*letters)[static_cast<size_t>(n - 1)].id)
                                          : json(nullptr)}});
        },
        ServerError);
  }

  Response ListEntities(const Request&) {
    return stores_.With(
        [&](storage::Store& store) {
          json items = json::array();
          for (const model::EntitySpec& entity : model::CanonicalEntities()) {
            Result<int64_t> count = store.CountRecords(entity);
            if (!count.ok()) return ServerError(count.status());
            json fields = json::array();
            for (const model::FieldSpec& field : entity.fields) fields.push_back(field.name);
            items.push_back({{"name", entity.name}, {"count", *count}, {"fields", fields}});
          }
          return Json(200, {{"items", items}});
        },
        ServerError);
  }

  Response BrowseEntity(const Request& request) {
    const std::string name = *request.Param("entity");
    const model::EntitySpec* entity = model::FindEntity(name);
    if (!entity) return NotFound(fmt::format("no entity '{}'", name));
    auto limit = Limit(request);
    if (auto* refused = std::get_if<Response>(&limit)) return *refused;
    auto offset = Position(request, "offset");
    if (auto* refused = std::get_if<Response>(&offset)) return *refused;
    storage::RecordQuery query;
    query.company_id = request.Query("company").value_or("");
    query.search = request.Query("q").value_or("");
    query.limit = std::get<int>(limit);
    query.offset = std::get<int64_t>(offset);
    return stores_.With(
        [&](storage::Store& store) {
          Result<storage::RecordPage> page = store.BrowseRecords(*entity, query);
          if (!page.ok()) return ServerError(page.status());
          json items = json::array();
          for (const storage::BrowsedRecord& record : page->items) {
            json data = json::object();
            for (size_t i = 0; i < entity->fields.size() && i < record.values.size(); ++i) {
              if (!record.values[i]) continue;
              data[std::string(entity->fields[i].name)] =
                  FieldValue(entity->fields[i], *record.values[i]);
            }
            items.push_back({{"externalId", record.key.external_id},
                             {"companyId", record.key.company_id},
                             {"sourceSystem", record.key.source_system},
                             {"version", record.version},
                             {"updatedAt", Time(record.updated_at)},
                             {"data", data}});
          }
          const int64_t end = query.offset + static_cast<int64_t>(page->items.size());
          return Json(200, {{"items", items},
                            {"total", page->total},
                            {"next", end < page->total ? json(end) : json(nullptr)}});
        },
        ServerError);
  }

  // ---- subscriptions and deliveries (issue #7) -----------------------------------------------

  json SubscriptionJson(const relay::SubscriptionStatus& status, const RelayStateMap& states) {
    const storage::SubscriptionRow& row = status.row;
    auto live = states.find(row.id);
    const std::string state = SubscriptionStateName(row, states, deps_.relay != nullptr);
    json counters = nullptr;
    json last_error = nullptr;
    if (live != states.end()) {
      const relay::DeliveryCounters& c = live->second.counters;
      counters = {{"delivered", c.delivered},
                  {"failed", c.failed},
                  {"deadLettered", c.dead_lettered},
                  {"gone", c.gone}};
      if (!live->second.last_error.empty()) {
        last_error = MaskPersonalData(live->second.last_error);
      }
    }
    return json{
        {"id", row.id},
        {"kind", row.kind},
        {"target", SubscriptionTarget(row)},
        {"eventTypes", JsonArrayText(row.event_types)},
        {"companyIds", JsonArrayText(row.company_ids)},
        {"enabled", row.enabled},
        {"state", state},
        {"disabledReason",
         row.disabled_reason.empty() ? json(nullptr) : json(MaskPersonalData(row.disabled_reason))},
        {"origin", row.origin},
        {"position", status.position},
        {"lag", status.lag},
        {"pending", status.pending},
        {"dead", status.dead},
        {"counters", counters},
        {"lastError", last_error},
        {"createdAt", Time(row.created_at)},
        {"updatedAt", Time(row.updated_at)},
    };
  }

  // One subscription as JSON (status 200 unless given), or 404.
  Response OneSubscription(const std::string& id, int code = 200,
                           const std::optional<std::string>& secret = std::nullopt) {
    const RelayStateMap states = RelayStates(deps_.relay);
    return stores_.With(
        [&](storage::Store& store) {
          Result<std::vector<relay::SubscriptionStatus>> list =
              relay::ListSubscriptionStatus(store);
          if (!list.ok()) return ServerError(list.status());
          for (const relay::SubscriptionStatus& status : *list) {
            if (status.row.id != id) continue;
            json body = SubscriptionJson(status, states);
            if (secret) body["secret"] = *secret;
            return Json(code, body);
          }
          return NotFound(fmt::format("no subscription '{}'", id));
        },
        ServerError);
  }

  Response ListSubscriptions(const Request&) {
    const RelayStateMap states = RelayStates(deps_.relay);
    return stores_.With(
        [&](storage::Store& store) {
          Result<std::vector<relay::SubscriptionStatus>> list =
              relay::ListSubscriptionStatus(store);
          if (!list.ok()) return ServerError(list.status());
          json items = json::array();
          for (const relay::SubscriptionStatus& status : *list) {
            items.push_back(SubscriptionJson(status, states));
          }
          return Json(200, {{"items", items}});
        },
        ServerError);
  }

  Response GetSubscription(const Request& request) { return OneSubscription(*request.Param("id")); }

  Response CreateSubscription(const Request& request) {
    BodyReader in(request.body, {"id", "url", "eventTypes", "companyIds", "secret", "enabled"});
    relay::SubscriptionSpec spec;
    spec.kind = "webhook";
    spec.origin = "api";
    in.Text("id", spec.id);
    in.Text("url", spec.url);
    in.Strings("eventTypes", spec.event_types, Need::kOptionalOrNull);
    in.Strings("companyIds", spec.company_ids, Need::kOptionalOrNull);
    // "whsec_..."; absent, null or "": the hub generates one.
    in.Text("secret", spec.secret, Need::kOptionalOrNull, /*max_size=*/0, /*empty_ok=*/true);
    in.Bool("enabled", spec.enabled, Need::kOptional);
    if (in.Refusal()) return *in.Refusal();
    Status checked = relay::CheckSubscriptionSpec(spec);
    if (!checked.ok()) return BadRequest(MaskPersonalData(checked.message()));
    if (!deps_.master_key) {
      return Problem(503, "Service Unavailable",
                     "no hub master key is loaded (secrets_file): subscriptions cannot be "
                     "created through the API",
                     "no-master-key");
    }
    std::variant<std::string, Response> created = stores_.With(
        [&](storage::Store& store) -> std::variant<std::string, Response> {
          Result<std::string> secret =
              relay::CreateSubscription(store, *deps_.master_key, spec, deps_.clock);
          if (!secret.ok()) {
            return secret.status().code() == StatusCode::kInvalidArgument
                       ? BadRequest(MaskPersonalData(secret.status().message()))
                       : FromStatus(secret.status());
          }
          return std::move(*secret);
        },
        [](const Status& status) -> std::variant<std::string, Response> {
          return ServerError(status);
        });
    if (auto* refused = std::get_if<Response>(&created)) return *refused;
    spdlog::info("subscription {} created through the admin API", spec.id);
    // The signing secret in clear, this once (the store keeps it sealed).
    return OneSubscription(spec.id, 201, std::get<std::string>(created));
  }

  Response DeleteSubscription(const Request& request) {
    const std::string id = *request.Param("id");
    return stores_.With(
        [&](storage::Store& store) {
          Status deleted = relay::DeleteSubscription(store, id);
          if (!deleted.ok()) return FromStatus(deleted);
          spdlog::info("subscription {} deleted through the admin API", id);
          return Response::NoContent();
        },
        ServerError);
  }

  // Runs a change of one subscription (kNotFound: 404) and answers the subscription.
  template <typename Change>
  Response ChangeSubscription(const std::string& id, Change change) {
    std::optional<Response> failed = stores_.With(
        [&](storage::Store& store) -> std::optional<Response> {
          Status done = change(store);
          if (!done.ok()) return FromStatus(done);
          return std::nullopt;
        },
        [](const Status& status) -> std::optional<Response> { return ServerError(status); });
    if (failed) return *failed;
    return OneSubscription(id);
  }

  Response EnableSubscription(const Request& request) {
    const std::string id = *request.Param("id");
    return ChangeSubscription(id, [&](storage::Store& store) {
      return relay::EnableSubscription(store, id, deps_.clock);
    });
  }

  Response DisableSubscription(const Request& request) {
    const std::string id = *request.Param("id");
    std::string reason = "disabled through the admin API";
    BodyReader in(request.body, {"reason"}, {}, /*empty_ok=*/true);
    in.Text("reason", reason, Need::kOptional, /*max_size=*/500);
    if (in.Refusal()) return *in.Refusal();
    return ChangeSubscription(id, [&](storage::Store& store) {
      return relay::DisableSubscription(store, id, reason, deps_.clock);
    });
  }

  Response ListDeliveries(const Request& request) {
    const std::string id = *request.Param("id");
    auto limit = Limit(request);
    if (auto* refused = std::get_if<Response>(&limit)) return *refused;
    auto after = Position(request, "after");
    if (auto* refused = std::get_if<Response>(&after)) return *refused;
    const std::string status = request.Query("status").value_or("");
    if (status != "" && status != "pending" && status != "delivered" && status != "dead") {
      return BadRequest("status: expected pending, delivered or dead");
    }
    const int n = std::get<int>(limit);
    return stores_.With(
        [&](storage::Store& store) {
          Result<std::optional<storage::SubscriptionRow>> found = store.FindSubscription(id);
          if (!found.ok()) return ServerError(found.status());
          if (!*found) return NotFound(fmt::format("no subscription '{}'", id));
          storage::DeliveryQuery query;
          query.subscription_id = id;
          query.status = status;
          query.after_sequence = std::get<int64_t>(after);
          query.limit = n + 1;
          Result<std::vector<storage::DeliveryRow>> rows = store.ListDeliveries(query);
          if (!rows.ok()) return ServerError(rows.status());
          json items = json::array();
          for (int i = 0; i < std::min<int>(n, static_cast<int>(rows->size())); ++i) {
            items.push_back(DeliveryJson((*rows)[static_cast<size_t>(i)]));
          }
          const bool more = static_cast<int>(rows->size()) > n;
          return Json(200, {{"items", items},
                            {"next", more ? json((*rows)[static_cast<size_t>(n - 1)].sequence)
                                          : json(nullptr)}});
        },
        ServerError);
  }

  Response Redeliver(const Request& request) {
    const std::string id = *request.Param("id");
    std::optional<int64_t> sequence = ParseInteger(*request.Param("sequence"));
    if (!sequence || *sequence <= 0) return BadRequest("sequence: must be a positive whole number");
    return stores_.With(
        [&](storage::Store& store) {
          Status done = relay::Redeliver(store, id, *sequence, deps_.clock);
          if (!done.ok()) return FromStatus(done);
          spdlog::info("subscription {}: event {} queued for redelivery through the admin API", id,
                       *sequence);
          return Json(202, {{"accepted", true}, {"redelivered", 1}});
        },
        ServerError);
  }

  Response RedeliverDead(const Request& request) {
    const std::string id = *request.Param("id");
    return stores_.With(
        [&](storage::Store& store) {
          Result<int64_t> count = relay::RedeliverDead(store, id, deps_.clock);
          if (!count.ok()) return FromStatus(count.status());
          spdlog::info("subscription {}: {} dead delivery(ies) queued again through the admin API",
                       id, *count);
          return Json(202, {{"accepted", true}, {"redelivered", *count}});
        },
        ServerError);
  }

  // ---- agents (issue #6)
  // -------------------------------------------------------------------------

  Response ListAgents(const Request&) {
    std::map<std::string, ingest::KeyStats> stats;
    if (deps_.ingest_stats) {
      for (ingest::KeyStats& key : deps_.ingest_stats->Snapshot()) {
        stats[key.prefix] = std::move(key);
      }
    }
    return stores_.With(
        [&](storage::Store& store) {
          Result<std::vector<storage::AgentKeyRow>> keys = store.ListAgentKeys();
          if (!keys.ok()) return ServerError(keys.status());
          json items = json::array();
          for (const storage::AgentKeyRow& key : *keys) {
            auto counters = stats.find(key.prefix);
            json rate = nullptr;
            if (key.rate_per_second || key.rate_burst) {
              rate = {{"requestsPerSecond",
                       key.rate_per_second ? json(*key.rate_per_second) : json(nullptr)},
                      {"burst", key.rate_burst ? json(*key.rate_burst) : json(nullptr)}};
            }
            items.push_back({
                {"prefix", key.prefix},
                {"key", ingest::DisplayKey(key.prefix, key.last4)},
                {"companyId", key.company_id},
                {"sourceSystem", key.source_system},
                {"allowedCidrs", JsonArrayText(key.allowed_cidrs)},
                {"status", key.status},
                {"createdAt", Time(key.created_at)},
                {"lastUsedAt", OptionalText(key.last_used_at)},
                {"revokedAt", OptionalText(key.revoked_at)},
                {"rateLimit", rate},
                {"counters",
                 KeyCountersJson(counters == stats.end() ? nullptr : &counters->second)},
            });
          }
          // Requests that named no known key.
          auto unknown = stats.find("");
          return Json(
              200, {{"items", items},
                    {"ingest", deps_.ingest_stats != nullptr},
                    {"unknownKey",
                     unknown == stats.end() ? json(nullptr) : KeyCountersJson(&unknown->second)}});
        },
        ServerError);
  }

  AdminOptions options_;
  AdminDeps deps_;
  StorePool stores_;
  std::mutex token_mutex_;
  std::string last_token_hash_;
};

}  // namespace

std::shared_ptr<http::Router> BuildAdminRouter(const AdminOptions& options, AdminDeps deps,
                                               std::vector<RouteInfo>* routes) {
  auto router = std::make_shared<http::Router>();
  auto api = std::make_shared<AdminApi>(options, deps);
  api->Register(*router, routes, api);
  return router;
}

}  // namespace reglo::admin
