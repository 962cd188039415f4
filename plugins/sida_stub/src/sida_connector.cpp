// The "sida_stub" connector plugin: a real connector (C ABI through the C++ SDK) in front of the
// simulated SIDA system of simulation.h. Each pull reads the delta API page by page from the
// cursor, emits one record per change and a checkpoint per page, and applies the configured
// faults. Records are canonical-shaped already, so map_to_canonical is the identity.
// Thread-safety: one instance is used by one thread at a time (the ABI's contract); the simulated
// system shared between instances guards its own state.
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <reglo/connector.hpp>
#include <string>
#include <thread>
#include <vector>

#include "reglo/sida_stub/simulation.h"

#ifndef SIDA_STUB_NAME
#define SIDA_STUB_NAME "sida_stub"
#endif
#ifndef SIDA_STUB_VERSION
#define SIDA_STUB_VERSION "1.0.0"
#endif

namespace reglo::sida {
namespace {

using nlohmann::json;
using sdk::Status;

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "sida_stub: a simulated SIDA system",
  "type": "object",
  "properties": {
    "system": {"type": "string",
               "description": "name of the simulated system (shared call counters)"},
    "api_key": {"type": "string", "x-reglo-secret": true},
    "seed": {"type": "integer", "minimum": 0},
    "students": {"type": "integer", "minimum": 1},
    "changes": {"type": "integer", "minimum": 0},
    "new_changes_per_pull": {"type": "integer", "minimum": 0},
    "page_size": {"type": "integer", "minimum": 1},
    "malformed_every": {"type": "integer", "minimum": 0},
    "faults": {
      "type": "object",
      "properties": {
        "auth_error": {"type": "boolean"},
        "transient_every": {"type": "integer", "minimum": 0},
        "rate_limit_every": {"type": "integer", "minimum": 0},
        "retry_after_ms": {"type": "integer", "minimum": 0},
        "slow_ms": {"type": "integer", "minimum": 0},
        "hang_every": {"type": "integer", "minimum": 0},
        "hang_ms": {"type": "integer", "minimum": -1},
        "hang_release_file": {"type": "string"}
      }
    }
  }
})json";

// Reads an integer option; the error names the key.
int64_t ReadInt(const json& object, const char* key, int64_t fallback, int64_t minimum,
                const std::string& prefix = "") {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < minimum) {
    throw sdk::Failure(
        Status::ConfigError(prefix + key + ": expected an integer >= " + std::to_string(minimum)));
  }
  return it->get<int64_t>();
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

class SidaConnector final : public sdk::Connector {
 public:
  static constexpr const char* kName = SIDA_STUB_NAME;
  static constexpr const char* kVersion = SIDA_STUB_VERSION;
  static constexpr const char* kVendor = "Reglo (simulation)";
  static constexpr const char* kDescription =
      "A simulated SIDA driving-school system: seeded data, a paginated delta API, faults";
  static constexpr const char* kConfigSchema = kSchema;
  static constexpr std::array<const char*, 3> kEntities = {"student", "case", "appointment"};

  static std::unique_ptr<SidaConnector> Create(const sdk::Context&, std::string_view config_json) {
    const json config = json::parse(config_json, nullptr, false);
    if (config.is_discarded() || !config.is_object()) {
      throw sdk::Failure(Status::ConfigError("the configuration is not a JSON object"));
    }
    auto connector = std::make_unique<SidaConnector>();
    DataOptions& data = connector->data_;
    data.seed = static_cast<uint64_t>(ReadInt(config, "seed", 1, 0));
    data.students = ReadInt(config, "students", data.students, 1);
    data.changes = ReadInt(config, "changes", data.changes, 0);
    data.new_changes_per_pull = ReadInt(config, "new_changes_per_pull", 0, 0);
    data.page_size = ReadInt(config, "page_size", data.page_size, 1);
    data.malformed_every = ReadInt(config, "malformed_every", 0, 0);
    if (auto faults = config.find("faults"); faults != config.end()) {
      if (!faults->is_object())
        throw sdk::Failure(Status::ConfigError("faults: expected an object"));
      FaultOptions& f = connector->faults_;
      if (auto auth = faults->find("auth_error"); auth != faults->end()) {
        if (!auth->is_boolean()) {
          throw sdk::Failure(Status::ConfigError("faults.auth_error: expected true or false"));
        }
        f.auth_error = auth->get<bool>();
      }
      f.transient_every = ReadInt(*faults, "transient_every", 0, 0, "faults.");
      f.rate_limit_every = ReadInt(*faults, "rate_limit_every", 0, 0, "faults.");
      f.retry_after_ms =
          static_cast<uint32_t>(ReadInt(*faults, "retry_after_ms", 2000, 0, "faults."));
      f.slow_ms = ReadInt(*faults, "slow_ms", 0, 0, "faults.");
      f.hang_every = ReadInt(*faults, "hang_every", 0, 0, "faults.");
      f.hang_ms = ReadInt(*faults, "hang_ms", -1, -1, "faults.");
      if (auto file = faults->find("hang_release_file"); file != faults->end()) {
        if (!file->is_string()) {
          throw sdk::Failure(Status::ConfigError("faults.hang_release_file: expected a string"));
        }
        f.hang_release_file = file->get<std::string>();
      }
    }
    // Instances configured alike talk to the same simulated system (its counters are shared).
    std::string system = config.value("system", std::string());
    connector->system_ = &SimulatedSystem::Get(system.empty() ? config.dump() : system);
    return connector;
  }

  Status Authenticate(const sdk::Context&) override {
    if (faults_.auth_error) return Status::AuthError("SIDA refused the API key (HTTP 401)");
    return Status::Ok();
  }

  std::vector<std::string> Streams(const sdk::Context&) override {
    std::vector<std::string> streams;
    for (const auto& [stream, entity] : sida::Streams()) streams.push_back(stream);
    return streams;
  }

  Status Pull(const sdk::Context& ctx, std::string_view stream,
              std::optional<std::string_view> since_cursor, sdk::Emitter& emitter) override {
    int64_t after = 0;
    if (since_cursor) {
      std::optional<int64_t> parsed = ParseCursor(*since_cursor);
      if (!parsed)
        return Status::ConfigError("cursor not understood: " + std::string(*since_cursor));
      after = *parsed;
    }
    const int64_t visible = system_->BeginPull(data_, std::string(stream));
    ctx.Info(std::string(kName) + " " + kVersion + ": pulling " + std::string(stream) +
             " after change " + std::to_string(after));
    while (true) {
      if (emitter.ShouldStop()) return Status::Retry("stopped on the host's request");
      Status call = Call(emitter);
      if (!call.ok()) return call;
      std::vector<Change> page = Page(data_, stream, after, visible);
      if (page.empty()) return Status::Ok();
      for (const Change& change : page) {
        sdk::Record record(change.entity, change.external_id);
        record.SetSourceUpdatedAt(change.updated_at);
        record.SetOrigin(std::string(stream) + "#" + std::to_string(change.sequence));
        for (const Field& field : change.fields) record.Set(field.name, field.value);
        Status emitted = emitter.Emit(record);
        if (!emitted.ok()) return emitted;
      }
      after = page.back().sequence;
      Status checkpointed = emitter.Checkpoint(FormatCursor(after));
      if (!checkpointed.ok()) return checkpointed;
      if (static_cast<int64_t>(page.size()) < data_.page_size) return Status::Ok();
    }
  }

  Status Map(const sdk::Context&, const sdk::RecordView& source,
             sdk::CanonicalSink& sink) override {
    sdk::Record record{std::string(source.entity()), std::string(source.external_id())};
    if (auto at = source.source_updated_at()) record.SetSourceUpdatedAt(std::string(*at));
    record.SetOrigin(std::string(source.origin()));
    for (const reglo_field& field : source.fields()) {
      std::optional<std::string> value;
      if (field.value != nullptr) value.emplace(field.value, field.value_len);
      record.Set(field.name ? field.name : "", std::move(value));
    }
    return sink.Emit(record);
  }

 private:
  // One call of the delta API, with the faults the simulated system decides on.
  Status Call(sdk::Emitter& emitter) {
    switch (system_->NextCall(faults_)) {
      case CallOutcome::kOk: break;
      case CallOutcome::kAuthError: return Status::AuthError("SIDA refused the API key (HTTP 401)");
      case CallOutcome::kTransient: return Status::Retry("SIDA answered 503 Service Unavailable");
      case CallOutcome::kRateLimited:
        return Status::RateLimited("SIDA answered 429 Too Many Requests", faults_.retry_after_ms);
      case CallOutcome::kHang: Hang(); break;
    }
    // A slow call: a well-behaved client still notices a stop request while it waits.
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(faults_.slow_ms);
    while (std::chrono::steady_clock::now() < until) {
      if (emitter.ShouldStop()) return Status::Retry("stopped on the host's request");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Status::Ok();
  }

  // A hung call: blocks without looking at should_stop, like a socket read with no timeout.
  void Hang() const {
    const auto start = std::chrono::steady_clock::now();
    while (!FileExists(faults_.hang_release_file)) {
      if (faults_.hang_ms >= 0 &&
          std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(faults_.hang_ms)) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  DataOptions data_;
  FaultOptions faults_;
  SimulatedSystem* system_ = nullptr;
};

}  // namespace
}  // namespace reglo::sida

REGLO_EXPORT_CONNECTOR(reglo::sida::SidaConnector)
