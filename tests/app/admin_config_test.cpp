// The "admin" config object, `reglo-hub admin-token reset` and `admin-tokens create|list|revoke`
// (the binary, as an operator runs it), with the audit rows they write.
#include <gmock/gmock.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli_output.h"
#include "files.h"
#include "reglo/admin/token.h"
#include "reglo/app/config.h"
#include "reglo/storage/sqlite_store.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo::app {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kBase = R"("store": "sqlite:x.db", "plugins_dir": "p", "sources": [])";

Result<HubConfig> Parse(const std::string& admin) {
  return ParseConfig(
      std::string("{") + kBase + (admin.empty() ? "" : ", \"admin\": " + admin) + "}",
      "/etc/reglo");
}

TEST(AdminConfigTest, DefaultsToLocalhost8470WithAGeneratedToken) {
  Result<HubConfig> config = Parse("");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->admin.enabled);
  EXPECT_EQ(config->admin.address, "127.0.0.1");
  EXPECT_EQ(config->admin.port, 8470);
  EXPECT_EQ(config->admin.token, "");
}

TEST(AdminConfigTest, ReadsListenTokenAndEnabled) {
  Result<HubConfig> config =
      Parse(R"({"listen": "0.0.0.0:0", "token": "a-long-enough-token", "enabled": false})");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->admin.enabled);
  EXPECT_EQ(config->admin.address, "0.0.0.0");
  EXPECT_EQ(config->admin.port, 0);
  EXPECT_EQ(config->admin.token, "a-long-enough-token");
  config = Parse(R"({"listen": "[::1]:9000"})");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->admin.address, "::1");
  EXPECT_EQ(config->admin.port, 9000);
}

TEST(AdminConfigTest, ErrorsNameTheKey) {
  for (const auto& [admin, expected] : std::vector<std::pair<std::string, std::string>>{
           {R"([])", "admin: expected an object"},
           {R"({"port": 1})", "admin.port: unknown key"},
           {R"({"enabled": "no"})", "admin.enabled: expected true or false"},
           {R"({"listen": 8470})", "admin.listen: expected a string"},
           {R"({"listen": "127.0.0.1"})", "admin.listen: expected host:port"},
           {R"({"listen": "127.0.0.1:65536"})", "admin.listen: the port must be 0..65535"},
           {R"({"listen": ":80"})", "admin.listen: expected host:port (the host is missing)"},
           {R"({"token": "short"})", "admin.token: must be at least 16 characters"}}) {
    Result<HubConfig> config = Parse(admin);
    ASSERT_FALSE(config.ok()) << admin;
    EXPECT_EQ(config.status().code(), StatusCode::kConfigError);
    EXPECT_THAT(config.status().message(), HasSubstr(expected)) << admin;
    EXPECT_THAT(config.status().message(), Not(HasSubstr("short"))) << "no token echoed";
  }
}

// The reglo-hub command line of a hub in `dir` with a SQLite store and no sources.
std::string HubWithNoSources(const std::filesystem::path& dir) {
  std::ofstream(dir / "hub.json") << R"({"store": "sqlite:hub.db", "plugins_dir": "p",
                                        "sources": []})";
  return std::string(REGLO_HUB_BINARY) + " --config " + (dir / "hub.json").string();
}

TEST(AdminTokenCliTest, ResetPrintsANewTokenOnceAndStoresOnlyItsHash) {
  const reglo::testing::TempDir temp("reglo-admin-cli-");
  const std::filesystem::path& dir = temp.path();
  ASSERT_FALSE(dir.empty());
  const std::string hub = HubWithNoSources(dir);
  reglo::testing::CommandOutput out = reglo::testing::RunCommand(hub + " admin-token reset");
  ASSERT_EQ(out.exit_code, 0) << out.text;
  const std::string token = reglo::testing::Match(out.text, "([A-Za-z0-9_-]{43})");
  ASSERT_FALSE(token.empty()) << out.text;
  auto store = storage::OpenSqliteStore((dir / "hub.db").string());
  ASSERT_TRUE(store.ok());
  auto stored = (*store)->GetSetting(std::string(admin::kTokenSetting));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_TRUE(admin::TokenMatches(token, **stored));
  // The database file never holds the token itself.
  EXPECT_EQ(reglo::testing::ReadFile(dir / "hub.db").find(token), std::string::npos);

  // A token set in the environment is not replaced by a stored one.
  out = reglo::testing::RunCommand("REGLO_ADMIN_TOKEN=from-the-environment-123 " + hub +
                                   " admin-token reset");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.text, HasSubstr("REGLO_ADMIN_TOKEN"));
  EXPECT_THAT(out.text, Not(HasSubstr("from-the-environment-123")));
}

// Named tokens: created with a role and shown once (only the hash is stored), listed without the
// token, revoked; create, revoke and `admin-token reset` each leave an audit row by "cli".
TEST(AdminTokenCliTest, NamedTokensAreCreatedListedRevokedAndAudited) {
  const reglo::testing::TempDir temp("reglo-admin-tokens-cli-");
  const std::filesystem::path& dir = temp.path();
  ASSERT_FALSE(dir.empty());
  const std::string hub = HubWithNoSources(dir);
  reglo::testing::CommandOutput out =
      reglo::testing::RunCommand(hub + " admin-tokens create --name anna --role operator");
  ASSERT_EQ(out.exit_code, 0) << out.text;
  const std::string token = reglo::testing::Match(out.text, "([A-Za-z0-9_-]{43})");
  ASSERT_FALSE(token.empty()) << out.text;
  out = reglo::testing::RunCommand(hub + " admin-tokens create --name anna --role admin");
  EXPECT_EQ(out.exit_code, 2) << out.text;  // the name is taken
  out = reglo::testing::RunCommand(hub + " admin-tokens create --name Bad/Name --role viewer");
  EXPECT_EQ(out.exit_code, 2) << out.text;
  out = reglo::testing::RunCommand(hub + " admin-tokens create --name bo --role root");
  EXPECT_NE(out.exit_code, 0) << out.text;

  out = reglo::testing::RunCommand(hub + " admin-tokens list");
  ASSERT_EQ(out.exit_code, 0) << out.text;
  EXPECT_THAT(out.text, HasSubstr("anna"));
  EXPECT_THAT(out.text, HasSubstr("operator"));
  EXPECT_THAT(out.text, Not(HasSubstr(token)));
  {
    auto store = storage::OpenSqliteStore((dir / "hub.db").string());
    ASSERT_TRUE(store.ok());
    auto found = (*store)->FindAdminToken(admin::TokenHash(token));
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->role, "operator");
  }
  EXPECT_EQ(reglo::testing::ReadFile(dir / "hub.db").find(token), std::string::npos);

  out = reglo::testing::RunCommand(hub + " admin-tokens revoke anna");
  ASSERT_EQ(out.exit_code, 0) << out.text;
  out = reglo::testing::RunCommand(hub + " admin-tokens revoke anna");
  EXPECT_EQ(out.exit_code, 2) << out.text;
  ASSERT_EQ(reglo::testing::RunCommand(hub + " admin-token reset").exit_code, 0);

  auto store = storage::OpenSqliteStore((dir / "hub.db").string());
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE((*store)->FindAdminToken(admin::TokenHash(token))->has_value());
  storage::AuditQuery query;
  query.actor = "cli";
  auto rows = (*store)->ListAudit(query);
  ASSERT_TRUE(rows.ok());
  std::vector<std::string> seen;
  for (const storage::AuditRow& row : *rows) seen.push_back(row.action + " " + row.outcome);
  // Newest first: the reset, the second revoke (nothing to revoke), the revoke, the refused
  // creations (a taken name; a bad name), the creation.
  EXPECT_THAT(seen, ::testing::ElementsAre("admin-token.reset ok", "token.revoke failed",
                                           "token.revoke ok", "token.create failed",
                                           "token.create failed", "token.create ok"));
  EXPECT_EQ(rows->back().target, "anna");
  EXPECT_EQ(rows->back().role, "admin");
  EXPECT_THAT(rows->back().after, HasSubstr("operator"));
}

}  // namespace
}  // namespace reglo::app
