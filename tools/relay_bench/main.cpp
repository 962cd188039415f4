// reglo-relay-bench: events/s the relay delivers (issue #7), measured on this machine: N events
// (default 100,000 student.created) in a fresh SQLite outbox, delivered by one subscription's
// SubscriptionWorker (the code `reglo-hub relay` runs) to
//   - a local webhook receiver (a Poco HTTP server in this process that answers 204), and
//   - a local `nats-server -js` (started here on a free port with a temp store, when installed).
// Prints a Markdown table. Usage: reglo-relay-bench [--events N] [--concurrency K] [--dir DIR]
// (--help says more).
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>
#include <variant>

#include "poll.h"
#include "ports.h"
#include "process.h"
#include "reglo/core/clock.h"
#include "reglo/core/text.h"
#include "reglo/model/validation.h"
#include "reglo/relay/nats_sink.h"
#include "reglo/relay/relay.h"
#include "reglo/relay/subscriptions.h"
#include "reglo/relay/webhook_sink.h"
#include "reglo/security/master_key.h"
#include "reglo/storage/sqlite_store.h"

namespace {

namespace fs = std::filesystem;
using namespace reglo;

std::atomic<int64_t> received{0};

class CountingHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    request.stream().ignore(1 << 20);
    ++received;
    response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
    response.setContentLength(0);
    response.send();
  }
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new CountingHandler;
  }
};

bool Check(const Status& status, const char* what) {
  if (status.ok()) return true;
  std::cerr << "relay-bench: " << what << ": " << status.ToString() << "\n";
  return false;
}

// Fills the outbox with `events` student.created events, 5,000 per checkpoint.
bool Seed(storage::Store& store, int64_t events) {
  if (!Check(
          store.UpsertSource({"bench", "autoscuola-bench", "gestionale", "csv", "{}", true, "new"}),
          "registering the source")) {
    return false;
  }
  auto run = store.BeginRun("bench", FormatUtc(SystemClock::Instance().Now()));
  if (!run.ok()) return Check(run.status(), "beginning a run");
  for (int64_t first = 0; first < events; first += 5'000) {
    storage::CheckpointBatch batch;
    batch.run_id = *run;
    batch.source_id = "bench";
    batch.stream = "students";
    batch.committed_at = FormatUtc(SystemClock::Instance().Now());
    for (int64_t i = first; i < std::min(events, first + 5'000); ++i) {
      model::RawRecord raw;
      raw.entity = "student";
      raw.company_id = "autoscuola-bench";
      raw.source_system = "gestionale";
      raw.external_id = fmt::format("S{}", i);
      raw.source_updated_at = "2025-06-01T09:00:00Z";
      raw.fields = {{"firstName", "Mario"},
                    {"lastName", "Rossi"},
                    {"birthDate", "1985-12-10"},
                    {"email", "mario@example.com"}};
      raw.origin = "bench";
      auto validated = model::Validate(raw);
      if (!std::holds_alternative<model::CanonicalRecord>(validated)) return false;
      batch.records.push_back(std::get<model::CanonicalRecord>(std::move(validated)));
    }
    batch.seen = static_cast<int64_t>(batch.records.size());
    auto committed = store.CommitCheckpoint(batch);
    if (!committed.ok()) return Check(committed.status(), "seeding events");
  }
  return true;
}

// Runs the worker until the subscription's position reaches the end of the outbox; seconds.
double Drain(storage::Store& store, const std::string& id, relay::SinkFactory sinks,
             int concurrency, int64_t latest) {
  relay::RelayOptions options;
  options.concurrency = concurrency;
  options.instance_id = "bench";
  relay::SubscriptionWorker worker(id, store, SystemClock::Instance(), std::move(sinks), options);
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    auto step = worker.RunOnce();
    if (!step.ok()) {
      Check(step.status(), "relaying");
      return -1;
    }
    if (step->position >= latest) break;
    if (step->delivered == 0 && step->failed == 0) {
      std::cerr << "relay-bench: no progress at position " << step->position << "\n";
      return -1;
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  int64_t events = 100'000;
  int concurrency = 4;
  std::string dir_option;
  CLI::App app{
      "Measures the events/s the relay delivers: seeds N student.created events in a fresh SQLite "
      "outbox, then delivers them to a local webhook receiver and to a local nats-server -js "
      "(when installed), and prints a Markdown table. Exit 0: measured; 1: a step failed; 2: bad "
      "usage.",
      "reglo-relay-bench"};
  app.add_option("--events", events, "events to seed and deliver (default 100000)")
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  app.add_option("--concurrency", concurrency, "deliveries in flight per subscription (default 4)")
      ->check(CLI::Range(1, 64));
  app.add_option("--dir", dir_option,
                 "scratch folder, created here and removed at the end: it must not exist yet "
                 "(default: a new one in the temp folder)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  const fs::path dir = dir_option.empty() ? fs::temp_directory_path() /
                                                fmt::format("reglo-relay-bench-{}", ::getpid())
                                          : fs::path(dir_option);
  // The folder is removed at the end, so it is never one that already holds something.
  const std::string shown = EscapeControlCharacters(dir.string());
  std::error_code error;
  if (fs::exists(dir, error)) {
    std::cerr << "reglo-relay-bench: --dir '" << shown
              << "' already exists; give a folder that does not\n";
    return 2;
  }
  if (!error) fs::create_directories(dir, error);
  if (error) {
    std::cerr << "reglo-relay-bench: cannot create --dir '" << shown << "': " << error.message()
              << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);  // the relay's info lines would mix with the table
  auto opened = storage::OpenSqliteStore((dir / "bench.db").string());
  if (!opened.ok()) return Check(opened.status(), "opening the store") ? 0 : 1;
  storage::Store& store = **opened;
  std::cerr << "relay-bench: seeding " << events << " events\n";
  if (!Seed(store, events)) return 1;
  const int64_t latest = *store.LatestEventSequence();
  const Clock& clock = SystemClock::Instance();
  const security::MasterKey master = *security::MasterKey::FromBytes(std::string(32, 'b'));

  fmt::print("Relay, {} events (student.created), concurrency {} per subscription, {} cores\n\n",
             events, concurrency, std::thread::hardware_concurrency());
  fmt::print("| sink | seconds | events/s |\n| --- | ---: | ---: |\n");

  // Webhook.
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(concurrency + 2);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(1'000'000);
  Poco::Net::HTTPServer server(
      new Factory, Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)), params);
  server.start();
  relay::SubscriptionSpec spec;
  spec.id = "webhook";
  spec.url = fmt::format("http://127.0.0.1:{}/hook", server.port());
  if (!Check(relay::CreateSubscription(store, master, spec, clock).status(), "subscribing")) {
    return 1;
  }
  const double webhook = Drain(
      store, "webhook",
      [&](const storage::SubscriptionRow& row) -> Result<std::unique_ptr<relay::Sink>> {
        auto key = relay::OpenSigningKey(master, row);
        if (!key.ok()) return key.status();
        return relay::MakeWebhookSink(row.url, *key, clock, {});
      },
      concurrency, latest);
  server.stopAll(true);
  if (webhook < 0) return 1;
  fmt::print("| webhook (local receiver, keep-alive, signed) | {:.2f} | {:.0f} |\n", webhook,
             static_cast<double>(events) / webhook);
  if (received.load() < events) std::cerr << "relay-bench: receiver got " << received << "\n";

  // NATS JetStream.
  const char* nats_server = "/usr/sbin/nats-server";
  if (::access(nats_server, X_OK) != 0) {
    fmt::print("| NATS JetStream | - | (nats-server not installed) |\n");
    fs::remove_all(dir);
    return 0;
  }
  const int port = testing::FreeLoopbackPort();
  pid_t pid = testing::SpawnLogged(
      nats_server,
      {"-js", "-a", "127.0.0.1", "-p", std::to_string(port), "-sd", (dir / "nats").string()},
      (dir / "nats.log").string());
  relay::NatsSettings nats;
  nats.url = fmt::format("nats://127.0.0.1:{}", port);
  nats.stream = "REGLO_BENCH";
  nats.subject_prefix = "reglo.bench";
  // Wait (bounded) for the server to accept connections.
  const bool up = testing::WaitUntil([&] { return relay::MakeNatsSink(nats).ok(); },
                                     std::chrono::seconds(5), std::chrono::milliseconds(50));
  double published = -1;
  if (up) {
    spec = {};
    spec.id = relay::kNatsSubscriptionId;
    spec.kind = "nats";
    if (Check(relay::CreateSubscription(store, master, spec, clock).status(), "subscribing")) {
      published = Drain(
          store, spec.id,
          [&](const storage::SubscriptionRow&) { return relay::MakeNatsSink(nats); }, concurrency,
          latest);
    }
  }
  testing::KillAndReap(pid, SIGTERM);
  fs::remove_all(dir);
  if (published < 0) return 1;
  fmt::print("| NATS JetStream (local nats-server -js, file storage, acked) | {:.2f} | {:.0f} |\n",
             published, static_cast<double>(events) / published);
  return 0;
}
