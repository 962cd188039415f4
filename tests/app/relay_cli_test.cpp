// The relay's config keys ("relay", "subscriptions": errors name the key) and `reglo-hub
// subscriptions | deliveries` run as a process on a temp SQLite store: the secret is printed once
// and stored only sealed, the config's subscriptions land in the store, list / disable / enable /
// delete / redeliver behave and bad input changes nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli_output.h"
#include "files.h"
#include "hub_cli_test.h"
#include "reglo/app/config.h"
#include "reglo/storage/sqlite_store.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo::app {
namespace {

using testing::CommandOutput;
using ::testing::HasSubstr;
using testing::Match;
using ::testing::Not;
using testing::ReadFile;
using testing::RunCommand;

constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwJk1VrHcZJ7E=";

Status ParseWith(const std::string& extra) {
  return ParseConfig(
             R"({"store": "sqlite:hub.db", "plugins_dir": "p", "sources": [])" + extra + "}",
             "/etc/reglo")
      .status();
}

TEST(RelayConfigTest, ParsesRelayAndSubscriptions) {
  Result<HubConfig> config =
      ParseConfig(std::string(R"({"store": "sqlite:hub.db", "plugins_dir": "p", "sources": [],
        "relay": {"timeout_seconds": 3, "concurrency": 2, "retry_schedule_seconds": [0, 1.5],
                  "nats": {"url": "nats://127.0.0.1:4222", "stream": "EV", "subject_prefix": "a.b"}},
        "subscriptions": [{"id": "wf", "url": "https://wf.example.com/hook", "secret": ")") +
                      kSecret + R"(", "event_types": ["student.*"], "company_ids": ["c1"]}]})",
                  "/etc/reglo");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->relay.timeout_ms, 3000);
  EXPECT_EQ(config->relay.concurrency, 2);
  EXPECT_EQ(config->relay.retry_schedule_ms, (std::vector<int64_t>{0, 1500}));
  EXPECT_TRUE(config->relay.nats);
  EXPECT_EQ(config->relay.nats_stream, "EV");
  ASSERT_EQ(config->subscriptions.size(), 1u);
  EXPECT_EQ(config->subscriptions[0].event_types, std::vector<std::string>{"student.*"});
}

TEST(RelayConfigTest, ErrorsNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(, "relay": {"concurrency": 0})", "relay.concurrency: expected a whole number"},
      {R"(, "relay": {"timeout": 1})", "relay.timeout: unknown key"},
      {R"(, "relay": {"retry_schedule_seconds": []})", "relay.retry_schedule_seconds:"},
      {R"(, "relay": {"nats": {"url": "http://x"}})", "relay.nats.url:"},
      {R"(, "relay": {"nats": {"stream": "a.b"}})", "relay.nats.stream:"},
      {R"(, "subscriptions": [{"id": "wf", "url": "ftp://x", "secret": "whsec_abc"}])",
       "subscriptions[0].url:"},
      {R"(, "subscriptions": [{"id": "wf", "url": "http://x/h"}])",
       "subscriptions[0]: set exactly one of secret"},
      {R"(, "subscriptions": [{"id": "wf", "url": "http://x/h", "secret_env": "REGLO_NO_SUCH_VAR"}])",
       "subscriptions[0].secret_env: the environment variable REGLO_NO_SUCH_VAR is not set"},
      {R"(, "subscriptions": [{"id": "nats", "url": "http://x/h", "secret": "whsec_abc"}])",
       "subscriptions[0].id:"},
      {R"(, "subscriptions": [{"id": "wf", "url": "http://x/h", "secret": "nope"}])",
       "subscriptions[0].secret: expected a signing secret"},
  };
  for (const auto& [extra, expected] : cases) {
    const Status status = ParseWith(extra);
    EXPECT_EQ(status.code(), StatusCode::kConfigError) << extra;
    EXPECT_THAT(status.message(), HasSubstr(expected)) << extra;
  }
}

class RelayCliTest : public testing::HubCliTest {
 protected:
  RelayCliTest() : HubCliTest("reglo-relay-cli-", "sqlite:hub.db") {}
};

TEST_F(RelayCliTest, CreatePrintsTheSecretOnceAndStoresItOnlySealed) {
  CommandOutput created =
      Hub("subscriptions create --id wf --url 'https://wf.example.com/hook?token=t0p' "
          "--event-type student.created --company c1");
  ASSERT_EQ(created.exit_code, 0) << created.text;
  const std::string secret = Match(created.text, "(whsec_[A-Za-z0-9+/=]+)");
  ASSERT_FALSE(secret.empty()) << created.text;
  EXPECT_THAT(created.text, Not(HasSubstr("t0p")));  // the URL's query is never shown
  CommandOutput list = Hub("subscriptions list");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_THAT(list.text, HasSubstr("wf"));
  EXPECT_THAT(list.text, HasSubstr("types=student.created companies=c1"));
  EXPECT_THAT(list.text, Not(HasSubstr("whsec_")));
  // Neither the secret nor its bytes' base64 are in the database files.
  const std::string base64 = secret.substr(6);
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().filename().string().rfind("hub.db", 0) != 0) continue;
    EXPECT_EQ(ReadFile(entry.path()).find(base64), std::string::npos) << entry.path();
  }
  EXPECT_EQ(Hub("subscriptions create --id wf --url https://x.example.com/").exit_code, 2);
}

TEST_F(RelayCliTest, BadInputIsRefusedAndChangesNothing) {
  CommandOutput bad_url = Hub("subscriptions create --id wf --url notaurl");
  EXPECT_EQ(bad_url.exit_code, 2);
  EXPECT_THAT(bad_url.text, HasSubstr("url:"));
  EXPECT_EQ(Hub("subscriptions create --id 'a b' --url http://x.example.com/").exit_code, 2);
  EXPECT_EQ(Hub("subscriptions create --id wf --url http://x.example.com/ --secret nope").exit_code,
            2);
  EXPECT_THAT(Hub("subscriptions list").text, HasSubstr("No subscriptions"));
  EXPECT_EQ(Hub("subscriptions disable nope").exit_code, 2);
  EXPECT_EQ(Hub("subscriptions delete nope").exit_code, 2);
  EXPECT_EQ(Hub("deliveries redeliver --subscription nope 1").exit_code, 2);
  EXPECT_EQ(Hub("deliveries list --status nope").exit_code, 2);
}

TEST_F(RelayCliTest, ConfigSubscriptionsAreAppliedAndManagedThroughTheCli) {
  WriteConfig(std::string(R"("secrets_file": "hub.key", "subscriptions": [{"id": "wf", "url": )"
                          R"("http://127.0.0.1:9/hook", "secret": ")") +
              kSecret + R"("}],)");
  // `relay` applies the config; a SIGTERM right away stops it cleanly.
  CommandOutput relay = RunCommand(std::string("timeout -s TERM 2 ") + REGLO_HUB_BINARY +
                                   " --config " + (dir_ / "hub.json").string() + " relay");
  EXPECT_THAT(relay.text, HasSubstr("reglo-hub relay: stopped."));
  EXPECT_THAT(relay.text, Not(HasSubstr(kSecret)));
  EXPECT_THAT(Hub("subscriptions list").text, HasSubstr("enabled"));
  ASSERT_EQ(Hub("subscriptions disable wf").exit_code, 0);
  EXPECT_THAT(Hub("subscriptions list").text, HasSubstr("disabled by an operator"));
  ASSERT_EQ(Hub("subscriptions enable wf").exit_code, 0);
  EXPECT_THAT(Hub("deliveries list --subscription wf").text, HasSubstr("No deliveries"));
  ASSERT_EQ(Hub("subscriptions delete wf").exit_code, 0);
  EXPECT_THAT(Hub("subscriptions list").text, HasSubstr("No subscriptions"));
}

}  // namespace
}  // namespace reglo::app
