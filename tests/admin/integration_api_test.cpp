// The admin API's relay and ingest parts end to end (issues #7 and #6): subscriptions managed
// through the API, deliveries dead-lettered by a real relay against a real local receiver and
// redelivered through the API, agent keys with their ingest counters after a real signed push,
// and the /metrics families of both, parsed back. Real admin listener on port 0, real store (each
// backend, admin_backends.h), ManualClock (the retry schedule is all zeros, so nothing waits on
// time; waits are bounded waits for other threads' work, never timed assertions).
#include <Poco/Net/HTTPRequest.h>
#include <gmock/gmock.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>

#include "admin_backends.h"
#include "http_client.h"
#include "master_key.h"
#include "poll.h"
#include "reglo/admin/admin.h"
#include "reglo/admin/token.h"
#include "reglo/engine/engine.h"
#include "reglo/http/server.h"
#include "reglo/ingest/agent_keys.h"
#include "reglo/ingest/ingest_service.h"
#include "reglo/relay/relay.h"
#include "reglo/relay/webhook_sink.h"
#include "reglo/security/master_key.h"
#include "reglo/security/signature.h"
#include "relay_test_support.h"
#include "temp_dir.h"

namespace reglo::admin {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kToken = "test-admin-token-0123456789";

using Reply = reglo::testing::HttpReply;

// "name{labels}" -> value, from a Prometheus text exposition.
std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?) (\S+)$)");
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::smatch match;
    EXPECT_TRUE(std::regex_match(line, match, sample)) << line;
    if (match.size() == 4) samples[match[1]] = std::stod(match[3]);
  }
  return samples;
}

class NoRandom final : public engine::RandomSource {
 public:
  uint64_t UpTo(uint64_t) override { return 0; }
};

class IntegrationApiTest : public storage::testing::FreshDatabaseTest {
 protected:
  void SetUp() override {
    FreshDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    dir_ = reglo::testing::MakeTempDir("reglo_integ_");
    ASSERT_FALSE(dir_.empty());
    engine::EngineOptions options;
    options.plugins_dir = dir_ / "plugins";
    options.plugin_cache_dir = dir_ / "cache";
    options.watch_plugins = false;
    std::filesystem::create_directories(options.plugins_dir);
    engine_ = std::make_unique<engine::Engine>(options, std::vector<engine::SourceConfig>{},
                                               Factory(), clock_, random_);
    ASSERT_TRUE(engine_->Start().ok());
  }
  void TearDown() override {
    server_.reset();
    ingest_server_.reset();
    if (relay_) relay_->Stop();
    relay_.reset();
    receiver_.reset();
    ingest_.reset();
    if (engine_) engine_->Stop(std::chrono::milliseconds(10'000));
    engine_.reset();
    store_.reset();
    backend_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  engine::StoreFactory Factory() {
    storage::testing::StoreBackend* backend = backend_.get();
    return [backend] { return backend->Open(); };
  }

  // A real relay: by default two attempts, no wait between them (a failing delivery is dead at
  // once).
  void StartRelay(std::vector<relay::Duration> schedule = {relay::Duration(0),
                                                           relay::Duration(0)}) {
    receiver_ = std::make_unique<relay::testing::Receiver>(clock_);
    relay::RelayOptions options;
    options.retry_schedule = std::move(schedule);
    options.poll_interval = relay::Duration(10);
    options.refresh_interval = relay::Duration(10);
    options.concurrency = 1;
    const security::MasterKey* master = &*master_;
    relay::SinkFactory sinks =
        [this,
         master](const storage::SubscriptionRow& row) -> Result<std::unique_ptr<relay::Sink>> {
      Result<std::string> key = relay::OpenSigningKey(*master, row);
      if (!key.ok()) return key.status();
      return relay::MakeWebhookSink(row.url, std::move(*key), clock_, {});
    };
    relay_ = std::make_unique<relay::Relay>(options, Factory(), std::move(sinks), clock_);
    ASSERT_TRUE(relay_->Start().ok());
  }

  // A real ingestion API with one agent key.
  void StartIngest() {
    ingest::AgentKeys keys(*store_, *master_, clock_);
    auto created = keys.Create("autoscuola-roma", "gestionale", {});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    api_key_ = created->api_key;
    prefix_ = created->row.prefix;
    signing_key_ = *security::ParseWebhookSecret(created->signing_secret);
    ingest_ = std::make_unique<ingest::IngestService>(ingest::IngestOptions{}, Factory(), *master_,
                                                      clock_);
    auto router = std::make_shared<http::Router>();
    ingest_->AddRoutes(*router);
    http::ServerOptions server;
    server.name = "ingest";
    auto started = http::Server::Start(server, router);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    ingest_server_ = std::move(*started);
  }

  void StartAdmin(bool with_master_key = true) {
    if (!registry_added_) {
      metrics_.Add(MakeRelayMetrics(relay_.get(), Factory()));
      if (ingest_) metrics_.Add(MakeIngestMetrics(ingest_->stats()));
      registry_added_ = true;
    }
    AdminOptions admin;
    admin.port = 0;
    admin.token_hash = TokenHash(kToken);
    AdminDeps deps{*engine_, Factory(), clock_, metrics_};
    deps.relay = relay_.get();
    if (ingest_) deps.ingest_stats = &ingest_->stats();
    if (with_master_key) deps.master_key = &*master_;
    auto server = StartAdminServer(admin, deps);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  // Sends `request` with a JSON `body` to 127.0.0.1:`port` and reads the answer.
  static Reply Send(uint16_t port, Poco::Net::HTTPRequest& request, const std::string& body) {
    if (!body.empty() || request.getMethod() == "POST") request.setContentType("application/json");
    return reglo::testing::SendHttp(port, request, body);
  }

  Reply Call(const std::string& method, const std::string& uri, const std::string& body = "") {
    Poco::Net::HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", std::string("Bearer ") + kToken);
    return Send(server_->port(), request, body);
  }

  std::map<std::string, double> Metrics() {
    Reply reply = Call("GET", "/metrics");
    EXPECT_EQ(reply.status, 200);
    return ParseMetrics(reply.body);
  }

  // Asks until `done` holds: the relay works on its own threads. Bounded; never a timed check.
  static bool Eventually(const std::function<bool()>& done) {
    return reglo::testing::WaitUntil(done, std::chrono::seconds(30), std::chrono::milliseconds(10));
  }

  json Deliveries(const std::string& id, const std::string& query = "") {
    Reply reply = Call("GET", "/api/admin/subscriptions/" + id + "/deliveries" + query);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.Json();
  }

  void ExpectProblem(const Reply& reply, int status, const std::string& detail_part) {
    EXPECT_EQ(reply.status, status) << reply.body;
    EXPECT_EQ(reply.content_type, "application/problem+json") << reply.body;
    EXPECT_THAT(reply.Json().value("detail", ""), HasSubstr(detail_part)) << reply.body;
  }

  // A push signed with the agent's key, or with `signature` and `timestamp` when given.
  Reply Push(const std::string& body, const std::string& id,
             std::optional<std::string> signature = std::nullopt, int64_t timestamp = 0) {
    Poco::Net::HTTPRequest request("POST", "/api/hub/ingest", Poco::Net::HTTPMessage::HTTP_1_1);
    const int64_t ts =
        timestamp
            ? timestamp
            : std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch())
                  .count();
    request.set("webhook-id", id);
    request.set("webhook-timestamp", std::to_string(ts));
    request.set("webhook-signature",
                signature.value_or(*security::SignWebhook(signing_key_, id, ts, body)));
    request.set("Authorization", "Bearer " + api_key_);
    return Send(ingest_server_->port(), request, body);
  }

  std::optional<security::MasterKey> master_ = reglo::testing::FixedMasterKey();
  std::filesystem::path dir_;
  ManualClock clock_{std::chrono::system_clock::now()};
  NoRandom random_;
  MetricsRegistry metrics_;
  bool registry_added_ = false;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<relay::testing::Receiver> receiver_;
  std::unique_ptr<relay::Relay> relay_;
  std::unique_ptr<ingest::IngestService> ingest_;
  std::unique_ptr<http::Server> ingest_server_;
  std::unique_ptr<http::Server> server_;
  std::string api_key_, prefix_, signing_key_;
};

TEST_P(IntegrationApiTest, SubscriptionsAreManagedThroughTheApi) {
  StartAdmin();
  // Created: the signing secret comes back this once; the target hides the query string.
  Reply created = Call("POST", "/api/admin/subscriptions",
                       json{{"id", "crm"},
                            {"url", "https://user:pw@crm.example.com/hook?token=abc"},
                            {"eventTypes", {"student.*"}},
                            {"companyIds", {"autoscuola-roma"}}}
                           .dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const json sub = created.Json();
  EXPECT_THAT(sub.value("secret", ""), ::testing::StartsWith("whsec_"));
  EXPECT_EQ(sub["target"], "https://crm.example.com/hook");
  EXPECT_EQ(sub["eventTypes"], json::array({"student.*"}));
  EXPECT_EQ(sub["companyIds"], json::array({"autoscuola-roma"}));
  EXPECT_EQ(sub["origin"], "api");
  EXPECT_EQ(sub["enabled"], true);
  EXPECT_EQ(sub["state"], "enabled");  // no relay in this listener's process
  EXPECT_EQ(sub["lag"], 0);
  // Never again: not in the list, not in GET.
  Reply list = Call("GET", "/api/admin/subscriptions");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.Json()["items"].size(), 1u);
  EXPECT_FALSE(list.Json()["items"][0].contains("secret"));
  EXPECT_THAT(list.body, Not(HasSubstr("token=abc")));
  EXPECT_THAT(list.body, Not(HasSubstr(sub.value("secret", "-"))));
  EXPECT_EQ(Call("GET", "/api/admin/subscriptions/crm").Json()["id"], "crm");

  // Bad input: a clear 400 naming the field, nothing created.
  ExpectProblem(Call("POST", "/api/admin/subscriptions", R"({"id":"x"})"), 400, "url: missing");
  ExpectProblem(Call("POST", "/api/admin/subscriptions", R"({"id":"x","url":"ftp://a/b"})"), 400,
                "url");
  ExpectProblem(
      Call("POST", "/api/admin/subscriptions", R"({"id":"x","url":"http://a/b","kind":"nats"})"),
      400, "kind: unknown field");
  ExpectProblem(Call("POST", "/api/admin/subscriptions",
                     R"({"id":"x","url":"http://a/b","eventTypes":"student.*"})"),
                400, "eventTypes");
  ExpectProblem(Call("POST", "/api/admin/subscriptions",
                     R"({"id":"x","url":"http://a/b","secret":"whsec_short"})"),
                400, "secret");
  ExpectProblem(Call("POST", "/api/admin/subscriptions",
                     R"({"id":"crm","url":"http://crm.example.com/other"})"),
                409, "already exists");
  for (const auto& [body, named] : std::vector<std::pair<std::string, std::string>>{
           {"not json", "the body must be a JSON object"},
           {R"(["id"])", "the body must be a JSON object"},
           {R"({"url":"http://a/b"})", "id: missing"},
           {R"({"id":"","url":"http://a/b"})", "id: must be a non-empty string"},
           {R"({"id":"x","url":"http://a/b","secret":5})", "secret: must be a string"},
           {R"({"id":"x","url":"http://a/b","companyIds":["a",""]})",
            "companyIds: must be an array"},
           {R"({"id":"x","url":"http://a/b","enabled":null})", "enabled: must be true or false"}}) {
    ExpectProblem(Call("POST", "/api/admin/subscriptions", body), 400, named);
  }
  EXPECT_EQ(Call("GET", "/api/admin/subscriptions").Json()["items"].size(), 1u);

  // A disable body is optional; a bad one is refused naming the member and changes nothing.
  for (const auto& [body, named] : std::vector<std::pair<std::string, std::string>>{
           {"[]", "the body must be a JSON object (or empty)"},
           {R"({"why":"x"})", "why: unknown field"},
           {R"({"reason":""})", "reason: must be a non-empty string of at most 500 characters"},
           {R"({"reason":null})", "reason: must be a non-empty string"},
           {json{{"reason", std::string(501, 'x')}}.dump(),
            "reason: must be a non-empty string"}}) {
    ExpectProblem(Call("POST", "/api/admin/subscriptions/crm/disable", body), 400, named);
  }
  EXPECT_EQ(Call("GET", "/api/admin/subscriptions/crm").Json()["enabled"], true);

  // Disable (with a reason) and enable.
  Reply disabled =
      Call("POST", "/api/admin/subscriptions/crm/disable", R"({"reason":"endpoint migration"})");
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  EXPECT_EQ(disabled.Json()["state"], "disabled");
  EXPECT_EQ(disabled.Json()["disabledReason"], "endpoint migration");
  Reply enabled = Call("POST", "/api/admin/subscriptions/crm/enable");
  ASSERT_EQ(enabled.status, 200) << enabled.body;
  EXPECT_EQ(enabled.Json()["enabled"], true);
  EXPECT_TRUE(enabled.Json()["disabledReason"].is_null());

  // Deliveries of a subscription: empty; bad parameters are 400; unknown ids 404.
  EXPECT_EQ(Deliveries("crm")["items"].size(), 0u);
  ExpectProblem(Call("GET", "/api/admin/subscriptions/crm/deliveries?status=lost"), 400, "status");
  ExpectProblem(Call("GET", "/api/admin/subscriptions/nope/deliveries"), 404, "nope");
  ExpectProblem(Call("POST", "/api/admin/subscriptions/nope/enable"), 404, "nope");
  ExpectProblem(Call("POST", "/api/admin/subscriptions/crm/deliveries/x/redeliver"), 400,
                "sequence");
  ExpectProblem(Call("POST", "/api/admin/subscriptions/crm/deliveries/99/redeliver"), 404, "99");

  // Deleted.
  EXPECT_EQ(Call("DELETE", "/api/admin/subscriptions/crm").status, 204);
  ExpectProblem(Call("GET", "/api/admin/subscriptions/crm"), 404, "crm");
  ExpectProblem(Call("DELETE", "/api/admin/subscriptions/crm"), 404, "crm");
}

TEST_P(IntegrationApiTest, CreatingASubscriptionWithoutAMasterKeyIsRefused) {
  StartAdmin(/*with_master_key=*/false);
  ExpectProblem(
      Call("POST", "/api/admin/subscriptions", R"({"id":"crm","url":"http://a.example/hook"})"),
      503, "master key");
  EXPECT_EQ(Call("GET", "/api/admin/subscriptions").Json()["items"].size(), 0u);
}

TEST_P(IntegrationApiTest, DeadDeliveriesAreRedeliveredThroughTheApiWithMetrics) {
  StartRelay();
  StartAdmin();
  std::atomic<bool> failing{true};
  receiver_->SetResponder(
      [&](const relay::testing::Arrival&) { return relay::testing::Reply(failing ? 503 : 200); });
  Reply created = Call(
      "POST", "/api/admin/subscriptions",
      json{{"id", "crm"}, {"url", receiver_->url()}, {"secret", relay::testing::kSecret}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(Eventually(
      [&] { return Call("GET", "/api/admin/subscriptions/crm").Json()["state"] == "active"; }));

  relay::testing::Outbox outbox(*store_);
  outbox.Commit({"S1", "S2"}, "Mario");
  // Both attempts fail: the two deliveries are dead-lettered.
  ASSERT_TRUE(Eventually([&] { return Deliveries("crm", "?status=dead")["items"].size() == 2; }));
  json dead = Deliveries("crm", "?status=dead")["items"];
  EXPECT_EQ(dead[0]["status"], "dead");
  EXPECT_EQ(dead[0]["attempts"], 2);
  EXPECT_EQ(dead[0]["eventType"], "student.created");
  EXPECT_EQ(dead[0]["lastStatusCode"], 503);
  EXPECT_FALSE(dead[0]["lastError"].is_null());
  EXPECT_THAT(Deliveries("crm").dump(), Not(HasSubstr("RSSMRA")));
  // Paging: one at a time, `next` passed back as `after`.
  json first = Deliveries("crm", "?limit=1");
  ASSERT_EQ(first["items"].size(), 1u);
  EXPECT_EQ(Deliveries("crm", "?limit=1&after=" + first["next"].dump())["items"][0]["sequence"],
            dead[1]["sequence"]);

  // The worker saves the dead rows before its live counters count them: wait for the counters.
  ASSERT_TRUE(Eventually([&] {
    return Call("GET", "/api/admin/subscriptions/crm").Json()["counters"]["deadLettered"] == 2;
  }));
  json sub = Call("GET", "/api/admin/subscriptions/crm").Json();
  // Every delivery refused: the subscription says it fails, since when, and why.
  EXPECT_EQ(sub["health"]["state"], "failing");
  EXPECT_EQ(sub["health"]["failingSince"], reglo::FormatUtc(clock_.Now()));
  EXPECT_THAT(sub["health"]["lastError"].get<std::string>(), HasSubstr("503"));
  EXPECT_TRUE(sub["health"]["oldestPendingAt"].is_null());
  EXPECT_EQ(sub["dead"], 2);
  EXPECT_EQ(sub["lag"], 0);
  EXPECT_EQ(sub["counters"]["deadLettered"], 2);
  std::map<std::string, double> metrics = Metrics();
  EXPECT_EQ(metrics[R"(reglo_relay_deliveries{subscription="crm",status="dead"})"], 2);
  EXPECT_EQ(metrics[R"(reglo_relay_deliveries_total{subscription="crm",outcome="dead_lettered"})"],
            2);
  EXPECT_EQ(metrics[R"(reglo_relay_deliveries_total{subscription="crm",outcome="failed"})"], 4);
  EXPECT_EQ(metrics[R"(reglo_relay_lag_events{subscription="crm"})"], 0);
  EXPECT_EQ(metrics[R"(reglo_relay_subscriptions{state="active"})"], 1);

  // The endpoint is back: one redelivered by its sequence, then the rest with redeliver-dead.
  failing = false;
  const int64_t one = dead[0]["sequence"];
  Reply again =
      Call("POST", "/api/admin/subscriptions/crm/deliveries/" + std::to_string(one) + "/redeliver");
  ASSERT_EQ(again.status, 202) << again.body;
  ASSERT_TRUE(
      Eventually([&] { return Deliveries("crm", "?status=delivered")["items"].size() == 1; }));
  EXPECT_EQ(Deliveries("crm", "?status=delivered")["items"][0]["sequence"], one);
  Reply rest = Call("POST", "/api/admin/subscriptions/crm/redeliver-dead");
  ASSERT_EQ(rest.status, 202) << rest.body;
  EXPECT_EQ(rest.Json()["redelivered"], 1);
  ASSERT_TRUE(
      Eventually([&] { return Deliveries("crm", "?status=delivered")["items"].size() == 2; }));
  EXPECT_EQ(Deliveries("crm", "?status=dead")["items"].size(), 0u);
  ASSERT_TRUE(Eventually([&] {
    return Metrics()[R"(reglo_relay_deliveries_total{subscription="crm",outcome="delivered"})"] ==
           2;
  }));
  // The receiver got each event signed, and answered 200 to the redeliveries.
  int delivered = 0;
  for (const relay::testing::Arrival& arrival : receiver_->arrivals()) {
    EXPECT_TRUE(arrival.signature_ok);
    if (arrival.answered == 200) ++delivered;
  }
  EXPECT_EQ(delivered, 2);
  const json healed = Call("GET", "/api/admin/subscriptions/crm").Json()["health"];
  EXPECT_EQ(healed["state"], "ok");
  EXPECT_TRUE(healed["failingSince"].is_null());
  metrics = Metrics();
  EXPECT_EQ(metrics[R"(reglo_relay_deliveries_total{subscription="crm",outcome="delivered"})"], 2);
  EXPECT_EQ(metrics[R"(reglo_relay_deliveries{subscription="crm",status="dead"})"], 0);

  // Disabled through the API: the relay lets it go.
  ASSERT_EQ(Call("POST", "/api/admin/subscriptions/crm/disable").status, 200);
  EXPECT_EQ(Call("GET", "/api/admin/subscriptions/crm").Json()["disabledReason"],
            "disabled through the admin API");
  EXPECT_EQ(Metrics()[R"(reglo_relay_subscriptions{state="disabled"})"], 1);
}

// Issue #16: a receiver that refuses every delivery, with retries an hour apart: the deliveries
// stay pending and the subscription's health says failing, with the oldest pending one's age.
TEST_P(IntegrationApiTest, ASubscriptionWhoseReceiverRefusesEverythingShowsFailingHealth) {
  StartRelay({relay::Duration(0), std::chrono::hours(1)});
  StartAdmin();
  receiver_->SetResponder(
      [](const relay::testing::Arrival&) { return relay::testing::Reply(500); });
  ASSERT_EQ(Call("POST", "/api/admin/subscriptions",
                 json{{"id", "crm"}, {"url", receiver_->url()}, {"secret", relay::testing::kSecret}}
                     .dump())
                .status,
            201);
  ASSERT_TRUE(Eventually(
      [&] { return Call("GET", "/api/admin/subscriptions/crm").Json()["state"] == "active"; }));
  json health = Call("GET", "/api/admin/subscriptions/crm").Json()["health"];
  EXPECT_EQ(health["state"], "ok");  // nothing refused yet
  const std::string first_failure = reglo::FormatUtc(clock_.Now());
  relay::testing::Outbox outbox(*store_);
  outbox.Commit({"S1", "S2"}, "Mario");
  ASSERT_TRUE(Eventually([&] {
    return Call("GET", "/api/admin/subscriptions/crm").Json()["health"]["state"] == "failing";
  }));
  // The store stamps rows with the system clock, a little ahead of this test's manual one: ten
  // minutes on, the age is positive, and it then grows with the admin clock.
  clock_.Advance(std::chrono::minutes(10));
  const int64_t age_before =
      Call("GET", "/api/admin/subscriptions/crm").Json()["health"]["oldestPendingAgeSeconds"];
  EXPECT_GT(age_before, 0);
  clock_.Advance(std::chrono::seconds(90));
  const json sub = Call("GET", "/api/admin/subscriptions/crm").Json();
  EXPECT_EQ(sub["state"], "active");
  EXPECT_GE(sub["pending"].get<int64_t>(), 1);
  health = sub["health"];
  EXPECT_EQ(health["failingSince"], first_failure);
  EXPECT_THAT(health["lastError"].get<std::string>(), HasSubstr("500"));
  // The age is the admin clock's now minus the stored stamp.
  std::chrono::system_clock::time_point pending_since;
  ASSERT_TRUE(reglo::ParseUtc(health["oldestPendingAt"].get<std::string>(), pending_since));
  EXPECT_EQ(health["oldestPendingAgeSeconds"],
            std::chrono::duration_cast<std::chrono::seconds>(clock_.Now() - pending_since).count());
  EXPECT_EQ(health["oldestPendingAgeSeconds"].get<int64_t>(), age_before + 90);
  EXPECT_THAT(sub.dump(), Not(HasSubstr("Mario")));
}

TEST_P(IntegrationApiTest, AgentsShowKeysAndIngestCountersWithoutSecrets) {
  StartIngest();
  StartAdmin();
  const json body = {
      {"companyId", "autoscuola-roma"},
      {"sourceSystem", "gestionale"},
      {"cursor", "c1"},
      {"data",
       {{{"entity", "student"},
         {"externalId", "S1"},
         {"sourceUpdatedAt", "2025-06-01T10:00:00Z"},
         {"firstName", "Mario"},
         {"lastName", "Rossi"},
         {"fiscalCode", "RSSMRA85T10A562S"},
         {"birthDate", "1985-12-10"}},
        {{"entity", "student"}, {"firstName", "NoId"}}}}};  // no externalId: rejected
  Reply pushed = Push(body.dump(), "push-1");
  ASSERT_EQ(pushed.status, 200) << pushed.body;
  // The same records again, another request: accepted again (the record without an externalId
  // is a dead letter each time).
  ASSERT_EQ(Push(body.dump(), "push-2").status, 200);

  Reply agents = Call("GET", "/api/admin/agents");
  ASSERT_EQ(agents.status, 200) << agents.body;
  const json items = agents.Json()["items"];
  ASSERT_EQ(items.size(), 1u);
  const json& agent = items[0];
  EXPECT_EQ(agent["prefix"], prefix_);
  EXPECT_EQ(agent["key"], ingest::DisplayKey(prefix_, api_key_.substr(api_key_.size() - 4)));
  EXPECT_EQ(agent["companyId"], "autoscuola-roma");
  EXPECT_EQ(agent["status"], "active");
  EXPECT_FALSE(agent["lastUsedAt"].is_null());
  EXPECT_EQ(agent["counters"]["requestsByStatus"]["200"], 2);
  EXPECT_EQ(agent["counters"]["recordsAccepted"], 2);
  EXPECT_EQ(agent["counters"]["recordsRejected"], 2);
  EXPECT_FALSE(agent["counters"]["lastPushAt"].is_null());
  // Never the key, its hash or the signing secret.
  EXPECT_THAT(agents.body, Not(HasSubstr(api_key_)));
  EXPECT_THAT(agents.body, Not(HasSubstr(api_key_.substr(4 + prefix_.size() + 1, 20))));
  EXPECT_THAT(agents.body, Not(HasSubstr("whsec_")));

  // A push with a stale timestamp and a wrong signature: refused and counted.
  const Reply bad = Push(body.dump(), "bad-1", "v1,AAAA", 1);
  ASSERT_GE(bad.status, 400);
  const std::string status = std::to_string(bad.status);

  const json counters = Call("GET", "/api/admin/agents").Json()["items"][0]["counters"];
  EXPECT_EQ(counters["requestsByStatus"][status], 1);
  ASSERT_EQ(counters["refusalsByReason"].size(), 1u);

  std::map<std::string, double> metrics = Metrics();
  EXPECT_EQ(metrics[R"(reglo_ingest_requests_total{key=")" + prefix_ + R"(",status="200"})"], 2);
  EXPECT_EQ(metrics[R"(reglo_ingest_requests_total{key=")" + prefix_ + R"(",status=")" + status +
                    R"("})"],
            1);
  EXPECT_EQ(metrics[R"(reglo_ingest_records_total{key=")" + prefix_ + R"(",outcome="accepted"})"],
            2);
  EXPECT_EQ(metrics[R"(reglo_ingest_records_total{key=")" + prefix_ + R"(",outcome="rejected"})"],
            2);
  EXPECT_EQ(metrics["reglo_ingest_rate_limited_total"], 0);
  EXPECT_GT(metrics[R"(reglo_ingest_last_push_timestamp_seconds{key=")" + prefix_ + R"("})"], 0);
  const std::string reason = counters["refusalsByReason"].begin().key();
  EXPECT_EQ(metrics[R"(reglo_ingest_refusals_total{key=")" + prefix_ + R"(",reason=")" + reason +
                    R"("})"],
            1);
}

INSTANTIATE_TEST_SUITE_P(Backends, IntegrationApiTest, ::testing::ValuesIn(AdminBackends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace reglo::admin
