// Test support for the SQLite backend: a private temp folder, a raw connection next to the store,
// and SqliteBackend, the StoreBackend of the shared suites (store_test.h, tests/pipeline) on a
// fresh database file per instance. Test-only code; each object is used by one thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "reglo/core/status.h"
#include "store_test.h"
#include "temp_dir.h"

namespace reglo::storage::testing {

// A directory of its own under the system temp dir, removed with everything in it.
using reglo::testing::TempDir;

// Runs SQL on its own connection, next to whatever store has the file open.
class SqliteRawConnection {
 public:
  explicit SqliteRawConnection(const std::string& path);
  ~SqliteRawConnection();
  SqliteRawConnection(const SqliteRawConnection&) = delete;
  SqliteRawConnection& operator=(const SqliteRawConnection&) = delete;

  Status Execute(const std::string& sql);
  Result<int64_t> QueryInt(const std::string& sql);
  Result<std::string> QueryText(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
};

// A fresh database file in a private temp folder, removed at destruction.
class SqliteBackend final : public StoreBackend {
 public:
  Result<std::unique_ptr<Store>> Open() override;
  Status ExecuteSql(const std::string& sql) override;
  Result<int64_t> QueryInt(const std::string& sql) override;
  Result<std::string> QueryText(const std::string& sql) override;
  std::string DatabaseFile() const override { return path(); }
  Status BreakInsertsInto(const std::string& table) override;

  std::string path() const { return (dir_.path() / "hub.db").string(); }

 private:
  TempDir dir_;
};

}  // namespace reglo::storage::testing
