// reglo-ingest-bench: the ingestion API row of `make bench` (DESIGN §11). Several concurrent
// agents push signed batches of student records to a running hub's POST /api/hub/ingest, each
// with its own key, and the tool prints records/s and the p50/p99 request latency as one Markdown
// table row (the first column is --label, the store the hub runs on).
//   reglo-ingest-bench --url http://127.0.0.1:8471 --keys keys.txt [--records 100000]
//                      [--batch 500] [--label SQLite] [--idle 500] [--trickle 16]
// keys.txt: one agent per line, "<api key> <signing secret> <company> <source system>".
// --idle N / --trickle M (the slow-clients row): while the agents push, N connections stay open
// without sending a byte and M clients trickle a request one byte every 200 ms (half the headers,
// half a body after valid headers); each is reopened as soon as the hub closes it, so they stay
// connected throughout. They connect from 127.0.0.2-127.0.0.17 (all loopback on Linux), so the
// hub's default per-address cap holds them, as it would real clients from several addresses.
// Not a test: no assertions beyond every answer being 200.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reglo/core/json_writer.h"
#include "reglo/security/signature.h"

namespace {

struct Agent {
  std::string key, secret, company, source;
};

std::string Batch(const Agent& agent, int first, int count, int batch_number) {
  reglo::JsonWriter out;
  out.BeginObject();
  out.Key("companyId").String(agent.company);
  out.Key("sourceSystem").String(agent.source);
  out.Key("cursor").String(fmt::format("batch-{}", batch_number));
  out.Key("data").BeginArray();
  for (int i = first; i < first + count; ++i) {
    out.BeginObject();
    out.Key("entity").String("student");
    out.Key("externalId").String(fmt::format("S{:07}", i));
    out.Key("sourceUpdatedAt").String("2025-06-01T10:00:00Z");
    out.Key("firstName").String(fmt::format("Nome{}", i % 997));
    out.Key("lastName").String(fmt::format("Cognome{}", i % 991));
    out.Key("birthDate").String("1990-05-17");
    out.Key("email").String(fmt::format("s{}@example.com", i));
    out.Key("phone").String(fmt::format("+39 333 {:07}", i));
    out.EndObject();
  }
  out.EndArray();
  out.EndObject();
  return out.str();
}

// The slow clients of --idle and --trickle, served by one thread with poll().
class SlowClients {
 public:
  SlowClients(std::string host, uint16_t port, int idle, int trickle, std::string api_key)
      : host_(std::move(host)), port_(port), api_key_(std::move(api_key)) {
    for (int i = 0; i < idle + trickle; ++i) clients_.push_back(Client{-1, i >= idle, i, 0, {}});
    if (!clients_.empty()) thread_ = std::thread([this] { Run(); });
  }
  ~SlowClients() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (Client& c : clients_) {
      if (c.fd >= 0) ::close(c.fd);
    }
  }
  int connected() const { return connected_.load(); }
  int reopened() const { return reopened_.load(); }

 private:
  struct Client {
    int fd;
    bool trickle;
    int index;
    size_t sent;
    std::chrono::steady_clock::time_point next;
  };

  void Open(Client& c) {
    c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    const std::string source = fmt::format("127.0.0.{}", 2 + c.index % 16);
    ::inet_pton(AF_INET, host_ == "127.0.0.1" ? source.c_str() : "0.0.0.0", &from.sin_addr);
    ::bind(c.fd, reinterpret_cast<sockaddr*>(&from), sizeof from);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port_);
    ::inet_pton(AF_INET, host_.c_str(), &to.sin_addr);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      ::close(c.fd);
      c.fd = -1;
      return;
    }
    c.sent = 0;
    c.next = std::chrono::steady_clock::now();
  }

  std::string Text(const Client& c) const {
    if (c.index % 2 == 0) {
      return "POST /api/hub/ingest HTTP/1.1\r\nHost: bench\r\nX-Slow: " + std::string(4000, 'a');
    }
    return "POST /api/hub/ingest HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + api_key_ +
           "\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n" +
           std::string(4000, ' ');
  }

  void Run() {
    while (!stop_) {
      std::vector<pollfd> polled;
      int open = 0;
      for (Client& c : clients_) {
        if (c.fd < 0) {
          Open(c);
          if (c.fd < 0) continue;
        }
        ++open;
        polled.push_back(pollfd{c.fd, POLLIN, 0});
      }
      connected_ = open;
      ::poll(polled.data(), polled.size(), 20);
      const auto now = std::chrono::steady_clock::now();
      size_t p = 0;
      for (Client& c : clients_) {
        if (c.fd < 0) continue;
        const pollfd& polled_fd = polled[p++];
        if (polled_fd.revents != 0) {  // an answer (408) or the hub closed it: reopen
          ::close(c.fd);
          c.fd = -1;
          ++reopened_;
          continue;
        }
        if (c.trickle && now >= c.next) {
          const std::string text = Text(c);
          if (c.sent < text.size()) {
            ::send(c.fd, text.data() + c.sent, 1, MSG_NOSIGNAL);
            ++c.sent;
          }
          c.next = now + std::chrono::milliseconds(200);
        }
      }
    }
  }

  std::string host_;
  uint16_t port_;
  std::string api_key_;
  std::vector<Client> clients_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connected_{0};
  std::atomic<int> reopened_{0};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string url, keys_file, label = "-";
  int records = 100'000, batch = 500, idle = 0, trickle = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    if (name == "--url") url = argv[i + 1];
    if (name == "--keys") keys_file = argv[i + 1];
    if (name == "--records") records = std::stoi(argv[i + 1]);
    if (name == "--batch") batch = std::stoi(argv[i + 1]);
    if (name == "--label") label = argv[i + 1];
    if (name == "--idle") idle = std::stoi(argv[i + 1]);
    if (name == "--trickle") trickle = std::stoi(argv[i + 1]);
  }
  std::vector<Agent> agents;
  std::ifstream keys(keys_file);
  for (Agent agent; keys >> agent.key >> agent.secret >> agent.company >> agent.source;) {
    agents.push_back(agent);
  }
  if (url.empty() || agents.empty()) {
    fmt::print(stderr,
               "usage: reglo-ingest-bench --url URL --keys FILE [--records N] [--batch N] "
               "[--label STORE] [--idle N] [--trickle N]\n");
    return 2;
  }
  const Poco::URI uri(url);
  SlowClients slow(uri.getHost(), uri.getPort(), idle, trickle, agents.front().key);
  if (idle + trickle > 0) {
    // Let them all connect before the first push.
    for (int i = 0; i < 500 && slow.connected() < idle + trickle; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  const int per_agent = records / static_cast<int>(agents.size());
  std::vector<std::vector<double>> latencies(agents.size());
  std::atomic<int> failures{0};
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (size_t a = 0; a < agents.size(); ++a) {
    threads.emplace_back([&, a] {
      const Agent& agent = agents[a];
      const auto secret = reglo::security::ParseWebhookSecret(agent.secret);
      Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
      session.setKeepAlive(true);
      for (int done = 0, n = 0; done < per_agent; done += batch, ++n) {
        const std::string body = Batch(agent, done, std::min(batch, per_agent - done), n);
        const std::string id = fmt::format("bench-{}-{}", a, n);
        const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        Poco::Net::HTTPRequest request("POST", "/api/hub/ingest", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setKeepAlive(true);
        request.set("Authorization", "Bearer " + agent.key);
        request.set("webhook-id", id);
        request.set("webhook-timestamp", std::to_string(now));
        request.set("webhook-signature", *reglo::security::SignWebhook(*secret, id, now, body));
        request.setContentType("application/json");
        request.setContentLength64(static_cast<Poco::Int64>(body.size()));
        const auto sent = std::chrono::steady_clock::now();
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session.receiveResponse(response);
        std::ostringstream answer;
        answer << in.rdbuf();
        latencies[a].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent)
                .count());
        if (response.getStatus() != 200) {
          ++failures;
          fmt::print(stderr, "agent {}: {} {}\n", a, static_cast<int>(response.getStatus()),
                     answer.str().substr(0, 200));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<double> all;
  for (const auto& each : latencies) all.insert(all.end(), each.begin(), each.end());
  std::sort(all.begin(), all.end());
  const auto percentile = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  const int total = per_agent * static_cast<int>(agents.size());
  if (idle + trickle > 0) {
    fmt::print(stderr,
               "slow clients: {} connected at the end, {} reopened after the hub closed them\n",
               slow.connected(), slow.reopened());
  }
  fmt::print(
      "| {} | {} agents x {} records, batches of {} | {:.2f} | {:.0f} | {:.1f} ms | {:.1f} ms | {} "
      "|\n",
      label, agents.size(), per_agent, batch, seconds, total / seconds, percentile(0.50),
      percentile(0.99), failures.load());
  return failures.load() == 0 ? 0 : 1;
}
