// End-to-end tests of the built `http` plugin through the C ABI, against a school API served by
// the test itself (Poco's HTTPServer on 127.0.0.1, port 0): every pagination kind, every auth kind,
// 429 / 5xx / 401 faults, a connection dropped mid-page, malformed JSON; and the conformance kit
// (reglo-connector-check, in-process and in a runner process) against the same server.
#include <Poco/Base64Decoder.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "kill_resume.h"
#include "plugin_harness.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo::http {
namespace {

using nlohmann::json;
using testing::Host;
using testing::Plugin;

// A certificate and its key (PEM files) for the API to serve HTTPS with.
struct TlsFiles {
  std::string certificate;
  std::string private_key;
};

// The school API: `count` students, student i updated at 2024-03-01T10:00:00Z + i minutes (ids
// 1..5 share one time). Paths choose the pagination; faults are armed per test. Plain HTTP, or
// HTTPS with `tls`.
class SchoolApi {
 public:
  explicit SchoolApi(int count, const TlsFiles* tls = nullptr) : count_(count), https_(tls) {
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    const Poco::Net::SocketAddress loopback("127.0.0.1", 0);
    if (tls != nullptr) {
      Poco::Net::Context::Ptr context =
          new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, tls->private_key,
                                 tls->certificate, "", Poco::Net::Context::VERIFY_NONE);
      server_ = std::make_unique<Poco::Net::HTTPServer>(
          new Factory(*this), Poco::Net::SecureServerSocket(loopback, 64, context), params);
    } else {
      server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this),
                                                        Poco::Net::ServerSocket(loopback), params);
    }
    server_->start();
  }
  ~SchoolApi() { server_->stopAll(true); }

  std::string base() const {
    return (https_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(server_->port());
  }

  // What the next request is answered with instead of data (once): a status, or a malformed
  // or cut body.
  enum class Fault { kNone, kStatus, kNotJson, kDrop, kNoRecords };
  void Arm(Fault fault, int status = 0, std::string retry_after = "") {
    std::lock_guard lock(mu_);
    fault_ = fault, fault_status_ = status, retry_after_ = std::move(retry_after);
  }
  void SetRequiredAuthorization(std::string header, std::string value) {
    std::lock_guard lock(mu_);
    auth_header_ = std::move(header), auth_value_ = std::move(value);
  }
  void RequireOAuth() {
    std::lock_guard lock(mu_);
    oauth_ = true;
  }
  void RevokeTokens() {
    std::lock_guard lock(mu_);
    current_token_ = "revoked";
  }
  int token_requests() const { return token_requests_; }
  int requests() const { return requests_; }
  void Touch(int id, int minutes) {
    std::lock_guard lock(mu_);
    touched_[id] = minutes;
  }

  static std::string UpdatedAt(int minutes) {
    char text[32];
    std::snprintf(text, sizeof text, "2024-03-01T%02d:%02d:00Z", 10 + minutes / 60, minutes % 60);
    return text;
  }

 private:
  int Minutes(int id) const {
    auto it = touched_.find(id);
    return it != touched_.end() ? it->second : (id <= 5 ? 0 : id);
  }

  void Handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    std::lock_guard lock(mu_);
    ++requests_;
    Poco::URI uri(request.getURI());
    std::map<std::string, std::string> query;
    for (const auto& [k, v] : uri.getQueryParameters()) query[k] = v;
    auto send = [&](int status, const std::string& body) {
      response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
      response.setContentType("application/json");
      response.setContentLength(static_cast<std::streamsize>(body.size()));
      response.send() << body;
    };
    if (uri.getPath() == "/oauth/token") {
      ++token_requests_;
      Poco::Net::HTMLForm form(request, request.stream());
      if (form.get("client_id", "") != "reglo" || form.get("client_secret", "") != "s3cret") {
        return send(401, R"({"error":"invalid_client"})");
      }
      current_token_ = "token-" + std::to_string(token_requests_);
      return send(200, json{{"access_token", current_token_}, {"expires_in", 3600}}.dump());
    }
    if (oauth_ && request.get("Authorization", "") != "Bearer " + current_token_) {
      return send(401, R"({"error":"invalid_token"})");
    }
    if (!auth_header_.empty() && request.get(auth_header_, "") != auth_value_) {
      return send(401, R"({"error":"unauthorized"})");
    }
    if (fault_ != Fault::kNone) {
      Fault fault = fault_;
      fault_ = Fault::kNone;
      if (fault == Fault::kStatus) {
        if (!retry_after_.empty()) response.set("Retry-After", retry_after_);
        return send(fault_status_, R"({"error":"fault"})");
      }
      if (fault == Fault::kNotJson) return send(200, "<html>maintenance</html>");
      if (fault == Fault::kNoRecords) return send(200, R"({"items":[]})");
      // A page cut short: 1000 bytes announced, 20 sent, connection closed.
      response.setKeepAlive(false);
      response.setContentLength(1000);
      response.setContentType("application/json");
      response.send() << R"({"data":[{"id":1,"na)";
      return;
    }
    // The students changed after `updated_since`, in (updated, id) order.
    std::vector<json> students;
    const std::string since = query.count("updated_since") ? query["updated_since"] : "";
    for (int id = 1; id <= count_; ++id) {
      const std::string at = UpdatedAt(Minutes(id));
      if (!since.empty() && at <= since) continue;
      students.push_back({{"id", id},
                          {"name", {{"first", "Nome" + std::to_string(id)}, {"last", "Rossi"}}},
                          {"born", "05/03/2001"},
                          {"status", "ATTIVO"},
                          {"updated", at}});
    }
    std::stable_sort(students.begin(), students.end(), [](const json& a, const json& b) {
      return a["updated"].get<std::string>() < b["updated"].get<std::string>();
    });
    auto slice = [&](size_t from, size_t n) {
      json out = json::array();
      for (size_t i = from; i < students.size() && i < from + n; ++i) out.push_back(students[i]);
      return out;
    };
    const size_t size = 4;
    const std::string path = uri.getPath();
    if (path == "/pages") {  // ?page=1.. &per_page=
      const size_t page = std::stoul(query["page"]);
      const size_t per = std::stoul(query["per_page"]);
      return send(200, json{{"data", slice((page - 1) * per, per)}}.dump());
    }
    if (path == "/offset") {
      return send(
          200,
          json{{"data", slice(std::stoul(query["offset"]), std::stoul(query["limit"]))}}.dump());
    }
    if (path == "/token") {  // opaque tokens: "t<offset>"
      const size_t from = query.count("page_token") ? std::stoul(query["page_token"].substr(1)) : 0;
      json body = {{"data", slice(from, size)}};
      if (from + size < students.size()) body["meta"]["next"] = "t" + std::to_string(from + size);
      return send(200, body.dump());
    }
    if (path == "/nexturl") {
      const size_t from = query.count("from") ? std::stoul(query["from"]) : 0;
      json body = {{"data", slice(from, size)}};
      if (from + size < students.size()) {
        body["links"]["next"] = "/nexturl?from=" + std::to_string(from + size) +
                                (since.empty() ? "" : "&updated_since=" + since);
      }
      return send(200, body.dump());
    }
    if (path == "/link") {  // the records are the body itself
      const size_t from = query.count("from") ? std::stoul(query["from"]) : 0;
      if (from + size < students.size()) {
        response.set("Link", "<" + base() + "/link?from=" + std::to_string(from + size) +
                                 (since.empty() ? "" : "&updated_since=" + since) +
                                 ">; rel=\"next\", <" + base() + "/link?from=0>; rel=\"first\"");
      }
      return send(200, slice(from, size).dump());
    }
    return send(404, R"({"error":"not found"})");
  }

  struct Handler final : Poco::Net::HTTPRequestHandler {
    explicit Handler(SchoolApi& api) : api(api) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      api.Handle(request, response);
    }
    SchoolApi& api;
  };
  struct Factory final : Poco::Net::HTTPRequestHandlerFactory {
    explicit Factory(SchoolApi& api) : api(api) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(api);
    }
    SchoolApi& api;
  };

  int count_;
  bool https_;
  std::mutex mu_;
  Fault fault_ = Fault::kNone;
  int fault_status_ = 0;
  std::string retry_after_;
  std::string auth_header_, auth_value_;
  bool oauth_ = false;
  std::string current_token_;
  std::atomic<int> token_requests_{0};
  std::atomic<int> requests_{0};
  std::map<int, int> touched_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

json Entity(const std::string& path, json pagination, const std::string& records = "/data") {
  return {{"path", path},
          {"query", {{"updated_since", "{since}"}}},
          {"pagination", std::move(pagination)},
          {"records_pointer", records},
          {"id_pointer", "/id"},
          {"updated_at_pointer", "/updated"},
          {"columns",
           {{"/name/first", "firstName"}, {"/name/last", "lastName"}, {"/born", "birthDate"}}},
          {"formats", {{"birthDate", "dd/mm/yyyy"}}},
          {"values", {{"/status", {{"attivo", "active"}}}}}};
}

json Config(const SchoolApi& api, json entity) {
  return {{"base_url", api.base()},
          {"timeout_seconds", 5},
          {"entities", {{"student", std::move(entity)}}}};
}

std::vector<std::string> Range(int from, int to) {
  std::vector<std::string> ids;
  for (int i = from; i <= to; ++i) ids.push_back(std::to_string(i));
  return ids;
}

class HttpConnectorTest : public ::testing::Test {
 protected:
  SchoolApi api_{10};
  Plugin plugin_{REGLO_HTTP_PLUGIN_PATH};
};

// Every pagination kind reads all 10 students once, one checkpoint per page; resuming from any
// intermediate checkpoint gives exactly the rest.
TEST_F(HttpConnectorTest, EveryPaginationKindReadsEveryRecordOnceAndResumesAtThePageAfter) {
  const std::vector<std::pair<std::string, json>> kinds = {
      {"page_number",
       Entity("/pages", {{"type", "page_number"}, {"size_param", "per_page"}, {"size", 4}})},
      {"offset", Entity("/offset", {{"type", "offset"}, {"size", 4}})},
      {"next_token", Entity("/token", {{"type", "next_token"}, {"token_pointer", "/meta/next"}})},
      {"next_url", Entity("/nexturl", {{"type", "next_url"}, {"url_pointer", "/links/next"}})},
      {"link_header", Entity("/link", {{"type", "link_header"}}, "")},
  };
  for (const auto& [kind, entity] : kinds) {
    SCOPED_TRACE(kind);
    void* instance = plugin_.Create(Config(api_, entity));
    ASSERT_NE(instance, nullptr);
    Host host;
    ASSERT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_OK) << host.error;
    EXPECT_EQ(host.Ids(), Range(1, 10));
    ASSERT_GE(host.checkpoints.size(), 3u);
    for (size_t c = 0; c + 1 < host.checkpoints.size(); ++c) {
      Host resumed;
      ASSERT_EQ(plugin_.Pull(instance, "student", host.checkpoints[c].first, resumed), REGLO_OK)
          << resumed.error;
      EXPECT_EQ(resumed.Ids(), Range(static_cast<int>(4 * (c + 1) + 1), 10)) << "checkpoint " << c;
    }
    // The final cursor asks only for what changed after the newest updated-at seen.
    Host again;
    ASSERT_EQ(plugin_.Pull(instance, "student", host.FinalCursor(), again), REGLO_OK);
    EXPECT_TRUE(again.records.empty());
  }
}

TEST_F(HttpConnectorTest, RecordsAreMappedWithTheSharedMapping) {
  void* instance =
      plugin_.Create(Config(api_, Entity("/offset", {{"type", "offset"}, {"size", 4}})));
  Host host;
  ASSERT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_OK);
  const testing::CapturedRecord& first = host.records[0];
  EXPECT_EQ(first.external_id, "1");
  EXPECT_EQ(first.updated_at, "2024-03-01T10:00:00Z");
  EXPECT_EQ(first.Get("/name/first"), "Nome1");
  std::vector<testing::CapturedRecord> mapped = plugin_.Map(instance, first);
  ASSERT_EQ(mapped.size(), 1u);
  EXPECT_EQ(mapped[0].Get("firstName"), "Nome1");
  EXPECT_EQ(mapped[0].Get("birthDate"), "2001-03-05");
  EXPECT_EQ(mapped[0].Get("/status"), "active");
  EXPECT_FALSE(mapped[0].Has("/id"));
}

TEST_F(HttpConnectorTest, ChangesAfterTheFinalCursorAreFoundAndTheLookBackRereadsLateWrites) {
  json config = Config(api_, Entity("/offset", {{"type", "offset"}, {"size", 4}}));
  void* instance = plugin_.Create(config);
  Host first;
  ASSERT_EQ(plugin_.Pull(instance, "student", "", first), REGLO_OK);
  api_.Touch(3, 30);
  Host second;
  ASSERT_EQ(plugin_.Pull(instance, "student", first.FinalCursor(), second), REGLO_OK);
  EXPECT_EQ(second.Ids(), std::vector<std::string>{"3"});

  // With a look-back the final cursor is the newest updated-at seen (10:30) minus 25 minutes, so
  // the next pull reads again what changed since 10:05: students 6..10 and 3.
  config["look_back_seconds"] = 25 * 60;
  void* late = plugin_.Create(config);
  Host full;
  ASSERT_EQ(plugin_.Pull(late, "student", "", full), REGLO_OK);
  EXPECT_NE(full.FinalCursor().find("2024-03-01T10:05:00Z"), std::string::npos)
      << full.FinalCursor();
  Host third;
  ASSERT_EQ(plugin_.Pull(late, "student", full.FinalCursor(), third), REGLO_OK);
  EXPECT_EQ(third.Ids(), (std::vector<std::string>{"6", "7", "8", "9", "10", "3"}));
}

TEST_F(HttpConnectorTest, EachAuthKindIsSent) {
  const json entity = Entity("/offset", {{"type", "offset"}, {"size", 4}});
  struct Case {
    json auth;
    std::string header, value;
  };
  const std::vector<Case> cases = {
      {{{"type", "api_key"}, {"header", "X-Api-Key"}, {"key", "k-123"}}, "X-Api-Key", "k-123"},
      {{{"type", "bearer"}, {"token", "b-456"}}, "Authorization", "Bearer b-456"},
      {{{"type", "basic"}, {"username", "scuola"}, {"password", "pa:ss"}},
       "Authorization",
       "Basic c2N1b2xhOnBhOnNz"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.auth.dump());
    api_.SetRequiredAuthorization(c.header, c.value);
    json config = Config(api_, entity);
    config["auth"] = c.auth;
    Host host;
    ASSERT_EQ(plugin_.Pull(plugin_.Create(config), "student", "", host), REGLO_OK) << host.error;
    EXPECT_EQ(host.records.size(), 10u);
    config["auth"][c.auth.contains("key")     ? "key"
                   : c.auth.contains("token") ? "token"
                                              : "password"] = "wrong";
    Host refused;
    EXPECT_EQ(plugin_.Pull(plugin_.Create(config), "student", "", refused), REGLO_AUTH_ERROR);
    EXPECT_NE(refused.error.find("HTTP 401"), std::string::npos);
    EXPECT_EQ(refused.error.find("wrong"), std::string::npos);  // the secret is not in messages
  }
}

TEST_F(HttpConnectorTest, OAuth2ClientCredentialsFetchesATokenAndRefreshesItWhenRefused) {
  api_.RequireOAuth();
  json config = Config(api_, Entity("/offset", {{"type", "offset"}, {"size", 4}}));
  config["auth"] = {{"type", "oauth2_client_credentials"},
                    {"token_url", api_.base() + "/oauth/token"},
                    {"client_id", "reglo"},
                    {"client_secret", "s3cret"}};
  void* instance = plugin_.Create(config);
  Host host;
  ASSERT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_OK) << host.error;
  EXPECT_EQ(host.records.size(), 10u);
  EXPECT_EQ(api_.token_requests(), 1);  // one token for every page
  api_.RevokeTokens();
  Host again;
  ASSERT_EQ(plugin_.Pull(instance, "student", "", again), REGLO_OK) << again.error;
  EXPECT_EQ(api_.token_requests(), 2);

  config["auth"]["client_secret"] = "wrong";
  Host refused;
  EXPECT_EQ(plugin_.Pull(plugin_.Create(config), "student", "", refused), REGLO_AUTH_ERROR);
  EXPECT_EQ(refused.error.find("wrong"), std::string::npos);
}

TEST_F(HttpConnectorTest, FaultsMapToTheirCategoriesAndNeverMoveTheCursor) {
  void* instance =
      plugin_.Create(Config(api_, Entity("/offset", {{"type", "offset"}, {"size", 4}})));
  struct Case {
    SchoolApi::Fault fault;
    int status;
    std::string retry_after;
    reglo_status expected;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {SchoolApi::Fault::kStatus, 429, "7", REGLO_RATE_LIMITED, "HTTP 429"},
      {SchoolApi::Fault::kStatus, 503, "", REGLO_RETRY, "HTTP 503"},
      {SchoolApi::Fault::kStatus, 500, "", REGLO_RETRY, "HTTP 500"},
      {SchoolApi::Fault::kStatus, 401, "", REGLO_AUTH_ERROR, "HTTP 401"},
      {SchoolApi::Fault::kStatus, 403, "", REGLO_AUTH_ERROR, "HTTP 403"},
      {SchoolApi::Fault::kDrop, 0, "", REGLO_RETRY, "connection closed"},
      {SchoolApi::Fault::kNotJson, 0, "", REGLO_FATAL, "is not JSON"},
      {SchoolApi::Fault::kNoRecords, 0, "", REGLO_FATAL, "no records array at '/data'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fragment);
    // The first page is fine; the fault hits the second.
    Host first;
    first.stop_after = 4;
    ASSERT_EQ(plugin_.Pull(instance, "student", "", first), REGLO_RETRY);
    ASSERT_EQ(first.checkpoints.size(), 1u);
    api_.Arm(c.fault, c.status, c.retry_after);
    Host host;
    EXPECT_EQ(plugin_.Pull(instance, "student", first.checkpoints[0].first, host), c.expected);
    EXPECT_NE(host.error.find(c.fragment), std::string::npos) << host.error;
    EXPECT_TRUE(host.checkpoints.empty());
    if (c.status == 429) {
      EXPECT_EQ(host.retry_after_ms, 7000u);
    }
    // Messages name the URL without its query string.
    EXPECT_EQ(host.error.find("updated_since"), std::string::npos) << host.error;
    EXPECT_EQ(host.error.find("offset="), std::string::npos) << host.error;
  }
}

TEST_F(HttpConnectorTest, AServerThatIsDownIsRetried) {
  json config = Config(api_, Entity("/offset", {{"type", "offset"}}));
  config["base_url"] = "http://127.0.0.1:1";
  Host host;
  EXPECT_EQ(plugin_.Pull(plugin_.Create(config), "student", "", host), REGLO_RETRY);
}

// HTTPS: a server whose certificate the system does not know is trusted through tls.ca_file,
// refused without it (a config error naming tls.ca_file: retrying cannot help), and read with
// verification switched off.
TEST(HttpConnectorTls, ACertificateIsTrustedThroughCaFileAndRefusedWithoutIt) {
  testing::TempDir dir;
  const std::string certificate = (dir.path() / "server.pem").string();
  const std::string key = (dir.path() / "server.key").string();
  const auto made = testing::RunCommand(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + certificate + " 2>&1");
  ASSERT_EQ(made.exit_code, 0) << made.text;
  const TlsFiles files{certificate, key};
  SchoolApi api(3, &files);
  Plugin plugin{REGLO_HTTP_PLUGIN_PATH};
  json config = Config(api, Entity("/offset", {{"type", "offset"}, {"size", 2}}));
  ASSERT_EQ(config["base_url"].get<std::string>().rfind("https://", 0), 0u);

  config["tls"] = {{"ca_file", certificate}};
  Host trusted;
  ASSERT_EQ(plugin.Pull(plugin.Create(config), "student", "", trusted), REGLO_OK) << trusted.error;
  EXPECT_EQ(trusted.Ids(), Range(1, 3));

  config.erase("tls");  // the system's CAs only
  Host refused;
  EXPECT_EQ(plugin.Pull(plugin.Create(config), "student", "", refused), REGLO_CONFIG_ERROR);
  EXPECT_NE(refused.error.find("not trusted"), std::string::npos) << refused.error;
  EXPECT_NE(refused.error.find("tls.ca_file"), std::string::npos) << refused.error;
  EXPECT_TRUE(refused.records.empty());

  config["tls"] = {{"verify", false}};
  Host unverified;
  ASSERT_EQ(plugin.Pull(plugin.Create(config), "student", "", unverified), REGLO_OK)
      << unverified.error;
  EXPECT_EQ(unverified.Ids(), Range(1, 3));
}

TEST_F(HttpConnectorTest, ANextUrlToAnotherServerIsRefused) {
  json config =
      Config(api_, Entity("/nexturl", {{"type", "next_url"}, {"url_pointer", "/links/next"}}));
  void* instance = plugin_.Create(config);
  Host host;
  const std::string cursor =
      json{{"v", 1}, {"since", ""}, {"newest", ""}, {"next", "http://evil.example/steal"}}.dump();
  EXPECT_EQ(plugin_.Pull(instance, "student", cursor, host), REGLO_FATAL);
  EXPECT_NE(host.error.find("another server"), std::string::npos);
  EXPECT_EQ(api_.requests(), 0);
}

TEST_F(HttpConnectorTest, ConfigErrorsNameTheKeyAndTheSchemaMarksSecrets) {
  auto error_of = [&](const json& config) { return plugin_.ConfigError(config); };

  const json good = Config(api_, Entity("/offset", {{"type", "offset"}}));
  json config = good;
  config.erase("base_url");
  EXPECT_EQ(error_of(config).rfind("base_url: required", 0), 0u);
  config = good;
  config["base_url"] = "ftp://x";
  EXPECT_EQ(error_of(config).rfind("base_url:", 0), 0u);
  config = good;
  config["entities"]["student"]["pagination"] = {{"type", "cursor"}};
  EXPECT_EQ(error_of(config).rfind("entities.student.pagination.type:", 0), 0u);
  config = good;
  config["entities"]["student"]["pagination"] = {{"type", "next_token"}};
  EXPECT_EQ(error_of(config).rfind("entities.student.pagination.token_pointer: required", 0), 0u);
  config = good;
  config["entities"]["student"]["id_pointer"] = "id";
  EXPECT_EQ(error_of(config).rfind("entities.student.id_pointer:", 0), 0u);
  config = good;
  config["auth"] = {{"type", "bearer"}};
  EXPECT_EQ(error_of(config).rfind("auth.token: required", 0), 0u);
  config = good;
  config["entities"]["student"]["formats"] = {{"birthDate", "qq"}};
  EXPECT_EQ(error_of(config).rfind("entities.student.formats.birthDate:", 0), 0u);

  const json schema = json::parse(plugin_.descriptor()->config_schema_json);
  EXPECT_EQ(schema["properties"]["auth"]["properties"]["key"]["x-reglo-secret"], true);
  EXPECT_EQ(schema["properties"]["auth"]["properties"]["token"]["x-reglo-secret"], true);
  EXPECT_EQ(schema["properties"]["auth"]["properties"]["password"]["x-reglo-secret"], true);
  EXPECT_EQ(schema["properties"]["auth"]["properties"]["client_secret"]["x-reglo-secret"], true);
}

// `reglo-hub sync --once` killed with SIGKILL mid-pull, then run again: every record stored once,
// no event twice.
TEST(HttpConnectorKill, KilledMidPullTheNextSyncResumesWithEveryRecordOnceAndNoEventTwice) {
  SchoolApi api(6000);
  testing::KillMidPullThenResume(
      "http", Config(api, Entity("/offset", {{"type", "offset"}, {"size", 50}})), 6000);
}

// The conformance kit, in-process and in a runner, against this test's server.
TEST(HttpConnectorCheck, PassesTheConformanceKitInProcessAndInARunner) {
  SchoolApi api(37);
  testing::TempDir dir;
  json config =
      Config(api, Entity("/token", {{"type", "next_token"}, {"token_pointer", "/meta/next"}}));
  config["auth"] = {{"type", "api_key"}, {"key", "kit"}};
  api.SetRequiredAuthorization("X-API-Key", "kit");
  const std::string path = dir.Write("check.json", config.dump());
  for (const std::string mode : {"in_process", "process"}) {
    testing::CommandOutput out =
        testing::RunCommand(std::string(REGLO_CONNECTOR_CHECK_BINARY) + " " +
                            REGLO_HTTP_PLUGIN_PATH + " --config " + path + " --isolation " + mode);
    EXPECT_EQ(out.exit_code, 0) << out.text;
    EXPECT_NE(out.text.find("0 failed"), std::string::npos) << out.text;
  }
}

}  // namespace
}  // namespace reglo::http
