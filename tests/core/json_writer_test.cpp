#include "reglo/core/json_writer.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace reglo
