// The hub's own metrics families: runs, records, sync lag, sources by status, backoff, plugins.
#include <map>

#include "reglo/admin/admin.h"
#include "reglo/core/masking.h"
#include "store_pool.h"

namespace reglo::admin {
namespace {

using Type = MetricsWriter::Type;

std::string_view Outcome(storage::RunStatus status) {
  switch (status) {
    case storage::RunStatus::kRunning: return "running";
    case storage::RunStatus::kSucceeded: return "ok";
    case storage::RunStatus::kSucceededWithWarnings: return "warning";
    case storage::RunStatus::kFailed: return "failed";
  }
  return "failed";
}

class HubMetrics final : public MetricsProvider {
 public:
  HubMetrics(engine::EngineControl& engine, engine::StoreFactory open_store, const Clock& clock)
      : engine_(engine), stores_(std::move(open_store)), clock_(clock) {}

  void WriteMetrics(MetricsWriter& out) override {
    const std::vector<engine::SourceSnapshot> sources = engine_.Sources();
    const std::vector<engine::PluginSnapshot> plugins = engine_.Plugins();
    std::vector<storage::RunTotals> totals = stores_.With(
        [](storage::Store& store) {
          Result<std::vector<storage::RunTotals>> read = store.ListRunTotals();
          return read.ok() ? std::move(*read) : std::vector<storage::RunTotals>{};
        },
        [](const Status&) { return std::vector<storage::RunTotals>{}; });

    out.Family("reglo_runs_total",
               "Finished sync runs by source and outcome (ok, warning, failed).", Type::kCounter);
    for (const storage::RunTotals& total : totals) {
      if (total.status == storage::RunStatus::kRunning) continue;
      out.Sample({{"source", total.source_id}, {"outcome", std::string(Outcome(total.status))}},
                 static_cast<double>(total.runs));
    }

    // Records by outcome, summed over each source's runs.
    std::map<std::string, storage::RunCounters> records;
    std::map<std::string, std::string> last_success;
    for (const storage::RunTotals& total : totals) {
      records[total.source_id] += total.counters;
      const bool success = total.status == storage::RunStatus::kSucceeded ||
                           total.status == storage::RunStatus::kSucceededWithWarnings;
      if (success && total.last_finished_at) {
        std::string& at = last_success[total.source_id];
        at = std::max(at, *total.last_finished_at);
      }
    }
    out.Family("reglo_records_total",
               "Records pulled by source and outcome (created, updated, unchanged, stale, "
               "rejected).",
               Type::kCounter);
    for (const auto& [source, c] : records) {
      for (const auto& [outcome, value] :
           std::vector<std::pair<const char*, int64_t>>{{"created", c.created},
                                                        {"updated", c.updated},
                                                        {"unchanged", c.unchanged},
                                                        {"stale", c.stale},
                                                        {"rejected", c.rejected}}) {
        out.Sample({{"source", source}, {"outcome", outcome}}, static_cast<double>(value));
      }
    }
    out.Family("reglo_record_warnings_total", "Validation warnings raised by source.",
               Type::kCounter);
    for (const auto& [source, c] : records) {
      out.Sample({{"source", source}}, static_cast<double>(c.warnings));
    }

    out.Family("reglo_sync_lag_seconds",
               "Seconds since the source's last successful sync (absent: never synced).",
               Type::kGauge);
    const auto now = clock_.Now();
    for (const engine::SourceSnapshot& source : sources) {
      auto it = last_success.find(source.id);
      std::chrono::system_clock::time_point at;
      if (it == last_success.end() || !ParseUtc(it->second, at)) continue;
      const double lag =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - at).count() / 1000.0;
      out.Sample({{"source", source.id}}, std::max(0.0, lag));
    }

    out.Family("reglo_sources", "Sources by status (new, ok, warning, failed, paused).",
               Type::kGauge);
    std::map<std::string, int> by_status = {
        {"new", 0}, {"ok", 0}, {"warning", 0}, {"failed", 0}, {"paused", 0}};
    for (const engine::SourceSnapshot& source : sources) {
      ++by_status[source.status.empty() ? "new" : source.status];
    }
    for (const auto& [status, count] : by_status) out.Sample({{"status", status}}, count);

    out.Family("reglo_source_backoff",
               "1 while the source waits to retry after a failure or a rate limit.", Type::kGauge);
    for (const engine::SourceSnapshot& source : sources) {
      out.Sample({{"source", source.id}}, source.state == engine::SourceState::kBackoff ? 1 : 0);
    }
    out.Family("reglo_source_consecutive_failures", "Consecutive failed runs of the source.",
               Type::kGauge);
    for (const engine::SourceSnapshot& source : sources) {
      out.Sample({{"source", source.id}}, source.consecutive_failures);
    }
    out.Family("reglo_source_running", "1 while a pull of the source is in progress.",
               Type::kGauge);
    for (const engine::SourceSnapshot& source : sources) {
      out.Sample({{"source", source.id}}, source.state == engine::SourceState::kRunning ? 1 : 0);
    }

    int loaded = 0;
    int quarantined = 0;
    int refused = 0;
    for (const engine::PluginSnapshot& plugin : plugins) {
      if (plugin.quarantined) {
        ++quarantined;
      } else if (plugin.loaded) {
        ++loaded;
      } else {
        ++refused;
      }
    }
    out.Family("reglo_plugins_loaded", "Connector plugins loaded and usable.", Type::kGauge);
    out.Sample(loaded);
    out.Family("reglo_plugins", "Connector plugins by state (loaded, quarantined, refused).",
               Type::kGauge);
    out.Sample({{"state", "loaded"}}, loaded);
    out.Sample({{"state", "quarantined"}}, quarantined);
    out.Sample({{"state", "refused"}}, refused);
  }

 private:
  engine::EngineControl& engine_;
  StorePool stores_;
  const Clock& clock_;
};

}  // namespace

std::shared_ptr<MetricsProvider> MakeHubMetrics(engine::EngineControl& engine,
                                                engine::StoreFactory open_store,
                                                const Clock& clock) {
  return std::make_shared<HubMetrics>(engine, std::move(open_store), clock);
}

}  // namespace reglo::admin
