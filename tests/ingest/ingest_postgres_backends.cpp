#include <memory>

#include "ingest_backends.h"
#include "postgres_test_support.h"

namespace reglo::ingest {

std::vector<storage::testing::BackendParam> IngestBackends() {
  return {{"Postgres", [] { return std::make_unique<storage::testing::PostgresBackend>(); }}};
}

}  // namespace reglo::ingest
