// The engine's defaults (DESIGN §7) in one place: EngineOptions and BackoffPolicy start from them,
// and so do the configuration file's "engine" settings (host/app), which cannot include the
// engine's other headers. Plain constants with no dependencies; thread-safe.
#pragma once

#include <cstdint>

namespace reglo::engine::defaults {

inline constexpr int64_t kDefaultIntervalMs = 60'000;
inline constexpr int64_t kBackoffBaseMs = 5'000;
inline constexpr int64_t kBackoffCapMs = 600'000;
inline constexpr int kFailureLimit = 10;
inline constexpr int64_t kStallTimeoutMs = 300'000;
inline constexpr int64_t kCancelGraceMs = 10'000;
inline constexpr int kThreadsPerPlugin = 4;
inline constexpr int64_t kWatchIntervalMs = 2'000;

// A source's lease: `lease_ms` when set (> 0), else long enough for a stalled pull to be cancelled
// and given its grace before the lease can expire under it.
constexpr int64_t LeaseTtlMs(int64_t lease_ms, int64_t stall_timeout_ms, int64_t cancel_grace_ms) {
  return lease_ms > 0 ? lease_ms : stall_timeout_ms + cancel_grace_ms + 60'000;
}

}  // namespace reglo::engine::defaults
