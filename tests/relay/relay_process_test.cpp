// `reglo-hub relay` as a real process, killed with SIGKILL between sending and recording, then
// restarted: the webhook receiver gets the same event id again and every event (nothing
// skipped); and against a real `nats-server -js`, the stream holds every event exactly once
// (JetStream drops the replays by Nats-Msg-Id); and the envelopes of both sinks checked by the
// CloudEvents SDK (node tests/cloudevents/validate.mjs). Waits are bounded polls (the process
// runs in real time).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "files.h"
#include "poll.h"
#include "ports.h"
#include "process.h"
#include "reglo/storage/sqlite_store.h"
#include "relay_test_support.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo::relay {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using reglo::testing::WaitUntil;
using testing::Arrival;
using testing::Outbox;
using testing::Receiver;
using testing::Reply;

class RelayProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.empty());
    auto store = storage::OpenSqliteStore((dir_ / "hub.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    reglo::testing::KillAndReap(relay_pid_);
    reglo::testing::KillAndReap(nats_pid_);
    store_.reset();
  }

  void WriteConfig(const nlohmann::json& relay, const nlohmann::json& subscriptions) {
    nlohmann::json config = {{"store", "sqlite:hub.db"},
                             {"plugins_dir", "plugins"},
                             {"secrets_file", "hub.key"},
                             {"sources", nlohmann::json::array()},
                             {"relay", relay},
                             {"subscriptions", subscriptions}};
    std::ofstream(dir_ / "hub.json") << config.dump(2);
  }

  pid_t Spawn(const std::string& binary, const std::vector<std::string>& args,
              const std::string& log) {
    return reglo::testing::SpawnLogged(binary, args, (dir_ / log).string());
  }
  void StartRelay() {
    relay_pid_ =
        Spawn(REGLO_HUB_BINARY, {"--config", (dir_ / "hub.json").string(), "relay"}, "relay.log");
  }
  void KillRelay() { reglo::testing::KillAndReap(relay_pid_); }
  // Starts a real `nats-server -js` on a free loopback port; returns its URL ("" without a port).
  std::string StartNats() {
    const int port = reglo::testing::FreeLoopbackPort();
    if (port <= 0) return "";
    fs::create_directories(dir_ / "nats");
    nats_pid_ = Spawn(
        "/usr/sbin/nats-server",
        {"-js", "-a", "127.0.0.1", "-p", std::to_string(port), "-sd", (dir_ / "nats").string()},
        "nats.log");
    return fmt::format("nats://127.0.0.1:{}", port);
  }
  std::string Log() { return reglo::testing::ReadFile(dir_ / "relay.log"); }
  int64_t Position(const std::string& id) {
    auto position = store_->GetRelayPosition(id);
    return position.ok() ? *position : -1;
  }
  std::set<std::string> EventIds() {
    std::set<std::string> ids;
    auto events = store_->ReadEvents(0, 1'000'000);
    EXPECT_TRUE(events.ok());
    for (const auto& event : *events) ids.insert(event.event.event_id);
    return ids;
  }

  reglo::testing::TempDir temp_{"reglo_relay_"};
  const fs::path dir_ = temp_.path();
  std::unique_ptr<storage::Store> store_;
  pid_t relay_pid_ = -1;
  pid_t nats_pid_ = -1;
};

TEST_F(RelayProcessTest, KilledBetweenSendingAndRecordingTheSameIdIsSentAgainNothingSkipped) {
  Outbox outbox(*store_);
  std::vector<std::string> students;
  for (int i = 0; i < 10; ++i) students.push_back(fmt::format("S{}", i));
  for (const char* name : {"Mario", "Luigi", "Anna"}) outbox.Commit(students, name);
  const std::set<std::string> all = EventIds();
  ASSERT_EQ(all.size(), 30u);

  Receiver receiver(SystemClock::Instance());
  // The 15th request is held open: the relay has sent it (and 11..14 of its batch) but not
  // recorded them when it is killed.
  std::atomic<int> count{0};
  receiver.SetResponder([&](const Arrival&) { return Reply{200, "", ++count == 15}; });
  WriteConfig({{"concurrency", 1},
               {"batch_size", 10},
               {"poll_interval_seconds", 0.05},
               {"lease_seconds", 2}},
              {{{"id", "wf"}, {"url", receiver.url()}, {"secret", testing::kSecret}}});
  StartRelay();
  ASSERT_TRUE(receiver.WaitFor([](const auto& arrivals) { return arrivals.size() >= 15; }))
      << Log();
  const std::string held = receiver.arrivals()[14].id;
  EXPECT_EQ(Position("wf"), 10);
  KillRelay();
  receiver.Release();

  StartRelay();
  ASSERT_TRUE(WaitUntil([&] { return Position("wf") == 30; })) << Log();
  const auto arrivals = receiver.arrivals();
  std::set<std::string> accepted;
  int held_arrivals = 0;
  for (const Arrival& a : arrivals) {
    EXPECT_TRUE(a.signature_ok);
    accepted.insert(a.id);
    if (a.id == held) ++held_arrivals;
  }
  EXPECT_EQ(accepted, all);         // nothing skipped
  EXPECT_GE(held_arrivals, 2);      // sent again, with the same id
  EXPECT_EQ(arrivals.size(), 35u);  // 1..15, then 11..30: the unrecorded 11..15 again
  EXPECT_THAT(Log(), ::testing::Not(::testing::HasSubstr(testing::kSecret)));
}

// A JetStream client for the checks.
class NatsClient {
 public:
  ~NatsClient() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (conn_ != nullptr) natsConnection_Destroy(conn_);
  }
  bool Connect(const std::string& url) {
    if (natsConnection_ConnectTo(&conn_, url.c_str()) != NATS_OK) return false;
    return natsConnection_JetStream(&js_, conn_, nullptr) == NATS_OK;
  }
  // The payload of the message at `sequence`; nullopt when there is none.
  std::optional<std::string> Payload(const std::string& stream, uint64_t sequence) {
    natsMsg* msg = nullptr;
    if (js_GetMsg(&msg, js_, stream.c_str(), sequence, nullptr, nullptr) != NATS_OK) {
      return std::nullopt;
    }
    std::string payload(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    natsMsg_Destroy(msg);
    return payload;
  }
  // Messages in the stream; -1 when it does not exist (yet).
  int64_t Messages(const std::string& stream) {
    jsStreamInfo* info = nullptr;
    if (js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, nullptr) != NATS_OK) return -1;
    const auto msgs = static_cast<int64_t>(info->State.Msgs);
    jsStreamInfo_Destroy(info);
    return msgs;
  }

 private:
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
};

TEST_F(RelayProcessTest, NatsStreamHoldsEveryEventExactlyOnceAcrossAKilledRelay) {
  const std::string url = StartNats();
  ASSERT_FALSE(url.empty());
  NatsClient client;
  ASSERT_TRUE(WaitUntil([&] { return client.Connect(url); }, 10'000ms));

  Outbox outbox(*store_);
  std::vector<std::string> students;
  for (int i = 0; i < 500; ++i) students.push_back(fmt::format("S{}", i));
  for (const char* name : {"Mario", "Luigi", "Anna", "Paola"}) outbox.Commit(students, name);
  const int64_t total = static_cast<int64_t>(EventIds().size());
  ASSERT_EQ(total, 2000);

  WriteConfig({{"concurrency", 2},
               {"batch_size", 400},
               {"poll_interval_seconds", 0.05},
               {"lease_seconds", 2},
               {"nats", {{"url", url}, {"stream", "REGLO_TEST"}, {"subject_prefix", "reglo.t"}}}},
              nlohmann::json::array());
  StartRelay();
  // Killed in the middle (its lease, not given up, lets the next process in after 2 s): some
  // published events are not yet recorded as relayed.
  ASSERT_TRUE(WaitUntil([&] { return client.Messages("REGLO_TEST") >= 600; })) << Log();
  KillRelay();
  const int64_t published = client.Messages("REGLO_TEST");
  const int64_t recorded = Position("nats");
  EXPECT_LT(recorded, total);

  StartRelay();
  ASSERT_TRUE(WaitUntil([&] { return Position("nats") == total; })) << Log();
  EXPECT_EQ(client.Messages("REGLO_TEST"), total)
      << "published before the kill: " << published << ", recorded: " << recorded;
}

// Company ids may hold spaces, '/', '%' and any letter (the config and the ingestion API accept
// them), and external ids too: every envelope the relay delivers, by webhook and to NATS, must
// still be valid CloudEvents, checked by the CloudEvents SDK (tests/cloudevents/validate.mjs).
TEST_F(RelayProcessTest, EnvelopesWithUnusualCompanyAndExternalIdsAreValidCloudEvents) {
  const std::string url = StartNats();
  ASSERT_FALSE(url.empty());
  NatsClient client;
  ASSERT_TRUE(WaitUntil([&] { return client.Connect(url); }, 10'000ms));

  const std::vector<std::string> companies = {"Scuola Rossi", "rossi/bianchi", "100%",
                                              "caff\xC3\xA8 guida", "plain-id"};
  const std::vector<std::string> students = {"A1", "A 1 \xC3\xA8", "x/y%z"};
  for (size_t i = 0; i < companies.size(); ++i) {
    Outbox(*store_, companies[i], fmt::format("src-{}", i)).Commit(students, "Mario");
  }
  const size_t total = companies.size() * students.size();
  ASSERT_EQ(EventIds().size(), total);

  Receiver receiver(SystemClock::Instance());
  WriteConfig({{"concurrency", 1},
               {"batch_size", 50},
               {"poll_interval_seconds", 0.05},
               {"nats", {{"url", url}, {"stream", "REGLO_CE"}, {"subject_prefix", "reglo.ce"}}}},
              {{{"id", "wf"}, {"url", receiver.url()}, {"secret", testing::kSecret}}});
  StartRelay();
  ASSERT_TRUE(receiver.WaitFor([&](const auto& arrivals) { return arrivals.size() >= total; }))
      << Log();
  ASSERT_TRUE(WaitUntil([&] { return client.Messages("REGLO_CE") >= static_cast<int64_t>(total); }))
      << Log();

  std::ofstream deliveries(dir_ / "deliveries.jsonl");
  std::set<std::string> sources;
  for (const Arrival& arrival : receiver.arrivals()) {
    deliveries << nlohmann::json{{"transport", "webhook"},
                                 {"contentType", arrival.content_type},
                                 {"body", arrival.body}}
                      .dump()
               << '\n';
    sources.insert(nlohmann::json::parse(arrival.body)["source"].get<std::string>());
  }
  for (uint64_t sequence = 1; sequence <= total; ++sequence) {
    const std::optional<std::string> payload = client.Payload("REGLO_CE", sequence);
    ASSERT_TRUE(payload.has_value()) << sequence;
    deliveries << nlohmann::json{{"transport", "nats"}, {"body", *payload}}.dump() << '\n';
  }
  deliveries.close();
  EXPECT_EQ(sources, (std::set<std::string>{"/companies/Scuola%20Rossi/sources/gestionale",
                                            "/companies/rossi%2Fbianchi/sources/gestionale",
                                            "/companies/100%25/sources/gestionale",
                                            "/companies/caff%C3%A8%20guida/sources/gestionale",
                                            "/companies/plain-id/sources/gestionale"}));

  const reglo::testing::CommandOutput validated = reglo::testing::RunCommand(fmt::format(
      "node '{}' '{}'", REGLO_CLOUDEVENTS_VALIDATOR, (dir_ / "deliveries.jsonl").string()));
  EXPECT_EQ(validated.exit_code, 0) << validated.text;
  // One "ok <source> <subject>" line per envelope: the subjects came through as they are.
  EXPECT_EQ(static_cast<size_t>(std::count(validated.text.begin(), validated.text.end(), '\n')),
            2 * total)
      << validated.text;
  EXPECT_THAT(validated.text, ::testing::HasSubstr(" student/A 1 \xC3\xA8\n"));
}

}  // namespace
}  // namespace reglo::relay
