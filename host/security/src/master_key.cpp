#include "reglo/security/master_key.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "reglo/core/crypto.h"
#include "reglo/security/base64.h"

namespace reglo::security {
namespace {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr std::string_view kSealedVersion = "v1:";
constexpr std::string_view kAadPrefix = "reglo-agent-secret:";

struct CipherFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

const unsigned char* U(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

std::string Aad(std::string_view context) {
  return std::string(kAadPrefix) + std::string(context);
}

Status WriteNewKeyFile(const std::string& path) {
  std::string bytes(kKeySize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(kKeySize)) != 1) {
    return Status::Internal("OpenSSL could not draw random bytes for the master key");
  }
  const std::string text = Base64Encode(bytes) + "\n";
  const std::filesystem::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), ec);
  const std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IoError(
        fmt::format("cannot create the master key file {}: {}", temp, std::strerror(errno)));
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!written) {
    ::unlink(temp.c_str());
    return Status::IoError(
        fmt::format("cannot write the master key file {}: {}", temp, std::strerror(saved)));
  }
  // link() fails when the target exists: of two first starts, the second keeps the first's key.
  const int linked = ::link(temp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(temp.c_str());
  if (linked != 0 && link_errno != EEXIST) {
    return Status::IoError(
        fmt::format("cannot create the master key file {}: {}", path, std::strerror(link_errno)));
  }
  return Status::Ok();
}

}  // namespace

Result<MasterKey> MasterKey::FromBytes(std::string_view bytes) {
  if (bytes.size() != kKeySize) return Status::InvalidArgument("a master key is 32 bytes");
  return MasterKey(std::string(bytes));
}

Result<MasterKey> MasterKey::LoadOrCreate(const std::string& path) {
  if (path.empty()) return Status::ConfigError("no master key file is configured");
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno != ENOENT) {
      return Status::IoError(
          fmt::format("cannot read the master key file {}: {}", path, std::strerror(errno)));
    }
    REGLO_RETURN_IF_ERROR(WriteNewKeyFile(path));
    if (::stat(path.c_str(), &info) != 0) {
      return Status::IoError(
          fmt::format("cannot read the master key file {}: {}", path, std::strerror(errno)));
    }
  }
  if (!S_ISREG(info.st_mode)) {
    return Status::ConfigError(fmt::format("the master key file {} is not a regular file", path));
  }
  if ((info.st_mode & 077) != 0) {
    return Status::ConfigError(fmt::format(
        "the master key file {} may be read by other users; run: chmod 600 {}", path, path));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  if (!in) {
    return Status::IoError(fmt::format("cannot read the master key file {}", path));
  }
  std::string text = contents.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::optional<std::string> bytes = Base64Decode(text);
  if (!bytes || bytes->size() != kKeySize) {
    return Status::ConfigError(fmt::format(
        "the master key file {} does not hold a master key (base64 of 32 bytes)", path));
  }
  return MasterKey(std::move(*bytes));
}

Result<std::string> MasterKey::Seal(std::string_view plaintext, std::string_view context) const {
  std::string blob(kNonceSize + plaintext.size() + kTagSize, '\0');
  auto* out = reinterpret_cast<unsigned char*>(blob.data());
  if (RAND_bytes(out, static_cast<int>(kNonceSize)) != 1) {
    return Status::Internal("OpenSSL could not draw a nonce");
  }
  const std::string aad = Aad(context);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U(bytes_), out) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, U(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), out + kNonceSize, &length, U(plaintext),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), out + kNonceSize + length, &length) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          out + kNonceSize + plaintext.size()) == 1;
  if (!ok) return Status::Internal("OpenSSL could not seal a secret (AES-256-GCM)");
  return std::string(kSealedVersion) + Base64Encode(blob);
}

Result<std::string> MasterKey::Open(std::string_view sealed, std::string_view context) const {
  const Status refused = Status::AuthError(
      "a sealed secret does not open with this master key (tampered with, or "
      "sealed with another key file)");
  if (!sealed.starts_with(kSealedVersion)) return refused;
  sealed.remove_prefix(kSealedVersion.size());
  const std::optional<std::string> blob = Base64Decode(sealed);
  if (!blob || blob->size() < kNonceSize + kTagSize) return refused;
  const size_t size = blob->size() - kNonceSize - kTagSize;
  const auto* in = reinterpret_cast<const unsigned char*>(blob->data());
  std::string plaintext(size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  std::string tag = blob->substr(kNonceSize + size);
  const std::string aad = Aad(context);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U(bytes_), in) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, U(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out, &length, in + kNonceSize, static_cast<int>(size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                          tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), out + length, &length) == 1;
  if (!ok) return refused;
  return plaintext;
}

std::string MasterKey::DeriveKey(std::string_view label) const {
  const Sha256Digest digest = HmacSha256(bytes_, label);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

}  // namespace reglo::security
