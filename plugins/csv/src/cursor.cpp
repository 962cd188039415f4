#include "reglo/csv/cursor.h"

#include <nlohmann/json.hpp>

namespace reglo::csv {
namespace {

using nlohmann::json;
constexpr int kCursorVersion = 1;

bool IsHexDigest(const json& value) {
  if (!value.is_string()) return false;
  const std::string& text = value.get_ref<const std::string&>();
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string EncodeCursor(const Cursor& cursor) {
  json files = json::object();
  for (const auto& [name, print] : cursor.files) {
    files[name] = {{"size", print.size}, {"mtime_ns", print.mtime_ns}, {"sha256", print.sha256}};
  }
  json root = {{"v", kCursorVersion}, {"files", std::move(files)}};
  if (cursor.partial) {
    const PartialFile& p = *cursor.partial;
    root["partial"] = {{"file", p.file},     {"size", p.size}, {"mtime_ns", p.mtime_ns},
                       {"offset", p.offset}, {"line", p.line}, {"prefix_sha256", p.prefix_sha256}};
  }
  return root.dump();  // std::map-backed objects: keys sorted, so the text is deterministic
}

std::optional<Cursor> DecodeCursor(std::string_view text, std::string* error) {
  const json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    *error = "not a JSON object";
    return std::nullopt;
  }
  const auto version = root.find("v");
  if (version == root.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kCursorVersion) {
    *error = "unknown cursor version";
    return std::nullopt;
  }
  auto unsigned_at = [](const json& object, const char* key) -> std::optional<uint64_t> {
    auto it = object.find(key);
    if (it == object.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<uint64_t>();
  };
  auto signed_at = [](const json& object, const char* key) -> std::optional<int64_t> {
    auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  Cursor cursor;
  auto files = root.find("files");
  if (files == root.end() || !files->is_object()) {
    *error = "missing files";
    return std::nullopt;
  }
  for (const auto& [name, entry] : files->items()) {
    const auto size = entry.is_object() ? unsigned_at(entry, "size") : std::nullopt;
    const auto mtime = entry.is_object() ? signed_at(entry, "mtime_ns") : std::nullopt;
    if (!size || !mtime || !IsHexDigest(entry.value("sha256", json()))) {
      *error = "malformed entry for " + name;
      return std::nullopt;
    }
    cursor.files[name] = {*size, *mtime, entry["sha256"].get<std::string>()};
  }
  if (auto it = root.find("partial"); it != root.end()) {
    const json& p = *it;
    const auto size = p.is_object() ? unsigned_at(p, "size") : std::nullopt;
    const auto mtime = p.is_object() ? signed_at(p, "mtime_ns") : std::nullopt;
    const auto offset = p.is_object() ? unsigned_at(p, "offset") : std::nullopt;
    const auto line = p.is_object() ? unsigned_at(p, "line") : std::nullopt;
    if (!size || !mtime || !offset || !line || !p.contains("file") || !p["file"].is_string() ||
        !IsHexDigest(p.value("prefix_sha256", json()))) {
      *error = "malformed partial entry";
      return std::nullopt;
    }
    cursor.partial =
        PartialFile{p["file"].get<std::string>(),         *size, *mtime, *offset, *line,
                    p["prefix_sha256"].get<std::string>()};
  }
  return cursor;
}

}  // namespace reglo::csv
