// `reglo-hub agent`: runs next to a school's legacy system. Loads the connector plugins like
// `serve`, pulls each source on its interval and, instead of writing to a store, pushes signed
// batches (Standard Webhooks, the agent key) to a hub's ingestion API (DESIGN §8). Every batch
// goes through the durable spool (reglo/agent/spool.h) first and stays there until the hub
// acknowledges it; a connector's cursor advances only then; a source is pulled again only once its
// spooled batches are delivered. 429 waits for Retry-After; errors back off exponentially with
// full jitter. SIGTERM/SIGINT stop it at the next checkpoint. Call once per process.
#pragma once

#include <ostream>

#include "reglo/app/config.h"

namespace reglo::app {

// `once`: pull every source once, deliver everything, then exit (0; 1 when something could not
// be delivered before a stop signal). Otherwise runs until SIGTERM/SIGINT.
int RunAgent(const AgentConfig& config, bool once, std::ostream& out, std::ostream& err);

}  // namespace reglo::app
