// DurationText: a Duration as an operator reads it in the engine's messages ("30 s", "250 ms").
// Thread-safety: a pure function.
#pragma once

#include <fmt/format.h>

#include <string>

#include "reglo/engine/scheduler.h"

namespace reglo::engine {

inline std::string DurationText(Duration d) {
  return d.count() % 1000 == 0 ? fmt::format("{} s", d.count() / 1000)
                               : fmt::format("{} ms", d.count());
}

}  // namespace reglo::engine
