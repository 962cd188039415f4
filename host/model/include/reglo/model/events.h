// Change decisions and domain events (DESIGN §5): compares an incoming record with what is stored,
// decides created / updated / unchanged / stale, and builds the CloudEvents 1.0 envelopes with
// deterministic ids. The outbox keeps each event's columns and its `data` member; the CloudEvents
// envelope is rendered from them when an event is read or delivered (CloudEventJson).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/model/record.h"

namespace reglo::model {

enum class Outcome { kCreated, kUpdated, kUnchanged, kStale };
std::string_view OutcomeName(Outcome outcome);

struct Decision {
  Outcome outcome = Outcome::kUnchanged;
  int64_t version = 0;                      // the version after this change
  std::vector<std::string> changed_fields;  // canonical names; "extra.<name>" for extra fields
  std::optional<std::string> status_from;   // set when the status field changed
  std::optional<std::string> status_to;
  bool status_changed = false;
};

// `stored` is null when the record is new.
Decision Reconcile(const CanonicalRecord& incoming, const StoredState* stored);

// One row of the integration_events outbox.
struct EventRecord {
  // Deterministic (EventIdOf): from company, source, entity, externalId, version and type. The
  // outbox does not store it: BuildEvents leaves it empty, and reading an event fills it in.
  std::string event_id;
  std::string type;  // "student.created"
  std::string company_id;
  std::string source_system;
  std::string entity;
  std::string external_id;
  int64_t version = 0;
  std::string time;  // FormatUtc of the commit
  std::string data;  // the CloudEvents `data` member: JSON object text
};

// The CloudEvents 1.0 structured-mode JSON of an event (the envelope delivered to consumers).
// `subject` is "<entity>/<externalId>" as it is (a plain string attribute).
std::string CloudEventJson(const EventRecord& event);

// The CloudEvents `source` URI-reference "/companies/<company>/sources/<source system>", each id
// percent-encoded as one path segment (RFC 3986: unreserved characters kept, every other byte
// %XX), so "/companies/Scuola%20Rossi/sources/sida" for company "Scuola Rossi".
std::string CloudEventSource(std::string_view company_id, std::string_view source_system);

// The events a decision emits (none for unchanged or stale), without their ids (event_id).
std::vector<EventRecord> BuildEvents(const CanonicalRecord& record, const Decision& decision,
                                     std::string_view time);

// Every type BuildEvents can give a record of `entity` ("student.created", ".updated",
// ".status_changed"), in that order.
std::vector<std::string> EventTypesOf(std::string_view entity);

// Fills record.event_template from the record's key, values and extra (Validate calls it).
void PrepareEventData(CanonicalRecord& record);

// Appends what every event's `data` begins with, up to its version's digits:
// {"entity":…,"companyId":…,"sourceSystem":…,"externalId":…,"version":
// (the storage backends leave it out of the stored data and rebuild it from the row's columns).
void AppendEventDataHead(std::string& out, std::string_view entity, std::string_view company_id,
                         std::string_view source_system, std::string_view external_id);

// The deterministic event id.
std::string EventId(const RecordKey& key, std::string_view entity, int64_t version,
                    std::string_view type);
// The same, of an event's columns.
std::string EventIdOf(const EventRecord& event);

}  // namespace reglo::model
