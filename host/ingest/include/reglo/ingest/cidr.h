// CIDR blocks (IPv4 "10.0.0.0/8", IPv6 "2001:db8::/32"; a bare address is a /32 or /128) for the
// per-key IP allowlists of the ingestion API (DESIGN §8). Values; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/core/status.h"

namespace reglo::ingest {

class Cidr {
 public:
  // kInvalidArgument naming `text` when it is not an address with an optional prefix length.
  static Result<Cidr> Parse(std::string_view text);

  // True when `address` (an IPv4 or IPv6 address, no prefix) lies in the block. An IPv4-mapped
  // IPv6 address (::ffff:10.1.2.3) counts as its IPv4 address.
  bool Contains(std::string_view address) const;
  // The canonical text: network address (host bits cleared) "/" prefix length.
  std::string ToString() const;

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> bytes_{};  // the first 4 for IPv4
  int prefix_ = 0;
};

// Parses every block; the first bad one is the error.
Result<std::vector<Cidr>> ParseCidrs(const std::vector<std::string>& texts);

}  // namespace reglo::ingest
