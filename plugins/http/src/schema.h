// JSON Schema (draft 2020-12) of the `http` connector's configuration, published in its
// descriptor; the secrets are marked x-reglo-secret. See plugins/http/README.md. Constant data.
#pragma once

#include "reglo/connector_common/config_json.h"

namespace reglo::http {

inline constexpr char kConfigSchemaJson[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Reglo HTTP connector (REST/JSON)",
  "type": "object",
  "required": ["base_url", "entities"],
  "additionalProperties": false,
  "patternProperties": {"^[_$]": {}},
  "$defs": {
    "pagination": {
      "type": "object",
      "required": ["type"],
      "properties": {
        "type": {"enum": ["none", "page_number", "offset", "next_token", "next_url", "link_header"]},
        "page_param": {"type": "string"}, "start_page": {"type": "integer"},
        "size_param": {"type": "string"}, "size": {"type": "integer", "minimum": 1},
        "offset_param": {"type": "string"}, "limit_param": {"type": "string"},
        "token_pointer": {"type": "string"}, "token_param": {"type": "string"},
        "url_pointer": {"type": "string"}
      }
    },
    "entity": {
      "type": "object",
      "required": ["path", "id_pointer"],
      "additionalProperties": false,
      "patternProperties": {"^[_$]": {}},
      "properties": {
        "method": {"enum": ["GET", "POST"], "default": "GET"},
        "path": {"type": "string", "description": "Path after base_url, e.g. /v1/students"},
        "query": {"type": "object", "additionalProperties": {"type": "string"},
                  "description": "Query parameters; {since} becomes the cursor's updated-at (parameters whose value holds {since} are left out before the first cursor)."},
        "body": {"type": "string", "description": "POST body (JSON text); {since} substituted."},
        "pagination": {"$ref": "#/$defs/pagination"},
        "records_pointer": {"type": "string", "default": "", "description": "JSON pointer of the records array in each page (\"\": the body is the array)."},
        "id_pointer": {"type": "string", "description": "JSON pointer of the id inside a record, e.g. /id"},
        "updated_at_pointer": {"type": "string", "description": "JSON pointer of the last-change time inside a record"},
        )json" REGLO_FIELD_RULES_SCHEMA R"json(
      }
    }
  },
  "properties": {
    "base_dir": {"type": "string", "description": "Relative tls.ca_file paths resolve against it; the hub sets it to the config file's folder."},
    "base_url": {"type": "string", "pattern": "^https?://", "description": "e.g. https://api.gestionale.it"},
    "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 600, "default": 30},
    "look_back_seconds": {"type": "integer", "minimum": 0, "default": 0,
                          "description": "The final cursor is the newest updated-at seen minus this, to catch late writes."},
    "initial_since": {"type": "string", "default": ""},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "tls": {"type": "object", "additionalProperties": false,
            "properties": {"ca_file": {"type": "string"}, "verify": {"type": "boolean", "default": true}}},
    "auth": {
      "type": "object",
      "required": ["type"],
      "properties": {
        "type": {"enum": ["none", "api_key", "bearer", "basic", "oauth2_client_credentials"]},
        "header": {"type": "string", "default": "X-API-Key"},
        "key": {"type": "string", "x-reglo-secret": true},
        "token": {"type": "string", "x-reglo-secret": true},
        "username": {"type": "string"},
        "password": {"type": "string", "x-reglo-secret": true},
        "token_url": {"type": "string"},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "x-reglo-secret": true},
        "scope": {"type": "string"}
      }
    },
    )json" REGLO_ENTITIES_SCHEMA R"json(
  }
})json";

}  // namespace reglo::http
