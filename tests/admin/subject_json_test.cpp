// The subject request documents (reglo/admin/subject_json.h): the export shows the subject's
// values in clear, under the admin API's key names for the rows it shares with the API.
#include "reglo/admin/subject_json.h"

#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

namespace reglo::admin {
namespace {

using nlohmann::json;

constexpr const char* kFiscalCode = "RSSMRA85T10A562S";
constexpr const char* kEmail = "mario.rossi@example.com";

storage::SubjectExport OneStudent() {
  storage::SubjectExport data;
  storage::SubjectRecord record;
  record.entity = "student";
  record.key = {"autoscuola-a", "sida", "S1"};
  record.version = 1;
  record.record_json =
      json{{"fiscalCode", kFiscalCode}, {"email", kEmail}, {"lastName", "Rossi"}}.dump();
  data.records.push_back(record);
  storage::StoredEvent event;
  event.sequence = 7;
  event.event = {"e-1",
                 "student.created",
                 "autoscuola-a",
                 "sida",
                 "student",
                 "S1",
                 1,
                 "2026-01-01T00:00:00.000Z",
                 json{{"record", {{"fiscalCode", kFiscalCode}, {"email", kEmail}}}}.dump()};
  data.events.push_back(event);
  storage::DeliveryRow delivery;
  delivery.subscription_id = "crm";
  delivery.sequence = 7;
  delivery.event_id = "e-1";
  delivery.entity_key = json::array({"autoscuola-a", "sida", "student", "S1"}).dump();
  delivery.last_error = std::string("refused ") + kEmail;
  data.deliveries.push_back(delivery);
  storage::DeadLetter letter;
  letter.id = 3;
  letter.source_id = "a";
  letter.entity = "student";
  letter.external_id = "S1";
  letter.reason = std::string("bad e-mail ") + kEmail;
  letter.created_at = "2026-01-01T00:00:00.000Z";
  data.dead_letters.push_back(letter);
  data.run_logs.push_back(
      {11, "a", {"2026-01-01T00:00:00.000Z", storage::LogLevel::kWarn, kEmail}});
  return data;
}

TEST(SubjectJsonTest, TheExportShowsTheSubjectsValuesInClearUnderTheApisKeyNames) {
  storage::SubjectQuery query;
  query.company_id = "autoscuola-a";
  query.fiscal_code = kFiscalCode;
  const json document = json::parse(SubjectExportJson(query, OneStudent()));
  EXPECT_EQ(document["subject"]["fiscalCode"], kFiscalCode);
  EXPECT_TRUE(document["found"].get<bool>());
  EXPECT_EQ(document["records"][0]["record"]["email"], kEmail);
  EXPECT_EQ(document["events"][0]["type"], "student.created");
  EXPECT_EQ(document["events"][0]["sequence"], 7);
  EXPECT_EQ(document["events"][0]["data"]["record"]["fiscalCode"], kFiscalCode);
  EXPECT_EQ(document["deliveries"][0]["subscriptionId"], "crm");
  EXPECT_EQ(document["deliveries"][0]["entity"], "autoscuola-a/sida/student/S1");
  EXPECT_THAT(document["deliveries"][0]["lastError"].get<std::string>(),
              testing::HasSubstr(kEmail));
  EXPECT_EQ(document["deadLetters"][0]["sourceId"], "a");
  EXPECT_EQ(document["deadLetters"][0]["at"], "2026-01-01T00:00:00.000Z");
  EXPECT_THAT(document["deadLetters"][0]["reason"].get<std::string>(), testing::HasSubstr(kEmail));
  EXPECT_EQ(document["runLogs"][0]["sourceId"], "a");
  EXPECT_EQ(document["runLogs"][0]["message"], kEmail);
}

TEST(SubjectJsonTest, AnErasureSaysWhatItDid) {
  storage::ErasureResult result;
  result.found = true;
  result.students = 1;
  result.records = 4;
  storage::StoredEvent erased;
  erased.sequence = 9;
  erased.event.event_id = "e-9";
  erased.event.entity = "student";
  erased.event.external_id = "S1";
  result.erased_events.push_back(erased);
  const json document = json::parse(ErasureResultJson(result));
  EXPECT_EQ(document["records"], 4);
  EXPECT_FALSE(document["alreadyErased"].get<bool>());
  EXPECT_EQ(document["erasedEvents"][0]["subject"], "student/S1");
}

}  // namespace
}  // namespace reglo::admin
