// Store URLs of the PostgreSQL backend: parsing, description and redaction.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <string>
#include <string_view>

#include "reglo/storage/postgres_store.h"

namespace reglo::storage {
namespace {

constexpr std::string_view kSchemes[] = {"postgres://", "postgresql://"};

Status UrlError(std::string_view problem) {
  return Status::ConfigError(
      fmt::format("store: {} (expected postgres://user[:password]@host[:port]/database)", problem));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `text`; false on a malformed escape.
bool Decode(std::string_view text, std::string& out) {
  out.clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const int high = HexValue(text[i + 1]);
    const int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

std::string Encode(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

}  // namespace

bool IsPostgresUrl(std::string_view url) {
  for (std::string_view scheme : kSchemes) {
    if (url.starts_with(scheme)) return true;
  }
  return false;
}

Result<PostgresUrl> ParsePostgresUrl(std::string_view url) {
  std::string_view rest;
  for (std::string_view scheme : kSchemes) {
    if (url.starts_with(scheme)) rest = url.substr(scheme.size());
  }
  if (!IsPostgresUrl(url)) return UrlError("not a postgres:// URL");
  PostgresUrl parsed;

  // Query parameters.
  if (const size_t query = rest.find('?'); query != std::string_view::npos) {
    std::string_view params = rest.substr(query + 1);
    rest = rest.substr(0, query);
    while (!params.empty()) {
      const size_t amp = params.find('&');
      const std::string_view pair = params.substr(0, amp);
      params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      std::string key;
      std::string value;
      if (eq == std::string_view::npos || !Decode(pair.substr(0, eq), key) ||
          !Decode(pair.substr(eq + 1), value) || key.empty()) {
        return UrlError("a query parameter is not name=value");
      }
      if (key == "password" || key == "user" || key == "host" || key == "port" || key == "dbname" ||
          key == "hostaddr") {
        return UrlError(fmt::format("give '{}' in the URL itself, not as a query parameter", key));
      }
      if (key == "synchronous_commit") {
        // The hub's own parameter (not libpq's): how checkpoint commits wait for durability.
        static constexpr std::string_view kLevels[] = {"off", "local", "remote_write", "on",
                                                       "remote_apply"};
        if (std::find(std::begin(kLevels), std::end(kLevels), value) == std::end(kLevels)) {
          return UrlError(fmt::format(
              "synchronous_commit must be off, local, remote_write, on or remote_apply, not '{}'",
              value));
        }
        parsed.synchronous_commit = std::move(value);
        continue;
      }
      parsed.params.emplace_back(std::move(key), std::move(value));
    }
  }

  // Database.
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return UrlError("the database name is missing");
  }
  if (!Decode(rest.substr(slash + 1), parsed.database)) {
    return UrlError("the database name has a malformed %-escape");
  }
  std::string_view authority = rest.substr(0, slash);

  // User and password. The last '@' separates them from the host (a password may hold '@').
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view credentials = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = credentials.find(':');
    if (!Decode(credentials.substr(0, colon), parsed.user)) {
      return UrlError("the user name has a malformed %-escape");
    }
    if (colon != std::string_view::npos &&
        !Decode(credentials.substr(colon + 1), parsed.password)) {
      return UrlError("the password has a malformed %-escape");  // never echo it
    }
  }

  // Host and port; an IPv6 address is written in brackets.
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return UrlError("an IPv6 host misses its ']'");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return UrlError("unexpected text after the IPv6 host");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (!Decode(host, parsed.host) || parsed.host.empty()) return UrlError("the host is missing");
  if (!port.empty() || authority.ends_with(':')) {
    int value = 0;
    auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return UrlError(fmt::format("the port '{}' is not a number from 1 to 65535", port));
    }
    parsed.port = value;
  }
  return parsed;
}

std::string PostgresUrl::Describe() const {
  return fmt::format("host {} port {} database {} user {}", host, port, database,
                     user.empty() ? "(default)" : user);
}

std::string PostgresUrl::Redacted() const {
  std::string out = "postgres://";
  if (!user.empty() || !password.empty()) {
    out += Encode(user);
    if (!password.empty()) out += ":***";
    out += '@';
  }
  out += host.find(':') != std::string::npos ? "[" + host + "]" : Encode(host);
  out += fmt::format(":{}/{}", port, Encode(database));
  char separator = '?';
  for (const auto& [key, value] : params) {
    out += separator;
    out += Encode(key) + "=" + Encode(value);
    separator = '&';
  }
  if (synchronous_commit != "off") {
    out += separator;
    out += "synchronous_commit=" + synchronous_commit;
  }
  return out;
}

}  // namespace reglo::storage
