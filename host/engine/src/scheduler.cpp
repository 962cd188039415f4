#include "reglo/engine/scheduler.h"

#include <fmt/format.h>

#include <algorithm>

#include "duration_text.h"

namespace reglo::engine {

StdRandomSource::StdRandomSource() : engine_(std::random_device{}()) {}

uint64_t StdRandomSource::UpTo(uint64_t bound) {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::uniform_int_distribution<uint64_t>(0, bound)(engine_);
}

Duration BackoffCeiling(const BackoffPolicy& policy, int failures) {
  if (failures < 1) return Duration(0);
  const int64_t cap = std::max<int64_t>(0, policy.cap.count());
  int64_t ceiling = std::max<int64_t>(0, policy.base.count());
  // Doubling stops at the cap, so large failure counts cannot overflow.
  for (int i = 1; i < failures && ceiling < cap; ++i) ceiling *= 2;
  return Duration(std::min(ceiling, cap));
}

Duration BackoffDelay(const BackoffPolicy& policy, int failures, RandomSource& random) {
  const Duration ceiling = BackoffCeiling(policy, failures);
  if (ceiling.count() <= 0) return Duration(0);
  return Duration(static_cast<int64_t>(random.UpTo(static_cast<uint64_t>(ceiling.count()))));
}

std::string_view SourceStateName(SourceState state) {
  switch (state) {
    case SourceState::kIdle: return "idle";
    case SourceState::kRunning: return "running";
    case SourceState::kBackoff: return "backoff";
    case SourceState::kPaused: return "paused";
    case SourceState::kFailed: return "failed";
  }
  return "unknown";
}

uint64_t PhaseHash(std::string_view id) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (unsigned char c : id) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  // MurmurHash3's fmix64: FNV-1a alone leaves ids that differ in their last character close in
  // the low bits, which is what `mod interval` keeps.
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return hash;
}

class Scheduler::Requeue {
 public:
  Requeue(Scheduler& scheduler, SourceSchedule* source) : scheduler_(scheduler), source_(source) {
    if (source_ != nullptr) scheduler_.Dequeue(source_);
  }
  ~Requeue() {
    if (source_ != nullptr &&
        (source_->state == SourceState::kIdle || source_->state == SourceState::kBackoff)) {
      scheduler_.lanes_[source_->lane].insert(source_);
    }
  }
  Requeue(const Requeue&) = delete;
  Requeue& operator=(const Requeue&) = delete;

 private:
  Scheduler& scheduler_;
  SourceSchedule* source_;
};

Scheduler::Scheduler(BackoffPolicy policy, RandomSource& random)
    : policy_(policy), random_(random) {}

void Scheduler::SetWallClock(TimePoint now, std::chrono::system_clock::time_point wall) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  wall_offset_ms_ = duration_cast<milliseconds>(wall.time_since_epoch()).count() -
                    duration_cast<milliseconds>(now.time_since_epoch()).count();
}

TimePoint Scheduler::Slot(const SourceSchedule& source, TimePoint at) const {
  const int64_t interval = std::max<int64_t>(1, source.interval.count());
  const auto phase = static_cast<int64_t>(source.phase_hash % static_cast<uint64_t>(interval));
  const int64_t at_ms = std::chrono::ceil<std::chrono::milliseconds>(at.time_since_epoch()).count();
  int64_t ahead = (phase - (at_ms + wall_offset_ms_) % interval) % interval;
  if (ahead < 0) ahead += interval;
  return TimePoint(std::chrono::milliseconds(at_ms + ahead));
}

TimePoint Scheduler::NextSlot(const std::string& id, TimePoint at) const {
  const SourceSchedule* source = Find(id);
  return source == nullptr ? at : Slot(*source, at);
}

SourceSchedule* Scheduler::Get(const std::string& id) {
  auto it = sources_.find(id);
  return it == sources_.end() ? nullptr : &it->second;
}

const SourceSchedule* Scheduler::Find(const std::string& id) const {
  auto it = sources_.find(id);
  return it == sources_.end() ? nullptr : &it->second;
}

void Scheduler::Dequeue(const SourceSchedule* source) {
  auto lane = lanes_.find(source->lane);
  if (lane == lanes_.end()) return;
  lane->second.erase(source);
  if (lane->second.empty()) lanes_.erase(lane);
}

void Scheduler::Add(const std::string& id, Duration interval, TimePoint now, FirstRun first,
                    const std::string& lane) {
  auto [it, inserted] = sources_.try_emplace(id);
  SourceSchedule& source = it->second;
  Requeue requeue(*this, inserted ? nullptr : &source);
  source.interval = interval;
  source.lane = lane;
  if (inserted) {
    source.id = id;
    source.phase_hash = PhaseHash(id);
    source.next_run = first == FirstRun::kPhase ? Slot(source, now) : now;
    lanes_[lane].insert(&source);
  }
}

void Scheduler::Remove(const std::string& id) {
  auto it = sources_.find(id);
  if (it == sources_.end()) return;
  Dequeue(&it->second);
  sources_.erase(it);
}

std::vector<std::string> Scheduler::Due(TimePoint now, const LaneRoom& room) const {
  std::vector<std::string> due;
  for (const auto& [lane, queue] : lanes_) {
    size_t left = room ? room(lane) : SIZE_MAX;
    for (auto it = queue.begin(); left > 0 && it != queue.end(); ++it, --left) {
      ++examined_;
      if ((*it)->next_run > now) break;
      due.push_back((*it)->id);
    }
  }
  std::sort(due.begin(), due.end());
  return due;
}

std::optional<TimePoint> Scheduler::NextDue(const LaneRoom& room) const {
  std::optional<TimePoint> next;
  for (const auto& [lane, queue] : lanes_) {
    if (room && room(lane) == 0) continue;
    ++examined_;
    const TimePoint head = (*queue.begin())->next_run;
    if (!next || head < *next) next = head;
  }
  return next;
}

void Scheduler::MarkStarted(const std::string& id) {
  if (SourceSchedule* source = Get(id)) {
    Requeue requeue(*this, source);
    source->state = SourceState::kRunning;
    source->due_at = source->next_run;
    source->run_again = false;
  }
}

Decision Scheduler::MarkFinished(const std::string& id, const RunOutcome& outcome, TimePoint now) {
  Decision decision;
  SourceSchedule* source = Get(id);
  if (source == nullptr) return decision;
  Requeue requeue(*this, source);
  std::optional<TimePoint> slot;  // a successful pull's next: on the source's slots
  const bool paused = source->state == SourceState::kPaused;
  const bool failed = source->state == SourceState::kFailed;  // failed while running
  const HoldCause failed_for = source->cause;
  switch (outcome.code) {
    case StatusCode::kOk:
      source->consecutive_failures = 0;
      slot = Slot(*source, std::max(source->due_at + source->interval, now));
      decision = {SourceState::kIdle, outcome.warnings ? "warning" : "ok",
                  std::chrono::duration_cast<Duration>(*slot - now), ""};
      break;
    case StatusCode::kAuthError:
    case StatusCode::kConfigError:
    case StatusCode::kIncompatible:
      // Credentials or configuration do not fix themselves: stop until someone retries.
      ++source->consecutive_failures;
      // The error first (what to fix), then what the hub does about it.
      decision = {SourceState::kFailed, "failed", Duration(0),
                  fmt::format("{} (stopped retrying: {}; Retry once it is fixed)", outcome.message,
                              StatusCodeName(outcome.code))};
      source->cause = HoldCause::kAuthOrConfig;
      break;
    case StatusCode::kRateLimited: {
      // The source is fine, it asks us to slow down: wait what it says, count no failure.
      const Duration wait =
          outcome.retry_after.count() > 0
              ? outcome.retry_after
              : BackoffDelay(policy_, std::max(1, source->consecutive_failures), random_);
      decision = {SourceState::kBackoff, "warning", wait,
                  fmt::format("rate limited; retrying in {}", DurationText(wait))};
      break;
    }
    case StatusCode::kCancelled:
      // Stopped on request (shutdown): not the source's fault, nothing counted.
      decision = {SourceState::kIdle, source->status, Duration(0), ""};
      break;
    default: {
      ++source->consecutive_failures;
      if (source->consecutive_failures >= policy_.failure_limit) {
        decision = {SourceState::kFailed, "failed", Duration(0),
                    fmt::format("{} (stopped retrying after {} consecutive failures; Retry once "
                                "it is fixed)",
                                outcome.message, source->consecutive_failures)};
        source->cause = HoldCause::kFailureLimit;
      } else {
        const Duration wait = BackoffDelay(policy_, source->consecutive_failures, random_);
        decision = {
            SourceState::kBackoff, "warning", wait,
            fmt::format("{} (failure {} of {}; retrying in {})", outcome.message,
                        source->consecutive_failures, policy_.failure_limit, DurationText(wait))};
      }
    }
  }
  if (decision.state != SourceState::kFailed && source->run_again) {
    decision.delay = Duration(0);
    slot.reset();
  }
  source->run_again = false;
  source->status = decision.status;
  source->next_run = slot ? *slot : now + decision.delay;
  if (failed) {
    // Failed from outside while the pull ran (quarantine, plugin removed): that verdict and its
    // cause stand, so what lifts it still does.
    source->cause = failed_for;
    decision.state = SourceState::kFailed;
    decision.status = source->status = "failed";
    decision.reason = source->reason;
    return decision;
  }
  source->reason = decision.reason;
  if (paused && decision.state != SourceState::kFailed) {
    decision.state = SourceState::kPaused;  // the pause asked for during the run holds now
    decision.reason = source->reason = source->reason.empty() ? "paused" : source->reason;
    return decision;
  }
  source->state = decision.state;
  if (decision.state != SourceState::kFailed) source->cause = HoldCause::kNone;
  return decision;
}

void Scheduler::MarkSkipped(const std::string& id, TimePoint now) {
  SourceSchedule* source = Get(id);
  if (source == nullptr) return;
  Requeue requeue(*this, source);
  if (source->state == SourceState::kRunning) source->state = SourceState::kIdle;
  source->next_run = Slot(*source, now + Duration(1));
}

Status Scheduler::RunNow(const std::string& id, TimePoint now) {
  SourceSchedule* source = Get(id);
  if (source == nullptr) return Status::NotFound(fmt::format("no source '{}'", id));
  Requeue requeue(*this, source);
  switch (source->state) {
    case SourceState::kRunning: source->run_again = true; return Status::Ok();
    case SourceState::kPaused:
      return Status::InvalidArgument(
          fmt::format("source {} is paused ({}): resume it first", id, source->reason));
    case SourceState::kFailed:
      return Status::InvalidArgument(
          fmt::format("source {} has failed ({}): retry it instead", id, source->reason));
    case SourceState::kIdle:
    case SourceState::kBackoff: source->next_run = now; return Status::Ok();
  }
  return Status::Ok();
}

Status Scheduler::Pause(const std::string& id, HoldCause cause, std::string reason) {
  SourceSchedule* source = Get(id);
  if (source == nullptr) return Status::NotFound(fmt::format("no source '{}'", id));
  Requeue requeue(*this, source);
  if (source->state == SourceState::kFailed &&
      !(cause == HoldCause::kManual && source->cause == HoldCause::kPluginMissing)) {
    return Status::Ok();
  }
  if (source->state == SourceState::kPaused && source->cause == HoldCause::kManual) {
    return Status::Ok();
  }
  source->cause = cause;
  source->reason = std::move(reason);
  // A running pull finishes; MarkFinished keeps the pause.
  source->state = SourceState::kPaused;
  return Status::Ok();
}

Status Scheduler::Resume(const std::string& id, HoldCause cause, TimePoint now) {
  SourceSchedule* source = Get(id);
  if (source == nullptr) return Status::NotFound(fmt::format("no source '{}'", id));
  Requeue requeue(*this, source);
  if (cause == HoldCause::kManual && source->state == SourceState::kFailed) {
    // Said, not ignored: the operator expects it to run and it will not.
    return Status::InvalidArgument(
        fmt::format("source {} is not paused, it has failed: {}", id, source->reason));
  }
  if (source->state != SourceState::kPaused) return Status::Ok();
  if (cause != HoldCause::kManual && source->cause != cause) return Status::Ok();
  source->state = SourceState::kIdle;
  source->cause = HoldCause::kNone;
  source->reason.clear();
  source->next_run = now;
  return Status::Ok();
}

Status Scheduler::Retry(const std::string& id, TimePoint now) {
  SourceSchedule* source = Get(id);
  if (source == nullptr) return Status::NotFound(fmt::format("no source '{}'", id));
  Requeue requeue(*this, source);
  if (source->state == SourceState::kPaused) {
    return Status::InvalidArgument(
        fmt::format("source {} is paused ({}): resume it instead", id, source->reason));
  }
  if (source->state == SourceState::kFailed && source->cause == HoldCause::kQuarantine) {
    return Status::InvalidArgument(fmt::format(
        "source {} cannot be retried: {} (install a fixed plugin version)", id, source->reason));
  }
  if (source->state == SourceState::kFailed && source->cause == HoldCause::kPluginMissing) {
    return Status::InvalidArgument(
        fmt::format("source {} cannot be retried: {}", id, source->reason));
  }
  source->consecutive_failures = 0;
  source->cause = HoldCause::kNone;
  source->reason.clear();
  if (source->state == SourceState::kRunning) {
    source->run_again = true;
    return Status::Ok();
  }
  source->state = SourceState::kIdle;
  source->next_run = now;
  return Status::Ok();
}

Status Scheduler::Fail(const std::string& id, HoldCause cause, std::string reason) {
  SourceSchedule* source = Get(id);
  if (source == nullptr) return Status::NotFound(fmt::format("no source '{}'", id));
  Requeue requeue(*this, source);
  source->state = SourceState::kFailed;
  source->cause = cause;
  source->reason = std::move(reason);
  source->status = "failed";
  return Status::Ok();
}

void Scheduler::PluginMissing(const std::string& id, std::string reason) {
  SourceSchedule* source = Get(id);
  if (source == nullptr) return;
  if (source->state == SourceState::kPaused && source->cause == HoldCause::kManual) return;
  (void)Fail(id, HoldCause::kPluginMissing, std::move(reason));
}

bool Scheduler::Lift(const std::string& id, HoldCause cause, TimePoint now) {
  SourceSchedule* source = Get(id);
  if (source == nullptr || source->state != SourceState::kFailed || source->cause != cause) {
    return false;
  }
  Requeue requeue(*this, source);
  source->state = SourceState::kIdle;
  source->cause = HoldCause::kNone;
  source->reason.clear();
  source->consecutive_failures = 0;
  source->status = "new";
  source->next_run = now;
  return true;
}

}  // namespace reglo::engine
