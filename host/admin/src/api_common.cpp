// The admin API's shared parts (api_common.h): problems, paging, the body reader, shared views.
#include "api_common.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "reglo/core/masking.h"
#include "reglo/model/events.h"

namespace reglo::admin::api {
namespace {

using http::Problem;

constexpr int kMaxLimit = 500;

bool LooksSecret(std::string_view key) {
  std::string lower;
  for (char c : key) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view word :
       {"password", "secret", "token", "apikey", "api_key", "credential", "private_key"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
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

}  // namespace

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

Response ServerError(const Status& status) {
  spdlog::error("admin: {}", MaskPersonalData(status.ToString()));
  return Problem(500, "Internal Server Error", MaskPersonalData(status.message()), "internal");
}

Response NoSource(const std::string& id) {
  return NotFound(fmt::format("no source '{}'", id));
}

Response FromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound: return NotFound(MaskPersonalData(status.message()));
    case StatusCode::kAlreadyExists: return Conflict(MaskPersonalData(status.message()));
    case StatusCode::kInvalidArgument: return Conflict(MaskPersonalData(status.message()));
    default: return ServerError(status);
  }
}

std::optional<Response> ProblemIfFailed(const Status& status) {
  if (status.ok()) return std::nullopt;
  return FromStatus(status);
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

std::optional<Response> ReadPage(const Request& request, const char* position, PageQuery& page) {
  page = PageQuery{};
  if (std::optional<std::string> text = request.Query("limit")) {
    std::optional<int64_t> value = ParseInteger(*text);
    if (!value || *value < 1 || *value > kMaxLimit) {
      return BadRequest(fmt::format("limit: must be a whole number from 1 to {}", kMaxLimit));
    }
    page.limit = static_cast<int>(*value);
  }
  if (std::optional<std::string> text = request.Query(position); text && !text->empty()) {
    std::optional<int64_t> value = ParseInteger(*text);
    if (!value || *value < 0) {
      return BadRequest(fmt::format("{}: must be a whole number of at least 0", position));
    }
    page.position = *value;
  }
  return std::nullopt;
}

BodyReader::BodyReader(const std::string& text, const std::set<std::string>& fields,
                       const std::set<std::string>& ignored, bool empty_ok) {
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

void BodyReader::Refuse(const std::string& detail) {
  if (!refusal_) refusal_ = BadRequest(detail);
}

const json* BodyReader::Find(const char* name) const {
  auto it = body_.find(name);
  return it == body_.end() ? nullptr : &*it;
}

void BodyReader::Text(const char* name, std::string& out, Need need, size_t max_size,
                      bool empty_ok) {
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

void BodyReader::Bool(const char* name, bool& out, Need need) {
  const json* member = Member(name, need);
  if (member == nullptr) return;
  if (!member->is_boolean()) return Refuse(fmt::format("{}: must be true or false", name));
  out = member->get<bool>();
}

void BodyReader::Object(const char* name, json& out, Need need) {
  const json* member = Member(name, need);
  if (member == nullptr) return;
  if (!member->is_object()) return Refuse(fmt::format("{}: must be an object", name));
  out = *member;
}

void BodyReader::Strings(const char* name, std::vector<std::string>& out, Need need) {
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

void BodyReader::Seconds(const char* name, double minimum, std::chrono::milliseconds& out,
                         Need need) {
  const json* member = Member(name, need);
  if (member == nullptr) return;
  if (!member->is_number() || !(member->get<double>() >= minimum) || member->get<double>() > 1e9) {
    return Refuse(fmt::format("{}: must be a number of seconds, at least {}", name, minimum));
  }
  out = std::chrono::milliseconds(static_cast<int64_t>(member->get<double>() * 1000.0 + 0.5));
}

const json* BodyReader::Member(const char* name, Need need) {
  if (refusal_) return nullptr;
  const json* member = Find(name);
  if (member == nullptr) {
    if (need == Need::kRequired) Refuse(fmt::format("{}: missing", name));
    return nullptr;
  }
  if (member->is_null() && need == Need::kOptionalOrNull) return nullptr;
  return member;
}

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

json OptionalText(const std::optional<std::string>& text) {
  return text ? json(*text) : json(nullptr);
}

json TextOrNull(const std::string& text) {
  return text.empty() ? json(nullptr) : json(text);
}

json MaskedTextOrNull(const std::string& text) {
  return text.empty() ? json(nullptr) : json(MaskPersonalData(text));
}

json JsonArrayText(const std::string& text) {
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_array() ? parsed : json::array();
}

json RunJson(const storage::RunInfo& run) {
  const storage::RunCounters& c = run.counters;
  return json{
      {"id", run.id},
      {"sourceId", run.source_id},
      {"status", RunStatusText(run)},
      {"startedAt", TextOrNull(run.started_at)},
      {"finishedAt", OptionalText(run.finished_at)},
      {"pluginVersion", TextOrNull(run.plugin_version)},
      {"counts",
       {{"pulled", c.seen},
        {"created", c.created},
        {"updated", c.updated},
        {"unchanged", c.unchanged},
        {"stale", c.stale},
        {"rejected", c.rejected},
        {"warnings", c.warnings},
        {"events", run.events}}},
      // Consecutive idle runs folded into this row (SyncStore::FinishRun): how many, from
      // startedAt (the first one's start) to finishedAt (the last one's end); counts are sums.
      {"runs", run.runs},
      {"error", MaskedTextOrNull(run.error_message)},
      {"errorCategory", TextOrNull(run.error_category)},
  };
}

json FieldValue(const model::FieldSpec& field, const std::string& value, Values values) {
  if (values == Values::kInClear) return value;
  switch (field.personal) {
    case model::PersonalData::kFiscalCode: return HashFiscalCode(value);
    case model::PersonalData::kEmail: return MaskEmail(value);
    case model::PersonalData::kPhone: return MaskPhone(value);
    default: return value;
  }
}

json EventJson(const storage::StoredEvent& stored, Values values) {
  json envelope = json::parse(model::CloudEventJson(stored.event), nullptr, false);
  if (!envelope.is_object()) envelope = json::object();
  const model::EntitySpec* entity = model::FindEntity(stored.event.entity);
  if (values == Values::kMasked && entity && envelope.contains("data") &&
      envelope["data"].is_object() && envelope["data"].contains("record") &&
      envelope["data"]["record"].is_object()) {
    json& record = envelope["data"]["record"];
    for (const model::FieldSpec& field : entity->fields) {
      auto it = record.find(std::string(field.name));
      if (it != record.end() && it->is_string()) {
        *it = FieldValue(field, it->get<std::string>(), values);
      }
    }
  }
  envelope["sequence"] = stored.sequence;
  return envelope;
}

json DeadLetterJson(const storage::DeadLetter& letter, Values values) {
  const auto text = [&](const std::string& value) {
    return values == Values::kMasked ? MaskPersonalData(value) : value;
  };
  return json{{"id", letter.id},
              {"sourceId", letter.source_id},
              {"runId", letter.run_id},
              {"entity", letter.entity},
              {"externalId", letter.external_id},
              {"stage", letter.stage},
              {"origin", text(letter.origin)},
              {"reason", text(letter.reason)},
              {"at", TextOrNull(letter.created_at)}};
}

namespace {

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

}  // namespace

json DeliveryJson(const storage::DeliveryRow& row, Values values) {
  const bool masked = values == Values::kMasked;
  const std::string entity = EntityKeyText(row.entity_key);
  return json{
      {"sequence", row.sequence},
      {"eventId", row.event_id},
      {"eventType", row.event_type},
      {"entity", masked ? MaskPersonalData(entity) : entity},
      {"status", row.status},
      {"attempts", row.attempts},
      {"lastError", masked ? MaskedTextOrNull(row.last_error) : TextOrNull(row.last_error)},
      {"lastStatusCode", row.last_status_code == 0 ? json(nullptr) : json(row.last_status_code)},
      {"nextAttemptAt", row.status == "pending" ? TextOrNull(row.next_attempt_at) : json(nullptr)},
      {"createdAt", TextOrNull(row.created_at)},
      {"updatedAt", TextOrNull(row.updated_at)},
  };
}

}  // namespace reglo::admin::api
