// Validation and normalisation of canonical records under the V1 policy "accept + warning":
// missing identity -> rejected; anything else wrong -> accepted with a warning naming the field.
// Pure functions; thread-safe.
#pragma once

#include <string_view>
#include <variant>

#include "reglo/model/record.h"

namespace reglo::model {

// Either a normalised record (possibly with warnings) or the reason it must be rejected.
std::variant<CanonicalRecord, Rejection> Validate(const RawRecordView& raw);
std::variant<CanonicalRecord, Rejection> Validate(const RawRecord& raw);

// Codice fiscale checks (uppercase input, no spaces).
bool FiscalCodeHasValidFormat(std::string_view code);
bool FiscalCodeHasValidCheckCharacter(std::string_view code);
// The check character of the first 15 characters of a codice fiscale.
char FiscalCodeCheckCharacter(std::string_view first15);

// Normalises an ISO 8601 timestamp to "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC); nullopt if malformed.
// A timestamp without offset is taken as UTC.
std::optional<std::string> NormalizeTimestampUtc(std::string_view text);

// True when `text` is well-formed UTF-8.
bool IsValidUtf8(std::string_view text);
// `text` with each invalid UTF-8 sequence replaced by U+FFFD.
std::string RepairUtf8(std::string_view text);

}  // namespace reglo::model
