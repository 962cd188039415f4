// CommitWorker: commits checkpoint batches in order on a thread of its own, so the next batch is
// pulled, mapped and validated while the previous one is written (the hub's two halves overlap).
// While a pull runs it is the only user of the Store; its thread starts at the first batch.
// Submit/Drain are called from one thread; the on-committed callback runs on the worker thread, and
// Drain() publishes its effects.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "reglo/storage/sync_store.h"

namespace reglo::pipeline {

class CommitWorker {
 public:
  using OnCommitted =
      std::function<void(const storage::CheckpointBatch&, const storage::CheckpointResult&)>;

  CommitWorker(storage::SyncStore& store, OnCommitted on_committed, size_t max_queued = 2);
  ~CommitWorker();
  CommitWorker(const CommitWorker&) = delete;
  CommitWorker& operator=(const CommitWorker&) = delete;

  // Queues a batch, waiting while `max_queued` batches are pending. Once a commit has failed,
  // nothing more is committed (a later cursor must never pass an uncommitted batch) and every
  // call returns that failure.
  Status Submit(storage::CheckpointBatch batch);
  // Waits until every queued batch is committed or dropped; returns the first failure.
  Status Drain();

 private:
  void Loop();

  storage::SyncStore& store_;
  OnCommitted on_committed_;
  const size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<storage::CheckpointBatch> queue_;
  // Committed batches go back to the submitting thread to be freed there: glibc frees memory of
  // another thread's arena slowly, and a batch holds thousands of small strings.
  std::vector<storage::CheckpointBatch> committed_;
  bool busy_ = false;
  bool closing_ = false;
  Status failure_;
  std::thread thread_;
};

}  // namespace reglo::pipeline
