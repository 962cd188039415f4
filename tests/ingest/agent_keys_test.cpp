// AgentKeys over a real SQLite store: creation (shape, hash-only storage, sealed secret), the
// two-active-keys rotation limit, revocation, authentication.
#include "reglo/ingest/agent_keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "master_key.h"
#include "reglo/core/crypto.h"
#include "reglo/security/signature.h"
#include "reglo/storage/sqlite_store.h"
#include "temp_dir.h"

namespace reglo::ingest {
namespace {

class AgentKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = reglo::testing::MakeTempDir("reglo-agent-keys-");
    ASSERT_FALSE(dir_.empty());
    Result<std::unique_ptr<storage::Store>> store =
        storage::OpenSqliteStore((dir_ / "hub.db").string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    keys_ = std::make_unique<AgentKeys>(*store_, master_, clock_);
  }
  void TearDown() override {
    keys_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  NewAgentKey Create(const std::string& company = "acme", const std::string& source = "sida",
                     const std::vector<std::string>& cidrs = {}) {
    Result<NewAgentKey> created = keys_->Create(company, source, cidrs);
    EXPECT_TRUE(created.ok()) << created.status().message();
    return created.ok() ? *created : NewAgentKey();
  }

  std::filesystem::path dir_;
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1750000000))};
  security::MasterKey master_ = reglo::testing::FixedMasterKey('m');
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<AgentKeys> keys_;
};

TEST_F(AgentKeysTest, CreatesAKeyStoredOnlyAsAHashWithASealedSecret) {
  const NewAgentKey created = Create("acme", "sida", {"10.1.2.3/8", "2001:db8::/32"});
  EXPECT_TRUE(std::regex_match(created.api_key, std::regex("rgk_[0-9a-f]{12}_[0-9a-f]{64}")))
      << created.api_key;
  EXPECT_TRUE(std::regex_match(created.signing_secret, std::regex("whsec_[A-Za-z0-9+/]{43}=")));
  EXPECT_EQ(ApiKeyPrefix(created.api_key), std::optional<std::string>(created.row.prefix));

  const storage::AgentKeyRow row = store_->FindAgentKey(created.row.prefix).value().value();
  EXPECT_EQ(row.key_hash, HexEncode(Sha256(created.api_key)));
  EXPECT_EQ(row.last4, created.api_key.substr(created.api_key.size() - 4));
  EXPECT_EQ(row.allowed_cidrs, R"(["10.0.0.0/8","2001:db8::/32"])");
  EXPECT_EQ(row.status, "active");
  EXPECT_EQ(row.created_at, FormatUtc(clock_.Now()));
  // Neither the key nor the secret (in any form) is in the row.
  const std::string secret_b64 = created.signing_secret.substr(6);
  for (const std::string& column : {row.key_hash, row.secret_protected, row.allowed_cidrs}) {
    EXPECT_EQ(column.find(created.api_key.substr(17)), std::string::npos);
    EXPECT_EQ(column.find(secret_b64), std::string::npos);
  }
  // The sealed secret opens with the master key to the secret's bytes.
  EXPECT_EQ(master_.Open(row.secret_protected, row.prefix).value(),
            security::ParseWebhookSecret(created.signing_secret).value());
  EXPECT_EQ(DisplayKey(row.prefix, row.last4), "rgk_" + row.prefix + "_..." + row.last4);
}

TEST_F(AgentKeysTest, AllowsTwoActiveKeysPerScopeForRotation) {
  const NewAgentKey first = Create();
  Create();
  const Result<NewAgentKey> third = keys_->Create("acme", "sida", {});
  EXPECT_EQ(third.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(third.status().message().find("revoke one first"), std::string::npos);
  Create("acme", "csv");  // another scope
  ASSERT_TRUE(keys_->Revoke(first.row.prefix).ok());
  Create();  // the revoked key freed its place
  EXPECT_EQ(keys_->List().value().size(), 4u);
}

TEST_F(AgentKeysTest, RejectsBadScopesAndCidrs) {
  EXPECT_EQ(keys_->Create("", "sida", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(keys_->Create("acme", "", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(keys_->Create("acme\n", "sida", {}).status().code(), StatusCode::kInvalidArgument);
  const Result<NewAgentKey> bad = keys_->Create("acme", "sida", {"10.0.0.0/99"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("10.0.0.0/99"), std::string::npos);
  EXPECT_TRUE(keys_->List().value().empty());
}

TEST_F(AgentKeysTest, RevokesByPrefixDisplayNameOrWholeKey) {
  const NewAgentKey a = Create();
  const NewAgentKey b = Create("acme", "csv");
  const NewAgentKey c = Create("acme", "drivelab");
  EXPECT_TRUE(keys_->Revoke(a.row.prefix).ok());
  EXPECT_TRUE(keys_->Revoke(DisplayKey(b.row.prefix, b.row.last4)).ok());
  EXPECT_TRUE(keys_->Revoke(c.api_key).ok());
  EXPECT_EQ(keys_->Revoke(a.row.prefix).code(), StatusCode::kNotFound);  // already revoked
  EXPECT_EQ(keys_->Revoke("0123456789ab").code(), StatusCode::kNotFound);
  EXPECT_EQ(keys_->Revoke("nope").code(), StatusCode::kInvalidArgument);
  const std::vector<storage::AgentKeyRow> rows = keys_->List().value();
  ASSERT_EQ(rows.size(), 3u);
  for (const storage::AgentKeyRow& row : rows) {
    EXPECT_EQ(row.status, "revoked");
    EXPECT_EQ(row.revoked_at, std::optional<std::string>(FormatUtc(clock_.Now())));
  }
}

TEST_F(AgentKeysTest, AuthenticatesActiveKeysOnly) {
  const NewAgentKey created = Create("acme", "sida", {"10.0.0.0/8"});
  clock_.Advance(std::chrono::minutes(5));
  Result<AuthenticatedKey> ok = keys_->Authenticate(created.api_key);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->row.company_id, "acme");
  EXPECT_EQ(ok->signing_key, security::ParseWebhookSecret(created.signing_secret).value());
  ASSERT_EQ(ok->allowed.size(), 1u);
  EXPECT_TRUE(ok->allowed[0].Contains("10.9.8.7"));
  EXPECT_EQ(store_->FindAgentKey(created.row.prefix).value()->last_used_at,
            std::optional<std::string>(FormatUtc(clock_.Now())));

  std::string wrong = created.api_key;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  for (const std::string& bad :
       {wrong, std::string("rgk_0123456789ab_00"), std::string(""), std::string("Bearer x")}) {
    AgentKeys::Refusal why = AgentKeys::Refusal::kNone;
    const Result<AuthenticatedKey> refused = keys_->Authenticate(bad, true, &why);
    EXPECT_EQ(refused.status().code(), StatusCode::kAuthError);
    EXPECT_EQ(refused.status().message(), "unknown or invalid API key");
    EXPECT_EQ(why, AgentKeys::Refusal::kUnknownOrInvalid);
  }
  ASSERT_TRUE(keys_->Revoke(created.row.prefix).ok());
  AgentKeys::Refusal why = AgentKeys::Refusal::kNone;
  const Result<AuthenticatedKey> revoked = keys_->Authenticate(created.api_key, true, &why);
  EXPECT_EQ(why, AgentKeys::Refusal::kRevoked);
  EXPECT_EQ(revoked.status().code(), StatusCode::kAuthError);
  EXPECT_NE(revoked.status().message().find("revoked"), std::string::npos);
  EXPECT_EQ(revoked.status().message().find(created.api_key), std::string::npos);
}

}  // namespace
}  // namespace reglo::ingest
