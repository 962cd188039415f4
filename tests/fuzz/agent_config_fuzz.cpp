// The agent's config loader (host/app/src/config.cpp, ParseAgentConfig) on any text. Whatever the
// text, the answer is a config or a configuration error: never an exception, never a crash.
#include <cstdint>
#include <string>

#include "reglo/app/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)reglo::app::ParseAgentConfig(text, "/nonexistent/reglo-fuzz");
  return 0;
}
