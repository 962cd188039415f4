// The sida_stub plugin as the hub sees it: loaded by the plugin host through the C ABI, pulled
// with a capturing handler. Covers paging with checkpoints, resuming from a cursor, the faults and
// configuration errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "pull_collector.h"
#include "reglo/plugin_host/plugin.h"

namespace reglo {
namespace {

using ::testing::HasSubstr;

using Captured = testing::PullCollector;

class SidaConnectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = plugin_host::LoadedPlugin::Load(REGLO_SIDA_PLUGIN);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    plugin_ = *loaded;
  }
  static void TearDownTestSuite() { plugin_.reset(); }

  std::unique_ptr<plugin_host::ConnectorInstance> Create(nlohmann::json config) {
    static int system = 0;
    if (!config.contains("system")) config["system"] = "connector-test-" + std::to_string(++system);
    auto instance = plugin_->CreateInstance(config.dump());
    EXPECT_TRUE(instance.ok()) << instance.status().ToString();
    return instance.ok() ? std::move(*instance) : nullptr;
  }

  static std::shared_ptr<plugin_host::LoadedPlugin> plugin_;
};

std::shared_ptr<plugin_host::LoadedPlugin> SidaConnectorTest::plugin_;

TEST_F(SidaConnectorTest, DescribesItself) {
  EXPECT_EQ(plugin_->info().name, "sida_stub");
  EXPECT_EQ(plugin_->info().version, "1.0.0");
  EXPECT_THAT(plugin_->info().entities, ::testing::ElementsAre("student", "case", "appointment"));
  EXPECT_THAT(plugin_->info().config_schema_json, HasSubstr("x-reglo-secret"));
  auto instance = Create({});
  EXPECT_THAT(*instance->ListStreams(),
              ::testing::ElementsAre("students", "cases", "appointments"));
}

TEST_F(SidaConnectorTest, PullsPageByPageWithACheckpointPerPageAndResumesFromTheCursor) {
  auto instance = Create({{"changes", 23}, {"page_size", 10}});
  Captured all;
  ASSERT_TRUE(instance->Pull("students", std::nullopt, all).ok());
  EXPECT_EQ(all.ids.size(), 23u);
  EXPECT_EQ(all.cursors, (std::vector<std::string>{"sida:v1:10", "sida:v1:20", "sida:v1:23"}));
  Captured rest;
  ASSERT_TRUE(instance->Pull("students", std::string("sida:v1:20"), rest).ok());
  EXPECT_EQ(rest.ids, std::vector<std::string>(all.ids.begin() + 20, all.ids.end()));
  Captured none;
  ASSERT_TRUE(instance->Pull("students", std::string("sida:v1:23"), none).ok());
  EXPECT_TRUE(none.ids.empty());
  Captured bad;
  EXPECT_EQ(instance->Pull("students", std::string("garbage"), bad).code(),
            StatusCode::kConfigError);
}

TEST_F(SidaConnectorTest, MapIsTheIdentity) {
  auto instance = Create({{"changes", 1}});
  struct Mapper final : Captured {
    plugin_host::ConnectorInstance* self;
    std::vector<std::string> mapped;
    Status OnRecord(const reglo_record& record) override {
      return self->MapToCanonical(record, [&](const reglo_record& canonical) {
        mapped.push_back(std::string(canonical.entity) + "/" + canonical.external_id + "/" +
                         canonical.source_updated_at + "/" + std::to_string(canonical.field_count));
        return Status::Ok();
      });
    }
  } mapper;
  mapper.self = instance.get();
  ASSERT_TRUE(instance->Pull("cases", std::nullopt, mapper).ok());
  EXPECT_EQ(mapper.mapped, std::vector<std::string>{"case/P00001/2026-01-05T08:10:00Z/4"});
}

TEST_F(SidaConnectorTest, AuthErrorTransientErrorsAndRateLimits) {
  Captured sink;
  auto auth = Create({{"faults", {{"auth_error", true}}}});
  EXPECT_EQ(auth->Authenticate().code(), StatusCode::kAuthError);
  EXPECT_EQ(auth->Pull("students", std::nullopt, sink).code(), StatusCode::kAuthError);

  auto flaky = Create({{"changes", 50}, {"page_size", 10}, {"faults", {{"transient_every", 3}}}});
  Captured first;
  Status pulled = flaky->Pull("students", std::nullopt, first);
  EXPECT_EQ(pulled.code(), StatusCode::kRetryable);
  EXPECT_THAT(pulled.message(), HasSubstr("503"));
  EXPECT_EQ(first.cursors.size(), 2u);  // calls 1 and 2 succeeded, call 3 failed

  auto limited = Create({{"faults", {{"rate_limit_every", 1}, {"retry_after_ms", 1234}}}});
  EXPECT_EQ(limited->Pull("students", std::nullopt, sink).code(), StatusCode::kRateLimited);
  EXPECT_EQ(limited->last_retry_after_ms(), 1234u);
}

TEST_F(SidaConnectorTest, SlowCallsHonourStopAndHungCallsIgnoreIt) {
  auto slow = Create({{"faults", {{"slow_ms", 600000}}}});
  Captured stopping;
  stopping.stop = true;
  // A stop request is honoured before the first call returns.
  EXPECT_EQ(slow->Pull("students", std::nullopt, stopping).code(), StatusCode::kRetryable);

  auto hung = Create({{"faults", {{"hang_every", 1}, {"hang_ms", 50}}}});
  struct StopAfterFirstLook final : Captured {
    bool ShouldStop() override { return ++should_stop_calls > 1; }
  } handler;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(hung->Pull("students", std::nullopt, handler).code(), StatusCode::kRetryable);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  EXPECT_EQ(handler.should_stop_calls, 2);  // not asked while hung
}

TEST_F(SidaConnectorTest, MalformedRecordsAreEmitted) {
  auto instance = Create({{"changes", 9}, {"malformed_every", 3}});
  Captured sink;
  ASSERT_TRUE(instance->Pull("students", std::nullopt, sink).ok());
  EXPECT_EQ(sink.ids.size(), 9u);
  EXPECT_EQ(std::count(sink.ids.begin(), sink.ids.end(), ""), 1);  // the third variant has no id
}

TEST_F(SidaConnectorTest, ConfigurationErrorsNameTheKey) {
  auto bad = plugin_->CreateInstance(R"({"page_size": 0})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kConfigError);
  EXPECT_THAT(bad.status().message(), HasSubstr("page_size"));
  auto bad_fault = plugin_->CreateInstance(R"({"faults": {"slow_ms": "x"}})");
  ASSERT_FALSE(bad_fault.ok());
  EXPECT_THAT(bad_fault.status().message(), HasSubstr("faults.slow_ms"));
}

}  // namespace
}  // namespace reglo
