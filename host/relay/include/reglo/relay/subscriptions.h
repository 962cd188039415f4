// Subscriptions and deliveries as operators and the admin API manage them (issue #7): creating
// (with a signing secret sealed by the hub master key), listing with relay lag, enabling,
// disabling, deleting, listing deliveries and redelivering. Plain functions over the RelayStore
// role (those that also read the outbox take the whole Store), so the CLI, the console's admin API
// and tests share them. Also the event filters and the entity key
// that orders deliveries. Each call uses the given Store from the calling thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/model/events.h"
#include "reglo/security/master_key.h"
#include "reglo/storage/store.h"

namespace reglo::relay {

// The id of the built-in subscription of the NATS JetStream sink (relay.nats in the config).
inline constexpr char kNatsSubscriptionId[] = "nats";

// Which events a subscription takes: event types ("student.created", or "student.*" for every
// type of an entity) and company ids; an empty list takes everything.
class EventFilter {
 public:
  // From SubscriptionRow's JSON arrays. kInvalidArgument when they are not arrays of strings.
  static Result<EventFilter> FromRow(const storage::SubscriptionRow& row);
  bool Matches(const model::EventRecord& event) const;

 private:
  std::set<std::string> types_;
  std::set<std::string> entity_prefixes_;  // "student." from "student.*"
  std::set<std::string> companies_;
};

// The ordering key of an event: its record's company, source system, entity and external id.
std::string EntityKey(const model::EventRecord& event);

// What a subscription is to be; Create/Apply fill in the rest.
struct SubscriptionSpec {
  std::string id;
  std::string kind = "webhook";  // webhook / nats
  std::string url;               // webhook only
  std::vector<std::string> event_types;
  std::vector<std::string> company_ids;
  std::string secret;  // webhook: "whsec_<base64>"; empty in Create: one is generated
  bool enabled = true;
  std::string origin = "cli";  // config / cli / api (the admin API)
};

// Checks a spec: id shape, kind, URL, filters, secret. kInvalidArgument naming what is wrong.
Status CheckSubscriptionSpec(const SubscriptionSpec& spec);

// A fresh "whsec_<base64 of 32 random bytes>" signing secret.
Result<std::string> NewSigningSecret();

// The sealed form of a subscription's signing secret and back (context "subscription:<id>").
Result<std::string> SealSigningSecret(const security::MasterKey& master, const std::string& id,
                                      const std::string& secret);
// The secret's raw bytes, ready for signing. kAuthError when the master key does not open it.
Result<std::string> OpenSigningKey(const security::MasterKey& master,
                                   const storage::SubscriptionRow& row);

// Creates a subscription; kAlreadyExists when the id is taken. Returns the secret in clear (the
// only time it exists outside the sealed column): the given one, or a generated one.
Result<std::string> CreateSubscription(storage::RelayStore& store,
                                       const security::MasterKey& master, SubscriptionSpec spec,
                                       const Clock& clock);
// Makes the store match a subscription of the config (created or updated; see the README for how
// `enabled` from the config meets a disable by an operator or a 410).
Status ApplyConfiguredSubscription(storage::RelayStore& store, const security::MasterKey* master,
                                   const SubscriptionSpec& spec, const Clock& clock);

// kNotFound when there is no such subscription.
Status EnableSubscription(storage::RelayStore& store, const std::string& id, const Clock& clock);
Status DisableSubscription(storage::RelayStore& store, const std::string& id,
                           const std::string& reason, const Clock& clock);
Status DeleteSubscription(storage::RelayStore& store, const std::string& id);

// A subscription with where its relay stands (for lists, the console and /metrics).
struct SubscriptionStatus {
  storage::SubscriptionRow row;  // secret_protected is blanked
  int64_t position = 0;          // last outbox sequence handled
  int64_t lag = 0;               // outbox events after the position (not filtered)
  int64_t pending = 0;           // deliveries retrying or waiting behind their entity
  int64_t dead = 0;              // dead-lettered deliveries
};
Result<std::vector<SubscriptionStatus>> ListSubscriptionStatus(storage::Store& store);

// Deliveries of one subscription (or all: id ""), `status` "" for any.
Result<std::vector<storage::DeliveryRow>> ListDeliveries(storage::RelayStore& store,
                                                         const std::string& subscription_id,
                                                         const std::string& status, int limit);

// Queues the event at `sequence` for delivery to the subscription again (a dead-lettered one, or
// one delivered already): it becomes pending, attempts start over, due now. kNotFound for an
// unknown subscription or event; kInvalidArgument when the subscription does not take the event
// or the relay has not reached it yet.
Status Redeliver(storage::Store& store, const std::string& subscription_id, int64_t sequence,
                 const Clock& clock);
// Redelivers every dead-lettered delivery of the subscription; returns how many.
Result<int64_t> RedeliverDead(storage::RelayStore& store, const std::string& subscription_id,
                              const Clock& clock);

}  // namespace reglo::relay
