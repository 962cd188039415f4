// Base64: RFC 4648 test vectors and strict decoding.
#include "reglo/security/base64.h"

#include <gtest/gtest.h>

namespace reglo::security {
namespace {

TEST(Base64Test, EncodesAndDecodesTheRfcVectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::optional<std::string>(plain));
  }
  const std::string bytes("\x00\xff\xfe\x80", 4);
  EXPECT_EQ(Base64Decode(Base64Encode(bytes)), std::optional<std::string>(bytes));
}

TEST(Base64Test, RejectsNonCanonicalText) {
  for (std::string_view bad :
       {"Zg", "Zg=", "Z===", "====", "Zm9v!", "Zh==", "Zm8=Zm8=", "Zm 9v", "Zm9-", "Zm9_"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(Base64Decode(bad).has_value());
  }
}

}  // namespace
}  // namespace reglo::security
