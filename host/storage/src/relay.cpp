// The Store defaults for stores without event delivery state (e.g. test doubles).
#include "reglo/storage/store.h"

namespace reglo::storage {
namespace {

Status Unsupported() {
  return Status::Internal("this store does not support event delivery");
}

}  // namespace

Status Store::UpsertSubscription(const SubscriptionRow& /*row*/, bool /*set_enabled*/) {
  return Unsupported();
}

Result<std::vector<SubscriptionRow>> Store::ListSubscriptions() {
  return Unsupported();
}

Result<std::optional<SubscriptionRow>> Store::FindSubscription(const std::string& /*id*/) {
  return Unsupported();
}

Result<bool> Store::SetSubscriptionEnabled(const std::string& /*id*/, bool /*enabled*/,
                                           const std::string& /*reason*/,
                                           const std::string& /*now*/) {
  return Unsupported();
}

Result<bool> Store::DeleteSubscription(const std::string& /*id*/) {
  return Unsupported();
}

Result<int64_t> Store::GetRelayPosition(const std::string& /*subscription_id*/) {
  return Unsupported();
}

Status Store::SaveRelayProgress(const std::string& /*subscription_id*/,
                                std::optional<int64_t> /*position*/,
                                const std::vector<DeliveryRow>& /*deliveries*/) {
  return Unsupported();
}

Result<std::vector<DeliveryRow>> Store::ListDeliveries(const DeliveryQuery& /*query*/) {
  return Unsupported();
}

Result<std::vector<std::string>> Store::PendingDeliveryKeys(
    const std::string& /*subscription_id*/) {
  return Unsupported();
}

Result<int64_t> Store::LatestEventSequence() {
  return Unsupported();
}

}  // namespace reglo::storage
