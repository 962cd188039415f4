// `reglo-hub keys create | list | revoke` run as a process: output shapes, the once-only secret,
// what is (not) stored, the rotation limit, exit codes and the master key file's location.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli_output.h"
#include "files.h"
#include "hub_cli_test.h"
#include "reglo/core/crypto.h"
#include "reglo/ingest/agent_keys.h"
#include "reglo/security/master_key.h"
#include "reglo/security/signature.h"
#include "reglo/storage/sqlite_store.h"
#include "run_command.h"
#include "temp_dir.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Output = reglo::testing::CommandOutput;
using reglo::testing::Match;
using reglo::testing::ReadFile;
using reglo::testing::RunCommand;

class KeysCliTest : public reglo::testing::HubCliTest {
 protected:
  KeysCliTest() : HubCliTest("reglo-keys-cli-", "sqlite:data/hub.db") {}
};

TEST_F(KeysCliTest, HelpAnswersForEveryKeysCommand) {
  for (const char* command : {"keys", "keys create", "keys list", "keys revoke"}) {
    Output out = Hub(std::string(command) + " --help");
    EXPECT_EQ(out.exit_code, 0) << command;
    EXPECT_THAT(out.text, HasSubstr("Usage")) << command;
  }
  EXPECT_EQ(Hub("keys create --company acme").exit_code, 2);  // --source is required
  EXPECT_EQ(Hub("keys revoke").exit_code, 2);
}

TEST_F(KeysCliTest, CreatePrintsTheKeyAndSecretOnceAndStoresNeither) {
  Output created =
      Hub("keys create --company acme --source sida --allow-ip 10.1.2.3/16 "
          "--allow-ip 2001:db8::/32");
  ASSERT_EQ(created.exit_code, 0) << created.text;
  const std::string api_key = Match(created.text, R"(API key:\s+(rgk_[0-9a-f]{12}_[0-9a-f]{64}))");
  const std::string secret = Match(created.text, R"(Signing secret:\s+(whsec_[A-Za-z0-9+/=]+))");
  ASSERT_FALSE(api_key.empty()) << created.text;
  ASSERT_FALSE(secret.empty()) << created.text;
  EXPECT_THAT(created.text, HasSubstr("will NOT be shown again"));
  EXPECT_THAT(created.text, HasSubstr("10.1.0.0/16,2001:db8::/32"));

  // The master key file was created next to the store, 0600.
  const std::filesystem::path key_file = dir_ / "data" / "reglo-hub.key";
  struct stat info {};
  ASSERT_EQ(::stat(key_file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  // Neither the key nor the secret is anywhere in the database files (a dump holds neither).
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "data")) {
    if (entry.path() == key_file) continue;
    const std::string bytes = ReadFile(entry.path());
    EXPECT_EQ(bytes.find(api_key.substr(17)), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find(secret.substr(6)), std::string::npos) << entry.path();
  }

  // What is stored works: the key authenticates and its secret opens with the key file.
  auto store = reglo::storage::OpenSqliteStore((dir_ / "data" / "hub.db").string());
  ASSERT_TRUE(store.ok());
  auto master = reglo::security::MasterKey::LoadOrCreate(key_file.string());
  ASSERT_TRUE(master.ok());
  reglo::ingest::AgentKeys keys(**store, *master, reglo::SystemClock::Instance());
  auto authenticated = keys.Authenticate(api_key);
  ASSERT_TRUE(authenticated.ok()) << authenticated.status().message();
  EXPECT_EQ(authenticated->signing_key, reglo::security::ParseWebhookSecret(secret).value());
  EXPECT_EQ(authenticated->row.company_id, "acme");
  EXPECT_EQ(authenticated->row.source_system, "sida");

  // `keys list` shows prefix + last 4, scope, status, created, last used; never the secrets.
  Output list = Hub("keys list");
  ASSERT_EQ(list.exit_code, 0) << list.text;
  const std::string shown =
      "rgk_" + api_key.substr(4, 12) + "_..." + api_key.substr(api_key.size() - 4);
  EXPECT_THAT(list.text, HasSubstr(shown));
  EXPECT_THAT(list.text, HasSubstr("acme"));
  EXPECT_THAT(list.text, HasSubstr("active"));
  EXPECT_THAT(list.text, HasSubstr("LAST USED"));
  EXPECT_THAT(list.text, Not(HasSubstr(api_key.substr(17))));
  EXPECT_THAT(list.text, Not(HasSubstr(secret)));
}

TEST_F(KeysCliTest, AThirdActiveKeyIsRefusedUntilOneIsRevoked) {
  Output first = Hub("keys create --company acme --source sida");
  ASSERT_EQ(first.exit_code, 0) << first.text;
  ASSERT_EQ(Hub("keys create --company acme --source sida").exit_code, 0);
  Output third = Hub("keys create --company acme --source sida");
  EXPECT_EQ(third.exit_code, 1);
  EXPECT_THAT(third.text, HasSubstr("already has 2 active agent keys"));
  EXPECT_THAT(third.text, Not(HasSubstr("rgk_")));
  EXPECT_EQ(Hub("keys create --company acme --source csv").exit_code, 0);  // another scope

  const std::string api_key = Match(first.text, R"(API key:\s+(rgk_\S+))");
  const std::string prefix = api_key.substr(4, 12);
  Output revoked = Hub("keys revoke " + prefix);
  EXPECT_EQ(revoked.exit_code, 0) << revoked.text;
  EXPECT_THAT(revoked.text, HasSubstr(prefix));
  EXPECT_THAT(Hub("keys list").text, HasSubstr("revoked"));
  // Naming a key that is not there (any more) is bad usage, as a malformed prefix is: exit 2.
  Output again = Hub("keys revoke " + prefix);
  EXPECT_EQ(again.exit_code, 2) << again.text;
  EXPECT_THAT(again.text, HasSubstr("no active agent key has the prefix " + prefix));
  Output unknown = Hub("keys revoke 0123456789ab");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.text;
  EXPECT_THAT(unknown.text, HasSubstr("no active agent key has the prefix 0123456789ab (see "
                                      "`reglo-hub keys list`)"));
  EXPECT_EQ(Hub("keys revoke not-a-prefix").exit_code, 2);
  EXPECT_EQ(Hub("keys create --company acme --source sida").exit_code, 0);  // rotation
}

TEST_F(KeysCliTest, BadInputExitsWithTwoAndNamesTheProblem) {
  Output bad = Hub("keys create --company acme --source sida --allow-ip 10.0.0.0/40");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.text, HasSubstr("10.0.0.0/40"));
  EXPECT_THAT(Hub("keys list").text, HasSubstr("No agent keys"));
}

TEST_F(KeysCliTest, TheMasterKeyFileComesFromConfigThenEnvironment) {
  WriteConfig(R"( "secrets_file": "conf/master.key",)");
  ASSERT_EQ(Hub("keys create --company acme --source sida").exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "conf" / "master.key"));

  WriteConfig("");
  const std::filesystem::path from_env = dir_ / "env" / "hub.key";
  Output created =
      Hub("keys create --company acme --source csv", "REGLO_SECRETS_FILE=" + from_env.string());
  ASSERT_EQ(created.exit_code, 0) << created.text;
  EXPECT_TRUE(std::filesystem::exists(from_env));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data" / "reglo-hub.key"));

  // A key file others may read is refused, naming the file (never its contents).
  std::filesystem::permissions(from_env, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  Output readable =
      Hub("keys create --company acme --source x", "REGLO_SECRETS_FILE=" + from_env.string());
  EXPECT_EQ(readable.exit_code, 2);
  EXPECT_THAT(readable.text, HasSubstr("chmod 600"));

  WriteConfig(R"( "secrets_file": 7,)");
  Output wrong = Hub("keys list");
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_THAT(wrong.text, HasSubstr("secrets_file: expected a string"));
}

}  // namespace
