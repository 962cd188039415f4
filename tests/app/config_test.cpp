// Config errors name the key and what is wrong; relative paths resolve against the file's folder.
#include "reglo/app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
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

// A packaged hub's config folder (/etc/reglo) is read-only to the service, so serve's plugin copies
// can go elsewhere; without the key they stay next to the config (serve.cpp).
TEST(ConfigTest, PluginCacheDirIsOptionalAndResolvedAgainstTheConfigFolder) {
  Result<HubConfig> unset = ParseConfig(kGood, "/etc/reglo");
  ASSERT_TRUE(unset.ok()) << unset.status().ToString();
  EXPECT_TRUE(unset->plugin_cache_dir.empty());
  for (const auto& [value, resolved] :
       {std::pair{"/var/lib/reglo/plugin-cache", "/var/lib/reglo/plugin-cache"},
        std::pair{"cache", "/etc/reglo/cache"}}) {
    Result<HubConfig> config = ParseConfig(
        R"({"store": "sqlite:hub.db", "plugins_dir": "p", "sources": [], "plugin_cache_dir": ")" +
            std::string(value) + "\"}",
        "/etc/reglo");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    EXPECT_EQ(config->plugin_cache_dir, resolved);
  }
  Result<HubConfig> wrong = ParseConfig(
      R"({"store": "sqlite:hub.db", "plugins_dir": "p", "sources": [], "plugin_cache_dir": 1})",
      "/etc/reglo");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("plugin_cache_dir"), std::string::npos)
      << wrong.status().ToString();
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
        BadConfig{std::string("{") + kSource + R"("sources": [], "retention": {"runs_days": -1}})",
                  "retention.runs_days: expected 0 (keep forever) or a number of days"},
        BadConfig{std::string("{") + kSource + R"("sources": [], "retention": {"events": 7}})",
                  "retention.events: unknown key"},
        BadConfig{std::string("{") + kSource + R"("sources": [], "retention": {"batch_rows": 0}})",
                  "retention.batch_rows: expected a whole number from 1 to 100000"},
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
                  "engine.runner_memory_limit_mb: expected 0 (no limit) or a whole number from 16 "
                  "to 1073741824"},
        BadConfig{std::string("{") + kSource +
                      R"("sources": [], "engine": {"runner_memory_limit_mb": 4}})",
                  "engine.runner_memory_limit_mb: expected 0 (no limit) or a whole number from 16"},
        BadConfig{std::string("{") + kSource +
                      R"("sources": [], "engine": {"runner_memory_limit_mb": 64.5}})",
                  "engine.runner_memory_limit_mb: expected 0 (no limit) or a whole number"},
        BadConfig{
            std::string("{") + kSource + R"("sources": [], "engine": {"threads_per_plugin": 0}})",
            "engine.threads_per_plugin: expected a whole number from 1 to 100000"},
        BadConfig{
            std::string("{") + kSource + R"("sources": [], "engine": {"failure_limit": "3"}})",
            "engine.failure_limit: expected a whole number from 1 to 100000"}));

// 0 turns the limit off; otherwise a connector process needs at least 16 MiB to start.
TEST(ConfigTest, RunnerMemoryLimitIsZeroOrAtLeastSixteen) {
  const auto parse = [](const std::string& limit) {
    return ParseConfig(std::string("{") + kSource +
                           R"("sources": [], "engine": {"runner_memory_limit_mb": )" + limit + "}}",
                       "/tmp");
  };
  Result<HubConfig> off = parse("0");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(off->engine.runner_memory_limit_mb, 0);
  Result<HubConfig> small = parse("8");
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().code(), StatusCode::kConfigError);
  EXPECT_THAT(
      small.status().message(),
      HasSubstr("engine.runner_memory_limit_mb: expected 0 (no limit) or a whole number from 16"));
  Result<HubConfig> least = parse("16");
  ASSERT_TRUE(least.ok()) << least.status().ToString();
  EXPECT_EQ(least->engine.runner_memory_limit_mb, 16);
  Result<HubConfig> most = parse("1073741824");
  ASSERT_TRUE(most.ok()) << most.status().ToString();
  EXPECT_EQ(most->engine.runner_memory_limit_mb, int64_t{1} << 30);
  EXPECT_FALSE(parse("1073741825").ok());
}

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

// ---- "ingest" and the agent's config (issue #6)

TEST(ConfigTest, RetentionDefaultsAndSettings) {
  const RetentionSettings defaults = ParseConfig(kGood, "/tmp")->retention;
  EXPECT_TRUE(defaults.enabled);
  EXPECT_EQ(defaults.interval_ms, 600'000);
  EXPECT_EQ(defaults.policy.runs, std::chrono::hours(30 * 24));
  EXPECT_EQ(defaults.policy.run_logs, std::chrono::hours(14 * 24));
  EXPECT_EQ(defaults.policy.events, std::chrono::hours(7 * 24));
  EXPECT_EQ(defaults.policy.deliveries, std::chrono::hours(30 * 24));
  EXPECT_EQ(defaults.policy.dead_letters, std::chrono::hours(90 * 24));
  EXPECT_EQ(defaults.policy.audit, std::chrono::hours(365 * 24));
  EXPECT_EQ(defaults.policy.batch_rows, 500);
  Result<HubConfig> config = ParseConfig(std::string("{") + kSource + R"("sources": [],
      "retention": {"enabled": false, "interval_seconds": 60, "runs_days": 0.5,
                    "run_logs_days": 0, "events_days": 2, "deliveries_days": 3,
                    "dead_letters_days": 4, "audit_days": 5, "batch_rows": 100}})",
                                         "/tmp");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const RetentionSettings& r = config->retention;
  EXPECT_FALSE(r.enabled);
  EXPECT_EQ(r.interval_ms, 60'000);
  EXPECT_EQ(r.policy.runs, std::chrono::hours(12));
  EXPECT_EQ(r.policy.run_logs, std::chrono::milliseconds(0));  // kept forever
  EXPECT_EQ(r.policy.events, std::chrono::hours(48));
  EXPECT_EQ(r.policy.deliveries, std::chrono::hours(72));
  EXPECT_EQ(r.policy.dead_letters, std::chrono::hours(96));
  EXPECT_EQ(r.policy.audit, std::chrono::hours(120));
  EXPECT_EQ(r.policy.batch_rows, 100);
}

TEST(ConfigTest, PersonalDataDefaultsAndPerSourceOverrides) {
  const RetentionSettings defaults = ParseConfig(kGood, "/tmp")->retention;
  EXPECT_EQ(defaults.personal_data.after_erasure, "stay_erased");
  EXPECT_EQ(defaults.personal_data.policy.inactive_after.count(), 0);  // off
  // A source without its own has the hub default, and no entry of its own.
  EXPECT_EQ(defaults.personal_data_by_source.count("rossi"), 0u);
  EXPECT_EQ(&PersonalDataOf(defaults, "rossi"), &defaults.personal_data);
  EXPECT_EQ(defaults.source_ids, std::vector<std::string>{"rossi"});
  Result<HubConfig> config = ParseConfig(std::string("{") + kSource + R"(
      "retention": {"personal_data": {"dead_letters_days": 30, "run_logs_days": 7,
                                      "inactive_years": 2, "inactive_students": "erase"}},
      "sources": [
        {"id": "a", "company_id": "c", "source_system": "s", "connector": "csv"},
        {"id": "b", "company_id": "c", "source_system": "t", "connector": "csv",
         "personal_data": {"run_logs_days": 1, "after_erasure": "recreate",
                           "inactive_students": "flag"}}]})",
                                         "/tmp");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->retention.personal_data_by_source.size(), 1u);  // b's own
  const PersonalDataSettings& a = PersonalDataOf(config->retention, "a");
  EXPECT_EQ(a.policy.dead_letters, std::chrono::hours(30 * 24));
  EXPECT_EQ(a.policy.run_logs, std::chrono::hours(7 * 24));
  EXPECT_EQ(a.policy.inactive_after, std::chrono::hours(2 * 8766));  // 365.25 days a year
  EXPECT_EQ(a.policy.inactive_action, storage::InactiveAction::kErase);
  EXPECT_EQ(a.after_erasure, "stay_erased");
  const PersonalDataSettings& b = PersonalDataOf(config->retention, "b");
  EXPECT_EQ(b.policy.dead_letters, std::chrono::hours(30 * 24));  // the hub's
  EXPECT_EQ(b.policy.run_logs, std::chrono::hours(24));           // its own
  EXPECT_EQ(b.policy.inactive_action, storage::InactiveAction::kFlag);
  EXPECT_EQ(b.after_erasure, "recreate");
}

TEST(ConfigTest, PersonalDataErrorsNameTheKey) {
  const std::string head = std::string("{") + kSource;
  const std::pair<std::string, std::string> cases[] = {
      {R"("sources": [], "retention": {"personal_data": {"after_erasure": "keep"}}})",
       "retention.personal_data.after_erasure: 'keep' is not a rule"},
      {R"("sources": [], "retention": {"personal_data": {"inactive_students": "delete"}}})",
       "retention.personal_data.inactive_students: 'delete' is not an action"},
      {R"("sources": [], "retention": {"personal_data": {"inactive_years": -1}}})",
       "retention.personal_data.inactive_years: expected 0 (off)"},
      {R"("sources": [], "retention": {"personal_data": {"days": 1}}})",
       "retention.personal_data.days: unknown key"},
      {R"("sources": [], "retention": {"personal_data": []}})",
       "retention.personal_data: expected an object"},
      {R"("sources": [{"id": "a", "company_id": "c", "source_system": "s", "connector": "csv",
                       "personal_data": {"run_logs_days": "7"}}]})",
       "sources[0].personal_data.run_logs_days: expected a number of days"},
  };
  for (const auto& [text, expected] : cases) {
    Result<HubConfig> config = ParseConfig(head + text, "/tmp");
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_EQ(config.status().code(), StatusCode::kConfigError);
    EXPECT_THAT(config.status().message(), HasSubstr(expected)) << text;
  }
}

TEST(ConfigTest, IngestListenerSettings) {
  Result<HubConfig> config = ParseConfig(
      R"({"store": "sqlite:hub.db", "plugins_dir": "p", "sources": [],
          "ingest": {"listen": "[::]:9000", "tls_certificate_file": "tls/c.pem",
                     "tls_private_key_file": "tls/k.pem", "max_records": 50,
                     "body_timeout_seconds": 2.5, "max_fields_per_record": 50,
                     "rate_limit": {"requests_per_second": 0.5, "burst": 3}}})",
      "/etc/reglo");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->ingest.has_value());
  EXPECT_EQ(config->ingest->address, "::");
  EXPECT_EQ(config->ingest->port, 9000);
  EXPECT_EQ(config->ingest->tls_certificate_file, "/etc/reglo/tls/c.pem");
  EXPECT_EQ(config->ingest->max_records, 50);
  EXPECT_EQ(config->ingest->body_timeout_ms, 2500);
  EXPECT_EQ(config->ingest->max_fields_per_record, 50);
  EXPECT_EQ(config->ingest->rate_per_second, 0.5);
  EXPECT_EQ(config->ingest->rate_burst, 3);
  EXPECT_FALSE(ParseConfig(kGood, "/etc/reglo")->ingest.has_value());
}

TEST(ConfigTest, IngestErrorsNameTheKey) {
  const auto error = [](const std::string& ingest) {
    Result<HubConfig> config =
        ParseConfig(R"({"store": "sqlite:hub.db", "plugins_dir": "p", "sources": [], "ingest": )" +
                        ingest + "}",
                    "/etc/reglo");
    return config.ok() ? std::string("ok") : config.status().message();
  };
  EXPECT_THAT(error(R"({})"), HasSubstr("ingest.listen: missing"));
  EXPECT_THAT(error(R"({"listen": "0.0.0.0:99999"})"),
              HasSubstr("ingest.listen: the port must be 0..65535"));
  EXPECT_THAT(error(R"({"listen": "8471"})"), HasSubstr("ingest.listen: expected host:port"));
  EXPECT_THAT(error(R"({"listen": "h:1", "tls_certificate_file": "c.pem"})"),
              HasSubstr("ingest.tls_private_key_file: TLS needs both"));
  EXPECT_THAT(error(R"({"listen": "h:1", "max_records": 0})"),
              HasSubstr("ingest.max_records: expected a whole number from 1"));
  EXPECT_THAT(error(R"({"listen": "h:1", "rate_limit": {"requests_per_second": 0}})"),
              HasSubstr("ingest.rate_limit.requests_per_second: expected a number from 0.001"));
  EXPECT_THAT(error(R"({"listen": "h:1", "rate_limit": {"requests_per_second": 1e-300}})"),
              HasSubstr("ingest.rate_limit.requests_per_second: expected a number from 0.001"));
  EXPECT_THAT(error(R"({"listen": "h:1", "port": 1})"), HasSubstr("ingest.port: unknown key"));
  EXPECT_THAT(error(R"({"listen": "h:1", "max_fields_per_record": 0})"),
              HasSubstr("ingest.max_fields_per_record: expected a whole number from 1"));
}

TEST(ConfigTest, ListenerConnectionCapsForIngestAndAdmin) {
  Result<HubConfig> config = ParseConfig(
      R"({"store": "sqlite:hub.db", "plugins_dir": "p", "sources": [],
          "admin": {"max_connections": 50, "max_connections_per_address": 5},
          "ingest": {"listen": "h:1", "max_connections": 2000,
                     "max_connections_per_address": 100}})",
      "/etc/reglo");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->admin.caps.max_connections, 50);
  EXPECT_EQ(config->admin.caps.max_connections_per_address, 5);
  EXPECT_EQ(config->ingest->caps.max_connections, 2000);
  EXPECT_EQ(config->ingest->caps.max_connections_per_address, 100);
  // The documented defaults.
  Result<HubConfig> defaults = ParseConfig(kGood, "/etc/reglo");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->admin.caps.max_connections, 1024);
  EXPECT_EQ(defaults->admin.caps.max_connections_per_address, 64);

  const auto error = [](const std::string& members) {
    Result<HubConfig> parsed = ParseConfig(
        R"({"store": "sqlite:hub.db", "plugins_dir": "p", "sources": [], )" + members + "}",
        "/etc/reglo");
    return parsed.ok() ? std::string("ok") : parsed.status().message();
  };
  EXPECT_THAT(error(R"("ingest": {"listen": "h:1", "max_connections": 0})"),
              HasSubstr("ingest.max_connections: expected a whole number from 1 to 100000"));
  EXPECT_THAT(error(R"("admin": {"max_connections_per_address": "many"})"),
              HasSubstr("admin.max_connections_per_address: expected a whole number"));
  EXPECT_THAT(error(R"("admin": {"max_connections": 10, "max_connections_per_address": 20})"),
              HasSubstr("admin.max_connections_per_address: must not be more than "
                        "max_connections (10)"));
}

TEST(ConfigTest, AgentConfigReadsTheHubTheSpoolAndTheSources) {
  Result<AgentConfig> config = ParseAgentConfig(
      R"({"plugins_dir": "plugins",
          "hub": {"url": "https://hub:8471/", "api_key": "rgk_x", "signing_secret": "whsec_x"},
          "spool": {"dir": "/var/spool/reglo", "max_bytes": 10000}, "batch_records": 200,
          "sources": [{"id": "a", "company_id": "c", "source_system": "s", "connector": "csv"}]})",
      "/etc/reglo");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->hub_url, "https://hub:8471");
  EXPECT_EQ(config->plugins_dir, "/etc/reglo/plugins");
  EXPECT_EQ(config->spool_dir, "/var/spool/reglo");
  EXPECT_EQ(config->spool_max_bytes, 10000);
  EXPECT_EQ(config->batch_records, 200);
  ASSERT_EQ(config->sources.size(), 1u);
  EXPECT_EQ(config->secrets_file, "/etc/reglo/reglo-agent.key");  // keys its masking
  Result<AgentConfig> keyed = ParseAgentConfig(
      R"({"plugins_dir": "p", "secrets_file": "keys/agent.key", "sources": [],
          "hub": {"url": "http://x:1", "api_key": "k", "signing_secret": "s"}})",
      "/etc/reglo");
  ASSERT_TRUE(keyed.ok()) << keyed.status().ToString();
  EXPECT_EQ(keyed->secrets_file, "/etc/reglo/keys/agent.key");

  const auto error = [](const std::string& text) {
    Result<AgentConfig> parsed = ParseAgentConfig(text, "/etc/reglo");
    return parsed.ok() ? std::string("ok") : parsed.status().message();
  };
  EXPECT_THAT(error(R"({"plugins_dir": "p", "sources": []})"), HasSubstr("hub: missing"));
  EXPECT_THAT(error(R"({"plugins_dir": "p", "sources": [], "hub": {"url": "ftp://x"}})"),
              HasSubstr("hub.url: expected http://"));
  ::unsetenv("REGLO_AGENT_API_KEY");
  EXPECT_THAT(error(R"({"plugins_dir": "p", "sources": [], "hub": {"url": "http://x:1"}})"),
              HasSubstr("hub.api_key: missing"));
  EXPECT_THAT(error(R"({"plugins_dir": "p", "sources": [], "batch_records": 0,
                        "hub": {"url": "http://x:1", "api_key": "k", "signing_secret": "s"}})"),
              HasSubstr("batch_records: expected a whole number from 1"));
}

// A number past double's range threw nlohmann's out_of_range out of the parser (exit 134).
TEST(ConfigTest, ANumberOutOfRangeIsAConfigErrorNamingTheKey) {
  Result<HubConfig> hub = ParseConfig(R"({"store": "sqlite:x.db", "plugins_dir": "p", "sources": [],
                      "engine": {"lease_seconds": 1e400}})",
                                      "/tmp");
  ASSERT_FALSE(hub.ok());
  EXPECT_EQ(hub.status().code(), StatusCode::kConfigError);
  EXPECT_THAT(hub.status().message(), HasSubstr("engine.lease_seconds: the number 1e400 is out"));
  Result<HubConfig> nested = ParseConfig(
      R"({"sources": [{"id": "a"}, {"id": "b", "options": {"x": [1, -2e999]}}]})", "/tmp");
  ASSERT_FALSE(nested.ok());
  EXPECT_THAT(nested.status().message(), HasSubstr("sources[1].options.x[1]: the number -2e999"));
  Result<AgentConfig> agent = ParseAgentConfig(R"({"batch_records": 1e400})", "/tmp");
  ASSERT_FALSE(agent.ok());
  EXPECT_EQ(agent.status().code(), StatusCode::kConfigError);
  EXPECT_THAT(agent.status().message(), HasSubstr("batch_records: the number 1e400"));
  Result<HubConfig> top = ParseConfig("1e400", "/tmp");
  ASSERT_FALSE(top.ok());
  EXPECT_THAT(top.status().message(), HasSubstr("(top level): the number 1e400"));
  // Syntax errors stay what they were.
  EXPECT_THAT(ParseAgentConfig("{\"a\": }", "/tmp").status().message(),
              HasSubstr("not valid JSON"));
}

TEST(ConfigTest, MissingFileIsAClearError) {
  Result<HubConfig> config = LoadConfig("/nonexistent/hub.json");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr("cannot read config file /nonexistent/hub.json"));
}

}  // namespace
}  // namespace reglo::app
