#include "reglo/core/masking.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstdlib>
#include <mutex>

#include "reglo/core/crypto.h"
#include "reglo/core/text.h"

namespace reglo {
namespace {

std::mutex& KeyMutex() {
  static std::mutex mutex;
  return mutex;
}

// Until SetMaskingKey is called, a random key of this process: hashes still hide the code and
// match within the process, but never against a key anyone could know.
std::string& MaskingKey() {
  static std::string key = [] {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no randomness: nothing is safe
    return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
  }();
  return key;
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsLetter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
// \w of the patterns these scanners replace: a fiscal code is a whole word.
bool IsWordChar(char c) {
  return IsDigit(c) || IsLetter(c) || c == '_';
}
bool IsEmailLocalChar(char c) {
  return IsDigit(c) || IsLetter(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool IsEmailDomainChar(char c) {
  return IsDigit(c) || IsLetter(c) || c == '.' || c == '-';
}
bool IsPhoneChar(char c) {
  return IsDigit(c) || c == ' ' || c == '-' || c == '.' || c == '/';
}
bool IsDateSeparator(char c) {
  return c == '/' || c == '.' || c == '-';
}

// The length of the fiscal-code hash ("cf#" and 16 hex digits) starting at text[i], or 0. Masking
// skips hashes, so masking masked text changes nothing (its digits are no phone number, its hex
// letters no codice fiscale).
size_t HashLengthAt(std::string_view text, size_t i) {
  constexpr size_t kLength = 3 + 2 * kFiscalCodeHashBytes;
  if (text.compare(i, 3, "cf#") != 0 || i + kLength > text.size()) return 0;
  for (size_t k = i + 3; k < i + kLength; ++k) {
    const char c = text[k];
    if (!IsDigit(c) && !(c >= 'a' && c <= 'f')) return 0;
  }
  if (i + kLength < text.size() && IsWordChar(text[i + kLength])) return 0;
  return kLength;
}

// The positions of a codice fiscale that hold a digit, or its omocodia letter (L-V).
bool IsCodeDigit(char c) {
  switch (std::toupper(static_cast<unsigned char>(c))) {
    case 'L':
    case 'M':
    case 'N':
    case 'P':
    case 'Q':
    case 'R':
    case 'S':
    case 'T':
    case 'U':
    case 'V': return true;
    default: return IsDigit(c);
  }
}

// AAAAAA99A99A999A, with omocodia letters allowed in the digit positions.
bool LooksLikeFiscalCode(std::string_view word) {
  if (word.size() != 16) return false;
  static constexpr char kShape[] = "LLLLLLDDLDDLDDDL";
  for (size_t i = 0; i < 16; ++i) {
    if (kShape[i] == 'L' ? !IsLetter(word[i]) : !IsCodeDigit(word[i])) return false;
  }
  return true;
}

// Every whole word that looks like a codice fiscale, replaced by its keyed hash.
std::string MaskFiscalCodes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (const size_t hash = HashLengthAt(text, i); hash > 0) {
      out.append(text.substr(i, hash));
      i += hash;
      continue;
    }
    if (!IsWordChar(text[i])) {
      out += text[i++];
      continue;
    }
    size_t end = i;
    while (end < text.size() && IsWordChar(text[end])) ++end;
    const std::string_view word = text.substr(i, end - i);
    if (LooksLikeFiscalCode(word)) {
      out += HashFiscalCode(word);
    } else {
      out.append(word);
    }
    i = end;
  }
  return out;
}

// Every e-mail address (local@domain.tld, the tld two letters or more) replaced by MaskEmail.
// Leftmost-longest like the regular expression it replaces, in one pass: the local part is the
// run of local characters before an '@' (not reaching into what was already copied), the domain
// the longest prefix of the domain characters after it that ends in '.' and two letters or more.
std::string MaskEmails(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;  // text[0, copied) is in `out`
  size_t at = text.find('@');
  while (at != std::string_view::npos) {
    size_t start = at;
    while (start > copied && IsEmailLocalChar(text[start - 1])) --start;
    size_t run_end = at + 1;
    while (run_end < text.size() && IsEmailDomainChar(text[run_end])) ++run_end;
    // The last '.' in the run with a letter before the end of the run after it, two at least,
    // and something before it.
    size_t end = 0;
    for (size_t dot = run_end; dot > at + 2;) {
      --dot;
      if (text[dot] != '.') continue;
      size_t letters = dot + 1;
      while (letters < run_end && IsLetter(text[letters])) ++letters;
      if (letters - (dot + 1) >= 2) {
        end = letters;
        break;
      }
    }
    if (start < at && end != 0) {
      out.append(text.substr(copied, start - copied));
      out += MaskEmail(text.substr(start, end - start));
      copied = end;
      at = text.find('@', end);
    } else {
      at = text.find('@', at + 1);
    }
  }
  out.append(text.substr(copied));
  return out;
}

// True when `text` holds a date: digits, a separator (/ . -), one or two digits, a separator,
// digits ("32/01/2025", "2026-11-26"). One pass over the digit runs.
bool HoldsDate(std::string_view text) {
  bool previous_joined = false;  // the previous run followed a run and one separator
  size_t previous_length = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsDigit(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && IsDigit(text[end])) ++end;
    const bool joined = i >= 2 && IsDateSeparator(text[i - 1]) && IsDigit(text[i - 2]);
    if (joined && previous_joined && previous_length <= 2) return true;
    previous_joined = joined;
    previous_length = end - i;
    i = end;
  }
  return false;
}

// True when a span of digit groups (`digits` digits, the first group `lead`, after a '+' when
// `plus`) reads as a phone number of the Italian numbering plan rather than an ordinary number:
// - "+39 333 1234567": 9 to 15 digits after the '+' (E.164 allows 15);
// - otherwise the first group has two digits at least ("0.000123456", "3.14159265" are decimals)
//   and it is international ("0039 ..."; 9 to 15 digits after the 00), mobile (3xx; 9 or 10
//   digits) or landline (0x with the area code; 9 to 11 digits).
// Anything else (a count, an id, a timestamp, 9223372036854775807) is no phone.
bool IsPhoneNumber(bool plus, std::string_view lead, size_t digits) {
  if (plus) return digits >= 9 && digits <= 15;
  if (lead.size() < 2) return false;
  if (lead[0] == '0' && lead[1] == '0') return digits >= 11 && digits <= 17;
  if (lead[0] == '3') return digits >= 9 && digits <= 10;
  if (lead[0] == '0') return digits >= 9 && digits <= 11;
  return false;
}

// The end of the digit group starting at text[i].
size_t GroupEnd(std::string_view text, size_t i) {
  while (i < text.size() && IsDigit(text[i])) ++i;
  return i;
}

// The next digit at or after text[i] before `end` (phone characters between), or `end`.
size_t NextGroup(std::string_view text, size_t i, size_t end) {
  while (i < end && !IsDigit(text[i])) ++i;
  return i;
}

// Phone numbers in runs of digits joined by blanks and - . / (an optional '+' first): from each
// digit group on, the longest span of whole groups that IsPhoneNumber accepts and that holds no
// date is replaced by MaskPhone, so two numbers in a row are both masked and a long number is
// left alone. Linear, in constant memory: a span holds 17 digits at most, so each group is looked
// at from at most 18 starts.
std::string MaskPhones(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (const size_t hash = HashLengthAt(text, i); hash > 0) {
      i += hash;
      continue;
    }
    const bool plus = text[i] == '+' && i + 1 < text.size() && IsDigit(text[i + 1]);
    if (!plus && !IsDigit(text[i])) {
      ++i;
      continue;
    }
    size_t run_end = plus ? i + 1 : i;
    while (run_end < text.size() && IsPhoneChar(text[run_end])) ++run_end;
    size_t group = plus ? i + 1 : i;
    while (group < run_end) {
      const bool with_plus = plus && group == i + 1;
      const size_t start = with_plus ? i : group;
      const size_t lead_end = GroupEnd(text, group);
      const std::string_view lead = text.substr(group, lead_end - group);
      size_t end = 0;  // of the longest phone number from `start`; 0: none
      size_t digits = 0;
      for (size_t at = group; at < run_end && digits <= 17; at = NextGroup(text, at, run_end)) {
        const size_t at_end = GroupEnd(text, at);
        digits += at_end - at;
        if (IsPhoneNumber(with_plus, lead, digits)) end = at_end;
        at = at_end;
      }
      // The digits after a decimal point ("0.000123456789") start no number.
      const bool fraction = group > i + 1 && text[group - 1] == '.' && IsDigit(text[group - 2]);
      if (end == 0 || fraction || HoldsDate(text.substr(start, end - start))) {
        group = NextGroup(text, lead_end, run_end);
        continue;
      }
      out.append(text.substr(copied, start - copied));
      out += MaskPhone(text.substr(start, end - start));
      copied = end;
      group = NextGroup(text, end, run_end);
    }
    i = run_end;
  }
  out.append(text.substr(copied));
  return out;
}

// True when `text` might hold something the scanners change: a run of 16 letters and digits
// (a fiscal code), an '@' (an email) or 9 digits (a phone number). Most log lines and messages
// ("data[3]: student.fiscalCode: missing") hold none and are returned after one cheap pass.
bool MightHoldPersonalData(std::string_view text) {
  size_t digits = 0;
  size_t alnum_run = 0;
  for (char c : text) {
    if (c == '@') return true;
    if (IsDigit(c)) ++digits;
    alnum_run = IsDigit(c) || IsLetter(c) ? alnum_run + 1 : 0;
    if (alnum_run >= 16 || digits >= 9) return true;
  }
  return false;
}

}  // namespace

std::string MaskEmail(std::string_view email) {
  const size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0) return "***";
  std::string_view domain = email.substr(at + 1);
  const size_t dot = domain.rfind('.');
  std::string masked;
  masked += email[0];
  masked += "***@";
  if (!domain.empty()) masked += domain[0];
  masked += "***";
  if (dot != std::string_view::npos) masked += domain.substr(dot);
  return masked;
}

std::string MaskPhone(std::string_view phone) {
  std::string digits;
  for (char c : phone) {
    if (c >= '0' && c <= '9') digits += c;
  }
  if (digits.size() <= 2) return "***";
  return "***" + digits.substr(digits.size() - 2);
}

std::string NameInitials(std::string_view name) {
  std::string initials;
  bool at_word_start = true;
  for (char c : name) {
    const bool is_letter =
        static_cast<unsigned char>(c) >= 0x80 || std::isalpha(static_cast<unsigned char>(c));
    if (is_letter && at_word_start && static_cast<unsigned char>(c) < 0x80) {
      if (!initials.empty()) initials += ' ';
      initials += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      initials += '.';
    }
    at_word_start = !is_letter && c != '\'';
  }
  return initials.empty() ? "***" : initials;
}

void SetMaskingKey(std::string key) {
  std::lock_guard<std::mutex> lock(KeyMutex());
  MaskingKey() = std::move(key);
}

std::string HashFiscalCode(std::string_view fiscal_code) {
  std::string normalized;
  normalized.reserve(fiscal_code.size());
  for (char c : fiscal_code)
    normalized += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string key;
  {
    std::lock_guard<std::mutex> lock(KeyMutex());
    key = MaskingKey();
  }
  const Sha256Digest digest = HmacSha256(key, normalized);
  return "cf#" + HexEncode(digest.data(), kFiscalCodeHashBytes);
}

std::string MaskPersonalData(std::string_view text) {
  // Masked whole (the scanners are linear), then cut: a cut first could leave a partial e-mail,
  // phone or codice fiscale at the edge that no scanner recognises any more.
  std::string masked = MightHoldPersonalData(text) ? MaskPhones(MaskEmails(MaskFiscalCodes(text)))
                                                   : std::string(text);
  if (masked.size() <= kMaxMaskedBytes) return EscapeControlCharacters(masked);
  // Cut on a character boundary and say how long it was; the tail of a huge value says nothing an
  // operator needs, and no message should be megabytes long.
  size_t end = kMaxMaskedBytes;
  for (int step = 0;
       step < 3 && end > 0 && (static_cast<unsigned char>(masked[end]) & 0xC0) == 0x80; ++step) {
    --end;
  }
  masked.resize(end);
  return EscapeControlCharacters(masked) + fmt::format("…({} bytes)", text.size());
}

}  // namespace reglo
