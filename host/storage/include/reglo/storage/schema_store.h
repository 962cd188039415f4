// SchemaStore: the storage role that creates and upgrades a database's schema (the CLI's migrate,
// every process's start-up). Implemented by every backend; callers hold a reference to a store they
// or a factory own. Thread-safety: one thread at a time per store object.
#pragma once

#include "reglo/core/status.h"

namespace reglo::storage {

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
