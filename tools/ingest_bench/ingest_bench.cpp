// reglo-ingest-bench: the ingestion API row of `make bench` (DESIGN §11). Several concurrent
// agents push signed batches of student records to a running hub's POST /api/hub/ingest, each
// with its own key, and the tool prints records/s and the p50/p99 request latency as one Markdown
// table row (the first column is --label, the store the hub runs on).
//   reglo-ingest-bench --url http://127.0.0.1:8471 --keys keys.txt [--records 100000]
//                      [--batch 500] [--label SQLite]
// keys.txt: one agent per line, "<api key> <signing secret> <company> <source system>".
// Not a test: no assertions beyond every answer being 200.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reglo/core/json_writer.h"
#include "reglo/ingest/signature.h"

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

}  // namespace

int main(int argc, char** argv) {
  std::string url, keys_file, label = "-";
  int records = 100'000, batch = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    if (name == "--url") url = argv[i + 1];
    if (name == "--keys") keys_file = argv[i + 1];
    if (name == "--records") records = std::stoi(argv[i + 1]);
    if (name == "--batch") batch = std::stoi(argv[i + 1]);
    if (name == "--label") label = argv[i + 1];
  }
  std::vector<Agent> agents;
  std::ifstream keys(keys_file);
  for (Agent agent; keys >> agent.key >> agent.secret >> agent.company >> agent.source;) {
    agents.push_back(agent);
  }
  if (url.empty() || agents.empty()) {
    fmt::print(stderr,
               "usage: reglo-ingest-bench --url URL --keys FILE [--records N] [--batch N] "
               "[--label STORE]\n");
    return 2;
  }
  const Poco::URI uri(url);
  const int per_agent = records / static_cast<int>(agents.size());
  std::vector<std::vector<double>> latencies(agents.size());
  std::atomic<int> failures{0};
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (size_t a = 0; a < agents.size(); ++a) {
    threads.emplace_back([&, a] {
      const Agent& agent = agents[a];
      const auto secret = reglo::ingest::ParseWebhookSecret(agent.secret);
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
        request.set("webhook-signature", *reglo::ingest::SignWebhook(*secret, id, now, body));
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
  fmt::print(
      "| {} | {} agents x {} records, batches of {} | {:.2f} | {:.0f} | {:.1f} ms | {:.1f} ms | {} "
      "|\n",
      label, agents.size(), per_agent, batch, seconds, total / seconds, percentile(0.50),
      percentile(0.99), failures.load());
  return failures.load() == 0 ? 0 : 1;
}
