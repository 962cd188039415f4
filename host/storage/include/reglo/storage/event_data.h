// How an outbox event's CloudEvents `data` is stored (issue #19 §3): the one encoder
// and decoder that every backend's writer and reader (and anything that rewrites stored
// events, e.g. erasure) goes through, so a row's bytes mean the same everywhere. Pure functions
// over immutable shared dictionaries and per-thread zstd contexts; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "reglo/core/status.h"
#include "reglo/model/events.h"

namespace reglo::storage {

// The stored form of `event.data`, given the event's other columns (entity, company, source,
// externalId and version, which the data repeats and the stored form leaves out). Compressed
// with zstd and a fixed, versioned dictionary unless REGLO_EVENT_DATA=json was set when the
// process started (the pre-#19 layout: the JSON text itself, kept for before/after benchmarks).
std::string EncodeEventData(const model::EventRecord& event);

// The inverse: `stored` read back from an event row whose other columns are in `columns`
// (its `data` is not read). Reads both encodings: rows written before issue #19 hold the JSON
// text itself. Internal for bytes neither encoding can have written (a damaged row).
Result<std::string> DecodeEventData(const model::EventRecord& columns, std::string_view stored);

}  // namespace reglo::storage
