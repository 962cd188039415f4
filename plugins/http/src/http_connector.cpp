// The "http" connector plugin: any REST/JSON API, configured instead of coded. Each entity is one
// endpoint read page by page (page number, offset/limit, a next token or a next URL from the body,
// or the Link header), with the cursor's updated-at substituted for {since}; every page ends with
// a checkpoint whose cursor says which page comes next, and the final cursor is the newest
// updated-at seen (minus look_back_seconds). Records are flattened to JSON-pointer fields and
// mapped with the connectors' shared field mapping. Uses Poco::Net, the hub's HTTP client library.
// Thread-safety: one instance is used by one thread at a time (the ABI's contract); instances
// share nothing (each keeps its own OAuth2 token).
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/URI.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <reglo/connector.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "reglo/connector_common/config_json.h"
#include "reglo/connector_common/configured_connector.h"
#include "reglo/connector_common/encoding.h"
#include "schema.h"

namespace reglo::http {
namespace {

using connector_common::CheckKeys;
using connector_common::Fail;
using connector_common::GetString;
using connector_common::ParseUnsigned;
using connector_common::TypeName;
using nlohmann::json;
using sdk::Status;

enum class Paging { kNone, kPageNumber, kOffset, kNextToken, kNextUrl, kLinkHeader };
enum class AuthKind { kNone, kApiKey, kBearer, kBasic, kOAuth2 };

struct Pagination {
  Paging type = Paging::kNone;
  std::string page_param = "page";
  int64_t start_page = 1;
  std::string size_param;  // page_number: sent with `size` when set
  uint64_t size = 100;
  std::string offset_param = "offset";
  std::string limit_param = "limit";
  std::string token_pointer;
  std::string token_param = "page_token";
  std::string url_pointer;
};

struct EntityConfig {
  std::string entity;
  std::string method = "GET";
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  Pagination pagination;
  json::json_pointer records;
  std::string records_text;
  json::json_pointer id;
  std::string id_text;
  std::optional<json::json_pointer> updated_at;
  connector_common::EntityMapping mapping;
};

struct Auth {
  AuthKind kind = AuthKind::kNone;
  std::string header = "X-API-Key";
  std::string secret;  // key, token, or password
  std::string username;
  std::string token_url;
  std::string client_id;
  std::string client_secret;
  std::string scope;
};

struct Config {
  Poco::URI base;
  std::string base_path;  // without a trailing '/'
  uint64_t timeout_seconds = 30;
  uint64_t look_back_seconds = 0;
  std::string initial_since;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string ca_file;
  bool verify = true;
  Auth auth;
  std::vector<EntityConfig> entities;
  std::vector<std::string> remarks;
};

std::string Pointer(const json& spec, const std::string& prefix, const char* key, bool required) {
  auto it = spec.find(key);
  if (it == spec.end()) {
    if (required) Fail(prefix + "." + key, "required (a JSON pointer such as /id)");
    return {};
  }
  if (!it->is_string()) Fail(prefix + "." + key, "expected a JSON pointer, got " + TypeName(*it));
  const std::string text = it->get<std::string>();
  try {
    (void)json::json_pointer(text);
  } catch (const json::exception&) {
    Fail(prefix + "." + key, "'" + text + "' is not a JSON pointer (it starts with / or is empty)");
  }
  return text;
}

std::vector<std::pair<std::string, std::string>> StringMap(const json& spec,
                                                           const std::string& prefix,
                                                           const char* key) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = spec.find(key);
  if (it == spec.end()) return out;
  if (!it->is_object())
    Fail(prefix.empty() ? key : prefix + "." + key, "expected an object of strings");
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string()) {
      Fail((prefix.empty() ? "" : prefix + ".") + key + "." + name,
           "expected a string, got " + TypeName(value));
    }
    out.emplace_back(name, value.get<std::string>());
  }
  return out;
}

Pagination ParsePagination(const json& spec, const std::string& prefix) {
  Pagination p;
  auto it = spec.find("pagination");
  if (it == spec.end()) return p;
  const std::string key = prefix + ".pagination";
  if (!it->is_object()) Fail(key, "expected an object with a type");
  CheckKeys(*it, key,
            {"type", "page_param", "start_page", "size_param", "size", "offset_param",
             "limit_param", "token_pointer", "token_param", "url_pointer"});
  const std::string type = GetString(*it, key, "type", true,
                                     "none, page_number, offset, next_token, next_url or "
                                     "link_header");
  if (type == "none")
    p.type = Paging::kNone;
  else if (type == "page_number")
    p.type = Paging::kPageNumber;
  else if (type == "offset")
    p.type = Paging::kOffset;
  else if (type == "next_token")
    p.type = Paging::kNextToken;
  else if (type == "next_url")
    p.type = Paging::kNextUrl;
  else if (type == "link_header")
    p.type = Paging::kLinkHeader;
  else
    Fail(key + ".type",
         "expected none, page_number, offset, next_token, next_url or link_header, got '" + type +
             "'");
  if (it->contains("page_param")) p.page_param = GetString(*it, key, "page_param", false, "a name");
  p.start_page = static_cast<int64_t>(ParseUnsigned(*it, key, "start_page", 1, 0, 1u << 30));
  p.size_param = GetString(*it, key, "size_param", false, "a name");
  p.size = ParseUnsigned(*it, key, "size", 100, 1, 1000000);
  if (it->contains("offset_param"))
    p.offset_param = GetString(*it, key, "offset_param", false, "a name");
  if (it->contains("limit_param"))
    p.limit_param = GetString(*it, key, "limit_param", false, "a name");
  if (it->contains("token_param"))
    p.token_param = GetString(*it, key, "token_param", false, "a name");
  p.token_pointer = Pointer(*it, key, "token_pointer", p.type == Paging::kNextToken);
  p.url_pointer = Pointer(*it, key, "url_pointer", p.type == Paging::kNextUrl);
  return p;
}

Auth ParseAuth(const json& root) {
  Auth auth;
  auto it = root.find("auth");
  if (it == root.end()) return auth;
  if (!it->is_object()) Fail("auth", "expected an object with a type");
  CheckKeys(*it, "auth",
            {"type", "header", "key", "token", "username", "password", "token_url", "client_id",
             "client_secret", "scope"});
  const std::string type = GetString(*it, "auth", "type", true,
                                     "none, api_key, bearer, basic or oauth2_client_credentials");
  if (type == "none") {
    auth.kind = AuthKind::kNone;
  } else if (type == "api_key") {
    auth.kind = AuthKind::kApiKey;
    if (it->contains("header"))
      auth.header = GetString(*it, "auth", "header", false, "a header name");
    auth.secret = GetString(*it, "auth", "key", true, "the API key");
  } else if (type == "bearer") {
    auth.kind = AuthKind::kBearer;
    auth.secret = GetString(*it, "auth", "token", true, "the bearer token");
  } else if (type == "basic") {
    auth.kind = AuthKind::kBasic;
    auth.username = GetString(*it, "auth", "username", true, "the user name");
    auth.secret = GetString(*it, "auth", "password", true, "the password");
  } else if (type == "oauth2_client_credentials") {
    auth.kind = AuthKind::kOAuth2;
    auth.token_url = GetString(*it, "auth", "token_url", true, "the token endpoint's URL");
    auth.client_id = GetString(*it, "auth", "client_id", true, "the client id");
    auth.client_secret = GetString(*it, "auth", "client_secret", true, "the client secret");
    auth.scope = GetString(*it, "auth", "scope", false, "scopes");
  } else {
    Fail("auth.type",
         "expected none, api_key, bearer, basic or oauth2_client_credentials, got '" + type + "'");
  }
  return auth;
}

EntityConfig ParseEntity(const std::string& name, const json& spec,
                         std::vector<std::string>* remarks) {
  const std::string prefix = "entities." + name;
  if (!spec.is_object())
    Fail(prefix, "expected an object with path and id_pointer, got " + TypeName(spec));
  CheckKeys(spec, prefix,
            {"method", "path", "query", "body", "pagination", "records_pointer", "id_pointer",
             "updated_at_pointer", "columns", "formats", "values"});
  EntityConfig entity;
  entity.entity = name;
  if (spec.contains("method")) {
    entity.method = GetString(spec, prefix, "method", false, "GET or POST");
    if (entity.method != "GET" && entity.method != "POST") {
      Fail(prefix + ".method", "expected GET or POST, got '" + entity.method + "'");
    }
  }
  entity.path = GetString(spec, prefix, "path", true, "the path after base_url, e.g. /v1/students");
  if (entity.path.front() != '/') entity.path.insert(0, "/");
  entity.query = StringMap(spec, prefix, "query");
  entity.body = spec.contains("body") ? GetString(spec, prefix, "body", false, "JSON text") : "";
  entity.pagination = ParsePagination(spec, prefix);
  entity.records_text = Pointer(spec, prefix, "records_pointer", false);
  entity.records = json::json_pointer(entity.records_text);
  entity.id_text = Pointer(spec, prefix, "id_pointer", true);
  entity.id = json::json_pointer(entity.id_text);
  if (spec.contains("updated_at_pointer")) {
    entity.updated_at = json::json_pointer(Pointer(spec, prefix, "updated_at_pointer", true));
  }
  // The id and updated-at leaves become externalId / sourceUpdatedAt, not fields.
  entity.mapping.id_column = entity.id_text;
  if (entity.updated_at) entity.mapping.updated_at_column = entity.updated_at->to_string();
  connector_common::ParseFieldRules(spec, prefix, name,
                                    {"JSON pointer", "id_pointer", "updated_at_pointer"},
                                    &entity.mapping, remarks);
  return entity;
}

Config ParseConfig(std::string_view text) {
  json root = json::parse(text, nullptr, false, true);
  if (root.is_discarded()) Fail("config", "invalid JSON");
  if (!root.is_object()) Fail("config", "expected a JSON object, got " + TypeName(root));
  CheckKeys(root, "",
            {"base_dir", "base_url", "timeout_seconds", "look_back_seconds", "initial_since",
             "headers", "tls", "auth", "entities"});
  Config config;
  const std::string base_dir = GetString(root, "", "base_dir", false, "a folder");
  const std::string base = GetString(root, "", "base_url", true, "e.g. https://api.example.it");
  try {
    config.base = Poco::URI(base);
  } catch (const Poco::Exception&) {
    Fail("base_url", "not a URL");
  }
  if ((config.base.getScheme() != "http" && config.base.getScheme() != "https") ||
      config.base.getHost().empty()) {
    Fail("base_url", "expected an http:// or https:// URL with a host");
  }
  config.base_path = config.base.getPath();
  while (!config.base_path.empty() && config.base_path.back() == '/') config.base_path.pop_back();
  config.timeout_seconds = ParseUnsigned(root, "", "timeout_seconds", 30, 1, 600);
  config.look_back_seconds = ParseUnsigned(root, "", "look_back_seconds", 0, 0, 366u * 86400);
  config.initial_since = root.contains("initial_since")
                             ? GetString(root, "", "initial_since", false, "a timestamp")
                             : "";
  config.headers = StringMap(root, "", "headers");
  if (auto tls = root.find("tls"); tls != root.end()) {
    if (!tls->is_object()) Fail("tls", "expected an object with ca_file and verify");
    CheckKeys(*tls, "tls", {"ca_file", "verify"});
    config.ca_file = GetString(*tls, "tls", "ca_file", false, "a PEM file of trusted CAs");
    if (!config.ca_file.empty() && std::filesystem::path(config.ca_file).is_relative()) {
      config.ca_file = (std::filesystem::path(base_dir) / config.ca_file).string();
    }
    config.verify = connector_common::GetBool(*tls, "tls", "verify", true);
  }
  config.auth = ParseAuth(root);
  auto entities = root.find("entities");
  if (entities == root.end() || !entities->is_object() || entities->empty()) {
    Fail("entities", "required: an object of canonical entity -> {path, id_pointer, ...}");
  }
  for (const auto& [name, spec] : entities->items()) {
    if (connector_common::IsCommentKey(name)) continue;
    if (connector_common::CanonicalFields(name) == nullptr) {
      Fail("entities." + name,
           "unknown entity (expected one of " + connector_common::CanonicalEntityList() + ")");
    }
  }
  for (std::string_view name : connector_common::CanonicalEntities()) {
    auto it = entities->find(std::string(name));
    if (it != entities->end()) {
      config.entities.push_back(ParseEntity(std::string(name), *it, &config.remarks));
    }
  }
  return config;
}

// ---- time arithmetic for the look-back ----

// Seconds since the epoch of "YYYY-MM-DD[THH:MM:SS[.fff]][Z|±HH:MM]", or nullopt.
std::optional<int64_t> EpochSeconds(std::string_view text) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  const std::string copy(text);
  int used = 0;
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &used) != 3)
    return std::nullopt;
  size_t pos = static_cast<size_t>(used);
  if (pos < copy.size() && (copy[pos] == 'T' || copy[pos] == ' ')) {
    if (std::sscanf(copy.c_str() + pos + 1, "%2d:%2d:%2d%n", &hour, &minute, &second, &used) != 3)
      return std::nullopt;
    pos += 1 + static_cast<size_t>(used);
  }
  while (pos < copy.size() && (copy[pos] == '.' || (copy[pos] >= '0' && copy[pos] <= '9'))) ++pos;
  int offset = 0;
  if (pos < copy.size() && (copy[pos] == '+' || copy[pos] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(copy.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (copy[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::string FormatUtc(int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Later of two updated-at values: by time when both parse, else as text.
bool Later(const std::string& a, const std::string& b) {
  auto ta = EpochSeconds(a), tb = EpochSeconds(b);
  if (ta && tb && *ta != *tb) return *ta > *tb;
  return a > b;
}

std::string ScalarText(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump();
}

// Appends every leaf of `value` as (JSON pointer, text); null leaves as absent.
void Flatten(const json& value, std::string& pointer,
             std::vector<std::pair<std::string, std::optional<std::string>>>* out) {
  if (value.is_object() || value.is_array()) {
    const size_t keep = pointer.size();
    if (value.is_object()) {
      for (const auto& [key, item] : value.items()) {
        pointer += '/';
        for (char c : key) pointer += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
        Flatten(item, pointer, out);
        pointer.resize(keep);
      }
    } else {
      for (size_t i = 0; i < value.size(); ++i) {
        pointer += '/' + std::to_string(i);
        Flatten(value[i], pointer, out);
        pointer.resize(keep);
      }
    }
    return;
  }
  if (value.is_null())
    out->emplace_back(pointer, std::nullopt);
  else
    out->emplace_back(pointer, ScalarText(value));
}

std::string UrlWithoutQuery(const Poco::URI& uri) {
  std::string text = uri.getScheme() + "://" + uri.getAuthority() + uri.getPath();
  return text;
}

// What one request gave back.
struct Reply {
  int status = 0;  // 0: transport failure
  // The server's TLS certificate was not trusted: no retry can help, the configuration must.
  bool untrusted = false;
  std::string body;
  std::string error;
  std::string retry_after;
  std::string link;
};

class HttpConnector final : public connector_common::ConfiguredConnector<HttpConnector, Config> {
 public:
  static constexpr const char* kName = "http";
  static constexpr const char* kVersion = "1.0.0";
  static constexpr const char* kDescription =
      "Any REST/JSON API: endpoints read page by page, JSON pointers mapped to canonical fields";
  static constexpr const char* kConfigSchema = kConfigSchemaJson;

  Status Authenticate(const sdk::Context&) override {
    if (config_.auth.kind == AuthKind::kOAuth2) return FetchToken();
    return Status::Ok();
  }

  Status Pull(const sdk::Context& ctx, std::string_view stream,
              std::optional<std::string_view> since_cursor, sdk::Emitter& emitter) override {
    const int index = EntityIndex(stream);
    if (index < 0) return Status::ConfigError("unknown stream '" + std::string(stream) + "'");
    const EntityConfig* entity = &config_.entities[static_cast<size_t>(index)];
    // The cursor: the since of this pass, the newest updated-at seen so far, and (mid-pass) the
    // page to read next.
    std::string since = config_.initial_since;
    std::string newest;
    json next_page;  // null: the first page
    if (since_cursor && !since_cursor->empty()) {
      json cursor = json::parse(*since_cursor, nullptr, false);
      if (!cursor.is_object() || cursor.value("v", 0) != 1 || !cursor.contains("since") ||
          !cursor["since"].is_string()) {
        ctx.Warn("stream " + entity->entity + ": unusable cursor; reading from the start");
      } else {
        since = cursor["since"].get<std::string>();
        newest = cursor.value("newest", "");
        if (cursor.contains("next")) next_page = cursor["next"];
      }
    }
    const Pagination& paging = entity->pagination;
    while (true) {
      if (emitter.ShouldStop()) return Status::Retry("stopped on the host's request");
      Poco::URI uri;
      if (Status status = PageUri(*entity, since, next_page, &uri); !status.ok()) return status;
      Reply reply;
      if (Status status = Request(*entity, uri, since, &reply); !status.ok()) return status;
      const std::string where = entity->method + " " + UrlWithoutQuery(uri);
      json body = json::parse(reply.body, nullptr, false);
      if (body.is_discarded()) {
        return Status::Fatal(where + ": the response is not JSON (" +
                             std::to_string(reply.body.size()) + " bytes)");
      }
      if (!body.contains(entity->records) || !body[entity->records].is_array()) {
        return Status::Fatal(where + ": the response has no records array at '" +
                             entity->records_text + "'");
      }
      const json& records = body[entity->records];
      for (size_t i = 0; i < records.size(); ++i) {
        if (emitter.ShouldStop()) return Status::Retry("stopped on the host's request");
        if (Status status = EmitRecord(*entity, records[i], where, i, &newest, emitter);
            !status.ok()) {
          return status;
        }
      }
      // What comes next, from this page.
      json following;
      switch (paging.type) {
        case Paging::kNone: break;
        case Paging::kPageNumber:
          if (records.size() >= paging.size || (paging.size_param.empty() && !records.empty())) {
            following = (next_page.is_number() ? next_page.get<int64_t>() : paging.start_page) + 1;
          }
          break;
        case Paging::kOffset:
          if (records.size() >= paging.size) {
            following = (next_page.is_number() ? next_page.get<int64_t>() : 0) +
                        static_cast<int64_t>(records.size());
          }
          break;
        case Paging::kNextToken:
        case Paging::kNextUrl: {
          const json::json_pointer pointer(paging.type == Paging::kNextToken ? paging.token_pointer
                                                                             : paging.url_pointer);
          if (body.contains(pointer) && body[pointer].is_string() &&
              !body[pointer].get<std::string>().empty()) {
            following = body[pointer].get<std::string>();
          }
          break;
        }
        case Paging::kLinkHeader:
          if (std::optional<std::string> link = NextLink(reply.link)) following = *link;
          break;
      }
      if (following.is_null()) {
        // The pass is over: the next one asks for what changed since the newest updated-at seen.
        std::string final_since = since;
        if (!newest.empty()) {
          final_since = newest;
          if (config_.look_back_seconds > 0) {
            if (auto seconds = EpochSeconds(newest)) {
              final_since = FormatUtc(*seconds - static_cast<int64_t>(config_.look_back_seconds));
            }
          }
        }
        return emitter.Checkpoint(json{{"v", 1}, {"since", final_since}}.dump());
      }
      next_page = following;
      json cursor = {{"v", 1}, {"since", since}, {"newest", newest}, {"next", next_page}};
      if (Status status = emitter.Checkpoint(cursor.dump()); !status.ok()) return status;
    }
  }

 private:
  friend ConfiguredConnector;
  static std::optional<Config> Parse(std::string_view json, std::string* error) {
    return connector_common::CatchConfigError([&] { return ParseConfig(json); }, error);
  }

  explicit HttpConnector(Config config) : ConfiguredConnector(std::move(config)) {
    if (config_.base.getScheme() == "https" || config_.auth.token_url.starts_with("https")) {
      tls_ = new Poco::Net::Context(
          Poco::Net::Context::TLS_CLIENT_USE, "", "", config_.ca_file,
          config_.verify ? Poco::Net::Context::VERIFY_RELAXED : Poco::Net::Context::VERIFY_NONE, 9,
          /*loadDefaultCAs=*/config_.ca_file.empty());
    }
  }

  static std::string Substitute(std::string text, const std::string& since) {
    for (size_t at; (at = text.find("{since}")) != std::string::npos;) text.replace(at, 7, since);
    return text;
  }

  Status PageUri(const EntityConfig& entity, const std::string& since, const json& next,
                 Poco::URI* uri) const {
    const Pagination& paging = entity.pagination;
    if (next.is_string() && paging.type != Paging::kNextToken) {
      // A next URL: relative ones resolve against the base; others must stay on its origin, so
      // the credentials never go to another server.
      Poco::URI resolved(config_.base, next.get<std::string>());
      if (resolved.getScheme() != config_.base.getScheme() ||
          resolved.getHost() != config_.base.getHost() ||
          resolved.getPort() != config_.base.getPort()) {
        return Status::Fatal(entity.method + " " + config_.base.getScheme() + "://" +
                             config_.base.getAuthority() + config_.base_path + entity.path +
                             ": the next page's URL points to another server (" +
                             resolved.getScheme() + "://" + resolved.getAuthority() + ")");
      }
      *uri = resolved;
      return Status::Ok();
    }
    *uri = config_.base;
    uri->setPath(config_.base_path + entity.path);
    uri->setRawQuery("");
    for (const auto& [name, value] : entity.query) {
      if (value.find("{since}") != std::string::npos && since.empty()) continue;
      uri->addQueryParameter(name, Substitute(value, since));
    }
    switch (paging.type) {
      case Paging::kPageNumber:
        uri->addQueryParameter(
            paging.page_param,
            std::to_string(next.is_number() ? next.get<int64_t>() : paging.start_page));
        if (!paging.size_param.empty())
          uri->addQueryParameter(paging.size_param, std::to_string(paging.size));
        break;
      case Paging::kOffset:
        uri->addQueryParameter(paging.offset_param,
                               std::to_string(next.is_number() ? next.get<int64_t>() : 0));
        uri->addQueryParameter(paging.limit_param, std::to_string(paging.size));
        break;
      case Paging::kNextToken:
        if (next.is_string()) uri->addQueryParameter(paging.token_param, next.get<std::string>());
        break;
      default: break;
    }
    return Status::Ok();
  }

  std::unique_ptr<Poco::Net::HTTPClientSession> Session(const Poco::URI& uri) const {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https") {
      session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), tls_);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    session->setTimeout(Poco::Timespan(static_cast<long>(config_.timeout_seconds), 0));
    return session;
  }

  Reply Send(const std::string& method, const Poco::URI& uri,
             const std::vector<std::pair<std::string, std::string>>& headers,
             const std::string& body, const std::string& content_type) const {
    Reply reply;
    try {
      auto session = Session(uri);
      Poco::Net::HTTPRequest request(method, uri.getPathAndQuery(),
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.set("Accept", "application/json");
      for (const auto& [name, value] : headers) request.set(name, value);
      if (method == "POST") {
        request.setContentType(content_type);
        request.setContentLength64(static_cast<Poco::Int64>(body.size()));
      }
      session->sendRequest(request) << body;
      Poco::Net::HTTPResponse response;
      std::istream& in = session->receiveResponse(response);
      std::ostringstream text;
      text << in.rdbuf();
      reply.body = text.str();
      reply.status = static_cast<int>(response.getStatus());
      reply.retry_after = response.get("Retry-After", "");
      reply.link = response.get("Link", "");
      // A body cut short (the server dropped the connection mid-page) is a transport failure.
      if (response.hasContentLength() &&
          static_cast<int64_t>(reply.body.size()) < response.getContentLength64()) {
        reply.status = 0;
        reply.error = "the connection closed after " + std::to_string(reply.body.size()) + " of " +
                      std::to_string(response.getContentLength64()) + " bytes";
      }
    } catch (const Poco::Net::SSLException& error) {
      reply.status = 0;
      reply.error = error.displayText();
      // OpenSSL's own words for a chain it cannot verify; Poco's for a name that does not match.
      reply.untrusted = dynamic_cast<const Poco::Net::CertificateValidationException*>(&error) ||
                        reply.error.find("certificate verify failed") != std::string::npos;
    } catch (const Poco::Exception& error) {
      reply.status = 0;
      reply.error = error.displayText();
    } catch (const std::exception& error) {
      reply.status = 0;
      reply.error = error.what();
    }
    return reply;
  }

  // Maps a reply to the connector's categories; OK for 2xx.
  static Status Judge(const Reply& reply, const std::string& where) {
    if (reply.untrusted) {
      return Status::ConfigError(where + ": the server's TLS certificate is not trusted (" +
                                 reply.error +
                                 "); give the CA that signed it in tls.ca_file, or set "
                                 "tls.verify to false for a test server");
    }
    if (reply.status == 0) return Status::Retry(where + ": " + reply.error);
    if (reply.status >= 200 && reply.status < 300) return Status::Ok();
    const std::string text = where + ": HTTP " + std::to_string(reply.status);
    if (reply.status == 429) {
      uint32_t ms = 60000;
      if (!reply.retry_after.empty() && reply.retry_after.size() < 7 &&
          reply.retry_after.find_first_not_of("0123456789") == std::string::npos) {
        ms = static_cast<uint32_t>(std::stoul(reply.retry_after) * 1000);
      }
      return Status::RateLimited(text + " (Too Many Requests)", ms);
    }
    if (reply.status == 401 || reply.status == 403)
      return Status::AuthError(text + " (credentials refused)");
    if (reply.status >= 500 || reply.status == 408) return Status::Retry(text);
    return Status::Fatal(text);
  }

  Status FetchToken() {
    Poco::URI uri;
    try {
      uri = Poco::URI(config_.auth.token_url);
    } catch (const Poco::Exception&) {
      return Status::ConfigError("auth.token_url: not a URL");
    }
    std::string form = "grant_type=client_credentials";
    auto add = [&](const char* name, const std::string& value) {
      std::string encoded;
      Poco::URI::encode(value, "&=+;/?:@", encoded);
      form += std::string("&") + name + "=" + encoded;
    };
    add("client_id", config_.auth.client_id);
    add("client_secret", config_.auth.client_secret);
    if (!config_.auth.scope.empty()) add("scope", config_.auth.scope);
    const std::string where = "POST " + UrlWithoutQuery(uri) + " (OAuth2 token)";
    Reply reply = Send("POST", uri, {}, form, "application/x-www-form-urlencoded");
    if (Status status = Judge(reply, where); !status.ok()) {
      // A token endpoint refusing the client (400 invalid_client) is a credentials problem too.
      if (reply.status == 400) return Status::AuthError(where + ": HTTP 400 (client refused)");
      return status;
    }
    json body = json::parse(reply.body, nullptr, false);
    if (!body.is_object() || !body.contains("access_token") || !body["access_token"].is_string()) {
      return Status::Fatal(where + ": no access_token in the response");
    }
    token_ = body["access_token"].get<std::string>();
    int64_t expires = body.contains("expires_in") && body["expires_in"].is_number_integer()
                          ? body["expires_in"].get<int64_t>()
                          : 3600;
    // Refreshed a little early, so a token never expires between the check and the request.
    token_expires_ =
        std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(expires - 30, 0));
    return Status::Ok();
  }

  Status Request(const EntityConfig& entity, const Poco::URI& uri, const std::string& since,
                 Reply* reply) {
    const std::string where = entity.method + " " + UrlWithoutQuery(uri);
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::vector<std::pair<std::string, std::string>> headers = config_.headers;
      switch (config_.auth.kind) {
        case AuthKind::kNone: break;
        case AuthKind::kApiKey:
          headers.emplace_back(config_.auth.header, config_.auth.secret);
          break;
        case AuthKind::kBearer:
          headers.emplace_back("Authorization", "Bearer " + config_.auth.secret);
          break;
        case AuthKind::kBasic: {
          std::ostringstream encoded;
          Poco::Base64Encoder encoder(encoded);
          encoder.rdbuf()->setLineLength(0);
          encoder << config_.auth.username << ':' << config_.auth.secret;
          encoder.close();
          headers.emplace_back("Authorization", "Basic " + encoded.str());
          break;
        }
        case AuthKind::kOAuth2:
          if (token_.empty() || std::chrono::steady_clock::now() >= token_expires_) {
            if (Status status = FetchToken(); !status.ok()) return status;
          }
          headers.emplace_back("Authorization", "Bearer " + token_);
          break;
      }
      *reply =
          Send(entity.method, uri, headers, Substitute(entity.body, since), "application/json");
      // An OAuth2 token the server no longer takes: one fresh token, one more try.
      if (config_.auth.kind == AuthKind::kOAuth2 && reply->status == 401 && attempt == 0) {
        token_.clear();
        continue;
      }
      break;
    }
    return Judge(*reply, where);
  }

  static std::optional<std::string> NextLink(const std::string& header) {
    // <https://api/x?page=2>; rel="next", <...>; rel="last"
    size_t pos = 0;
    while ((pos = header.find('<', pos)) != std::string::npos) {
      const size_t close = header.find('>', pos);
      if (close == std::string::npos) return std::nullopt;
      const size_t end = header.find(',', close);
      const std::string params =
          header.substr(close + 1, end == std::string::npos ? std::string::npos : end - close - 1);
      if (params.find("rel=\"next\"") != std::string::npos ||
          params.find("rel=next") != std::string::npos) {
        return header.substr(pos + 1, close - pos - 1);
      }
      pos = close;
    }
    return std::nullopt;
  }

  Status EmitRecord(const EntityConfig& entity, const json& item, const std::string& where,
                    size_t index, std::string* newest, sdk::Emitter& emitter) {
    origin_ = where + " record " + std::to_string(index);
    if (!item.is_object()) {
      emitter.Warn(origin_, "not a JSON object; skipped");
      return Status::Ok();
    }
    if (!item.contains(entity.id) || item[entity.id].is_null() || item[entity.id].is_structured()) {
      emitter.Warn(origin_, "no id at '" + entity.id_text + "'; skipped");
      return Status::Ok();
    }
    record_.Clear();
    record_.SetEntity(entity.entity);
    record_.SetExternalId(ScalarText(item[entity.id]));
    if (entity.updated_at && item.contains(*entity.updated_at) &&
        !item[*entity.updated_at].is_null()) {
      const std::string at = ScalarText(item[*entity.updated_at]);
      record_.SetSourceUpdatedAt(at);
      if (newest->empty() || Later(at, *newest)) *newest = at;
    }
    origin_ = entity.entity + " " + ScalarText(item[entity.id]);
    record_.SetOrigin(origin_);
    leaves_.clear();
    std::string pointer;
    Flatten(item, pointer, &leaves_);
    for (const auto& [name, value] : leaves_) {
      if (value && !connector_common::IsValidUtf8(*value)) {  // nlohmann checks, but be sure
        std::string repaired;
        connector_common::AppendSanitizedUtf8(*value, repaired);
        record_.Set(name, repaired);
      } else {
        record_.Set(name, value);
      }
    }
    return emitter.Emit(record_);
  }

  Poco::Net::Context::Ptr tls_;
  std::string token_;
  std::chrono::steady_clock::time_point token_expires_{};
  sdk::Record record_;
  std::string origin_;
  std::vector<std::pair<std::string, std::optional<std::string>>> leaves_;
};

}  // namespace
}  // namespace reglo::http

REGLO_EXPORT_CONNECTOR(reglo::http::HttpConnector)
