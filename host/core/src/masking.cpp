#include "reglo/core/masking.h"

#include <cctype>
#include <mutex>
#include <regex>

#include "reglo/core/crypto.h"

namespace reglo {
namespace {

std::mutex& KeyMutex() {
  static std::mutex mutex;
  return mutex;
}

std::string& MaskingKey() {
  static std::string key = "reglo-hub-default-masking-key";
  return key;
}

// True when `text` might hold something MaskPersonalData changes: a run of 16 letters and digits
// (a fiscal code), an '@' (an email) or 9 digits (a phone number). Each is necessary for its
// pattern to match, so text without any of them is returned as it is, without running the
// regular expressions: most log lines and messages ("data[3]: student.fiscalCode: missing")
// hold none, and matching them was most of the ingestion API's CPU time.
bool MightHoldPersonalData(std::string_view text) {
  size_t digits = 0;
  size_t alnum_run = 0;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '@') return true;
    if (std::isdigit(u) != 0) ++digits;
    alnum_run = std::isalnum(u) != 0 ? alnum_run + 1 : 0;
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
  for (char c : fiscal_code)
    normalized += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string key;
  {
    std::lock_guard<std::mutex> lock(KeyMutex());
    key = MaskingKey();
  }
  const Sha256Digest digest = HmacSha256(key, normalized);
  return "cf#" + HexEncode(digest.data(), 4);
}

std::string MaskPersonalData(std::string_view text) {
  if (!MightHoldPersonalData(text)) return std::string(text);
  static const std::regex kFiscalCode(
      R"(\b[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z]\b)");
  static const std::regex kEmail(R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,})");
  static const std::regex kPhone(R"((\+?\d[\d \-./]{6,}\d))");

  std::string out;
  std::string input(text);
  auto replace_all = [](const std::string& in, const std::regex& pattern, auto&& masker) {
    std::string result;
    auto begin = std::sregex_iterator(in.begin(), in.end(), pattern);
    size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      result.append(in, last, static_cast<size_t>(it->position()) - last);
      result += masker(it->str());
      last = static_cast<size_t>(it->position() + it->length());
    }
    result.append(in, last, std::string::npos);
    return result;
  };
  out = replace_all(input, kFiscalCode, [](const std::string& m) { return HashFiscalCode(m); });
  out = replace_all(out, kEmail, [](const std::string& m) { return MaskEmail(m); });
  static const std::regex kDate(R"(\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4})");
  out = replace_all(out, kPhone, [](const std::string& m) {
    size_t digits = 0;
    for (char c : m) digits += (c >= '0' && c <= '9') ? 1 : 0;
    // Shorter runs are counts and line numbers; dates ("32/01/2025 11:00") are not phones.
    if (digits < 9 || std::regex_search(m, kDate)) return m;
    return MaskPhone(m);
  });
  return out;
}

}  // namespace reglo
