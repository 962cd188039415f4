#include "reglo/plugin_host/plugin.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <system_error>

#include "reglo/core/text.h"
#include "reglo/model/schema.h"

namespace reglo::plugin_host {
namespace {

constexpr char kHostVersion[] = "0.1.0";

// The size of the descriptor as ABI 1.0 defined it: a plugin must provide at least this much.
constexpr size_t kDescriptorV1Size =
    offsetof(reglo_connector_descriptor, push_changes) + sizeof(void*);

// The codes were int-sized C enums before they became int32_t: every struct keeps its layout.
static_assert(sizeof(reglo_operation) == sizeof(int) && alignof(reglo_operation) == alignof(int));

// What the plugin answered, as a Status. The code is a raw int32 from the plugin: one this hub
// does not know (a newer plugin's, or garbage) fails the call with the code in the reason.
Status FromPluginStatus(reglo_status code, std::string message) {
  switch (code) {
    case REGLO_OK: return Status::Ok();
    case REGLO_RETRY: return Status::Retryable(std::move(message));
    case REGLO_RATE_LIMITED: return Status(StatusCode::kRateLimited, std::move(message));
    case REGLO_AUTH_ERROR: return Status::AuthError(std::move(message));
    case REGLO_CONFIG_ERROR: return Status::ConfigError(std::move(message));
    case REGLO_INCOMPATIBLE: return Status::Incompatible(std::move(message));
    case REGLO_FATAL: return Status::Internal(std::move(message));
    default:
      return Status::Internal(
          fmt::format("{} (the plugin answered unknown status code {}; ABI {}.{} "
                      "knows {} to {})",
                      message, code, REGLO_ABI_VERSION_MAJOR, REGLO_ABI_VERSION_MINOR, REGLO_OK,
                      REGLO_STATUS_LAST));
  }
}

// Why a record the plugin handed over cannot be taken, or nullopt. `what` names it ("record").
std::optional<std::string> CheckRecord(const reglo_record* record, std::string_view what) {
  if (!REGLO_HAS_MEMBER(record, reglo_record, origin)) {
    return fmt::format("the plugin emitted a {} with an invalid struct_size", what);
  }
  if (record->operation < REGLO_OP_UPSERT || record->operation > REGLO_OP_LAST) {
    return fmt::format(
        "the plugin emitted a {} ('{}') with unknown operation {} (ABI {}.{} knows {} upsert and "
        "{} delete)",
        what, Excerpt(record->external_id ? record->external_id : ""), record->operation,
        REGLO_ABI_VERSION_MAJOR, REGLO_ABI_VERSION_MINOR, REGLO_OP_UPSERT, REGLO_OP_DELETE);
  }
  return std::nullopt;
}

// Records why a host callback failed under a plugin's frames, for the call's result.
void NoteHostFailure(Status* failure, const char* what) noexcept {
  if (failure == nullptr || !failure->ok()) return;
  try {
    *failure = HostFailure(what);
  } catch (...) {  // no memory even for the reason: the plugin still gets its failure answer
  }
}

// Runs the body of a host callback that a plugin called (a trampoline): no exception may unwind
// through the plugin's C frames (connector.h), so one becomes `on_failure`, with the reason in
// `failure` when there is one to keep.
template <typename Answer, typename Body>
Answer Guarded(Status* failure, Answer on_failure, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& error) {
    NoteHostFailure(failure, error.what());
  } catch (...) {
    NoteHostFailure(failure, "an unknown exception");
  }
  return on_failure;
}

bool IsValidPluginName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

struct LoadedPlugin::Library {
  boost::dll::shared_library handle;
};

namespace {

// Per-call state behind the reglo_context handed to the plugin. A failure of the host while it
// serves the call (a log callback that throws, no memory) is kept in `failure` and is the call's
// result, whatever the plugin answers.
struct CallState {
  const PluginLogCallback* log;
  std::string error;
  uint32_t retry_after_ms = 0;
  Status failure;
  reglo_context context{};

  explicit CallState(const PluginLogCallback* log_callback) : log(log_callback) {
    context.struct_size = sizeof(reglo_context);
    context.host_data = this;
    context.log = [](void* data, reglo_log_level level, const char* message) noexcept {
      auto* state = static_cast<CallState*>(data);
      Guarded(&state->failure, 0, [&] {
        if (state->log == nullptr || !*state->log || message == nullptr) return 0;
        if (level < REGLO_LOG_DEBUG || level > REGLO_LOG_LAST) {
          // A newer plugin's level: shown as INFO, the code kept in the line.
          (*state->log)(REGLO_LOG_INFO, fmt::format("(unknown log level {}) {}", level, message));
        } else {
          (*state->log)(level, message);
        }
        return 0;
      });
    };
    context.set_error = [](void* data, const char* message) noexcept {
      auto* state = static_cast<CallState*>(data);
      Guarded(&state->failure, 0, [&] {
        state->error = message ? message : "";
        return 0;
      });
    };
    context.set_retry_after = [](void* data, uint32_t milliseconds) noexcept {
      static_cast<CallState*>(data)->retry_after_ms = milliseconds;
    };
  }
};

}  // namespace

// An instance living in this process: calls go straight through the C ABI.
class InProcessInstance final : public ConnectorInstance {
 public:
  InProcessInstance(std::shared_ptr<const LoadedPlugin> plugin, void* instance)
      : plugin_(std::move(plugin)), instance_(instance) {}
  ~InProcessInstance() override;

  const PluginInfo& plugin_info() const override;
  Status Authenticate() override;
  Status HealthCheck() override;
  Result<std::vector<std::string>> ListStreams() override;
  Status Pull(const std::string& stream, const std::optional<std::string>& since_cursor,
              PullHandler& handler) override;
  Status MapToCanonical(const reglo_record& source, const CanonicalCallback& callback) override;

 private:
  Status Finish(reglo_status code, CallState& state, std::string_view operation);

  std::shared_ptr<const LoadedPlugin> plugin_;
  void* instance_;
};

Status HostFailure(std::string_view what) {
  return Status::Internal(fmt::format("the host failed while serving the plugin: {}", what));
}

std::optional<std::string> CheckDescriptor(const reglo_connector_descriptor* d) {
  if (d == nullptr) return "the entry point returned OK but no descriptor";
  // Nothing past struct_size is read: the version first, then every 1.0 member at once.
  if (!REGLO_HAS_MEMBER(d, reglo_connector_descriptor, abi_minor)) {
    return fmt::format("descriptor struct_size {} is too small to hold even its ABI version",
                       d->struct_size);
  }
  if (d->abi_major != REGLO_ABI_VERSION_MAJOR) {
    return fmt::format("plugin speaks ABI {}.{}, this hub speaks ABI {}.{}", d->abi_major,
                       d->abi_minor, REGLO_ABI_VERSION_MAJOR, REGLO_ABI_VERSION_MINOR);
  }
  static_assert(kDescriptorV1Size == offsetof(reglo_connector_descriptor, push_changes) +
                                         sizeof(reglo_connector_descriptor::push_changes));
  if (!REGLO_HAS_MEMBER(d, reglo_connector_descriptor, push_changes)) {
    return fmt::format("descriptor struct_size {} is smaller than ABI 1.0's {}", d->struct_size,
                       kDescriptorV1Size);
  }
  if (d->name == nullptr || !IsValidPluginName(d->name)) {
    return "descriptor name is missing or not made of [a-z0-9_-] (at most 64 characters)";
  }
  if (d->version == nullptr || *d->version == '\0') return "descriptor version is missing";
  if (d->entity_count == 0 || d->entities == nullptr) {
    return "descriptor lists no entities";
  }
  for (size_t i = 0; i < d->entity_count; ++i) {
    if (d->entities[i] == nullptr || model::FindEntity(d->entities[i]) == nullptr) {
      return fmt::format("descriptor entity #{} '{}' is not a canonical entity", i,
                         d->entities[i] ? d->entities[i] : "(null)");
    }
  }
  if (d->config_schema_json == nullptr) return "descriptor has no config schema";
  const auto schema = nlohmann::json::parse(d->config_schema_json, nullptr, false);
  if (schema.is_discarded() || !schema.is_object()) {
    return "descriptor config schema is not a JSON object";
  }
  struct Required {
    const void* pointer;
    const char* name;
  };
  const Required required[] = {
      {reinterpret_cast<const void*>(d->create), "create"},
      {reinterpret_cast<const void*>(d->destroy), "destroy"},
      {reinterpret_cast<const void*>(d->authenticate), "authenticate"},
      {reinterpret_cast<const void*>(d->health_check), "health_check"},
      {reinterpret_cast<const void*>(d->list_streams), "list_streams"},
      {reinterpret_cast<const void*>(d->pull_changes), "pull_changes"},
      {reinterpret_cast<const void*>(d->map_to_canonical), "map_to_canonical"},
  };
  for (const Required& function : required) {
    if (function.pointer == nullptr) {
      return fmt::format("descriptor function '{}' is missing", function.name);
    }
  }
  return std::nullopt;
}

LoadedPlugin::LoadedPlugin(std::unique_ptr<Library> library,
                           const reglo_connector_descriptor* descriptor, PluginInfo info)
    : library_(std::move(library)), descriptor_(descriptor), info_(std::move(info)) {}

LoadedPlugin::~LoadedPlugin() = default;

Result<std::shared_ptr<LoadedPlugin>> LoadedPlugin::Load(const std::filesystem::path& path) {
  const std::string file = path.string();
  auto refuse = [&](StatusCode code, const std::string& reason) {
    return Status(code, fmt::format("plugin {} refused: {}", file, reason));
  };
  auto library = std::make_unique<Library>();
  boost::system::error_code error;
  library->handle.load(boost::dll::fs::path(file),
                       boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, error);
  if (error) {
    const char* detail = dlerror();
    return refuse(StatusCode::kInvalidArgument,
                  fmt::format("cannot load the library ({})", detail ? detail : error.message()));
  }
  if (!library->handle.has(REGLO_CONNECTOR_ENTRY_SYMBOL)) {
    return refuse(
        StatusCode::kInvalidArgument,
        fmt::format("no entry symbol '{}' (not a Reglo connector?)", REGLO_CONNECTOR_ENTRY_SYMBOL));
  }
  auto entry =
      library->handle.get<reglo_status(const reglo_host_info*, const reglo_connector_descriptor**)>(
          REGLO_CONNECTOR_ENTRY_SYMBOL);
  reglo_host_info host{};
  host.struct_size = sizeof(host);
  host.abi_major = REGLO_ABI_VERSION_MAJOR;
  host.abi_minor = REGLO_ABI_VERSION_MINOR;
  host.host_version = kHostVersion;
  const reglo_connector_descriptor* descriptor = nullptr;
  const reglo_status code = entry(&host, &descriptor);
  if (code == REGLO_INCOMPATIBLE) {
    // A plugin may hand its descriptor over even when it refuses, so its version can be named.
    const std::string built = REGLO_HAS_MEMBER(descriptor, reglo_connector_descriptor, abi_minor)
                                  ? fmt::format(" (it was built against ABI {}.{})",
                                                descriptor->abi_major, descriptor->abi_minor)
                                  : "";
    return refuse(StatusCode::kIncompatible,
                  fmt::format("the plugin cannot speak this hub's ABI {}.{}{}",
                              REGLO_ABI_VERSION_MAJOR, REGLO_ABI_VERSION_MINOR, built));
  }
  if (code != REGLO_OK) {
    return refuse(StatusCode::kInvalidArgument,
                  FromPluginStatus(code, fmt::format("the entry point failed with status {}", code))
                      .message());
  }
  if (std::optional<std::string> problem = CheckDescriptor(descriptor)) {
    const bool version = REGLO_HAS_MEMBER(descriptor, reglo_connector_descriptor, abi_major) &&
                         descriptor->abi_major != REGLO_ABI_VERSION_MAJOR;
    return refuse(version ? StatusCode::kIncompatible : StatusCode::kInvalidArgument, *problem);
  }
  PluginInfo info;
  info.name = descriptor->name;
  info.version = descriptor->version;
  info.vendor = descriptor->vendor ? descriptor->vendor : "";
  info.description = descriptor->description ? descriptor->description : "";
  for (size_t i = 0; i < descriptor->entity_count; ++i)
    info.entities.emplace_back(descriptor->entities[i]);
  info.config_schema_json = descriptor->config_schema_json;
  info.path = path;
  info.abi_major = descriptor->abi_major;
  info.abi_minor = descriptor->abi_minor;
  info.has_push_changes = descriptor->push_changes != nullptr;
  return std::shared_ptr<LoadedPlugin>(
      new LoadedPlugin(std::move(library), descriptor, std::move(info)));
}

std::string CreateInstanceContext(const PluginInfo& info) {
  return fmt::format("plugin {} ({}) could not create an instance", info.path.string(), info.name);
}

Result<std::unique_ptr<ConnectorInstance>> LoadedPlugin::CreateInstance(
    const std::string& config_json, PluginLogCallback log) const {
  CallState state(&log);
  void* instance = nullptr;
  const reglo_status code = descriptor_->create(&state.context, config_json.c_str(), &instance);
  if (!state.failure.ok()) {  // the host failed while serving create: no instance to speak of
    if (instance != nullptr) descriptor_->destroy(instance);
    return state.failure.WithContext(CreateInstanceContext(info_));
  }
  if (code != REGLO_OK || instance == nullptr) {
    if (code == REGLO_OK && instance == nullptr) {
      state.error = "create returned OK but no instance";
    }
    if (instance != nullptr) descriptor_->destroy(instance);
    const std::string reason = state.error.empty() ? "no reason given" : state.error;
    Status status = FromPluginStatus(code == REGLO_OK ? REGLO_FATAL : code, reason);
    return status.WithContext(CreateInstanceContext(info_));
  }
  std::unique_ptr<ConnectorInstance> created =
      std::make_unique<InProcessInstance>(shared_from_this(), instance);
  created->SetLogCallback(std::move(log));
  return created;
}

InProcessInstance::~InProcessInstance() {
  if (plugin_ && instance_ != nullptr) plugin_->descriptor().destroy(instance_);
}

const PluginInfo& InProcessInstance::plugin_info() const {
  return plugin_->info();
}

Status InProcessInstance::Finish(reglo_status code, CallState& state, std::string_view operation) {
  retry_after_ms_ = code == REGLO_RATE_LIMITED ? state.retry_after_ms : 0;
  // A failure on the host's side while serving the call explains its end best.
  if (!state.failure.ok()) return state.failure;
  if (code == REGLO_OK) return Status::Ok();
  std::string message = state.error.empty() ? "no reason given" : state.error;
  return FromPluginStatus(code, fmt::format("{} {}: {}", plugin_->info().name, operation, message));
}

Status InProcessInstance::Authenticate() {
  CallState state(&log_);
  return Finish(plugin_->descriptor().authenticate(instance_, &state.context), state,
                "authenticate");
}

Status InProcessInstance::HealthCheck() {
  CallState state(&log_);
  return Finish(plugin_->descriptor().health_check(instance_, &state.context), state,
                "health check");
}

Result<std::vector<std::string>> InProcessInstance::ListStreams() {
  CallState state(&log_);
  struct StreamsState {
    std::vector<std::string> streams;
    Status* failure;
  } streams_state{{}, &state.failure};
  reglo_stream_sink sink{};
  sink.struct_size = sizeof(sink);
  sink.host_data = &streams_state;
  sink.add = [](void* data, const char* stream) noexcept {
    auto* s = static_cast<StreamsState*>(data);
    Guarded(s->failure, 0, [&] {
      if (stream != nullptr) s->streams.emplace_back(stream);
      return 0;
    });
  };
  Status status = Finish(plugin_->descriptor().list_streams(instance_, &state.context, &sink),
                         state, "list streams");
  if (!status.ok()) return status;
  return std::move(streams_state.streams);
}

namespace {

// The handler and the call's failure (the first error of the host's side: the handler's, a
// refused record, or a callback that threw), so the plugin's answer can be tied to it.
struct EmitState {
  PullHandler* handler;
  Status* failure;
};

reglo_status ToPluginStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return REGLO_OK;
    case StatusCode::kRetryable:
    case StatusCode::kCancelled: return REGLO_RETRY;
    default: return REGLO_FATAL;
  }
}

}  // namespace

Status InProcessInstance::Pull(const std::string& stream,
                               const std::optional<std::string>& since_cursor,
                               PullHandler& handler) {
  CallState state(&log_);
  EmitState emit_state{&handler, &state.failure};
  reglo_emitter emitter{};
  emitter.struct_size = sizeof(emitter);
  emitter.host_data = &emit_state;
  // The trampolines: noexcept, and a failure of the host (no memory, say) is the pull's failure.
  emitter.emit_record = [](void* data, const reglo_record* record) noexcept -> reglo_status {
    auto* s = static_cast<EmitState*>(data);
    if (!s->failure->ok()) return ToPluginStatus(*s->failure);
    return Guarded(s->failure, REGLO_FATAL, [&] {
      if (std::optional<std::string> problem = CheckRecord(record, "record")) {
        *s->failure = Status::Internal(std::move(*problem));
      } else {
        *s->failure = s->handler->OnRecord(*record);
      }
      return ToPluginStatus(*s->failure);
    });
  };
  emitter.emit_checkpoint = [](void* data, const char* cursor,
                               uint64_t count) noexcept -> reglo_status {
    auto* s = static_cast<EmitState*>(data);
    if (!s->failure->ok()) return ToPluginStatus(*s->failure);
    return Guarded(s->failure, REGLO_FATAL, [&] {
      *s->failure = s->handler->OnCheckpoint(cursor ? cursor : "", count);
      return ToPluginStatus(*s->failure);
    });
  };
  emitter.emit_warning = [](void* data, const char* origin, const char* message) noexcept {
    auto* s = static_cast<EmitState*>(data);
    Guarded(s->failure, 0, [&] {
      s->handler->OnWarning(origin ? origin : "", message ? message : "");
      return 0;
    });
  };
  emitter.should_stop = [](void* data) noexcept -> int {
    auto* s = static_cast<EmitState*>(data);
    return Guarded(s->failure, 1, [&] { return s->handler->ShouldStop() ? 1 : 0; });
  };
  const reglo_status code =
      plugin_->descriptor().pull_changes(instance_, &state.context, stream.c_str(),
                                         since_cursor ? since_cursor->c_str() : nullptr, &emitter);
  // A failure on the host side (store down, record refused) explains the pull's end best.
  return Finish(code, state, fmt::format("pull of stream '{}'", stream));
}

Status InProcessInstance::MapToCanonical(const reglo_record& source,
                                         const CanonicalCallback& callback) {
  CallState state(&log_);
  struct SinkState {
    const CanonicalCallback* callback;
    Status* failure;
  } sink_state{&callback, &state.failure};
  reglo_record_sink sink{};
  sink.struct_size = sizeof(sink);
  sink.host_data = &sink_state;
  sink.emit = [](void* data, const reglo_record* canonical) noexcept -> reglo_status {
    auto* s = static_cast<SinkState*>(data);
    if (!s->failure->ok()) return ToPluginStatus(*s->failure);
    return Guarded(s->failure, REGLO_FATAL, [&] {
      if (std::optional<std::string> problem = CheckRecord(canonical, "canonical record")) {
        *s->failure = Status::Internal(std::move(*problem));
      } else {
        *s->failure = (*s->callback)(*canonical);
      }
      return ToPluginStatus(*s->failure);
    });
  };
  const reglo_status code =
      plugin_->descriptor().map_to_canonical(instance_, &state.context, &source, &sink);
  return Finish(code, state, "map to canonical");
}

PluginSet LoadPluginDirectory(const std::filesystem::path& directory, const PluginProbe& probe) {
  PluginSet set;
  std::error_code error;
  std::vector<std::filesystem::path> candidates;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (entry.path().extension() == ".so" && entry.is_regular_file(error)) {
      candidates.push_back(entry.path());
    }
  }
  if (error) {
    set.errors.push_back(
        {directory, fmt::format("cannot read the plugins folder: {}", error.message())});
    return set;
  }
  std::sort(candidates.begin(), candidates.end());
  for (const std::filesystem::path& path : candidates) {
    if (probe) {
      Status probed = probe(path);
      if (!probed.ok()) {
        set.errors.push_back({path, probed.message()});
        continue;
      }
    }
    Result<std::shared_ptr<LoadedPlugin>> loaded = LoadedPlugin::Load(path);
    if (!loaded.ok()) {
      set.errors.push_back({path, loaded.status().message()});
      continue;
    }
    const std::string name = (*loaded)->info().name;
    auto [it, inserted] = set.plugins.emplace(name, *loaded);
    if (!inserted) {
      set.errors.push_back(
          {path, fmt::format("plugin {} refused: the name '{}' is already provided by {}",
                             path.string(), name, it->second->info().path.string())});
    }
  }
  return set;
}

}  // namespace reglo::plugin_host
