// The admin API's sources area: source definitions (list, create, read, replace, delete), the
// operator commands, cursors, and the plugins the sources run on.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "api_common.h"
#include "reglo/core/masking.h"

namespace reglo::admin::api {
namespace {

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

std::map<std::string, json> PluginSchemas(ApiContext& api) {
  std::map<std::string, json> schemas;
  for (const engine::PluginSnapshot& plugin : api.deps.engine.Plugins()) {
    if (plugin.name.empty() || plugin.config_schema_json.empty()) continue;
    schemas[plugin.name] = json::parse(plugin.config_schema_json, nullptr, false);
  }
  return schemas;
}

// How many of a source's latest runs are looked at to find warnings still open: an unchanged run
// (a file skipped by its fingerprint) re-reads nothing, so its successor says nothing about them.
constexpr int kOpenWarningRuns = 50;
// Read first: the latest run and the one before. Idle runs share one row, so these two decide
// nearly every source; the rest of the window is read only when they do not.
constexpr int kFirstRuns = 2;

std::string AcknowledgedKey(const std::string& source_id) {
  return "console.acknowledged_run." + source_id;
}

// The latest run with warnings or rejected records, while no later run changed data and nobody
// acknowledged it: those warnings still describe the data, although the runs since were clean
// (they had nothing new to read). `runs`: the source's latest kFirstRuns, newest first; older
// ones are read from the store when these do not decide.
std::optional<storage::RunInfo> OpenWarningRun(storage::Store& store, const std::string& source_id,
                                               std::vector<storage::RunInfo> runs) {
  std::optional<storage::RunInfo> open;
  int looked_at = 0;
  int asked = kFirstRuns;
  while (!open && looked_at < kOpenWarningRuns) {
    for (const storage::RunInfo& run : runs) {
      ++looked_at;
      const storage::RunCounters& c = run.counters;
      if (run.status == storage::RunStatus::kRunning || run.status == storage::RunStatus::kFailed) {
        continue;  // read nothing to its end: says nothing about the data
      }
      if (c.warnings > 0 || c.rejected > 0) {
        open = run;
        break;
      }
      if (c.created + c.updated + c.stale > 0) return std::nullopt;  // the data changed, cleanly
    }
    if (open || static_cast<int>(runs.size()) < asked) break;  // found, or no older run
    asked = kOpenWarningRuns - looked_at;
    if (asked <= 0) break;
    Result<std::vector<storage::RunInfo>> older =
        store.ListRunsBefore(source_id, runs.back().id, asked);
    if (!older.ok()) return std::nullopt;
    runs = std::move(*older);
  }
  if (!open) return std::nullopt;
  Result<std::optional<std::string>> acknowledged = store.GetSetting(AcknowledgedKey(source_id));
  if (acknowledged.ok() && *acknowledged) {
    std::optional<int64_t> run_id = ParseInteger(**acknowledged);
    if (run_id && *run_id >= open->id) return std::nullopt;
  }
  return open;
}

json OpenWarningsJson(const std::optional<storage::RunInfo>& run) {
  if (!run) return nullptr;
  return {{"runId", run->id},
          {"at", OptionalText(run->finished_at)},
          {"warnings", run->counters.warnings},
          {"rejected", run->counters.rejected}};
}

// The operator commands that can change something for the source now, so the console offers
// no button that can only be refused or do nothing: a failure whose cause is a missing or
// quarantined plugin is fixed in the plugins folder or the definition, not by a retry.
json SourceActions(const engine::SourceSnapshot& snapshot) {
  using engine::SourceState;
  switch (snapshot.state) {
    case SourceState::kIdle:
    case SourceState::kRunning: return json::array({"run", "pause"});
    case SourceState::kBackoff: return json::array({"run", "retry", "pause"});
    case SourceState::kPaused: return json::array({"resume"});
    case SourceState::kFailed:
      if (snapshot.cause == engine::HoldCause::kPluginMissing ||
          snapshot.cause == engine::HoldCause::kQuarantine) {
        return json::array();
      }
      return json::array({"retry"});
  }
  return json::array();
}

json SourceJson(ApiContext& api, storage::Store& store, const engine::SourceSnapshot& snapshot,
                const engine::SourceConfig& definition,
                const std::map<std::string, std::string>& last_syncs,
                const std::map<std::string, json>& schemas) {
  json options = json::parse(definition.row.config_json, nullptr, false);
  if (!options.is_object()) options = json::object();
  auto schema = schemas.find(definition.row.connector);
  MaskSecrets(options, schema == schemas.end() ? nullptr : &schema->second);
  json last_run = nullptr;
  json open_warnings = nullptr;
  Result<std::vector<storage::RunInfo>> runs = store.ListRunsBefore(snapshot.id, 0, kFirstRuns);
  if (runs.ok() && !runs->empty()) {
    last_run = RunJson(runs->front());
    open_warnings = OpenWarningsJson(OpenWarningRun(store, snapshot.id, std::move(*runs)));
  }
  const bool scheduled = snapshot.state == engine::SourceState::kIdle ||
                         snapshot.state == engine::SourceState::kBackoff;
  auto last_sync = last_syncs.find(snapshot.id);
  const bool from_config = api.options.config_source_ids.count(snapshot.id) > 0;
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
      {"origin", from_config ? "config" : "api"},
      {"configFile", from_config && !api.options.config_file.empty()
                         ? json(api.options.config_file.string())
                         : json(nullptr)},
      {"actions", SourceActions(snapshot)},
      {"lastRun", last_run},
      {"openWarnings", open_warnings},
      {"options", options},
  };
}

Response OneSource(ApiContext& api, const std::string& id, int status = 200) {
  std::optional<engine::SourceSnapshot> snapshot = api.deps.engine.Source(id);
  std::optional<engine::SourceConfig> definition = api.deps.engine.SourceDefinition(id);
  if (!snapshot || !definition) return NoSource(id);
  const auto schemas = PluginSchemas(api);
  return api.WithStore([&](storage::Store& store) {
    return Json(status, SourceJson(api, store, *snapshot, *definition, LastSyncs(store), schemas));
  });
}

// Reads a source definition from a POST/PUT body; `path_id` is set for PUT.
std::variant<engine::SourceConfig, Response> ParseSourceBody(
    ApiContext& api, const Request& request, const std::optional<std::string>& path_id) {
  static const std::set<std::string> kFields = {
      "id", "connector", "companyId", "sourceSystem", "options", "intervalSeconds", "enabled"};
  // What GET returns, so a client may send a Source back; ignored.
  static const std::set<std::string> kReadOnly = {
      "status",  "state",  "reason",  "consecutiveFailures", "lastSyncAt",  "nextRunInSeconds",
      "lastRun", "origin", "actions", "configFile",          "openWarnings"};
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
    if (std::optional<engine::SourceConfig> old = api.deps.engine.SourceDefinition(*path_id)) {
      RestoreSecrets(options, json::parse(old->row.config_json, nullptr, false));
    }
  }
  if (!options.contains("base_dir") && !api.options.base_dir.empty()) {
    options["base_dir"] = api.options.base_dir;
  }
  source.row.config_json = Dump(options);
  return source;
}

// The row of an API-created source as of now (a replace keeps the stored created_at).
storage::ApiSourceRow ApiRow(ApiContext& api, const engine::SourceConfig& source) {
  storage::ApiSourceRow row;
  row.source = source.row;
  row.interval_ms = source.interval.count();
  row.updated_at = FormatUtc(api.deps.clock.Now());
  row.created_at = row.updated_at;
  return row;
}

// The 409 for a change to a source of the config file, or nullopt for an API-created one. Such a
// change would last only until the next start re-applies the file (an operator's fix silently
// lost), so the file is where it is made.
std::optional<Response> RefuseConfigSourceChange(ApiContext& api, const std::string& id,
                                                 std::string_view what) {
  if (!api.options.config_source_ids.count(id)) return std::nullopt;
  const std::string file = api.options.config_file.empty() ? std::string("the configuration file")
                                                           : api.options.config_file.string();
  return Conflict(fmt::format(
      "source '{}' is defined in {}: {} it there, then restart serve (a change made through "
      "the API would be undone at the next start)",
      id, file, what));
}

// A source's definition as the audit log keeps it (MaskAuditValue masks its secrets).
json DefinitionJson(ApiContext& api, const engine::SourceConfig& source) {
  json options = json::parse(source.row.config_json, nullptr, false);
  if (!options.is_object()) options = json::object();
  // Secrets the connector's schema marks, whatever their names (MaskAuditValue masks the rest).
  const auto schemas = PluginSchemas(api);
  auto schema = schemas.find(source.row.connector);
  MaskSecrets(options, schema == schemas.end() ? nullptr : &schema->second);
  return {{"connector", source.row.connector},
          {"companyId", source.row.company_id},
          {"sourceSystem", source.row.source_system},
          {"enabled", source.row.enabled},
          {"intervalSeconds", source.interval.count() / 1000.0},
          {"options", options}};
}

using EngineCommand = Status (engine::EngineControl::*)(const std::string& source_id,
                                                        engine::CommandAudit* audit);

// Writes a source's definition change (`write`, on the API's store) in one transaction with the
// request's audit row; a ServerError when it failed.
std::optional<Response> SaveDefinition(ApiContext& api, const Request& request,
                                       const std::function<Status(storage::Store&)>& write) {
  return api.StoreStep([&](storage::Store& store) -> std::optional<Response> {
    Status saved =
        AuditedStoreChange(request, store, [&](storage::AuditRow&) { return write(store); });
    if (!saved.ok()) return ServerError(saved);
    return std::nullopt;
  });
}

// Runs an operator command on the source of the URL; answers the source, or 202 for commands
// whose effect comes later (a run).
Response SourceCommand(ApiContext& api, const Request& request, EngineCommand command,
                       bool answer_source) {
  const std::string id = *request.Param("id");
  std::optional<Response> failed = AuditedEngineCommand(
      request, [&](engine::CommandAudit* audit) { return (api.deps.engine.*command)(id, audit); });
  if (failed) return *failed;
  if (answer_source) return OneSource(api, id);
  return Json(202, {{"accepted", true}});
}

}  // namespace

Response ListSources(ApiContext& api, const Request&) {
  const auto schemas = PluginSchemas(api);
  return api.WithStore([&](storage::Store& store) {
    const auto last_syncs = LastSyncs(store);
    json items = json::array();
    for (const engine::SourceSnapshot& snapshot : api.deps.engine.Sources()) {
      std::optional<engine::SourceConfig> definition =
          api.deps.engine.SourceDefinition(snapshot.id);
      if (!definition) continue;  // removed meanwhile
      items.push_back(SourceJson(api, store, snapshot, *definition, last_syncs, schemas));
    }
    return Json(200, {{"items", items}});
  });
}

Response GetSource(ApiContext& api, const Request& request) {
  return OneSource(api, *request.Param("id"));
}

Response CreateSource(ApiContext& api, const Request& request) {
  auto parsed = ParseSourceBody(api, request, std::nullopt);
  if (auto* refused = std::get_if<Response>(&parsed)) return *refused;
  engine::SourceConfig source = std::get<engine::SourceConfig>(std::move(parsed));
  const std::string id = source.row.id;
  if (api.deps.engine.Source(id)) return Conflict(fmt::format("source '{}' already exists", id));
  SetAudit(request, nullptr, DefinitionJson(api, source), id);
  // The engine first (it may refuse); then the definition, committed with its audit row. If that
  // fails the engine drops the source again: a source lives only as long as its stored definition.
  Status added = api.deps.engine.AddSource(source);
  if (!added.ok()) return FromStatus(added);
  std::optional<Response> failed = SaveDefinition(
      api, request, [&](storage::Store& store) { return store.PutApiSource(ApiRow(api, source)); });
  if (failed) {
    (void)api.deps.engine.RemoveSource(id);
    return *failed;
  }
  return OneSource(api, id, 201);
}

Response UpdateSource(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  if (!api.deps.engine.Source(id)) return NoSource(id);
  auto parsed = ParseSourceBody(api, request, id);
  if (auto* refused = std::get_if<Response>(&parsed)) return *refused;
  if (auto refused = RefuseConfigSourceChange(api, id, "edit")) return *refused;
  engine::SourceConfig source = std::get<engine::SourceConfig>(std::move(parsed));
  const std::optional<engine::SourceConfig> old = api.deps.engine.SourceDefinition(id);
  if (!old) return NoSource(id);
  SetAudit(request, DefinitionJson(api, *old), DefinitionJson(api, source));
  // As for a creation: the engine, then the definition with its audit row, else the old one back.
  Status updated = api.deps.engine.UpdateSource(source);
  if (!updated.ok()) return FromStatus(updated);
  std::optional<Response> failed = SaveDefinition(api, request, [&](storage::Store& store) {
    return store.PutApiSource(ApiRow(api, source));  // keeps its created_at
  });
  if (failed) {
    (void)api.deps.engine.UpdateSource(*old);
    return *failed;
  }
  return OneSource(api, id);
}

Response DeleteSource(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  if (!api.deps.engine.Source(id)) return NoSource(id);
  if (auto refused = RefuseConfigSourceChange(api, id, "remove")) return *refused;
  if (std::optional<engine::SourceConfig> old = api.deps.engine.SourceDefinition(id)) {
    SetAudit(request, DefinitionJson(api, *old), nullptr);
  }
  // The engine stops it, then its definition goes with the audit row. Should that fail, the
  // definition stays and the source is back at the next start, as it was.
  Status removed = api.deps.engine.RemoveSource(id);
  if (!removed.ok()) return FromStatus(removed);
  std::optional<Response> failed = SaveDefinition(api, request, [&](storage::Store& store) {
    REGLO_RETURN_IF_ERROR(store.DeleteApiSource(id).status());
    return store.DeleteSource(id).status();
  });
  if (failed) return *failed;
  return Response::NoContent();
}

Response RunSource(ApiContext& api, const Request& request) {
  return SourceCommand(api, request, &engine::EngineControl::RunNow, false);
}
Response RetrySource(ApiContext& api, const Request& request) {
  return SourceCommand(api, request, &engine::EngineControl::Retry, false);
}
Response PauseSource(ApiContext& api, const Request& request) {
  return SourceCommand(api, request, &engine::EngineControl::Pause, true);
}
Response ResumeSource(ApiContext& api, const Request& request) {
  return SourceCommand(api, request, &engine::EngineControl::Resume, true);
}

Response AcknowledgeWarnings(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  if (!api.deps.engine.Source(id)) return NoSource(id);
  std::optional<Response> failed =
      api.StoreStep([&](storage::Store& store) -> std::optional<Response> {
        Result<std::vector<storage::RunInfo>> runs = store.ListRunsBefore(id, 0, kFirstRuns);
        if (!runs.ok()) return ServerError(runs.status());
        const std::optional<storage::RunInfo> open = OpenWarningRun(store, id, std::move(*runs));
        if (!open) {
          return Conflict(fmt::format("source '{}' has no open warnings to acknowledge", id));
        }
        Status saved = AuditedStoreChange(request, store, [&](storage::AuditRow& row) {
          row.after = Dump({{"acknowledgedRun", open->id}});
          return store.PutSetting(AcknowledgedKey(id), std::to_string(open->id),
                                  FormatUtc(api.deps.clock.Now()));
        });
        if (!saved.ok()) return ServerError(saved);
        spdlog::info("source {}: the warnings of run {} acknowledged through the admin API", id,
                     open->id);
        return std::nullopt;
      });
  if (failed) return *failed;
  return OneSource(api, id);
}

Response GetCursor(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  if (!api.deps.engine.Source(id)) return NoSource(id);
  return api.WithStore([&](storage::Store& store) {
    Result<std::vector<storage::CursorRow>> cursors = store.ListCursors(id);
    if (!cursors.ok()) return ServerError(cursors.status());
    json items = json::array();
    for (const storage::CursorRow& cursor : *cursors) {
      items.push_back({{"stream", cursor.stream},
                       {"cursor", OptionalText(cursor.cursor)},
                       {"updatedAt", TextOrNull(cursor.updated_at)}});
    }
    return Json(200, {{"cursors", items}});
  });
}

Response ResetCursor(ApiContext& api, const Request& request) {
  const std::string id = *request.Param("id");
  std::optional<engine::SourceSnapshot> snapshot = api.deps.engine.Source(id);
  if (!snapshot) return NoSource(id);
  if (snapshot->state == engine::SourceState::kRunning) {
    return Conflict(fmt::format(
        "source '{}' is running: pause it (or wait for the run to end) before resetting its "
        "cursor",
        id));
  }
  return api.WithStore([&](storage::Store& store) {
    Status reset = AuditedStoreChange(request, store, [&](storage::AuditRow& row) -> Status {
      Result<std::vector<storage::CursorRow>> cursors = store.ListCursors(id);
      if (!cursors.ok()) return cursors.status();
      json before = json::object();
      for (const storage::CursorRow& cursor : *cursors) {
        before[cursor.stream] = OptionalText(cursor.cursor);
      }
      row.before = MaskAuditValue(Dump(before));
      return store.ResetCursors(id).status();
    });
    if (!reset.ok()) return ServerError(reset);
    spdlog::info("source {}: cursors reset through the admin API; the next run is a full pull", id);
    return Response::NoContent();
  });
}

Response ListPlugins(ApiContext& api, const Request&) {
  json items = json::array();
  for (const engine::PluginSnapshot& plugin : api.deps.engine.Plugins()) {
    items.push_back({
        {"name", plugin.name.empty() ? plugin.file.stem().string() : plugin.name},
        {"version", TextOrNull(plugin.version)},
        {"abiVersion", TextOrNull(plugin.abi_version)},
        {"file", plugin.file.string()},
        {"loaded", plugin.loaded},
        {"quarantined", plugin.quarantined},
        {"error", MaskedTextOrNull(plugin.reason)},
    });
  }
  return Json(200, {{"items", items}});
}

}  // namespace reglo::admin::api
