// The relay's delivery semantics (DESIGN §9, issue #7) on a ManualClock, against a real webhook
// receiver that verifies every signature: order per entity under retries, the retry schedule,
// Retry-After, dead letters and redelivery, 410, filters, leases; and the threaded Relay with a
// slow endpoint next to a fast one. Compiled once, run on every store backend (relay_test on
// SQLite, relay_postgres_test on PostgreSQL).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "master_key.h"
#include "pipeline_backends.h"
#include "reglo/relay/relay.h"
#include "reglo/relay/subscriptions.h"
#include "reglo/relay/webhook_sink.h"
#include "reglo/security/master_key.h"
#include "relay_test_support.h"

namespace reglo::relay {
namespace {

using namespace std::chrono_literals;
using storage::testing::BackendParam;
using testing::Arrival;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Outbox;
using testing::Receiver;
using testing::Reply;

std::chrono::system_clock::time_point Start() {
  return std::chrono::sys_days(std::chrono::year(2026) / 1 / 5) + 9h;
}

class RelayWorkerTest : public storage::testing::FreshDatabaseTest {
 protected:
  void SetUp() override {
    FreshDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    outbox_ = std::make_unique<Outbox>(*store_);
  }

  // A webhook subscription to `receiver` with the test secret.
  void Subscribe(const std::string& id, const Receiver& receiver,
                 std::vector<std::string> types = {}, std::vector<std::string> companies = {}) {
    SubscriptionSpec spec;
    spec.id = id;
    spec.url = receiver.url("/" + id);
    spec.secret = testing::kSecret;
    spec.event_types = std::move(types);
    spec.company_ids = std::move(companies);
    auto created = CreateSubscription(*store_, *master_, spec, clock_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  SinkFactory Sinks(const Clock& clock) {
    return [this, &clock](const storage::SubscriptionRow& row) -> Result<std::unique_ptr<Sink>> {
      auto key = OpenSigningKey(*master_, row);
      if (!key.ok()) return key.status();
      return MakeWebhookSink(row.url, *key, clock, {1'000ms, 5'000ms});
    };
  }

  std::unique_ptr<SubscriptionWorker> Worker(const std::string& id, RelayOptions options = {}) {
    options.instance_id = options.instance_id == "reglo-hub" ? "test" : options.instance_id;
    return std::make_unique<SubscriptionWorker>(id, *store_, clock_, Sinks(clock_), options);
  }

  StepResult Step(SubscriptionWorker& worker) {
    auto step = worker.RunOnce();
    EXPECT_TRUE(step.ok()) << step.status().ToString();
    return step.ok() ? *step : StepResult{};
  }

  std::vector<storage::DeliveryRow> Deliveries(const std::string& id, const std::string& status) {
    auto rows = ListDeliveries(*store_, id, status, 1000);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? *rows : std::vector<storage::DeliveryRow>{};
  }

  int64_t Latest() { return *store_->LatestEventSequence(); }

  ManualClock clock_{Start()};
  std::optional<security::MasterKey> master_ = reglo::testing::FixedMasterKey('k');
  std::unique_ptr<Outbox> outbox_;
};

// The arrivals the receiver answered with 2xx, as "subject type".
std::vector<std::string> Accepted(const std::vector<Arrival>& arrivals) {
  std::vector<std::string> out;
  for (const Arrival& a : arrivals) {
    if (a.answered >= 200 && a.answered < 300) out.push_back(a.subject + " " + a.type);
  }
  return out;
}

TEST_P(RelayWorkerTest, DeliversEveryEventOnceSignedAsACloudEvent) {
  Receiver receiver(clock_);
  Subscribe("wf", receiver);
  outbox_->Commit({"S1", "S2", "S3"}, "Mario");
  outbox_->Commit({"S1", "S2", "S3"}, "Luigi");
  auto worker = Worker("wf");
  const StepResult step = Step(*worker);
  EXPECT_EQ(step.delivered, 6);
  EXPECT_EQ(step.position, Latest());
  const auto arrivals = receiver.arrivals();
  ASSERT_EQ(arrivals.size(), 6u);
  std::set<std::string> ids;
  for (const Arrival& a : arrivals) {
    EXPECT_TRUE(a.signature_ok) << a.id;
    EXPECT_EQ(a.content_type, "application/cloudevents+json");
    EXPECT_EQ(a.body_id, a.id);  // webhook-id is the event id
    ids.insert(a.id);
  }
  EXPECT_EQ(ids.size(), 6u);
  // Per entity: created before updated.
  for (const std::string s : {"student/S1", "student/S2", "student/S3"}) {
    std::vector<std::string> types;
    for (const Arrival& a : arrivals) {
      if (a.subject == s) types.push_back(a.type);
    }
    EXPECT_THAT(types, ElementsAre("student.created", "student.updated")) << s;
  }
  // Nothing again; nothing left behind.
  EXPECT_EQ(Step(*worker).delivered, 0);
  EXPECT_EQ(receiver.arrivals().size(), 6u);
  EXPECT_TRUE(Deliveries("wf", "").empty());
}

TEST_P(RelayWorkerTest, DeliversTheCloudEventTheCheckpointBuiltByteForByte) {
  // The outbox stores event data compressed (issue #19 §3); a subscriber must not see it: each
  // body is the envelope of the event exactly as the checkpoint built it, before it was stored.
  Receiver receiver(clock_);
  Subscribe("wf", receiver);
  outbox_->Commit({"S1", "S2"}, "Mario");
  auto worker = Worker("wf");
  EXPECT_EQ(Step(*worker).delivered, 2);
  const auto arrivals = receiver.arrivals();
  ASSERT_EQ(arrivals.size(), 2u);
  for (const Arrival& a : arrivals) {
    const std::string id = a.subject.substr(a.subject.find('/') + 1);
    const model::CanonicalRecord record = outbox_->Record(id, "Mario", 0);
    std::vector<model::EventRecord> built =
        model::BuildEvents(record, model::Reconcile(record, nullptr), Outbox::CommittedAt(0));
    ASSERT_EQ(built.size(), 1u);
    built[0].event_id = model::EventIdOf(built[0]);  // the outbox derives it when read
    EXPECT_EQ(a.body, model::CloudEventJson(built[0]));
  }
}

TEST_P(RelayWorkerTest, RetriesOnTheDesignScheduleThenDeadLettersAndRedelivers) {
  Receiver receiver(clock_);
  std::atomic<int> status{500};
  receiver.SetResponder([&](const Arrival&) { return Reply{status.load()}; });
  Subscribe("wf", receiver);
  outbox_->Commit({"S1"}, "Mario");
  auto worker = Worker("wf");
  const auto t0 = clock_.Now();
  EXPECT_EQ(Step(*worker).failed, 1);  // attempt 1: immediately

  // Attempts 2..8 at +5 s, +5 min, +30 min, +2 h, +5 h, +10 h, +10 h after the previous one.
  const std::vector<std::chrono::seconds> delays = {5s, 5min, 30min, 2h, 5h, 10h, 10h};
  auto expected_at = t0;
  for (size_t i = 0; i < delays.size(); ++i) {
    clock_.Advance(delays[i] - 1s);
    Step(*worker);
    EXPECT_EQ(receiver.arrivals().size(), i + 1) << "attempt " << i + 2 << " came early";
    clock_.Advance(1s);
    Step(*worker);
    ASSERT_EQ(receiver.arrivals().size(), i + 2) << "attempt " << i + 2 << " did not come";
    expected_at += delays[i];
    EXPECT_EQ(receiver.arrivals().back().at, expected_at);
  }
  for (const Arrival& a : receiver.arrivals()) EXPECT_TRUE(a.signature_ok);
  // After the eighth attempt: dead-lettered, no more attempts.
  auto dead = Deliveries("wf", "dead");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attempts, 8);
  EXPECT_EQ(dead[0].last_status_code, 500);
  EXPECT_THAT(dead[0].last_error, HasSubstr("HTTP 500"));
  clock_.Advance(24h);
  Step(*worker);
  EXPECT_EQ(receiver.arrivals().size(), 8u);

  // Redelivered: sent again with the same id, delivered.
  status = 200;
  auto count = RedeliverDead(*store_, "wf", clock_);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
  EXPECT_EQ(Step(*worker).delivered, 1);
  ASSERT_EQ(receiver.arrivals().size(), 9u);
  EXPECT_EQ(receiver.arrivals().back().id, receiver.arrivals().front().id);
  EXPECT_TRUE(Deliveries("wf", "dead").empty());
  EXPECT_EQ(Deliveries("wf", "delivered").size(), 1u);
}

// Issue #18: an erasure while an event of the subject still waits for its retry. The retry
// carries the erased payload, and the one student.erased event arrives once, signed like any.
TEST_P(RelayWorkerTest, TheRelayDeliversStudentErasedOnceAndTheErasedPayload) {
  Receiver receiver(clock_);
  std::atomic<int> status{500};
  receiver.SetResponder(
      [&](const Arrival& a) { return Reply{a.subject == "student/S1" ? status.load() : 200}; });
  Subscribe("wf", receiver);
  outbox_->Commit({"S1", "S2"}, "Mario");
  auto worker = Worker("wf");
  EXPECT_EQ(Step(*worker).failed, 1);  // S1's created event waits for its retry
  storage::SubjectQuery query;
  query.company_id = "autoscuola-roma";
  query.entity = "student";
  query.external_id = "S1";
  auto erased = store_->EraseSubject(query, FormatUtc(clock_.Now()));
  ASSERT_TRUE(erased.ok()) << erased.status().ToString();
  ASSERT_EQ(erased->erased_events.size(), 1u);
  status = 200;
  clock_.Advance(5s);
  Step(*worker);
  Step(*worker);
  clock_.Advance(1h);
  Step(*worker);
  const auto arrivals = receiver.arrivals();
  std::vector<std::string> s1;
  for (const Arrival& a : arrivals) {
    EXPECT_TRUE(a.signature_ok);
    if (a.subject != "student/S1") continue;
    s1.push_back(fmt::format("{} {}", a.type, a.answered));
    // What arrived after the erasure holds no personal value.
    if (a.answered == 200) {
      EXPECT_EQ(a.body.find("Mario"), std::string::npos) << a.body;
    }
  }
  // The failed attempt went before the erasure; its retry and the erased event after it.
  EXPECT_THAT(s1, ElementsAre("student.created 500", "student.created 200", "student.erased 200"));
  const Arrival last = arrivals.back();
  EXPECT_EQ(last.type, "student.erased");
  EXPECT_EQ(last.body_id, erased->erased_events[0].event.event_id);
  EXPECT_THAT(last.body, HasSubstr("\"records\":[{\"entity\":\"student\",\"externalId\":\"S1\"}]"));
  for (const Arrival& a : arrivals) {
    if (a.subject == "student/S2") {
      EXPECT_NE(a.body.find("Mario"), std::string::npos);
    }
  }
  EXPECT_TRUE(Deliveries("wf", "pending").empty());
}

TEST_P(RelayWorkerTest, RetryAfterIsHonoured) {
  Receiver receiver(clock_);
  receiver.SetResponder([](const Arrival& a) {
    return a.nth == 0 ? Reply{503, "120"} : Reply{200};
  });
  Subscribe("wf", receiver);
  outbox_->Commit({"S1"}, "Mario");
  auto worker = Worker("wf");
  Step(*worker);
  clock_.Advance(5s);  // the schedule's delay: not yet, the receiver asked for 120 s
  Step(*worker);
  EXPECT_EQ(receiver.arrivals().size(), 1u);
  clock_.Advance(114s);
  Step(*worker);
  EXPECT_EQ(receiver.arrivals().size(), 1u);
  clock_.Advance(1s);
  EXPECT_EQ(Step(*worker).delivered, 1);
  EXPECT_EQ(receiver.arrivals().size(), 2u);
}

TEST_P(RelayWorkerTest, ALaterEventOfAnEntityWaitsWhileAnEarlierOneRetriesOthersProceed) {
  Receiver receiver(clock_);
  // S1's first event fails twice.
  receiver.SetResponder([](const Arrival& a) {
    return a.subject == "student/S1" && a.type == "student.created" && a.nth < 2 ? Reply{500}
                                                                                 : Reply{200};
  });
  Subscribe("wf", receiver);
  outbox_->Commit({"S1", "S2"}, "Mario");
  outbox_->Commit({"S1", "S2"}, "Luigi");
  outbox_->Commit({"S1", "S2"}, "Anna");
  auto worker = Worker("wf");
  Step(*worker);
  // S2 went through; S1's later events were not even tried.
  EXPECT_THAT(Accepted(receiver.arrivals()),
              ElementsAre("student/S2 student.created", "student/S2 student.updated",
                          "student/S2 student.updated"));
  const auto pending = Deliveries("wf", "pending");
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].attempts, 1);
  EXPECT_EQ(pending[1].attempts, 0);  // queued behind the first
  EXPECT_EQ(pending[2].attempts, 0);
  EXPECT_EQ(Step(*worker).position, Latest());  // the position moved on regardless

  clock_.Advance(5s);
  Step(*worker);  // second failure
  EXPECT_EQ(Accepted(receiver.arrivals()).size(), 3u);
  clock_.Advance(5min);
  EXPECT_EQ(Step(*worker).delivered, 3);  // the first, then the two waiting behind it
  const auto accepted = Accepted(receiver.arrivals());
  EXPECT_THAT(std::vector<std::string>(accepted.begin() + 3, accepted.end()),
              ElementsAre("student/S1 student.created", "student/S1 student.updated",
                          "student/S1 student.updated"));
  // No event of S1 was ever sent before its predecessor was accepted.
  int accepted_s1 = 0;
  for (const Arrival& a : receiver.arrivals()) {
    if (a.subject != "student/S1") continue;
    if (a.type == "student.updated") {
      EXPECT_GE(accepted_s1, 1);
    }
    if (a.answered == 200) ++accepted_s1;
  }
  EXPECT_TRUE(Deliveries("wf", "pending").empty());
}

TEST_P(RelayWorkerTest, A410DisablesTheSubscriptionAndEnablingResumesAtThatEvent) {
  Receiver receiver(clock_);
  std::atomic<bool> gone{true};
  receiver.SetResponder([&](const Arrival& a) {
    return a.subject == "student/S2" && gone.load() ? Reply{410} : Reply{200};
  });
  Subscribe("wf", receiver);
  RelayOptions options;
  options.concurrency = 1;
  outbox_->Commit({"S1"}, "Mario");
  outbox_->Commit({"S2"}, "Mario");
  outbox_->Commit({"S3"}, "Mario");
  auto worker = Worker("wf", options);
  const StepResult step = Step(*worker);
  EXPECT_TRUE(step.disabled);
  EXPECT_EQ(step.position, 1);
  auto row = store_->FindSubscription("wf");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_FALSE((*row)->enabled);
  EXPECT_THAT((*row)->disabled_reason, HasSubstr("410"));
  EXPECT_EQ(worker->counters().gone, 1);
  // Disabled: nothing is sent.
  clock_.Advance(1h);
  EXPECT_TRUE(Step(*worker).disabled);
  EXPECT_EQ(receiver.arrivals().size(), 2u);

  gone = false;
  ASSERT_TRUE(EnableSubscription(*store_, "wf", clock_).ok());
  const StepResult resumed = Step(*worker);
  EXPECT_EQ(resumed.delivered, 2);
  EXPECT_EQ(resumed.position, Latest());
  EXPECT_THAT(Accepted(receiver.arrivals()),
              ElementsAre("student/S1 student.created", "student/S2 student.created",
                          "student/S3 student.created"));
}

TEST_P(RelayWorkerTest, FiltersTakeOnlyTheirEventTypesAndCompanies) {
  Receiver receiver(clock_);
  Subscribe("updates", receiver, {"student.updated"});
  Subscribe("milano", receiver, {"student.*"}, {"autoscuola-milano"});
  Outbox milano(*store_, "autoscuola-milano");
  outbox_->Commit({"S1"}, "Mario");
  outbox_->Commit({"S1"}, "Luigi");
  milano.Commit({"M1"}, "Anna");
  auto updates = Worker("updates");
  auto milano_worker = Worker("milano");
  EXPECT_EQ(Step(*updates).delivered, 1);
  EXPECT_EQ(Step(*milano_worker).delivered, 1);
  std::vector<std::string> seen;
  for (const Arrival& a : receiver.arrivals()) seen.push_back(a.subject + " " + a.type);
  EXPECT_THAT(seen, ElementsAre("student/S1 student.updated", "student/M1 student.created"));
  EXPECT_EQ(*store_->GetRelayPosition("updates"), Latest());
}

TEST_P(RelayWorkerTest, OnlyTheLeaseHolderDeliversUntilItsLeaseExpires) {
  Receiver receiver(clock_);
  Subscribe("wf", receiver);
  outbox_->Commit({"S1"}, "Mario");
  RelayOptions first;
  first.instance_id = "instance-a";
  RelayOptions second;
  second.instance_id = "instance-b";
  auto a = Worker("wf", first);
  auto b = Worker("wf", second);
  EXPECT_EQ(Step(*a).delivered, 1);
  outbox_->Commit({"S2"}, "Mario");
  const StepResult refused = Step(*b);
  EXPECT_FALSE(refused.leased);
  EXPECT_EQ(receiver.arrivals().size(), 1u);
  // Instance a stops renewing (it died): after the lease time, b takes over where a stopped.
  clock_.Advance(first.lease_ttl);
  EXPECT_EQ(Step(*b).delivered, 1);
  EXPECT_EQ(receiver.arrivals().size(), 2u);
}

TEST_P(RelayWorkerTest, ASlowEndpointDoesNotHoldBackAnotherSubscription) {
  const Clock& clock = SystemClock::Instance();
  Receiver slow(clock);
  Receiver fast(clock);
  slow.SetResponder([](const Arrival&) { return Reply{200, "", /*hold=*/true}; });
  Subscribe("slow", slow);
  Subscribe("fast", fast);
  for (int i = 0; i < 5; ++i) outbox_->Commit({"S1", "S2", "S3", "S4"}, fmt::format("N{}", i));
  RelayOptions options;
  options.poll_interval = 20ms;
  options.refresh_interval = 20ms;
  options.instance_id = "test";
  auto* backend = backend_.get();
  Relay relay(
      options, [backend] { return backend->Open(); }, Sinks(clock), clock);
  ASSERT_TRUE(relay.Start().ok());
  // Every event reaches the fast endpoint while the slow one holds its first requests.
  EXPECT_TRUE(fast.WaitFor([](const auto& arrivals) { return arrivals.size() >= 20; }));
  EXPECT_LE(slow.arrivals().size(), 4u);  // at most one request in flight per lane
  slow.Release();
  EXPECT_TRUE(slow.WaitFor([](const auto& arrivals) { return arrivals.size() >= 20; }));
  relay.Stop();
  EXPECT_EQ(fast.arrivals().size(), 20u);
}

INSTANTIATE_TEST_SUITE_P(Backends, RelayWorkerTest,
                         ::testing::ValuesIn(pipeline::PipelineBackends()),
                         storage::testing::BackendName);

}  // namespace
}  // namespace reglo::relay
