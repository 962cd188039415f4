#include "conformance.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <variant>

#include "reglo/core/status.h"
#include "reglo/isolation/process_connector.h"
#include "reglo/model/record.h"
#include "reglo/model/schema.h"
#include "reglo/model/validation.h"
#include "reglo/plugin_host/plugin.h"

namespace reglo::connector_check {
namespace {

using Clock = std::chrono::steady_clock;
using plugin_host::ConnectorInstance;
using plugin_host::LoadedPlugin;

// Identity stamped on canonical records for validation; the kit stores nothing.
constexpr char kCompany[] = "conformance-check";
constexpr char kSourceSystem[] = "conformance-check";
// Problems listed per check before "and N more".
constexpr size_t kMaxListed = 5;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Text safe to print: a plugin's bytes may not be UTF-8, and a terminal deserves better.
std::string Printable(std::string_view text) {
  std::string out = model::RepairUtf8(text.substr(0, 80));
  if (text.size() > 80) out += "...";
  return out;
}

// Collects the PASS/FAIL lines and the summary.
class Report {
 public:
  explicit Report(std::FILE* out) : out_(out) {}
  void Pass(std::string_view check, std::string_view detail) { Line("PASS", check, detail); }
  void Fail(std::string_view check, std::string_view detail) {
    ++failed_;
    Line("FAIL", check, detail);
  }
  void Check(bool ok, std::string_view check, std::string_view detail) {
    ok ? Pass(check, detail) : Fail(check, detail);
  }
  void Info(std::string_view text) {
    fmt::print(out_, "     {}\n", text);
    std::fflush(out_);
  }
  int failed() const { return failed_; }
  int total() const { return total_; }

 private:
  void Line(std::string_view verdict, std::string_view check, std::string_view detail) {
    ++total_;
    fmt::print(out_, "{} {}: {}\n", verdict, check, detail);
    std::fflush(out_);
  }
  std::FILE* out_;
  int failed_ = 0;
  int total_ = 0;
};

// Up to kMaxListed problems, then a count of the rest.
class ProblemList {
 public:
  void Add(std::string problem) {
    if (items_.size() < kMaxListed) items_.push_back(std::move(problem));
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  std::string Join() const {
    std::string text;
    for (const std::string& item : items_) text += (text.empty() ? "" : "; ") + item;
    if (count_ > items_.size()) text += fmt::format("; and {} more", count_ - items_.size());
    return text;
  }

 private:
  std::vector<std::string> items_;
  size_t count_ = 0;
};

// A deep copy of a record the plugin emitted (the plugin's record is borrowed for the callback).
struct OwnedRecord {
  reglo_operation operation = REGLO_OP_UPSERT;
  std::string entity;
  std::string external_id;
  std::optional<std::string> source_updated_at;
  std::vector<std::pair<std::string, std::optional<std::string>>> fields;
  std::string origin;

  std::string Key() const { return entity + "/" + external_id; }
};

// A C view of an OwnedRecord, for handing it back to map_to_canonical.
class RecordView {
 public:
  explicit RecordView(const OwnedRecord& record) {
    fields_.reserve(record.fields.size());
    for (const auto& [name, value] : record.fields) {
      reglo_field field{};
      field.name = name.c_str();
      field.value = value ? value->data() : nullptr;
      field.value_len = value ? value->size() : 0;
      fields_.push_back(field);
    }
    view_.struct_size = sizeof(reglo_record);
    view_.operation = record.operation;
    view_.entity = record.entity.c_str();
    view_.external_id = record.external_id.c_str();
    view_.source_updated_at =
        record.source_updated_at ? record.source_updated_at->c_str() : nullptr;
    view_.fields = fields_.data();
    view_.field_count = fields_.size();
    view_.origin = record.origin.c_str();
  }
  const reglo_record& get() const { return view_; }

 private:
  std::vector<reglo_field> fields_;
  reglo_record view_{};
};

// Checks the shape of a record the plugin produced (source or canonical); adds what is wrong.
void CheckRecordShape(const reglo_record& record, std::string_view what, size_t index,
                      ProblemList& problems) {
  const std::string where = fmt::format("{} #{}", what, index + 1);
  if (record.struct_size < sizeof(reglo_record)) {
    problems.Add(fmt::format("{}: struct_size {} is smaller than ABI 1.0's reglo_record ({})",
                             where, record.struct_size, sizeof(reglo_record)));
    return;  // members past struct_size must not be read
  }
  if (record.operation != REGLO_OP_UPSERT && record.operation != REGLO_OP_DELETE) {
    problems.Add(
        fmt::format("{}: unknown operation {}", where, static_cast<int>(record.operation)));
  }
  auto check_text = [&](const char* text, std::string_view name, bool required) {
    if (text == nullptr) {
      if (required) problems.Add(fmt::format("{}: {} is NULL", where, name));
      return;
    }
    if (required && *text == '\0') problems.Add(fmt::format("{}: {} is empty", where, name));
    if (!model::IsValidUtf8(text)) problems.Add(fmt::format("{}: {} is not UTF-8", where, name));
  };
  check_text(record.entity, "entity", true);
  check_text(record.external_id, "external_id", true);
  check_text(record.source_updated_at, "source_updated_at", false);
  check_text(record.origin, "origin", false);
  if (record.field_count > 0 && record.fields == nullptr) {
    problems.Add(fmt::format("{}: field_count {} but fields is NULL", where, record.field_count));
    return;
  }
  for (size_t i = 0; i < record.field_count; ++i) {
    const reglo_field& field = record.fields[i];
    if (field.name == nullptr) {
      problems.Add(fmt::format("{}: field #{} has no name", where, i + 1));
      continue;
    }
    // Values are personal data: name the field, never print the value.
    if (!model::IsValidUtf8(field.name)) {
      problems.Add(fmt::format("{}: field #{} name is not UTF-8", where, i + 1));
    } else if (field.value != nullptr &&
               !model::IsValidUtf8(std::string_view(field.value, field.value_len))) {
      problems.Add(fmt::format("{} (id '{}'): value of field '{}' is not UTF-8", where,
                               Printable(record.external_id ? record.external_id : ""),
                               field.name));
    }
  }
}

OwnedRecord Copy(const reglo_record& record) {
  OwnedRecord owned;
  auto text = [](const char* value) { return value ? std::string(value) : std::string(); };
  owned.operation = record.operation;
  owned.entity = text(record.entity);
  owned.external_id = text(record.external_id);
  if (record.source_updated_at != nullptr) owned.source_updated_at = record.source_updated_at;
  if (record.fields != nullptr) {
    for (size_t i = 0; i < record.field_count; ++i) {
      const reglo_field& field = record.fields[i];
      std::optional<std::string> value;
      if (field.value != nullptr) value.emplace(field.value, field.value_len);
      owned.fields.emplace_back(text(field.name), std::move(value));
    }
  }
  if (record.struct_size >= sizeof(reglo_record)) owned.origin = text(record.origin);
  return owned;
}

// Ends the process when a plugin call does not return in time. A plugin that ignores should_stop
// keeps the calling thread forever; reporting it and exiting is all an in-process kit can do.
class Watchdog {
 public:
  explicit Watchdog(std::FILE* out) : out_(out), thread_([this] { Run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void Arm(std::string label, Clock::time_point deadline, uint32_t bound_ms) {
    std::lock_guard lock(mutex_);
    label_ = std::move(label);
    deadline_ = deadline;
    bound_ms_ = bound_ms;
    armed_ = true;
    wake_.notify_all();
  }
  void Disarm() {
    std::lock_guard lock(mutex_);
    armed_ = false;
  }

 private:
  void Run() {
    std::unique_lock lock(mutex_);
    while (!quit_) {
      if (!armed_) {
        wake_.wait(lock);
        continue;
      }
      if (Clock::now() >= deadline_) {
        fmt::print(out_,
                   "FAIL {}: the plugin did not return within {} ms, although should_stop has "
                   "been true; it ignores cancellation (the kit cannot recover in-process)\n",
                   label_, bound_ms_);
        fmt::print(out_, "\nFAILED: the run was aborted by the watchdog\n");
        std::fflush(out_);
        std::_Exit(kExitFail);
      }
      wake_.wait_until(lock, deadline_);
    }
  }

  std::FILE* out_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool quit_ = false;
  bool armed_ = false;
  std::string label_;
  Clock::time_point deadline_;
  uint32_t bound_ms_ = 0;
  std::thread thread_;
};

struct CheckpointSeen {
  std::string cursor;
  uint64_t record_count = 0;  // as the plugin declared it
  size_t covered = 0;         // records emitted before it
};

// What the host does when the kit simulates trouble during a pull.
struct Injection {
  std::optional<size_t> stop_after_records;  // should_stop turns true after this many records
  std::optional<size_t> refuse_record;       // emit_record answers RETRY for this record (0-based)
  std::optional<size_t> refuse_checkpoint;   // emit_checkpoint answers RETRY for this one (0-based)
};

Injection StopAfter(size_t records) {
  Injection injection;
  injection.stop_after_records = records;
  return injection;
}
Injection RefuseRecord(size_t index) {
  Injection injection;
  injection.refuse_record = index;
  return injection;
}
Injection RefuseCheckpoint(size_t index) {
  Injection injection;
  injection.refuse_checkpoint = index;
  return injection;
}

// The kit's PullHandler: copies everything, checks shapes, applies injections.
class Recorder final : public plugin_host::PullHandler {
 public:
  Recorder(Injection injection, Clock::time_point deadline, const std::set<std::string>* known_bad)
      : injection_(injection), deadline_(deadline), known_bad_(known_bad) {}

  Status OnRecord(const reglo_record& record) override {
    const size_t index = records.size() + refused_records_;
    if (injection_.refuse_record && *injection_.refuse_record == index) {
      ++refused_records_;
      return Status::Retryable(
          "conformance check: the host refuses this record (simulated outage)");
    }
    const bool known_bad = record.struct_size >= sizeof(reglo_record) && record.origin != nullptr &&
                           known_bad_->contains(record.origin);
    CheckRecordShape(record, "record", index, known_bad ? expected_problems : shape_problems);
    records.push_back(Copy(record));
    if (stop_requested_at_) ++records_after_stop;
    return Status::Ok();
  }
  Status OnCheckpoint(std::string_view cursor, uint64_t record_count) override {
    const size_t index = checkpoints.size() + refused_checkpoints_;
    if (injection_.refuse_checkpoint && *injection_.refuse_checkpoint == index) {
      ++refused_checkpoints_;
      return Status::Retryable("conformance check: the host cannot commit (simulated outage)");
    }
    const size_t previous = checkpoints.empty() ? 0 : checkpoints.back().covered;
    const size_t covered = records.size();
    if (record_count != covered - previous) {
      checkpoint_problems.Add(
          fmt::format("checkpoint #{} declares {} records, {} were emitted since the previous one",
                      checkpoints.size() + 1, record_count, covered - previous));
    }
    if (cursor.empty()) {
      checkpoint_problems.Add(fmt::format("checkpoint #{} has an empty cursor", index + 1));
    } else if (!model::IsValidUtf8(cursor)) {
      checkpoint_problems.Add(fmt::format("checkpoint #{} cursor is not UTF-8", index + 1));
    }
    checkpoints.push_back({std::string(cursor), record_count, covered});
    return Status::Ok();
  }
  void OnWarning(std::string_view origin, std::string_view message) override {
    if (warnings.size() < kMaxListed) {
      warnings.push_back(fmt::format("{}: {}", Printable(origin), Printable(message)));
    }
    ++warning_count;
  }
  bool ShouldStop() override {
    const bool stop =
        (injection_.stop_after_records && records.size() >= *injection_.stop_after_records) ||
        Clock::now() >= deadline_;
    if (stop && !stop_requested_at_) stop_requested_at_ = Clock::now();
    return stop;
  }

  // The records covered by the last checkpoint the host accepted: what an engine would commit.
  size_t committed() const { return checkpoints.empty() ? 0 : checkpoints.back().covered; }
  std::optional<std::string> last_cursor() const {
    if (checkpoints.empty()) return std::nullopt;
    return checkpoints.back().cursor;
  }
  std::optional<Clock::time_point> stop_requested_at() const { return stop_requested_at_; }
  bool timed_out() const { return stop_requested_at_ && Clock::now() >= deadline_; }

  std::vector<OwnedRecord> records;
  std::vector<CheckpointSeen> checkpoints;
  std::vector<std::string> warnings;
  size_t warning_count = 0;
  size_t records_after_stop = 0;
  ProblemList shape_problems;
  ProblemList checkpoint_problems;
  ProblemList expected_problems;  // of --known-bad records

 private:
  Injection injection_;
  Clock::time_point deadline_;
  const std::set<std::string>* known_bad_;
  std::optional<Clock::time_point> stop_requested_at_;
  size_t refused_records_ = 0;
  size_t refused_checkpoints_ = 0;
};

struct PullResult {
  Status status;
  std::unique_ptr<Recorder> recorder;
  double ms = 0;
  double ms_after_stop = 0;  // from the first should_stop == true to the return
};

// Mapping results of one record: its signature (identity + canonical content) and what was wrong.
struct MapStats {
  size_t canonical = 0;
  size_t warned = 0;
  std::vector<std::string> warnings;
  ProblemList failures;                              // map errors, rejections, shapes
  ProblemList expected;                              // the same, of --known-bad records
  std::set<std::string> foreign_entities;            // canonical entities not in the descriptor
  std::map<std::string, std::set<std::string>> ids;  // canonical entity -> external ids
  ProblemList duplicate_ids;
};

class Checker {
 public:
  Checker(const Options& options, std::FILE* out)
      : options_(options), out_(out), report_(out), watchdog_(out) {}

  int Run() {
    std::string config;
    if (!LoadConfig(&config)) return kExitUsage;
    fmt::print(out_, "reglo-connector-check {} with {}\n\n", options_.plugin.string(),
               options_.config_path.string());
    if (RunAll(config)) {
      // Destroy the instance before the summary, so a crash in destroy is not hidden by it.
      instance_.reset();
    }
    fmt::print(out_, "\n{}: {} checks, {} passed, {} failed\n",
               report_.failed() == 0 ? "PASSED" : "FAILED", report_.total(),
               report_.total() - report_.failed(), report_.failed());
    return report_.failed() == 0 ? kExitPass : kExitFail;
  }

 private:
  // Reads the connector configuration. Like the hub, sets "base_dir" to the file's folder unless
  // given, so relative paths in the configuration mean the same in both.
  bool LoadConfig(std::string* out) {
    std::ifstream in(options_.config_path);
    if (!in) {
      fmt::print(stderr, "reglo-connector-check: cannot read {}\n", options_.config_path.string());
      return false;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto json = nlohmann::json::parse(text.str(), nullptr, false, /*ignore_comments=*/true);
    if (json.is_discarded() || !json.is_object()) {
      fmt::print(stderr, "reglo-connector-check: {} is not a JSON object\n",
                 options_.config_path.string());
      return false;
    }
    if (!json.contains("base_dir")) {
      json["base_dir"] =
          std::filesystem::absolute(options_.config_path).parent_path().lexically_normal().string();
    }
    config_json_ = json;
    *out = json.dump();
    return true;
  }

  bool RunAll(const std::string& config) {
    auto log = [this](reglo_log_level level, std::string_view message) {
      if (level >= REGLO_LOG_WARN) log_lines_.push_back(Printable(message));
    };
    Result<std::unique_ptr<ConnectorInstance>> created = Status::Internal("not created");
    if (options_.process_isolation) {
      // The plugin lives in a reglo-connector-runner child, as for a source with isolation
      // "process": a crash fails the check it happens in instead of ending the kit.
      isolation::RunnerOptions runner;
      runner.runner = options_.runner;
      Result<std::unique_ptr<isolation::ProcessConnector>> started =
          isolation::ProcessConnector::Start(runner, options_.plugin);
      if (!started.ok()) {
        report_.Fail("load", started.status().message());
        return false;
      }
      info_ = (*started)->plugin_info();
      report_.Pass("load", fmt::format("ABI {}.{} negotiated, descriptor accepted by the plugin "
                                       "host in a connector process (pid {})",
                                       info_.abi_major, info_.abi_minor, (*started)->pid()));
      CheckDescriptor();
      CheckSchema();
      // should_stop answered exactly as in-process, so cancellation is judged the same way.
      (*started)->set_synchronous_stop(true);
      (*started)->SetLogCallback(log);
      Status made = (*started)->Create(config);
      if (made.ok()) {
        created = std::unique_ptr<ConnectorInstance>(std::move(*started));
      } else {
        created = made;
      }
    } else {
      Result<std::shared_ptr<LoadedPlugin>> loaded = LoadedPlugin::Load(options_.plugin);
      if (!loaded.ok()) {
        report_.Fail("load", loaded.status().message());
        return false;
      }
      plugin_ = *loaded;
      info_ = plugin_->info();
      report_.Pass("load",
                   fmt::format("ABI {}.{} negotiated, descriptor accepted by the plugin host",
                               info_.abi_major, info_.abi_minor));
      CheckDescriptor();
      CheckSchema();
      created = plugin_->CreateInstance(config, log);
    }
    if (!created.ok()) {
      report_.Fail("create", created.status().ToString());
      return false;
    }
    instance_ = std::move(*created);
    report_.Pass("create", "instance created from the configuration");

    Status auth = instance_->Authenticate();
    report_.Check(auth.ok(), "authenticate", auth.ok() ? "OK" : auth.ToString());
    Status health = instance_->HealthCheck();
    report_.Check(health.ok(), "health-check", health.ok() ? "OK" : health.ToString());

    Result<std::vector<std::string>> streams = instance_->ListStreams();
    if (!streams.ok()) {
      report_.Fail("list-streams", streams.status().ToString());
      return true;
    }
    std::set<std::string> unique(streams->begin(), streams->end());
    const bool streams_ok =
        !streams->empty() && unique.size() == streams->size() && !unique.contains("");
    std::string listed;
    for (const std::string& s : *streams) listed += (listed.empty() ? "" : ", ") + Printable(s);
    report_.Check(streams_ok, "list-streams",
                  streams_ok
                      ? fmt::format("{} streams: {}", streams->size(), listed)
                      : fmt::format("streams must be non-empty and unique, got [{}]", listed));
    std::vector<std::string> selected = *streams;
    if (!options_.streams.empty()) {
      selected.clear();
      for (const std::string& wanted : options_.streams) {
        if (!unique.contains(wanted)) {
          report_.Fail("stream " + wanted, "the instance does not list this stream");
        } else {
          selected.push_back(wanted);
        }
      }
    }
    for (const std::string& stream : selected) CheckStream(stream);
    return true;
  }

  void CheckDescriptor() {
    const plugin_host::PluginInfo& info = info_;
    std::vector<std::string> problems;
    if (info.vendor.empty()) problems.push_back("vendor is empty");
    if (info.description.empty()) problems.push_back("description is empty");
    std::set<std::string> entities(info.entities.begin(), info.entities.end());
    if (entities.size() != info.entities.size()) problems.push_back("an entity is listed twice");
    if (info.has_push_changes) problems.push_back("push_changes must be NULL in ABI 1.0");
    std::string list;
    for (const std::string& e : info.entities) list += (list.empty() ? "" : ", ") + e;
    if (problems.empty()) {
      report_.Pass("descriptor", fmt::format("{} {} by {}; entities: {}", info.name, info.version,
                                             info.vendor, list));
    } else {
      std::string joined;
      for (const std::string& p : problems) joined += (joined.empty() ? "" : "; ") + p;
      report_.Fail("descriptor", joined);
    }
  }

  // Walks a schema collecting secret properties and shape problems.
  static void WalkSchema(const nlohmann::json& schema, const std::string& path,
                         std::vector<std::string>& secrets, std::vector<std::string>& problems) {
    if (!schema.is_object()) return;
    if (auto secret = schema.find("x-reglo-secret"); secret != schema.end()) {
      if (!secret->is_boolean()) {
        problems.push_back(path + ": x-reglo-secret must be true or false");
      } else if (secret->get<bool>()) {
        secrets.push_back(path.empty() ? "(root)" : path);
      }
    }
    static const std::set<std::string> kTypes = {"object",  "array",   "string", "number",
                                                 "integer", "boolean", "null"};
    if (auto type = schema.find("type"); type != schema.end()) {
      auto valid = [&](const nlohmann::json& t) {
        return t.is_string() && kTypes.contains(t.get<std::string>());
      };
      bool ok = valid(*type);
      if (type->is_array()) ok = std::all_of(type->begin(), type->end(), valid);
      if (!ok) problems.push_back((path.empty() ? "(root)" : path) + ".type: not a JSON type");
    }
    if (auto required = schema.find("required"); required != schema.end()) {
      if (!required->is_array() ||
          !std::all_of(required->begin(), required->end(),
                       [](const nlohmann::json& r) { return r.is_string(); })) {
        problems.push_back((path.empty() ? "(root)" : path) + ".required: not an array of names");
      }
    }
    for (const char* keyword : {"properties", "patternProperties", "$defs", "definitions"}) {
      auto members = schema.find(keyword);
      if (members == schema.end()) continue;
      if (!members->is_object()) {
        problems.push_back(
            fmt::format("{}.{}: not an object", path.empty() ? "(root)" : path, keyword));
        continue;
      }
      for (const auto& [name, sub] : members->items()) {
        if (!sub.is_object() && !sub.is_boolean()) {
          problems.push_back(
              fmt::format("{}: not a schema", path.empty() ? name : path + "." + name));
        }
        const bool is_property = std::string_view(keyword) == "properties";
        WalkSchema(sub,
                   is_property
                       ? (path.empty() ? name : path + "." + name)
                       : fmt::format("{}{}{}/{}", path, path.empty() ? "" : ".", keyword, name),
                   secrets, problems);
      }
    }
    for (const char* keyword : {"items", "additionalProperties"}) {
      if (auto sub = schema.find(keyword); sub != schema.end() && sub->is_object()) {
        WalkSchema(*sub, path + "[]", secrets, problems);
      }
    }
  }

  // The config against the top level of the schema: type, required, additionalProperties (a
  // subset of JSON Schema that catches the usual mistakes: a missing or misspelt key).
  static void CheckConfigAgainst(const nlohmann::json& schema, const nlohmann::json& config,
                                 std::vector<std::string>& problems) {
    if (auto required = schema.find("required"); required != schema.end() && required->is_array()) {
      for (const auto& name : *required) {
        if (name.is_string() && !config.contains(name.get<std::string>())) {
          problems.push_back("the configuration lacks required key '" + name.get<std::string>() +
                             "'");
        }
      }
    }
    auto additional = schema.find("additionalProperties");
    if (additional == schema.end() || !additional->is_boolean() || additional->get<bool>()) return;
    const auto properties = schema.value("properties", nlohmann::json::object());
    const auto patterns = schema.value("patternProperties", nlohmann::json::object());
    for (const auto& [key, value] : config.items()) {
      if (key == "base_dir") continue;  // set by the hub for every connector
      if (properties.is_object() && properties.contains(key)) continue;
      bool matched = false;
      if (patterns.is_object()) {
        for (const auto& [pattern, sub] : patterns.items()) {
          try {
            if (std::regex_search(key, std::regex(pattern, std::regex::ECMAScript))) matched = true;
          } catch (const std::regex_error&) {
            problems.push_back("patternProperties '" + pattern + "' is not a valid regex");
          }
        }
      }
      if (!matched) problems.push_back("the configuration key '" + key + "' is not in the schema");
    }
  }

  void CheckSchema() {
    const auto schema = nlohmann::json::parse(info_.config_schema_json, nullptr, false);
    std::vector<std::string> problems;
    std::vector<std::string> secrets;
    if (schema.is_discarded() || !schema.is_object()) {
      report_.Fail("config-schema", "not a JSON object");
      return;
    }
    if (auto type = schema.find("type"); type == schema.end() || *type != "object") {
      problems.push_back(
          "the root schema must say \"type\": \"object\" (a configuration is an "
          "object)");
    }
    WalkSchema(schema, "", secrets, problems);
    CheckConfigAgainst(schema, config_json_, problems);
    std::string joined;
    for (const std::string& p : problems) joined += (joined.empty() ? "" : "; ") + p;
    std::string secret_list;
    for (const std::string& s : secrets) secret_list += (secret_list.empty() ? "" : ", ") + s;
    report_.Check(problems.empty(), "config-schema",
                  problems.empty()
                      ? fmt::format("valid JSON Schema object; the configuration fits it; secrets "
                                    "(x-reglo-secret): {}",
                                    secrets.empty() ? "none" : secret_list)
                      : joined);
  }

  PullResult Pull(const std::string& stream, const std::optional<std::string>& cursor,
                  Injection injection, const std::string& label) {
    PullResult result;
    const Clock::time_point start = Clock::now();
    const Clock::time_point deadline = start + std::chrono::milliseconds(options_.timeout_ms);
    result.recorder = std::make_unique<Recorder>(injection, deadline, &known_bad_);
    // The watchdog's bound: the pull's timeout plus the cancellation bound after should_stop.
    watchdog_.Arm(label, deadline + std::chrono::milliseconds(options_.cancel_bound_ms),
                  options_.timeout_ms + options_.cancel_bound_ms);
    result.status = instance_->Pull(stream, cursor, *result.recorder);
    watchdog_.Disarm();
    result.ms = MillisSince(start);
    if (auto stop = result.recorder->stop_requested_at()) result.ms_after_stop = MillisSince(*stop);
    return result;
  }

  // Maps one record and returns its signature: the source identity plus the identity and content
  // hash of each canonical record it maps to. Equal signatures mean the hub would store the same.
  std::string Signature(const OwnedRecord& record, MapStats* stats) {
    std::string signature = record.Key();
    ProblemList& failures = known_bad_.contains(record.origin) ? stats->expected : stats->failures;
    RecordView view(record);
    std::vector<model::RawField> fields;
    Status mapped = instance_->MapToCanonical(view.get(), [&](const reglo_record& canonical) {
      ++stats->canonical;
      ProblemList shape;
      CheckRecordShape(canonical, "canonical record of " + Printable(record.Key()), 0, shape);
      if (!shape.empty()) {
        failures.Add(shape.Join());
        if (canonical.struct_size < sizeof(reglo_record)) return Status::Ok();
      }
      const std::string entity = canonical.entity ? canonical.entity : "";
      const std::vector<std::string>& declared = info_.entities;
      if (std::find(declared.begin(), declared.end(), entity) == declared.end()) {
        stats->foreign_entities.insert(Printable(entity));
      }
      fields.clear();
      for (size_t i = 0; i < canonical.field_count && canonical.fields != nullptr; ++i) {
        const reglo_field& field = canonical.fields[i];
        if (field.name == nullptr) continue;
        model::RawField raw{field.name, std::nullopt};
        if (field.value != nullptr) raw.value = std::string_view(field.value, field.value_len);
        fields.push_back(raw);
      }
      const std::string external_id = canonical.external_id ? canonical.external_id : "";
      model::RawRecordView raw{entity,
                               kCompany,
                               kSourceSystem,
                               external_id,
                               std::nullopt,
                               fields,
                               canonical.origin ? canonical.origin : ""};
      if (canonical.source_updated_at != nullptr)
        raw.source_updated_at = canonical.source_updated_at;
      auto validated = model::Validate(raw);
      if (const auto* rejection = std::get_if<model::Rejection>(&validated)) {
        failures.Add(fmt::format("{}: rejected by validation: {}", Printable(record.Key()),
                                 rejection->reason));
        signature += "|rejected:" + entity + "/" + external_id;
        return Status::Ok();
      }
      const auto& valid = std::get<model::CanonicalRecord>(validated);
      if (!valid.warnings.empty()) {
        ++stats->warned;
        for (const std::string& warning : valid.warnings) {
          if (stats->warnings.size() < kMaxListed) {
            stats->warnings.push_back(Printable(record.Key()) + ": " + warning);
          }
        }
      }
      if (!stats->ids[entity].insert(external_id).second) {
        stats->duplicate_ids.Add(fmt::format("canonical {}/{}", entity, Printable(external_id)));
      }
      signature += "|" + entity + "/" + external_id + "#" + valid.content_hash;
      return Status::Ok();
    });
    if (!mapped.ok()) {
      failures.Add(fmt::format("{}: map_to_canonical failed: {}", Printable(record.Key()),
                               mapped.ToString()));
      signature += "|map-failed";
    }
    return signature;
  }

  std::vector<std::string> Signatures(const std::vector<OwnedRecord>& records, size_t from = 0,
                                      size_t to = SIZE_MAX) {
    std::vector<std::string> out;
    MapStats ignored;
    for (size_t i = from; i < std::min(to, records.size()); ++i) {
      out.push_back(Signature(records[i], &ignored));
    }
    return out;
  }

  // Compares two multisets of signatures; returns what differs, or "" when equal.
  static std::string Difference(std::vector<std::string> expected, std::vector<std::string> got) {
    std::sort(expected.begin(), expected.end());
    std::sort(got.begin(), got.end());
    std::vector<std::string> missing, extra;
    std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(),
                        std::back_inserter(missing));
    std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(),
                        std::back_inserter(extra));
    if (missing.empty() && extra.empty()) return "";
    auto key = [](const std::string& signature) {
      return Printable(signature.substr(0, signature.find('|')));
    };
    std::string text =
        fmt::format("{} expected records missing, {} unexpected", missing.size(), extra.size());
    if (!missing.empty()) text += " (first missing: " + key(missing.front()) + ")";
    if (!extra.empty()) {
      // A key that is expected but differs in content is a changed record, not a new one.
      const std::string k = key(extra.front());
      const bool known = std::any_of(expected.begin(), expected.end(),
                                     [&](const std::string& s) { return key(s) == k; });
      text += fmt::format(" (first unexpected: {}{})", k,
                          known ? ", same id with other content or emitted twice" : "");
    }
    return text;
  }

  void CheckStream(const std::string& stream) {
    const std::string prefix = "[" + Printable(stream) + "] ";
    // 1. The full pull, from no cursor.
    PullResult full = Pull(stream, std::nullopt, {}, prefix + "full-pull");
    Recorder& rec = *full.recorder;
    if (!full.status.ok() || rec.timed_out()) {
      report_.Fail(prefix + "full-pull",
                   rec.timed_out()
                       ? fmt::format("did not finish within --timeout-ms {}", options_.timeout_ms)
                       : full.status.ToString());
      return;
    }
    report_.Pass(
        prefix + "full-pull",
        fmt::format("{} records, {} checkpoints, {} warnings in {:.0f} ms", rec.records.size(),
                    rec.checkpoints.size(), rec.warning_count, full.ms));
    for (const std::string& warning : rec.warnings) report_.Info("warning " + warning);

    report_.Check(rec.shape_problems.empty(), prefix + "record-shape",
                  rec.shape_problems.empty()
                      ? "every record has struct_size, entity, external_id, and UTF-8 text"
                      : rec.shape_problems.Join());

    ProblemList checkpoint_problems = rec.checkpoint_problems;
    if (rec.records.size() > rec.committed()) {
      checkpoint_problems.Add(fmt::format(
          "{} records were emitted after the last checkpoint: an OK pull must end with a "
          "checkpoint covering every record, or they are never committed",
          rec.records.size() - rec.committed()));
    }
    report_.Check(
        checkpoint_problems.empty(), prefix + "checkpoints",
        checkpoint_problems.empty()
            ? fmt::format("{} checkpoints, record counts consistent, final cursor {} "
                          "bytes",
                          rec.checkpoints.size(),
                          rec.checkpoints.empty() ? 0 : rec.checkpoints.back().cursor.size())
            : checkpoint_problems.Join());

    // 2. Identity: externalIds non-empty and unique per source entity.
    ProblemList id_problems;
    ProblemList expected;
    std::map<std::string, std::set<std::string>> seen;
    for (size_t i = 0; i < rec.records.size(); ++i) {
      const OwnedRecord& r = rec.records[i];
      if (r.external_id.empty() && known_bad_.contains(r.origin)) {
        expected.Add(fmt::format("record #{} ({}) has no externalId", i + 1, Printable(r.origin)));
      } else if (r.external_id.empty()) {
        id_problems.Add(
            fmt::format("record #{} ({}) has no externalId", i + 1, Printable(r.origin)));
      } else if (!seen[r.entity].insert(r.external_id).second) {
        id_problems.Add(fmt::format("{} emitted twice in one pull", Printable(r.Key())));
      }
    }

    // 3. Mapping: every record maps to canonical records that validation accepts.
    MapStats stats;
    std::vector<std::string> signatures;
    signatures.reserve(rec.records.size());
    for (const OwnedRecord& r : rec.records) signatures.push_back(Signature(r, &stats));
    if (!stats.duplicate_ids.empty()) id_problems.Add(stats.duplicate_ids.Join());
    report_.Check(id_problems.empty(), prefix + "external-ids",
                  id_problems.empty() ? "non-empty and unique per entity (source and canonical)"
                                      : id_problems.Join());
    report_.Check(stats.failures.empty(), prefix + "mapping",
                  stats.failures.empty()
                      ? fmt::format("{} records -> {} canonical records, all accepted by "
                                    "validation; {} with warnings",
                                    rec.records.size(), stats.canonical, stats.warned)
                      : stats.failures.Join());
    for (const std::string& warning : stats.warnings) report_.Info("validation warning " + warning);
    for (const ProblemList* list : {&rec.expected_problems, &expected, &stats.expected}) {
      if (!list->empty()) report_.Info("expected (--known-bad): " + list->Join());
    }
    std::string foreign;
    for (const std::string& e : stats.foreign_entities)
      foreign += (foreign.empty() ? "" : ", ") + e;
    report_.Check(stats.foreign_entities.empty(), prefix + "entities",
                  stats.foreign_entities.empty()
                      ? "canonical entities produced are all declared in the descriptor"
                      : "produced entities the descriptor does not declare: " + foreign);

    const std::optional<std::string> final_cursor = rec.last_cursor();
    // 4. Nothing new after the final cursor.
    if (!final_cursor) {
      report_.Pass(prefix + "second-pull", "skipped: the full pull emitted no checkpoint");
    } else {
      PullResult again = Pull(stream, final_cursor, {}, prefix + "second-pull");
      const bool ok = again.status.ok() && again.recorder->records.empty();
      report_.Check(ok, prefix + "second-pull",
                    ok ? fmt::format("nothing new from the final cursor ({:.0f} ms)", again.ms)
                    : !again.status.ok()
                        ? again.status.ToString()
                        : fmt::format("{} records re-emitted from the final cursor (first: {})",
                                      again.recorder->records.size(),
                                      Printable(again.recorder->records.front().Key())));
    }

    CheckReplays(stream, prefix, rec, signatures);
    CheckForeignCursors(stream, prefix, final_cursor, signatures);
    CheckCancellation(stream, prefix, rec, signatures);
    CheckFailures(stream, prefix, rec, signatures);
  }

  // 5. Replay from each intermediate checkpoint gives the tail of the full pull.
  void CheckReplays(const std::string& stream, const std::string& prefix, const Recorder& rec,
                    const std::vector<std::string>& signatures) {
    std::vector<size_t> candidates;
    for (size_t i = 0; i + 1 < rec.checkpoints.size(); ++i) {
      if (rec.checkpoints[i].cursor != rec.checkpoints.back().cursor) candidates.push_back(i);
    }
    if (candidates.empty()) {
      report_.Pass(prefix + "replay",
                   "skipped: no intermediate checkpoint (use a configuration "
                   "with more records or a smaller checkpoint interval)");
      return;
    }
    std::vector<size_t> chosen;
    const size_t n = std::min(candidates.size(), std::max<size_t>(options_.max_replays, 1));
    for (size_t k = 0; k < n; ++k) chosen.push_back(candidates[k * candidates.size() / n]);
    ProblemList problems;
    for (size_t index : chosen) {
      const CheckpointSeen& checkpoint = rec.checkpoints[index];
      PullResult replay =
          Pull(stream, checkpoint.cursor, {}, fmt::format("{}replay #{}", prefix, index + 1));
      if (!replay.status.ok()) {
        problems.Add(fmt::format("from checkpoint #{}: {}", index + 1, replay.status.ToString()));
        continue;
      }
      const std::vector<std::string> tail(
          signatures.begin() + static_cast<long>(checkpoint.covered), signatures.end());
      std::string diff = Difference(tail, Signatures(replay.recorder->records));
      if (!diff.empty()) {
        problems.Add(fmt::format("from checkpoint #{} (after {} records): {}", index + 1,
                                 checkpoint.covered, diff));
      }
    }
    report_.Check(
        problems.empty(), prefix + "replay",
        problems.empty()
            ? fmt::format("{} of {} intermediate checkpoints replayed: each gives exactly "
                          "the rest of the full pull (ids and content hashes)",
                          chosen.size(), candidates.size())
            : problems.Join());
  }

  // 6. Cursors the plugin never issued. Accepted answers, per cursor:
  //   - a cursor "from the future" (derived from a numeric or timestamp final cursor): OK with no
  //     records, or a clean error (non-OK status with a reason);
  //   - a foreign cursor (not of this plugin's syntax): the above, or a restart from the
  //     beginning — but only with records of the full pull, each at most once (no duplicates,
  //     nothing invented). Any crash or hang fails (the process or the watchdog ends the run).
  void CheckForeignCursors(const std::string& stream, const std::string& prefix,
                           const std::optional<std::string>& final_cursor,
                           const std::vector<std::string>& signatures) {
    struct Probe {
      std::string cursor;
      bool future;
    };
    std::vector<Probe> probes;
    if (final_cursor && !final_cursor->empty() &&
        std::all_of(final_cursor->begin(), final_cursor->end(),
                    [](char c) { return c >= '0' && c <= '9'; })) {
      probes.push_back({"999999999999999999", true});
    } else if (final_cursor && model::NormalizeTimestampUtc(*final_cursor)) {
      probes.push_back({"9999-12-31T23:59:59Z", true});
    }
    probes.push_back({"reglo-check:foreign-cursor", false});
    probes.push_back({"{}", false});
    probes.push_back({"\x01\x02not a cursor\xff", false});
    std::multiset<std::string> full(signatures.begin(), signatures.end());
    ProblemList problems;
    std::vector<std::string> notes;
    for (const Probe& probe : probes) {
      const std::string shown = probe.future ? "future cursor '" + probe.cursor + "'"
                                             : "foreign cursor '" + Printable(probe.cursor) + "'";
      PullResult result = Pull(stream, probe.cursor, {}, prefix + "foreign-cursor");
      const std::vector<OwnedRecord>& records = result.recorder->records;
      if (!result.status.ok() && result.status.message().empty()) {
        problems.Add(shown + ": failed without a reason");
        continue;
      }
      if (records.empty()) {
        notes.push_back(shown + (result.status.ok() ? ": nothing" : ": clean error"));
        continue;
      }
      if (probe.future) {
        problems.Add(fmt::format("{}: {} records emitted, expected none", shown, records.size()));
        continue;
      }
      std::vector<std::string> got = Signatures(records);
      std::multiset<std::string> got_set(got.begin(), got.end());
      std::set<std::string> keys;
      bool duplicate = false;
      for (const OwnedRecord& r : records) duplicate |= !keys.insert(r.Key()).second;
      const bool subset = std::all_of(got_set.begin(), got_set.end(), [&](const std::string& s) {
        return got_set.count(s) <= full.count(s);
      });
      if (duplicate || !subset) {
        problems.Add(fmt::format("{}: {} records, {}", shown, records.size(),
                                 duplicate ? "some emitted twice" : "some not in the full pull"));
      } else {
        notes.push_back(
            fmt::format("{}: restart from the beginning ({} records)", shown, records.size()));
      }
    }
    std::string joined;
    for (const std::string& note : notes) joined += (joined.empty() ? "" : "; ") + note;
    report_.Check(problems.empty(), prefix + "foreign-cursor",
                  problems.empty() ? joined : problems.Join());
  }

  // Records committed by a failed pull (up to its last accepted checkpoint) plus a resume from
  // that checkpoint must be exactly the full pull: nothing lost, nothing twice.
  std::string ResumeDifference(const std::string& stream, const std::string& label,
                               const Recorder& failed, const std::vector<std::string>& signatures) {
    PullResult resumed = Pull(stream, failed.last_cursor(), {}, label + " (resume)");
    if (!resumed.status.ok()) return "the resumed pull failed: " + resumed.status.ToString();
    std::vector<std::string> got = Signatures(failed.records, 0, failed.committed());
    std::vector<std::string> rest = Signatures(resumed.recorder->records);
    got.insert(got.end(), rest.begin(), rest.end());
    return Difference(signatures, got);
  }

  // 7. Cancellation: should_stop turns true after K records.
  void CheckCancellation(const std::string& stream, const std::string& prefix, const Recorder& rec,
                         const std::vector<std::string>& signatures) {
    const std::string name = prefix + "cancellation";
    if (rec.records.size() < 2) {
      report_.Pass(name, "skipped: fewer than 2 records in the stream");
      return;
    }
    const size_t k = rec.records.size() / 2;
    PullResult stopped = Pull(stream, std::nullopt, StopAfter(k), name);
    std::vector<std::string> problems;
    if (stopped.status.code() != StatusCode::kRetryable) {
      problems.push_back(
          stopped.status.ok()
              ? fmt::format("returned OK after emitting {} records although should_stop was true "
                            "after {}; it must return RETRY",
                            stopped.recorder->records.size(), k)
              : "returned " + stopped.status.ToString() + " instead of RETRY");
    }
    if (stopped.ms_after_stop > options_.cancel_bound_ms) {
      problems.push_back(fmt::format("took {:.0f} ms to return after should_stop (bound {} ms)",
                                     stopped.ms_after_stop, options_.cancel_bound_ms));
    }
    if (std::string diff = ResumeDifference(stream, name, *stopped.recorder, signatures);
        !diff.empty()) {
      problems.push_back("committed + resumed records differ from the full pull: " + diff);
    }
    std::string joined;
    for (const std::string& p : problems) joined += (joined.empty() ? "" : "; ") + p;
    report_.Check(problems.empty(), name,
                  problems.empty()
                      ? fmt::format("asked to stop after {} records: RETRY {:.1f} ms later with {} "
                                    "more records; resuming from its last checkpoint ({} records "
                                    "committed) gives the rest exactly",
                                    k, stopped.ms_after_stop, stopped.recorder->records_after_stop,
                                    stopped.recorder->committed())
                      : joined);
  }

  // 8. RETRY/ERROR leave the cursor where it was: the host refuses a record, then a checkpoint,
  // as a store outage would; the pull must fail, and its last accepted checkpoint must be a
  // consistent place to resume from.
  void CheckFailures(const std::string& stream, const std::string& prefix, const Recorder& rec,
                     const std::vector<std::string>& signatures) {
    struct Case {
      std::string name;
      Injection injection;
      std::string what;
    };
    std::vector<Case> cases;
    if (!rec.records.empty()) {
      const size_t at = rec.records.size() / 2;
      cases.push_back({prefix + "failed-pull-record", RefuseRecord(at),
                       fmt::format("record #{} refused with RETRY", at + 1)});
    }
    if (rec.checkpoints.size() >= 2) {
      cases.push_back({prefix + "failed-pull-checkpoint", RefuseCheckpoint(1),
                       "checkpoint #2 refused with RETRY"});
    }
    if (cases.empty()) {
      report_.Pass(prefix + "failed-pull", "skipped: the stream has no records");
      return;
    }
    for (const Case& c : cases) {
      PullResult failed = Pull(stream, std::nullopt, c.injection, c.name);
      std::vector<std::string> problems;
      if (failed.status.ok()) problems.push_back("the pull returned OK after the host refused");
      if (std::string diff = ResumeDifference(stream, c.name, *failed.recorder, signatures);
          !diff.empty()) {
        problems.push_back("committed + resumed records differ from the full pull: " + diff);
      }
      std::string joined;
      for (const std::string& p : problems) joined += (joined.empty() ? "" : "; ") + p;
      report_.Check(problems.empty(), c.name,
                    problems.empty()
                        ? fmt::format("{}: the pull failed ({:.0f} ms), the cursor stayed at its "
                                      "last accepted checkpoint ({} records), resuming gives the "
                                      "rest exactly",
                                      c.what, failed.ms, failed.recorder->committed())
                        : c.what + ": " + joined);
    }
  }

  const Options& options_;
  std::FILE* out_;
  Report report_;
  Watchdog watchdog_;
  nlohmann::json config_json_;
  std::shared_ptr<LoadedPlugin> plugin_;  // in-process only
  plugin_host::PluginInfo info_;
  std::unique_ptr<ConnectorInstance> instance_;
  std::vector<std::string> log_lines_;
  const std::set<std::string> known_bad_{options_.known_bad.begin(), options_.known_bad.end()};
};

}  // namespace

int RunChecks(const Options& options, std::FILE* out) {
  Checker checker(options, out);
  return checker.Run();
}

}  // namespace reglo::connector_check
