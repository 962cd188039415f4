// /metrics families of the hub's HTTP listeners (ingest, admin): open connections, connections
// refused by the caps, idle connections closed to make room, requests answered, and refusals by
// status, each labelled listener="<name>". The servers are borrowed: they must outlive the
// provider. Thread-safe (Server::Stats() is).
#pragma once

#include <memory>
#include <vector>

#include "reglo/admin/metrics.h"
#include "reglo/http/server.h"

namespace reglo::app {

std::shared_ptr<admin::MetricsProvider> MakeListenerMetrics(
    std::vector<const http::Server*> servers);

}  // namespace reglo::app
