// RateLimiter: the per-agent-key request rate limit of the ingestion API (DESIGN §8), a GCRA
// (generic cell rate algorithm): a key may send `burst` requests at once, then one every
// 1/`per_second` seconds; a refused request is told how long to wait (Retry-After). State is one
// timestamp per key, in memory (per hub process). Time comes from the Clock's monotonic clock,
// so tests drive it with ManualClock. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "reglo/core/clock.h"

namespace reglo::ingest {

struct RateLimit {
  double per_second = 10;  // sustained requests per second (> 0)
  int64_t burst = 20;      // requests allowed at once (>= 1)
};

class RateLimiter {
 public:
  explicit RateLimiter(const Clock& clock) : clock_(clock) {}

  struct Decision {
    bool allowed = true;
    std::chrono::milliseconds retry_after{0};  // when refused: wait at least this long
  };
  // Counts one request of `key` against `limit`; a refused request is not counted.
  Decision Acquire(int64_t key, const RateLimit& limit);

 private:
  const Clock& clock_;
  std::mutex mutex_;
  // Per key: the theoretical arrival time of its next request.
  std::unordered_map<int64_t, std::chrono::steady_clock::time_point> tat_;
};

}  // namespace reglo::ingest
