// The outbox relay (DESIGN §9, issue #7): reads integration_events in sequence and delivers each
// event to every enabled subscription whose filters take it, at least once, in order per entity.
//
// SubscriptionWorker: one subscription's delivery, one step at a time (RunOnce: what is due at the
// Clock's now), so tests drive it on a ManualClock with no sleeps. Per step: take or renew the
// subscription's lease (Store::TryAcquireLease on "relay:<id>": one hub instance per
// subscription), retry the pending deliveries that are due and head of their entity, then read new
// events after the stored position in batches. A batch is split over `concurrency` lanes by
// entity (one entity always in the same lane, one request in flight per lane); a first attempt
// that fails becomes a pending delivery on the retry schedule, and later events of that entity
// wait behind it as pending deliveries too (other entities go on). The position and the new
// delivery rows are saved together after each batch (and when stopping): a crash between sending
// and saving sends the same events again, with the same ids; nothing is skipped.
// 410 disables the subscription; after the last attempt a delivery is dead-lettered.
//
// Relay: runs one worker thread per enabled subscription (so a slow or dead endpoint holds back
// only its own subscription), each with a Store of its own from the factory, and picks up
// subscriptions created, enabled, disabled or deleted meanwhile (by the CLI or the admin API).
// Thread-safety: RunOnce from one thread at a time; Relay's public methods from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/relay/sink.h"
#include "reglo/relay/subscriptions.h"
#include "reglo/storage/store.h"

namespace reglo::relay {

using Duration = std::chrono::milliseconds;

// DESIGN §9: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then dead-lettered.
std::vector<Duration> DefaultRetrySchedule();

struct RelayOptions {
  // Delay before each attempt; the first entry is the first attempt's (0: immediately), the
  // number of entries the number of attempts before a delivery is dead-lettered.
  std::vector<Duration> retry_schedule = DefaultRetrySchedule();
  int batch_size = 500;                   // events read from the outbox at a time
  int concurrency = 4;                    // lanes (requests in flight) per subscription
  Duration poll_interval{1'000};          // how often an idle worker looks for new events
  Duration refresh_interval{2'000};       // how often the relay re-reads the subscriptions
  Duration lease_ttl{60'000};             // a subscription's lease; renewed every third of it
  std::string instance_id = "reglo-hub";  // lease owner
};

// Counters of one subscription's deliveries since the process started (for /metrics).
struct DeliveryCounters {
  int64_t delivered = 0;      // delivered at whichever attempt
  int64_t failed = 0;         // attempts that failed (each one)
  int64_t dead_lettered = 0;  // deliveries given up after the last attempt
  int64_t gone = 0;           // 410 answers
  // The receiver's health from the same outcomes: when its current run of failed attempts began
  // (FormatUtc; "" since an attempt succeeded, or before any failed) and the last failed
  // attempt's error (masked, no payload).
  std::string failing_since;
  std::string last_failure;

  void NoteDelivered() {
    ++delivered;
    failing_since.clear();
  }
  void NoteFailed(const std::string& error, const std::string& now) {
    ++failed;
    if (failing_since.empty()) failing_since = now;
    last_failure = error;
  }
};

// What one RunOnce did.
struct StepResult {
  bool leased = true;     // false: another instance holds the subscription
  bool disabled = false;  // the subscription is disabled (or was just, by a 410) or deleted
  int64_t delivered = 0;  // deliveries that succeeded in this step
  int64_t failed = 0;     // attempts that failed in this step
  int64_t position = 0;   // the position saved at the end of the step
};

class SubscriptionWorker {
 public:
  // Borrows store and clock. `sinks` makes the lanes' sinks on first use.
  SubscriptionWorker(std::string subscription_id, storage::Store& store, const Clock& clock,
                     SinkFactory sinks, RelayOptions options);
  ~SubscriptionWorker();
  SubscriptionWorker(const SubscriptionWorker&) = delete;
  SubscriptionWorker& operator=(const SubscriptionWorker&) = delete;

  // Does what is due now. `stop` is polled between events: when it turns true, the progress so
  // far is saved and the step ends.
  Result<StepResult> RunOnce(const std::atomic<bool>* stop = nullptr);
  // Gives the lease up (when stopping for good).
  void Release();
  const DeliveryCounters& counters() const { return counters_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DeliveryCounters counters_;
};

class Relay {
 public:
  using StoreFactory = std::function<Result<std::unique_ptr<storage::Store>>()>;

  Relay(RelayOptions options, StoreFactory open_store, SinkFactory sinks, const Clock& clock);
  ~Relay();  // stops
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Opens the control store and starts the control thread (which starts the workers).
  Status Start();
  // Stops every worker (each saves its progress and gives its lease up) and joins the threads.
  void Stop();

  struct SubscriptionState {
    std::string id;
    bool running = false;  // a worker thread runs for it
    bool leased = false;   // this instance holds its lease
    DeliveryCounters counters;
    std::string last_error;  // the last step's store error, if any
  };
  std::vector<SubscriptionState> Subscriptions() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace reglo::relay
