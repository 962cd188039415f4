// The store backends the ingestion API suite (ingest_api_test.cpp) runs on: one definition per
// test executable (ingest_sqlite_backends.cpp or ingest_postgres_backends.cpp), like the
// pipeline suites, so the SQLite run never needs a PostgreSQL server. Test-only code.
#pragma once

#include <vector>

#include "store_test.h"

namespace reglo::ingest {

std::vector<storage::testing::BackendParam> IngestBackends();

}  // namespace reglo::ingest
