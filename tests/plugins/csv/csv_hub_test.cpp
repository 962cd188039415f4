// The CSV connector end to end: `reglo-hub sync --once` and `reglo-hub preview` as an operator
// runs them on a CSV export with the edge cases real exports have (an id holding a NUL, a note
// whose closing quote is lost, an id twice, blanks and line breaks at the ends of quoted values),
// then the SQLite store they wrote: records, extras, dead letters, events, the run log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "reglo/model/schema.h"
#include "reglo/storage/sqlite_store.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo::csv {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

class CsvHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "plugins");
    std::filesystem::copy_file(
        std::filesystem::path(REGLO_PLUGIN_DIR) / "libreglo_connector_csv.so",
        dir_.path() / "plugins" / "libreglo_connector_csv.so");
    nlohmann::json options = {{"entities",
                               {{"student",
                                 {{"path", "allievi.csv"},
                                  {"id_column", "id"},
                                  {"updated_at_column", "agg"},
                                  {"columns",
                                   {{"nome", "firstName"},
                                    {"cognome", "lastName"},
                                    {"cf", "fiscalCode"},
                                    {"nato", "birthDate"},
                                    {"email", "email"},
                                    {"tel", "phone"}}}}}}}};
    nlohmann::json config = {{"store", "sqlite:hub.db"},
                             {"plugins_dir", "plugins"},
                             {"sources",
                              {{{"id", "csv-1"},
                                {"company_id", "autoscuola-rossi"},
                                {"source_system", "gestionale"},
                                {"connector", "csv"},
                                {"options", options}}}}};
    std::ofstream(dir_.path() / "hub.json") << config.dump(2);
  }

  testing::CommandOutput Hub(const std::string& args) {
    return testing::RunCommand(std::string(REGLO_HUB_BINARY) + " --config " +
                               (dir_.path() / "hub.json").string() + " " + args);
  }
  std::unique_ptr<storage::Store> Store() {
    auto store = storage::OpenSqliteStore((dir_.path() / "hub.db").string());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::optional<storage::StoredRecord> Student(storage::Store& store, const std::string& id) {
    auto record =
        store.GetRecord(*model::FindEntity("student"), {"autoscuola-rossi", "gestionale", id});
    EXPECT_TRUE(record.ok());
    return record.ok() ? *record : std::nullopt;
  }
  static std::optional<std::string> Extra(const storage::StoredRecord& record,
                                          const std::string& name) {
    for (const auto& [key, value] : record.state.extra) {
      if (key == name) return value;
    }
    return std::nullopt;
  }
  // The summary line of `entity` ("student", "total"): its numbers, by column.
  static std::vector<int64_t> SummaryLine(const std::string& text, const std::string& entity) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string first;
      words >> first;
      if (first != entity) continue;
      std::vector<int64_t> numbers;
      int64_t number = 0;
      while (words >> number) numbers.push_back(number);
      return numbers;
    }
    return {};
  }

  // The header and a complete student row (no validation warning), then `tail` columns.
  static constexpr char kHeader[] = "id,nome,cognome,cf,nato,email,tel,agg";
  static std::string Row(const std::string& id, const std::string& first = "Mario",
                         const std::string& tail = "") {
    return id + "," + first +
           ",Rossi,RSSMRA85T10A562S,1985-12-10,m@example.com,+39 333 1234567,"
           "2025-06-01T09:00:00Z" +
           tail + "\n";
  }

  TempDir dir_;
};

TEST_F(CsvHubTest, IdsWithANulAreTwoDeadLettersNeverOneTruncatedRecord) {
  using namespace std::string_literals;
  dir_.Write("allievi.csv", std::string(kHeader) + "\n" + Row("7\0001"s) + Row("7\0002"s) +
                                Row("7\x1b[31m") + Row("8"));
  const testing::CommandOutput sync = Hub("sync --once");
  EXPECT_EQ(sync.exit_code, 3) << sync.text;  // succeeded with warnings and rejections
  auto store = Store();
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(Student(*store, "7").has_value());  // the two rows did not merge into "7"
  EXPECT_TRUE(Student(*store, "8").has_value());
  EXPECT_EQ(*store->CountRecords(*model::FindEntity("student")), 1);
  auto dead = store->ReadDeadLetters(0, 100);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 3u);
  std::map<std::string, std::string> by_origin;
  for (const storage::DeadLetter& letter : *dead) {
    by_origin[letter.origin] = letter.external_id;
    EXPECT_THAT(letter.reason, HasSubstr("holds a control character")) << letter.origin;
  }
  EXPECT_EQ(by_origin["allievi.csv:2"], "7\\01");
  EXPECT_EQ(by_origin["allievi.csv:3"], "7\\02");
  EXPECT_EQ(by_origin["allievi.csv:4"], "7\\e[31m");
  EXPECT_EQ(SummaryLine(sync.text, "student"),
            (std::vector<int64_t>{4, 1, 0, 0, 0, 3, 3}));  // one warning per dead row
}

TEST_F(CsvHubTest, TheRestOfANoteWhoseQuoteNeverClosesIsNeverARecord) {
  dir_.Write("allievi.csv", std::string(kHeader) + ",note\n" + Row("1", "Anna", ",ok") +
                                Row("2", "Bruno", ",\"riga uno") + "due ri\n\nghe tre\n" +
                                Row("3", "Carla", ",ok"));
  const testing::CommandOutput sync = Hub("sync --once");
  EXPECT_EQ(sync.exit_code, 3) << sync.text;
  auto store = Store();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->CountRecords(*model::FindEntity("student")), 3);
  EXPECT_FALSE(Student(*store, "due ri").has_value());
  EXPECT_FALSE(Student(*store, "ghe tre").has_value());
  auto broken = Student(*store, "2");
  ASSERT_TRUE(broken.has_value());
  EXPECT_EQ(Extra(*broken, "note"), "\"riga uno\ndue ri\n\nghe tre");  // nothing lost either
  EXPECT_TRUE(Student(*store, "3").has_value());
  auto events = store->ReadEvents(0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 3u);
  for (const auto& event : *events) EXPECT_NE(event.event.external_id, "due ri");
  EXPECT_THAT(sync.text, Not(HasSubstr("rejected student")));
}

TEST_F(CsvHubTest, AnIdTwiceInOneFileWarnsNamingBothLinesAndTheSummaryAddsUp) {
  dir_.Write("allievi.csv",
             std::string(kHeader) + "\n" + Row("1", "Anna") + Row("2") + Row("1", "Anna Maria"));
  const testing::CommandOutput sync = Hub("sync --once");
  EXPECT_EQ(sync.exit_code, 3) << sync.text;
  const std::vector<int64_t> student = SummaryLine(sync.text, "student");
  const std::vector<int64_t> total = SummaryLine(sync.text, "total");
  // records created updated unchanged stale warnings rejected
  EXPECT_EQ(student, (std::vector<int64_t>{3, 2, 0, 0, 0, 1, 0})) << sync.text;
  EXPECT_EQ(total, student) << sync.text;
  auto store = Store();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Student(*store, "1")->state.values[0], "Anna Maria");  // the later row
  auto runs = store->ListRuns("csv-1", 1);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->front().counters.seen, 3);
  auto log = store->GetRunLog(runs->front().id);
  ASSERT_TRUE(log.ok());
  bool named = false;
  for (const storage::RunLogLine& line : *log) {
    named = named || (line.message.find("allievi.csv:4") != std::string::npos &&
                      line.message.find("line 2") != std::string::npos);
  }
  EXPECT_TRUE(named);
}

TEST_F(CsvHubTest, ExtrasKeepTheirBlanksAndLineBreaksCanonicalTextIsTrimmed) {
  dir_.Write("allievi.csv", std::string(kHeader) + ",soprannome,note\n" +
                                Row("1", "\"  Anna \"", ",\"  Anna \",\"riga uno\nriga due\n\""));
  const testing::CommandOutput sync = Hub("sync --once");
  EXPECT_EQ(sync.exit_code, 0) << sync.text;
  auto store = Store();
  ASSERT_NE(store, nullptr);
  auto student = Student(*store, "1");
  ASSERT_TRUE(student.has_value());
  EXPECT_EQ(student->state.values[0], "Anna");  // firstName: text, trimmed
  EXPECT_EQ(Extra(*student, "soprannome"), "  Anna ");
  EXPECT_EQ(Extra(*student, "note"), "riga uno\nriga due\n");
}

TEST_F(CsvHubTest, PreviewExitsLikeSync) {
  dir_.Write("allievi.csv", std::string(kHeader) + "\n" + Row("1"));
  testing::CommandOutput clean = Hub("preview --source csv-1");
  EXPECT_EQ(clean.exit_code, 0) << clean.text;
  dir_.Write("allievi.csv", std::string(kHeader) + "\n" + Row("1", "Mario", ",extra"));
  testing::CommandOutput warned = Hub("preview --source csv-1");
  EXPECT_EQ(warned.exit_code, 3) << warned.text;
  EXPECT_THAT(warned.text, HasSubstr("\"warning\""));
  dir_.Write("allievi.csv", std::string(kHeader) + "\n" + Row(""));  // no id: rejected
  testing::CommandOutput rejected = Hub("preview --source csv-1");
  EXPECT_EQ(rejected.exit_code, 3) << rejected.text;
  EXPECT_THAT(rejected.text, HasSubstr("\"rejected\""));
}

}  // namespace
}  // namespace reglo::csv
