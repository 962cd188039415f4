// Masking of personal data before anything reaches a log, a run log line or an error message.
// Pure functions; thread-safe. The fiscal-code hash key is process-wide and set once at start-up.
#pragma once

#include <string>
#include <string_view>

namespace reglo {

// "mario.rossi@example.com" -> "m***@e***.com"
std::string MaskEmail(std::string_view email);
// "+39 333 1234567" -> "***67"
std::string MaskPhone(std::string_view phone);
// "Mario Rossi" -> "M. R."
std::string NameInitials(std::string_view name);
// "RSSMRA85T10A562S" -> "cf#3f1a09c2" (keyed hash: equal codes match, the code cannot be read
// back).
std::string HashFiscalCode(std::string_view fiscal_code);
// Sets the key of HashFiscalCode (from the hub's secret); without one a fixed per-process key is
// used.
void SetMaskingKey(std::string key);
// Masks every codice fiscale, e-mail address and phone-like number found in free text.
std::string MaskPersonalData(std::string_view text);

}  // namespace reglo
