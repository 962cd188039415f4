#include "reglo/core/status.h"

#include <gtest/gtest.h>

namespace reglo {
namespace {

Status Fails() {
  return Status::ConfigError("sources[0].id: missing");
}
Status Propagates() {
  REGLO_RETURN_IF_ERROR(Fails());
  return Status::Internal("not reached");
}

TEST(StatusTest, CarriesCodeMessageAndContext) {
  EXPECT_TRUE(Status::Ok().ok());
  Status status = Propagates();
  EXPECT_EQ(status.code(), StatusCode::kConfigError);
  EXPECT_EQ(status.ToString(), "config error: sources[0].id: missing");
  EXPECT_EQ(status.WithContext("hub.json").message(), "hub.json: sources[0].id: missing");
}

TEST(StatusTest, ResultHoldsAValueOrAStatus) {
  Result<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  Result<int> error = Status::NotFound("no such source");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace reglo
