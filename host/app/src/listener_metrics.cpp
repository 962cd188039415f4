#include "listener_metrics.h"

#include <string>

namespace reglo::app {
namespace {

using Type = admin::MetricsWriter::Type;

class ListenerMetrics final : public admin::MetricsProvider {
 public:
  explicit ListenerMetrics(std::vector<const http::Server*> servers)
      : servers_(std::move(servers)) {}

  void WriteMetrics(admin::MetricsWriter& out) override {
    std::vector<std::pair<std::string, http::ServerStats>> all;
    for (const http::Server* server : servers_) all.emplace_back(server->name(), server->Stats());
    const auto each = [&](const char* name, const char* help, Type type, auto value) {
      out.Family(name, help, type);
      for (const auto& [listener, stats] : all) {
        out.Sample({{"listener", listener}}, static_cast<double>(value(stats)));
      }
    };
    each("reglo_http_connections_open", "Connections the listener holds now.", Type::kGauge,
         [](const http::ServerStats& s) { return s.connections_open; });
    each("reglo_http_connections_idle",
         "Of the open connections, those waiting for a request (closed first when others wait).",
         Type::kGauge, [](const http::ServerStats& s) { return s.connections_idle; });
    each("reglo_http_connections_accepted_total", "Connections admitted by the listener.",
         Type::kCounter, [](const http::ServerStats& s) { return s.connections_accepted; });
    each("reglo_http_idle_connections_closed_total",
         "Idle connections closed to make room for a new one (connection caps).", Type::kCounter,
         [](const http::ServerStats& s) { return s.idle_connections_closed; });
    each("reglo_http_requests_total", "Requests answered by the listener (any status).",
         Type::kCounter, [](const http::ServerStats& s) { return s.requests; });
    out.Family("reglo_http_connections_refused_total",
               "Connections refused by the caps: per_address (429) or total (503).",
               Type::kCounter);
    for (const auto& [listener, stats] : all) {
      out.Sample({{"listener", listener}, {"cap", "per_address"}},
                 static_cast<double>(stats.connections_refused_per_address));
      out.Sample({{"listener", listener}, {"cap", "total"}},
                 static_cast<double>(stats.connections_refused_total_cap));
    }
    out.Family("reglo_http_refusals_total",
               "Requests and connections the listener refused, by HTTP status (400, 401, 403, "
               "408, 413, 415, 422, 429, 431, and its own 503s).",
               Type::kCounter);
    for (const auto& [listener, stats] : all) {
      for (const auto& [status, count] : stats.refusals_by_status) {
        out.Sample({{"listener", listener}, {"status", std::to_string(status)}},
                   static_cast<double>(count));
      }
    }
  }

 private:
  std::vector<const http::Server*> servers_;
};

}  // namespace

std::shared_ptr<admin::MetricsProvider> MakeListenerMetrics(
    std::vector<const http::Server*> servers) {
  return std::make_shared<ListenerMetrics>(std::move(servers));
}

}  // namespace reglo::app
