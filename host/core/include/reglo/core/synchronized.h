// Synchronized<T>: a value and the mutex that guards it, reachable only through Lock(), so that
// no code can touch the value without holding its lock (the pattern of folly::Synchronized).
// Ownership: owns the value. Thread-safety: Lock() may be called from any thread; a Locked handle
// belongs to the thread that took it and holds the lock until it is destroyed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

namespace reglo {

template <typename T>
class Synchronized {
 public:
  template <typename... Args>
  explicit Synchronized(Args&&... args) : value_(std::forward<Args>(args)...) {}
  Synchronized(const Synchronized&) = delete;
  Synchronized& operator=(const Synchronized&) = delete;

  // The value while the lock is held.
  template <typename V>
  class Handle {
   public:
    Handle(std::mutex& mutex, V& value) : lock_(mutex), value_(&value) {}
    V* operator->() const { return value_; }
    V& operator*() const { return *value_; }
    // Waits on `changed` (notified by whoever changes the value) until `done()` or `timeout`;
    // the lock is released while waiting. Returns done().
    template <typename Rep, typename Period, typename Done>
    bool WaitFor(std::condition_variable& changed, std::chrono::duration<Rep, Period> timeout,
                 Done done) {
      return changed.wait_for(lock_, timeout, std::move(done));
    }

   private:
    std::unique_lock<std::mutex> lock_;
    V* value_;
  };

  Handle<T> Lock() { return Handle<T>(mutex_, value_); }
  Handle<const T> Lock() const { return Handle<const T>(mutex_, value_); }

 private:
  mutable std::mutex mutex_;
  T value_;
};

}  // namespace reglo
