// Hashing primitives (OpenSSL): SHA-256 for content hashes and ids, HMAC-SHA256 for keyed hashes.
// Stateless functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "reglo/core/status.h"

namespace reglo {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view data);
Sha256Digest HmacSha256(std::string_view key, std::string_view data);
std::string HexEncode(const uint8_t* data, size_t size);
// The same into `out` (replacing what it held, reusing its capacity): for per-record paths.
void HexEncodeInto(const uint8_t* data, size_t size, std::string& out);
inline std::string HexEncode(const Sha256Digest& digest) {
  return HexEncode(digest.data(), digest.size());
}

// Incremental SHA-256 for data that arrives in pieces (file contents).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view data);
  Sha256Digest Finish();

 private:
  void* ctx_;
};

// `size` bytes from OpenSSL's CSPRNG (keys, tokens); kInternal if it cannot draw them.
Result<std::string> RandomBytes(size_t size);
// Constant-time equality of two byte strings of the same length (false for different lengths).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// A UUID-shaped (version 8, RFC 9562) deterministic id derived from the SHA-256 of `name`.
std::string DeterministicUuid(std::string_view name);

}  // namespace reglo
