// The HTTP listener under slow and idle clients, with real sockets on port 0: idle floods over the
// connection cap, header and body trickles (408 within the deadline, whatever the client sends),
// the per-address and total caps (refused with problem+json, not queued), idle keep-alive
// connections closed when others wait, 413 read by Node's fetch, server-made refusals as
// problem+json, refusals logged once at info and counted, request paths escaped in the log, and
// a signed push through the real IngestService answered within 1 s throughout.
// Slow clients here are raw POSIX sockets (they must send byte by byte and bind a source address).
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "http_client.h"
#include "master_key.h"
#include "poll.h"
#include "reglo/http/server.h"
#include "reglo/ingest/agent_keys.h"
#include "reglo/ingest/ingest_service.h"
#include "reglo/security/signature.h"
#include "run_command.h"
#include "sqlite_test_support.h"

namespace reglo::http {
namespace {

using reglo::testing::WaitUntil;
using std::chrono::milliseconds;

// A raw client socket to 127.0.0.1:port, optionally from another loopback source address
// (127.0.0.2 ...), so per-address caps can be told apart. Reads are bounded by `read_bound`.
class RawClient {
 public:
  RawClient(uint16_t port, const std::string& from = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    ::inet_pton(AF_INET, from.c_str(), &source.sin_addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&source), sizeof source);
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &target.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&target), sizeof target) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Whether something (an answer, or the end of the connection) can be read within `wait`.
  bool Readable(milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }
  // Everything until the server closes, or what arrived within `bound`.
  std::string ReadAll(milliseconds bound = milliseconds(10'000)) {
    std::string answer;
    const auto deadline = std::chrono::steady_clock::now() + bound;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Readable(milliseconds(50))) continue;
      const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got <= 0) break;
      answer.append(buffer, static_cast<std::size_t>(got));
    }
    return answer;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// One GET on a new connection, with a bounded wait for the answer; 0 when none came.
int Get(uint16_t port, const std::string& path, milliseconds bound = milliseconds(5000)) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(bound.count() * 1000));
    Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    std::ostringstream ignored;
    ignored << body.rdbuf();
    return static_cast<int>(response.getStatus());
  } catch (const std::exception&) {
    return 0;
  }
}

// Sends `text` one byte every `gap` until the server answers or closes; the bytes sent by then.
std::size_t Trickle(RawClient& client, const std::string& text, milliseconds gap) {
  std::size_t sent = 0;
  for (char c : text) {
    if (client.Readable(gap)) break;
    if (!client.Send(std::string_view(&c, 1))) break;
    ++sent;
  }
  return sent;
}

class SlowClientsTest : public ::testing::Test {
 protected:
  void StartWith(ServerOptions options) {
    auto router = std::make_shared<Router>();
    router->Add("GET", "/ping", [](const Request&) { return Response::Json(200, "{}"); });
    // A handler that answers HEAD like GET, body included: the server must not send it.
    router->Add("HEAD", "/ping", [](const Request&) { return Response::Json(200, "{}"); });
    RouteOptions upload;
    upload.max_body_bytes = 1000;
    router->Add(
        "POST", "/upload", [](const Request&) { return Response::NoContent(); }, upload);
    Result<std::unique_ptr<Server>> started = Server::Start(options, router);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(*started);
  }
  uint16_t port() const { return server_->port(); }
  // Waits until the server holds `open` connections, each read from (so none is idle).
  bool AllBusy(uint64_t open) {
    return WaitUntil([&] {
      const ServerStats stats = server_->Stats();
      return stats.connections_open == open && stats.connections_idle == 0;
    });
  }
  // A new connection from `from` is answered `status` with a too-many-connections problem.
  void ExpectConnectionRefused(const std::string& from, int status) {
    RawClient excess(port(), from);
    const std::string answer = excess.ReadAll();
    EXPECT_EQ(answer.rfind(fmt::format("HTTP/1.1 {}", status), 0), 0u) << answer;
    EXPECT_NE(answer.find("application/problem+json"), std::string::npos) << answer;
    EXPECT_NE(answer.find("too-many-connections"), std::string::npos) << answer;
  }
  std::unique_ptr<Server> server_;
};

TEST_F(SlowClientsTest, HeaderTrickleGets408AtTheHeaderDeadlineAndDelaysNoOne) {
  ServerOptions options;
  options.max_threads = 2;
  // 200 bytes 50 ms apart take 10 s: the deadline passes long before.
  options.read_timeout = milliseconds(5000);
  StartWith(options);
  const std::string request = "GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a');
  std::vector<std::thread> tricklers;
  std::atomic<int> answered_408{0};
  std::atomic<int> finished{0};
  std::vector<std::size_t> sent(8);
  for (int i = 0; i < 8; ++i) {
    tricklers.emplace_back([&, i] {
      RawClient client(port());
      sent[i] = Trickle(client, request, milliseconds(50));
      if (client.ReadAll().rfind("HTTP/1.1 408", 0) == 0) ++answered_408;
      ++finished;
    });
  }
  // More tricklers than workers: a normal request is answered while they all still trickle.
  ASSERT_TRUE(WaitUntil([&] { return server_->Stats().connections_accepted == 8; }));
  EXPECT_EQ(Get(port(), "/ping"), 200);
  EXPECT_EQ(finished.load(), 0) << "the request waited for the trickling clients";
  for (auto& t : tricklers) t.join();
  EXPECT_EQ(answered_408.load(), 8);
  // The deadline is the whole header's: it came before the 200+ bytes (50 ms apart) were sent.
  for (std::size_t n : sent) EXPECT_LT(n, request.size());
}

// A deadline that passes while the header read is between two steps (bytes just arrived, the
// next read not yet started) must still end the read: cancelling only what is pending at that
// instant lets the composed read go on with no timer. Fast tricklers on one io thread keep the
// reads between steps often; each must get its 408 at the deadline, not once its header is done.
TEST_F(SlowClientsTest, HeaderDeadlineHoldsWhenItPassesBetweenReads) {
  ServerOptions options;
  options.io_threads = 1;
  options.read_timeout = milliseconds(300);
  options.max_header_bytes = 1 << 20;
  StartWith(options);
  // 512 KiB a byte every 0.1 ms or more: about a minute, against a 0.3 s deadline.
  const std::string request =
      "GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(512 * 1024, 'a');
  constexpr int kClients = 24;
  std::vector<std::thread> tricklers;
  std::atomic<int> answered_408{0};
  std::vector<std::size_t> sent(kClients);
  for (int i = 0; i < kClients; ++i) {
    tricklers.emplace_back([&, i] {
      RawClient client(port());
      // A byte every 0.1 ms, so the server's read often finds the next byte already there.
      for (char c : request) {
        if (client.Readable(milliseconds(0)) || !client.Send(std::string_view(&c, 1))) break;
        ++sent[i];
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      if (client.ReadAll().rfind("HTTP/1.1 408", 0) == 0) ++answered_408;
    });
  }
  for (auto& t : tricklers) t.join();
  EXPECT_EQ(answered_408.load(), kClients);
  // About 1.3 KiB go out by the deadline; a read that went on unbounded takes them to 64 KiB (the
  // request buffer's limit ends it there). 32 KiB leaves seconds of slack for a loaded machine.
  for (std::size_t n : sent) EXPECT_LT(n, 32u * 1024);
}

// A HEAD answer has the GET's Content-Length but no body (a body would be read as the next
// answer on the kept connection), and every answer carries a Date.
TEST_F(SlowClientsTest, HeadAnswerHasNoBodyAndAnswersHaveADate) {
  StartWith({});
  RawClient client(port());
  ASSERT_TRUE(
      client.Send("HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string answers = client.ReadAll();
  const std::size_t head_end = answers.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << answers;
  const std::string head = answers.substr(0, head_end);
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << answers;
  EXPECT_NE(head.find("Content-Length: 2"), std::string::npos) << answers;
  EXPECT_NE(head.find("Date: "), std::string::npos) << answers;
  EXPECT_NE(head.find(" GMT"), std::string::npos) << answers;
  // Right after the HEAD's headers comes the GET's answer, with its body.
  const std::string rest = answers.substr(head_end + 4);
  EXPECT_EQ(rest.rfind("HTTP/1.1 200", 0), 0u) << answers;
  EXPECT_NE(rest.find("Date: "), std::string::npos) << answers;
  EXPECT_EQ(rest.substr(rest.size() - 2), "{}") << answers;
}

TEST_F(SlowClientsTest, BodyTrickleGets408AtTheBodyDeadlineNotAfter16KiB) {
  ServerOptions options;
  options.body_timeout = milliseconds(1000);
  StartWith(options);
  RawClient client(port());
  ASSERT_TRUE(
      client.Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Content-Length: 40\r\n\r\n"));
  // One byte every 200 ms would take 8 s for the 40 bytes: the 408 comes before the last one.
  const std::size_t sent = Trickle(client, std::string(40, 'x'), milliseconds(200));
  const std::string answer = client.ReadAll();
  EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
  EXPECT_NE(answer.find("body-timeout"), std::string::npos) << answer;
  EXPECT_LT(sent, 40u);
}

TEST_F(SlowClientsTest, PerAddressCapRefusesTheExcessWith429AndServesOtherAddresses) {
  ServerOptions options;
  options.read_timeout = milliseconds(20'000);
  options.connections.max_connections_per_address = 3;
  StartWith(options);
  std::vector<std::unique_ptr<RawClient>> busy;
  for (int i = 0; i < 3; ++i) {
    busy.push_back(std::make_unique<RawClient>(port(), "127.0.0.1"));
    ASSERT_TRUE(busy.back()->Send("GET /ping HTTP/1.1\r\nHo"));  // started, so not idle
  }
  ASSERT_TRUE(AllBusy(3));
  ExpectConnectionRefused("127.0.0.1", 429);
  // Another address is not affected.
  RawClient other(port(), "127.0.0.2");
  ASSERT_TRUE(other.Send("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(other.ReadAll().rfind("HTTP/1.1 200", 0), 0u);
  const ServerStats stats = server_->Stats();
  EXPECT_EQ(stats.connections_refused_per_address, 1u);
  EXPECT_EQ(stats.refusals_by_status.at(429), 1u);
}

TEST_F(SlowClientsTest, TotalCapRefusesWith503WhenNoConnectionIsIdle) {
  ServerOptions options;
  options.read_timeout = milliseconds(20'000);
  options.connections.max_connections = 2;
  StartWith(options);
  RawClient a(port()), b(port());
  ASSERT_TRUE(a.Send("GET /ping HTTP/1.1\r\nHo"));
  ASSERT_TRUE(b.Send("GET /ping HTTP/1.1\r\nHo"));
  ASSERT_TRUE(AllBusy(2));
  ExpectConnectionRefused("127.0.0.3", 503);
  EXPECT_EQ(server_->Stats().connections_refused_total_cap, 1u);
}

TEST_F(SlowClientsTest, IdleFloodOverTheCapMakesRoomForRealRequests) {
  ServerOptions options;
  options.read_timeout = milliseconds(20'000);
  options.connections.max_connections = 16;
  options.connections.max_connections_per_address = 1000;
  StartWith(options);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 48; ++i) idle.push_back(std::make_unique<RawClient>(port()));
  ASSERT_TRUE(WaitUntil([&] { return server_->Stats().connections_accepted == 48; }));
  // Idle connections are closed to make room: the flood never holds more than the cap, and a
  // request is answered at once although the idle ones would wait 20 s.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Get(port(), "/ping"), 200);
  const ServerStats stats = server_->Stats();
  EXPECT_LE(stats.connections_open, 16u);
  EXPECT_GE(stats.idle_connections_closed, 32u + 1u);  // the flood's own, and the first GET's
  EXPECT_EQ(stats.connections_refused_total_cap, 0u);
}

TEST_F(SlowClientsTest, IdleKeepAliveConnectionIsClosedWhenAnotherWaits) {
  ServerOptions options;
  options.keep_alive_timeout = milliseconds(60'000);
  options.connections.max_connections = 1;
  StartWith(options);
  RawClient kept(port());
  ASSERT_TRUE(kept.Send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitUntil([&] {  // answered, and waiting for its next request
    const ServerStats stats = server_->Stats();
    return stats.requests == 1 && stats.connections_idle == 1;
  }));
  // The only slot is held by an idle keep-alive connection; a new client takes it.
  EXPECT_EQ(Get(port(), "/ping"), 200);
  EXPECT_EQ(server_->Stats().idle_connections_closed, 1u);
  const std::string rest = kept.ReadAll();  // the first answer, then the close
  EXPECT_EQ(rest.rfind("HTTP/1.1 200", 0), 0u) << rest;
}

TEST_F(SlowClientsTest, ServerRefusalsAreProblemJson) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  StartWith(options);
  RawClient bad(port());
  ASSERT_TRUE(bad.Send("GARBAGE\r\n\r\n"));
  const std::string bad_answer = bad.ReadAll();
  EXPECT_EQ(bad_answer.rfind("HTTP/1.1 400", 0), 0u) << bad_answer;
  EXPECT_NE(bad_answer.find("application/problem+json"), std::string::npos) << bad_answer;

  RawClient large(port());
  ASSERT_TRUE(large.Send("GET /ping HTTP/1.1\r\nX-Big: " + std::string(4096, 'b') + "\r\n\r\n"));
  const std::string large_answer = large.ReadAll();
  EXPECT_EQ(large_answer.rfind("HTTP/1.1 431", 0), 0u) << large_answer;
  EXPECT_NE(large_answer.find("application/problem+json"), std::string::npos) << large_answer;
}

// Captures what the default logger writes, at `level`, for the test's lifetime.
class LogCapture {
 public:
  explicit LogCapture(spdlog::level::level_enum level) : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(level);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() {
    spdlog::default_logger()->flush();
    return text_.str();
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

TEST_F(SlowClientsTest, EachRefusalIsLoggedOnceAtInfoAndCounted) {
  LogCapture log(spdlog::level::info);
  StartWith({});
  RawClient client(port());
  ASSERT_TRUE(
      client.Send("POST /upload/RSSMRA85T10A562S HTTP/1.1\r\nHost: x\r\n"
                  "Content-Length: 5000\r\n\r\n"));
  client.ReadAll();
  RawClient upload(port());
  ASSERT_TRUE(upload.Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
  EXPECT_EQ(upload.ReadAll().rfind("HTTP/1.1 413", 0), 0u);
  ASSERT_TRUE(WaitUntil([&] { return server_->Stats().requests == 2; }));
  const std::string text = log.text();
  EXPECT_NE(text.find("info http: refused POST /upload from 127.0.0.1: 413 body-too-large"),
            std::string::npos)
      << text;
  std::size_t lines = 0;
  for (std::size_t at = text.find("refused"); at != std::string::npos;
       at = text.find("refused", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << text;  // the 404 is not a refusal; the 413 is logged once
  EXPECT_EQ(text.find("RSSMRA"), std::string::npos) << text;
  EXPECT_EQ(server_->Stats().refusals_by_status.at(413), 1u);
  server_.reset();  // its threads log: stop them before the capture goes
}

TEST_F(SlowClientsTest, RequestLogLineEscapesControlCharactersInThePath) {
  LogCapture log(spdlog::level::debug);
  StartWith({});
  RawClient client(port());
  ASSERT_TRUE(client.Send(
      "GET /ping%0D%0Aforged%1B%5B31m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  client.ReadAll();
  ASSERT_TRUE(WaitUntil([&] { return server_->Stats().requests == 1; }));
  const std::string text = log.text();
  EXPECT_NE(text.find("GET /ping\\r\\nforged\\e[31m 404"), std::string::npos) << text;
  EXPECT_EQ(text.find("\nforged"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  server_.reset();  // its threads log: stop them before the capture goes
}

TEST_F(SlowClientsTest, NodeFetchReadsThe413OfAnOverLimitBody) {
  ServerOptions options;
  options.linger_timeout = milliseconds(10'000);  // a loaded machine may send the 2 MB slowly
  StartWith(options);
  // 2 MB against a 1000-byte limit: without a lingering close, fetch gets ECONNRESET.
  const reglo::testing::CommandOutput run = reglo::testing::RunCommand(
      fmt::format("node {} http://127.0.0.1:{}/upload 2000000", REGLO_FETCH_SCRIPT, port()));
  EXPECT_EQ(run.exit_code, 0) << run.text;
  EXPECT_NE(run.text.find("413 body-too-large"), std::string::npos) << run.text;
}

// The real ingestion route under an idle flood and header and body tricklers: each signed push
// on a new connection is answered within 1 s, while the slow clients are still connected.
TEST(SlowClientsIngest, SignedPushesAreAnsweredWhileSlowClientsHoldConnections) {
  storage::testing::SqliteBackend backend;
  auto opened = backend.Open();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const security::MasterKey master = reglo::testing::FixedMasterKey();
  const Clock& clock = SystemClock::Instance();
  ingest::AgentKeys keys(**opened, master, clock);
  auto created = keys.Create("autoscuola-rossi", "gestionale", {}, 1000.0, 1000);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto secret = security::ParseWebhookSecret(created->signing_secret);
  ASSERT_TRUE(secret.ok());
  ingest::IngestService service(
      {}, [&backend] { return backend.Open(); }, master, clock);
  auto router = std::make_shared<Router>();
  service.AddRoutes(*router);
  ServerOptions options;
  options.name = "ingest";
  // Long enough that the slow clients are still connected (not yet answered 408) after the five
  // pushes, however loaded the machine: that is the point of the test.
  options.read_timeout = milliseconds(30'000);
  options.body_timeout = milliseconds(30'000);
  options.connections.max_connections = 64;
  options.connections.max_connections_per_address = 1000;
  auto started = Server::Start(options, router);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  Server& server = **started;

  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 100; ++i) idle.push_back(std::make_unique<RawClient>(server.port()));
  ASSERT_TRUE(WaitUntil([&] { return server.Stats().connections_accepted >= 100; }));
  std::atomic<bool> stop{false};
  std::atomic<int> slow_answered{0};
  std::vector<std::thread> slow;
  for (int i = 0; i < 10; ++i) {
    slow.emplace_back([&, i] {
      RawClient client(server.port());
      const std::string text =
          i < 8 ? "POST /api/hub/ingest HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(400, 'a')
                : "POST /api/hub/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n" +
                      std::string(400, 'a');
      for (char c : text) {
        if (stop || client.Readable(milliseconds(50))) break;
        client.Send(std::string_view(&c, 1));
      }
      if (!client.ReadAll(milliseconds(100)).empty()) ++slow_answered;
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return server.Stats().connections_accepted >= 110; }));
  const auto push = [&](int n) {
    const std::string body = nlohmann::json{{"companyId", "autoscuola-rossi"},
                                            {"sourceSystem", "gestionale"},
                                            {"cursor", "c" + std::to_string(n)},
                                            {"data", nlohmann::json::array()}}
                                 .dump();
    const std::string id = "msg_" + std::to_string(n);
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
    Poco::Net::HTTPRequest request("POST", "/api/hub/ingest", Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("webhook-id", id);
    request.set("webhook-timestamp", std::to_string(now));
    request.set("webhook-signature", *security::SignWebhook(*secret, id, now, body));
    request.set("Authorization", "Bearer " + created->api_key);
    request.setContentType("application/json");
    request.setContentLength64(static_cast<Poco::Int64>(body.size()));
    try {
      Poco::Net::HTTPClientSession session("127.0.0.1", server.port());
      session.setTimeout(Poco::Timespan(1, 0));  // answered within 1 s, or this fails
      session.sendRequest(request) << body;
      Poco::Net::HTTPResponse response;
      std::ostringstream ignored;
      ignored << session.receiveResponse(response).rdbuf();
      return static_cast<int>(response.getStatus());
    } catch (const std::exception&) {
      return 0;
    }
  };
  for (int n = 1; n <= 5; ++n) EXPECT_EQ(push(n), 200) << "push " << n;
  EXPECT_EQ(slow_answered.load(), 0) << "the pushes waited for the slow clients";
  stop = true;
  for (auto& t : slow) t.join();
  server.Stop();
}

}  // namespace
}  // namespace reglo::http
