// Manual throughput benchmark of the SQLite store (not a test, no assertions): a cold load of N
// generated students, then a no-change re-commit, then a re-commit where 10% changed.
// Usage: reglo_storage_sqlite_bench [records=200000] [batch=5000] [db=/tmp/reglo-bench.db]
//        [csv=<path>: also write the same rows as CSV, for comparing with `sqlite3 .import`]
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "reglo/model/events.h"
#include "reglo/model/validation.h"
#include "reglo/storage/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using reglo::model::CanonicalRecord;

// Bytes this process has written through write(2)/pwrite(2) so far (Linux), to see amplification.
long long WrittenBytes() {
  std::FILE* io = std::fopen("/proc/self/io", "r");
  if (io == nullptr) return 0;
  char key[64];
  long long value = 0;
  long long wchar = 0;
  while (std::fscanf(io, "%63s %lld", key, &value) == 2) {
    if (std::string(key) == "wchar:") wchar = value;
  }
  std::fclose(io);
  return wchar;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A well-formed codice fiscale with a correct check character, so records carry no warning.
std::string FiscalCode(int i) {
  const std::string first15 = fmt::format("RSSMRA{:02}T10A{:03}", i % 100, i % 1000);
  return first15 + reglo::model::FiscalCodeCheckCharacter(first15);
}

reglo::model::RawRecord MakeStudent(int i, int generation) {
  static const char* kFirst[] = {"Mario", "Giulia", "Luca", "Francesca", "Marco", "Chiara"};
  static const char* kLast[] = {"Rossi", "Bianchi", "Russo", "Ferrari", "Esposito", "Romano"};
  reglo::model::RawRecord raw;
  raw.entity = "student";
  raw.company_id = "autoscuola-roma";
  raw.source_system = "gestionale";
  raw.external_id = fmt::format("S{:07}", i);
  raw.source_updated_at = fmt::format("2024-01-{:02}T10:00:00Z", 1 + generation);
  raw.origin = fmt::format("students.csv:{}", i + 2);
  const std::string first = kFirst[i % 6];
  raw.fields = {
      {"firstName", generation > 0 && i % 10 == 0 ? first + " Maria" : first},
      {"lastName", kLast[(i / 6) % 6]},
      {"fiscalCode", FiscalCode(i)},
      {"birthDate", fmt::format("19{:02}-{:02}-{:02}", 50 + i % 50, 1 + i % 12, 1 + i % 28)},
      {"email", fmt::format("student{}@example.com", i)},
      {"phone", fmt::format("+39 333 {:07}", i)},
  };
  return raw;
}

std::vector<CanonicalRecord> Generate(int count, int generation) {
  std::vector<CanonicalRecord> records;
  records.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    records.push_back(
        std::get<CanonicalRecord>(reglo::model::Validate(MakeStudent(i, generation))));
  }
  return records;
}

std::vector<reglo::storage::CheckpointBatch> MakeBatches(
    int64_t run_id, const std::vector<CanonicalRecord>& records, size_t batch_size) {
  std::vector<reglo::storage::CheckpointBatch> batches;
  for (size_t offset = 0; offset < records.size(); offset += batch_size) {
    reglo::storage::CheckpointBatch& batch = batches.emplace_back();
    batch.run_id = run_id;
    batch.source_id = "bench";
    batch.stream = "students";
    batch.cursor = std::to_string(offset);
    const size_t end = std::min(records.size(), offset + batch_size);
    batch.records.assign(records.begin() + static_cast<std::ptrdiff_t>(offset),
                         records.begin() + static_cast<std::ptrdiff_t>(end));
    batch.seen = static_cast<int64_t>(batch.records.size());
    batch.committed_at = "2025-06-01T08:00:00.000Z";
  }
  return batches;
}

// Batches are built before the clock starts: copying records is the caller's cost, not the store's.
bool CommitAll(reglo::storage::Store& store,
               const std::vector<reglo::storage::CheckpointBatch>& batches, const char* label) {
  const Clock::time_point start = Clock::now();
  const std::clock_t cpu_start = std::clock();
  const long long written_start = WrittenBytes();
  reglo::storage::RunCounters totals;
  int64_t events = 0;
  size_t records = 0;
  for (const reglo::storage::CheckpointBatch& batch : batches) {
    reglo::Result<reglo::storage::CheckpointResult> result = store.CommitCheckpoint(batch);
    if (!result.ok()) {
      std::fprintf(stderr, "%s: %s\n", label, result.status().ToString().c_str());
      return false;
    }
    totals += result->counters;
    events += result->events;
    records += batch.records.size();
  }
  const double seconds = Seconds(start);
  const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  std::printf(
      "%-22s %8zu records in %6.2f s (cpu %5.2f s) = %9.0f records/s  (created %ld, updated %ld, "
      "unchanged %ld, events %ld, %lld MB written)\n",
      label, records, seconds, cpu, static_cast<double>(records) / seconds,
      static_cast<long>(totals.created), static_cast<long>(totals.updated),
      static_cast<long>(totals.unchanged), static_cast<long>(events),
      (WrittenBytes() - written_start) >> 20);
  return true;
}

// What the store cannot avoid doing per event: building the envelope (model::BuildEvents).
void TimeBuildEvents(const std::vector<CanonicalRecord>& records) {
  const Clock::time_point start = Clock::now();
  size_t bytes = 0;
  for (const CanonicalRecord& record : records) {
    const reglo::model::Decision decision = reglo::model::Reconcile(record, nullptr);
    for (const auto& event :
         reglo::model::BuildEvents(record, decision, "2025-06-01T08:00:00.000Z")) {
      bytes += model::CloudEventJson(event).size();
    }
  }
  std::printf("BuildEvents alone     %8zu records in %6.2f s (%zu envelope bytes)\n",
              records.size(), Seconds(start), bytes);
}

void WriteCsv(const std::string& path, int count) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) return;
  std::fprintf(out, "externalId,updatedAt,firstName,lastName,fiscalCode,birthDate,email,phone\n");
  for (int i = 0; i < count; ++i) {
    const reglo::model::RawRecord raw = MakeStudent(i, 0);
    std::fprintf(out, "%s,%s", raw.external_id.c_str(), raw.source_updated_at->c_str());
    for (const auto& [name, value] : raw.fields) std::fprintf(out, ",%s", value->c_str());
    std::fprintf(out, "\n");
  }
  std::fclose(out);
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::stoi(argv[1]) : 200000;
  const size_t batch_size = argc > 2 ? std::stoul(argv[2]) : 5000;
  const std::string db_path = argc > 3 ? argv[3] : "/tmp/reglo-bench.db";
  if (argc > 4) WriteCsv(argv[4], count);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_path + suffix);

  Clock::time_point start = Clock::now();
  const std::vector<CanonicalRecord> cold = Generate(count, 0);
  const std::vector<CanonicalRecord> changed = Generate(count, 1);
  std::printf("validate (not timed below) %d records x2 in %.2f s\n", count, Seconds(start));

  auto store = reglo::storage::OpenSqliteStore(db_path);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  const int64_t run_id = (*store)->BeginRun("bench", "2025-06-01T08:00:00.000Z").value();
  std::printf("batch size %zu, database %s\n", batch_size, db_path.c_str());
  TimeBuildEvents(cold);
  const auto cold_batches = MakeBatches(run_id, cold, batch_size);
  const auto changed_batches = MakeBatches(run_id, changed, batch_size);
  if (!CommitAll(**store, cold_batches, "cold load")) return 1;
  if (!CommitAll(**store, cold_batches, "no-change re-commit")) return 1;
  if (!CommitAll(**store, changed_batches, "10% changed")) return 1;
  return 0;
}
