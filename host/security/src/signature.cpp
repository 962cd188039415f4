#include "reglo/security/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <charconv>
#include <optional>

#include "reglo/core/crypto.h"
#include "reglo/security/base64.h"

namespace reglo::security {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::string_view kVersion = "v1,";
// webhook-id values longer than this are refused before any work (no legitimate id is).
constexpr size_t kMaxIdLength = 256;

std::optional<Sha256Digest> Mac(std::string_view key, std::string_view id,
                                std::string_view timestamp, std::string_view body) {
  // HMAC over the three parts without building the concatenation (the body may be large).
  Sha256Digest out{};
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                               OSSL_PARAM_construct_end()};
  size_t length = 0;
  const auto update = [&](std::string_view part) {
    return EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size());
  };
  const bool ok =
      ctx != nullptr &&
      EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) &&
      update(id) && update(".") && update(timestamp) && update(".") && update(body) &&
      EVP_MAC_final(ctx, out.data(), &length, out.size()) && length == out.size();
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  if (!ok) return std::nullopt;  // OpenSSL could not allocate or has no HMAC
  return out;
}

std::optional<int64_t> ParseTimestamp(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

Result<std::string> ParseWebhookSecret(std::string_view secret) {
  if (secret.starts_with(kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
  std::optional<std::string> key = Base64Decode(secret);
  if (!key || key->empty()) {
    return Status::InvalidArgument("a signing secret must be whsec_ followed by base64");
  }
  return std::move(*key);
}

Result<std::string> NewWebhookSecret() {
  std::string bytes(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size())) !=
      1) {
    return Status::Internal("OpenSSL could not draw random bytes");
  }
  return std::string(kSecretPrefix) + Base64Encode(bytes);
}

Result<std::string> SignWebhook(std::string_view key, std::string_view id, int64_t timestamp,
                                std::string_view body) {
  const std::string stamp = std::to_string(timestamp);
  const std::optional<Sha256Digest> mac = Mac(key, id, stamp, body);
  if (!mac) return Status::Internal("OpenSSL could not compute an HMAC-SHA256");
  return std::string(kVersion) +
         Base64Encode(std::string_view(reinterpret_cast<const char*>(mac->data()), mac->size()));
}

WebhookVerifier::WebhookVerifier(std::string key, const Clock& clock,
                                 std::chrono::seconds tolerance)
    : key_(std::move(key)), clock_(clock), tolerance_(tolerance) {}

Status WebhookVerifier::Verify(const WebhookHeaders& headers, std::string_view body,
                               SignatureRefusal* refusal) const {
  SignatureRefusal ignored;
  SignatureRefusal& why = refusal != nullptr ? *refusal : ignored;
  why = SignatureRefusal::kSignature;
  if (headers.id.empty()) return Status::AuthError("the webhook-id header is missing");
  if (headers.id.size() > kMaxIdLength)
    return Status::AuthError("the webhook-id header is too long");
  if (headers.timestamp.empty()) {
    why = SignatureRefusal::kTimestamp;
    return Status::AuthError("the webhook-timestamp header is missing");
  }
  if (headers.signature.empty())
    return Status::AuthError("the webhook-signature header is missing");
  why = SignatureRefusal::kTimestamp;
  const std::optional<int64_t> timestamp = ParseTimestamp(headers.timestamp);
  if (!timestamp) {
    return Status::AuthError("the webhook-timestamp header is not a number of seconds");
  }
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  if (*timestamp < now - tolerance_.count()) {
    return Status::AuthError("the webhook-timestamp is too old (outside the allowed clock skew)");
  }
  if (*timestamp > now + tolerance_.count()) {
    return Status::AuthError(
        "the webhook-timestamp is in the future (outside the allowed clock "
        "skew)");
  }

  why = SignatureRefusal::kSignature;
  const std::optional<Sha256Digest> mac = Mac(key_, headers.id, headers.timestamp, body);
  if (!mac) return Status::Internal("OpenSSL could not compute an HMAC-SHA256");
  const Sha256Digest& expected = *mac;
  // Every candidate is checked (no early exit on a match), each in constant time.
  bool matched = false;
  std::string_view rest = headers.signature;
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    std::string_view candidate = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (!candidate.starts_with(kVersion)) continue;  // other versions (v1a, v2) are not ours
    candidate.remove_prefix(kVersion.size());
    const std::optional<std::string> bytes = Base64Decode(candidate);
    if (!bytes || bytes->size() != expected.size()) continue;
    if (CRYPTO_memcmp(bytes->data(), expected.data(), expected.size()) == 0) matched = true;
  }
  if (!matched) return Status::AuthError("no webhook-signature matches the request");
  why = SignatureRefusal::kNone;
  return Status::Ok();
}

}  // namespace reglo::security
