// CIDR blocks (host/ingest/src/cidr.cpp) from any text: the first line is the block, the second an
// address to test against it. Properties: a prefix length is plain digits; a parsed block prints
// canonically (its text parses back to itself) and contains its own network address.
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "reglo/ingest/cidr.h"

using reglo::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view text = input.substr(0, newline);
  const std::string_view address =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  const auto cidr = reglo::ingest::Cidr::Parse(text);
  if (!cidr.ok()) return 0;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    for (char c : text.substr(slash + 1)) {
      Check(c >= '0' && c <= '9', "a prefix length that is not plain digits was accepted");
    }
  }
  const std::string canonical = cidr->ToString();
  const auto again = reglo::ingest::Cidr::Parse(canonical);
  Check(again.ok() && again->ToString() == canonical, "the canonical text does not parse back");
  Check(cidr->Contains(canonical.substr(0, canonical.find('/'))),
        "a block does not contain its network address");
  (void)cidr->Contains(address);
  return 0;
}
