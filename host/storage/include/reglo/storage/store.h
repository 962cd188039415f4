// Store: every storage role in one object, what a backend (SqliteStore, PostgresStore) implements
// and what the store factories return. Consumers take only the roles they use (SyncStore,
// OutboxReader, RelayStore, AgentKeyStore, IngestStore, AdminStore, SchemaStore,
// HousekeepingStore, SubjectStore, AuditStore); no backend-specific SQL lives outside a backend.
// Whoever opened a Store owns it. Thread-safety: a Store object is used by one thread at a time;
// open one per thread that needs it.
#pragma once

#include "reglo/storage/admin_store.h"
#include "reglo/storage/agent_key_store.h"
#include "reglo/storage/audit_store.h"
#include "reglo/storage/housekeeping_store.h"
#include "reglo/storage/outbox_reader.h"
#include "reglo/storage/relay_store.h"
#include "reglo/storage/rows.h"
#include "reglo/storage/schema_store.h"
#include "reglo/storage/subject_store.h"
#include "reglo/storage/sync_store.h"

namespace reglo::storage {

class Store : public SchemaStore,
              public SyncStore,
              public OutboxReader,
              public RelayStore,
              public AgentKeyStore,
              public IngestStore,
              public AdminStore,
              public HousekeepingStore,
              public SubjectStore,
              public AuditStore {
 public:
  ~Store() override = default;
};

}  // namespace reglo::storage
