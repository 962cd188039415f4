// Event delivery in the app (issue #7): the `reglo-hub relay` command, the relay `serve` runs
// next to the engine, and the `subscriptions` and `deliveries` commands. This is where the
// config's "relay" and "subscriptions" meet the store, the master key file and the sinks.
// Functions of a loaded config, like commands.h; each call is independent, not for concurrent use.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "reglo/app/config.h"
#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/storage/store.h"

namespace reglo::relay {
class Relay;
}

namespace reglo::app {

// Makes the store's subscriptions match the config: "subscriptions" created or updated, the NATS
// sink's subscription ("nats") when relay.nats is set, and config-made subscriptions that left
// the config disabled.
Status ApplyRelayConfig(const HubConfig& config, storage::Store& store, const Clock& clock);

// A started relay over the config's store (ApplyRelayConfig done first).
Result<std::unique_ptr<relay::Relay>> StartRelay(const HubConfig& config, const Clock& clock,
                                                 const std::string& instance_id);

// `reglo-hub relay`: only the relay, until SIGTERM or SIGINT.
int RunRelay(const HubConfig& config, std::ostream& out, std::ostream& err);

struct SubscriptionArgs {
  std::string id;
  std::string url;
  std::vector<std::string> event_types;
  std::vector<std::string> company_ids;
  std::string secret;  // empty: generated and printed once
  bool disabled = false;
};
int CreateSubscriptionCommand(const HubConfig& config, const SubscriptionArgs& args,
                              const Clock& clock, std::ostream& out, std::ostream& err);
int ListSubscriptionsCommand(const HubConfig& config, std::ostream& out, std::ostream& err);
int SetSubscriptionEnabledCommand(const HubConfig& config, const std::string& id, bool enabled,
                                  const Clock& clock, std::ostream& out, std::ostream& err);
int DeleteSubscriptionCommand(const HubConfig& config, const std::string& id, const Clock& clock,
                              std::ostream& out, std::ostream& err);
int ListDeliveriesCommand(const HubConfig& config, const std::string& subscription_id,
                          const std::string& status, int limit, std::ostream& out,
                          std::ostream& err);
// Redelivers the events at `sequences`, or every dead-lettered delivery when `all_dead`.
int RedeliverCommand(const HubConfig& config, const std::string& subscription_id,
                     const std::vector<int64_t>& sequences, bool all_dead, const Clock& clock,
                     std::ostream& out, std::ostream& err);

// The instance id leases are taken under: "reglo-hub@<host>:<pid>".
std::string InstanceId();

}  // namespace reglo::app
