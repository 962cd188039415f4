#include "wal_checkpointer.h"

#include <map>

namespace reglo::storage::sqlite {

std::shared_ptr<WalCheckpointer> WalCheckpointer::ForFile(const std::string& path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<WalCheckpointer>> registry;
  std::lock_guard lock(registry_mutex);
  std::weak_ptr<WalCheckpointer>& slot = registry[path];
  if (std::shared_ptr<WalCheckpointer> existing = slot.lock()) return existing;
  std::shared_ptr<WalCheckpointer> created(new WalCheckpointer(path));
  slot = created;
  return created;
}

WalCheckpointer::WalCheckpointer(std::string path) : path_(std::move(path)) {
  thread_ = std::thread([this] { Loop(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WalCheckpointer::Attach(sqlite3* connection) {
  sqlite3_wal_hook(connection, &WalCheckpointer::OnCommit, this);
}

int WalCheckpointer::OnCommit(void* self, sqlite3* connection, const char* schema, int wal_pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  if (wal_pages >= kInlinePages) {
    // Best effort, like SQLite's automatic checkpoint: a failure here does not fail the commit.
    sqlite3_wal_checkpoint_v2(connection, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (wal_pages >= kBackgroundPages) {
    checkpointer->Request();
  }
  return SQLITE_OK;
}

void WalCheckpointer::Request() {
  {
    std::lock_guard lock(mutex_);
    requested_ = true;
  }
  wake_.notify_one();
}

int64_t WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mutex_);
  return checkpoints_;
}

bool WalCheckpointer::WaitForCheckpoints(int64_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return done_.wait_for(lock, timeout, [&] { return checkpoints_ >= count; });
}

void WalCheckpointer::Loop() {
  sqlite3* connection = nullptr;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return requested_ || stopping_; });
      if (stopping_) break;
      requested_ = false;
    }
    // A new connection learns that the file is in WAL mode only when it first reads it; until
    // then a checkpoint would do nothing.
    if (connection == nullptr &&
        (sqlite3_open_v2(path_.c_str(), &connection, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                         nullptr) != SQLITE_OK ||
         sqlite3_exec(connection, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr,
                      nullptr) != SQLITE_OK)) {
      // The writers' inline fallback keeps the WAL bounded; try again at the next request.
      sqlite3_close_v2(connection);
      connection = nullptr;
      continue;
    }
    // PASSIVE: copies what no reader still needs, never waits for a lock, never blocks a writer.
    sqlite3_wal_checkpoint_v2(connection, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    {
      std::lock_guard lock(mutex_);
      ++checkpoints_;
    }
    done_.notify_all();
  }
  sqlite3_close_v2(connection);
}

}  // namespace reglo::storage::sqlite
