#include "reglo/app/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <type_traits>

#include "reglo/core/text.h"
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

// Builds the DOM like nlohmann's own parser while following where it is ("engine.lease_seconds",
// "sources[2].options.x"), so that an error found while parsing names the key. nlohmann reports a
// number past double's range (1e400) through parse_error with an out_of_range exception; thrown,
// it ended the process (exit 134).
class KeyTrackingParser {
 public:
  explicit KeyTrackingParser(json& root) : dom_(root, /*allow_exceptions=*/false) {}

  bool null() { return Value() && dom_.null(); }
  bool boolean(bool v) { return Value() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return Value() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return Value() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& text) {
    return Value() && dom_.number_float(v, text);
  }
  bool string(json::string_t& v) { return Value() && dom_.string(v); }
  bool binary(json::binary_t& v) { return Value() && dom_.binary(v); }
  bool start_object(std::size_t n) {
    if (!Value()) return false;
    levels_.push_back({false, 0, {}});
    return dom_.start_object(n);
  }
  bool key(json::string_t& k) {
    levels_.back().key = k;
    return dom_.key(k);
  }
  bool end_object() {
    levels_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    if (!Value()) return false;
    levels_.push_back({true, 0, {}});
    return dom_.start_array(n);
  }
  bool end_array() {
    levels_.pop_back();
    return dom_.end_array();
  }
  // The path and the token are the file's text: quoted as excerpts.
  bool parse_error(std::size_t, const std::string& token,
                   const nlohmann::detail::exception& error) {
    if (error.id == 406) {  // out_of_range: "number overflow parsing '1e400'"
      const std::string where = Path();
      error_ = fmt::format("{}: the number {} is out of range",
                           where.empty() ? "(top level)" : Excerpt(where), Excerpt(token));
    } else {
      error_ = fmt::format("not valid JSON: {}", Excerpt(error.what(), 500));
    }
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  struct Level {
    bool array;
    size_t started;   // elements started so far (arrays)
    std::string key;  // the member being read (objects)
  };

  // Counts an element of the enclosing array.
  bool Value() {
    if (!levels_.empty() && levels_.back().array) ++levels_.back().started;
    return true;
  }

  // Where the parser is: the member or element being read (an error comes before its value is
  // counted, so the innermost array's index is the count of elements already started).
  std::string Path() const {
    std::string path;
    for (size_t i = 0; i < levels_.size(); ++i) {
      const Level& level = levels_[i];
      if (level.array) {
        const size_t index = i + 1 == levels_.size() ? level.started : level.started - 1;
        path += fmt::format("[{}]", index);
      } else {
        if (!path.empty()) path += '.';
        path += level.key;
      }
    }
    return path;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<Level> levels_;
  std::string error_;
};

// A config file's text as JSON (comments allowed). A syntax error or a number out of range is a
// configuration error, never an exception.
Result<json> ParseConfigJson(const std::string& text) {
  json root;
  KeyTrackingParser parser(root);
  bool parsed = false;
  try {
    parsed = json::sax_parse(text, &parser, json::input_format_t::json, /*strict=*/true,
                             /*ignore_comments=*/true);
  } catch (const json::exception& error) {
    return Status::ConfigError(fmt::format("not valid JSON: {}", Excerpt(error.what(), 500)));
  }
  if (!parsed) {
    return Status::ConfigError(parser.error().empty() ? std::string("not valid JSON")
                                                      : parser.error());
  }
  return root;
}

// Refuses members of `object` not in `known`, naming the first one under `parent`.
Status CheckKnownKeys(const json& object, const std::string& parent,
                      const std::set<std::string>& known) {
  for (const auto& [key, value] : object.items()) {
    if (!known.count(key)) {
      return KeyError(parent.empty() ? key : parent + "." + key,
                      fmt::format("unknown key (expected one of: {})", fmt::join(known, ", ")));
    }
  }
  return Status::Ok();
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

// A non-empty top-level path member, resolved against `base`; an absent optional one leaves `out`
// as it is.
Status ReadPath(const json& root, const char* name, bool required,
                const std::filesystem::path& base, std::filesystem::path& out) {
  if (!required && !root.contains(name)) return Status::Ok();
  std::string text;
  REGLO_RETURN_IF_ERROR(ReadString(root, "", name, true, text));
  out = Resolve(base, text);
  return Status::Ok();
}

// The config file's top-level object, refused when it has a key not in `known`.
Result<json> ParseTopLevel(const std::string& text, const std::set<std::string>& known) {
  Result<json> parsed = ParseConfigJson(text);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return Status::ConfigError("the top level must be a JSON object");
  REGLO_RETURN_IF_ERROR(CheckKnownKeys(*parsed, "", known));
  return parsed;
}

// Reads an optional true/false member; the error names the key path.
Status ReadBool(const json& object, const std::string& parent, const char* name, bool& out) {
  auto it = object.find(name);
  if (it == object.end()) return Status::Ok();
  if (!it->is_boolean()) {
    return KeyError(parent.empty() ? std::string(name) : parent + "." + name,
                    "expected true or false");
  }
  out = it->get<bool>();
  return Status::Ok();
}

// The optional top-level object `name` (nullptr when absent); refused when it is not an object or
// has a key not in `known`.
Result<const json*> FindSection(const json& root, const char* name,
                                const std::set<std::string>& known) {
  auto it = root.find(name);
  if (it == root.end()) return static_cast<const json*>(nullptr);
  if (!it->is_object()) return KeyError(name, "expected an object, got " + TypeName(*it));
  REGLO_RETURN_IF_ERROR(CheckKnownKeys(*it, name, known));
  return &*it;
}

// Reads an optional number of seconds (fractions allowed) as milliseconds; the error names the key.
Status ReadSeconds(const json& object, const std::string& parent, const char* name, double minimum,
                   int64_t& out_ms) {
  auto it = object.find(name);
  if (it == object.end()) return Status::Ok();
  const std::string key = parent.empty() ? std::string(name) : parent + "." + name;
  if (!it->is_number()) return KeyError(key, "expected a number of seconds, got " + TypeName(*it));
  const double seconds = it->get<double>();
  if (!(seconds >= minimum) || seconds > 1e9) {
    return KeyError(key, fmt::format("must be at least {} seconds", minimum));
  }
  out_ms = static_cast<int64_t>(seconds * 1000.0 + 0.5);
  return Status::Ok();
}

// Reads an optional whole number from `minimum` to `maximum` into `out` (int or int64_t: `maximum`
// must fit it). With `zero_means` ("no limit"), 0 is accepted too and means that. The error names
// the key path.
template <typename Int>
Status ReadInteger(const json& object, const std::string& parent, const char* name, int64_t minimum,
                   int64_t maximum, Int& out, const char* zero_means = nullptr) {
  static_assert(std::is_integral_v<Int>);
  auto it = object.find(name);
  if (it == object.end()) return Status::Ok();
  const std::string key = parent.empty() ? std::string(name) : parent + "." + name;
  const bool integer = it->is_number_integer();
  const int64_t value = integer ? it->get<int64_t>() : 0;
  const bool off = zero_means != nullptr && integer && value == 0;
  if (!integer || (!off && (value < minimum || value > maximum))) {
    const std::string range = fmt::format("a whole number from {} to {}", minimum, maximum);
    return KeyError(key, zero_means == nullptr
                             ? "expected " + range
                             : fmt::format("expected 0 ({}) or {}", zero_means, range));
  }
  out = static_cast<Int>(value);
  return Status::Ok();
}

// The optional "engine" object (serve's scheduling and supervision settings).
Status ReadEngine(const json& root, EngineSettings& engine) {
  Result<const json*> section =
      FindSection(root, "engine",
                  {"default_interval_seconds", "backoff_base_seconds", "backoff_cap_seconds",
                   "failure_limit", "stall_timeout_seconds", "cancel_grace_seconds",
                   "threads_per_plugin", "watch_plugins", "watch_interval_seconds",
                   "shutdown_timeout_seconds", "lease_seconds", "runner_memory_limit_mb"});
  if (!section.ok()) return section.status();
  if (*section == nullptr) return Status::Ok();
  const json& e = **section;
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
  REGLO_RETURN_IF_ERROR(ReadInteger(e, "engine", "failure_limit", 1, 100000, engine.failure_limit));
  REGLO_RETURN_IF_ERROR(
      ReadInteger(e, "engine", "threads_per_plugin", 1, 100000, engine.threads_per_plugin));
  REGLO_RETURN_IF_ERROR(ReadBool(e, "engine", "watch_plugins", engine.watch_plugins));
  if (engine.backoff_cap_ms < engine.backoff_base_ms) {
    return KeyError("engine.backoff_cap_seconds", "must not be less than backoff_base_seconds");
  }
  // A connector process needs some memory to start: under 16 MiB it could not.
  REGLO_RETURN_IF_ERROR(ReadInteger(e, "engine", "runner_memory_limit_mb", 16, int64_t{1} << 30,
                                    engine.runner_memory_limit_mb, "no limit"));
  return Status::Ok();
}

// "host:port", "[v6]:port" -> address and port; the error names `key`.
Status ParseListen(const std::string& key, const std::string& text, std::string& address,
                   uint16_t& port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) {
    return KeyError(key, "expected host:port, e.g. 0.0.0.0:8471 or [::]:8471");
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return KeyError(key, "expected host:port (the host is missing)");
  const std::string digits = text.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(digits) > 65535) {
    return KeyError(key, "the port must be 0..65535");
  }
  address = host;
  port = static_cast<uint16_t>(std::stoi(digits));
  return Status::Ok();
}

// A listener's connection caps ("max_connections", "max_connections_per_address") from `object`
// (the "ingest" or "admin" object, named `parent`); the errors name the key.
Status ReadConnectionCaps(const json& object, const std::string& parent, ListenerCaps& caps) {
  REGLO_RETURN_IF_ERROR(
      ReadInteger(object, parent, "max_connections", 1, 100000, caps.max_connections));
  REGLO_RETURN_IF_ERROR(ReadInteger(object, parent, "max_connections_per_address", 1, 100000,
                                    caps.max_connections_per_address));
  if (caps.max_connections_per_address > caps.max_connections) {
    return KeyError(
        parent + ".max_connections_per_address",
        fmt::format("must not be more than max_connections ({})", caps.max_connections));
  }
  return Status::Ok();
}

// The optional "ingest" object (the ingestion API's listener; issue #6).
Status ReadIngest(const json& root, const std::filesystem::path& base_dir,
                  std::optional<IngestSettings>& out) {
  Result<const json*> section = FindSection(
      root, "ingest",
      {"listen", "tls_certificate_file", "tls_private_key_file", "max_body_bytes", "max_records",
       "max_json_depth", "max_string_bytes", "max_fields_per_record", "header_timeout_seconds",
       "body_timeout_seconds", "signature_tolerance_seconds", "rate_limit", "threads",
       "store_connections", "max_connections", "max_connections_per_address"});
  if (!section.ok()) return section.status();
  if (*section == nullptr) return Status::Ok();
  const json& o = **section;
  IngestSettings ingest;
  std::string listen;
  REGLO_RETURN_IF_ERROR(ReadString(o, "ingest", "listen", true, listen));
  REGLO_RETURN_IF_ERROR(ParseListen("ingest.listen", listen, ingest.address, ingest.port));
  std::string cert;
  std::string key;
  REGLO_RETURN_IF_ERROR(ReadString(o, "ingest", "tls_certificate_file", false, cert));
  REGLO_RETURN_IF_ERROR(ReadString(o, "ingest", "tls_private_key_file", false, key));
  if (cert.empty() != key.empty()) {
    return KeyError(cert.empty() ? "ingest.tls_certificate_file" : "ingest.tls_private_key_file",
                    "TLS needs both tls_certificate_file and tls_private_key_file");
  }
  if (!cert.empty()) {
    ingest.tls_certificate_file = Resolve(base_dir, cert);
    ingest.tls_private_key_file = Resolve(base_dir, key);
  }
  REGLO_RETURN_IF_ERROR(
      ReadInteger(o, "ingest", "max_body_bytes", 1024, int64_t{1} << 30, ingest.max_body_bytes));
  REGLO_RETURN_IF_ERROR(ReadInteger(o, "ingest", "max_records", 1, 100000, ingest.max_records));
  REGLO_RETURN_IF_ERROR(ReadInteger(o, "ingest", "max_json_depth", 3, 64, ingest.max_json_depth));
  REGLO_RETURN_IF_ERROR(
      ReadInteger(o, "ingest", "max_string_bytes", 16, 16 << 20, ingest.max_string_bytes));
  REGLO_RETURN_IF_ERROR(
      ReadInteger(o, "ingest", "max_fields_per_record", 1, 1000000, ingest.max_fields_per_record));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(o, "ingest", "header_timeout_seconds", 0.05, ingest.header_timeout_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(o, "ingest", "body_timeout_seconds", 0.05, ingest.body_timeout_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(o, "ingest", "signature_tolerance_seconds", 1, ingest.signature_tolerance_ms));
  REGLO_RETURN_IF_ERROR(ReadInteger(o, "ingest", "threads", 1, 256, ingest.threads));
  REGLO_RETURN_IF_ERROR(
      ReadInteger(o, "ingest", "store_connections", 1, 64, ingest.store_connections));
  REGLO_RETURN_IF_ERROR(ReadConnectionCaps(o, "ingest", ingest.caps));
  if (auto rate = o.find("rate_limit"); rate != o.end()) {
    if (!rate->is_object()) {
      return KeyError("ingest.rate_limit", "expected an object, got " + TypeName(*rate));
    }
    for (const auto& [name, value] : rate->items()) {
      if (name != "requests_per_second" && name != "burst") {
        return KeyError("ingest.rate_limit." + name,
                        "unknown key (expected requests_per_second, burst)");
      }
    }
    if (auto per_second = rate->find("requests_per_second"); per_second != rate->end()) {
      // Bounded both ways: the limiter divides by it and multiplies its interval by the burst.
      if (!per_second->is_number() || !(per_second->get<double>() >= 0.001) ||
          !(per_second->get<double>() <= 1e6)) {
        return KeyError("ingest.rate_limit.requests_per_second",
                        "expected a number from 0.001 to 1000000");
      }
      ingest.rate_per_second = per_second->get<double>();
    }
    REGLO_RETURN_IF_ERROR(
        ReadInteger(*rate, "ingest.rate_limit", "burst", 1, 1000000, ingest.rate_burst));
  }
  out = std::move(ingest);
  return Status::Ok();
}

// An optional array of non-empty strings.
Status ReadStrings(const json& object, const std::string& parent, const char* name,
                   std::vector<std::string>& out) {
  auto it = object.find(name);
  if (it == object.end()) return Status::Ok();
  const std::string key = parent + "." + name;
  if (!it->is_array()) return KeyError(key, "expected an array of strings, got " + TypeName(*it));
  for (size_t i = 0; i < it->size(); ++i) {
    const json& item = (*it)[i];
    if (!item.is_string() || item.get<std::string>().empty()) {
      return KeyError(fmt::format("{}[{}]", key, i), "expected a non-empty string");
    }
    out.push_back(item.get<std::string>());
  }
  return Status::Ok();
}

// Reads an optional number of days (fractions allowed, 0 allowed) as a duration.
Status ReadDays(const json& object, const std::string& parent, const char* name,
                storage::RetentionPolicy::Age& out) {
  auto it = object.find(name);
  if (it == object.end()) return Status::Ok();
  const std::string key = parent + "." + name;
  if (!it->is_number()) return KeyError(key, "expected a number of days, got " + TypeName(*it));
  const double days = it->get<double>();
  if (!(days >= 0) || days > 100'000) {
    return KeyError(key, "expected 0 (keep forever) or a number of days up to 100000");
  }
  out = storage::RetentionPolicy::Age(static_cast<int64_t>(days * 86'400'000.0 + 0.5));
  return Status::Ok();
}

// A "personal_data" object (issue #18) at `key`, over the values `out` already has.
Status ReadPersonalData(const json& object, const std::string& key, PersonalDataSettings& out) {
  if (!object.is_object()) return KeyError(key, "expected an object, got " + TypeName(object));
  REGLO_RETURN_IF_ERROR(CheckKnownKeys(object, key,
                                       {"dead_letters_days", "run_logs_days", "inactive_years",
                                        "inactive_students", "after_erasure"}));
  storage::PersonalDataPolicy& policy = out.policy;
  REGLO_RETURN_IF_ERROR(ReadDays(object, key, "dead_letters_days", policy.dead_letters));
  REGLO_RETURN_IF_ERROR(ReadDays(object, key, "run_logs_days", policy.run_logs));
  if (auto it = object.find("inactive_years"); it != object.end()) {
    if (!it->is_number() || !(it->get<double>() >= 0) || it->get<double>() > 100) {
      return KeyError(key + ".inactive_years", "expected 0 (off) or a number of years up to 100");
    }
    // A year of 365.25 days.
    policy.inactive_after = std::chrono::milliseconds(
        static_cast<int64_t>(it->get<double>() * 365.25 * 86'400'000.0 + 0.5));
  }
  if (object.contains("inactive_students")) {
    std::string action;
    REGLO_RETURN_IF_ERROR(ReadString(object, key, "inactive_students", false, action));
    if (action == "flag") {
      policy.inactive_action = storage::InactiveAction::kFlag;
    } else if (action == "erase") {
      policy.inactive_action = storage::InactiveAction::kErase;
    } else {
      return KeyError(
          key + ".inactive_students",
          fmt::format("'{}' is not an action (expected \"flag\" or \"erase\")", action));
    }
  }
  if (object.contains("after_erasure")) {
    std::string rule;
    REGLO_RETURN_IF_ERROR(ReadString(object, key, "after_erasure", false, rule));
    if (rule != storage::kStayErased && rule != storage::kRecreateErased) {
      return KeyError(key + ".after_erasure",
                      fmt::format("'{}' is not a rule (expected \"stay_erased\" or "
                                  "\"recreate\")",
                                  rule));
    }
    out.after_erasure = rule;
  }
  return Status::Ok();
}

// The optional "retention" object (issue #16).
Status ReadRetention(const json& root, RetentionSettings& retention) {
  Result<const json*> section = FindSection(
      root, "retention",
      {"enabled", "interval_seconds", "runs_days", "run_logs_days", "events_days",
       "deliveries_days", "dead_letters_days", "audit_days", "batch_rows", "personal_data"});
  if (!section.ok()) return section.status();
  if (*section == nullptr) return Status::Ok();
  const json& r = **section;
  storage::RetentionPolicy& policy = retention.policy;
  REGLO_RETURN_IF_ERROR(ReadBool(r, "retention", "enabled", retention.enabled));
  REGLO_RETURN_IF_ERROR(ReadSeconds(r, "retention", "interval_seconds", 1, retention.interval_ms));
  REGLO_RETURN_IF_ERROR(ReadDays(r, "retention", "runs_days", policy.runs));
  REGLO_RETURN_IF_ERROR(ReadDays(r, "retention", "run_logs_days", policy.run_logs));
  REGLO_RETURN_IF_ERROR(ReadDays(r, "retention", "events_days", policy.events));
  REGLO_RETURN_IF_ERROR(ReadDays(r, "retention", "deliveries_days", policy.deliveries));
  REGLO_RETURN_IF_ERROR(ReadDays(r, "retention", "dead_letters_days", policy.dead_letters));
  REGLO_RETURN_IF_ERROR(ReadDays(r, "retention", "audit_days", policy.audit));
  REGLO_RETURN_IF_ERROR(ReadInteger(r, "retention", "batch_rows", 1, 100'000, policy.batch_rows));
  if (auto it = r.find("personal_data"); it != r.end()) {
    REGLO_RETURN_IF_ERROR(
        ReadPersonalData(*it, "retention.personal_data", retention.personal_data));
  }
  return Status::Ok();
}

// The optional "relay" object (event delivery).
Status ReadRelay(const json& root, RelaySettings& relay) {
  Result<const json*> section =
      FindSection(root, "relay",
                  {"timeout_seconds", "connect_timeout_seconds", "concurrency", "batch_size",
                   "poll_interval_seconds", "lease_seconds", "retry_schedule_seconds", "nats"});
  if (!section.ok()) return section.status();
  if (*section == nullptr) return Status::Ok();
  const json& r = **section;
  REGLO_RETURN_IF_ERROR(ReadSeconds(r, "relay", "timeout_seconds", 0.01, relay.timeout_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(r, "relay", "connect_timeout_seconds", 0.01, relay.connect_timeout_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(r, "relay", "poll_interval_seconds", 0.01, relay.poll_interval_ms));
  REGLO_RETURN_IF_ERROR(ReadSeconds(r, "relay", "lease_seconds", 1, relay.lease_ms));
  REGLO_RETURN_IF_ERROR(ReadInteger(r, "relay", "concurrency", 1, 64, relay.concurrency));
  REGLO_RETURN_IF_ERROR(ReadInteger(r, "relay", "batch_size", 1, 100000, relay.batch_size));
  if (auto schedule = r.find("retry_schedule_seconds"); schedule != r.end()) {
    if (!schedule->is_array() || schedule->empty() || schedule->size() > 100) {
      return KeyError("relay.retry_schedule_seconds",
                      "expected an array of 1 to 100 numbers of seconds (the delay before each "
                      "attempt, the first usually 0)");
    }
    for (size_t i = 0; i < schedule->size(); ++i) {
      const json& delay = (*schedule)[i];
      if (!delay.is_number() || delay.get<double>() < 0 || delay.get<double>() > 1e7) {
        return KeyError(fmt::format("relay.retry_schedule_seconds[{}]", i),
                        "expected a number of seconds from 0 to 10000000");
      }
      relay.retry_schedule_ms.push_back(static_cast<int64_t>(delay.get<double>() * 1000.0 + 0.5));
    }
  }
  if (auto nats = r.find("nats"); nats != r.end()) {
    if (!nats->is_object()) return KeyError("relay.nats", "expected an object");
    REGLO_RETURN_IF_ERROR(CheckKnownKeys(
        *nats, "relay.nats", {"url", "stream", "subject_prefix", "event_types", "company_ids"}));
    relay.nats = true;
    REGLO_RETURN_IF_ERROR(ReadString(*nats, "relay.nats", "url", false, relay.nats_url));
    REGLO_RETURN_IF_ERROR(ReadString(*nats, "relay.nats", "stream", false, relay.nats_stream));
    REGLO_RETURN_IF_ERROR(
        ReadString(*nats, "relay.nats", "subject_prefix", false, relay.nats_subject_prefix));
    if (relay.nats_url.rfind("nats://", 0) != 0 && relay.nats_url.rfind("tls://", 0) != 0) {
      return KeyError("relay.nats.url", "expected nats://host:port (or tls://host:port)");
    }
    if (relay.nats_stream.empty() ||
        relay.nats_stream.find_first_of(" .*>/\\") != std::string::npos) {
      return KeyError("relay.nats.stream", "a stream name without spaces, '.', '*', '>' or '/'");
    }
    if (relay.nats_subject_prefix.empty() ||
        relay.nats_subject_prefix.find_first_of(" *>") != std::string::npos ||
        relay.nats_subject_prefix.front() == '.' || relay.nats_subject_prefix.back() == '.') {
      return KeyError("relay.nats.subject_prefix",
                      "subject tokens separated by '.', without spaces, '*' or '>'");
    }
    REGLO_RETURN_IF_ERROR(ReadStrings(*nats, "relay.nats", "event_types", relay.nats_event_types));
    REGLO_RETURN_IF_ERROR(ReadStrings(*nats, "relay.nats", "company_ids", relay.nats_company_ids));
  }
  return Status::Ok();
}

// The optional "subscriptions" array (webhooks managed by the config).
Status ReadSubscriptions(const json& root, std::vector<ConfiguredSubscription>& out) {
  auto it = root.find("subscriptions");
  if (it == root.end()) return Status::Ok();
  if (!it->is_array()) return KeyError("subscriptions", "expected an array, got " + TypeName(*it));
  std::set<std::string> ids;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& entry = (*it)[i];
    const std::string key = fmt::format("subscriptions[{}]", i);
    if (!entry.is_object()) return KeyError(key, "expected an object, got " + TypeName(entry));
    REGLO_RETURN_IF_ERROR(CheckKnownKeys(
        entry, key,
        {"id", "url", "event_types", "company_ids", "secret", "secret_env", "enabled"}));
    ConfiguredSubscription sub;
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "id", true, sub.id));
    if (!storage::IsValidId(sub.id) || sub.id == "nats") {
      return KeyError(key + ".id",
                      "use letters, digits, '-', '_' or '.' (at most 100; 'nats' is reserved)");
    }
    if (!ids.insert(sub.id).second) {
      return KeyError(key + ".id", fmt::format("'{}' is used by another subscription", sub.id));
    }
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "url", true, sub.url));
    if (sub.url.rfind("http://", 0) != 0 && sub.url.rfind("https://", 0) != 0) {
      return KeyError(key + ".url", "expected an http:// or https:// URL");
    }
    REGLO_RETURN_IF_ERROR(ReadStrings(entry, key, "event_types", sub.event_types));
    REGLO_RETURN_IF_ERROR(ReadStrings(entry, key, "company_ids", sub.company_ids));
    std::string secret_env;
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "secret", false, sub.secret));
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "secret_env", false, secret_env));
    if (sub.secret.empty() == secret_env.empty()) {
      return KeyError(key, "set exactly one of secret (whsec_...) and secret_env");
    }
    if (!secret_env.empty()) {
      const char* value = std::getenv(secret_env.c_str());
      if (value == nullptr || *value == '\0') {
        return KeyError(key + ".secret_env",
                        fmt::format("the environment variable {} is not set", secret_env));
      }
      sub.secret = value;
    }
    if (sub.secret.rfind("whsec_", 0) != 0 || sub.secret.size() < 30) {
      return KeyError(key + (secret_env.empty() ? ".secret" : ".secret_env"),
                      "expected a signing secret whsec_<base64> (reglo-hub subscriptions create "
                      "prints one)");
    }
    REGLO_RETURN_IF_ERROR(ReadBool(entry, key, "enabled", sub.enabled));
    out.push_back(std::move(sub));
  }
  return Status::Ok();
}

// The optional "admin" object: {"enabled": bool, "listen": "HOST:PORT", "token": "...",
// "max_connections": N, "max_connections_per_address": N}.
Status ReadAdmin(const json& root, AdminSettings& admin) {
  Result<const json*> section =
      FindSection(root, "admin",
                  {"enabled", "listen", "token", "max_connections", "max_connections_per_address"});
  if (!section.ok()) return section.status();
  if (*section == nullptr) return Status::Ok();
  const json& a = **section;
  REGLO_RETURN_IF_ERROR(ReadConnectionCaps(a, "admin", admin.caps));
  REGLO_RETURN_IF_ERROR(ReadBool(a, "admin", "enabled", admin.enabled));
  if (a.contains("listen")) {
    std::string listen;
    REGLO_RETURN_IF_ERROR(ReadString(a, "admin", "listen", true, listen));
    REGLO_RETURN_IF_ERROR(ParseListen("admin.listen", listen, admin.address, admin.port));
  }
  REGLO_RETURN_IF_ERROR(ReadString(a, "admin", "token", false, admin.token));
  if (a.contains("token") && admin.token.size() < 16) {
    return KeyError("admin.token",
                    "must be at least 16 characters (or leave it out to have one "
                    "generated)");
  }
  return Status::Ok();
}

// The "sources" array (the hub's and the agent's configs share it). Each entry is released once
// read: the parsed tree of 100,000 sources is several times their rows, and need not be alive
// with all of them.
Status ReadSources(json& root, const std::filesystem::path& base_dir,
                   std::vector<storage::SourceRow>& sources_out,
                   std::map<std::string, int64_t>& interval_ms,
                   std::set<std::string>* process_isolated,
                   RetentionSettings* retention = nullptr) {
  const auto sources = root.find("sources");
  if (sources == root.end()) return KeyError("sources", "missing");
  if (!sources->is_array())
    return KeyError("sources", "expected an array, got " + TypeName(*sources));
  std::set<std::string> ids;
  for (size_t i = 0; i < sources->size(); ++i) {
    const json& entry = (*sources)[i];
    const std::string key = fmt::format("sources[{}]", i);
    if (!entry.is_object()) return KeyError(key, "expected an object, got " + TypeName(entry));
    static const std::set<std::string> kSourceKeys = {
        "id",      "company_id",       "source_system", "connector",    "enabled",
        "options", "interval_seconds", "isolation",     "personal_data"};
    for (const auto& [name, value] : entry.items()) {
      if (!kSourceKeys.count(name) || (name == "personal_data" && retention == nullptr)) {
        return KeyError(fmt::format("{}.{}", key, name),
                        "unknown key (expected id, company_id, source_system, connector, enabled, "
                        "options, interval_seconds, isolation, personal_data)");
      }
    }
    storage::SourceRow source;
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "id", true, source.id));
    if (!storage::IsValidId(source.id)) {
      return KeyError(key + ".id", "use letters, digits, '-', '_' or '.' (at most 100)");
    }
    if (!ids.insert(source.id).second) {
      return KeyError(key + ".id", fmt::format("'{}' is used by another source", source.id));
    }
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "company_id", true, source.company_id));
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "source_system", true, source.source_system));
    REGLO_RETURN_IF_ERROR(ReadString(entry, key, "connector", true, source.connector));
    REGLO_RETURN_IF_ERROR(ReadBool(entry, key, "enabled", source.enabled));
    if (entry.contains("interval_seconds")) {
      int64_t every_ms = 0;
      REGLO_RETURN_IF_ERROR(ReadSeconds(entry, key, "interval_seconds", 0.01, every_ms));
      interval_ms[source.id] = every_ms;
    }
    if (entry.contains("isolation")) {
      std::string isolation;
      REGLO_RETURN_IF_ERROR(ReadString(entry, key, "isolation", false, isolation));
      if (isolation == "process") {
        if (process_isolated != nullptr) process_isolated->insert(source.id);
      } else if (isolation != "in_process") {
        return KeyError(key + ".isolation",
                        fmt::format("'{}' is not an isolation (expected \"in_process\", the "
                                    "default, or \"process\")",
                                    isolation));
      }
    }
    if (retention != nullptr) {
      retention->source_ids.push_back(source.id);
      if (auto it = entry.find("personal_data"); it != entry.end()) {
        PersonalDataSettings& own = retention->personal_data_by_source[source.id];
        own = retention->personal_data;
        REGLO_RETURN_IF_ERROR(ReadPersonalData(*it, key + ".personal_data", own));
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
    try {
      source.config_json = options.dump();
    } catch (const json::exception&) {  // type_error 316: base_dir is not UTF-8
      return KeyError(key + ".options", "the options (or the config file's folder) are not UTF-8");
    }
    sources_out.push_back(std::move(source));
    (*sources)[i] = nullptr;
  }
  return Status::Ok();
}

}  // namespace

const PersonalDataSettings& PersonalDataOf(const RetentionSettings& retention,
                                           const std::string& source_id) {
  auto own = retention.personal_data_by_source.find(source_id);
  return own == retention.personal_data_by_source.end() ? retention.personal_data : own->second;
}

Result<HubConfig> ParseConfig(const std::string& text, const std::filesystem::path& base_dir) {
  Result<json> parsed = ParseTopLevel(
      text, {"store", "plugins_dir", "plugin_cache_dir", "sources", "engine", "secrets_file",
             "relay", "subscriptions", "admin", "ingest", "retention"});
  if (!parsed.ok()) return parsed.status();
  json root = std::move(*parsed);  // ReadSources releases what it has read
  HubConfig config;
  REGLO_RETURN_IF_ERROR(ReadEngine(root, config.engine));
  REGLO_RETURN_IF_ERROR(ReadIngest(root, base_dir, config.ingest));
  REGLO_RETURN_IF_ERROR(ReadRelay(root, config.relay));
  REGLO_RETURN_IF_ERROR(ReadRetention(root, config.retention));
  REGLO_RETURN_IF_ERROR(ReadSubscriptions(root, config.subscriptions));
  REGLO_RETURN_IF_ERROR(ReadAdmin(root, config.admin));
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
  REGLO_RETURN_IF_ERROR(ReadPath(root, "secrets_file", false, base_dir, config.secrets_file));
  REGLO_RETURN_IF_ERROR(ReadPath(root, "plugins_dir", true, base_dir, config.plugins_dir));
  REGLO_RETURN_IF_ERROR(
      ReadPath(root, "plugin_cache_dir", false, base_dir, config.plugin_cache_dir));

  REGLO_RETURN_IF_ERROR(ReadSources(root, base_dir, config.sources, config.interval_ms,
                                    &config.process_isolated, &config.retention));
  return config;
}

Result<AgentConfig> ParseAgentConfig(const std::string& text,
                                     const std::filesystem::path& base_dir) {
  Result<json> parsed = ParseTopLevel(
      text, {"hub", "plugins_dir", "sources", "spool", "batch_records", "interval_seconds",
             "backoff_base_seconds", "backoff_cap_seconds", "secrets_file"});
  if (!parsed.ok()) return parsed.status();
  json root = std::move(*parsed);  // ReadSources releases what it has read
  AgentConfig config;
  // The agent's own key file: it keys the masking of codici fiscali in the agent's logs.
  config.secrets_file = base_dir / "reglo-agent.key";
  REGLO_RETURN_IF_ERROR(ReadPath(root, "secrets_file", false, base_dir, config.secrets_file));
  REGLO_RETURN_IF_ERROR(ReadPath(root, "plugins_dir", true, base_dir, config.plugins_dir));
  REGLO_RETURN_IF_ERROR(ReadSources(root, base_dir, config.sources, config.interval_ms, nullptr));

  auto hub = root.find("hub");
  if (hub == root.end()) return KeyError("hub", "missing");
  if (!hub->is_object()) return KeyError("hub", "expected an object, got " + TypeName(*hub));
  static const std::set<std::string> kHubKeys = {"url",     "api_key",    "signing_secret",
                                                 "ca_file", "tls_verify", "timeout_seconds"};
  REGLO_RETURN_IF_ERROR(CheckKnownKeys(*hub, "hub", kHubKeys));
  REGLO_RETURN_IF_ERROR(ReadString(*hub, "hub", "url", true, config.hub_url));
  if (config.hub_url.rfind("http://", 0) != 0 && config.hub_url.rfind("https://", 0) != 0) {
    return KeyError("hub.url", "expected http://host:port or https://host:port");
  }
  while (!config.hub_url.empty() && config.hub_url.back() == '/') config.hub_url.pop_back();
  REGLO_RETURN_IF_ERROR(ReadString(*hub, "hub", "api_key", false, config.api_key));
  REGLO_RETURN_IF_ERROR(ReadString(*hub, "hub", "signing_secret", false, config.signing_secret));
  const auto from_env = [](const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
  };
  if (config.api_key.empty()) config.api_key = from_env("REGLO_AGENT_API_KEY");
  if (config.signing_secret.empty()) config.signing_secret = from_env("REGLO_AGENT_SIGNING_SECRET");
  if (config.api_key.empty()) {
    return KeyError("hub.api_key", "missing (set it, or $REGLO_AGENT_API_KEY)");
  }
  if (config.signing_secret.empty()) {
    return KeyError("hub.signing_secret", "missing (set it, or $REGLO_AGENT_SIGNING_SECRET)");
  }
  std::string ca_file;
  REGLO_RETURN_IF_ERROR(ReadString(*hub, "hub", "ca_file", false, ca_file));
  if (!ca_file.empty()) config.ca_file = Resolve(base_dir, ca_file);
  if (auto verify = hub->find("tls_verify"); verify != hub->end()) {
    if (!verify->is_boolean()) return KeyError("hub.tls_verify", "expected true or false");
    config.tls_verify = verify->get<bool>();
  }
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(*hub, "hub", "timeout_seconds", 0.1, config.request_timeout_ms));

  config.spool_dir = base_dir / "spool";
  if (auto spool = root.find("spool"); spool != root.end()) {
    if (!spool->is_object())
      return KeyError("spool", "expected an object, got " + TypeName(*spool));
    for (const auto& [key, value] : spool->items()) {
      if (key != "dir" && key != "max_bytes") {
        return KeyError("spool." + key, "unknown key (expected dir, max_bytes)");
      }
    }
    std::string dir;
    REGLO_RETURN_IF_ERROR(ReadString(*spool, "spool", "dir", false, dir));
    if (!dir.empty()) config.spool_dir = Resolve(base_dir, dir);
    REGLO_RETURN_IF_ERROR(
        ReadInteger(*spool, "spool", "max_bytes", 4096, int64_t{1} << 40, config.spool_max_bytes));
  }
  REGLO_RETURN_IF_ERROR(ReadInteger(root, "", "batch_records", 1, 100000, config.batch_records));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(root, "", "interval_seconds", 0.01, config.default_interval_ms));
  REGLO_RETURN_IF_ERROR(
      ReadSeconds(root, "", "backoff_base_seconds", 0.01, config.backoff_base_ms));
  REGLO_RETURN_IF_ERROR(ReadSeconds(root, "", "backoff_cap_seconds", 0.01, config.backoff_cap_ms));
  if (config.backoff_cap_ms < config.backoff_base_ms) {
    return KeyError("backoff_cap_seconds", "must not be less than backoff_base_seconds");
  }
  return config;
}

Result<AgentConfig> LoadAgentConfig(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::ConfigError(fmt::format("cannot read config file {}", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  const std::filesystem::path absolute = std::filesystem::absolute(path);
  Result<AgentConfig> config = ParseAgentConfig(text.str(), absolute.parent_path());
  if (!config.ok()) return config.status().WithContext(path.string());
  config->path = absolute;
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
