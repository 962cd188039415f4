#include "reglo/pipeline/push.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "batch_builder.h"
#include "reglo/core/masking.h"
#include "reglo/model/events.h"

namespace reglo::pipeline {
namespace {

using Placement = BatchBuilder::Placement;

// The per-record results of a committed push.
void Describe(const PreparedPush& push, const std::vector<size_t>& winner,
              const storage::CheckpointBatch& batch, const storage::CheckpointResult& committed,
              const std::vector<std::string>& entities,
              const std::vector<std::string>& external_ids, const auto& slots, PushResult& result) {
  result.records.clear();
  result.records.reserve(push.size());
  result.duplicates = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto& slot = slots[i];
    PushedRecordResult& record = result.records.emplace_back();
    record.entity = entities[i];
    record.external_id = external_ids[i];
    record.warnings = slot.warnings;
    if (slot.kind == Placement::kRejected) {
      record.outcome = "rejected";
      record.reason = batch.rejections[slot.index].reason;
    } else if (slot.kind == Placement::kSuperseded || winner[slot.index] != i) {
      record.outcome = "duplicate";
      ++result.duplicates;
    } else {
      record.outcome = slot.index < committed.outcomes.size()
                           ? model::OutcomeName(committed.outcomes[slot.index])
                           : std::string_view("unchanged");
    }
  }
}

}  // namespace

PreparedPush PreparePush(const storage::SourceRow& source, std::string stream,
                         std::optional<std::string> cursor,
                         const std::vector<model::RawRecord>& records) {
  PreparedPush push;
  push.source_ = source;
  BatchBuilder builder(push.source_, nullptr);
  std::vector<model::RawField> fields;
  push.slots_.reserve(records.size());
  push.entities_.reserve(records.size());
  push.external_ids_.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const model::RawRecord& raw = records[i];
    fields.clear();
    for (const auto& [name, value] : raw.fields) {
      model::RawField field{name, std::nullopt};
      if (value) field.value = std::string_view(*value);
      fields.push_back(field);
    }
    model::RawRecordView view{raw.entity,
                              push.source_.company_id,
                              push.source_.source_system,
                              raw.external_id,
                              std::nullopt,
                              fields,
                              raw.origin};
    if (raw.source_updated_at) view.source_updated_at = *raw.source_updated_at;
    builder.CountSeen();
    Placement placement = builder.AddCanonical(view, /*keep_warnings=*/true);
    if (placement.kind == Placement::kRecord) {
      if (push.winner_.size() <= placement.index) push.winner_.resize(placement.index + 1);
      push.winner_[placement.index] = i;
    }
    push.slots_.push_back({placement.kind, placement.index, std::move(placement.warnings)});
    push.entities_.push_back(raw.entity);
    push.external_ids_.push_back(raw.external_id);
  }
  push.batch_ = builder.Take();
  push.batch_.source_id = source.id;
  push.batch_.stream = std::move(stream);
  push.batch_.cursor = std::move(cursor);
  return push;
}

Result<PushResult> CommitPush(storage::SyncStore& runs, storage::IngestStore& ingest,
                              const Clock& clock, PreparedPush& push,
                              const storage::IngestRequestRow& request,
                              const std::function<std::string(const PushResult&)>& respond) {
  PushResult result;
  Result<int64_t> run = runs.BeginRun(push.source_.id, FormatUtc(clock.Now()));
  if (!run.ok()) return run.status().WithContext("starting a run");
  result.run_id = *run;
  storage::CheckpointBatch& batch = push.batch_;
  batch.run_id = result.run_id;
  batch.committed_at = FormatUtc(clock.Now());
  for (storage::RunLogLine& line : batch.log_lines) line.at = batch.committed_at;

  Result<storage::IngestCommit> committed =
      ingest.CommitIngest(batch, request, [&](const storage::CheckpointResult& checkpoint) {
        result.counters = checkpoint.counters;
        result.counters.seen = batch.seen;
        result.counters.warnings = batch.warnings;
        result.counters.rejected = static_cast<int64_t>(batch.rejections.size());
        result.events = checkpoint.events;
        Describe(push, push.winner_, batch, checkpoint, push.entities_, push.external_ids_,
                 push.slots_, result);
        return respond(result);
      });
  const std::string finished_at = FormatUtc(clock.Now());
  storage::RunStatus status = storage::RunStatus::kSucceeded;
  std::string category;
  std::string message;
  if (!committed.ok()) {
    status = storage::RunStatus::kFailed;
    category = std::string(StatusCodeName(committed.status().code()));
    message = MaskPersonalData(committed.status().message());
  } else if (committed->replayed) {
    (void)runs.AppendRunLog(result.run_id,
                            {finished_at, storage::LogLevel::kInfo,
                             "request id committed before: the first response was returned"});
  } else if (result.counters.warnings > 0 || result.counters.rejected > 0) {
    status = storage::RunStatus::kSucceededWithWarnings;
  }
  Status finished = runs.FinishRun(result.run_id, status, finished_at, category, message);
  if (!finished.ok()) {
    spdlog::error("run {}: cannot record its end: {}", result.run_id, finished.message());
  }
  const char* source_status = status == storage::RunStatus::kFailed      ? "failed"
                              : status == storage::RunStatus::kSucceeded ? "ok"
                                                                         : "warning";
  Status marked = runs.SetSourceStatus(push.source_.id, source_status);
  if (!marked.ok()) {
    spdlog::error("source {}: cannot record its status: {}", push.source_.id, marked.message());
  }
  if (!committed.ok()) return committed.status();
  result.replayed = committed->replayed;
  result.stored = std::move(committed->stored);
  if (result.replayed) {
    result.counters = {};
    result.records.clear();
    result.events = 0;
  }
  return result;
}

}  // namespace reglo::pipeline
