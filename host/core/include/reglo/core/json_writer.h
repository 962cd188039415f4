// A small, fast, append-only JSON text builder for hot paths (event envelopes, JSON lines output).
// Strings must be valid UTF-8 (the pipeline repairs input before it gets here); control characters
// are escaped. Not thread-safe: one writer per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace reglo {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts already-serialised JSON as one value.
  JsonWriter& Raw(std::string_view json);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Separate();
  std::string out_;
  bool need_comma_ = false;
};

// Appends `value` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view value);

}  // namespace reglo
