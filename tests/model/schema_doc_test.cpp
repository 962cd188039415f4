// The generated reference of the canonical model (schema_doc.h) against what validation does: each
// JSON Schema names every field, and its patterns accept exactly the values validation takes
// without a warning (the two exceptions the schemas state aside: the calendar and the codice
// fiscale check character).
#include "reglo/model/schema_doc.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "reglo/core/text.h"
#include "reglo/model/validation.h"

namespace reglo::model {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json Schema(std::string_view entity) {
  const EntitySpec* spec = FindEntity(entity);
  EXPECT_NE(spec, nullptr) << entity;
  return json::parse(EntityJsonSchema(*spec));
}

// A value of each type that validation takes without a warning.
std::string GoodValue(const FieldSpec& field) {
  switch (field.type) {
    case FieldType::kText: return "text";
    case FieldType::kDate: return "2024-03-01";
    case FieldType::kDateTime: return "2024-03-01T09:30:00Z";
    case FieldType::kInteger: return "1250";
    case FieldType::kBoolean: return "true";
    case FieldType::kEnum: return std::string(field.allowed.front());
    case FieldType::kFiscalCode: return "RSSMRA85T10A562S";
    case FieldType::kEmail: return "someone@example.com";
    case FieldType::kPhone: return "+393331234567";
    case FieldType::kCategoryList: return "A,B";
    case FieldType::kCurrency: return "EUR";
  }
  return "";
}

// The warnings validation gives `value` in `entity`.`field`, every other field being good.
std::vector<std::string> WarningsFor(const EntitySpec& entity, std::string_view field,
                                     const std::string& value) {
  RawRecord raw{std::string(entity.name), "c", "s", "X1", "2024-03-01T09:30:00Z", {}, "test"};
  for (const FieldSpec& spec : entity.fields) {
    raw.fields.emplace_back(std::string(spec.name), spec.name == field ? value : GoodValue(spec));
  }
  auto result = Validate(raw);
  EXPECT_TRUE(std::holds_alternative<CanonicalRecord>(result));
  if (!std::holds_alternative<CanonicalRecord>(result)) return {"rejected"};
  return std::get<CanonicalRecord>(result).warnings;
}

// Whether the field's JSON Schema accepts `value` as a JSON string (the subset the generator
// writes: pattern, enum, minimum/maximum only apply to numbers). ECMAScript is the dialect of
// JSON Schema patterns and of std::regex's default grammar.
bool SchemaAccepts(const json& property, const std::string& value) {
  if (property.contains("enum")) {
    return std::find(property["enum"].begin(), property["enum"].end(), json(value)) !=
           property["enum"].end();
  }
  return std::regex_search(value, std::regex(property["pattern"].get<std::string>()));
}

struct Sample {
  std::string entity;
  std::string field;
  std::vector<std::string> values;
};

// A codice fiscale of these 15 characters with its right check character.
std::string WithCheckCharacter(const std::string& first15) {
  return first15 + FiscalCodeCheckCharacter(first15);
}

// Values in and out of each type (enum values in the schema's case: the JSON Schema "enum" is
// case-sensitive, stricter than validation, as its description says); the pattern and validation
// must agree on every one.
const std::vector<Sample>& Samples() {
  static const std::vector<Sample> samples = {
      {"student", "firstName", {"Mario", "x", " ", "\t"}},
      {"student", "birthDate", {"1985-12-10", "2024-02-29", "1985-1-10", "10/12/1985", "1985-12"}},
      {"appointment",
       "startsAt",
       {"2026-03-01T09:30:00Z", "2026-03-01 09:30", "2026-03-01t09:30:00.123+01:00",
        "2026-03-01T09:30+0100", "2026-03-01T09:30:15,5-05", "2026-03-01", "09:30",
        "2026-03-01T9:30", "2026-03-01T09:30:00 Z", "2026-03-01T09:30:00+1"}},
      {"payment",
       "amountCents",
       {"1250", "-3", "+007", "0", "12.5", "1e3", "1 250", "123456789012345678",
        "1234567890123456789"}},
      {"instructor",
       "active",
       {"true", "TRUE", "1", "Si", "s\xc3\xac", "X", "no", "N", "0", "maybe", "2", "yes please"}},
      {"student",
       "fiscalCode",
       {"RSSMRA85T10A562S", WithCheckCharacter("RSSMRA85T1LA562"), "RSSMRA85T10A56",
        "RSSMRA85Z10A562S", "RSSMRA8AT10A562S", "1SSMRA85T10A562S"}},
      {"student",
       "email",
       {"a@b.it", "Mario.Rossi@Example.COM", "a@.b", "ab.it", "@b.it", "a@b.", "a b@c.it",
        "a@@b.it", "a@b"}},
      {"student",
       "phone",
       {"+39 333 123 4567", "(06) 1234-567", "06/123.456", "123456", "12345", "+39 333 abc 4567",
        "39+333123456", "1234567890123456", "++39333123456"}},
      {"instructor", "licenseCategories", {"A,B", "b; c1e | D", "am b", ",B,", "B,Z", "BX", "A1E"}},
      {"payment", "currency", {"EUR", "usd", "EURO", "E1R", "EU"}},
      {"case", "status", {"open", "theory_booked", "opened", "close"}},
      {"vehicle", "licenseCategory", {"B", "C1E", "Z"}},
  };
  return samples;
}

TEST(SchemaDocTest, EachEntityHasAJsonSchemaNamingEveryField) {
  for (const EntitySpec& entity : CanonicalEntities()) {
    SCOPED_TRACE(std::string(entity.name));
    const json schema = Schema(entity.name);
    EXPECT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    EXPECT_THAT(schema["$id"].get<std::string>(),
                ::testing::EndsWith("/" + std::string(entity.name) + ".schema.json"));
    EXPECT_EQ(schema["type"], "object");
    EXPECT_EQ(schema["properties"]["entity"]["const"], entity.name);
    EXPECT_EQ(schema["additionalProperties"], true);  // extra fields are kept
    const json& required = schema["required"];
    for (const char* member : {"entity", "externalId", "sourceUpdatedAt"}) {
      EXPECT_NE(std::find(required.begin(), required.end(), member), required.end()) << member;
    }
    for (const FieldSpec& field : entity.fields) {
      const json& property = schema["properties"][std::string(field.name)];
      ASSERT_TRUE(property.is_object()) << field.name;
      EXPECT_EQ(property["x-reglo-column"], field.column);
      EXPECT_FALSE(field.description.empty()) << field.name;
      EXPECT_THAT(property["description"].get<std::string>(),
                  HasSubstr(std::string(field.description)));
      EXPECT_TRUE(property.contains("pattern") || property.contains("enum")) << field.name;
      // A field with a default is never missing; every other one is expected.
      const bool listed = std::find(required.begin(), required.end(), field.name) != required.end();
      EXPECT_EQ(listed, field.default_value.empty()) << field.name;
      if (!field.default_value.empty()) {
        EXPECT_EQ(property["default"], field.default_value);
      }
      if (!field.references.empty()) {
        EXPECT_NE(FindEntity(field.references), nullptr) << field.references;
        EXPECT_EQ(property["x-reglo-references"], field.references);
      }
      if (field.type == FieldType::kEnum) {
        EXPECT_EQ(property["enum"].size(), field.allowed.size()) << field.name;
      }
    }
  }
}

TEST(SchemaDocTest, PatternsAcceptExactlyWhatValidationTakesWithoutAWarning) {
  for (const Sample& sample : Samples()) {
    const EntitySpec* entity = FindEntity(sample.entity);
    ASSERT_NE(entity, nullptr);
    const json property = Schema(sample.entity)["properties"][sample.field];
    const std::string prefix = sample.entity + "." + sample.field + ":";
    bool some_accepted = false;
    bool some_refused = false;
    for (const std::string& value : sample.values) {
      const std::vector<std::string> warnings = WarningsFor(*entity, sample.field, value);
      const bool warned = std::any_of(warnings.begin(), warnings.end(),
                                      [&](const auto& w) { return w.rfind(prefix, 0) == 0; });
      EXPECT_EQ(SchemaAccepts(property, value), !warned)
          << prefix << " '" << EscapeControlCharacters(value) << "'";
      (warned ? some_refused : some_accepted) = true;
    }
    // Each sample set has both kinds, or it proves nothing.
    EXPECT_TRUE(some_accepted && some_refused) << prefix;
  }
}

TEST(SchemaDocTest, NativeJsonNumbersAndBooleansAreAllowedWhereTheirTextIs) {
  const json amount = Schema("payment")["properties"]["amountCents"];
  EXPECT_EQ(amount["type"], json({"integer", "string"}));
  EXPECT_EQ(amount["maximum"], 999999999999999999LL);
  const json active = Schema("vehicle")["properties"]["active"];
  EXPECT_EQ(active["type"], json({"boolean", "integer", "string"}));
  EXPECT_EQ(active["minimum"], 0);
  EXPECT_EQ(active["maximum"], 1);
}

// The two rules a pattern cannot hold: they are stated in the description instead.
TEST(SchemaDocTest, CalendarAndCheckCharacterAreStatedWhereAPatternCannotHoldThem) {
  const json student = Schema("student")["properties"];
  EXPECT_TRUE(SchemaAccepts(student["birthDate"], "2023-02-29"));
  EXPECT_FALSE(WarningsFor(*FindEntity("student"), "birthDate", "2023-02-29").empty());
  EXPECT_THAT(student["birthDate"]["description"].get<std::string>(), HasSubstr("must exist"));
  EXPECT_TRUE(SchemaAccepts(student["fiscalCode"], "RSSMRA85T10A562T"));
  EXPECT_FALSE(WarningsFor(*FindEntity("student"), "fiscalCode", "RSSMRA85T10A562T").empty());
  EXPECT_THAT(student["fiscalCode"]["description"].get<std::string>(),
              HasSubstr("check character"));
}

TEST(SchemaDocTest, EnumValuesMatchInAnyCaseAndAreStoredAsTheSchemaSpellsThem) {
  RawRecord raw{"vehicle", "c", "s", "V1", "2024-03-01", {}, "test"};
  raw.fields = {{"licenseCategory", "c1e"}, {"transmission", "Automatic"}};
  auto result = Validate(raw);
  ASSERT_TRUE(std::holds_alternative<CanonicalRecord>(result));
  const CanonicalRecord& record = std::get<CanonicalRecord>(result);
  EXPECT_EQ(record.Value("licenseCategory"), "C1E");
  EXPECT_EQ(record.Value("transmission"), "automatic");
}

TEST(SchemaDocTest, TheMarkdownListsEveryEntityFieldAndAllowedValue) {
  const std::string markdown = CanonicalModelMarkdown();
  EXPECT_THAT(markdown, HasSubstr("do not edit"));
  for (const EntitySpec& entity : CanonicalEntities()) {
    EXPECT_THAT(markdown, HasSubstr("### " + std::string(entity.name) + "\n"));
    for (const FieldSpec& field : entity.fields) {
      EXPECT_THAT(markdown, HasSubstr("| `" + std::string(field.name) + "` |"));
      for (std::string_view value : field.allowed) {
        EXPECT_THAT(markdown, HasSubstr("`" + std::string(value) + "`"));
      }
    }
  }
  // The type rules come from the same constants validation uses.
  EXPECT_THAT(markdown,
              HasSubstr(fmt::format("{} to {} digits", kPhoneMinDigits, kPhoneMaxDigits)));
  for (std::string_view spelling : BooleanTrueSpellings()) {
    EXPECT_THAT(markdown, HasSubstr("`" + std::string(spelling) + "`"));
  }
}

}  // namespace
}  // namespace reglo::model
