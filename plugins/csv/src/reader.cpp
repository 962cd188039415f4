#include "reglo/csv/reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

namespace reglo::csv {
namespace {

std::string_view TrimBlanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

CsvReader::CsvReader() = default;

CsvReader::~CsvReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool CsvReader::Open(const std::string& path, const ReaderOptions& options) {
  if (fd_ >= 0) ::close(fd_);
  options_ = options;
  options_.buffer_size = std::max<size_t>(options_.buffer_size, 4096);
  options_.max_row_bytes = std::max<size_t>(options_.max_row_bytes, 64);
  path_ = path;
  error_.clear();
  header_.clear();
  blank_lines_ = 0;
  sha_.Reset();
  hashed_upto_ = 0;
  hash_gap_ = false;
  buffer_ = std::make_unique<char[]>(options_.buffer_size);
  p_ = end_ = buffer_.get();
  buffer_pos_ = 0;
  eof_ = false;
  line_ = 1;

  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    error_ = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
    error_ = "cannot read " + path + ": it is a directory";
    return false;
  }
  // The first read serves the BOM check and the delimiter sniffing.
  if (!Refill() && !error_.empty()) return false;

  encoding_ = options_.encoding;
  had_bom_ = end_ - p_ >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0;
  if (had_bom_) {
    p_ += 3;
    encoding_ = Encoding::kUtf8;  // a BOM is unambiguous, whatever the configuration says
  }
  delimiter_ = options_.delimiter;
  if (delimiter_ == 0) SniffDelimiter();
  std::fill(std::begin(special_), std::end(special_), false);
  special_[static_cast<unsigned char>(delimiter_)] = true;
  special_[static_cast<unsigned char>('\r')] = true;
  special_[static_cast<unsigned char>('\n')] = true;

  Row header;
  if (ReadRow(&header)) {
    header_line_ = header.line;
    header_.reserve(header.fields.size());
    for (std::string_view name : header.fields) header_.emplace_back(TrimBlanks(name));
  } else if (!error_.empty()) {
    return false;
  }
  data_offset_ = Position();
  return true;
}

void CsvReader::SniffDelimiter() {
  // Count candidates outside quotes on the first line that is in the buffer; most wins, and a tie
  // (e.g. a one-column file) falls back to the RFC 4180 comma.
  size_t comma = 0, semicolon = 0, tab = 0, pipe = 0;
  bool quoted = false;
  for (const char* q = p_; q < end_; ++q) {
    const char c = *q;
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted) {
      if (c == '\n' || c == '\r') {
        if (comma + semicolon + tab + pipe > 0) break;  // skip leading blank lines
      } else if (c == ',') {
        ++comma;
      } else if (c == ';') {
        ++semicolon;
      } else if (c == '\t') {
        ++tab;
      } else if (c == '|') {
        ++pipe;
      }
    }
  }
  const std::pair<size_t, char> candidates[] = {
      {comma, ','}, {semicolon, ';'}, {tab, '\t'}, {pipe, '|'}};
  delimiter_ = ',';
  size_t best = 0;
  for (const auto& [count, delimiter] : candidates) {
    if (count > best) {
      best = count;
      delimiter_ = delimiter;
    }
  }
}

bool CsvReader::Refill() {
  if (eof_) return false;
  // Only called once every buffered byte is consumed, so all of it can be hashed now.
  const size_t used = static_cast<size_t>(end_ - buffer_.get());
  if (options_.compute_sha256) Hash(buffer_pos_, buffer_.get(), used);
  buffer_pos_ += used;
  for (;;) {
    const ssize_t n = ::read(fd_, buffer_.get(), options_.buffer_size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = "cannot read " + path_ + ": " + std::strerror(errno);
      eof_ = true;
      p_ = end_ = buffer_.get();
      return false;
    }
    p_ = buffer_.get();
    end_ = p_ + n;
    if (n == 0) eof_ = true;
    return n > 0;
  }
}

void CsvReader::Seek(uint64_t offset, uint64_t line) {
  // Within the buffer is the common case (a short broken row): no system call needed.
  const uint64_t buffered = static_cast<uint64_t>(end_ - buffer_.get());
  if (offset >= buffer_pos_ && offset <= buffer_pos_ + buffered) {
    p_ = buffer_.get() + (offset - buffer_pos_);
  } else {
    ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET);
    buffer_pos_ = offset;
    p_ = end_ = buffer_.get();
    eof_ = false;
  }
  line_ = line;
}

void CsvReader::Hash(uint64_t position, const char* data, size_t size) {
  const uint64_t end = position + size;
  if (end <= hashed_upto_) return;  // read again after a seek back: already hashed
  if (position > hashed_upto_) {
    hash_gap_ = true;
    return;
  }
  const size_t skip = static_cast<size_t>(hashed_upto_ - position);
  sha_.Update(data + skip, size - skip);
  hashed_upto_ = end;
}

bool CsvReader::SkipTo(uint64_t offset, uint64_t line) {
  if (offset < Position()) return false;
  while (Position() < offset) {
    if (p_ == end_ && !Refill()) return false;
    const uint64_t step = std::min<uint64_t>(static_cast<uint64_t>(end_ - p_), offset - Position());
    p_ += step;
  }
  line_ = line;
  return true;
}

std::string CsvReader::PrefixSha256(uint64_t offset) {
  const uint64_t buffered_end = buffer_pos_ + static_cast<uint64_t>(end_ - buffer_.get());
  if (!hash_gap_ && offset >= hashed_upto_ && offset >= buffer_pos_ && offset <= buffered_end) {
    Hash(buffer_pos_, buffer_.get(), static_cast<size_t>(offset - buffer_pos_));
    return sha_.HexDigest();
  }
  // Rare (after a broken row was re-read): hash the prefix from the file on its own.
  return Sha256OfFile(path_, offset).value_or("");
}

bool CsvReader::Append(const char* data, size_t size, bool literal) {
  if (row_buf_.size() + size > options_.max_row_bytes) {
    if (!literal) return false;
    row_truncated_ = true;
    size = options_.max_row_bytes - std::min(options_.max_row_bytes, row_buf_.size());
  }
  row_buf_.append(data, size);
  return true;
}

// One RFC 4180 row. `literal` (used to recover from a broken row) treats quotes as plain text and
// ends the row at the first line break.
CsvReader::Parse CsvReader::ParseRow(bool literal) {
  enum State { kFieldStart, kUnquoted, kQuoted, kQuotedCr, kQuoteSeen, kAfterCr };
  row_buf_.clear();
  field_ends_.clear();
  row_quoted_ = false;
  row_truncated_ = false;
  row_break_ = {};
  overflow_in_quotes_ = true;  // every other kOverflow comes from inside a quoted field
  if (p_ == end_ && !Refill()) return error_.empty() ? Parse::kEof : Parse::kError;
  row_offset_ = Position();
  row_line_ = line_;
  State state = kFieldStart;
  const char delimiter = delimiter_;
  // The line break `c` after a field: true when it ends the row now (LF); a CR waits in kAfterCr
  // for the LF that may follow it.
  auto break_line = [&](char c) {
    ++line_;
    row_break_ = c == '\n' ? "\n" : "\r";
    state = kAfterCr;
    return c == '\n';
  };
  for (;;) {
    if (p_ == end_ && !Refill()) {
      if (!error_.empty()) return Parse::kError;
      switch (state) {
        case kFieldStart:  // after a trailing delimiter: one more, empty, field
        case kUnquoted:
        case kQuoteSeen: EndField(); return Parse::kRow;
        case kAfterCr: return Parse::kRow;
        case kQuoted:
        case kQuotedCr: return Parse::kUnterminated;
      }
    }
    switch (state) {
      case kFieldStart:
        if (!literal && *p_ == '"') {
          ++p_;
          row_quoted_ = true;
          state = kQuoted;
          break;
        }
        state = kUnquoted;
        [[fallthrough]];
      case kUnquoted: {
        const char* q = p_;
        while (q < end_ && !special_[static_cast<unsigned char>(*q)]) ++q;
        if (!Append(p_, static_cast<size_t>(q - p_), literal)) {
          overflow_in_quotes_ = false;
          return Parse::kOverflow;
        }
        p_ = q;
        if (p_ == end_) break;
        const char c = *p_++;
        EndField();
        if (c == delimiter) {
          state = kFieldStart;
        } else if (break_line(c)) {
          return Parse::kRow;
        }
        break;
      }
      case kQuoted: {
        const char* q = p_;
        while (q < end_ && *q != '"' && *q != '\n' && *q != '\r') ++q;
        if (!Append(p_, static_cast<size_t>(q - p_), literal)) return Parse::kOverflow;
        p_ = q;
        if (p_ == end_) break;
        const char c = *p_++;
        if (c == '"') {
          state = kQuoteSeen;
          break;
        }
        // A line break inside quotes is data, but it still starts a new physical line.
        if (!Append(&c, 1, literal)) return Parse::kOverflow;
        ++line_;
        if (c == '\r') state = kQuotedCr;
        break;
      }
      case kQuotedCr:  // CR LF inside quotes is one line break
        state = kQuoted;
        if (*p_ == '\n') {
          ++p_;
          if (!Append("\n", 1, literal)) return Parse::kOverflow;
        }
        break;
      case kQuoteSeen: {
        const char c = *p_;
        if (c == '"') {  // doubled quote: one literal quote
          ++p_;
          if (!Append("\"", 1, literal)) return Parse::kOverflow;
          state = kQuoted;
        } else if (c == delimiter) {
          ++p_;
          EndField();
          state = kFieldStart;
        } else if (c == '\n' || c == '\r') {
          ++p_;
          EndField();
          if (break_line(c)) return Parse::kRow;
        } else {
          state = kUnquoted;  // lenient, like Excel: text after a closing quote is kept
        }
        break;
      }
      case kAfterCr:
        if (*p_ == '\n') {
          ++p_;
          row_break_ = "\r\n";
        }
        return Parse::kRow;
    }
  }
}

bool CsvReader::ReadRow(Row* row) {
  for (;;) {
    Parse result = ParseRow(false);
    if (result == Parse::kEof || result == Parse::kError) return false;
    bool unterminated = false;
    if (result == Parse::kUnterminated || result == Parse::kOverflow) {
      // Most likely a stray quote: read just this physical line again as plain text, so one bad
      // value costs one row instead of swallowing the rest of the file (and memory stays bounded).
      unterminated = result == Parse::kUnterminated || overflow_in_quotes_;
      Seek(row_offset_, row_line_);
      result = ParseRow(true);
      if (result == Parse::kError || result == Parse::kEof) return false;  // kEof: file shrank
    }
    uint64_t continuation_lines = 0;
    if (unterminated && !header_.empty()) {
      continuation_lines = AbsorbContinuation();
      if (!error_.empty()) return false;
    }
    const size_t count = field_ends_.size();
    if (count == 1 && !row_quoted_ && TrimBlanks(row_buf_).empty()) {
      ++blank_lines_;
      continue;
    }

    row->line = row_line_;
    row->offset = row_offset_;
    row->next_offset = Position();
    row->next_line = line_;
    row->unterminated_quote = unterminated;
    row->continuation_lines = continuation_lines;
    row->truncated = row_truncated_;
    row->invalid_utf8 = false;
    row->fields.resize(count);

    const std::string* bytes = &row_buf_;
    const std::vector<size_t>* ends = &field_ends_;
    // Each field on its own: the fields are stored end to end, so a lead byte ending one field and
    // a continuation byte starting the next ("\xca" ";" "\x94") look valid over the whole row.
    const auto every_field_is_utf8 = [&] {
      size_t start = 0;
      for (size_t end : field_ends_) {
        if (!IsValidUtf8(std::string_view(row_buf_.data() + start, end - start))) return false;
        start = end;
      }
      return true;
    };
    const bool needs_work =
        !IsAscii(row_buf_) && (encoding_ != Encoding::kUtf8 || !every_field_is_utf8());
    if (needs_work) {
      convert_buf_.clear();
      convert_ends_.clear();
      size_t start = 0;
      for (size_t end : field_ends_) {
        const std::string_view field(row_buf_.data() + start, end - start);
        if (encoding_ == Encoding::kUtf8) {
          AppendSanitizedUtf8(field, convert_buf_);
        } else {
          AppendAsUtf8(encoding_, field, convert_buf_);
        }
        convert_ends_.push_back(convert_buf_.size());
        start = end;
      }
      row->invalid_utf8 = encoding_ == Encoding::kUtf8;
      bytes = &convert_buf_;
      ends = &convert_ends_;
    }
    size_t start = 0;
    for (size_t i = 0; i < count; ++i) {
      const size_t end = (*ends)[i];
      row->fields[i] = std::string_view(bytes->data() + start, end - start);
      start = end;
    }
    return true;
  }
}

uint64_t CsvReader::AbsorbContinuation() {
  // The broken row, and the state to go back to when the lines read after it are not its own.
  std::string row = std::move(row_buf_);
  std::vector<size_t> ends = std::move(field_ends_);
  bool truncated = row_truncated_;
  std::string_view line_break = row_break_;
  const uint64_t row_offset = row_offset_;
  const uint64_t row_line = row_line_;
  uint64_t absorbed = 0;
  // Blank lines are part of the broken row only when a continuation line follows them; joining
  // only appends, so the row as it was before them is its sizes and its last field's end.
  struct Mark {
    size_t bytes, fields, last_end;
  };
  std::optional<Mark> before_blanks;
  uint64_t blanks = 0;
  uint64_t resume_offset = Position();
  uint64_t resume_line = line_;
  bool resume_truncated = truncated;
  std::string_view resume_break = line_break;
  while (ParseRow(true) == Parse::kRow) {
    const bool blank = field_ends_.size() == 1 && TrimBlanks(row_buf_).empty();
    if (!blank && field_ends_.size() >= header_.size()) break;  // a row of its own
    if (blank && !before_blanks) {
      before_blanks = Mark{row.size(), ends.size(), ends.back()};
      resume_truncated = truncated;
      resume_break = line_break;
    }
    // Join: the line break and the line's first field continue the row's last field, the line's
    // other fields follow it.
    const size_t room = options_.max_row_bytes - std::min(options_.max_row_bytes, row.size());
    std::string joined(line_break);
    joined += row_buf_;
    if (joined.size() > room) {
      joined.resize(room);
      truncated = true;
    }
    const size_t base = row.size() + line_break.size();
    row += joined;
    ends.back() = std::min(row.size(), base + field_ends_.front());
    for (size_t i = 1; i < field_ends_.size(); ++i) {
      const size_t end = base + field_ends_[i];
      if (end > row.size()) {  // cut at max_row_bytes: the fields after the cut are gone
        if (ends.back() < row.size()) ends.push_back(row.size());
        break;
      }
      ends.push_back(end);
    }
    truncated = truncated || row_truncated_;
    line_break = row_break_;
    if (blank) {
      ++blanks;
      continue;
    }
    absorbed += blanks + 1;
    blanks = 0;
    before_blanks.reset();
    resume_offset = Position();
    resume_line = line_;
    resume_truncated = truncated;
    resume_break = line_break;
  }
  if (before_blanks) {
    row.resize(before_blanks->bytes);
    ends.resize(before_blanks->fields);
    ends.back() = before_blanks->last_end;
  }
  if (error_.empty()) Seek(resume_offset, resume_line);
  row_buf_ = std::move(row);
  field_ends_ = std::move(ends);
  row_truncated_ = resume_truncated;
  row_break_ = resume_break;
  row_offset_ = row_offset;
  row_line_ = row_line;
  return absorbed;
}

bool CsvReader::Next(Row* row) {
  return ReadRow(row);
}

}  // namespace reglo::csv
