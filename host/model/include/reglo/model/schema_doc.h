// The canonical model as the people who map to it read it, generated from schema.h's tables: the
// Markdown reference (docs/canonical-model.md) and one JSON Schema (draft 2020-12) per entity. A
// record that a schema accepts passes validation with no warning. Pure functions; thread-safe.
#pragma once

#include <string>

#include "reglo/model/schema.h"

namespace reglo::model {

// docs/canonical-model.md, byte for byte (a test compares the committed file with it).
std::string CanonicalModelMarkdown();

// The JSON Schema of `entity`'s records as a connector maps them and the ingestion API takes
// them: flat, the identity members and then the canonical fields. Pretty-printed, ending in a
// newline; its "$id" ends in "<entity>.schema.json", the file name it is installed under.
std::string EntityJsonSchema(const EntitySpec& entity);

}  // namespace reglo::model
