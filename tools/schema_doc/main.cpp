// reglo-schema-doc: prints docs/canonical-model.md, or writes one JSON Schema per canonical entity
// (<dir>/<entity>.schema.json), from the hub's schema tables (reglo/model/schema_doc.h). The build
// runs it for the installed schemas; schema_doc_test runs it to find a stale committed doc.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "reglo/core/status.h"
#include "reglo/core/text.h"
#include "reglo/model/schema_doc.h"

namespace {

namespace fs = std::filesystem;

reglo::Status WriteSchemas(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    return reglo::Status::IoError(
        fmt::format("cannot create {}: {}", reglo::Excerpt(dir.string()), error.message()));
  }
  for (const reglo::model::EntitySpec& entity : reglo::model::CanonicalEntities()) {
    const fs::path path = dir / (std::string(entity.name) + ".schema.json");
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << reglo::model::EntityJsonSchema(entity);
    out.close();
    if (!out) {
      return reglo::Status::IoError(fmt::format("cannot write {}", reglo::Excerpt(path.string())));
    }
  }
  return reglo::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Generates the canonical model's reference from the hub's schema: --markdown prints "
      "docs/canonical-model.md, --json-schema DIR writes DIR/<entity>.schema.json (JSON Schema "
      "draft 2020-12). Exit 0: done; 1: a file could not be written; 2: bad usage.",
      "reglo-schema-doc"};
  bool markdown = false;
  std::string schema_dir;
  auto* markdown_flag = app.add_flag("--markdown", markdown, "print the Markdown reference");
  app.add_option("--json-schema", schema_dir, "write the JSON Schemas into this folder")
      ->excludes(markdown_flag);
  try {
    app.parse(argc, argv);
    if (!markdown && schema_dir.empty()) {
      throw CLI::RequiredError("--markdown or --json-schema");
    }
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  if (markdown) {
    const std::string text = reglo::model::CanonicalModelMarkdown();
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  if (reglo::Status status = WriteSchemas(schema_dir); !status.ok()) {
    std::fprintf(stderr, "reglo-schema-doc: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
