// reglo-datagen: a deterministic generator of large driving-school CSV exports for benchmarks
// and tests. It writes allievi.csv, pratiche.csv and guide.csv in exactly the layout of the
// examples/autoscuola-rossi sample (';' delimiter, dd/mm/yyyy dates, Italian status words, an
// ultima_modifica column), so the sample's mapping (tools/datagen/bench-hub.json) reads them.
//
// Determinism: every row is a pure function of (seed, entity, row number); the generator keeps no
// state between rows. That is what makes `--change-percent` produce the very same dataset with
// only the chosen rows changed, and what lets the output stream with constant memory.
// Thread-safety: all functions are pure or touch only their arguments.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace reglo::datagen {

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for synthetic data. Chosen
// over <random> engines because its output is specified bit for bit, on every platform.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, bound); bound must be > 0. The modulo bias is irrelevant for test data.
  uint64_t Below(uint64_t bound) { return Next() % bound; }
  // True with probability percent / 100.
  bool Chance(uint32_t percent) { return Below(100) < percent; }

 private:
  uint64_t state_;
};

// The splitmix64 finaliser on its own: a well-mixed 64-bit hash of `value`.
uint64_t Mix64(uint64_t value);

// A civil date (proleptic Gregorian).
struct Date {
  int year = 1970;
  int month = 1;
  int day = 1;
};
Date DateFromDays(int64_t days_since_epoch);

// The codice fiscale check character of the first 15 characters (odd/even position tables,
// sum mod 26). FiscalCodeCheckCharacter("RSSMRA85T10A562") == 'S'.
char FiscalCodeCheckCharacter(std::string_view first15);

// The full codice fiscale of a person (no omocodia). Names are UTF-8; accented vowels count as
// their plain letter, apostrophes and spaces are ignored. `belfiore` is the 4-character code of
// the town (or foreign country) of birth.
std::string FiscalCode(std::string_view surname, std::string_view name, Date birth, bool female,
                       std::string_view belfiore);

// The entities the generator can write, and their files.
enum class Entity { kStudent, kCase, kAppointment };
std::string_view FileName(Entity entity);

struct Options {
  std::filesystem::path out;
  uint64_t students = 0;
  uint64_t seed = 1;
  // --change-percent in hundredths of a percent (10 % -> 1000), so the selection is exact
  // integer arithmetic.
  uint32_t change_basis_points = 0;
  uint32_t cases_per_student = 1;
  uint32_t appointments_per_student = 2;
  std::vector<Entity> entities = {Entity::kStudent, Entity::kCase, Entity::kAppointment};
  bool help = false;
};

// Parses the command line (argv[0] is skipped). On error returns false and sets `error` to a
// message that names the option.
bool ParseOptions(int argc, const char* const* argv, Options& options, std::string& error);

// The --help text.
std::string Usage();

// Whether the 0-based row `index` is among the changed rows. Exactly
// floor(rows * basis_points / 10000) of the first `rows` rows are, spread evenly.
bool IsChanged(uint64_t index, uint32_t basis_points);

// Appends one CSV line (with its trailing '\n') for the 0-based row `index` of `entity`.
// Row ids are index + 1. Exposed so tests can check single rows without files.
void AppendHeader(Entity entity, std::string& out);
void AppendRow(Entity entity, const Options& options, uint64_t index, std::string& out);

// How many rows each file holds.
uint64_t RowCount(Entity entity, const Options& options);

struct FileSummary {
  Entity entity;
  std::filesystem::path path;
  uint64_t rows = 0;
  uint64_t changed = 0;
  uint64_t bytes = 0;
};

// Writes every requested file into options.out (created if missing). Each file is written to a
// temporary name and renamed when complete, so a file that exists is never half written.
// Returns false and sets `error` on an I/O failure.
bool Generate(const Options& options, std::vector<FileSummary>& summary, std::string& error);

}  // namespace reglo::datagen
