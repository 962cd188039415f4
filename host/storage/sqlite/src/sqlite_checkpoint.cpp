// SqliteStore: the checkpoint commit (SyncStore::CommitCheckpoint): records, events, dead
// letters, run counters and the cursor in one transaction.
#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/event_data.h"
#include "reglo/storage/row_codec.h"
#include "sqlite_session.h"
#include "sqlite_store_impl.h"

namespace reglo::storage::sqlite {

Status SqliteStore::PrepareCheckpointStatements() {
  const std::string_view what = "preparing checkpoint statements";
  const std::string insert_event_sql =
      "INSERT INTO integration_events (kind, external_id, version, time, data) "
      "VALUES (?, ?, ?, ?, ?)";
  REGLO_ASSIGN_OR_RETURN(insert_event, Prepare(insert_event_sql, what));
  std::string insert_events_sql = insert_event_sql;
  for (int i = 1; i < kEventsPerInsert; ++i) insert_events_sql += ", (?, ?, ?, ?, ?)";
  REGLO_ASSIGN_OR_RETURN(insert_events, Prepare(insert_events_sql, what));
  REGLO_ASSIGN_OR_RETURN(insert_dead_letter,
                         Prepare("INSERT INTO integration_dead_letters (run_id, source_id, stage, "
                                 "entity, external_id, origin, reason, created_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 what));
  REGLO_ASSIGN_OR_RETURN(insert_log, Prepare("INSERT INTO integration_run_logs (run_id, at, level, "
                                             "message) VALUES (?, ?, ?, ?)",
                                             what));
  REGLO_ASSIGN_OR_RETURN(
      add_counters, Prepare("UPDATE integration_runs SET seen = seen + ?, created = created + ?, "
                            "updated = updated + ?, unchanged = unchanged + ?, "
                            "stale = stale + ?, warnings = warnings + ?, "
                            "rejected = rejected + ?, events = events + ? WHERE id = ?",
                            what));
  REGLO_ASSIGN_OR_RETURN(upsert_cursor,
                         Prepare("INSERT INTO integration_cursors (source_id, stream, cursor, "
                                 "updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (source_id, stream) "
                                 "DO UPDATE SET cursor = excluded.cursor, "
                                 "updated_at = excluded.updated_at",
                                 what));
  checkpoint_ = {insert_event, insert_events, insert_dead_letter,
                 insert_log,   add_counters,  upsert_cursor};
  return Status::Ok();
}

Result<EntityStatements*> SqliteStore::StatementsFor(const model::EntitySpec& entity) {
  if (auto it = entity_statements_.find(&entity); it != entity_statements_.end()) {
    return &it->second;
  }
  const std::string what = fmt::format("preparing statements for table {}", entity.table);
  const std::string identity = "company_id = ? AND source_system = ? AND external_id = ?";
  const size_t n = entity.fields.size();
  EntityStatements statements;

  REGLO_ASSIGN_OR_RETURN(any, Prepare(fmt::format("SELECT 1 FROM {} WHERE company_id = ? AND "
                                                  "source_system = ? AND external_id >= ? AND "
                                                  "external_id <= ? LIMIT 1",
                                                  entity.table),
                                      what));
  statements.any_in_range = any;

  REGLO_ASSIGN_OR_RETURN(
      select,
      Prepare(fmt::format("SELECT version, content_hash, source_updated_at, extra, warnings, "
                          "created_at, updated_at{} FROM {} WHERE {}",
                          ColumnList(entity, ""), entity.table, identity),
              what));
  statements.select = select;

  REGLO_ASSIGN_OR_RETURN(
      insert,
      Prepare(fmt::format("INSERT INTO {} (company_id, source_system, external_id{}, version, "
                          "content_hash, source_updated_at, extra, warnings, source_hash, "
                          "created_at, updated_at) VALUES ({}) ON CONFLICT (company_id, "
                          "source_system, external_id) DO NOTHING",
                          entity.table, ColumnList(entity, ""), Placeholders(n + 11)),
              what));
  statements.insert = insert;

  REGLO_ASSIGN_OR_RETURN(
      update,
      Prepare(fmt::format("UPDATE {} SET {}version = ?, content_hash = ?, source_updated_at = ?, "
                          "extra = ?, warnings = ?, source_hash = ?, updated_at = ? WHERE {}",
                          entity.table, ColumnList(entity, " = ?").substr(2) + ", ", identity),
              what));
  statements.update = update;

  REGLO_ASSIGN_OR_RETURN(count,
                         Prepare(fmt::format("SELECT COUNT(*) FROM {}", entity.table), what));
  statements.count = count;

  REGLO_ASSIGN_OR_RETURN(refresh, Prepare(fmt::format("UPDATE {} SET source_hash = ? WHERE {} AND "
                                                      "source_hash IS NOT ?",
                                                      entity.table, identity),
                                          what));
  statements.refresh_source_hash = refresh;

  return &entity_statements_.emplace(&entity, statements).first->second;
}

Status SqliteStore::ScanSourceHashes(const model::EntitySpec& entity, const std::string& company_id,
                                     const std::string& source_system, const SourceHashRow& row) {
  // Rare (once per stream and pull): prepared on demand. The identity index serves the prefix.
  REGLO_ASSIGN_OR_RETURN(
      scan, Prepare(fmt::format("SELECT external_id, source_hash FROM {} WHERE company_id = ? AND "
                                "source_system = ? AND source_hash IS NOT NULL",
                                entity.table),
                    "preparing the source hash scan"));
  Stmt query(*db_, scan, "reading source hashes");
  query.Bind(1, company_id).Bind(2, source_system);
  for (;;) {
    REGLO_ASSIGN_OR_RETURN(found, query.Step());
    if (!found) return Status::Ok();
    row(query.Text(0), query.Int(1));
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

Result<CheckpointResult> SqliteStore::CommitCheckpoint(const CheckpointBatch& batch) {
  REGLO_RETURN_IF_ERROR(CheckCheckpointRecords(batch));
  REGLO_RETURN_IF_ERROR(PrepareEventKinds(batch));
  CheckpointResult result;
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("committing a checkpoint"));
  // BEGIN IMMEDIATE holds the write lock: no one can take the lease between this check and COMMIT.
  REGLO_RETURN_IF_ERROR(CheckLeaseHeld(batch));
  // Erased records (issue #18): the source's rule keeps them erased or lets them back in.
  std::vector<size_t> skipped;
  REGLO_ASSIGN_OR_RETURN(filtered, ErasureRule(batch, skipped));
  REGLO_RETURN_IF_ERROR(ApplyCheckpoint(filtered ? *filtered : batch, result));
  RestoreSkipped(result, skipped);
  REGLO_RETURN_IF_ERROR(tx.Commit());
  NoteCommitted();
  return result;
}

Status SqliteStore::PrepareEventKinds(const CheckpointBatch& batch) {
  SqliteSession session(*db_, "preparing event kinds");
  return event_kinds_.Prepare(session, batch.records);
}

Status SqliteStore::ApplyCheckpoint(const CheckpointBatch& batch, CheckpointResult& result) {
  result.outcomes.reserve(batch.records.size());
  result.counters.unchanged = batch.unchanged;  // found unchanged before mapping: nothing to write
  pending_events_.clear();
  // The batch's records and events store its commit time as an integer: encoded once.
  REGLO_ASSIGN_OR_RETURN(committed_time, EncodeStoredTime(batch.committed_at));
  REGLO_RETURN_IF_ERROR(GroupBatch(batch));
  for (size_t i = 0; i < batch.records.size(); ++i) {
    REGLO_ASSIGN_OR_RETURN(outcome, ApplyRecord(batch.records[i], groups_[record_group_[i]].all_new,
                                                batch.committed_at, committed_time, result.events));
    result.outcomes.push_back(outcome);
    KeyGroup& group = groups_[record_group_[i]];
    ++group.records;
    if (outcome == model::Outcome::kCreated) ++group.created;
    switch (outcome) {
      case model::Outcome::kCreated: ++result.counters.created; break;
      case model::Outcome::kUpdated: ++result.counters.updated; break;
      case model::Outcome::kUnchanged: ++result.counters.unchanged; break;
      case model::Outcome::kStale: ++result.counters.stale; break;
    }
  }
  REGLO_RETURN_IF_ERROR(FlushEvents(committed_time));
  return WriteBatchBookkeeping(batch, result);
}

void SqliteStore::NoteCommitted() {
  for (const KeyGroup& group : groups_) {
    last_batch_all_new_[group.entity] = group.records > 0 && group.created == group.records;
  }
}

Status SqliteStore::GroupBatch(const CheckpointBatch& batch) {
  groups_.clear();
  record_group_.clear();
  for (const model::CanonicalRecord& record : batch.records) {
    const std::string& id = record.key.external_id;
    size_t g = 0;
    // A batch normally holds one group, a handful at most: a linear search is the fastest.
    while (g < groups_.size() && !(groups_[g].entity == record.entity &&
                                   *groups_[g].company_id == record.key.company_id &&
                                   *groups_[g].source_system == record.key.source_system)) {
      ++g;
    }
    if (g == groups_.size()) {
      groups_.push_back(
          {record.entity, &record.key.company_id, &record.key.source_system, &id, &id, false});
    } else {
      if (id < *groups_[g].min_external_id) groups_[g].min_external_id = &id;
      if (*groups_[g].max_external_id < id) groups_[g].max_external_id = &id;
    }
    record_group_.push_back(g);
  }
  for (KeyGroup& group : groups_) {
    REGLO_ASSIGN_OR_RETURN(statements, StatementsFor(*group.entity));
    Stmt query(*db_, statements->any_in_range, "looking up stored records");
    query.Bind(1, *group.company_id)
        .Bind(2, *group.source_system)
        .Bind(3, *group.min_external_id)
        .Bind(4, *group.max_external_id);
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    auto last = last_batch_all_new_.find(group.entity);
    group.all_new = !row || (last != last_batch_all_new_.end() && last->second);
  }
  return Status::Ok();
}

Result<model::Outcome> SqliteStore::ApplyRecord(const model::CanonicalRecord& record,
                                                bool known_new, const std::string& committed_at,
                                                int64_t committed_time, int64_t& events) {
  REGLO_ASSIGN_OR_RETURN(statements, StatementsFor(*record.entity));
  if (known_new) {
    // Nothing was stored in this record's id range before the batch: insert straight away. A
    // conflict can only come from a duplicate inside the batch, which takes the general path.
    const model::Decision decision = model::Reconcile(record, nullptr);
    REGLO_ASSIGN_OR_RETURN(inserted,
                           InsertRecord(*statements, record, decision.version, committed_time));
    if (inserted) {
      REGLO_RETURN_IF_ERROR(AppendEvents(record, decision, committed_at, events));
      return decision.outcome;
    }
  }

  const model::StoredState* stored = nullptr;
  {
    Stmt query(*db_, statements->select, "looking up a stored record");
    query.Bind(1, record.key.company_id)
        .Bind(2, record.key.source_system)
        .Bind(3, record.key.external_id);
    REGLO_ASSIGN_OR_RETURN(found, query.Step());
    if (found) {
      stored_.version = query.Int(kColVersion);
      ContentHashFromStored(query.Text(kColContentHash), stored_.content_hash);
      stored_.source_updated_at = ReadOptionalStoredTime(query, kColSourceUpdatedAt);
      // The stored values only matter when the content differs (to name the changed fields);
      // skipping them keeps a no-change re-sync cheap.
      if (stored_.content_hash == record.content_hash) {
        stored_.values.clear();
        stored_.extra.clear();
      } else {
        const size_t n = record.entity->fields.size();
        stored_.values.resize(n);
        for (size_t i = 0; i < n; ++i) {
          query.ReadInto(kColFirstField + static_cast<int>(i), stored_.values[i]);
        }
        stored_.extra = model::ExtraFromJson(std::string(query.Text(kColExtra)));
      }
      stored = &stored_;
    }
  }

  const model::Decision decision = model::Reconcile(record, stored);
  switch (decision.outcome) {
    case model::Outcome::kCreated: {
      REGLO_ASSIGN_OR_RETURN(inserted,
                             InsertRecord(*statements, record, decision.version, committed_time));
      if (!inserted) {
        return Status::Internal(
            fmt::format("a {} record was absent and then present within one "
                        "transaction ({})",
                        record.entity->name, record.origin));
      }
      break;
    }
    case model::Outcome::kUpdated:
      REGLO_RETURN_IF_ERROR(UpdateRecord(*statements, record, decision.version, committed_time));
      break;
    case model::Outcome::kUnchanged:
      if (record.source_hash) {
        Stmt refresh(*db_, statements->refresh_source_hash, "refreshing a source hash");
        refresh.Bind(1, *record.source_hash)
            .Bind(2, record.key.company_id)
            .Bind(3, record.key.source_system)
            .Bind(4, record.key.external_id)
            .Bind(5, *record.source_hash);
        REGLO_RETURN_IF_ERROR(refresh.Run());
      }
      return decision.outcome;
    case model::Outcome::kStale: return decision.outcome;
  }
  REGLO_RETURN_IF_ERROR(AppendEvents(record, decision, committed_at, events));
  return decision.outcome;
}

int SqliteStore::BindRecordState(Stmt& stmt, int first, const model::CanonicalRecord& record,
                                 int64_t version, int64_t committed_time) {
  extra_json_ = record.extra.empty() ? std::string() : model::ExtraToJson(record.extra);
  WarningsToJson(record.warnings, warnings_json_);
  int p = first;
  for (const std::optional<std::string>& value : record.values) stmt.BindOpt(p++, value);
  ContentHashToBytes(record.content_hash, content_hash_bytes_);
  stmt.Bind(p, version).BindBlob(p + 1, content_hash_bytes_);
  const std::optional<int64_t> source_updated_at = EncodeSourceUpdatedAt(record.source_updated_at);
  source_updated_at ? stmt.Bind(p + 2, *source_updated_at) : stmt.BindNull(p + 2);
  stmt.BindTextOrNull(p + 3, extra_json_).BindTextOrNull(p + 4, warnings_json_);
  // Written (or cleared) with every version of the record, so it always describes the stored one.
  record.source_hash ? stmt.Bind(p + 5, *record.source_hash) : stmt.BindNull(p + 5);
  stmt.Bind(p + 6, committed_time);
  return p + 7;
}

Result<bool> SqliteStore::InsertRecord(const EntityStatements& statements,
                                       const model::CanonicalRecord& record, int64_t version,
                                       int64_t committed_time) {
  Stmt insert(*db_, statements.insert, "inserting a record");
  insert.Bind(1, record.key.company_id)
      .Bind(2, record.key.source_system)
      .Bind(3, record.key.external_id);
  const int updated_at = BindRecordState(insert, 4, record, version, committed_time);
  insert.Bind(updated_at, committed_time);
  REGLO_RETURN_IF_ERROR(insert.Run());
  return db_->Changes() == 1;
}

Status SqliteStore::UpdateRecord(const EntityStatements& statements,
                                 const model::CanonicalRecord& record, int64_t version,
                                 int64_t committed_time) {
  Stmt update(*db_, statements.update, "updating a record");
  const int key = BindRecordState(update, 1, record, version, committed_time);
  update.Bind(key, record.key.company_id)
      .Bind(key + 1, record.key.source_system)
      .Bind(key + 2, record.key.external_id);
  return update.Run();
}

Status SqliteStore::AppendEvents(const model::CanonicalRecord& record,
                                 const model::Decision& decision, const std::string& committed_at,
                                 int64_t& events) {
  for (model::EventRecord& event : model::BuildEvents(record, decision, committed_at)) {
    event.data = EncodeEventData(event);  // from here on, `data` holds the stored form
    pending_events_.push_back(std::move(event));
    ++events;
  }
  return Status::Ok();
}

Status SqliteStore::FlushEvents(int64_t committed_time) {
  if (pending_events_.empty()) return Status::Ok();
  const auto bind = [&](Stmt& insert, int first, const model::EventRecord& event) -> Status {
    REGLO_ASSIGN_OR_RETURN(kind, event_kinds_.IdOf(event));
    insert.Bind(first, kind)
        .Bind(first + 1, event.external_id)
        .Bind(first + 2, event.version)
        .Bind(first + 3, committed_time)  // every event of a batch has its commit time
        .BindBlob(first + 4, event.data);
    return Status::Ok();
  };
  constexpr int kColumns = 5;
  const size_t count = pending_events_.size();
  size_t next = 0;
  for (; next + kEventsPerInsert <= count; next += kEventsPerInsert) {
    Stmt insert(*db_, checkpoint_.insert_events, "appending events");
    for (int row = 0; row < kEventsPerInsert; ++row) {
      REGLO_RETURN_IF_ERROR(
          bind(insert, 1 + row * kColumns, pending_events_[next + static_cast<size_t>(row)]));
    }
    REGLO_RETURN_IF_ERROR(insert.Run());
  }
  for (; next < count; ++next) {
    Stmt insert(*db_, checkpoint_.insert_event, "appending an event");
    REGLO_RETURN_IF_ERROR(bind(insert, 1, pending_events_[next]));
    REGLO_RETURN_IF_ERROR(insert.Run());
  }
  pending_events_.clear();
  return Status::Ok();
}

Status SqliteStore::WriteBatchBookkeeping(const CheckpointBatch& batch,
                                          const CheckpointResult& result) {
  const RunCounters& counters = result.counters;
  for (const model::Rejection& rejection : batch.rejections) {
    Stmt insert(*db_, checkpoint_.insert_dead_letter, "storing a dead letter");
    insert.Bind(1, batch.run_id)
        .Bind(2, batch.source_id)
        .Bind(3, rejection.stage)
        .Bind(4, rejection.entity)
        .Bind(5, rejection.key.external_id)
        .Bind(6, rejection.origin)
        .Bind(7, rejection.reason)
        .Bind(8, batch.committed_at);
    REGLO_RETURN_IF_ERROR(insert.Run());
  }
  for (const RunLogLine& line : batch.log_lines) {
    REGLO_RETURN_IF_ERROR(AppendRunLog(batch.run_id, line));
  }
  {
    Stmt update(*db_, checkpoint_.add_counters, "adding run counters");
    update.BindAll(batch.seen, counters.created, counters.updated, counters.unchanged,
                   counters.stale, batch.warnings, static_cast<int64_t>(batch.rejections.size()),
                   result.events, batch.run_id);
    REGLO_RETURN_IF_ERROR(update.Run());
    if (db_->Changes() != 1) {
      // Committing records without their run would leave counters nobody can account for.
      return Status::NotFound(fmt::format("run {} does not exist", batch.run_id));
    }
  }
  if (batch.cursor) {
    Stmt upsert(*db_, checkpoint_.upsert_cursor, "advancing the cursor");
    upsert.Bind(1, batch.source_id)
        .Bind(2, batch.stream)
        .Bind(3, *batch.cursor)
        .Bind(4, batch.committed_at);
    REGLO_RETURN_IF_ERROR(upsert.Run());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Records, events, dead letters

}  // namespace reglo::storage::sqlite
