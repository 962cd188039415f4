// Untrusted text made safe to print: every byte that came from a file, a socket, a plugin or a
// config passes through EscapeControlCharacters (directly or through MaskPersonalData) before it
// reaches a log, a terminal, a run log or an error message. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace reglo {

// `text` with every control character written out, so input can neither start a forged log line
// nor drive a terminal: "\n", "\r", "\t", "\0", "\e" for the common ones, "\xNN" for the other
// C0 bytes and DEL, "\u0080".."\u009f" for the C1 controls, and "\xNN" for each byte that is not
// part of valid UTF-8. Everything else (printable ASCII, valid multi-byte UTF-8) is kept, and so
// is the backslash: the function is idempotent, so text escaped when stored can be escaped again
// when shown without doubling.
std::string EscapeControlCharacters(std::string_view text);

// True when EscapeControlCharacters would change `text`.
bool HasControlCharacters(std::string_view text);

// What a message may echo of an input value: at most `max_bytes` of it (cut on a UTF-8 character
// boundary) followed by "…(N bytes)" when it was longer, with control characters escaped.
// "unknown entity '" + Excerpt(value) + "'" stays short whatever the value.
inline constexpr std::size_t kExcerptBytes = 200;
std::string Excerpt(std::string_view value, std::size_t max_bytes = kExcerptBytes);

// Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`, byte-wise and
// case-sensitive: "snyc" -> "sync" is 1. Quadratic: meant for names, not documents.
std::size_t EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `word` when it is close enough to be a typo of it (at most 2 edits,
// and fewer than half the candidate's length), else empty: "did you mean 'sync'?" for "snyc",
// nothing for "frobnicate". The first of equally near candidates wins.
std::string NearestName(std::string_view word, const std::vector<std::string>& candidates);

// True when `a` and `b` differ at most in the case of ASCII letters (header names, enum values).
bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b);

}  // namespace reglo
