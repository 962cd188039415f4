// MetricsWriter: the Prometheus text format 0.0.4 (names, escaping, HELP/TYPE) and the registry.
#include "reglo/admin/metrics.h"

#include <gmock/gmock.h>

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

}  // namespace
}  // namespace reglo::admin
