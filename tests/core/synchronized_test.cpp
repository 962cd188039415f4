#include "reglo/core/synchronized.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>

namespace reglo {
namespace {

TEST(SynchronizedTest, ChangesMadeUnderOneLockAreSeenUnderTheNext) {
  Synchronized<std::map<std::string, int>> counts;
  counts.Lock()->emplace("a", 1);
  std::thread other([&] { ++(*counts.Lock())["a"]; });
  other.join();
  const Synchronized<std::map<std::string, int>>& read_only = counts;
  EXPECT_EQ(read_only.Lock()->at("a"), 2);
}

TEST(SynchronizedTest, WaitForReturnsWhenAnotherThreadChangedTheValue) {
  Synchronized<int> value(0);
  std::condition_variable changed;
  std::thread writer([&] {
    *value.Lock() = 7;
    changed.notify_all();
  });
  auto held = value.Lock();
  // Generous bound: a wait, not a timing assertion; it returns as soon as the writer is done.
  EXPECT_TRUE(held.WaitFor(changed, std::chrono::seconds(30), [&] { return *held == 7; }));
  writer.join();
}

TEST(SynchronizedTest, WaitForGivesUpAtItsTimeoutWhenNothingChanges) {
  Synchronized<int> value(0);
  std::condition_variable changed;
  auto held = value.Lock();
  EXPECT_FALSE(held.WaitFor(changed, std::chrono::milliseconds(0), [&] { return *held == 1; }));
}

}  // namespace
}  // namespace reglo
