// The Integration Console in a real headless Chromium: each test starts a real `reglo-hub serve`
// with a temp config and a free admin port, then runs tests/console/console_test.mjs
// (playwright-core) against it and checks its exit status and output. Screenshots go to
// build/tests/console/artifacts.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "files.h"
#include "poll.h"
#include "ports.h"
#include "process.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kToken = "console-test-token-4f1c2a";

// The first executable called `name` on PATH, if any.
std::optional<fs::path> FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

std::optional<fs::path> FindChromium() {
  if (const char* configured = std::getenv("REGLO_CHROMIUM");
      configured != nullptr && *configured) {
    return fs::path(configured);
  }
  for (const char* name : {"chromium", "chromium-browser"}) {
    if (auto found = FindOnPath(name)) return found;
  }
  return std::nullopt;
}

// The status line of GET `path` on 127.0.0.1:`port`, or "" when nothing answers.
std::string HttpStatusLine(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[512];
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n > 0) answer.assign(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return answer.substr(0, answer.find("\r\n"));
}

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = FindChromium();
    if (!chromium_) {
      GTEST_SKIP() << "chromium is not installed, so the browser tests cannot run "
                      "(tools/install-deps installs the Debian package `chromium`)";
    }
    node_ = FindOnPath("node");
    ASSERT_TRUE(node_.has_value()) << "node is not installed: run tools/install-deps";
    ASSERT_TRUE(fs::exists(fs::path(REGLO_CONSOLE_TEST_DIR) / "node_modules/playwright-core"))
        << "playwright-core is missing from tests/console/node_modules: run tools/install-deps "
           "(it runs `npm ci` there)";
    dir_ = reglo::testing::MakeTempDir("reglo_console_");
    ASSERT_FALSE(dir_.empty());
  }

  void TearDown() override {
    if (pid_ > 0) ::kill(pid_, SIGCONT);  // in case the script stopped it and did not resume it
    testing::KillAndReap(pid_);
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // Starts `reglo-hub serve` with these sources and waits until the admin port answers /healthz.
  // `extra`: more top-level config keys (e.g. "relay").
  void StartHub(const nlohmann::json& sources,
                const nlohmann::json& extra = nlohmann::json::object()) {
    port_ = testing::FreeLoopbackPort();
    ASSERT_GT(port_, 0);
    const nlohmann::json config = {
        {"store", "sqlite:" + (dir_ / "hub.db").string()},
        {"plugins_dir", REGLO_PLUGIN_DIR},
        {"engine",
         {{"default_interval_seconds", 3600},
          {"backoff_base_seconds", 1},
          {"backoff_cap_seconds", 2},
          {"watch_plugins", false},
          {"shutdown_timeout_seconds", 5}}},
        {"admin", {{"listen", "127.0.0.1:" + std::to_string(port_)}, {"token", kToken}}},
        {"sources", sources}};
    nlohmann::json with_extra = config;
    with_extra.update(extra);
    std::ofstream(dir_ / "hub.json") << with_extra.dump(2);

    pid_ =
        testing::SpawnLogged(REGLO_HUB_BINARY, {"--config", (dir_ / "hub.json").string(), "serve"},
                             (dir_ / "serve.log").string());
    ASSERT_GT(pid_, 0);
    bool exited = false;
    const bool answered = testing::WaitUntil(
        [&] {
          exited = ::waitpid(pid_, nullptr, WNOHANG) == pid_;
          return exited || HttpStatusLine(port_, "/healthz").find(" 200") != std::string::npos;
        },
        milliseconds(30'000), milliseconds(50));
    if (exited) {
      pid_ = -1;
      FAIL() << "serve exited before its admin port answered\n" << ServeLog();
    }
    ASSERT_TRUE(answered) << "the admin port " << port_ << " did not answer /healthz\n"
                          << ServeLog();
  }

  // Runs one scenario of console_test.mjs against the hub.
  testing::CommandOutput RunScenario(const std::string& scenario) {
    const fs::path artifacts = fs::path(REGLO_CONSOLE_ARTIFACTS);
    fs::create_directories(artifacts);
    const std::string command =
        "cd '" + std::string(REGLO_CONSOLE_TEST_DIR) +
        "' && REGLO_CONSOLE_URL='http://127.0.0.1:" + std::to_string(port_) +
        "/' REGLO_ADMIN_TOKEN='" + kToken + "' REGLO_ARTIFACTS='" + artifacts.string() +
        "' REGLO_HUB_PID=" + std::to_string(pid_) + " REGLO_CHROMIUM='" + chromium_->string() +
        "' '" + node_->string() + "' console_test.mjs " + scenario;
    std::error_code ignored;
    fs::remove(artifacts / (scenario + "-failure.png"), ignored);  // from an earlier failed run
    testing::CommandOutput out = testing::RunCommand(command);
    std::ofstream(artifacts / (scenario + ".log")) << out.text;
    return out;
  }

  void ExpectPassed(const testing::CommandOutput& out, const std::string& scenario) {
    EXPECT_EQ(out.exit_code, 0) << out.text << "\n--- serve log ---\n" << ServeLog();
    EXPECT_THAT(out.text, HasSubstr("console_test: " + scenario + " passed"));
    EXPECT_THAT(out.text, Not(HasSubstr("FAIL")));
  }

  std::string ServeLog() const { return testing::ReadFile(dir_ / "serve.log"); }

  static nlohmann::json SidaSource(const std::string& id, nlohmann::json faults,
                                   bool enabled = true) {
    return {{"id", id},
            {"company_id", "autoscuola-" + id},
            {"source_system", "sida"},
            {"connector", "sida_stub"},
            {"enabled", enabled},
            {"options",
             {{"system", "console-" + id},
              {"students", 4},
              {"changes", 8},
              {"page_size", 4},
              {"faults", std::move(faults)}}}};
  }

  // A csv source reading the students of export/allievi.csv (';'-separated, id column "id") with
  // these column mappings; birth dates, when mapped, as dd/mm/yyyy.
  nlohmann::json CsvStudentsSource(const std::string& id, const nlohmann::json& columns) const {
    return {{"id", id},
            {"company_id", "autoscuola-rossi"},
            {"source_system", "gestionale-csv"},
            {"connector", "csv"},
            {"options",
             {{"base_dir", (dir_ / "export").string()},
              {"delimiter", ";"},
              {"entities",
               {{"student",
                 {{"path", "allievi.csv"},
                  {"id_column", "id"},
                  {"columns", columns},
                  {"formats", {{"birthDate", "dd/mm/yyyy"}}}}}}}}}};
  }

  std::optional<fs::path> chromium_;
  std::optional<fs::path> node_;
  fs::path dir_;
  pid_t pid_ = -1;
  int port_ = -1;
};

TEST_F(ConsoleTest, EmptyHubAsksForTheTokenOnceAndShowsTheEmptyState) {
  ASSERT_NO_FATAL_FAILURE(StartHub(nlohmann::json::array()));
  ExpectPassed(RunScenario("empty"), "empty");
}

TEST_F(ConsoleTest, FailedSourceTurnsOkAfterItsFaultIsSwitchedOffAndRetryAndLogsAreMasked) {
  // A CSV export whose second row is shifted: its codice fiscale landed in the birth date column,
  // so the validation warning about birthDate quotes it (masked) in the run log.
  fs::create_directories(dir_ / "export");
  std::ofstream(dir_ / "export/allievi.csv")
      << "id;cognome;nome;codice_fiscale;data_nascita\n"
         "1;Ferrari;Giulia;FRRGLI06C54D643H;14/03/2006\n"
         "2;Russo;Alessandro;RSSLSN05S02D643W;RSSLSN05S02D643W\n";
  const nlohmann::json csv = CsvStudentsSource("csv-shifted", {{"nome", "firstName"},
                                                               {"cognome", "lastName"},
                                                               {"codice_fiscale", "fiscalCode"},
                                                               {"data_nascita", "birthDate"}});
  // The failing SIDA source is created by the script through the API: its settings are edited in
  // the console, and a config-file source's are read-only.
  ASSERT_NO_FATAL_FAILURE(StartHub(nlohmann::json::array({csv})));
  ExpectPassed(RunScenario("retry"), "retry");
}

TEST_F(ConsoleTest, TheConsoleSaysWhatIsWrongAndOffersOnlyWhatCanHelp) {
  // A misspelled connector, a healthy source to pause, and a CSV export whose third line has no
  // id (rejected: a dead letter with its origin).
  fs::create_directories(dir_ / "export");
  std::ofstream(dir_ / "export/allievi.csv") << "id;cognome;nome\n"
                                                "1;Ferrari;Giulia\n"
                                                ";Russo;Alessandro\n";
  nlohmann::json typo = SidaSource("typo", nlohmann::json::object());
  typo["connector"] = "csvv";
  const nlohmann::json csv =
      CsvStudentsSource("csv-rejects", {{"nome", "firstName"}, {"cognome", "lastName"}});
  ASSERT_NO_FATAL_FAILURE(
      StartHub(nlohmann::json::array({typo, SidaSource("calm", nlohmann::json::object()), csv})));
  ExpectPassed(RunScenario("problems"), "problems");
}

TEST_F(ConsoleTest, ThreeHundredSourcesRenderAndFilter) {
  nlohmann::json sources = nlohmann::json::array();
  for (int i = 0; i < 300; ++i) {
    char id[16];
    std::snprintf(id, sizeof(id), "src-%03d", i);
    // 30 paused (every 10th), 12 failing (every 25th from 3: never a paused one), the rest healthy.
    const bool paused = i % 10 == 0;
    const bool failing = i % 25 == 3;
    sources.push_back(SidaSource(id, {{"auth_error", failing}}, !paused));
  }
  ASSERT_NO_FATAL_FAILURE(StartHub(sources));
  ExpectPassed(RunScenario("many"), "many");
}

TEST_F(ConsoleTest, DeadDeliveriesAreRedeliveredFromTheDeliveriesView) {
  // Two attempts with no wait between them: a failing endpoint makes dead deliveries at once.
  ASSERT_NO_FATAL_FAILURE(
      StartHub(nlohmann::json::array({SidaSource("sida-ok", nlohmann::json::object())}),
               {{"relay", {{"retry_schedule_seconds", {0, 0}}, {"poll_interval_seconds", 0.1}}}}));
  ExpectPassed(RunScenario("deliveries"), "deliveries");
}

TEST_F(ConsoleTest, EachRoleSeesOnlyWhatItMayDoAndTheAuditViewListsAndFilters) {
  ASSERT_NO_FATAL_FAILURE(
      StartHub(nlohmann::json::array({SidaSource("calm", nlohmann::json::object())})));
  ExpectPassed(RunScenario("roles"), "roles");
}

TEST_F(ConsoleTest, AHubThatStopsAnsweringShowsTheBannerAndRecovers) {
  ASSERT_NO_FATAL_FAILURE(
      StartHub(nlohmann::json::array({SidaSource("sida-ok", nlohmann::json::object())})));
  ExpectPassed(RunScenario("down"), "down");
  // The script stopped the hub with SIGTERM: it exits on its own.
  const std::optional<int> status = testing::WaitForExit(pid_, milliseconds(15'000));
  ASSERT_TRUE(status.has_value()) << "serve did not exit after SIGTERM\n" << ServeLog();
  EXPECT_TRUE(WIFEXITED(*status)) << ServeLog();
}

}  // namespace
}  // namespace reglo
