// Test support: a plugin_host::PullHandler that keeps what a pull delivers (record ids, cursors,
// warnings as "origin: message") and stops when a test says so. Header-only; a collector belongs
// to one pull at a time (the plugin host calls it from the pulling thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/plugin_host/plugin.h"

namespace reglo::testing {

struct PullCollector : plugin_host::PullHandler {
  std::vector<std::string> ids;
  std::vector<std::string> cursors;
  std::vector<std::string> warnings;
  bool stop = false;          // what ShouldStop answers
  int should_stop_calls = 0;  // how often the plugin asked

  Status OnRecord(const reglo_record& record) override {
    ids.emplace_back(record.external_id);
    return Status::Ok();
  }
  Status OnCheckpoint(std::string_view cursor, uint64_t) override {
    cursors.emplace_back(cursor);
    return Status::Ok();
  }
  void OnWarning(std::string_view origin, std::string_view message) override {
    warnings.push_back(std::string(origin) + ": " + std::string(message));
  }
  bool ShouldStop() override {
    ++should_stop_calls;
    return stop;
  }
};

}  // namespace reglo::testing
