// The push body parser (host/ingest/src/push_body.cpp) on any body, with the default limits.
// Properties: exactly one of body and error is set; an accepted body is valid JSON as a whole
// (nlohmann's parser as the reference); its records' names and values are valid UTF-8, and a
// reserved member (entity, externalId, ...) never ends up among a record's fields.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "fuzz_support.h"
#include "reglo/ingest/push_body.h"
#include "reglo/model/validation.h"

using reglo::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const reglo::ingest::PushBodyParse parsed =
      reglo::ingest::ParsePushBody(body, reglo::ingest::PushLimits{});
  Check(parsed.body.has_value() != parsed.error.has_value(), "not exactly one of body and error");
  if (!parsed.body) return 0;
  // nlohmann's lexer ends the input at a NUL byte, which valid JSON never holds raw.
  Check(body.find('\0') == std::string_view::npos, "an accepted body holds a NUL byte");
  Check(nlohmann::json::accept(body), "an accepted body is not valid JSON");
  for (const reglo::model::RawRecord& record : parsed.body->records) {
    Check(reglo::model::IsValidUtf8(record.external_id), "an externalId is not valid UTF-8");
    for (const auto& [name, value] : record.fields) {
      Check(reglo::model::IsValidUtf8(name), "a member name is not valid UTF-8");
      Check(name != "entity" && name != "externalId" && name != "sourceUpdatedAt" &&
                name != "companyId" && name != "sourceSystem",
            "a reserved member was kept as a field");
      Check(!value || reglo::model::IsValidUtf8(*value), "a value is not valid UTF-8");
    }
  }
  return 0;
}
