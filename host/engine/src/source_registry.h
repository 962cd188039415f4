// SourceRegistry: the sources the engine has, their schedules (Scheduler) and how many of their
// runs have finished. Plain state with no lock of its own: the engine keeps it in a
// Synchronized<> whose lock comes first in the engine's lock order (before plugins and runs).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "reglo/engine/engine.h"
#include "reglo/engine/scheduler.h"

namespace reglo::engine {

struct SourceRegistry {
  SourceRegistry(BackoffPolicy policy, RandomSource& random) : scheduler(policy, random) {}

  struct RunCounts {
    int64_t runs_finished = 0;
    int64_t last_run_id = 0;
    std::string last_plugin_version;
  };
  // A source's definition and its counts, in one map node (100,000 sources: 5 MB less than two).
  struct Entry {
    SourceConfig config;
    RunCounts counts;
  };

  // The ids of the sources of `connector`.
  std::vector<std::string> SourcesOf(const std::string& connector) const;
  // The source's state for a reader; `current_run_id`: its pull in progress (0: none).
  SourceSnapshot Snapshot(const std::string& id, TimePoint now, int64_t current_run_id) const;
  // The status the source shows: "paused" while held, else its schedule's.
  std::string ShownStatus(const std::string& id) const;

  std::map<std::string, Entry> sources;  // by id; a removed source's counts go with it
  Scheduler scheduler;
};

}  // namespace reglo::engine
