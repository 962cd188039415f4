#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "http_client.h"
#include "reglo/http/server.h"

namespace reglo::http {
namespace {

using Reply = reglo::testing::HttpReply;

Reply Call(uint16_t port, const std::string& method, const std::string& uri,
           const std::string& body = "") {
  Poco::Net::HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
  return reglo::testing::SendHttp(port, request, body);
}

using reglo::testing::RawExchange;
class HttpServerTest : public ::testing::Test {
 protected:
  void StartWith(std::shared_ptr<Router> router, ServerOptions options = {}) {
    Result<std::unique_ptr<Server>> started = Server::Start(options, std::move(router));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
    ASSERT_NE(server_->port(), 0);
  }
  // A server whose one route, POST /upload, answers 204 to whatever it is let through.
  void StartUpload(RouteOptions route = {}, ServerOptions options = {}) {
    auto router = std::make_shared<Router>();
    router->Add(
        "POST", "/upload", [](const Request&) { return Response::NoContent(); }, route);
    StartWith(router, options);
  }
  std::unique_ptr<Server> server_;
};

TEST_F(HttpServerTest, RoutesWithPathParametersAndDecodedQuery) {
  auto router = std::make_shared<Router>();
  router->Add("GET", "/api/sources/{id}/runs", [](const Request& request) {
    return Response::Json(200, "{\"id\":\"" + *request.Param("id") + "\",\"q\":\"" +
                                   request.Query("q").value_or("") + "\"}");
  });
  router->Add("GET", "/console/{*file}", [](const Request& request) {
    return Response::Text(200, "text/plain", *request.Param("file"));
  });
  StartWith(router);
  Reply runs = Call(server_->port(), "GET", "/api/sources/rossi%2D1/runs?q=mario+rossi&x");
  EXPECT_EQ(runs.status, 200);
  EXPECT_EQ(runs.body, "{\"id\":\"rossi-1\",\"q\":\"mario rossi\"}");
  EXPECT_EQ(Call(server_->port(), "GET", "/console/js/app.js").body, "js/app.js");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto router = std::make_shared<Router>();
  router->Add("GET", "/things", [](const Request&) { return Response::Json(200, "[]"); });
  router->Add("DELETE", "/things", [](const Request&) { return Response::NoContent(); });
  StartWith(router);
  Reply missing = Call(server_->port(), "GET", "/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/problem+json");
  EXPECT_NE(missing.body.find("\"status\":404"), std::string::npos);
  Reply wrong = Call(server_->port(), "POST", "/things", "{}");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers.get("Allow", ""), "GET, DELETE");
  EXPECT_EQ(Call(server_->port(), "DELETE", "/things").status, 204);
}

TEST_F(HttpServerTest, HeaderCheckAnswersBeforeTheBodyIsRead) {
  auto router = std::make_shared<Router>();
  bool handled = false;
  RouteOptions options;
  options.before_body = [](const Request& request) -> std::optional<Response> {
    if (request.Header("authorization") != "Bearer good") {
      return Problem(401, "Unauthorized", "a valid token is required");
    }
    return std::nullopt;
  };
  router->Add(
      "POST", "/guarded",
      [&handled](const Request& request) {
        handled = true;
        return Response::Json(200, request.body);
      },
      options);
  StartWith(router);
  Reply refused = Call(server_->port(), "POST", "/guarded", "{\"a\":1}");
  EXPECT_EQ(refused.status, 401);
  EXPECT_FALSE(handled);

  Poco::Net::HTTPRequest request("POST", "/guarded", Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Authorization", "Bearer good");
  Reply accepted = reglo::testing::SendHttp(server_->port(), request, "{\"a\":1}");
  EXPECT_EQ(accepted.status, 200);
  EXPECT_EQ(accepted.body, "{\"a\":1}");
  EXPECT_TRUE(handled);
}

TEST_F(HttpServerTest, GuardRunsBeforeTheLookupSoRefusalsHideWhatExists) {
  auto router = std::make_shared<Router>();
  router->Add("GET", "/open", [](const Request&) { return Response::Json(200, "{}"); });
  router->Add("GET", "/private", [](const Request&) { return Response::Json(200, "{}"); });
  router->SetGuard([](const Request& request) -> std::optional<Response> {
    if (request.path == "/open" || request.Header("authorization") == "Bearer good") {
      return std::nullopt;
    }
    return Problem(401, "Unauthorized", "a valid token is required");
  });
  StartWith(router);
  EXPECT_EQ(Call(server_->port(), "GET", "/open").status, 200);
  // Without the token a known path, a wrong method and an unknown path all look the same.
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/private"}, {"DELETE", "/private"}, {"GET", "/nothing-here"}}) {
    Reply reply = Call(server_->port(), method, path);
    EXPECT_EQ(reply.status, 401) << method << " " << path;
    EXPECT_EQ(reply.content_type, "application/problem+json");
    EXPECT_EQ(reply.headers.get("Allow", ""), "");
  }
  Poco::Net::HTTPRequest request("GET", "/nothing-here", Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Authorization", "Bearer good");
  EXPECT_EQ(reglo::testing::SendHttp(server_->port(), request).status, 404);
}

TEST_F(HttpServerTest, HeaderCheckHandsItsContextToTheHandler) {
  auto router = std::make_shared<Router>();
  RouteOptions options;
  options.before_body = [](Request& request) -> std::optional<Response> {
    request.context = std::string("caller-42");
    return std::nullopt;
  };
  router->Add(
      "POST", "/whoami",
      [](const Request& request) {
        const auto* caller = std::any_cast<std::string>(&request.context);
        return Response::Text(200, "text/plain", caller ? *caller : "none");
      },
      options);
  router->Add("GET", "/plain", [](const Request& request) {
    return Response::Text(200, "text/plain", request.context.has_value() ? "set" : "empty");
  });
  StartWith(router);
  EXPECT_EQ(Call(server_->port(), "POST", "/whoami", "{}").body, "caller-42");
  EXPECT_EQ(Call(server_->port(), "GET", "/plain").body, "empty");
}

TEST_F(HttpServerTest, HeadersThatStopArrivingCloseTheConnectionWithoutAHandler) {
  auto router = std::make_shared<Router>();
  std::atomic<bool> handled{false};
  router->Add("POST", "/upload", [&handled](const Request&) {
    handled = true;
    return Response::NoContent();
  });
  ServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  StartWith(router, options);
  // Half a request line and headers, then silence: the server's read timeout ends it.
  const std::string answer =
      RawExchange(server_->port(), "POST /upload HTTP/1.1\r\nHost: x\r\nCont");
  EXPECT_EQ(answer.find("HTTP/1.1 2"), std::string::npos) << answer;
  EXPECT_FALSE(handled.load());
}

TEST_F(HttpServerTest, DeclaredBodyOverTheLimitIs413WithoutSendingIt) {
  RouteOptions route;
  route.max_body_bytes = 1000;
  StartUpload(route);
  // Only the headers are sent: the answer must come without the server waiting for the body.
  const std::string answer = RawExchange(
      server_->port(), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_NE(answer.find("application/problem+json"), std::string::npos);
}

TEST_F(HttpServerTest, ChunkedBodyOverTheLimitIs413) {
  RouteOptions route;
  route.max_body_bytes = 10;
  StartUpload(route);
  const std::string answer =
      RawExchange(server_->port(),
                  "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "14\r\n01234567890123456789\r\n0\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
}

TEST_F(HttpServerTest, BodyThatStopsArrivingIs408) {
  ServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  options.body_timeout = std::chrono::milliseconds(200);
  StartUpload({}, options);
  // 100 bytes announced, 5 sent, then silence: the server's read timeout decides, not the test.
  const std::string answer = RawExchange(
      server_->port(), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello");
  EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500ProblemWithoutDetails) {
  auto router = std::make_shared<Router>();
  router->Add("GET", "/boom", [](const Request&) -> Response {
    throw std::runtime_error("secret internal state RSSMRA80A01H501U");
  });
  StartWith(router);
  Reply reply = Call(server_->port(), "GET", "/boom");
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.content_type, "application/problem+json");
  EXPECT_EQ(reply.body.find("RSSMRA"), std::string::npos);
}

TEST_F(HttpServerTest, StopIsIdempotentAndFreesThePort) {
  auto router = std::make_shared<Router>();
  StartWith(router);
  const uint16_t port = server_->port();
  server_->Stop();
  server_->Stop();
  ServerOptions again;
  again.port = port;
  Result<std::unique_ptr<Server>> restarted = Server::Start(again, router);
  EXPECT_TRUE(restarted.ok()) << restarted.status().ToString();
}

TEST(HttpServerStart, PortInUseNamesTheAddress) {
  auto router = std::make_shared<Router>();
  Result<std::unique_ptr<Server>> first = Server::Start({}, router);
  ASSERT_TRUE(first.ok());
  ServerOptions same;
  same.name = "admin";
  same.port = first.value()->port();
  Result<std::unique_ptr<Server>> second = Server::Start(same, router);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("admin listener: cannot listen on 127.0.0.1:"),
            std::string::npos)
      << second.status().message();
}

TEST(HttpServerStart, TlsNeedsCertificateAndKey) {
  ServerOptions options;
  options.tls_certificate_file = "/nonexistent/cert.pem";
  Result<std::unique_ptr<Server>> started = Server::Start(options, std::make_shared<Router>());
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kConfigError);
}

TEST(HttpMessage, ProblemJsonShape) {
  Response problem =
      Problem(422, "Unprocessable Content", "same id, other body", "replay-mismatch");
  EXPECT_EQ(problem.content_type, "application/problem+json");
  EXPECT_EQ(problem.body,
            "{\"type\":\"https://reglo.it/problems/replay-mismatch\",\"title\":\"Unprocessable "
            "Content\",\"status\":422,\"detail\":\"same id, other body\"}");
}

TEST(HttpMessage, QueryAndPercentDecoding) {
  auto query = ParseQuery("a=1&b=x%20y&c=d+e&&empty=&flag&bad=%zz");
  EXPECT_EQ(query["a"], "1");
  EXPECT_EQ(query["b"], "x y");
  EXPECT_EQ(query["c"], "d e");
  EXPECT_EQ(query["empty"], "");
  EXPECT_EQ(query.count("flag"), 1u);
  EXPECT_EQ(query["bad"], "%zz");
  EXPECT_EQ(PercentDecode("a+b%2F", false), "a+b/");
  EXPECT_EQ(PercentDecode("%4", false), "%4");
}

TEST(HttpMessage, HeaderLookupIgnoresCase) {
  Request request;
  request.headers = {{"Content-Type", "application/json"}};
  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_FALSE(request.Header("accept").has_value());
}

}  // namespace
}  // namespace reglo::http
