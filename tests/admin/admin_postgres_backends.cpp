// admin_postgres_test: the admin API suite on PostgreSQL (a fresh database per test on the
// throwaway cluster of the pg_cluster fixture, or on $REGLO_TEST_PG_URL).
#include <memory>

#include "admin_backends.h"
#include "postgres_test_support.h"

namespace reglo::admin {

std::vector<storage::testing::BackendParam> AdminBackends() {
  return {{"Postgres", [] { return std::make_unique<storage::testing::PostgresBackend>(); }}};
}

}  // namespace reglo::admin
