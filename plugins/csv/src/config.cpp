#include "reglo/csv/config.h"

#include <filesystem>
#include <nlohmann/json.hpp>

namespace reglo::csv {
namespace {

using nlohmann::json;

using connector_common::CheckKeys;
using connector_common::Fail;
using connector_common::GetString;
using connector_common::IsCommentKey;
using connector_common::ParseUnsigned;
using connector_common::TypeName;

char ParseDelimiter(const json& object, const std::string& path, char fallback) {
  auto it = object.find("delimiter");
  if (it == object.end()) return fallback;
  if (it->is_string()) {
    const std::string& text = it->get_ref<const std::string&>();
    if (text == "auto") return 0;
    if (text == "," || text == ";" || text == "\t" || text == "|") return text[0];
  }
  Fail(path, "expected \",\", \";\", \"\\t\", \"|\" or \"auto\", got " + it->dump());
}

Encoding ParseEncodingKey(const json& object, const std::string& path, Encoding fallback) {
  auto it = object.find("encoding");
  if (it == object.end()) return fallback;
  if (it->is_string()) {
    if (auto encoding = ParseEncoding(it->get_ref<const std::string&>())) return *encoding;
  }
  Fail(path, "expected \"utf-8\", \"windows-1252\" or \"iso-8859-1\", got " + it->dump());
}

EntityConfig ParseEntity(const std::string& name, const json& spec, const Config& config,
                         std::vector<std::string>* remarks) {
  const std::string prefix = "entities." + name;
  if (!spec.is_object()) {
    Fail(prefix, "expected an object with path, id_column and columns, got " + TypeName(spec));
  }
  CheckKeys(spec, prefix,
            {"path", "id_column", "updated_at_column", "columns", "formats", "values", "delimiter",
             "encoding"});

  EntityConfig entity;
  entity.entity = name;
  entity.configured_path =
      GetString(spec, prefix, "path", true, "a CSV file or a folder of *.csv files");
  std::filesystem::path path(entity.configured_path);
  if (path.is_relative()) path = std::filesystem::path(config.base_dir) / path;
  entity.path = path.lexically_normal().string();
  if (entity.path.size() > 1 && entity.path.back() == '/') entity.path.pop_back();
  entity.mapping.id_column =
      GetString(spec, prefix, "id_column", true, "the CSV column holding the record's id");
  entity.mapping.updated_at_column = GetString(spec, prefix, "updated_at_column", false,
                                               "the CSV column holding the last-change time");
  entity.delimiter = ParseDelimiter(spec, prefix + ".delimiter", config.delimiter);
  entity.encoding = ParseEncodingKey(spec, prefix + ".encoding", config.encoding);

  connector_common::ParseFieldRules(spec, prefix, name,
                                    {"CSV column", "id_column", "updated_at_column"},
                                    &entity.mapping, remarks);
  return entity;
}

Config Parse(std::string_view text, const std::optional<std::string>& cwd) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& error) {
    Fail("config", std::string("invalid JSON: ") + error.what());
  }
  if (!root.is_object()) Fail("config", "expected a JSON object, got " + TypeName(root));
  CheckKeys(root, "",
            {"base_dir", "delimiter", "encoding", "checkpoint_every", "max_row_bytes",
             "max_fields_per_row", "entities"});

  Config config;
  config.base_dir =
      GetString(root, "", "base_dir", false, "the folder relative paths resolve against");
  const std::filesystem::path cwd_path =
      cwd ? std::filesystem::path(*cwd) : std::filesystem::current_path();
  if (config.base_dir.empty()) {
    config.base_dir = cwd_path.string();
  } else if (std::filesystem::path(config.base_dir).is_relative()) {
    config.base_dir = (cwd_path / config.base_dir).lexically_normal().string();
  }
  config.delimiter = ParseDelimiter(root, "delimiter", 0);
  config.encoding = ParseEncodingKey(root, "encoding", Encoding::kUtf8);
  config.checkpoint_every = ParseUnsigned(root, "", "checkpoint_every", 5000, 0, UINT64_MAX >> 1);
  config.max_row_bytes = static_cast<size_t>(
      ParseUnsigned(root, "", "max_row_bytes", uint64_t{1} << 20, 1024, uint64_t{1} << 30));
  config.max_fields_per_row =
      static_cast<size_t>(ParseUnsigned(root, "", "max_fields_per_row", 2000, 1, 1'000'000));

  auto entities = root.find("entities");
  if (entities == root.end()) {
    Fail("entities", "required (an object of canonical entity -> {path, id_column, columns})");
  }
  if (!entities->is_object() || entities->empty()) {
    Fail("entities",
         "expected a non-empty object of canonical entity -> {path, id_column, columns}");
  }
  std::string list;
  for (std::string_view name : CanonicalEntities())
    list += (list.empty() ? "" : ", ") + std::string(name);
  for (const auto& [name, spec] : entities->items()) {
    if (IsCommentKey(name)) continue;
    if (CanonicalFields(name) == nullptr) {
      Fail("entities." + name, "unknown entity (expected one of " + list + ")");
    }
  }
  for (std::string_view name : CanonicalEntities()) {
    auto it = entities->find(std::string(name));
    if (it == entities->end()) continue;
    config.entities.push_back(ParseEntity(std::string(name), *it, config, &config.remarks));
  }
  if (config.entities.empty()) {
    Fail("entities", "expected at least one canonical entity (" + list + ")");
  }
  return config;
}

}  // namespace

std::optional<Config> ParseConfig(std::string_view json, std::string* error,
                                  const std::optional<std::string>& cwd) {
  try {
    return connector_common::CatchConfigError([&] { return Parse(json, cwd); }, error);
  } catch (const std::exception& failure) {  // e.g. current_path() failing
    *error = std::string("config: ") + failure.what();
    return std::nullopt;
  }
}

}  // namespace reglo::csv
