// Spool: the agent's durable queue on a real temp folder: batches and cursors survive reopening
// (a restart), an interrupted write's leftover is dropped, the bound refuses what would overflow,
// rejected batches move aside, and a second agent on the same folder is refused.
#include "reglo/agent/spool.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "temp_dir.h"

namespace reglo::agent {
namespace {

namespace fs = std::filesystem;

SpooledBatch Batch(std::string source, std::string body, std::optional<std::string> cursor = {}) {
  SpooledBatch batch;
  batch.source_id = std::move(source);
  batch.stream = "students";
  batch.cursor = std::move(cursor);
  batch.request_id = "req-" + batch.source_id;
  batch.body = std::move(body);
  return batch;
}

class SpoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<Spool> Open(uint64_t max_bytes = 1 << 20) {
    Result<std::unique_ptr<Spool>> spool = Spool::Open(dir_.path() / "spool", max_bytes);
    EXPECT_TRUE(spool.ok()) << spool.status().ToString();
    return spool.ok() ? std::move(*spool) : nullptr;
  }

  testing::TempDir dir_{"reglo_spool_"};
};

TEST_F(SpoolTest, BatchesSurviveAReopenInOrderWithTheirExactBytes) {
  const std::string body("{\"records\":[]}\n\0\xff", 17);
  {
    std::unique_ptr<Spool> spool = Open();
    ASSERT_NE(spool, nullptr);
    ASSERT_EQ(spool->Add(Batch("a", body, "c1")).value(), 1u);
    ASSERT_EQ(spool->Add(Batch("b", "second")).value(), 2u);
  }
  std::unique_ptr<Spool> spool = Open();
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->Pending(), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(spool->HasPending("a"));
  EXPECT_FALSE(spool->HasPending("c"));
  Result<SpooledBatch> first = spool->Read(1);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->source_id, "a");
  EXPECT_EQ(first->stream, "students");
  EXPECT_EQ(first->request_id, "req-a");
  EXPECT_EQ(first->cursor, std::optional<std::string>("c1"));
  EXPECT_EQ(first->body, body);
  EXPECT_EQ(spool->Read(2)->cursor, std::nullopt);

  ASSERT_TRUE(spool->Remove(1).ok());
  EXPECT_EQ(spool->Pending(), (std::vector<uint64_t>{2}));
  // A new batch after a reopen never reuses a sequence still on disk.
  EXPECT_EQ(spool->Add(Batch("a", "third")).value(), 3u);
}

TEST_F(SpoolTest, AnInterruptedWriteLeavesNoBatchBehind) {
  std::unique_ptr<Spool> spool = Open();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Add(Batch("a", "kept")).ok());
  spool.reset();
  // What a crash between the temporary file and its rename leaves.
  dir_.Write("spool/.tmp-1-000000000002.batch", "{\"source\":\"a\"}\nhalf");
  spool = Open();
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->Pending(), (std::vector<uint64_t>{1}));
  EXPECT_FALSE(fs::exists(dir_.path() / "spool/.tmp-1-000000000002.batch"));
}

TEST_F(SpoolTest, RefusesABatchThatWouldPassTheBoundButNeverWhenEmpty) {
  std::unique_ptr<Spool> spool = Open(/*max_bytes=*/64);
  ASSERT_NE(spool, nullptr);
  // Alone larger than the bound: accepted into the empty spool, so a pull can always progress.
  ASSERT_TRUE(spool->Add(Batch("a", std::string(100, 'x'))).ok());
  Result<uint64_t> full = spool->Add(Batch("a", "more"));
  EXPECT_EQ(full.status().code(), StatusCode::kRetryable);
  EXPECT_EQ(spool->Pending().size(), 1u);
  ASSERT_TRUE(spool->Remove(1).ok());
  EXPECT_EQ(spool->bytes(), 0u);
  EXPECT_TRUE(spool->Add(Batch("a", "more")).ok());
}

TEST_F(SpoolTest, ARejectedBatchMovesAsideForTheOperator) {
  std::unique_ptr<Spool> spool = Open();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Add(Batch("a", "refused")).ok());
  ASSERT_TRUE(spool->Reject(1).ok());
  EXPECT_TRUE(spool->Pending().empty());
  EXPECT_EQ(spool->bytes(), 0u);
  EXPECT_TRUE(fs::exists(dir_.path() / "spool/rejected/000000000001.batch"));
  spool.reset();
  spool = Open();
  ASSERT_NE(spool, nullptr);
  EXPECT_TRUE(spool->Pending().empty());
}

TEST_F(SpoolTest, CursorsAreKeptAcrossAReopen) {
  {
    std::unique_ptr<Spool> spool = Open();
    ASSERT_NE(spool, nullptr);
    EXPECT_EQ(spool->Cursor("a", "students"), std::nullopt);
    ASSERT_TRUE(spool->SetCursor("a", "students", "c1").ok());
    ASSERT_TRUE(spool->SetCursor("a", "students", "c2").ok());
    ASSERT_TRUE(spool->SetCursor("b", "courses", "x").ok());
  }
  std::unique_ptr<Spool> spool = Open();
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->Cursor("a", "students"), std::optional<std::string>("c2"));
  EXPECT_EQ(spool->Cursor("b", "courses"), std::optional<std::string>("x"));
  EXPECT_EQ(spool->Cursor("b", "students"), std::nullopt);
}

TEST_F(SpoolTest, ASecondAgentOnTheSameFolderIsRefused) {
  std::unique_ptr<Spool> first = Open();
  ASSERT_NE(first, nullptr);
  Result<std::unique_ptr<Spool>> second = Spool::Open(dir_.path() / "spool", 1 << 20);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
  EXPECT_NE(second.status().message().find("in use by another agent"), std::string::npos);
  first.reset();  // the lock goes with the first agent
  EXPECT_TRUE(Spool::Open(dir_.path() / "spool", 1 << 20).ok());
}

}  // namespace
}  // namespace reglo::agent
