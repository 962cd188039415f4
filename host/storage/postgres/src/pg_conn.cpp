#include "pg_conn.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <utility>

namespace reglo::storage::postgres {
namespace {

void PutInt32(std::string& out, size_t at, uint32_t value) {
  out[at] = static_cast<char>(value >> 24);
  out[at + 1] = static_cast<char>(value >> 16);
  out[at + 2] = static_cast<char>(value >> 8);
  out[at + 3] = static_cast<char>(value);
}

void AppendInt32(std::string& out, uint32_t value) {
  const size_t at = out.size();
  out.resize(at + 4);
  PutInt32(out, at, value);
}

void AppendInt64(std::string& out, uint64_t value) {
  AppendInt32(out, static_cast<uint32_t>(value >> 32));
  AppendInt32(out, static_cast<uint32_t>(value));
}

// libpq messages may span lines ("...failed: Connection refused\n\tIs the server running...");
// one line reads better in a status.
std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

bool IsConnectionState(std::string_view state) {
  // Class 08: connection exception; 57P01-57P03: the server is shutting down or starting up.
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// BinaryFields, ArrayBuilder, CopyRows, Params, Rows

void BinaryFields::Add(std::string_view value) {
  AppendInt32(bytes_, static_cast<uint32_t>(value.size()));
  bytes_.append(value);
  ++fields_;
}

void BinaryFields::AddNull() {
  AppendInt32(bytes_, 0xFFFFFFFFu);  // length -1
  has_null_ = true;
  ++fields_;
}

void BinaryFields::AddInt(int64_t value) {
  AppendInt32(bytes_, 8);
  AppendInt64(bytes_, static_cast<uint64_t>(value));
  ++fields_;
}

std::string BinaryFields::TakeBytes() {
  std::string out = std::move(bytes_);
  bytes_ = header_;
  fields_ = 0;
  has_null_ = false;
  return out;
}

// The header is a gap that Finish fills in: ndim, has-null flag, element type, then the one
// dimension's length and lower bound.
ArrayBuilder::ArrayBuilder(Oid element_type)
    : BinaryFields(std::string(5 * sizeof(int32_t), '\0')), element_type_(element_type) {}

std::string ArrayBuilder::Finish() {
  if (fields_ == 0) {
    // No dimensions: ndim 0, no flags, the element type.
    std::string out(12, '\0');
    PutInt32(out, 8, element_type_);
    return out;
  }
  PutInt32(bytes_, 0, 1);
  PutInt32(bytes_, 4, has_null_ ? 1 : 0);
  PutInt32(bytes_, 8, element_type_);
  PutInt32(bytes_, 12, static_cast<uint32_t>(fields_));
  PutInt32(bytes_, 16, 1);
  return TakeBytes();
}

// COPY binary: a signature, flags and a header extension length (none), then per row its field
// count and each field as a length (-1: NULL) and bytes, then a field count of -1.
constexpr std::string_view kCopySignature{"PGCOPY\n\377\r\n\0", 11};

CopyRows::CopyRows(int columns)
    : BinaryFields(std::string(kCopySignature) + std::string(8, '\0')), columns_(columns) {}

void CopyRows::StartRow() {
  const size_t at = bytes_.size();
  bytes_.resize(at + 2);
  bytes_[at] = static_cast<char>(columns_ >> 8);
  bytes_[at + 1] = static_cast<char>(columns_);
  ++rows_;
}

std::string CopyRows::Finish() {
  bytes_.append(2, '\xFF');  // field count -1
  rows_ = 0;
  return TakeBytes();
}

Params& Params::Add(Oid type, std::string bytes, int format) {
  const std::string& stored = storage_.emplace_back(std::move(bytes));
  types_.push_back(type);
  values_.push_back(stored.data());
  lengths_.push_back(static_cast<int>(stored.size()));
  formats_.push_back(format);
  return *this;
}

Params& Params::Text(std::string_view value) {
  return Add(kTextOid, std::string(value), 0);
}

Params& Params::Int(int64_t value) {
  return Add(kInt8Oid, std::to_string(value), 0);
}

Params& Params::Bytes(std::string_view value) {
  return Add(kByteaOid, std::string(value), 1);
}

Params& Params::Null() {
  types_.push_back(kTextOid);
  values_.push_back(nullptr);
  lengths_.push_back(0);
  formats_.push_back(0);
  return *this;
}

Params& Params::Array(ArrayBuilder& array) {
  const Oid type = array.array_type();
  return Add(type, array.Finish(), 1);
}

int64_t Rows::Int(int row, int column) const {
  const std::string_view text = Text(row, column);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string Rows::Bytes(int row, int column) const {
  std::string_view text = Text(row, column);
  if (text.substr(0, 2) != "\\x") return std::string(text);
  text.remove_prefix(2);
  const auto digit = [](char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;  // PostgreSQL writes 0-9a-f
  };
  std::string bytes(text.size() / 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(digit(text[2 * i]) << 4 | digit(text[2 * i + 1]));
  }
  return bytes;
}

std::string RowsCursor::Bytes(int column) const {
  return rows_.Bytes(row_, column);
}

double RowsCursor::Double(int column) const {
  return IsNull(column) ? 0.0 : std::strtod(String(column).c_str(), nullptr);
}

int64_t Rows::Affected() const {
  if (!result_) return 0;
  const char* text = PQcmdTuples(result_.get());
  int64_t value = 0;
  std::from_chars(text, text + std::char_traits<char>::length(text), value);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Conn

Result<std::unique_ptr<Conn>> Conn::Connect(const PostgresUrl& url) {
  std::vector<std::pair<std::string, std::string>> settings;
  const auto set_default = [&](const char* key, std::string value) {
    for (const auto& [name, _] : url.params) {
      if (name == key) return;
    }
    settings.emplace_back(key, std::move(value));
  };
  settings.emplace_back("host", url.host);
  settings.emplace_back("port", std::to_string(url.port));
  settings.emplace_back("dbname", url.database);
  if (!url.user.empty()) settings.emplace_back("user", url.user);
  if (!url.password.empty()) {
    settings.emplace_back("password", url.password);
  } else if (const char* env = std::getenv("REGLO_PG_PASSWORD"); env != nullptr && *env != '\0') {
    settings.emplace_back("password", env);
  }
  // Never hang: bounded connect, and a dead server (no RST) is noticed within about a minute.
  set_default("connect_timeout", "5");
  set_default("keepalives", "1");
  set_default("keepalives_idle", "30");
  set_default("keepalives_interval", "10");
  set_default("keepalives_count", "3");
  set_default("tcp_user_timeout", "60000");
  set_default("application_name", "reglo-hub");
  settings.emplace_back("client_encoding", "UTF8");
  for (const auto& param : url.params) settings.push_back(param);

  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [key, value] : settings) {
    keywords.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);

  const std::string description = url.Describe();
  PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/0);
  if (conn == nullptr) {
    return Status::IoError(
        fmt::format("cannot connect to PostgreSQL ({}): out of memory", description));
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    Status status = Status::IoError(fmt::format("cannot connect to PostgreSQL ({}): {}",
                                                description, OneLine(PQerrorMessage(conn))));
    PQfinish(conn);
    return status;
  }
  return std::unique_ptr<Conn>(new Conn(conn, description));
}

Conn::~Conn() {
  PQfinish(conn_);
}

bool Conn::Poll() {
  // libpq keeps its socket non-blocking: this only collects bytes already received. A closed
  // socket (EOF) marks the connection bad; a termination notice is consumed and dropped.
  // A terminated session sends its FATAL message, then closes: the first read collects the
  // message, the second finds the end of the stream.
  for (int read = 0; read < 2 && !Broken(); ++read) {
    if (PQconsumeInput(conn_) == 0) break;
    while (PGresult* pending = PQgetResult(conn_)) PQclear(pending);
  }
  return !Broken();
}

Status Conn::Reconnect() {
  prepared_.clear();  // they belonged to the lost session
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Status::Retryable(fmt::format("cannot reconnect to PostgreSQL ({}): {}", description_,
                                         OneLine(PQerrorMessage(conn_))));
  }
  return Status::Ok();
}

Status Conn::Error(const PGresult* result, std::string_view what) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state ? state : "";
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const std::string message = primary ? OneLine(primary) : OneLine(PQerrorMessage(conn_));
  if (PQstatus(conn_) != CONNECTION_OK || IsConnectionState(last_sqlstate_)) {
    return Status::Retryable(fmt::format("postgres: lost the connection ({}) while {}: {}",
                                         description_, what, message));
  }
  const std::string text =
      last_sqlstate_.empty()
          ? fmt::format("postgres: {} while {}", message, what)
          : fmt::format("postgres: {} (SQLSTATE {}) while {}", message, last_sqlstate_, what);
  // Serialization failures and deadlocks: the server rolled back, a new attempt may succeed.
  // So may a lock wait that timed out (55P03) and class 53 (insufficient resources: disk full,
  // too many connections).
  if (LastFailureIsConflict() || last_sqlstate_ == "55P03" || last_sqlstate_.starts_with("53")) {
    return Status::Retryable(text);
  }
  return Status::IoError(text);
}

Status Conn::Exec(std::string_view sql, std::string_view what) {
  const std::string text(sql);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn_, text.c_str()), &PQclear);
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    return Status::Ok();
  }
  return Error(result.get(), what);
}

Result<Rows> Conn::Query(const std::string& sql, const Params& params, std::string_view what) {
  REGLO_RETURN_IF_ERROR(Send(sql, params, what));
  return Collect(what);
}

Status Conn::Send(const std::string& sql, const Params& params, std::string_view what) {
  // Each statement text is parsed and planned once per connection (a batch's statements are
  // the same every time; planning them was a tenth of the server's work on a cold load).
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    const std::string name = fmt::format("reglo_{}", prepared_.size());
    std::unique_ptr<PGresult, decltype(&PQclear)> prepared(
        PQprepare(conn_, name.c_str(), sql.c_str(), params.count(), params.types()), &PQclear);
    if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return Error(prepared.get(), what);
    }
    it = prepared_.emplace(sql, name).first;
  }
  // In blocking mode (the default) this returns once the whole statement is handed to the
  // kernel; the server starts on it meanwhile.
  if (PQsendQueryPrepared(conn_, it->second.c_str(), params.count(), params.values(),
                          params.lengths(), params.formats(), /*resultFormat=*/0) == 1) {
    return Status::Ok();
  }
  return Error(nullptr, what);
}

Status Conn::SendCopy(const std::string& sql, CopyRows& rows, std::string_view what) {
  const std::string data = rows.Finish();
  if (PQsendQuery(conn_, sql.c_str()) != 1) return Error(nullptr, what);
  std::unique_ptr<PGresult, decltype(&PQclear)> started(PQgetResult(conn_), &PQclear);
  if (!started || PQresultStatus(started.get()) != PGRES_COPY_IN) {
    Status failed = Error(started.get(), what);
    while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
    return failed;
  }
  // In pieces: each is one CopyData message, which libpq buffers whole.
  constexpr size_t kPiece = 1 << 20;
  for (size_t at = 0; at < data.size(); at += kPiece) {
    const size_t size = std::min(kPiece, data.size() - at);
    if (PQputCopyData(conn_, data.data() + at, static_cast<int>(size)) != 1) {
      return Error(nullptr, what);
    }
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) return Error(nullptr, what);
  return Status::Ok();
}

Result<Rows> Conn::Collect(std::string_view what) {
  PGresult* first = nullptr;
  while (PGresult* result = PQgetResult(conn_)) {
    if (first == nullptr) {
      first = result;
    } else {
      PQclear(result);
    }
  }
  Rows rows(first);
  const ExecStatusType status = first ? PQresultStatus(first) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  return Error(first, what);
}

// ---------------------------------------------------------------------------------------------
// Transaction

Transaction::~Transaction() {
  // Nothing to roll back on a lost connection: the server already did.
  if (active_ && !conn_.Broken() && conn_.InTransaction()) {
    (void)conn_.Exec("ROLLBACK", "rolling back");
  }
}

Status Transaction::Begin(std::string_view what, std::string_view settings) {
  what_ = what;
  if (conn_.InTransaction()) return Status::Ok();  // joins the outer transaction
  std::string sql = "BEGIN";
  if (!settings.empty()) {
    sql += "; ";
    sql += settings;
  }
  // Active before the round trip: when a setting fails after BEGIN, the destructor rolls back.
  active_ = true;
  return conn_.Exec(sql, what);
}

Status Transaction::Commit() {
  if (!active_) return Status::Ok();  // joined: the outer transaction commits
  REGLO_RETURN_IF_ERROR(conn_.Exec("COMMIT", what_));
  active_ = false;
  return Status::Ok();
}

}  // namespace reglo::storage::postgres
