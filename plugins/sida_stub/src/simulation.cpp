#include "reglo/sida_stub/simulation.h"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>

namespace reglo::sida {
namespace {

// splitmix64: a tiny, well-mixed hash so every value is a pure function of (seed, inputs).
uint64_t Mix(uint64_t seed, uint64_t a, uint64_t b = 0) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + a * 0xBF58476D1CE4E5B9ULL + b * 0x94D049BB133111EBULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Simulated time starts on Monday 5 January 2026 at 08:00 UTC; each change of a stream is 7
// minutes after the previous one, so sourceUpdatedAt grows with the sequence.
constexpr int64_t kMinutesPerChange = 7;

std::string FormatMinutes(int64_t minutes_after_base) {
  using namespace std::chrono;
  const sys_seconds base = sys_days(year(2026) / January / day(5)) + hours(8);
  const sys_seconds at = base + minutes(minutes_after_base);
  const sys_days day_point = floor<days>(at);
  const year_month_day date(day_point);
  const hh_mm_ss<seconds> time(at - day_point);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return text;
}

// Change number `sequence` of a stream: stamped `minute` minutes into the sequence's slot on the
// simulated clock, each stream at its own minute so that their times never tie.
Change StreamChange(int64_t sequence, const char* entity, std::string external_id, int64_t minute) {
  return {.sequence = sequence,
          .entity = entity,
          .external_id = std::move(external_id),
          .updated_at = FormatMinutes(sequence * kMinutesPerChange + minute),
          .fields = {}};
}

std::string Date(int64_t minutes_after_base) {
  return FormatMinutes(minutes_after_base).substr(0, 10);
}

std::string Id(char prefix, int64_t n) {
  char text[32];
  std::snprintf(text, sizeof text, "%c%05lld", prefix, static_cast<long long>(n));
  return text;
}

constexpr std::array<const char*, 12> kFirstNames = {
    "Giulia",  "Marco",  "Sofia",   "Luca",      "Aurora", "Matteo",
    "Giorgia", "Andrea", "Martina", "Francesco", "Chiara", "Alessandro"};
constexpr std::array<const char*, 12> kLastNames = {"Rossi",   "Russo",  "Ferrari", "Esposito",
                                                    "Bianchi", "Romano", "Colombo", "Ricci",
                                                    "Marino",  "Greco",  "Bruno",   "Gallo"};
constexpr std::array<const char*, 7> kCaseFlow = {
    "open",     "theory_booked", "theory_passed", "learner_permit", "practical_booked",
    "licensed", "closed"};
constexpr std::array<const char*, 4> kCategories = {"B", "B", "AM", "A2"};

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return text;
}

Change Student(const DataOptions& o, int64_t sequence) {
  const int64_t students = std::max<int64_t>(1, o.students);
  const bool enrolment = sequence <= students;
  const int64_t k =
      enrolment
          ? sequence
          : 1 + static_cast<int64_t>(Mix(o.seed, 1, sequence) % static_cast<uint64_t>(students));
  const std::string first = kFirstNames[Mix(o.seed, 2, k) % kFirstNames.size()];
  const std::string last = kLastNames[Mix(o.seed, 3, k) % kLastNames.size()];
  // An update changes the phone (and sometimes the e-mail): the source's usual corrections.
  const uint64_t phone =
      3000000000ULL + Mix(o.seed, 4, enrolment ? k * 1000003 : sequence) % 999999999ULL;
  const bool new_email = !enrolment && Mix(o.seed, 5, sequence) % 3 == 0;
  Change change = StreamChange(sequence, "student", Id('S', k), 0);
  change.fields = {
      {"firstName", first},
      {"lastName", last},
      {"fiscalCode", FakeFiscalCode(Mix(o.seed, 6, k))},
      {"birthDate", Date(-(18 * 365 + static_cast<int64_t>(Mix(o.seed, 7, k) % 7000)) * 24 * 60)},
      {"email", Lower(first) + "." + Lower(last) + std::to_string(k) + (new_email ? ".new" : "") +
                    "@example.it"},
      {"phone", "+39 " + std::to_string(phone)},
  };
  return change;
}

Change Case(const DataOptions& o, int64_t sequence) {
  const int64_t students = std::max<int64_t>(1, o.students);
  const int64_t k = (sequence - 1) % students + 1;
  const int64_t round = (sequence - 1) / students;
  std::string status = kCaseFlow[std::min<int64_t>(round, kCaseFlow.size() - 1)];
  // One case in ten is given up after the theory exam and stays cancelled.
  if (round >= 2 && Mix(o.seed, 8, k) % 10 == 0) status = "cancelled";
  Change change = StreamChange(sequence, "case", Id('P', k), 3);
  change.fields = {
      {"studentExternalId", Id('S', k)},
      {"licenseCategory", kCategories[Mix(o.seed, 9, k) % kCategories.size()]},
      {"status", status},
      {"openedAt", Date(k * kMinutesPerChange)},
  };
  return change;
}

Change Appointment(const DataOptions& o, int64_t sequence) {
  const int64_t students = std::max<int64_t>(1, o.students);
  const int64_t slots = students * 2;
  const int64_t j = (sequence - 1) % slots + 1;
  const int64_t round = (sequence - 1) / slots;
  const int64_t k = (j - 1) % students + 1;
  const bool lesson = j <= students;
  const char* kind =
      lesson ? "lesson" : (Mix(o.seed, 10, j) % 2 ? "theory_exam" : "practical_exam");
  const bool cancelled = round >= 1 && Mix(o.seed, 11, j) % 3 == 0;
  const bool moved = round >= 1 && !cancelled;
  int64_t start = (j + 7) * 24 * 60 + static_cast<int64_t>(j % 8) * 60 + 60;
  if (moved) start += 24 * 60;  // moved to the next day
  std::string status = "scheduled";
  if (cancelled) {
    status = "cancelled";
  } else if (round >= 2) {
    status = Mix(o.seed, 12, j) % 20 == 0 ? "no_show" : "completed";
  }
  Change change = StreamChange(sequence, "appointment", Id('A', j), 5);
  change.fields = {
      {"kind", kind},
      {"startsAt", FormatMinutes(start)},
      {"endsAt", FormatMinutes(start + (lesson ? 60 : 30))},
      {"studentExternalId", Id('S', k)},
      {"caseExternalId", Id('P', k)},
      {"instructorExternalId", Id('I', 1 + static_cast<int64_t>(Mix(o.seed, 13, j) % 4))},
      {"vehicleExternalId", Id('V', 1 + static_cast<int64_t>(Mix(o.seed, 14, j) % 3))},
      {"status", status},
  };
  return change;
}

// Breaks a change the way real exports break: no id (rejected), a bad code, a bad date (warnings).
void Malform(Change& change, int64_t variant) {
  switch (variant % 3) {
    case 0: change.external_id.clear(); break;
    case 1:
      for (Field& field : change.fields) {
        if (field.name == "fiscalCode") field.value = "XXXINVALID000";
        if (field.name == "status") field.value = "lost_in_migration";
      }
      break;
    default:
      for (Field& field : change.fields) {
        if (field.name == "birthDate" || field.name == "openedAt" || field.name == "startsAt") {
          field.value = "31/02/2026";
        }
      }
  }
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& Streams() {
  static const std::vector<std::pair<std::string, std::string>> kStreams = {
      {"students", "student"}, {"cases", "case"}, {"appointments", "appointment"}};
  return kStreams;
}

std::optional<Change> ChangeAt(const DataOptions& options, std::string_view stream,
                               int64_t sequence) {
  if (sequence < 1) return std::nullopt;
  std::optional<Change> change;
  if (stream == "students") change = Student(options, sequence);
  if (stream == "cases") change = Case(options, sequence);
  if (stream == "appointments") change = Appointment(options, sequence);
  if (change && options.malformed_every > 0 && sequence % options.malformed_every == 0) {
    Malform(*change, sequence / options.malformed_every);
  }
  return change;
}

std::vector<Change> Page(const DataOptions& options, std::string_view stream,
                         int64_t after_sequence, int64_t visible) {
  std::vector<Change> page;
  const int64_t size = std::max<int64_t>(1, options.page_size);
  for (int64_t sequence = std::max<int64_t>(0, after_sequence) + 1;
       sequence <= visible && static_cast<int64_t>(page.size()) < size; ++sequence) {
    std::optional<Change> change = ChangeAt(options, stream, sequence);
    if (!change) break;
    page.push_back(std::move(*change));
  }
  return page;
}

std::string FakeFiscalCode(uint64_t n) {
  static constexpr char kMonths[] = "ABCDEHLMPRST";
  std::string code;
  for (int i = 0; i < 6; ++i) code += static_cast<char>('A' + (n >> (i * 5)) % 26);
  code += static_cast<char>('0' + (n >> 30) % 10);
  code += static_cast<char>('0' + (n >> 34) % 10);
  code += kMonths[(n >> 38) % 12];
  const unsigned day = 1 + (n >> 42) % 28;
  code += static_cast<char>('0' + day / 10);
  code += static_cast<char>('0' + day % 10);
  code += static_cast<char>('A' + (n >> 47) % 26);
  for (int i = 0; i < 3; ++i) code += static_cast<char>('0' + (n >> (52 + i * 4)) % 10);
  // Check character: odd positions (1-based) through the odd table, even ones by plain value.
  static constexpr int kOdd[] = {1,  0,  5, 7, 9, 13, 15, 17, 19, 21, 2,  4,  18,
                                 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23};
  int sum = 0;
  for (size_t i = 0; i < code.size(); ++i) {
    const char c = code[i];
    const int index = c >= '0' && c <= '9' ? c - '0' : c - 'A';
    sum += i % 2 == 0 ? kOdd[index] : index;
  }
  code += static_cast<char>('A' + sum % 26);
  return code;
}

std::string FormatCursor(int64_t sequence) {
  return "sida:v1:" + std::to_string(sequence);
}

std::optional<int64_t> ParseCursor(std::string_view cursor) {
  constexpr std::string_view kPrefix = "sida:v1:";
  if (cursor.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::string_view digits = cursor.substr(kPrefix.size());
  int64_t value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

SimulatedSystem& SimulatedSystem::Get(const std::string& key) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<SimulatedSystem>> systems;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<SimulatedSystem>& system = systems[key];
  if (!system) system = std::make_unique<SimulatedSystem>();
  return *system;
}

CallOutcome SimulatedSystem::NextCall(const FaultOptions& faults) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t call = ++calls_;
  if (faults.auth_error) return CallOutcome::kAuthError;
  if (faults.hang_every > 0 && call % faults.hang_every == 0) return CallOutcome::kHang;
  if (faults.rate_limit_every > 0 && call % faults.rate_limit_every == 0) {
    return CallOutcome::kRateLimited;
  }
  if (faults.transient_every > 0 && call % faults.transient_every == 0) {
    return CallOutcome::kTransient;
  }
  return CallOutcome::kOk;
}

int64_t SimulatedSystem::BeginPull(const DataOptions& options, const std::string& stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t pulls = pulls_[stream]++;
  return options.changes + pulls * options.new_changes_per_pull;
}

int64_t SimulatedSystem::calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return calls_;
}

}  // namespace reglo::sida
