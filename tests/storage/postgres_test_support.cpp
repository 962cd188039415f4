#include "postgres_test_support.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

namespace reglo::storage::testing {
namespace {

bool ExternalServer() {
  const char* env = std::getenv("REGLO_TEST_PG_URL");
  return env != nullptr && *env != '\0';
}

PGconn* Connect(const PostgresUrl& url) {
  std::vector<const char*> keys = {"host", "port", "dbname", "connect_timeout", "client_encoding"};
  const std::string port = std::to_string(url.port);
  std::vector<const char*> values = {url.host.c_str(), port.c_str(), url.database.c_str(), "5",
                                     "UTF8"};
  if (!url.user.empty()) {
    keys.push_back("user");
    values.push_back(url.user.c_str());
  }
  if (!url.password.empty()) {
    keys.push_back("password");
    values.push_back(url.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  return PQconnectdbParams(keys.data(), values.data(), 0);
}

}  // namespace

Result<PostgresUrl> TestServerUrl() {
  std::string url;
  if (ExternalServer()) {
    url = std::getenv("REGLO_TEST_PG_URL");
  } else {
    std::ifstream in(std::filesystem::path(REGLO_PG_TEST_STATE_DIR) / "url");
    if (!in || !std::getline(in, url) || url.empty()) {
      return Status::NotFound(
          "no PostgreSQL server for the tests: the CTest fixture pg_cluster_start "
          "(tools/pg-test-cluster start " REGLO_PG_TEST_STATE_DIR
          ") did not run or failed. Run the tests with ctest (make test), install the server "
          "with tools/install-deps (Debian package postgresql), or point the tests at an "
          "existing server with REGLO_TEST_PG_URL=postgres://user@host:port/db (a user allowed "
          "to CREATE DATABASE)");
    }
  }
  return ParsePostgresUrl(url);
}

bool UsingThrowawayCluster() {
  return !ExternalServer() &&
         std::filesystem::exists(std::filesystem::path(REGLO_PG_TEST_STATE_DIR) / "cluster");
}

Status RestartThrowawayCluster() {
  const std::string command =
      fmt::format("'{}' restart '{}'", REGLO_PG_TEST_CLUSTER_SCRIPT, REGLO_PG_TEST_STATE_DIR);
  const int rc = std::system(command.c_str());
  if (rc != 0) return Status::IoError(fmt::format("{} exited with {}", command, rc));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// RawConnection

RawConnection::RawConnection(const PostgresUrl& url) : conn_(Connect(url)) {
  if (PQstatus(conn_) != CONNECTION_OK) error_ = PQerrorMessage(conn_);
}

RawConnection::~RawConnection() {
  PQfinish(conn_);
}

Status RawConnection::Execute(const std::string& sql) {
  if (!error_.empty()) return Status::IoError(error_);
  PGresult* result = PQexec(conn_, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  Status out = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                   ? Status::Ok()
                   : Status::IoError(PQresultErrorMessage(result));
  PQclear(result);
  return out;
}

Result<std::string> RawConnection::QueryText(const std::string& sql) {
  if (!error_.empty()) return Status::IoError(error_);
  PGresult* result = PQexec(conn_, sql.c_str());
  Result<std::string> out = Status::IoError("no row");
  if (PQresultStatus(result) != PGRES_TUPLES_OK) {
    out = Status::IoError(PQresultErrorMessage(result));
  } else if (PQntuples(result) > 0 && !PQgetisnull(result, 0, 0)) {
    out = std::string(PQgetvalue(result, 0, 0));
  } else if (PQntuples(result) > 0) {
    out = std::string();  // NULL
  }
  PQclear(result);
  return out;
}

Result<int64_t> RawConnection::QueryInt(const std::string& sql) {
  Result<std::string> text = QueryText(sql);
  if (!text.ok()) return text.status();
  if (text->empty()) return int64_t{0};
  return static_cast<int64_t>(std::stoll(*text));
}

// ---------------------------------------------------------------------------------------------
// PostgresBackend

PostgresBackend::PostgresBackend() {
  Result<PostgresUrl> server = TestServerUrl();
  if (!server.ok()) {
    status_ = server.status();
    return;
  }
  server_ = *server;
  static std::atomic<int> counter{0};
  std::random_device random;
  url_ = server_;
  url_.database = fmt::format("reglo_test_{}_{}_{:08x}", ::getpid(), counter++, random());
  status_ = RawConnection(server_).Execute(fmt::format("CREATE DATABASE {}", url_.database));
  if (!status_.ok()) {
    status_ =
        status_.WithContext(fmt::format("creating the test database on {}", server_.Describe()));
  }
}

PostgresBackend::~PostgresBackend() {
  if (status_.ok()) {
    (void)RawConnection(server_).Execute(
        fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", url_.database));
  }
}

Result<std::unique_ptr<Store>> PostgresBackend::Open() {
  if (!status_.ok()) return status_;
  return OpenPostgresStore(url_);
}

Status PostgresBackend::ExecuteSql(const std::string& sql) {
  if (!status_.ok()) return status_;
  return RawConnection(url_).Execute(sql);
}

Result<int64_t> PostgresBackend::QueryInt(const std::string& sql) {
  if (!status_.ok()) return status_;
  return RawConnection(url_).QueryInt(sql);
}

Result<std::string> PostgresBackend::QueryText(const std::string& sql) {
  if (!status_.ok()) return status_;
  return RawConnection(url_).QueryText(sql);
}

Status PostgresBackend::BreakInsertsInto(const std::string& table) {
  if (!status_.ok()) return status_;
  return RawConnection(url_).Execute(fmt::format(
      "CREATE OR REPLACE FUNCTION reglo_test_break() RETURNS trigger LANGUAGE plpgsql AS "
      "$$BEGIN RAISE EXCEPTION 'injected test failure'; END$$; "
      "CREATE TRIGGER reglo_test_break_{0} BEFORE INSERT ON {0} "
      "FOR EACH ROW EXECUTE FUNCTION reglo_test_break()",
      table));
}

}  // namespace reglo::storage::testing
