// Masking of personal data before anything reaches a log, a run log line or an error message.
// Linear in time and constant in stack on any input (single-pass scanners, no regular
// expressions). Thread-safe. The fiscal-code hash key is process-wide: every command that masks
// sets it once at start-up from the hub's master key file (app/keys.h InstallMaskingKey).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace reglo {

// "mario.rossi@example.com" -> "m***@e***.com"
std::string MaskEmail(std::string_view email);
// "+39 333 1234567" -> "***67"
std::string MaskPhone(std::string_view phone);
// "Mario Rossi" -> "M. R."
std::string NameInitials(std::string_view name);

// Bytes of HMAC-SHA256 a fiscal-code hash keeps: 64 bits, so a guessed code cannot be confirmed
// by chance collisions, while the hash stays short in a log line.
inline constexpr std::size_t kFiscalCodeHashBytes = 8;
// "RSSMRA85T10A562S" -> "cf#3f1a09c2d41b77e0": HMAC-SHA256 under the masking key (upper-cased
// first, so equal codes match); without the key the code cannot be confirmed or read back.
std::string HashFiscalCode(std::string_view fiscal_code);
// Sets the key of HashFiscalCode. Until it is called a random key of this process is used (never
// a constant): hashes then match only within the process.
void SetMaskingKey(std::string key);

// Text longer than this is cut (on a character boundary) before masking, marked "…(N bytes)".
inline constexpr std::size_t kMaxMaskedBytes = 4096;
// Makes input-derived text safe to log or show: cut to kMaxMaskedBytes, every codice fiscale
// hashed, e-mail address and phone number masked, then control characters escaped
// (text.h EscapeControlCharacters). Idempotent on its own output. A phone number is one of the
// Italian numbering plan ("+39 ...", "0039 ...", mobile 3xx, landline 0x); other numbers
// ("from 0 to 9223372036854775807", counts, ids, timestamps) are kept as they are.
std::string MaskPersonalData(std::string_view text);

}  // namespace reglo
