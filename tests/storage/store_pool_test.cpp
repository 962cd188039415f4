// StorePool over real SQLite stores: bounded, reused, and an open that fails counts nothing.
#include "reglo/storage/store_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>

#include "sqlite_test_support.h"

namespace reglo::storage {
namespace {

using ::testing::HasSubstr;

class StorePoolTest : public ::testing::Test {
 protected:
  StorePool<Store>::Factory Factory() {
    return [this]() -> Result<std::unique_ptr<Store>> {
      ++opened_;
      if (fail_opens_) return Status::IoError("the database is not there");
      return backend_.Open();
    };
  }

  testing::SqliteBackend backend_;
  std::atomic<int> opened_{0};
  bool fail_opens_ = false;
};

TEST_F(StorePoolTest, LendsAtMostItsLimitAndReusesWhatComesBack) {
  StorePool<Store> pool(Factory(), 2);
  {
    Result<StorePool<Store>::Lease> first = pool.Acquire();
    Result<StorePool<Store>::Lease> second = pool.Acquire();
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    EXPECT_TRUE((**first).ListSources().ok());
    Result<StorePool<Store>::Lease> third = pool.TryAcquire();
    ASSERT_FALSE(third.ok());
    EXPECT_EQ(third.status().code(), StatusCode::kRetryable);
    EXPECT_THAT(third.status().message(), HasSubstr("all 2 store connections"));
  }
  Result<StorePool<Store>::Lease> again = pool.TryAcquire();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(opened_, 2);
  EXPECT_EQ(pool.open_count(), 2u);
}

TEST_F(StorePoolTest, AcquireWaitsForALeaseToComeBackInsteadOfOpeningMore) {
  StorePool<Store> pool(Factory(), 1);
  std::optional<StorePool<Store>::Lease> held;
  {
    Result<StorePool<Store>::Lease> lease = pool.Acquire();
    ASSERT_TRUE(lease.ok());
    held.emplace(std::move(*lease));
  }
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    Result<StorePool<Store>::Lease> lease = pool.Acquire();  // blocks until `held` goes
    got = lease.ok();
  });
  held.reset();
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(opened_, 1);
}

TEST_F(StorePoolTest, AStoreThatCannotBeOpenedIsAnErrorAndLeavesItsPlaceFree) {
  StorePool<Store> pool(Factory(), 1);
  fail_opens_ = true;
  Result<StorePool<Store>::Lease> failed = pool.Acquire();
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("not there"));
  EXPECT_EQ(pool.open_count(), 0u);
  fail_opens_ = false;
  EXPECT_TRUE(pool.TryAcquire().ok());
  const int from_with = pool.With([](Store&) { return 1; }, [](const Status&) { return 0; });
  EXPECT_EQ(from_with, 1);
}

}  // namespace
}  // namespace reglo::storage
