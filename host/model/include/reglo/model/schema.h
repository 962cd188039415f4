// The canonical model of Reglo Hub, declared as data: seven entities, their fields and the rules of
// each field type that validation applies (DESIGN §4). Adding a field is one entry in schema.cpp
// plus a storage migration; docs/canonical-model.md and the JSON Schemas are generated from these
// tables (schema_doc.h). The tables are immutable after start-up and safe to read from any thread.
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
  kEnum,        // one of FieldSpec::allowed, any case (unknown values are kept with a warning)
  kFiscalCode,  // Italian codice fiscale, format and check character verified
  kEmail,
  kPhone,
  kCategoryList,  // licence categories separated by any of kCategorySeparators
  kCurrency,      // ISO 4217 code, default EUR
};

// What kind of personal data a field holds, so every display and log masks it the same way.
// kOther: personal data with no masking of its own (a birth date, a document number). Every kind
// but kNone is blanked when its subject is erased (issue #18).
enum class PersonalData { kNone, kName, kFiscalCode, kEmail, kPhone, kOther };

struct FieldSpec {
  std::string_view name;    // canonical (camelCase) name, as in records and events
  std::string_view column;  // storage column (snake_case)
  FieldType type = FieldType::kText;
  std::vector<std::string_view> allowed = {};  // for kEnum
  std::string_view default_value = {};         // used when the field is absent, without a warning
  PersonalData personal = PersonalData::kNone;
  std::string_view description = {};  // for the people who map to it: what the value means
  // The entity whose externalId this field holds (same company and source system). Documented,
  // not enforced: sources deliver out of order (DESIGN §4).
  std::string_view references = {};
};

struct EntitySpec {
  std::string_view name;   // "student"
  std::string_view table;  // "students"
  std::string_view description;
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

// The rules of the field types, shared by validation (which applies them) and the generated
// documentation (which states them), so the two cannot drift apart.
// kBoolean: the spellings read as true / false, compared in lower case (ASCII letters only).
const std::vector<std::string_view>& BooleanTrueSpellings();
const std::vector<std::string_view>& BooleanFalseSpellings();
// kPhone: digits, one leading '+', and these separators, which are dropped.
inline constexpr std::string_view kPhoneSeparators = " -./()";
inline constexpr int kPhoneMinDigits = 6;
inline constexpr int kPhoneMaxDigits = 15;
// kInteger: an optional sign and at most this many digits (so that it fits an int64).
inline constexpr int kIntegerMaxDigits = 18;
// kCategoryList: what separates two categories; the list is stored comma-separated, upper case.
inline constexpr std::string_view kCategorySeparators = ",; |";
// kFiscalCode: the month letters (position 9) and the letters that replace a digit in a code
// changed for omocodia (positions 7-8, 10-11, 13-15).
inline constexpr std::string_view kFiscalCodeMonthLetters = "ABCDEHLMPRST";
inline constexpr std::string_view kFiscalCodeOmocodiaLetters = "LMNPQRSTUV";

}  // namespace reglo::model
