// The backend-independent Store test suite: every backend (SQLite and PostgreSQL) runs the
// same TEST_P cases by instantiating StoreTest with a BackendParam (see sqlite_store_test.cpp).
// Test-only code; each test owns its backend and store, nothing is shared between threads.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "raw_record.h"
#include "reglo/core/status.h"
#include "reglo/model/record.h"
#include "reglo/model/validation.h"
#include "reglo/storage/store.h"

namespace reglo::storage::testing {

// The value of a Result, or a test failure (and a default value) when it is not OK:
// OK_VALUE(store_->CountEvents()). ASSERT_OK(status) ends the test when `status` is not OK.
template <typename T>
T Unwrap(Result<T> result, const char* file, int line) {
  if (!result.ok()) {
    ADD_FAILURE_AT(file, line) << result.status().ToString();
    return T{};
  }
  return std::move(*result);
}
#define OK_VALUE(expr) ::reglo::storage::testing::Unwrap((expr), __FILE__, __LINE__)
#define ASSERT_OK(expr)                              \
  do {                                               \
    const ::reglo::Status status_ = (expr);          \
    ASSERT_TRUE(status_.ok()) << status_.ToString(); \
  } while (false)

// One fresh, empty database location per instance (a temp file, a fresh PostgreSQL schema, ...),
// removed when the instance is destroyed. Open() may be called any number of times and always
// opens the same location; the other methods reach the database behind the store's back, for the
// few things a test must do that the Store interface rightly does not offer.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  virtual Result<std::unique_ptr<Store>> Open() = 0;
  // Runs portable SQL (no parameters, no rows).
  virtual Status ExecuteSql(const std::string& sql) = 0;
  // Runs portable SQL returning one integer.
  virtual Result<int64_t> QueryInt(const std::string& sql) = 0;
  // Runs SQL returning one text value ("" for NULL or no row).
  virtual Result<std::string> QueryText(const std::string& sql) = 0;
  // The database file, for a backend that has one ("" for a server).
  virtual std::string DatabaseFile() const { return ""; }
  // From now on, every insert into `table` fails inside the database (a trigger raising an error),
  // so a test can make a real database error happen at a chosen point of a transaction.
  virtual Status BreakInsertsInto(const std::string& table) = 0;
};

struct BackendParam {
  std::string name;  // a valid test-name suffix: letters and digits
  std::function<std::unique_ptr<StoreBackend>()> make;
};

// Keeps test listings readable (gtest would otherwise dump the parameter's bytes).
inline void PrintTo(const BackendParam& param, std::ostream* os) {
  *os << param.name;
}

// The backend this test binary runs its suites on, defined by the backend's own test file
// (sqlite_store_test.cpp, postgres_store_test.cpp), for the suites that instantiate themselves.
BackendParam ThisBackend();

inline std::string BackendName(const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

// A suite run on each backend (TEST_P over BackendParam): SetUp opens a fresh, empty database.
// Suites that need more override SetUp, call this one first and stop on its fatal failure.
class FreshDatabaseTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override { OpenFreshDatabase(); }

  // Closes the store (if open) and opens a new, empty database of the parameter's backend.
  void OpenFreshDatabase() {
    store_.reset();
    backend_ = GetParam().make();
    Reopen();
  }
  // Closes the store (if open) and opens the same database again.
  void Reopen() {
    store_.reset();
    ASSERT_NE(backend_, nullptr);
    Result<std::unique_ptr<Store>> store = backend_->Open();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  // Declared in this order so that the store closes before its database goes.
  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<Store> store_;
};

// The suite every backend instantiates: INSTANTIATE_TEST_SUITE_P(<Backend>, StoreTest, ...).
// SetUp opens a fresh database, registers one source and begins one run.
class StoreTest : public FreshDatabaseTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts over on a fresh database: new backend, source and run.
  void StartFresh();

  // A checkpoint of `records` for the test's run and stream, with the next commit time.
  CheckpointBatch Batch(std::vector<model::CanonicalRecord> records);
  // Commits, failing the test when the store refuses.
  CheckpointResult Commit(std::vector<model::CanonicalRecord> records);
  std::optional<StoredRecord> Get(std::string_view entity, std::string_view external_id);
  std::vector<StoredEvent> Events(int64_t after_sequence = 0);

  int64_t run_id_ = 0;
  int commits_ = 0;
};

// The backends' own tests (outside StoreTest) write records of this one source.
inline constexpr char kBackendSourceId[] = "src";

// Registers kBackendSourceId (company "acme", source system "gestionale") on `store`.
inline Status RegisterBackendSource(Store& store) {
  return store.UpsertSource({kBackendSourceId, "acme", "gestionale", "csv", "{}", true, "new"});
}

// A valid student (company "acme", source system "gestionale") with the given id, first name and
// update time, for tests about storing records rather than about their content.
inline model::CanonicalRecord AStudent(const std::string& external_id,
                                       const std::string& first_name = "Mario",
                                       const std::string& updated_at = "2024-01-01T10:00:00Z") {
  const model::RawRecord raw =
      reglo::testing::Raw("student", "acme", "gestionale", external_id, updated_at,
                          {{"firstName", first_name}, {"lastName", "Rossi"}});
  return std::get<model::CanonicalRecord>(model::Validate(raw));
}

// A checkpoint of `records` on stream "students" of kBackendSourceId (registered by the caller), in
// a run it begins on `store`.
inline CheckpointBatch BatchFor(Store& store, std::vector<model::CanonicalRecord> records) {
  CheckpointBatch batch;
  Result<int64_t> run = store.BeginRun(kBackendSourceId, "2025-06-01T08:00:00.000Z");
  EXPECT_TRUE(run.ok()) << run.status().ToString();
  batch.run_id = run.ok() ? *run : 0;
  batch.source_id = kBackendSourceId;
  batch.stream = "students";
  batch.records = std::move(records);
  batch.seen = static_cast<int64_t>(batch.records.size());
  batch.committed_at = "2025-06-01T08:00:01.000Z";
  return batch;
}

}  // namespace reglo::storage::testing
