#include "reglo/model/validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <unordered_map>

#include "reglo/core/byte_words.h"
#include "reglo/core/text.h"
#include "reglo/model/events.h"

namespace reglo::model {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsAlpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Parses `count` digits at text[pos]; -1 when they are not all digits.
int Digits(std::string_view text, size_t pos, size_t count) {
  if (pos + count > text.size()) return -1;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!IsDigit(text[i])) return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool IsLeap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm), and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int& year, int& month, int& day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<int>(y + (month <= 2));
}

struct ParsedDateTime {
  int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
  std::optional<int> offset_minutes;  // set when the text carried Z or an offset
};

// Appends `value` zero-padded to `width` digits, like fmt's "{:0<width>}".
void AppendDigits(std::string& out, int value, int width) {
  int limit = 1;
  for (int i = 0; i < width; ++i) limit *= 10;
  if (value < 0 || value >= limit) {  // a year shifted past 9999 by its offset, say
    out += std::to_string(value);
    return;
  }
  char digits[8];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits, static_cast<size_t>(width));
}

// "YYYY-MM-DDTHH:MM:SS" (by hand: fmt::format took a tenth of a cold load's validation).
std::string FormatDateTime(const ParsedDateTime& t) {
  std::string out;
  out.reserve(24);
  AppendDigits(out, t.year, 4);
  out += '-';
  AppendDigits(out, t.month, 2);
  out += '-';
  AppendDigits(out, t.day, 2);
  out += 'T';
  AppendDigits(out, t.hour, 2);
  out += ':';
  AppendDigits(out, t.minute, 2);
  out += ':';
  AppendDigits(out, t.second, 2);
  return out;
}

bool ParseDate(std::string_view text, ParsedDateTime& out) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return false;
  out.year = Digits(text, 0, 4);
  out.month = Digits(text, 5, 2);
  out.day = Digits(text, 8, 2);
  if (out.year < 1 || out.month < 1 || out.month > 12 || out.day < 1) return false;
  return out.day <= DaysInMonth(out.year, out.month);
}

std::optional<ParsedDateTime> ParseDateTime(std::string_view text, bool date_only_allowed) {
  ParsedDateTime out{};
  if (!ParseDate(text, out)) return std::nullopt;
  if (text.size() == 10) {
    if (!date_only_allowed) return std::nullopt;
    return out;
  }
  if (text[10] != 'T' && text[10] != ' ' && text[10] != 't') return std::nullopt;
  size_t pos = 11;
  out.hour = Digits(text, pos, 2);
  if (out.hour < 0 || out.hour > 23 || pos + 2 >= text.size() || text[pos + 2] != ':')
    return std::nullopt;
  out.minute = Digits(text, pos + 3, 2);
  if (out.minute < 0 || out.minute > 59) return std::nullopt;
  pos += 5;
  if (pos < text.size() && text[pos] == ':') {
    out.second = Digits(text, pos + 1, 2);
    if (out.second < 0 || out.second > 60) return std::nullopt;
    pos += 3;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      size_t digits = 0;
      ++pos;
      int millis = 0;
      while (pos < text.size() && IsDigit(text[pos])) {
        if (digits < 3) millis = millis * 10 + (text[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      for (size_t i = digits; i < 3; ++i) millis *= 10;
      out.millis = millis;
    }
  }
  if (pos == text.size()) return out;
  if ((text[pos] == 'Z' || text[pos] == 'z') && pos + 1 == text.size()) {
    out.offset_minutes = 0;
    return out;
  }
  if (text[pos] != '+' && text[pos] != '-') return std::nullopt;
  const int sign = text[pos] == '-' ? -1 : 1;
  const int hours = Digits(text, pos + 1, 2);
  size_t minute_pos = pos + 3;
  if (minute_pos < text.size() && text[minute_pos] == ':') ++minute_pos;
  const int minutes = minute_pos == text.size() ? 0 : Digits(text, minute_pos, 2);
  if (hours < 0 || hours > 14 || minutes < 0 || minutes > 59) return std::nullopt;
  if (minute_pos != text.size() && minute_pos + 2 != text.size()) return std::nullopt;
  out.offset_minutes = sign * (hours * 60 + minutes);
  return out;
}

// Moves a parsed time with an offset to UTC. False when that leaves years 0001-9999: the stored
// text must stay fixed-width (the stale check compares it as text) and parseable by the hub itself.
[[nodiscard]] bool ToUtc(ParsedDateTime& t) {
  if (!t.offset_minutes || *t.offset_minutes == 0) return true;
  int64_t minutes =
      DaysFromCivil(t.year, static_cast<unsigned>(t.month), static_cast<unsigned>(t.day)) * 1440 +
      int64_t{t.hour} * 60 + t.minute - *t.offset_minutes;
  int64_t days = minutes >= 0 ? minutes / 1440 : (minutes - 1439) / 1440;
  const int64_t minute_of_day = minutes - days * 1440;
  CivilFromDays(days, t.year, t.month, t.day);
  t.hour = static_cast<int>(minute_of_day / 60);
  t.minute = static_cast<int>(minute_of_day % 60);
  t.offset_minutes = 0;
  return t.year >= 1 && t.year <= 9999;
}

bool IsFiscalCodeCharacter(char c) {
  return IsDigit(c) || (c >= 'A' && c <= 'Z');
}

// The values of a character in an odd / even position; only for IsFiscalCodeCharacter(c).
int OddValue(char c) {
  static constexpr int kOdd[] = {1,  0,  5, 7, 9, 13, 15, 17, 19, 21, 2,  4,  18,
                                 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23};
  return IsDigit(c) ? kOdd[c - '0'] : kOdd[c - 'A'];
}

int EvenValue(char c) {
  return IsDigit(c) ? c - '0' : c - 'A';
}

bool IsOmocodiaDigit(char c) {
  return IsDigit(c) || kFiscalCodeOmocodiaLetters.find(c) != std::string_view::npos;
}

class Normalizer {
 public:
  Normalizer(const EntitySpec& entity, std::vector<std::string>& warnings)
      : entity_(entity), warnings_(warnings) {}

  std::optional<std::string> Normalize(const FieldSpec& field, std::string_view raw) {
    switch (field.type) {
      case FieldType::kText: return std::string(raw);
      case FieldType::kDate: {
        ParsedDateTime parsed{};
        if (raw.size() == 10 && ParseDate(raw, parsed)) return std::string(raw);
        Warn(field,
             fmt::format("'{}' is not a date (expected YYYY-MM-DD); kept as given", Excerpt(raw)));
        return std::string(raw);
      }
      case FieldType::kDateTime: {
        std::optional<ParsedDateTime> parsed = ParseDateTime(raw, false);
        if (!parsed) {
          Warn(field,
               fmt::format("'{}' is not an ISO 8601 date-time; kept as given", Excerpt(raw)));
          return std::string(raw);
        }
        const bool utc = parsed->offset_minutes.has_value();
        if (!ToUtc(*parsed)) {
          Warn(field, fmt::format("'{}' falls outside the years 0001-9999 in UTC; kept as given",
                                  Excerpt(raw)));
          return std::string(raw);
        }
        std::string text = FormatDateTime(*parsed);
        if (utc) text += 'Z';
        return text;
      }
      case FieldType::kInteger: {
        std::string_view digits = raw;
        if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
        if (digits.empty() || digits.size() > static_cast<size_t>(kIntegerMaxDigits) ||
            !std::all_of(digits.begin(), digits.end(), IsDigit)) {
          Warn(field, fmt::format("'{}' is not an integer; kept as given", Excerpt(raw)));
          return std::string(raw);
        }
        std::string value(raw[0] == '+' ? raw.substr(1) : raw);
        const size_t first = value[0] == '-' ? 1 : 0;
        while (value.size() > first + 1 && value[first] == '0') value.erase(first, 1);
        return value == "-0" ? "0" : value;
      }
      case FieldType::kBoolean: {
        const std::string lower = Lower(raw);
        auto among = [&](const std::vector<std::string_view>& spellings) {
          return std::find(spellings.begin(), spellings.end(), lower) != spellings.end();
        };
        if (among(BooleanTrueSpellings())) return "true";
        if (among(BooleanFalseSpellings())) return "false";
        Warn(field, fmt::format("'{}' is not a boolean; kept as given", Excerpt(raw)));
        return std::string(raw);
      }
      case FieldType::kEnum: {
        // Any case matches; the value is stored as the schema spells it.
        for (std::string_view allowed : field.allowed) {
          if (EqualsIgnoringAsciiCase(raw, allowed)) return std::string(allowed);
        }
        Warn(field, fmt::format("unknown value '{}'; kept", Excerpt(raw)));
        return std::string(raw);
      }
      case FieldType::kFiscalCode: {
        std::string code;
        for (char c : raw) {
          if (c != ' ') code += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        if (!FiscalCodeHasValidFormat(code)) {
          Warn(field, "invalid codice fiscale format");
        } else if (!FiscalCodeHasValidCheckCharacter(code)) {
          Warn(field, "invalid codice fiscale check character");
        }
        return code;
      }
      case FieldType::kEmail: {
        const size_t at = raw.find('@');
        std::string value(raw);
        if (at == std::string_view::npos || at == 0 ||
            raw.find('@', at + 1) != std::string_view::npos ||
            raw.find('.', at) == std::string_view::npos || raw.back() == '.' ||
            raw.find(' ') != std::string_view::npos) {
          Warn(field, "malformed e-mail address");
          return value;
        }
        return std::string(raw.substr(0, at)) + Lower(raw.substr(at));
      }
      case FieldType::kPhone: {
        std::string value;
        int digits = 0;
        bool bad = false;
        for (size_t i = 0; i < raw.size(); ++i) {
          const char c = raw[i];
          if (IsDigit(c)) {
            value += c;
            ++digits;
          } else if (c == '+' && value.empty()) {
            value += c;
          } else if (kPhoneSeparators.find(c) == std::string_view::npos) {
            bad = true;
          }
        }
        if (bad || digits < kPhoneMinDigits || digits > kPhoneMaxDigits) {
          Warn(field, "malformed phone number");
          return std::string(raw);
        }
        return value;
      }
      case FieldType::kCategoryList: {
        std::string joined;
        std::string token;
        bool bad = false;
        auto flush = [&] {
          if (token.empty()) return;
          const std::vector<std::string_view>& categories = LicenseCategories();
          if (std::find(categories.begin(), categories.end(), token) == categories.end())
            bad = true;
          if (!joined.empty()) joined += ',';
          joined += token;
          token.clear();
        };
        for (char c : raw) {
          if (kCategorySeparators.find(c) != std::string_view::npos) {
            flush();
          } else {
            token += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          }
        }
        flush();
        if (bad) {
          Warn(field, fmt::format("'{}' holds an unknown licence category; kept", Excerpt(raw)));
        }
        return joined;
      }
      case FieldType::kCurrency: {
        const std::string value = Upper(raw);
        if (value.size() != 3 || !std::all_of(value.begin(), value.end(), IsAlpha)) {
          Warn(field, fmt::format("'{}' is not an ISO 4217 currency code; kept", Excerpt(raw)));
        }
        return value;
      }
    }
    return std::string(raw);
  }

  void Warn(const FieldSpec& field, std::string_view message) {
    // Values of personal fields never appear in warnings; other values may help the operator.
    // (kOther values, dates and document numbers, are shown: they help and are not masked.)
    if (field.personal != PersonalData::kNone && field.personal != PersonalData::kOther &&
        message.find('\'') != std::string_view::npos) {
      warnings_.push_back(fmt::format("{}.{}: malformed value", entity_.name, field.name));
      return;
    }
    warnings_.push_back(fmt::format("{}.{}: {}", entity_.name, field.name, message));
  }

 private:
  const EntitySpec& entity_;
  std::vector<std::string>& warnings_;
};

}  // namespace

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  // ASCII words eight bytes at a time: most values are plain ASCII, and every one is checked.
  while (i + 8 <= text.size() && !byte_words::AnyHigh(byte_words::Load(text, i))) i += 8;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3F);
    }
    if ((length == 2 && code < 0x80) || (length == 3 && code < 0x800) ||
        (length == 4 && code < 0x10000) || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

std::string RepairUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    // Find the longest valid prefix starting here (1 to 4 bytes).
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (c < 0x80 || (i + length <= text.size() && IsValidUtf8(text.substr(i, length)))) {
      out.append(text.substr(i, c < 0x80 ? 1 : length));
      i += c < 0x80 ? 1 : length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

bool FiscalCodeHasValidFormat(std::string_view code) {
  if (code.size() != 16) return false;
  // LLLLLL DD L DD L DDD L, where each D may be an omocodia letter.
  for (size_t i = 0; i < 16; ++i) {
    const char c = code[i];
    const bool letter_slot = i < 6 || i == 8 || i == 11 || i == 15;
    if (letter_slot ? !(c >= 'A' && c <= 'Z') : !IsOmocodiaDigit(c)) return false;
  }
  return kFiscalCodeMonthLetters.find(code[8]) != std::string_view::npos;
}

char FiscalCodeCheckCharacter(std::string_view first15) {
  int sum = 0;
  for (size_t i = 0; i < 15 && i < first15.size(); ++i) {
    // Any input is safe: a character outside [0-9A-Z] has no value (the tables would be read
    // out of bounds), and no check character either.
    if (!IsFiscalCodeCharacter(first15[i])) return '\0';
    sum += (i % 2 == 0) ? OddValue(first15[i]) : EvenValue(first15[i]);
  }
  return static_cast<char>('A' + sum % 26);
}

bool FiscalCodeHasValidCheckCharacter(std::string_view code) {
  if (code.size() != 16) return false;
  const char check = FiscalCodeCheckCharacter(code.substr(0, 15));
  return check != '\0' && check == code[15];
}

std::optional<std::string> NormalizeTimestampUtc(std::string_view text) {
  std::optional<ParsedDateTime> parsed = ParseDateTime(Trim(text), true);
  if (!parsed || !ToUtc(*parsed)) return std::nullopt;
  std::string utc = FormatDateTime(*parsed);
  utc += '.';
  AppendDigits(utc, parsed->millis, 3);
  utc += 'Z';
  return utc;
}

std::variant<CanonicalRecord, Rejection> Validate(const RawRecord& raw) {
  std::vector<RawField> fields;
  fields.reserve(raw.fields.size());
  for (const auto& [name, value] : raw.fields) {
    RawField field{name, std::nullopt};
    if (value) field.value = std::string_view(*value);
    fields.push_back(field);
  }
  RawRecordView view{raw.entity,   raw.company_id, raw.source_system, raw.external_id,
                     std::nullopt, fields,         raw.origin};
  if (raw.source_updated_at) view.source_updated_at = std::string_view(*raw.source_updated_at);
  return Validate(view);
}

std::variant<CanonicalRecord, Rejection> Validate(const RawRecordView& raw) {
  const EntitySpec* entity = FindEntity(raw.entity);
  auto reject = [&](RecordKey key, std::string reason) {
    Rejection rejection;
    rejection.entity = RepairUtf8(raw.entity);
    rejection.key = std::move(key);
    rejection.origin = std::string(raw.origin);
    rejection.reason = std::move(reason);
    return rejection;
  };
  if (entity == nullptr) {
    return reject(
        {std::string(raw.company_id), std::string(raw.source_system), std::string(raw.external_id)},
        fmt::format("unknown entity '{}'", Excerpt(RepairUtf8(raw.entity))));
  }
  CanonicalRecord record;
  record.entity = entity;
  record.origin = std::string(raw.origin);
  auto clean = [](std::string_view text) {
    text = Trim(text);
    return IsValidUtf8(text) ? std::string(text) : RepairUtf8(text);
  };
  record.key.company_id = clean(raw.company_id);
  record.key.source_system = clean(raw.source_system);
  record.key.external_id = clean(raw.external_id);
  std::vector<std::string_view> missing;
  if (record.key.company_id.empty()) missing.push_back("companyId");
  if (record.key.source_system.empty()) missing.push_back("sourceSystem");
  if (record.key.external_id.empty()) missing.push_back("externalId");
  if (!missing.empty()) {
    return reject(record.key, fmt::format("{}: missing identity field {} (cannot be deduplicated)",
                                          entity->name, fmt::join(missing, ", ")));
  }
  // Whatever the source (a plugin in or out of process, an agent): an identity with a control
  // character would forge log lines, keys and file names, and NUL would cut it short in C.
  for (const auto& [name, value] : {std::pair{"companyId", &record.key.company_id},
                                    std::pair{"sourceSystem", &record.key.source_system},
                                    std::pair{"externalId", &record.key.external_id}}) {
    if (HasControlCharacters(*value)) {
      return reject(record.key, fmt::format("{}: identity field {} holds control characters ('{}')",
                                            entity->name, name, Excerpt(*value)));
    }
  }

  Normalizer normalizer(*entity, record.warnings);
  record.values.assign(entity->fields.size(), std::nullopt);
  std::string repaired;
  // Extra fields by (repaired) name: one lookup per field, so a record's cost stays linear.
  struct ExtraSlot {
    size_t index;
    std::string_view raw_name;  // as the record gave it (borrowed from `raw`)
  };
  std::unordered_map<std::string, ExtraSlot> extra_index;
  for (const RawField& field : raw.fields) {
    // NUL cannot be stored faithfully (PostgreSQL text refuses it; the ingestion API refuses it
    // too): the record is a dead letter on every store rather than a failed commit on one.
    if (field.value && field.value->find('\0') != std::string_view::npos) {
      return reject(record.key, fmt::format("{}.{}: the value holds NUL, which cannot be stored",
                                            entity->name, Excerpt(field.name)));
    }
    const int index = entity->FieldIndex(field.name);
    std::string_view value;
    if (field.value) {
      value = index >= 0 ? Trim(*field.value) : *field.value;  // extras stay byte-exact
      if (!IsValidUtf8(value)) {
        repaired = RepairUtf8(value);
        value = repaired;
        record.warnings.push_back(fmt::format("{}.{}: invalid UTF-8 replaced", entity->name,
                                              Excerpt(RepairUtf8(field.name))));
      }
    }
    if (index < 0) {
      if (field.value) {
        // A name repeated: the last value wins. Two different names that are the same once
        // repaired (two invalid bytes both become U+FFFD) would be two extras of one name: they
        // merge the same way, with a warning.
        std::string name =
            IsValidUtf8(field.name) ? std::string(field.name) : RepairUtf8(field.name);
        auto [it, inserted] =
            extra_index.try_emplace(name, ExtraSlot{record.extra.size(), field.name});
        if (inserted) {
          record.extra.emplace_back(std::move(name), std::string(value));
        } else {
          if (it->second.raw_name != field.name) {
            record.warnings.push_back(fmt::format(
                "{}.{}: two field names are the same once invalid UTF-8 is replaced; the last "
                "value is kept",
                entity->name, Excerpt(name)));
          }
          it->second.raw_name = field.name;
          record.extra[it->second.index].second = std::string(value);
        }
      }
      continue;
    }
    const size_t slot = static_cast<size_t>(index);
    if (!field.value || value.empty()) {
      record.values[slot] = std::nullopt;
    } else {
      record.values[slot] = normalizer.Normalize(entity->fields[slot], value);
    }
  }
  for (size_t i = 0; i < entity->fields.size(); ++i) {
    const FieldSpec& field = entity->fields[i];
    if (record.values[i]) continue;
    if (!field.default_value.empty()) {
      record.values[i] = std::string(field.default_value);
      continue;
    }
    record.warnings.push_back(fmt::format("{}.{}: missing", entity->name, field.name));
  }
  std::sort(record.extra.begin(), record.extra.end());

  if (raw.source_updated_at && !Trim(*raw.source_updated_at).empty()) {
    record.source_updated_at = NormalizeTimestampUtc(*raw.source_updated_at);
    if (!record.source_updated_at) {
      record.warnings.push_back(fmt::format(
          "{}.sourceUpdatedAt: '{}' is not an ISO 8601 timestamp of the years 0001-9999 (in "
          "UTC); ignored",
          entity->name, Excerpt(*raw.source_updated_at)));
    }
  } else {
    record.warnings.push_back(fmt::format("{}.sourceUpdatedAt: missing", entity->name));
  }
  record.content_hash = ContentHash(*entity, record.values, record.extra);
  PrepareEventData(record);
  return record;
}

}  // namespace reglo::model
