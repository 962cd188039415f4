// The CSV connector's column mapping is the shared connector mapping (plugins/common): these names
// keep the CSV code and its tests reading as before. Thread-safety: see connector_common/mapping.h.
#pragma once

#include "reglo/connector_common/mapping.h"

namespace reglo::csv {

using connector_common::DateFormat;
using connector_common::EntityMapping;
using connector_common::FieldMapper;
using connector_common::FoldCase;
using connector_common::InField;
using connector_common::OutField;
using connector_common::Trim;
using connector_common::ValueMap;

}  // namespace reglo::csv
