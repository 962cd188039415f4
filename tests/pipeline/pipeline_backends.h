// The store backends the pipeline suites (sync_test.cpp, sample_test.cpp) run on. Each test
// executable links exactly one definition: pipeline_sqlite_backends.cpp (pipeline_test) or
// pipeline_postgres_backends.cpp (pipeline_postgres_test, which needs the pg_cluster fixture), so
// the SQLite suite never depends on a PostgreSQL server.
#pragma once

#include <vector>

#include "store_test.h"

namespace reglo::pipeline {

// One BackendParam per backend; called while the test cases are registered.
std::vector<storage::testing::BackendParam> PipelineBackends();

}  // namespace reglo::pipeline
