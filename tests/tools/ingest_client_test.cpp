// The Node.js reference client (tools/ingest-client/reglo-ingest.mjs) run with `node` against a
// real `reglo-hub serve`: its signed batch is stored; one signed with the wrong secret is
// refused with 401 and changes nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_output.h"
#include "poll.h"
#include "ports.h"
#include "process.h"
#include "reglo/model/schema.h"
#include "reglo/storage/sqlite_store.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(IngestClientTest, NodeClientPushesASignedBatchAndAWrongSecretIsRefused) {
  const fs::path dir = reglo::testing::MakeTempDir("reglo_node_");
  ASSERT_FALSE(dir.empty());
  const int port = testing::FreeLoopbackPort();
  ASSERT_GT(port, 0);
  std::ofstream(dir / "hub.json") << json{{"store", "sqlite:hub.db"},
                                          {"plugins_dir", "plugins"},
                                          {"sources", json::array()},
                                          // No admin listener: its default port would collide
                                          // between tests run at once.
                                          {"admin", {{"enabled", false}}},
                                          {"ingest",
                                           {{"listen", "127.0.0.1:" + std::to_string(port)}}}}
                                         .dump();
  const std::string hub =
      std::string(REGLO_HUB_BINARY) + " --config " + (dir / "hub.json").string();
  const auto created = testing::RunCommand(hub + " keys create --company acme --source crm");
  ASSERT_EQ(created.exit_code, 0) << created.text;
  const testing::CreatedKey created_key = testing::ParseCreatedKey(created.text);
  const std::string& key = created_key.api_key;
  const std::string& secret = created_key.signing_secret;
  ASSERT_FALSE(key.empty());
  json records = json::array();
  for (int i = 1; i <= 3; ++i) {
    records.push_back({{"entity", "student"},
                       {"externalId", "N" + std::to_string(i)},
                       {"sourceUpdatedAt", "2025-06-01T10:00:00Z"},
                       {"firstName", "Giulia"},
                       {"lastName", "Bianchi"}});
  }
  std::ofstream(dir / "records.json") << records.dump();

  pid_t serve =
      testing::SpawnLogged(REGLO_HUB_BINARY, {"--config", (dir / "hub.json").string(), "serve"},
                           (dir / "hub.log").string());
  ASSERT_GE(serve, 0);
  const std::string client =
      std::string("node ") + REGLO_SOURCE_DIR +
      "/tools/ingest-client/reglo-ingest.mjs --url http://127.0.0.1:" + std::to_string(port) +
      " --company acme --source crm --cursor p1 " + (dir / "records.json").string();
  testing::CommandOutput pushed;
  // The listener is up within a bounded time.
  testing::WaitUntil(
      [&] {
        pushed = testing::RunCommand("REGLO_AGENT_API_KEY=" + key +
                                     " REGLO_AGENT_SIGNING_SECRET=" + secret + " " + client);
        return pushed.text.find("unreachable") == std::string::npos;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  EXPECT_EQ(pushed.exit_code, 0) << pushed.text;
  const json answer = json::parse(pushed.text, nullptr, false);
  ASSERT_TRUE(answer.is_object()) << pushed.text;
  EXPECT_EQ(answer["counts"]["created"], 3);

  // Signed with another secret: refused, nothing stored.
  const auto tampered = testing::RunCommand(
      "REGLO_AGENT_API_KEY=" + key +
      " REGLO_AGENT_SIGNING_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw " + client);
  EXPECT_EQ(tampered.exit_code, 1) << tampered.text;
  EXPECT_NE(tampered.text.find("(401"), std::string::npos) << tampered.text;
  EXPECT_NE(tampered.text.find("invalid-signature"), std::string::npos) << tampered.text;

  testing::KillAndReap(serve, SIGTERM);
  auto store = storage::OpenSqliteStore((dir / "hub.db").string());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*(*store)->CountRecords(*model::FindEntity("student")), 3);
  EXPECT_EQ(*(*store)->GetCursor("agent:acme:crm", "default"), std::optional<std::string>("p1"));
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace
}  // namespace reglo
