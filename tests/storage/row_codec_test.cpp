// How record columns are stored whatever the backend (reglo/storage/row_codec.h): the content
// hash as its 16 bytes and back, and what is not a content hash kept as it is.
#include "reglo/storage/row_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/model/record.h"
#include "reglo/model/schema.h"

namespace reglo::storage {
namespace {

std::string ToBytes(std::string_view hex) {
  std::string out = "left over";
  ContentHashToBytes(hex, out);
  return out;
}
std::string FromStored(std::string_view stored) {
  std::string out = "left over from a longer value";
  ContentHashFromStored(stored, out);
  return out;
}

TEST(RowCodecTest, TimesAreStoredAsMillisecondsAndReadBackAsTheirText) {
  EXPECT_EQ(EncodeStoredTime("2026-12-05T06:30:08.075Z").value(), 1'796'452'208'075);
  EXPECT_EQ(DecodeStoredTime(1'796'452'208'075), "2026-12-05T06:30:08.075Z");
  EXPECT_EQ(DecodeStoredTime(EncodeStoredTime("1999-12-31T23:59:59.999Z").value()),
            "1999-12-31T23:59:59.999Z");
  // Past 2262, where a system_clock time point (nanoseconds) ends.
  EXPECT_EQ(DecodeStoredTime(EncodeStoredTime("9999-12-31T23:59:59.999Z").value()),
            "9999-12-31T23:59:59.999Z");
  // A number no FormatUtc text gives (a damaged row) reads as its digits.
  EXPECT_EQ(DecodeStoredTime(INT64_MAX), "9223372036854775807");
  const Result<int64_t> bad = EncodeStoredTime("2026-12-05 06:30:08");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(RowCodecTest, AContentHashIsStoredAsItsSixteenBytesAndReadBackAsItsHexDigits) {
  const model::EntitySpec& student = *model::FindEntity("student");
  std::vector<std::optional<std::string>> values(student.fields.size());
  values[0] = "Mario";
  const std::string hash = model::ContentHash(student, values, {});
  ASSERT_EQ(hash.size(), 32u);
  const std::string bytes = ToBytes(hash);
  ASSERT_EQ(bytes.size(), 16u);
  EXPECT_EQ(FromStored(bytes), hash);
  EXPECT_EQ(ToBytes("00ff10a0000000000000000000000001"),
            std::string("\x00\xff\x10\xa0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16));
}

TEST(RowCodecTest, WhatIsNotAContentHashIsKeptAsItIs) {
  // Text rows (PostgreSQL, older SQLite rows) read as they are.
  const std::string hex(32, 'a');
  EXPECT_EQ(FromStored(hex), hex);
  // Not 32 lowercase hex digits: stored as the text itself, never a wrong 16 bytes.
  // One bad character anywhere (the last, a NUL, a byte past 0x7f) is enough.
  for (const std::string& text :
       {std::string("abc"), std::string(32, 'g'), std::string(32, 'A'), std::string(64, 'a'),
        std::string(), std::string(31, 'a') + 'G', std::string(31, '0') + '\0',
        std::string("0123456789abcdef0123456789abcde\xff"),
        std::string("/0123456789abcdef0123456789abcde"),
        std::string(":0123456789abcdef0123456789abcde"),
        std::string("`0123456789abcdef0123456789abcde")}) {
    EXPECT_EQ(ToBytes(text), text) << text;
  }
}

}  // namespace
}  // namespace reglo::storage
