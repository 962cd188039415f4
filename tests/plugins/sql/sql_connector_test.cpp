// End-to-end tests of the built `sql` plugin through the C ABI, against real databases: SQLite
// files through libsqliteodbc, and the throwaway PostgreSQL cluster of the CTest fixture
// pg_cluster_start through odbc-postgresql.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <string>

#include "files.h"
#include "kill_resume.h"
#include "plugin_harness.h"
#include "postgres_test_support.h"
#include "run_command.h"
#include "temp_dir.h"

namespace reglo::sql {
namespace {

using nlohmann::json;
using testing::Host;
using testing::Plugin;
using testing::TempDir;

void Sqlite(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

class SqlConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.path().string() + "/school.db";
    // 25 students, ids 1..25; ids 1..12 share one updated_at, so pages of 5 split a tie.
    Sqlite(db_,
           "CREATE TABLE alunni(id INTEGER PRIMARY KEY, nome TEXT, cognome TEXT, nato_il TEXT, "
           "stato TEXT, aggiornato TIMESTAMP NOT NULL);"
           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25) "
           "INSERT INTO alunni SELECT i, 'Nome' || i, 'Rossi', '05/03/2001', 'ATTIVO', "
           "CASE WHEN i <= 12 THEN '2024-03-01 10:00:00' ELSE printf('2024-03-02 10:00:%02d', i) "
           "END FROM n;");
  }

  json Config(json entity = nullptr) const {
    if (entity.is_null()) {
      entity = {
          {"table", "alunni"},
          {"id_column", "id"},
          {"updated_at_column", "aggiornato"},
          {"columns", {{"nome", "firstName"}, {"cognome", "lastName"}, {"nato_il", "birthDate"}}},
          {"formats", {{"birthDate", "dd/mm/yyyy"}}},
          {"values", {{"stato", {{"attivo", "active"}}}}}};
    }
    return {{"connection_string", "Driver=SQLite3;Database={base_dir}/school.db"},
            {"base_dir", dir_.path().string()},
            {"page_size", 5},
            {"entities", {{"student", entity}}}};
  }

  TempDir dir_;
  std::string db_;
  Plugin plugin_{REGLO_SQL_PLUGIN_PATH};
};

TEST_F(SqlConnectorTest, PagesOnUpdatedAtAndIdWithOneCheckpointPerPageAcrossTies) {
  void* instance = plugin_.Create(Config());
  ASSERT_NE(instance, nullptr);
  Host host;
  ASSERT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_OK) << host.error;
  // Every row once, in (updated_at, id) order, although 12 rows share one updated_at.
  ASSERT_EQ(host.records.size(), 25u);
  for (size_t i = 0; i < host.records.size(); ++i) {
    EXPECT_EQ(host.records[i].external_id, std::to_string(i + 1));
  }
  ASSERT_EQ(host.checkpoints.size(), 5u);
  for (const auto& [cursor, count] : host.checkpoints) EXPECT_EQ(count, 5u);
  EXPECT_EQ(host.records[0].updated_at, "2024-03-01 10:00:00");

  // The mapping is the CSV connector's: renames, date formats, value maps, pass-through.
  std::vector<testing::CapturedRecord> mapped = plugin_.Map(instance, host.records[0]);
  ASSERT_EQ(mapped.size(), 1u);
  EXPECT_EQ(mapped[0].Get("firstName"), "Nome1");
  EXPECT_EQ(mapped[0].Get("birthDate"), "2001-03-05");
  EXPECT_EQ(mapped[0].Get("stato"), "active");
  EXPECT_FALSE(mapped[0].Has("id"));
  EXPECT_FALSE(mapped[0].Has("aggiornato"));
}

TEST_F(SqlConnectorTest, ResumingFromEachCheckpointGivesExactlyTheRowsAfterIt) {
  void* instance = plugin_.Create(Config());
  Host full;
  ASSERT_EQ(plugin_.Pull(instance, "student", "", full), REGLO_OK) << full.error;
  for (size_t c = 0; c < full.checkpoints.size(); ++c) {
    Host resumed;
    ASSERT_EQ(plugin_.Pull(instance, "student", full.checkpoints[c].first, resumed), REGLO_OK);
    const std::vector<std::string> all = full.Ids();
    EXPECT_EQ(resumed.Ids(), std::vector<std::string>(all.begin() + 5 * (c + 1), all.end()))
        << "from checkpoint " << c;
  }
}

TEST_F(SqlConnectorTest, AChangedRowIsPulledAgainAfterTheFinalCursor) {
  void* instance = plugin_.Create(Config());
  Host first;
  ASSERT_EQ(plugin_.Pull(instance, "student", "", first), REGLO_OK);
  Sqlite(db_, "UPDATE alunni SET nome = 'Giulia', aggiornato = '2024-04-01 08:00:00' WHERE id = 3");
  Host second;
  ASSERT_EQ(plugin_.Pull(instance, "student", first.FinalCursor(), second), REGLO_OK);
  ASSERT_EQ(second.Ids(), std::vector<std::string>{"3"});
  EXPECT_EQ(second.records[0].Get("nome"), "Giulia");
  Host third;
  ASSERT_EQ(plugin_.Pull(instance, "student", second.FinalCursor(), third), REGLO_OK);
  EXPECT_TRUE(third.records.empty());
  EXPECT_EQ(third.FinalCursor(), second.FinalCursor());  // confirmed, not lost
}

TEST_F(SqlConnectorTest, AQueryWithSinceIsPagedLikeATable) {
  json entity = {{"query",
                  "SELECT id AS codice, nome, aggiornato FROM alunni WHERE aggiornato >= :since "
                  "AND nome <> ':since'"},
                 {"id_column", "codice"},
                 {"updated_at_column", "aggiornato"},
                 {"columns", {{"nome", "firstName"}}}};
  void* instance = plugin_.Create(Config(entity));
  ASSERT_NE(instance, nullptr);
  Host host;
  ASSERT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_OK) << host.error;
  EXPECT_EQ(host.records.size(), 25u);
  Host resumed;
  ASSERT_EQ(plugin_.Pull(instance, "student", host.checkpoints[2].first, resumed), REGLO_OK)
      << resumed.error;
  EXPECT_EQ(resumed.records.size(), 10u);
  EXPECT_EQ(resumed.records.front().external_id, "16");
}

TEST_F(SqlConnectorTest, TextThatIsNotUtf8IsRepairedWithAWarning) {
  Sqlite(db_, "UPDATE alunni SET cognome = CAST(X'4E6963F2' AS TEXT) WHERE id = 1");
  void* instance = plugin_.Create(Config());
  Host host;
  ASSERT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_OK);
  EXPECT_EQ(host.records[0].Get("cognome"), "Nic\xEF\xBF\xBD");
  ASSERT_EQ(host.warnings.size(), 1u);
  EXPECT_EQ(host.warnings[0].first, "alunni id=1");
}

TEST_F(SqlConnectorTest, AMissingTableOrColumnIsAConfigErrorNamingIt) {
  json entity = Config()["entities"]["student"];
  entity["table"] = "studenti";
  void* instance = plugin_.Create(Config(entity));
  Host host;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_CONFIG_ERROR);
  EXPECT_NE(host.error.find("entities.student"), std::string::npos) << host.error;
  EXPECT_NE(host.error.find("studenti"), std::string::npos) << host.error;

  entity["table"] = "alunni";
  entity["updated_at_column"] = "modificato";
  instance = plugin_.Create(Config(entity));
  Host column;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", column), REGLO_CONFIG_ERROR);
  EXPECT_NE(column.error.find("modificato"), std::string::npos) << column.error;
}

TEST_F(SqlConnectorTest, ConfigErrorsNameTheKey) {
  auto error_of = [&](const json& config) { return plugin_.ConfigError(config); };

  json config = Config();
  config.erase("connection_string");
  EXPECT_EQ(error_of(config).rfind("connection_string: required", 0), 0u);
  config = Config();
  config["connection_string"] = "Driver=SQLite3;Database=x;PWD=secret";
  EXPECT_EQ(error_of(config).rfind("connection_string: holds a password", 0), 0u);
  config = Config();
  config["entities"]["student"]["query"] = "SELECT 1";
  EXPECT_EQ(error_of(config).rfind("entities.student: give exactly one of table and query", 0), 0u);
  config = Config();
  config["entities"]["student"]["table"] = "alunni; DROP TABLE alunni";
  EXPECT_EQ(error_of(config).rfind("entities.student.table:", 0), 0u);
  config = Config();
  config["entities"]["student"]["id_column"] = "id)--";
  EXPECT_EQ(error_of(config).rfind("entities.student.id_column:", 0), 0u);
  config = Config();
  config["password_env"] = "REGLO_TEST_SURELY_UNSET_VARIABLE";
  EXPECT_EQ(error_of(config),
            "password_env: the environment variable REGLO_TEST_SURELY_UNSET_VARIABLE is not set");
  config = Config();
  config["entities"]["student"]["formats"] = {{"birthDate", "dd/qq/yyyy"}};
  EXPECT_EQ(error_of(config).rfind("entities.student.formats.birthDate:", 0), 0u);
  config = Config();
  config["page_size"] = 0;
  EXPECT_EQ(error_of(config).rfind("page_size:", 0), 0u);
}

TEST_F(SqlConnectorTest, AMissingDriverIsAConfigError) {
  json config = Config();
  config["connection_string"] = "Driver=NoSuchOdbcDriver;Database=x";
  void* instance = plugin_.Create(config);
  Host host;
  EXPECT_EQ(plugin_.Authenticate(instance, host), REGLO_CONFIG_ERROR) << host.error;
  EXPECT_NE(host.error.find("connecting"), std::string::npos);
}

TEST_F(SqlConnectorTest, StopsPromptlyWhenAsked) {
  void* instance = plugin_.Create(Config());
  Host host;
  host.stop_after = 7;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_RETRY);
  EXPECT_EQ(host.records.size(), 7u);
  EXPECT_EQ(host.checkpoints.size(), 1u);
}

// `reglo-hub sync --once` killed with SIGKILL mid-pull, then run again: every row stored once, no
// event twice.
TEST_F(SqlConnectorTest, KilledMidPullTheNextSyncResumesWithEveryRecordOnceAndNoEventTwice) {
  Sqlite(db_,
         "WITH RECURSIVE n(i) AS (SELECT 26 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) "
         "INSERT INTO alunni SELECT i, 'Nome' || i, 'Rossi', '05/03/2001', 'ATTIVO', "
         "printf('2024-03-03 %02d:%02d:%02d', i / 3600 % 24, i / 60 % 60, i % 60) FROM n;");
  json options = Config();
  options["page_size"] = 200;
  testing::KillMidPullThenResume("sql", options, 60000);
}

// The config of the database-server tests: `table` (id, updated_at, nome, nato_il) in pages of 4.
json ServerTableConfig(const std::string& connection_string, const std::string& table) {
  return {{"connection_string", connection_string},
          {"page_size", 4},
          {"entities",
           {{"student",
             {{"table", table},
              {"id_column", "id"},
              {"updated_at_column", "updated_at"},
              {"columns", {{"nome", "firstName"}, {"nato_il", "birthDate"}}}}}}}};
}

// Pulls the ten-row table both server tests make (ids 1..10, ties of five rows on updated_at
// 10:00:00.123456 + id / 5 s, 'Niccolò <id>', a date, 12.50, a NULL note) in pages of four:
// canonical text forms, NULL absent, and resuming inside a tie loses nothing.
void ExpectTypesAsCanonicalTextAndTiesSplit(Plugin& plugin, const json& config) {
  void* instance = plugin.Create(config);
  ASSERT_NE(instance, nullptr);
  Host host;
  ASSERT_EQ(plugin.Pull(instance, "student", "", host), REGLO_OK) << host.error;
  ASSERT_EQ(host.records.size(), 10u);
  EXPECT_EQ(host.checkpoints.size(), 3u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(host.records[i].external_id, std::to_string(i + 1));
  const testing::CapturedRecord& first = host.records[0];
  EXPECT_EQ(first.updated_at, "2024-03-01T10:00:00.123456");
  EXPECT_EQ(first.Get("nome"), "Niccolò 1");
  EXPECT_EQ(first.Get("nato_il"), "2001-03-05");
  EXPECT_EQ(first.Get("importo"), "12.50");
  EXPECT_TRUE(first.Has("nota"));
  EXPECT_EQ(first.Get("nota"), std::nullopt);  // NULL is absent, not ""
  // Resuming from the middle checkpoint (inside the tie at 10:00:01.123456) loses nothing.
  Host resumed;
  ASSERT_EQ(plugin.Pull(instance, "student", host.checkpoints[1].first, resumed), REGLO_OK);
  EXPECT_EQ(resumed.Ids(), (std::vector<std::string>{"9", "10"}));
}

// PostgreSQL through odbc-postgresql, on the fixture's throwaway cluster.
class SqlPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = storage::testing::TestServerUrl();
    ASSERT_TRUE(url.ok()) << url.status().message();
    url_ = *url;
    raw_ = std::make_unique<storage::testing::RawConnection>(url_);
    table_ = "sql_connector_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : table_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ASSERT_TRUE(raw_->Execute("DROP TABLE IF EXISTS " + table_).ok());
  }
  void TearDown() override {
    if (raw_) (void)raw_->Execute("DROP TABLE IF EXISTS " + table_);
  }

  json Config(const std::string& user = "", int port = 0) const {
    return ServerTableConfig("Driver={PostgreSQL Unicode};Server=" + url_.host +
                                 ";Port=" + std::to_string(port != 0 ? port : url_.port) +
                                 ";Database=" + url_.database +
                                 ";Uid=" + (user.empty() ? url_.user : user),
                             table_);
  }

  storage::PostgresUrl url_;
  std::unique_ptr<storage::testing::RawConnection> raw_;
  std::string table_;
  Plugin plugin_{REGLO_SQL_PLUGIN_PATH};
};

TEST_F(SqlPostgresTest, TypesBecomeCanonicalTextAndPagesSplitTies) {
  ASSERT_TRUE(
      raw_->Execute("CREATE TABLE " + table_ +
                    "(id bigint PRIMARY KEY, nome text, nato_il date, importo numeric(10,2),"
                    " attivo boolean, nota text, updated_at timestamp NOT NULL)")
          .ok());
  ASSERT_TRUE(raw_->Execute("INSERT INTO " + table_ +
                            " SELECT i, 'Niccolò ' || i, date '2001-03-05', 12.5, i % 2 = 0, NULL,"
                            " timestamp '2024-03-01 10:00:00.123456' + (i / 5) * interval '1 s'"
                            " FROM generate_series(1, 10) i")
                  .ok());
  ExpectTypesAsCanonicalTextAndTiesSplit(plugin_, Config());
}

TEST_F(SqlPostgresTest, ARefusedLoginIsAnAuthError) {
  ASSERT_TRUE(
      raw_->Execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                    "'reglo_nologin') THEN CREATE ROLE reglo_nologin NOLOGIN; END IF; END $$")
          .ok());
  void* instance = plugin_.Create(Config("reglo_nologin"));
  Host host;
  EXPECT_EQ(plugin_.Authenticate(instance, host), REGLO_AUTH_ERROR) << host.error;
}

TEST_F(SqlPostgresTest, AServerThatIsDownIsRetried) {
  // A port nothing listens on: connection refused.
  void* instance = plugin_.Create(Config("", 1));
  Host host;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_RETRY) << host.error;
  EXPECT_NE(host.error.find("connecting"), std::string::npos);
}

TEST_F(SqlPostgresTest, AMissingTableIsAConfigErrorNamingIt) {
  void* instance = plugin_.Create(Config());
  Host host;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_CONFIG_ERROR);
  EXPECT_NE(host.error.find(table_), std::string::npos) << host.error;
}

// MariaDB through odbc-mariadb, on the fixture's throwaway server (tools/mariadb-test-server; it
// lets any user in, so a refused login cannot be shown here: PostgreSQL's test covers that path).
class SqlMariaDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = reglo::testing::ReadFile(std::string(REGLO_MARIADB_STATE_DIR) + "/port");
    while (!port_.empty() && port_.back() == '\n') port_.pop_back();
    ASSERT_FALSE(port_.empty()) << "no MariaDB test server (the mariadb_server fixture)";
    table_ = "sql_connector_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(Sql("DROP TABLE IF EXISTS " + table_));
  }
  void TearDown() override { (void)Sql("DROP TABLE IF EXISTS " + table_); }

  // Runs `sql` with the mariadb client; false (with the output in the test log) when it fails.
  bool Sql(const std::string& sql) const {
    const auto ran =
        reglo::testing::RunCommand("mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P " + port_ +
                                   " -u reglo reglo_test -e \"" + sql + "\" 2>&1");
    if (ran.exit_code != 0) ADD_FAILURE() << sql << ": " << ran.text;
    return ran.exit_code == 0;
  }

  json Config() const {
    return ServerTableConfig("Driver={MariaDB Unicode};Server=127.0.0.1;Port=" + port_ +
                                 ";Database=reglo_test;Uid=reglo",
                             table_);
  }

  std::string port_;
  std::string table_;
  Plugin plugin_{REGLO_SQL_PLUGIN_PATH};
};

TEST_F(SqlMariaDbTest, TypesBecomeCanonicalTextAndPagesSplitTies) {
  ASSERT_TRUE(Sql("CREATE TABLE " + table_ +
                  "(id BIGINT PRIMARY KEY, nome VARCHAR(40), nato_il DATE, importo DECIMAL(10,2),"
                  " nota TEXT, updated_at DATETIME(6) NOT NULL) CHARACTER SET utf8mb4"));
  ASSERT_TRUE(Sql("INSERT INTO " + table_ +
                  " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)"
                  " SELECT i, CONCAT('Niccolò ', i), DATE '2001-03-05', 12.5, NULL,"
                  " TIMESTAMP '2024-03-01 10:00:00.123456' + INTERVAL (i DIV 5) SECOND FROM n"));
  ExpectTypesAsCanonicalTextAndTiesSplit(plugin_, Config());
}

TEST_F(SqlMariaDbTest, AMissingTableIsAConfigErrorNamingIt) {
  void* instance = plugin_.Create(Config());
  Host host;
  EXPECT_EQ(plugin_.Pull(instance, "student", "", host), REGLO_CONFIG_ERROR);
  EXPECT_NE(host.error.find(table_), std::string::npos) << host.error;
}

}  // namespace
}  // namespace reglo::sql
