// Test support: a model::RawRecord as a connector reports one, its identity given in one call (for
// tests that link reglo_model). Header-only and stateless: safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reglo/model/record.h"

namespace reglo::testing {

// A raw record's fields: name and value (nullopt: absent, as a NULL column).
using RawFields = std::vector<std::pair<std::string, std::optional<std::string>>>;

// `entity` `external_id` of company `company_id` from `source_system`, last changed at
// `updated_at` (none: nullopt), with `fields` in the source's order.
inline model::RawRecord Raw(std::string entity, std::string company_id, std::string source_system,
                            std::string external_id, std::optional<std::string> updated_at,
                            RawFields fields) {
  model::RawRecord raw;
  raw.entity = std::move(entity);
  raw.company_id = std::move(company_id);
  raw.source_system = std::move(source_system);
  raw.external_id = std::move(external_id);
  raw.source_updated_at = std::move(updated_at);
  raw.fields = std::move(fields);
  return raw;
}

}  // namespace reglo::testing
