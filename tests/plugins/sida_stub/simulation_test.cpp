// The simulated SIDA system: deterministic data, the delta API's pages and cursors, the faults.
#include "reglo/sida_stub/simulation.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "reglo/model/validation.h"

namespace reglo::sida {
namespace {

std::string Value(const Change& change, const std::string& name) {
  for (const Field& field : change.fields) {
    if (field.name == name) return field.value.value_or("(null)");
  }
  return "(missing)";
}

TEST(SimulationTest, SameSeedSameChangesOtherSeedOtherChanges) {
  DataOptions a, b, c;
  c.seed = 2;
  for (const auto& [stream, entity] : Streams()) {
    for (int64_t sequence = 1; sequence <= 100; ++sequence) {
      const Change x = *ChangeAt(a, stream, sequence);
      const Change y = *ChangeAt(b, stream, sequence);
      EXPECT_EQ(x.external_id, y.external_id);
      EXPECT_EQ(x.updated_at, y.updated_at);
      for (size_t i = 0; i < x.fields.size(); ++i) EXPECT_EQ(x.fields[i].value, y.fields[i].value);
      EXPECT_EQ(x.entity, entity);
    }
  }
  EXPECT_NE(Value(*ChangeAt(DataOptions{}, "students", 1), "fiscalCode"),
            Value(*ChangeAt(c, "students", 1), "fiscalCode"));
  EXPECT_FALSE(ChangeAt(a, "nope", 1));
  EXPECT_FALSE(ChangeAt(a, "students", 0));
}

TEST(SimulationTest, SimulatedTimeGrowsWithTheSequence) {
  DataOptions options;
  std::string previous;
  for (int64_t sequence = 1; sequence <= 300; ++sequence) {
    const Change change = *ChangeAt(options, "appointments", sequence);
    EXPECT_GT(change.updated_at, previous);
    previous = change.updated_at;
  }
  EXPECT_EQ(ChangeAt(options, "students", 1)->updated_at, "2026-01-05T08:07:00Z");
}

TEST(SimulationTest, StudentsEnrolThenChangeAndCodesAreValid) {
  DataOptions options;
  options.students = 10;
  std::set<std::string> enrolled;
  for (int64_t sequence = 1; sequence <= 10; ++sequence) {
    const Change change = *ChangeAt(options, "students", sequence);
    enrolled.insert(change.external_id);
    EXPECT_TRUE(model::FiscalCodeHasValidCheckCharacter(Value(change, "fiscalCode")))
        << Value(change, "fiscalCode");
  }
  EXPECT_EQ(enrolled.size(), 10u);
  const Change update = *ChangeAt(options, "students", 11);
  EXPECT_TRUE(enrolled.count(update.external_id));
}

TEST(SimulationTest, CasesMoveThroughTheirStatusesInOrder) {
  DataOptions options;
  options.students = 5;
  std::map<std::string, std::vector<std::string>> history;
  for (int64_t sequence = 1; sequence <= 40; ++sequence) {
    const Change change = *ChangeAt(options, "cases", sequence);
    history[change.external_id].push_back(Value(change, "status"));
  }
  ASSERT_EQ(history.size(), 5u);
  for (const auto& [id, statuses] : history) {
    EXPECT_EQ(statuses.front(), "open");
    EXPECT_EQ(statuses[1], "theory_booked");
    EXPECT_TRUE(statuses.back() == "closed" || statuses.back() == "cancelled") << id;
  }
}

TEST(SimulationTest, AppointmentsAreBookedThenMovedOrCancelledThenCompleted) {
  DataOptions options;
  options.students = 5;
  std::set<std::string> seen;
  for (int64_t sequence = 1; sequence <= 30; ++sequence) {
    seen.insert(Value(*ChangeAt(options, "appointments", sequence), "status"));
  }
  EXPECT_TRUE(seen.count("scheduled"));
  EXPECT_TRUE(seen.count("cancelled"));
  EXPECT_TRUE(seen.count("completed") || seen.count("no_show"));
  const Change first = *ChangeAt(options, "appointments", 1);
  const Change moved = *ChangeAt(options, "appointments", 11);  // same slot, next round
  EXPECT_EQ(first.external_id, moved.external_id);
}

TEST(SimulationTest, PagesFollowTheCursorAndStopAtWhatIsVisible) {
  DataOptions options;
  options.page_size = 7;
  EXPECT_EQ(Page(options, "students", 0, 20).size(), 7u);
  const std::vector<Change> last = Page(options, "students", 14, 20);
  ASSERT_EQ(last.size(), 6u);
  EXPECT_EQ(last.front().sequence, 15);
  EXPECT_EQ(last.back().sequence, 20);
  EXPECT_TRUE(Page(options, "students", 20, 20).empty());
  EXPECT_EQ(ParseCursor(FormatCursor(42)), 42);
  EXPECT_FALSE(ParseCursor("sida:v1:x"));
  EXPECT_FALSE(ParseCursor("42"));
}

TEST(SimulationTest, MalformedEveryNthChange) {
  DataOptions options;
  options.malformed_every = 4;
  int malformed = 0;
  for (int64_t sequence = 1; sequence <= 12; ++sequence) {
    const Change change = *ChangeAt(options, "students", sequence);
    const Change clean = *ChangeAt(DataOptions{}, "students", sequence);
    const bool differs = change.external_id != clean.external_id ||
                         Value(change, "fiscalCode") != Value(clean, "fiscalCode") ||
                         Value(change, "birthDate") != Value(clean, "birthDate");
    EXPECT_EQ(differs, sequence % 4 == 0) << sequence;
    malformed += differs;
  }
  EXPECT_EQ(malformed, 3);
}

TEST(SimulationTest, FaultsFollowTheCallCounter) {
  FaultOptions faults;
  faults.transient_every = 3;
  faults.rate_limit_every = 4;
  SimulatedSystem& system = SimulatedSystem::Get("faults-test");
  std::vector<CallOutcome> outcomes;
  for (int i = 0; i < 6; ++i) outcomes.push_back(system.NextCall(faults));
  EXPECT_EQ(outcomes, (std::vector<CallOutcome>{CallOutcome::kOk, CallOutcome::kOk,
                                                CallOutcome::kTransient, CallOutcome::kRateLimited,
                                                CallOutcome::kOk, CallOutcome::kTransient}));
  FaultOptions auth;
  auth.auth_error = true;
  EXPECT_EQ(system.NextCall(auth), CallOutcome::kAuthError);
}

TEST(SimulationTest, TheSystemGrowsPerPullWhenAsked) {
  DataOptions options;
  options.changes = 10;
  options.new_changes_per_pull = 5;
  SimulatedSystem& system = SimulatedSystem::Get("growth-test");
  EXPECT_EQ(system.BeginPull(options, "students"), 10);
  EXPECT_EQ(system.BeginPull(options, "students"), 15);
  EXPECT_EQ(system.BeginPull(options, "cases"), 10);
}

}  // namespace
}  // namespace reglo::sida
