#include "reglo/core/crypto.h"

#include <gtest/gtest.h>

namespace reglo {
namespace {

TEST(CryptoTest, Sha256MatchesKnownVector) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Stream stream;
  stream.Update("a");
  stream.Update("bc");
  EXPECT_EQ(HexEncode(stream.Finish()), HexEncode(Sha256("abc")));
}

TEST(CryptoTest, HmacSha256MatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, DeterministicUuidIsStableAndWellFormed) {
  const std::string id = DeterministicUuid("student/S1/v1");
  EXPECT_EQ(id, DeterministicUuid("student/S1/v1"));
  EXPECT_NE(id, DeterministicUuid("student/S1/v2"));
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '8');  // version 8
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
}

}  // namespace
}  // namespace reglo
