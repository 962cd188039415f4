// SourceHashes on its own: the stored (external id, source hash) pairs of a stream, looked up by
// id. The rows are fed by a store whose scan is replaced, so sizes and duplicate ids can be chosen
// exactly; the pull end to end is sync_test.cpp's.
#include "source_hashes.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "reglo/model/schema.h"
#include "reglo/storage/forwarding_store.h"
#include "sqlite_test_support.h"

namespace reglo::pipeline {
namespace {

using storage::testing::SqliteBackend;

// A store whose source-hash scan yields `rows` instead of reading the database.
class FeedingStore final : public storage::ForwardingStore {
 public:
  FeedingStore(storage::Store& inner, std::vector<std::pair<std::string, int64_t>> rows)
      : ForwardingStore(inner), rows_(std::move(rows)) {}
  Status ScanSourceHashes(const model::EntitySpec&, const std::string&, const std::string&,
                          const SourceHashRow& row) override {
    for (const auto& [id, hash] : rows_) row(id, hash);
    return Status::Ok();
  }

 private:
  std::vector<std::pair<std::string, int64_t>> rows_;
};

class SourceHashesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = backend_.Open();
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }

  // SourceHashes loaded with `rows` (at most `limit` kept).
  SourceHashes Loaded(std::vector<std::pair<std::string, int64_t>> rows, size_t limit = 1 << 20) {
    FeedingStore feeding(*store_, std::move(rows));
    SourceHashes hashes(*model::FindEntity("student"), Sha256Digest{});
    const Status loaded = hashes.Load(feeding, source_, limit);
    EXPECT_TRUE(loaded.ok()) << loaded.ToString();
    return hashes;
  }

  static std::vector<std::pair<std::string, int64_t>> Numbered(int count) {
    std::vector<std::pair<std::string, int64_t>> rows;
    for (int i = 0; i < count; ++i) rows.emplace_back("S" + std::to_string(i), 1000 + i);
    return rows;
  }

  SqliteBackend backend_;
  std::unique_ptr<storage::Store> store_;
  storage::SourceRow source_{"school", "acme", "gestionale", "csv", "{}"};
};

// Every size from an empty table to a few buckets' worth, then a large one: each stored id is
// found with its own hash only, and ids never stored are not found.
TEST_F(SourceHashesTest, FindsEachStoredIdWithItsOwnHashAndNothingElse) {
  for (int count : {0, 1, 2, 3, 5, 8, 9, 17, 100, 1000, 100000}) {
    SourceHashes hashes = Loaded(Numbered(count));
    ASSERT_EQ(hashes.size(), static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
      const std::string id = "S" + std::to_string(i);
      ASSERT_TRUE(hashes.Unchanged(hashes.KeyFor(id), 1000 + i)) << id << " of " << count;
      ASSERT_FALSE(hashes.Unchanged(hashes.KeyFor(id), 1001 + i)) << id << " of " << count;
    }
    for (int i = count; i < count + 1000; ++i) {
      ASSERT_FALSE(hashes.Unchanged(hashes.KeyFor("S" + std::to_string(i)), 1000 + i))
          << i << " of " << count;
    }
  }
}

// Two entries under one key (what two ids whose 64-bit keys collide look like): both are
// compared, so neither hides the other.
TEST_F(SourceHashesTest, EveryEntryOfOneKeyIsCompared) {
  auto rows = Numbered(5000);
  rows.emplace_back("S42", 7);
  rows.emplace_back("S4999", 9);
  SourceHashes hashes = Loaded(std::move(rows));
  EXPECT_TRUE(hashes.Unchanged(hashes.KeyFor("S42"), 1042));
  EXPECT_TRUE(hashes.Unchanged(hashes.KeyFor("S42"), 7));
  EXPECT_TRUE(hashes.Unchanged(hashes.KeyFor("S4999"), 5999));
  EXPECT_TRUE(hashes.Unchanged(hashes.KeyFor("S4999"), 9));
  EXPECT_FALSE(hashes.Unchanged(hashes.KeyFor("S42"), 9));
}

TEST_F(SourceHashesTest, AForgottenIdIsNeverUnchangedAndTheOthersStay) {
  auto rows = Numbered(10000);
  rows.emplace_back("S77", 5);
  SourceHashes hashes = Loaded(std::move(rows));
  hashes.Forget(hashes.KeyFor("S77"));
  hashes.Forget(hashes.KeyFor("never-stored"));
  EXPECT_FALSE(hashes.Unchanged(hashes.KeyFor("S77"), 1077));
  EXPECT_FALSE(hashes.Unchanged(hashes.KeyFor("S77"), 5));
  for (int i = 0; i < 10000; ++i) {
    if (i == 77) continue;
    ASSERT_TRUE(hashes.Unchanged(hashes.KeyFor("S" + std::to_string(i)), 1000 + i)) << i;
  }
}

// Past the limit nothing is kept: every row is then mapped, as without hashes.
TEST_F(SourceHashesTest, MoreRowsThanTheLimitKeepNone) {
  SourceHashes hashes = Loaded(Numbered(101), 100);
  EXPECT_EQ(hashes.size(), 0u);
  EXPECT_FALSE(hashes.Unchanged(hashes.KeyFor("S0"), 1000));
  hashes.Forget(hashes.KeyFor("S0"));
}

}  // namespace
}  // namespace reglo::pipeline
