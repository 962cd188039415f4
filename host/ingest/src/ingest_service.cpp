#include "reglo/ingest/ingest_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "reglo/core/crypto.h"
#include "reglo/core/json_writer.h"
#include "reglo/core/masking.h"
#include "reglo/core/text.h"
#include "reglo/ingest/agent_keys.h"
#include "reglo/pipeline/push.h"
#include "reglo/security/signature.h"

namespace reglo::ingest {

std::string AgentSourceId(const std::string& company_id, const std::string& source_system) {
  return fmt::format("agent:{}:{}", company_id, source_system);
}

// What the header check learnt, handed to the handler through request.context.
struct IngestService::Caller {
  AuthenticatedKey key;
  std::string display;  // rgk_<prefix>_...<last4>
};

namespace {

constexpr std::string_view kRequestIdChars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:";

bool ValidRequestId(std::string_view id) {
  return !id.empty() && id.size() <= 200 && id.find_first_not_of(kRequestIdChars) == id.npos;
}

std::string_view Lower(std::string& text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string ResponseJson(const std::string& request_id, const storage::SourceRow& source,
                         const std::string& stream, const std::optional<std::string>& cursor,
                         const pipeline::PushResult& result) {
  JsonWriter out;
  out.BeginObject();
  out.Key("requestId").String(request_id);
  out.Key("companyId").String(source.company_id);
  out.Key("sourceSystem").String(source.source_system);
  out.Key("stream").String(stream);
  out.Key("cursor");
  cursor ? out.String(*cursor) : out.Null();
  out.Key("runId").Int(result.run_id);
  const storage::RunCounters& c = result.counters;
  out.Key("counts").BeginObject();
  out.Key("received").Int(c.seen);
  out.Key("created").Int(c.created);
  out.Key("updated").Int(c.updated);
  out.Key("unchanged").Int(c.unchanged);
  out.Key("stale").Int(c.stale);
  out.Key("duplicate").Int(result.duplicates);
  out.Key("rejected").Int(c.rejected);
  out.Key("warnings").Int(c.warnings);
  out.Key("events").Int(result.events);
  out.EndObject();
  out.Key("records").BeginArray();
  for (size_t i = 0; i < result.records.size(); ++i) {
    const pipeline::PushedRecordResult& record = result.records[i];
    out.BeginObject();
    out.Key("index").Int(static_cast<int64_t>(i));
    // A known entity is a short canonical name; an unknown one is input of any length.
    out.Key("entity").String(Excerpt(record.entity));
    out.Key("externalId").String(record.external_id);
    out.Key("outcome").String(record.outcome);
    if (!record.reason.empty()) out.Key("reason").String(record.reason);
    out.Key("warnings").BeginArray();
    for (const std::string& warning : record.warnings) out.String(warning);
    out.EndArray();
    out.EndObject();
  }
  out.EndArray();
  out.EndObject();
  return out.str();
}

// The problem type of a refused signature: what the verifier says was at fault, as a value.
std::string_view RefusalProblemType(security::SignatureRefusal refusal) {
  return refusal == security::SignatureRefusal::kTimestamp ? "invalid-timestamp"
                                                           : "invalid-signature";
}

}  // namespace

IngestService::IngestService(IngestOptions options, StoreFactory open_store,
                             security::MasterKey master, const Clock& clock)
    : options_(std::move(options)),
      master_(std::move(master)),
      clock_(clock),
      pool_(std::make_unique<storage::StorePool<>>(std::move(open_store),
                                                   options_.store_connections)),
      limiter_(clock) {}

IngestService::~IngestService() = default;

void IngestService::AddRoutes(http::Router& router) {
  http::RouteOptions push;
  push.max_body_bytes = options_.max_body_bytes;
  push.before_body = [this](http::Request& request) { return Authenticate(request, true); };
  router.Add(
      "POST", "/api/hub/ingest", [this](const http::Request& request) { return Ingest(request); },
      push);
  http::RouteOptions cursor;
  cursor.max_body_bytes = 0;
  cursor.before_body = [this](http::Request& request) { return Authenticate(request, false); };
  router.Add(
      "GET", "/api/hub/cursor", [this](const http::Request& request) { return Cursor(request); },
      cursor);
}

http::Response IngestService::Refuse(const http::Request& request, const Caller* caller, int status,
                                     std::string_view title, std::string_view detail,
                                     std::string_view slug) {
  const std::string prefix = caller ? caller->key.row.prefix : "";
  stats_.Refused(prefix, caller ? caller->key.row.company_id : "",
                 caller ? caller->key.row.source_system : "", status, std::string(slug));
  // The listener logs each refusal once at info (http::Server); this adds who, at debug.
  spdlog::debug("ingest: {} {} from {} by {}: {} {} ({})", request.method,
                MaskPersonalData(request.path), request.remote_address,
                caller ? caller->display : std::string("no valid key"), status, slug,
                MaskPersonalData(detail));
  return http::Problem(status, title, detail, slug);
}

std::optional<http::Response> IngestService::Authenticate(http::Request& request, bool needs_json) {
  if (needs_json) {
    std::string type = request.Header("content-type").value_or("");
    Lower(type);
    const std::string_view media = std::string_view(type).substr(0, type.find(';'));
    if (media.find_first_not_of(' ') == media.npos ||
        media.substr(media.find_first_not_of(' '), 16) != "application/json") {
      return Refuse(request, nullptr, 415, "Unsupported Media Type",
                    "the body must be application/json", "unsupported-media-type");
    }
  }
  const std::optional<std::string> authorization = request.Header("authorization");
  if (!authorization || authorization->rfind("Bearer ", 0) != 0 || authorization->size() <= 7) {
    return Refuse(request, nullptr, 401, "Unauthorized",
                  "an agent API key is required: Authorization: Bearer rgk_...", "missing-api-key")
        .WithHeader("WWW-Authenticate", "Bearer");
  }
  const std::string api_key = authorization->substr(7);
  Result<AuthenticatedKey> key = Status::Internal("not authenticated");
  AgentKeys::Refusal refusal = AgentKeys::Refusal::kNone;
  {
    Result<storage::StorePool<>::Lease> store = pool_->Acquire();
    if (!store.ok()) {
      spdlog::error("ingest: cannot open the store: {}", store.status().ToString());
      return http::Problem(503, "Service Unavailable", "the hub's store is unavailable",
                           "store-unavailable")
          .WithHeader("Retry-After", "5");
    }
    AgentKeys keys(**store, master_, clock_);
    key = keys.Authenticate(api_key, /*mark_used=*/false, &refusal);
  }
  if (!key.ok()) {
    if (key.status().code() != StatusCode::kAuthError) {
      spdlog::error("ingest: authentication failed: {}", key.status().ToString());
      return http::Problem(500, "Internal Server Error", "the key could not be checked");
    }
    const bool revoked = refusal == AgentKeys::Refusal::kRevoked;
    return Refuse(request, nullptr, 401, "Unauthorized",
                  revoked ? "the API key is revoked" : "unknown or invalid API key",
                  revoked ? "revoked-api-key" : "invalid-api-key")
        .WithHeader("WWW-Authenticate", "Bearer");
  }
  auto caller = std::make_shared<Caller>();
  caller->key = std::move(*key);
  caller->display = DisplayKey(caller->key.row.prefix, caller->key.row.last4);
  if (!caller->key.allowed.empty()) {
    bool allowed = false;
    for (const Cidr& cidr : caller->key.allowed)
      allowed = allowed || cidr.Contains(request.remote_address);
    if (!allowed) {
      return Refuse(request, caller.get(), 403, "Forbidden",
                    "this key may not be used from this address", "ip-not-allowed");
    }
  }
  RateLimit limit = options_.default_rate;
  if (caller->key.row.rate_per_second) limit.per_second = *caller->key.row.rate_per_second;
  if (caller->key.row.rate_burst) limit.burst = *caller->key.row.rate_burst;
  const RateLimiter::Decision decision = limiter_.Acquire(caller->key.row.id, limit);
  if (!decision.allowed) {
    const int64_t seconds = std::max<int64_t>(1, (decision.retry_after.count() + 999) / 1000);
    return Refuse(request, caller.get(), 429, "Too Many Requests",
                  fmt::format("the key's rate limit is {} requests per second (burst {}); retry "
                              "after {} s",
                              limit.per_second, limit.burst, seconds),
                  "rate-limited")
        .WithHeader("Retry-After", std::to_string(seconds));
  }
  request.context = std::shared_ptr<const Caller>(std::move(caller));
  return std::nullopt;
}

Status IngestService::EnsureSource(storage::SyncStore& store, const storage::SourceRow& source) {
  std::lock_guard<std::mutex> lock(sources_mutex_);
  if (sources_known_.contains(source.id)) return Status::Ok();
  REGLO_RETURN_IF_ERROR(store.UpsertSource(source));
  sources_known_.insert(source.id);
  return Status::Ok();
}

http::Response IngestService::Ingest(const http::Request& request) {
  const auto* holder = std::any_cast<std::shared_ptr<const Caller>>(&request.context);
  if (holder == nullptr || !*holder) {
    return http::Problem(500, "Internal Server Error", "the request was not authenticated");
  }
  const Caller& caller = **holder;
  const storage::AgentKeyRow& key = caller.key.row;

  // 1. Signature over the raw bytes, timestamp within the tolerance.
  const std::string id = request.Header("webhook-id").value_or("");
  const std::string timestamp = request.Header("webhook-timestamp").value_or("");
  const std::string signature = request.Header("webhook-signature").value_or("");
  security::WebhookVerifier verifier(caller.key.signing_key, clock_, options_.signature_tolerance);
  security::SignatureRefusal refusal = security::SignatureRefusal::kNone;
  const Status verified = verifier.Verify({id, timestamp, signature}, request.body, &refusal);
  if (!verified.ok()) {
    if (verified.code() != StatusCode::kAuthError) {
      spdlog::error("ingest: signature check failed: {}", verified.ToString());
      return http::Problem(500, "Internal Server Error", "the signature could not be checked");
    }
    return Refuse(request, &caller, 401, "Unauthorized", verified.message(),
                  RefusalProblemType(refusal));
  }
  if (!ValidRequestId(id)) {
    return Refuse(
        request, &caller, 400, "Bad Request",
        "webhook-id must be 1 to 200 characters of letters, digits and -_.:", "invalid-request-id");
  }

  // 2. A request id seen before: the first response, or 422 for another body.
  const std::string body_hash = HexEncode(Sha256(request.body));
  const auto replay = [&](const storage::IngestRequestRow& stored) {
    if (stored.body_hash != body_hash) {
      return Refuse(request, &caller, 422, "Unprocessable Content",
                    "this webhook-id was used before with another body; use a new id for new "
                    "content",
                    "idempotency-key-reused");
    }
    stats_.Replayed(key.prefix);
    spdlog::info("ingest: {} replayed request {}: first response returned", caller.display, id);
    return http::Response::Json(200, stored.response).WithHeader("Idempotent-Replayed", "true");
  };
  {
    Result<storage::StorePool<>::Lease> store = pool_->Acquire();
    if (!store.ok()) {
      return http::Problem(503, "Service Unavailable", "the hub's store is unavailable",
                           "store-unavailable")
          .WithHeader("Retry-After", "5");
    }
    Result<std::optional<storage::IngestRequestRow>> seen = (*store)->FindIngestRequest(key.id, id);
    if (!seen.ok()) {
      spdlog::error("ingest: {}: {}", caller.display, seen.status().ToString());
      return http::Problem(503, "Service Unavailable", "the hub's store is unavailable",
                           "store-unavailable")
          .WithHeader("Retry-After", "5");
    }
    if (seen->has_value()) return replay(**seen);
  }

  // 3. The body: syntax, limits, scope.
  PushBodyParse parsed = ParsePushBody(request.body, options_.limits);
  if (parsed.error) {
    const bool scope = parsed.error->slug == "scope-mismatch";
    return Refuse(request, &caller, scope ? 403 : 400, scope ? "Forbidden" : "Bad Request",
                  parsed.error->detail, parsed.error->slug);
  }
  PushBody& body = *parsed.body;
  if (body.company_id != key.company_id || body.source_system != key.source_system) {
    return Refuse(request, &caller, 403, "Forbidden",
                  "the key may push only for its own company and source system", "scope-mismatch");
  }

  // 4. The pipeline: validated and deduplicated here, committed with the request id.
  storage::SourceRow source;
  source.id = AgentSourceId(key.company_id, key.source_system);
  source.company_id = key.company_id;
  source.source_system = key.source_system;
  source.connector = "agent";
  source.config_json = "{}";
  source.status = "new";
  pipeline::PreparedPush push =
      pipeline::PreparePush(source, body.stream, body.cursor, body.records);
  storage::IngestRequestRow row;
  row.key_id = key.id;
  row.request_id = id;
  row.body_hash = body_hash;
  row.created_at = FormatUtc(clock_.Now());
  Result<pipeline::PushResult> committed = Status::Internal("not committed");
  {
    Result<storage::StorePool<>::Lease> store = pool_->Acquire();
    if (!store.ok()) {
      return http::Problem(503, "Service Unavailable", "the hub's store is unavailable",
                           "store-unavailable")
          .WithHeader("Retry-After", "5");
    }
    Status registered = EnsureSource(**store, source);
    if (registered.ok()) {
      committed = pipeline::CommitPush(
          **store, **store, clock_, push, row, [&](const pipeline::PushResult& result) {
            return ResponseJson(id, source, body.stream, body.cursor, result);
          });
    } else {
      committed = registered;
    }
    if (committed.ok() && !committed->replayed) {
      Status touched = (*store)->TouchAgentKey(key.id, row.created_at);
      if (!touched.ok()) spdlog::warn("ingest: {}: {}", caller.display, touched.message());
      PurgeOldRequests(**store);
    }
  }
  if (!committed.ok()) {
    spdlog::error("ingest: {}: the push could not be committed: {}", caller.display,
                  MaskPersonalData(committed.status().ToString()));
    return Refuse(request, &caller, 503, "Service Unavailable",
                  "the push could not be committed; nothing was stored, send it again",
                  "commit-failed")
        .WithHeader("Retry-After", "5");
  }
  if (committed->replayed) return replay(committed->stored);
  const storage::RunCounters& c = committed->counters;
  stats_.Accepted(key.prefix, key.company_id, key.source_system, c.seen - c.rejected, c.rejected,
                  row.created_at);
  spdlog::info(
      "ingest: {} pushed {} records to {}/{} (run {}): {} created, {} updated, {} unchanged, {} "
      "stale, {} duplicate, {} rejected, {} warnings",
      caller.display, c.seen, key.company_id, key.source_system, committed->run_id, c.created,
      c.updated, c.unchanged, c.stale, committed->duplicates, c.rejected, c.warnings);
  return http::Response::Json(200, std::move(committed->stored.response));
}

void IngestService::PurgeOldRequests(storage::IngestStore& store) {
  constexpr auto kPurgeEvery = std::chrono::minutes(10);
  const auto now = clock_.Now();
  {
    std::lock_guard<std::mutex> lock(purge_mutex_);
    if (last_purge_ && now - *last_purge_ < kPurgeEvery) return;
    last_purge_ = now;
  }
  const auto keep =
      std::max<std::chrono::seconds>(options_.request_retention, 2 * options_.signature_tolerance);
  Result<int64_t> purged = store.PurgeIngestRequests(FormatUtc(now - keep));
  if (!purged.ok()) {
    spdlog::warn("ingest: cannot purge old request ids: {}", purged.status().ToString());
  } else if (*purged > 0) {
    spdlog::info("ingest: purged {} request ids older than {} h", *purged,
                 std::chrono::duration_cast<std::chrono::hours>(keep).count());
  }
}

http::Response IngestService::Cursor(const http::Request& request) {
  const auto* holder = std::any_cast<std::shared_ptr<const Caller>>(&request.context);
  if (holder == nullptr || !*holder) {
    return http::Problem(500, "Internal Server Error", "the request was not authenticated");
  }
  const Caller& caller = **holder;
  const storage::AgentKeyRow& key = caller.key.row;
  security::WebhookVerifier verifier(caller.key.signing_key, clock_, options_.signature_tolerance);
  security::SignatureRefusal refusal = security::SignatureRefusal::kNone;
  const Status verified = verifier.Verify(
      {request.Header("webhook-id").value_or(""), request.Header("webhook-timestamp").value_or(""),
       request.Header("webhook-signature").value_or("")},
      request.body, &refusal);
  if (!verified.ok()) {
    return Refuse(request, &caller, 401, "Unauthorized", verified.message(),
                  RefusalProblemType(refusal));
  }
  const std::string stream = request.Query("stream").value_or("default");
  Result<storage::StorePool<>::Lease> store = pool_->Acquire();
  if (!store.ok()) {
    return http::Problem(503, "Service Unavailable", "the hub's store is unavailable",
                         "store-unavailable");
  }
  Result<std::optional<std::string>> cursor =
      (*store)->GetCursor(AgentSourceId(key.company_id, key.source_system), stream);
  if (!cursor.ok()) {
    return http::Problem(503, "Service Unavailable", "the hub's store is unavailable",
                         "store-unavailable");
  }
  JsonWriter out;
  out.BeginObject();
  out.Key("companyId").String(key.company_id);
  out.Key("sourceSystem").String(key.source_system);
  out.Key("stream").String(stream);
  out.Key("cursor");
  *cursor ? out.String(**cursor) : out.Null();
  out.EndObject();
  return http::Response::Json(200, out.str());
}

}  // namespace reglo::ingest
