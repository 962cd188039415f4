// A thin RAII layer over one libpq connection (private to the PostgreSQL backend): statements with
// typed parameters (text values and binary arrays, so a whole batch travels as one parameter per
// column), results, transactions, reconnection, and PostgreSQL errors turned into Status values.
// A Conn owns its connection; it is used by one thread at a time, like the store.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/postgres_store.h"
#include "reglo/storage/row_codec.h"

namespace reglo::storage::postgres {

// Type OIDs of the parameters this backend sends (pg_type.h; stable across server versions).
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kTextArrayOid = 1009;
inline constexpr Oid kInt8ArrayOid = 1016;
inline constexpr Oid kByteaArrayOid = 1001;

// Values in PostgreSQL's binary wire format, as both array elements and COPY fields are written:
// each a 4-byte length (-1 for NULL) and its bytes. No quoting, no escaping and no parsing on the
// server, whatever the text holds. The base of ArrayBuilder and CopyRows.
class BinaryFields {
 public:
  void Add(std::string_view value);
  void AddOpt(const std::optional<std::string>& value) {
    value ? Add(std::string_view(*value)) : AddNull();
  }
  // NULL for an empty string (JSON columns that hold nothing).
  void AddTextOrNull(std::string_view value) { value.empty() ? AddNull() : Add(value); }
  void AddNull();
  void AddInt(int64_t value);  // for int8 elements and columns

 protected:
  explicit BinaryFields(std::string header) : header_(std::move(header)), bytes_(header_) {}
  // Takes the bytes written so far, leaving the header and no fields.
  std::string TakeBytes();

  std::string header_;  // what every message starts with (a gap the owner fills in or not)
  std::string bytes_;
  size_t fields_ = 0;
  bool has_null_ = false;
};

// A one-dimensional array in PostgreSQL's binary format, built element by element.
class ArrayBuilder : public BinaryFields {
 public:
  explicit ArrayBuilder(Oid element_type);

  size_t size() const { return fields_; }
  Oid array_type() const {
    if (element_type_ == kInt8Oid) return kInt8ArrayOid;
    return element_type_ == kByteaOid ? kByteaArrayOid : kTextArrayOid;
  }
  // The wire bytes; the builder is empty afterwards.
  std::string Finish();

 private:
  Oid element_type_;
};

// Rows in COPY's binary format (COPY ... FROM STDIN (FORMAT binary)), built field by field in
// column order.
class CopyRows : public BinaryFields {
 public:
  explicit CopyRows(int columns);

  void StartRow();  // then exactly `columns` fields
  int64_t rows() const { return rows_; }
  // The wire bytes (header, rows, trailer); the builder is empty afterwards.
  std::string Finish();

 private:
  int columns_;
  int64_t rows_ = 0;
};

// The parameters of one statement ($1, $2, ... in the order added). Owns their bytes.
class Params {
 public:
  Params& Text(std::string_view value);
  Params& OptText(const std::optional<std::string>& value) { return value ? Text(*value) : Null(); }
  Params& Int(int64_t value);
  // A bytea, sent in binary format (its bytes as they are).
  Params& Bytes(std::string_view value);
  Params& Null();
  Params& Array(ArrayBuilder& array);

  int count() const { return static_cast<int>(types_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  Params& Add(Oid type, std::string bytes, int format);

  std::deque<std::string> storage_;  // stable addresses for values_
  std::vector<Oid> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// The rows of a statement (text format). Owns the PGresult.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}

  int size() const { return result_ ? PQntuples(result_.get()) : 0; }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view Text(int row, int column) const {
    return std::string_view(PQgetvalue(result_.get(), row, column),
                            static_cast<size_t>(PQgetlength(result_.get(), row, column)));
  }
  std::string String(int row, int column) const { return std::string(Text(row, column)); }
  std::optional<std::string> OptString(int row, int column) const {
    if (IsNull(row, column)) return std::nullopt;
    return String(row, column);
  }
  // 0 for NULL or text that is not an integer.
  int64_t Int(int row, int column) const;
  // A bytea's bytes: results come in text format, where a bytea is "\x" and two hex digits a
  // byte. Other text is returned as it is.
  std::string Bytes(int row, int column) const;
  // Rows inserted / updated / deleted by the statement.
  int64_t Affected() const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_{nullptr, &PQclear};
};

// The rows of a Rows one at a time, as the RowCursor every row type is decoded from
// (row_codec.h). The Rows must outlive it.
class RowsCursor final : public RowCursor {
 public:
  explicit RowsCursor(const Rows& rows) : rows_(rows) {}

  Result<bool> Step() override { return ++row_ < rows_.size(); }
  bool IsNull(int column) const override { return rows_.IsNull(row_, column); }
  int64_t Int(int column) const override { return rows_.Int(row_, column); }
  double Double(int column) const override;
  std::string_view Text(int column) const override { return rows_.Text(row_, column); }
  std::string Bytes(int column) const override;  // Rows::Bytes

 private:
  const Rows& rows_;
  int row_ = -1;
};

class Conn {
 public:
  // Connects to `url` (connect timeout, TCP keepalives, client encoding UTF8 and application name
  // set unless the URL sets them). kIoError naming host, port and database on failure.
  static Result<std::unique_ptr<Conn>> Connect(const PostgresUrl& url);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs SQL text without parameters (may hold several statements); `what` names the operation.
  Status Exec(std::string_view sql, std::string_view what);
  // Runs one statement with parameters and returns its rows (none for INSERT/UPDATE without
  // RETURNING; Rows::Affected() then says how many it touched). Each distinct SQL text is
  // prepared once per session (protocol-level named statements: behind a transaction-pooling
  // pgbouncer, that needs its max_prepared_statements) and must keep its parameter types.
  Result<Rows> Query(const std::string& sql, const Params& params, std::string_view what);
  Result<Rows> Query(const std::string& sql, std::string_view what) {
    return Query(sql, Params(), what);
  }
  // Query in two halves, so the caller can work while the server runs the statement: Send
  // returns once the statement is sent (`params` may be dropped then); Receive waits for its
  // result. Nothing else may use the connection in between.
  Status Send(const std::string& sql, const Params& params, std::string_view what);
  Result<Rows> Receive(std::string_view what) { return Collect(what); }
  // `COPY ... FROM STDIN (FORMAT binary)` with `rows` as its data, in the same two halves:
  // SendCopy returns once the rows are sent, Receive waits for the outcome (Affected() is the
  // number of rows copied). COPY inserts a batch with less work on the server than an INSERT of
  // unnested arrays (about a fifth less on a cold load).
  Status SendCopy(const std::string& sql, CopyRows& rows, std::string_view what);

  // True when the connection is known to be lost (a previous call failed on it).
  bool Broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  // Reads what the server sent while the connection was idle, without blocking or a round trip,
  // so a connection the server closed (restart, idle timeout) is known to be lost before it is
  // used. Returns !Broken().
  bool Poll();
  // Re-opens a lost connection (same parameters); kRetryable while the server is unreachable.
  Status Reconnect();
  bool InTransaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }
  int ServerVersion() const { return PQserverVersion(conn_); }
  const std::string& description() const { return description_; }
  // The SQLSTATE of the last failed statement ("" when it failed without one, e.g. connection
  // lost); meaningful right after a call returned an error.
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // True when the last failure was a serialization failure or a deadlock: the transaction was
  // rolled back and running it again may succeed.
  bool LastFailureIsConflict() const {
    return last_sqlstate_ == "40001" || last_sqlstate_ == "40P01";
  }

 private:
  Conn(PGconn* conn, std::string description) : conn_(conn), description_(std::move(description)) {}
  // The Status for a failed statement: kRetryable when the connection is lost or the server
  // says a new attempt may pass (serialization failure, deadlock, lock timeout, shutdown,
  // insufficient resources), kIoError otherwise. Only the primary message is used: PostgreSQL's
  // DETAIL lines may quote row values.
  Status Error(const PGresult* result, std::string_view what);
  // The first result of the statement in flight (the rest are drained), as a Rows or an error.
  Result<Rows> Collect(std::string_view what);

  PGconn* conn_;
  std::string description_;  // Describe() of the URL
  std::string last_sqlstate_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> prepared statement
};

// BEGIN on Begin(), ROLLBACK on destruction unless committed. Begun while the connection is
// already in a transaction (AuditStore::Audited runs store methods inside its own), it joins
// that one: Begin and Commit do nothing (its settings are not applied: SET TRANSACTION must come
// first), and the outer transaction commits or rolls back the whole.
class Transaction {
 public:
  explicit Transaction(Conn& conn) : conn_(conn) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // `settings`: SET LOCAL statements run with the BEGIN, in the same round trip.
  Status Begin(std::string_view what, std::string_view settings = {});
  Status Commit();

 private:
  Conn& conn_;
  std::string_view what_;
  bool active_ = false;
};

}  // namespace reglo::storage::postgres
