#include "reglo/model/record.h"

#include <algorithm>
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
  std::string out;
  AppendRecordJson(out, entity, values, extra);
  return out;
}

void AppendRecordJson(std::string& out, const EntitySpec& entity,
                      const std::vector<std::optional<std::string>>& values,
                      const std::vector<std::pair<std::string, std::string>>& extra) {
  // Appended directly, not through JsonWriter: every record validated comes through here. A
  // canonical field's name is a plain identifier that JSON needs no escape for
  // (SchemaTest.CanonicalFieldNamesNeedNoJsonEscape), so it is written as it is; extra names
  // come from the source and are escaped.
  out += '{';
  const size_t fields = std::min(entity.fields.size(), values.size());
  for (size_t i = 0; i < fields; ++i) {
    if (i > 0) out += ',';
    out += '"';
    out += entity.fields[i].name;
    out += "\":";
    values[i] ? AppendJsonString(out, *values[i]) : void(out += "null");
  }
  if (!extra.empty()) {
    out += fields == 0 ? "\"extra\":{" : ",\"extra\":{";
    for (size_t i = 0; i < extra.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(out, extra[i].first);
      out += ':';
      AppendJsonString(out, extra[i].second);
    }
    out += '}';
  }
  out += '}';
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
