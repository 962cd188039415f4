#include "reglo/model/schema.h"

#include <gtest/gtest.h>

#include <set>

namespace reglo::model {
namespace {

TEST(SchemaTest, DeclaresTheSevenCanonicalEntities) {
  std::set<std::string_view> names;
  for (const EntitySpec& entity : CanonicalEntities()) names.insert(entity.name);
  EXPECT_EQ(names, (std::set<std::string_view>{"student", "case", "appointment", "document",
                                               "payment", "instructor", "vehicle"}));
  ASSERT_NE(FindEntity("case"), nullptr);
  EXPECT_EQ(FindEntity("case")->status_field, "status");
  EXPECT_EQ(FindEntity("nope"), nullptr);
}

TEST(SchemaTest, ColumnsAreUniqueSnakeCaseNames) {
  for (const EntitySpec& entity : CanonicalEntities()) {
    std::set<std::string_view> columns;
    for (const FieldSpec& field : entity.fields) {
      EXPECT_TRUE(columns.insert(field.column).second) << entity.name << "." << field.name;
      for (char c : field.column) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << field.column;
    }
  }
}

// RecordJson writes a canonical field's name as it is, without escaping it.
TEST(SchemaTest, CanonicalFieldNamesNeedNoJsonEscape) {
  for (const EntitySpec& entity : CanonicalEntities()) {
    for (const FieldSpec& field : entity.fields) {
      ASSERT_FALSE(field.name.empty()) << entity.name;
      for (char c : field.name) {
        EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            << entity.name << "." << field.name;
      }
    }
  }
}

}  // namespace
}  // namespace reglo::model
