// The store backends the admin API suite (admin_api_test.cpp) runs on: each test executable links
// one definition (admin_sqlite_backends.cpp or admin_postgres_backends.cpp, which needs the
// pg_cluster fixture), like tests/pipeline.
#pragma once

#include <vector>

#include "store_test.h"

namespace reglo::admin {

std::vector<storage::testing::BackendParam> AdminBackends();

}  // namespace reglo::admin
