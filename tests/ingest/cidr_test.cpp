// CIDR allowlist blocks: parsing, canonical text, membership for IPv4, IPv6 and mapped addresses.
#include "reglo/ingest/cidr.h"

#include <gtest/gtest.h>

namespace reglo::ingest {
namespace {

Cidr Parsed(std::string_view text) {
  Result<Cidr> cidr = Cidr::Parse(text);
  EXPECT_TRUE(cidr.ok()) << cidr.status().message();
  return cidr.ok() ? *cidr : Cidr();
}

TEST(CidrTest, ParsesAndCanonicalises) {
  EXPECT_EQ(Parsed("10.1.2.3/8").ToString(), "10.0.0.0/8");
  EXPECT_EQ(Parsed("203.0.113.7").ToString(), "203.0.113.7/32");
  EXPECT_EQ(Parsed("0.0.0.0/0").ToString(), "0.0.0.0/0");
  EXPECT_EQ(Parsed("2001:db8::1/32").ToString(), "2001:db8::/32");
  EXPECT_EQ(Parsed("::1").ToString(), "::1/128");
}

TEST(CidrTest, RejectsMalformedBlocks) {
  for (std::string_view bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0/8",
                               "example.com", "2001:db8::/129", "10.0.0.0/8x", "10.0.0.0/ 8"}) {
    SCOPED_TRACE(bad);
    const Result<Cidr> cidr = Cidr::Parse(bad);
    EXPECT_EQ(cidr.status().code(), StatusCode::kInvalidArgument);
  }
}

// Fuzzing found "-0" taken as /0 (an allowlist that lets everyone in): a prefix length is plain
// digits, in range, nothing else.
TEST(CidrTest, APrefixLengthIsPlainDigitsOnly) {
  for (std::string_view bad : {"10.0.0.0/-0", "::/-0", "10.0.0.0/+8", "10.0.0.0/8 ", "10.0.0.0/0x8",
                               "10.0.0.0/0008", "::/-128", "10.0.0.0/\t8"}) {
    SCOPED_TRACE(bad);
    const Result<Cidr> cidr = Cidr::Parse(bad);
    EXPECT_EQ(cidr.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Parsed("10.0.0.0/08").ToString(), "10.0.0.0/8");
  EXPECT_EQ(Parsed("::/0").ToString(), "::/0");
}

TEST(CidrTest, ContainsAddressesOfItsFamily) {
  const Cidr v4 = Parsed("192.168.10.0/23");
  EXPECT_TRUE(v4.Contains("192.168.10.1"));
  EXPECT_TRUE(v4.Contains("192.168.11.255"));
  EXPECT_FALSE(v4.Contains("192.168.12.0"));
  EXPECT_TRUE(v4.Contains("::ffff:192.168.11.2"));  // IPv4-mapped
  EXPECT_FALSE(v4.Contains("2001:db8::1"));
  EXPECT_FALSE(v4.Contains("not an address"));
  const Cidr v6 = Parsed("2001:db8:abcd::/48");
  EXPECT_TRUE(v6.Contains("2001:db8:abcd:1::5"));
  EXPECT_FALSE(v6.Contains("2001:db8:abce::5"));
  EXPECT_FALSE(v6.Contains("10.0.0.1"));
  EXPECT_TRUE(Parsed("0.0.0.0/0").Contains("8.8.8.8"));
}

}  // namespace
}  // namespace reglo::ingest
