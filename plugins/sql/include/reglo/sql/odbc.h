// A thin RAII layer over unixODBC for the `sql` connector: an environment + connection, one
// statement with typed parameters, rows read column by column as canonical text, and errors
// classified into the connector's categories from their SQLSTATE and message.
// Thread-safety: a Connection and its Statements are used by one thread at a time (the ABI's
// contract for one instance); nothing is shared between connections.
#pragma once

#include <sql.h>
#include <sqlext.h>

#include <cstdint>
#include <optional>
#include <reglo/connector.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace reglo::sql {

// The first diagnostic record of a handle: SQLSTATE and the driver's message (first line).
struct Diagnostic {
  std::string state;
  std::string message;
};
Diagnostic ReadDiagnostic(SQLSMALLINT handle_type, SQLHANDLE handle);

// Connection failures -> RETRY, refused credentials -> AUTH_ERROR, a missing table or column ->
// CONFIG_ERROR (the message names it), timeouts and deadlocks -> RETRY, else FATAL. `what` says
// what was being done ("connecting", "entities.student: reading").
sdk::Status Classify(const Diagnostic& diagnostic, const std::string& what);

// How a keyset value is bound back into the next page's query.
enum class ValueKind { kText, kInteger, kTimestamp, kDate };
ValueKind KindOfSqlType(SQLSMALLINT type);
std::string_view KindName(ValueKind kind);
std::optional<ValueKind> ParseKindName(std::string_view name);

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  sdk::Status Open(const std::string& connection_string, uint64_t timeout_seconds);
  SQLHDBC handle() const { return dbc_; }
  // SQLite has no date or time types: its values are the text that was stored, and a key bound
  // back as an ODBC timestamp would compare unequal to it ("...10:00:00" vs "...10:00:00.000").
  // There every column is read, and every key bound, as the stored text.
  bool stored_text() const { return stored_text_; }

 private:
  SQLHENV env_ = SQL_NULL_HENV;
  SQLHDBC dbc_ = SQL_NULL_HDBC;
  bool connected_ = false;
  bool stored_text_ = false;
};

// One prepared statement, re-executed with new parameter values (one per page).
class Statement {
 public:
  struct Column {
    std::string name;
    SQLSMALLINT type = 0;
    ValueKind kind = ValueKind::kText;
  };

  explicit Statement(Connection& connection) : connection_(connection) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  sdk::Status Prepare(const std::string& sql, uint64_t timeout_seconds, const std::string& what);
  // Binds parameter `index` (0-based) to `value` read as `kind`; the text is kept until the next
  // Bind of that index.
  sdk::Status Bind(size_t index, ValueKind kind, std::string_view value, const std::string& what);
  sdk::Status Execute(const std::string& what);
  // False at the end of the result set; *status is set on errors.
  bool Fetch(sdk::Status* status, const std::string& what);
  // Column `index`'s value as canonical text (dates YYYY-MM-DD, timestamps
  // YYYY-MM-DDTHH:MM:SS[.ffffff], booleans true/false, everything else as the driver renders it);
  // nullopt for NULL. The view stays valid until the next call.
  sdk::Status Get(size_t index, std::optional<std::string_view>* value, const std::string& what);
  void Close();
  const std::vector<Column>& columns() const { return columns_; }

 private:
  struct Parameter {
    ValueKind kind = ValueKind::kText;
    std::string text;
    int64_t integer = 0;
    SQL_TIMESTAMP_STRUCT timestamp{};
    SQL_DATE_STRUCT date{};
    SQLLEN indicator = 0;
  };

  Connection& connection_;
  SQLHSTMT stmt_ = SQL_NULL_HSTMT;
  std::vector<Parameter> parameters_;  // sized once at Prepare, so bound addresses never move
  std::vector<Column> columns_;
  std::string buffer_;
};

// Parses "YYYY-MM-DD[( |T)HH:MM:SS[.fraction]]" into ODBC's structs (for binding keyset values).
bool ParseTimestamp(std::string_view text, SQL_TIMESTAMP_STRUCT* out);

}  // namespace reglo::sql
