// PostgresStore: the checkpoint commit (SyncStore::CommitCheckpoint): records, events, dead
// letters, run counters and the cursor in one transaction.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "pg_session.h"
#include "postgres_store_impl.h"
#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/event_data.h"
#include "reglo/storage/row_codec.h"
#include "reglo/storage/subject_sql.h"

namespace reglo::storage::postgres {

Result<const EntitySql*> PostgresStore::SqlFor(const model::EntitySpec& entity) {
  if (auto it = entity_sql_.find(&entity); it != entity_sql_.end()) return &it->second;
  // A spec that is not one of CanonicalEntities() (a copy): use the canonical one of that name.
  if (const model::EntitySpec* canonical = model::FindEntity(entity.name)) {
    if (auto it = entity_sql_.find(canonical); it != entity_sql_.end()) return &it->second;
  }
  return Status::InvalidArgument(fmt::format("'{}' is not a canonical entity", entity.name));
}

Status PostgresStore::ScanSourceHashes(const model::EntitySpec& entity,
                                       const std::string& company_id,
                                       const std::string& source_system, const SourceHashRow& row) {
  REGLO_RETURN_IF_ERROR(Ready());
  // In pages along the identity index: one result of a million rows would hold them all in
  // libpq's memory at once.
  constexpr int kPage = 50000;
  const std::string sql = fmt::format(
      "SELECT external_id, source_hash FROM {} WHERE company_id = $1 AND source_system = $2 AND "
      "external_id > $3 AND source_hash IS NOT NULL ORDER BY external_id LIMIT {}",
      entity.table, kPage);
  std::string after;
  for (;;) {
    REGLO_ASSIGN_OR_RETURN(
        rows, conn_->Query(sql, Params().Text(company_id).Text(source_system).Text(after),
                           "reading source hashes"));
    for (int r = 0; r < rows.size(); ++r) row(rows.Text(r, 0), rows.Int(r, 1));
    if (rows.size() < kPage) return Status::Ok();
    after = rows.String(rows.size() - 1, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
//
// One transaction per attempt, a handful of statements per batch whatever its size:
//   1. per table, one SELECT of the stored rows of the batch's identities (values only where the
//      content hash differs, so a no-op re-sync reads little). When the table's previous batch
//      was all new (a cold load), its records are instead inserted first with one binary COPY,
//      sent without waiting while 2 runs; when one of them exists already, the unique
//      identity index refuses it and the attempt starts over with the SELECT (the violation is
//      the expected answer there, never passed on);
//   2. decisions in C++, record by record in batch order, with model::Reconcile and
//      model::BuildEvents (exactly the SQLite backend's semantics, duplicates included);
//   3. per table, one multi-row INSERT ... ON CONFLICT DO NOTHING of the new records and one
//      multi-row UPDATE of the changed ones guarded by the version read in 1;
//   4. one binary COPY of the events, then the dead letters, log lines, run counters and
//      cursor; COMMIT.
// Rows travel as binary arrays, one parameter per column, or as binary COPY data (measured: on a
// cold load, COPY spares the server a fifth of an unnested INSERT's work). No row is locked for
// reading: when another writer inserted or changed one of the batch's records between 1 and 3,
// the affected counts show it, and the attempt is rolled back and decided again on what the winner
// committed (READ COMMITTED: the next statement sees it). So two writers racing on a new record
// yield one row and one `created` event, and no unique-violation error ever reaches the caller.
// Deadlocks and serialization failures roll back and start over as well (bounded:
// kMaxCommitAttempts).

// The columns of a record's row that follow its identity, in EntitySql::insert's order: the
// fields, then kColumnsAfterFields more (version, content hash, source updated at, extra,
// warnings, source hash), each handed to `column(i)`, the BinaryFields (an ArrayBuilder, or one
// CopyRows for all) of column i. `scratch` holds the content hash's 16 bytes (a bytea since
// migration 15) and the JSON columns while they are added; source updated at is an int8
// (EncodeSourceUpdatedAt, migration 16).
constexpr size_t kColumnsAfterFields = 6;
template <typename ColumnOf>
void AddRecordColumns(const model::CanonicalRecord& record, int64_t version, ColumnOf&& column,
                      std::string& scratch) {
  size_t c = 0;
  for (const std::optional<std::string>& value : record.values) column(c++).AddOpt(value);
  column(c++).AddInt(version);
  ContentHashToBytes(record.content_hash, scratch);
  column(c++).Add(scratch);
  const std::optional<int64_t> source_updated_at = EncodeSourceUpdatedAt(record.source_updated_at);
  source_updated_at ? column(c++).AddInt(*source_updated_at) : column(c++).AddNull();
  scratch = record.extra.empty() ? std::string() : model::ExtraToJson(record.extra);
  column(c++).AddTextOrNull(scratch);
  WarningsToJson(record.warnings, scratch);
  column(c++).AddTextOrNull(scratch);
  // Written (or cleared) with every version of the record, so it always describes the stored one.
  record.source_hash ? column(c++).AddInt(*record.source_hash) : column(c++).AddNull();
}

Result<CheckpointResult> PostgresStore::CommitCheckpoint(const CheckpointBatch& batch) {
  CheckpointResult result;
  REGLO_RETURN_IF_ERROR(CommitWithRetries(batch, result).status());
  return result;
}

Result<PostgresStore::Attempt> PostgresStore::CommitWithRetries(const CheckpointBatch& batch,
                                                                CheckpointResult& result,
                                                                IngestHook* ingest) {
  REGLO_RETURN_IF_ERROR(CheckCheckpointRecords(batch));
  REGLO_RETURN_IF_ERROR(Ready());
  {
    // Before the transaction (EventKinds::Prepare): every kind cached is committed.
    PgSession session(*conn_, "preparing event kinds");
    REGLO_RETURN_IF_ERROR(event_kinds_.Prepare(session, batch.records));
  }
  for (int attempt = 1;; ++attempt) {
    result = CheckpointResult{};
    Result<Attempt> done = TryCommit(batch, attempt == 1, result, ingest);
    if (done.ok() && *done != Attempt::kLostRace) return done;
    // A lost race, a serialization failure or a deadlock rolled everything back: start over.
    const bool conflict = done.ok() || (done.status().code() == StatusCode::kRetryable &&
                                        conn_->LastFailureIsConflict());
    if (!conflict) return done.status();
    if (attempt == kMaxCommitAttempts) {
      return Status::Retryable(fmt::format(
          "postgres: the checkpoint kept conflicting with other writers ({} attempts)", attempt));
    }
  }
}

void PostgresStore::SlotKey(const model::EntitySpec& entity, const std::string& company_id,
                            const std::string& source_system, const std::string& external_id,
                            std::string& key) {
  key.assign(entity.name);
  key += '\0';
  key += company_id;
  key += '\0';
  key += source_system;
  key += '\0';
  key += external_id;
}

Status PostgresStore::PlanBatch(const CheckpointBatch& batch) {
  slots_.clear();
  record_slot_.clear();
  groups_.clear();
  std::unordered_map<std::string, size_t> slot_of;
  slot_of.reserve(batch.records.size());
  const std::vector<model::EntitySpec>& entities = model::CanonicalEntities();
  std::vector<std::vector<size_t>> slots_by_entity(entities.size());
  std::string key;
  for (const model::CanonicalRecord& record : batch.records) {
    const model::EntitySpec* entity = model::FindEntity(record.entity->name);
    if (entity == nullptr) {
      return Status::InvalidArgument(
          fmt::format("'{}' is not a canonical entity ({})", record.entity->name, record.origin));
    }
    SlotKey(*entity, record.key.company_id, record.key.source_system, record.key.external_id, key);
    auto [it, inserted] = slot_of.try_emplace(key, slots_.size());
    if (inserted) {
      slots_.push_back({});
      slots_.back().first = &record;
      slots_by_entity[static_cast<size_t>(entity - entities.data())].push_back(it->second);
    } else {
      slots_[it->second].repeated = true;
    }
    record_slot_.push_back(it->second);
  }
  // Groups in a fixed table order, so concurrent writers take row locks in the same order.
  for (size_t e = 0; e < entities.size(); ++e) {
    if (slots_by_entity[e].empty()) continue;
    REGLO_ASSIGN_OR_RETURN(sql, SqlFor(entities[e]));
    groups_.push_back({e, &entities[e], sql, std::move(slots_by_entity[e])});
  }
  return Status::Ok();
}

Result<PostgresStore::Attempt> PostgresStore::TryCommit(const CheckpointBatch& pulled,
                                                        bool first_attempt,
                                                        CheckpointResult& result,
                                                        IngestHook* ingest) {
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("committing a checkpoint", checkpoint_settings_));
  // Erased records first (issue #18), inside the transaction: a source whose rule keeps them
  // erased commits the batch without them. An erasure that commits after this read bumps the
  // record's version, so writing it loses the race and the next attempt reads the erasure.
  std::optional<CheckpointBatch> filtered;
  {
    PgSession session(*conn_);
    REGLO_ASSIGN_OR_RETURN(kept, ApplyErasureRule(session, pulled, erased_skipped_));
    filtered = std::move(kept);
  }
  const CheckpointBatch& batch = filtered ? *filtered : pulled;
  REGLO_RETURN_IF_ERROR(PlanBatch(batch));      // fresh slots for this attempt
  result.counters.unchanged = batch.unchanged;  // found unchanged before mapping: nothing to write
  if (!batch.lease_owner.empty()) {
    // FOR SHARE: the lease row stays locked until COMMIT, so another instance taking the lease
    // over waits for this commit and then reads the cursor it wrote, never an older one.
    REGLO_ASSIGN_OR_RETURN(lease,
                           conn_->Query("SELECT owner FROM integration_leases WHERE source_id = $1 "
                                        "FOR SHARE",
                                        Params().Text(batch.source_id), "checking a lease"));
    REGLO_RETURN_IF_ERROR(CheckLeaseHolder(
        batch, lease.size() == 0 ? std::nullopt : std::optional<std::string>(lease.String(0, 0))));
  }
  if (ingest != nullptr) {
    // The request id first: a concurrent transaction inserting the same id makes this one wait
    // for its end, then find the row (a replay) or take its place (it rolled back).
    const IngestRequestRow& request = *ingest->request;
    REGLO_ASSIGN_OR_RETURN(claimed, conn_->Query("INSERT INTO integration_ingest_requests (key_id, "
                                                 "request_id, body_hash, response, created_at) "
                                                 "VALUES ($1, $2, $3, '', $4) "
                                                 "ON CONFLICT (key_id, request_id) DO NOTHING",
                                                 Params()
                                                     .Int(request.key_id)
                                                     .Text(request.request_id)
                                                     .Text(request.body_hash)
                                                     .Text(request.created_at),
                                                 "recording an ingest request"));
    if (claimed.Affected() != 1) return Attempt::kReplayed;  // the transaction rolls back
  }
  // After an all-new batch, expect another: insert its records first and look up only the
  // identities that occur more than once. When one of them exists (a re-sync begins, or another
  // writer was first) the identity's unique index refuses the insert, and the attempt starts over
  // with lookups.
  for (const Group& group : groups_) {
    const bool insert_first = first_attempt && insert_first_[group.entity_index];
    REGLO_RETURN_IF_ERROR(Lookup(group, insert_first));
  }
  // The batch's commit time as records and events store it (EncodeStoredTime): encoded once.
  REGLO_ASSIGN_OR_RETURN(committed_time, EncodeStoredTime(batch.committed_at));
  // The last insert stays in flight while the records are decided and the events built.
  const Group* in_flight = nullptr;
  int64_t in_flight_rows = 0;
  const auto land = [&]() -> Result<bool> {
    if (in_flight == nullptr) return true;
    const size_t entity_index = in_flight->entity_index;
    in_flight = nullptr;
    Result<Rows> inserted = conn_->Receive("inserting records");
    if (!inserted.ok() && conn_->last_sqlstate() != kUniqueViolation) return inserted.status();
    if (inserted.ok() && inserted->Affected() == in_flight_rows) return true;
    insert_first_[entity_index] = false;
    return false;
  };
  for (const Group& group : groups_) {
    if (!first_attempt || !insert_first_[group.entity_index]) continue;
    REGLO_ASSIGN_OR_RETURN(landed, land());
    if (!landed) return Attempt::kLostRace;
    REGLO_ASSIGN_OR_RETURN(sent, SendInsertFirst(group, committed_time));
    if (sent > 0) {
      in_flight = &group;
      in_flight_rows = sent;
    }
  }

  // Decide record by record, in batch order: a later duplicate sees what an earlier one did.
  CopyRows events(5);  // integration_events, as kCopyEvents lists the columns
  result.outcomes.reserve(batch.records.size());
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const model::CanonicalRecord& record = batch.records[i];
    Slot& slot = slots_[record_slot_[i]];
    const model::Decision decision = model::Reconcile(record, slot.state ? &*slot.state : nullptr);
    result.outcomes.push_back(decision.outcome);
    switch (decision.outcome) {
      case model::Outcome::kCreated: ++result.counters.created; break;
      case model::Outcome::kUpdated: ++result.counters.updated; break;
      case model::Outcome::kUnchanged:
        ++result.counters.unchanged;
        if (record.source_hash) slot.unchanged = &record;
        continue;
      case model::Outcome::kStale: ++result.counters.stale; continue;
    }
    for (model::EventRecord& event : model::BuildEvents(record, decision, batch.committed_at)) {
      REGLO_ASSIGN_OR_RETURN(kind, event_kinds_.IdOf(event));
      events.StartRow();
      events.AddInt(kind);
      events.Add(event.external_id);
      events.AddInt(event.version);
      events.AddInt(committed_time);
      events.Add(EncodeEventData(event));  // a bytea: COPY binary takes its bytes as they are
    }
    slot.last = &record;
    slot.last_version = decision.version;
    if (slot.repeated) {
      // Only a later record of the same identity reads this state.
      model::StoredState& state = slot.state.emplace();
      state.version = decision.version;
      state.content_hash = record.content_hash;
      state.source_updated_at = record.source_updated_at;
      state.values = record.values;
      state.extra = record.extra;
    }
  }

  REGLO_ASSIGN_OR_RETURN(landed, land());
  if (!landed) return Attempt::kLostRace;  // the transaction rolls back
  for (const Group& group : groups_) {
    REGLO_ASSIGN_OR_RETURN(written, WriteRecords(group, committed_time));
    if (!written) return Attempt::kLostRace;
    REGLO_RETURN_IF_ERROR(RefreshSourceHashes(group));
  }

  if (events.rows() > 0) {
    // Sequences are drawn in commit order: a reader that has seen sequence N never later finds a
    // smaller one committed. The lock is held until COMMIT, for the short rest of the transaction.
    REGLO_RETURN_IF_ERROR(conn_
                              ->Query("SELECT pg_advisory_xact_lock($1)",
                                      Params().Int(kEventOrderLock), "ordering the outbox")
                              .status());
    // Exactly once without a unique index (as in the SQLite backend): an event is appended in the
    // transaction that moves its record to that version, and a record moves once per version.
    REGLO_RETURN_IF_ERROR(conn_->SendCopy(kCopyEvents, events, "appending events"));
    REGLO_ASSIGN_OR_RETURN(appended, conn_->Receive("appending events"));
    result.events = appended.Affected();
  }
  REGLO_RETURN_IF_ERROR(WriteBookkeeping(batch, result));
  RestoreSkipped(result, erased_skipped_);  // outcomes match the caller's batch again
  if (ingest != nullptr) {
    ingest->response = (*ingest->respond)(result);
    REGLO_RETURN_IF_ERROR(conn_
                              ->Query("UPDATE integration_ingest_requests SET response = $3 "
                                      "WHERE key_id = $1 AND request_id = $2",
                                      Params()
                                          .Int(ingest->request->key_id)
                                          .Text(ingest->request->request_id)
                                          .Text(ingest->response),
                                      "recording an ingest response")
                              .status());
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  for (const Group& group : groups_) {
    insert_first_[group.entity_index] = std::none_of(group.slots.begin(), group.slots.end(),
                                                     [this](size_t s) { return slots_[s].stored; });
  }
  return Attempt::kDone;
}

Status PostgresStore::RefreshSourceHashes(const Group& group) {
  ArrayBuilder company(kTextOid), source(kTextOid), external_id(kTextOid), hash(kInt8Oid);
  size_t rows = 0;
  for (size_t s : group.slots) {
    const Slot& slot = slots_[s];
    if (slot.last != nullptr || slot.unchanged == nullptr) continue;  // written with the record
    const model::CanonicalRecord& record = *slot.unchanged;
    company.Add(record.key.company_id);
    source.Add(record.key.source_system);
    external_id.Add(record.key.external_id);
    hash.AddInt(*record.source_hash);
    ++rows;
  }
  if (rows == 0) return Status::Ok();
  Params params;
  params.Array(company).Array(source).Array(external_id).Array(hash);
  return conn_->Query(group.sql->refresh_source_hash, params, "refreshing source hashes").status();
}

Result<int64_t> PostgresStore::SendInsertFirst(const Group& group, int64_t committed_time) {
  // Candidates: identities that occur once (a repeated one is decided record by record), as
  // version 1 of their record, in key order (see WriteRecords).
  std::vector<Slot*> rows;
  for (size_t s : group.slots) {
    Slot& slot = slots_[s];
    if (slot.repeated) continue;
    slot.last = slot.first;
    slot.last_version = 1;
    rows.push_back(&slot);
  }
  if (rows.empty()) return int64_t{0};
  std::sort(rows.begin(), rows.end(), [](const Slot* a, const Slot* b) {
    const model::RecordKey& x = a->first->key;
    const model::RecordKey& y = b->first->key;
    return std::tie(x.company_id, x.source_system, x.external_id) <
           std::tie(y.company_id, y.source_system, y.external_id);
  });
  const size_t n = group.entity->fields.size();
  // The identity, AddRecordColumns' columns, created_at and updated_at.
  CopyRows copy(static_cast<int>(3 + n + kColumnsAfterFields + 2));
  std::string scratch;
  for (const Slot* slot : rows) {
    const model::CanonicalRecord& record = *slot->first;
    copy.StartRow();
    copy.Add(record.key.company_id);
    copy.Add(record.key.source_system);
    copy.Add(record.key.external_id);
    AddRecordColumns(
        record, 1, [&copy](size_t) -> CopyRows& { return copy; }, scratch);
    copy.AddInt(committed_time);  // created_at
    copy.AddInt(committed_time);  // updated_at
  }
  REGLO_RETURN_IF_ERROR(conn_->SendCopy(group.sql->copy_new, copy, "inserting records"));
  // Decided as created, written already (once the statement lands in full).
  for (Slot* slot : rows) {
    slot->inserted = true;
    slot->last = nullptr;
    slot->last_version = 0;
  }
  return static_cast<int64_t>(rows.size());
}

Status PostgresStore::Lookup(const Group& group, bool repeated_only) {
  ArrayBuilder company(kTextOid), source(kTextOid), external_id(kTextOid), hash(kByteaOid);
  std::string hash_bytes;
  std::vector<size_t> looked_up;
  looked_up.reserve(group.slots.size());
  for (size_t s : group.slots) {
    const Slot& slot = slots_[s];
    if (repeated_only && !slot.repeated) continue;
    looked_up.push_back(s);
    company.Add(slot.first->key.company_id);
    source.Add(slot.first->key.source_system);
    external_id.Add(slot.first->key.external_id);
    // A repeated identity always needs the stored values: a later record may differ from them
    // even when the first one does not.
    if (slot.repeated) {
      hash.AddNull();
    } else {
      ContentHashToBytes(slot.first->content_hash, hash_bytes);
      hash.Add(hash_bytes);
    }
  }
  if (looked_up.empty()) return Status::Ok();
  Params params;
  params.Array(company).Array(source).Array(external_id).Array(hash);
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query(group.sql->lookup, params, "looking up stored records"));
  const size_t n = group.entity->fields.size();
  for (int r = 0; r < rows.size(); ++r) {
    const int64_t position = rows.Int(r, kLookSlot);
    if (position < 1 || static_cast<size_t>(position) > looked_up.size()) {
      return Status::Internal("postgres: the record lookup returned an unknown position");
    }
    Slot& slot = slots_[looked_up[static_cast<size_t>(position - 1)]];
    slot.stored = true;
    slot.stored_version = rows.Int(r, kLookVersion);
    model::StoredState& state = slot.state.emplace();
    state.version = slot.stored_version;
    ContentHashFromStored(rows.Bytes(r, kLookContentHash), state.content_hash);
    if (!rows.IsNull(r, kLookSourceUpdatedAt)) {
      state.source_updated_at = DecodeStoredTime(rows.Int(r, kLookSourceUpdatedAt));
    }
    // The stored values only matter when the content differs (to name the changed fields).
    if (rows.Text(r, kLookDiffers) == "t") {
      state.values.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        state.values.push_back(rows.OptString(r, kLookFirstField + static_cast<int>(i)));
      }
      state.extra = model::ExtraFromJson(rows.String(r, kLookExtra));
    }
  }
  return Status::Ok();
}

Params PostgresStore::RecordParams(const Group& group, const std::vector<const Slot*>& rows,
                                   bool with_expected_version, int64_t committed_time) {
  const size_t n = group.entity->fields.size();
  ArrayBuilder company(kTextOid), source(kTextOid), external_id(kTextOid), expected(kInt8Oid);
  // AddRecordColumns' columns: the fields, then version (int8), content hash (bytea), source
  // updated at (int8), extra, warnings and source hash (int8).
  std::vector<ArrayBuilder> columns(n + kColumnsAfterFields, ArrayBuilder(kTextOid));
  columns[n] = ArrayBuilder(kInt8Oid);
  columns[n + 1] = ArrayBuilder(kByteaOid);
  columns[n + 2] = ArrayBuilder(kInt8Oid);
  columns[n + 5] = ArrayBuilder(kInt8Oid);
  std::string scratch;
  for (const Slot* slot : rows) {
    const model::CanonicalRecord& record = *slot->last;
    company.Add(record.key.company_id);
    source.Add(record.key.source_system);
    external_id.Add(record.key.external_id);
    expected.AddInt(slot->stored_version);
    AddRecordColumns(
        record, slot->last_version, [&columns](size_t c) -> ArrayBuilder& { return columns[c]; },
        scratch);
  }
  Params params;
  params.Array(company).Array(source).Array(external_id);
  if (with_expected_version) params.Array(expected);
  for (ArrayBuilder& column : columns) params.Array(column);
  params.Int(committed_time);
  return params;
}

Result<bool> PostgresStore::WriteRecords(const Group& group, int64_t committed_time) {
  std::vector<const Slot*> inserts;
  std::vector<const Slot*> updates;
  for (size_t s : group.slots) {
    const Slot& slot = slots_[s];
    if (slot.last == nullptr || slot.inserted) continue;
    (slot.stored ? updates : inserts).push_back(&slot);
  }
  // Key order: concurrent writers then wait for each other's rows in one order (no deadlock).
  const auto by_key = [](const Slot* a, const Slot* b) {
    const model::RecordKey& x = a->last->key;
    const model::RecordKey& y = b->last->key;
    return std::tie(x.company_id, x.source_system, x.external_id) <
           std::tie(y.company_id, y.source_system, y.external_id);
  };
  for (const bool update : {false, true}) {
    std::vector<const Slot*>& rows = update ? updates : inserts;
    if (rows.empty()) continue;
    std::sort(rows.begin(), rows.end(), by_key);
    REGLO_ASSIGN_OR_RETURN(
        written,
        conn_->Query(update ? group.sql->update : group.sql->insert,
                     RecordParams(group, rows, /*with_expected_version=*/update, committed_time),
                     update ? "updating records" : "inserting records"));
    if (written.Affected() != static_cast<int64_t>(rows.size())) return false;
  }
  return true;
}

Status PostgresStore::WriteBookkeeping(const CheckpointBatch& batch,
                                       const CheckpointResult& result) {
  const RunCounters& counters = result.counters;
  if (!batch.rejections.empty()) {
    ArrayBuilder stage(kTextOid), entity(kTextOid), external_id(kTextOid), origin(kTextOid),
        reason(kTextOid);
    for (const model::Rejection& rejection : batch.rejections) {
      stage.Add(rejection.stage);
      entity.Add(rejection.entity);
      external_id.Add(rejection.key.external_id);
      origin.Add(rejection.origin);
      reason.Add(rejection.reason);
    }
    Params params;
    params.Int(batch.run_id)
        .Text(batch.source_id)
        .Text(batch.committed_at)
        .Array(stage)
        .Array(entity)
        .Array(external_id)
        .Array(origin)
        .Array(reason);
    REGLO_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO integration_dead_letters (run_id, source_id, stage, entity, "
                    "external_id, origin, reason, created_at) "
                    "SELECT $1, $2, d.stage, d.entity, d.external_id, d.origin, d.reason, $3 "
                    "FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) "
                    "AS d(stage, entity, external_id, origin, reason)",
                    params, "storing dead letters")
            .status());
  }
  if (!batch.log_lines.empty()) {
    ArrayBuilder at(kTextOid), level(kTextOid), message(kTextOid);
    for (const RunLogLine& line : batch.log_lines) {
      at.Add(line.at);
      level.Add(LogLevelName(line.level));
      message.Add(line.message);
    }
    Params params;
    params.Int(batch.run_id).Array(at).Array(level).Array(message);
    REGLO_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO integration_run_logs (run_id, at, level, message) "
                    "SELECT $1, l.at, l.level, l.message "
                    "FROM unnest($2::text[], $3::text[], $4::text[]) AS l(at, level, message)",
                    params, "appending run log lines")
            .status());
  }
  {
    Params params;
    params.Int(batch.seen)
        .Int(counters.created)
        .Int(counters.updated)
        .Int(counters.unchanged)
        .Int(counters.stale)
        .Int(batch.warnings)
        .Int(static_cast<int64_t>(batch.rejections.size()))
        .Int(batch.run_id)
        .Int(result.events);
    REGLO_ASSIGN_OR_RETURN(updated,
                           conn_->Query("UPDATE integration_runs SET seen = seen + $1, "
                                        "created = created + $2, updated = updated + $3, "
                                        "unchanged = unchanged + $4, stale = stale + $5, "
                                        "warnings = warnings + $6, rejected = rejected + $7, "
                                        "events = events + $9 WHERE id = $8",
                                        params, "adding run counters"));
    if (updated.Affected() != 1) {
      // Committing records without their run would leave counters nobody can account for.
      return Status::NotFound(fmt::format("run {} does not exist", batch.run_id));
    }
  }
  if (batch.cursor) {
    Params params;
    params.Text(batch.source_id).Text(batch.stream).Text(*batch.cursor).Text(batch.committed_at);
    REGLO_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO integration_cursors (source_id, stream, cursor, updated_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (source_id, stream) DO UPDATE SET "
                    "cursor = excluded.cursor, updated_at = excluded.updated_at",
                    params, "advancing the cursor")
            .status());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Records, events, dead letters

}  // namespace reglo::storage::postgres
