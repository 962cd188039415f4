// The schema checks every backend makes when a store opens.
#include "reglo/storage/migration.h"

#include <fmt/format.h>

namespace reglo::storage {

Status NewerSchemaError(int current, int latest) {
  return Status::Incompatible(
      fmt::format("database schema version {} is newer than the newest this build knows ({}); "
                  "upgrade reglo-hub or use a matching database",
                  current, latest));
}

Status CheckEntityColumns(const model::EntitySpec& entity,
                          const std::function<bool(std::string_view column)>& has_column) {
  for (const model::FieldSpec& field : entity.fields) {
    if (!has_column(field.column)) {
      return Status::Internal(fmt::format(
          "table {} has no column {} for field {}.{}: schema.cpp and the storage migrations "
          "disagree (add a migration)",
          entity.table, field.column, entity.name, field.name));
    }
  }
  return Status::Ok();
}

}  // namespace reglo::storage
