// Standard Webhooks verification (host/security/src/signature.cpp, over base64.cpp) with any
// secret, headers and body. The input is lines: secret, webhook-id, webhook-timestamp,
// webhook-signature, then the body (the rest, newlines included). Properties: verifying any headers
// ends in a status, with a refusal exactly when it is not Ok; with a secret that parses, what
// SignWebhook signs now verifies, and not for another body (a refusal that blames the signature).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "reglo/core/clock.h"
#include "reglo/security/signature.h"

using reglo::fuzz::Check;
using reglo::fuzz::NextLine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string_view secret = NextLine(rest);
  reglo::security::WebhookHeaders headers;
  headers.id = NextLine(rest);
  headers.timestamp = NextLine(rest);
  headers.signature = NextLine(rest);
  const std::string_view body = rest;

  constexpr int64_t kNow = 1'764'000'000;  // 2025-11-24
  static const reglo::ManualClock clock{
      std::chrono::system_clock::time_point(std::chrono::seconds(kNow))};
  const auto key = reglo::security::ParseWebhookSecret(secret);
  // Any headers against a fixed key, and against the input's own secret when it parses.
  (void)reglo::security::WebhookVerifier("fixed key", clock).Verify(headers, body);
  if (!key.ok()) return 0;
  const reglo::security::WebhookVerifier verifier(*key, clock);
  using reglo::security::SignatureRefusal;
  SignatureRefusal refusal = SignatureRefusal::kNone;
  const reglo::Status verified = verifier.Verify(headers, body, &refusal);
  Check(verified.ok() == (refusal == SignatureRefusal::kNone),
        "the refusal disagrees with the status");

  if (headers.id.empty() || headers.id.size() > 256) return 0;
  const auto signature = reglo::security::SignWebhook(*key, headers.id, kNow, body);
  Check(signature.ok(), "SignWebhook failed");
  const std::string now = std::to_string(kNow);
  Check(verifier.Verify({headers.id, now, *signature}, body).ok(),
        "a fresh signature does not verify");
  const std::string other_body = std::string(body) + "x";
  Check(!verifier.Verify({headers.id, now, *signature}, other_body, &refusal).ok() &&
            refusal == SignatureRefusal::kSignature,
        "a signature verifies another body, or its refusal blames the timestamp");
  return 0;
}
