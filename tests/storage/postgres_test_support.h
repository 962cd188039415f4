// Test support for the PostgreSQL backend: which server the tests use, a fresh database per
// backend instance (dropped afterwards), and raw SQL next to the store.
//
// The server is $REGLO_TEST_PG_URL when set (an existing server; its user must be allowed to
// CREATE DATABASE), else the throwaway cluster the CTest fixture pg_cluster_start started
// (tools/pg-test-cluster writes its URL to REGLO_PG_TEST_STATE_DIR/url). Without either, every
// test fails with a message saying so: the PostgreSQL suite never skips silently.
// Test-only code; each object is used by one thread.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>

#include "reglo/core/status.h"
#include "reglo/storage/postgres_store.h"
#include "store_test.h"

namespace reglo::storage::testing {

// The URL of the test server, or why there is none.
Result<PostgresUrl> TestServerUrl();

// True when the server is the fixture's throwaway cluster (so a test may restart it).
bool UsingThrowawayCluster();

// Restarts the throwaway cluster (pg_ctl restart -m fast): every connection is dropped.
Status RestartThrowawayCluster();

// One libpq connection for the SQL a test runs behind the store's back.
class RawConnection {
 public:
  explicit RawConnection(const PostgresUrl& url);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  Status Execute(const std::string& sql);
  Result<int64_t> QueryInt(const std::string& sql);
  Result<std::string> QueryText(const std::string& sql);

 private:
  PGconn* conn_ = nullptr;
  std::string error_;
};

// A fresh database on the test server, created at construction and dropped (WITH FORCE) at
// destruction. When the server cannot be reached, every call returns that error.
class PostgresBackend final : public StoreBackend {
 public:
  PostgresBackend();
  ~PostgresBackend() override;

  Result<std::unique_ptr<Store>> Open() override;
  Status ExecuteSql(const std::string& sql) override;
  Result<int64_t> QueryInt(const std::string& sql) override;
  Status BreakInsertsInto(const std::string& table) override;

  // The URL of this backend's database.
  const PostgresUrl& url() const { return url_; }
  Result<std::string> QueryText(const std::string& sql) override;

 private:
  PostgresUrl server_;  // the server's own database: where this one is created and dropped
  PostgresUrl url_;
  Status status_;  // why there is no database
};

}  // namespace reglo::storage::testing
