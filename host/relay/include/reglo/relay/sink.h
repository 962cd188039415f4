// Sink: where the relay hands one event for one subscription (a webhook endpoint, NATS
// JetStream), and what came of it. Sinks are created per delivery lane by a SinkFactory and used
// by one thread at a time; the factory itself is called from the relay's threads and must be
// thread-safe. Sinks never throw: every failure is an Attempt value.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "reglo/core/status.h"
#include "reglo/model/events.h"
#include "reglo/storage/store.h"

namespace reglo::relay {

// What one delivery attempt came to.
struct Attempt {
  enum class Outcome {
    kDelivered,  // 2xx within the timeout (webhook), acknowledged by JetStream (NATS)
    kFailed,     // anything else: retried on the schedule
    kGone,       // HTTP 410: the endpoint is gone, the subscription gets disabled
  };
  Outcome outcome = Outcome::kFailed;
  int status_code = 0;  // HTTP status (0: no response, or not HTTP)
  std::string error;    // why it failed; never a payload, a secret or a signature
  // The receiver's Retry-After, when it sent one: the next attempt waits at least this long.
  std::optional<std::chrono::seconds> retry_after;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Delivers `event`, whose CloudEvents JSON is `body`.
  virtual Attempt Deliver(const model::EventRecord& event, const std::string& body) = 0;
};

// Makes a sink for one subscription (called once per delivery lane).
using SinkFactory =
    std::function<Result<std::unique_ptr<Sink>>(const storage::SubscriptionRow& subscription)>;

}  // namespace reglo::relay
