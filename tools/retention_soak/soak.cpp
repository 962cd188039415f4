#include "soak.h"

#include <fmt/format.h>

#include <string>
#include <variant>
#include <vector>

#include "reglo/model/validation.h"

namespace reglo::soak {
namespace {

std::string SourceId(int source) {
  return fmt::format("school-{:03}", source);
}

// Student "1" of `source`, with a first name that changes at every change (an update, one event).
Result<model::CanonicalRecord> ChangedStudent(int source, int64_t change) {
  model::RawRecord raw;
  raw.entity = "student";
  raw.company_id = SourceId(source);
  raw.source_system = "gestionale";
  raw.external_id = "1";
  raw.source_updated_at = "2025-01-01T00:00:00Z";
  raw.fields = {{"firstName", fmt::format("Mario{}", change)}, {"lastName", "Rossi"}};
  auto validated = model::Validate(raw);
  if (!std::holds_alternative<model::CanonicalRecord>(validated)) {
    return Status::Internal("soak: the sample student does not validate");
  }
  return std::get<model::CanonicalRecord>(std::move(validated));
}

Status Subscribe(storage::Store& store, const std::string& id, const std::string& now) {
  storage::SubscriptionRow row;
  row.id = id;
  row.url = "https://example.invalid/hook";
  row.secret_protected = "v1:sealed";
  row.created_at = row.updated_at = now;
  REGLO_RETURN_IF_ERROR(store.UpsertSubscription(row, true));
  return store.SaveRelayProgress(id, 0, {});
}

}  // namespace

Status RunSoak(storage::Store& store, ManualClock& clock, const SoakOptions& options,
               const std::function<void(const SoakDay&)>& on_day) {
  if (options.sources <= 0 || options.days <= 0 || options.interval.count() <= 0 ||
      options.changes_per_day <= 0) {
    return Status::InvalidArgument("soak: sources, days, interval and changes must be > 0");
  }
  const std::string start = FormatUtc(clock.Now());
  for (int s = 0; s < options.sources; ++s) {
    REGLO_RETURN_IF_ERROR(
        store.UpsertSource({SourceId(s), SourceId(s), "gestionale", "soak", "{}", true, "new"}));
  }
  REGLO_RETURN_IF_ERROR(Subscribe(store, "live", start));
  REGLO_RETURN_IF_ERROR(Subscribe(store, "lagging", start));

  const int64_t polls_per_day = std::chrono::minutes(24 * 60) / options.interval;
  const int64_t polls_per_change = std::max<int64_t>(1, polls_per_day / options.changes_per_day);
  const int64_t polls_per_housekeeping =
      std::max<int64_t>(1, options.housekeeping_every / options.interval);
  int64_t appended = 0;
  int64_t lagging_position = 0;
  std::vector<int64_t> changes(static_cast<size_t>(options.sources), 0);
  for (int64_t poll = 0; poll < polls_per_day * options.days; ++poll) {
    const int day = static_cast<int>(poll / polls_per_day);  // 0-based
    for (int s = 0; s < options.sources; ++s) {
      const std::string at = FormatUtc(clock.Now());
      REGLO_ASSIGN_OR_RETURN(run, store.BeginRun(SourceId(s), at));
      // Sources change at staggered polls, so every poll has some busy runs.
      if ((poll + s) % polls_per_change == 0) {
        storage::CheckpointBatch batch;
        batch.run_id = run;
        batch.source_id = SourceId(s);
        batch.stream = "students";
        REGLO_ASSIGN_OR_RETURN(record, ChangedStudent(s, ++changes[static_cast<size_t>(s)]));
        batch.records.push_back(std::move(record));
        batch.seen = 1;
        batch.committed_at = at;
        batch.log_lines.push_back({at, storage::LogLevel::kInfo, "1 record changed"});
        if (s % 10 == 0) {  // some schools export a broken row now and then: a dead letter
          model::Rejection rejection;
          rejection.stage = "validate";
          rejection.entity = "student";
          rejection.reason = "externalId: missing";
          batch.rejections.push_back(rejection);
        }
        REGLO_ASSIGN_OR_RETURN(committed, store.CommitCheckpoint(batch));
        appended += committed.events;
      }
      REGLO_RETURN_IF_ERROR(store.FinishRun(run, storage::RunStatus::kSucceeded,
                                            FormatUtc(clock.Now() + std::chrono::seconds(1)), "",
                                            ""));
    }
    // The relay: "live" is always at the end of the outbox, and one of its deliveries per poll
    // needed a retry (a delivery row); "lagging" waits for its day.
    REGLO_ASSIGN_OR_RETURN(latest, store.LatestEventSequence());
    std::vector<storage::DeliveryRow> retried;
    if (latest > 0) {
      storage::DeliveryRow row;
      row.subscription_id = "live";
      row.sequence = latest;
      row.event_id = fmt::format("soak-{}", latest);
      row.event_type = "student.updated";
      row.entity_key = "soak";
      row.status = "delivered";
      row.attempts = 2;
      row.next_attempt_at = FormatUtc(clock.Now());
      retried.push_back(row);
    }
    REGLO_RETURN_IF_ERROR(store.SaveRelayProgress("live", latest, retried));
    if (!options.lagging_until_day || day >= *options.lagging_until_day) {
      lagging_position = latest;
      REGLO_RETURN_IF_ERROR(store.SaveRelayProgress("lagging", latest, {}));
    }
    clock.Advance(options.interval);
    if (options.retention && (poll + 1) % polls_per_housekeeping == 0) {
      REGLO_RETURN_IF_ERROR(storage::Housekeep(store, options.policy, clock.Now()).status());
    }
    if ((poll + 1) % polls_per_day == 0 && on_day) {
      SoakDay report;
      report.day = day + 1;
      REGLO_ASSIGN_OR_RETURN(stats, store.ReadStoreStats());
      report.stats = std::move(stats);
      report.lagging_position = lagging_position;
      REGLO_ASSIGN_OR_RETURN(first, store.ReadEvents(0, 1));
      report.first_sequence = first.empty() ? 0 : first.front().sequence;
      report.events_appended = appended;
      on_day(report);
    }
  }
  return Status::Ok();
}

}  // namespace reglo::soak
