// Standard Webhooks signatures (https://www.standardwebhooks.com, symmetric "v1"): what an agent
// signs and the hub verifies on every push (DESIGN §8). The signed content is
// "{webhook-id}.{webhook-timestamp}.{raw body}", the signature HMAC-SHA256 with the secret's bytes,
// sent as "v1,<base64>" (several space-separated signatures allowed, e.g. during a rotation).
// Verification works on the raw body bytes, compares in constant time (CRYPTO_memcmp) and rejects
// timestamps further than the tolerance from the Clock's now, in either direction.
//
// Errors are kAuthError (or kInvalidArgument for a malformed secret) with messages that never
// contain the secret, a signature or the body. Stateless apart from the secret and the borrowed
// Clock (which must outlive the verifier); a verifier is immutable, so thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"

namespace reglo::security {

// The three Standard Webhooks headers of a request, as received.
struct WebhookHeaders {
  std::string_view id;         // webhook-id
  std::string_view timestamp;  // webhook-timestamp: integer seconds since the Unix epoch
  std::string_view signature;  // webhook-signature: "v1,<base64>" [" v1,<base64>" ...]
};

// The secret's bytes from its "whsec_<base64>" text (the bare base64 is accepted too, as the
// reference libraries do). kInvalidArgument when it is not base64 or empty.
Result<std::string> ParseWebhookSecret(std::string_view secret);

// A fresh signing secret: "whsec_" + base64 of 32 random bytes (OpenSSL RAND_bytes). kInternal
// when OpenSSL cannot draw random bytes.
Result<std::string> NewWebhookSecret();

// "v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>" for the secret's bytes `key`.
// kInternal only when OpenSSL fails (out of memory).
Result<std::string> SignWebhook(std::string_view key, std::string_view id, int64_t timestamp,
                                std::string_view body);

// What a refused signature is about, for the problem type a caller answers with.
enum class SignatureRefusal { kNone, kSignature, kTimestamp };

class WebhookVerifier {
 public:
  static constexpr std::chrono::seconds kDefaultTolerance{5 * 60};

  // `key`: the secret's bytes (ParseWebhookSecret). `clock` is borrowed.
  WebhookVerifier(std::string key, const Clock& clock,
                  std::chrono::seconds tolerance = kDefaultTolerance);

  // Ok when one of the header's v1 signatures matches `body` and the timestamp is within the
  // tolerance; kAuthError naming what is wrong otherwise (missing header, malformed or expired
  // or future timestamp, no matching signature), with `refusal` (when given) saying whether the
  // timestamp or the signature was at fault; kInternal when OpenSSL fails.
  Status Verify(const WebhookHeaders& headers, std::string_view body,
                SignatureRefusal* refusal = nullptr) const;

 private:
  std::string key_;
  const Clock& clock_;
  std::chrono::seconds tolerance_;
};

}  // namespace reglo::security
