#include "reglo/relay/webhook_sink.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <charconv>
#include <mutex>

#include "reglo/security/signature.h"

namespace reglo::relay {
namespace {

// At most this much of a response body is read (and thrown away) to keep the connection alive;
// a longer one closes the connection instead.
constexpr std::streamsize kMaxDrain = 64 * 1024;
// A Retry-After beyond this is taken as this.
constexpr std::chrono::seconds kMaxRetryAfter{24 * 3600};

Poco::Timespan Span(std::chrono::milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

// Seconds ("120") or an HTTP date ("Wed, 21 Oct 2026 07:28:00 GMT") relative to `now`.
std::optional<std::chrono::seconds> ParseRetryAfter(const std::string& text,
                                                    std::chrono::system_clock::time_point now) {
  if (text.empty()) return std::nullopt;
  int64_t seconds = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (error == std::errc() && end == text.data() + text.size()) {
    if (seconds < 0) return std::nullopt;
    return std::min(std::chrono::seconds(seconds), kMaxRetryAfter);
  }
  Poco::DateTime parsed;
  int tzd = 0;
  if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::HTTP_FORMAT, text, parsed, tzd)) {
    return std::nullopt;
  }
  const auto at = std::chrono::system_clock::time_point(
      std::chrono::microseconds(parsed.timestamp().epochMicroseconds() - int64_t{tzd} * 1'000'000));
  const auto wait = std::chrono::duration_cast<std::chrono::seconds>(at - now);
  return std::clamp(wait, std::chrono::seconds(0), kMaxRetryAfter);
}

Poco::Net::Context::Ptr ClientTlsContext() {
  static std::once_flag once;
  static Poco::Net::Context::Ptr context;
  std::call_once(once, [] {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
    params.loadDefaultCAs = true;
    context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  });
  return context;
}

class WebhookSink final : public Sink {
 public:
  WebhookSink(const Poco::URI& uri, std::string key, const Clock& clock, WebhookTimeouts timeouts)
      : key_(std::move(key)), clock_(clock), timeouts_(timeouts) {
    target_ = uri.getPathEtc();
    if (target_.empty()) target_ = "/";
    if (uri.getScheme() == "https") {
      session_ = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(),
                                                                 ClientTlsContext());
    } else {
      session_ = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    session_->setKeepAlive(true);
    session_->setTimeout(Span(timeouts_.connect), Span(timeouts_.request), Span(timeouts_.request));
  }

  Attempt Deliver(const model::EventRecord& event, const std::string& body) override {
    Attempt attempt;
    const int64_t timestamp =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
    Result<std::string> signature = security::SignWebhook(key_, event.event_id, timestamp, body);
    if (!signature.ok()) {
      attempt.error = signature.status().message();
      return attempt;
    }
    try {
      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, target_,
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.setContentType("application/cloudevents+json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      request.set("webhook-id", event.event_id);
      request.set("webhook-timestamp", std::to_string(timestamp));
      request.set("webhook-signature", *signature);
      request.set("User-Agent", "reglo-hub-relay/1");
      request.setKeepAlive(true);
      std::ostream& out = session_->sendRequest(request);
      out.write(body.data(), static_cast<std::streamsize>(body.size()));
      Poco::Net::HTTPResponse response;
      std::istream& in = session_->receiveResponse(response);
      in.ignore(kMaxDrain);
      if (!in.eof()) session_->reset();  // a huge body: drop the connection instead
      attempt.status_code = static_cast<int>(response.getStatus());
      if (attempt.status_code >= 200 && attempt.status_code < 300) {
        attempt.outcome = Attempt::Outcome::kDelivered;
        return attempt;
      }
      attempt.outcome =
          attempt.status_code == 410 ? Attempt::Outcome::kGone : Attempt::Outcome::kFailed;
      attempt.error = fmt::format("HTTP {} {}", attempt.status_code, response.getReason());
      attempt.retry_after = ParseRetryAfter(response.get("Retry-After", ""), clock_.Now());
    } catch (const Poco::TimeoutException&) {
      session_->reset();
      attempt.error = fmt::format("no response within {} ms", timeouts_.request.count());
    } catch (const Poco::Exception& error) {
      session_->reset();
      attempt.error = error.displayText();
    } catch (const std::exception& error) {
      session_->reset();
      attempt.error = error.what();
    }
    return attempt;
  }

 private:
  std::string key_;
  const Clock& clock_;
  WebhookTimeouts timeouts_;
  std::string target_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

Result<Poco::URI> ParseUrl(const std::string& url) {
  try {
    Poco::URI uri(url);
    if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty()) {
      return Status::InvalidArgument("url: expected an absolute http:// or https:// URL");
    }
    return uri;
  } catch (const Poco::Exception&) {
    return Status::InvalidArgument("url: not a valid URL");
  }
}

}  // namespace

Status CheckWebhookUrl(const std::string& url) {
  return ParseUrl(url).status();
}

std::string RedactUrl(const std::string& url) {
  Result<Poco::URI> uri = ParseUrl(url);
  if (!uri.ok()) return "(invalid url)";
  return fmt::format("{}://{}:{}{}", uri->getScheme(), uri->getHost(), uri->getPort(),
                     uri->getPath().empty() ? "/" : uri->getPath());
}

Result<std::unique_ptr<Sink>> MakeWebhookSink(const std::string& url, std::string signing_key,
                                              const Clock& clock, WebhookTimeouts timeouts) {
  Result<Poco::URI> uri = ParseUrl(url);
  if (!uri.ok()) return uri.status();
  try {
    return std::unique_ptr<Sink>(
        std::make_unique<WebhookSink>(*uri, std::move(signing_key), clock, timeouts));
  } catch (const Poco::Exception& error) {
    return Status::Internal(
        fmt::format("cannot set up a client for {}: {}", RedactUrl(url), error.displayText()));
  }
}

}  // namespace reglo::relay
