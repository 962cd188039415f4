// Base64 (host/security/src/base64.cpp) both ways: decoding any text, and the round trips. Only
// canonical padded base64 decodes, so what decodes encodes back to the same text.
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "reglo/security/base64.h"

using reglo::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (const auto decoded = reglo::security::Base64Decode(bytes)) {
    Check(reglo::security::Base64Encode(*decoded) == bytes, "decoded text is not canonical base64");
  }
  const auto round_trip = reglo::security::Base64Decode(reglo::security::Base64Encode(bytes));
  Check(round_trip && *round_trip == bytes, "Base64Decode(Base64Encode(x)) != x");
  return 0;
}
