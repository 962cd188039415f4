// Test support for the relay: a real webhook receiver (a Poco HTTP server on 127.0.0.1, port 0)
// that verifies every Standard Webhooks signature and records every arrival, with scripted
// answers (status, Retry-After, or holding the request until released); and an outbox writer that
// commits student records through the Store so real events land in integration_events.
// Test-only code. Receiver: thread-safe (requests arrive on the server's threads).
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "reglo/core/clock.h"
#include "reglo/model/validation.h"
#include "reglo/security/signature.h"
#include "reglo/storage/store.h"

namespace reglo::relay::testing {

// A fixed signing secret (32 bytes) the tests give subscriptions and receivers.
inline const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwJk1VrHcZJ7E=";

struct Arrival {
  std::string id;       // webhook-id
  std::string type;     // the CloudEvent's type
  std::string subject;  // the CloudEvent's subject: "student/<externalId>"
  std::string body_id;  // the CloudEvent's id
  std::string content_type;
  std::string body;  // the request body as received
  bool signature_ok = false;
  int answered = 0;                          // the status the receiver answered
  std::chrono::system_clock::time_point at;  // the Clock's now when it arrived
  int nth = 0;                               // how many times this id had arrived before
};

struct Reply {
  Reply(int status_code = 200, std::string retry_after_value = "", bool hold_it = false)
      : status(status_code), retry_after(std::move(retry_after_value)), hold(hold_it) {}
  int status;
  std::string retry_after;
  bool hold;  // keep the request open until Release()
};

class Receiver {
 public:
  using Responder = std::function<Reply(const Arrival&)>;

  explicit Receiver(const Clock& clock, std::string secret = kSecret)
      : verifier_(*security::ParseWebhookSecret(secret), clock), clock_(clock) {
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(32);
    params->setKeepAlive(true);
    server_ = std::make_unique<Poco::Net::HTTPServer>(
        new Factory(*this), Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)),
        params);
    server_->start();
  }
  ~Receiver() {
    Release();
    server_->stopAll(true);
  }

  std::string url(const std::string& path = "/hook") const {
    return fmt::format("http://127.0.0.1:{}{}", server_->port(), path);
  }
  void SetResponder(Responder responder) {
    std::lock_guard lock(mu_);
    responder_ = std::move(responder);
  }
  std::vector<Arrival> arrivals() const {
    std::lock_guard lock(mu_);
    return arrivals_;
  }
  // Lets every held request (and every later one) be answered.
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // Waits (bounded, real time: requests come from other threads) until `done` holds.
  bool WaitFor(const std::function<bool(const std::vector<Arrival>&)>& done,
               std::chrono::milliseconds bound = std::chrono::milliseconds(30'000)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [&] { return done(arrivals_); });
  }

 private:
  class Handler final : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(Receiver& receiver) : receiver_(receiver) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      std::string body;
      Poco::StreamCopier::copyToString(request.stream(), body);
      receiver_.Handle(request, body, response);
    }

   private:
    Receiver& receiver_;
  };
  class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(Receiver& receiver) : receiver_(receiver) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(receiver_);
    }

   private:
    Receiver& receiver_;
  };

  void Handle(Poco::Net::HTTPServerRequest& request, const std::string& body,
              Poco::Net::HTTPServerResponse& response) {
    Arrival arrival;
    arrival.id = request.get("webhook-id", "");
    const std::string timestamp = request.get("webhook-timestamp", "");
    const std::string signature = request.get("webhook-signature", "");
    arrival.signature_ok = verifier_.Verify({arrival.id, timestamp, signature}, body).ok();
    arrival.content_type = request.getContentType();
    arrival.body = body;
    arrival.at = clock_.Now();
    const nlohmann::json event = nlohmann::json::parse(body, nullptr, false);
    if (event.is_object()) {
      arrival.type = event.value("type", "");
      arrival.subject = event.value("subject", "");
      arrival.body_id = event.value("id", "");
    }
    Reply reply;
    {
      std::unique_lock lock(mu_);
      arrival.nth = seen_[arrival.id]++;
      if (responder_) reply = responder_(arrival);
      arrival.answered = reply.status;
      arrivals_.push_back(arrival);
      cv_.notify_all();
      if (reply.hold) cv_.wait(lock, [&] { return released_; });
    }
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
    if (!reply.retry_after.empty()) response.set("Retry-After", reply.retry_after);
    response.setContentLength(0);
    response.send();
  }

  security::WebhookVerifier verifier_;
  const Clock& clock_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Responder responder_;
  std::vector<Arrival> arrivals_;
  std::map<std::string, int> seen_;
  bool released_ = false;
};

// Commits student records through a Store, so the outbox gets real events: the first commit of
// an external id makes student.created, each later one with another `first_name` student.updated.
class Outbox {
 public:
  // `source_id` defaults to "src-<company>" (a company id may hold characters a source id may not).
  explicit Outbox(storage::Store& store, std::string company = "autoscuola-roma",
                  std::string source_id = "")
      : store_(store),
        company_(std::move(company)),
        source_id_(source_id.empty() ? "src-" + company_ : std::move(source_id)) {
    EXPECT_TRUE(
        store_.UpsertSource({source_id_, company_, "gestionale", "csv", "{}", true, "new"}).ok());
    auto run = store_.BeginRun(source_id_, "2025-06-01T08:00:00.000Z");
    EXPECT_TRUE(run.ok());
    run_id_ = run.ok() ? *run : 0;
  }

  void Commit(const std::vector<std::string>& external_ids, const std::string& first_name) {
    storage::CheckpointBatch batch;
    batch.run_id = run_id_;
    batch.source_id = source_id_;
    batch.stream = "students";
    for (const std::string& id : external_ids) {
      batch.records.push_back(Record(id, first_name, commits_));
    }
    batch.seen = static_cast<int64_t>(batch.records.size());
    batch.committed_at = CommittedAt(commits_);
    ++commits_;
    auto result = store_.CommitCheckpoint(batch);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
  }

  // The record the `commit`-th Commit (from 0) makes of `external_id`, and that commit's time.
  model::CanonicalRecord Record(const std::string& external_id, const std::string& first_name,
                                int commit) const {
    model::RawRecord raw;
    raw.entity = "student";
    raw.company_id = company_;
    raw.source_system = "gestionale";
    raw.external_id = external_id;
    raw.source_updated_at = fmt::format("2025-06-01T09:{:02}:00Z", commit % 60);
    raw.fields = {{"firstName", first_name},          {"lastName", "Rossi"},
                  {"fiscalCode", "RSSMRA85T10A562S"}, {"birthDate", "1985-12-10"},
                  {"email", "mario@example.com"},     {"phone", "+39 333 1234567"}};
    raw.origin = "test";
    auto validated = model::Validate(raw);
    EXPECT_TRUE(std::holds_alternative<model::CanonicalRecord>(validated));
    return std::get<model::CanonicalRecord>(std::move(validated));
  }
  static std::string CommittedAt(int commit) {
    return fmt::format("2025-06-01T09:{:02}:00.000Z", commit % 60);
  }

 private:
  storage::Store& store_;
  std::string company_;
  std::string source_id_;
  int64_t run_id_ = 0;
  int commits_ = 0;
};

}  // namespace reglo::relay::testing
