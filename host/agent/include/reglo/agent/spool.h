// Spool: the agent's durable on-disk queue of signed-push batches (DESIGN §8, `reglo-hub agent`).
// A batch is kept until the hub acknowledges it, and survives crashes: each is written to a
// temporary file, fsync'd, renamed to "<sequence>.batch" and the folder fsync'd, so after a crash
// a batch file is either complete or absent (temporary leftovers are removed on open). Batches
// keep their request id, so a batch resent after a crash is recognised by the hub (replay: the
// first answer, nothing written twice). Bounded: Add refuses a batch that would take the spool
// past max_bytes. Also keeps the acknowledged cursors (cursors.json, replaced atomically the same
// way): a connector's cursor advances only once the batch that carries it is acknowledged.
// File: line 1 the metadata JSON, then the exact request body. One agent per folder (an flock on
// the folder's lock file refuses a second one). Not thread-safe: one thread uses it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reglo/core/status.h"

namespace reglo::agent {

struct SpooledBatch {
  uint64_t sequence = 0;  // assigned by Add: the order batches are sent in
  std::string source_id;
  std::string stream;
  std::optional<std::string> cursor;  // the connector cursor after this batch (nullopt: none)
  std::string request_id;             // the webhook-id it is (re)sent with
  std::string body;                   // the exact request body
};

class Spool {
 public:
  // Opens (creating) `dir`. kIoError when it cannot be created, locked or read.
  static Result<std::unique_ptr<Spool>> Open(const std::filesystem::path& dir, uint64_t max_bytes);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Writes the batch durably and returns its sequence. kRetryable ("spool full") when it would
  // take the spool past max_bytes (a batch alone larger than max_bytes is still accepted into an
  // empty spool, so a pull can always progress); kIoError when the disk refuses.
  Result<uint64_t> Add(SpooledBatch batch);
  // Pending sequences, oldest first.
  std::vector<uint64_t> Pending() const;
  bool HasPending(const std::string& source_id) const;
  uint64_t bytes() const { return bytes_; }
  Result<SpooledBatch> Read(uint64_t sequence) const;
  // Acknowledged: removes the batch (durably).
  Status Remove(uint64_t sequence);
  // Refused for good by the hub: moved to rejected/ for the operator, no longer sent.
  Status Reject(uint64_t sequence);

  // The last acknowledged cursor of (source, stream); nullopt when none is known.
  std::optional<std::string> Cursor(const std::string& source_id, const std::string& stream) const;
  Status SetCursor(const std::string& source_id, const std::string& stream,
                   const std::string& cursor);

 private:
  Spool(std::filesystem::path dir, uint64_t max_bytes, int lock_fd);
  Status Load();
  std::filesystem::path PathOf(uint64_t sequence) const;

  std::filesystem::path dir_;
  uint64_t max_bytes_;
  int lock_fd_;
  uint64_t next_ = 1;
  uint64_t bytes_ = 0;
  struct Entry {
    std::string source_id;
    uint64_t bytes = 0;
  };
  std::map<uint64_t, Entry> pending_;
  std::map<std::pair<std::string, std::string>, std::string> cursors_;
};

// Writes `contents` to `path` durably: temporary file, fsync, rename, fsync of the folder.
Status WriteFileDurably(const std::filesystem::path& path, std::string_view contents);

}  // namespace reglo::agent
