// SqliteStore: personal data (SubjectStore, issue #18) over the shared subject_sql.h code.
#include "reglo/storage/subject_sql.h"
#include "sqlite_session.h"
#include "sqlite_store_impl.h"

namespace reglo::storage::sqlite {

Result<SubjectExport> SqliteStore::ExportSubject(const SubjectQuery& query) {
  // One read snapshot: the records, events and logs of the export agree with each other.
  REGLO_RETURN_IF_ERROR(db_->Exec("BEGIN", "exporting a subject"));
  SqliteSession session(*db_);
  Result<SubjectExport> data = ExportSubjectIn(session, query);
  const Status ended = db_->Exec("COMMIT", "exporting a subject");
  if (!data.ok()) return data.status();
  REGLO_RETURN_IF_ERROR(ended);
  return data;
}

Result<ErasureResult> SqliteStore::EraseSubject(const SubjectQuery& query, const std::string& now) {
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("erasing a subject"));
  SqliteSession session(*db_);
  REGLO_ASSIGN_OR_RETURN(result, EraseSubjectIn(session, query, now));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  if (result.records > 0 || result.events_rewritten > 0) {
    // The WAL still holds the pages as they were: copy them into the database file (where
    // secure_delete zeroed the erased bytes) and empty it. Best effort: a reader that holds an
    // old snapshot keeps the WAL until the next checkpoint.
    (void)db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)", "checkpointing the WAL after an erasure");
  }
  return result;
}

Result<int64_t> SqliteStore::PrunePersonalData(const std::string& source_id, PersonalPrune target,
                                               const std::string& before, int limit) {
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("pruning personal data"));
  SqliteSession session(*db_);
  REGLO_ASSIGN_OR_RETURN(pruned, PrunePersonalDataIn(session, source_id, target, before, limit));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return pruned;
}

Result<int64_t> SqliteStore::HandleInactiveStudents(const std::string& source_id,
                                                    const std::string& before,
                                                    InactiveAction action, const std::string& now,
                                                    int limit) {
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("handling inactive students"));
  SqliteSession session(*db_);
  REGLO_ASSIGN_OR_RETURN(handled,
                         HandleInactiveStudentsIn(session, source_id, before, action, now, limit));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return handled;
}

Result<std::vector<InactiveStudent>> SqliteStore::ListInactiveStudents(int limit) {
  SqliteSession session(*db_);
  return ListInactiveStudentsIn(session, limit);
}

Result<std::optional<CheckpointBatch>> SqliteStore::ErasureRule(const CheckpointBatch& batch,
                                                                std::vector<size_t>& skipped) {
  SqliteSession session(*db_);
  return ApplyErasureRule(session, batch, skipped);
}

}  // namespace reglo::storage::sqlite
