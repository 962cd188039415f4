// The admin API of data subjects' requests (issue #18): export everything stored about a student
// and erase it (storage::SubjectStore). A codice fiscale travels in a POST body, never in a URL,
// so it stays out of access logs and browser history; record ids may be in the path.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api_common.h"
#include "reglo/admin/subject_json.h"
#include "reglo/core/masking.h"
#include "reglo/storage/subject_sql.h"

namespace reglo::admin::api {
namespace {

// The subject a request names: {companyId, fiscalCode} or {companyId, entity, externalId[,
// sourceSystem]} in the body, or the path's entity and externalId with ?company=.
std::optional<Response> ReadSubject(const Request& request, bool from_path,
                                    storage::SubjectQuery& query) {
  if (from_path) {
    query.entity = *request.Param("entity");
    query.external_id = *request.Param("externalId");
    query.company_id = request.Query("company").value_or("");
    query.source_system = request.Query("sourceSystem").value_or("");
    if (query.company_id.empty()) return BadRequest("company: missing (?company=...)");
  } else {
    BodyReader in(request.body,
                  {"companyId", "fiscalCode", "entity", "externalId", "sourceSystem"});
    in.Text("companyId", query.company_id);
    in.Text("fiscalCode", query.fiscal_code, Need::kOptional, 64);
    in.Text("entity", query.entity, Need::kOptional, 64);
    in.Text("externalId", query.external_id, Need::kOptional, 1024);
    in.Text("sourceSystem", query.source_system, Need::kOptional, 1024);
    if (!query.fiscal_code.empty() && (!query.entity.empty() || !query.external_id.empty())) {
      in.Refuse("give either fiscalCode or entity with externalId, not both");
    }
    if (query.fiscal_code.empty() && (query.entity.empty() || query.external_id.empty())) {
      in.Refuse("fiscalCode, or entity with externalId: missing");
    }
    if (in.Refusal()) return *in.Refusal();
  }
  if (!query.ByFiscalCode() && model::FindEntity(query.entity) == nullptr) {
    return BadRequest(fmt::format("entity: '{}' is not an entity", MaskPersonalData(query.entity)));
  }
  return std::nullopt;
}

Response Export(ApiContext& api, const Request& request, bool from_path) {
  storage::SubjectQuery query;
  if (std::optional<Response> bad = ReadSubject(request, from_path, query)) return *bad;
  return api.WithStore([&](storage::Store& store) -> Response {
    Result<storage::SubjectExport> data = store.ExportSubject(query);
    if (!data.ok()) {
      return data.status().code() == StatusCode::kInvalidArgument
                 ? BadRequest(MaskPersonalData(data.status().message()))
                 : FromStatus(data.status());
    }
    if (!data->found()) return NotFound("nothing is stored about this subject");
    return Response::Json(200, SubjectExportJson(query, *data));
  });
}

Response Erase(ApiContext& api, const Request& request, bool from_path) {
  storage::SubjectQuery query;
  if (std::optional<Response> bad = ReadSubject(request, from_path, query)) return *bad;
  return api.WithStore([&](storage::Store& store) -> Response {
    // The erasure and its audit row commit together (the row names the records, never a value).
    Result<storage::ErasureResult> erased = storage::ErasureResult();
    const Status done = AuditedStoreChange(request, store, [&](storage::AuditRow& row) {
      erased = store.EraseSubject(query, FormatUtc(api.deps.clock.Now()));
      if (erased.ok()) {
        // By ids, or by the student the erasure found: never the codice fiscale.
        if (!query.ByFiscalCode()) {
          row.target = fmt::format("{}/{}", query.entity, query.external_id);
        } else if (!erased->erased_events.empty()) {
          row.target = "student/" + erased->erased_events.front().event.external_id;
        }
        row.after = Dump({{"records", erased->records},
                          {"eventsRewritten", erased->events_rewritten},
                          {"alreadyErased", erased->already_erased}});
      }
      return erased.status();
    });
    if (!done.ok()) {
      return done.code() == StatusCode::kInvalidArgument
                 ? BadRequest(MaskPersonalData(done.message()))
                 : FromStatus(done);
    }
    if (erased->records > 0) {
      spdlog::info("subject erased through the admin API: {} records, {} events rewritten",
                   erased->records, erased->events_rewritten);
    }
    return Response::Json(200, ErasureResultJson(*erased));
  });
}

}  // namespace

Response GetSubject(ApiContext& api, const Request& request) {
  return Export(api, request, /*from_path=*/true);
}

Response ExportSubject(ApiContext& api, const Request& request) {
  return Export(api, request, /*from_path=*/false);
}

Response EraseSubjectById(ApiContext& api, const Request& request) {
  return Erase(api, request, /*from_path=*/true);
}

Response EraseSubject(ApiContext& api, const Request& request) {
  return Erase(api, request, /*from_path=*/false);
}

Response ListInactiveStudents(ApiContext& api, const Request& request) {
  PageQuery page;
  if (std::optional<Response> bad = ReadPage(request, "offset", page)) return *bad;
  if (page.position != 0) return BadRequest("offset: not supported; the oldest come first");
  return api.WithStore([&](storage::Store& store) -> Response {
    Result<std::vector<storage::InactiveStudent>> rows = store.ListInactiveStudents(page.limit);
    if (!rows.ok()) return FromStatus(rows.status());
    json items = json::array();
    for (const storage::InactiveStudent& row : *rows) {
      items.push_back({{"companyId", row.key.company_id},
                       {"sourceSystem", row.key.source_system},
                       {"externalId", row.key.external_id},
                       {"lastActivityAt", row.last_activity_at},
                       {"flaggedAt", row.flagged_at}});
    }
    return Json(200, {{"items", items}});
  });
}

}  // namespace reglo::admin::api
