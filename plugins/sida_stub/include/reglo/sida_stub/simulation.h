// The simulated SIDA management system behind the sida_stub connector: a deterministic, seeded
// change log per stream (students enrolling, cases moving through their statuses, lessons and
// exams booked, moved, cancelled and completed), read through a paginated delta API with a cursor,
// plus switchable faults (authentication failure, transient errors every Nth call, rate limiting
// with retry-after, slow and hung calls, malformed records).
// Simulated time is derived from each change's sequence number, never from the wall clock, so the
// same seed always yields the same records. ChangeAt/Page are pure; SimulatedSystem (call counters
// shared by every instance that talks to the same simulated system) is thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reglo::sida {

// The data side of the configuration.
struct DataOptions {
  uint64_t seed = 1;
  int64_t students = 40;             // enrolled students (and one case each)
  int64_t changes = 120;             // changes per stream visible at the start
  int64_t new_changes_per_pull = 0;  // the system grows by this many changes per stream and pull
  int64_t page_size = 25;            // changes per delta API page
  int64_t malformed_every = 0;       // every Nth change is malformed (0: never)
};

// The fault side of the configuration.
struct FaultOptions {
  bool auth_error = false;       // every call is refused: wrong credentials
  int64_t transient_every = 0;   // every Nth API call fails with a transient error (0: never)
  int64_t rate_limit_every = 0;  // every Nth API call is rate limited (0: never)
  uint32_t retry_after_ms = 2000;
  int64_t slow_ms = 0;     // every API call takes this long (should_stop is polled meanwhile)
  int64_t hang_every = 0;  // every Nth API call hangs, ignoring should_stop (0: never)
  int64_t hang_ms = -1;    // how long a hung call lasts (-1: until the release file exists)
  std::string hang_release_file;  // a hung call also ends as soon as this file exists
};

struct Field {
  std::string name;
  std::optional<std::string> value;
};

// One change of the source system: the full current state of one record after the change.
struct Change {
  int64_t sequence = 0;  // 1-based, per stream: the cursor position
  std::string entity;    // canonical entity name
  std::string external_id;
  std::string updated_at;  // simulated time of the change (ISO 8601 UTC)
  std::vector<Field> fields;
};

// The streams the system serves and the entity each carries.
const std::vector<std::pair<std::string, std::string>>& Streams();

// The `sequence`-th change of `stream` (1-based). Pure: depends only on the options and arguments.
// nullopt for an unknown stream or a sequence < 1.
std::optional<Change> ChangeAt(const DataOptions& options, std::string_view stream,
                               int64_t sequence);

// A page of the delta API: the changes after `after_sequence`, at most page_size, among the
// first `visible` changes.
std::vector<Change> Page(const DataOptions& options, std::string_view stream,
                         int64_t after_sequence, int64_t visible);

// A codice fiscale with a correct check character, derived from `n` (test data, not a person).
std::string FakeFiscalCode(uint64_t n);

// Cursor text of the delta API ("sida:v1:<sequence>") and its parser.
std::string FormatCursor(int64_t sequence);
std::optional<int64_t> ParseCursor(std::string_view cursor);

// What the simulated system says to one API call.
enum class CallOutcome { kOk, kAuthError, kTransient, kRateLimited, kHang };

// The server side shared by all instances configured for one system (call counters, growth).
class SimulatedSystem {
 public:
  // The process-wide system called `key` (created on first use).
  static SimulatedSystem& Get(const std::string& key);
  // Counts one API call and decides its fate from the faults.
  CallOutcome NextCall(const FaultOptions& faults);
  // Changes of a stream visible now; grows by new_changes_per_pull at each call of BeginPull.
  int64_t BeginPull(const DataOptions& options, const std::string& stream);
  int64_t calls() const;

 private:
  mutable std::mutex mutex_;
  int64_t calls_ = 0;
  std::map<std::string, int64_t> pulls_;
};

}  // namespace reglo::sida
