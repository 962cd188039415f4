// Header-only C++ SDK over the C ABI in connector.h: write a connector as a C++ class, export it
// with REGLO_EXPORT_CONNECTOR(MyConnector). Every exception is caught at the C boundary and turned
// into a status with its message; every host struct member is read only when its struct_size
// covers it. Thread-safety: as connector.h — one instance is never called concurrently, but Map()
// is called from inside Emitter::Emit while Pull() runs (do not hold a non-recursive lock across
// Pull that Map takes too).
#ifndef REGLO_CONNECTOR_HPP_
#define REGLO_CONNECTOR_HPP_

#include <reglo/connector.h>

#include <array>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__GNUC__)
#define REGLO_CONNECTOR_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define REGLO_CONNECTOR_EXPORT extern "C"
#endif

namespace reglo::sdk {

// The outcome of a connector operation: a category from the C ABI plus a message for the run log.
class Status {
 public:
  static Status Ok() { return Status(REGLO_OK, {}); }
  static Status Retry(std::string message) { return Status(REGLO_RETRY, std::move(message)); }
  static Status RateLimited(std::string message, uint32_t retry_after_ms) {
    Status status(REGLO_RATE_LIMITED, std::move(message));
    status.retry_after_ms_ = retry_after_ms;
    return status;
  }
  static Status AuthError(std::string message) {
    return Status(REGLO_AUTH_ERROR, std::move(message));
  }
  static Status ConfigError(std::string message) {
    return Status(REGLO_CONFIG_ERROR, std::move(message));
  }
  static Status Fatal(std::string message) { return Status(REGLO_FATAL, std::move(message)); }

  Status(reglo_status code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == REGLO_OK; }
  reglo_status code() const { return code_; }
  const std::string& message() const { return message_; }
  uint32_t retry_after_ms() const { return retry_after_ms_; }

 private:
  reglo_status code_;
  std::string message_;
  uint32_t retry_after_ms_ = 0;
};

// Thrown by connector code that prefers exceptions; the adapter turns it into its status.
class Failure : public std::exception {
 public:
  explicit Failure(Status status) : status_(std::move(status)) {}
  const char* what() const noexcept override { return status_.message().c_str(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// Whether `code` is one of the statuses this header defines (a newer peer may send others).
constexpr bool IsKnownStatus(reglo_status code) {
  return code >= REGLO_OK && code <= REGLO_STATUS_LAST;
}

// Per-call host services (log, error, retry-after). Valid only during the call that received it.
class Context {
 public:
  explicit Context(const reglo_context* ctx) : ctx_(ctx) {}
  void Log(reglo_log_level level, const std::string& message) const {
    if (REGLO_HAS_MEMBER(ctx_, reglo_context, log) && ctx_->log != nullptr) {
      ctx_->log(ctx_->host_data, level, message.c_str());
    }
  }
  void Info(const std::string& message) const { Log(REGLO_LOG_INFO, message); }
  void Warn(const std::string& message) const { Log(REGLO_LOG_WARN, message); }

 private:
  const reglo_context* ctx_;
};

// Read-only view of a record handed to a connector (by map_to_canonical).
class RecordView {
 public:
  explicit RecordView(const reglo_record* record) : record_(record) {}
  std::string_view entity() const { return Str(record_->entity); }
  std::string_view external_id() const { return Str(record_->external_id); }
  std::optional<std::string_view> source_updated_at() const {
    if (record_->source_updated_at == nullptr) return std::nullopt;
    return std::string_view(record_->source_updated_at);
  }
  reglo_operation operation() const { return record_->operation; }
  std::string_view origin() const {
    return REGLO_HAS_MEMBER(record_, reglo_record, origin) ? Str(record_->origin) : "";
  }
  std::span<const reglo_field> fields() const { return {record_->fields, record_->field_count}; }
  // The value of the first field called `name`; nullopt when the field is missing or absent.
  std::optional<std::string_view> Get(std::string_view name) const {
    for (const reglo_field& field : fields()) {
      if (field.name != nullptr && name == field.name) {
        if (field.value == nullptr) return std::nullopt;
        return std::string_view(field.value, field.value_len);
      }
    }
    return std::nullopt;
  }

 private:
  static std::string_view Str(const char* text) { return text ? std::string_view(text) : ""; }
  const reglo_record* record_;
};

// A record a connector builds and emits; owns its strings until the emit call returns.
class Record {
 public:
  Record() = default;
  Record(std::string entity, std::string external_id)
      : entity_(std::move(entity)), external_id_(std::move(external_id)) {}

  Record& SetEntity(std::string entity) {
    entity_ = std::move(entity);
    return *this;
  }
  Record& SetExternalId(std::string external_id) {
    external_id_ = std::move(external_id);
    return *this;
  }
  Record& SetSourceUpdatedAt(std::optional<std::string> at) {
    source_updated_at_ = std::move(at);
    return *this;
  }
  Record& SetOrigin(std::string origin) {
    origin_ = std::move(origin);
    return *this;
  }
  // Adds a field. Names and values are copied into one buffer that is reused after Clear(), so
  // a connector emitting millions of records does not allocate per field.
  Record& Set(std::string_view name, std::optional<std::string_view> value) {
    Slot slot{arena_.size(), name.size(), 0, 0, value.has_value()};
    arena_.append(name);
    arena_.push_back('\0');
    if (value) {
      slot.value_offset = arena_.size();
      slot.value_size = value->size();
      arena_.append(*value);
      arena_.push_back('\0');
    }
    slots_.push_back(slot);
    return *this;
  }
  void Clear() {
    arena_.clear();
    slots_.clear();
    source_updated_at_.reset();
    origin_.clear();
  }
  const std::string& entity() const { return entity_; }
  const std::string& external_id() const { return external_id_; }

  // A C view of this record, valid until this object changes or dies.
  const reglo_record* View() {
    fields_.resize(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) {
      const Slot& slot = slots_[i];
      fields_[i].name = arena_.data() + slot.name_offset;
      fields_[i].value = slot.has_value ? arena_.data() + slot.value_offset : nullptr;
      fields_[i].value_len = slot.has_value ? slot.value_size : 0;
    }
    view_ = reglo_record{};
    view_.struct_size = sizeof(reglo_record);
    view_.operation = REGLO_OP_UPSERT;
    view_.entity = entity_.c_str();
    view_.external_id = external_id_.c_str();
    view_.source_updated_at = source_updated_at_ ? source_updated_at_->c_str() : nullptr;
    view_.fields = fields_.data();
    view_.field_count = fields_.size();
    view_.origin = origin_.empty() ? nullptr : origin_.c_str();
    return &view_;
  }

 private:
  std::string entity_;
  std::string external_id_;
  std::optional<std::string> source_updated_at_;
  std::string origin_;
  struct Slot {
    size_t name_offset;
    size_t name_size;
    size_t value_offset;
    size_t value_size;
    bool has_value;
  };
  std::string arena_;  // "name\0value\0name\0..."
  std::vector<Slot> slots_;
  std::vector<reglo_field> fields_;
  reglo_record view_{};
};

namespace detail {
// The host's answer to an emission as a Status; a code this SDK does not know is a FATAL naming it.
inline Status HostAnswer(reglo_status code, const char* what) {
  if (code == REGLO_OK) return Status::Ok();
  if (!IsKnownStatus(code)) {
    return Status::Fatal(std::string("the host refused the ") + what + " with unknown status " +
                         std::to_string(code));
  }
  return Status(code, std::string("the host refused the ") + what);
}
}  // namespace detail

// The pull side of the host: emit records, checkpoints and row warnings; poll for cancellation.
class Emitter {
 public:
  explicit Emitter(const reglo_emitter* emitter) : emitter_(emitter) {}
  Status Emit(Record& record) { return Emit(record.View()); }
  // Counts the record towards the next checkpoint's record_count only when the host took it.
  Status Emit(const reglo_record* record) {
    if (!REGLO_HAS_MEMBER(emitter_, reglo_emitter, emit_record) ||
        emitter_->emit_record == nullptr) {
      return Status::Fatal("the host's emitter has no emit_record");
    }
    Status answer =
        detail::HostAnswer(emitter_->emit_record(emitter_->host_data, record), "record");
    if (answer.ok()) ++since_checkpoint_;
    return answer;
  }
  Status Checkpoint(const std::string& cursor) {
    if (!REGLO_HAS_MEMBER(emitter_, reglo_emitter, emit_checkpoint) ||
        emitter_->emit_checkpoint == nullptr) {
      return Status::Fatal("the host's emitter has no emit_checkpoint");
    }
    reglo_status code =
        emitter_->emit_checkpoint(emitter_->host_data, cursor.c_str(), since_checkpoint_);
    since_checkpoint_ = 0;
    return detail::HostAnswer(code, "checkpoint");
  }
  void Warn(const std::string& origin, const std::string& message) {
    if (REGLO_HAS_MEMBER(emitter_, reglo_emitter, emit_warning) &&
        emitter_->emit_warning != nullptr) {
      emitter_->emit_warning(emitter_->host_data, origin.c_str(), message.c_str());
    }
  }
  bool ShouldStop() const {
    return REGLO_HAS_MEMBER(emitter_, reglo_emitter, should_stop) &&
           emitter_->should_stop != nullptr && emitter_->should_stop(emitter_->host_data) != 0;
  }

 private:
  const reglo_emitter* emitter_;
  uint64_t since_checkpoint_ = 0;
};

// Where Map() delivers canonical records.
class CanonicalSink {
 public:
  explicit CanonicalSink(const reglo_record_sink* sink) : sink_(sink) {}
  Status Emit(Record& record) {
    if (!REGLO_HAS_MEMBER(sink_, reglo_record_sink, emit) || sink_->emit == nullptr) {
      return Status::Fatal("the host's canonical sink has no emit");
    }
    return detail::HostAnswer(sink_->emit(sink_->host_data, record.View()), "canonical record");
  }

 private:
  const reglo_record_sink* sink_;
};

// Base class of a C++ connector. One object per source instance.
// A connector class T also provides:
//   static constexpr const char* kName, kVersion, kVendor, kDescription, kConfigSchema;
//   static constexpr std::array<const char*, N> kEntities;
//   static std::unique_ptr<T> Create(const Context&, std::string_view config_json);  // may throw
// and may provide
//   static constexpr uint16_t kMinHostMinor;  // the lowest host ABI minor it runs on (default:
//                                             // REGLO_ABI_VERSION_MINOR as it was compiled)
// Its destructor must not throw: destructors are noexcept, so one that throws ends the process
// (std::terminate) before any catch in the SDK could see it. Release what can fail elsewhere.
// Re-entrancy: the host calls Map() from inside Emitter::Emit, while Pull() is on the stack.
class Connector {
 public:
  virtual ~Connector() = default;
  virtual Status Authenticate(const Context&) { return Status::Ok(); }
  virtual Status HealthCheck(const Context&) { return Status::Ok(); }
  virtual std::vector<std::string> Streams(const Context&) = 0;
  virtual Status Pull(const Context& ctx, std::string_view stream,
                      std::optional<std::string_view> since_cursor, Emitter& emitter) = 0;
  virtual Status Map(const Context& ctx, const RecordView& source, CanonicalSink& sink) = 0;
};

namespace detail {

inline reglo_status Report(const reglo_context* ctx, const Status& status) {
  if (!status.ok()) {
    if (REGLO_HAS_MEMBER(ctx, reglo_context, set_error) && ctx->set_error != nullptr &&
        !status.message().empty()) {
      ctx->set_error(ctx->host_data, status.message().c_str());
    }
    if (status.code() == REGLO_RATE_LIMITED &&
        REGLO_HAS_MEMBER(ctx, reglo_context, set_retry_after) && ctx->set_retry_after != nullptr) {
      ctx->set_retry_after(ctx->host_data, status.retry_after_ms());
    }
  }
  return status.code();
}

// Runs `body` (returning Status) and converts any exception into a status; nothing escapes.
template <typename Body>
reglo_status Guard(const reglo_context* ctx, Body&& body) noexcept {
  try {
    return Report(ctx, body());
  } catch (const Failure& failure) {
    return Report(ctx, failure.status());
  } catch (const std::bad_alloc&) {
    return Report(ctx, Status::Fatal("out of memory"));
  } catch (const std::exception& error) {
    return Report(ctx, Status::Fatal(std::string("unhandled exception: ") + error.what()));
  } catch (...) {
    return Report(ctx, Status::Fatal("unhandled non-standard exception"));
  }
}

template <typename T>
struct Adapter {
  // A throwing destructor would std::terminate inside delete, where no catch can help (see
  // Connector): refuse it at compile time rather than pretend to guard it.
  static_assert(std::is_nothrow_destructible_v<T>, "a connector's destructor must not throw");

  // The lowest host ABI minor T runs on.
  static constexpr uint16_t MinHostMinor() {
    if constexpr (requires { T::kMinHostMinor; }) {
      return T::kMinHostMinor;
    } else {
      return REGLO_ABI_VERSION_MINOR;
    }
  }

  static reglo_status Create(const reglo_context* ctx, const char* config_json,
                             void** out_instance) noexcept {
    if (out_instance == nullptr) return REGLO_FATAL;
    *out_instance = nullptr;
    return Guard(ctx, [&] {
      std::unique_ptr<T> instance =
          T::Create(Context(ctx), config_json ? std::string_view(config_json) : "{}");
      if (!instance) return Status::ConfigError("the connector refused its configuration");
      *out_instance = static_cast<Connector*>(instance.release());
      return Status::Ok();
    });
  }
  // noexcept like every destructor: nothing to catch here (see the static_assert above).
  static void Destroy(void* instance) noexcept { delete static_cast<Connector*>(instance); }
  static reglo_status Authenticate(void* instance, const reglo_context* ctx) noexcept {
    return Guard(ctx, [&] { return Self(instance)->Authenticate(Context(ctx)); });
  }
  static reglo_status HealthCheck(void* instance, const reglo_context* ctx) noexcept {
    return Guard(ctx, [&] { return Self(instance)->HealthCheck(Context(ctx)); });
  }
  static reglo_status ListStreams(void* instance, const reglo_context* ctx,
                                  const reglo_stream_sink* sink) noexcept {
    return Guard(ctx, [&] {
      if (!REGLO_HAS_MEMBER(sink, reglo_stream_sink, add) || sink->add == nullptr) {
        return Status::Fatal("list_streams: the host passed no stream sink");
      }
      for (const std::string& stream : Self(instance)->Streams(Context(ctx))) {
        sink->add(sink->host_data, stream.c_str());
      }
      return Status::Ok();
    });
  }
  static reglo_status Pull(void* instance, const reglo_context* ctx, const char* stream,
                           const char* since_cursor, const reglo_emitter* emitter) noexcept {
    return Guard(ctx, [&] {
      if (emitter == nullptr) return Status::Fatal("pull_changes: the host passed no emitter");
      Emitter wrapped(emitter);
      std::optional<std::string_view> since;
      if (since_cursor != nullptr) since = since_cursor;
      return Self(instance)->Pull(Context(ctx), stream ? stream : "", since, wrapped);
    });
  }
  static reglo_status Map(void* instance, const reglo_context* ctx, const reglo_record* source,
                          const reglo_record_sink* sink) noexcept {
    return Guard(ctx, [&] {
      if (!REGLO_HAS_MEMBER(source, reglo_record, field_count)) {
        return Status::Fatal("map_to_canonical: the host passed no record, or one too small");
      }
      if (source->operation < REGLO_OP_UPSERT || source->operation > REGLO_OP_LAST) {
        return Status::Fatal("map_to_canonical: a record with unknown operation " +
                             std::to_string(source->operation));
      }
      CanonicalSink wrapped(sink);
      return Self(instance)->Map(Context(ctx), RecordView(source), wrapped);
    });
  }

  static const reglo_connector_descriptor* Descriptor() {
    static const reglo_connector_descriptor descriptor = [] {
      reglo_connector_descriptor d{};
      d.struct_size = sizeof(reglo_connector_descriptor);
      d.abi_major = REGLO_ABI_VERSION_MAJOR;
      d.abi_minor = REGLO_ABI_VERSION_MINOR;
      d.name = T::kName;
      d.version = T::kVersion;
      d.vendor = T::kVendor;
      d.description = T::kDescription;
      d.entities = T::kEntities.data();
      d.entity_count = T::kEntities.size();
      d.config_schema_json = T::kConfigSchema;
      d.create = &Create;
      d.destroy = &Destroy;
      d.authenticate = &Authenticate;
      d.health_check = &HealthCheck;
      d.list_streams = &ListStreams;
      d.pull_changes = &Pull;
      d.map_to_canonical = &Map;
      d.push_changes = nullptr;
      return d;
    }();
    return &descriptor;
  }

  // Refuses (REGLO_INCOMPATIBLE) another major, and a host minor below MinHostMinor(); the
  // descriptor is handed out even then, so the host can name this plugin's version.
  static reglo_status Entry(const reglo_host_info* host,
                            const reglo_connector_descriptor** out) noexcept {
    if (host == nullptr || out == nullptr) return REGLO_FATAL;
    *out = Descriptor();
    if (!REGLO_HAS_MEMBER(host, reglo_host_info, abi_minor)) return REGLO_INCOMPATIBLE;
    if (host->abi_major != REGLO_ABI_VERSION_MAJOR) return REGLO_INCOMPATIBLE;
    if (host->abi_minor < MinHostMinor()) return REGLO_INCOMPATIBLE;
    return REGLO_OK;
  }

 private:
  static Connector* Self(void* instance) { return static_cast<Connector*>(instance); }
};

}  // namespace detail
}  // namespace reglo::sdk

// Exports connector class T as this library's entry point. Use once per library.
#define REGLO_EXPORT_CONNECTOR(T)                                            \
  REGLO_CONNECTOR_EXPORT reglo_status reglo_connector_entry(                 \
      const reglo_host_info* host, const reglo_connector_descriptor** out) { \
    return ::reglo::sdk::detail::Adapter<T>::Entry(host, out);               \
  }

#endif  // REGLO_CONNECTOR_HPP_
