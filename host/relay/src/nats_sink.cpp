#include "reglo/relay/nats_sink.h"

#include <fmt/format.h>
#include <nats/nats.h>

namespace reglo::relay {
namespace {

std::string StatusText(natsStatus status, jsErrCode code = static_cast<jsErrCode>(0)) {
  std::string text = natsStatus_GetText(status);
  if (code != 0) text += fmt::format(" (JetStream error {})", static_cast<int>(code));
  return text;
}

// A subject token: no '.', '*', '>' or whitespace; never empty.
std::string Token(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '.' || c == '*' || c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      c = '_';
    }
  }
  return out.empty() ? "_" : out;
}

class NatsSink final : public Sink {
 public:
  explicit NatsSink(NatsSettings settings) : settings_(std::move(settings)) {}
  ~NatsSink() override {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (conn_ != nullptr) natsConnection_Destroy(conn_);
  }
  NatsSink(const NatsSink&) = delete;
  NatsSink& operator=(const NatsSink&) = delete;

  Status Connect() {
    natsOptions* options = nullptr;
    natsStatus s = natsOptions_Create(&options);
    if (s == NATS_OK) s = natsOptions_SetURL(options, settings_.url.c_str());
    if (s == NATS_OK) s = natsOptions_SetTimeout(options, settings_.timeout.count());
    // Reconnects forever in the background; a publish meanwhile fails and is retried.
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(options, 500);
    if (s == NATS_OK) s = natsConnection_Connect(&conn_, options);
    natsOptions_Destroy(options);
    if (s != NATS_OK) {
      return Status::Retryable(
          fmt::format("cannot connect to NATS at {}: {}", settings_.url, StatusText(s)));
    }
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Wait = settings_.timeout.count();
    s = natsConnection_JetStream(&js_, conn_, &js_options);
    if (s != NATS_OK) return Status::Retryable("NATS JetStream: " + StatusText(s));
    return EnsureStream();
  }

  Attempt Deliver(const model::EventRecord& event, const std::string& body) override {
    Attempt attempt;
    const std::string subject = NatsSubject(settings_.subject_prefix, event);
    natsMsg* msg = nullptr;
    natsStatus s =
        natsMsg_Create(&msg, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Content-Type", "application/cloudevents+json");
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MsgId = event.event_id.c_str();
    options.MaxWait = settings_.timeout.count();
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (s == NATS_OK) s = js_PublishMsg(&ack, js_, msg, &options, &code);
    natsMsg_Destroy(msg);
    jsPubAck_Destroy(ack);
    if (s == NATS_OK) {
      attempt.outcome = Attempt::Outcome::kDelivered;  // stored, or a duplicate JetStream dropped
    } else {
      attempt.error = "NATS publish: " + StatusText(s, code);
    }
    return attempt;
  }

 private:
  Status EnsureStream() {
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, js_, settings_.stream.c_str(), nullptr, &code);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(info);
      return Status::Ok();
    }
    if (s != NATS_NOT_FOUND) {
      return Status::Retryable(
          fmt::format("NATS stream {}: {}", settings_.stream, StatusText(s, code)));
    }
    const std::string subjects = settings_.subject_prefix + ".>";
    const char* subject_list[] = {subjects.c_str()};
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = settings_.stream.c_str();
    config.Subjects = subject_list;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    s = js_AddStream(&info, js_, &config, nullptr, &code);
    if (s != NATS_OK) {
      // Another lane or instance may have created it meanwhile.
      jsStreamInfo* again = nullptr;
      if (js_GetStreamInfo(&again, js_, settings_.stream.c_str(), nullptr, nullptr) == NATS_OK) {
        jsStreamInfo_Destroy(again);
        return Status::Ok();
      }
      return Status::Retryable(
          fmt::format("cannot create NATS stream {}: {}", settings_.stream, StatusText(s, code)));
    }
    jsStreamInfo_Destroy(info);
    return Status::Ok();
  }

  NatsSettings settings_;
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace

std::string NatsSubject(const std::string& prefix, const model::EventRecord& event) {
  // The event type keeps its dot: "<prefix>.<company>.student.created".
  std::string type;
  size_t start = 0;
  while (start <= event.type.size()) {
    const size_t dot = event.type.find('.', start);
    const std::string part =
        event.type.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    type += (type.empty() ? "" : ".") + Token(part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return fmt::format("{}.{}.{}", prefix, Token(event.company_id), type);
}

Result<std::unique_ptr<Sink>> MakeNatsSink(const NatsSettings& settings) {
  auto sink = std::make_unique<NatsSink>(settings);
  REGLO_RETURN_IF_ERROR(sink->Connect());
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace reglo::relay
