// Change decisions and CloudEvents envelopes.
#include "reglo/model/events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "raw_record.h"
#include "reglo/core/json_writer.h"
#include "reglo/model/record.h"
#include "reglo/model/schema.h"
#include "reglo/model/validation.h"

namespace reglo::model {
namespace {

using ::testing::ElementsAre;

CanonicalRecord Case(const std::string& status, const std::string& updated_at) {
  const RawRecord raw =
      testing::Raw("case", "autoscuola-rossi", "gestionale-csv", "C001", updated_at,
                   {{"studentExternalId", "A001"},
                    {"licenseCategory", "B"},
                    {"status", status},
                    {"openedAt", "2026-01-10"}});
  return std::get<CanonicalRecord>(Validate(raw));
}

StoredState Stored(const CanonicalRecord& record, int64_t version) {
  return {version, record.content_hash, record.source_updated_at, record.values, record.extra};
}

TEST(EventsTest, NewRecordIsCreatedAtVersionOne) {
  CanonicalRecord record = Case("open", "2026-01-10T09:00:00Z");
  Decision decision = Reconcile(record, nullptr);
  EXPECT_EQ(decision.outcome, Outcome::kCreated);
  EXPECT_EQ(decision.version, 1);
  std::vector<EventRecord> events = BuildEvents(record, decision, "2026-11-26T10:00:00.000Z");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "case.created");
}

TEST(EventsTest, SameContentIsUnchangedAndOlderIsStale) {
  CanonicalRecord stored = Case("open", "2026-01-10T09:00:00Z");
  StoredState state = Stored(stored, 3);
  EXPECT_EQ(Reconcile(Case("open", "2026-01-11T09:00:00Z"), &state).outcome, Outcome::kUnchanged);
  Decision stale = Reconcile(Case("licensed", "2026-01-09T09:00:00Z"), &state);
  EXPECT_EQ(stale.outcome, Outcome::kStale);
  EXPECT_TRUE(BuildEvents(Case("licensed", "2026-01-09T09:00:00Z"), stale, "t").empty());
}

TEST(EventsTest, StatusChangeEmitsUpdatedAndStatusChangedWithFromTo) {
  StoredState state = Stored(Case("open", "2026-01-10T09:00:00Z"), 1);
  CanonicalRecord incoming = Case("learner_permit", "2026-02-01T09:00:00Z");
  Decision decision = Reconcile(incoming, &state);
  EXPECT_EQ(decision.outcome, Outcome::kUpdated);
  EXPECT_EQ(decision.version, 2);
  EXPECT_THAT(decision.changed_fields, ElementsAre("status"));
  std::vector<EventRecord> events = BuildEvents(incoming, decision, "2026-11-26T10:00:00.000Z");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "case.updated");
  EXPECT_EQ(events[1].type, "case.status_changed");
  // The outbox gives every type an entity's events can take a kind up front (EventKinds).
  EXPECT_THAT(EventTypesOf("case"),
              ElementsAre("case.created", "case.updated", "case.status_changed"));
  // The outbox keeps no id: a read derives it (EventIdOf) before rendering the envelope.
  EXPECT_TRUE(events[1].event_id.empty());
  events[1].event_id = EventIdOf(events[1]);
  EXPECT_EQ(events[1].event_id, EventId(incoming.key, "case", 2, "case.status_changed"));
  const auto envelope = nlohmann::json::parse(CloudEventJson(events[1]));
  EXPECT_EQ(envelope["specversion"], "1.0");
  EXPECT_EQ(envelope["id"], events[1].event_id);
  EXPECT_EQ(envelope["source"], "/companies/autoscuola-rossi/sources/gestionale-csv");
  EXPECT_EQ(envelope["subject"], "case/C001");
  EXPECT_EQ(envelope["time"], "2026-11-26T10:00:00.000Z");
  EXPECT_EQ(envelope["datacontenttype"], "application/json");
  EXPECT_EQ(envelope["data"]["statusChange"]["from"], "open");
  EXPECT_EQ(envelope["data"]["statusChange"]["to"], "learner_permit");
  EXPECT_EQ(envelope["data"]["version"], 2);
  EXPECT_EQ(envelope["data"]["record"]["status"], "learner_permit");
}

TEST(EventsTest, EventIdsAreDeterministicAndDistinct) {
  RecordKey key{"autoscuola-rossi", "gestionale-csv", "C001"};
  EXPECT_EQ(EventId(key, "case", 2, "case.updated"), EventId(key, "case", 2, "case.updated"));
  EXPECT_NE(EventId(key, "case", 2, "case.updated"), EventId(key, "case", 3, "case.updated"));
  EXPECT_NE(EventId(key, "case", 2, "case.updated"),
            EventId(key, "case", 2, "case.status_changed"));
  RecordKey other{"autoscuola-rossi", "gestionale-csv|x", "C001"};
  EXPECT_NE(EventId(key, "case", 2, "case.updated"), EventId(other, "case", 2, "case.updated"));
}

TEST(EventsTest, NoPersonalDataInContextAttributes) {
  const RawRecord raw = testing::Raw(
      "student", "c1", "s1", "A001", std::nullopt,
      {{"firstName", "Mario"}, {"fiscalCode", "RSSMRA85T10A562S"}, {"email", "m@example.com"}});
  CanonicalRecord record = std::get<CanonicalRecord>(Validate(raw));
  const auto envelope = nlohmann::json::parse(
      CloudEventJson(BuildEvents(record, Reconcile(record, nullptr), "t")[0]));
  for (const auto& [name, value] : envelope.items()) {
    if (name == "data") continue;
    const std::string text = value.dump();
    EXPECT_EQ(text.find("RSSMRA85T10A562S"), std::string::npos) << name;
    EXPECT_EQ(text.find("Mario"), std::string::npos) << name;
    EXPECT_EQ(text.find("m@example.com"), std::string::npos) << name;
  }
}

// CloudEvents requires `source` to be a URI-reference; company and source ids may hold any text.
TEST(EventsTest, SourceSegmentsArePercentEncoded) {
  EXPECT_EQ(CloudEventSource("autoscuola-rossi", "gestionale_csv.v2~x"),
            "/companies/autoscuola-rossi/sources/gestionale_csv.v2~x");
  EXPECT_EQ(CloudEventSource("Scuola Rossi", "a/b"), "/companies/Scuola%20Rossi/sources/a%2Fb");
  EXPECT_EQ(CloudEventSource("100%", "caff\xC3\xA8"), "/companies/100%25/sources/caff%C3%A8");
  EXPECT_EQ(CloudEventSource("?#[]@!$&'()*+,;=:", ""),
            "/companies/%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A/sources/");
  EventRecord event;
  event.company_id = "Autoscuola \xC3\xA8/1";
  event.source_system = "s";
  event.entity = "student";
  event.external_id = "A 1 \xC3\xA8";
  event.data = "{}";
  const auto envelope = nlohmann::json::parse(CloudEventJson(event));
  EXPECT_EQ(envelope["source"], "/companies/Autoscuola%20%C3%A8%2F1/sources/s");
  EXPECT_EQ(envelope["subject"], "student/A 1 \xC3\xA8");  // a plain string: kept as it is
}

TEST(EventsTest, ExtraFieldChangesAreNamed) {
  CanonicalRecord before = Case("open", "2026-01-10T09:00:00Z");
  before.extra = {{"note", "a"}, {"zona", "x"}};
  before.content_hash = ContentHash(*before.entity, before.values, before.extra);
  StoredState state = Stored(before, 1);
  CanonicalRecord after = Case("open", "2026-01-11T09:00:00Z");
  after.extra = {{"note", "b"}, {"sede", "y"}};
  after.content_hash = ContentHash(*after.entity, after.values, after.extra);
  EXPECT_THAT(Reconcile(after, &state).changed_fields,
              ElementsAre("extra.note", "extra.sede", "extra.zona"));
}

// The committing thread splices the decision into a template made at validation: the data member
// must come out as complete, valid JSON for every shape of decision, with or without a template.
TEST(EventsTest, EventDataCarriesTheDecisionAndTheRecord) {
  CanonicalRecord without_time = Case("open", "");
  ASSERT_FALSE(without_time.source_updated_at.has_value());
  StoredState open_v1 = Stored(Case("open", "2026-01-10T09:00:00Z"), 1);
  StoredState open_v4 = Stored(Case("open", "2026-01-10T09:00:00Z"), 4);
  struct Scenario {
    CanonicalRecord record;
    const StoredState* stored;
  };
  const std::vector<Scenario> scenarios = {
      {Case("open", "2026-01-10T09:00:00Z"), nullptr},              // created
      {without_time, nullptr},                                      // no sourceUpdatedAt
      {Case("learner_permit", "2026-02-01T09:00:00Z"), &open_v1},   // status changed
      {Case("open \"quoted\"", "2026-02-01T09:00:00Z"), &open_v4},  // escaped values, v5
  };
  for (bool with_template : {true, false}) {
    for (const Scenario& scenario : scenarios) {
      CanonicalRecord record = scenario.record;
      ASSERT_FALSE(record.event_template.text.empty());
      if (!with_template) record.event_template = {};
      const Decision decision = Reconcile(record, scenario.stored);
      for (const EventRecord& event : BuildEvents(record, decision, "2026-11-26T10:00:00.000Z")) {
        SCOPED_TRACE(event.data);
        ASSERT_TRUE(nlohmann::json::accept(event.data));
        const nlohmann::json data = nlohmann::json::parse(event.data);
        EXPECT_EQ(data.size(),
                  7u + (record.source_updated_at ? 1 : 0) + (decision.status_changed ? 1 : 0));
        EXPECT_EQ(data["entity"], "case");
        EXPECT_EQ(data["companyId"], "autoscuola-rossi");
        EXPECT_EQ(data["sourceSystem"], "gestionale-csv");
        EXPECT_EQ(data["externalId"], "C001");
        EXPECT_EQ(data["version"], decision.version);
        EXPECT_EQ(data["changedFields"], nlohmann::json(decision.changed_fields));
        EXPECT_EQ(data["record"]["status"], *record.Value("status"));
        EXPECT_EQ(data["record"]["licenseCategory"], "B");
        if (record.source_updated_at) {
          EXPECT_EQ(data["sourceUpdatedAt"], *record.source_updated_at);
        }
        if (decision.status_changed) {
          EXPECT_EQ(data["statusChange"]["from"], "open");
          EXPECT_EQ(data["statusChange"]["to"], *record.Value("status"));
        }
        EXPECT_TRUE(event.event_id.empty());
        EXPECT_EQ(EventIdOf(event), EventId(record.key, "case", decision.version, event.type));
      }
    }
  }
}

// What RecordJson and the data's head were written with before they appended directly
// (JsonWriter): stored events and subscribers' copies hold these bytes, so they must not change.
std::string RecordJsonByWriter(const EntitySpec& entity,
                               const std::vector<std::optional<std::string>>& values,
                               const std::vector<std::pair<std::string, std::string>>& extra) {
  JsonWriter writer;
  writer.BeginObject();
  for (size_t i = 0; i < entity.fields.size() && i < values.size(); ++i) {
    writer.Key(entity.fields[i].name);
    values[i] ? void(writer.String(*values[i])) : void(writer.Null());
  }
  if (!extra.empty()) {
    writer.Key("extra").BeginObject();
    for (const auto& [name, value] : extra) writer.Key(name).String(value);
    writer.EndObject();
  }
  writer.EndObject();
  return writer.Take();
}

TEST(EventsTest, RecordJsonAndDataHeadAreTheBytesJsonWriterWrote) {
  const std::vector<std::pair<std::string, std::string>> no_extra;
  const std::vector<std::pair<std::string, std::string>> awkward_extra = {
      {"note", "a \"quoted\" \\ value\n"}, {"zona\t\x01", ""}, {"città", "è"}};
  for (const EntitySpec& entity : CanonicalEntities()) {
    std::vector<std::optional<std::string>> values;
    for (size_t i = 0; i < entity.fields.size(); ++i) {
      if (i % 3 == 0) {
        values.push_back(std::nullopt);
      } else {
        values.push_back(i % 3 == 1 ? "plain" : "\x1f ctrl \"q\" \\ \r\n ünï");
      }
    }
    for (const auto* extra : {&no_extra, &awkward_extra}) {
      EXPECT_EQ(RecordJson(entity, values, *extra), RecordJsonByWriter(entity, values, *extra))
          << entity.name;
      EXPECT_EQ(RecordJson(entity, {}, *extra), RecordJsonByWriter(entity, {}, *extra));
    }
  }

  for (const std::string_view odd : {"plain", "with \"quotes\"", "tab\tand\x02", ""}) {
    std::string head;
    AppendEventDataHead(head, "student", odd, "gestionale", odd);
    JsonWriter writer;
    writer.BeginObject();
    writer.Key("entity").String("student");
    writer.Key("companyId").String(odd);
    writer.Key("sourceSystem").String("gestionale");
    writer.Key("externalId").String(odd);
    writer.Key("version");
    EXPECT_EQ(head, writer.Take());
  }
}

}  // namespace
}  // namespace reglo::model
