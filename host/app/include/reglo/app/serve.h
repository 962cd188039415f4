// `reglo-hub serve`: runs the sync engine (reglo/engine/engine.h) over the configured sources until
// SIGTERM or SIGINT, then stops gracefully: pulls end at their next checkpoint, what was committed
// stays, and the process exits within the configured shutdown timeout (a pull that ignores the stop
// is left behind, not waited for). Wires the concrete store and the system clock; call once per
// process (it owns the SIGTERM/SIGINT handling while it runs).
#pragma once

#include <ostream>

#include "reglo/app/config.h"

namespace reglo::app {

// Returns the process exit code: 0 after a clean stop, 1 when the store cannot be opened or some
// pull did not stop in time, 2 for a configuration the engine refuses. Takes the config by value:
// its sources' rows and retention settings move into the engine and the housekeeper, so a hub of
// 100,000 sources does not keep a second copy of each.
int Serve(HubConfig config, std::ostream& out, std::ostream& err);

}  // namespace reglo::app
