// OutboxReader: the storage role that reads what checkpoints wrote for others: the event outbox
// (the relay, the admin API, the CLI) and the dead letters. Implemented by every backend; callers
// hold a reference to a store they or a factory own. Thread-safety: one thread at a time per store
// object.
#pragma once

#include <cstdint>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/rows.h"

namespace reglo::storage {

class OutboxReader {
 public:
  virtual ~OutboxReader() = default;

  // Events after `after_sequence`, in sequence order.
  virtual Result<std::vector<StoredEvent>> ReadEvents(int64_t after_sequence, int limit) = 0;
  // Events after `after_sequence` matching `filter`, in sequence order.
  virtual Result<std::vector<StoredEvent>> ReadEventsFiltered(int64_t after_sequence, int limit,
                                                              const EventFilter& filter) = 0;
  // Events before `before_sequence` (0: from the newest) matching `filter`, newest first: what
  // an operator looks at first is what just happened.
  virtual Result<std::vector<StoredEvent>> ReadEventsBefore(int64_t before_sequence, int limit,
                                                            const EventFilter& filter) = 0;
  // How many events match `filter` (the total a page of them is part of).
  virtual Result<int64_t> CountEventsFiltered(const EventFilter& filter) = 0;
  // The highest outbox sequence (0 when the outbox is empty).
  virtual Result<int64_t> LatestEventSequence() = 0;
  virtual Result<int64_t> CountEvents() = 0;
  virtual Result<std::vector<DeadLetter>> ReadDeadLetters(int64_t after_id, int limit) = 0;
};

}  // namespace reglo::storage
