// Test harness for the end-to-end tests of a built connector plugin through the C ABI only:
// dlopen the .so, negotiate, create instances from JSON, pull with a capturing host, map records.
// Header-only; a Plugin and a Host belong to one test thread.
#pragma once

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <reglo/connector.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace reglo::testing {

struct CapturedRecord {
  std::string entity;
  std::string external_id;
  std::optional<std::string> updated_at;
  std::string origin;
  std::vector<std::pair<std::string, std::optional<std::string>>> fields;

  std::optional<std::string> Get(const std::string& name) const {
    for (const auto& field : fields) {
      if (field.first == name) return field.second;
    }
    return std::nullopt;
  }
  bool Has(const std::string& name) const {
    for (const auto& field : fields) {
      if (field.first == name) return true;
    }
    return false;
  }
};

inline CapturedRecord Capture(const reglo_record* record) {
  CapturedRecord out;
  out.entity = record->entity ? record->entity : "";
  out.external_id = record->external_id ? record->external_id : "<null>";
  if (record->source_updated_at) out.updated_at = record->source_updated_at;
  out.origin = record->origin ? record->origin : "";
  for (size_t i = 0; i < record->field_count; ++i) {
    const reglo_field& field = record->fields[i];
    std::optional<std::string> value;
    if (field.value) value.emplace(field.value, field.value_len);
    out.fields.emplace_back(field.name, std::move(value));
  }
  return out;
}

// The host side of one call: the context and, for pulls, the emitter.
struct Host {
  std::string error;
  uint32_t retry_after_ms = 0;
  std::vector<std::string> logs;
  std::vector<CapturedRecord> records;
  std::vector<std::pair<std::string, uint64_t>> checkpoints;
  std::vector<std::pair<std::string, std::string>> warnings;   // origin, message
  uint64_t stop_after = std::numeric_limits<uint64_t>::max();  // should_stop once this many
  // Every emitted record counts; a pull of millions of rows clears keep_records and checks these.
  uint64_t record_count = 0;
  std::string last_external_id;
  bool keep_records = true;
  reglo_context Context() {
    reglo_context ctx{};
    ctx.struct_size = sizeof ctx;
    ctx.host_data = this;
    ctx.log = [](void* self, reglo_log_level, const char* message) {
      static_cast<Host*>(self)->logs.emplace_back(message);
    };
    ctx.set_error = [](void* self, const char* message) {
      static_cast<Host*>(self)->error = message;
    };
    ctx.set_retry_after = [](void* self, uint32_t ms) {
      static_cast<Host*>(self)->retry_after_ms = ms;
    };
    return ctx;
  }
  reglo_emitter Emitter() {
    reglo_emitter emitter{};
    emitter.struct_size = sizeof emitter;
    emitter.host_data = this;
    emitter.emit_record = [](void* self, const reglo_record* record) {
      Host* host = static_cast<Host*>(self);
      ++host->record_count;
      host->last_external_id = record->external_id ? record->external_id : "<null>";
      if (host->keep_records) host->records.push_back(Capture(record));
      return REGLO_OK;
    };
    emitter.emit_checkpoint = [](void* self, const char* cursor, uint64_t count) {
      static_cast<Host*>(self)->checkpoints.emplace_back(cursor, count);
      return REGLO_OK;
    };
    emitter.emit_warning = [](void* self, const char* origin, const char* message) {
      static_cast<Host*>(self)->warnings.emplace_back(origin ? origin : "", message);
    };
    emitter.should_stop = [](void* self) {
      Host* host = static_cast<Host*>(self);
      return host->record_count >= host->stop_after ? 1 : 0;
    };
    return emitter;
  }
  std::string FinalCursor() const { return checkpoints.empty() ? "" : checkpoints.back().first; }
  std::vector<std::string> Ids() const {
    std::vector<std::string> ids;
    for (const CapturedRecord& record : records) ids.push_back(record.external_id);
    return ids;
  }
  // Whether a warning for `origin` says `fragment`.
  bool Warned(const std::string& origin, const std::string& fragment) const {
    for (const auto& [where, message] : warnings) {
      if (where == origin && message.find(fragment) != std::string::npos) return true;
    }
    return false;
  }
};

// One loaded plugin and the instances a test created (destroyed with it).
class Plugin {
 public:
  explicit Plugin(const char* path) {
    library_ = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library_ == nullptr) {
      ADD_FAILURE() << ::dlerror();
      return;
    }
    auto entry =
        reinterpret_cast<reglo_connector_entry_fn>(::dlsym(library_, REGLO_CONNECTOR_ENTRY_SYMBOL));
    entry_ = entry;
    if (entry == nullptr ||
        Negotiate(REGLO_ABI_VERSION_MAJOR, REGLO_ABI_VERSION_MINOR, &descriptor_) != REGLO_OK) {
      ADD_FAILURE() << "no descriptor from " << path;
    }
  }
  ~Plugin() {
    for (void* instance : instances_) descriptor_->destroy(instance);
    if (library_ != nullptr) ::dlclose(library_);
  }
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const reglo_connector_descriptor* descriptor() const { return descriptor_; }

  // Calls the entry point again as a host of ABI `major`.`minor` would.
  reglo_status Negotiate(uint16_t major, uint16_t minor,
                         const reglo_connector_descriptor** descriptor) const {
    reglo_host_info host{sizeof(reglo_host_info), major, minor, "test"};
    return entry_(&host, descriptor);
  }
  // Creates an instance; on failure returns nullptr and leaves the status and message.
  void* Create(const nlohmann::json& config, reglo_status* status = nullptr,
               std::string* error = nullptr) {
    Host host;
    reglo_context ctx = host.Context();
    void* instance = nullptr;
    const reglo_status code = descriptor_->create(&ctx, config.dump().c_str(), &instance);
    if (status != nullptr) *status = code;
    if (error != nullptr) *error = host.error;
    if (code != REGLO_OK) return nullptr;
    instances_.push_back(instance);
    return instance;
  }

  // The message of a create that must fail with REGLO_CONFIG_ERROR.
  std::string ConfigError(const nlohmann::json& config) {
    reglo_status status = REGLO_OK;
    std::string error;
    EXPECT_EQ(Create(config, &status, &error), nullptr);
    EXPECT_EQ(status, REGLO_CONFIG_ERROR);
    return error;
  }

  reglo_status Pull(void* instance, const std::string& stream, const std::string& cursor,
                    Host& host) {
    reglo_context ctx = host.Context();
    reglo_emitter emitter = host.Emitter();
    return descriptor_->pull_changes(instance, &ctx, stream.c_str(),
                                     cursor.empty() ? nullptr : cursor.c_str(), &emitter);
  }

  reglo_status Authenticate(void* instance, Host& host) {
    reglo_context ctx = host.Context();
    return descriptor_->authenticate(instance, &ctx);
  }

  std::vector<CapturedRecord> Map(void* instance, const CapturedRecord& source) {
    std::vector<CapturedRecord> out;
    std::string error;
    EXPECT_EQ(MapStatus(instance, source, &out, &error), REGLO_OK) << error;
    return out;
  }

  // map_to_canonical of `source`: its status, the records it mapped to (into `out`) and the
  // message it set (into `error`).
  reglo_status MapStatus(void* instance, const CapturedRecord& source,
                         std::vector<CapturedRecord>* out, std::string* error) {
    std::vector<reglo_field> fields;
    for (const auto& [name, value] : source.fields) {
      fields.push_back({name.c_str(), value ? value->data() : nullptr, value ? value->size() : 0});
    }
    reglo_record record{};
    record.struct_size = sizeof record;
    record.operation = REGLO_OP_UPSERT;
    record.entity = source.entity.c_str();
    record.external_id = source.external_id.c_str();
    record.source_updated_at = source.updated_at ? source.updated_at->c_str() : nullptr;
    record.fields = fields.data();
    record.field_count = fields.size();
    record.origin = source.origin.c_str();
    reglo_record_sink sink{};
    sink.struct_size = sizeof sink;
    sink.host_data = out;
    sink.emit = [](void* self, const reglo_record* canonical) {
      static_cast<std::vector<CapturedRecord>*>(self)->push_back(Capture(canonical));
      return REGLO_OK;
    };
    Host host;
    reglo_context ctx = host.Context();
    const reglo_status status = descriptor_->map_to_canonical(instance, &ctx, &record, &sink);
    *error = host.error;
    return status;
  }

 private:
  void* library_ = nullptr;
  reglo_connector_entry_fn entry_ = nullptr;
  const reglo_connector_descriptor* descriptor_ = nullptr;
  std::vector<void*> instances_;
};

}  // namespace reglo::testing
