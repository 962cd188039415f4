// The background WAL checkpointer of the SQLite backend (a private part of it, tested directly).
#include "wal_checkpointer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "sqlite_test_support.h"

namespace reglo::storage::sqlite {
namespace {

int64_t FileSize(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<int64_t>(size);
}

class WalCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_.path() / "wal.db").string();
    ASSERT_EQ(sqlite3_open(path_.c_str(), &writer_), SQLITE_OK);
    ASSERT_EQ(Exec("PRAGMA journal_mode=WAL; CREATE TABLE t (x BLOB)"), SQLITE_OK);
  }
  void TearDown() override { sqlite3_close(writer_); }
  int Exec(const char* sql) { return sqlite3_exec(writer_, sql, nullptr, nullptr, nullptr); }
  // Commits `pages` pages' worth of rows, one transaction per 100 pages.
  void Write(int pages) {
    for (int done = 0; done < pages; done += 100) {
      ASSERT_EQ(Exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                     "WHERE i < 100) INSERT INTO t SELECT randomblob(3900) FROM n; COMMIT"),
                SQLITE_OK);
    }
  }

  testing::TempDir dir_;
  std::string path_;
  sqlite3* writer_ = nullptr;
};

TEST_F(WalCheckpointerTest, CopiesTheWalIntoTheDatabaseOffTheWritersThread) {
  std::shared_ptr<WalCheckpointer> checkpointer = WalCheckpointer::ForFile(path_);
  checkpointer->Attach(writer_);
  EXPECT_EQ(WalCheckpointer::ForFile(path_), checkpointer) << "one per file";
  const int64_t empty_size = FileSize(path_);
  Write(WalCheckpointer::kBackgroundPages + 200);
  ASSERT_TRUE(checkpointer->WaitForCheckpoints(1, std::chrono::seconds(60)));
  // The rows reached the database file although the writer never checkpointed (its commit hook
  // is the checkpointer's, which asks the background thread).
  EXPECT_GT(FileSize(path_), empty_size + 4'000'000);
}

TEST_F(WalCheckpointerTest, NothingHappensBelowTheThreshold) {
  std::shared_ptr<WalCheckpointer> checkpointer = WalCheckpointer::ForFile(path_);
  checkpointer->Attach(writer_);
  Write(200);
  EXPECT_EQ(checkpointer->checkpoints(), 0);
}

}  // namespace
}  // namespace reglo::storage::sqlite
