// The sync engine's decisions as pure logic: when each source runs next, full-jitter exponential
// backoff after a failure, the failure limit, AUTH/CONFIG errors that stop retrying at once,
// RATE_LIMITED waiting for the connector's retry-after, run-now, pause/resume and manual retry.
// Nothing here reads a clock or sleeps: every call is given `now` (the Clock's monotonic time), and
// randomness comes from an injected RandomSource, so unit tests drive it with a fake clock.
// Thread-safety: Scheduler is not thread-safe (the Engine serialises calls under its mutex);
// StdRandomSource is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/engine/defaults.h"

namespace reglo::engine {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

// Where backoff jitter comes from; tests inject a fixed or scripted one.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // A uniformly distributed integer in [0, bound] (inclusive).
  virtual uint64_t UpTo(uint64_t bound) = 0;
};

// std::mt19937_64 seeded from std::random_device.
class StdRandomSource final : public RandomSource {
 public:
  StdRandomSource();
  uint64_t UpTo(uint64_t bound) override;

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_;
};

// DESIGN §7 defaults: base 5 s, cap 10 min, 10 consecutive failures -> Failed.
struct BackoffPolicy {
  Duration base{defaults::kBackoffBaseMs};
  Duration cap{defaults::kBackoffCapMs};
  int failure_limit = defaults::kFailureLimit;
};

// The ceiling of the n-th consecutive failure's delay: min(cap, base * 2^(n-1)) for n >= 1.
Duration BackoffCeiling(const BackoffPolicy& policy, int failures);
// Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): a uniformly random delay
// in [0, BackoffCeiling], so sources failing together do not retry together.
Duration BackoffDelay(const BackoffPolicy& policy, int failures, RandomSource& random);

enum class SourceState {
  kIdle,     // waiting for its next interval
  kRunning,  // a pull is in progress
  kBackoff,  // waiting to retry after a failure or a rate limit
  kPaused,   // paused by an operator (or disabled)
  kFailed,   // stopped retrying; a manual retry, or its plugin arriving or fixed, resumes it
};
std::string_view SourceStateName(SourceState state);

// Why a source is paused or failed; decides what lifts it.
enum class HoldCause { kNone, kManual, kPluginMissing, kQuarantine, kAuthOrConfig, kFailureLimit };

// How a run ended, as far as scheduling cares.
struct RunOutcome {
  StatusCode code = StatusCode::kOk;  // the run's error category (kOk on success)
  bool warnings = false;              // succeeded with warnings or rejected records
  Duration retry_after{0};            // with kRateLimited: what the connector asked for
  std::string message;                // masked; becomes the reason shown for the source
};

// What the scheduler decided after a run; `status` is the source status to store (DESIGN §7:
// ok, warning = succeeded with warnings or retrying, failed = stopped retrying).
struct Decision {
  SourceState state = SourceState::kIdle;
  std::string status;
  Duration delay{0};  // until the next run (meaningless for kFailed)
  std::string reason;
};

struct SourceSchedule {
  std::string id;
  Duration interval{60'000};
  SourceState state = SourceState::kIdle;
  TimePoint next_run{};
  int consecutive_failures = 0;
  bool run_again = false;  // run-now arrived while running: run once more right after
  HoldCause cause = HoldCause::kNone;
  std::string reason;  // why paused, failed or backing off ("" when all is well)
  std::string status = "new";
};

class Scheduler {
 public:
  Scheduler(BackoffPolicy policy, RandomSource& random);

  // Adds a source, due at once. Re-adding keeps its state but takes the new interval.
  void Add(const std::string& id, Duration interval, TimePoint now);
  void Remove(const std::string& id);

  // Sources whose time has come (idle or backing off, next_run <= now), in id order.
  std::vector<std::string> Due(TimePoint now) const;
  // The earliest next_run among sources that can become due; nullopt when none can.
  std::optional<TimePoint> NextDue() const;

  void MarkStarted(const std::string& id);
  // Decides the source's next state from how its run ended.
  Decision MarkFinished(const std::string& id, const RunOutcome& outcome, TimePoint now);
  // A run that did not happen (another hub instance holds the lease, or the hub is stopping):
  // back to idle, next try after `delay`, nothing counted.
  void MarkSkipped(const std::string& id, Duration delay, TimePoint now);

  // Run-now: due immediately (or once more right after the current run). Refused for a paused or
  // failed source: resume or retry it instead.
  Status RunNow(const std::string& id, TimePoint now);
  // Holds a source; a running pull finishes first. Pausing a failed source keeps it failed, but
  // for a manual pause (a disable) of a source failed because its plugin is missing.
  Status Pause(const std::string& id, HoldCause cause, std::string reason);
  // Lifts a pause of `cause` (kManual lifts any pause); due at once.
  Status Resume(const std::string& id, HoldCause cause, TimePoint now);
  // Manual retry: forgets the failures, lifts Failed (or a backoff), due at once. Refused when
  // a retry cannot help: the plugin is quarantined or not loaded.
  Status Retry(const std::string& id, TimePoint now);
  // Marks a source failed from outside a run (its plugin quarantined).
  Status Fail(const std::string& id, HoldCause cause, std::string reason);
  // The source's connector is not loaded: Failed (kPluginMissing) with `reason`, since neither
  // resume nor retry can help, until Lift(kPluginMissing). A source paused by an operator stays
  // paused (a resume finds the plugin still missing and fails it then).
  void PluginMissing(const std::string& id, std::string reason);
  // What held the source failed is fixed (kQuarantine: a new plugin version; kPluginMissing: the
  // plugin arrived, or the source names a loaded one now): due at once, failures forgotten.
  // False when the source was not failed for `cause`.
  bool Lift(const std::string& id, HoldCause cause, TimePoint now);

  const SourceSchedule* Find(const std::string& id) const;
  const std::map<std::string, SourceSchedule>& sources() const { return sources_; }
  const BackoffPolicy& policy() const { return policy_; }

 private:
  SourceSchedule* Get(const std::string& id);
  BackoffPolicy policy_;
  RandomSource& random_;
  std::map<std::string, SourceSchedule> sources_;
};

}  // namespace reglo::engine
