// The admin API's runs and events area: a source's runs and one run's log, the event outbox, dead
// letters, and the canonical entities' record browser (personal data masked).
#include <fmt/format.h>

#include "api_common.h"
#include "reglo/core/masking.h"
#include "reglo/model/events.h"
#include "reglo/model/schema.h"

namespace reglo::admin::api {
namespace {

json MaskedEvent(const storage::StoredEvent& stored) {
  return EventJson(stored, Values::kMasked);
}
json MaskedDeadLetter(const storage::DeadLetter& letter) {
  return DeadLetterJson(letter, Values::kMasked);
}

}  // namespace

Response ListRuns(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  PageQuery page;
  if (std::optional<Response> refused = ReadPage(request, "before", page)) return *refused;
  if (!api.deps.engine.Source(id)) return NoSource(id);
  return api.WithStore([&](storage::Store& store) {
    Result<std::vector<storage::RunInfo>> runs =
        store.ListRunsBefore(id, page.position, page.limit + 1);
    if (!runs.ok()) return ServerError(runs.status());
    return PageJson(*runs, page.limit, RunJson, [](const storage::RunInfo& run) { return run.id; });
  });
}

Response GetRun(ApiContext& api, const Request& request) {
  std::optional<int64_t> run_id = ParseInteger(*request.Param("runId"));
  if (!run_id || *run_id <= 0) return BadRequest("runId: must be a positive whole number");
  return api.WithStore([&](storage::Store& store) {
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
      log.push_back({{"at", TextOrNull(line.at)},
                     {"level", storage::LogLevelName(line.level)},
                     {"message", message}});
      if (line.level == storage::LogLevel::kWarn) warnings.push_back(message);
    }
    body["log"] = std::move(log);
    body["warnings"] = std::move(warnings);
    return Json(200, body);
  });
}

// Oldest first after `after` (the default, for following the outbox), or with order=newest,
// newest first before `before` (what the console shows first); both with the filter's total.
Response ListEvents(ApiContext& api, const Request& request) {
  const std::string order = request.Query("order").value_or("oldest");
  if (order != "oldest" && order != "newest") {
    return BadRequest("order: use oldest (the default) or newest");
  }
  const bool newest = order == "newest";
  PageQuery page;
  if (std::optional<Response> refused = ReadPage(request, newest ? "before" : "after", page)) {
    return *refused;
  }
  storage::EventFilter filter;
  filter.type = request.Query("type").value_or("");
  filter.company_id = request.Query("company").value_or("");
  return api.WithStore([&](storage::Store& store) {
    Result<std::vector<storage::StoredEvent>> events =
        newest ? store.ReadEventsBefore(page.position, page.limit + 1, filter)
               : store.ReadEventsFiltered(page.position, page.limit + 1, filter);
    if (!events.ok()) return ServerError(events.status());
    Result<int64_t> total = store.CountEventsFiltered(filter);
    if (!total.ok()) return ServerError(total.status());
    json body = PageBody(*events, page.limit, MaskedEvent,
                         [](const storage::StoredEvent& stored) { return stored.sequence; });
    body["total"] = *total;
    return Json(200, body);
  });
}

Response ListDeadLetters(ApiContext& api, const Request& request) {
  PageQuery page;
  if (std::optional<Response> refused = ReadPage(request, "after", page)) return *refused;
  return api.WithStore([&](storage::Store& store) {
    Result<std::vector<storage::DeadLetter>> letters =
        store.ReadDeadLetters(page.position, page.limit + 1);
    if (!letters.ok()) return ServerError(letters.status());
    return PageJson(*letters, page.limit, MaskedDeadLetter,
                    [](const storage::DeadLetter& letter) { return letter.id; });
  });
}

Response ListEntities(ApiContext& api, const Request&) {
  return api.WithStore([&](storage::Store& store) {
    json items = json::array();
    for (const model::EntitySpec& entity : model::CanonicalEntities()) {
      Result<int64_t> count = store.CountRecords(entity);
      if (!count.ok()) return ServerError(count.status());
      json fields = json::array();
      for (const model::FieldSpec& field : entity.fields) fields.push_back(field.name);
      items.push_back({{"name", entity.name}, {"count", *count}, {"fields", fields}});
    }
    return Json(200, {{"items", items}});
  });
}

Response BrowseEntity(ApiContext& api, const Request& request) {
  const std::string name = *request.Param("entity");
  const model::EntitySpec* entity = model::FindEntity(name);
  if (!entity) return NotFound(fmt::format("no entity '{}'", name));
  PageQuery page;
  if (std::optional<Response> refused = ReadPage(request, "offset", page)) return *refused;
  storage::RecordQuery query;
  query.company_id = request.Query("company").value_or("");
  query.search = request.Query("q").value_or("");
  query.limit = page.limit;
  query.offset = page.position;
  return api.WithStore([&](storage::Store& store) {
    Result<storage::RecordPage> records = store.BrowseRecords(*entity, query);
    if (!records.ok()) return ServerError(records.status());
    json items = json::array();
    for (const storage::BrowsedRecord& record : records->items) {
      json data = json::object();
      for (size_t i = 0; i < entity->fields.size() && i < record.values.size(); ++i) {
        if (!record.values[i]) continue;
        data[std::string(entity->fields[i].name)] =
            FieldValue(entity->fields[i], *record.values[i], Values::kMasked);
      }
      items.push_back({{"externalId", record.key.external_id},
                       {"companyId", record.key.company_id},
                       {"sourceSystem", record.key.source_system},
                       {"version", record.version},
                       {"updatedAt", TextOrNull(record.updated_at)},
                       {"data", data}});
    }
    const int64_t end = query.offset + static_cast<int64_t>(records->items.size());
    return Json(200, {{"items", items},
                      {"total", records->total},
                      {"next", end < records->total ? json(end) : json(nullptr)}});
  });
}

}  // namespace reglo::admin::api
