// ControlStore: the roles the engine's control connection needs, in one object: SyncStore (its
// sources, runs and leases) and AuditStore, so that an operator command's effect and its audit row
// commit in one transaction (issue #18 §3). Every backend's Store is one; decorators wrap it
// through ForwardingControlStore. Thread-safety: one thread at a time per store object.
#pragma once

#include "reglo/storage/audit_store.h"
#include "reglo/storage/sync_store.h"

namespace reglo::storage {

class ControlStore : public SyncStore, public AuditStore {
 public:
  ~ControlStore() override = default;
};

}  // namespace reglo::storage
