#include "reglo/model/schema_doc.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

namespace reglo::model {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kSchemaIdBase = "https://reglo.it/schemas/canonical/";

// `text` as an ECMA-262 pattern (the dialect of JSON Schema) matching it literally, each ASCII
// letter in either case when `any_case`.
std::string Literal(std::string_view text, bool any_case) {
  std::string out;
  for (char c : text) {
    const bool lower = c >= 'a' && c <= 'z';
    const bool upper = c >= 'A' && c <= 'Z';
    if (any_case && (lower || upper)) {
      const char other = static_cast<char>(lower ? c - 'a' + 'A' : c - 'A' + 'a');
      out += fmt::format("[{}{}]", upper ? c : other, upper ? other : c);
    } else {
      if (std::string_view("\\^$.|?*+()[]{}/-").find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
  }
  return out;
}

// "(a|b|c)" of Literal(value) for each value.
std::string Alternatives(const std::vector<std::string_view>& values, bool any_case) {
  std::vector<std::string> literals;
  for (std::string_view value : values) literals.push_back(Literal(value, any_case));
  return fmt::format("({})", fmt::join(literals, "|"));
}

// A character class of the characters of `chars`.
std::string CharClass(std::string_view chars) {
  return "[" + Literal(chars, false) + "]";
}

std::string Quoted(const std::vector<std::string_view>& values) {
  std::vector<std::string> quoted;
  for (std::string_view value : values) quoted.push_back(fmt::format("`{}`", value));
  return fmt::format("{}", fmt::join(quoted, ", "));
}

// The date-time texts validation reads (ParseDateTime): date, 'T' or a space, HH:MM, optional
// seconds and fraction, optional Z or offset.
constexpr std::string_view kDateTimePattern =
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    "([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?$";
constexpr std::string_view kDatePattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
// sourceUpdatedAt: a date-time, or a date (midnight UTC).
constexpr std::string_view kTimestampPattern =
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    "([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?)?$";
// Identity members: no control character (C0, DEL, C1), at least one character.
constexpr std::string_view kIdentityPattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$";

std::string FiscalCodePattern() {
  const std::string digit = "[0-9" + std::string(kFiscalCodeOmocodiaLetters) + "]";
  return fmt::format("^[A-Z]{{6}}{0}{{2}}[{1}]{0}{{2}}[A-Z]{0}{{3}}[A-Z]$", digit,
                     kFiscalCodeMonthLetters);
}

std::string PhonePattern() {
  const std::string separator = CharClass(kPhoneSeparators);
  return fmt::format("^{0}*\\+?{0}*([0-9]{0}*){{{1},{2}}}$", separator, kPhoneMinDigits,
                     kPhoneMaxDigits);
}

std::string CategoryListPattern() {
  const std::string separator = CharClass(kCategorySeparators);
  const std::string category = Alternatives(LicenseCategories(), true);
  return fmt::format("^{0}*{1}({0}+{1})*{0}*$", separator, category);
}

std::string BooleanPattern() {
  std::vector<std::string_view> spellings = BooleanTrueSpellings();
  for (std::string_view spelling : BooleanFalseSpellings()) spellings.push_back(spelling);
  return "^" + Alternatives(spellings, true) + "$";
}

std::string IntegerLimit() {
  return std::string(static_cast<size_t>(kIntegerMaxDigits), '9');
}

// What one field type is called, accepts and stores: the rows of the Markdown table and the
// JSON Schema of a value. The switches have no default, so a new FieldType fails to compile
// (-Wswitch) until it is documented here.
const char* TypeName(FieldType type) {
  switch (type) {
    case FieldType::kText: return "text";
    case FieldType::kDate: return "date";
    case FieldType::kDateTime: return "date-time";
    case FieldType::kInteger: return "integer";
    case FieldType::kBoolean: return "boolean";
    case FieldType::kEnum: return "enum";
    case FieldType::kFiscalCode: return "codice fiscale";
    case FieldType::kEmail: return "e-mail";
    case FieldType::kPhone: return "phone";
    case FieldType::kCategoryList: return "licence categories";
    case FieldType::kCurrency: return "currency";
  }
  return "text";
}

// The Markdown row of a type: | name | accepted without warning | stored as |.
std::string TypeRow(FieldType type) {
  auto row = [&](std::string_view accepted, std::string_view stored) {
    return fmt::format("| {} | {} | {} |\n", TypeName(type), accepted, stored);
  };
  switch (type) {
    case FieldType::kText:
      return row("any text (leading and trailing spaces are trimmed)", "as given, trimmed");
    case FieldType::kDate:
      return row("`YYYY-MM-DD`, a day that exists (`2026-02-30` does not)", "as given");
    case FieldType::kDateTime:
      return row(
          "ISO 8601: `YYYY-MM-DDTHH:MM`, optional `:SS` and fraction, `T` or a space, optional "
          "`Z` or offset (`+01:00`, `+0100`, `+01`); within the years 0001-9999 in UTC",
          "`YYYY-MM-DDTHH:MM:SS` (fraction dropped), in UTC with `Z` when the value had a zone, "
          "else as the local time given");
    case FieldType::kInteger:
      return row(
          fmt::format("an optional sign and 1 to {} digits (a JSON number too)", kIntegerMaxDigits),
          "digits without `+` or leading zeros");
    case FieldType::kBoolean:
      return row(fmt::format("true: {}; false: {} (any case; JSON `true`/`false` too)",
                             Quoted(BooleanTrueSpellings()), Quoted(BooleanFalseSpellings())),
                 "`true` or `false`");
    case FieldType::kEnum:
      return row("one of the field's allowed values, in any case", "the allowed value as listed");
    case FieldType::kFiscalCode:
      return row(fmt::format("16 characters `LLLLLL DD L DD L DDD L` (L a letter, D a digit or, "
                             "for omocodia, one of `{}`; the month letter one of `{}`) whose "
                             "last letter is the check character; any case, spaces ignored",
                             kFiscalCodeOmocodiaLetters, kFiscalCodeMonthLetters),
                 "upper case, without spaces");
    case FieldType::kEmail:
      return row("one `@`, not first; a `.` after it; no space; not ending in `.`",
                 "the domain in lower case");
    case FieldType::kPhone:
      return row(fmt::format("{} to {} digits, one leading `+`, separators `{}` (space, `-`, "
                             "`.`, `/`, `(`, `)`)",
                             kPhoneMinDigits, kPhoneMaxDigits, kPhoneSeparators),
                 "`+` and digits only");
    case FieldType::kCategoryList:
      return row("licence categories (below), any case, separated by `,` `;` `\\|` or spaces",
                 "upper case, comma-separated (`A,B,C1`)");
    case FieldType::kCurrency:
      return row("an ISO 4217 code: three letters, any case", "upper case");
  }
  return row("", "");
}

Json ValueSchema(const FieldSpec& field) {
  Json schema;
  switch (field.type) {
    case FieldType::kText: schema = {{"type", "string"}, {"pattern", "\\S"}}; break;
    case FieldType::kDate:
      schema = {{"type", "string"}, {"format", "date"}, {"pattern", kDatePattern}};
      break;
    case FieldType::kDateTime: schema = {{"type", "string"}, {"pattern", kDateTimePattern}}; break;
    case FieldType::kInteger:
      schema = {{"type", {"integer", "string"}},
                {"pattern", fmt::format("^[+-]?[0-9]{{1,{}}}$", kIntegerMaxDigits)},
                {"minimum", std::stoll("-" + IntegerLimit())},
                {"maximum", std::stoll(IntegerLimit())}};
      break;
    case FieldType::kBoolean:
      schema = {{"type", {"boolean", "integer", "string"}},
                {"minimum", 0},
                {"maximum", 1},
                {"pattern", BooleanPattern()}};
      break;
    case FieldType::kEnum: {
      Json allowed = Json::array();
      for (std::string_view value : field.allowed) allowed.push_back(value);
      schema = {{"type", "string"}, {"enum", allowed}};
      break;
    }
    case FieldType::kFiscalCode:
      schema = {{"type", "string"}, {"pattern", FiscalCodePattern()}};
      break;
    case FieldType::kEmail:
      schema = {{"type", "string"}, {"pattern", "^[^@ ]+@[^@ ]*\\.[^@ ]*[^@ .]$"}};
      break;
    case FieldType::kPhone: schema = {{"type", "string"}, {"pattern", PhonePattern()}}; break;
    case FieldType::kCategoryList:
      schema = {{"type", "string"}, {"pattern", CategoryListPattern()}};
      break;
    case FieldType::kCurrency: schema = {{"type", "string"}, {"pattern", "^[A-Za-z]{3}$"}}; break;
  }
  return schema;
}

const char* PersonalName(PersonalData personal) {
  switch (personal) {
    case PersonalData::kNone: return "";
    case PersonalData::kName: return "name";
    case PersonalData::kFiscalCode: return "fiscal code";
    case PersonalData::kEmail: return "e-mail";
    case PersonalData::kPhone: return "phone";
    case PersonalData::kOther: return "other";
  }
  return "";
}

// The notes column of a field: allowed values, default, reference, personal data.
std::string FieldNotes(const EntitySpec& entity, const FieldSpec& field) {
  std::vector<std::string> notes;
  if (field.type == FieldType::kEnum) {
    notes.push_back(field.allowed == LicenseCategories() ? "a licence category"
                                                         : "one of " + Quoted(field.allowed));
  }
  if (!field.default_value.empty()) {
    notes.push_back(fmt::format("default `{}` when absent (no warning)", field.default_value));
  }
  if (!field.references.empty()) {
    notes.push_back(fmt::format("the externalId of a {}", field.references));
  }
  if (entity.status_field == field.name) {
    notes.push_back(fmt::format("a change emits `{}.status_changed`", entity.name));
  }
  if (field.personal == PersonalData::kOther) {
    notes.push_back("personal data: erased with its subject");
  } else if (field.personal != PersonalData::kNone) {
    notes.push_back(fmt::format("personal data ({}): masked in logs and the console",
                                PersonalName(field.personal)));
  }
  return fmt::format("{}", fmt::join(notes, "; "));
}

}  // namespace

std::string EntityJsonSchema(const EntitySpec& entity) {
  Json properties;
  properties["entity"] = {{"const", entity.name}};
  properties["externalId"] = {
      {"type", "string"},
      {"pattern", kIdentityPattern},
      {"description",
       "The record's id in the source system; with companyId and sourceSystem its identity. "
       "Missing, empty or holding a control character: the record is rejected."}};
  for (const char* member : {"companyId", "sourceSystem"}) {
    properties[member] = {
        {"type", "string"},
        {"pattern", kIdentityPattern},
        {"description",
         "Set by the hub from the source (or the ingestion API's envelope, which it must "
         "equal). Empty or holding a control character: the record is rejected."}};
  }
  properties["sourceUpdatedAt"] = {
      {"type", {"string", "null"}},
      {"pattern", kTimestampPattern},
      {"description",
       "When the source last changed the record (a date-time, or a date for midnight UTC); an "
       "older one than stored is ignored as stale. Missing or malformed: a warning."}};
  Json required = Json::array({"entity", "externalId", "sourceUpdatedAt"});
  for (const FieldSpec& field : entity.fields) {
    Json schema = ValueSchema(field);
    std::string description(field.description);
    if (field.type == FieldType::kEnum) description += " Any case is accepted.";
    if (field.type == FieldType::kFiscalCode) {
      description += " Its 16th character must be the check character of the first 15.";
    }
    if (field.type == FieldType::kDate) description += " The day must exist.";
    schema["description"] = description;
    if (!field.default_value.empty()) schema["default"] = field.default_value;
    schema["x-reglo-type"] = TypeName(field.type);
    schema["x-reglo-column"] = field.column;
    if (!field.references.empty()) schema["x-reglo-references"] = field.references;
    if (field.personal != PersonalData::kNone) {
      schema["x-reglo-personal-data"] = PersonalName(field.personal);
    }
    properties[std::string(field.name)] = std::move(schema);
    if (field.default_value.empty()) required.push_back(field.name);
  }
  Json schema = {
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"$id", fmt::format("{}{}.schema.json", kSchemaIdBase, entity.name)},
      {"title", fmt::format("Reglo canonical {}", entity.name)},
      {"description",
       fmt::format("{} A record this schema accepts passes the hub's validation with no warning "
                   "(the calendar and the codice fiscale check character aside, which the "
                   "descriptions state). Validation is accept + warning: a record breaking it "
                   "is still stored, with a warning per field, unless its identity is broken. "
                   "Other members are kept as extra fields.",
                   entity.description)},
      {"type", "object"},
      {"properties", properties},
      {"required", required},
      {"additionalProperties", true}};
  return schema.dump(2) + "\n";
}

std::string CanonicalModelMarkdown() {
  std::string out;
  out +=
      "<!-- Generated by `reglo-schema-doc --markdown` from host/model/src/schema.cpp: do not "
      "edit.\n"
      "     A test (schema_doc_test) fails when this file is stale. -->\n"
      "# The canonical model\n\n"
      "Every connector maps its source to these records, and the ingestion API takes them as "
      "they are. This page is generated from the hub's schema (`host/model/src/schema.cpp`), the "
      "same tables validation reads. Machine-readable: one JSON Schema (draft 2020-12) per "
      "entity, installed with the connector SDK in `share/reglo/schema/<entity>.schema.json` "
      "and served by a running hub at `GET /api/admin/schema` (all) and "
      "`GET /api/admin/schema/<entity>` ([admin API](admin-api.md)).\n\n"
      "## Validation: accept + warning\n\n"
      "- A record is **rejected** (a dead letter with the reason) when its identity is broken: "
      "`companyId`, `sourceSystem` or `externalId` missing, empty or holding a control character, "
      "or an unknown `entity`, or a value holding NUL.\n"
      "- Anything else wrong is **accepted with a warning** naming the field "
      "(`student.fiscalCode: invalid codice fiscale check character`): a field that is missing "
      "or empty (`<entity>.<field>: missing`) unless it has a default, a malformed value (kept as "
      "given), an unknown enum value (kept), a missing or malformed `sourceUpdatedAt`.\n"
      "- Warnings of personal fields never quote the value.\n"
      "- Members that are not canonical fields are kept byte for byte as extra fields, never "
      "dropped.\n"
      "- Values of canonical fields are trimmed (extra fields are not); invalid UTF-8 is replaced "
      "by U+FFFD with a warning.\n"
      "- References between entities (`studentExternalId`, ...) are not checked: sources "
      "deliver out of order.\n\n"
      "A record that passes with no warning has every field below, well formed.\n\n"
      "## Every record\n\n"
      "| member | rule |\n"
      "| --- | --- |\n"
      "| `entity` | one of the entities below |\n"
      "| `externalId` | the record's id in the source system; required, no control character |\n"
      "| `companyId`, `sourceSystem` | set from the source's configuration (or the ingestion "
      "API's envelope); required, no control character |\n"
      "| `sourceUpdatedAt` | when the source last changed the record: a date-time as below, or "
      "a date (midnight UTC); stored in UTC with milliseconds; an older value than stored makes "
      "the record stale (ignored); missing or malformed: a warning |\n\n"
      "The hub adds `createdAt`, `updatedAt`, `version` (1, then +1 on every real change) and "
      "`contentHash`.\n\n"
      "## Field types\n\n"
      "| type | accepted with no warning | stored as |\n"
      "| --- | --- | --- |\n";
  for (FieldType type :
       {FieldType::kText, FieldType::kDate, FieldType::kDateTime, FieldType::kInteger,
        FieldType::kBoolean, FieldType::kEnum, FieldType::kFiscalCode, FieldType::kEmail,
        FieldType::kPhone, FieldType::kCategoryList, FieldType::kCurrency}) {
    out += TypeRow(type);
  }
  out += fmt::format("\nLicence categories: {}.\n\n## Entities\n", Quoted(LicenseCategories()));
  for (const EntitySpec& entity : CanonicalEntities()) {
    out += fmt::format(
        "\n### {}\n\n{} Events: `{}.created`, `{}.updated`{}. JSON Schema: "
        "`{}.schema.json`.\n\n"
        "| field | type | notes | meaning |\n"
        "| --- | --- | --- | --- |\n",
        entity.name, entity.description, entity.name, entity.name,
        entity.status_field ? fmt::format(", `{}.status_changed`", entity.name) : "", entity.name);
    for (const FieldSpec& field : entity.fields) {
      out += fmt::format("| `{}` | {} | {} | {} |\n", field.name, TypeName(field.type),
                         FieldNotes(entity, field), field.description);
    }
  }
  return out;
}

}  // namespace reglo::model
