// The stored form of outbox event data (reglo/storage/event_data.h): round trips of real events
// of every kind, the pre-#19 JSON text read as it is, damaged bytes refused.
#include "reglo/storage/event_data.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raw_record.h"
#include "reglo/model/validation.h"

namespace reglo::storage {
namespace {

using model::CanonicalRecord;
using model::EventRecord;

CanonicalRecord Valid(const model::RawRecord& raw) {
  std::variant<CanonicalRecord, model::Rejection> validated = model::Validate(raw);
  if (const auto* rejected = std::get_if<model::Rejection>(&validated)) {
    ADD_FAILURE() << rejected->reason;
    return {};
  }
  return std::get<CanonicalRecord>(std::move(validated));
}

CanonicalRecord Student(const std::string& company, const std::string& external_id,
                        const std::string& phone) {
  return Valid(reglo::testing::Raw("student", company, "gestionale-csv", external_id,
                                   "2025-02-26T02:09:59Z",
                                   {{"firstName", "Aurora"},
                                    {"lastName", "Palmieri"},
                                    {"fiscalCode", "PLMRRA05A48H224G"},
                                    {"birthDate", "2005-01-08"},
                                    {"email", "aurora.palmieri1@tiscali.it"},
                                    {"phone", phone}}));
}

CanonicalRecord Case(const std::string& status, const std::string& updated_at) {
  return Valid(reglo::testing::Raw("case", "autoscuola-rossi", "gestionale-csv", "C001", updated_at,
                                   {{"studentExternalId", "A001"},
                                    {"licenseCategory", "B"},
                                    {"status", status},
                                    {"openedAt", "2026-01-10"}}));
}

// created, updated and status_changed events, as checkpoints build them.
std::vector<EventRecord> SampleEvents() {
  std::vector<EventRecord> events;
  const auto add = [&](const CanonicalRecord& record, const model::StoredState* stored) {
    for (EventRecord& event :
         model::BuildEvents(record, model::Reconcile(record, stored), "2026-12-04T19:10:33.098Z")) {
      events.push_back(std::move(event));
    }
  };
  const CanonicalRecord student = Student("autoscuola-bench", "1", "+39 378 4159630");
  add(student, nullptr);
  const model::StoredState state{1, student.content_hash, student.source_updated_at, student.values,
                                 student.extra};
  add(Student("autoscuola-bench", "1", "+39 378 0000000"), &state);
  // Ids that JSON escapes, and UTF-8.
  add(Student("Scuola \"Rossi\" \\ Ünì", "x/\u00e8 \"1\"", "+39 378 4159630"), nullptr);
  const CanonicalRecord open = Case("open", "2026-01-10T09:00:00Z");
  const model::StoredState case_state{4, open.content_hash, open.source_updated_at, open.values,
                                      open.extra};
  add(Case("learner_permit", "2026-02-01T09:00:00Z"), &case_state);
  return events;
}

TEST(EventDataTest, EveryKindOfEventRoundTripsByteForByte) {
  const std::vector<EventRecord> events = SampleEvents();
  ASSERT_EQ(events.size(), 5u);
  for (const EventRecord& event : events) {
    SCOPED_TRACE(event.data);
    const std::string stored = EncodeEventData(event);
    EXPECT_NE(stored, event.data);
    EXPECT_NE(stored.front(), '{');
    EXPECT_EQ(DecodeEventData(event, stored).value(), event.data);
  }
}

TEST(EventDataTest, AStudentEventIsStoredInAQuarterOfItsText) {
  // The measured point of the encoding (issue #19 §3): ~350-375 B of JSON, ~90 B stored.
  const EventRecord event = SampleEvents().front();
  EXPECT_GT(event.data.size(), 340u);
  EXPECT_LT(EncodeEventData(event).size(), event.data.size() / 4);
}

TEST(EventDataTest, TheRepeatedIdsAreLeftOutAndRebuiltFromTheColumns) {
  const EventRecord event = SampleEvents().front();
  const std::string stored = EncodeEventData(event);
  // Decoded against other columns, the data names those: the ids came from the columns.
  EventRecord other = event;
  other.external_id = "2";
  const std::string decoded = DecodeEventData(other, stored).value();
  EXPECT_THAT(decoded, ::testing::HasSubstr(R"("externalId":"2","version":1,)"));
  EXPECT_EQ(decoded.substr(decoded.find(",\"sourceUpdatedAt\"")),
            event.data.substr(event.data.find(",\"sourceUpdatedAt\"")));
}

TEST(EventDataTest, DataThatDoesNotStartWithItsColumnsIsStoredWhole) {
  EventRecord event = SampleEvents().front();
  event.data = R"({"something":"else","version":7})";
  const std::string stored = EncodeEventData(event);
  EXPECT_EQ(DecodeEventData(event, stored).value(), event.data);
  event.data = "{}";
  EXPECT_EQ(DecodeEventData(event, EncodeEventData(event)).value(), "{}");
}

TEST(EventDataTest, JsonTextWrittenBeforeTheEncodingIsReadAsItIs) {
  const EventRecord event = SampleEvents().front();
  EXPECT_EQ(DecodeEventData(event, event.data).value(), event.data);
  EXPECT_EQ(DecodeEventData(event, "{}").value(), "{}");
}

TEST(EventDataTest, DamagedBytesAreAnInternalErrorNotData) {
  const EventRecord event = SampleEvents().front();
  std::string stored = EncodeEventData(event);
  for (const std::string& damaged :
       {stored.substr(0, stored.size() / 2), std::string(1, stored[0]), stored.substr(0, 3)}) {
    const Result<std::string> decoded = DecodeEventData(event, damaged);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::kInternal);
  }
}

}  // namespace
}  // namespace reglo::storage
