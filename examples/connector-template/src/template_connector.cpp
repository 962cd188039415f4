// A template Reglo connector built with the C++ SDK (reglo/connector.hpp): it reads `students`
// student rows from a stand-in for your system (SourceRow) and keeps a numeric cursor (the number
// of rows read). Copy it, then replace SourceRow/Pull with calls to your system's API and Map with
// your field mapping: ParseConfig and Map are meant to be kept, in shape.
// Thread-safety: one instance is used by one thread at a time (the ABI's contract); instances
// share nothing, so one library serves many sources at once.
#include <array>
#include <charconv>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <reglo/connector.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace {

using reglo::sdk::Status;

// The configuration, read once by Create. Every key is optional and has the default shown.
struct Config {
  uint64_t students = 10;           // rows the stand-in source holds
  uint64_t checkpoint_every = 100;  // rows per checkpoint (progress is committed at each)
  std::string api_key;  // a secret for your system's client (the hub masks it); unused here
};

// Reads the configuration, refusing what it does not understand with a message that starts with
// the key ("checkpoint_every: expected a whole number from 1 to 1000000, got \"5\""): a typo
// in a key or a value is an error the operator sees, never a silent default.
Config ParseConfig(std::string_view text) {
  auto fail = [](const std::string& message) {
    throw reglo::sdk::Failure(Status::ConfigError(message));
  };
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) fail("the configuration is not a JSON object");
  auto whole_number = [&](const char* key, uint64_t min, uint64_t max, uint64_t fallback) {
    const auto it = json.find(key);
    if (it == json.end()) return fallback;
    if (!it->is_number_integer() || it->get<int64_t>() < static_cast<int64_t>(min) ||
        it->get<int64_t>() > static_cast<int64_t>(max)) {
      fail(std::string(key) + ": expected a whole number from " + std::to_string(min) + " to " +
           std::to_string(max) + ", got " + it->dump().substr(0, 40));
    }
    return it->get<uint64_t>();
  };
  Config config;
  for (const auto& item : json.items()) {
    const std::string& key = item.key();
    // "base_dir" is set by the hub for every connector (the config file's folder).
    if (key != "students" && key != "checkpoint_every" && key != "api_key" && key != "base_dir") {
      fail("unknown key '" + key.substr(0, 40) + "' (known: students, checkpoint_every, api_key)");
    }
  }
  config.students = whole_number("students", 0, 1'000'000, config.students);
  config.checkpoint_every = whole_number("checkpoint_every", 1, 1'000'000, config.checkpoint_every);
  if (const auto it = json.find("api_key"); it != json.end()) {
    if (!it->is_string() || it->get<std::string>().empty()) {
      fail("api_key: expected a non-empty string");
    }
    config.api_key = it->get<std::string>();
  }
  return config;
}

// ---- the stand-in source: replace with your system -------------------------------------------

// One student row as a typical Italian management system exports it.
struct SourceStudent {
  std::string id, nome, cognome, codice_fiscale, data_nascita /* dd/mm/yyyy */, email, telefono;
};

// The check character of a codice fiscale's first 15 characters (only the stand-in needs it:
// your system holds real codes).
char CheckCharacter(std::string_view first15) {
  static constexpr std::array<int, 26> kOdd = {1,  0,  5, 7, 9, 13, 15, 17, 19, 21, 2,  4,  18,
                                               20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23};
  int sum = 0;
  for (size_t i = 0; i < first15.size(); ++i) {
    const char c = first15[i];
    const int index = c >= '0' && c <= '9' ? c - '0' : c - 'A';
    sum += i % 2 == 0 ? kOdd[static_cast<size_t>(index)] : index;
  }
  return static_cast<char>('A' + sum % 26);
}

std::string TwoDigits(int value) {
  return std::string(1, static_cast<char>('0' + value / 10)) + static_cast<char>('0' + value % 10);
}

// Row `n` of the stand-in source: deterministic, so a second pull finds the same data.
SourceStudent SourceRow(uint64_t n) {
  struct Name {
    const char* text;
    const char* code;     // its three letters in the codice fiscale
    bool female = false;  // (first names) adds 40 to the day in the code
  };
  static constexpr std::array<Name, 5> kFirst = {{{"Giulia", "GLI", true},
                                                  {"Marco", "MRC"},
                                                  {"Sara", "SRA", true},
                                                  {"Luca", "LCU"},
                                                  {"Chiara", "CHR", true}}};
  static constexpr std::array<Name, 5> kLast = {{{"Rossi", "RSS"},
                                                 {"Bianchi", "BNC"},
                                                 {"Esposito", "SPS"},
                                                 {"Romano", "RMN"},
                                                 {"Colombo", "CLM"}}};
  const Name& first = kFirst[n % kFirst.size()];
  const Name& last = kLast[(n / kFirst.size()) % kLast.size()];
  const int year = 1990 + static_cast<int>(n % 15);
  const int month = 1 + static_cast<int>(n % 12);
  const int day = 1 + static_cast<int>(n % 28);
  std::string code = std::string(last.code) + first.code + TwoDigits(year % 100) +
                     "ABCDEHLMPRST"[month - 1] + TwoDigits(first.female ? day + 40 : day) +
                     "H501";  // born in Rome
  code += CheckCharacter(code);
  std::string lower_first(first.text), lower_last(last.text);
  for (std::string* text : {&lower_first, &lower_last}) {
    for (char& c : *text) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  const std::string number = std::to_string(1000000 + n % 9000000);
  return {"T" + std::to_string(n),
          first.text,
          last.text,
          code,
          TwoDigits(day) + "/" + TwoDigits(month) + "/" + std::to_string(year),
          lower_first + "." + lower_last + std::to_string(n) + "@example.it",
          "+39 333 " + number.substr(number.size() - 7)};
}

// ---- the connector ---------------------------------------------------------------------------

class TemplateConnector final : public reglo::sdk::Connector {
 public:
  // The descriptor: the hub lists and checks these before creating an instance.
  static constexpr const char* kName = "template";
  static constexpr const char* kVersion = "0.2.0";
  static constexpr const char* kVendor = "Example Vendor";
  static constexpr const char* kDescription = "Template connector: student records";
  static constexpr std::array<const char*, 1> kEntities = {"student"};
  // JSON Schema of the configuration (what ParseConfig reads); mark secrets with
  // "x-reglo-secret": true so the hub masks them.
  static constexpr const char* kConfigSchema = R"json({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "students": {"type": "integer", "minimum": 0, "maximum": 1000000, "default": 10,
                   "description": "Rows the stand-in source holds."},
      "checkpoint_every": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 100,
                           "description": "Rows per checkpoint."},
      "api_key": {"type": "string", "minLength": 1, "x-reglo-secret": true,
                  "description": "Your system's credential."}
    }
  })json";

  // Called once per configured source. Throwing sdk::Failure (or any exception) is fine: the SDK
  // turns it into a status at the C boundary, and the hub shows its message.
  static std::unique_ptr<TemplateConnector> Create(const reglo::sdk::Context&,
                                                   std::string_view config_json) {
    return std::unique_ptr<TemplateConnector>(new TemplateConnector(ParseConfig(config_json)));
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
    for (; next < config_.students; ++next) {
      if (emitter.ShouldStop()) return Status::Retry("stopped on request");
      const SourceStudent row = SourceRow(next);
      // The record as the source has it; Map turns it into a canonical one.
      record.Clear();
      record.SetEntity("student");
      record.SetExternalId(row.id);
      record.SetSourceUpdatedAt("2026-01-01T00:00:00Z");
      record.SetOrigin("template:" + std::to_string(next));
      record.Set("nome", row.nome);
      record.Set("cognome", row.cognome);
      record.Set("codice_fiscale", row.codice_fiscale);
      record.Set("data_nascita", row.data_nascita);
      record.Set("email", row.email);
      record.Set("telefono", row.telefono);
      if (Status status = emitter.Emit(record); !status.ok()) return status;
      // A checkpoint says: everything emitted so far is covered by this cursor.
      if ((next + 1) % config_.checkpoint_every == 0) {
        if (Status status = emitter.Checkpoint(std::to_string(next + 1)); !status.ok()) {
          return status;
        }
      }
    }
    return emitter.Checkpoint(std::to_string(next));  // always end with one
  }

  // Source-shaped record -> canonical record: Reglo's field names and formats, as listed in
  // docs/canonical-model.md (GET /api/admin/schema on a running hub). reglo-connector-check
  // reports every validation warning; a good mapping has none.
  Status Map(const reglo::sdk::Context&, const reglo::sdk::RecordView& source,
             reglo::sdk::CanonicalSink& sink) override {
    mapped_.Clear();
    mapped_.SetEntity("student");
    mapped_.SetExternalId(std::string(source.external_id()));
    if (auto at = source.source_updated_at()) mapped_.SetSourceUpdatedAt(std::string(*at));
    mapped_.SetOrigin(std::string(source.origin()));
    mapped_.Set("firstName", source.Get("nome"));
    mapped_.Set("lastName", source.Get("cognome"));
    mapped_.Set("fiscalCode", source.Get("codice_fiscale"));
    if (auto born = source.Get("data_nascita")) mapped_.Set("birthDate", IsoDate(*born));
    mapped_.Set("email", source.Get("email"));
    mapped_.Set("phone", source.Get("telefono"));
    return sink.Emit(mapped_);
  }

 private:
  explicit TemplateConnector(Config config) : config_(std::move(config)) {}

  // "dd/mm/yyyy" -> "yyyy-mm-dd" (the canonical date). Anything else is passed on as it is: the
  // hub keeps it with a warning naming the field, which is how a bad source row should surface.
  static std::string IsoDate(std::string_view text) {
    if (text.size() != 10 || text[2] != '/' || text[5] != '/') return std::string(text);
    return std::string(text.substr(6, 4)) + "-" + std::string(text.substr(3, 2)) + "-" +
           std::string(text.substr(0, 2));
  }

  const Config config_;
  reglo::sdk::Record mapped_;
};

}  // namespace

REGLO_EXPORT_CONNECTOR(TemplateConnector)
