// RunSupervisor: the pulls in progress (one per source at most), their watchdog (no progress for
// the stall timeout -> fenced; a fenced pull that does not return -> its runner killed or its
// plugin quarantined) and the renewal of their leases. Plain state with no lock of its own: the
// engine keeps it in a Synchronized<> whose lock is the last of the engine's three (after the
// sources' and the plugins'); it never takes another engine lock but the control-writes queue's.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control_writes.h"
#include "guarded_store.h"
#include "reglo/core/clock.h"
#include "reglo/engine/scheduler.h"

namespace reglo::engine {

struct RunSupervisor {
  struct Supervised {
    std::shared_ptr<RunControl> control;
    uint64_t seen_progress = 0;
    TimePoint last_progress{};
    // Leases: when the engine last tried to renew the pull's lease, and last knew it held
    // (from the start: the pull takes the lease just after, so the estimate errs on the safe side).
    TimePoint lease_tried{};
    TimePoint lease_confirmed{};
    std::optional<TimePoint> cancelled_at;
    std::string cancel_reason;
    bool killed = false;  // an isolated pull's runner was killed
  };
  struct Limits {
    Duration stall_timeout;
    Duration cancel_grace;
    Duration lease_ttl;
  };
  using Renewals = std::vector<std::pair<std::string, std::shared_ptr<RunControl>>>;

  RunSupervisor(Limits l, ControlWrites& w, const Clock& c) : limits(l), writes(w), clock(c) {}

  // Supervises the pull `control` of source `id`, started at `now`.
  void Start(const std::string& id, std::shared_ptr<RunControl> control, TimePoint now);
  // The pull `control` has returned: no longer supervised. Returns its entry, or nullopt when it
  // no longer was (removed, quarantined, or a newer pull of the source).
  std::optional<Supervised> Finish(const std::string& id,
                                   const std::shared_ptr<RunControl>& control);

  // One look at every pull: fences the stalled, kills the runners of isolated pulls that ignore
  // their cancellation. Returns the (plugin, source) pairs whose in-process pull ignored it: their
  // plugins are to be quarantined.
  std::vector<std::pair<std::string, std::string>> Watchdog(TimePoint now);
  // Cancels a pull and fences it (it commits nothing more, GuardedStore), marks its run failed
  // with `reason`; the watchdog then treats it like any cancelled pull.
  void Fence(const std::string& id, Supervised& supervised, TimePoint now, std::string reason);
  // Fences and forgets every pull of `connector`, whose plugin was quarantined for `reason`.
  void AbandonRunsOf(const std::string& connector, const std::string& reason);

  // The pulls whose lease is due for renewal (a third of its time since the last try). Only leases
  // a pull holds: not a pull still queued on its pool, nor one that has released it.
  Renewals DueRenewals(TimePoint now);
  // What a renewal of `run`'s lease found: held, taken by another instance, or an error.
  void RenewalResult(const std::string& id, const std::shared_ptr<RunControl>& run,
                     const Result<bool>& held, TimePoint now);

  // The run id of `id`'s pull in progress (0: none, or not begun yet).
  int64_t CurrentRunId(const std::string& id) const;
  // How many pulls of sources of `connector` are supervised (queued on its pool or running).
  int InFlight(const std::string& connector) const;

  Limits limits;
  ControlWrites& writes;
  const Clock& clock;
  std::map<std::string, Supervised> running;  // by source id
  std::map<std::string, int> in_flight;       // how many of `running` by connector
  // Pulls abandoned with their quarantined plugin: kept alive, never waited for.
  std::vector<std::shared_ptr<RunControl>> abandoned;
};

}  // namespace reglo::engine
