// Config errors name the key and what is wrong; relative paths resolve against the file's folder.
#include "reglo/app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "reglo/app/commands.h"

namespace reglo::app {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"({
  // comments are allowed
  "store": "sqlite:var/hub.db",
  "plugins_dir": "../plugins",
  "sources": [
    {"id": "rossi", "company_id": "autoscuola-rossi", "source_system": "csv", "connector": "csv",
     "options": {"delimiter": ";"}}
  ]
})";

TEST(ConfigTest, ParsesAndResolvesPaths) {
  Result<HubConfig> config = ParseConfig(kGood, "/etc/reglo");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->sqlite_path, "/etc/reglo/var/hub.db");
  EXPECT_EQ(config->plugins_dir, "/etc/plugins");
  ASSERT_EQ(config->sources.size(), 1u);
  const auto options = nlohmann::json::parse(config->sources[0].config_json);
  EXPECT_EQ(options["delimiter"], ";");
  EXPECT_EQ(options["base_dir"], "/etc/reglo");
  EXPECT_TRUE(config->sources[0].enabled);
}

TEST(ConfigTest, AcceptsAPostgresUrl) {
  Result<HubConfig> config = ParseConfig(
      R"({"store": "postgres://hub:s3cret@db.example.com:6543/reglo", "plugins_dir": "p",
          "sources": []})",
      "/etc/reglo");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->store_url, "postgres://hub:s3cret@db.example.com:6543/reglo");
  EXPECT_TRUE(config->sqlite_path.empty());
  EXPECT_TRUE(ParseConfig(R"({"store": "postgresql://hub@localhost/reglo", "plugins_dir": "p",
                              "sources": []})",
                          "/etc/reglo")
                  .ok());
}

TEST(ConfigTest, MalformedPostgresUrlIsAConfigErrorWithoutThePassword) {
  Result<HubConfig> config = ParseConfig(
      R"({"store": "postgres://hub:s3cret@db.example.com:99999/reglo", "plugins_dir": "p",
          "sources": []})",
      "/etc/reglo");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kConfigError);
  EXPECT_THAT(config.status().message(), HasSubstr("store: the port '99999'"));
  EXPECT_THAT(config.status().message(), ::testing::Not(HasSubstr("s3cret")));
}

TEST(ConfigTest, UnreachablePostgresStoreNamesTheServerNotThePassword) {
  // Port 1 on the loopback: refused at once.
  Result<HubConfig> config = ParseConfig(
      R"({"store": "postgres://hub:s3cret@127.0.0.1:1/reglo_hub", "plugins_dir": "p",
          "sources": []})",
      "/etc/reglo");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  Result<std::unique_ptr<storage::Store>> store = OpenStore(*config);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr("host 127.0.0.1 port 1 database reglo_hub"));
  EXPECT_THAT(store.status().message(), ::testing::Not(HasSubstr("s3cret")));
}

struct BadConfig {
  std::string text;
  std::string expected;
};

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, ErrorNamesTheKeyAndTheProblem) {
  Result<HubConfig> config = ParseConfig(GetParam().text, "/tmp");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kConfigError);
  EXPECT_THAT(config.status().message(), HasSubstr(GetParam().expected));
}

const char* kSource = R"("store": "sqlite:x.db", "plugins_dir": "p", )";

INSTANTIATE_TEST_SUITE_P(
    Errors, BadConfigTest,
    ::testing::Values(
        BadConfig{"{", "not valid JSON"}, BadConfig{"[]", "top level must be a JSON object"},
        BadConfig{R"({"plugins_dir": "p", "sources": []})", "store: missing"},
        BadConfig{R"({"store": "mysql://x", "plugins_dir": "p", "sources": []})",
                  "store: expected sqlite:PATH"},
        BadConfig{R"({"store": "postgres://hub@db/", "plugins_dir": "p", "sources": []})",
                  "store: the database name is missing"},
        BadConfig{R"({"store": 5, "plugins_dir": "p", "sources": []})",
                  "store: expected a string, got number"},
        BadConfig{R"({"store": "sqlite:x", "sources": []})", "plugins_dir: missing"},
        BadConfig{std::string("{") + kSource + R"("sources": {}})",
                  "sources: expected an array, got object"},
        BadConfig{std::string("{") + kSource + R"("sources": [], "extra": 1})",
                  "extra: unknown key"},
        BadConfig{std::string("{") + kSource + R"("sources": [{"company_id": "c"}]})",
                  "sources[0].id: missing"},
        BadConfig{
            std::string("{") + kSource +
                R"("sources": [{"id": "a b", "company_id": "c", "source_system": "s", "connector": "csv"}]})",
            "sources[0].id: use letters"},
        BadConfig{
            std::string("{") + kSource +
                R"("sources": [{"id": "a", "company_id": "c", "source_system": "s", "connector": "csv"},
                                      {"id": "a", "company_id": "c", "source_system": "s", "connector": "csv"}]})",
            "sources[1].id: 'a' is used by another source"},
        BadConfig{std::string("{") + kSource +
                      R"("sources": [{"id": "a", "company_id": "c", "source_system": "s"}]})",
                  "sources[0].connector: missing"},
        BadConfig{
            std::string("{") + kSource +
                R"("sources": [{"id": "a", "company_id": "c", "source_system": "s", "connector": "csv", "options": []}]})",
            "sources[0].options: expected an object, got array"},
        BadConfig{
            std::string("{") + kSource +
                R"("sources": [{"id": "a", "company_id": "c", "source_system": "s", "connector": "csv", "enabled": "yes"}]})",
            "sources[0].enabled: expected true or false"},
        BadConfig{
            std::string("{") + kSource +
                R"("sources": [{"id": "a", "company_id": "c", "source_system": "s", "connector": "csv", "isolation": "sandbox"}]})",
            "sources[0].isolation: 'sandbox' is not an isolation (expected \"in_process\", the "
            "default, or \"process\")"},
        BadConfig{
            std::string("{") + kSource +
                R"("sources": [{"id": "a", "company_id": "c", "source_system": "s", "connector": "csv", "isolation": true}]})",
            "sources[0].isolation: expected a string, got boolean"},
        BadConfig{std::string("{") + kSource +
                      R"("sources": [], "engine": {"runner_memory_limit_mb": -1}})",
                  "engine.runner_memory_limit_mb: expected a whole number of MiB"},
        BadConfig{std::string("{") + kSource +
                      R"("sources": [], "engine": {"runner_memory_limit_mb": 4}})",
                  "engine.runner_memory_limit_mb: at least 16 MiB"}));

TEST(ConfigTest, IsolationPerSourceAndTheRunnerMemoryLimit) {
  Result<HubConfig> config = ParseConfig(std::string("{") + kSource + R"("sources": [
      {"id": "a", "company_id": "c", "source_system": "s", "connector": "csv"},
      {"id": "b", "company_id": "c", "source_system": "s", "connector": "csv", "isolation": "process"},
      {"id": "c", "company_id": "c", "source_system": "s", "connector": "csv", "isolation": "in_process"}],
    "engine": {"runner_memory_limit_mb": 256}})",
                                         "/tmp");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->process_isolated, std::set<std::string>{"b"});
  EXPECT_EQ(config->engine.runner_memory_limit_mb, 256);
  EXPECT_EQ(ParseConfig(kGood, "/tmp")->engine.runner_memory_limit_mb, 1024);
}

TEST(ConfigTest, MissingFileIsAClearError) {
  Result<HubConfig> config = LoadConfig("/nonexistent/hub.json");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr("cannot read config file /nonexistent/hub.json"));
}

}  // namespace
}  // namespace reglo::app
