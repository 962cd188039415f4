// pipeline_postgres_test: the pipeline suites on PostgreSQL (a fresh database per test on the
// throwaway cluster of the pg_cluster fixture, or on $REGLO_TEST_PG_URL).
#include <memory>

#include "pipeline_backends.h"
#include "postgres_test_support.h"

namespace reglo::pipeline {

std::vector<storage::testing::BackendParam> PipelineBackends() {
  return {{"Postgres", [] { return std::make_unique<storage::testing::PostgresBackend>(); }}};
}

}  // namespace reglo::pipeline
