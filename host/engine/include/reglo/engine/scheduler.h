// The sync engine's decisions as pure logic: when each source runs next, full-jitter exponential
// backoff after a failure, the failure limit, AUTH/CONFIG errors that stop retrying at once,
// RATE_LIMITED waiting for the connector's retry-after, run-now, pause/resume and manual retry.
// Nothing here reads a clock or sleeps: every call is given `now` (the Clock's monotonic time), and
// randomness comes from an injected RandomSource, so unit tests drive it with a fake clock. Sources
// that can run are kept ordered by due time, one order per lane (the engine's lane is a source's
// connector), so each event costs O(log n), not a walk of them all, and a lane that has no room
// for more pulls does not hold up the others.
// Thread-safety: Scheduler is not thread-safe (the Engine serialises calls under its mutex);
// StdRandomSource is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
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

// Where in its interval a source's pulls fall: a 64-bit hash of its id (FNV-1a, then the
// MurmurHash3 finaliser so ids that differ in one character land far apart). Fixed for all
// builds and platforms, so every restart and every hub instance computes the same phases.
uint64_t PhaseHash(std::string_view id);

struct SourceSchedule {
  std::string id;
  std::string lane;         // whose pulls it waits with (the engine: its connector)
  uint64_t phase_hash = 0;  // PhaseHash(id)
  Duration interval{60'000};
  SourceState state = SourceState::kIdle;
  TimePoint next_run{};
  TimePoint due_at{};  // the next_run its current (or last) pull was started for
  int consecutive_failures = 0;
  bool run_again = false;  // run-now arrived while running: run once more right after
  HoldCause cause = HoldCause::kNone;
  std::string reason;  // why paused, failed or backing off ("" when all is well)
  std::string status = "new";
};

// When a source added to the scheduler runs first.
enum class FirstRun {
  kNow,    // at once (a source that has never been pulled: its data is wanted now)
  kPhase,  // at its phase slot (below): restarts and hub instances do not all pull at once
};

// Phases (README "Scheduling"): a source's pulls fall on its slots, the instants whose wall-clock
// time in milliseconds is PhaseHash(id) mod interval, modulo the interval. Slots are spread evenly
// over the interval by the hash and are the same for every restart and instance (they depend on
// the id and the wall clock only). After a successful pull the next one is at the first slot at
// least an interval after the instant the pull was due, or at the first slot from `now` when the
// pull overran: a source keeps its interval and its phase, and missed slots are not caught up.
// Backoff, rate limits, run-now, resume and retry move a pull off its slots; the pull after it
// returns to them.
class Scheduler {
 public:
  Scheduler(BackoffPolicy policy, RandomSource& random);

  // Ties the phases to the wall clock: `wall` is the wall-clock time at monotonic `now`. Until
  // called, the monotonic clock's epoch stands for the wall clock's.
  void SetWallClock(TimePoint now, std::chrono::system_clock::time_point wall);
  // Adds a source to `lane`, due as `first` says. Re-adding keeps its state and its next run but
  // takes the new interval and lane.
  void Add(const std::string& id, Duration interval, TimePoint now, FirstRun first = FirstRun::kNow,
           const std::string& lane = "");
  void Remove(const std::string& id);
  // The source's first slot at or after `at` (`at` itself for a source it does not know).
  TimePoint NextSlot(const std::string& id, TimePoint at) const;

  // How many more pulls a lane can take now (SIZE_MAX: no limit).
  using LaneRoom = std::function<size_t(const std::string& lane)>;
  // Sources whose time has come (idle or backing off, next_run <= now), in id order: of each
  // lane, its earliest due up to the lane's room. Visits only those (and the first one not due).
  std::vector<std::string> Due(TimePoint now, const LaneRoom& room = nullptr) const;
  // The earliest next_run among sources that can become due, in lanes with room; nullopt when
  // none can. O(lanes).
  std::optional<TimePoint> NextDue(const LaneRoom& room = nullptr) const;
  // How many sources Due and NextDue have looked at so far: what a scheduling event costs,
  // counted rather than timed so a test can hold it to a bound.
  uint64_t examined() const { return examined_; }

  void MarkStarted(const std::string& id);
  // Decides the source's next state from how its run ended.
  Decision MarkFinished(const std::string& id, const RunOutcome& outcome, TimePoint now);
  // A run that did not happen (another hub instance holds the lease): back to idle, next try at
  // its next slot after `now` (the other instance's too, so they meet there again), nothing
  // counted.
  void MarkSkipped(const std::string& id, TimePoint now);

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
  // Takes a source out of the due-time order for the lifetime of a change and puts it back (if it
  // can run) when the change is done: every mutation of state or next_run goes through one.
  class Requeue;
  struct ByDue {
    bool operator()(const SourceSchedule* a, const SourceSchedule* b) const {
      return a->next_run != b->next_run ? a->next_run < b->next_run : a->id < b->id;
    }
  };
  SourceSchedule* Get(const std::string& id);
  void Dequeue(const SourceSchedule* source);  // out of its lane's order (if it was in it)
  TimePoint Slot(const SourceSchedule& source, TimePoint at) const;
  BackoffPolicy policy_;
  RandomSource& random_;
  std::map<std::string, SourceSchedule> sources_;  // std::map: node addresses stay put
  using Queue = std::set<const SourceSchedule*, ByDue>;
  std::map<std::string, Queue> lanes_;  // the idle and backing-off of each lane, by next_run
  int64_t wall_offset_ms_ = 0;          // wall-clock ms at the monotonic epoch
  mutable uint64_t examined_ = 0;
};

}  // namespace reglo::engine
