// AdminStore: the storage role of the admin API and the CLI's inspection commands (issue #5):
// hub settings (the admin token), API-managed sources, cursors, the run history, the record
// browser and run totals (metrics). Implemented by every backend; callers hold a reference to a
// store they or a factory own. Thread-safety: one thread at a time per store object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/model/record.h"
#include "reglo/storage/rows.h"

namespace reglo::storage {

class AdminStore {
 public:
  virtual ~AdminStore() = default;

  // A hub setting (integration_settings); nullopt when never set.
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  virtual Status PutSetting(const std::string& key, const std::string& value,
                            const std::string& now) = 0;
  // Sources created through the admin API, by id.
  virtual Result<std::vector<ApiSourceRow>> ListApiSources() = 0;
  // Inserts or replaces (by id) an API-created source; created_at is kept on a replace.
  virtual Status PutApiSource(const ApiSourceRow& source) = 0;
  // False when there was no such API-created source.
  virtual Result<bool> DeleteApiSource(const std::string& id) = 0;
  // Forgets a source's runtime state: its integration_sources row, cursors and lease. Runs,
  // records, events and dead letters stay (history). False when there was no such source row.
  virtual Result<bool> DeleteSource(const std::string& id) = 0;
  // Every stream's cursor of `source_id`, by stream.
  virtual Result<std::vector<CursorRow>> ListCursors(const std::string& source_id) = 0;
  // Deletes every cursor of `source_id` (its next run is a full pull); returns how many.
  virtual Result<int64_t> ResetCursors(const std::string& source_id) = 0;
  // Runs of `source_id` with an id below `before_id` (0: from the newest), newest first.
  virtual Result<std::vector<RunInfo>> ListRunsBefore(const std::string& source_id,
                                                      int64_t before_id, int limit) = 0;
  // Per source and run status: how many runs, their counters summed, the last finish time.
  virtual Result<std::vector<RunTotals>> ListRunTotals() = 0;

  // The stored state of one record; nullopt when there is none.
  virtual Result<std::optional<StoredRecord>> GetRecord(const model::EntitySpec& entity,
                                                        const model::RecordKey& key) = 0;
  virtual Result<int64_t> CountRecords(const model::EntitySpec& entity) = 0;
  // A page of `entity`'s records ordered by (company, source system, externalId).
  virtual Result<RecordPage> BrowseRecords(const model::EntitySpec& entity,
                                           const RecordQuery& query) = 0;
};

}  // namespace reglo::storage
