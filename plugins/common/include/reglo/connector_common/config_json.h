// Configuration parsing shared by the bundled connectors: key-checked reads of a JSON config whose
// errors start with the key path ("entities.student.formats.birthDate: ..."), the per-entity
// columns / formats / values blocks, and the canonical entities and fields. Stateless functions;
// safe from any thread. The Get/Check/Parse helpers throw ConfigError, which must never leave the
// connector: each connector's ParseConfig catches it (CatchConfigError) and turns it into an error
// value.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/connector_common/mapping.h"

// JSON Schema fragments of the keys every bundled connector shares, as string literals so that
// each connector's schema is one literal: `R"json({...)json" REGLO_FIELD_RULES_SCHEMA
// R"json(...})json"`. The columns / formats / values members of an entity's "properties" (what
// ParseFieldRules reads):
// clang-format off
#define REGLO_FIELD_RULES_SCHEMA                                                                   \
  R"json("columns": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1},)json" \
  R"json( "description": "Source field (CSV column, SQL column, JSON pointer) -> canonical field. Other fields pass through under their own name."},)json" \
  R"json("formats": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1},)json" \
  R"json( "description": "Field (or sourceUpdatedAt) -> date pattern from the tokens dd mm yyyy HH MM SS."},)json" \
  R"json("values": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},)json" \
  R"json( "description": "Field -> (source value -> canonical value), matched case-insensitively."})json"
// The "entities" member of the top-level "properties": each canonical entity -> #/$defs/entity.
#define REGLO_ENTITIES_SCHEMA                                                                      \
  R"json("entities": {"type": "object", "minProperties": 1, "additionalProperties": false,)json" \
  R"json( "properties": {"student": {"$ref": "#/$defs/entity"}, "case": {"$ref": "#/$defs/entity"},)json" \
  R"json( "appointment": {"$ref": "#/$defs/entity"}, "document": {"$ref": "#/$defs/entity"},)json" \
  R"json( "payment": {"$ref": "#/$defs/entity"}, "instructor": {"$ref": "#/$defs/entity"},)json" \
  R"json( "vehicle": {"$ref": "#/$defs/entity"}}})json"
// clang-format on

namespace reglo::connector_common {

// Thrown by the helpers below, caught by the connector's own ParseConfig.
struct ConfigError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& key, const std::string& what);
// What a connector's ParseConfig answers: the Config that `parse` (a parser built on the helpers
// here) returns, or nullopt with *error set to the message of the ConfigError it threw.
template <class Parse>
auto CatchConfigError(Parse&& parse, std::string* error) -> std::optional<decltype(parse())> {
  try {
    return parse();
  } catch (const ConfigError& failure) {
    *error = failure.message;
    return std::nullopt;
  }
}
// "a string", "an object", "an integer", ... for messages.
std::string TypeName(const nlohmann::json& value);
// "prefix.key", or "key" when prefix is empty.
std::string KeyPath(const std::string& prefix, std::string_view key);
// Keys starting with '_' or '$' are comments or schema references and are ignored.
bool IsCommentKey(const std::string& key);
// Fails naming the first key of `object` that is not in `known` (comment keys are allowed).
void CheckKeys(const nlohmann::json& object, const std::string& prefix,
               std::initializer_list<std::string_view> known);
// A non-empty string at object[key]; "" when absent and not required.
std::string GetString(const nlohmann::json& object, const std::string& prefix, const char* key,
                      bool required, const std::string& what);
// A whole number in [min, max] at object[key]; `fallback` when absent.
uint64_t ParseUnsigned(const nlohmann::json& object, const std::string& prefix, const char* key,
                       uint64_t fallback, uint64_t min, uint64_t max);
bool GetBool(const nlohmann::json& object, const std::string& prefix, const char* key,
             bool fallback);

// How one connector names things in its `columns` block's messages.
struct ColumnsSyntax {
  const char* source_field;    // "CSV column", "SQL column", "JSON pointer"
  const char* id_key;          // the key that sets externalId, e.g. "id_column"
  const char* updated_at_key;  // the key that sets sourceUpdatedAt
};

// Reads spec["columns"] (source field -> canonical field), spec["formats"] (field -> date
// pattern) and spec["values"] (field -> {source value: canonical value}) of entity `entity` into
// *mapping. A target that is not a canonical field of the entity is accepted with a remark.
void ParseFieldRules(const nlohmann::json& spec, const std::string& prefix, std::string_view entity,
                     const ColumnsSyntax& syntax, EntityMapping* mapping,
                     std::vector<std::string>* remarks);

// The canonical entities in canonical order, for a descriptor's kEntities.
inline constexpr std::array<const char*, 7> kCanonicalEntities = {
    "student", "case", "appointment", "document", "payment", "instructor", "vehicle"};
// The canonical entities, in canonical order, and their fields (mirrors host/model/src/schema.cpp,
// which a plugin must not link).
const std::vector<std::string_view>& CanonicalEntities();
const std::vector<std::string_view>* CanonicalFields(std::string_view entity);
// "student, case, appointment, ..." for messages.
std::string CanonicalEntityList();

}  // namespace reglo::connector_common
