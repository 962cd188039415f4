// Streaming RFC 4180 CSV reader: one file, one row at a time, through a fixed-size read buffer, so
// memory does not grow with the file (a row is capped at max_row_bytes). Converts text to UTF-8,
// tracks physical line numbers and byte offsets (for resumable cursors) and can SHA-256 the bytes
// it reads. Owns its file descriptor. Thread-safety: not thread-safe; one reader per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/csv/encoding.h"
#include "reglo/csv/sha256.h"

namespace reglo::csv {

struct ReaderOptions {
  char delimiter = 0;  // ',', ';', '\t' or '|'; 0 = sniff from the header line
  Encoding encoding = Encoding::kUtf8;
  size_t buffer_size = size_t{256} << 10;
  size_t max_row_bytes = size_t{1} << 20;  // a longer row is read as plain text and truncated
  bool compute_sha256 = false;             // hash every byte read (see PrefixSha256 / Sha256OfAll)
};

// One row. The field views point into the reader and stay valid until the next call to Next().
struct Row {
  std::vector<std::string_view> fields;  // UTF-8
  uint64_t line = 0;                     // physical (1-based) line where the row starts
  uint64_t offset = 0;                   // byte offset of the row's first byte
  uint64_t next_offset = 0;              // byte offset where the following row starts
  uint64_t next_line = 0;                // physical line where the following row starts
  // A quoted field never closed (at end of file, or before max_row_bytes): the row was re-read
  // from its start as plain text up to the end of its physical line, quotes kept literally.
  bool unterminated_quote = false;
  // With unterminated_quote: how many physical lines after the row's own were read as the rest of
  // it. A quote that never closes most likely lost its closing quote in a multi-line value, so
  // each following line with fewer fields than the header (and each blank line before such a
  // line) continues the broken row: its line break and first field extend the row's last field,
  // its other fields follow. The first line with at least the header's field count starts the
  // next row.
  uint64_t continuation_lines = 0;
  bool truncated = false;     // longer than max_row_bytes even as plain text: cut at the limit
  bool invalid_utf8 = false;  // ill-formed UTF-8 replaced with U+FFFD
};

class CsvReader {
 public:
  CsvReader();
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Opens `path` and reads its header row (leading blank lines are skipped). A file with no header
  // opens fine with an empty header(). On failure returns false and sets error().
  bool Open(const std::string& path, const ReaderOptions& options);

  // Moves to `offset` (a row start reported by an earlier reader of the same file, at or after
  // data_offset()), which is on physical line `line`. The bytes skipped are still hashed. False
  // when the offset lies before the current position or beyond the end of the file.
  bool SkipTo(uint64_t offset, uint64_t line);

  // The next row, skipping blank lines. False at end of file, or on a read error (error() set).
  bool Next(Row* row);

  const std::string& error() const { return error_; }
  const std::vector<std::string>& header() const { return header_; }
  uint64_t header_line() const { return header_line_; }
  uint64_t data_offset() const { return data_offset_; }  // first byte after the header row
  char delimiter() const { return delimiter_; }
  Encoding encoding() const { return encoding_; }  // UTF-8 when a BOM was found
  bool had_bom() const { return had_bom_; }
  uint64_t blank_lines() const { return blank_lines_; }

  // Hex SHA-256 of bytes [0, offset) (compute_sha256 only). `offset` is normally the
  // next_offset of the row just returned; other offsets are hashed from the file again.
  std::string PrefixSha256(uint64_t offset);
  // After Next() returned false at end of file: hex SHA-256 of the whole file and its size.
  std::string Sha256OfAll() const { return sha_.HexDigest(); }
  uint64_t bytes_hashed() const { return hashed_upto_; }

 private:
  enum class Parse { kRow, kEof, kError, kUnterminated, kOverflow };

  bool Refill();
  void Seek(uint64_t offset, uint64_t line);
  void Hash(uint64_t position, const char* data, size_t size);
  uint64_t Position() const { return buffer_pos_ + static_cast<uint64_t>(p_ - buffer_.get()); }
  Parse ParseRow(bool literal);
  bool Append(const char* data, size_t size, bool literal);
  void EndField() { field_ends_.push_back(row_buf_.size()); }
  bool ReadRow(Row* row);
  // After a row was re-read literally for an unclosed quote: joins the lines that continue it
  // (see Row::continuation_lines) into row_buf_ / field_ends_ and returns how many there were;
  // the reader is left at the start of the next row.
  uint64_t AbsorbContinuation();
  void SniffDelimiter();

  ReaderOptions options_;
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<char[]> buffer_;
  const char* p_ = nullptr;    // next unread byte
  const char* end_ = nullptr;  // end of valid bytes in buffer_
  uint64_t buffer_pos_ = 0;    // file offset of buffer_[0]
  uint64_t line_ = 1;          // physical line of *p_
  std::string error_;

  Encoding encoding_ = Encoding::kUtf8;
  bool special_[256] = {};  // bytes that end an unquoted run: delimiter, CR, LF
  std::vector<std::string> header_;
  uint64_t header_line_ = 0;
  uint64_t data_offset_ = 0;
  uint64_t blank_lines_ = 0;

  // The row being parsed: field bytes back to back, and where each field ends.
  std::string row_buf_;
  std::vector<size_t> field_ends_;
  std::string convert_buf_;  // the row's fields after encoding conversion or UTF-8 repair
  std::vector<size_t> convert_ends_;
  uint64_t row_offset_ = 0;
  uint64_t row_line_ = 0;
  std::string_view row_break_;  // the line break that ended the row: "\n", "\r\n", "\r" or none

  Sha256 sha_;
  uint64_t hashed_upto_ = 0;

  char delimiter_ = ',';
  bool eof_ = false;
  bool had_bom_ = false;
  bool row_quoted_ = false;
  bool row_truncated_ = false;
  bool overflow_in_quotes_ = false;  // why the last kOverflow happened
  bool hash_gap_ = false;  // a byte range was skipped without hashing: digests are unusable
};

}  // namespace reglo::csv
