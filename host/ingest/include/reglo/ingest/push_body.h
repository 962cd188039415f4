// The body of POST /api/hub/ingest, parsed strictly (DESIGN §8): {"sourceSystem", "companyId",
// "cursor", "stream", "data": [records]}. Refuses, with a stable problem slug, what a lenient
// parser would let through: invalid UTF-8, a NUL byte or \u0000 anywhere, duplicate keys (at any
// level), nesting deeper than the limit, more records than the limit, a record with more fields
// than the limit, over-long strings, unknown envelope members, reserved record members that are
// not strings, and control characters in identity members. A record is flat: "entity",
// "externalId", optional "sourceUpdatedAt" (and "companyId"/"sourceSystem", which must equal the
// envelope's), then its canonical fields; numbers and booleans become their JSON text, objects
// and arrays their compact JSON text, null an absent value. The cost is linear in the body.
// Pure function; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/model/record.h"

namespace reglo::ingest {

struct PushLimits {
  size_t max_records = 1000;            // records per request
  size_t max_json_depth = 8;            // nesting: envelope 1, data 2, record 3, values 4+
  size_t max_string_bytes = 64 * 1024;  // any string or key, after unescaping
  size_t max_fields_per_record = 1000;  // members of a record besides the reserved ones
};

struct PushBody {
  std::string company_id;
  std::string source_system;
  std::string stream = "default";
  std::optional<std::string> cursor;      // null or absent: the hub's cursor stays
  std::vector<model::RawRecord> records;  // origin "data[i]"; company/source left empty
};

struct PushBodyError {
  std::string slug;    // invalid-utf8, malformed-json, duplicate-json-key, json-too-deep,
                       // too-many-records, too-many-fields, string-too-long, invalid-body,
                       // scope-mismatch
  std::string detail;  // names the place (member, record index), never a value
};

// Exactly one of the two is set.
struct PushBodyParse {
  std::optional<PushBody> body;
  std::optional<PushBodyError> error;
};

PushBodyParse ParsePushBody(std::string_view body, const PushLimits& limits);

}  // namespace reglo::ingest
