#include "reglo/core/masking.h"

#include <gtest/gtest.h>

#include <string>

#include "reglo/core/crypto.h"

namespace reglo {
namespace {

TEST(MaskingTest, MasksEachKindOfPersonalData) {
  EXPECT_EQ(MaskEmail("mario.rossi@example.com"), "m***@e***.com");
  EXPECT_EQ(MaskPhone("+39 333 1234567"), "***67");
  EXPECT_EQ(NameInitials("Mario Rossi"), "M. R.");
  const std::string hashed = HashFiscalCode("RSSMRA85T10A562S");
  EXPECT_EQ(hashed.rfind("cf#", 0), 0u);
  EXPECT_EQ(hashed, HashFiscalCode("rssmra85t10a562s"));  // same person, same hash
  EXPECT_EQ(hashed.find("RSSMRA"), std::string::npos);
}

TEST(MaskingTest, KeyedHashChangesWithTheKeyAndKeeps64Bits) {
  SetMaskingKey("one-key");
  const std::string before = HashFiscalCode("RSSMRA85T10A562S");
  SetMaskingKey("another-key");
  const std::string after = HashFiscalCode("RSSMRA85T10A562S");
  EXPECT_NE(before, after);
  EXPECT_EQ(after.size(), 3u + 16u);  // "cf#" and 64 bits in hex
  SetMaskingKey("one-key");
  EXPECT_EQ(HashFiscalCode("RSSMRA85T10A562S"), before);  // same key, same hash
}

// Without SetMaskingKey the key is random, never the constant the hash once used.
TEST(MaskingTest, NoKeyIsNeverAPublicConstant) {
  const std::string public_constant_hash =
      "cf#" + HexEncode(HmacSha256("reglo-hub-default-masking-key", "RSSMRA85T10A562S").data(), 8);
  SetMaskingKey("reglo-hub-default-masking-key");
  EXPECT_EQ(HashFiscalCode("RSSMRA85T10A562S"), public_constant_hash);  // the check itself works
  SetMaskingKey("test-key");
  EXPECT_NE(HashFiscalCode("RSSMRA85T10A562S"), public_constant_hash);
}

TEST(MaskingTest, FreeTextLosesEveryPersonalValueButKeepsTheRest) {
  const std::string text =
      "allievi.csv:12: student RSSMRA85T10A562S (mario.rossi@example.com, +39 333 1234567) "
      "rejected on 2026-11-26 at line 42, start '32/01/2025 11:00'";
  const std::string masked = MaskPersonalData(text);
  EXPECT_EQ(masked.find("RSSMRA85T10A562S"), std::string::npos) << masked;
  EXPECT_EQ(masked.find("mario.rossi"), std::string::npos) << masked;
  EXPECT_EQ(masked.find("1234567"), std::string::npos) << masked;
  EXPECT_NE(masked.find("allievi.csv:12"), std::string::npos) << masked;
  EXPECT_NE(masked.find("2026-11-26"), std::string::npos) << masked;
  EXPECT_NE(masked.find("line 42"), std::string::npos) << masked;
  EXPECT_NE(masked.find("32/01/2025 11:00"), std::string::npos) << masked;
}

// Each kind alone, in text that holds nothing else a mask would look for (MaskPersonalData skips
// the pattern matching for text that cannot hold any of them).
TEST(MaskingTest, EachKindAloneIsStillFound) {
  EXPECT_EQ(MaskPersonalData("student RSSMRA85T10A562S").find("RSSMRA"), std::string::npos);
  EXPECT_EQ(MaskPersonalData("to m.r@example.it").find("m.r@"), std::string::npos);
  EXPECT_EQ(MaskPersonalData("call 333 123 456"), "call ***56");  // exactly nine digits
  EXPECT_EQ(MaskPersonalData("data[3]: student.fiscalCode: missing"),
            "data[3]: student.fiscalCode: missing");
  EXPECT_EQ(MaskPersonalData("row 12345678 of 15 columns"), "row 12345678 of 15 columns");
}

// Inputs of 1 MiB and 16 MiB of every shape the scanners look at finish (the std::regex masking
// they replace overflowed the stack at ~30,000 characters) and come back cut to a bounded size.
TEST(MaskingTest, HugeInputsAreBoundedAndNeverCrash) {
  for (const size_t size : {size_t{1} << 20, size_t{16} << 20}) {
    const std::string digits(size, '7');
    const std::string spaced = [size] {
      std::string text;
      while (text.size() < size) text += "1 ";
      return text;
    }();
    const std::string letters(size, 'A');
    const std::string ats(size, '@');
    const std::string mixed = [size] {
      std::string text;
      while (text.size() < size) text += "a.b@c.it +39 333 1234567 RSSMRA85T10A562S 01/02/2003 ";
      return text;
    }();
    for (const std::string* input : {&digits, &spaced, &letters, &ats, &mixed}) {
      const std::string masked = MaskPersonalData(*input);
      EXPECT_LE(masked.size(), kMaxMaskedBytes + 64);
      // Cut and marked, unless masking alone made it short.
      if (masked.size() > 100) {
        EXPECT_NE(masked.find(" bytes)"), std::string::npos);
      }
    }
    EXPECT_EQ(MaskPersonalData(mixed).find("RSSMRA85T10A562S"), std::string::npos);
    EXPECT_EQ(MaskPersonalData(mixed).find("a.b@c.it"), std::string::npos);
  }
}

// The same text as the regular expressions gave, case by case.
TEST(MaskingTest, ScannersMatchWhatThePatternsMatched) {
  EXPECT_EQ(MaskPersonalData("x@y"), "x@y");  // no top-level domain
  EXPECT_EQ(MaskPersonalData("write to a@b.c.de, now"), "write to a***@b***.de, now");
  EXPECT_EQ(MaskPersonalData("@@a@example.com@"), "@@a***@e***.com@");
  EXPECT_EQ(MaskPersonalData("XRSSMRA85T10A562S"), "XRSSMRA85T10A562S");  // 17 letters: no code
  EXPECT_EQ(MaskPersonalData("id_RSSMRA85T10A562S").find("cf#"), std::string::npos);
  EXPECT_EQ(MaskPersonalData("(RSSMRA85T10A562S)").find("RSSMRA"), std::string::npos);
  EXPECT_EQ(MaskPersonalData("RSSMRALNT10A562S").find("RSSMRA"), std::string::npos);  // omocodia
  EXPECT_EQ(MaskPersonalData("tel +39 333-123.4567."), "tel ***67.");
  EXPECT_EQ(MaskPersonalData("from 2025-01-02 to 2025-03-04 ok"),
            "from 2025-01-02 to 2025-03-04 ok");
  EXPECT_EQ(MaskPersonalData("seen 12345 6789 0"), "seen 12345 6789 0");  // no phone's shape
  EXPECT_EQ(MaskPersonalData("12345678"), "12345678");
}

// Numbers in messages are no phone numbers: the masking of the error a plugin gave for a negative
// checkpoint_every once read "expected a whole number from 0 to ***07".
TEST(MaskingTest, OrdinaryNumbersAreKept) {
  for (const char* text : {
           "checkpoint_every: expected a whole number from 0 to 9223372036854775807, got -1",
           "expected at most 18446744073709551615",
           "limit 2147483647 reached after 4294967295 rows",
           "at 1764864000 (epoch), 1764864000123 ms",
           "took 0.000123456789 s; pi is 3.14159265358979",
           "run 123456789 of source 987654321",
           "rows 1 2 3 4 5 6 7 8 9 10",
           "order 9876543210 and 12345678901234",
           "from 2025-01-02 to 2025-03-04",
       }) {
    EXPECT_EQ(MaskPersonalData(text), text);
  }
}

// Phone numbers as people write them, alone, in a row, and next to ordinary numbers.
TEST(MaskingTest, PhoneNumbersInEveryUsualShapeAreMasked) {
  EXPECT_EQ(MaskPersonalData("tel 3331234567"), "tel ***67");
  EXPECT_EQ(MaskPersonalData("tel 333 123 4567"), "tel ***67");
  EXPECT_EQ(MaskPersonalData("tel 333/1234567"), "tel ***67");
  EXPECT_EQ(MaskPersonalData("tel 06 12345678"), "tel ***78");
  EXPECT_EQ(MaskPersonalData("tel 0461-123456"), "tel ***56");
  EXPECT_EQ(MaskPersonalData("tel +39 333 1234567"), "tel ***67");
  EXPECT_EQ(MaskPersonalData("tel 0039 333 1234567"), "tel ***67");
  EXPECT_EQ(MaskPersonalData("tel +44 20 7946 0958"), "tel ***58");
  EXPECT_EQ(MaskPersonalData("tel:3471234567;"), "tel:***67;");
  EXPECT_EQ(MaskPersonalData("333 1234567 347 7654321"), "***67 ***21");  // two in a row
  EXPECT_EQ(MaskPersonalData("row 12 333 1234567"), "row 12 ***67");
  EXPECT_EQ(MaskPersonalData("id 9223372036854775807 tel 3331234567"),
            "id 9223372036854775807 tel ***67");
}

// A hash is left alone when masked text is masked again (its 16 hex digits can hold nine digits
// in a row, or the shape of a codice fiscale).
TEST(MaskingTest, MaskingMaskedTextChangesNothing) {
  EXPECT_EQ(MaskPersonalData("seen cf#0123456789abcdef here"), "seen cf#0123456789abcdef here");
  EXPECT_EQ(MaskPersonalData("cf#abcdef12a34b567c"), "cf#abcdef12a34b567c");
  const std::string once = MaskPersonalData("RSSMRA85T10A562S a.b@c.it +39 333 1234567");
  EXPECT_EQ(MaskPersonalData(once), once);
}

// Long text is masked whole and then cut, so a value across the cut is never left half visible.
TEST(MaskingTest, AValueAcrossTheCutIsMaskedNotHalfShown) {
  for (const char* value : {" mario.rossi@example.com", " +39 333 1234567", " RSSMRA85T10A562S"}) {
    for (size_t before = kMaxMaskedBytes - 12; before < kMaxMaskedBytes + 2; ++before) {
      const std::string text = std::string(before, 'x') + value + " end";
      const std::string masked = MaskPersonalData(text);
      EXPECT_EQ(masked.find("mario"), std::string::npos) << before;
      EXPECT_EQ(masked.find("333 12"), std::string::npos) << before;
      EXPECT_EQ(masked.find("RSSMRA85T"), std::string::npos) << before;
    }
  }
}

// Control characters never leave MaskPersonalData raw, and masking comes first, so an escape
// cannot glue a letter onto a codice fiscale and hide it from the scanner.
TEST(MaskingTest, ControlCharactersAreEscapedAfterMasking) {
  EXPECT_EQ(MaskPersonalData("a\nb\r\x1b[31m"), "a\\nb\\r\\e[31m");
  const std::string masked = MaskPersonalData("line\nRSSMRA85T10A562S\x1b[2J");
  EXPECT_EQ(masked.find("RSSMRA"), std::string::npos) << masked;
  EXPECT_NE(masked.find("line\\ncf#"), std::string::npos) << masked;
  EXPECT_NE(masked.find("\\e[2J"), std::string::npos) << masked;
  EXPECT_EQ(MaskPersonalData(masked), masked);  // escaping twice changes nothing
}

}  // namespace
}  // namespace reglo
