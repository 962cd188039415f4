// Prometheus text exposition (format 0.0.4) for /metrics: a writer that checks metric and label
// names and escapes label values, and a registry of providers, so each component (engine, ingest,
// relay) adds its own families without the admin listener knowing them.
// MetricsWriter is a plain value used by one thread; MetricsRegistry is thread-safe, and calls its
// providers one scrape at a time (providers need no locking of their own for the scrape).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reglo::admin {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsWriter {
 public:
  enum class Type { kCounter, kGauge };
  // Starts a family: its # HELP and # TYPE lines. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*
  // (an invalid name, or a family written twice, is skipped with its samples: a bug in a provider
  // must not break the whole scrape).
  void Family(std::string_view name, std::string_view help, Type type);
  // One sample of the current family; label names must match [a-zA-Z_][a-zA-Z0-9_]*, values are
  // escaped (\\, ", newline).
  void Sample(const MetricLabels& labels, double value);
  void Sample(double value) { Sample({}, value); }

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  std::string family_;  // "" while the current family is skipped
  std::vector<std::string> written_;
};

// Writes one or more families at each scrape. Called from the admin listener's threads.
class MetricsProvider {
 public:
  virtual ~MetricsProvider() = default;
  virtual void WriteMetrics(MetricsWriter& out) = 0;
};

class MetricsRegistry {
 public:
  void Add(std::shared_ptr<MetricsProvider> provider);
  // The exposition text of every provider, in the order they were added.
  std::string Render();

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<MetricsProvider>> providers_;
};

// Whether `name` is a valid metric name / label name.
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
// A label value escaped for the text format.
std::string EscapeLabelValue(std::string_view value);

}  // namespace reglo::admin
