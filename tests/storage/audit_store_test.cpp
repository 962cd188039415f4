// The Store's roles and audit block (issue #18 §3), run against every backend through StoreTest:
// named admin tokens, the audit log's filters and pages, Audited()'s one transaction (a change
// that fails leaves no "ok" row, an audit row that cannot be written undoes the change), the
// nested store transactions it joins, and retention of audit rows.
#include <gmock/gmock.h>

#include "reglo/core/clock.h"
#include "reglo/storage/housekeeper.h"
#include "store_test.h"

namespace reglo::storage::testing {
namespace {

AuditRow Row(const std::string& at, const std::string& actor, const std::string& action,
             const std::string& target) {
  AuditRow row;
  row.at = at;
  row.actor = actor;
  row.role = "operator";
  row.action = action;
  row.target = target;
  return row;
}

ApiSourceRow ApiSource(const std::string& id) {
  ApiSourceRow row;
  row.source = {id, "acme", "gestionale", "csv", "{}", true, "new"};
  row.interval_ms = 60'000;
  row.created_at = row.updated_at = "2025-06-01T08:00:00.000Z";
  return row;
}

TEST_P(StoreTest, AdminTokensAreCreatedFoundListedAndRevoked) {
  AdminTokenRow anna{0, "anna", "viewer", "hash-a", "2025-06-01T08:00:00.000Z", std::nullopt};
  const int64_t id = OK_VALUE(store_->CreateAdminToken(anna));
  EXPECT_GT(id, 0);
  AdminTokenRow again = anna;
  again.token_sha256 = "hash-b";
  Result<int64_t> clash = store_->CreateAdminToken(again);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.status().code(), StatusCode::kAlreadyExists);

  std::optional<AdminTokenRow> found = OK_VALUE(store_->FindAdminToken("hash-a"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "anna");
  EXPECT_EQ(found->role, "viewer");
  EXPECT_FALSE(OK_VALUE(store_->FindAdminToken("hash-b")).has_value());

  EXPECT_TRUE(OK_VALUE(store_->RevokeAdminToken("anna", "2025-06-02T08:00:00.000Z")));
  EXPECT_FALSE(OK_VALUE(store_->RevokeAdminToken("anna", "2025-06-02T08:00:00.000Z")));
  EXPECT_FALSE(OK_VALUE(store_->FindAdminToken("hash-a")).has_value());
  // A revoked name can be given again.
  ASSERT_TRUE(store_->CreateAdminToken(again).ok());
  Reopen();
  std::vector<AdminTokenRow> listed = OK_VALUE(store_->ListAdminTokens());
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].revoked_at, std::optional<std::string>("2025-06-02T08:00:00.000Z"));
  EXPECT_FALSE(listed[1].revoked_at.has_value());
}

TEST_P(StoreTest, AuditRowsAreFilteredAndPagedNewestFirst) {
  ASSERT_OK(store_->AppendAudit(Row("2025-06-01T08:00:00.000Z", "anna", "source.pause", "s1")));
  ASSERT_OK(store_->AppendAudit(Row("2025-06-01T09:00:00.000Z", "bruno", "source.pause", "s2")));
  AuditRow refused = Row("2025-06-01T10:00:00.000Z", "anna", "token.create", "carla");
  refused.outcome = "refused";
  refused.detail = "needs admin";
  ASSERT_OK(store_->AppendAudit(refused));

  AuditQuery all;
  std::vector<AuditRow> rows = OK_VALUE(store_->ListAudit(all));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].action, "token.create");
  EXPECT_EQ(rows[0].detail, "needs admin");
  EXPECT_EQ(rows[0].before, "");
  EXPECT_GT(rows[0].id, rows[1].id);

  AuditQuery by_actor;
  by_actor.actor = "anna";
  EXPECT_EQ(OK_VALUE(store_->ListAudit(by_actor)).size(), 2u);
  AuditQuery by_action_target;
  by_action_target.action = "source.pause";
  by_action_target.target = "s2";
  rows = OK_VALUE(store_->ListAudit(by_action_target));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].actor, "bruno");
  AuditQuery by_outcome;
  by_outcome.outcome = "refused";
  EXPECT_EQ(OK_VALUE(store_->ListAudit(by_outcome)).size(), 1u);
  AuditQuery by_time;
  by_time.from = "2025-06-01T08:30:00.000Z";
  by_time.to = "2025-06-01T09:30:00.000Z";
  rows = OK_VALUE(store_->ListAudit(by_time));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].actor, "bruno");

  AuditQuery page;
  page.limit = 2;
  rows = OK_VALUE(store_->ListAudit(page));
  ASSERT_EQ(rows.size(), 2u);
  page.before_id = rows[1].id;
  rows = OK_VALUE(store_->ListAudit(page));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].actor, "anna");
  EXPECT_EQ(rows[0].action, "source.pause");
  page.limit = 0;
  EXPECT_FALSE(store_->ListAudit(page).ok());
}

TEST_P(StoreTest, AnAuditedChangeCommitsWithItsOkRow) {
  ASSERT_OK(store_->Audited(Row("2025-06-01T08:00:00.000Z", "anna", "source.create", "api-1"),
                            [&](AuditRow& row) {
                              row.after = R"({"id":"api-1"})";
                              // A store method with its own transaction joins this one.
                              REGLO_RETURN_IF_ERROR(store_->PutApiSource(ApiSource("api-1")));
                              return store_->DeleteSource("no-such-source").status();
                            }));
  EXPECT_EQ(OK_VALUE(store_->ListApiSources()).size(), 1u);
  std::vector<AuditRow> rows = OK_VALUE(store_->ListAudit({}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].outcome, "ok");
  EXPECT_EQ(rows[0].after, R"({"id":"api-1"})");
}

TEST_P(StoreTest, AFailedAuditedChangeLeavesOnlyAFailedRow) {
  const Status failed =
      store_->Audited(Row("2025-06-01T08:00:00.000Z", "anna", "source.create", "api-1"),
                      [&](AuditRow& row) -> Status {
                        row.after = "{}";
                        REGLO_RETURN_IF_ERROR(store_->PutApiSource(ApiSource("api-1")));
                        return Status::InvalidArgument("mario.rossi@example.com is refused");
                      });
  EXPECT_EQ(failed.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(OK_VALUE(store_->ListApiSources()).empty());  // rolled back
  std::vector<AuditRow> rows = OK_VALUE(store_->ListAudit({}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].outcome, "failed");
  EXPECT_EQ(rows[0].after, "");
  EXPECT_THAT(rows[0].detail, ::testing::HasSubstr("is refused"));
  EXPECT_THAT(rows[0].detail, ::testing::Not(::testing::HasSubstr("mario.rossi@example.com")));
}

TEST_P(StoreTest, AChangeWhoseAuditRowCannotBeWrittenIsUndone) {
  ASSERT_OK(backend_->BreakInsertsInto("integration_audit"));
  const Status failed =
      store_->Audited(Row("2025-06-01T08:00:00.000Z", "anna", "source.create", "api-1"),
                      [&](AuditRow&) { return store_->PutApiSource(ApiSource("api-1")); });
  EXPECT_FALSE(failed.ok());
  EXPECT_TRUE(OK_VALUE(store_->ListApiSources()).empty());
}

TEST_P(StoreTest, AuditRowsArePrunedByAge) {
  ASSERT_OK(store_->AppendAudit(Row("2024-01-01T08:00:00.000Z", "anna", "source.pause", "s1")));
  ASSERT_OK(store_->AppendAudit(Row("2025-06-01T08:00:00.000Z", "anna", "source.pause", "s1")));
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kAudit, "2025-01-01T00:00:00.000Z", 100)), 1);
  std::vector<AuditRow> rows = OK_VALUE(store_->ListAudit({}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at, "2025-06-01T08:00:00.000Z");
  EXPECT_EQ(OK_VALUE(store_->ReadStoreStats()).RowsOf(PruneTarget::kAudit), 1);
}

TEST_P(StoreTest, HousekeepingPrunesAuditRowsOlderThanTheirAge) {
  ASSERT_OK(store_->AppendAudit(Row("2025-04-01T08:00:00.000Z", "anna", "source.pause", "s1")));
  ASSERT_OK(store_->AppendAudit(Row("2025-05-20T08:00:00.000Z", "anna", "source.pause", "s1")));
  RetentionPolicy policy;
  policy.audit = 30 * RetentionPolicy::kDay;
  std::chrono::system_clock::time_point now;
  ASSERT_TRUE(ParseUtc("2025-06-01T08:00:00.000Z", now));
  Result<HousekeepingReport> report = Housekeep(*store_, policy, now);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->pruned.back(), 1);  // kAudit is the last target
  EXPECT_EQ(OK_VALUE(store_->ListAudit({})).size(), 1u);
}

}  // namespace
}  // namespace reglo::storage::testing
