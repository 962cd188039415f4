// WalCheckpointer: copies a database file's write-ahead log back into the database on a thread of
// its own, so a writer's commit is only the append to the WAL. Without it SQLite checkpoints
// inside the commit that crosses the WAL threshold, and a bulk load spends a fifth of its writer
// thread copying pages (measured). One per database file, shared by that file's connections
// (ForFile); the writer's commit hook calls Request(). Thread-safe.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace reglo::storage::sqlite {

class WalCheckpointer {
 public:
  // Checkpoint in the background once the WAL holds this many pages (SQLite's own default).
  static constexpr int kBackgroundPages = 1000;
  // A writer that finds the WAL this long checkpoints itself: the background thread cannot keep
  // up, and the WAL must stay bounded.
  static constexpr int kInlinePages = 16 * kBackgroundPages;

  // The checkpointer of the database file at `path`, started on first use.
  static std::shared_ptr<WalCheckpointer> ForFile(const std::string& path);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Installs the commit hook on `connection` (replacing SQLite's automatic checkpoint). The
  // connection must be of this file and must not outlive this checkpointer.
  void Attach(sqlite3* connection);
  // Asks for a checkpoint soon; returns at once.
  void Request();
  // Background checkpoints done so far (for tests and logs).
  int64_t checkpoints() const;
  // Waits (real time: for the checkpointer's thread, never to let time pass) until at least
  // `count` background checkpoints are done or `timeout` passes; returns whether they are.
  bool WaitForCheckpoints(int64_t count, std::chrono::milliseconds timeout) const;

 private:
  explicit WalCheckpointer(std::string path);
  void Loop();
  static int OnCommit(void* self, sqlite3* connection, const char* schema, int wal_pages);

  const std::string path_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  mutable std::condition_variable done_;
  bool requested_ = false;
  bool stopping_ = false;
  int64_t checkpoints_ = 0;
  std::thread thread_;
};

}  // namespace reglo::storage::sqlite
