// End-to-end tests of the built CSV plugin through the C ABI only: dlopen the .so, negotiate,
// create instances from JSON, list streams, pull with a capturing emitter, map records.
#include <gtest/gtest.h>
#include <reglo/connector.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plugin_harness.h"
#include "temp_dir.h"

namespace reglo::csv {
namespace {

using testing::CapturedRecord;
using testing::Host;
using testing::Plugin;
using testing::TempDir;

class CsvConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(descriptor_, nullptr); }

  // Creates an instance of `config` into `instance` and pulls "student" from the start into
  // `host`; a fatal failure when either step fails.
  void CreateAndPull(const nlohmann::json& config, void*& instance, Host& host) {
    instance = plugin_.Create(config);
    ASSERT_NE(instance, nullptr);
    ASSERT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_OK) << host.error;
  }

  static nlohmann::json StudentConfig(const TempDir& dir,
                                      const std::string& path = "students.csv") {
    return {
        {"base_dir", dir.path().string()},
        {"entities",
         {{"student",
           {{"path", path},
            {"id_column", "id"},
            {"updated_at_column", "aggiornato"},
            {"columns", {{"nome", "firstName"}, {"cognome", "lastName"}, {"nato_il", "birthDate"}}},
            {"formats",
             {{"birthDate", "dd/mm/yyyy"}, {"sourceUpdatedAt", "dd/mm/yyyy HH:MM:SS"}}}}}}}};
  }

  // students.csv, its "id" column the id, every other column passed through.
  static nlohmann::json MinimalConfig(const TempDir& dir) {
    return {{"base_dir", dir.path().string()},
            {"entities", {{"student", {{"path", "students.csv"}, {"id_column", "id"}}}}}};
  }

  static std::string Students(int from, int to) {
    std::string text = "id,nome,cognome,nato_il,aggiornato\n";
    for (int i = from; i < to; ++i) {
      text += std::to_string(i) + ",Nome" + std::to_string(i) +
              ",Cognome,01/02/2000,03/04/2024 10:20:30\n";
    }
    return text;
  }

  Plugin plugin_{REGLO_CSV_PLUGIN_PATH};
  const reglo_connector_descriptor* descriptor_ = plugin_.descriptor();
};

TEST_F(CsvConnectorTest, DescriptorDescribesTheConnector) {
  const reglo_connector_descriptor* ignored = nullptr;
  EXPECT_EQ(plugin_.Negotiate(REGLO_ABI_VERSION_MAJOR + 1, 0, &ignored), REGLO_INCOMPATIBLE);
  EXPECT_STREQ(descriptor_->name, "csv");
  EXPECT_EQ(descriptor_->abi_major, REGLO_ABI_VERSION_MAJOR);
  EXPECT_EQ(descriptor_->entity_count, 7u);
  EXPECT_EQ(descriptor_->push_changes, nullptr);
  const auto schema = nlohmann::json::parse(descriptor_->config_schema_json);
  EXPECT_EQ(schema["type"], "object");
  EXPECT_TRUE(schema["properties"].contains("entities"));
}

TEST_F(CsvConnectorTest, PullsAndMapsAWindows1252SemicolonExport) {
  TempDir dir;
  dir.Write("allievi.csv",
            "ID;Nome;Cognome;Data Nascita;Stato;Citt\xE0;Modificato\r\n"
            "A1;Nicol\xF2;Rossi;05/03/2001;FOGLIO ROSA;Forl\xEC;01/06/2024 08:30:00\r\n"
            "A2;\"Anna; Maria\";Bianchi;31/02/2001;aperta;;not a date\r\n");
  nlohmann::json config = {
      {"base_dir", dir.path().string()},
      {"encoding", "windows-1252"},
      {"entities",
       {{"student",
         {{"path", "allievi.csv"},
          {"id_column", "id"},
          {"updated_at_column", "modificato"},
          {"columns",
           {{"nome", "firstName"}, {"cognome", "lastName"}, {"data nascita", "birthDate"}}},
          {"formats", {{"birthDate", "dd/mm/yyyy"}, {"sourceUpdatedAt", "dd/mm/yyyy HH:MM:SS"}}},
          {"values", {{"Stato", {{"foglio rosa", "learner_permit"}, {"aperta", "open"}}}}}}}}}};
  void* instance = plugin_.Create(config);
  ASSERT_NE(instance, nullptr);

  std::vector<std::string> streams;
  reglo_stream_sink sink{sizeof(reglo_stream_sink), &streams, [](void* self, const char* stream) {
                           static_cast<std::vector<std::string>*>(self)->emplace_back(stream);
                         }};
  Host host;
  reglo_context ctx = host.Context();
  ASSERT_EQ(descriptor_->list_streams(instance, &ctx, &sink), REGLO_OK);
  EXPECT_EQ(streams, std::vector<std::string>{"student"});
  EXPECT_EQ(descriptor_->health_check(instance, &ctx), REGLO_OK) << host.error;

  ASSERT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_OK) << host.error;
  ASSERT_EQ(host.records.size(), 2u);
  const CapturedRecord& first = host.records[0];
  EXPECT_EQ(first.entity, "student");
  EXPECT_EQ(first.external_id, "A1");
  EXPECT_EQ(first.updated_at, "2024-06-01T08:30:00");
  EXPECT_EQ(first.origin, "allievi.csv:2");
  EXPECT_EQ(first.Get("Nome"), "Nicol\xC3\xB2");  // source records keep the header names
  EXPECT_EQ(first.Get("Citt\xC3\xA0"), "Forl\xC3\xAC");
  EXPECT_EQ(host.records[1].origin, "allievi.csv:3");
  EXPECT_EQ(host.records[1].Get("Nome"), "Anna; Maria");
  EXPECT_EQ(host.records[1].updated_at, "not a date");  // passed on; the hub warns
  EXPECT_TRUE(host.warnings.empty());

  auto mapped = plugin_.Map(instance, first);
  ASSERT_EQ(mapped.size(), 1u);
  const CapturedRecord& canonical = mapped[0];
  EXPECT_EQ(canonical.entity, "student");
  EXPECT_EQ(canonical.external_id, "A1");
  EXPECT_EQ(canonical.updated_at, "2024-06-01T08:30:00");
  EXPECT_EQ(canonical.origin, "allievi.csv:2");
  EXPECT_EQ(canonical.Get("firstName"), "Nicol\xC3\xB2");
  EXPECT_EQ(canonical.Get("lastName"), "Rossi");
  EXPECT_EQ(canonical.Get("birthDate"), "2001-03-05");
  EXPECT_EQ(canonical.Get("Stato"), "learner_permit");
  EXPECT_EQ(canonical.Get("Citt\xC3\xA0"), "Forl\xC3\xAC");  // unknown: kept for `extra`
  EXPECT_FALSE(canonical.Has("ID"));
  EXPECT_FALSE(canonical.Has("Modificato"));

  mapped = plugin_.Map(instance, host.records[1]);
  ASSERT_EQ(mapped.size(), 1u);
  EXPECT_EQ(mapped[0].Get("birthDate"), "31/02/2001");  // not a real date: unchanged
  EXPECT_EQ(mapped[0].Get("Stato"), "open");
  EXPECT_EQ(mapped[0].Get("Citt\xC3\xA0"), "");
}

TEST_F(CsvConnectorTest, SecondPullWithTheFinalCursorEmitsNothing) {
  TempDir dir;
  dir.Write("students.csv", Students(0, 20));
  void* instance = nullptr;
  Host first;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(StudentConfig(dir), instance, first));
  EXPECT_EQ(first.records.size(), 20u);
  ASSERT_EQ(first.checkpoints.size(), 1u);  // the file is done; nothing else to confirm
  EXPECT_EQ(first.checkpoints[0].second, 20u);

  Host second;
  ASSERT_EQ(plugin_.Pull(instance, "student", first.FinalCursor(), second), REGLO_OK)
      << second.error;
  EXPECT_TRUE(second.records.empty());
  EXPECT_TRUE(second.warnings.empty());
  ASSERT_EQ(second.checkpoints.size(), 1u);
  EXPECT_EQ(second.checkpoints[0].second, 0u);

  Host third;  // and the cursor of a no-op pull is as good as the first one
  ASSERT_EQ(plugin_.Pull(instance, "student", second.FinalCursor(), third), REGLO_OK);
  EXPECT_TRUE(third.records.empty());
}

TEST_F(CsvConnectorTest, ResumingFromAnIntermediateCheckpointGivesExactlyTheRemainingRows) {
  TempDir dir;
  // Embedded newlines make line numbers differ from row numbers.
  std::string text = "id,nome,note\n";
  for (int i = 0; i < 10; ++i) text += std::to_string(i) + ",n" + std::to_string(i) + ",\"a\nb\"\n";
  dir.Write("students.csv", text);
  nlohmann::json config = StudentConfig(dir);
  config["checkpoint_every"] = 3;
  config["entities"]["student"].erase("updated_at_column");
  void* instance = nullptr;
  Host full;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(config, instance, full));
  ASSERT_EQ(full.records.size(), 10u);
  ASSERT_EQ(full.checkpoints.size(), 4u);  // after rows 3, 6, 9, then the file's end
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(full.checkpoints[i].second, 3u);
  EXPECT_EQ(full.checkpoints[3].second, 1u);

  Host resumed;
  ASSERT_EQ(plugin_.Pull(instance, "student", full.checkpoints[1].first, resumed), REGLO_OK);
  EXPECT_EQ(resumed.Ids(), (std::vector<std::string>{"6", "7", "8", "9"}));
  EXPECT_EQ(resumed.records[0].origin, "students.csv:14");
  EXPECT_EQ(resumed.FinalCursor(), full.FinalCursor());

  // An interrupted pull (should_stop) returns RETRY; its last checkpoint resumes it.
  Host stopped;
  stopped.stop_after = 5;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", stopped), REGLO_RETRY);
  EXPECT_EQ(stopped.records.size(), 5u);
  ASSERT_EQ(stopped.checkpoints.size(), 1u);
  Host rest;
  ASSERT_EQ(plugin_.Pull(instance, "student", stopped.FinalCursor(), rest), REGLO_OK);
  EXPECT_EQ(rest.Ids(), (std::vector<std::string>{"3", "4", "5", "6", "7", "8", "9"}));
}

TEST_F(CsvConnectorTest, ACheckpointIsIgnoredWhenTheFileChangedMeanwhile) {
  TempDir dir;
  dir.Write("students.csv", Students(0, 10));
  nlohmann::json config = StudentConfig(dir);
  config["checkpoint_every"] = 4;
  void* instance = nullptr;
  Host full;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(config, instance, full));
  ASSERT_GE(full.checkpoints.size(), 2u);

  dir.Write("students.csv", Students(100, 112));
  Host after;
  ASSERT_EQ(plugin_.Pull(instance, "student", full.checkpoints[0].first, after), REGLO_OK);
  ASSERT_EQ(after.records.size(), 12u);
  EXPECT_EQ(after.records[0].external_id, "100");
}

TEST_F(CsvConnectorTest, AModifiedFileIsReadAgainInFull) {
  TempDir dir;
  dir.Write("students.csv", Students(0, 5));
  void* instance = nullptr;
  Host first;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(StudentConfig(dir), instance, first));

  dir.Write("students.csv", Students(0, 6));  // one row appended
  Host second;
  ASSERT_EQ(plugin_.Pull(instance, "student", first.FinalCursor(), second), REGLO_OK);
  EXPECT_EQ(second.records.size(), 6u);

  // Same size, one value changed: caught by the content hash, not by the size.
  std::string text = Students(0, 6);
  text.replace(text.find("Nome3"), 5, "Nome9");
  dir.Write("students.csv", text);
  Host third;
  ASSERT_EQ(plugin_.Pull(instance, "student", second.FinalCursor(), third), REGLO_OK);
  ASSERT_EQ(third.records.size(), 6u);
  EXPECT_EQ(third.records[3].Get("nome"), "Nome9");

  // Rewritten with identical content (new mtime): nothing to emit.
  dir.Write("students.csv", text);
  Host fourth;
  ASSERT_EQ(plugin_.Pull(instance, "student", third.FinalCursor(), fourth), REGLO_OK);
  EXPECT_TRUE(fourth.records.empty());
}

TEST_F(CsvConnectorTest, FolderModeReadsEveryCsvFileInNameOrder) {
  TempDir dir;
  dir.Write("export/2024-02.csv", Students(20, 22));
  dir.Write("export/2024-01.CSV", Students(10, 12));
  dir.Write("export/readme.txt", "not a csv");
  dir.Write("export/.hidden.csv", Students(90, 91));
  dir.Write("export/sub/2024-03.csv", Students(30, 31));  // subfolders are not read
  void* instance = nullptr;
  Host first;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(StudentConfig(dir, "export"), instance, first));
  EXPECT_EQ(first.Ids(), (std::vector<std::string>{"10", "11", "20", "21"}));
  EXPECT_EQ(first.records[0].origin, "2024-01.CSV:2");
  EXPECT_EQ(first.records[2].origin, "2024-02.csv:2");
  ASSERT_EQ(first.checkpoints.size(), 2u);  // one per file

  dir.Write("export/2024-02.csv", Students(20, 23));
  dir.Write("export/2024-04.csv", Students(40, 41));
  Host second;
  ASSERT_EQ(plugin_.Pull(instance, "student", first.FinalCursor(), second), REGLO_OK);
  EXPECT_EQ(second.Ids(), (std::vector<std::string>{"20", "21", "22", "40"}));

  std::filesystem::remove(dir.path() / "export/2024-01.CSV");
  Host third;
  ASSERT_EQ(plugin_.Pull(instance, "student", second.FinalCursor(), third), REGLO_OK);
  EXPECT_TRUE(third.records.empty());
  EXPECT_EQ(third.FinalCursor().find("2024-01.CSV"), std::string::npos);
}

TEST_F(CsvConnectorTest, BrokenRowsBecomeWarningsWithFileAndLine) {
  TempDir dir;
  dir.Write("students.csv",
            "id,nome,cognome\n"
            "1,Mario,Rossi\n"
            "2,Luca\n"
            "3,Anna,Bianchi,extra,more\n"
            "4,\"Multi\nLine\",Verdi\n"
            ";;\n"
            ",,\n"
            ",Senza,Id\n"
            "5,Citt\xE0,X\n"
            "6,\"Aperta,Mai\n");
  nlohmann::json config = MinimalConfig(dir);
  void* instance = nullptr;
  Host host;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(config, instance, host));
  EXPECT_EQ(host.Ids(), (std::vector<std::string>{"1", "2", "3", "4", ";;", "", "5", "6"}));

  const CapturedRecord& few = host.records[1];
  EXPECT_TRUE(host.Warned("students.csv:3", "row has 2 fields, the header has 3"));
  ASSERT_TRUE(few.Has("cognome"));
  EXPECT_EQ(few.Get("cognome"), std::nullopt);  // absent, not empty

  const CapturedRecord& many = host.records[2];
  EXPECT_TRUE(host.Warned("students.csv:4", "extra values kept as _column_4.._column_5"));
  EXPECT_EQ(many.Get("_column_4"), "extra");
  EXPECT_EQ(many.Get("_column_5"), "more");

  EXPECT_EQ(host.records[3].Get("nome"), "Multi\nLine");
  EXPECT_EQ(host.records[4].origin, "students.csv:7");  // ";;" is one field: too few
  EXPECT_TRUE(host.Warned("students.csv:7", "row has 1 fields"));
  EXPECT_EQ(host.records[5].origin, "students.csv:9");  // ",,": all empty, skipped; no id: kept
  EXPECT_TRUE(host.Warned("students.csv:10", "invalid UTF-8"));
  EXPECT_EQ(host.records[6].Get("nome"), "Citt\xEF\xBF\xBD");
  EXPECT_TRUE(host.Warned("students.csv:11", "never closed"));
  EXPECT_EQ(host.records[7].Get("nome"), "\"Aperta");
  EXPECT_EQ(host.records[7].Get("cognome"), "Mai");
  EXPECT_EQ(host.warnings.size(), 5u);
}

// The id column is a C string at the ABI: a NUL would cut it, so ids 7<NUL>1 and 7<NUL>2 would
// become one record "7" and one row would be lost. Such rows (and ids with any other control
// character) are dead letters under the id written out, with a warning; never records.
TEST_F(CsvConnectorTest, AnIdWithAControlCharacterIsADeadLetterNeverTruncated) {
  TempDir dir;
  using namespace std::string_literals;
  dir.Write("students.csv", "id,nome\n7\0001,Anna\n7\0002,Bruno\n"s +
                                "7\x1b[2J,Carla\n\"8\t9\",Dario\n\" 10 \",Elena\n");
  nlohmann::json config = MinimalConfig(dir);
  void* instance = nullptr;
  Host host;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(config, instance, host));
  EXPECT_EQ(host.Ids(), (std::vector<std::string>{"7\\01", "7\\02", "7\\e[2J", "8\\t9", "10"}));
  for (size_t i = 0; i < 4; ++i) {
    const CapturedRecord& dead = host.records[i];
    EXPECT_EQ(dead.origin, "students.csv:" + std::to_string(i + 2));
    EXPECT_TRUE(host.Warned(dead.origin, "holds a control character")) << dead.origin;
    EXPECT_EQ(dead.fields.size(), 1u);  // no data of the row
    std::vector<CapturedRecord> mapped;
    std::string error;
    EXPECT_NE(plugin_.MapStatus(instance, dead, &mapped, &error), REGLO_OK);
    EXPECT_TRUE(mapped.empty());
    EXPECT_NE(error.find("the id column 'id' holds a control character"), std::string::npos)
        << error;
  }
  const auto mapped = plugin_.Map(instance, host.records[4]);  // blanks around an id are trimmed
  ASSERT_EQ(mapped.size(), 1u);
  EXPECT_EQ(mapped[0].external_id, "10");
  EXPECT_EQ(mapped[0].Get("nome"), "Elena");
}

TEST_F(CsvConnectorTest, ARowWithMoreFieldsThanTheCapIsADeadLetterAWiderHeaderFailsThePull) {
  TempDir dir;
  dir.Write("students.csv", "id,nome,cognome\n1,a,b\n2,a,b,c,d,e,f\n3,a,b,c\n");
  nlohmann::json config = MinimalConfig(dir);
  config["max_fields_per_row"] = 4;
  void* instance = nullptr;
  Host host;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(config, instance, host));
  EXPECT_EQ(host.Ids(), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_TRUE(host.Warned("students.csv:3", "row has 7 fields, more than max_fields_per_row (4)"));
  std::vector<CapturedRecord> mapped;
  std::string error;
  EXPECT_NE(plugin_.MapStatus(instance, host.records[1], &mapped, &error), REGLO_OK);
  EXPECT_NE(error.find("more than max_fields_per_row"), std::string::npos) << error;
  EXPECT_EQ(plugin_.Map(instance, host.records[2]).size(), 1u);  // 4 fields: within the cap

  dir.Write("wide.csv", "id,a,b,c,d\n1,2,3,4,5\n");
  config["entities"]["student"]["path"] = "wide.csv";
  void* wide = plugin_.Create(config);
  ASSERT_NE(wide, nullptr);
  Host failed;
  EXPECT_EQ(plugin_.Pull(wide, "student", "", failed), REGLO_CONFIG_ERROR);
  EXPECT_NE(failed.error.find("wide.csv:1: the header has 5 columns, more than "
                              "max_fields_per_row (4)"),
            std::string::npos)
      << failed.error;
  EXPECT_TRUE(failed.records.empty());
}

// Quadratic work per field made one 1 MB row cost minutes. Reading, emitting and mapping a header
// and rows of a million fields are linear now (before: minutes, past the test's timeout), and the
// default cap turns a row like that into one dead letter.
TEST_F(CsvConnectorTest, RowsAndHeadersOfAMillionFieldsCostLinearTime) {
  TempDir dir;
  const size_t kFields = 1'000'000;
  std::string text = "id";
  for (size_t i = 1; i < kFields; ++i) text += ",c" + std::to_string(i);
  text += "\n1";
  for (size_t i = 1; i < kFields; ++i) text += ",v";
  text += "\n2" + std::string(kFields - 1, ',') + "x\n";
  dir.Write("students.csv", text);
  nlohmann::json config = MinimalConfig(dir);
  config["max_fields_per_row"] = kFields;
  config["max_row_bytes"] = 64 << 20;
  void* instance = nullptr;
  Host host;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(config, instance, host));
  ASSERT_EQ(host.Ids(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(host.records[0].fields.size(), kFields);
  const auto mapped = plugin_.Map(instance, host.records[0]);
  ASSERT_EQ(mapped.size(), 1u);
  EXPECT_EQ(mapped[0].fields.size(), kFields - 1);  // the id column is not a field
  EXPECT_EQ(mapped[0].Get("c999999"), "v");

  // The same file with the default cap: the header fails the pull at once.
  config.erase("max_fields_per_row");
  void* capped = plugin_.Create(config);
  ASSERT_NE(capped, nullptr);
  Host refused;
  EXPECT_EQ(plugin_.Pull(capped, "student", "", refused), REGLO_CONFIG_ERROR);
  // A header within the cap and a row of a million commas: one dead letter.
  dir.Write("students.csv", "id,nome\n1," + std::string(kFields, ',') + "x\n2,b\n");
  Host row;
  ASSERT_EQ(plugin_.Pull(capped, "student", "", row), REGLO_OK) << row.error;
  EXPECT_EQ(row.Ids(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(row.records[0].fields.size(), 1u);
  EXPECT_TRUE(row.Warned("students.csv:2", "more than max_fields_per_row (2000)"));
}

TEST_F(CsvConnectorTest, TheRestOfANoteWhoseQuoteNeverClosesIsNotARecord) {
  TempDir dir;
  dir.Write("students.csv",
            "id,nome,note\n"
            "1,Anna,ok\n"
            "2,Bruno,\"riga uno\n"
            "due ri\n"
            "3,Carla,ok\n");
  nlohmann::json config = MinimalConfig(dir);
  void* instance = nullptr;
  Host host;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(config, instance, host));
  EXPECT_EQ(host.Ids(), (std::vector<std::string>{"1", "2", "3"}));  // no "due ri"
  EXPECT_EQ(host.records[1].Get("note"), "\"riga uno\ndue ri");
  EXPECT_TRUE(host.Warned("students.csv:3", "never closed"));
  EXPECT_TRUE(host.Warned("students.csv:3", "up to the end of line 4"));
  EXPECT_EQ(host.records[2].origin, "students.csv:5");
  EXPECT_EQ(host.warnings.size(), 1u);
}

TEST_F(CsvConnectorTest, AnIdTwiceInOneFileWarnsNamingBothLines) {
  TempDir dir;
  dir.Write("students.csv", "id,nome\n7,Anna\n8,Bruno\n\" 7\",Carla\n7,Dario\n");
  nlohmann::json config = MinimalConfig(dir);
  void* instance = nullptr;
  Host host;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(config, instance, host));
  EXPECT_EQ(host.Ids(), (std::vector<std::string>{"7", "8", "7", "7"}));  // the hub keeps the last
  EXPECT_TRUE(host.Warned("students.csv:4", "also the id of line 2"));
  EXPECT_TRUE(host.Warned("students.csv:5", "also the id of line 4"));
  EXPECT_EQ(host.warnings.size(), 2u);

  Host again;  // a new pull (the file read again) starts afresh
  ASSERT_EQ(plugin_.Pull(instance, "student", "", again), REGLO_OK);
  EXPECT_EQ(again.warnings.size(), 2u);
}

// Values are passed on byte for byte: blanks and line breaks at the ends of a quoted value are
// data (the hub trims canonical fields as their type says and keeps extras exact).
TEST_F(CsvConnectorTest, QuotedValuesKeepTheirBlanksAndLineBreaks) {
  TempDir dir;
  dir.Write("students.csv",
            "id,nome,note\n1,\"  Anna \",\"riga uno\nriga due\n\"\n2,  Bruno\t,x\n");
  nlohmann::json config = {
      {"base_dir", dir.path().string()},
      {"entities",
       {{"student",
         {{"path", "students.csv"}, {"id_column", "id"}, {"columns", {{"nome", "firstName"}}}}}}}};
  void* instance = nullptr;
  Host host;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(config, instance, host));
  ASSERT_EQ(host.records.size(), 2u);
  EXPECT_EQ(host.records[0].Get("nome"), "  Anna ");
  EXPECT_EQ(host.records[0].Get("note"), "riga uno\nriga due\n");
  EXPECT_EQ(host.records[1].Get("nome"), "  Bruno\t");
  const auto mapped = plugin_.Map(instance, host.records[0]);
  ASSERT_EQ(mapped.size(), 1u);
  EXPECT_EQ(mapped[0].Get("firstName"), "  Anna ");
  EXPECT_EQ(mapped[0].Get("note"), "riga uno\nriga due\n");
}

TEST_F(CsvConnectorTest, ConfigErrorsNameTheKey) {
  TempDir dir;
  reglo_status status = REGLO_OK;
  std::string error;
  nlohmann::json config = StudentConfig(dir);
  config["entities"]["student"]["columns"] = "nome";
  EXPECT_EQ(plugin_.Create(config, &status, &error), nullptr);
  EXPECT_EQ(status, REGLO_CONFIG_ERROR);
  EXPECT_EQ(error, "entities.student.columns: expected an object of CSV column -> canonical field");

  config = StudentConfig(dir);
  config["entities"]["allievo"] = config["entities"]["student"];
  EXPECT_EQ(plugin_.Create(config, &status, &error), nullptr);
  EXPECT_EQ(status, REGLO_CONFIG_ERROR);
  EXPECT_EQ(error.rfind("entities.allievo: unknown entity", 0), 0u) << error;

  Host host;
  reglo_context ctx = host.Context();
  void* instance = nullptr;
  EXPECT_EQ(descriptor_->create(&ctx, "{not json", &instance), REGLO_CONFIG_ERROR);
  EXPECT_EQ(instance, nullptr);
  EXPECT_EQ(host.error.rfind("config: invalid JSON", 0), 0u) << host.error;
}

TEST_F(CsvConnectorTest, AMissingIdColumnIsAConfigErrorNamingFileAndKey) {
  TempDir dir;
  dir.Write("students.csv", "codice,nome\n1,Mario\n");
  void* instance = plugin_.Create(StudentConfig(dir));
  ASSERT_NE(instance, nullptr);
  Host host;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_CONFIG_ERROR);
  EXPECT_NE(host.error.find("students.csv"), std::string::npos) << host.error;
  EXPECT_NE(host.error.find("entities.student.id_column"), std::string::npos) << host.error;
  EXPECT_TRUE(host.records.empty());
}

TEST_F(CsvConnectorTest, AMissingPathIsRetriedUntilTheExportAppears) {
  TempDir dir;
  void* instance = plugin_.Create(StudentConfig(dir));
  ASSERT_NE(instance, nullptr);
  Host host;
  reglo_context ctx = host.Context();
  EXPECT_EQ(descriptor_->health_check(instance, &ctx), REGLO_RETRY);
  EXPECT_NE(host.error.find("students.csv"), std::string::npos) << host.error;
  Host pull;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", pull), REGLO_RETRY);
  EXPECT_NE(pull.error.find((dir.path() / "students.csv").string()), std::string::npos);
  EXPECT_TRUE(pull.checkpoints.empty());

  dir.Write("students.csv", Students(0, 2));
  Host later;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", later), REGLO_OK) << later.error;
  EXPECT_EQ(later.records.size(), 2u);
}

TEST_F(CsvConnectorTest, UnknownStreamAndForeignCursor) {
  TempDir dir;
  dir.Write("students.csv", Students(0, 3));
  void* instance = plugin_.Create(StudentConfig(dir));
  ASSERT_NE(instance, nullptr);
  Host unknown;
  EXPECT_EQ(plugin_.Pull(instance, "vehicle", "", unknown), REGLO_CONFIG_ERROR);
  EXPECT_NE(unknown.error.find("vehicle"), std::string::npos);

  Host foreign;  // not ours: read everything again, with a log line, rather than fail forever
  EXPECT_EQ(plugin_.Pull(instance, "student", "page=7", foreign), REGLO_OK);
  EXPECT_EQ(foreign.records.size(), 3u);
  EXPECT_FALSE(foreign.logs.empty());
}

TEST_F(CsvConnectorTest, StreamsALargeGeneratedFile) {
  TempDir dir;
  const int kRows = 200000;
  {
    std::ofstream out(dir.path() / "students.csv", std::ios::binary);
    out << "id;nome;cognome;nato_il;aggiornato;note\r\n";
    for (int i = 0; i < kRows; ++i) {
      out << i << ";Nome" << i << ";\"Cognome; " << i % 97 << "\";01/02/2000;03/04/2024 10:20:30;"
          << (i % 1000 == 0 ? "\"riga\r\nnuova\"" : "") << "\r\n";
    }
  }
  void* instance = nullptr;
  Host host;
  host.keep_records = false;
  ASSERT_NO_FATAL_FAILURE(CreateAndPull(StudentConfig(dir), instance, host));
  EXPECT_EQ(host.record_count, static_cast<uint64_t>(kRows));
  EXPECT_EQ(host.last_external_id, std::to_string(kRows - 1));
  EXPECT_TRUE(host.warnings.empty());
  EXPECT_EQ(host.checkpoints.size(), kRows / 5000 + 1u);
  uint64_t total = 0;
  for (const auto& checkpoint : host.checkpoints) total += checkpoint.second;
  EXPECT_EQ(total, static_cast<uint64_t>(kRows));

  // Resume from the middle checkpoint: exactly the rows after it.
  Host resumed;
  resumed.keep_records = false;
  ASSERT_EQ(plugin_.Pull(instance, "student", host.checkpoints[19].first, resumed), REGLO_OK);
  EXPECT_EQ(resumed.record_count, static_cast<uint64_t>(kRows - 20 * 5000));

  Host again;
  ASSERT_EQ(plugin_.Pull(instance, "student", host.FinalCursor(), again), REGLO_OK);
  EXPECT_EQ(again.record_count, 0u);
}

}  // namespace
}  // namespace reglo::csv
