// The CSV connector's encodings are the connectors' shared ones (plugins/common): these names keep
// the CSV code and its tests reading as before. Thread-safety: see connector_common/encoding.h.
#pragma once

#include "reglo/connector_common/encoding.h"

namespace reglo::csv {

using connector_common::AppendAsUtf8;
using connector_common::AppendSanitizedUtf8;
using connector_common::Encoding;
using connector_common::EncodingName;
using connector_common::IsAscii;
using connector_common::IsValidUtf8;
using connector_common::ParseEncoding;

}  // namespace reglo::csv
