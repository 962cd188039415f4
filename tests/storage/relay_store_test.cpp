// The Store contract of event delivery (issue #7): subscriptions, relay positions and deliveries,
// on every backend through StoreTest (SQLite and PostgreSQL).
#include <fmt/format.h>
#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "store_test.h"

namespace reglo::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

SubscriptionRow Subscription(const std::string& id) {
  SubscriptionRow row;
  row.id = id;
  row.url = "https://example.com/hook";
  row.event_types = R"(["student.created"])";
  row.secret_protected = "v1:sealed";
  row.created_at = row.updated_at = "2025-06-01T09:00:00.000Z";
  return row;
}

DeliveryRow Delivery(int64_t sequence, const std::string& key, const std::string& status,
                     const std::string& next = "2025-06-01T09:00:00.000Z") {
  DeliveryRow row;
  row.subscription_id = "wf";
  row.sequence = sequence;
  row.event_id = fmt::format("id-{}", sequence);
  row.event_type = "student.updated";
  row.entity_key = key;
  row.status = status;
  row.attempts = 1;
  row.next_attempt_at = next;
  row.last_error = "HTTP 500 Internal Server Error";
  row.last_status_code = 500;
  return row;
}

std::vector<int64_t> Sequences(const Result<std::vector<DeliveryRow>>& rows) {
  std::vector<int64_t> out;
  if (!rows.ok()) {
    ADD_FAILURE() << rows.status().ToString();
    return out;
  }
  for (const DeliveryRow& row : *rows) out.push_back(row.sequence);
  return out;
}

TEST_P(StoreTest, SubscriptionsAreCreatedUpdatedDisabledAndDeleted) {
  ASSERT_TRUE(store_->UpsertSubscription(Subscription("wf"), true).ok());
  SubscriptionRow changed = Subscription("wf");
  changed.url = "https://example.com/other";
  changed.enabled = false;  // ignored: set_enabled is false
  changed.updated_at = "2025-06-01T10:00:00.000Z";
  ASSERT_TRUE(store_->UpsertSubscription(changed, false).ok());
  auto found = store_->FindSubscription("wf");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->url, "https://example.com/other");
  EXPECT_TRUE((*found)->enabled);
  EXPECT_EQ((*found)->secret_protected, "v1:sealed");
  EXPECT_EQ((*found)->created_at, "2025-06-01T09:00:00.000Z");

  EXPECT_TRUE(
      *store_->SetSubscriptionEnabled("wf", false, "endpoint gone", "2025-06-02T00:00:00.000Z"));
  found = store_->FindSubscription("wf");
  EXPECT_FALSE((*found)->enabled);
  EXPECT_EQ((*found)->disabled_reason, "endpoint gone");
  EXPECT_FALSE(*store_->SetSubscriptionEnabled("nope", true, "", "2025-06-02T00:00:00.000Z"));

  ASSERT_TRUE(store_->SaveRelayProgress("wf", 7, {Delivery(3, "a", "dead")}).ok());
  EXPECT_EQ(*store_->GetRelayPosition("wf"), 7);
  EXPECT_TRUE(*store_->DeleteSubscription("wf"));
  EXPECT_FALSE(*store_->DeleteSubscription("wf"));
  EXPECT_THAT(*store_->ListSubscriptions(), IsEmpty());
  EXPECT_EQ(*store_->GetRelayPosition("wf"), 0);
  DeliveryQuery all;
  EXPECT_THAT(Sequences(store_->ListDeliveries(all)), IsEmpty());
}

TEST_P(StoreTest, RelayProgressSavesDeliveriesAndThePositionTogether) {
  EXPECT_EQ(*store_->GetRelayPosition("wf"), 0);
  ASSERT_TRUE(
      store_
          ->SaveRelayProgress("wf", 10, {Delivery(4, "a", "pending"), Delivery(6, "b", "pending")})
          .ok());
  EXPECT_EQ(*store_->GetRelayPosition("wf"), 10);
  // An upsert by (subscription, sequence) changes the state, not the identity.
  DeliveryRow retried = Delivery(4, "a", "delivered");
  retried.attempts = 2;
  ASSERT_TRUE(store_->SaveRelayProgress("wf", std::nullopt, {retried}).ok());
  EXPECT_EQ(*store_->GetRelayPosition("wf"), 10);
  DeliveryQuery query;
  query.subscription_id = "wf";
  auto rows = store_->ListDeliveries(query);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].status, "delivered");
  EXPECT_EQ((*rows)[0].attempts, 2);
  EXPECT_EQ((*rows)[0].last_status_code, 500);
  EXPECT_EQ((*rows)[1].entity_key, "b");
  EXPECT_THAT(*store_->PendingDeliveryKeys("wf"), ElementsAre("b"));
  EXPECT_THAT(*store_->PendingDeliveryKeys("other"), IsEmpty());
}

TEST_P(StoreTest, DueDeliveriesAreOnlyTheHeadOfTheirEntity) {
  ASSERT_TRUE(store_
                  ->SaveRelayProgress("wf", 9,
                                      {Delivery(2, "a", "pending", "2025-06-01T09:00:05.000Z"),
                                       Delivery(3, "a", "pending", "2025-06-01T09:00:00.000Z"),
                                       Delivery(4, "b", "pending", "2025-06-01T09:00:00.000Z"),
                                       Delivery(5, "c", "dead"),
                                       Delivery(6, "c", "pending", "2025-06-01T09:00:00.000Z")})
                  .ok());
  DeliveryQuery due;
  due.subscription_id = "wf";
  due.status = "pending";
  due.due_at = "2025-06-01T09:00:01.000Z";
  due.head_of_entity_only = true;
  // 2 is not due yet and 3 waits behind it; a dead delivery holds nothing back.
  EXPECT_THAT(Sequences(store_->ListDeliveries(due)), ElementsAre(4, 6));
  due.due_at = "2025-06-01T09:00:05.000Z";
  EXPECT_THAT(Sequences(store_->ListDeliveries(due)), ElementsAre(2, 4, 6));
  due.head_of_entity_only = false;
  EXPECT_THAT(Sequences(store_->ListDeliveries(due)), ElementsAre(2, 3, 4, 6));
  DeliveryQuery dead;
  dead.status = "dead";
  EXPECT_THAT(Sequences(store_->ListDeliveries(dead)), ElementsAre(5));
  dead.limit = 0;
  EXPECT_FALSE(store_->ListDeliveries(dead).ok());
}

TEST_P(StoreTest, LatestEventSequenceIsZeroOnAnEmptyOutbox) {
  EXPECT_EQ(*store_->LatestEventSequence(), 0);
}

}  // namespace
}  // namespace reglo::storage::testing
