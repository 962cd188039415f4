#include "reglo/ingest/cidr.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "reglo/core/text.h"

namespace reglo::ingest {
namespace {

// Parses an address into `bytes`; sets `v6`. IPv4-mapped IPv6 addresses become IPv4.
bool ParseAddress(std::string_view text, std::array<uint8_t, 16>& bytes, bool& v6) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return false;
  const std::string zero_terminated(text);
  bytes.fill(0);
  if (inet_pton(AF_INET, zero_terminated.c_str(), bytes.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, zero_terminated.c_str(), bytes.data()) != 1) return false;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kMapped, sizeof kMapped) == 0) {
    std::memmove(bytes.data(), bytes.data() + 12, 4);
    std::memset(bytes.data() + 4, 0, 12);
    v6 = false;
    return true;
  }
  v6 = true;
  return true;
}

bool SamePrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(whole)) != 0) return false;
  const int bits = prefix % 8;
  if (bits == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - bits));
  return (a[static_cast<size_t>(whole)] & mask) == (b[static_cast<size_t>(whole)] & mask);
}

}  // namespace

Result<Cidr> Cidr::Parse(std::string_view text) {
  const Status bad = Status::InvalidArgument(
      fmt::format("'{}' is not an IP address or CIDR block (e.g. 203.0.113.0/24 or 2001:db8::/32)",
                  Excerpt(text)));
  Cidr cidr;
  const size_t slash = text.find('/');
  if (!ParseAddress(text.substr(0, slash), cidr.bytes_, cidr.v6_)) return bad;
  const int max = cidr.v6_ ? 128 : 32;
  cidr.prefix_ = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    // Plain digits only: from_chars would take "-0" (a /0 that lets everyone in) and std::stoi
    // " +8"; the length bound keeps the number small.
    if (digits.empty() || digits.size() > 3 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return bad;
    }
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), cidr.prefix_);
    if (error != std::errc() || end != digits.data() + digits.size() || cidr.prefix_ < 0 ||
        cidr.prefix_ > max) {
      return bad;
    }
  }
  // Clear the host bits, so that ToString is canonical.
  for (int bit = cidr.prefix_; bit < max; ++bit) {
    cidr.bytes_[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  return cidr;
}

bool Cidr::Contains(std::string_view address) const {
  std::array<uint8_t, 16> bytes{};
  bool v6 = false;
  if (!ParseAddress(address, bytes, v6) || v6 != v6_) return false;
  return SamePrefix(bytes, bytes_, prefix_);
}

std::string Cidr::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6_ ? AF_INET6 : AF_INET, bytes_.data(), text, sizeof text);
  return fmt::format("{}/{}", text, prefix_);
}

Result<std::vector<Cidr>> ParseCidrs(const std::vector<std::string>& texts) {
  std::vector<Cidr> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) {
    Result<Cidr> cidr = Cidr::Parse(text);
    if (!cidr.ok()) return cidr.status();
    out.push_back(*cidr);
  }
  return out;
}

}  // namespace reglo::ingest
