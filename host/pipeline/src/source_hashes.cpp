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
                                            entries_.emplace_back(KeyOf(external_id), hash);
                                          });
  if (!scanned.ok() || over) {
    entries_.clear();
    entries_.shrink_to_fit();
    return scanned;
  }
  std::sort(entries_.begin(), entries_.end());
  return Status::Ok();
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

bool SourceHashes::Unchanged(std::string_view external_id, int64_t row_hash) const {
  if (entries_.empty()) return false;
  const uint64_t key = KeyOf(external_id);
  auto it = std::lower_bound(entries_.begin(), entries_.end(), key, KeyLess);
  for (; it != entries_.end() && it->first == key; ++it) {
    if (it->second == row_hash) return true;
  }
  return false;
}

void SourceHashes::Forget(std::string_view external_id) {
  if (entries_.empty()) return;
  const uint64_t key = KeyOf(external_id);
  auto it = std::lower_bound(entries_.begin(), entries_.end(), key, KeyLess);
  for (; it != entries_.end() && it->first == key; ++it) it->second = 0;
}

uint64_t SourceHashes::KeyOf(std::string_view external_id) {
  return std::hash<std::string_view>{}(external_id);
}

}  // namespace reglo::pipeline
