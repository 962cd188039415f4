#include "reglo/app/subject.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "reglo/admin/access.h"
#include "reglo/admin/subject_json.h"
#include "reglo/app/commands.h"
#include "reglo/core/masking.h"
#include "reglo/core/text.h"

namespace reglo::app {

Result<storage::SubjectQuery> SubjectQueryOf(const SubjectArgs& args) {
  storage::SubjectQuery query;
  if (args.company.empty()) return Status::ConfigError("--company is required");
  query.company_id = args.company;
  const bool by_id = !args.entity.empty() || !args.external_id.empty();
  if (!args.fiscal_code.empty() && by_id) {
    return Status::ConfigError("give either --cf or --entity with --external-id, not both");
  }
  if (args.fiscal_code.empty() && (args.entity.empty() || args.external_id.empty())) {
    return Status::ConfigError(
        "name the subject: --cf CODICE_FISCALE, or --entity E --external-id X");
  }
  if (!args.source_system.empty() && !by_id) {
    return Status::ConfigError("--source-system goes with --entity and --external-id");
  }
  if (by_id && model::FindEntity(args.entity) == nullptr) {
    return Status::ConfigError(
        fmt::format("--entity: '{}' is not an entity (student, case, appointment, document, "
                    "payment)",
                    EscapeControlCharacters(args.entity)));
  }
  query.fiscal_code = args.fiscal_code;
  query.entity = args.entity;
  query.external_id = args.external_id;
  query.source_system = args.source_system;
  return query;
}

namespace {

// Who the request is about, for a person: the codice fiscale masked, ids escaped.
std::string Describe(const storage::SubjectQuery& query) {
  if (query.ByFiscalCode()) {
    return fmt::format("{} of company {}", HashFiscalCode(query.fiscal_code),
                       EscapeControlCharacters(query.company_id));
  }
  return fmt::format("{} {} of company {}", EscapeControlCharacters(query.entity),
                     EscapeControlCharacters(query.external_id),
                     EscapeControlCharacters(query.company_id));
}

// The config's store, or nullptr after saying why not.
std::unique_ptr<storage::Store> OpenOrSay(const HubConfig& config, std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (store.ok()) return std::move(*store);
  fmt::print(err, "error: {}\n", store.status().ToString());
  return nullptr;
}

int UsageError(const Status& status, std::ostream& err) {
  fmt::print(err, "error: {}\n", status.ToString());
  return kExitUsage;
}

}  // namespace

int SubjectExportCommand(const HubConfig& config, const SubjectArgs& args, std::ostream& out,
                         std::ostream& err) {
  Result<storage::SubjectQuery> query = SubjectQueryOf(args);
  if (!query.ok()) return UsageError(query.status(), err);
  std::unique_ptr<storage::Store> store = OpenOrSay(config, err);
  if (!store) return kExitFailure;
  Result<storage::SubjectExport> data = store->ExportSubject(*query);
  if (!data.ok()) {
    fmt::print(err, "error: {}\n", data.status().ToString());
    return data.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  if (!data->found()) {
    fmt::print(err, "error: nothing is stored about {}\n", Describe(*query));
    return kExitFailure;
  }
  fmt::print(out, "{}\n", admin::SubjectExportJson(*query, *data));
  return kExitOk;
}

int SubjectEraseCommand(const HubConfig& config, const SubjectArgs& args, const Clock& clock,
                        std::ostream& out, std::ostream& err) {
  Result<storage::SubjectQuery> query = SubjectQueryOf(args);
  if (!query.ok()) return UsageError(query.status(), err);
  std::unique_ptr<storage::Store> store = OpenOrSay(config, err);
  if (!store) return kExitFailure;
  if (!args.yes) {
    Result<storage::SubjectExport> data = store->ExportSubject(*query);
    if (!data.ok()) {
      fmt::print(err, "error: {}\n", data.status().ToString());
      return data.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
    }
    fmt::print(err,
               "error: erasing {} cannot be undone: {} records, {} events, {} dead letters, {} "
               "run log lines; run again with --yes to erase\n",
               Describe(*query), data->records.size(), data->events.size(),
               data->dead_letters.size(), data->run_logs.size());
    return kExitUsage;
  }
  // The erasure and its audit row commit together; the row names records, never a value.
  Result<storage::ErasureResult> erased = storage::ErasureResult();
  const std::string target =
      query->ByFiscalCode() ? "" : fmt::format("{}/{}", query->entity, query->external_id);
  const Status done =
      admin::AuditCommand(*store, clock, "subject.erase", target, [&](storage::AuditRow& row) {
        erased = store->EraseSubject(*query, FormatUtc(clock.Now()));
        if (erased.ok() && row.target.empty() && !erased->erased_events.empty()) {
          row.target = "student/" + erased->erased_events.front().event.external_id;
        }
        return erased.status();
      });
  if (!done.ok()) {
    fmt::print(err, "error: {}\n", done.ToString());
    return done.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  if (!erased->found) {
    fmt::print(err, "nothing is stored about {}: nothing to erase\n", Describe(*query));
  } else if (erased->already_erased) {
    fmt::print(err, "{} was erased already: nothing changed\n", Describe(*query));
  }
  fmt::print(out, "{}\n", admin::ErasureResultJson(*erased));
  return kExitOk;
}

Status ApplyErasureRules(storage::AdminStore& store, const HubConfig& config, const Clock& clock) {
  const std::string now = FormatUtc(clock.Now());
  REGLO_RETURN_IF_ERROR(store.PutSetting(storage::AfterErasureSettingKey(""),
                                         config.retention.personal_data.after_erasure, now));
  // Every config source's, its own or the default: a source that had its own before and has not
  // now must not keep the old one.
  for (const std::string& source_id : config.retention.source_ids) {
    REGLO_RETURN_IF_ERROR(
        store.PutSetting(storage::AfterErasureSettingKey(source_id),
                         PersonalDataOf(config.retention, source_id).after_erasure, now));
  }
  return Status::Ok();
}

std::vector<std::pair<std::string, storage::PersonalDataPolicy>> PersonalDataPolicies(
    const RetentionSettings& retention) {
  std::vector<std::pair<std::string, storage::PersonalDataPolicy>> policies;
  for (const std::string& source_id : retention.source_ids) {
    const storage::PersonalDataPolicy& policy = PersonalDataOf(retention, source_id).policy;
    if (policy.dead_letters.count() > 0 || policy.run_logs.count() > 0 ||
        policy.inactive_after.count() > 0) {
      policies.emplace_back(source_id, policy);
    }
  }
  return policies;
}

}  // namespace reglo::app
