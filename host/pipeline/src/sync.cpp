#include "reglo/pipeline/sync.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unordered_map>
#include <variant>

#include "batch_builder.h"
#include "commit_worker.h"
#include "reglo/core/json_writer.h"
#include "reglo/core/masking.h"
#include "reglo/model/schema.h"
#include "reglo/model/validation.h"
#include "source_hashes.h"

namespace reglo::pipeline {

model::RawRecord ToRawRecord(const reglo_record& canonical, const storage::SourceRow& source) {
  model::RawRecord raw;
  raw.entity = canonical.entity ? canonical.entity : "";
  raw.company_id = source.company_id;
  raw.source_system = source.source_system;
  raw.external_id = canonical.external_id ? canonical.external_id : "";
  if (canonical.source_updated_at != nullptr) raw.source_updated_at = canonical.source_updated_at;
  raw.origin = canonical.origin ? canonical.origin : "";
  raw.fields.reserve(canonical.field_count);
  for (size_t i = 0; i < canonical.field_count; ++i) {
    const reglo_field& field = canonical.fields[i];
    if (field.name == nullptr) continue;
    std::optional<std::string> value;
    if (field.value != nullptr) value.emplace(field.value, field.value_len);
    raw.fields.emplace_back(field.name, std::move(value));
  }
  return raw;
}

model::RawRecordView ViewOf(const reglo_record& canonical, const storage::SourceRow& source,
                            std::vector<model::RawField>& fields) {
  auto text = [](const char* value) {
    return value ? std::string_view(value) : std::string_view();
  };
  fields.clear();
  for (size_t i = 0; i < canonical.field_count; ++i) {
    const reglo_field& field = canonical.fields[i];
    if (field.name == nullptr) continue;
    model::RawField raw{field.name, std::nullopt};
    if (field.value != nullptr) raw.value = std::string_view(field.value, field.value_len);
    fields.push_back(raw);
  }
  model::RawRecordView view{text(canonical.entity),      source.company_id, source.source_system,
                            text(canonical.external_id), std::nullopt,      fields,
                            text(canonical.origin)};
  if (canonical.source_updated_at != nullptr) view.source_updated_at = canonical.source_updated_at;
  return view;
}

namespace {

storage::LogLevel FromPluginLevel(reglo_log_level level) {
  switch (level) {
    case REGLO_LOG_DEBUG: return storage::LogLevel::kDebug;
    case REGLO_LOG_INFO: return storage::LogLevel::kInfo;
    case REGLO_LOG_WARN: return storage::LogLevel::kWarn;
    case REGLO_LOG_ERROR: return storage::LogLevel::kError;
  }
  return storage::LogLevel::kInfo;
}

// Adds what one committed batch did to the run's report. Runs on the commit worker's thread.
void Account(const storage::CheckpointBatch& batch, const storage::CheckpointResult& result,
             SyncReport& report) {
  storage::RunCounters delta = result.counters;
  delta.seen = batch.seen;
  delta.warnings = batch.warnings;
  delta.rejected = static_cast<int64_t>(batch.rejections.size());
  report.counters += delta;
  report.events += result.events;
  report.unchanged_unmapped += batch.unchanged;
  // Seen, warnings and rejected per entity were counted as the batch was built (duplicates that
  // collapsed into one record included, as in the totals); the outcomes come from the commit.
  for (const auto& [name, counted] : batch.by_entity) {
    storage::RunCounters& entity = report.by_entity[name];
    entity.seen += counted.seen;
    entity.warnings += counted.warnings;
    entity.rejected += counted.rejected;
    entity.unchanged += counted.unchanged;  // rows found unchanged before mapping
  }
  for (size_t i = 0; i < batch.records.size() && i < result.outcomes.size(); ++i) {
    storage::RunCounters& entity = report.by_entity[std::string(batch.records[i].entity->name)];
    switch (result.outcomes[i]) {
      case model::Outcome::kCreated: ++entity.created; break;
      case model::Outcome::kUpdated: ++entity.updated; break;
      case model::Outcome::kUnchanged: ++entity.unchanged; break;
      case model::Outcome::kStale: ++entity.stale; break;
    }
  }
}

// The run row of one pull, begun at the first thing worth keeping: a record, a rejection, a
// warning, a warn/error log line, a new cursor or a failure. Until then the pull's info and debug
// lines wait here, and a pull that ends with nothing more is recorded by RecordIdlePull alone
// (one short transaction, no log lines), so the idle pulls of many sources cost little.
class PullRun {
 public:
  PullRun(storage::SyncStore& store, std::string source_id, std::string started_at)
      : store_(store), source_id_(std::move(source_id)), started_at_(std::move(started_at)) {}

  bool begun() const { return id_ != 0; }
  const std::string& started_at() const { return started_at_; }
  // The run's id, begun now if it was not. Only while no commit worker owns the store.
  Result<int64_t> Id() {
    if (id_ == 0) {
      REGLO_ASSIGN_OR_RETURN(id, store_.BeginRun(source_id_, started_at_));
      id_ = id;
    }
    return id_;
  }
  void Defer(storage::RunLogLine line) { deferred_.push_back(std::move(line)); }
  std::vector<storage::RunLogLine> TakeDeferred() { return std::exchange(deferred_, {}); }

 private:
  storage::SyncStore& store_;
  std::string source_id_;
  std::string started_at_;
  int64_t id_ = 0;
  std::vector<storage::RunLogLine> deferred_;  // info and debug lines while not begun
};

// A batch that would change nothing but leave info lines: nothing delivered, warned, rejected
// or logged above info, and the cursor as it is.
bool Trivial(const storage::CheckpointBatch& batch, const std::optional<std::string>& cursor_now) {
  if (!batch.records.empty() || !batch.rejections.empty() || batch.seen != 0 ||
      batch.warnings != 0 || batch.unchanged != 0) {
    return false;
  }
  for (const storage::RunLogLine& line : batch.log_lines) {
    if (line.level != storage::LogLevel::kDebug && line.level != storage::LogLevel::kInfo) {
      return false;
    }
  }
  return !batch.cursor || batch.cursor == cursor_now;
}

// Receives one stream's pull and hands it to the commit worker checkpoint by checkpoint.
class CommittingHandler final : public plugin_host::PullHandler {
 public:
  CommittingHandler(storage::SyncStore& store, CommitWorker& worker, const Clock& clock,
                    const SyncOptions& options, const storage::SourceRow& source,
                    plugin_host::ConnectorInstance& connector, PullRun& run, std::string stream,
                    std::optional<std::string> stored_cursor, const std::atomic<bool>* stop,
                    std::atomic<uint64_t>* progress, size_t& log_budget, SourceHashes* hashes)
      : store_(store),
        source_(source),
        hashes_(hashes),
        worker_(worker),
        clock_(clock),
        options_(options),
        builder_(source, &connector),
        run_(run),
        source_id_(source.id),
        stream_(std::move(stream)),
        cursor_now_(std::move(stored_cursor)),
        stream_entity_(model::FindEntity(stream_) != nullptr ? stream_ : std::string()),
        stop_(stop),
        progress_(progress),
        log_budget_(log_budget) {
    builder_.set_log_budget(log_budget_);
  }

  Status OnRecord(const reglo_record& record) override {
    Bump();
    if (hashes_ != nullptr && !hashes_loaded_) REGLO_RETURN_IF_ERROR(LoadSourceHashes());
    REGLO_RETURN_IF_ERROR(builder_.Add(record));
    if (builder_.size() >= options_.max_batch_records) return Submit(std::nullopt);
    return Status::Ok();
  }

  Status OnCheckpoint(std::string_view cursor, uint64_t /*record_count*/) override {
    Bump();
    return Submit(std::string(cursor));
  }

  void OnWarning(std::string_view origin, std::string_view message) override {
    Bump();
    builder_.AddWarning(origin, message, stream_entity_);
  }

  // Not progress: a pull that only asks whether to stop (waiting on a server that never answers,
  // say) is stalled all the same, and the watchdog must be able to cancel it.
  bool ShouldStop() override { return stop_ != nullptr && stop_->load(); }

  // The connector's own log lines travel with the batch: the Store belongs to the worker now.
  void OnPluginLog(storage::LogLevel level, std::string_view message) {
    builder_.Log(level, std::string(message));
  }

  // Queues what is buffered; a nullopt cursor leaves the stored cursor as it is.
  Status Submit(std::optional<std::string> cursor) {
    if (builder_.empty() && !cursor) return Status::Ok();
    storage::CheckpointBatch batch = builder_.Take();
    batch.source_id = source_id_;
    batch.stream = stream_;
    batch.cursor = std::move(cursor);
    batch.committed_at = FormatUtc(clock_.Now());
    batch.lease_owner = options_.lease_owner;
    for (storage::RunLogLine& line : batch.log_lines) line.at = batch.committed_at;
    log_budget_ = builder_.log_budget();
    if (Trivial(batch, cursor_now_)) {
      for (storage::RunLogLine& line : batch.log_lines) run_.Defer(std::move(line));
      return Status::Ok();
    }
    // Begun at the first batch handed over, so the worker does not own the store yet.
    REGLO_ASSIGN_OR_RETURN(run_id, run_.Id());
    batch.run_id = run_id;
    std::vector<storage::RunLogLine> earlier = run_.TakeDeferred();
    batch.log_lines.insert(batch.log_lines.begin(), std::make_move_iterator(earlier.begin()),
                           std::make_move_iterator(earlier.end()));
    if (batch.cursor) cursor_now_ = batch.cursor;
    return worker_.Submit(std::move(batch));
  }

  int64_t suppressed_lines() const { return builder_.suppressed_lines(); }

 private:
  // At the first record, not before the pull: a pull that brings nothing (the CSV connector's
  // unchanged files) must not read a million hashes. The worker drained, the Store is ours.
  Status LoadSourceHashes() {
    hashes_loaded_ = true;
    REGLO_RETURN_IF_ERROR(worker_.Drain());
    if (Status loaded = hashes_->Load(store_, source_, options_.max_source_hashes); !loaded.ok()) {
      // Only slower without them: every row is mapped.
      spdlog::warn("source {}: cannot read the stored source hashes of {}: {}", source_.id, stream_,
                   loaded.message());
      return Status::Ok();
    }
    builder_.set_source_hashes(hashes_);
    return Status::Ok();
  }

  storage::SyncStore& store_;
  const storage::SourceRow& source_;
  SourceHashes* hashes_;
  bool hashes_loaded_ = false;
  CommitWorker& worker_;
  const Clock& clock_;
  const SyncOptions& options_;
  BatchBuilder builder_;
  PullRun& run_;
  std::string source_id_;
  std::string stream_;
  // The stream's cursor as stored, or as it will be once the batches handed over are committed.
  std::optional<std::string> cursor_now_;
  std::string stream_entity_;  // the stream's name when it is a canonical entity (csv: always)
  void Bump() {
    if (progress_ != nullptr) progress_->fetch_add(1, std::memory_order_relaxed);
  }

  const std::atomic<bool>* stop_;
  std::atomic<uint64_t>* progress_;
  size_t& log_budget_;
};

// Ends a pull that has a run of its own (begun now if it has none yet: it failed before).
void FinishRun(storage::SyncStore& store, const Clock& clock, PullRun& run, SyncReport& report) {
  Result<int64_t> id = run.Id();
  if (!id.ok()) {
    report.status = storage::RunStatus::kFailed;
    if (report.error.ok()) report.error = id.status().WithContext("starting a run");
    // Cancelled: the watchdog has recorded the run as failed.
    if (id.status().code() != StatusCode::kCancelled) {
      spdlog::error("cannot record a run: {}", id.status().message());
    }
    return;
  }
  report.run_id = *id;
  for (const storage::RunLogLine& line : run.TakeDeferred()) {
    if (Status logged = store.AppendRunLog(*id, line); !logged.ok()) {
      spdlog::warn("run {}: cannot store a log line: {}", *id, logged.message());
    }
  }
  const Status& failure = report.error;
  const std::string message = failure.ok() ? "" : MaskPersonalData(failure.message());
  const std::string category = failure.ok() ? "" : std::string(StatusCodeName(failure.code()));
  Status finished = store.FinishRun(*id, report.status, FormatUtc(clock.Now()), category, message);
  if (!finished.ok()) {
    spdlog::error("run {}: cannot record its end: {}", *id, finished.message());
  }
}

}  // namespace

SyncRunner::SyncRunner(storage::SyncStore& store, const Clock& clock, SyncOptions options)
    : store_(store), clock_(clock), options_(options) {}

SyncReport SyncRunner::RunOnce(const storage::SourceRow& source,
                               plugin_host::ConnectorInstance& connector,
                               const std::atomic<bool>* stop, std::atomic<uint64_t>* progress) {
  SyncReport report;
  PullRun run(store_, source.id, FormatUtc(clock_.Now()));
  // Only while no pull runs: during a pull the commit worker owns the Store.
  auto log = [&](storage::LogLevel level, const std::string& message) {
    storage::RunLogLine line{FormatUtc(clock_.Now()), level, MaskPersonalData(message)};
    if (!run.begun() && (level == storage::LogLevel::kDebug || level == storage::LogLevel::kInfo)) {
      run.Defer(std::move(line));
      return;
    }
    Result<int64_t> id = run.Id();
    Status logged = id.ok() ? store_.AppendRunLog(*id, line) : id.status();
    if (!logged.ok()) {
      spdlog::warn("source {}: cannot store a run log line: {}", source.id, logged.message());
    }
  };
  connector.SetLogCallback([&](reglo_log_level level, std::string_view message) {
    log(FromPluginLevel(level), std::string(message));
  });

  Status failure = Status::Ok();
  Result<std::vector<std::string>> streams = connector.ListStreams();
  if (!streams.ok()) failure = streams.status();
  size_t log_budget = options_.max_log_lines_per_run;
  int64_t suppressed = 0;
  std::optional<Sha256Digest> fingerprint;  // only for a stream that keeps source hashes
  // All the streams' cursors in one read (no other pull of the source runs meanwhile: its lease).
  Result<std::map<std::string, std::string>> cursors =
      streams.ok() ? store_.GetCursors(source.id) : std::map<std::string, std::string>{};
  if (!cursors.ok()) failure = cursors.status();
  for (const std::string& stream :
       streams.ok() && cursors.ok() ? *streams : std::vector<std::string>{}) {
    std::optional<std::string> cursor;
    if (auto stored = cursors->find(stream); stored != cursors->end()) cursor = stored->second;
    // Read by the handler at the stream's first record.
    std::optional<SourceHashes> hashes;
    if (const model::EntitySpec* entity = model::FindEntity(stream);
        options_.skip_unchanged_source_rows && entity != nullptr) {
      if (!fingerprint) fingerprint = SourceFingerprint(source, connector.plugin_info());
      hashes.emplace(*entity, *fingerprint);
    }
    Status pulled = Status::Ok();
    {
      CommitWorker worker(store_, [&report](const storage::CheckpointBatch& batch,
                                            const storage::CheckpointResult& result) {
        Account(batch, result, report);
      });
      CommittingHandler handler(store_, worker, clock_, options_, source, connector, run, stream,
                                cursor, stop, progress, log_budget, hashes ? &*hashes : nullptr);
      connector.SetLogCallback([&handler](reglo_log_level level, std::string_view message) {
        handler.OnPluginLog(FromPluginLevel(level), message);
      });
      pulled = connector.Pull(stream, cursor, handler);
      if (pulled.code() == StatusCode::kRateLimited) {
        report.retry_after_ms = connector.last_retry_after_ms();
      }
      // Records after the last checkpoint of a successful pull are safe to commit: re-applying
      // them later is idempotent. After a failure they are dropped and pulled again next time.
      if (pulled.ok()) pulled = handler.Submit(std::nullopt);
      Status committed = worker.Drain();
      if (pulled.ok()) pulled = committed;
      suppressed += handler.suppressed_lines();
      connector.SetLogCallback([&](reglo_log_level level, std::string_view message) {
        log(FromPluginLevel(level), std::string(message));
      });
    }
    if (!pulled.ok()) {
      log(storage::LogLevel::kError, fmt::format("stream {}: {}", stream, pulled.ToString()));
      if (failure.ok()) failure = pulled.WithContext(fmt::format("stream {}", stream));
      // Credentials or configuration will not fix themselves for the next stream either.
      // A rate limit applies to the whole source system: wait before asking it anything else.
      if (pulled.code() == StatusCode::kAuthError || pulled.code() == StatusCode::kConfigError ||
          pulled.code() == StatusCode::kRateLimited || pulled.code() == StatusCode::kCancelled ||
          (stop && stop->load())) {
        break;
      }
    }
  }
  if (suppressed > 0) {
    log(storage::LogLevel::kWarn,
        fmt::format("{} more warning lines were not stored (limit {} per run)", suppressed,
                    options_.max_log_lines_per_run));
  }
  connector.SetLogCallback({});

  if (!failure.ok()) {
    report.status = storage::RunStatus::kFailed;
  } else if (report.counters.warnings > 0 || report.counters.rejected > 0) {
    report.status = storage::RunStatus::kSucceededWithWarnings;
  } else {
    report.status = storage::RunStatus::kSucceeded;
  }
  report.error = failure;
  if (!run.begun() && failure.ok()) {
    // Nothing at all: no run of its own, and the info lines it logged are dropped.
    storage::IdlePull pull;
    pull.source_id = source.id;
    pull.started_at = run.started_at();
    pull.finished_at = FormatUtc(clock_.Now());
    pull.source_status = "ok";
    Result<storage::IdlePullResult> idle = store_.RecordIdlePull(pull);
    if (idle.ok()) {
      report.run_id = idle->run_id;
      report.stored_status = pull.source_status;
    } else {
      spdlog::error("source {}: cannot record an idle pull: {}", source.id,
                    idle.status().message());
    }
    return report;
  }
  FinishRun(store_, clock_, run, report);
  const char* source_status = report.status == storage::RunStatus::kFailed      ? "failed"
                              : report.status == storage::RunStatus::kSucceeded ? "ok"
                                                                                : "warning";
  Status marked = store_.SetSourceStatus(source.id, source_status);
  if (marked.ok()) {
    report.stored_status = source_status;
  } else if (marked.code() != StatusCode::kCancelled) {  // cancelled: the engine stores its own
    spdlog::error("source {}: cannot record its status: {}", source.id, marked.message());
  }
  return report;
}

namespace {

// Prints what a pull would commit, and stops after `limit` canonical records.
class PreviewHandler final : public plugin_host::PullHandler {
 public:
  PreviewHandler(const storage::SourceRow& source, plugin_host::ConnectorInstance& connector,
                 const PreviewOptions& options, std::ostream& out)
      : source_(source), connector_(connector), options_(options), out_(out) {}

  Status OnRecord(const reglo_record& record) override {
    if (Done()) return Status::Cancelled("preview limit reached");
    Status mapped = connector_.MapToCanonical(record, [this](const reglo_record& canonical) {
      Print(model::Validate(ToRawRecord(canonical, source_)));
      return Status::Ok();
    });
    if (!mapped.ok()) {
      ++counts_.rejected;
      JsonWriter line;
      line.BeginObject().Key("entity").String(record.entity ? record.entity : "");
      line.Key("externalId").String(record.external_id ? record.external_id : "");
      line.Key("origin").String(record.origin ? record.origin : "");
      line.Key("rejected").String(MaskPersonalData(mapped.message())).EndObject();
      out_ << line.str() << '\n';
    }
    return Done() ? Status::Cancelled("preview limit reached") : Status::Ok();
  }
  Status OnCheckpoint(std::string_view, uint64_t) override { return Status::Ok(); }
  void OnWarning(std::string_view origin, std::string_view message) override {
    ++counts_.warnings;
    JsonWriter line;
    line.BeginObject()
        .Key("origin")
        .String(origin)
        .Key("warning")
        .String(MaskPersonalData(message))
        .EndObject();
    out_ << line.str() << '\n';
  }
  bool ShouldStop() override { return Done(); }
  bool Done() const { return options_.limit > 0 && printed_ >= options_.limit; }
  const PreviewCounts& counts() const { return counts_; }

 private:
  void Print(const std::variant<model::CanonicalRecord, model::Rejection>& result) {
    JsonWriter line;
    line.BeginObject();
    if (const auto* rejection = std::get_if<model::Rejection>(&result)) {
      ++counts_.rejected;
      line.Key("entity")
          .String(rejection->entity)
          .Key("externalId")
          .String(rejection->key.external_id);
      line.Key("origin").String(rejection->origin).Key("rejected").String(rejection->reason);
    } else {
      const auto& record = std::get<model::CanonicalRecord>(result);
      ++counts_.records;
      counts_.warnings += static_cast<int64_t>(record.warnings.size());
      line.Key("entity")
          .String(record.entity->name)
          .Key("externalId")
          .String(record.key.external_id);
      line.Key("origin").String(record.origin);
      line.Key("sourceUpdatedAt");
      record.source_updated_at ? line.String(*record.source_updated_at) : line.Null();
      line.Key("record").BeginObject();
      for (size_t i = 0; i < record.entity->fields.size(); ++i) {
        line.Key(record.entity->fields[i].name);
        record.values[i] ? line.String(*record.values[i]) : line.Null();
      }
      if (!record.extra.empty()) {
        line.Key("extra").BeginObject();
        for (const auto& [name, value] : record.extra) line.Key(name).String(value);
        line.EndObject();
      }
      line.EndObject();
      line.Key("warnings").BeginArray();
      for (const std::string& warning : record.warnings) line.String(warning);
      line.EndArray();
    }
    line.EndObject();
    out_ << line.str() << '\n';
    ++printed_;
  }

  const storage::SourceRow& source_;
  plugin_host::ConnectorInstance& connector_;
  const PreviewOptions& options_;
  std::ostream& out_;
  int64_t printed_ = 0;
  PreviewCounts counts_;
};

}  // namespace

Status Preview(const storage::SourceRow& source, plugin_host::ConnectorInstance& connector,
               storage::SyncStore* store, const PreviewOptions& options, std::ostream& out,
               PreviewCounts* counts) {
  Result<std::vector<std::string>> streams = connector.ListStreams();
  if (!streams.ok()) return streams.status();
  PreviewHandler handler(source, connector, options, out);
  // Whatever the outcome, the caller learns what was printed (an exit code depends on it).
  struct Report {
    const PreviewHandler& handler;
    PreviewCounts* counts;
    ~Report() {
      if (counts != nullptr) *counts = handler.counts();
    }
  } report{handler, counts};
  for (const std::string& stream : *streams) {
    if (handler.Done()) break;
    std::optional<std::string> cursor;
    if (store != nullptr) {
      Result<std::optional<std::string>> stored = store->GetCursor(source.id, stream);
      if (!stored.ok()) return stored.status();
      cursor = *stored;
    }
    Status pulled = connector.Pull(stream, cursor, handler);
    if (!pulled.ok() && !(pulled.code() == StatusCode::kCancelled && handler.Done()) &&
        !(pulled.code() == StatusCode::kRetryable && handler.Done())) {
      return pulled.WithContext(fmt::format("stream {}", stream));
    }
  }
  return Status::Ok();
}

}  // namespace reglo::pipeline
