// The outbox's event kinds (issue #19 §3): an integration_events row names its type, company,
// source and entity by one small id, that of the integration_event_kinds row holding the four
// strings each event used to repeat. Kinds are only ever added (never changed or deleted), so an
// id once read stays true. EventKinds caches the ids of one store connection and belongs to the
// thread that uses that store; the SQL runs over SqlSession, the same for both backends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/model/events.h"
#include "reglo/model/record.h"
#include "reglo/storage/sql_session.h"

namespace reglo::storage {

class EventKinds {
 public:
  // Gives every type model::EventTypesOf lists for the records' entities a kind for their company
  // and source, inserting those that are missing and reading their ids. Run it outside the
  // caller's transaction: then every id cached is committed, and a checkpoint that rolls back
  // leaves nothing cached that is not in the table. A lookup per record once the kinds are known.
  Status Prepare(SqlSession& sql, const std::vector<model::CanonicalRecord>& records);
  // The id of `event`'s kind. Internal when Prepare has not seen a record of its entity, company
  // and source (a bug in the caller).
  Result<int64_t> IdOf(const model::EventRecord& event);

 private:
  std::unordered_map<std::string, int64_t> ids_;  // by KindKey (type, company, source)
  // The last kind asked for: a batch's events are nearly all of one kind.
  std::string last_type_, last_company_, last_source_;
  int64_t last_id_ = 0;
};

// The id of one kind inside the caller's transaction, inserted when missing (an erasure's
// student.erased). Not cached: the transaction may still roll back.
Result<int64_t> EventKindIn(SqlSession& sql, std::string_view type, std::string_view company_id,
                            std::string_view source_system, std::string_view entity);

}  // namespace reglo::storage
