// End to end on the bundled sample school: the real CSV connector library, the real pipeline and a
// real store, on a private copy of examples/autoscuola-rossi that each test may edit. Every case
// runs on each backend of PipelineBackends() (pipeline_backends.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "files.h"
#include "pipeline_backends.h"
#include "reglo/model/schema.h"
#include "reglo/pipeline/sync.h"
#include "temp_dir.h"

namespace reglo::pipeline {
namespace {

namespace fs = std::filesystem;
using storage::testing::BackendName;
using storage::testing::BackendParam;
using ::testing::ElementsAre;

using reglo::testing::ReadFile;

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// Replaces the first line starting with `prefix` (the row's id and separator) by `line`.
void ReplaceRow(const fs::path& path, const std::string& prefix, const std::string& line) {
  std::string text = ReadFile(path);
  const size_t at = text.find("\n" + prefix);
  ASSERT_NE(at, std::string::npos) << prefix;
  const size_t end = text.find('\n', at + 1);
  text.replace(at + 1, end - at - 1, line);
  WriteFile(path, text);
}

// Students of the sample export whose records carry no warning: 25, less students 4 and 22
// (examples/autoscuola-rossi/README.md lists the rows with warnings).
constexpr int64_t kStudentsWithoutWarnings = 23;

class SampleTest : public storage::testing::FreshDatabaseTest {
 protected:
  void SetUp() override {
    dir_ = reglo::testing::MakeTempDir("reglo-sample-");
    ASSERT_FALSE(dir_.empty());
    fs::copy(fs::path(REGLO_SOURCE_DIR) / "examples" / "autoscuola-rossi" / "data", dir_ / "data",
             fs::copy_options::recursive);
    const std::string config =
        ReadFile(fs::path(REGLO_SOURCE_DIR) / "examples/autoscuola-rossi/hub.json");
    const auto json = nlohmann::json::parse(config, nullptr, true, /*ignore_comments=*/true);
    source_ = {"rossi-gestionale", "autoscuola-rossi", "gestionale-csv", "csv", "", true, "new"};
    nlohmann::json options = json["sources"][0]["options"];
    options["base_dir"] = dir_.string();
    source_.config_json = options.dump();
    auto plugin =
        plugin_host::LoadedPlugin::Load(fs::path(REGLO_PLUGIN_DIR) / "libreglo_connector_csv.so");
    ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
    plugin_ = *plugin;
    OpenFreshStore();
  }
  void TearDown() override {
    store_.reset();
    backend_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // A new, empty database of the parameter's backend, with the sample's source.
  void OpenFreshStore() {
    OpenFreshDatabase();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(store_->UpsertSource(source_).ok());
  }

  SyncReport Sync() {
    auto instance = plugin_->CreateInstance(source_.config_json);
    EXPECT_TRUE(instance.ok()) << instance.status().ToString();
    clock_.Advance(std::chrono::minutes(1));
    SyncRunner runner(*store_, clock_);
    return runner.RunOnce(source_, **instance);
  }

  std::vector<storage::StoredEvent> EventsAfter(int64_t sequence) {
    auto events = store_->ReadEvents(sequence, 100000);
    EXPECT_TRUE(events.ok());
    return *events;
  }

  int64_t LastSequence() {
    auto events = EventsAfter(0);
    return events.empty() ? 0 : events.back().sequence;
  }

  fs::path dir_;
  storage::SourceRow source_;
  std::shared_ptr<plugin_host::LoadedPlugin> plugin_;
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1790000000))};
};

INSTANTIATE_TEST_SUITE_P(Backends, SampleTest, ::testing::ValuesIn(PipelineBackends()),
                         BackendName);

// The expected figures are those documented in examples/autoscuola-rossi/README.md.
TEST_P(SampleTest, FirstSyncGivesTheDocumentedCounts) {
  SyncReport report = Sync();
  EXPECT_EQ(report.status, storage::RunStatus::kSucceededWithWarnings) << report.error.ToString();
  EXPECT_EQ(report.counters.created, 144);
  EXPECT_EQ(report.counters.rejected, 1);
  EXPECT_EQ(report.counters.warnings, 9);
  EXPECT_EQ(report.events, 144);
  const std::map<std::string, int64_t> created = {
      {"student", 25}, {"case", 25},      {"appointment", 40}, {"document", 20},
      {"payment", 25}, {"instructor", 4}, {"vehicle", 5}};
  for (const auto& [entity, count] : created) {
    EXPECT_EQ(report.by_entity[entity].created, count) << entity;
    EXPECT_EQ(*store_->CountRecords(*model::FindEntity(entity)), count) << entity;
  }
  auto dead = store_->ReadDeadLetters(0, 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].entity, "student");
  // Windows-1252 names arrive as UTF-8.
  bool found = false;
  for (const auto& event : EventsAfter(0)) {
    found |= model::CloudEventJson(event.event).find("Niccol\xc3\xb2") != std::string::npos;
  }
  EXPECT_TRUE(found);
}

TEST_P(SampleTest, SecondSyncWritesNothingAndEmitsNoEvent) {
  Sync();
  const int64_t last = LastSequence();
  SyncReport again = Sync();
  EXPECT_NE(again.status, storage::RunStatus::kFailed) << again.error.ToString();
  EXPECT_EQ(again.counters.created + again.counters.updated, 0);
  EXPECT_EQ(again.events, 0);
  EXPECT_TRUE(EventsAfter(last).empty());
}

TEST_P(SampleTest, OneChangedRowGivesOneUpdatedEventAtVersionTwo) {
  Sync();
  const int64_t last = LastSequence();
  ReplaceRow(dir_ / "data/allievi.csv", "5;",
             "5;Romano;Sofia;RMNSFO06P45E716T;05/09/2006;sofia.romano@hotmail.it;+39 349 0000000;;"
             "01/06/2025 09:00:00");
  SyncReport report = Sync();
  EXPECT_EQ(report.counters.updated, 1);
  EXPECT_EQ(report.counters.created, 0);
  auto events = EventsAfter(last);
  ASSERT_EQ(events.size(), 1u);
  const auto envelope = nlohmann::json::parse(model::CloudEventJson(events[0].event));
  EXPECT_EQ(envelope["type"], "student.updated");
  EXPECT_EQ(envelope["subject"], "student/5");
  EXPECT_EQ(envelope["data"]["version"], 2);
  EXPECT_EQ(envelope["data"]["changedFields"], nlohmann::json::array({"phone"}));
}

// Issue #19: a re-read export maps only its changed rows and the rows with warnings (whose
// warnings each run reports again); the others are found unchanged by their source hash.
TEST_P(SampleTest, AReadAgainExportMapsOnlyChangedRowsAndRowsWithWarnings) {
  SyncReport first = Sync();
  ReplaceRow(dir_ / "data/allievi.csv", "5;",
             "5;Romano;Sofia;RMNSFO06P45E716T;05/09/2006;sofia.romano@hotmail.it;+39 349 0000000;;"
             "01/06/2025 09:00:00");
  SyncReport report = Sync();
  EXPECT_EQ(report.counters.updated, 1);
  EXPECT_EQ(report.by_entity["student"].unchanged, 24);
  EXPECT_EQ(report.by_entity["student"].warnings, first.by_entity["student"].warnings);
  EXPECT_EQ(report.by_entity["student"].rejected, 1);
  EXPECT_EQ(report.unchanged_unmapped, kStudentsWithoutWarnings - 1);
}

TEST_P(SampleTest, CaseStatusChangeEmitsStatusChangedWithFromAndTo) {
  Sync();
  const int64_t last = LastSequence();
  ReplaceRow(dir_ / "data/pratiche.csv", "5;", "5;5;B;foglio rosa;24/02/2025;01/06/2025 09:00:00");
  Sync();
  auto events = EventsAfter(last);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event.type, "case.updated");
  EXPECT_EQ(events[1].event.type, "case.status_changed");
  const auto envelope = nlohmann::json::parse(model::CloudEventJson(events[1].event));
  EXPECT_EQ(envelope["data"]["statusChange"]["from"], "open");
  EXPECT_EQ(envelope["data"]["statusChange"]["to"], "learner_permit");
}

TEST_P(SampleTest, ShuffledAndDuplicatedRowsGiveTheSameResult) {
  Sync();
  auto original = EventsAfter(0);

  // The same export with its rows shuffled and a third of them delivered twice, into a new store.
  for (const char* file : {"allievi.csv", "pratiche.csv", "guide.csv", "pagamenti.csv"}) {
    std::istringstream in(ReadFile(dir_ / "data" / file));
    std::string header;
    std::getline(in, header);
    // A row whose quoted field spans lines ends where its quotes balance.
    std::vector<std::string> rows;
    std::string row;
    for (std::string line; std::getline(in, line);) {
      row += row.empty() ? line : "\n" + line;
      if (std::count(row.begin(), row.end(), '"') % 2 == 0) {
        if (!row.empty()) rows.push_back(row);
        row.clear();
      }
    }
    std::vector<std::string> shuffled = rows;
    for (size_t i = 0; i < rows.size(); i += 3) shuffled.push_back(rows[i]);
    std::mt19937 random(42);
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    std::string text = header + "\n";
    for (const std::string& row : shuffled) text += row + "\n";
    WriteFile(dir_ / "data" / file, text);
  }
  OpenFreshStore();
  SyncReport report = Sync();
  EXPECT_NE(report.status, storage::RunStatus::kFailed) << report.error.ToString();
  EXPECT_EQ(report.events, static_cast<int64_t>(original.size()));
  std::vector<std::string> before;
  std::vector<std::string> after;
  for (const auto& event : original) before.push_back(event.event.event_id);
  for (const auto& event : EventsAfter(0)) after.push_back(event.event.event_id);
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(before, after);  // the same events, ids included, whatever the order
  for (const auto& [entity, count] : std::map<std::string, int64_t>{
           {"student", 25}, {"case", 25}, {"appointment", 40}, {"payment", 25}}) {
    EXPECT_EQ(*store_->CountRecords(*model::FindEntity(entity)), count) << entity;
    EXPECT_EQ(report.by_entity[entity].created, count) << entity;
  }
}

}  // namespace
}  // namespace reglo::pipeline
