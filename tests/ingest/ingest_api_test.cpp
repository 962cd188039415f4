// The ingestion API end to end in one process: a real http::Server on port 0, the real
// IngestService, a real store (each backend), a ManualClock for the signature window and the
// rate limit. Every refusal is checked for its status, problem+json type, and that nothing was
// written (records, events, runs, request ids, dead letters, the key's last use).
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "http_client.h"
#include "ingest_backends.h"
#include "master_key.h"
#include "reglo/http/server.h"
#include "reglo/ingest/agent_keys.h"
#include "reglo/ingest/ingest_service.h"
#include "reglo/security/signature.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo::ingest {
namespace {

using nlohmann::json;
using storage::testing::BackendParam;

constexpr char kCompany[] = "autoscuola-rossi";
constexpr char kSource[] = "gestionale";

using Reply = reglo::testing::HttpReply;
using reglo::testing::RawExchange;
// Everything a push could write, to compare before and after a refusal.
struct Written {
  int64_t students, events, runs, requests, dead_letters, cursors, used_keys;
  bool operator==(const Written&) const = default;
};

std::string Students(int count, int first = 1) {
  json data = json::array();
  for (int i = first; i < first + count; ++i) {
    data.push_back({{"entity", "student"},
                    {"externalId", "S" + std::to_string(i)},
                    {"sourceUpdatedAt", "2025-06-01T10:00:00Z"},
                    {"firstName", "Mario"},
                    {"lastName", "Rossi"},
                    {"fiscalCode", "RSSMRA85T10A562S"},
                    {"birthDate", "1985-12-10"},
                    {"email", "mario@example.com"},
                    {"phone", "+39 333 1234567"}});
  }
  return json{{"companyId", kCompany}, {"sourceSystem", kSource}, {"cursor", "c1"}, {"data", data}}
      .dump();
}

class IngestApiTest : public storage::testing::FreshDatabaseTest {
 protected:
  void SetUp() override {
    FreshDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    NewKey();
  }

  void NewKey(std::vector<std::string> cidrs = {}, std::optional<double> rate = std::nullopt,
              std::optional<int64_t> burst = std::nullopt, std::string company = kCompany) {
    AgentKeys keys(*store_, *master_, clock_);
    auto created = keys.Create(company, kSource, cidrs, rate, burst);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    api_key_ = created->api_key;
    auto secret = security::ParseWebhookSecret(created->signing_secret);
    ASSERT_TRUE(secret.ok());
    secret_ = *secret;
    prefix_ = created->row.prefix;
  }

  void Start(IngestOptions options = {}, http::ServerOptions server = {}) {
    server_.reset();
    service_ = std::make_unique<IngestService>(
        options, [this] { return backend_->Open(); }, *master_, clock_);
    auto router = std::make_shared<http::Router>();
    service_->AddRoutes(*router);
    server.name = "ingest";
    auto started = http::Server::Start(server, router);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(*started);
  }

  struct Send {
    std::string method = "POST";
    std::string path = "/api/hub/ingest";
    std::string body;
    std::optional<std::string> id;           // default: a fresh id
    std::optional<int64_t> timestamp;        // default: the clock's now
    std::optional<std::string> signature;    // default: a valid one
    std::optional<std::string> signed_body;  // default: body
    std::optional<std::string> api_key;      // default: the test key
    std::string content_type = "application/json";
  };

  // A valid push of one student, for a test to alter one part of.
  static Send OneStudent() {
    Send send;
    send.body = Students(1);
    return send;
  }

  Reply Call(Send send) {
    if (!server_) Start();
    Poco::Net::HTTPRequest request(send.method, send.path, Poco::Net::HTTPMessage::HTTP_1_1);
    const std::string id = send.id.value_or("msg_" + std::to_string(++ids_));
    const int64_t ts = send.timestamp.value_or(
        std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count());
    std::string signature;
    if (send.signature) {
      signature = *send.signature;
    } else {
      auto signed_value =
          security::SignWebhook(secret_, id, ts, send.signed_body.value_or(send.body));
      signature = signed_value.ok() ? *signed_value : "";
    }
    request.set("webhook-id", id);
    request.set("webhook-timestamp", std::to_string(ts));
    request.set("webhook-signature", signature);
    const std::string key = send.api_key.value_or(api_key_);
    if (!key.empty()) request.set("Authorization", "Bearer " + key);
    if (send.method == "POST") request.setContentType(send.content_type);
    return reglo::testing::SendHttp(server_->port(), request, send.body);
  }
  // The head of a push with the test key that announces `content_length` bytes of body, to send
  // raw with no body or a part of it.
  std::string IngestHead(int64_t content_length) const {
    return "POST /api/hub/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Authorization: Bearer " +
           api_key_ + "\r\nContent-Length: " + std::to_string(content_length) + "\r\n\r\n";
  }
  Reply Push(std::string body, std::optional<std::string> id = std::nullopt) {
    Send send;
    send.body = std::move(body);
    send.id = std::move(id);
    return Call(send);
  }

  int64_t Count(const std::string& sql) {
    auto value = backend_->QueryInt(sql);
    EXPECT_TRUE(value.ok()) << value.status().ToString();
    return value.ok() ? *value : -1;
  }
  Written Snapshot() {
    return {Count("SELECT COUNT(*) FROM students"),
            Count("SELECT COUNT(*) FROM integration_events"),
            Count("SELECT COUNT(*) FROM integration_runs"),
            Count("SELECT COUNT(*) FROM integration_ingest_requests"),
            Count("SELECT COUNT(*) FROM integration_dead_letters"),
            Count("SELECT COUNT(*) FROM integration_cursors"),
            Count("SELECT COUNT(*) FROM integration_agent_keys WHERE last_used_at IS NOT NULL")};
  }

  // A refusal: status, problem+json with the type, and nothing written.
  void ExpectRefused(const Reply& reply, int status, const std::string& slug,
                     const Written& before) {
    EXPECT_EQ(reply.status, status) << reply.body;
    EXPECT_EQ(reply.content_type, "application/problem+json") << reply.body;
    EXPECT_EQ(reply.ProblemType(), "https://reglo.it/problems/" + slug) << reply.body;
    EXPECT_EQ(Snapshot(), before);
    EXPECT_EQ(reply.body.find("RSSMRA"), std::string::npos);
  }

  std::optional<security::MasterKey> master_ = reglo::testing::FixedMasterKey();
  ManualClock clock_{std::chrono::system_clock::now()};
  std::string api_key_, secret_, prefix_;
  std::unique_ptr<IngestService> service_;
  std::unique_ptr<http::Server> server_;
  int ids_ = 0;
};

TEST_P(IngestApiTest, SignedPushGoesThroughThePipelineWithPerRecordOutcomes) {
  json data = json::array();
  data.push_back({{"entity", "student"},
                  {"externalId", "S1"},
                  {"firstName", "Mario"},
                  {"lastName", "Rossi"},
                  {"fiscalCode", "RSSMRA85T10A562X"},
                  {"sourceUpdatedAt", "2025-06-01T10:00:00Z"}});  // bad check char
  data.push_back({{"entity", "student"},
                  {"externalId", "S2"},
                  {"sourceUpdatedAt", "2025-06-01T09:00:00Z"},
                  {"firstName", "Old"}});
  data.push_back({{"entity", "student"},
                  {"externalId", "S2"},
                  {"sourceUpdatedAt", "2025-06-01T10:00:00Z"},
                  {"firstName", "New"},
                  {"age", 17},
                  {"active", true},
                  {"email", nullptr}});
  data.push_back({{"entity", "student"}, {"firstName", "NoId"}});  // no externalId: rejected
  const std::string body = json{
      {"companyId", kCompany},
      {"sourceSystem", kSource},
      {"cursor", "page-1"},
      {"data", data}}.dump();
  const Reply reply = Push(body, "first");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json answer = reply.Json();
  EXPECT_EQ(answer["requestId"], "first");
  EXPECT_EQ(answer["counts"]["received"], 4);
  EXPECT_EQ(answer["counts"]["created"], 2);
  EXPECT_EQ(answer["counts"]["duplicate"], 1);
  EXPECT_EQ(answer["counts"]["rejected"], 1);
  EXPECT_EQ(answer["counts"]["events"], 2);
  ASSERT_EQ(answer["records"].size(), 4u);
  EXPECT_EQ(answer["records"][0]["outcome"], "created");
  EXPECT_FALSE(answer["records"][0]["warnings"].empty());  // the fiscal code's check character
  EXPECT_EQ(answer["records"][1]["outcome"], "duplicate");
  EXPECT_EQ(answer["records"][2]["outcome"], "created");
  EXPECT_EQ(answer["records"][3]["outcome"], "rejected");
  EXPECT_FALSE(answer["records"][3]["reason"].get<std::string>().empty());
  EXPECT_EQ(reply.body.find("RSSMRA"), std::string::npos);  // no personal values in answers

  EXPECT_EQ(Count("SELECT COUNT(*) FROM students"), 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM students WHERE external_id = 'S2' AND "
                  "first_name = 'New' AND extra IS NOT NULL"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM integration_events"), 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM integration_dead_letters"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM integration_agent_keys WHERE last_used_at IS NOT NULL"), 1);

  // The agent's cursor committed with the records; GET /api/hub/cursor tells where the hub is.
  Send cursor;
  cursor.method = "GET";
  cursor.path = "/api/hub/cursor?stream=default";
  const Reply where = Call(cursor);
  ASSERT_EQ(where.status, 200) << where.body;
  EXPECT_EQ(where.Json()["cursor"], "page-1");
  cursor.path = "/api/hub/cursor?stream=other";
  EXPECT_TRUE(Call(cursor).Json()["cursor"].is_null());

  // Re-sent under a new id: unchanged, no new events.
  const Reply again = Push(body, "second");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.Json()["counts"]["unchanged"], 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM integration_events"), 2);
}

TEST_P(IngestApiTest, ReplayedRequestIdReturnsTheStoredResponseAndAnotherBodyIs422) {
  const Reply first = Push(Students(2), "batch-1");
  ASSERT_EQ(first.status, 200);
  const Written after_first = Snapshot();
  const Reply replay = Push(Students(2), "batch-1");
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(replay.headers.get("Idempotent-Replayed", ""), "true");
  EXPECT_EQ(Snapshot(), after_first);
  ExpectRefused(Push(Students(3), "batch-1"), 422, "idempotency-key-reused", after_first);
}

TEST_P(IngestApiTest, RequestIdsArePurgedOnceTheirRetentionHasPassed) {
  const auto kept = [&](const std::string& id) {
    return Count("SELECT COUNT(*) FROM integration_ingest_requests WHERE request_id = '" + id +
                 "'");
  };
  ASSERT_EQ(Push(Students(1), "day-1").status, 200);
  clock_.Advance(std::chrono::hours(23));
  ASSERT_EQ(Push(Students(1), "day-2").status, 200);
  EXPECT_EQ(kept("day-1"), 1);  // 23 h old: kept (24 h by default)
  clock_.Advance(std::chrono::hours(2));
  ASSERT_EQ(Push(Students(1), "day-3").status, 200);
  EXPECT_EQ(kept("day-1"), 0);
  EXPECT_EQ(kept("day-2"), 1);
  EXPECT_EQ(kept("day-3"), 1);
  // The purged id is new again: its request goes through the pipeline (and finds it unchanged).
  const Reply again = Push(Students(1), "day-1");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.headers.get("Idempotent-Replayed", ""), "");
}

TEST_P(IngestApiTest, MissingUnknownAndRevokedKeysAre401) {
  const Written before = Snapshot();
  Send send = OneStudent();
  send.api_key = "";
  ExpectRefused(Call(send), 401, "missing-api-key", before);
  send.api_key = "rgk_0123456789ab_" + std::string(64, 'a');
  ExpectRefused(Call(send), 401, "invalid-api-key", before);
  send.api_key = api_key_.substr(0, api_key_.size() - 1) + (api_key_.back() == 'a' ? "b" : "a");
  ExpectRefused(Call(send), 401, "invalid-api-key", before);
  ASSERT_TRUE(RevokeAgentKey(*store_, prefix_, clock_).ok());
  send.api_key.reset();
  ExpectRefused(Call(send), 401, "revoked-api-key", before);
}

TEST_P(IngestApiTest, BadSignatureAndTamperedBodyAre401) {
  const Written before = Snapshot();
  Send send = OneStudent();
  send.signature = "v1,bm90IGEgc2lnbmF0dXJl";
  ExpectRefused(Call(send), 401, "invalid-signature", before);
  send.signature.reset();
  send.signed_body = Students(1);
  send.body = Students(1, 7);  // signed one thing, sent another
  ExpectRefused(Call(send), 401, "invalid-signature", before);
}

TEST_P(IngestApiTest, ExpiredAndFutureTimestampsAre401) {
  const Written before = Snapshot();
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  Send send = OneStudent();
  send.timestamp = now - 6 * 60;
  ExpectRefused(Call(send), 401, "invalid-timestamp", before);
  send.timestamp = now + 6 * 60;
  ExpectRefused(Call(send), 401, "invalid-timestamp", before);
  // The window follows the hub's clock: a request signed 4 minutes ago is fine, then expires.
  send.timestamp = now - 4 * 60;
  send.id = "late";
  EXPECT_EQ(Call(send).status, 200);
  clock_.Advance(std::chrono::minutes(2));
  send.id = "later";
  EXPECT_EQ(Call(send).status, 401);
}

TEST_P(IngestApiTest, ScopeOtherThanTheKeysIs403) {
  const Written before = Snapshot();
  json body = json::parse(Students(1));
  body["companyId"] = "another-school";
  ExpectRefused(Push(body.dump()), 403, "scope-mismatch", before);
  body = json::parse(Students(1));
  body["sourceSystem"] = "another-system";
  ExpectRefused(Push(body.dump()), 403, "scope-mismatch", before);
  body = json::parse(Students(2));
  body["data"][1]["companyId"] = "another-school";
  ExpectRefused(Push(body.dump()), 403, "scope-mismatch", before);
}

TEST_P(IngestApiTest, AddressOutsideTheKeysAllowlistIs403) {
  ASSERT_TRUE(RevokeAgentKey(*store_, prefix_, clock_).ok());
  NewKey({"10.0.0.0/8"});
  const Written before = Snapshot();
  ExpectRefused(Push(Students(1)), 403, "ip-not-allowed", before);
  ASSERT_TRUE(RevokeAgentKey(*store_, prefix_, clock_).ok());
  NewKey({"127.0.0.0/8"});
  EXPECT_EQ(Push(Students(1)).status, 200);
}

TEST_P(IngestApiTest, WrongMethodIs405AndWrongContentTypeIs415) {
  const Written before = Snapshot();
  Send send = OneStudent();
  send.method = "PUT";
  const Reply wrong = Call(send);
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.content_type, "application/problem+json");
  EXPECT_EQ(wrong.headers.get("Allow", ""), "POST");
  EXPECT_EQ(Snapshot(), before);
  send.method = "POST";
  send.content_type = "text/plain";
  ExpectRefused(Call(send), 415, "unsupported-media-type", before);
}

TEST_P(IngestApiTest, BodyOverTheLimitIs413BeforeItIsRead) {
  IngestOptions options;
  options.max_body_bytes = 4096;
  Start(options);
  const Written before = Snapshot();
  // Only the headers go out: the answer must come without the body.
  const std::string answer = RawExchange(server_->port(), IngestHead(50000000));
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_NE(answer.find("application/problem+json"), std::string::npos);
  EXPECT_EQ(Snapshot(), before);
}

TEST_P(IngestApiTest, MalformedBodiesAre400WithTheirOwnType) {
  IngestOptions options;
  options.limits.max_records = 5;
  Start(options);
  const Written before = Snapshot();
  ExpectRefused(Push(Students(6)), 400, "too-many-records", before);
  json deep = json::parse(Students(1));
  deep["data"][0]["address"] = json::parse(R"({"a":{"b":{"c":{"d":{"e":{"f":1}}}}}})");
  ExpectRefused(Push(deep.dump()), 400, "json-too-deep", before);
  std::string duplicate = Students(1);
  duplicate.replace(duplicate.find("\"firstName\""), 11, "\"lastName\"");
  ExpectRefused(Push(duplicate), 400, "duplicate-json-key", before);
  std::string envelope_duplicate = Students(1);
  envelope_duplicate.insert(1, "\"cursor\":\"x\",");
  ExpectRefused(Push(envelope_duplicate), 400, "duplicate-json-key", before);
  std::string utf8 = Students(1);
  utf8.replace(utf8.find("Mario"), 5, "Ma\xff\xferio");
  ExpectRefused(Push(utf8), 400, "invalid-utf8", before);
  ExpectRefused(Push("{\"companyId\": "), 400, "malformed-json", before);
  ExpectRefused(Push("[1,2]"), 400, "invalid-body", before);
}

// Issue 14 §6: the 80,000-member record (11-17 s of CPU, inside the 8 MiB default body), a NUL
// that ended the parse, reserved members that were not strings, \u0000 in data.
TEST_P(IngestApiTest, HostileBodiesFoundByFuzzingAre400NamingThePlace) {
  Start();
  const Written before = Snapshot();
  json wide = json::parse(Students(1));
  for (int i = 0; i < 80'000; ++i) wide["data"][0]["x" + std::to_string(i)] = 1;
  const Reply too_wide = Push(wide.dump());
  ExpectRefused(too_wide, 400, "too-many-fields", before);
  EXPECT_NE(too_wide.body.find("data[0]: a record may have at most 1000 fields"), std::string::npos)
      << too_wide.body;
  ExpectRefused(Push(Students(1) + std::string("\0garbage", 8)), 400, "malformed-json", before);
  json list_company = json::parse(Students(1));
  list_company["data"][0]["companyId"] = json::array({"other"});
  ExpectRefused(Push(list_company.dump()), 400, "invalid-body", before);
  json object_entity = json::parse(Students(1));
  object_entity["data"][0]["entity"] = json{{"x", 1}};
  ExpectRefused(Push(object_entity.dump()), 400, "invalid-body", before);
  for (const char* member : {"externalId", "note"}) {
    json nul = json::parse(Students(1));
    nul["data"][0][member] = std::string(
        "7\0"
        "1",
        3);
    const Reply refused = Push(nul.dump());
    ExpectRefused(refused, 400, "invalid-body", before);
    EXPECT_NE(refused.body.find(std::string("data[0].") + member + ": NUL"), std::string::npos)
        << refused.body;
  }
  json control = json::parse(Students(1));
  control["data"][0]["externalId"] = "S1\x1b[2J";
  ExpectRefused(Push(control.dump()), 400, "invalid-body", before);
}

// Issue 14 §1: an entity of 30,000 digits is a rejection whose reason (and run log line) is
// short, not a crash.
TEST_P(IngestApiTest, AHugeUnknownEntityIsARejectionWithAShortReason) {
  json body = json::parse(Students(1));
  body["data"][0]["entity"] = std::string(30'000, '7');
  const Reply reply = Push(body.dump());
  ASSERT_EQ(reply.status, 200) << reply.body.substr(0, 500);
  const json answer = json::parse(reply.body);
  ASSERT_EQ(answer["records"][0]["outcome"], "rejected");
  const std::string reason = answer["records"][0]["reason"].get<std::string>();
  EXPECT_LT(reason.size(), 300u) << reason;
  EXPECT_NE(reason.find("unknown entity"), std::string::npos) << reason;
  EXPECT_LT(answer["records"][0]["entity"].get<std::string>().size(), 300u);
  EXPECT_LT(reply.body.size(), 2000u);
  EXPECT_LT(Count("SELECT MAX(LENGTH(message)) FROM integration_run_logs"), 600);
  EXPECT_LT(Count("SELECT MAX(LENGTH(reason)) FROM integration_dead_letters"), 600);
}

TEST_P(IngestApiTest, RateLimitIs429WithRetryAfterPerKey) {
  ASSERT_TRUE(RevokeAgentKey(*store_, prefix_, clock_).ok());
  NewKey({}, 1.0, 2);
  Start();
  const Written before = Snapshot();
  Send cursor;
  cursor.method = "GET";
  cursor.path = "/api/hub/cursor";
  EXPECT_EQ(Call(cursor).status, 200);
  EXPECT_EQ(Call(cursor).status, 200);
  const Written after_two = Snapshot();
  const Reply limited = Push(Students(1));
  ExpectRefused(limited, 429, "rate-limited", after_two);
  EXPECT_EQ(limited.headers.get("Retry-After", ""), "1");
  (void)before;
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Push(Students(1)).status, 200);
}

TEST_P(IngestApiTest, BodyThatStopsArrivingIs408AndWritesNothing) {
  http::ServerOptions server;
  server.read_timeout = std::chrono::milliseconds(300);
  server.body_timeout = std::chrono::milliseconds(300);
  Start({}, server);
  const Written before = Snapshot();
  const std::string answer = RawExchange(server_->port(), IngestHead(1000) + "{\"companyId\"");
  EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
  EXPECT_EQ(Snapshot(), before);
}

TEST_P(IngestApiTest, ServesHttpsWithAConfiguredCertificate) {
  const reglo::testing::TempDir temp("reglo-tls-");
  const std::filesystem::path& dir = temp.path();
  ASSERT_FALSE(dir.empty());
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  const auto made = reglo::testing::RunCommand(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
      " -out " + cert);
  ASSERT_EQ(made.exit_code, 0) << made.text;
  http::ServerOptions server;
  server.tls_certificate_file = cert;
  server.tls_private_key_file = key;
  Start({}, server);
  ASSERT_EQ(server_->url().rfind("https://", 0), 0u);
  const std::string body = Students(1);
  const int64_t ts =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "",
                                                           Poco::Net::Context::VERIFY_NONE);
  Poco::Net::HTTPSClientSession session("127.0.0.1", server_->port(), context);
  Poco::Net::HTTPRequest request("POST", "/api/hub/ingest", Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Authorization", "Bearer " + api_key_);
  request.set("webhook-id", "tls-1");
  request.set("webhook-timestamp", std::to_string(ts));
  request.set("webhook-signature", *security::SignWebhook(secret_, "tls-1", ts, body));
  request.setContentType("application/json");
  request.setContentLength64(static_cast<Poco::Int64>(body.size()));
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  std::ostringstream text;
  text << session.receiveResponse(response).rdbuf();
  EXPECT_EQ(response.getStatus(), 200) << text.str();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM students"), 1);
}

TEST_P(IngestApiTest, CountersPerKeyForTheAdminPort) {
  ASSERT_EQ(Push(Students(3)).status, 200);
  Send send = OneStudent();
  send.signature = "v1,AAAA";
  EXPECT_EQ(Call(send).status, 401);
  const std::vector<KeyStats> stats = service_->stats().Snapshot();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].prefix, prefix_);
  EXPECT_EQ(stats[0].records_accepted, 3);
  EXPECT_EQ(stats[0].requests_by_status.at(200), 1);
  EXPECT_EQ(stats[0].requests_by_status.at(401), 1);
  EXPECT_EQ(stats[0].refused_by_reason.at("invalid-signature"), 1);
  EXPECT_FALSE(stats[0].last_push_at.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, IngestApiTest, ::testing::ValuesIn(IngestBackends()),
                         storage::testing::BackendName);

}  // namespace
}  // namespace reglo::ingest
