// Record validation (host/model: Validate, and the checks it is built from) on records made of
// fuzz bytes. The input is lines: entity, externalId, sourceUpdatedAt (an empty line: absent),
// then one field per line, "name=value" or a bare "name" (an absent value). Every value also goes
// through the standalone checks. Properties: a normalised timestamp is fixed-width UTC in years
// 0001-9999 and normalises to itself; an accepted record's values and extra fields are valid
// UTF-8 and its extra field names are unique.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_support.h"
#include "reglo/model/validation.h"

using reglo::fuzz::Check;
using reglo::fuzz::NextLine;

namespace {

// "YYYY-MM-DDTHH:MM:SS.mmmZ", year 0001 to 9999: the one form stored timestamps take (their
// order as text is their order in time).
bool IsUtcTimestamp(std::string_view text) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != kShape.size()) return false;
  for (size_t i = 0; i < kShape.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return false;
  }
  return text.substr(0, 4) != "0000";
}

void CheckTimestamp(std::string_view text) {
  const std::optional<std::string> normalised = reglo::model::NormalizeTimestampUtc(text);
  if (!normalised) return;
  Check(IsUtcTimestamp(*normalised), "a normalised timestamp is not YYYY-MM-DDTHH:MM:SS.mmmZ");
  Check(reglo::model::NormalizeTimestampUtc(*normalised) == normalised,
        "a normalised timestamp does not normalise to itself");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  reglo::model::RawRecordView raw;
  raw.entity = NextLine(rest);
  raw.external_id = NextLine(rest);
  raw.company_id = "acme";
  raw.source_system = "fuzz";
  raw.origin = "fuzz:1";
  if (const std::string_view updated = NextLine(rest); !updated.empty()) {
    raw.source_updated_at = updated;
    CheckTimestamp(updated);
  }
  std::vector<reglo::model::RawField> fields;
  while (!rest.empty()) {
    const std::string_view line = NextLine(rest);
    const size_t equals = line.find('=');
    reglo::model::RawField field;
    field.name = line.substr(0, equals);
    if (equals != std::string_view::npos) field.value = line.substr(equals + 1);
    fields.push_back(field);
  }
  for (const reglo::model::RawField& field : fields) {
    const std::string_view value = field.value.value_or(field.name);
    // Safe on any text, not only on a well-formed code (it once read out of bounds).
    (void)reglo::model::FiscalCodeHasValidCheckCharacter(value);
    CheckTimestamp(value);
    Check(reglo::model::IsValidUtf8(reglo::model::RepairUtf8(value)),
          "RepairUtf8 left invalid UTF-8");
  }
  raw.fields = fields;

  const auto validated = reglo::model::Validate(raw);
  const auto* record = std::get_if<reglo::model::CanonicalRecord>(&validated);
  if (record == nullptr) return 0;
  if (record->source_updated_at) {
    Check(IsUtcTimestamp(*record->source_updated_at),
          "an accepted sourceUpdatedAt is not YYYY-MM-DDTHH:MM:SS.mmmZ");
  }
  for (const std::optional<std::string>& value : record->values) {
    Check(!value || reglo::model::IsValidUtf8(*value), "a canonical value is not valid UTF-8");
  }
  for (size_t i = 0; i < record->extra.size(); ++i) {
    Check(reglo::model::IsValidUtf8(record->extra[i].first) &&
              reglo::model::IsValidUtf8(record->extra[i].second),
          "an extra field is not valid UTF-8");
    Check(i == 0 || record->extra[i - 1].first != record->extra[i].first,
          "two extra fields with the same name");
  }
  return 0;
}
