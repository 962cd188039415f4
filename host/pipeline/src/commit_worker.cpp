#include "commit_worker.h"

namespace reglo::pipeline {

CommitWorker::CommitWorker(storage::SyncStore& store, OnCommitted on_committed, size_t max_queued)
    : store_(store),
      on_committed_(std::move(on_committed)),
      max_queued_(max_queued == 0 ? 1 : max_queued) {}

CommitWorker::~CommitWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status CommitWorker::Submit(storage::CheckpointBatch batch) {
  std::vector<storage::CheckpointBatch> to_free;
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return queue_.size() < max_queued_ || !failure_.ok(); });
  to_free.swap(committed_);
  if (!failure_.ok()) return failure_;
  queue_.push_back(std::move(batch));
  // Started at the first batch: a pull that brings nothing costs no thread.
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  changed_.notify_all();
  lock.unlock();
  return Status::Ok();  // to_free is released here, on the submitting thread
}

Status CommitWorker::Drain() {
  std::vector<storage::CheckpointBatch> to_free;
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return queue_.empty() && !busy_; });
  to_free.swap(committed_);
  return failure_;
}

void CommitWorker::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return !queue_.empty() || closing_; });
    if (queue_.empty()) return;  // closing, nothing left
    storage::CheckpointBatch batch = std::move(queue_.front());
    queue_.pop_front();
    if (!failure_.ok()) {
      changed_.notify_all();
      continue;  // dropped: an earlier batch failed
    }
    busy_ = true;
    lock.unlock();
    changed_.notify_all();  // a slot is free for the producer
    Result<storage::CheckpointResult> result = store_.CommitCheckpoint(batch);
    if (result.ok()) on_committed_(batch, *result);
    lock.lock();
    committed_.push_back(std::move(batch));
    busy_ = false;
    if (!result.ok() && failure_.ok()) {
      failure_ = result.status().WithContext("committing a checkpoint");
    }
    changed_.notify_all();
  }
}

}  // namespace reglo::pipeline
