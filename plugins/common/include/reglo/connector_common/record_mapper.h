// map_to_canonical for the configured connectors (csv, sql, http): a source record's fields through
// the entity's FieldMapper into one canonical record of the same entity, id, updated-at and
// origin. Header-only over the C++ SDK. Thread-safety: one RecordMapper per entity of one
// instance, used by one thread at a time (its buffers are reused across calls).
#pragma once

#include <reglo/connector.hpp>
#include <string>
#include <vector>

#include "reglo/connector_common/mapping.h"

namespace reglo::connector_common {

class RecordMapper {
 public:
  // Keeps a pointer into `mapping`, which must outlive the mapper and not change.
  explicit RecordMapper(const EntityMapping& mapping) : fields_(mapping) {}

  sdk::Status Map(const sdk::RecordView& source, sdk::CanonicalSink& sink) {
    in_.clear();
    for (const reglo_field& field : source.fields()) {
      InField in{field.name != nullptr ? std::string_view(field.name) : std::string_view(), {}};
      if (field.value != nullptr) in.value = std::string_view(field.value, field.value_len);
      in_.push_back(in);
    }
    fields_.Map(in_, &out_);
    record_.Clear();
    record_.SetEntity(std::string(source.entity()));
    record_.SetExternalId(std::string(source.external_id()));
    if (auto at = source.source_updated_at()) record_.SetSourceUpdatedAt(std::string(*at));
    record_.SetOrigin(std::string(source.origin()));
    for (const OutField& field : out_) record_.Set(field.name, field.value);
    return sink.Emit(record_);
  }

  // The output field's date format, or nullptr (see FieldMapper::FormatFor).
  const DateFormat* FormatFor(std::string_view output_field) const {
    return fields_.FormatFor(output_field);
  }

 private:
  FieldMapper fields_;
  std::vector<InField> in_;
  std::vector<OutField> out_;
  sdk::Record record_;
};

}  // namespace reglo::connector_common
