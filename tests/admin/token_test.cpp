// The admin token: generated once, stored only as its hash, reused, reset; constant-time check.
#include "reglo/admin/token.h"

#include <gmock/gmock.h>

#include <set>

#include "reglo/core/crypto.h"
#include "reglo/storage/sqlite_store.h"
#include "sqlite_test_support.h"

namespace reglo::admin {
namespace {

TEST(AdminTokenTest, TokensAreRandomUrlSafeAndLongEnough) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    Result<std::string> token = GenerateToken();
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(token->size(), 43u);  // 256 bits in base64url without padding
    EXPECT_EQ(token->find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    seen.insert(*token);
  }
  EXPECT_EQ(seen.size(), 20u);
}

TEST(AdminTokenTest, MatchesOnlyTheTokenItsHashCameFrom) {
  const std::string hash = TokenHash("the-right-token-value");
  EXPECT_EQ(hash, HexEncode(Sha256("the-right-token-value")));
  EXPECT_TRUE(TokenMatches("the-right-token-value", hash));
  EXPECT_FALSE(TokenMatches("the-right-token-valuE", hash));
  EXPECT_FALSE(TokenMatches("", hash));
  EXPECT_FALSE(TokenMatches("the-right-token-value", ""));
}

TEST(AdminTokenTest, GeneratedAtFirstStartStoredHashedReusedAndReset) {
  storage::testing::TempDir dir;
  const std::string db = (dir.path() / "hub.db").string();
  ManualClock clock(std::chrono::system_clock::time_point(std::chrono::hours(490'000)));
  auto store = storage::OpenSqliteStore(db);
  ASSERT_TRUE(store.ok());

  Result<TokenSetup> first = EnsureAdminToken(**store, std::nullopt, clock);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_FALSE(first->new_token.empty());
  EXPECT_TRUE(first->from_store);
  EXPECT_EQ(first->hash, TokenHash(first->new_token));
  // Only the hash is in the database.
  Result<std::optional<std::string>> stored = (*store)->GetSetting(std::string(kTokenSetting));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, first->hash);
  EXPECT_NE(**stored, first->new_token);

  Result<TokenSetup> second = EnsureAdminToken(**store, std::nullopt, clock);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->new_token.empty());  // not shown again
  EXPECT_EQ(second->hash, first->hash);

  Result<std::string> reset = ResetAdminToken(**store, clock);
  ASSERT_TRUE(reset.ok());
  Result<TokenSetup> third = EnsureAdminToken(**store, std::nullopt, clock);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(TokenMatches(*reset, third->hash));
  EXPECT_FALSE(TokenMatches(first->new_token, third->hash));

  // A configured token wins and is not stored.
  Result<TokenSetup> configured =
      EnsureAdminToken(**store, std::string("configured-token-123"), clock);
  ASSERT_TRUE(configured.ok());
  EXPECT_FALSE(configured->from_store);
  EXPECT_TRUE(TokenMatches("configured-token-123", configured->hash));
  EXPECT_EQ(**(*store)->GetSetting(std::string(kTokenSetting)), third->hash);
}

}  // namespace
}  // namespace reglo::admin
