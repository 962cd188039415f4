#include "reglo/admin/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace reglo::admin {
namespace {

bool IsNameChar(char c, bool first, bool colon) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  const bool digit = c >= '0' && c <= '9';
  return letter || (colon && c == ':') || (!first && digit);
}

bool IsValidName(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, colon)) return false;
  }
  return true;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

// Backslash and newline escaped, and double quotes too when `quotes` (label values are quoted;
// HELP text is not).
std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  return IsValidName(name, true);
}

bool IsValidLabelName(std::string_view name) {
  return IsValidName(name, false) && name.substr(0, 2) != "__";
}

std::string EscapeLabelValue(std::string_view value) {
  return Escape(value, /*quotes=*/true);
}

void MetricsWriter::Family(std::string_view name, std::string_view help, Type type) {
  family_.clear();
  if (!IsValidMetricName(name)) return;
  if (std::find(written_.begin(), written_.end(), name) != written_.end()) return;
  family_ = std::string(name);
  written_.push_back(family_);
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family_, Escape(help, /*quotes=*/false),
                      family_, type == Type::kCounter ? "counter" : "gauge");
}

void MetricsWriter::Sample(const MetricLabels& labels, double value) {
  if (family_.empty()) return;
  for (const auto& [name, ignored] : labels) {
    if (!IsValidLabelName(name)) return;
  }
  out_ += family_;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += fmt::format("{}=\"{}\"", labels[i].first, EscapeLabelValue(labels[i].second));
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += FormatValue(value);
  out_ += '\n';
}

void MetricsRegistry::Add(std::shared_ptr<MetricsProvider> provider) {
  std::lock_guard<std::mutex> lock(mutex_);
  providers_.push_back(std::move(provider));
}

std::string MetricsRegistry::Render() {
  std::lock_guard<std::mutex> lock(mutex_);
  MetricsWriter writer;
  for (const auto& provider : providers_) provider->WriteMetrics(writer);
  return writer.Take();
}

}  // namespace reglo::admin
