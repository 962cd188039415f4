#include "reglo/connector_common/encoding.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace reglo::connector_common {
namespace {

// Windows-1252 bytes 0x80..0x9F. The five holes (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to the C1
// control with the same number, as the WHATWG Encoding Standard does, so no byte is ever lost.
constexpr std::array<char16_t, 32> kCp1252High = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

// Each encoding with the names ParseEncoding accepts for it, the one EncodingName gives first
// (unused slots are empty).
struct NamedEncoding {
  Encoding encoding;
  std::array<std::string_view, 4> names;
};
constexpr std::array<NamedEncoding, 3> kEncodingNames = {{
    {Encoding::kUtf8, {"utf-8", "utf8"}},
    {Encoding::kWindows1252, {"windows-1252", "cp1252", "win-1252"}},
    {Encoding::kLatin1, {"iso-8859-1", "iso8859-1", "latin1", "latin-1"}},
}};

void AppendCodePoint(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    const char bytes[2] = {static_cast<char>(0xC0 | (cp >> 6)),
                           static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(bytes, 2);
  } else {
    const char bytes[3] = {static_cast<char>(0xE0 | (cp >> 12)),
                           static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                           static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(bytes, 3);
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Length of the well-formed UTF-8 sequence at p[0..n), or 0 when ill-formed; then *bad is the
// length of the maximal subpart to replace with one U+FFFD (Unicode 15, section 3.9, U+FFFD
// policy).
size_t SequenceLength(const unsigned char* p, size_t n, size_t* bad) {
  const unsigned char b0 = p[0];
  *bad = 1;
  if (b0 < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= n) return 0;
    const unsigned char b = p[i];
    const unsigned char min = i == 1 ? lo : 0x80;
    const unsigned char max = i == 1 ? hi : 0xBF;
    if (b < min || b > max) return 0;
    *bad = i + 1;
  }
  return need;
}

// Where the first ill-formed sequence at or after `from` starts, or text.size() when there is
// none; *bad is then the length to replace (see SequenceLength).
size_t FindIllFormedUtf8(std::string_view text, size_t from, size_t* bad) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = from;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t len = SequenceLength(p + i, n - i, bad);
    if (len == 0) return i;
    i += len;
  }
  return n;
}

}  // namespace

std::optional<Encoding> ParseEncoding(std::string_view name) {
  for (const auto& [encoding, names] : kEncodingNames) {
    for (std::string_view known : names) {
      if (!known.empty() && EqualsIgnoreCase(name, known)) return encoding;
    }
  }
  return std::nullopt;
}

std::string_view EncodingName(Encoding encoding) {
  for (const auto& [known, names] : kEncodingNames) {
    if (known == encoding) return names[0];
  }
  return "utf-8";
}

bool IsAscii(std::string_view text) {
  const char* p = text.data();
  size_t n = text.size();
  // Eight bytes at a time: this runs on every row of every file.
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & 0x8080808080808080ULL) return false;
    p += 8;
    n -= 8;
  }
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(p[i]) >= 0x80) return false;
  }
  return true;
}

void AppendAsUtf8(Encoding from, std::string_view text, std::string& out) {
  if (from == Encoding::kUtf8) {
    out.append(text);
    return;
  }
  size_t run = 0;  // start of the pending ASCII run, appended in one go
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    char32_t cp = byte;
    if (from == Encoding::kWindows1252 && byte < 0xA0) cp = kCp1252High[byte - 0x80];
    AppendCodePoint(cp, out);
  }
  out.append(text.data() + run, text.size() - run);
}

bool IsValidUtf8(std::string_view text) {
  size_t bad = 0;
  return FindIllFormedUtf8(text, 0, &bad) == text.size();
}

void AppendSanitizedUtf8(std::string_view text, std::string& out) {
  size_t run = 0;  // start of the well-formed text not appended yet
  size_t bad = 0;
  for (size_t i; (i = FindIllFormedUtf8(text, run, &bad)) != text.size(); run = i + bad) {
    out.append(text.data() + run, i - run);
    out.append("\xEF\xBF\xBD");
  }
  out.append(text.data() + run, text.size() - run);
}

}  // namespace reglo::connector_common
