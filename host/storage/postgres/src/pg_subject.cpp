// PostgresStore: personal data (SubjectStore, issue #18) over the shared subject_sql.h code.
#include "pg_session.h"
#include "postgres_store_impl.h"
#include "reglo/storage/subject_sql.h"

namespace reglo::storage::postgres {
namespace {

constexpr int kMaxErasureAttempts = 3;

}  // namespace

Result<ErasureResult> PostgresStore::LockEventOrder() {
  REGLO_RETURN_IF_ERROR(conn_
                            ->Query("SELECT pg_advisory_xact_lock($1)",
                                    Params().Int(kEventOrderLock), "ordering the outbox")
                            .status());
  return ErasureResult{};
}

Result<SubjectExport> PostgresStore::ExportSubject(const SubjectQuery& query) {
  REGLO_RETURN_IF_ERROR(Ready());
  // One snapshot: the records, events and logs of the export agree with each other.
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(
      tx.Begin("exporting a subject", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  PgSession session(*conn_);
  REGLO_ASSIGN_OR_RETURN(data, ExportSubjectIn(session, query));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return data;
}

Result<ErasureResult> PostgresStore::EraseSubject(const SubjectQuery& query,
                                                  const std::string& now) {
  REGLO_RETURN_IF_ERROR(Ready());
  for (int attempt = 1;; ++attempt) {
    Transaction tx(*conn_);
    REGLO_RETURN_IF_ERROR(tx.Begin("erasing a subject"));
    // Events are appended in commit order, as checkpoints do (kEventOrderLock, taken before
    // the append), so a relay reading the outbox never passes the student.erased event by.
    Result<ErasureResult> result = LockEventOrder();
    if (result.ok()) {
      PgSession session(*conn_);
      result = EraseSubjectIn(session, query, now);
    }
    if (result.ok()) {
      Status committed = tx.Commit();
      if (committed.ok()) return result;
      result = committed;
    }
    const bool conflict =
        result.status().code() == StatusCode::kRetryable && conn_->LastFailureIsConflict();
    if (!conflict || attempt == kMaxErasureAttempts) return result.status();
  }
}

Result<int64_t> PostgresStore::PrunePersonalData(const std::string& source_id, PersonalPrune target,
                                                 const std::string& before, int limit) {
  REGLO_RETURN_IF_ERROR(Ready());
  PgSession session(*conn_);
  return PrunePersonalDataIn(session, source_id, target, before, limit);
}

Result<int64_t> PostgresStore::HandleInactiveStudents(const std::string& source_id,
                                                      const std::string& before,
                                                      InactiveAction action, const std::string& now,
                                                      int limit) {
  REGLO_RETURN_IF_ERROR(Ready());
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("handling inactive students"));
  if (action == InactiveAction::kErase) REGLO_RETURN_IF_ERROR(LockEventOrder().status());
  PgSession session(*conn_);
  REGLO_ASSIGN_OR_RETURN(handled,
                         HandleInactiveStudentsIn(session, source_id, before, action, now, limit));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return handled;
}

Result<std::vector<InactiveStudent>> PostgresStore::ListInactiveStudents(int limit) {
  REGLO_RETURN_IF_ERROR(Ready());
  PgSession session(*conn_);
  return ListInactiveStudentsIn(session, limit);
}

}  // namespace reglo::storage::postgres
