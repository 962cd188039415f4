// Tests of the streaming CSV reader: RFC 4180 quoting, line ends, BOM, delimiters, encodings,
// broken rows, blank lines, buffer boundaries, resume offsets and hashing.
#include "reglo/csv/reader.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/csv/sha256.h"
#include "temp_dir.h"

namespace reglo::csv {
namespace {

using testing::TempDir;

struct ReadRow {
  std::vector<std::string> fields;
  uint64_t line;
  uint64_t offset;
  uint64_t next_offset;
  bool unterminated;
  bool truncated;
  bool invalid_utf8;
  uint64_t continuation_lines;
  uint64_t next_line;
};

std::vector<ReadRow> ReadAll(CsvReader& reader) {
  std::vector<ReadRow> rows;
  Row row;
  while (reader.Next(&row)) {
    rows.push_back({{row.fields.begin(), row.fields.end()},
                    row.line,
                    row.offset,
                    row.next_offset,
                    row.unterminated_quote,
                    row.truncated,
                    row.invalid_utf8,
                    row.continuation_lines,
                    row.next_line});
  }
  EXPECT_EQ(reader.error(), "");
  return rows;
}

std::vector<ReadRow> ReadFile(const std::string& path, ReaderOptions options = {},
                              std::vector<std::string>* header = nullptr) {
  CsvReader reader;
  EXPECT_TRUE(reader.Open(path, options)) << reader.error();
  if (header != nullptr) *header = reader.header();
  return ReadAll(reader);
}

// Each test may read a file s.csv of its own: with reader_ (Open) or all at once (Read).
class CsvReaderTest : public ::testing::Test {
 protected:
  // Writes `text` as s.csv and opens reader_ on it with default options.
  bool Open(std::string_view text) {
    path_ = dir_.Write("s.csv", text);
    return reader_.Open(path_, {});
  }

  // Writes `text` as s.csv and reads all its rows with `options` (its header into `header`).
  std::vector<ReadRow> Read(std::string_view text, ReaderOptions options = {},
                            std::vector<std::string>* header = nullptr) {
    path_ = dir_.Write("s.csv", text);
    return ReadFile(path_, options, header);
  }

  TempDir dir_;
  std::string path_;
  CsvReader reader_;
};

using Fields = std::vector<std::string>;

TEST_F(CsvReaderTest, QuotedDelimitersDoubledQuotesAndEmbeddedNewlines) {
  std::vector<std::string> header;
  const auto rows = Read(
      "id,name,note\n"
      "1,\"Rossi, Mario\",\"He said \"\"ciao\"\"\"\n"
      "2,\"multi\nline\nnote\",x\n"
      "3,plain,\"\"\n",
      {}, &header);
  EXPECT_EQ(header, (Fields{"id", "name", "note"}));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "Rossi, Mario", "He said \"ciao\""}));
  EXPECT_EQ(rows[0].line, 2u);
  EXPECT_EQ(rows[1].fields, (Fields{"2", "multi\nline\nnote", "x"}));
  EXPECT_EQ(rows[1].line, 3u);
  EXPECT_EQ(rows[2].fields, (Fields{"3", "plain", ""}));
  EXPECT_EQ(rows[2].line, 6u);  // physical line, after the two embedded newlines
}

TEST_F(CsvReaderTest, CrLfLineEndsAndNoFinalNewline) {
  ASSERT_TRUE(Open("id;name\r\n1;a\r\n2;\"x\r\ny\"\r\n3;c"));
  EXPECT_EQ(reader_.delimiter(), ';');
  const auto rows = ReadAll(reader_);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "a"}));
  EXPECT_EQ(rows[1].fields, (Fields{"2", "x\r\ny"}));
  EXPECT_EQ(rows[1].line, 3u);
  EXPECT_EQ(rows[2].fields, (Fields{"3", "c"}));
  EXPECT_EQ(rows[2].line, 5u);
}

TEST_F(CsvReaderTest, Utf8BomIsSkipped) {
  ASSERT_TRUE(Open("\xEF\xBB\xBFid,citt\xC3\xA0\n1,Forl\xC3\xAC\n"));
  EXPECT_TRUE(reader_.had_bom());
  EXPECT_EQ(reader_.header(), (Fields{"id", "citt\xC3\xA0"}));
  const auto rows = ReadAll(reader_);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "Forl\xC3\xAC"}));
  EXPECT_FALSE(rows[0].invalid_utf8);
}

TEST_F(CsvReaderTest, BomWinsOverAConfiguredSingleByteEncoding) {
  const auto rows =
      Read("\xEF\xBB\xBFid,nome\n1,Nicol\xC3\xB2\n", {.encoding = Encoding::kWindows1252});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fields[1], "Nicol\xC3\xB2");
}

TEST_F(CsvReaderTest, SniffsSemicolonAndHonoursAnExplicitDelimiter) {
  ASSERT_TRUE(Open("id;nome;note\n1;a,b;c\n"));
  EXPECT_EQ(reader_.delimiter(), ';');
  auto rows = ReadAll(reader_);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "a,b", "c"}));

  ReaderOptions comma;
  comma.delimiter = ',';
  rows = ReadFile(path_, comma);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fields, (Fields{"1;a", "b;c"}));
}

TEST_F(CsvReaderTest, SniffingIgnoresDelimitersInsideQuotes) {
  ASSERT_TRUE(Open("\"a;b;c;d\",e,f\n1,2,3\n"));
  EXPECT_EQ(reader_.delimiter(), ',');
  EXPECT_EQ(reader_.header(), (Fields{"a;b;c;d", "e", "f"}));
}

TEST_F(CsvReaderTest, ConvertsWindows1252) {
  // € à è ì ò ù, plus curly quotes (0x93/0x94) that only Windows-1252 has.
  std::vector<std::string> header;
  const auto rows = Read("id;nome\n1;\x80 \xE0\xE8\xEC\xF2\xF9 \x93ok\x94\nci\xE0;x\n",
                         {.encoding = Encoding::kWindows1252}, &header);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields[1],
            "\xE2\x82\xAC \xC3\xA0\xC3\xA8\xC3\xAC\xC3\xB2\xC3\xB9 \xE2\x80\x9Cok\xE2\x80\x9D");
  EXPECT_EQ(rows[1].fields[0], "ci\xC3\xA0");
  EXPECT_FALSE(rows[0].invalid_utf8);
}

TEST_F(CsvReaderTest, ConvertsIso88591) {
  std::vector<std::string> header;
  const auto rows =
      Read("id,citt\xE0\n1,\xC0\xE8\xFF\x80\n", {.encoding = Encoding::kLatin1}, &header);
  EXPECT_EQ(header[1], "citt\xC3\xA0");
  ASSERT_EQ(rows.size(), 1u);
  // 0x80 is a C1 control in ISO-8859-1 (only Windows-1252 makes it €).
  EXPECT_EQ(rows[0].fields[1], "\xC3\x80\xC3\xA8\xC3\xBF\xC2\x80");
}

TEST_F(CsvReaderTest, InvalidUtf8IsReplacedAndFlagged) {
  const auto rows = Read("id,nome\n1,Citt\xE0\n2,ok \xC3\xA0\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].invalid_utf8);
  EXPECT_EQ(rows[0].fields[1], "Citt\xEF\xBF\xBD");
  EXPECT_FALSE(rows[1].invalid_utf8);
  EXPECT_EQ(rows[1].fields[1], "ok \xC3\xA0");
}

// Found by the csv_reader fuzzer: a lead byte ending one field and a continuation byte starting
// the next are two invalid fields, though the row's bytes end to end would be valid UTF-8.
TEST_F(CsvReaderTest, Utf8IsCheckedFieldByFieldNotOverTheWholeRow) {
  const auto rows = Read("id;a;b\n2;\xCA;\x94x\n", {.delimiter = ';'});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].invalid_utf8);
  EXPECT_EQ(rows[0].fields[1], "\xEF\xBF\xBD");
  EXPECT_EQ(rows[0].fields[2], "\xEF\xBF\xBDx");
}

TEST_F(CsvReaderTest, RowsWithTooFewOrTooManyFieldsAreReturnedAsTheyAre) {
  const auto rows = Read("a,b,c\n1,2\n1,2,3,4,5\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "2"}));
  EXPECT_EQ(rows[1].fields, (Fields{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(rows[1].line, 3u);
}

TEST_F(CsvReaderTest, UnterminatedQuoteCostsOneRowNotTheRestOfTheFile) {
  const auto rows = Read("id,name\n1,a\n2,\"broken\n3,c\n4,d");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].fields, (Fields{"2", "\"broken"}));
  EXPECT_TRUE(rows[1].unterminated);
  EXPECT_EQ(rows[1].line, 3u);
  EXPECT_EQ(rows[2].fields, (Fields{"3", "c"}));
  EXPECT_EQ(rows[2].line, 4u);
  EXPECT_FALSE(rows[2].unterminated);
  EXPECT_EQ(rows[3].fields, (Fields{"4", "d"}));
  EXPECT_EQ(rows[3].line, 5u);
}

// A multi-line note that lost its closing quote: the lines after the broken row with fewer fields
// than the header are the rest of the note, never rows of their own; their line breaks (CRLF
// here) and blank lines between them are kept.
TEST_F(CsvReaderTest, LinesContinuingARowWhoseQuoteNeverClosesAreReadAsItsRest) {
  ASSERT_TRUE(
      Open("id,name,note\r\n"
           "1,a,\"riga uno\r\n"
           "due ri\r\n"
           "\r\n"
           "tre, con virgola\r\n"
           "2,b,ok\r\n"
           "\r\n"));
  const auto rows = ReadAll(reader_);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "a", "\"riga uno\r\ndue ri\r\n\r\ntre", " con virgola"}));
  EXPECT_TRUE(rows[0].unterminated);
  EXPECT_EQ(rows[0].continuation_lines, 3u);
  EXPECT_EQ(rows[0].line, 2u);
  EXPECT_EQ(rows[0].next_line, 6u);
  EXPECT_EQ(rows[1].fields, (Fields{"2", "b", "ok"}));
  EXPECT_EQ(rows[1].line, 6u);
  EXPECT_EQ(rows[1].offset, rows[0].next_offset);
  EXPECT_FALSE(rows[1].unterminated);
  EXPECT_EQ(reader_.blank_lines(), 1u);  // the last line; the one inside the note is data
}

TEST_F(CsvReaderTest, BlankLinesAfterABrokenRowAreNotItsContinuationAlone) {
  const auto rows = Read("id,name,note\n1,a,\"open\n\n\n2,b,c\n3,d\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "a", "\"open"}));
  EXPECT_EQ(rows[0].continuation_lines, 0u);
  EXPECT_EQ(rows[1].fields, (Fields{"2", "b", "c"}));
  EXPECT_EQ(rows[1].line, 5u);
  EXPECT_EQ(rows[2].fields, (Fields{"3", "d"}));  // short, but after a good row: a row
  EXPECT_FALSE(rows[2].unterminated);
}

// A broken row's continuation is cut at max_row_bytes like any row, and what follows the cut is
// still read through (never rows of their own) without keeping anything of it.
TEST_F(CsvReaderTest, AContinuationLongerThanMaxRowBytesIsCut) {
  std::string text = "id,name,note\n1,a,\"open\n";
  for (int i = 0; i < 2000; ++i) text += "x,y\n";  // two fields: fewer than the header's three
  text += "2,b,c\n";
  const auto rows = Read(text, {.max_row_bytes = 1000});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].truncated);
  EXPECT_EQ(rows[0].continuation_lines, 2000u);
  size_t bytes = 0;
  for (const std::string& field : rows[0].fields) bytes += field.size();
  EXPECT_EQ(bytes, 1000u);
  EXPECT_LT(rows[0].fields.size(), 400u);  // the fields after the cut are not kept
  EXPECT_EQ(rows[1].fields, (Fields{"2", "b", "c"}));
  EXPECT_EQ(rows[1].line, 2003u);
}

TEST_F(CsvReaderTest, OverlongRowIsReadAsPlainTextAndCut) {
  // The quote never closes, and the file is far longer than max_row_bytes: memory stays bounded.
  std::string text = "id,note\n1,\"open\n2," + std::string(5000, 'x') + "\n3,ok\n";
  const auto rows = Read(text, {.max_row_bytes = 1000});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(rows[0].unterminated);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "\"open"}));
  EXPECT_TRUE(rows[1].truncated);
  EXPECT_FALSE(rows[1].unterminated);               // just long: no quote involved
  EXPECT_EQ(rows[1].fields[1].size(), 1000u - 1u);  // "2" + the cut note = max_row_bytes
  EXPECT_EQ(rows[2].fields, (Fields{"3", "ok"}));
  EXPECT_EQ(rows[2].line, 4u);
}

TEST_F(CsvReaderTest, BlankLinesAreSkippedAndLineNumbersStayRight) {
  ASSERT_TRUE(Open("\nid,name\n\n1,a\r\n\r\n  \n2,b\n\n"));
  EXPECT_EQ(reader_.header_line(), 2u);
  const auto rows = ReadAll(reader_);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].line, 4u);
  EXPECT_EQ(rows[1].line, 7u);
  EXPECT_EQ(reader_.blank_lines(), 5u);
}

TEST_F(CsvReaderTest, TrailingDelimiterMeansAnEmptyLastField) {
  std::vector<std::string> header;
  const auto rows = Read("a,b,\n1,2,\n", {}, &header);
  EXPECT_EQ(header, (Fields{"a", "b", ""}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "2", ""}));
}

TEST_F(CsvReaderTest, EmptyFileHasNoHeader) {
  TempDir dir;
  CsvReader reader;
  ASSERT_TRUE(reader.Open(dir.Write("s.csv", ""), {}));
  EXPECT_TRUE(reader.header().empty());
  Row row;
  EXPECT_FALSE(reader.Next(&row));
  EXPECT_EQ(reader.error(), "");
}

TEST_F(CsvReaderTest, MissingFileIsAnError) {
  TempDir dir;
  CsvReader reader;
  EXPECT_FALSE(reader.Open((dir.path() / "nope.csv").string(), {}));
  EXPECT_NE(reader.error().find("nope.csv"), std::string::npos);
}

// Random valid CSV (quotes, delimiters, LF / CRLF inside and between rows, UTF-8), read with the
// smallest buffer and the default one: every row, line and offset must come out the same.
TEST_F(CsvReaderTest, RandomFilesParseIdenticallyAcrossBufferBoundaries) {
  TempDir dir;
  std::mt19937 rng(42);
  const std::vector<std::string> pieces = {"a",    "Rossi",    " ",  ",",   "\"",          "\n",
                                           "\r\n", "\xC3\xA0", "12", "x;y", "\xE2\x82\xAC"};
  std::string text = "id,name,note\n";
  std::vector<Fields> expected;
  std::vector<uint64_t> expected_lines;
  uint64_t line = 2;
  for (int r = 0; r < 20000; ++r) {
    Fields fields;
    std::string row;
    for (int f = 0; f < 3; ++f) {
      std::string value;
      const int length = static_cast<int>(rng() % 6);
      for (int i = 0; i < length; ++i) value += pieces[rng() % pieces.size()];
      if (f == 0) value = std::to_string(r);  // never a blank line
      const bool must_quote = value.find_first_of(",\"\r\n") != std::string::npos;
      if (must_quote || rng() % 4 == 0) {
        std::string quoted = "\"";
        for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        row += quoted + "\"";
      } else {
        row += value;
      }
      if (f < 2) row += ',';
      fields.push_back(value);
    }
    row += rng() % 2 ? "\r\n" : "\n";
    expected.push_back(fields);
    expected_lines.push_back(line);
    for (char c : row) line += c == '\n';
    text += row;
  }
  const std::string path = dir.Write("random.csv", text);
  ReaderOptions small;
  small.buffer_size = 4096;
  small.delimiter = ',';
  const auto a = ReadFile(path, small);
  const auto b = ReadFile(path);
  ASSERT_EQ(a.size(), expected.size());
  ASSERT_EQ(b.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(a[i].fields, expected[i]) << "row " << i;
    ASSERT_EQ(a[i].line, expected_lines[i]) << "row " << i;
    ASSERT_EQ(b[i].fields, expected[i]) << "row " << i;
    ASSERT_EQ(b[i].line, a[i].line);
    ASSERT_EQ(b[i].offset, a[i].offset);
    ASSERT_EQ(b[i].next_offset, a[i].next_offset);
  }
}

TEST_F(CsvReaderTest, SkipToResumesAtARowAndHashesStayConsistent) {
  TempDir dir;
  std::string text = "id,name\n";
  for (int i = 0; i < 5000; ++i)
    text += std::to_string(i) + ",\"name\n" + std::to_string(i) + "\"\n";
  const std::string path = dir.Write("s.csv", text);
  ReaderOptions options;
  options.compute_sha256 = true;
  options.buffer_size = 4096;

  CsvReader first;
  ASSERT_TRUE(first.Open(path, options));
  Row row;
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(first.Next(&row));
  const uint64_t offset = row.next_offset;
  const uint64_t line = row.next_line;
  const std::string prefix = first.PrefixSha256(offset);
  EXPECT_EQ(prefix, Sha256OfFile(path, offset).value());
  while (first.Next(&row)) {
  }
  EXPECT_EQ(first.bytes_hashed(), text.size());
  EXPECT_EQ(first.Sha256OfAll(), Sha256OfFile(path).value());

  CsvReader second;
  ASSERT_TRUE(second.Open(path, options));
  ASSERT_TRUE(second.SkipTo(offset, line));
  EXPECT_EQ(second.PrefixSha256(offset), prefix);
  const auto rest = ReadAll(second);
  ASSERT_EQ(rest.size(), 2000u);
  EXPECT_EQ(rest[0].fields, (Fields{"3000", "name\n3000"}));
  EXPECT_EQ(rest[0].line, 2u + 3000u * 2u);
  EXPECT_EQ(second.Sha256OfAll(), Sha256OfFile(path).value());
}

TEST_F(CsvReaderTest, HashCoversTheWholeFileEvenAfterABrokenRowIsReRead) {
  TempDir dir;
  const std::string text = "id,name\n1,\"open\n2,b\n3,c\n";
  const std::string path = dir.Write("s.csv", text);
  ReaderOptions options;
  options.compute_sha256 = true;
  CsvReader reader;
  ASSERT_TRUE(reader.Open(path, options));
  Row row;
  ASSERT_TRUE(reader.Next(&row));
  EXPECT_TRUE(row.unterminated_quote);
  EXPECT_EQ(reader.PrefixSha256(row.next_offset), Sha256OfFile(path, row.next_offset).value());
  while (reader.Next(&row)) {
  }
  EXPECT_EQ(reader.bytes_hashed(), text.size());
  EXPECT_EQ(reader.Sha256OfAll(), Sha256OfFile(path).value());
}

}  // namespace
}  // namespace reglo::csv
