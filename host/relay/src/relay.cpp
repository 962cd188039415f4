#include "reglo/relay/relay.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "reglo/core/masking.h"
#include "reglo/relay/webhook_sink.h"

namespace reglo::relay {

std::vector<Duration> DefaultRetrySchedule() {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  return {Duration(0), seconds(5), minutes(5), minutes(30),
          hours(2),    hours(5),   hours(10),  hours(10)};
}

namespace {

constexpr size_t kMaxErrorLength = 300;
constexpr int kRetryBatch = 100;
constexpr int kMaxRetryPasses = 10;

// What one lane made of one event of a batch.
enum class LaneResult : uint8_t { kSkipped, kDelivered, kFailed, kQueued, kGone, kUnprocessed };

std::string CleanError(const std::string& error) {
  std::string masked = MaskPersonalData(error);
  if (masked.size() > kMaxErrorLength) masked.resize(kMaxErrorLength);
  return masked;
}

std::string Describe(const storage::SubscriptionRow& row) {
  return row.kind == "webhook" ? RedactUrl(row.url) : std::string("NATS JetStream");
}

}  // namespace

struct SubscriptionWorker::Impl {
  Impl(std::string subscription_id, storage::Store& s, const Clock& c, SinkFactory f,
       RelayOptions o)
      : id(std::move(subscription_id)),
        store(s),
        clock(c),
        make_sink(std::move(f)),
        options(std::move(o)) {
    if (options.concurrency < 1) options.concurrency = 1;
    if (options.batch_size < 1) options.batch_size = 1;
    if (options.retry_schedule.empty()) options.retry_schedule.push_back(Duration(0));
  }

  std::string LeaseKey() const { return "relay:" + id; }

  // Applies one attempt's outcome to a delivery row (attempts, status, next attempt, error).
  void Apply(const Attempt& attempt, storage::DeliveryRow& row,
             std::chrono::system_clock::time_point now, DeliveryCounters& counters) const {
    row.attempts += 1;
    row.last_status_code = attempt.status_code;
    if (attempt.outcome == Attempt::Outcome::kDelivered) {
      row.status = "delivered";
      counters.NoteDelivered();
      return;
    }
    row.last_error = CleanError(attempt.error);
    counters.NoteFailed(row.last_error, FormatUtc(now));
    if (attempt.outcome == Attempt::Outcome::kGone) {
      ++counters.gone;
      row.next_attempt_at = FormatUtc(now);  // due again as soon as the subscription is enabled
      return;
    }
    if (row.attempts >= static_cast<int>(options.retry_schedule.size())) {
      row.status = "dead";
      ++counters.dead_lettered;
      spdlog::warn("relay: subscription '{}': event {} ({}) dead-lettered after {} attempts: {}",
                   id, row.sequence, row.event_type, row.attempts, row.last_error);
      return;
    }
    Duration delay = options.retry_schedule[static_cast<size_t>(row.attempts)];
    if (attempt.retry_after) {
      delay = std::max(delay, std::chrono::duration_cast<Duration>(*attempt.retry_after));
    }
    row.status = "pending";
    row.next_attempt_at = FormatUtc(now + delay);
  }

  storage::DeliveryRow NewRow(const storage::StoredEvent& stored) const {
    storage::DeliveryRow row;
    row.subscription_id = id;
    row.sequence = stored.sequence;
    row.event_id = stored.event.event_id;
    row.event_type = stored.event.type;
    row.entity_key = EntityKey(stored.event);
    row.status = "pending";
    return row;
  }

  // Loads the subscription; (re)makes the filter and the sinks when it changed.
  Result<bool> Refresh() {
    Result<std::optional<storage::SubscriptionRow>> found = store.FindSubscription(id);
    if (!found.ok()) return found.status();
    if (!*found || !(*found)->enabled) {
      row.reset();
      lanes.clear();
      return false;
    }
    if (!row || row->updated_at != (*found)->updated_at) {
      Result<EventFilter> parsed = EventFilter::FromRow(**found);
      if (!parsed.ok()) return parsed.status().WithContext("subscription '" + id + "'");
      filter = std::move(*parsed);
      row = std::move(**found);
      lanes.clear();
    }
    while (lanes.size() < static_cast<size_t>(options.concurrency)) {
      Result<std::unique_ptr<Sink>> sink = make_sink(*row);
      if (!sink.ok()) return sink.status().WithContext("subscription '" + id + "'");
      lanes.push_back(std::move(*sink));
    }
    return true;
  }

  Result<bool> HoldLease() {
    const auto monotonic = clock.Monotonic();
    if (leased && monotonic - lease_renewed < options.lease_ttl / 3) return true;
    Result<bool> held = store.TryAcquireLease(LeaseKey(), options.instance_id, options.lease_ttl,
                                              FormatUtc(clock.Now()));
    if (!held.ok()) return held.status();
    if (*held && !leased)
      spdlog::info("relay: delivering to subscription '{}' ({})", id, Describe(*row));
    leased = *held;
    if (leased) lease_renewed = monotonic;
    return leased;
  }

  Status Disable(const std::string& reason) {
    spdlog::warn("relay: subscription '{}' disabled: {}", id, reason);
    Result<bool> done = store.SetSubscriptionEnabled(id, false, reason, FormatUtc(clock.Now()));
    return done.status();
  }

  std::string GoneReason(const Attempt& attempt) const {
    return fmt::format("the endpoint answered {} at {}", attempt.error, FormatUtc(clock.Now()));
  }

  // Retries the due pending deliveries that head their entity. Returns false when a 410
  // disabled the subscription.
  Result<bool> RetryDue(const std::atomic<bool>* stop, StepResult& step,
                        DeliveryCounters& counters) {
    for (int pass = 0; pass < kMaxRetryPasses; ++pass) {
      storage::DeliveryQuery query;
      query.subscription_id = id;
      query.status = "pending";
      query.due_at = FormatUtc(clock.Now());
      query.head_of_entity_only = true;
      query.limit = kRetryBatch;
      Result<std::vector<storage::DeliveryRow>> due = store.ListDeliveries(query);
      if (!due.ok()) return due.status();
      if (due->empty()) return true;
      bool delivered_any = false;
      for (storage::DeliveryRow& delivery : *due) {
        if (stop != nullptr && stop->load()) return true;
        Result<std::vector<storage::StoredEvent>> events =
            store.ReadEvents(delivery.sequence - 1, 1);
        if (!events.ok()) return events.status();
        if (events->empty() || events->front().sequence != delivery.sequence) {
          delivery.status = "dead";
          delivery.last_error = "the event is no longer in the outbox";
          REGLO_RETURN_IF_ERROR(store.SaveRelayProgress(id, std::nullopt, {delivery}));
          continue;
        }
        const model::EventRecord& event = events->front().event;
        const Attempt attempt = lanes.front()->Deliver(event, model::CloudEventJson(event));
        Apply(attempt, delivery, clock.Now(), counters);
        REGLO_RETURN_IF_ERROR(store.SaveRelayProgress(id, std::nullopt, {delivery}));
        if (attempt.outcome == Attempt::Outcome::kDelivered) {
          ++step.delivered;
          delivered_any = true;
        } else {
          ++step.failed;
        }
        if (attempt.outcome == Attempt::Outcome::kGone) {
          REGLO_RETURN_IF_ERROR(Disable(GoneReason(attempt)));
          return false;
        }
      }
      // A success may have let the next delivery of its entity become head; go again.
      if (!delivered_any) return true;
    }
    return true;
  }

  // Delivers one batch over the lanes; fills `results` (one per event).
  void RunLanes(const std::vector<storage::StoredEvent>& events,
                const std::unordered_set<std::string>& blocked, const std::atomic<bool>* stop,
                std::vector<LaneResult>& results, std::vector<Attempt>& attempts,
                std::vector<std::string>& keys) {
    const size_t lane_count = lanes.size();
    std::vector<std::vector<size_t>> work(lane_count);
    results.assign(events.size(), LaneResult::kSkipped);
    attempts.assign(events.size(), Attempt{});
    keys.assign(events.size(), std::string());
    for (size_t i = 0; i < events.size(); ++i) {
      if (!filter->Matches(events[i].event)) continue;
      keys[i] = EntityKey(events[i].event);
      results[i] = LaneResult::kUnprocessed;
      work[std::hash<std::string>()(keys[i]) % lane_count].push_back(i);
    }
    const auto run_lane = [&](size_t lane) {
      std::unordered_set<std::string> failed_here;
      for (size_t i : work[lane]) {
        if (stop != nullptr && stop->load()) return;
        if (blocked.count(keys[i]) || failed_here.count(keys[i])) {
          results[i] = LaneResult::kQueued;
          continue;
        }
        const model::EventRecord& event = events[i].event;
        attempts[i] = lanes[lane]->Deliver(event, model::CloudEventJson(event));
        switch (attempts[i].outcome) {
          case Attempt::Outcome::kDelivered: results[i] = LaneResult::kDelivered; break;
          case Attempt::Outcome::kFailed:
            results[i] = LaneResult::kFailed;
            failed_here.insert(keys[i]);
            break;
          case Attempt::Outcome::kGone: results[i] = LaneResult::kGone; return;
        }
      }
    };
    std::vector<std::thread> threads;
    for (size_t lane = 1; lane < lane_count; ++lane) {
      if (!work[lane].empty()) threads.emplace_back(run_lane, lane);
    }
    run_lane(0);
    for (std::thread& thread : threads) thread.join();
  }

  Result<StepResult> RunOnce(const std::atomic<bool>* stop, DeliveryCounters& counters) {
    StepResult step;
    Result<bool> enabled = Refresh();
    if (!enabled.ok()) return enabled.status();
    if (!*enabled) {
      Release();
      step.disabled = true;
      return step;
    }
    Result<bool> held = HoldLease();
    if (!held.ok()) return held.status();
    if (!*held) {
      step.leased = false;
      return step;
    }
    Result<bool> still_enabled = RetryDue(stop, step, counters);
    if (!still_enabled.ok()) return still_enabled.status();
    if (!*still_enabled) {
      step.disabled = true;
      return step;
    }

    Result<std::vector<std::string>> pending = store.PendingDeliveryKeys(id);
    if (!pending.ok()) return pending.status();
    std::unordered_set<std::string> blocked(pending->begin(), pending->end());
    Result<int64_t> position = store.GetRelayPosition(id);
    if (!position.ok()) return position.status();
    step.position = *position;

    std::vector<LaneResult> results;
    std::vector<Attempt> attempts;
    std::vector<std::string> keys;
    while (stop == nullptr || !stop->load()) {
      Result<std::vector<storage::StoredEvent>> events =
          store.ReadEvents(step.position, options.batch_size);
      if (!events.ok()) return events.status();
      if (events->empty()) break;
      RunLanes(*events, blocked, stop, results, attempts, keys);

      // Everything before the first event not done (stopped, or 410) is recorded; the rest is
      // read again next time.
      const auto now = clock.Now();
      std::vector<storage::DeliveryRow> rows;
      int64_t new_position = step.position;
      std::optional<size_t> gone;
      bool cut = false;
      for (size_t i = 0; i < events->size() && !cut; ++i) {
        const storage::StoredEvent& stored = (*events)[i];
        switch (results[i]) {
          case LaneResult::kUnprocessed: cut = true; continue;
          case LaneResult::kGone:
            gone = i;
            cut = true;
            continue;
          case LaneResult::kSkipped: break;
          case LaneResult::kDelivered:
            counters.NoteDelivered();
            ++step.delivered;
            break;
          case LaneResult::kQueued: {
            storage::DeliveryRow row = NewRow(stored);
            row.next_attempt_at = FormatUtc(now);
            rows.push_back(std::move(row));
            blocked.insert(keys[i]);
            break;
          }
          case LaneResult::kFailed: {
            storage::DeliveryRow row = NewRow(stored);
            Apply(attempts[i], row, now, counters);
            ++step.failed;
            rows.push_back(std::move(row));
            if (rows.back().status == "pending") blocked.insert(keys[i]);
            break;
          }
        }
        new_position = stored.sequence;
      }
      REGLO_RETURN_IF_ERROR(store.SaveRelayProgress(id, new_position, rows));
      step.position = new_position;
      if (gone) {
        counters.NoteFailed(CleanError(attempts[*gone].error), FormatUtc(now));
        ++counters.gone;
        ++step.failed;
        REGLO_RETURN_IF_ERROR(Disable(GoneReason(attempts[*gone])));
        step.disabled = true;
        return step;
      }
      if (cut || events->size() < static_cast<size_t>(options.batch_size)) break;
      Result<bool> renewed = HoldLease();
      if (!renewed.ok()) return renewed.status();
      if (!*renewed) {
        step.leased = false;
        break;
      }
    }
    return step;
  }

  void Release() {
    if (!leased) return;
    (void)store.ReleaseLease(LeaseKey(), options.instance_id);
    leased = false;
  }

  std::string id;
  storage::Store& store;
  const Clock& clock;
  SinkFactory make_sink;
  RelayOptions options;
  std::optional<storage::SubscriptionRow> row;
  std::optional<EventFilter> filter;
  std::vector<std::unique_ptr<Sink>> lanes;
  bool leased = false;
  bool waiting_logged = false;
  std::chrono::steady_clock::time_point lease_renewed{};
};

SubscriptionWorker::SubscriptionWorker(std::string subscription_id, storage::Store& store,
                                       const Clock& clock, SinkFactory sinks, RelayOptions options)
    : impl_(std::make_unique<Impl>(std::move(subscription_id), store, clock, std::move(sinks),
                                   std::move(options))) {}

SubscriptionWorker::~SubscriptionWorker() = default;

Result<StepResult> SubscriptionWorker::RunOnce(const std::atomic<bool>* stop) {
  return impl_->RunOnce(stop, counters_);
}

void SubscriptionWorker::Release() {
  impl_->Release();
}

// ---------------------------------------------------------------------------------------------
// Relay

struct Relay::Impl {
  struct Worker {
    std::thread thread;
    std::atomic<bool> stop{false};
    std::atomic<bool> finished{false};
    mutable std::mutex mu;  // guards state
    SubscriptionState state;
  };

  Impl(RelayOptions o, StoreFactory f, SinkFactory s, const Clock& c)
      : options(std::move(o)), open_store(std::move(f)), sinks(std::move(s)), clock(c) {}

  // Waits up to `wait` (real time) or until stopping.
  void Sleep(const std::atomic<bool>& stop, Duration wait) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, wait, [&] { return stop.load() || stopping; });
  }

  void RunWorker(const std::string& id, Worker* worker) {
    Result<std::unique_ptr<storage::Store>> store = open_store();
    if (!store.ok()) {
      spdlog::error("relay: subscription '{}': {}", id, store.status().ToString());
      worker->finished = true;
      return;
    }
    SubscriptionWorker delivery(id, **store, clock, sinks, options);
    std::string last_error;
    while (!worker->stop.load()) {
      Result<StepResult> step = delivery.RunOnce(&worker->stop);
      bool busy = false;
      {
        std::lock_guard lock(worker->mu);
        worker->state.counters = delivery.counters();
        if (step.ok()) {
          worker->state.leased = step->leased;
          worker->state.last_error.clear();
        } else {
          worker->state.last_error = step.status().ToString();
        }
      }
      if (!step.ok()) {
        if (step.status().ToString() != last_error) {
          last_error = step.status().ToString();
          spdlog::warn("relay: subscription '{}': {}", id, last_error);
        }
      } else {
        last_error.clear();
        if (step->disabled) break;
        busy = step->delivered + step->failed > 0;
      }
      if (!busy) Sleep(worker->stop, options.poll_interval);
    }
    delivery.Release();
    {
      std::lock_guard lock(worker->mu);
      worker->state.running = false;
      worker->state.leased = false;
    }
    worker->finished = true;
  }

  void StartWorker(const std::string& id) {
    auto worker = std::make_unique<Worker>();
    worker->state.id = id;
    worker->state.running = true;
    Worker* raw = worker.get();
    worker->thread = std::thread([this, id, raw] { RunWorker(id, raw); });
    std::lock_guard lock(workers_mu);
    workers[id] = std::move(worker);
  }

  void StopWorker(std::unique_ptr<Worker>& worker) {
    worker->stop = true;
    cv.notify_all();
    if (worker->thread.joinable()) worker->thread.join();
  }

  // Starts workers for enabled subscriptions without one; reaps those that ended or whose
  // subscription is gone or disabled.
  void Reconcile() {
    Result<std::vector<storage::SubscriptionRow>> rows = control->ListSubscriptions();
    if (!rows.ok()) {
      spdlog::warn("relay: reading subscriptions: {}", rows.status().ToString());
      return;
    }
    std::set<std::string> wanted;
    for (const storage::SubscriptionRow& row : *rows) {
      if (row.enabled) wanted.insert(row.id);
    }
    std::vector<std::unique_ptr<Worker>> ended;
    {
      std::lock_guard lock(workers_mu);
      for (auto it = workers.begin(); it != workers.end();) {
        if (!wanted.count(it->first) || it->second->finished.load()) {
          ended.push_back(std::move(it->second));
          it = workers.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& worker : ended) StopWorker(worker);
    for (const std::string& id : wanted) {
      bool running = false;
      {
        std::lock_guard lock(workers_mu);
        running = workers.count(id) > 0;
      }
      if (!running) StartWorker(id);
    }
  }

  void ControlLoop() {
    const std::atomic<bool> never{false};
    while (true) {
      {
        std::lock_guard lock(mu);
        if (stopping) break;
      }
      Reconcile();
      Sleep(never, options.refresh_interval);
    }
  }

  RelayOptions options;
  StoreFactory open_store;
  SinkFactory sinks;
  const Clock& clock;
  std::unique_ptr<storage::Store> control;
  std::thread control_thread;
  std::mutex mu;  // guards stopping; with cv, the sleeps
  std::condition_variable cv;
  bool stopping = false;
  mutable std::mutex workers_mu;  // guards workers
  std::map<std::string, std::unique_ptr<Worker>> workers;
};

Relay::Relay(RelayOptions options, StoreFactory open_store, SinkFactory sinks, const Clock& clock)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(open_store), std::move(sinks),
                                   clock)) {}

Relay::~Relay() {
  Stop();
}

Status Relay::Start() {
  Result<std::unique_ptr<storage::Store>> store = impl_->open_store();
  if (!store.ok()) return store.status();
  impl_->control = std::move(*store);
  Impl* impl = impl_.get();
  impl_->control_thread = std::thread([impl] { impl->ControlLoop(); });
  return Status::Ok();
}

void Relay::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->control_thread.joinable()) impl_->control_thread.join();
  std::map<std::string, std::unique_ptr<Impl::Worker>> workers;
  {
    std::lock_guard lock(impl_->workers_mu);
    workers.swap(impl_->workers);
  }
  for (auto& [id, worker] : workers) worker->stop = true;
  impl_->cv.notify_all();
  for (auto& [id, worker] : workers) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

std::vector<Relay::SubscriptionState> Relay::Subscriptions() const {
  std::vector<SubscriptionState> out;
  std::lock_guard lock(impl_->workers_mu);
  for (const auto& [id, worker] : impl_->workers) {
    std::lock_guard state_lock(worker->mu);
    out.push_back(worker->state);
  }
  return out;
}

}  // namespace reglo::relay
