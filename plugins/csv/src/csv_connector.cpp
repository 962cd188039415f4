// The "csv" connector plugin: reads exports of driving-school software (one CSV file or a folder of
// them per canonical entity), emits one source record per row, maps them to canonical records, and
// keeps a cursor of file fingerprints so an unchanged export costs a stat() per file.
// Thread-safety: as the ABI says, one instance is used by one thread at a time; instances share
// nothing mutable.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <memory>
#include <reglo/connector.hpp>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "reglo/connector_common/configured_connector.h"
#include "reglo/csv/config.h"
#include "reglo/csv/cursor.h"
#include "reglo/csv/mapping.h"
#include "reglo/csv/reader.h"
#include "reglo/csv/sha256.h"

namespace reglo::csv {
namespace {

using sdk::Status;

struct FileEntry {
  std::string name;  // file name: cursor key and the first half of every origin
  std::string path;
};

struct FileStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

bool StatFile(const std::string& path, FileStat* out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  out->size = static_cast<uint64_t>(st.st_size);
  out->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return true;
}

// File timestamps tick coarsely (a few ms), so a file rewritten with the same size right after it
// was read could keep its mtime. A fingerprint taken within this window stores mtime 0, which
// forces a hash comparison next time (the "racy clean" rule of git's index).
int64_t TrustedMtime(int64_t mtime_ns) {
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return now - mtime_ns < 2'000'000'000 ? 0 : mtime_ns;
}

bool IsCsvName(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.size() < 5) return false;  // hidden, temp files
  std::string ext = name.substr(name.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return ext == ".csv";
}

// The entity's files: the file itself, or the *.csv files of the folder in byte order of name.
// A missing path is RETRY, not CONFIG_ERROR: exports are often dropped in by a scheduled job, so
// the path may appear later without anyone touching the configuration.
Status ListFiles(const EntityConfig& entity, std::vector<FileEntry>* files) {
  namespace fs = std::filesystem;
  files->clear();
  std::error_code ec;
  const fs::file_status status = fs::status(entity.path, ec);
  if (ec || !fs::exists(status)) {
    return Status::Retry("entities." + entity.entity + ".path: " + entity.path +
                         " does not exist (yet)");
  }
  if (!fs::is_directory(status)) {
    files->push_back({fs::path(entity.path).filename().string(), entity.path});
    return Status::Ok();
  }
  for (fs::directory_iterator it(entity.path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (IsCsvName(name) && it->is_regular_file(type_ec))
      files->push_back({name, it->path().string()});
  }
  if (ec) return Status::Retry("cannot list " + entity.path + ": " + ec.message());
  std::sort(files->begin(), files->end(),
            [](const FileEntry& a, const FileEntry& b) { return a.name < b.name; });
  return Status::Ok();
}

bool SameColumn(std::string_view a, std::string_view b) {
  return FoldCase(a) == FoldCase(b);
}

// -1 when absent. An exact match wins over a case-insensitive one.
int FindColumn(const std::vector<std::string>& header, std::string_view name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  for (size_t i = 0; i < header.size(); ++i) {
    if (SameColumn(header[i], name)) return static_cast<int>(i);
  }
  return -1;
}

std::string SurplusName(size_t index) {
  return "_column_" + std::to_string(index + 1);
}

// A row the hub must keep as a dead letter, not as a record, is emitted with this one field,
// whose value is the reason; Map() answers such a record with that reason, and the hub stores a
// dead letter. No CSV column can carry the name: header names are trimmed of blanks.
constexpr char kDeadLetterField[] = " reglo:dead-letter";

// The length of the control character (C0, DEL, or C1 in UTF-8) at the start of `text`; 0 if none.
size_t ControlCharacterAt(std::string_view text) {
  const auto byte = static_cast<unsigned char>(text[0]);
  if (byte < 0x20 || byte == 0x7F) return 1;
  if (byte == 0xC2 && text.size() > 1) {
    const auto next = static_cast<unsigned char>(text[1]);
    if (next >= 0x80 && next <= 0x9F) return 2;
  }
  return 0;
}

bool HasControlCharacter(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (ControlCharacterAt(text.substr(i)) != 0) return true;
  }
  return false;
}

// `text` with each control character written out ("\0", "\t", "\x1b", "\u0085"), the form
// reglo::EscapeControlCharacters gives (a plugin links no host library): the key a dead letter
// is stored under, so that two ids that differ only after a NUL stay two keys.
std::string EscapeControlCharacters(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const size_t length = ControlCharacterAt(text.substr(i));
    if (length == 0) {
      out += text[i++];
      continue;
    }
    const auto byte = static_cast<unsigned char>(text[i + length - 1]);
    switch (length == 1 ? byte : 0x100) {
      case 0x00: out += "\\0"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case 0x1B: out += "\\e"; break;
      case 0x100:
        out += "\\u00";
        out += kHex[byte >> 4];
        out += kHex[byte & 0x0F];
        break;
      default:
        out += "\\x";
        out += kHex[byte >> 4];
        out += kHex[byte & 0x0F];
    }
    i += length;
  }
  return out;
}

// The line each id of one file was last seen on, to warn about an id that repeats. Kept by a
// 64-bit hash of the id (a collision, odds about n^2 / 2^65, costs at most one needless warning)
// in an open-addressing table of 16-byte slots at most 3/4 full, which stops growing at 2^20
// slots (16 MiB): memory stays bounded whatever the file's size. Past 786,432 distinct ids, new
// ids are no longer remembered (a repeat of one of the first ones is still found).
class IdLines {
 public:
  void Clear() {
    slots_ = {};
    used_ = 0;
  }
  // Records that `id` is on `line`; returns the line it was last seen on before, or 0.
  uint64_t Exchange(std::string_view id, uint64_t line) {
    const bool full = (used_ + 1) * 4 > slots_.size() * 3;
    if (full && slots_.size() < kMaxSlots) Grow();
    const uint64_t hash = std::hash<std::string_view>{}(id) | 1;  // 0 marks a free slot
    Slot& slot = Find(hash);
    if (slot.hash == 0) {
      if (full && slots_.size() >= kMaxSlots) return 0;
      slot.hash = hash;
      ++used_;
    }
    return std::exchange(slot.line, line);
  }

 private:
  static constexpr size_t kMaxSlots = size_t{1} << 20;
  struct Slot {
    uint64_t hash = 0;
    uint64_t line = 0;
  };
  Slot& Find(uint64_t hash) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = static_cast<size_t>(hash) & mask;; i = (i + 1) & mask) {
      if (slots_[i].hash == 0 || slots_[i].hash == hash) return slots_[i];
    }
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    for (const Slot& slot : old) {
      if (slot.hash != 0) Find(slot.hash) = slot;
    }
  }
  std::vector<Slot> slots_;  // size a power of two
  size_t used_ = 0;
};

class CsvConnector final : public connector_common::ConfiguredConnector<CsvConnector, Config> {
 public:
  static constexpr const char* kName = "csv";
  static constexpr const char* kVersion = "1.0.0";
  static constexpr const char* kDescription =
      "CSV exports (one file or a folder of files per entity), RFC 4180, UTF-8 / Windows-1252 / "
      "ISO-8859-1, with column mapping, date formats and value maps";
  static constexpr const char* kConfigSchema = kConfigSchemaJson;

  Status HealthCheck(const sdk::Context&) override {
    std::string problems;
    for (const EntityConfig& entity : config_.entities) {
      std::error_code ec;
      const bool is_dir = std::filesystem::is_directory(entity.path, ec);
      std::string problem;
      if (!std::filesystem::exists(entity.path, ec)) {
        problem = "does not exist";
      } else if (::access(entity.path.c_str(), is_dir ? (R_OK | X_OK) : R_OK) != 0) {
        problem = "is not readable";
      }
      if (!problem.empty()) {
        problems += (problems.empty() ? "" : "; ") + std::string("entities.") + entity.entity +
                    ".path: " + entity.path + " " + problem;
      }
    }
    return problems.empty() ? Status::Ok() : Status::Retry(problems);
  }

  Status Pull(const sdk::Context& ctx, std::string_view stream,
              std::optional<std::string_view> since_cursor, sdk::Emitter& emitter) override {
    const int index = EntityIndex(stream);
    if (index < 0) {
      return Status::ConfigError("unknown stream '" + std::string(stream) +
                                 "': this source reads " + StreamList());
    }
    const EntityConfig& entity = config_.entities[static_cast<size_t>(index)];
    std::vector<FileEntry> files;
    if (Status status = ListFiles(entity, &files); !status.ok()) return status;

    PullRun run{ctx, emitter, entity, {}, {}, false, 0};
    if (since_cursor && !since_cursor->empty()) {
      std::string error;
      if (std::optional<Cursor> cursor = DecodeCursor(*since_cursor, &error)) {
        run.cursor = std::move(*cursor);
      } else {
        // Costs one full read; the hub's content hashes keep it from creating changes.
        ctx.Warn("stream " + entity.entity + ": unusable cursor (" + error +
                 "); reading every file from the start");
      }
    }
    // Files that disappeared leave the cursor (deletions are not propagated in V1).
    std::erase_if(run.cursor.files, [&](const auto& entry) {
      return std::none_of(files.begin(), files.end(),
                          [&](const FileEntry& file) { return file.name == entry.first; });
    });
    if (run.cursor.partial && std::none_of(files.begin(), files.end(), [&](const FileEntry& file) {
          return file.name == run.cursor.partial->file;
        })) {
      run.cursor.partial.reset();
    }

    for (const FileEntry& file : files) {
      if (Status status = PullFile(run, file); !status.ok()) return status;
    }
    // Always end with a checkpoint, so even a pull that found nothing new confirms its cursor.
    if (!run.checkpointed || EncodeCursor(run.cursor) != run.last_cursor) {
      if (Status status = run.Checkpoint(); !status.ok()) return status;
    }
    return Status::Ok();
  }

  // A dead letter of a configured entity is answered with its reason (see kDeadLetterField).
  Status Map(const sdk::Context& ctx, const sdk::RecordView& source,
             sdk::CanonicalSink& sink) override {
    if (EntityIndex(source.entity()) >= 0 && source.fields().size() == 1 &&
        source.fields()[0].name != nullptr &&
        std::string_view(source.fields()[0].name) == kDeadLetterField) {
      return Status::Fatal(std::string(source.Get(kDeadLetterField).value_or("")));
    }
    return ConfiguredConnector::Map(ctx, source, sink);
  }

 private:
  friend ConfiguredConnector;
  using ConfiguredConnector::ConfiguredConnector;
  static std::optional<Config> Parse(std::string_view json, std::string* error) {
    return ParseConfig(json, error);
  }

  // State of one pull_changes call.
  struct PullRun {
    const sdk::Context& ctx;
    sdk::Emitter& emitter;
    const EntityConfig& entity;
    Cursor cursor;
    std::string last_cursor;  // text of the last checkpoint sent
    bool checkpointed;
    uint64_t rows;  // rows emitted so far in this pull

    Status Checkpoint() {
      last_cursor = EncodeCursor(cursor);
      checkpointed = true;
      return emitter.Checkpoint(last_cursor);
    }
  };

  std::string StreamList() const {
    std::string list;
    for (const EntityConfig& entity : config_.entities) {
      list += (list.empty() ? "" : ", ") + entity.entity;
    }
    return list;
  }

  // Reads one file, or skips it when its fingerprint says it is unchanged.
  Status PullFile(PullRun& run, const FileEntry& file) {
    FileStat stat;
    if (!StatFile(file.path, &stat)) {
      return Status::Retry("cannot read " + file.path + " (it may be being replaced)");
    }
    Cursor& cursor = run.cursor;
    std::optional<PartialFile> resume;
    if (cursor.partial && cursor.partial->file == file.name) {
      if (cursor.partial->size == stat.size && cursor.partial->mtime_ns == stat.mtime_ns) {
        resume = cursor.partial;
      } else {
        run.ctx.Info(file.name + " changed since the interrupted pull; reading it from the start");
      }
      cursor.partial.reset();
    }
    if (!resume) {
      auto known = cursor.files.find(file.name);
      if (known != cursor.files.end() && known->second.size == stat.size) {
        if (known->second.mtime_ns != 0 && known->second.mtime_ns == stat.mtime_ns) {
          return Status::Ok();  // unchanged: not even opened
        }
        // Same size, other mtime (re-exported, touched): only the content can tell.
        if (Sha256OfFile(file.path) == known->second.sha256) {
          known->second.mtime_ns = TrustedMtime(stat.mtime_ns);
          return Status::Ok();
        }
      }
      // A checkpoint taken while this file is half read must not still claim its old version.
      cursor.files.erase(file.name);
    }

    ReaderOptions options;
    options.delimiter = run.entity.delimiter;
    options.encoding = run.entity.encoding;
    options.max_row_bytes = config_.max_row_bytes;
    options.compute_sha256 = true;
    CsvReader reader;
    if (!reader.Open(file.path, options)) return Status::Retry(reader.error());
    if (resume) {
      const bool usable = resume->offset >= reader.data_offset() && resume->offset <= stat.size &&
                          reader.SkipTo(resume->offset, resume->line) &&
                          reader.PrefixSha256(resume->offset) == resume->prefix_sha256;
      if (!usable) {
        run.ctx.Info(file.name + ": the saved position no longer matches the file; reading it " +
                     "from the start");
        resume.reset();
        if (!reader.Open(file.path, options)) return Status::Retry(reader.error());
      }
    }

    if (Status status = ReadRows(run, file, stat, reader); !status.ok()) return status;
    cursor.files[file.name] =
        FileFingerprint{reader.bytes_hashed(), TrustedMtime(stat.mtime_ns), reader.Sha256OfAll()};
    cursor.partial.reset();
    return run.Checkpoint();
  }

  // Emits the rows of an opened file, with checkpoints every checkpoint_every rows.
  Status ReadRows(PullRun& run, const FileEntry& file, const FileStat& stat, CsvReader& reader) {
    const std::vector<std::string>& header = reader.header();
    const std::string header_origin = file.name + ":" + std::to_string(reader.header_line());
    if (header.empty()) {
      run.emitter.Warn(file.name + ":1", "empty file: no header row, no records");
      return Status::Ok();
    }
    const EntityMapping& mapping = run.entity.mapping;
    const std::string key = "entities." + run.entity.entity;
    const int id_index = FindColumn(header, mapping.id_column);
    if (id_index < 0) {
      std::string found;
      for (const std::string& name : header) found += (found.empty() ? "" : ", ") + name;
      return Status::ConfigError(file.path + ": the id column '" + mapping.id_column + "' (" + key +
                                 ".id_column) is not in the header (columns: " + found + ")");
    }
    int updated_index = -1;
    if (!mapping.updated_at_column.empty()) {
      updated_index = FindColumn(header, mapping.updated_at_column);
      if (updated_index < 0) {
        run.emitter.Warn(header_origin, "the updated_at column '" + mapping.updated_at_column +
                                            "' (" + key + ".updated_at_column) is not in the " +
                                            "header; records carry no sourceUpdatedAt");
      }
    }
    for (const auto& [column, field] : mapping.columns) {
      if (FindColumn(header, column) < 0) {
        run.emitter.Warn(header_origin, "column '" + column + "' (" + key + ".columns) is not in " +
                                            "the header; " + field + " stays absent");
      }
    }
    if (header.size() > config_.max_fields_per_row) {
      return Status::ConfigError(
          header_origin + ": the header has " + std::to_string(header.size()) +
          " columns, more than max_fields_per_row (" + std::to_string(config_.max_fields_per_row) +
          "): fix the export or raise max_fields_per_row");
    }
    // Field names: the header, with blank or repeated names made unique so none is lost.
    names_.assign(header.begin(), header.end());
    std::unordered_set<std::string_view> seen_names;
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i].empty()) {
        names_[i] = SurplusName(i);
      } else if (!seen_names.insert(header[i]).second) {
        run.emitter.Warn(header_origin, "column name '" + names_[i] + "' repeats; column " +
                                            std::to_string(i + 1) + " is kept as " +
                                            SurplusName(i));
        names_[i] = SurplusName(i);
      }
    }
    const DateFormat* updated_format =
        mappers_[static_cast<size_t>(EntityIndex(run.entity.entity))]->FormatFor("sourceUpdatedAt");

    Row row;
    uint64_t empty_rows = 0;
    ids_.Clear();  // a repeated id is looked for within one file (from the resume point on)
    while (reader.Next(&row)) {
      if (run.emitter.ShouldStop()) {
        return Status::Retry("stopped on request; the next pull resumes from the last checkpoint");
      }
      origin_.assign(file.name);
      origin_.push_back(':');
      char digits[24];
      origin_.append(digits, std::to_chars(digits, digits + sizeof digits, row.line).ptr);

      if (row.unterminated_quote) {
        run.emitter.Warn(
            origin_,
            "a quoted field is never closed: the row was read as plain text up to the end of " +
                (row.continuation_lines == 0
                     ? std::string("its line")
                     : "line " + std::to_string(row.line + row.continuation_lines) +
                           " (the following lines, with fewer fields than the header, are read "
                           "as the rest of it, not as rows)"));
      }
      if (row.truncated) {
        run.emitter.Warn(origin_, "row longer than max_row_bytes (" +
                                      std::to_string(config_.max_row_bytes) + "): cut short");
      }
      if (row.invalid_utf8) {
        run.emitter.Warn(origin_, "invalid UTF-8 replaced with U+FFFD (is the file " +
                                      std::string("windows-1252? set \"encoding\")"));
      }
      const size_t count = row.fields.size();
      if (std::all_of(row.fields.begin(), row.fields.end(),
                      [](std::string_view value) { return Trim(value).empty(); })) {
        ++empty_rows;  // e.g. ";;;;" padding that spreadsheets append: no data to lose
        continue;
      }
      const size_t id = static_cast<size_t>(id_index);
      const std::string_view raw_id = id < count ? Trim(row.fields[id]) : std::string_view();
      std::string dead_letter;  // why this row is a dead letter, not a record
      if (count > config_.max_fields_per_row) {
        dead_letter = "row has " + std::to_string(count) + " fields, more than " +
                      "max_fields_per_row (" + std::to_string(config_.max_fields_per_row) + ")";
      } else if (HasControlCharacter(raw_id)) {
        dead_letter = "the id column '" + header[id] +
                      "' holds a control character (NUL, line break, escape, ...): such an id "
                      "would be cut or garbled, so the row is not a record";
      }
      if (!dead_letter.empty()) {
        if (Status status = EmitDeadLetter(run, raw_id, dead_letter); !status.ok()) return status;
        if (Status status = Emitted(run, file, stat, row, reader); !status.ok()) return status;
        continue;
      }
      if (const uint64_t earlier = raw_id.empty() ? 0 : ids_.Exchange(raw_id, row.line);
          earlier != 0) {
        run.emitter.Warn(origin_, "the id of this row is also the id of line " +
                                      std::to_string(earlier) +
                                      ": one record, and the later row wins (unless its updated_at "
                                      "is older)");
      }
      if (count < header.size()) {
        run.emitter.Warn(origin_, "row has " + std::to_string(count) + " fields, the header has " +
                                      std::to_string(header.size()) +
                                      ": the missing columns are left absent");
      } else if (count > header.size()) {
        run.emitter.Warn(origin_, "row has " + std::to_string(count) + " fields, the header has " +
                                      std::to_string(header.size()) + ": extra values kept as " +
                                      SurplusName(header.size()) +
                                      (count > header.size() + 1 ? ".." + SurplusName(count - 1)
                                                                 : std::string()));
        while (names_.size() < count) names_.push_back(SurplusName(names_.size()));
      }

      fields_.resize(std::max(count, header.size()));
      for (size_t i = 0; i < fields_.size(); ++i) {
        reglo_field& field = fields_[i];
        field.name = names_[i].c_str();
        if (i < count) {
          field.value = row.fields[i].data() != nullptr ? row.fields[i].data() : "";
          field.value_len = row.fields[i].size();
        } else {
          field.value = nullptr;  // absent, not empty
          field.value_len = 0;
        }
      }
      external_id_.assign(raw_id);
      const char* updated_at = nullptr;
      if (updated_index >= 0 && static_cast<size_t>(updated_index) < count) {
        const std::string_view raw = Trim(row.fields[static_cast<size_t>(updated_index)]);
        if (!raw.empty()) {
          // Unparseable values go through as they are: the hub warns about them.
          if (updated_format == nullptr || !updated_format->Apply(raw, &updated_at_)) {
            updated_at_.assign(raw);
          }
          updated_at = updated_at_.c_str();
        }
      }
      reglo_record record{};
      record.struct_size = sizeof(reglo_record);
      record.operation = REGLO_OP_UPSERT;
      record.entity = run.entity.entity.c_str();
      record.external_id = external_id_.c_str();
      record.source_updated_at = updated_at;
      record.fields = fields_.data();
      record.field_count = fields_.size();
      record.origin = origin_.c_str();
      if (Status status = run.emitter.Emit(&record); !status.ok()) return status;
      if (Status status = Emitted(run, file, stat, row, reader); !status.ok()) return status;
    }
    ids_.Clear();
    if (!reader.error().empty()) return Status::Retry(reader.error());
    if (empty_rows != 0) {
      run.ctx.Info(file.name + ": skipped " + std::to_string(empty_rows) +
                   " rows whose fields are all empty");
    }
    return Status::Ok();
  }

  // Counts a row emitted and checkpoints every checkpoint_every rows.
  Status Emitted(PullRun& run, const FileEntry& file, const FileStat& stat, const Row& row,
                 CsvReader& reader) {
    ++run.rows;
    if (config_.checkpoint_every != 0 && run.rows % config_.checkpoint_every == 0) {
      run.cursor.partial =
          PartialFile{file.name,       stat.size,     stat.mtime_ns,
                      row.next_offset, row.next_line, reader.PrefixSha256(row.next_offset)};
      return run.Checkpoint();
    }
    return Status::Ok();
  }

  // Warns about the row at origin_ and emits it as a dead letter (see kDeadLetterField): no
  // fields, the id with its control characters written out.
  Status EmitDeadLetter(PullRun& run, std::string_view id, const std::string& reason) {
    run.emitter.Warn(origin_, reason + "; the row goes to dead letters");
    external_id_ = EscapeControlCharacters(id);
    const reglo_field marker{kDeadLetterField, reason.data(), reason.size()};
    reglo_record record{};
    record.struct_size = sizeof(reglo_record);
    record.operation = REGLO_OP_UPSERT;
    record.entity = run.entity.entity.c_str();
    record.external_id = external_id_.c_str();
    record.fields = &marker;
    record.field_count = 1;
    record.origin = origin_.c_str();
    return run.emitter.Emit(&record);
  }

  IdLines ids_;  // of the file being read

  // Scratch reused across rows and records, so the hot path does not allocate per field.
  std::vector<std::string> names_;
  std::vector<reglo_field> fields_;
  std::string external_id_;
  std::string updated_at_;
  std::string origin_;
};

}  // namespace
}  // namespace reglo::csv

REGLO_EXPORT_CONNECTOR(reglo::csv::CsvConnector)
