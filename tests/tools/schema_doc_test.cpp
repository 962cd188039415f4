// Tests of reglo-schema-doc: the committed docs/canonical-model.md is what the tool prints from
// the current schema (so a schema change without regenerating it fails here), and the JSON Schemas
// it writes are one valid document per entity.
#include "reglo/model/schema_doc.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "files.h"
#include "reglo/model/schema.h"
#include "run_command.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

using reglo::testing::ReadFile;
using reglo::testing::TempDir;

reglo::testing::CommandOutput Tool(const std::string& arguments) {
  return reglo::testing::RunTool(REGLO_SCHEMA_DOC_BINARY, arguments);
}

TEST(SchemaDocTool, TheCommittedCanonicalModelDocIsCurrent) {
  const reglo::testing::CommandOutput run = Tool("--markdown");
  ASSERT_EQ(run.exit_code, 0) << run.text;
  const std::string committed = ReadFile(fs::path(REGLO_SOURCE_DIR) / "docs/canonical-model.md");
  EXPECT_TRUE(run.text == committed)
      << "docs/canonical-model.md is stale: regenerate it with\n  build/bin/reglo-schema-doc "
         "--markdown > docs/canonical-model.md";
}

TEST(SchemaDocTool, WritesOneJsonSchemaPerEntity) {
  TempDir dir;
  const fs::path out = dir.path() / "schema";
  const reglo::testing::CommandOutput run = Tool("--json-schema '" + out.string() + "'");
  ASSERT_EQ(run.exit_code, 0) << run.text;
  std::set<std::string> written;
  for (const fs::directory_entry& entry : fs::directory_iterator(out)) {
    written.insert(entry.path().filename().string());
  }
  std::set<std::string> expected;
  for (const reglo::model::EntitySpec& entity : reglo::model::CanonicalEntities()) {
    const std::string name = std::string(entity.name) + ".schema.json";
    expected.insert(name);
    const std::string text = ReadFile(out / name);
    EXPECT_EQ(text, reglo::model::EntityJsonSchema(entity));
    const nlohmann::json schema = nlohmann::json::parse(text, nullptr, false);
    ASSERT_FALSE(schema.is_discarded()) << name;
    EXPECT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    EXPECT_EQ(schema["properties"].size(), entity.fields.size() + 5) << name;
  }
  EXPECT_EQ(written, expected);
}

TEST(SchemaDocTool, AFolderThatCannotBeWrittenFailsNamingIt) {
  TempDir dir;
  const fs::path file = dir.path() / "a-file";
  std::ofstream(file) << "not a folder";
  const reglo::testing::CommandOutput run =
      Tool("--json-schema '" + (file / "schema").string() + "'");
  EXPECT_EQ(run.exit_code, 1) << run.text;
  EXPECT_NE(run.text.find("cannot create"), std::string::npos) << run.text;
}

TEST(SchemaDocTool, UsageErrorsExitWithTwo) {
  EXPECT_EQ(Tool("").exit_code, 2);
  EXPECT_EQ(Tool("--markdown --json-schema x").exit_code, 2);
  EXPECT_EQ(Tool("--bogus").exit_code, 2);
}

}  // namespace
