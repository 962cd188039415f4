// Configuration of a CSV connector instance: parsed and checked once, at create time, from the
// JSON the hub passes (see plugins/csv/README.md and kConfigSchemaJson). Immutable afterwards.
// Thread-safety: a parsed Config is a plain value; read it from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/connector_common/config_json.h"
#include "reglo/csv/encoding.h"
#include "reglo/csv/mapping.h"

namespace reglo::csv {

struct EntityConfig {
  std::string entity;           // canonical entity name, also the stream name
  std::string configured_path;  // as written in the configuration, for messages
  std::string path;             // absolute: a file, or a folder of *.csv files
  char delimiter = 0;           // 0 = sniff each file's header line
  Encoding encoding = Encoding::kUtf8;
  EntityMapping mapping;
};

struct Config {
  std::string base_dir;
  char delimiter = 0;
  Encoding encoding = Encoding::kUtf8;
  uint64_t checkpoint_every = 5000;  // rows between intermediate checkpoints; 0 = per file only
  size_t max_row_bytes = size_t{1} << 20;
  size_t max_fields_per_row = 2000;    // a row with more fields is a dead letter
  std::vector<EntityConfig> entities;  // in canonical order (student, case, appointment, ...)
  // Accepted but suspicious settings (e.g. a field that is not canonical), for the run log.
  std::vector<std::string> remarks;
};

// Parses and checks a configuration. On failure returns nullopt and sets *error to a message that
// starts with the key path, e.g. "entities.student.columns: expected an object of CSV column ->
// canonical field". `cwd` replaces the current directory as the default base_dir (for tests).
std::optional<Config> ParseConfig(std::string_view json, std::string* error,
                                  const std::optional<std::string>& cwd = std::nullopt);

// The canonical entities, in canonical order, and their fields (plugins/common).
using connector_common::CanonicalEntities;
using connector_common::CanonicalFields;

// JSON Schema (draft 2020-12) of the configuration, published in the connector descriptor.
inline constexpr char kConfigSchemaJson[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Reglo CSV connector",
  "type": "object",
  "required": ["entities"],
  "additionalProperties": false,
  "patternProperties": {"^[_$]": {}},
  "$defs": {
    "delimiter": {"enum": [",", ";", "\t", "|", "auto"],
                  "description": "Field separator; auto sniffs each file's header line."},
    "encoding": {"enum": ["utf-8", "utf8", "windows-1252", "cp1252", "iso-8859-1", "latin1"],
                 "description": "Text encoding of the files; a UTF-8 BOM always wins."},
    "entity": {
      "type": "object",
      "required": ["path", "id_column"],
      "additionalProperties": false,
      "patternProperties": {"^[_$]": {}},
      "properties": {
        "path": {"type": "string", "minLength": 1,
                 "description": "A CSV file, or a folder whose *.csv files are read in name order. Relative to base_dir."},
        "id_column": {"type": "string", "minLength": 1, "description": "CSV column holding externalId."},
        "updated_at_column": {"type": "string", "minLength": 1,
                              "description": "CSV column holding sourceUpdatedAt."},
        )json" REGLO_FIELD_RULES_SCHEMA R"json(,
        "delimiter": {"$ref": "#/$defs/delimiter"},
        "encoding": {"$ref": "#/$defs/encoding"}
      }
    }
  },
  "properties": {
    "base_dir": {"type": "string", "description": "Folder relative paths resolve against; the hub sets it to the config file's folder."},
    "delimiter": {"$ref": "#/$defs/delimiter", "default": "auto"},
    "encoding": {"$ref": "#/$defs/encoding", "default": "utf-8"},
    "checkpoint_every": {"type": "integer", "minimum": 0, "default": 5000,
                         "description": "Rows between progress checkpoints; 0 checkpoints once per file."},
    "max_row_bytes": {"type": "integer", "minimum": 1024, "maximum": 1073741824, "default": 1048576,
                      "description": "Longest row accepted; longer rows are cut with a warning."},
    "max_fields_per_row": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 2000,
                           "description": "Most fields a row (or the header) may have; a row with more is a dead letter, a header with more fails the pull."},
    )json" REGLO_ENTITIES_SCHEMA R"json(
  }
})json";

}  // namespace reglo::csv
