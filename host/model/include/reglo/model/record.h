// Canonical records: what the pipeline validates, what storage keeps, what events carry.
// RawRecord is canonical-shaped input before validation; CanonicalRecord is validated and
// normalised. Plain values, no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reglo/model/schema.h"

namespace reglo::model {

// A canonical-shaped record as a connector's mapping (or an agent) delivered it.
struct RawRecord {
  std::string entity;
  std::string company_id;
  std::string source_system;
  std::string external_id;
  std::optional<std::string> source_updated_at;
  std::vector<std::pair<std::string, std::optional<std::string>>> fields;
  std::string origin;  // "students.csv:42", for warnings
};

// The same, borrowed: what a connector's C record is read as without copying it first.
struct RawField {
  std::string_view name;
  std::optional<std::string_view> value;
};
struct RawRecordView {
  std::string_view entity;
  std::string_view company_id;
  std::string_view source_system;
  std::string_view external_id;
  std::optional<std::string_view> source_updated_at;
  std::span<const RawField> fields;
  std::string_view origin;
};

// The identity that dedup and idempotency key on (DESIGN §5).
struct RecordKey {
  std::string company_id;
  std::string source_system;
  std::string external_id;
  bool operator==(const RecordKey&) const = default;
};

struct CanonicalRecord {
  const EntitySpec* entity = nullptr;
  RecordKey key;
  std::optional<std::string> source_updated_at;    // normalised: YYYY-MM-DDTHH:MM:SS.mmmZ
  std::vector<std::optional<std::string>> values;  // one per entity->fields, normalised text
  std::vector<std::pair<std::string, std::string>> extra;  // unknown fields, sorted by name
  std::vector<std::string> warnings;  // "student.email: missing" (never a personal value)
  std::string content_hash;           // over values and extra; see ContentHash()
  // The hash of the source row this record was mapped from, with the mapping's fingerprint
  // (pipeline/source_hashes.h), when mapping that row again is known to yield this very record:
  // one record of the row's own entity and id, without warnings. Stored with the record, it lets
  // the next pull skip mapping and validating a row that did not change. Absent: always map.
  std::optional<int64_t> source_hash;
  // The events' `data` member with the decision's parts left out (PrepareEventData, events.h):
  // made where the record is validated, on the pulling thread, so the committing thread only
  // splices in the version and the changes. Empty: BuildEvents makes it all.
  struct EventDataTemplate {
    std::string text;  // {"entity":…,"version":|,"sourceUpdatedAt":…,"changedFields":[|…}
    size_t version_at = 0;  // where the version goes
    size_t changes_at = 0;  // where the changed fields (then "]" and statusChange) go
  } event_template;
  std::string origin;

  const std::optional<std::string>& Value(std::string_view field) const;
};

// Why a record could not be stored at all (goes to dead letters).
struct Rejection {
  std::string entity;
  RecordKey key;  // as far as known
  std::string origin;
  std::string reason;              // masked
  std::string stage = "validate";  // where it failed: "map" (connector) or "validate"
};

// What storage knows of a record already stored.
struct StoredState {
  int64_t version = 0;
  std::string content_hash;
  std::optional<std::string> source_updated_at;
  std::vector<std::optional<std::string>> values;
  std::vector<std::pair<std::string, std::string>> extra;
};

// The hash of the normalised canonical fields and extra fields of a record.
std::string ContentHash(const EntitySpec& entity,
                        const std::vector<std::optional<std::string>>& values,
                        const std::vector<std::pair<std::string, std::string>>& extra);

// The record's values and extra fields as the JSON object that events carry. Computed once, by
// Validate, so the writer's side of the pipeline only assembles envelopes.
std::string RecordJson(const EntitySpec& entity,
                       const std::vector<std::optional<std::string>>& values,
                       const std::vector<std::pair<std::string, std::string>>& extra);
// The same, appended to `out`.
void AppendRecordJson(std::string& out, const EntitySpec& entity,
                      const std::vector<std::optional<std::string>>& values,
                      const std::vector<std::pair<std::string, std::string>>& extra);

// The extra fields as a JSON object text, and back.
std::string ExtraToJson(const std::vector<std::pair<std::string, std::string>>& extra);
std::vector<std::pair<std::string, std::string>> ExtraFromJson(const std::string& json);

}  // namespace reglo::model
