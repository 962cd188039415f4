// RelayStore: the storage role of event delivery (issue #7, migration 4): subscriptions, each
// one's position in the outbox, and the deliveries that needed more than one attempt. Used by
// host/relay with an OutboxReader. Implemented by every backend; callers hold a reference to a
// store they or a factory own. Thread-safety: one thread at a time per store object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/rows.h"

namespace reglo::storage {

class RelayStore {
 public:
  virtual ~RelayStore() = default;

  // Inserts `row`, or updates an existing one's kind, url, filters and secret (enabled,
  // disabled_reason and created_at are kept on update unless `set_enabled`).
  virtual Status UpsertSubscription(const SubscriptionRow& row, bool set_enabled) = 0;
  virtual Result<std::vector<SubscriptionRow>> ListSubscriptions() = 0;
  virtual Result<std::optional<SubscriptionRow>> FindSubscription(const std::string& id) = 0;
  // Enables or disables; `reason` says why ("" when enabling). False when there is no such id.
  virtual Result<bool> SetSubscriptionEnabled(const std::string& id, bool enabled,
                                              const std::string& reason,
                                              const std::string& now) = 0;
  // Deletes the subscription with its position and deliveries; false when there is no such id.
  virtual Result<bool> DeleteSubscription(const std::string& id) = 0;
  // The last outbox sequence the subscription has handled (0: none yet).
  virtual Result<int64_t> GetRelayPosition(const std::string& subscription_id) = 0;
  // Atomically: upserts `deliveries` (by subscription and sequence) and, when given, moves the
  // subscription's position to `position`.
  virtual Status SaveRelayProgress(const std::string& subscription_id,
                                   std::optional<int64_t> position,
                                   const std::vector<DeliveryRow>& deliveries) = 0;
  virtual Result<std::vector<DeliveryRow>> ListDeliveries(const DeliveryQuery& query) = 0;
  // The entity keys of the subscription's pending deliveries (later events of these wait).
  virtual Result<std::vector<std::string>> PendingDeliveryKeys(
      const std::string& subscription_id) = 0;
};

}  // namespace reglo::storage
