// The scheduler's decisions as pure logic: backoff bounds and cap, failure limit, AUTH/CONFIG,
// rate limits, run-now, pause/resume, retry. A fake clock (plain time points) and scripted
// randomness; nothing sleeps.
#include "reglo/engine/scheduler.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>

namespace reglo::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

// Answers the bound (the largest delay allowed), 0, or a scripted fraction of it.
class ScriptedRandom final : public RandomSource {
 public:
  enum Mode { kMax, kZero, kFraction };
  explicit ScriptedRandom(Mode mode, double fraction = 0.5) : mode_(mode), fraction_(fraction) {}
  uint64_t UpTo(uint64_t bound) override {
    last_bound = bound;
    switch (mode_) {
      case kMax: return bound;
      case kZero: return 0;
      case kFraction: return static_cast<uint64_t>(static_cast<double>(bound) * fraction_);
    }
    return 0;
  }
  uint64_t last_bound = 0;

 private:
  Mode mode_;
  double fraction_;
};

const TimePoint kStart = TimePoint(std::chrono::hours(1000));

RunOutcome Fail(StatusCode code, std::string message = "boom") {
  RunOutcome outcome;
  outcome.code = code;
  outcome.message = std::move(message);
  return outcome;
}

TEST(BackoffTest, CeilingDoublesFromBaseUpToTheCap) {
  BackoffPolicy policy;  // base 5 s, cap 10 min
  EXPECT_EQ(BackoffCeiling(policy, 0), milliseconds(0));
  EXPECT_EQ(BackoffCeiling(policy, 1), seconds(5));
  EXPECT_EQ(BackoffCeiling(policy, 2), seconds(10));
  EXPECT_EQ(BackoffCeiling(policy, 3), seconds(20));
  EXPECT_EQ(BackoffCeiling(policy, 7), seconds(320));
  EXPECT_EQ(BackoffCeiling(policy, 8), seconds(600));     // 640 s capped
  EXPECT_EQ(BackoffCeiling(policy, 1000), seconds(600));  // no overflow
}

TEST(BackoffTest, FullJitterStaysWithinZeroAndTheCeiling) {
  BackoffPolicy policy;
  policy.base = milliseconds(100);
  policy.cap = milliseconds(5'000);
  StdRandomSource random;
  for (int failures = 1; failures <= 12; ++failures) {
    const milliseconds ceiling = BackoffCeiling(policy, failures);
    milliseconds lowest = ceiling, highest{0};
    for (int i = 0; i < 2000; ++i) {
      const milliseconds delay = BackoffDelay(policy, failures, random);
      ASSERT_GE(delay.count(), 0);
      ASSERT_LE(delay, ceiling) << "failure " << failures;
      ASSERT_LE(delay, policy.cap);
      lowest = std::min(lowest, delay);
      highest = std::max(highest, delay);
    }
    // Full jitter spreads over the whole range, not just near the ceiling.
    EXPECT_LT(lowest, ceiling / 4) << "failure " << failures;
    EXPECT_GT(highest, ceiling * 3 / 4) << "failure " << failures;
  }
  ScriptedRandom max(ScriptedRandom::kMax);
  EXPECT_EQ(BackoffDelay(policy, 3, max), milliseconds(400));
  EXPECT_EQ(max.last_bound, 400u);
}

TEST(SchedulerTest, NewSourceIsDueAtOnceThenOnItsSlotsEveryInterval) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("a", seconds(60), kStart);
  EXPECT_EQ(scheduler.Due(kStart), std::vector<std::string>{"a"});
  scheduler.MarkStarted("a");
  EXPECT_TRUE(scheduler.Due(kStart + seconds(600)).empty());  // running: never due twice
  const Decision decision = scheduler.MarkFinished("a", RunOutcome{}, kStart + seconds(2));
  EXPECT_EQ(decision.status, "ok");
  // Then onto its phase: the first slot at least an interval after the pull was due.
  const TimePoint slot = scheduler.NextSlot("a", kStart + seconds(60));
  EXPECT_GE(slot, kStart + seconds(60));
  EXPECT_LT(slot, kStart + seconds(120));
  EXPECT_EQ(decision.delay, std::chrono::duration_cast<milliseconds>(slot - kStart - seconds(2)));
  EXPECT_EQ(scheduler.NextDue(), slot);
  EXPECT_TRUE(scheduler.Due(slot - milliseconds(1)).empty());
  EXPECT_EQ(scheduler.Due(slot), std::vector<std::string>{"a"});
  // From there every interval, however long a pull takes (not finish + interval) ...
  scheduler.MarkStarted("a");
  EXPECT_EQ(scheduler.MarkFinished("a", RunOutcome{}, slot + seconds(7)).delay, seconds(53));
  EXPECT_EQ(scheduler.NextDue(), slot + seconds(60));
  // ... and a pull that overran its interval is followed by the next slot, not a catch-up.
  scheduler.MarkStarted("a");
  (void)scheduler.MarkFinished("a", RunOutcome{}, slot + seconds(60 + 150));
  EXPECT_EQ(scheduler.NextDue(), slot + seconds(240));
}

// 1,000 sources named as a region's schools are: their first pulls spread over the minute.
TEST(SchedulerTest, PhasesSpreadFirstRunsOverTheInterval) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.SetWallClock(kStart,
                         std::chrono::system_clock::time_point(std::chrono::hours(490'000)));
  for (int i = 0; i < 1000; ++i) {
    scheduler.Add(fmt::format("school-{:04d}", i), seconds(60), kStart, FirstRun::kPhase);
  }
  EXPECT_TRUE(scheduler.Due(kStart - milliseconds(1)).empty());
  std::vector<int> per_second(60, 0);
  for (const auto& [id, source] : scheduler.sources()) {
    ASSERT_GE(source.next_run, kStart) << id;
    ASSERT_LT(source.next_run, kStart + seconds(60)) << id;
    ++per_second[std::chrono::duration_cast<seconds>(source.next_run - kStart).count()];
  }
  // 16.7 per second on average; due at start, all 1,000 would be in the first second.
  EXPECT_LE(*std::max_element(per_second.begin(), per_second.end()), 32);
  EXPECT_GE(*std::min_element(per_second.begin(), per_second.end()), 5);
}

// Phases come from the id and the wall clock: a restart later (another monotonic origin, another
// wall time) or another instance finds every source on the same slots, modulo the interval.
TEST(SchedulerTest, PhasesAreTheSameAfterARestartAndOnAnotherInstance) {
  ScriptedRandom random(ScriptedRandom::kMax);
  const auto wall = std::chrono::system_clock::time_point(std::chrono::hours(490'000));
  Scheduler before(BackoffPolicy{}, random);
  before.SetWallClock(kStart, wall);
  Scheduler after(BackoffPolicy{}, random);
  const TimePoint restart = TimePoint(std::chrono::hours(3));
  const auto restart_wall = wall + std::chrono::minutes(7) + milliseconds(13'500);
  after.SetWallClock(restart, restart_wall);
  for (int i = 0; i < 1000; ++i) {
    const std::string id = fmt::format("school-{:04d}", i);
    before.Add(id, seconds(60), kStart, FirstRun::kPhase);
    after.Add(id, seconds(60), restart, FirstRun::kPhase);
    const auto wall_before = wall + (before.Find(id)->next_run - kStart);
    const auto wall_after = restart_wall + (after.Find(id)->next_run - restart);
    ASSERT_EQ(std::chrono::duration_cast<milliseconds>(wall_after - wall_before).count() % 60'000,
              0)
        << id;
    ASSERT_GE(after.Find(id)->next_run, restart) << id;
    ASSERT_LT(after.Find(id)->next_run, restart + seconds(60)) << id;
  }
}

// Drives 1,000 idle sources for ten minutes of fake time, each pull taking 5 ms: every source is
// pulled every 60 s exactly, and no second of the minute holds more than a small share.
TEST(SchedulerTest, IdleSourcesKeepTheirIntervalAndStaySpread) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  for (int i = 0; i < 1000; ++i) {
    scheduler.Add(fmt::format("school-{:04d}", i), seconds(60), kStart, FirstRun::kPhase);
  }
  std::map<std::string, std::vector<TimePoint>> starts;
  std::vector<int> per_second(60, 0);
  const TimePoint end = kStart + std::chrono::minutes(10);
  for (std::optional<TimePoint> now = scheduler.NextDue(); now && *now < end;
       now = scheduler.NextDue()) {
    for (const std::string& id : scheduler.Due(*now)) {
      scheduler.MarkStarted(id);
      starts[id].push_back(*now);
      ++per_second[std::chrono::duration_cast<seconds>(*now - kStart).count() % 60];
      (void)scheduler.MarkFinished(id, RunOutcome{}, *now + milliseconds(5));
    }
  }
  ASSERT_EQ(starts.size(), 1000u);
  for (const auto& [id, at] : starts) {
    ASSERT_EQ(at.size(), 10u) << id;
    for (size_t i = 1; i < at.size(); ++i) ASSERT_EQ(at[i] - at[i - 1], seconds(60)) << id;
  }
  EXPECT_LE(*std::max_element(per_second.begin(), per_second.end()), 320);  // 167 on average
}

// Scheduling costs O(log n) per event: with 10,000 sources, finding what is due and when the next
// one is looks at the due sources and one more, not at all 10,000 (a walk would: 20,000 a round).
TEST(SchedulerTest, EachEventExaminesOnlyTheDueSources) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  for (int i = 0; i < 10'000; ++i) {
    scheduler.Add(fmt::format("school-{:05d}", i), seconds(60), kStart, FirstRun::kPhase);
  }
  uint64_t events = 0, pulls = 0;
  const uint64_t before = scheduler.examined();
  const TimePoint end = kStart + std::chrono::minutes(2);
  for (std::optional<TimePoint> now = scheduler.NextDue(); now && *now < end;
       now = scheduler.NextDue()) {
    ++events;
    for (const std::string& id : scheduler.Due(*now)) {
      scheduler.MarkStarted(id);
      (void)scheduler.MarkFinished(id, RunOutcome{}, *now + milliseconds(2));
      ++pulls;
    }
  }
  EXPECT_GE(pulls, 20'000u);
  // Per event: NextDue looks at one source, Due at the due ones and the first not due.
  EXPECT_LE(scheduler.examined() - before, pulls + 2 * events + 1);
}

// A lane with no room (its plugin has all the pulls it takes) yields none of its due sources and
// does not hold up another lane's, even with 10,000 of its own due ahead of them: each lane gives
// its earliest due up to its room, and what a call examines is bounded by the rooms, not by n.
TEST(SchedulerTest, ALaneGivesItsEarliestDueUpToItsRoomAndAFullLaneHoldsUpNoOther) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  for (int i = 0; i < 10'000; ++i) {
    scheduler.Add(fmt::format("busy-{:05d}", i), seconds(60), kStart, FirstRun::kNow, "busy");
  }
  scheduler.Add("quiet-a", seconds(60), kStart + milliseconds(2), FirstRun::kNow, "quiet");
  scheduler.Add("quiet-b", seconds(60), kStart + milliseconds(1), FirstRun::kNow, "quiet");
  std::map<std::string, size_t> rooms = {{"busy", 0}, {"quiet", 8}};
  const Scheduler::LaneRoom room = [&](const std::string& lane) { return rooms.at(lane); };
  const TimePoint now = kStart + seconds(1);

  uint64_t before = scheduler.examined();
  EXPECT_EQ(scheduler.Due(now, room), (std::vector<std::string>{"quiet-a", "quiet-b"}));
  EXPECT_LE(scheduler.examined() - before, 3u);
  // The busy lane's head is due first, but it is full: the next wake is the quiet lane's.
  EXPECT_EQ(scheduler.NextDue(room), kStart + milliseconds(1));
  EXPECT_EQ(scheduler.NextDue(), kStart);  // no rooms given: every lane counts

  // The earliest due of each lane up to its room (quiet-b before quiet-a), in id order.
  rooms = {{"busy", 2}, {"quiet", 1}};
  before = scheduler.examined();
  EXPECT_EQ(scheduler.Due(now, room),
            (std::vector<std::string>{"busy-00000", "busy-00001", "quiet-b"}));
  EXPECT_LE(scheduler.examined() - before, 3u);

  // Re-added with another lane: it keeps its due time and waits in its new lane.
  scheduler.Add("busy-00000", seconds(60), now, FirstRun::kNow, "quiet");
  rooms = {{"busy", 0}, {"quiet", 2}};
  EXPECT_EQ(scheduler.Due(now, room), (std::vector<std::string>{"busy-00000", "quiet-b"}));

  // Started sources leave their lane's order; a lane left with none due wakes nobody.
  for (const char* id : {"busy-00000", "quiet-a", "quiet-b"}) scheduler.MarkStarted(id);
  EXPECT_EQ(scheduler.NextDue(room), std::nullopt);
  EXPECT_TRUE(scheduler.Due(now, room).empty());
  EXPECT_EQ(scheduler.Due(now).size(), 9'999u);
}

TEST(SchedulerTest, WarningsMakeAWarningStatus) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("a", seconds(60), kStart);
  scheduler.MarkStarted("a");
  RunOutcome outcome;
  outcome.warnings = true;
  EXPECT_EQ(scheduler.MarkFinished("a", outcome, kStart).status, "warning");
}

TEST(SchedulerTest, BackoffSequenceStaysWithinJitterBoundsThenFailsAtTheLimit) {
  BackoffPolicy policy;
  policy.base = seconds(5);
  policy.cap = seconds(30);
  policy.failure_limit = 6;
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(policy, random);
  scheduler.Add("a", seconds(60), kStart);
  TimePoint now = kStart;
  const milliseconds expected[] = {seconds(5), seconds(10), seconds(20), seconds(30), seconds(30)};
  for (milliseconds ceiling : expected) {
    ASSERT_EQ(scheduler.Due(now), std::vector<std::string>{"a"});
    scheduler.MarkStarted("a");
    const Decision decision = scheduler.MarkFinished("a", Fail(StatusCode::kRetryable), now);
    EXPECT_EQ(decision.state, SourceState::kBackoff);
    EXPECT_EQ(decision.status, "warning");  // retrying is a warning (DESIGN §7)
    EXPECT_EQ(decision.delay, ceiling);     // the random source answered the bound
    EXPECT_EQ(random.last_bound, static_cast<uint64_t>(ceiling.count()));
    EXPECT_TRUE(scheduler.Due(now + decision.delay - milliseconds(1)).empty());
    now += decision.delay;
  }
  scheduler.MarkStarted("a");
  const Decision last = scheduler.MarkFinished("a", Fail(StatusCode::kInternal, "bad"), now);
  EXPECT_EQ(last.state, SourceState::kFailed);
  EXPECT_EQ(last.status, "failed");
  EXPECT_NE(last.reason.find("6 consecutive failures"), std::string::npos) << last.reason;
  EXPECT_TRUE(scheduler.Due(now + std::chrono::hours(24)).empty());
  // A manual retry resets the count.
  ASSERT_TRUE(scheduler.Retry("a", now).ok());
  EXPECT_EQ(scheduler.Find("a")->consecutive_failures, 0);
  EXPECT_EQ(scheduler.Due(now), std::vector<std::string>{"a"});
}

TEST(SchedulerTest, SuccessResetsTheFailureCount) {
  ScriptedRandom random(ScriptedRandom::kZero);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("a", seconds(60), kStart);
  for (int i = 0; i < 3; ++i) {
    scheduler.MarkStarted("a");
    EXPECT_EQ(scheduler.MarkFinished("a", Fail(StatusCode::kRetryable), kStart).delay,
              milliseconds(0));  // full jitter may retry at once
  }
  EXPECT_EQ(scheduler.Find("a")->consecutive_failures, 3);
  scheduler.MarkStarted("a");
  scheduler.MarkFinished("a", RunOutcome{}, kStart);
  EXPECT_EQ(scheduler.Find("a")->consecutive_failures, 0);
}

TEST(SchedulerTest, AuthAndConfigErrorsFailAtOnceWithoutRetriesUntilManualRetry) {
  for (StatusCode code : {StatusCode::kAuthError, StatusCode::kConfigError}) {
    ScriptedRandom random(ScriptedRandom::kMax);
    Scheduler scheduler(BackoffPolicy{}, random);
    scheduler.Add("a", seconds(60), kStart);
    scheduler.MarkStarted("a");
    const Decision decision = scheduler.MarkFinished("a", Fail(code, "401 from SIDA"), kStart);
    EXPECT_EQ(decision.state, SourceState::kFailed);
    EXPECT_EQ(decision.status, "failed");
    EXPECT_NE(decision.reason.find("401 from SIDA"), std::string::npos);
    EXPECT_TRUE(scheduler.Due(kStart + std::chrono::hours(48)).empty());
    EXPECT_FALSE(scheduler.RunNow("a", kStart).ok());  // run-now does not bypass Failed
    ASSERT_TRUE(scheduler.Retry("a", kStart + seconds(1)).ok());
    EXPECT_EQ(scheduler.Due(kStart + seconds(1)), std::vector<std::string>{"a"});
  }
}

TEST(SchedulerTest, RateLimitedWaitsForRetryAfterAndCountsNoFailure) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("a", seconds(60), kStart);
  scheduler.MarkStarted("a");
  RunOutcome outcome = Fail(StatusCode::kRateLimited, "429");
  outcome.retry_after = milliseconds(7'500);
  const Decision decision = scheduler.MarkFinished("a", outcome, kStart);
  EXPECT_EQ(decision.delay, milliseconds(7'500));
  EXPECT_EQ(decision.status, "warning");
  EXPECT_EQ(scheduler.Find("a")->consecutive_failures, 0);
  EXPECT_TRUE(scheduler.Due(kStart + milliseconds(7'499)).empty());
  EXPECT_EQ(scheduler.Due(kStart + milliseconds(7'500)), std::vector<std::string>{"a"});
}

TEST(SchedulerTest, RunNowPauseResume) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("a", seconds(60), kStart);
  scheduler.MarkStarted("a");
  scheduler.MarkFinished("a", RunOutcome{}, kStart);
  ASSERT_TRUE(scheduler.RunNow("a", kStart + seconds(1)).ok());
  EXPECT_EQ(scheduler.Due(kStart + seconds(1)), std::vector<std::string>{"a"});

  ASSERT_TRUE(scheduler.Pause("a", HoldCause::kManual, "paused by an operator").ok());
  EXPECT_TRUE(scheduler.Due(kStart + std::chrono::hours(1)).empty());
  EXPECT_FALSE(scheduler.RunNow("a", kStart).ok());
  ASSERT_TRUE(scheduler.Resume("a", HoldCause::kManual, kStart + seconds(5)).ok());
  EXPECT_EQ(scheduler.Due(kStart + seconds(5)), std::vector<std::string>{"a"});

  // Run-now while running: one more run right after this one.
  scheduler.MarkStarted("a");
  ASSERT_TRUE(scheduler.RunNow("a", kStart).ok());
  EXPECT_EQ(scheduler.MarkFinished("a", RunOutcome{}, kStart + seconds(9)).delay, milliseconds(0));
  EXPECT_FALSE(scheduler.RunNow("nope", kStart).ok());
}

TEST(SchedulerTest, PauseDuringARunHoldsAfterTheRun) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("a", seconds(60), kStart);
  scheduler.MarkStarted("a");
  ASSERT_TRUE(scheduler.Pause("a", HoldCause::kManual, "paused by an operator").ok());
  const Decision decision = scheduler.MarkFinished("a", RunOutcome{}, kStart);
  EXPECT_EQ(decision.state, SourceState::kPaused);
  EXPECT_TRUE(scheduler.Due(kStart + std::chrono::hours(1)).empty());
}

// Neither resume nor retry can run a source whose connector is not loaded: it is Failed with the
// reason, until the plugin arrives.
TEST(SchedulerTest, MissingPluginFailsAndLiftsOnlyWhenThePluginReturns) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("a", seconds(60), kStart);
  scheduler.PluginMissing("a", "no plugin named 'csvv' is loaded; loaded: csv");
  const SourceSchedule* a = scheduler.Find("a");
  EXPECT_EQ(a->state, SourceState::kFailed);
  EXPECT_EQ(a->status, "failed");
  EXPECT_EQ(a->cause, HoldCause::kPluginMissing);
  EXPECT_EQ(a->reason, "no plugin named 'csvv' is loaded; loaded: csv");
  EXPECT_FALSE(scheduler.Resume("a", HoldCause::kManual, kStart).ok());
  const Status retried = scheduler.Retry("a", kStart);
  EXPECT_FALSE(retried.ok());
  EXPECT_THAT(retried.message(), HasSubstr("no plugin named 'csvv'"));
  EXPECT_FALSE(scheduler.RunNow("a", kStart).ok());
  EXPECT_TRUE(scheduler.Due(kStart + std::chrono::hours(1)).empty());
  EXPECT_FALSE(scheduler.Lift("a", HoldCause::kQuarantine, kStart));
  ASSERT_TRUE(scheduler.Lift("a", HoldCause::kPluginMissing, kStart));
  EXPECT_EQ(scheduler.Find("a")->status, "new");
  EXPECT_EQ(scheduler.Due(kStart), std::vector<std::string>{"a"});
}

// An operator's pause outlives a missing plugin; a disable turns the failure into a pause.
TEST(SchedulerTest, MissingPluginKeepsAManualPauseAndADisablePausesIt) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("held", seconds(60), kStart);
  scheduler.Add("off", seconds(60), kStart);
  ASSERT_TRUE(scheduler.Pause("held", HoldCause::kManual, "paused by an operator").ok());
  scheduler.PluginMissing("held", "no plugin named 'x' is loaded");
  EXPECT_EQ(scheduler.Find("held")->state, SourceState::kPaused);
  EXPECT_EQ(scheduler.Find("held")->reason, "paused by an operator");
  scheduler.PluginMissing("off", "no plugin named 'x' is loaded");
  ASSERT_TRUE(scheduler.Pause("off", HoldCause::kManual, "paused: disabled").ok());
  EXPECT_EQ(scheduler.Find("off")->state, SourceState::kPaused);
  EXPECT_EQ(scheduler.Find("off")->cause, HoldCause::kManual);
}

// A plugin removed while its pull runs: the pull ends, the failure and its cause stand, so the
// plugin's return still lifts it.
TEST(SchedulerTest, MissingPluginDuringARunOutlivesTheRunsEnd) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("a", seconds(60), kStart);
  scheduler.MarkStarted("a");
  scheduler.PluginMissing("a", "plugin 'sida_stub' was removed");
  RunOutcome auth;
  auth.code = StatusCode::kAuthError;
  const Decision decision = scheduler.MarkFinished("a", auth, kStart);
  EXPECT_EQ(decision.state, SourceState::kFailed);
  EXPECT_EQ(scheduler.Find("a")->cause, HoldCause::kPluginMissing);
  EXPECT_TRUE(scheduler.Lift("a", HoldCause::kPluginMissing, kStart));
}

TEST(SchedulerTest, QuarantineFailsUntilANewPluginVersion) {
  ScriptedRandom random(ScriptedRandom::kMax);
  Scheduler scheduler(BackoffPolicy{}, random);
  scheduler.Add("a", seconds(60), kStart);
  ASSERT_TRUE(scheduler.Fail("a", HoldCause::kQuarantine, "plugin x quarantined").ok());
  EXPECT_FALSE(scheduler.Retry("a", kStart).ok());
  EXPECT_TRUE(scheduler.Due(kStart + std::chrono::hours(1)).empty());
  ASSERT_TRUE(scheduler.Lift("a", HoldCause::kQuarantine, kStart));
  EXPECT_EQ(scheduler.Due(kStart), std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace reglo::engine
