// SourceHashes: what lets a pull skip mapping and validating a source row that did not change.
// A row's hash covers the row as the connector delivered it and the fingerprint of everything that
// decides what it maps to (hub, plugin and its version, the source's options); the stored records
// keep the hash of the row they were mapped from (CanonicalRecord::source_hash). Internal to the
// pipeline; one object per stream pull, used by its pulling thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reglo/core/crypto.h"
#include "reglo/model/schema.h"
#include "reglo/plugin_host/plugin.h"
#include "reglo/storage/sync_store.h"

namespace reglo::pipeline {

// What a source row maps to depends on: this hub's mapping and validation code (its version and
// kCanonicalRevision), the plugin (name, version), the source's identity and its options (the
// column mapping lives there). A change of any of them makes every row map again once.
Sha256Digest SourceFingerprint(const storage::SourceRow& source,
                               const plugin_host::PluginInfo& plugin);

class SourceHashes {
 public:
  // Pulls of the stream of canonical entity `entity` (its source rows carry that entity name).
  SourceHashes(const model::EntitySpec& entity, const Sha256Digest& fingerprint)
      : entity_(entity), fingerprint_(fingerprint) {}

  // Reads the stored records' hashes of the source's company and system. Past `limit` records
  // nothing is kept (memory stays bounded: every row is then mapped, as without this).
  Status Load(storage::SyncStore& store, const storage::SourceRow& source, size_t limit);

  // The hash of one delivered row (never 0: 0 marks a forgotten entry).
  int64_t RowHash(const reglo_record& row);

  // Whether `row` may be hashed and looked up at all: an upsert of this stream's entity with an
  // external id (anything else is always mapped).
  bool Covers(const reglo_record& row) const;

  // True when the record stored under `external_id` was mapped from a row of this very hash.
  bool Unchanged(std::string_view external_id, int64_t row_hash) const;
  // The row of `external_id` is mapped this time: a later row of the same id (a duplicate in the
  // export) must not be compared with what was stored before this pull.
  void Forget(std::string_view external_id);

  const model::EntitySpec& entity() const { return entity_; }
  size_t size() const { return entries_.size(); }

 private:
  static uint64_t KeyOf(std::string_view external_id);
  const model::EntitySpec& entity_;
  Sha256Digest fingerprint_;
  // (KeyOf(external id), source hash), sorted. A key's several entries (two ids whose 64-bit
  // keys collide) are all compared: a collision can cost a needless mapping, never a wrong skip.
  std::vector<std::pair<uint64_t, int64_t>> entries_;
  std::string buffer_;  // reused by RowHash
};

}  // namespace reglo::pipeline
