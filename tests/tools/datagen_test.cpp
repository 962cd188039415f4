// Tests of reglo-datagen (tools/datagen): codice fiscale algorithm, determinism, the exact
// "--change-percent" contract the resync benchmark relies on, option errors, and that the
// sample dataset's codici fiscali are valid except the one documented as deliberately wrong.
#include "datagen.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "files.h"
#include "reglo/model/validation.h"

namespace reglo::datagen {
namespace {

// Splits one CSV line on ';', honouring double-quoted fields ("" is a quote inside them).
std::vector<std::string> Split(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ';' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::string Row(Entity entity, const Options& options, uint64_t index) {
  std::string out;
  AppendRow(entity, options, index, out);
  return out;
}

using reglo::testing::ReadFile;

bool Parse(std::vector<const char*> args, Options& options, std::string& error) {
  args.insert(args.begin(), "reglo-datagen");
  return ParseOptions(static_cast<int>(args.size()), args.data(), options, error);
}

TEST(DatagenFiscalCode, MatchesTheWellKnownExample) {
  EXPECT_EQ(FiscalCodeCheckCharacter("RSSMRA85T10A562"), 'S');
  EXPECT_EQ(FiscalCode("Rossi", "Mario", {1985, 12, 10}, false, "A562"), "RSSMRA85T10A562S");
}

TEST(DatagenFiscalCode, AppliesNameRulesAndAccents) {
  // Four or more consonants in a first name: 1st, 3rd and 4th (M, G, R of MRGRZ).
  EXPECT_EQ(FiscalCode("D'Amato", "Maria Grazia", {1984, 9, 23}, true, "D643").substr(0, 11),
            "DMTMGR84P63");
  // Accented vowels count as vowels; short surnames pad with X.
  EXPECT_EQ(FiscalCode("Lucà", "Niccolò", {1979, 4, 2}, false, "D643").substr(0, 6), "LCUNCL");
  EXPECT_EQ(FiscalCode("Fo", "Al", {2000, 1, 1}, false, "H501").substr(0, 6), "FOXLAX");
}

TEST(DatagenFiscalCode, AgreesWithTheHubValidator) {
  Options options;
  options.students = 2000;
  for (uint64_t i = 0; i < options.students; ++i) {
    const std::vector<std::string> fields = Split(Row(Entity::kStudent, options, i));
    ASSERT_EQ(fields.size(), 9u);
    const std::string& code = fields[3];
    EXPECT_TRUE(model::FiscalCodeHasValidFormat(code)) << code;
    EXPECT_TRUE(model::FiscalCodeHasValidCheckCharacter(code)) << code;
  }
}

TEST(DatagenRows, AreDeterministicAndDependOnTheSeed) {
  Options a;
  a.students = 10;
  Options b = a;
  b.seed = 2;
  for (Entity entity : {Entity::kStudent, Entity::kCase, Entity::kAppointment}) {
    EXPECT_EQ(Row(entity, a, 7), Row(entity, a, 7));
    EXPECT_NE(Row(entity, a, 7), Row(entity, b, 7));
  }
}

TEST(DatagenRows, CrossReferencesAreConsistent) {
  Options options;
  options.students = 100;
  options.cases_per_student = 3;
  options.appointments_per_student = 4;
  // Case 8 (index 7) belongs to student 3; appointment 10 (index 9) to student 3 and case 7.
  EXPECT_EQ(Split(Row(Entity::kCase, options, 7))[1], "3");
  const std::vector<std::string> appointment = Split(Row(Entity::kAppointment, options, 9));
  EXPECT_EQ(appointment[4], "3");
  EXPECT_EQ(appointment[5], "7");
}

TEST(DatagenChangePercent, ChangesExactlyTheChosenRowsAndOnlyThem) {
  Options base;
  base.students = 1000;
  Options changed = base;
  changed.change_basis_points = 1000;  // 10 %
  for (Entity entity : {Entity::kStudent, Entity::kCase, Entity::kAppointment}) {
    uint64_t count = 0;
    for (uint64_t i = 0; i < RowCount(entity, base); ++i) {
      const std::string before = Row(entity, base, i);
      const std::string after = Row(entity, changed, i);
      if (!IsChanged(i, changed.change_basis_points)) {
        EXPECT_EQ(before, after);
        continue;
      }
      ++count;
      const std::vector<std::string> x = Split(before);
      const std::vector<std::string> y = Split(after);
      ASSERT_EQ(x.size(), y.size());
      EXPECT_EQ(x[0], y[0]);          // same record
      EXPECT_NE(x.back(), y.back());  // a new ultima_modifica
      int differing_canonical = 0;    // and exactly one other column changed
      for (size_t c = 1; c + 1 < x.size(); ++c) differing_canonical += x[c] != y[c];
      EXPECT_EQ(differing_canonical, 1) << before << after;
    }
    EXPECT_EQ(count, RowCount(entity, base) / 10);
  }
}

TEST(DatagenChangePercent, ChangedRowsAreNewerThanEveryBaseRow) {
  Options options;
  options.students = 500;
  options.change_basis_points = 5000;
  auto sortable = [](const std::string& ts) {  // dd/mm/yyyy HH:MM:SS -> yyyymmddHHMMSS
    return ts.substr(6, 4) + ts.substr(3, 2) + ts.substr(0, 2) + ts.substr(11);
  };
  std::string newest_base;
  std::string oldest_changed = "99999999";
  for (uint64_t i = 0; i < options.students; ++i) {
    const std::string ts = sortable(Split(Row(Entity::kStudent, options, i)).back());
    if (IsChanged(i, options.change_basis_points)) {
      oldest_changed = std::min(oldest_changed, ts);
    } else {
      newest_base = std::max(newest_base, ts);
    }
  }
  EXPECT_LT(newest_base, oldest_changed);
}

TEST(DatagenIsChanged, SelectsFloorOfRowsTimesPercent) {
  for (uint32_t bp : {0u, 1u, 250u, 1000u, 3333u, 10000u}) {
    uint64_t count = 0;
    for (uint64_t i = 0; i < 12345; ++i) count += IsChanged(i, bp);
    EXPECT_EQ(count, 12345ull * bp / 10000) << bp;
  }
}

TEST(DatagenOptions, ParsesEveryOption) {
  Options options;
  std::string error;
  ASSERT_TRUE(Parse(
      {"--out", "/tmp/x", "--students=42", "--seed", "7", "--change-percent", "2.5",
       "--cases-per-student", "2", "--appointments-per-student=0", "--entities", "case,student"},
      options, error))
      << error;
  EXPECT_EQ(options.out, "/tmp/x");
  EXPECT_EQ(options.students, 42u);
  EXPECT_EQ(options.seed, 7u);
  EXPECT_EQ(options.change_basis_points, 250u);
  EXPECT_EQ(options.cases_per_student, 2u);
  EXPECT_EQ(options.appointments_per_student, 0u);
  EXPECT_EQ(options.entities, (std::vector<Entity>{Entity::kCase, Entity::kStudent}));
}

TEST(DatagenOptions, RejectsBadInputWithAMessageNamingTheOption) {
  const std::vector<std::pair<std::vector<const char*>, std::string>> cases = {
      {{"--students", "5"}, "--out"},
      {{"--out", "x"}, "--students"},
      {{"--out", "x", "--students", "0"}, "--students"},
      {{"--out", "x", "--students", "1e6"}, "--students"},
      {{"--out", "x", "--students", "5", "--change-percent", "100.01"}, "--change-percent"},
      {{"--out", "x", "--students", "5", "--change-percent", "-1"}, "--change-percent"},
      {{"--out", "x", "--students", "5", "--entities", "student,vehicle"}, "vehicle"},
      {{"--out", "x", "--students", "5", "--cases-per-student", "0"}, "--cases-per-student"},
      {{"--out", "x", "--students"}, "missing value"},
      {{"--out", "x", "--students", "5", "--verbose"}, "--verbose"},
  };
  for (const auto& [args, expected] : cases) {
    Options options;
    std::string error;
    EXPECT_FALSE(Parse(args, options, error)) << expected;
    EXPECT_NE(error.find(expected), std::string::npos) << error;
  }
}

TEST(DatagenGenerate, WritesTheRequestedFilesWithHeaders) {
  Options options;
  options.out = std::filesystem::path(::testing::TempDir()) / "datagen_generate";
  std::filesystem::remove_all(options.out);
  options.students = 25;
  options.appointments_per_student = 3;
  std::vector<FileSummary> summary;
  std::string error;
  ASSERT_TRUE(Generate(options, summary, error)) << error;
  ASSERT_EQ(summary.size(), 3u);
  for (const FileSummary& file : summary) {
    const std::string content = ReadFile(file.path);
    EXPECT_EQ(content.size(), file.bytes);
    std::string header;
    AppendHeader(file.entity, header);
    EXPECT_EQ(content.substr(0, header.size()), header);
    EXPECT_EQ(static_cast<uint64_t>(std::count(content.begin(), content.end(), '\n')),
              file.rows + 1);
    EXPECT_EQ(content.find('\r'), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(file.path.string() + ".partial"));
  }
  EXPECT_EQ(summary[2].rows, 75u);
}

TEST(DatagenBinary, ExitsWithTwoOnAUsageError) {
  const std::string command = std::string(REGLO_DATAGEN_BINARY) + " --students 5 2>/dev/null";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

// The sample's codici fiscali: all valid, except student 22's, which is documented in
// examples/autoscuola-rossi/README.md as deliberately wrong.
TEST(DatagenSampleDataset, FiscalCodesAreValidExceptTheDocumentedOne) {
  const std::string content =
      ReadFile(std::filesystem::path(REGLO_EXAMPLES_DIR) / "autoscuola-rossi/data/allievi.csv");
  ASSERT_FALSE(content.empty());
  std::stringstream stream(content);
  std::string line;
  std::getline(stream, line);  // header
  int checked = 0;
  while (std::getline(stream, line)) {
    const std::vector<std::string> fields = Split(line);
    if (fields.size() < 4 || fields[3].size() != 16) continue;  // continuation of a quoted note
    ++checked;
    EXPECT_TRUE(model::FiscalCodeHasValidFormat(fields[3])) << line;
    EXPECT_EQ(model::FiscalCodeHasValidCheckCharacter(fields[3]), fields[0] != "22") << line;
  }
  EXPECT_EQ(checked, 26);
}

}  // namespace
}  // namespace reglo::datagen
