// Text encodings of source data (CSV exports, database text): Windows-1252 / ISO-8859-1 to UTF-8
// conversion and UTF-8 checking; shared by the bundled connectors.
// Pure functions over caller-owned buffers: no allocation beyond appending to the output string.
// Thread-safety: stateless (the conversion tables are constant), safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace reglo::connector_common {

enum class Encoding { kUtf8, kWindows1252, kLatin1 };

// "utf-8"/"utf8", "windows-1252"/"cp1252", "iso-8859-1"/"latin1"/"latin-1", case-insensitive.
std::optional<Encoding> ParseEncoding(std::string_view name);
std::string_view EncodingName(Encoding encoding);

// True when every byte is < 0x80 (ASCII is the same in all three encodings: nothing to convert).
bool IsAscii(std::string_view text);

// Appends `text`, encoded in the single-byte `from` encoding, to `out` as UTF-8. With kUtf8 the
// bytes are appended unchanged (use AppendSanitizedUtf8 to check them).
void AppendAsUtf8(Encoding from, std::string_view text, std::string& out);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// Appends `text` to `out`, replacing each maximal ill-formed subsequence with U+FFFD (the
// Unicode-recommended practice), so the hub only ever receives valid UTF-8.
void AppendSanitizedUtf8(std::string_view text, std::string& out);

}  // namespace reglo::connector_common
