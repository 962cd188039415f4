// admin_test: the admin API suite on SQLite (a fresh database file per test).
#include <memory>

#include "admin_backends.h"
#include "sqlite_test_support.h"

namespace reglo::admin {

std::vector<storage::testing::BackendParam> AdminBackends() {
  return {{"Sqlite", [] { return std::make_unique<storage::testing::SqliteBackend>(); }}};
}

}  // namespace reglo::admin
