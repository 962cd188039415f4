// The CSV reader (plugins/csv: reader.*, encoding.*) on any file: the input's last bytes choose
// the delimiter (or sniffing), the encoding, the read buffer and row limit; the rest is the file.
// Properties beyond "no crash": every field and header name is valid UTF-8, rows move forward,
// and a file read to its end hashes to the SHA-256 of its bytes.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "reglo/csv/encoding.h"
#include "reglo/csv/mapping.h"
#include "reglo/csv/reader.h"
#include "reglo/csv/sha256.h"

using reglo::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  reglo::csv::ReaderOptions options;
  static constexpr char kDelimiters[] = {0, ',', ';', '\t', '|'};
  options.delimiter = in.PickValueInArray(kDelimiters);
  static constexpr reglo::csv::Encoding kEncodings[] = {reglo::csv::Encoding::kUtf8,
                                                        reglo::csv::Encoding::kWindows1252,
                                                        reglo::csv::Encoding::kLatin1};
  options.encoding = in.PickValueInArray(kEncodings);
  options.buffer_size = in.ConsumeIntegralInRange<size_t>(4096, 3 * 4096);  // refills mid-row
  options.max_row_bytes = in.ConsumeIntegralInRange<size_t>(64, 2048);      // overflows too
  options.compute_sha256 = in.ConsumeBool();
  const std::string contents = in.ConsumeRemainingBytesAsString();

  const reglo::fuzz::MemFile file(contents);
  reglo::csv::CsvReader reader;
  if (!reader.Open(file.path(), options)) return 0;
  for (const std::string& name : reader.header()) {
    Check(reglo::csv::IsValidUtf8(name), "a header name is not valid UTF-8");
  }
  std::string error;
  const auto date = reglo::csv::DateFormat::Parse("dd/mm/yyyy HH:MM", &error);
  std::string converted;
  reglo::csv::Row row;
  uint64_t last_offset = 0;
  bool first = true;
  while (reader.Next(&row)) {
    Check(first || row.offset > last_offset, "a row does not start after the previous one");
    Check(row.next_offset > row.offset && row.next_offset <= contents.size(),
          "a row ends outside the file");
    first = false;
    last_offset = row.offset;
    for (std::string_view field : row.fields) {
      Check(reglo::csv::IsValidUtf8(field), "a field is not valid UTF-8");
      if (date) (void)date->Apply(field, &converted);
    }
  }
  if (reader.error().empty() && options.compute_sha256) {
    reglo::csv::Sha256 sha;
    sha.Update(contents.data(), contents.size());
    Check(reader.Sha256OfAll() == sha.HexDigest(), "the file's SHA-256 is not its bytes'");
  }
  return 0;
}
