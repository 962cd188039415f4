// Incremental SHA-256 (OpenSSL EVP) for file fingerprints in the CSV connector's cursor.
// A Sha256 object owns its OpenSSL context; it is movable, not copyable (use Fork to branch).
// Thread-safety: one object per thread; distinct objects are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace reglo::csv {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Reset();
  void Update(const void* data, size_t size);
  // Lowercase hex digest of everything fed so far; the object can keep accumulating afterwards
  // (the digest is taken from a copy of the context), which is how a prefix hash is taken mid-file.
  std::string HexDigest() const;

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Hex SHA-256 of the first `limit` bytes of a file (all of it when limit is nullopt), read with a
// fixed buffer. nullopt when the file cannot be read or is shorter than `limit`.
std::optional<std::string> Sha256OfFile(const std::string& path,
                                        std::optional<uint64_t> limit = std::nullopt,
                                        uint64_t* bytes_hashed = nullptr);

}  // namespace reglo::csv
