#include "reglo/core/json_writer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

namespace reglo {
namespace {

TEST(JsonWriterTest, WritesNestedValuesWithEscaping) {
  JsonWriter writer;
  writer.BeginObject()
      .Key("name")
      .String("Niccol\xc3\xb2 \"Nico\"\n\\")
      .Key("n")
      .Int(-42)
      .Key("ok")
      .Bool(true)
      .Key("none")
      .Null()
      .Key("list")
      .BeginArray()
      .String("a")
      .Int(1)
      .EndArray()
      .Key("ctl")
      .String(std::string("\x01", 1))
      .EndObject();
  EXPECT_EQ(writer.str(),
            "{\"name\":\"Niccol\xc3\xb2 \\\"Nico\\\"\\n\\\\\",\"n\":-42,\"ok\":true,\"none\":null,"
            "\"list\":[\"a\",1],\"ctl\":\"\\u0001\"}");
}

// Byte by byte, as AppendJsonString did before it read eight bytes at a time.
std::string EscapedByteByByte(std::string_view value) {
  std::string out = "\"";
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else if (c < 0x20) {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", c);
      out += code;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// Every byte value at every position of strings around the eight-byte steps, and many mixed
// strings: what needs escaping is escaped wherever it falls, and nothing else changes.
TEST(JsonWriterTest, EveryByteIsEscapedAsJsonRequiresWhereverItFalls) {
  for (size_t length = 1; length <= 20; ++length) {
    for (size_t at = 0; at < length; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string value(length, 'a');
        value[at] = static_cast<char>(byte);
        std::string out;
        AppendJsonString(out, value);
        ASSERT_EQ(out, EscapedByteByByte(value))
            << "length " << length << ", byte " << byte << " at " << at;
      }
    }
  }
  // Mixed: mostly plain text with special and high bytes at random places (a fixed seed).
  std::mt19937 random(19);
  const std::string alphabet = std::string("abcXYZ09 ~\x7f\x80\xc3\xa8\xff\"\\\n\x01\x1f", 20);
  for (int round = 0; round < 20'000; ++round) {
    std::string value(random() % 48, ' ');
    for (char& c : value) c = alphabet[random() % alphabet.size()];
    std::string out = "prefix";
    AppendJsonString(out, value);
    ASSERT_EQ(out, "prefix" + EscapedByteByByte(value)) << round;
  }
}

}  // namespace
}  // namespace reglo
