// Test support: bounded polling in real time, for tests whose subject runs on other threads or in
// another process (an engine's plugin threads, `reglo-hub serve`). Header-only and stateless.
// Not for time-driven logic: unit tests fake time with ManualClock and never sleep.
#pragma once

#include <chrono>
#include <thread>

namespace reglo::testing {

// Asks `done` every `interval` until it holds or `bound` has passed; true when it held (it is
// asked once more at the end). Never a timed assertion: `bound` only limits a hang.
template <typename Predicate>
bool WaitUntil(Predicate done, std::chrono::milliseconds bound = std::chrono::seconds(30),
               std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(interval);
  }
  return done();
}

}  // namespace reglo::testing
