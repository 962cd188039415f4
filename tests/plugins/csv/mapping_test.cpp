// Tests of the CSV library's mapping (date formats, value maps, column renames), encodings,
// cursor encoding and configuration checking.
#include "reglo/csv/mapping.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "reglo/csv/config.h"
#include "reglo/csv/cursor.h"
#include "reglo/csv/encoding.h"

namespace reglo::csv {
namespace {

std::string ApplyFormat(std::string_view pattern, std::string_view value) {
  std::string error;
  auto format = DateFormat::Parse(pattern, &error);
  EXPECT_TRUE(format) << error;
  std::string out;
  if (!format || !format->Apply(value, &out)) return "<no match>";
  return out;
}

TEST(DateFormatTest, ConvertsItalianDatesToIso) {
  EXPECT_EQ(ApplyFormat("dd/mm/yyyy", "05/03/2001"), "2001-03-05");
  EXPECT_EQ(ApplyFormat("dd/mm/yyyy", " 5/3/2001 "), "2001-03-05");
  EXPECT_EQ(ApplyFormat("dd-mm-yyyy", "29-02-2024"), "2024-02-29");
  EXPECT_EQ(ApplyFormat("yyyymmdd", "20010305"), "2001-03-05");
  EXPECT_EQ(ApplyFormat("dd/mm/yyyy HH:MM:SS", "05/03/2001 14:05:09"), "2001-03-05T14:05:09");
  EXPECT_EQ(ApplyFormat("dd/mm/yyyy HH:MM", "05/03/2001 7:30"), "2001-03-05T07:30:00");
  EXPECT_EQ(ApplyFormat("yyyy-mm-ddTHH:MM:SS", "2001-03-05T14:05:09"), "2001-03-05T14:05:09");
}

TEST(DateFormatTest, RejectsValuesThatDoNotMatchOrAreNotRealDates) {
  // Pattern and value.
  const std::pair<const char*, const char*> rejected[] = {
      {"dd/mm/yyyy", "2001-03-05"}, {"dd/mm/yyyy", "31/02/2001"},
      {"dd/mm/yyyy", "29/02/2023"}, {"dd/mm/yyyy", "01/13/2001"},
      {"dd/mm/yyyy", "05/03/01"},   {"dd/mm/yyyy", "05/03/2001 00:00"},
      {"dd/mm/yyyy", ""},           {"dd/mm/yyyy HH:MM", "05/03/2001 24:00"}};
  for (const auto& [pattern, value] : rejected) {
    EXPECT_EQ(ApplyFormat(pattern, value), "<no match>") << pattern << " on '" << value << "'";
  }
}

TEST(DateFormatTest, BadPatternsAreExplained) {
  std::string error;
  EXPECT_FALSE(DateFormat::Parse("d/m/yyyy", &error));
  EXPECT_NE(error.find("unexpected 'd'"), std::string::npos) << error;
  EXPECT_FALSE(DateFormat::Parse("mm/yyyy", &error));
  EXPECT_NE(error.find("needs dd, mm and yyyy"), std::string::npos) << error;
  EXPECT_FALSE(DateFormat::Parse("dd/mm/yyyy HH", &error));
  EXPECT_NE(error.find("HH and MM"), std::string::npos) << error;
  EXPECT_FALSE(DateFormat::Parse("dd/dd/mm/yyyy", &error));
  EXPECT_NE(error.find("twice"), std::string::npos) << error;
}

TEST(ValueMapTest, MatchesCaseInsensitivelyIgnoringBlanks) {
  ValueMap values;
  std::string error;
  ASSERT_TRUE(values.Add("aperta", "open", &error));
  ASSERT_TRUE(values.Add("Foglio Rosa", "learner_permit", &error));
  ASSERT_TRUE(values.Add("CHIUSA (è)", "closed", &error));
  EXPECT_EQ(values.Find("APERTA"), "open");
  EXPECT_EQ(values.Find("  foglio rosa "), "learner_permit");
  EXPECT_EQ(values.Find("chiusa (\xC3\x88)"), "closed");  // È folds to è
  EXPECT_EQ(values.Find("patentato"), std::nullopt);
  EXPECT_FALSE(values.Add("APERTA", "closed", &error));
  EXPECT_NE(error.find("aperta"), std::string::npos);
  EXPECT_TRUE(values.Add("APERTA", "open", &error));  // same target: harmless
}

TEST(FieldMapperTest, RenamesFormatsMapsAndPassesThrough) {
  std::string error;
  EntityMapping mapping;
  mapping.id_column = "id";
  mapping.updated_at_column = "modificato";
  mapping.columns = {{"nome", "firstName"}, {"nascita", "birthDate"}, {"stato", "status"}};
  mapping.formats.emplace_back("birthDate", *DateFormat::Parse("dd/mm/yyyy", &error));
  ValueMap status;
  ASSERT_TRUE(status.Add("foglio rosa", "learner_permit", &error));
  mapping.values.emplace_back("status", std::move(status));
  FieldMapper mapper(mapping);

  const std::vector<InField> in = {{"id", "7"},
                                   {"Nome", "Mario"},
                                   {"nascita", "05/03/2001"},
                                   {"stato", "Foglio Rosa"},
                                   {"modificato", "01/01/2024"},
                                   {"note", "vip"},
                                   {"telefono", std::nullopt}};
  std::vector<OutField> out;
  mapper.Map(in, &out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].name, "firstName");
  EXPECT_EQ(out[0].value, "Mario");
  EXPECT_EQ(out[1].name, "birthDate");
  EXPECT_EQ(out[1].value, "2001-03-05");
  EXPECT_EQ(out[2].name, "status");
  EXPECT_EQ(out[2].value, "learner_permit");
  EXPECT_EQ(out[3].name, "note");  // not listed: passed through under its header name
  EXPECT_EQ(out[3].value, "vip");
  EXPECT_EQ(out[4].name, "telefono");
  EXPECT_EQ(out[4].value, std::nullopt);  // absent stays absent

  // A date that does not match its format is passed on unchanged (the hub warns).
  const std::vector<InField> bad = {{"nascita", "2001/03/05"}, {"stato", "patentato"}};
  mapper.Map(bad, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].value, "2001/03/05");
  EXPECT_EQ(out[1].value, "patentato");
}

TEST(EncodingTest, NamesAndValidation) {
  EXPECT_EQ(ParseEncoding("UTF-8"), Encoding::kUtf8);
  EXPECT_EQ(ParseEncoding("cp1252"), Encoding::kWindows1252);
  EXPECT_EQ(ParseEncoding("Latin1"), Encoding::kLatin1);
  EXPECT_EQ(ParseEncoding("ebcdic"), std::nullopt);
  EXPECT_TRUE(IsValidUtf8("plain \xC3\xA0 \xE2\x82\xAC \xF0\x9F\x9A\x97"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
  std::string out;
  AppendSanitizedUtf8("a\xE2\x82z\xFF", out);
  EXPECT_EQ(out, "a\xEF\xBF\xBDz\xEF\xBF\xBD");
}

TEST(CursorTest, RoundTripsAndIsDeterministic) {
  Cursor cursor;
  cursor.files["b.csv"] = {10, 123, std::string(64, 'a')};
  cursor.files["a.csv"] = {20, 0, std::string(64, 'b')};
  cursor.partial = PartialFile{"c.csv", 300, 456, 120, 9, std::string(64, 'c')};
  const std::string text = EncodeCursor(cursor);
  std::string error;
  auto decoded = DecodeCursor(text, &error);
  ASSERT_TRUE(decoded) << error;
  EXPECT_EQ(*decoded, cursor);
  EXPECT_EQ(EncodeCursor(*decoded), text);
  EXPECT_LT(text.find("a.csv"), text.find("b.csv"));
}

TEST(CursorTest, RejectsForeignText) {
  std::string error;
  EXPECT_FALSE(DecodeCursor("page=3", &error));
  EXPECT_FALSE(DecodeCursor("{\"v\":\"1\",\"files\":{}}", &error));
  EXPECT_FALSE(DecodeCursor("{\"v\":1,\"files\":{\"a.csv\":{\"size\":1}}}", &error));
  EXPECT_TRUE(DecodeCursor("{\"v\":1,\"files\":{}}", &error));
}

std::string ConfigError(const std::string& json) {
  std::string error;
  auto config = ParseConfig(json, &error, "/cwd");
  EXPECT_FALSE(config) << json;
  return error;
}

TEST(ConfigTest, ParsesTheDocumentedExample) {
  const std::string json = R"({
    "base_dir": "/data/exports", "delimiter": "auto", "encoding": "utf-8", "checkpoint_every": 100,
    "entities": {
      "student": {
        "path": "students.csv", "id_column": "id", "updated_at_column": "updated_at",
        "columns": {"nome": "firstName", "cognome": "lastName", "codice_fiscale": "fiscalCode",
                    "data_nascita": "birthDate"},
        "formats": {"birthDate": "dd/mm/yyyy", "sourceUpdatedAt": "dd/mm/yyyy HH:MM:SS"},
        "delimiter": ";", "encoding": "windows-1252"
      },
      "case": {"path": "/abs/pratiche/", "id_column": "id_pratica",
               "values": {"status": {"aperta": "open", "foglio rosa": "learner_permit"}}}
    }
  })";
  std::string error;
  auto config = ParseConfig(json, &error, "/cwd");
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->checkpoint_every, 100u);
  ASSERT_EQ(config->entities.size(), 2u);
  const EntityConfig& student = config->entities[0];
  EXPECT_EQ(student.entity, "student");
  EXPECT_EQ(student.path, "/data/exports/students.csv");
  EXPECT_EQ(student.delimiter, ';');
  EXPECT_EQ(student.encoding, Encoding::kWindows1252);
  EXPECT_EQ(student.mapping.columns.size(), 4u);
  EXPECT_EQ(student.mapping.formats.size(), 2u);
  const EntityConfig& pratica = config->entities[1];
  EXPECT_EQ(pratica.path, "/abs/pratiche");
  EXPECT_EQ(pratica.delimiter, 0);
  EXPECT_EQ(pratica.encoding, Encoding::kUtf8);
  EXPECT_TRUE(config->remarks.empty());
}

TEST(ConfigTest, DefaultsAndRelativeBaseDir) {
  std::string error;
  auto config = ParseConfig(R"({"base_dir": "in", "entities": {"vehicle": {"path": "v.csv",
      "id_column": "targa", "columns": {"marca": "make", "colore": "colour"}}}})",
                            &error, "/cwd");
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->base_dir, "/cwd/in");
  EXPECT_EQ(config->entities[0].path, "/cwd/in/v.csv");
  EXPECT_EQ(config->checkpoint_every, 5000u);
  EXPECT_EQ(config->delimiter, 0);
  ASSERT_EQ(config->remarks.size(), 1u);
  EXPECT_NE(config->remarks[0].find("entities.vehicle.columns.colore"), std::string::npos);
  config = ParseConfig(R"({"entities": {"vehicle": {"path": "v.csv", "id_column": "t"}}})", &error,
                       "/cwd");
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->entities[0].path, "/cwd/v.csv");
}

TEST(ConfigTest, ErrorsNameTheKeyPath) {
  const std::string ok_entity = R"("path": "s.csv", "id_column": "id")";
  auto with = [&](const std::string& extra) {
    return R"({"entities": {"student": {)" + ok_entity + extra + "}}}";
  };
  EXPECT_EQ(ConfigError(with(R"(, "columns": ["nome"])")),
            "entities.student.columns: expected an object of CSV column -> canonical field");
  EXPECT_EQ(ConfigError(R"({"entities": {"students": {"path": "s.csv", "id_column": "id"}}})")
                .rfind("entities.students: unknown entity (expected one of student, case", 0),
            0u);
  EXPECT_EQ(ConfigError(R"({"entities": {"student": {"id_column": "id"}}})")
                .rfind("entities.student.path: required", 0),
            0u);
  EXPECT_EQ(ConfigError(R"({"entities": {"student": {"path": "s.csv"}}})")
                .rfind("entities.student.id_column: required", 0),
            0u);
  EXPECT_EQ(ConfigError(with(R"(, "id_column": "")")).rfind("entities.student.id_column:", 0), 0u);
  EXPECT_EQ(ConfigError(with(R"(, "delimiter": ":")")).rfind("entities.student.delimiter:", 0), 0u);
  EXPECT_EQ(ConfigError(with(R"(, "encoding": "ebcdic")")).rfind("entities.student.encoding:", 0),
            0u);
  EXPECT_EQ(ConfigError(with(R"(, "formats": {"birthDate": "gg/mm/aaaa"})"))
                .rfind("entities.student.formats.birthDate: 'gg/mm/aaaa'", 0),
            0u);
  EXPECT_EQ(ConfigError(with(R"(, "values": {"status": {"aperta": 1}})"))
                .rfind("entities.student.values.status.aperta: expected a string", 0),
            0u);
  EXPECT_EQ(ConfigError(with(R"(, "columns": {"nome": "firstName", "first": "firstName"})"))
                .rfind("entities.student.columns.nome: 'first' already maps to firstName", 0),
            0u);
  EXPECT_EQ(ConfigError(with(R"(, "columns": {"ID": "externalId"})"))
                .rfind("entities.student.columns.ID: 'externalId' is set with id_column", 0),
            0u);
  EXPECT_EQ(ConfigError(with(R"(, "colums": {})")).rfind("entities.student.colums: unknown key", 0),
            0u);
  EXPECT_EQ(ConfigError(R"({"delimeter": ";", "entities": {}})").rfind("delimeter: unknown key", 0),
            0u);
  EXPECT_EQ(ConfigError(R"({"entities": {}})").rfind("entities: expected a non-empty object", 0),
            0u);
  EXPECT_EQ(ConfigError(R"({})").rfind("entities: required", 0), 0u);
  EXPECT_EQ(
      ConfigError(R"({"checkpoint_every": -1, "entities": {}})").rfind("checkpoint_every:", 0), 0u);
  EXPECT_EQ(ConfigError("{nope").rfind("config: invalid JSON", 0), 0u);
  EXPECT_EQ(ConfigError("[]"), "config: expected a JSON object, got an array");
}

TEST(ConfigTest, CommentKeysAreIgnored) {
  std::string error;
  EXPECT_TRUE(ParseConfig(R"({"_comment": "x", "entities": {"_note": 1,
      "student": {"_why": "ok", "path": "s.csv", "id_column": "id"}}})",
                          &error, "/cwd"))
      << error;
}

}  // namespace
}  // namespace reglo::csv
