// Configuration of a `sql` connector instance (any database through ODBC): parsed and checked once,
// at create time, from the JSON the hub passes (see plugins/sql/README.md and kConfigSchemaJson).
// Immutable afterwards. Thread-safety: a parsed Config is a plain value; read it from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/connector_common/config_json.h"
#include "reglo/connector_common/mapping.h"

namespace reglo::sql {

// How a page's row limit is written: `LIMIT n` (PostgreSQL, MySQL/MariaDB, SQLite) or
// `FETCH FIRST n ROWS ONLY` (SQL Server 2012+, Oracle 12c+, DB2).
enum class LimitSyntax { kLimit, kFetchFirst };

struct EntityConfig {
  std::string entity;  // canonical entity name, also the stream name
  std::string table;   // either a table (or schema.table) ...
  std::string query;   // ... or a SELECT whose `:since` markers become the cursor's updated-at
  connector_common::EntityMapping mapping;  // id_column and updated_at_column are required
};

struct Config {
  std::string connection_string;        // DSN-less, without the password; {base_dir} substituted
  std::optional<std::string> password;  // from `password` or the variable `password_env` names
  uint64_t page_size = 1000;
  uint64_t connect_timeout_seconds = 15;
  uint64_t query_timeout_seconds = 300;
  LimitSyntax limit_syntax = LimitSyntax::kLimit;
  std::string initial_since = "1970-01-01T00:00:00";  // :since of a pull without a cursor
  std::vector<EntityConfig> entities;                 // in canonical order
  std::vector<std::string> remarks;                   // accepted but suspicious settings
};

// Parses and checks a configuration. On failure returns nullopt and sets *error to a message that
// starts with the key path ("entities.student.table: ..."). `getenv` reads password_env (tests
// pass their own).
std::optional<Config> ParseConfig(std::string_view json, std::string* error,
                                  const char* (*getenv)(const char*) = nullptr);

// The connection string as sent to the driver: the configured one plus PWD={...} when a password
// is set (braced, with '}' doubled, so any character is allowed).
std::string FullConnectionString(const Config& config);

// JSON Schema (draft 2020-12) of the configuration, published in the connector descriptor.
inline constexpr char kConfigSchemaJson[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Reglo SQL connector (ODBC)",
  "type": "object",
  "required": ["connection_string", "entities"],
  "additionalProperties": false,
  "patternProperties": {"^[_$]": {}},
  "$defs": {
    "entity": {
      "type": "object",
      "required": ["id_column", "updated_at_column"],
      "additionalProperties": false,
      "patternProperties": {"^[_$]": {}},
      "properties": {
        "table": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?$",
                  "description": "The table (or schema.table) to read; give table or query."},
        "query": {"type": "string", "minLength": 1,
                  "description": "A SELECT to read instead of a table; each :since becomes the cursor's updated-at (a timestamp)."},
        "id_column": {"type": "string", "minLength": 1, "description": "Column holding externalId (unique)."},
        "updated_at_column": {"type": "string", "minLength": 1,
                              "description": "Column holding the last-change time; pages are keyed on (updated_at, id)."},
        )json" REGLO_FIELD_RULES_SCHEMA R"json(
      }
    }
  },
  "properties": {
    "base_dir": {"type": "string", "description": "Substituted for {base_dir} in the connection string; the hub sets it to the config file's folder."},
    "connection_string": {"type": "string", "minLength": 1,
                          "description": "DSN-less ODBC connection string without the password, e.g. Driver={PostgreSQL Unicode};Server=db;Port=5432;Database=school;Uid=reglo"},
    "password": {"type": "string", "x-reglo-secret": true, "description": "The database password (or use password_env)."},
    "password_env": {"type": "string", "minLength": 1, "description": "Environment variable holding the password."},
    "page_size": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1000,
                  "description": "Rows per page; one checkpoint per page."},
    "connect_timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 15},
    "query_timeout_seconds": {"type": "integer", "minimum": 0, "maximum": 86400, "default": 300,
                              "description": "Per page query; 0: none."},
    "limit_syntax": {"enum": ["limit", "fetch_first"], "default": "limit",
                     "description": "LIMIT n (PostgreSQL, MySQL, SQLite) or FETCH FIRST n ROWS ONLY (SQL Server, Oracle, DB2)."},
    "initial_since": {"type": "string", "default": "1970-01-01T00:00:00",
                      "description": "The :since of a pull with no cursor yet."},
    )json" REGLO_ENTITIES_SCHEMA R"json(
  }
})json";

}  // namespace reglo::sql
