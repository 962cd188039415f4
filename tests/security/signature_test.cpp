// Standard Webhooks signatures: the specification's published test vector, multiple signatures,
// tampering, the timestamp tolerance on a ManualClock, and malformed headers.
#include "reglo/security/signature.h"

#include <gtest/gtest.h>

#include <string>

#include "reglo/core/clock.h"

namespace reglo::security {
namespace {

// From the standard-webhooks repository (libraries/javascript/src/webhook.test.ts, "sign function
// works"; the same values appear in the other libraries' tests).
constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kMsgId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kTimestamp = 1614265330;
constexpr std::string_view kPayload = R"({"test": 2432232314})";
constexpr std::string_view kExpected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

std::chrono::system_clock::time_point At(int64_t seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

std::string Key() {
  Result<std::string> key = ParseWebhookSecret(kSecret);
  EXPECT_TRUE(key.ok()) << key.status().message();
  return key.ok() ? *key : std::string();
}

class SignatureTest : public ::testing::Test {
 protected:
  ManualClock clock_{At(kTimestamp)};
  WebhookVerifier verifier_{Key(), clock_};
  std::string stamp_ = std::to_string(kTimestamp);

  Status Verify(std::string_view signature, std::string_view body = kPayload,
                std::string_view id = kMsgId) {
    return verifier_.Verify({id, stamp_, signature}, body);
  }
};

TEST_F(SignatureTest, SignsTheSpecificationsTestVector) {
  Result<std::string> signature = SignWebhook(Key(), kMsgId, kTimestamp, kPayload);
  ASSERT_TRUE(signature.ok());
  EXPECT_EQ(*signature, kExpected);
}

TEST_F(SignatureTest, VerifiesTheSpecificationsTestVector) {
  EXPECT_TRUE(Verify(kExpected).ok()) << Verify(kExpected).message();
  // The bare base64 secret works as in the reference libraries.
  Result<std::string> bare = ParseWebhookSecret(kSecret.substr(6));
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(*bare, Key());
}

TEST_F(SignatureTest, AcceptsOneMatchAmongSeveralSignatures) {
  // As in the specification's "multi sig payload is valid" test.
  const std::string header =
      "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
      "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " +
      std::string(kExpected) + " v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
  EXPECT_TRUE(Verify(header).ok());
}

TEST_F(SignatureTest, RejectsTamperingAndBadSignatures) {
  EXPECT_EQ(Verify(kExpected, R"({"test": 2432232315})").code(), StatusCode::kAuthError);
  EXPECT_EQ(Verify(kExpected, std::string(kPayload) + " ").code(), StatusCode::kAuthError);
  EXPECT_EQ(Verify(kExpected, kPayload, "msg_other").code(), StatusCode::kAuthError);
  for (std::string_view bad :
       {std::string_view("v1,dawfeoifkpqwoekfpqoekf"), kExpected.substr(0, 8),
        std::string_view("v1,"),
        std::string_view("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        std::string_view("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), std::string_view(" ")}) {
    SCOPED_TRACE(bad);
    const Status status = Verify(bad);
    EXPECT_EQ(status.code(), StatusCode::kAuthError);
    // Messages never echo a signature.
    EXPECT_EQ(status.message().find("g0hM"), std::string::npos);
  }
  // Another secret.
  WebhookVerifier other(std::string(32, 'k'), clock_);
  EXPECT_EQ(other.Verify({kMsgId, stamp_, kExpected}, kPayload).code(), StatusCode::kAuthError);
}

TEST_F(SignatureTest, RejectsTimestampsOutsideFiveMinutes) {
  const auto at = [&](int64_t offset) {
    const std::string stamp = std::to_string(kTimestamp + offset);
    Result<std::string> signature = SignWebhook(Key(), kMsgId, kTimestamp + offset, kPayload);
    return verifier_.Verify({kMsgId, stamp, *signature}, kPayload);
  };
  EXPECT_TRUE(at(-300).ok());
  EXPECT_TRUE(at(300).ok());
  const Status old = at(-301);
  EXPECT_EQ(old.code(), StatusCode::kAuthError);
  EXPECT_NE(old.message().find("too old"), std::string::npos);
  const Status future = at(301);
  EXPECT_EQ(future.code(), StatusCode::kAuthError);
  EXPECT_NE(future.message().find("future"), std::string::npos);
  // The clock moves: the vector itself expires 5 minutes later.
  clock_.Advance(std::chrono::seconds(300));
  EXPECT_TRUE(Verify(kExpected).ok());
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Verify(kExpected).code(), StatusCode::kAuthError);
}

TEST_F(SignatureTest, RejectsMissingAndMalformedHeaders) {
  EXPECT_EQ(verifier_.Verify({"", stamp_, kExpected}, kPayload).code(), StatusCode::kAuthError);
  EXPECT_EQ(verifier_.Verify({kMsgId, "", kExpected}, kPayload).code(), StatusCode::kAuthError);
  EXPECT_EQ(verifier_.Verify({kMsgId, stamp_, ""}, kPayload).code(), StatusCode::kAuthError);
  for (std::string_view stamp :
       {"hello", "-1614265330", "1614265330.5", " 1614265330", "99999999999999999999999"}) {
    SCOPED_TRACE(stamp);
    EXPECT_EQ(verifier_.Verify({kMsgId, stamp, kExpected}, kPayload).code(),
              StatusCode::kAuthError);
  }
  EXPECT_EQ(verifier_.Verify({std::string(300, 'x'), stamp_, kExpected}, kPayload).code(),
            StatusCode::kAuthError);
}

// The refusal says what was at fault as a value (the ingestion API's problem type), not as words
// in the message.
TEST_F(SignatureTest, ARefusalSaysWhetherTheTimestampOrTheSignatureWasAtFault) {
  SignatureRefusal refusal = SignatureRefusal::kNone;
  EXPECT_TRUE(verifier_.Verify({kMsgId, stamp_, kExpected}, kPayload, &refusal).ok());
  EXPECT_EQ(refusal, SignatureRefusal::kNone);
  for (std::string_view stamp : {"", "hello", "1", "99999999999"}) {
    SCOPED_TRACE(stamp);
    EXPECT_FALSE(verifier_.Verify({kMsgId, stamp, kExpected}, kPayload, &refusal).ok());
    EXPECT_EQ(refusal, SignatureRefusal::kTimestamp);
  }
  EXPECT_FALSE(verifier_.Verify({kMsgId, stamp_, "v1,AAAA"}, kPayload, &refusal).ok());
  EXPECT_EQ(refusal, SignatureRefusal::kSignature);
  EXPECT_FALSE(verifier_.Verify({kMsgId, stamp_, kExpected}, "other", &refusal).ok());
  EXPECT_EQ(refusal, SignatureRefusal::kSignature);
  EXPECT_FALSE(verifier_.Verify({"", stamp_, kExpected}, kPayload, &refusal).ok());
  EXPECT_EQ(refusal, SignatureRefusal::kSignature);
}

TEST_F(SignatureTest, VerifiesRawBytesIncludingNulAndInvalidUtf8) {
  const std::string body("a\0b\xff\xfe", 5);
  Result<std::string> signature = SignWebhook(Key(), kMsgId, kTimestamp, body);
  ASSERT_TRUE(signature.ok());
  EXPECT_TRUE(Verify(*signature, body).ok());
  EXPECT_EQ(Verify(*signature, std::string("a", 1)).code(), StatusCode::kAuthError);
}

TEST(WebhookSecretTest, RejectsMalformedSecrets) {
  for (std::string_view secret : {"", "whsec_", "whsec_!!!!", "whsec_abc", "not base64"}) {
    SCOPED_TRACE(secret);
    EXPECT_EQ(ParseWebhookSecret(secret).status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace reglo::security
