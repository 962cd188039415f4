#include "reglo/csv/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <stdexcept>
#include <vector>

namespace reglo::csv {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (ctx_->md == nullptr) throw std::bad_alloc();
  Reset();
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Reset() {
  if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 initialisation failed");
  }
}

void Sha256::Update(const void* data, size_t size) {
  if (size != 0) EVP_DigestUpdate(ctx_->md, data, size);
}

std::string Sha256::HexDigest() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  if (copy == nullptr) throw std::bad_alloc();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const bool ok =
      EVP_MD_CTX_copy_ex(copy, ctx_->md) == 1 && EVP_DigestFinal_ex(copy, digest, &length) == 1;
  EVP_MD_CTX_free(copy);
  if (!ok) throw std::runtime_error("SHA-256 finalisation failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * static_cast<size_t>(length), '0');
  for (size_t i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return hex;
}

std::optional<std::string> Sha256OfFile(const std::string& path, std::optional<uint64_t> limit,
                                        uint64_t* bytes_hashed) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  Sha256 sha;
  std::vector<char> buffer(size_t{256} << 10);
  uint64_t total = 0;
  bool ok = true;
  for (;;) {
    size_t want = buffer.size();
    if (limit && *limit - total < want) want = static_cast<size_t>(*limit - total);
    if (want == 0) break;
    const ssize_t n = ::read(fd, buffer.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      break;
    }
    if (n == 0) {
      ok = !limit;  // a prefix longer than the file cannot match
      break;
    }
    sha.Update(buffer.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  if (!ok) return std::nullopt;
  if (bytes_hashed != nullptr) *bytes_hashed = total;
  return sha.HexDigest();
}

}  // namespace reglo::csv
