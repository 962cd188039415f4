#include "source_hashes.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>

namespace reglo::pipeline {
namespace {

// Bump when the hub's mapping or validation changes what a source row becomes without a release
// (the hub's version is part of the fingerprint too): every stored row then maps again once.
// 2: the row hash is XXH3 (was the first 8 bytes of a SHA-256).
constexpr std::string_view kCanonicalRevision = "reglo-source-hash/2";

// Appends `text` length-prefixed ("5:hello"), or "-" when absent: an unambiguous framing.
void Frame(std::string& out, const char* text, size_t size) {
  if (text == nullptr) {
    out += '-';
    return;
  }
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, size).ptr);
  out += ':';
  out.append(text, size);
}

void Frame(std::string& out, const char* text) {
  Frame(out, text, text == nullptr ? 0 : std::strlen(text));
}

bool KeyLess(const std::pair<uint64_t, int64_t>& entry, uint64_t key) {
  return entry.first < key;
}

// Two to four entries per bucket: a lookup reads one bucket's bounds and a few neighbouring
// entries, two dependent reads, instead of a binary search's twenty at 1M records.
int BucketBitsFor(size_t entries) {
  int bits = 0;
  while (bits < 32 && (size_t{1} << bits) * 4 < entries) ++bits;
  return bits;
}

}  // namespace

Sha256Digest SourceFingerprint(const storage::SourceRow& source,
                               const plugin_host::PluginInfo& plugin) {
  std::string text;
  for (std::string_view part :
       {kCanonicalRevision, std::string_view(REGLO_HUB_VERSION), std::string_view(plugin.name),
        std::string_view(plugin.version), std::string_view(source.company_id),
        std::string_view(source.source_system), std::string_view(source.config_json)}) {
    Frame(text, part.data(), part.size());
  }
  return Sha256(text);
}

Status SourceHashes::Load(storage::SyncStore& store, const storage::SourceRow& source,
                          size_t limit) {
  entries_.clear();
  bool over = false;
  Status scanned = store.ScanSourceHashes(entity_, source.company_id, source.source_system,
                                          [&](std::string_view external_id, int64_t hash) {
                                            if (over) return;
                                            if (entries_.size() == limit) {
                                              over = true;
                                              return;
                                            }
                                            entries_.emplace_back(KeyFor(external_id).value, hash);
                                          });
  if (!scanned.ok() || over) {
    entries_.clear();
    entries_.shrink_to_fit();
    bucket_starts_.clear();
    return scanned;
  }
  std::sort(entries_.begin(), entries_.end());
  IndexBuckets();
  return Status::Ok();
}

void SourceHashes::IndexBuckets() {
  bucket_bits_ = BucketBitsFor(entries_.size());
  const size_t buckets = size_t{1} << bucket_bits_;
  bucket_starts_.assign(buckets + 1, entries_.size());
  size_t entry = 0;
  for (size_t bucket = 0; bucket < buckets; ++bucket) {
    while (entry < entries_.size() && BucketOf(entries_[entry].first) < bucket) ++entry;
    bucket_starts_[bucket] = entry;
  }
}

size_t SourceHashes::BucketOf(uint64_t key) const {
  return bucket_bits_ == 0 ? 0 : static_cast<size_t>(key >> (64 - bucket_bits_));
}

size_t SourceHashes::FirstOf(uint64_t key) const {
  const size_t bucket = BucketOf(key);
  const auto begin = entries_.begin() + static_cast<ptrdiff_t>(bucket_starts_[bucket]);
  const auto end = entries_.begin() + static_cast<ptrdiff_t>(bucket_starts_[bucket + 1]);
  return static_cast<size_t>(std::lower_bound(begin, end, key, KeyLess) - entries_.begin());
}

bool SourceHashes::Covers(const reglo_record& row) const {
  return row.operation == REGLO_OP_UPSERT && row.entity != nullptr && row.external_id != nullptr &&
         entity_.name == row.entity;
}

int64_t SourceHashes::RowHash(const reglo_record& row) {
  // The origin (file:line) is left out: it is not stored, and a row moving within its file is
  // the same row.
  buffer_.assign(reinterpret_cast<const char*>(fingerprint_.data()), fingerprint_.size());
  Frame(buffer_, row.entity);
  Frame(buffer_, row.external_id);
  Frame(buffer_, row.source_updated_at);
  char digits[24];
  buffer_.append(digits, std::to_chars(digits, digits + sizeof digits, row.field_count).ptr);
  buffer_ += '|';
  for (size_t i = 0; i < row.field_count; ++i) {
    Frame(buffer_, row.fields[i].name);
    Frame(buffer_, row.fields[i].value, row.fields[i].value_len);
  }
  // XXH3, not SHA-256: a 64-bit hash against accidental collisions is all this needs (the rows
  // come from the school's own system, which decides what they say anyway), and a SHA-256 of
  // every row was a tenth of a cold load's instructions (callgrind).
  const auto hash = static_cast<int64_t>(XXH3_64bits(buffer_.data(), buffer_.size()));
  return hash == 0 ? 1 : hash;
}

SourceHashes::Key SourceHashes::KeyFor(std::string_view external_id) const {
  const Key key{std::hash<std::string_view>{}(external_id)};
  if (!entries_.empty()) __builtin_prefetch(&bucket_starts_[BucketOf(key.value)]);
  return key;
}

bool SourceHashes::Unchanged(Key key, int64_t row_hash) const {
  if (entries_.empty()) return false;
  for (size_t i = FirstOf(key.value); i < entries_.size() && entries_[i].first == key.value; ++i) {
    if (entries_[i].second == row_hash) return true;
  }
  return false;
}

void SourceHashes::Forget(Key key) {
  if (entries_.empty()) return;
  for (size_t i = FirstOf(key.value); i < entries_.size() && entries_[i].first == key.value; ++i) {
    entries_[i].second = 0;
  }
}

}  // namespace reglo::pipeline
