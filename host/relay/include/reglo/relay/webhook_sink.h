// WebhookSink: delivers events to an HTTP(S) endpoint with Poco::Net, one keep-alive connection
// per sink. Each request is a POST of the CloudEvents 1.0 structured JSON
// (application/cloudevents+json) signed the Standard Webhooks way (webhook-id = the event id,
// webhook-timestamp = the Clock's now, webhook-signature = security::SignWebhook). 2xx = delivered,
// 410 = gone, anything else (other statuses, connection errors, timeouts) = failed, with
// Retry-After (seconds or an HTTP date) passed on. Redirects are not followed.
// Borrows the Clock; used by one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "reglo/core/clock.h"
#include "reglo/relay/sink.h"

namespace reglo::relay {

struct WebhookTimeouts {
  std::chrono::milliseconds connect{5'000};
  std::chrono::milliseconds request{10'000};  // sending the request and receiving the response
};

// kInvalidArgument when `url` is not an absolute http:// or https:// URL with a host.
Status CheckWebhookUrl(const std::string& url);
// The URL without user info, query and fragment: what logs and lists show (a query may carry a
// token).
std::string RedactUrl(const std::string& url);

// `signing_key`: the secret's raw bytes (security::ParseWebhookSecret).
Result<std::unique_ptr<Sink>> MakeWebhookSink(const std::string& url, std::string signing_key,
                                              const Clock& clock, WebhookTimeouts timeouts);

}  // namespace reglo::relay
