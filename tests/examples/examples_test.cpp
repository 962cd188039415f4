// The example schools of examples/ kept working: each one copied to a temp folder, its data made as
// its README says, its hub.json pointed at that copy (as tools/demo does), then `reglo-hub sync
// --once` as a process. The figures asserted are the ones the examples' READMEs document.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli_output.h"
#include "files.h"
#include "poll.h"
#include "process.h"
#include "run_command.h"
#include "sqlite_test_support.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using reglo::Status;
using reglo::testing::ReadFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const fs::path kExamples = fs::path(REGLO_SOURCE_DIR) / "examples";

// One row of the run summary `sync --once` prints for an entity.
struct Row {
  int records = 0, created = 0, updated = 0, unchanged = 0, warnings = 0, rejected = 0;
  bool operator==(const Row&) const = default;
};
std::ostream& operator<<(std::ostream& out, const Row& r) {
  return out << "{records " << r.records << ", created " << r.created << ", updated " << r.updated
             << ", unchanged " << r.unchanged << ", warnings " << r.warnings << ", rejected "
             << r.rejected << "}";
}

// entity -> its row, from the summary table of `sync --once` (host/app/src/commands.cpp).
std::map<std::string, Row> SummaryRows(const std::string& text) {
  static const std::regex row(
      R"((?:^|\n)  ([a-z]+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)(?=\n))");
  std::map<std::string, Row> rows;
  for (std::sregex_iterator it(text.begin(), text.end(), row), end; it != end; ++it) {
    const std::smatch& m = *it;
    if (m[1] == "total") continue;
    rows[m[1]] = {std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4]),
                  std::stoi(m[5]), std::stoi(m[7]), std::stoi(m[8])};
  }
  return rows;
}

// The config of an example with comments dropped, read like the hub reads it.
json ReadConfig(const fs::path& file) {
  return json::parse(ReadFile(file), nullptr, /*allow_exceptions=*/false,
                     /*ignore_comments=*/true);
}

// The rows of `select` (columns joined by '|') on the SQLite database `db`, one string a row.
std::vector<std::string> Query(const fs::path& db, const std::string& columns,
                               const std::string& rest) {
  auto text = reglo::storage::testing::SqliteRawConnection(db.string())
                  .QueryText("SELECT coalesce(group_concat(row, char(10)), '') FROM (SELECT " +
                             columns + " AS row " + rest + ")");
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  std::vector<std::string> rows;
  std::istringstream lines(text.ok() ? *text : "");
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  return rows;
}

void Execute(const fs::path& db, const std::string& sql) {
  Status status = reglo::storage::testing::SqliteRawConnection(db.string()).Execute(sql);
  ASSERT_TRUE(status.ok()) << status.ToString();
}

class ExampleSchools : public ::testing::Test {
 protected:
  void TearDown() override { reglo::testing::KillAndReap(server_, SIGTERM); }

  // Writes `config` into the temp folder with its store there and the build's plugins.
  std::string WriteConfig(json config) {
    config["store"] = "sqlite:" + (dir_.path() / "hub.db").string();
    config["plugins_dir"] = REGLO_PLUGIN_DIR;
    const fs::path file = dir_.path() / "hub.json";
    std::ofstream(file) << config.dump(2);
    return "--config " + file.string();
  }
  static reglo::testing::CommandOutput Hub(const std::string& args) {
    return reglo::testing::RunCommand(std::string(REGLO_HUB_BINARY) + " " + args);
  }

  reglo::testing::TempDir dir_{"reglo-examples-"};
  pid_t server_ = -1;
};

// examples/autoscuola-bianchi-db: the SQLite gestionale made from gestionale.sql, read by `sql`.
// Two students deliberately lack a codice fiscale and one contact each (NULL columns): the run
// succeeds with those four warnings (exit 3), documented in its README.
TEST_F(ExampleSchools, BianchiDatabaseSyncsWithItsDocumentedWarnings) {
  const fs::path db = dir_.path() / "bianchi-gestionale.db";
  Execute(db, ReadFile(kExamples / "autoscuola-bianchi-db" / "gestionale.sql"));
  json config = ReadConfig(kExamples / "autoscuola-bianchi-db" / "hub.json");
  ASSERT_FALSE(config.is_discarded());
  config["sources"][0]["options"]["connection_string"] = "Driver=SQLite3;Database=" + db.string();
  const std::string args = WriteConfig(config);

  auto first = Hub(args + " sync --once");
  EXPECT_EQ(first.exit_code, 3) << first.text;
  EXPECT_THAT(first.text, HasSubstr("succeeded_with_warnings"));
  EXPECT_EQ(SummaryRows(first.text), (std::map<std::string, Row>{{"student", {3, 3, 0, 0, 4, 0}},
                                                                 {"case", {3, 3, 0, 0, 0, 0}}}))
      << first.text;
  const fs::path store = dir_.path() / "hub.db";
  EXPECT_THAT(Query(store, "external_id || '|' || coalesce(warnings, '')",
                    "FROM students ORDER BY external_id"),
              ElementsAre("1|", R"(2|["student.fiscalCode: missing","student.phone: missing"])",
                          R"(3|["student.fiscalCode: missing","student.email: missing"])"));
  // The Italian statuses through `values`, to canonical ones.
  EXPECT_THAT(Query(store, "external_id || '|' || status", "FROM cases ORDER BY external_id"),
              ElementsAre("10|learner_permit", "11|open", "12|licensed"));

  // The README's second step: a changed row is read again, and only it.
  Execute(db,
          "UPDATE allievi SET email = 'g.bianchi@example.it', modificato = '2024-03-05 10:00:00' "
          "WHERE id = 1");
  auto second = Hub(args + " sync --once");
  EXPECT_EQ(second.exit_code, 0) << second.text;
  EXPECT_EQ(SummaryRows(second.text)["student"], (Row{1, 0, 1, 0, 0, 0})) << second.text;
  EXPECT_THAT(Query(store, "email", "FROM students WHERE external_id = '1'"),
              ElementsAre("g.bianchi@example.it"));
}

// examples/autoscuola-verdi-rest: its Node server on port 0, read by `http` with an API key and
// three pagination kinds; clean data (exit 0); the second pull asks only for recent changes.
TEST_F(ExampleSchools, VerdiRestApiSyncsAndThenReadsOnlyWhatChanged) {
  ASSERT_STRNE(REGLO_NODE_BINARY, "") << "node not found: run tools/install-deps";
  const fs::path example = kExamples / "autoscuola-verdi-rest";
  const fs::path data = dir_.path() / "gestionale.json";
  fs::copy_file(example / "data" / "gestionale.json", data);
  const fs::path log = dir_.path() / "server.log";
  server_ = reglo::testing::SpawnLogged(
      REGLO_NODE_BINARY, {(example / "server.js").string(), "--port", "0", "--data", data.string()},
      log.string());
  ASSERT_GT(server_, 0);
  const std::string listening = R"(listening on (http://127\.0\.0\.1:\d+/v1)\n)";
  ASSERT_TRUE(reglo::testing::WaitUntil([&] {
    return !reglo::testing::Match(ReadFile(log), listening).empty();
  })) << ReadFile(log);
  const std::string base_url = reglo::testing::Match(ReadFile(log), listening);

  json config = ReadConfig(example / "hub.json");
  ASSERT_FALSE(config.is_discarded());
  config["sources"][0]["options"]["base_url"] = base_url;
  const std::string args = WriteConfig(config);

  auto first = Hub(args + " sync --once");
  EXPECT_EQ(first.exit_code, 0) << first.text << ReadFile(log);
  EXPECT_EQ(SummaryRows(first.text),
            (std::map<std::string, Row>{{"student", {12, 12, 0, 0, 0, 0}},
                                        {"case", {12, 12, 0, 0, 0, 0}},
                                        {"appointment", {20, 20, 0, 0, 0, 0}}}))
      << first.text;
  // Every page of each pagination kind was asked for, with the key (else 401, a failed run).
  const std::string requests = ReadFile(log);
  for (const char* page :
       {"GET /v1/allievi?pagina=3&per_pagina=5\n", "GET /v1/pratiche?limite=4&cursore=OA\n",
        "GET /v1/agenda?limite=8&pagina=3\n"}) {
    EXPECT_THAT(requests, HasSubstr(page));
  }
  const fs::path store = dir_.path() / "hub.db";
  EXPECT_THAT(Query(store, "fiscal_code || '|' || birth_date || '|' || phone",
                    "FROM students WHERE external_id = '112'"),
              ElementsAre("SRTNCL05L17H223R|2005-07-17|+393384475261"));
  EXPECT_THAT(
      Query(store, "kind || '|' || starts_at || '|' || status || '|' || vehicle_external_id",
            "FROM appointments WHERE external_id IN ('AG-7306', 'AG-7320') "
            "ORDER BY external_id"),
      ElementsAre("lesson|2025-03-08T12:00:00Z|cancelled|1",
                  "practical_exam|2025-04-01T08:00:00Z|scheduled|1"));

  // A student changes in the gestionale (a new e-mail, aggiornato_il forward).
  std::string text = ReadFile(data);
  const std::string before = R"("email":"sofia.barbieri@outlook.it")";
  const size_t at = text.find(before);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, before.size(), R"("email":"sofia.barbieri@gmail.com")");
  const std::string stamp = R"("aggiornato_il":"2025-03-03T10:14:00Z")";
  ASSERT_NE(text.find(stamp, at), std::string::npos);
  text.replace(text.find(stamp, at), stamp.size(), R"("aggiornato_il":"2025-03-20T08:00:00Z")");
  std::ofstream(data, std::ios::trunc) << text;

  auto second = Hub(args + " sync --once");
  EXPECT_EQ(second.exit_code, 0) << second.text;
  // Only what changed since the newest aggiornato_il seen, less the 5-minute look-back: the
  // changed student, and the newest record of each entity once more (unchanged).
  EXPECT_EQ(SummaryRows(second.text),
            (std::map<std::string, Row>{{"student", {2, 0, 1, 1, 0, 0}},
                                        {"case", {1, 0, 0, 1, 0, 0}},
                                        {"appointment", {1, 0, 0, 1, 0, 0}}}))
      << second.text;
  EXPECT_THAT(ReadFile(log).substr(requests.size()),
              HasSubstr("GET /v1/allievi?modificati_dal=2025-03-12T10%3A12%3A00Z&pagina=1"));
  EXPECT_THAT(Query(store, "email", "FROM students WHERE external_id = '103'"),
              ElementsAre("sofia.barbieri@gmail.com"));
}

}  // namespace
