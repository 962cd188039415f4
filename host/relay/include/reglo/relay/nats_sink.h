// NatsSink: publishes events to NATS JetStream (libnats) on the subject
// "<subject_prefix>.<companyId>.<eventType>" with the event id as Nats-Msg-Id, so the stream's
// duplicate window drops a replay of an event already stored. The body is the CloudEvents JSON
// (header Content-Type: application/cloudevents+json). Characters a subject token cannot hold
// ('.', '*', '>', whitespace) in the company id become '_'. The stream is created (subjects
// "<subject_prefix>.>") when it does not exist. Owns its connection; used by one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "reglo/relay/sink.h"

namespace reglo::relay {

struct NatsSettings {
  std::string url = "nats://127.0.0.1:4222";
  std::string stream = "REGLO_EVENTS";
  std::string subject_prefix = "reglo.events";
  std::chrono::milliseconds timeout{10'000};  // connect, and wait for JetStream's ack
};

// The subject an event is published on.
std::string NatsSubject(const std::string& prefix, const model::EventRecord& event);

// Connects and makes sure the stream exists. kRetryable when the server cannot be reached.
Result<std::unique_ptr<Sink>> MakeNatsSink(const NatsSettings& settings);

}  // namespace reglo::relay
