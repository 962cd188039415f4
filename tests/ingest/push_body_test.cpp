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
            "duplicate-json-key: data[0].a: the member \"a\" appears twice");
  EXPECT_EQ(slug(R"({"companyId":"c","sourceSystem":"s","data":[{"a":"\ud800"}]})").substr(0, 14),
            "malformed-json");
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
