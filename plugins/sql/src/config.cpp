#include "reglo/sql/config.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "reglo/connector_common/config_json.h"

namespace reglo::sql {
namespace {

using connector_common::CheckKeys;
using connector_common::Fail;
using connector_common::GetString;
using connector_common::IsCommentKey;
using connector_common::ParseUnsigned;
using connector_common::TypeName;
using nlohmann::json;

// Table and column names go into the SQL text, so only plain identifiers are accepted (no quoting
// rules to get wrong across databases, no injection through the configuration).
bool IsIdentifier(std::string_view text, bool allow_schema) {
  bool start = true;
  bool dotted = false;
  for (char c : text) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (c == '.' && allow_schema && !start && !dotted) {
      dotted = true;
      start = true;
      continue;
    }
    if (!letter && !(digit && !start)) return false;
    start = false;
  }
  return !text.empty() && !start;
}

std::string Identifier(const json& spec, const std::string& prefix, const char* key,
                       const std::string& what) {
  std::string name = GetString(spec, prefix, key, true, what);
  if (!IsIdentifier(name, false)) {
    Fail(prefix + "." + key, "'" + name + "' is not a plain column name (letters, digits, _)");
  }
  return name;
}

EntityConfig ParseEntity(const std::string& name, const json& spec,
                         std::vector<std::string>* remarks) {
  const std::string prefix = "entities." + name;
  if (!spec.is_object()) {
    Fail(prefix, "expected an object with table or query, id_column and updated_at_column, got " +
                     TypeName(spec));
  }
  CheckKeys(spec, prefix,
            {"table", "query", "id_column", "updated_at_column", "columns", "formats", "values"});
  EntityConfig entity;
  entity.entity = name;
  entity.table = GetString(spec, prefix, "table", false, "the table to read");
  entity.query = GetString(spec, prefix, "query", false, "a SELECT to read");
  if (entity.table.empty() == entity.query.empty()) {
    Fail(prefix, "give exactly one of table and query");
  }
  if (!entity.table.empty() && !IsIdentifier(entity.table, true)) {
    Fail(prefix + ".table",
         "'" + entity.table + "' is not a plain table name (letters, digits, _, one schema dot)");
  }
  entity.mapping.id_column = Identifier(spec, prefix, "id_column", "the column holding the id");
  entity.mapping.updated_at_column =
      Identifier(spec, prefix, "updated_at_column", "the column holding the last-change time");
  connector_common::ParseFieldRules(spec, prefix, name,
                                    {"SQL column", "id_column", "updated_at_column"},
                                    &entity.mapping, remarks);
  return entity;
}

Config Parse(std::string_view text, const char* (*getenv)(const char*)) {
  json root = json::parse(text, nullptr, false, true);
  if (root.is_discarded()) Fail("config", "invalid JSON");
  if (!root.is_object()) Fail("config", "expected a JSON object, got " + TypeName(root));
  CheckKeys(root, "",
            {"base_dir", "connection_string", "password", "password_env", "page_size",
             "connect_timeout_seconds", "query_timeout_seconds", "limit_syntax", "initial_since",
             "entities"});
  Config config;
  const std::string base_dir = GetString(root, "", "base_dir", false, "a folder");
  config.connection_string = GetString(root, "", "connection_string", true,
                                       "a DSN-less ODBC connection string, e.g. "
                                       "Driver={PostgreSQL Unicode};Server=...;Database=...");
  for (size_t at; (at = config.connection_string.find("{base_dir}")) != std::string::npos;) {
    config.connection_string.replace(at, 10, base_dir.empty() ? "." : base_dir);
  }
  if (config.connection_string.find("PWD=") != std::string::npos ||
      config.connection_string.find("pwd=") != std::string::npos ||
      config.connection_string.find("Pwd=") != std::string::npos) {
    Fail("connection_string", "holds a password (PWD=); give it in password or password_env");
  }
  if (root.contains("password") && root.contains("password_env")) {
    Fail("password_env", "give password or password_env, not both");
  }
  if (auto it = root.find("password"); it != root.end()) {
    if (!it->is_string()) Fail("password", "expected a string, got " + TypeName(*it));
    config.password = it->get<std::string>();
  }
  if (std::string variable = GetString(root, "", "password_env", false, "a variable name");
      !variable.empty()) {
    const char* value =
        getenv != nullptr ? getenv(variable.c_str()) : std::getenv(variable.c_str());
    if (value == nullptr)
      Fail("password_env", "the environment variable " + variable + " is not set");
    config.password = value;
  }
  config.page_size = ParseUnsigned(root, "", "page_size", 1000, 1, 1000000);
  config.connect_timeout_seconds = ParseUnsigned(root, "", "connect_timeout_seconds", 15, 1, 3600);
  config.query_timeout_seconds = ParseUnsigned(root, "", "query_timeout_seconds", 300, 0, 86400);
  if (auto it = root.find("limit_syntax"); it != root.end()) {
    if (*it == "limit") {
      config.limit_syntax = LimitSyntax::kLimit;
    } else if (*it == "fetch_first") {
      config.limit_syntax = LimitSyntax::kFetchFirst;
    } else {
      Fail("limit_syntax", "expected \"limit\" or \"fetch_first\", got " + it->dump());
    }
  }
  if (root.contains("initial_since")) {
    config.initial_since = GetString(root, "", "initial_since", false, "a timestamp");
  }

  auto entities = root.find("entities");
  if (entities == root.end()) {
    Fail("entities",
         "required (an object of canonical entity -> {table or query, id_column, "
         "updated_at_column})");
  }
  if (!entities->is_object() || entities->empty()) {
    Fail("entities", "expected a non-empty object of canonical entity -> {table or query, ...}");
  }
  for (const auto& [name, spec] : entities->items()) {
    if (IsCommentKey(name)) continue;
    if (connector_common::CanonicalFields(name) == nullptr) {
      Fail("entities." + name,
           "unknown entity (expected one of " + connector_common::CanonicalEntityList() + ")");
    }
  }
  for (std::string_view name : connector_common::CanonicalEntities()) {
    auto it = entities->find(std::string(name));
    if (it == entities->end()) continue;
    config.entities.push_back(ParseEntity(std::string(name), *it, &config.remarks));
  }
  if (config.entities.empty()) {
    Fail("entities", "expected at least one canonical entity (" +
                         connector_common::CanonicalEntityList() + ")");
  }
  return config;
}

}  // namespace

std::optional<Config> ParseConfig(std::string_view json, std::string* error,
                                  const char* (*getenv)(const char*)) {
  return connector_common::CatchConfigError([&] { return Parse(json, getenv); }, error);
}

std::string FullConnectionString(const Config& config) {
  std::string text = config.connection_string;
  if (!config.password) return text;
  if (!text.empty() && text.back() != ';') text += ';';
  text += "PWD={";
  for (char c : *config.password) {
    text += c;
    if (c == '}') text += '}';
  }
  text += '}';
  return text;
}

}  // namespace reglo::sql
