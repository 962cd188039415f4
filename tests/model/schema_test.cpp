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

}  // namespace
}  // namespace reglo::model
