// Test support: a reglo_record (the C ABI's record) as a connector emits one, for feeding the host
// side of the ABI (mapping, encoding). Header-only and stateless; the record points into the
// caller's strings and fields, which must outlive it.
#pragma once

#include <reglo/connector.h>

#include <cstddef>

namespace reglo::testing {

inline reglo_record AbiRecord(const char* entity, const char* external_id,
                              const reglo_field* fields = nullptr, size_t field_count = 0) {
  reglo_record record{};
  record.struct_size = sizeof record;
  record.entity = entity;
  record.external_id = external_id;
  record.fields = fields;
  record.field_count = field_count;
  return record;
}

}  // namespace reglo::testing
