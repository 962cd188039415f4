// The canonical model of Reglo Hub, declared as data: seven entities and their fields (DESIGN §4).
// Adding a field is one line in schema.cpp plus a storage migration. The tables are immutable
// after start-up and safe to read from any thread.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace reglo::model {

enum class FieldType {
  kText,
  kDate,      // YYYY-MM-DD
  kDateTime,  // ISO 8601; normalised to YYYY-MM-DDTHH:MM:SS, with Z when an offset was given
  kInteger,
  kBoolean,     // true / false
  kEnum,        // one of FieldSpec::allowed (unknown values are kept with a warning)
  kFiscalCode,  // Italian codice fiscale, format and check character verified
  kEmail,
  kPhone,
  kCategoryList,  // comma-separated licence categories
  kCurrency,      // ISO 4217 code, default EUR
};

// What kind of personal data a field holds, so every display and log masks it the same way.
enum class PersonalData { kNone, kName, kFiscalCode, kEmail, kPhone };

struct FieldSpec {
  std::string_view name;    // canonical (camelCase) name, as in records and events
  std::string_view column;  // storage column (snake_case)
  FieldType type = FieldType::kText;
  std::vector<std::string_view> allowed = {};  // for kEnum
  std::string_view default_value = {};         // used when the field is absent, without a warning
  PersonalData personal = PersonalData::kNone;
};

struct EntitySpec {
  std::string_view name;   // "student"
  std::string_view table;  // "students"
  std::vector<FieldSpec> fields;
  // The field whose change emits "<entity>.status_changed" in addition to "<entity>.updated".
  std::optional<std::string_view> status_field = std::nullopt;

  // Index of `name` in fields, or -1.
  int FieldIndex(std::string_view name) const;
};

// All canonical entities, in a stable order.
const std::vector<EntitySpec>& CanonicalEntities();
// The entity called `name`, or nullptr.
const EntitySpec* FindEntity(std::string_view name);
// Licence categories of the Italian driving licence (AM ... DE).
const std::vector<std::string_view>& LicenseCategories();

}  // namespace reglo::model
