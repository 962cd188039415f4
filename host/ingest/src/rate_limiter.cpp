#include "reglo/ingest/rate_limiter.h"

#include <algorithm>

namespace reglo::ingest {

RateLimiter::Decision RateLimiter::Acquire(int64_t key, const RateLimit& limit) {
  using std::chrono::nanoseconds;
  const double per_second = limit.per_second > 0 ? limit.per_second : 1e-9;
  const nanoseconds interval(static_cast<int64_t>(1e9 / per_second));
  const nanoseconds tolerance = interval * (std::max<int64_t>(limit.burst, 1) - 1);
  const auto now = clock_.Monotonic();
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = tat_.try_emplace(key, now);
  const auto tat = std::max(it->second, now);
  if (tat - now > tolerance) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(tat - now - tolerance);
    return {false, std::max(wait, std::chrono::milliseconds(1))};
  }
  it->second = tat + interval;
  return {true, std::chrono::milliseconds(0)};
}

}  // namespace reglo::ingest
