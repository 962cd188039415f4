// ParsePushBody and RateLimiter as pure units.
#include "reglo/ingest/push_body.h"

#include <gtest/gtest.h>

#include "reglo/ingest/rate_limiter.h"

namespace reglo::ingest {
namespace {

TEST(PushBody, FlatRecordsBecomeRawRecords) {
  const PushBodyParse parse = ParsePushBody(
      R"({"data":[{"entity":"student","externalId":"S1","companyId":"c","firstName":"A",)"
      R"("age":17,"ratio":1.5,"active":false,"email":null,"sourceUpdatedAt":"2025-01-01"}],)"
      R"("companyId":"c","sourceSystem":"s","stream":"students","cursor":null})",
      {});
  ASSERT_TRUE(parse.body.has_value()) << parse.error->detail;
  const PushBody& body = *parse.body;
  EXPECT_EQ(body.company_id, "c");
  EXPECT_EQ(body.stream, "students");
  EXPECT_FALSE(body.cursor.has_value());
  ASSERT_EQ(body.records.size(), 1u);
  const model::RawRecord& record = body.records[0];
  EXPECT_EQ(record.entity, "student");
  EXPECT_EQ(record.external_id, "S1");
  EXPECT_EQ(record.source_updated_at, std::optional<std::string>("2025-01-01"));
  EXPECT_EQ(record.origin, "data[0]");
  ASSERT_EQ(record.fields.size(), 5u);
  EXPECT_EQ(record.fields[1].second, std::optional<std::string>("17"));
  EXPECT_EQ(record.fields[2].second, std::optional<std::string>("1.5"));
  EXPECT_EQ(record.fields[3].second, std::optional<std::string>("false"));
  EXPECT_FALSE(record.fields[4].second.has_value());
}

TEST(PushBody, RefusalsNameThePlaceNeverTheValue) {
  const auto slug = [](std::string_view text, PushLimits limits = {}) {
    PushBodyParse parse = ParsePushBody(text, limits);
    return parse.error ? parse.error->slug + ": " + parse.error->detail : std::string("ok");
  };
  EXPECT_EQ(slug(R"({"companyId":"c","sourceSystem":"s"})"),
            "invalid-body: \"data\" (an array of records) is missing");
  EXPECT_EQ(slug(R"({"companyId":"c","sourceSystem":"s","data":[],"extra":1})").substr(0, 12),
            "invalid-body");
  EXPECT_EQ(slug(R"({"companyId":"c","sourceSystem":"s","data":[1]})"),
            "invalid-body: data[0]: a record must be a JSON object");
  PushLimits small;
  small.max_string_bytes = 12;
  EXPECT_EQ(
      slug(R"({"companyId":"c","sourceSystem":"s","data":[{"n":"RSSMRA85T10A562S"}]})", small),
      "string-too-long: data[0].n: strings may be at most 12 bytes");
  EXPECT_EQ(slug(R"({"companyId":"c","sourceSystem":"s","data":[{"n":{"a":{"b":1,"b":2}}}]})"),
            "duplicate-json-key: data[0].n: the member \"b\" appears twice");
  EXPECT_EQ(slug(R"({"companyId":"c","sourceSystem":"s","data":[{"a":1,"a":2}]})"),
            "duplicate-json-key: data[0]: the member \"a\" appears twice");
  EXPECT_EQ(slug(R"({"companyId":"c","sourceSystem":"s","data":[{"a":"\ud800"}]})").substr(0, 14),
            "malformed-json");
}

std::string Refusal(std::string_view text, PushLimits limits = {}) {
  PushBodyParse parse = ParsePushBody(text, limits);
  return parse.error ? parse.error->slug + ": " + parse.error->detail : std::string("ok");
}

std::string Envelope(std::string_view records) {
  return R"({"companyId":"c","sourceSystem":"s","data":[)" + std::string(records) + "]}";
}

// One record of `members` members "f0".."fN": 80,000 fit in the 8 MiB default body.
std::string WideRecord(size_t members) {
  std::string record = R"({"entity":"student","externalId":"S1")";
  for (size_t i = 0; i < members; ++i) record += ",\"f" + std::to_string(i) + "\":1";
  return Envelope(record + "}");
}

// Fuzzing: the duplicate-key check compared each member with every earlier one (80,000 members:
// 11-17 s of CPU). Now one hash lookup per member, and a record has at most max_fields_per_record
// fields, refused naming the record; the refusal comes at member limit+1, whatever follows.
TEST(PushBody, ARecordOverTheFieldLimitIsRefusedNamingIt) {
  const std::string wide = WideRecord(80'000);
  EXPECT_LT(wide.size(), 8u << 20);
  EXPECT_EQ(Refusal(wide), "too-many-fields: data[0]: a record may have at most 1000 fields");
  PushLimits limits;
  limits.max_fields_per_record = 3;
  EXPECT_EQ(Refusal(WideRecord(3), limits), "ok");  // entity and externalId are not fields
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student"},{"a":1,"b":2,"c":3,"d":4})"), limits),
            "too-many-fields: data[1]: a record may have at most 3 fields");
  // Linear by construction: the same check, with the limit out of the way, on 80,000 members.
  limits.max_fields_per_record = 100'000;
  const PushBodyParse parse = ParsePushBody(wide, limits);
  ASSERT_TRUE(parse.body.has_value());
  EXPECT_EQ(parse.body->records[0].fields.size(), 80'000u);
  EXPECT_EQ(Refusal(Envelope(R"({"n":{"a":1,"b":2,"a":3}})")),
            "duplicate-json-key: data[0].n: the member \"a\" appears twice");
}

// nlohmann's lexer takes NUL for the end of input: a valid body + NUL + garbage was accepted.
TEST(PushBody, ARawNulByteAnywhereIsMalformedJson) {
  const std::string body = Envelope("");
  EXPECT_EQ(Refusal(body), "ok");
  EXPECT_EQ(Refusal(body + std::string("\0garbage", 8)),
            "malformed-json: not valid JSON near byte " + std::to_string(body.size()));
  EXPECT_EQ(Refusal(body + " garbage").substr(0, 14), "malformed-json");
  EXPECT_EQ(Refusal(std::string(R"({"companyId":"c)") + '\0' + R"("})").substr(0, 14),
            "malformed-json");
}

TEST(PushBody, ReservedMembersMustBeStrings) {
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","companyId":["other"]})")),
            "invalid-body: data[0].companyId: expected a string");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":{"x":1}})")),
            "invalid-body: data[0].entity: expected a string");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","externalId":[]})")),
            "invalid-body: data[0].externalId: expected a string");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","sourceSystem":{}})")),
            "invalid-body: data[0].sourceSystem: expected a string");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","sourceUpdatedAt":[1]})")),
            "invalid-body: data[0].sourceUpdatedAt: expected a string");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":5})")),
            "invalid-body: data[0].entity: expected a string");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","sourceUpdatedAt":null,"x":[1]})")), "ok");
}

// \u0000 in any string of a push is refused naming the place; other control characters only in
// the identity members; elsewhere they are kept byte for byte.
TEST(PushBody, NulIsRefusedEverywhereAndControlCharactersInIdentities) {
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","externalId":"7\u00001"})")),
            "invalid-body: data[0].externalId: NUL (\\u0000) is not allowed");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","note":"a\u0000b"})")),
            "invalid-body: data[0].note: NUL (\\u0000) is not allowed");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","n\u0000ote":"a"})")),
            "invalid-body: data[0]: a member name holds NUL (\\u0000), which is not allowed");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","n":{"k":["\u0000"]}})")),
            "invalid-body: data[0].n: NUL (\\u0000) is not allowed");
  EXPECT_EQ(Refusal(R"({"companyId":"c","sourceSystem":"s","cursor":"\u0000","data":[]})"),
            "invalid-body: cursor: NUL (\\u0000) is not allowed");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"student","externalId":"S\n1"})")),
            "invalid-body: data[0].externalId: control characters are not allowed in an identity "
            "field");
  EXPECT_EQ(Refusal(Envelope(R"({"entity":"stud\u001bent"})")),
            "invalid-body: data[0].entity: control characters are not allowed in an identity "
            "field");
  EXPECT_EQ(Refusal(R"({"companyId":"c\u0085","sourceSystem":"s","data":[]})"),
            "invalid-body: \"companyId\": control characters are not allowed");
  const PushBodyParse kept =
      ParsePushBody(Envelope(R"({"entity":"student","note":"a\tb\r\n\u001b[31m"})"), {});
  ASSERT_TRUE(kept.body.has_value()) << kept.error->detail;
  EXPECT_EQ(kept.body->records[0].fields[0].second, "a\tb\r\n\x1b[31m");
}

TEST(PushBody, NestedValuesAreKeptAsCompactJsonText) {
  const PushBodyParse parse = ParsePushBody(
      R"({"companyId":"c","sourceSystem":"s","data":[{"entity":"instructor","externalId":"I1",)"
      R"("licenseCategories":["B", "C"],"address":{"city":"Roma","geo":[41.9,12.5],"x":null},)"
      R"("active":true}]})",
      {});
  ASSERT_TRUE(parse.body.has_value()) << parse.error->detail;
  const auto& fields = parse.body->records[0].fields;
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0].first, "licenseCategories");
  EXPECT_EQ(fields[0].second, std::optional<std::string>(R"(["B","C"])"));
  EXPECT_EQ(fields[1].second,
            std::optional<std::string>(R"({"city":"Roma","geo":[41.9,12.5],"x":null})"));
  EXPECT_EQ(fields[2].second, std::optional<std::string>("true"));
}

TEST(RateLimiterTest, BurstThenSustainedRateWithRetryAfter) {
  ManualClock clock(std::chrono::system_clock::now());
  RateLimiter limiter(clock);
  const RateLimit limit{2.0, 3};  // one every 500 ms, three at once
  EXPECT_TRUE(limiter.Acquire(1, limit).allowed);
  EXPECT_TRUE(limiter.Acquire(1, limit).allowed);
  EXPECT_TRUE(limiter.Acquire(1, limit).allowed);
  const RateLimiter::Decision refused = limiter.Acquire(1, limit);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, std::chrono::milliseconds(500));
  EXPECT_TRUE(limiter.Acquire(2, limit).allowed);  // keys are independent
  clock.Advance(std::chrono::milliseconds(499));
  EXPECT_FALSE(limiter.Acquire(1, limit).allowed);
  clock.Advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(limiter.Acquire(1, limit).allowed);
  EXPECT_FALSE(limiter.Acquire(1, limit).allowed);
}

}  // namespace
}  // namespace reglo::ingest
