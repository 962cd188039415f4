// MasterKey: the hub's 256-bit master key, kept in a key file OUTSIDE the database, that seals the
// agents' signing secrets (AES-256-GCM) before they are stored. A dump of the database alone then
// holds only ciphertext and key hashes: it cannot forge a signed request (DESIGN §8). Losing the
// key file makes the stored secrets unusable (every agent key must be created again); back it up
// apart from the database.
//
// The key file holds the base64 of 32 random bytes and a newline. LoadOrCreate creates it on first
// use with mode 0600 (written to a temporary file, fsync'd, then linked into place, so concurrent
// first starts agree on one key) and refuses a file that group or others may read.
//
// Sealed form: "v1:" + base64(12-byte random nonce || ciphertext || 16-byte tag); the associated
// data binds a sealed secret to its key's prefix, so a row's secret cannot be moved to another row.
// Errors never contain key material. Immutable after loading: thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "reglo/core/status.h"

namespace reglo::security {

// The label of the key that HashFiscalCode uses (core/masking.h): every hub instance and command
// sharing a key file hashes a codice fiscale the same way.
inline constexpr std::string_view kMaskingKeyLabel = "reglo-hub/masking-key/v1";

class MasterKey {
 public:
  // Reads the key file at `path`, creating it when it does not exist. kConfigError (naming the
  // path, never the contents) when it is malformed or readable by group/others; kIoError when it
  // cannot be read or written.
  static Result<MasterKey> LoadOrCreate(const std::string& path);
  // A key from its 32 raw bytes (tests). kInvalidArgument for another length.
  static Result<MasterKey> FromBytes(std::string_view bytes);

  // Encrypts `plaintext` bound to `context` (the key prefix). kInternal when OpenSSL fails.
  Result<std::string> Seal(std::string_view plaintext, std::string_view context) const;
  // Decrypts what Seal produced for the same `context`. kAuthError when the blob was tampered
  // with, sealed for another context, or sealed with another master key.
  Result<std::string> Open(std::string_view sealed, std::string_view context) const;

  // A 32-byte key for another purpose, derived as HMAC-SHA256(master key, label): each label gives
  // an independent key, and the master key cannot be recovered from it. Labels are fixed strings
  // such as kMaskingKeyLabel.
  std::string DeriveKey(std::string_view label) const;

 private:
  explicit MasterKey(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string bytes_;  // 32 bytes
};

}  // namespace reglo::security
