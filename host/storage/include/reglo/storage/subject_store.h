// SubjectStore: the storage role of data subjects' rights (issue #18, GDPR art. 15, 17 and
// 5(1)(e)): export everything stored about a student, erase it in one transaction, and expire
// the personal data a source's history holds. Implemented by every backend over the shared code
// of subject_sql.h; callers hold a reference to a store they or a factory own. Thread-safety: one
// thread at a time per store object, like every role.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/housekeeping_store.h"
#include "reglo/storage/rows.h"

namespace reglo::storage {

// Who the request is about: a company's students with one codice fiscale (the same person may be
// a student of several source systems), or one record named by entity and externalId (a student,
// or a case, appointment, document or payment: then the student it references).
struct SubjectQuery {
  std::string company_id;   // required
  std::string fiscal_code;  // either this...
  std::string entity;       // ...or these two
  std::string external_id;
  std::string source_system;  // optional with entity + external_id: "" = any
  // Further text to scrub from run logs and dead letters besides the subject's stored values,
  // such as the keyed hash the logs show of the codice fiscale (the store cannot compute it).
  std::vector<std::string> extra_needles;

  bool ByFiscalCode() const { return !fiscal_code.empty(); }
};

// One stored record of the subject: the student or a record that references them.
struct SubjectRecord {
  std::string entity;
  model::RecordKey key;
  int64_t version = 0;
  std::string created_at;
  std::string updated_at;
  std::string record_json;  // the canonical fields and extra, as events carry them (RecordJson)
  bool erased = false;      // a tombstone: its personal fields were erased
};

struct SubjectRunLogLine {
  int64_t run_id = 0;
  std::string source_id;
  RunLogLine line;
};

// Everything stored about a subject (SubjectStore::ExportSubject).
struct SubjectExport {
  std::vector<SubjectRecord> records;       // students first, then the records referencing them
  std::vector<StoredEvent> events;          // the outbox events of those records, by sequence
  std::vector<DeliveryRow> deliveries;      // deliveries of those events
  std::vector<DeadLetter> dead_letters;     // of those records, or quoting the subject's values
  std::vector<SubjectRunLogLine> run_logs;  // lines quoting the subject's values

  bool found() const { return !records.empty(); }
};

// What an erasure did (SubjectStore::EraseSubject).
struct ErasureResult {
  bool found = false;           // false: nothing stored matches the query
  bool already_erased = false;  // every record was a tombstone already: no new event
  int64_t students = 0;
  int64_t records = 0;           // records blanked (students included)
  int64_t events_rewritten = 0;  // outbox events whose data was replaced by the erased payload
  int64_t dead_letters = 0;      // dead letters deleted or scrubbed
  int64_t run_log_lines = 0;     // run log lines scrubbed
  std::vector<StoredEvent> erased_events;  // the student.erased events appended
};

// The personal data a source's history may hold, and how long it is kept (issue #18 §2).
enum class PersonalPrune {
  kDeadLetters,  // the source's dead letters, by created_at
  kRunLogs,      // the source's run log lines, by their time
};

// What happens to students with no activity for a while.
enum class InactiveAction { kFlag, kErase };

struct InactiveStudent {
  model::RecordKey key;
  std::string last_activity_at;  // the latest updated_at of the student and its records
  std::string flagged_at;
};

class SubjectStore {
 public:
  virtual ~SubjectStore() = default;

  // Everything stored about the subject; found() is false when nothing matches. InvalidArgument
  // when the query names neither a codice fiscale nor an entity and externalId, or an entity
  // that is not canonical.
  virtual Result<SubjectExport> ExportSubject(const SubjectQuery& query) = 0;
  // In ONE transaction: blanks the personal fields, extra fields and warnings of the subject's
  // records (the rows stay as tombstones, registered in integration_erasures), rewrites their
  // outbox events' data to the erased payload, deletes their dead letters, scrubs their values
  // out of the company's run logs, dead letters and delivery errors, and appends one
  // `student.erased` event per student not erased before (at `now`, a FormatUtc timestamp).
  // Idempotent: a second call changes nothing and appends no event.
  virtual Result<ErasureResult> EraseSubject(const SubjectQuery& query, const std::string& now) = 0;

  // Deletes at most `limit` rows of `target` of source `source_id` older than `before`, oldest
  // first, in one short transaction, and returns how many.
  virtual Result<int64_t> PrunePersonalData(const std::string& source_id, PersonalPrune target,
                                            const std::string& before, int limit) = 0;
  // Students of source `source_id` (not erased already) whose last activity (the latest
  // updated_at of the student and of the records referencing it) is before `before`: flagged
  // (integration_inactive_students, at `now`) or erased like EraseSubject; at most `limit` per
  // call. Returns how many were handled.
  virtual Result<int64_t> HandleInactiveStudents(const std::string& source_id,
                                                 const std::string& before, InactiveAction action,
                                                 const std::string& now, int limit) = 0;
  // The students flagged as inactive, oldest activity first.
  virtual Result<std::vector<InactiveStudent>> ListInactiveStudents(int limit) = 0;
};

}  // namespace reglo::storage
