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

  // An external id's place in the table. Taking it starts loading that place into the cache, so
  // the lookup after RowHash finds it there (a lookup is a cache miss into a table of 16 bytes per
  // record: at 1M records, a tenth of a resync's pulling thread under perf).
  struct Key {
    uint64_t value;
  };
  Key KeyFor(std::string_view external_id) const;

  // True when the record stored under `key`'s id was mapped from a row of this very hash.
  bool Unchanged(Key key, int64_t row_hash) const;
  // The row of `key`'s id is mapped this time: a later row of the same id (a duplicate in the
  // export) must not be compared with what was stored before this pull.
  void Forget(Key key);

  const model::EntitySpec& entity() const { return entity_; }
  size_t size() const { return entries_.size(); }

 private:
  // Fills bucket_starts_ from the sorted entries_.
  void IndexBuckets();
  // The bucket of `key`: its top bucket_bits_ bits (the keys are hashes, so evenly spread).
  size_t BucketOf(uint64_t key) const;
  // The index of the first entry whose key is not less than `key`.
  size_t FirstOf(uint64_t key) const;
  const model::EntitySpec& entity_;
  Sha256Digest fingerprint_;
  // (KeyFor(external id), source hash), sorted. A key's several entries (two ids whose 64-bit
  // keys collide) are all compared: a collision can cost a needless mapping, never a wrong skip.
  std::vector<std::pair<uint64_t, int64_t>> entries_;
  // bucket_starts_[b] is the index of the first entry of bucket b or of a later one; the last
  // element is entries_.size(). Buckets hold two to four entries on average.
  int bucket_bits_ = 0;
  std::vector<size_t> bucket_starts_;
  std::string buffer_;  // reused by RowHash
};

}  // namespace reglo::pipeline
