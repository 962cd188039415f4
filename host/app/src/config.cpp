#include "reglo/app/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "reglo/storage/postgres_store.h"

namespace reglo::app {
namespace {

using nlohmann::json;

Status KeyError(const std::string& key, const std::string& problem) {
  return Status::ConfigError(fmt::format("{}: {}", key, problem));
}

std::string TypeName(const json& value) {
  return value.type_name();
}

// Reads a required (or optional) string member; the error names the key path.
Status ReadString(const json& object, const std::string& parent, const char* name, bool required,
                  std::string& out) {
  const std::string key = parent.empty() ? name : parent + "." + name;
  auto it = object.find(name);
  if (it == object.end()) {
    return required ? KeyError(key, "missing") : Status::Ok();
  }
  if (!it->is_string()) return KeyError(key, "expected a string, got " + TypeName(*it));
  out = it->get<std::string>();
  if (required && out.empty()) return KeyError(key, "must not be empty");
  return Status::Ok();
}

std::filesystem::path Resolve(const std::filesystem::path& base, const std::string& value) {
  std::filesystem::path path(value);
  return (path.is_absolute() ? path : base / path).lexically_normal();
}

bool IsValidId(const std::string& id) {
  if (id.empty() || id.size() > 100) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Reads an optional number of seconds (fractions allowed) as milliseconds; the error names the key.
Status ReadSeconds(const json& object, const std::string& parent, const char* name, double minimum,
                   int64_t& out_ms) {
  auto it = object.find(name);
  if (it == object.end()) return Status::Ok();
  const std::string key = parent + "." + name;
  if (!it->is_number()) return KeyError(key, "expected a number of seconds, got " + TypeName(*it));
  const double seconds = it->get<double>();
  if (!(seconds >= minimum) || seconds > 1e9) {
    return KeyError(key, fmt::format("must be at least {} seconds", minimum));
  }
  out_ms = static_cast<int64_t>(seconds * 1000.0 + 0.5);
  return Status::Ok();
}

Status ReadCount(const json& object, const char* name, int minimum, int& out) {
  auto it = object.find(name);
  if (it == object.end()) return Status::Ok();
  const std::string key = std::string("engine.") + name;
  if (!it->is_number_integer() || it->get<int64_t>() < minimum || it->get<int64_t>() > 100000) {
    return KeyError(key, fmt::format("expected a whole number of at least {}", minimum));
  }
  out = it->get<int>();
  return Status::Ok();
}

// The optional "engine" object (serve's scheduling and supervision settings).
Status ReadEngine(const json& root, EngineSettings& engine) {
  auto it = root.find("engine");
  if (it == root.end()) return Status::Ok();
  if (!it->is_object()) return KeyError("engine", "expected an object, got " + TypeName(*it));
  static const std::set<std::string> kKeys = {"default_interval_seconds",
                                              "backoff_base_seconds",
                                              "backoff_cap_seconds",
                                              "failure_limit",
                                              "stall_timeout_seconds",
                                              "cancel_grace_seconds",
                                              "threads_per_plugin",
                                              "watch_plugins",
                                              "watch_interval_seconds",
                                              "shutdown_timeout_seconds",
                                              "lease_seconds",
                                              "runner_memory_limit_mb"};
  for (const auto& [key, value] : it->items()) {
    if (!kKeys.count(key)) {
      return KeyError("engine." + key,
                      fmt::format("unknown key (expected one of: {})", fmt::join(kKeys, ", ")));
    }
  }
  const json& e = *it;
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(e, "engine", "default_interval_seconds", 0.01, engine.default_interval_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(e, "engine", "backoff_base_seconds", 0, engine.backoff_base_ms));
  REGLO_RETURN_IF_ERROR(ReadSeconds(e, "engine", "backoff_cap_seconds", 0, engine.backoff_cap_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(e, "engine", "stall_timeout_seconds", 0.05, engine.stall_timeout_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(e, "engine", "cancel_grace_seconds", 0.01, engine.cancel_grace_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(e, "engine", "watch_interval_seconds", 0.01, engine.watch_interval_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(e, "engine", "shutdown_timeout_seconds", 0, engine.shutdown_timeout_ms));
  // A lease is renewed every third of its time; under a second, a busy host could lose it.
  REGLO_RETURN_IF_ERROR(ReadSeconds(e, "engine", "lease_seconds", 1, engine.lease_ms));
  REGLO_RETURN_IF_ERROR(ReadCount(e, "failure_limit", 1, engine.failure_limit));
  REGLO_RETURN_IF_ERROR(ReadCount(e, "threads_per_plugin", 1, engine.threads_per_plugin));
  if (auto limit = e.find("runner_memory_limit_mb"); limit != e.end()) {
    if (!limit->is_number_integer() || limit->get<int64_t>() < 0 ||
        limit->get<int64_t>() > (int64_t{1} << 30)) {
      return KeyError("engine.runner_memory_limit_mb",
                      "expected a whole number of MiB (0: no limit), e.g. 1024");
    }
    engine.runner_memory_limit_mb = limit->get<int64_t>();
    if (engine.runner_memory_limit_mb > 0 && engine.runner_memory_limit_mb < 16) {
      return KeyError("engine.runner_memory_limit_mb",
                      "at least 16 MiB (a connector process needs some to start), or 0: no limit");
    }
  }
  if (auto watch = e.find("watch_plugins"); watch != e.end()) {
    if (!watch->is_boolean()) return KeyError("engine.watch_plugins", "expected true or false");
    engine.watch_plugins = watch->get<bool>();
  }
  if (engine.backoff_cap_ms < engine.backoff_base_ms) {
    return KeyError("engine.backoff_cap_seconds", "must not be less than backoff_base_seconds");
  }
  return Status::Ok();
}

}  // namespace

Result<HubConfig> ParseConfig(const std::string& text, const std::filesystem::path& base_dir) {
  json root;
  try {
    root = json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& error) {
    return Status::ConfigError(fmt::format("not valid JSON: {}", error.what()));
  }
  if (!root.is_object()) return Status::ConfigError("the top level must be a JSON object");
  static const std::set<std::string> kTopKeys = {"store", "plugins_dir", "sources", "engine",
                                                 "secrets_file"};
  for (const auto& [key, value] : root.items()) {
    if (!kTopKeys.count(key)) {
      return KeyError(key,
                      "unknown key (expected one of: store, plugins_dir, sources, engine, "
                      "secrets_file)");
    }
  }
  HubConfig config;
  REGLO_RETURN_IF_ERROR(ReadEngine(root, config.engine));
  REGLO_RETURN_IF_ERROR(ReadString(root, "", "store", true, config.store_url));
  if (config.store_url.rfind("sqlite:", 0) == 0) {
    std::string path = config.store_url.substr(7);
    if (path.rfind("//", 0) == 0) path = path.substr(2);
    if (path.empty())
      return KeyError("store", "'sqlite:' needs a file path, e.g. sqlite:var/hub.db");
    config.sqlite_path = path == ":memory:" ? std::filesystem::path(path) : Resolve(base_dir, path);
  } else if (storage::IsPostgresUrl(config.store_url)) {
    // Checked here so that a malformed URL is a config error at load time; the password may
    // also come from REGLO_PG_PASSWORD or PGPASSWORD when the URL has none.
    Result<storage::PostgresUrl> url = storage::ParsePostgresUrl(config.store_url);
    if (!url.ok()) return url.status();
  } else {
    return KeyError("store", "expected sqlite:PATH or postgres://user@host:port/database");
  }
  // The hub master key file (agent signing secrets are sealed with it; keys.h). Optional.
  if (root.contains("secrets_file")) {
    std::string secrets_file;
    REGLO_RETURN_IF_ERROR(ReadString(root, "", "secrets_file", true, secrets_file));
    config.secrets_file = Resolve(base_dir, secrets_file);
  }
  std::string plugins_dir;
  REGLO_RETURN_IF_ERROR(ReadString(root, "", "plugins_dir", true, plugins_dir));
  config.plugins_dir = Resolve(base_dir, plugins_dir);

  auto sources = root.find("sources");
  if (sources == root.end()) return KeyError("sources", "missing");
  if (!sources->is_array())
    return KeyError("sources", "expected an array, got " + TypeName(*sources));
  std::set<std::string> ids;
  for (size_t i = 0; i < sources->size(); ++i) {
    const json& entry = (*sources)[i];
    const std::string key = fmt::format("sources[{}]", i);
    if (!entry.is_object()) return KeyError(key, "expected an object, got " + TypeName(entry));
    static const std::set<std::string> kSourceKeys = {
        "id",      "company_id", "source_system",    "connector",
        "enabled", "options",    "interval_seconds", "isolation"};
    for (const auto& [name, value] : entry.items()) {
      if (!kSourceKeys.count(name)) {
        return KeyError(fmt::format("{}.{}", key, name),
                        "unknown key (expected id, company_id, source_system, connector, enabled, "
                        "options, interval_seconds, isolation)");
      }
    }
    storage::SourceRow source;
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "id", true, source.id));
    if (!IsValidId(source.id)) {
      return KeyError(key + ".id", "use letters, digits, '-', '_' or '.' (at most 100)");
    }
    if (!ids.insert(source.id).second) {
      return KeyError(key + ".id", fmt::format("'{}' is used by another source", source.id));
    }
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "company_id", true, source.company_id));
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "source_system", true, source.source_system));
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "connector", true, source.connector));
    if (auto enabled = entry.find("enabled"); enabled != entry.end()) {
      if (!enabled->is_boolean()) return KeyError(key + ".enabled", "expected true or false");
      source.enabled = enabled->get<bool>();
    }
    if (entry.contains("interval_seconds")) {
      int64_t interval_ms = 0;
      REGLO_RETURN_IF_ERROR(ReadSeconds(entry, key, "interval_seconds", 0.01, interval_ms));
      config.interval_ms[source.id] = interval_ms;
    }
    if (entry.contains("isolation")) {
      std::string isolation;
      REGLO_RETURN_IF_ERROR(ReadString(entry, key, "isolation", false, isolation));
      if (isolation == "process") {
        config.process_isolated.insert(source.id);
      } else if (isolation != "in_process") {
        return KeyError(key + ".isolation",
                        fmt::format("'{}' is not an isolation (expected \"in_process\", the "
                                    "default, or \"process\")",
                                    isolation));
      }
    }
    json options = json::object();
    if (auto it = entry.find("options"); it != entry.end()) {
      if (!it->is_object())
        return KeyError(key + ".options", "expected an object, got " + TypeName(*it));
      options = *it;
    }
    // Connectors resolve their relative paths against the config file's folder.
    if (!options.contains("base_dir")) options["base_dir"] = base_dir.string();
    source.config_json = options.dump();
    config.sources.push_back(std::move(source));
  }
  return config;
}

Result<HubConfig> LoadConfig(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::ConfigError(fmt::format("cannot read config file {}", path.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::filesystem::path absolute = std::filesystem::absolute(path);
  Result<HubConfig> config = ParseConfig(text.str(), absolute.parent_path());
  if (!config.ok()) return config.status().WithContext(path.string());
  config->path = absolute;
  return config;
}

}  // namespace reglo::app
