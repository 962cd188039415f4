#include <memory>

#include "ingest_backends.h"
#include "sqlite_test_support.h"

namespace reglo::ingest {

std::vector<storage::testing::BackendParam> IngestBackends() {
  return {{"Sqlite", [] { return std::make_unique<storage::testing::SqliteBackend>(); }}};
}

}  // namespace reglo::ingest
