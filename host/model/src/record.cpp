#include "reglo/model/record.h"

#include <nlohmann/json.hpp>

#include "reglo/core/crypto.h"
#include "reglo/core/json_writer.h"

namespace reglo::model {

const std::optional<std::string>& CanonicalRecord::Value(std::string_view field) const {
  static const std::optional<std::string> kAbsent;
  const int index = entity ? entity->FieldIndex(field) : -1;
  return index < 0 ? kAbsent : values[static_cast<size_t>(index)];
}

std::string ContentHash(const EntitySpec& entity,
                        const std::vector<std::optional<std::string>>& values,
                        const std::vector<std::pair<std::string, std::string>>& extra) {
  // Unambiguous framing: every value is length-prefixed, absent differs from empty.
  std::string buffer;
  buffer.reserve(256);
  buffer += entity.name;
  buffer += '\0';
  for (const std::optional<std::string>& value : values) {
    if (!value) {
      buffer += "-;";
      continue;
    }
    buffer += std::to_string(value->size());
    buffer += ':';
    buffer += *value;
  }
  buffer += '\x1e';
  for (const auto& [name, value] : extra) {
    buffer += std::to_string(name.size()) + ':' + name + std::to_string(value.size()) + ':' + value;
  }
  const Sha256Digest digest = Sha256(buffer);
  return HexEncode(digest.data(), 16);
}

std::string RecordJson(const EntitySpec& entity,
                       const std::vector<std::optional<std::string>>& values,
                       const std::vector<std::pair<std::string, std::string>>& extra) {
  JsonWriter writer;
  writer.BeginObject();
  for (size_t i = 0; i < entity.fields.size() && i < values.size(); ++i) {
    writer.Key(entity.fields[i].name);
    if (values[i]) {
      writer.String(*values[i]);
    } else {
      writer.Null();
    }
  }
  if (!extra.empty()) {
    writer.Key("extra").BeginObject();
    for (const auto& [name, value] : extra) writer.Key(name).String(value);
    writer.EndObject();
  }
  writer.EndObject();
  return writer.Take();
}

std::string ExtraToJson(const std::vector<std::pair<std::string, std::string>>& extra) {
  JsonWriter writer;
  writer.BeginObject();
  for (const auto& [name, value] : extra) writer.Key(name).String(value);
  writer.EndObject();
  return writer.Take();
}

std::vector<std::pair<std::string, std::string>> ExtraFromJson(const std::string& json) {
  std::vector<std::pair<std::string, std::string>> extra;
  if (json.empty()) return extra;
  const nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return extra;
  for (const auto& [name, value] : parsed.items()) {
    extra.emplace_back(name, value.is_string() ? value.get<std::string>() : value.dump());
  }
  return extra;  // nlohmann objects iterate in key order, so this stays sorted
}

}  // namespace reglo::model
