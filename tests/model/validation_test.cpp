// Validation under "accept + warning": identity missing -> rejected; anything else -> warning.
#include "reglo/model/validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "raw_record.h"
#include "scan_pieces.h"
namespace reglo::model {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

RawRecord Student() {
  return testing::Raw("student", "autoscuola-rossi", "gestionale-csv", "A001",
                      "2026-03-01T10:00:00+01:00",
                      {{"firstName", "Mario"},
                       {"lastName", "Rossi"},
                       {"fiscalCode", "rssmra85t10a562s"},
                       {"birthDate", "1985-12-10"},
                       {"email", "Mario.Rossi@Example.COM"},
                       {"phone", "+39 333 123 4567"}});
}

CanonicalRecord Accepted(const RawRecord& raw) {
  auto result = Validate(raw);
  EXPECT_TRUE(std::holds_alternative<CanonicalRecord>(result));
  return std::get<CanonicalRecord>(result);
}

TEST(ValidationTest, AGoodStudentIsNormalisedWithoutWarnings) {
  CanonicalRecord record = Accepted(Student());
  EXPECT_THAT(record.warnings, IsEmpty());
  EXPECT_EQ(record.Value("fiscalCode"), "RSSMRA85T10A562S");
  EXPECT_EQ(record.Value("email"), "Mario.Rossi@example.com");
  EXPECT_EQ(record.Value("phone"), "+393331234567");
  EXPECT_EQ(record.source_updated_at, "2026-03-01T09:00:00.000Z");
  EXPECT_EQ(record.content_hash.size(), 32u);
}

TEST(ValidationTest, MissingIdentityIsRejected) {
  for (auto blank : {&RawRecord::company_id, &RawRecord::source_system, &RawRecord::external_id}) {
    RawRecord raw = Student();
    raw.*blank = "  ";
    auto result = Validate(raw);
    ASSERT_TRUE(std::holds_alternative<Rejection>(result));
    EXPECT_THAT(std::get<Rejection>(result).reason, HasSubstr("missing identity field"));
  }
  RawRecord unknown = Student();
  unknown.entity = "pupil";
  ASSERT_TRUE(std::holds_alternative<Rejection>(Validate(unknown)));
}

TEST(ValidationTest, FiscalCodeFormatAndCheckCharacterAreVerified) {
  EXPECT_TRUE(FiscalCodeHasValidCheckCharacter("RSSMRA85T10A562S"));
  EXPECT_EQ(FiscalCodeCheckCharacter("RSSMRA85T10A562"), 'S');
  EXPECT_FALSE(FiscalCodeHasValidCheckCharacter("RSSMRA85T10A562X"));
  EXPECT_TRUE(FiscalCodeHasValidFormat("RSSMRA85T10A56NS"));   // omocodia: digit replaced by letter
  EXPECT_FALSE(FiscalCodeHasValidFormat("RSSMRA85Z10A562S"));  // Z is not a month letter

  RawRecord wrong_check = Student();
  wrong_check.fields[2].second = "RSSMRA85T10A562X";
  EXPECT_THAT(Accepted(wrong_check).warnings,
              Contains("student.fiscalCode: invalid codice fiscale check character"));
  RawRecord wrong_format = Student();
  wrong_format.fields[2].second = "12345";
  EXPECT_THAT(Accepted(wrong_format).warnings,
              Contains("student.fiscalCode: invalid codice fiscale format"));
}

TEST(ValidationTest, MalformedFieldsAreKeptWithAWarningThatNamesTheFieldNotThePersonalValue) {
  RawRecord raw = Student();
  raw.fields[3].second = "31/02/1985";
  raw.fields[4].second = "mario.rossi@";
  raw.fields.erase(raw.fields.begin() + 5);  // no phone
  CanonicalRecord record = Accepted(raw);
  EXPECT_THAT(record.warnings,
              Contains(HasSubstr("student.birthDate: '31/02/1985' is not a date")));
  EXPECT_THAT(record.warnings, Contains("student.email: malformed e-mail address"));
  EXPECT_THAT(record.warnings, Contains("student.phone: missing"));
  EXPECT_EQ(record.Value("birthDate"), "31/02/1985");  // accepted as given, never dropped
  for (const std::string& warning : record.warnings)
    EXPECT_EQ(warning.find("mario.rossi"), std::string::npos);
}

TEST(ValidationTest, EnumsBooleansDatesAndDefaults) {
  const RawRecord payment = testing::Raw("payment", "c", "s", "P1", "2026-03-01 10:00",
                                         {{"studentExternalId", "A001"},
                                          {"caseExternalId", "C001"},
                                          {"amountCents", "+012000"},
                                          {"paidAt", "2026-03-01T10:00:00+01:00"},
                                          {"method", "CARD"},
                                          {"status", "pagato"}});
  CanonicalRecord record = Accepted(payment);
  EXPECT_EQ(record.Value("amountCents"), "12000");
  EXPECT_EQ(record.Value("currency"), "EUR");
  EXPECT_EQ(record.Value("paidAt"), "2026-03-01T09:00:00Z");
  EXPECT_EQ(record.Value("method"), "card");
  EXPECT_EQ(record.Value("status"), "pagato");
  EXPECT_THAT(record.warnings, Contains("payment.status: unknown value 'pagato'; kept"));
  EXPECT_EQ(record.warnings.size(), 1u);

  const testing::RawFields vehicle = {{"plate", "FG123AB"},       {"make", "Fiat"},
                                      {"model", "Panda"},         {"licenseCategory", "b"},
                                      {"transmission", "Manual"}, {"active", "Sì"}};
  CanonicalRecord v = Accepted(testing::Raw("vehicle", "c", "s", "V1", std::nullopt, vehicle));
  EXPECT_EQ(v.Value("licenseCategory"), "B");
  EXPECT_EQ(v.Value("transmission"), "manual");
  EXPECT_EQ(v.Value("active"), "true");
  EXPECT_THAT(v.warnings, Contains("vehicle.sourceUpdatedAt: missing"));
}

TEST(ValidationTest, UnknownFieldsAreKeptAsExtraAndInvalidUtf8IsRepaired) {
  RawRecord raw = Student();
  raw.fields.push_back({"note", "paga a rate; \"ok\""});
  raw.fields.push_back({"zona", std::string("Mil\xe0no")});  // Latin-1 byte, not UTF-8
  CanonicalRecord record = Accepted(raw);
  ASSERT_EQ(record.extra.size(), 2u);
  EXPECT_EQ(record.extra[0].first, "note");
  EXPECT_EQ(record.extra[1].second, "Mil\xEF\xBF\xBDno");
  EXPECT_THAT(record.warnings, Contains("student.zona: invalid UTF-8 replaced"));
  EXPECT_TRUE(IsValidUtf8(record.extra[1].second));
  EXPECT_NE(record.content_hash, Accepted(Student()).content_hash);
}

TEST(ValidationTest, TimestampsNormaliseToUtc) {
  EXPECT_EQ(NormalizeTimestampUtc("2026-01-01T00:30:00+01:00"), "2025-12-31T23:30:00.000Z");
  EXPECT_EQ(NormalizeTimestampUtc("2026-03-01"), "2026-03-01T00:00:00.000Z");
  EXPECT_EQ(NormalizeTimestampUtc("2026-03-01T10:00:00.5Z"), "2026-03-01T10:00:00.500Z");
  EXPECT_EQ(NormalizeTimestampUtc("01/03/2026"), std::nullopt);
  EXPECT_EQ(NormalizeTimestampUtc("2026-02-30T10:00:00Z"), std::nullopt);
}

// Issue 14 §6: an offset could move a timestamp out of years 0001-9999: "10000-01-01..." broke
// the fixed-width text ordering the stale check relies on, year 0 the hub's own parser.
TEST(ValidationTest, TimestampsThatLeaveYearsOneToNineThousandNineHundredNinetyNineAreRefused) {
  EXPECT_EQ(NormalizeTimestampUtc("9999-12-31T23:30:00-01:00"), std::nullopt);
  EXPECT_EQ(NormalizeTimestampUtc("0001-01-01T00:00:00+01:00"), std::nullopt);
  EXPECT_EQ(NormalizeTimestampUtc("9999-12-31T22:30:00-01:00"), "9999-12-31T23:30:00.000Z");
  EXPECT_EQ(NormalizeTimestampUtc("0001-01-01T01:00:00+01:00"), "0001-01-01T00:00:00.000Z");

  // sourceUpdatedAt: ignored with a warning, as a malformed one is.
  RawRecord raw = Student();
  raw.source_updated_at = "9999-12-31T23:30:00-01:00";
  CanonicalRecord record = Accepted(raw);
  EXPECT_EQ(record.source_updated_at, std::nullopt);
  EXPECT_THAT(record.warnings,
              Contains(HasSubstr("student.sourceUpdatedAt: '9999-12-31T23:30:00-01:00' is not an "
                                 "ISO 8601 timestamp of the years 0001-9999")));
  // A date-time field: kept as given, with a warning (accept + warning).
  const RawRecord appointment = testing::Raw(
      "appointment", "c", "s", "A1", std::nullopt,
      {{"startsAt", "0001-01-01T00:00:00+01:00"}, {"endsAt", "2026-01-01T10:00:00+01:00"}});
  CanonicalRecord a = Accepted(appointment);
  EXPECT_EQ(a.Value("startsAt"), "0001-01-01T00:00:00+01:00");
  EXPECT_EQ(a.Value("endsAt"), "2026-01-01T09:00:00Z");
  EXPECT_THAT(a.warnings, Contains("appointment.startsAt: '0001-01-01T00:00:00+01:00' falls "
                                   "outside the years 0001-9999 in UTC; kept as given"));
}

// Under UBSan, "RSSMRA85T10A56." read kOdd[-29]; any input is now safe and simply not valid.
TEST(ValidationTest, TheCheckCharacterIsSafeOnAnyInput) {
  EXPECT_TRUE(FiscalCodeHasValidCheckCharacter("RSSMRA85T10A562S"));
  for (std::string_view code : {"RSSMRA85T10A56.S", "rssmra85t10a562s", "RSSMRA85T10A562\xff",
                                "!!!!!!!!!!!!!!!!", "RSSMRA85T10A56\x00S"}) {
    EXPECT_FALSE(FiscalCodeHasValidCheckCharacter(std::string(code.data(), 16))) << code;
  }
  EXPECT_EQ(FiscalCodeCheckCharacter("RSSMRA85T10A56~"), '\0');
}

TEST(ValidationTest, ExtraNamesThatRepairToTheSameNameMergeWithAWarning) {
  RawRecord raw = Student();
  raw.fields.push_back({std::string("zona\xe0"), "uno"});
  raw.fields.push_back({std::string("zona\xe8"), "due"});
  raw.fields.push_back({"note", "a"});
  raw.fields.push_back({"note", "b"});  // the same name twice: the last wins, as before
  CanonicalRecord record = Accepted(raw);
  ASSERT_EQ(record.extra.size(), 2u);
  EXPECT_EQ(record.extra[0], (std::pair<std::string, std::string>{"note", "b"}));
  EXPECT_EQ(record.extra[1], (std::pair<std::string, std::string>{"zona\xEF\xBF\xBD", "due"}));
  EXPECT_THAT(record.warnings,
              Contains("student.zona\xEF\xBF\xBD: two field names are the same once invalid UTF-8 "
                       "is replaced; the last value is kept"));
  EXPECT_EQ(std::count_if(record.warnings.begin(), record.warnings.end(),
                          [](const std::string& w) { return w.find("two field") != w.npos; }),
            1);
}

// Linear by construction: one hash lookup per extra field (was a scan of the earlier ones).
TEST(ValidationTest, ARecordWithEightyThousandExtraFieldsIsValidated) {
  RawRecord raw = Student();
  for (int i = 0; i < 80'000; ++i) raw.fields.push_back({"f" + std::to_string(i), "1"});
  raw.fields.push_back({"f0", "last"});
  CanonicalRecord record = Accepted(raw);
  ASSERT_EQ(record.extra.size(), 80'000u);
  EXPECT_EQ(record.extra[0], (std::pair<std::string, std::string>{"f0", "last"}));
}

// Issue 14 §5: whatever the plugin, an identity with a control character is a rejection with
// the reason (which echoes the value escaped and cut short).
TEST(ValidationTest, IdentityFieldsWithControlCharactersAreRejected) {
  for (auto member : {&RawRecord::company_id, &RawRecord::source_system, &RawRecord::external_id}) {
    for (std::string bad : {std::string("A0\n01"), std::string("A0\x1b[2J"), std::string("A0\x7f"),
                            std::string("A0\xc2\x85"),
                            std::string("7\0"
                                        "1",
                                        3)}) {
      RawRecord raw = Student();
      raw.*member = bad;
      auto result = Validate(raw);
      ASSERT_TRUE(std::holds_alternative<Rejection>(result)) << bad;
      EXPECT_THAT(std::get<Rejection>(result).reason, HasSubstr("holds control characters"));
      EXPECT_EQ(std::get<Rejection>(result).reason.find('\x1b'), std::string::npos);
    }
  }
  // A value with NUL is a dead letter too: no store can keep it as it is.
  RawRecord nul_value = Student();
  nul_value.fields.push_back({"note", std::string("a\0b", 3)});
  auto nul = Validate(nul_value);
  ASSERT_TRUE(std::holds_alternative<Rejection>(nul));
  EXPECT_EQ(std::get<Rejection>(nul).reason,
            "student.note: the value holds NUL, which cannot be stored");
  RawRecord trimmed = Student();
  trimmed.external_id = " A001\t";  // blanks around an id are trimmed, as before
  EXPECT_EQ(Accepted(trimmed).key.external_id, "A001");
}

// Issue 14 §1/§6: messages echo at most an excerpt of a value.
TEST(ValidationTest, MessagesEchoAnExcerptOfTheValue) {
  RawRecord raw = Student();
  raw.entity = std::string(30'000, '7');
  auto result = Validate(raw);
  ASSERT_TRUE(std::holds_alternative<Rejection>(result));
  const std::string& reason = std::get<Rejection>(result).reason;
  EXPECT_LT(reason.size(), 300u);
  EXPECT_THAT(reason, HasSubstr("(30000 bytes)"));
  RawRecord long_time = Student();
  long_time.source_updated_at = std::string(40'000, '1');
  for (const std::string& warning : Accepted(long_time).warnings) EXPECT_LT(warning.size(), 400u);
}

// IsValidUtf8 skips ASCII eight bytes at a time: with ASCII around it, a piece is judged wherever
// it falls exactly as the piece alone (checked byte by byte) is.
TEST(ValidationTest, Utf8IsJudgedTheSameWhereverAPieceFallsInLongText) {
  for (const std::string& piece : reglo::testing::ScanPieces()) {
    const bool alone = IsValidUtf8(piece);
    reglo::testing::ForEachPlacement(
        piece, [&](const std::string& text, size_t before, size_t after) {
          ASSERT_EQ(IsValidUtf8(text), alone) << before << " + "
                                              << "piece " << piece.size() << " + " << after;
        });
  }
}

}  // namespace
}  // namespace reglo::model
