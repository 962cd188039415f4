#include "reglo/core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace reglo {

namespace {

// OpenSSL 3 looks the algorithm up (under a lock) on every one-shot call; fetching it once and
// reusing one context per thread keeps hashing off the hot path's profile.
const EVP_MD* FetchedSha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct ThreadDigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~ThreadDigestContext() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest digest{};
  thread_local ThreadDigestContext context;
  unsigned int length = 0;
  if (context.ctx == nullptr || FetchedSha256() == nullptr ||
      EVP_DigestInit_ex(context.ctx, FetchedSha256(), nullptr) != 1 ||
      EVP_DigestUpdate(context.ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.ctx, digest.data(), &length) != 1) {
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  }
  return digest;
}

Sha256Digest HmacSha256(std::string_view key, std::string_view data) {
  Sha256Digest digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &length);
  return digest;
}

std::string HexEncode(const uint8_t* data, size_t size) {
  std::string text;
  HexEncodeInto(data, size, text);
  return text;
}

void HexEncodeInto(const uint8_t* data, size_t size, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out.resize(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr ||
      EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1) {
    throw std::bad_alloc();
  }
}

Sha256Stream::~Sha256Stream() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Sha256Stream::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

Sha256Digest Sha256Stream::Finish() {
  Sha256Digest digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest.data(), &length);
  return digest;
}

std::string DeterministicUuid(std::string_view name) {
  Sha256Digest digest = Sha256(name);
  digest[6] = static_cast<uint8_t>((digest[6] & 0x0f) | 0x80);  // version 8
  digest[8] = static_cast<uint8_t>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string hex = HexEncode(digest.data(), 16);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

Result<std::string> RandomBytes(size_t size) {
  std::string bytes(size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(size)) != 1) {
    return Status::Internal("OpenSSL could not draw random bytes");
  }
  return bytes;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace reglo
