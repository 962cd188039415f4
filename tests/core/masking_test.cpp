#include "reglo/core/masking.h"

#include <gtest/gtest.h>

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

TEST(MaskingTest, KeyedHashChangesWithTheKey) {
  const std::string before = HashFiscalCode("RSSMRA85T10A562S");
  SetMaskingKey("another-key");
  const std::string after = HashFiscalCode("RSSMRA85T10A562S");
  SetMaskingKey("reglo-hub-default-masking-key");
  EXPECT_NE(before, after);
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

}  // namespace
}  // namespace reglo
