// SchemaStore: the storage role that creates and upgrades a database's schema (the CLI's migrate,
// every process's start-up). Implemented by every backend; callers hold a reference to a store they
// or a factory own. Thread-safety: one thread at a time per store object.
#pragma once

#include <functional>
#include <string_view>

#include "reglo/core/status.h"

namespace reglo::storage {

// One migration about to be applied: `version` (named `name`) on the way from schema version
// `from` to `latest`. Some rebuild a table, seconds per million records, so the opener of a store
// is told of each (OpenSqliteStore, OpenPostgresStore), on the migrating thread, to show progress.
struct MigrationStep {
  int version = 0;
  std::string_view name;
  int from = 0;
  int latest = 0;
};
using MigrationObserver = std::function<void(const MigrationStep&)>;

class SchemaStore {
 public:
  virtual ~SchemaStore() = default;

  // Applies every migration not yet applied; safe to call at every start.
  virtual Status Migrate() = 0;
  // The number of the last applied migration (0 for an empty database).
  virtual Result<int> SchemaVersion() = 0;
  // The number of the newest migration this build knows.
  virtual int LatestSchemaVersion() const = 0;
};

}  // namespace reglo::storage
