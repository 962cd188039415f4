#include "reglo/sql/odbc.h"

#include <cstdio>

namespace reglo::sql {
namespace {

bool Ok(SQLRETURN rc) {
  return rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO;
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

void AppendPadded(unsigned value, int width, std::string* out) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%0*u", width, value);
  out->append(digits);
}

}  // namespace

Diagnostic ReadDiagnostic(SQLSMALLINT handle_type, SQLHANDLE handle) {
  SQLCHAR state[6] = {};
  SQLINTEGER native = 0;
  SQLCHAR message[1024] = {};
  SQLSMALLINT length = 0;
  Diagnostic diagnostic;
  if (Ok(SQLGetDiagRec(handle_type, handle, 1, state, &native, message, sizeof message, &length))) {
    diagnostic.state = reinterpret_cast<const char*>(state);
    diagnostic.message = reinterpret_cast<const char*>(message);
    // Drivers prefix "[vendor][driver]" and may add lines; the first line says what went wrong.
    while (!diagnostic.message.empty() && diagnostic.message.front() == '[') {
      const size_t close = diagnostic.message.find(']');
      if (close == std::string::npos) break;
      diagnostic.message.erase(0, close + 1);
    }
    if (size_t newline = diagnostic.message.find('\n'); newline != std::string::npos) {
      diagnostic.message.resize(newline);
    }
    while (!diagnostic.message.empty() &&
           (diagnostic.message.back() == ';' || diagnostic.message.back() == ' ')) {
      diagnostic.message.pop_back();
    }
  }
  if (diagnostic.message.empty()) diagnostic.message = "no diagnostic from the driver";
  return diagnostic;
}

sdk::Status Classify(const Diagnostic& d, const std::string& what) {
  const std::string text = what + ": " + d.message + " (SQLSTATE " + d.state + ")";
  const std::string& m = d.message;
  // PostgreSQL reports a refused login as 08001 with its server message; MySQL/SQL Server as 28000.
  if (d.state == "28000" || d.state == "28P01" || Contains(m, "password authentication failed") ||
      Contains(m, "authentication failed") || Contains(m, "Access denied") ||
      Contains(m, "Login failed") || Contains(m, "not permitted to log in") ||
      (Contains(m, "role \"") && Contains(m, "does not exist"))) {
    return sdk::Status::AuthError(text);
  }
  if (d.state == "42S02" || d.state == "42P01" || d.state == "42S22" || d.state == "42703" ||
      Contains(m, "no such table") || Contains(m, "no such column") ||
      Contains(m, "does not exist") || Contains(m, "Unknown column") ||
      Contains(m, "Invalid object name") || Contains(m, "Invalid column name")) {
    return sdk::Status::ConfigError(text);
  }
  if (d.state.starts_with("08") || d.state == "HYT00" || d.state == "HYT01" || d.state == "40001" ||
      d.state == "40P01" || d.state == "57P01" || Contains(m, "could not connect") ||
      Contains(m, "database is locked")) {
    return sdk::Status::Retry(text);
  }
  if (d.state == "IM002" || d.state == "IM003" || d.state.starts_with("42") ||
      Contains(m, "Can't open lib") || Contains(m, "Data source name not found")) {
    return sdk::Status::ConfigError(text);  // no such driver, or SQL the database refuses
  }
  return sdk::Status::Fatal(text);
}

ValueKind KindOfSqlType(SQLSMALLINT type) {
  switch (type) {
    case SQL_TINYINT:
    case SQL_SMALLINT:
    case SQL_INTEGER:
    case SQL_BIGINT: return ValueKind::kInteger;
    case SQL_TYPE_TIMESTAMP:
    case SQL_TIMESTAMP: return ValueKind::kTimestamp;
    case SQL_TYPE_DATE:
    case SQL_DATE: return ValueKind::kDate;
    default: return ValueKind::kText;
  }
}

std::string_view KindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kInteger: return "integer";
    case ValueKind::kTimestamp: return "timestamp";
    case ValueKind::kDate: return "date";
    case ValueKind::kText: break;
  }
  return "text";
}

std::optional<ValueKind> ParseKindName(std::string_view name) {
  for (ValueKind kind :
       {ValueKind::kText, ValueKind::kInteger, ValueKind::kTimestamp, ValueKind::kDate}) {
    if (KindName(kind) == name) return kind;
  }
  return std::nullopt;
}

bool ParseTimestamp(std::string_view text, SQL_TIMESTAMP_STRUCT* out) {
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  const std::string copy(text);
  int used = 0;
  if (std::sscanf(copy.c_str(), "%4u-%2u-%2u%n", &year, &month, &day, &used) != 3) return false;
  size_t pos = static_cast<size_t>(used);
  unsigned long fraction = 0;
  if (pos < copy.size() && (copy[pos] == 'T' || copy[pos] == ' ')) {
    if (std::sscanf(copy.c_str() + pos + 1, "%2u:%2u:%2u%n", &hour, &minute, &second, &used) != 3)
      return false;
    pos += 1 + static_cast<size_t>(used);
    if (pos < copy.size() && copy[pos] == '.') {
      int digits = 0;
      for (++pos; pos < copy.size() && copy[pos] >= '0' && copy[pos] <= '9'; ++pos) {
        if (digits < 9) fraction = fraction * 10 + static_cast<unsigned long>(copy[pos] - '0');
        ++digits;
      }
      for (; digits < 9; ++digits) fraction *= 10;
    }
  }
  if (pos != copy.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  *out = SQL_TIMESTAMP_STRUCT{static_cast<SQLSMALLINT>(year),    static_cast<SQLUSMALLINT>(month),
                              static_cast<SQLUSMALLINT>(day),    static_cast<SQLUSMALLINT>(hour),
                              static_cast<SQLUSMALLINT>(minute), static_cast<SQLUSMALLINT>(second),
                              static_cast<SQLUINTEGER>(fraction)};
  return true;
}

Connection::~Connection() {
  if (connected_) SQLDisconnect(dbc_);
  if (dbc_ != SQL_NULL_HDBC) SQLFreeHandle(SQL_HANDLE_DBC, dbc_);
  if (env_ != SQL_NULL_HENV) SQLFreeHandle(SQL_HANDLE_ENV, env_);
}

sdk::Status Connection::Open(const std::string& connection_string, uint64_t timeout_seconds) {
  if (!Ok(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env_))) {
    return sdk::Status::Fatal("connecting: unixODBC could not allocate an environment");
  }
  SQLSetEnvAttr(env_, SQL_ATTR_ODBC_VERSION, reinterpret_cast<SQLPOINTER>(SQL_OV_ODBC3), 0);
  if (!Ok(SQLAllocHandle(SQL_HANDLE_DBC, env_, &dbc_))) {
    return sdk::Status::Fatal("connecting: unixODBC could not allocate a connection");
  }
  SQLSetConnectAttr(dbc_, SQL_ATTR_LOGIN_TIMEOUT,
                    reinterpret_cast<SQLPOINTER>(static_cast<uintptr_t>(timeout_seconds)), 0);
  SQLSMALLINT out_length = 0;
  // The connection string holds the password: it goes to the driver only, never to a message.
  SQLRETURN rc = SQLDriverConnect(
      dbc_, nullptr, reinterpret_cast<SQLCHAR*>(const_cast<char*>(connection_string.c_str())),
      static_cast<SQLSMALLINT>(connection_string.size()), nullptr, 0, &out_length,
      SQL_DRIVER_NOPROMPT);
  if (!Ok(rc)) return Classify(ReadDiagnostic(SQL_HANDLE_DBC, dbc_), "connecting");
  connected_ = true;
  SQLCHAR dbms[64] = {};
  SQLSMALLINT dbms_length = 0;
  if (Ok(SQLGetInfo(dbc_, SQL_DBMS_NAME, dbms, sizeof dbms, &dbms_length))) {
    stored_text_ = std::string_view(reinterpret_cast<const char*>(dbms)).starts_with("SQLite");
  }
  // The connector only reads; a driver that knows read-only mode can use it.
  SQLSetConnectAttr(dbc_, SQL_ATTR_ACCESS_MODE, reinterpret_cast<SQLPOINTER>(SQL_MODE_READ_ONLY),
                    0);
  return sdk::Status::Ok();
}

Statement::~Statement() {
  if (stmt_ != SQL_NULL_HSTMT) SQLFreeHandle(SQL_HANDLE_STMT, stmt_);
}

sdk::Status Statement::Prepare(const std::string& sql, uint64_t timeout_seconds,
                               const std::string& what) {
  if (!Ok(SQLAllocHandle(SQL_HANDLE_STMT, connection_.handle(), &stmt_))) {
    return Classify(ReadDiagnostic(SQL_HANDLE_DBC, connection_.handle()), what);
  }
  if (timeout_seconds > 0) {
    SQLSetStmtAttr(stmt_, SQL_ATTR_QUERY_TIMEOUT,
                   reinterpret_cast<SQLPOINTER>(static_cast<uintptr_t>(timeout_seconds)), 0);
  }
  if (!Ok(SQLPrepare(stmt_, reinterpret_cast<SQLCHAR*>(const_cast<char*>(sql.c_str())),
                     static_cast<SQLINTEGER>(sql.size())))) {
    return Classify(ReadDiagnostic(SQL_HANDLE_STMT, stmt_), what);
  }
  size_t markers = 0;
  bool quoted = false;
  for (char c : sql) {
    if (c == '\'') quoted = !quoted;
    if (c == '?' && !quoted) ++markers;
  }
  parameters_.assign(markers, Parameter{});
  return sdk::Status::Ok();
}

sdk::Status Statement::Bind(size_t index, ValueKind kind, std::string_view value,
                            const std::string& what) {
  Parameter& p = parameters_.at(index);
  p.kind = kind;
  p.text.assign(value);
  SQLSMALLINT c_type = SQL_C_CHAR;
  SQLSMALLINT sql_type = SQL_VARCHAR;
  SQLULEN size = p.text.size() > 0 ? p.text.size() : 1;
  SQLSMALLINT digits = 0;
  SQLPOINTER data = p.text.data();
  p.indicator = static_cast<SQLLEN>(p.text.size());
  switch (kind) {
    case ValueKind::kInteger: {
      char* end = nullptr;
      p.integer = std::strtoll(p.text.c_str(), &end, 10);
      if (p.text.empty() || *end != '\0') return sdk::Status::Fatal(what + ": bad integer key");
      c_type = SQL_C_SBIGINT, sql_type = SQL_BIGINT, size = 19, data = &p.integer;
      p.indicator = 0;
      break;
    }
    case ValueKind::kTimestamp:
      if (!ParseTimestamp(p.text, &p.timestamp)) {
        return sdk::Status::Fatal(what + ": '" + p.text + "' is not a timestamp");
      }
      c_type = SQL_C_TYPE_TIMESTAMP, sql_type = SQL_TYPE_TIMESTAMP, size = 29, digits = 9;
      data = &p.timestamp, p.indicator = 0;
      break;
    case ValueKind::kDate: {
      SQL_TIMESTAMP_STRUCT ts{};
      if (!ParseTimestamp(p.text, &ts)) {
        return sdk::Status::Fatal(what + ": '" + p.text + "' is not a date");
      }
      p.date = SQL_DATE_STRUCT{ts.year, ts.month, ts.day};
      c_type = SQL_C_TYPE_DATE, sql_type = SQL_TYPE_DATE, size = 10, data = &p.date;
      p.indicator = 0;
      break;
    }
    case ValueKind::kText: break;
  }
  if (!Ok(SQLBindParameter(stmt_, static_cast<SQLUSMALLINT>(index + 1), SQL_PARAM_INPUT, c_type,
                           sql_type, size, digits, data, 0, &p.indicator))) {
    return Classify(ReadDiagnostic(SQL_HANDLE_STMT, stmt_), what);
  }
  return sdk::Status::Ok();
}

sdk::Status Statement::Execute(const std::string& what) {
  SQLRETURN rc = SQLExecute(stmt_);
  if (!Ok(rc) && rc != SQL_NO_DATA) return Classify(ReadDiagnostic(SQL_HANDLE_STMT, stmt_), what);
  if (!columns_.empty()) return sdk::Status::Ok();
  SQLSMALLINT count = 0;
  if (!Ok(SQLNumResultCols(stmt_, &count))) {
    return Classify(ReadDiagnostic(SQL_HANDLE_STMT, stmt_), what);
  }
  for (SQLSMALLINT i = 1; i <= count; ++i) {
    SQLCHAR name[256] = {};
    SQLSMALLINT name_length = 0, type = 0, digits = 0, nullable = 0;
    SQLULEN size = 0;
    if (!Ok(SQLDescribeCol(stmt_, static_cast<SQLUSMALLINT>(i), name, sizeof name, &name_length,
                           &type, &size, &digits, &nullable))) {
      return Classify(ReadDiagnostic(SQL_HANDLE_STMT, stmt_), what);
    }
    ValueKind kind = KindOfSqlType(type);
    if (connection_.stored_text() && kind != ValueKind::kInteger) kind = ValueKind::kText;
    columns_.push_back({reinterpret_cast<const char*>(name), type, kind});
  }
  return sdk::Status::Ok();
}

bool Statement::Fetch(sdk::Status* status, const std::string& what) {
  SQLRETURN rc = SQLFetch(stmt_);
  if (rc == SQL_NO_DATA) return false;
  if (!Ok(rc)) {
    *status = Classify(ReadDiagnostic(SQL_HANDLE_STMT, stmt_), what);
    return false;
  }
  return true;
}

sdk::Status Statement::Get(size_t index, std::optional<std::string_view>* value,
                           const std::string& what) {
  const Column& column = columns_.at(index);
  const auto number = static_cast<SQLUSMALLINT>(index + 1);
  SQLLEN indicator = 0;
  buffer_.clear();
  if (column.kind == ValueKind::kTimestamp || column.kind == ValueKind::kDate) {
    SQL_TIMESTAMP_STRUCT ts{};
    if (!Ok(SQLGetData(stmt_, number, SQL_C_TYPE_TIMESTAMP, &ts, sizeof ts, &indicator))) {
      return Classify(ReadDiagnostic(SQL_HANDLE_STMT, stmt_), what);
    }
    if (indicator == SQL_NULL_DATA) {
      value->reset();
      return sdk::Status::Ok();
    }
    AppendPadded(static_cast<unsigned>(ts.year), 4, &buffer_);
    buffer_ += '-';
    AppendPadded(ts.month, 2, &buffer_);
    buffer_ += '-';
    AppendPadded(ts.day, 2, &buffer_);
    if (column.kind == ValueKind::kTimestamp) {
      buffer_ += 'T';
      AppendPadded(ts.hour, 2, &buffer_);
      buffer_ += ':';
      AppendPadded(ts.minute, 2, &buffer_);
      buffer_ += ':';
      AppendPadded(ts.second, 2, &buffer_);
      if (ts.fraction != 0) {  // nanoseconds: kept whole, trailing zeros cut
        buffer_ += '.';
        AppendPadded(ts.fraction, 9, &buffer_);
        while (buffer_.back() == '0') buffer_.pop_back();
      }
    }
    *value = std::string_view(buffer_);
    return sdk::Status::Ok();
  }
  // Text in chunks: a long column arrives in several SQLGetData calls (01004, data truncated).
  char chunk[4096];
  while (true) {
    SQLRETURN rc = SQLGetData(stmt_, number, SQL_C_CHAR, chunk, sizeof chunk, &indicator);
    if (rc == SQL_NO_DATA) break;
    if (!Ok(rc)) return Classify(ReadDiagnostic(SQL_HANDLE_STMT, stmt_), what);
    if (indicator == SQL_NULL_DATA) {
      value->reset();
      return sdk::Status::Ok();
    }
    const size_t got = (indicator == SQL_NO_TOTAL || indicator >= static_cast<SQLLEN>(sizeof chunk))
                           ? sizeof chunk - 1
                           : static_cast<size_t>(indicator);
    buffer_.append(chunk, got);
    if (rc == SQL_SUCCESS) break;
  }
  if (column.type == SQL_BIT) {
    if (buffer_ == "1") buffer_ = "true";
    if (buffer_ == "0") buffer_ = "false";
  }
  *value = std::string_view(buffer_);
  return sdk::Status::Ok();
}

void Statement::Close() {
  SQLFreeStmt(stmt_, SQL_CLOSE);
}

}  // namespace reglo::sql
