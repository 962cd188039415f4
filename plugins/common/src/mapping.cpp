#include "reglo/connector_common/mapping.h"

namespace reglo::connector_common {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

// `value` is in range for `width` (checked by the caller): 2 or 4 digits, zero-padded.
void AppendPadded(int value, int width, std::string* out) {
  char digits[4];
  for (int i = width - 1; i >= 0; --i, value /= 10) digits[i] = static_cast<char>('0' + value % 10);
  out->append(digits, static_cast<size_t>(width));
}

void FoldInto(std::string_view text, std::string* out) {
  out->assign(text);
  for (size_t i = 0; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    } else if (c == '\xC3' && i + 1 < out->size()) {
      // U+00C0..U+00DE (À..Þ, except × U+00D7) are C3 80..C3 9E; lowercase is +0x20.
      auto& next = reinterpret_cast<unsigned char&>((*out)[i + 1]);
      if (next >= 0x80 && next <= 0x9E && next != 0x97)
        next = static_cast<unsigned char>(next + 0x20);
      ++i;
    }
  }
}

}  // namespace

std::string FoldCase(std::string_view text) {
  std::string out;
  FoldInto(text, &out);
  return out;
}

std::string_view Trim(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<DateFormat> DateFormat::Parse(std::string_view pattern, std::string* error) {
  DateFormat format;
  format.pattern_ = std::string(pattern);
  int seen[7] = {};
  for (size_t i = 0; i < pattern.size();) {
    const std::string_view rest = pattern.substr(i);
    Kind kind = Kind::kLiteral;
    size_t length = 1;
    if (rest.starts_with("yyyy")) {
      kind = Kind::kYear, length = 4;
    } else if (rest.starts_with("dd")) {
      kind = Kind::kDay, length = 2;
    } else if (rest.starts_with("mm")) {
      kind = Kind::kMonth, length = 2;
    } else if (rest.starts_with("HH")) {
      kind = Kind::kHour, length = 2;
    } else if (rest.starts_with("MM")) {
      kind = Kind::kMinute, length = 2;
    } else if (rest.starts_with("SS")) {
      kind = Kind::kSecond, length = 2;
    } else {
      const char c = rest.front();
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if ((letter && c != 'T') || IsDigit(c)) {
        *error = "'" + format.pattern_ + "': unexpected '" + std::string(1, c) +
                 "' (use the tokens dd mm yyyy HH MM SS and punctuation)";
        return std::nullopt;
      }
    }
    if (kind != Kind::kLiteral && ++seen[static_cast<int>(kind)] > 1) {
      *error = "'" + format.pattern_ + "': token '" + std::string(rest.substr(0, length)) +
               "' appears twice";
      return std::nullopt;
    }
    format.tokens_.push_back({kind, rest.front()});
    i += length;
  }
  auto has = [&](Kind kind) { return seen[static_cast<int>(kind)] > 0; };
  if (!has(Kind::kDay) || !has(Kind::kMonth) || !has(Kind::kYear)) {
    *error = "'" + format.pattern_ + "': a format needs dd, mm and yyyy";
    return std::nullopt;
  }
  if (has(Kind::kHour) != has(Kind::kMinute) || (has(Kind::kSecond) && !has(Kind::kHour))) {
    *error = "'" + format.pattern_ + "': a time needs HH and MM (SS is optional)";
    return std::nullopt;
  }
  format.has_time_ = has(Kind::kHour);
  return format;
}

bool DateFormat::Apply(std::string_view value, std::string* out) const {
  value = Trim(value);
  int parts[7] = {};
  size_t pos = 0;
  for (const Token& token : tokens_) {
    if (token.kind == Kind::kLiteral) {
      if (pos >= value.size() || value[pos] != token.literal) return false;
      ++pos;
      continue;
    }
    const size_t max_digits = token.kind == Kind::kYear ? 4 : 2;
    const size_t min_digits = token.kind == Kind::kYear ? 4 : 1;
    size_t digits = 0;
    int number = 0;
    while (digits < max_digits && pos < value.size() && IsDigit(value[pos])) {
      number = number * 10 + (value[pos] - '0');
      ++pos;
      ++digits;
    }
    if (digits < min_digits) return false;
    parts[static_cast<int>(token.kind)] = number;
  }
  if (pos != value.size()) return false;
  const int year = parts[static_cast<int>(Kind::kYear)];
  const int month = parts[static_cast<int>(Kind::kMonth)];
  const int day = parts[static_cast<int>(Kind::kDay)];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
    return false;
  }
  out->clear();
  AppendPadded(year, 4, out);
  out->push_back('-');
  AppendPadded(month, 2, out);
  out->push_back('-');
  AppendPadded(day, 2, out);
  if (has_time_) {
    const int hour = parts[static_cast<int>(Kind::kHour)];
    const int minute = parts[static_cast<int>(Kind::kMinute)];
    const int second = parts[static_cast<int>(Kind::kSecond)];
    if (hour > 23 || minute > 59 || second > 59) return false;
    out->push_back('T');
    AppendPadded(hour, 2, out);
    out->push_back(':');
    AppendPadded(minute, 2, out);
    out->push_back(':');
    AppendPadded(second, 2, out);
  }
  return true;
}

bool ValueMap::Add(std::string_view from, std::string_view to, std::string* error) {
  std::string key = FoldCase(Trim(from));
  auto [it, inserted] = map_.try_emplace(key, std::string(from), std::string(to));
  if (!inserted && it->second.second != to) {
    *error = "'" + it->second.first + "' and '" + std::string(from) +
             "' differ only in case or blanks but map to different values";
    return false;
  }
  return true;
}

std::optional<std::string_view> ValueMap::Find(std::string_view value, std::string& scratch) const {
  if (map_.empty()) return std::nullopt;
  FoldInto(Trim(value), &scratch);
  auto it = map_.find(scratch);
  if (it == map_.end()) return std::nullopt;
  return std::string_view(it->second.second);
}

FieldMapper::FieldMapper(const EntityMapping& mapping) {
  // The id and updated_at columns become externalId / sourceUpdatedAt, not fields, unless the
  // configuration also lists them in `columns` (the later assignment below wins).
  rules_[FoldCase(mapping.id_column)] = Rule{};
  if (!mapping.updated_at_column.empty()) rules_[FoldCase(mapping.updated_at_column)] = Rule{};
  for (const auto& [column, field] : mapping.columns) rules_[FoldCase(column)] = Rule{&field};
  for (const auto& [field, format] : mapping.formats) formats_[field] = &format;
  for (const auto& [field, values] : mapping.values) values_[field] = &values;
}

const FieldMapper::Rule* FieldMapper::FindRule(std::string_view column) {
  FoldInto(column, &fold_scratch_);
  auto it = rules_.find(fold_scratch_);
  return it == rules_.end() ? nullptr : &it->second;
}

const DateFormat* FieldMapper::FormatFor(std::string_view output_field) const {
  auto it = formats_.find(output_field);
  return it == formats_.end() ? nullptr : it->second;
}

void FieldMapper::Plan(std::span<const InField> in) {
  plan_.resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    Step& step = plan_[i];
    step.source_name.assign(in[i].name);
    step.dropped = false;
    step.output = std::string_view();  // empty: the source name (which `in` owns)
    if (const Rule* rule = FindRule(in[i].name)) {
      step.dropped = rule->output == nullptr;
      if (rule->output != nullptr) step.output = *rule->output;
    }
    const std::string_view name = step.output.empty() ? in[i].name : step.output;
    auto format = formats_.find(name);
    step.format = format == formats_.end() ? nullptr : format->second;
    auto values = values_.find(name);
    step.values = values == values_.end() ? nullptr : values->second;
  }
}

void FieldMapper::Map(std::span<const InField> in, std::vector<OutField>* out) {
  out->clear();
  bool same = plan_.size() == in.size();
  for (size_t i = 0; same && i < in.size(); ++i) same = plan_[i].source_name == in[i].name;
  if (!same) Plan(in);
  if (converted_.size() < in.size()) converted_.resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const Step& step = plan_[i];
    if (step.dropped) continue;
    const std::string_view name = step.output.empty() ? in[i].name : step.output;
    std::optional<std::string_view> value = in[i].value;
    if (value && (step.format != nullptr || step.values != nullptr) && !Trim(*value).empty()) {
      // A value that does not match its format stays as it is: the hub's validation warns.
      if (step.format != nullptr && step.format->Apply(*value, &converted_[i])) {
        value = converted_[i];
      }
      if (step.values != nullptr) {
        if (auto mapped = step.values->Find(*value, fold_scratch_)) value = *mapped;
      }
    }
    out->push_back({name, value});
  }
}

}  // namespace reglo::connector_common
