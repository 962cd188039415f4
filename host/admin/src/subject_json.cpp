// The subject request documents (subject_json.h), built from the admin API's row views
// (api_common.h) with Values::kInClear.
#include "reglo/admin/subject_json.h"

#include "api_common.h"
#include "reglo/model/events.h"

namespace reglo::admin {

using api::json;
using api::Values;

std::string SubjectExportJson(const storage::SubjectQuery& query,
                              const storage::SubjectExport& data) {
  json subject = {{"companyId", query.company_id}};
  if (query.ByFiscalCode()) {
    subject["fiscalCode"] = query.fiscal_code;
  } else {
    subject["entity"] = query.entity;
    subject["externalId"] = query.external_id;
  }
  json records = json::array();
  for (const storage::SubjectRecord& record : data.records) {
    records.push_back({{"entity", record.entity},
                       {"companyId", record.key.company_id},
                       {"sourceSystem", record.key.source_system},
                       {"externalId", record.key.external_id},
                       {"version", record.version},
                       {"createdAt", record.created_at},
                       {"updatedAt", record.updated_at},
                       {"erased", record.erased},
                       {"record", json::parse(record.record_json, nullptr, false)}});
  }
  json events = json::array();
  for (const storage::StoredEvent& stored : data.events) {
    events.push_back(api::EventJson(stored, Values::kInClear));
  }
  json deliveries = json::array();
  for (const storage::DeliveryRow& row : data.deliveries) {
    json delivery = api::DeliveryJson(row, Values::kInClear);
    delivery["subscriptionId"] = row.subscription_id;  // the API lists them per subscription
    deliveries.push_back(std::move(delivery));
  }
  json letters = json::array();
  for (const storage::DeadLetter& letter : data.dead_letters) {
    letters.push_back(api::DeadLetterJson(letter, Values::kInClear));
  }
  json logs = json::array();
  for (const storage::SubjectRunLogLine& line : data.run_logs) {
    logs.push_back({{"runId", line.run_id},
                    {"sourceId", line.source_id},
                    {"at", line.line.at},
                    {"level", storage::LogLevelName(line.line.level)},
                    {"message", line.line.message}});
  }
  const json out = {{"subject", subject}, {"found", data.found()},    {"records", records},
                    {"events", events},   {"deliveries", deliveries}, {"deadLetters", letters},
                    {"runLogs", logs}};
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string ErasureResultJson(const storage::ErasureResult& result) {
  json events = json::array();
  for (const storage::StoredEvent& stored : result.erased_events) {
    events.push_back({{"sequence", stored.sequence},
                      {"id", stored.event.event_id},
                      {"subject", stored.event.entity + "/" + stored.event.external_id}});
  }
  const json out = {{"found", result.found},
                    {"alreadyErased", result.already_erased},
                    {"students", result.students},
                    {"records", result.records},
                    {"eventsRewritten", result.events_rewritten},
                    {"deadLetters", result.dead_letters},
                    {"runLogLines", result.run_log_lines},
                    {"erasedEvents", events}};
  return out.dump(2);
}

}  // namespace reglo::admin
