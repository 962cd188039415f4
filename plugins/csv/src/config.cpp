#include "reglo/csv/config.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

namespace reglo::csv {
namespace {

using nlohmann::json;

// Errors travel as this exception inside the parser only; ParseConfig turns it into *error.
struct KeyError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& key, const std::string& what) {
  throw KeyError{key + ": " + what};
}

std::string TypeName(const json& value) {
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  const std::string name = value.type_name();
  return (name == "object" || name == "array") ? "an " + name : "a " + name;
}

// Keys starting with '_' or '$' are comments or schema references and are ignored.
bool IsCommentKey(const std::string& key) {
  return !key.empty() && (key.front() == '_' || key.front() == '$');
}

void CheckKeys(const json& object, const std::string& prefix,
               std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (IsCommentKey(key)) continue;
    bool found = false;
    std::string list;
    for (std::string_view name : known) {
      found = found || key == name;
      list += (list.empty() ? "" : ", ") + std::string(name);
    }
    if (!found)
      Fail(prefix.empty() ? key : prefix + "." + key, "unknown key (expected " + list + ")");
  }
}

std::string GetString(const json& object, const std::string& prefix, const char* key, bool required,
                      const std::string& what) {
  auto it = object.find(key);
  const std::string path = prefix.empty() ? key : prefix + "." + key;
  if (it == object.end()) {
    if (required) Fail(path, "required (" + what + ")");
    return {};
  }
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    Fail(path, "expected a non-empty string (" + what + "), got " +
                   (it->is_string() ? "an empty string" : TypeName(*it)));
  }
  return it->get<std::string>();
}

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

uint64_t ParseUnsigned(const json& object, const char* key, uint64_t fallback, uint64_t min,
                       uint64_t max) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_number_integer() ||
      (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() < 0)) {
    Fail(key, "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                  ", got " + it->dump());
  }
  const uint64_t value = it->get<uint64_t>();
  if (value < min || value > max) {
    Fail(key, "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                  ", got " + it->dump());
  }
  return value;
}

bool Contains(const std::vector<std::string_view>& list, std::string_view name) {
  for (std::string_view item : list) {
    if (item == name) return true;
  }
  return false;
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
  const std::vector<std::string_view>& canonical = *CanonicalFields(name);

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

  if (auto it = spec.find("columns"); it != spec.end()) {
    const std::string key = prefix + ".columns";
    if (!it->is_object()) Fail(key, "expected an object of CSV column -> canonical field");
    std::map<std::string, std::string> by_folded_column;  // folded column -> column
    std::map<std::string, std::string> by_field;          // field -> column
    for (const auto& [column, field] : it->items()) {
      if (!field.is_string() || field.get_ref<const std::string&>().empty()) {
        Fail(key + "." + column, "expected the name of a canonical field, got " +
                                     (field.is_string() ? "an empty string" : TypeName(field)));
      }
      const std::string target = field.get<std::string>();
      if (target == "externalId" || target == "sourceUpdatedAt") {
        Fail(key + "." + column, "'" + target + "' is set with " +
                                     (target == "externalId" ? "id_column" : "updated_at_column"));
      }
      if (auto [other, fresh] = by_folded_column.try_emplace(FoldCase(column), column); !fresh) {
        Fail(key + "." + column,
             "same column as '" + other->second + "' (column names match case-insensitively)");
      }
      if (auto [other, fresh] = by_field.try_emplace(target, column); !fresh) {
        Fail(key + "." + column, "'" + other->second + "' already maps to " + target);
      }
      if (!Contains(canonical, target)) {
        remarks->push_back(key + "." + column + ": '" + target + "' is not a canonical " + name +
                           " field; it will be kept as an extra field");
      }
      entity.mapping.columns.emplace_back(column, target);
    }
  }

  if (auto it = spec.find("formats"); it != spec.end()) {
    const std::string key = prefix + ".formats";
    if (!it->is_object()) Fail(key, "expected an object of field -> date format");
    for (const auto& [field, pattern] : it->items()) {
      if (!pattern.is_string()) {
        Fail(key + "." + field,
             "expected a date format such as \"dd/mm/yyyy\", got " + TypeName(pattern));
      }
      std::string error;
      auto format = DateFormat::Parse(pattern.get<std::string>(), &error);
      if (!format) Fail(key + "." + field, error);
      entity.mapping.formats.emplace_back(field, std::move(*format));
    }
  }

  if (auto it = spec.find("values"); it != spec.end()) {
    const std::string key = prefix + ".values";
    if (!it->is_object())
      Fail(key, "expected an object of field -> {source value: canonical value}");
    for (const auto& [field, table] : it->items()) {
      if (!table.is_object()) {
        Fail(key + "." + field,
             "expected an object of source value -> canonical value, got " + TypeName(table));
      }
      ValueMap values;
      for (const auto& [from, to] : table.items()) {
        if (!to.is_string()) {
          Fail(key + "." + field + "." + from, "expected a string, got " + TypeName(to));
        }
        std::string error;
        if (!values.Add(from, to.get_ref<const std::string&>(), &error)) {
          Fail(key + "." + field, error);
        }
      }
      entity.mapping.values.emplace_back(field, std::move(values));
    }
  }
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
  config.checkpoint_every = ParseUnsigned(root, "checkpoint_every", 5000, 0, UINT64_MAX >> 1);
  config.max_row_bytes = static_cast<size_t>(
      ParseUnsigned(root, "max_row_bytes", uint64_t{1} << 20, 1024, uint64_t{1} << 30));
  config.max_fields_per_row =
      static_cast<size_t>(ParseUnsigned(root, "max_fields_per_row", 2000, 1, 1'000'000));

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

const std::vector<std::string_view>& CanonicalEntities() {
  static const std::vector<std::string_view> entities = {
      "student", "case", "appointment", "document", "payment", "instructor", "vehicle"};
  return entities;
}

const std::vector<std::string_view>* CanonicalFields(std::string_view entity) {
  static const std::map<std::string_view, std::vector<std::string_view>> fields = {
      {"student", {"firstName", "lastName", "fiscalCode", "birthDate", "email", "phone"}},
      {"case", {"studentExternalId", "licenseCategory", "status", "openedAt"}},
      {"appointment",
       {"kind", "startsAt", "endsAt", "studentExternalId", "caseExternalId", "instructorExternalId",
        "vehicleExternalId", "status"}},
      {"document", {"ownerEntity", "ownerExternalId", "kind", "number", "issuedAt", "expiresAt"}},
      {"payment",
       {"studentExternalId", "caseExternalId", "amountCents", "currency", "paidAt", "method",
        "status"}},
      {"instructor",
       {"firstName", "lastName", "fiscalCode", "licenseCategories", "email", "phone", "active"}},
      {"vehicle", {"plate", "make", "model", "licenseCategory", "transmission", "active"}},
  };
  auto it = fields.find(entity);
  return it == fields.end() ? nullptr : &it->second;
}

std::optional<Config> ParseConfig(std::string_view json, std::string* error,
                                  const std::optional<std::string>& cwd) {
  try {
    return Parse(json, cwd);
  } catch (const KeyError& failure) {
    *error = failure.message;
    return std::nullopt;
  } catch (const std::exception& failure) {  // e.g. current_path() failing
    *error = std::string("config: ") + failure.what();
    return std::nullopt;
  }
}

}  // namespace reglo::csv
