// A template Reglo connector built with the C++ SDK (reglo/connector.hpp): it "reads" a source of
// `students` numbered student records and keeps a numeric cursor (the number of records read).
// Replace Pull() with calls to your system's API and Map() with your field mapping.
// Thread-safety: one instance is used by one thread at a time (the ABI's contract); instances
// share nothing, so one library serves many sources at once.
#include <charconv>
#include <memory>
#include <reglo/connector.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace {

using reglo::sdk::Status;

class TemplateConnector final : public reglo::sdk::Connector {
 public:
  // The descriptor: the hub lists and checks these before creating an instance.
  static constexpr const char* kName = "template";
  static constexpr const char* kVersion = "0.1.0";
  static constexpr const char* kVendor = "Example Vendor";
  static constexpr const char* kDescription = "Template connector: numbered student records";
  static constexpr std::array<const char*, 1> kEntities = {"student"};
  // JSON Schema of the configuration; mark secrets with "x-reglo-secret": true.
  static constexpr const char* kConfigSchema = R"json({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
      "students": {"type": "integer", "minimum": 0},
      "checkpoint_every": {"type": "integer", "minimum": 1},
      "api_key": {"type": "string", "x-reglo-secret": true},
      "base_dir": {"type": "string"}
    }
  })json";

  // Called once per configured source. Throwing sdk::Failure (or any exception) is fine: the SDK
  // turns it into a status at the C boundary.
  static std::unique_ptr<TemplateConnector> Create(const reglo::sdk::Context&,
                                                   std::string_view config_json) {
    auto connector = std::unique_ptr<TemplateConnector>(new TemplateConnector());
    connector->students_ = ReadNumber(config_json, "students", 10);
    connector->checkpoint_every_ = ReadNumber(config_json, "checkpoint_every", 100);
    if (connector->checkpoint_every_ == 0) {
      throw reglo::sdk::Failure(Status::ConfigError("checkpoint_every must be at least 1"));
    }
    return connector;
  }

  std::vector<std::string> Streams(const reglo::sdk::Context&) override { return {"student"}; }

  Status Pull(const reglo::sdk::Context&, std::string_view stream,
              std::optional<std::string_view> since_cursor, reglo::sdk::Emitter& emitter) override {
    if (stream != "student") return Status::ConfigError("unknown stream");
    uint64_t next = 0;
    if (since_cursor) {
      // A cursor this connector did not write is refused cleanly rather than guessed at.
      auto [end, error] =
          std::from_chars(since_cursor->data(), since_cursor->data() + since_cursor->size(), next);
      if (error != std::errc() || end != since_cursor->data() + since_cursor->size()) {
        return Status::ConfigError("unusable cursor; clear the source's cursor to start over");
      }
    }
    reglo::sdk::Record record;
    for (; next < students_; ++next) {
      if (emitter.ShouldStop()) return Status::Retry("stopped on request");
      record.Clear();
      record.SetEntity("student");
      record.SetExternalId("T" + std::to_string(next));
      record.SetSourceUpdatedAt("2026-01-01T00:00:00Z");
      record.SetOrigin("template:" + std::to_string(next));
      record.Set("nome", "Studente" + std::to_string(next));
      record.Set("cognome", "Esempio");
      if (Status status = emitter.Emit(record); !status.ok()) return status;
      // A checkpoint says: everything emitted so far is covered by this cursor.
      if ((next + 1) % checkpoint_every_ == 0) {
        if (Status status = emitter.Checkpoint(std::to_string(next + 1)); !status.ok()) {
          return status;
        }
      }
    }
    return emitter.Checkpoint(std::to_string(next));  // always end with one
  }

  // Source-shaped record -> canonical record (Reglo's field names).
  Status Map(const reglo::sdk::Context&, const reglo::sdk::RecordView& source,
             reglo::sdk::CanonicalSink& sink) override {
    mapped_.Clear();
    mapped_.SetEntity("student");
    mapped_.SetExternalId(std::string(source.external_id()));
    if (auto at = source.source_updated_at()) mapped_.SetSourceUpdatedAt(std::string(*at));
    mapped_.SetOrigin(std::string(source.origin()));
    mapped_.Set("firstName", source.Get("nome"));
    mapped_.Set("lastName", source.Get("cognome"));
    return sink.Emit(mapped_);
  }

 private:
  TemplateConnector() = default;

  // A real connector parses its config with a JSON library; this keeps the template
  // dependency-free.
  static uint64_t ReadNumber(std::string_view json, std::string_view key, uint64_t fallback) {
    const std::string quoted = "\"" + std::string(key) + "\"";
    size_t at = json.find(quoted);
    if (at == std::string_view::npos) return fallback;
    at = json.find(':', at + quoted.size());
    if (at == std::string_view::npos) return fallback;
    ++at;
    while (at < json.size() && json[at] == ' ') ++at;
    uint64_t value = fallback;
    std::from_chars(json.data() + at, json.data() + json.size(), value);
    return value;
  }

  uint64_t students_ = 0;
  uint64_t checkpoint_every_ = 1;
  reglo::sdk::Record mapped_;
};

}  // namespace

REGLO_EXPORT_CONNECTOR(TemplateConnector)
