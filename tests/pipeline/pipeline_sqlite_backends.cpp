// pipeline_test: the pipeline suites on SQLite (a fresh database file per test).
#include <memory>

#include "pipeline_backends.h"
#include "sqlite_test_support.h"

namespace reglo::pipeline {

std::vector<storage::testing::BackendParam> PipelineBackends() {
  return {{"Sqlite", [] { return std::make_unique<storage::testing::SqliteBackend>(); }}};
}

}  // namespace reglo::pipeline
