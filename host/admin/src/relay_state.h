// A subscription's state as the admin API and /metrics name it, from its row and the relay's live
// state. Private to host/admin. Plain functions; Relay::Subscriptions() is thread-safe.
#pragma once

#include <map>
#include <string>

#include "reglo/relay/relay.h"

namespace reglo::admin {

using RelayStateMap = std::map<std::string, relay::Relay::SubscriptionState>;

// The relay's live state of each subscription it runs, by id (empty without a relay).
inline RelayStateMap RelayStates(const relay::Relay* relay) {
  RelayStateMap states;
  if (!relay) return states;
  for (relay::Relay::SubscriptionState& state : relay->Subscriptions()) {
    std::string id = state.id;
    states.emplace(std::move(id), std::move(state));
  }
  return states;
}

// disabled; active: this hub delivers it; standby: another instance holds its lease; starting:
// enabled, the relay has not picked it up yet; enabled: no relay runs in this process.
inline std::string SubscriptionStateName(const storage::SubscriptionRow& row,
                                         const RelayStateMap& states, bool relay_present) {
  if (!row.enabled) return "disabled";
  if (!relay_present) return "enabled";
  auto live = states.find(row.id);
  if (live == states.end() || !live->second.running) return "starting";
  return live->second.leased ? "active" : "standby";
}

}  // namespace reglo::admin
