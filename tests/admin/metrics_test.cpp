// MetricsWriter: the Prometheus text format 0.0.4 (names, escaping, HELP/TYPE) and the registry.
#include "reglo/admin/metrics.h"

#include <gmock/gmock.h>

#include "reglo/admin/admin.h"
#include "reglo/storage/housekeeper.h"
#include "reglo/storage/sqlite_store.h"
#include "temp_dir.h"

namespace reglo::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsWriterTest, WritesHelpTypeAndEscapedLabels) {
  MetricsWriter out;
  out.Family("reglo_things_total", "Things.\nWith a \\ backslash.", MetricsWriter::Type::kCounter);
  out.Sample({{"source", "a\"b\\c\nd"}, {"outcome", "ok"}}, 3);
  out.Sample(0.25);
  EXPECT_EQ(out.text(),
            "# HELP reglo_things_total Things.\\nWith a \\\\ backslash.\n"
            "# TYPE reglo_things_total counter\n"
            "reglo_things_total{source=\"a\\\"b\\\\c\\nd\",outcome=\"ok\"} 3\n"
            "reglo_things_total 0.25\n");
}

TEST(MetricsWriterTest, InvalidNamesAndRepeatedFamiliesAreSkipped) {
  MetricsWriter out;
  out.Family("9bad", "bad", MetricsWriter::Type::kGauge);
  out.Sample(1);
  out.Family("good", "ok", MetricsWriter::Type::kGauge);
  out.Sample({{"bad-label", "x"}}, 1);
  out.Sample({{"__reserved", "x"}}, 1);
  out.Sample({{"fine", "x"}}, 2);
  out.Family("good", "again", MetricsWriter::Type::kGauge);
  out.Sample(5);
  EXPECT_THAT(out.text(), Not(HasSubstr("9bad")));
  EXPECT_THAT(out.text(), Not(HasSubstr("bad-label")));
  EXPECT_THAT(out.text(), Not(HasSubstr("__reserved")));
  EXPECT_THAT(out.text(), Not(HasSubstr("again")));
  EXPECT_THAT(out.text(), HasSubstr("good{fine=\"x\"} 2\n"));
  EXPECT_THAT(out.text(), Not(HasSubstr("good 5")));
}

TEST(MetricsWriterTest, SpecialValues) {
  MetricsWriter out;
  out.Family("v", "values", MetricsWriter::Type::kGauge);
  out.Sample(1.0 / 0.0);
  out.Sample(-1.0 / 0.0);
  out.Sample(0.0 / 0.0);
  out.Sample(1e20);
  EXPECT_THAT(out.text(), HasSubstr("v +Inf\nv -Inf\nv NaN\nv 1e+20\n"));
}

class Fixed final : public MetricsProvider {
 public:
  explicit Fixed(std::string name) : name_(std::move(name)) {}
  void WriteMetrics(MetricsWriter& out) override {
    out.Family(name_, "fixed", MetricsWriter::Type::kGauge);
    out.Sample(1);
  }

 private:
  std::string name_;
};

TEST(MetricsRegistryTest, RendersEveryProviderInOrder) {
  MetricsRegistry registry;
  EXPECT_EQ(registry.Render(), "");
  registry.Add(std::make_shared<Fixed>("a"));
  registry.Add(std::make_shared<Fixed>("b"));
  EXPECT_EQ(registry.Render(),
            "# HELP a fixed\n# TYPE a gauge\na 1\n# HELP b fixed\n# TYPE b gauge\nb 1\n");
}

TEST(HousekeepingMetricsTest, PrunedRowsAndTableSizesOfARealPass) {
  storage::HousekeepingTotals totals;
  MetricsRegistry registry;
  registry.Add(MakeHousekeepingMetrics(totals));
  // Before the first pass: counters at zero, no sizes yet.
  EXPECT_THAT(registry.Render(),
              HasSubstr("reglo_retention_pruned_rows_total{table=\"runs\"} 0\n"));
  EXPECT_THAT(registry.Render(), Not(HasSubstr("reglo_store_table_rows")));

  reglo::testing::TempDir dir;
  ManualClock clock(std::chrono::sys_days(std::chrono::year(2025) / 6 / 1));
  auto store = storage::OpenSqliteStore((dir.path() / "hub.db").string(), clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->UpsertSource({"s", "c", "db", "csv", "{}", true, "new"}).ok());
  for (const char* finished : {"2025-01-01T00:00:00.000Z", "2025-05-31T00:00:00.000Z"}) {
    auto run = (*store)->BeginRun("s", finished);
    ASSERT_TRUE(run.ok());
    ASSERT_TRUE((*store)->FinishRun(*run, storage::RunStatus::kFailed, finished, "io", "x").ok());
  }
  auto report = storage::Housekeep(**store, storage::RetentionPolicy{}, clock.Now());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  totals.Add(*report);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE reglo_retention_pruned_rows_total counter\n"));
  EXPECT_THAT(text, HasSubstr("reglo_retention_pruned_rows_total{table=\"runs\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("reglo_retention_passes_total 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE reglo_store_table_rows gauge\n"));
  EXPECT_THAT(text, HasSubstr("reglo_store_table_rows{table=\"runs\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("reglo_store_table_rows{table=\"dead_letters\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("reglo_store_size_bytes "));
}

}  // namespace
}  // namespace reglo::admin
