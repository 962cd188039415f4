// The data-subject code both backends share (issue #18): the SubjectStore operations and the
// re-pull rule of erased records, written once over SqlSession, a backend's connection inside the
// transaction it opened. The SQL is portable and uses PostgreSQL's numbered parameters ($1, $2);
// the SQLite backend spells them ?N (SqliteParameters). Stateless functions; a SqlSession belongs
// to the one thread that uses its store.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/row_codec.h"
#include "reglo/storage/sql_session.h"
#include "reglo/storage/subject_store.h"

namespace reglo::storage {

// The SubjectStore operations, inside the caller's transaction (EraseSubjectIn and
// HandleInactiveStudentsIn need one; the caller commits).
Result<SubjectExport> ExportSubjectIn(SqlSession& sql, const SubjectQuery& query);
Result<ErasureResult> EraseSubjectIn(SqlSession& sql, const SubjectQuery& query,
                                     const std::string& now);
Result<int64_t> PrunePersonalDataIn(SqlSession& sql, const std::string& source_id,
                                    PersonalPrune target, const std::string& before, int limit);
Result<int64_t> HandleInactiveStudentsIn(SqlSession& sql, const std::string& source_id,
                                         const std::string& before, InactiveAction action,
                                         const std::string& now, int limit);
Result<std::vector<InactiveStudent>> ListInactiveStudentsIn(SqlSession& sql, int limit);

// The re-pull rule (issue #18 §1): what a checkpoint does with a record that was erased. The
// rule is a hub setting (AdminStore settings) written from the config at start: the key of
// source `source_id`, or of the hub default when empty; value "recreate" or "stay_erased"
// (the default when neither is set).
std::string AfterErasureSettingKey(std::string_view source_id);
inline constexpr std::string_view kRecreateErased = "recreate";
inline constexpr std::string_view kStayErased = "stay_erased";

// Inside a checkpoint's transaction, before its records are applied. Stay erased: returns the
// batch without its erased records, counted in its `unchanged` (nothing is written for them),
// and their indexes in `skipped`. Recreate: forgets that they were erased (they are then stored
// as any update) and returns nullopt. Returns nullopt at the cost of one indexed lookup per
// company and source system when no record of the batch was erased.
Result<std::optional<CheckpointBatch>> ApplyErasureRule(SqlSession& sql,
                                                        const CheckpointBatch& batch,
                                                        std::vector<size_t>& skipped);
// After the filtered batch was applied: an `unchanged` outcome at each skipped index, so
// result.outcomes matches the original batch again.
void RestoreSkipped(CheckpointResult& result, const std::vector<size_t>& skipped);

// Per source, how long its personal data is kept (issue #18 §2): each age 0 = only the hub's
// general retention applies. A source's ages only shorten the hub's (whichever is shorter wins).
struct PersonalDataPolicy {
  std::chrono::milliseconds dead_letters{0};
  std::chrono::milliseconds run_logs{0};
  std::chrono::milliseconds inactive_after{0};  // 0: students are never flagged nor erased
  InactiveAction inactive_action = InactiveAction::kFlag;
};

struct PersonalDataReport {
  int64_t dead_letters = 0;
  int64_t run_log_lines = 0;
  int64_t inactive_flagged = 0;
  int64_t inactive_erased = 0;
};

// One pass of the personal-data retention over every source in `policies` (by source id), at
// `now`, `batch_rows` rows per transaction. Stops at the first store error.
Result<PersonalDataReport> HousekeepPersonalData(
    SubjectStore& store, const std::vector<std::pair<std::string, PersonalDataPolicy>>& policies,
    std::chrono::system_clock::time_point now, int batch_rows);

}  // namespace reglo::storage
