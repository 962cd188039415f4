// The CSV connector's cursor: per file a fingerprint of what was fully read, plus at most one file
// read part-way (where to resume). Encoded as compact JSON; opaque to the hub.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace reglo::csv {

// A file read to the end. mtime_ns 0 means "do not trust the mtime; compare the hash" (the file
// was modified too recently for its timestamp to tell two versions apart).
struct FileFingerprint {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string sha256;
  bool operator==(const FileFingerprint&) const = default;
};

// A file read part-way: the next row starts at `offset` on physical line `line`. Valid only while
// the file still has this size and mtime and its first `offset` bytes still hash to prefix_sha256.
struct PartialFile {
  std::string file;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t offset = 0;
  uint64_t line = 0;
  std::string prefix_sha256;
  bool operator==(const PartialFile&) const = default;
};

struct Cursor {
  std::map<std::string, FileFingerprint> files;  // by file name
  std::optional<PartialFile> partial;
  bool operator==(const Cursor&) const = default;
};

// Deterministic: equal cursors encode to equal strings.
std::string EncodeCursor(const Cursor& cursor);
// nullopt (and *error) when the text is not a cursor of this connector.
std::optional<Cursor> DecodeCursor(std::string_view text, std::string* error);

}  // namespace reglo::csv
